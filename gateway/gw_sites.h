/* The gateway's sites file: site -> region bindings, see gw_sites.c. */
#ifndef VIGIE_GW_SITES_H
#define VIGIE_GW_SITES_H

#include <stddef.h>

#include "gw_core.h"

/*
 * Bind every site of path to its region, then refuse unlisted sites.
 * On error err holds "path:line: reason" (or "path: reason").
 */
int gw_sites_load(struct gw_core *core, const char *path, char *err,
		  size_t errlen);

#endif
