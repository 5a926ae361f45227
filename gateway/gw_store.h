/*
 * The gateway's SQLite store under --data-dir: current unit states (with
 * tombstones), site bindings and presence, every state transition (for
 * "as of" reports) and periodic per-region history (for trends).
 * WAL mode; writes come in batches, one transaction each, so SQLite keeps
 * up with the broker.  Used from one thread at a time.
 */
#ifndef VIGIE_GW_STORE_H
#define VIGIE_GW_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "gw_core.h"
#include "vigie/summary.h"

struct gw_store;

/*
 * Open (creating if needed) DIR/vigie.db.  On failure returns NULL and
 * writes the reason into err.
 */
struct gw_store *gw_store_open(const char *dir, char *err, size_t errlen);
void gw_store_close(struct gw_store *st);

/* Restore units and sites into core: the units loaded, or a VG_ERR_*. */
long gw_store_load(struct gw_store *st, struct gw_core *core);
/* Write a batch in one transaction: VG_OK, or a VG_ERR_* (logged). */
int gw_store_write(struct gw_store *st, const struct gw_batch *b);
/* One history point for a program × region (0 = province). */
int gw_store_history(struct gw_store *st, int64_t at, int program,
		     int region, const struct vg_counts *c);
/* The database accepts a write right now. */
bool gw_store_ping(struct gw_store *st);

/* gw_store_read.c: a read-only connection (one per caller), or NULL. */
sqlite3 *gw_store_open_ro(const char *dir);

/* One history point; VG_OK goes on, a VG_ERR_* stops the walk. */
typedef int (*gw_hist_cb)(void *arg, int64_t at, const struct vg_counts *c);
/*
 * History points of program x region (0 = province) with at in [from, to],
 * oldest first; when there are more than max_points, the last point of each
 * of max_points equal time buckets.  With prior, the last point before from
 * comes first (the value in force at from).  Returns the points handed to
 * cb, or a negative VG_ERR_* (the database's, or the one cb stopped with).
 */
long gw_store_history_read(sqlite3 *db, int program, int region, int64_t from,
		       int64_t to, long max_points, bool prior, gw_hist_cb cb,
		       void *arg);

#endif
