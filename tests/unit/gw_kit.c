/*
 * The gateway unit tests' shared helpers (gw_kit.h).
 */
#include "gw_kit.h"

#include <string.h>

enum vg_reject gw_kit_feed(struct gw_core *c, const char *topic,
			   const char *payload)
{
	struct gw_msg m;
	enum vg_reject r = gw_core_decode("", topic, payload, strlen(payload),
					  &m);

	return r != VG_REJ_NONE ? r : gw_core_apply(c, &m);
}
