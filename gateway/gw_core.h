/*
 * The gateway's core: turn one MQTT message into a change of counts.
 * Decoding (gw_core_decode) is pure and runs outside any lock; applying
 * (gw_core_apply) updates units, sites, counts per program × region, the
 * stale counts, and queues what the store must write, all in O(1).
 *
 * Ordering rules (docs/protocol.md): a unit status is applied only when its seq is
 * greater than the last one applied for that unit; an equal seq is a
 * harmless duplicate; a lower one is rejected as stale.  A site is bound to
 * the region of the first message that names it.
 *
 * Not thread-safe: the caller serialises gw_core_apply and every reader.
 */
#ifndef VIGIE_GW_CORE_H
#define VIGIE_GW_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_units.h"
#include "vigie/msg.h"
#include "vigie/region.h"
#include "vigie/summary.h"

enum gw_msg_kind {
	GW_MSG_UNIT = 1,        /* a status; u.st.removed: a tombstone */
	GW_MSG_UNIT_REMOVE,     /* empty retained payload on a unit topic */
	GW_MSG_PRESENCE,
	GW_MSG_PRESENCE_REMOVE, /* empty retained payload on an agent topic */
	GW_MSG_BRIDGE,          /* a region's bridge: u.bridge_up */
	GW_MSG_IGNORE           /* ours or not for us: summaries, events... */
};

struct gw_msg {
	enum gw_msg_kind kind;
	struct vg_topic topic;
	union {
		struct vg_unit_status st;
		struct vg_presence pr;
		bool bridge_up; /* "1"; "0" or the bridge's will: false */
	} u;
};

/* A unit row as the store writes it (and reloads it at start). */
struct gw_row {
	uint8_t program;
	uint8_t region;
	uint8_t state;
	uint8_t source;
	bool removed;
	int64_t seq;
	int64_t since;
	int64_t ts;
	char site[VG_IDENT_MAX + 1];
	char unit[VG_IDENT_MAX + 1];
	char tech[VG_IDENT_MAX + 1];
	char fault[VG_FAULT_MAX + 1];
	char note[VG_NOTE_MAX + 1]; /* the technician's, for the API */
	uint32_t idx; /* unit index, internal */
};

struct gw_transition {
	uint8_t program;
	uint8_t region;
	int8_t from; /* -1: the unit was not known */
	int8_t to;   /* -1: the unit was removed */
	uint8_t source;
	int64_t at;
	int64_t seq;
	char site[VG_IDENT_MAX + 1];
	char unit[VG_IDENT_MAX + 1];
	char tech[VG_IDENT_MAX + 1];
};

struct gw_site_row {
	char site[VG_IDENT_MAX + 1];
	uint8_t region;
	int8_t online;
	int64_t ts;
	char version[VG_TEXT_MAX + 1];
	char board[VG_TEXT_MAX + 1];
};

/* What the store has to write; taken in one swap by gw_core_take. */
struct gw_batch {
	struct gw_row *rows;
	size_t nrows, rows_cap;
	struct gw_transition *trans;
	size_t ntrans, trans_cap;
	struct gw_site_row *sites;
	size_t nsites, sites_cap;
};

struct gw_stats {
	uint64_t messages;
	uint64_t applied;
	uint64_t duplicates;
	uint64_t rejected[VG_REJ_COUNT];
	uint64_t store_dropped; /* batch could not grow: rows lost to disk */
};

struct gw_core;

/* NULL on allocation failure.  Free with gw_core_free. */
struct gw_core *gw_core_new(void);
void gw_core_free(struct gw_core *c);

/*
 * Decode a message received on topic.  prefix is the topic prefix ("" for
 * none).  Returns VG_REJ_NONE and fills *out, or the reason to reject.
 */
enum vg_reject gw_core_decode(const char *prefix, const char *topic,
			      const void *payload, size_t len,
			      struct gw_msg *out);
/* Apply a decoded message.  Returns VG_REJ_NONE or the reason. */
enum vg_reject gw_core_apply(struct gw_core *c, const struct gw_msg *m);
/* Count a message rejected before apply (e.g. by gw_core_decode). */
void gw_core_count_reject(struct gw_core *c, enum vg_reject r);

/*
 * Bind a site to its region before any message names it (from a sites
 * file).  Once a list is given (closed = true), a site not on it is
 * refused (site_unknown).  Returns VG_REJ_SITE_REGION when the site is
 * already bound elsewhere.
 */
