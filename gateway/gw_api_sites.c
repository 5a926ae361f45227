/*
 * Sites as the NOC sees them: presence (online, session, last seen),
 * version and board, units and faults per program, and the health each
 * agent reports in its presence (outbox, oldest unacknowledged record,
 * devices answering and failing, publishes the broker refused, config
 * hash).  Sites are hundreds, not millions, so they are copied on demand
 * for /api/v1/sites and /metrics only, never for every request.
 */
#include <stdlib.h>
#include <string.h>

#include "gw_api.h"
#include "vigie/region.h"
#include "vigie/timeutil.h"

int gw_api_sites_snapshot(struct gateway *gw, int region,
			  struct gw_sites_snap *out)
{
	struct gw_units *t;
	uint32_t n;
	int rc = VG_OK;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&gw->lock);
	t = gw_core_table(gw->core);
	n = gw_units_site_count(t);
	out->v = n ? calloc(n, sizeof(*out->v)) : NULL;
	if (n && !out->v)
		rc = VG_ERR_NOMEM;
	for (uint32_t i = 0; rc == VG_OK && i < n; i++) {
		const struct gw_site *s = gw_units_site(t, i);

		if (s->region && (region == 0 || s->region == region))
			out->v[out->n++] = *s;
	}
	pthread_mutex_unlock(&gw->lock);
	return rc;
}

void gw_api_sites_free(struct gw_sites_snap *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* A health member, or null when the agent did not report it. */
static void opt_int(struct gw_buf *b, const char *name, int64_t v, bool comma)
{
	if (v < 0)
		gw_buf_printf(b, "%s\"%s\":null", comma ? "," : "", name);
	else
		gw_buf_printf(b, "%s\"%s\":%lld", comma ? "," : "", name,
			      (long long)v);
}

static void health_json(struct gw_buf *b, const struct vg_health *h)
{
	gw_buf_str(b, "\"health\":{");
	opt_int(b, "outbox", h->outbox, false);
	opt_int(b, "oldest_unacked_s", h->oldest_unacked_s, true);
	opt_int(b, "devices_ok", h->devices_ok, true);
	opt_int(b, "devices_failing", h->devices_failing, true);
	opt_int(b, "refused", h->refused, true);
	gw_buf_str(b, ",\"config_hash\":");
	if (h->config_hash[0])
		gw_buf_json(b, h->config_hash);
	else
		gw_buf_str(b, "null");
	gw_buf_str(b, "}");
}

static int site_json(struct gw_buf *b, const struct gw_site *s)
{
	static const char *const online[] = { "null", "false", "true" };
	char seen[VG_TIME_LEN] = "";

	if (s->presence_ts && vg_time_format(s->presence_ts, seen,
					     sizeof(seen)) < 0)
		return VG_ERR_RANGE;
	gw_buf_printf(b, "{\"site\":\"%s\",\"region\":\"%s\",\"online\":%s,"
			 "\"session\":%lld,\"last_seen\":",
		      s->id, vg_region_code(s->region), online[s->online + 1],
		      (long long)s->session);
	gw_buf_str(b, seen[0] ? "\"" : "null");
	if (seen[0])
		gw_buf_printf(b, "%s\"", seen);
	gw_buf_str(b, ",\"version\":");
	gw_buf_json(b, s->version);
	gw_buf_str(b, ",\"board\":");
	gw_buf_json(b, s->board);
	gw_buf_printf(b, ",\"units\":{\"renir\":%u,\"rgt\":%u},"
			 "\"faulted\":{\"renir\":%u,\"rgt\":%u},",
		      s->units[0], s->units[1], s->faulted[0], s->faulted[1]);
	health_json(b, &s->health);
	gw_buf_str(b, "}");
	return VG_OK;
}

int gw_api_sites_json(const struct gw_sites_snap *s, struct gw_buf *b)
{
	gw_buf_str(b, "{\"sites\":[");
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			gw_buf_str(b, ",");
		if (site_json(b, &s->v[i]) != VG_OK)
			return VG_ERR_RANGE;
	}
	gw_buf_str(b, "]}");
	return b->err ? VG_ERR_NOMEM : VG_OK;
}

