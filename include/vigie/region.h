/*
 * Quebec's 17 administrative regions, by their official two-digit codes and
 * exact French names (UTF-8).  Regions are numbered 1..17 everywhere in
 * memory; 0 stands for the whole province ("all") where a summary needs it.
 */
#ifndef VIGIE_REGION_H
#define VIGIE_REGION_H

#include <stddef.h>

#define VG_REGION_COUNT 17
#define VG_REGION_ALL 0

/* "01".."17", or "all" for VG_REGION_ALL; NULL when out of range. */
const char *vg_region_code(int region);
/* Official French name; "Ensemble du Québec" for VG_REGION_ALL. */
const char *vg_region_name(int region);
/* English label for the province total, names otherwise unchanged. */
const char *vg_region_name_en(int region);
/* Parse exactly "01".."17" (len bytes); VG_ERR_INVAL otherwise. */
int vg_region_parse(const char *s, size_t len);
/* As vg_region_parse, but also accepts "all" (returns VG_REGION_ALL). */
int vg_region_parse_or_all(const char *s, size_t len);

#endif
