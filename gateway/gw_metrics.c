/*
 * /metrics in the Prometheus text exposition format 0.0.4: one HELP and
 * TYPE line per family, then its samples.  Every value comes from one
 * snapshot, so the families agree with each other.  Names follow
 * Prometheus's conventions: the unit last (units, seconds, ratio from 0
 * to 1 rather than percent, rows, messages), _total on counters only,
 * base units (a pace per second, not per week), no unit ids as labels.
 * A region with nothing eligible has no ratio: its vigie_migrated_ratio
 * sample is left out rather than exported as NaN, which alerting rules
 * handle badly.  deploy/prometheus/ holds the rules that read them.
 */
#include <stdio.h>

#include "gw_api.h"
#include "vigie/arith.h"
#include "vigie/region.h"

static void family(struct gw_buf *b, const char *name, const char *type,
		   const char *help)
{
	gw_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		      type);
}

/* A family of one unlabelled sample. */
static void single(struct gw_buf *b, const char *name, const char *type,
		   const char *help, unsigned long long v)
{
	family(b, name, type, help);
	gw_buf_printf(b, "%s %llu\n", name, v);
}

static void pr_sample(struct gw_buf *b, const char *name, int p, int r,
		      const char *value)
{
	gw_buf_printf(b, "%s{program=\"%s\",region=\"%s\"} %s\n", name,
		      vg_program_name((enum vg_program)p), vg_region_code(r),
		      value);
}

/* A sample's value into out: its length, SKIP when the sample is absent,
 * anything else (<0 or >= size) a formatting failure. */
#define SKIP 0
typedef int (*pr_value)(const struct gw_api_snap *s,
			const struct vg_summary *sum, int p, int r, char *out,
			size_t size);

/* One family over every program x region; a failed value fails b. */
static void per_region(const struct gw_api_snap *s, struct gw_buf *b,
		       const char *name, const char *help, pr_value value)
{
	struct vg_summary sum;
	char v[32];

	family(b, name, "gauge", help);
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		for (int r = 0; r < GW_NREG; r++) {
			int n;
			gw_api_summary(s, p, r, &sum);
			n = value(s, &sum, p, r, v, sizeof(v));
			if (n < 0 || (size_t)n >= sizeof(v))
				gw_buf_fail(b);
			else if (n != SKIP)
				pr_sample(b, name, p, r, v);
		}
	}
}

static int v_eligible(const struct gw_api_snap *s, const struct vg_summary *m,
		      int p, int r, char *o, size_t n)
{
	(void)s; (void)p; (void)r;
	return snprintf(o, n, "%llu", (unsigned long long)m->eligible);
}

static int v_migrated(const struct gw_api_snap *s, const struct vg_summary *m,
		      int p, int r, char *o, size_t n)
{
	(void)s; (void)p; (void)r;
	return snprintf(o, n, "%llu", (unsigned long long)m->migrated);
}

static int v_percent(const struct gw_api_snap *s, const struct vg_summary *m,
		     int p, int r, char *o, size_t n)
{
	(void)s; (void)p; (void)r;
	return m->has_percent ? vg_bp_format_ratio(m->percent_bp, o, n) : SKIP;
}

static int v_target(const struct gw_api_snap *s, const struct vg_summary *m,
		    int p, int r, char *o, size_t n)
{
	(void)s; (void)p; (void)r;
	return m->current < 0
		       ? SKIP
		       : vg_bp_format_ratio(m->targets[m->current].bp, o, n);
}

/* The count rather than the shortfall: the rules subtract vigie_migrated_units
 * and choose their own threshold (deploy/prometheus/vigie-rules.yml). */
static int v_target_units(const struct gw_api_snap *s,
			  const struct vg_summary *m, int p, int r, char *o,
			  size_t n)
{
	(void)s; (void)p; (void)r;
	if (m->current < 0)
		return SKIP;
	return snprintf(o, n, "%llu",
			(unsigned long long)vg_target_units(
				m->eligible, m->targets[m->current].bp));
}

static int v_met(const struct gw_api_snap *s, const struct vg_summary *m,
		 int p, int r, char *o, size_t n)
{
	(void)s; (void)p; (void)r;
	return m->current < 0 ? SKIP
			      : snprintf(o, n, "%d", m->targets[m->current].met);
}

static int v_stale(const struct gw_api_snap *s, const struct vg_summary *m,
		   int p, int r, char *o, size_t n)
{
	(void)s; (void)p; (void)r;
	return snprintf(o, n, "%llu", (unsigned long long)m->counts.stale);
}

static int v_proj(const struct gw_api_snap *s, const struct vg_summary *m,
		  int p, int r, char *o, size_t n)
{
	(void)m;
	return s->proj[p][r].ok ? vg_bp_format_ratio(s->proj[p][r].bp, o, n)
				: SKIP;
}

static int v_pace(const struct gw_api_snap *s, const struct vg_summary *m,
		  int p, int r, char *o, size_t n)
{
	(void)m;
	return s->proj[p][r].pace_ok
		       ? snprintf(o, n, "%.9g", s->proj[p][r].units_day / 86400.0)
		       : SKIP;
}

static int v_track(const struct gw_api_snap *s, const struct vg_summary *m,
		   int p, int r, char *o, size_t n)
{
	(void)m;
	return s->proj[p][r].ok ? snprintf(o, n, "%d", s->proj[p][r].on_track)
				: SKIP;
}

static void states(const struct gw_api_snap *s, struct gw_buf *b)
{
	family(b, "vigie_units", "gauge", "Known units by state.");
	for (int p = 0; p < VG_PROG_COUNT; p++)
		for (int r = 0; r < GW_NREG; r++)
			for (int i = 0; i < VG_STATE_COUNT; i++)
				gw_buf_printf(b,
					"vigie_units{program=\"%s\",region=\"%s\","
					"state=\"%s\"} %llu\n",
					vg_program_name((enum vg_program)p),
					vg_region_code(r),
					vg_state_name((enum vg_state)i),
					(unsigned long long)s->counts[p][r].n[i]);
}

