/*
 * The read-only views behind the HTTP server: a consistent snapshot of the
 * counts (copied under the gateway's lock, formatted outside it), the JSON
 * documents of /api/v1/..., the Prometheus exposition of /metrics, and the
 * read-only SQLite queries (history, units) that run on their own
 * connection, so readers never wait for the ingest and never block it.
 */
#ifndef VIGIE_GW_API_H
#define VIGIE_GW_API_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "gateway.h"
#include "vigie/err.h"

/*
 * A growable text buffer.  On any failure (allocation, or a value that
 * could not be formatted) it remembers and stops: a response built from a
 * failed buffer is a 500, never a body with a hole or stale bytes in it.
 */
struct gw_buf {
	char *p;
	size_t len, cap;
	bool err;
};

void gw_buf_raw(struct gw_buf *b, const char *s, size_t n);
void gw_buf_str(struct gw_buf *b, const char *s); /* raw, NUL-terminated */
void gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A JSON string literal (quotes, backslashes and controls escaped). */
void gw_buf_json(struct gw_buf *b, const char *s);
void gw_buf_free(struct gw_buf *b);
/* Mark b failed (a value could not be formatted); returns VG_ERR_RANGE. */
int gw_buf_fail(struct gw_buf *b);

#define GW_NREG (VG_REGION_COUNT + 1)

struct gw_agents {
	uint32_t online, offline, unknown;
};

/* Everything a reader needs, copied in one short critical section. */
struct gw_api_snap {
	struct vg_counts counts[VG_PROG_COUNT][GW_NREG];
	struct gw_projection proj[VG_PROG_COUNT][GW_NREG];
	struct vg_targets targets;
	struct gw_stats stats;
	struct gw_agents agents[GW_NREG]; /* [0]: the province */
	bool bridge_down[GW_NREG];        /* [1..17]: vigie/v1/bridge/RR 0 */
	uint32_t units;
	bool connected, synced, db_ok;
	int broker;                           /* --broker index in use */
	char broker_addr[VG_BROKER_ADDR_MAX]; /* ...and its address */
	unsigned failovers;                   /* moves to another address */
	unsigned resyncs, mended;             /* re-reads, what they changed */
	int64_t ts[VG_PROG_COUNT][GW_NREG]; /* each summary's (data) time */
	int fy;      /* fiscal year the targets are held for (the data's) */
	int64_t now; /* Unix seconds, the document's time */
	unsigned gen;
};

void gw_api_snapshot(struct gateway *gw, struct gw_api_snap *s);
/* The summary of one program x region, as published (with projection). */
void gw_api_summary(const struct gw_api_snap *s, int program, int region,
		    struct vg_summary *out);
/* One summary object (same bytes as MQTT), appended to b. */
void gw_api_summary_json(const struct gw_api_snap *s, int program,
			 int region, struct gw_buf *b);
/* {"v":1,"ts",...,"summaries":[every program x region and all]} */
void gw_api_all_json(const struct gw_api_snap *s, struct gw_buf *b);
/* /healthz body; returns true when healthy. */
bool gw_api_health_json(const struct gw_api_snap *s, struct gw_buf *b);

/* gw_api_sites.c: sites with their presence and agent health. */
struct gw_sites_snap {
	struct gw_site *v; /* owned: gw_api_sites_free */
	size_t n;
};

/* Copy the bound sites of region (0: all) under the lock; VG_ERR_*. */
int gw_api_sites_snapshot(struct gateway *gw, int region,
			  struct gw_sites_snap *out);
void gw_api_sites_free(struct gw_sites_snap *s);
/* {"sites":[...]} for /api/v1/sites; VG_OK or VG_ERR_*. */
int gw_api_sites_json(const struct gw_sites_snap *s, struct gw_buf *b);
/* The per-site families of /metrics. */
void gw_metrics_sites_text(const struct gw_sites_snap *s, struct gw_buf *b);

/* gw_metrics.c: the Prometheus text exposition format (version 0.0.4). */
void gw_metrics_text(const struct gw_api_snap *s, struct gw_buf *b);


struct gw_unit_query {
	int program, region, state; /* -1: any */
	const char *site;           /* NULL: any */
	long offset, limit;
};

/* {"units":[...],"offset","limit","next_offset"} into b; VG_OK or VG_ERR_*. */
int gw_api_db_units(sqlite3 *db, const struct gw_unit_query *q,
		    struct gw_buf *b);
/* {"program","region","points":[...]} for /api/v1/history; VG_OK or
 * VG_ERR_*. */
int gw_api_history_json(sqlite3 *db, int program, int region, int64_t from,
			int64_t to, long max_points, struct gw_buf *b);

#endif
