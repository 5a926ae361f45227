/*
 * Migration targets per program and the fiscal-year logic that picks the
 * one in force.  The plan's figures are compiled in; a targets file adds or
 * replaces fiscal years (a later plan) without a rebuild.
 *
 * Targets file format, one statement a line, '#' starts a comment:
 *     renir  2025-2026  80          # program, fiscal year, percent
 *     rgt    baseline   11          # starting value of the indicator
 * Errors are reported as "file:line: what is wrong" and leave the targets
 * untouched.
 */
#ifndef VIGIE_TARGETS_H
#define VIGIE_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigie/domain.h"
#include "vigie/timeutil.h"

#define VG_TARGETS_MAX 16

struct vg_target {
	int fy;      /* first calendar year: 2024 means FY 2024-2025 */
	uint32_t bp; /* target, basis points */
};

struct vg_plan {
	uint32_t baseline_bp;
	int n; /* targets, sorted by fy, unique */
	struct vg_target t[VG_TARGETS_MAX];
};

struct vg_targets {
	struct vg_plan plan[VG_PROG_COUNT];
};

/* The ministry's 2023-2025 plan (docs/protocol.md, Targets). */
void vg_targets_default(struct vg_targets *tg);
/*
 * Apply a targets file on top of *tg.  On error nothing is changed and err
 * receives "path:line: reason".
 */
int vg_targets_load(struct vg_targets *tg, const char *path, char *err,
		    size_t errlen);
/* As vg_targets_load, on text in memory; name is used in messages. */
int vg_targets_parse(struct vg_targets *tg, const char *text, size_t len,
		     const char *name, char *err, size_t errlen);

/* Fiscal year (April 1 .. March 31) containing a date: its first year. */
int vg_fy_of_date(const struct vg_date *d);
/* "2024-2025" */
int vg_fy_format(int fy, char *buf, size_t size);
/* Parse "2024-2025" (second year must follow the first). */
int vg_fy_parse(const char *s, size_t len, int *fy);
/* Due date of a fiscal year's target: March 31 of its second year. */
void vg_fy_due(int fy, struct vg_date *out);

/*
 * Index in plan->t of the target in force in fiscal year today_fy: that
 * year's, else the next one to come, else the last (then *ended is true).
 * Returns VG_ERR_NOTFOUND when the plan has no target.
 */
int vg_plan_current(const struct vg_plan *plan, int today_fy, bool *ended);

#endif