/* A label value: backslash, double quote and newline escaped. */
static void label(struct gw_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			gw_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			gw_buf_str(b, "\\n");
		else
			gw_buf_raw(b, v, 1);
	}
}

typedef int64_t (*site_value)(const struct gw_site *s);

static int64_t m_online(const struct gw_site *s) { return s->online; }
static int64_t m_outbox(const struct gw_site *s) { return s->health.outbox; }
static int64_t m_oldest(const struct gw_site *s)
{
	return s->health.oldest_unacked_s;
}
static int64_t m_refused(const struct gw_site *s)
{
	return s->health.refused;
}

/* One family with a sample per site that reported it (value >= 0). */
static void per_site(const struct gw_sites_snap *s, struct gw_buf *b,
		     const char *name, const char *type, const char *help,
		     site_value value)
{
	gw_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		      type);
	for (size_t i = 0; i < s->n; i++) {
		int64_t v = value(&s->v[i]);

		if (v >= 0)
			gw_buf_printf(b, "%s{site=\"%s\",region=\"%s\"} %lld\n",
				      name, s->v[i].id,
				      vg_region_code(s->v[i].region),
				      (long long)v);
	}
}

static void devices(const struct gw_sites_snap *s, struct gw_buf *b)
{
	gw_buf_str(b, "# HELP vigie_agent_devices Devices each agent polls, by"
		      " whether their last poll answered.\n"
		      "# TYPE vigie_agent_devices gauge\n");
	for (size_t i = 0; i < s->n; i++) {
		const struct vg_health *h = &s->v[i].health;

		const char *reg = vg_region_code(s->v[i].region);

		if (h->devices_ok >= 0)
			gw_buf_printf(b, "vigie_agent_devices{site=\"%s\","
					 "region=\"%s\",status=\"answering\"}"
					 " %lld\n",
				      s->v[i].id, reg, (long long)h->devices_ok);
		if (h->devices_failing >= 0)
			gw_buf_printf(b, "vigie_agent_devices{site=\"%s\","
					 "region=\"%s\",status=\"failing\"}"
					 " %lld\n",
				      s->v[i].id, reg,
				      (long long)h->devices_failing);
	}
}

static void info(const struct gw_sites_snap *s, struct gw_buf *b)
{
	gw_buf_str(b, "# HELP vigie_agent_info Always 1; the labels say which"
		      " agent build and config each site runs.\n"
		      "# TYPE vigie_agent_info gauge\n");
	for (size_t i = 0; i < s->n; i++) {
		const struct gw_site *site = &s->v[i];

		if (!site->version[0] && !site->health.config_hash[0])
			continue;
		gw_buf_printf(b, "vigie_agent_info{site=\"%s\",version=\"",
			      site->id);
		label(b, site->version);
		gw_buf_str(b, "\",board=\"");
		label(b, site->board);
		gw_buf_printf(b, "\",config_hash=\"%s\"} 1\n",
			      site->health.config_hash);
	}
}

void gw_metrics_sites_text(const struct gw_sites_snap *s, struct gw_buf *b)
{
	per_site(s, b, "vigie_agent_online", "gauge",
		 "1 while the site's agent is connected, 0 after its will.",
		 m_online);
	per_site(s, b, "vigie_agent_outbox_records", "gauge",
		 "Records the agent holds until the broker acknowledges them.",
		 m_outbox);
	per_site(s, b, "vigie_agent_oldest_unacked_seconds", "gauge",
		 "Age of the agent's oldest unacknowledged record.", m_oldest);
	per_site(s, b, "vigie_agent_publishes_refused_total", "counter",
		 "Publishes the broker refused (MQTT 5 reason code), since "
		 "the agent started.", m_refused);
	devices(s, b);
	info(s, b);
}
