/*
 * The gateway's own payloads besides summaries: target events
 * (vigie/v1/event/{program}/{region}, not retained) and the gateway's
 * presence (vigie/v1/gateway/{id}, retained, with a will).  Encoded here,
 * in one place, so the birth and the will cannot drift apart and every
 * string is escaped; decoded strictly for subscribers and round-trip tests.
 */
#ifndef VIGIE_EVENT_H
#define VIGIE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigie/msg.h"
#include "vigie/summary.h"
#include "vigie/timeutil.h"

/* An event's id: 16 lowercase hex digits (FNV-1a 64, vg_event_set_id). */
#define VG_EVENT_ID_LEN 16

/* A region's current target met or lost. */
struct vg_event {
	char id[VG_EVENT_ID_LEN + 1]; /* "" when absent (older gateways) */
	enum vg_program program;
	int region;            /* 1..17, or VG_REGION_ALL */
	bool met;              /* "target_met" or "target_lost" */
	int fy;                /* fiscal year of the target (its first year) */
	struct vg_date due;
	uint32_t target_bp;
	bool has_percent;
	uint32_t percent_bp;
	uint64_t migrated, eligible, units_needed;
	int64_t ts;
};

/* The event a summary's current target gives; VG_ERR_INVAL without one. */
int vg_event_from_summary(const struct vg_summary *s, bool met,
			  struct vg_event *out);
/*
 * Whether a summary makes an event, given *last (the current target's
 * met state at the previous summary: 1, 0, or -1 for none yet), which it
 * updates: returns 1 (target_met), 0 (target_lost) or -1 (no event).  The
 * first figure after a start never makes an event, nor does a region
 * with nothing eligible (its target is met only vacuously).
 */
int vg_event_edge(int8_t *last, const struct vg_summary *s);
/*
 * Name the event by data alone, so that subscribers drop the copy another
 * gateway on the same stream publishes: FNV-1a 64 of
 * "{program}/{region}/{event}/{fiscal_year}/{site}/{unit}/{seq}", the
 * unit status whose arrival flipped the target, or without one (site
 * NULL: the target itself changed) of
 * "{program}/{region}/{event}/{fiscal_year}/{migrated}/{eligible}".
 * VG_ERR_INVAL when a member cannot be written.
 */
int vg_event_set_id(struct vg_event *e, const char *site, const char *unit,
		    int64_t seq);
int vg_event_encode(const struct vg_event *e, char *buf, size_t size);
enum vg_reject vg_event_decode(const char *payload, size_t len,
			       struct vg_event *out);

/* The gateway's presence; the will is the same object, online false. */
struct vg_gw_presence {
	char id[VG_IDENT_MAX + 1];
	bool online;
	char version[VG_TEXT_MAX + 1];
	int64_t ts;
};

int vg_gw_presence_encode(const struct vg_gw_presence *p, char *buf,
			  size_t size);
enum vg_reject vg_gw_presence_decode(const char *payload, size_t len,
				     struct vg_gw_presence *out);

#endif
