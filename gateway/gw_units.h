/*
 * The gateway's in-memory tables: every unit ever seen (with tombstones for
 * removed ones, so a replayed message cannot resurrect them) and every site.
 * Records live in fixed-size chunks that never move, addressed by a 32-bit
 * index, and are found through chained hash tables of indexes: about 90
 * bytes per unit, O(1) per lookup, no per-unit malloc.
 *
 * Not thread-safe: the caller holds the gateway's state lock.
 */
#ifndef VIGIE_GW_UNITS_H
#define VIGIE_GW_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigie/ident.h"
#include "vigie/msg.h"

#define GW_NONE UINT32_MAX

enum gw_unit_flags {
	GW_UNIT_FAULT = 1 << 0,   /* last read failed: counts as stale */
	GW_UNIT_REMOVED = 1 << 1, /* tombstone: not counted */
	GW_UNIT_MANUAL = 1 << 2   /* state marked by a technician */
};

struct gw_unit {
	int64_t seq;
	int64_t since;     /* Unix seconds the unit entered its state */
	uint32_t site;     /* index into the site table */
	uint32_t next;     /* hash chain, GW_NONE at the end */
	uint32_t row;      /* slot in the pending store batch, GW_NONE if none */
	/*
	 * ts (Unix seconds) of the last status applied, a "removed" one
	 * included; 0 for none (listed but never reported, or cleared by an
	 * empty payload).  32 bits fill what was padding; summaries are
	 * dated by it (gw_core_newest).
	 */
	uint32_t ts;
	uint8_t program;
	uint8_t region;
	uint8_t state;
	uint8_t flags;
	char id[VG_IDENT_MAX + 1];
};

enum gw_site_flags {
	GW_SITE_LISTED = 1 << 0,    /* its units come from the inventory */
	GW_SITE_RECEIPT = 1 << 1    /* receipt_seq changed: publish it */
};

struct gw_site {
	char id[VG_IDENT_MAX + 1];
	uint8_t region;       /* bound region, 0 while unbound */
	int8_t online;        /* 1 online, 0 offline, -1 presence unknown */
	uint8_t flags;        /* gw_site_flags */
	int64_t presence_ts;
	int64_t session;      /* of the last presence applied; 0: none */
	int64_t receipt_seq;  /* highest seq processed from this site */
	int64_t receipt_ts;   /* ts of the status that carried it (Unix s) */
	uint32_t units[2];    /* live units per program */
	uint32_t faulted[2];  /* of which faulted */
	uint32_t records;     /* unit records, tombstones included */
	uint32_t cap;         /* most records it may have; 0: the default */
	struct vg_health health;          /* from its last presence */
	char version[VG_TEXT_MAX + 1];
	char board[VG_TEXT_MAX + 1];
	uint32_t next;
};

struct gw_units;

/* NULL on allocation failure.  Owned by the caller: gw_units_free. */
struct gw_units *gw_units_new(void);
void gw_units_free(struct gw_units *u);

/* Index of a site, or GW_NONE. */
uint32_t gw_units_site_find(const struct gw_units *u, const char *id);
/* Find or create (unbound, presence unknown); GW_NONE when out of memory. */
uint32_t gw_units_site_get(struct gw_units *u, const char *id);
struct gw_site *gw_units_site(struct gw_units *u, uint32_t idx);
uint32_t gw_units_site_count(const struct gw_units *u);

uint32_t gw_units_find(const struct gw_units *u, int program, uint32_t site,
		       const char *id);
/*
 * Create a unit record (a tombstone until the caller fills it).  GW_NONE on
 * allocation failure.  The pointer from gw_units_at stays valid for the
 * table's life.
 */
uint32_t gw_units_add(struct gw_units *u, int program, uint32_t site,
		      const char *id);
struct gw_unit *gw_units_at(struct gw_units *u, uint32_t idx);
uint32_t gw_units_count(const struct gw_units *u);

/* Approximate bytes held, for metrics and the memory benchmark. */
size_t gw_units_bytes(const struct gw_units *u);

#endif
