/*
 * The sites file (--sites FILE): which region each site belongs to, as
 * tools/vigie-pki writes it (sites.map).  With it, a site is bound before
 * its agent ever speaks, so even a compromised agent's first message
 * cannot claim another region, and a site not on the list is refused.
 *
 *     # site    region
 *     mtl-042   06
 *
 * The whole file is checked before anything is bound: an error says
 * "file:line: reason" and changes nothing.
 */
#include "gw_sites.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"
#include "vigie/ident.h"
#include "vigie/region.h"
#include "vigie/str.h"

struct entry {
	char site[VG_IDENT_MAX + 1];
	int region;
};

/* One line into *e; returns NULL, or what is wrong with it. */
static const char *parse_line(char *line, struct entry *e, int *blank)
{
	char *save = NULL, *site, *region, *extra;

	line[strcspn(line, "#\r\n")] = '\0';
	site = strtok_r(line, " \t", &save);
	*blank = site == NULL;
	if (!site)
		return NULL;
	region = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (!region || extra)
		return "expected: SITE REGION";
	if (!vg_ident_valid(site, strlen(site)))
		return "site must be 1-48 characters of A-Za-z0-9._-";
	e->region = vg_region_parse(region, strlen(region));
	if (e->region < 1)
		return "region must be 01..17";
	vg_strlcpy(e->site, site, sizeof(e->site));
	return NULL;
}

/* Read every entry of path into a new array (*out, owned by caller). */
static int read_all(const char *path, struct entry **out, size_t *n,
		    char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t cap = 0;
	int lineno = 0, rc = VG_OK;

	*out = NULL;
	*n = 0;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VG_ERR_IO;
	}
	while (rc == VG_OK && fgets(line, sizeof(line), f)) {
		struct entry e;
		const char *why;
		int blank;

		lineno++;
		why = parse_line(line, &e, &blank);
		if (why) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			rc = VG_ERR_PARSE;
		} else if (!blank) {
			if (*n == cap) {
				cap = cap ? cap * 2 : 64;
				struct entry *ne = realloc(*out, cap * sizeof(*ne));
				if (!ne) {
					rc = VG_ERR_NOMEM;
					break;
				}
				*out = ne;
			}
			(*out)[(*n)++] = e;
		}
	}
	fclose(f);
	return rc;
}

int gw_sites_load(struct gw_core *core, const char *path, char *err,
		  size_t errlen)
{
	struct entry *v = NULL;
	size_t n = 0;
	int rc = read_all(path, &v, &n, err, errlen);

	/* a site listed twice with two regions is an error, not a choice */
	for (size_t i = 0; rc == VG_OK && i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(v[i].site, v[j].site) == 0 &&
			    v[i].region != v[j].region) {
				snprintf(err, errlen,
					 "%s: site %s is listed in regions %02d"
					 " and %02d", path, v[i].site,
					 v[j].region, v[i].region);
				rc = VG_ERR_PARSE;
				break;
			}
		}
	}
	for (size_t i = 0; rc == VG_OK && i < n; i++) {
		if (gw_core_bind_site(core, v[i].site, v[i].region) !=
		    VG_REJ_NONE) {
			snprintf(err, errlen,
				 "%s: site %s could not be bound to region "
				 "%02d", path, v[i].site, v[i].region);
			rc = VG_ERR_INVAL;
		}
	}
	if (rc == VG_OK)
		gw_core_close_sites(core);
	free(v);
	return rc;
}
