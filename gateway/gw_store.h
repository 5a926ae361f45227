/*
 * The gateway's SQLite store under --data-dir: current unit states (with
 * tombstones), site bindings and presence, every state transition (for
 * "as of" reports) and periodic per-region history (for trends).
 * WAL mode; writes come in batches, one transaction each, so SQLite keeps
 * up with the broker.  Used from one thread at a time.
 */
#ifndef VIGIE_GW_STORE_H
#define VIGIE_GW_STORE_H

#include <stdint.h>

#include "gw_core.h"
#include "vigie/summary.h"

struct gw_store;

/*
 * Open (creating if needed) DIR/vigie.db.  On failure returns NULL and
 * writes the reason into err.
 */
struct gw_store *gw_store_open(const char *dir, char *err, size_t errlen);
void gw_store_close(struct gw_store *st);

/* Restore units and sites into core.  Returns units loaded or <0. */
long gw_store_load(struct gw_store *st, struct gw_core *core);
/* Write a batch in one transaction.  0, or <0 (logged) on failure. */
int gw_store_write(struct gw_store *st, const struct gw_batch *b);
/* One history point for a program × region (0 = province). */
int gw_store_history(struct gw_store *st, int64_t at, int program,
		     int region, const struct vg_counts *c);
/* True when the database accepts a write right now. */
int gw_store_ping(struct gw_store *st);

#endif
