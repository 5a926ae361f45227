/*
 * Snapshots and the JSON documents built from them.  The snapshot is the
 * only place an HTTP thread takes the gateway's lock: a copy of 2 x 18
 * count records, the projections, the targets and the counters, plus a walk
 * of the site table for agent presence (thousands of sites, not units).
 */
#include <string.h>

#include "gw_api.h"
#include "vigie/region.h"
#include "vigie/timeutil.h"

static void count_agents(struct gateway *gw, struct gw_api_snap *s)
{
	struct gw_units *t = gw_core_table(gw->core);
	uint32_t n = gw_units_site_count(t);

	for (uint32_t i = 0; i < n; i++) {
		const struct gw_site *site = gw_units_site(t, i);
		struct gw_agents *a = &s->agents[site->region];
		uint32_t *slot = site->online > 0 ? &a->online :
				 site->online == 0 ? &a->offline : &a->unknown;
		(*slot)++;
	}
	for (int r = 1; r < GW_NREG; r++) {
		s->agents[0].online += s->agents[r].online;
		s->agents[0].offline += s->agents[r].offline;
		s->agents[0].unknown += s->agents[r].unknown;
	}
}

void gw_api_snapshot(struct gateway *gw, struct gw_api_snap *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&gw->lock);
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		for (int r = 0; r < GW_NREG; r++) {
			gw_core_counts(gw->core, p, r, &s->counts[p][r]);
			s->ts[p][r] = gw_core_newest(gw->core, p, r);
		}
	}
	/* the same fiscal year and dates as the retained summaries */
	s->fy = gw_fy_of(gw, gw_core_data_time(gw->core));
	memcpy(s->proj, gw->proj, sizeof(s->proj));
	s->targets = gw->targets;
	s->stats = *gw_core_stats(gw->core);
	s->units = gw_core_units(gw->core);
	count_agents(gw, s);
	for (int r = 1; r < GW_NREG; r++)
		s->bridge_down[r] = gw_core_bridge_down(gw->core, r);
	pthread_mutex_unlock(&gw->lock);
	s->connected = atomic_load(&gw->connected);
	s->synced = atomic_load(&gw->synced);
	s->broker = atomic_load(&gw->broker);
	vg_broker_format(&gw->o.brokers[s->broker], s->broker_addr,
			 sizeof(s->broker_addr));
	s->failovers = atomic_load(&gw->failovers);
	s->resyncs = atomic_load(&gw->resyncs);
	s->mended = atomic_load(&gw->mended);
	s->db_ok = atomic_load(&gw->db_ok);
	s->gen = atomic_load(&gw->gen);
	s->now = vg_now();
}

void gw_api_summary(const struct gw_api_snap *s, int program, int region,
		    struct vg_summary *out)
{
	vg_summary_compute(out, (enum vg_program)program, region,
			   &s->counts[program][region],
			   &s->targets.plan[program], s->fy,
			   s->ts[program][region]);
}

void gw_api_summary_json(const struct gw_api_snap *s, int program,
			 int region, struct gw_buf *b)
{
	struct vg_summary sum;
	char buf[VG_PAYLOAD_MAX];
	int n;

	gw_api_summary(s, program, region, &sum);
	n = gw_summary_json(&sum, &s->proj[program][region], buf, sizeof(buf));
	if (n > 0 && (size_t)n < sizeof(buf))
		gw_buf_raw(b, buf, (size_t)n);
	else
		gw_buf_fail(b);
}

void gw_api_all_json(const struct gw_api_snap *s, struct gw_buf *b)
{
	char ts[VG_TIME_LEN], fy[16];

	if (vg_time_format(s->now, ts, sizeof(ts)) < 0 ||
	    vg_fy_format(s->fy, fy, sizeof(fy)) < 0) {
		gw_buf_fail(b);
		return;
	}
	gw_buf_printf(b, "{\"v\":1,\"ts\":\"%s\",\"fiscal_year\":\"%s\","
			 "\"generation\":%u,\"broker_connected\":%s,"
			 "\"synced\":%s,\"summaries\":[",
		      ts, fy, s->gen, s->connected ? "true" : "false",
		      s->synced ? "true" : "false");
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		for (int r = 0; r < GW_NREG; r++) {
			if (p || r)
				gw_buf_raw(b, ",", 1);
			gw_api_summary_json(s, p, r, b);
		}
	}
	gw_buf_str(b, "]}");
}

bool gw_api_health_json(const struct gw_api_snap *s, struct gw_buf *b)
{
	bool ok = s->connected && s->db_ok;

	gw_buf_printf(b, "{\"status\":\"%s\",\"broker_connected\":%s,"
			 "\"broker\":",
		      ok ? "ok" : "degraded", s->connected ? "true" : "false");
	gw_buf_json(b, s->broker_addr);
	gw_buf_printf(b, ",\"broker_index\":%d,\"synced\":%s,"
			 "\"database_writable\":%s,\"version\":\"%s\"}",
		      s->broker, s->synced ? "true" : "false",
		      s->db_ok ? "true" : "false", VG_VERSION);
	return ok;
}
