/* The region table: official codes and names, straight from the brief. */
#include "vigie/region.h"

#include <string.h>

#include "vigie/err.h"

static const char *const codes[VG_REGION_COUNT + 1] = {
	"all", "01", "02", "03", "04", "05", "06", "07", "08", "09",
	"10", "11", "12", "13", "14", "15", "16", "17"
};

static const char *const names[VG_REGION_COUNT + 1] = {
	"Ensemble du Québec",
	"Bas-Saint-Laurent",
	"Saguenay–Lac-Saint-Jean",
	"Capitale-Nationale",
	"Mauricie",
	"Estrie",
	"Montréal",
	"Outaouais",
	"Abitibi-Témiscamingue",
	"Côte-Nord",
	"Nord-du-Québec",
	"Gaspésie–Îles-de-la-Madeleine",
	"Chaudière-Appalaches",
	"Laval",
	"Lanaudière",
	"Laurentides",
	"Montérégie",
	"Centre-du-Québec"
};

const char *vg_region_code(int region)
{
	if (region < 0 || region > VG_REGION_COUNT)
		return NULL;
	return codes[region];
}

const char *vg_region_name(int region)
{
	if (region < 0 || region > VG_REGION_COUNT)
		return NULL;
	return names[region];
}

const char *vg_region_name_en(int region)
{
	if (region == VG_REGION_ALL)
		return "All of Quebec";
	return vg_region_name(region);
}

int vg_region_parse(const char *s, size_t len)
{
	if (len != 2 || s[0] < '0' || s[0] > '1' || s[1] < '0' || s[1] > '9')
		return VG_ERR_INVAL;
	int r = (s[0] - '0') * 10 + (s[1] - '0');
	return (r >= 1 && r <= VG_REGION_COUNT) ? r : VG_ERR_INVAL;
}

int vg_region_parse_or_all(const char *s, size_t len)
{
	if (len == 3 && memcmp(s, "all", 3) == 0)
		return VG_REGION_ALL;
	return vg_region_parse(s, len);
}