static void ingest(const struct gw_api_snap *s, struct gw_buf *b)
{
	const struct gw_stats *st = &s->stats;

	single(b, "vigie_messages_total", "counter",
	       "MQTT messages received on unit and agent topics.",
	       st->messages);
	single(b, "vigie_messages_applied_total", "counter",
	       "Messages that changed a unit or a site.", st->applied);
	single(b, "vigie_messages_duplicate_total", "counter",
	       "Harmless duplicates (same seq, QoS 1 redelivery).",
	       st->duplicates);
	family(b, "vigie_messages_rejected_total", "counter",
	       "Messages rejected, by reason (docs/protocol.md).");
	for (int i = 1; i < VG_REJ_COUNT; i++)
		gw_buf_printf(b, "vigie_messages_rejected_total{reason=\"%s\"} %llu\n",
			      vg_reject_name((enum vg_reject)i),
			      (unsigned long long)st->rejected[i]);
	single(b, "vigie_store_dropped_rows_total", "counter",
	       "Rows that could not be queued for SQLite (out of memory).",
	       st->store_dropped);
}

static void agents(const struct gw_api_snap *s, struct gw_buf *b)
{
	static const char *const names[] = { "online", "offline", "unknown" };

	family(b, "vigie_agents", "gauge",
	       "Field agents (sites) by presence: online, offline (will or"
	       " last word), unknown (no presence yet).");
	for (int r = 0; r < GW_NREG; r++) {
		const uint32_t v[] = { s->agents[r].online,
				       s->agents[r].offline,
				       s->agents[r].unknown };
		for (int i = 0; i < 3; i++)
			gw_buf_printf(b, "vigie_agents{region=\"%s\",state=\"%s\"} %u\n",
				      vg_region_code(r), names[i], v[i]);
	}
}

/* Regions cut off from this broker behind their regional bridge. */
static void bridges(const struct gw_api_snap *s, struct gw_buf *b)
{
	family(b, "vigie_bridge_down", "gauge",
	       "1 while the region's bridge notification (vigie/v1/bridge/RR) "
	       "says it is cut off: its units count as stale.");
	for (int r = 1; r < GW_NREG; r++)
		gw_buf_printf(b, "vigie_bridge_down{region=\"%s\"} %d\n",
			      vg_region_code(r), s->bridge_down[r] ? 1 : 0);
}

static void health(const struct gw_api_snap *s, struct gw_buf *b)
{
	family(b, "vigie_build_info", "gauge",
	       "Always 1; the labels say which build runs.");
	gw_buf_printf(b, "vigie_build_info{version=\"%s\",board=\"%s\"} 1\n",
		      VG_VERSION, VG_BOARD);
	single(b, "vigie_broker_connected", "gauge",
	       "1 while the gateway is connected to its MQTT broker.",
	       s->connected);
	single(b, "vigie_broker_index", "gauge",
	       "Which --broker address is in use or being tried (0: the "
	       "first); /healthz names it.", (unsigned long long)s->broker);
	single(b, "vigie_broker_failovers_total", "counter",
	       "Moves to another --broker address since start.",
	       s->failovers);
	single(b, "vigie_resyncs_total", "counter",
	       "Re-reads of the retained state once synced "
	       "(--resync-interval).", s->resyncs);
	single(b, "vigie_resync_mended_total", "counter",
	       "Units and agents a re-read changed: live deliveries the "
	       "broker had lost.", s->mended);
	single(b, "vigie_synced", "gauge",
	       "1 once the retained replay after the last connect is whole.",
	       s->synced);
	single(b, "vigie_database_writable", "gauge",
	       "1 while the last SQLite write or check succeeded.", s->db_ok);
	single(b, "vigie_live_units", "gauge", "Units held in memory.",
	       s->units);
}

/* The per-region gauges, in the order they are exported. */
static const struct {
	const char *name, *help;
	pr_value value;
} region_gauges[] = {
	{ "vigie_eligible_units", "Eligible units (known - retired).",
	  v_eligible },
	{ "vigie_migrated_units", "Migrated units.", v_migrated },
	{ "vigie_migrated_ratio",
	  "Migrated / eligible, 0 to 1, rounded as the summaries' percent "
	  "(absent when nothing is eligible).", v_percent },
	{ "vigie_target_ratio", "Current target, 0 to 1.", v_target },
	{ "vigie_target_units",
	  "Migrated units the current target asks for: ceil(target x "
	  "eligible).", v_target_units },
	{ "vigie_target_met", "1 when the current target is met.", v_met },
	{ "vigie_stale_units",
	  "Units whose agent is offline or whose last read faulted.",
	  v_stale },
	{ "vigie_projected_ratio",
	  "Projected migrated ratio at the current target's due date.",
	  v_proj },
	{ "vigie_on_track",
	  "1 when the projection reaches the current target.", v_track },
	{ "vigie_pace_units_per_second",
	  "Once the plan has ended: units migrated per second (x 604800 "
	  "for a week), fitted over the projection window.", v_pace },
};

void gw_metrics_text(const struct gw_api_snap *s, struct gw_buf *b)
{
	health(s, b);
	for (size_t i = 0; i < sizeof(region_gauges) / sizeof(region_gauges[0]);
	     i++)
		per_region(s, b, region_gauges[i].name, region_gauges[i].help,
			   region_gauges[i].value);
	states(s, b);
	ingest(s, b);
	agents(s, b);
	bridges(s, b);
}