enum vg_reject gw_core_bind_site(struct gw_core *c, const char *site,
				 int region);
void gw_core_close_sites(struct gw_core *c);

/* Service accounts' names: never a site (vigie-pki refuses them too). */
#define GW_RESERVED_PREFIX "vigie-"
/* Unit records an unlisted site may create (tombstones count). */
#define GW_SITE_CAP_DEFAULT 10000

/*
 * The inventory (gw_inventory.c).  gw_core_set_site_cap sets the default
 * cap of every site; gw_core_limit_site one bound site's.  Once a bound
 * site has a unit listed by gw_core_inventory_unit, only its listed units
 * are accepted (unit_unknown otherwise); a listed unit that never reported
 * counts as unknown, and a removal sends it back to unknown.
 */
void gw_core_set_site_cap(struct gw_core *c, uint32_t cap);
int gw_core_limit_site(struct gw_core *c, const char *site, uint32_t cap);
int gw_core_inventory_unit(struct gw_core *c, const char *site, int program,
			   const char *unit);

/* The clock seq and timestamps are held against (tests fix it). */
void gw_core_set_clock(struct gw_core *c, int64_t (*now_ms)(void));

/*
 * Whether any site's receipt moved since the last call; the caller then
 * walks the sites for GW_SITE_RECEIPT and clears it (under its lock).
 */
bool gw_core_take_receipts(struct gw_core *c);

/* Restore a unit or a site from the store, without queueing writes. */
int gw_core_load_unit(struct gw_core *c, const struct gw_row *row,
		      bool faulted);
int gw_core_load_site(struct gw_core *c, const struct gw_site_row *s);

/*
 * What a summary is dated by: the newest ts among the unit records of a
 * program in a region (1..17) or the province (0), each record holding
 * the ts of the last status applied to it, a "removed" one included (0
 * for none); 0 when there is none.  A pure function of the records, so
 * every gateway on one stream gives the same (docs/protocol.md, Summary).
 * Not const: a scope whose newest record left is walked again here.
 */
int64_t gw_core_newest(struct gw_core *c, int program, int region);
/* The newest over every program: the data's "today" (fiscal year). */
int64_t gw_core_data_time(struct gw_core *c);

/*
 * Event ids.  The core follows, message by message, whether the current
 * target (bp, or -1 for none) of each program is met in each scope, and
 * which unit's status last flipped it.  gw_core_set_target starts afresh
 * when the target changes (nothing flipped yet); gw_core_trigger gives
 * the last flip's unit and seq, false when there was none since.
 */
struct gw_trigger {
	char site[VG_IDENT_MAX + 1];
	char unit[VG_IDENT_MAX + 1];
	int64_t seq;
};

void gw_core_set_target(struct gw_core *c, int program, int32_t bp);
bool gw_core_trigger(const struct gw_core *c, int program, int region,
		     struct gw_trigger *out);

/* Counts of a program in a region (1..17) or the province (0). */
/* Whether region's bridge notification says it is cut off (its sites'
 * healthy units then count as stale). */
bool gw_core_bridge_down(const struct gw_core *c, int region);

void gw_core_counts(const struct gw_core *c, int program, int region,
		    struct vg_counts *out);
/*
 * Regions whose counts changed since the last call, as a bitmask (bit r
 * for region r; bit 0 for the province, set whenever any region is).
 */
uint32_t gw_core_take_dirty(struct gw_core *c, int program);
/* Mark every region of every program changed (date rollover, targets). */
void gw_core_mark_all_dirty(struct gw_core *c);

/*
 * Swap the pending store batch with *out (which must be empty or
 * previously returned, and is reused).  The core keeps no pointer to it.
 */
void gw_core_take(struct gw_core *c, struct gw_batch *out);
void gw_batch_clear(struct gw_batch *b);
void gw_batch_free(struct gw_batch *b);

const struct gw_stats *gw_core_stats(const struct gw_core *c);
uint32_t gw_core_units(const struct gw_core *c); /* live units */
uint32_t gw_core_sites(const struct gw_core *c);
size_t gw_core_bytes(const struct gw_core *c);
/* The table, for read-only walks by the caller (under its lock). */
struct gw_units *gw_core_table(struct gw_core *c);

#endif
