/* Names of rejection reasons: stable, they are metric labels. */
#include "vigie/msg.h"

static const char *const names[VG_REJ_COUNT] = {
	"none", "oversize", "malformed", "version", "missing", "type",
	"program", "region", "identifier", "state", "time", "topic",
	"mismatch", "stale_seq", "site_region", "site_unknown",
	"unit_unknown", "future", "not_site"
};

const char *vg_reject_name(enum vg_reject r)
{
	return ((unsigned)r < VG_REJ_COUNT) ? names[r] : "invalid";
}
