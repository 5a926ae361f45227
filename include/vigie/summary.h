/*
 * A summary: the counts of one program in one region (or the province),
 * held against the plan's targets.  vg_summary_compute does all of the
 * arithmetic of docs/protocol.md; encode and decode give the retained MQTT payload.
 */
#ifndef VIGIE_SUMMARY_H
#define VIGIE_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigie/domain.h"
#include "vigie/msg.h"
#include "vigie/targets.h"

struct vg_counts {
	uint64_t n[VG_STATE_COUNT];
	uint64_t stale;
};

struct vg_summary_target {
	int fy;
	uint32_t bp;
	bool met;
	uint64_t units_needed;
};

struct vg_summary {
	enum vg_program program;
	int region; /* 1..17, or VG_REGION_ALL */
	struct vg_counts counts;
	uint64_t eligible;
	uint64_t migrated;
	bool has_percent; /* false when eligible is 0: "percent": null */
	uint32_t percent_bp;
	uint32_t baseline_bp;
	int current;      /* index into targets, -1 when the plan is empty */
	bool plan_ended;
	int ntargets;
	struct vg_summary_target targets[VG_TARGETS_MAX];
	int64_t ts;
};

/* Fill *s from counts and the program's plan, as of fiscal year today_fy. */
void vg_summary_compute(struct vg_summary *s, enum vg_program p, int region,
			const struct vg_counts *c, const struct vg_plan *plan,
			int today_fy, int64_t ts);
/* Compact JSON into buf; returns the length or a negative VG_ERR_*. */
int vg_summary_encode(const struct vg_summary *s, char *buf, size_t size);
/*
 * Strict decode of a summary payload (used by rollups and tests): the
 * counts, eligible, migrated and percent must agree with each other.
 */
enum vg_reject vg_summary_decode(const char *payload, size_t len,
				 const struct vg_topic *topic,
				 struct vg_summary *out);

#endif
