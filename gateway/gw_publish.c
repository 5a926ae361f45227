/*
 * Publishing: retained summaries for the regions whose counts changed
 * (coalesced by the caller's timer, so a burst gives one summary per
 * region), "all" for the province, events when a region meets or loses its
 * current target, receipts, and the gateway's own presence.
 *
 * Active-active: summaries, events and receipts are functions of the data
 * alone (dated by the units' ts, the fiscal year by the newest of them,
 * events named by the status that flipped the target), never of this
 * gateway's clock or history, so that gateways on one stream publish the
 * same bytes (docs/protocol.md).  The projection, fitted to this
 * gateway's own history, stays in the HTTP API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "gw_project.h"
#include "vigie/arith.h"
#include "vigie/err.h"
#include "vigie/event.h"
#include "vigie/qcdate.h"
#include "vigie/region.h"
#include "vigie/str.h"
#include "vigie/timeutil.h"

int gw_fy_of(const struct gateway *gw, int64_t data_ts)
{
	struct vg_date d;

	if (gw->o.has_today)
		return vg_fy_of_date(&gw->o.today);
	/* the fiscal year turns at midnight in Quebec, whatever the server's
	 * zone; main loaded the zone before any thread, so this cannot fail */
	if (vg_qc_date_of(data_ts, &d) != VG_OK)
		vg_date_of_time(data_ts, &d);
	return vg_fy_of_date(&d);
}

int gw_today_fy(struct gateway *gw)
{
	int fy;

	pthread_mutex_lock(&gw->lock);
	fy = gw_fy_of(gw, gw_core_data_time(gw->core));
	pthread_mutex_unlock(&gw->lock);
	return fy;
}

/* QoS 1; a refusal by libmosquitto (not connected, too big) is logged. */
static void publish_checked(struct gateway *gw, const char *topic,
			   const char *buf, int n, bool retain)
{
	int rc = mosquitto_publish(gw->mosq, NULL, topic, n, buf, 1, retain);

	if (rc != MOSQ_ERR_SUCCESS)
		vg_log(VG_LOG_WARN, "publish %s: %s", topic,
		       mosquitto_strerror(rc));
}

/* A program x region as the lock saw it, published after. */
struct scope {
	struct vg_counts counts;
	int64_t ts;             /* gw_core_newest */
	bool flipped;           /* trig holds who last flipped its target */
	struct gw_trigger trig;
};

static void publish_event(struct gateway *gw, const struct vg_summary *s,
			  const struct scope *sc, bool met)
{
	char topic[VG_TOPIC_MAX], buf[VG_PAYLOAD_MAX], fy[16], tgt[16];
	char pct[16] = "-";
	const struct gw_trigger *t = sc->flipped ? &sc->trig : NULL;
	struct vg_event e;
	int n;

	if (vg_event_from_summary(s, met, &e) != VG_OK ||
	    vg_event_set_id(&e, t ? t->site : NULL, t ? t->unit : NULL,
			    t ? t->seq : 0) != VG_OK ||
	    (n = vg_event_encode(&e, buf, sizeof(buf))) < 0 ||
	    vg_topic_event(topic, sizeof(topic), gw->o.prefix, s->program,
			   s->region) < 0) {
		vg_log(VG_LOG_ERR, "event of %s %s not encoded",
		       vg_program_name(s->program), vg_region_code(s->region));
		return;
	}
	publish_checked(gw, topic, buf, n, false);
	vg_fy_format(e.fy, fy, sizeof(fy));
	vg_bp_format(e.target_bp, tgt, sizeof(tgt));
	if (e.has_percent)
		vg_bp_format(e.percent_bp, pct, sizeof(pct));
	vg_log(VG_LOG_INFO, "%s %s: %s %s %% (target %s %% for %s)",
	       vg_program_name(s->program), vg_region_code(s->region),
	       met ? "target met at" : "target lost at", pct, tgt, fy);
}

int gw_summary_json(const struct vg_summary *s, const struct gw_projection *pj,
		    char *buf, size_t size)
{
	char proj[512];
	int n = vg_summary_encode(s, buf, size);
	int m = gw_project_json(pj, proj, sizeof(proj));

	/* the projection is an optional last member: splice it before '}'
	 * (if it does not fit, the summary goes without it) */
	if (n <= 0 || m <= 0 || (size_t)n + (size_t)m >= size)
		return n;
	memcpy(buf + n - 1, proj, (size_t)m);
	buf[n - 1 + m] = '}';
	buf[n + m] = '\0';
	return n + m;
}

/* Publish one summary; fire an event when the current target flips. */
static void publish_one(struct gateway *gw, const struct vg_summary *s,
			const struct scope *sc)
{
	char topic[VG_TOPIC_MAX], buf[VG_PAYLOAD_MAX];
	int8_t *last = &gw->last_met[s->program][s->region];
	int n = vg_summary_encode(s, buf, sizeof(buf));
	int edge;

	if (n < 0) {
		vg_log(VG_LOG_ERR, "summary %s/%s does not fit a payload",
		       vg_program_name(s->program), vg_region_code(s->region));
		return;
	}
	vg_topic_summary(topic, sizeof(topic), gw->o.prefix, s->program,
			 s->region);
	publish_checked(gw, topic, buf, n, true);
	edge = vg_event_edge(last, s);
	if (edge >= 0)
		publish_event(gw, s, sc, edge == 1);
}

/*
 * Under the lock: the fiscal year of the data, each program's target in
 * force then handed to the core (which follows its flips for event ids),
 * and every summary marked when the year turned.
 */
static int hold_targets(struct gateway *gw, bool *all)
{
	int fy = gw_fy_of(gw, gw_core_data_time(gw->core));
	bool ended;

	for (int p = 0; p < VG_PROG_COUNT; p++) {
		const struct vg_plan *plan = &gw->targets.plan[p];
		int cur = vg_plan_current(plan, fy, &ended);

		gw_core_set_target(gw->core, p,
				   cur < 0 ? -1 : (int32_t)plan->t[cur].bp);
	}
	if (fy != gw->pub_fy) {
		gw->pub_fy = fy;
		*all = true;
	}
	return fy;
}

int gw_publish_summaries(struct gateway *gw, bool all)
{
	struct scope sc[VG_PROG_COUNT][VG_REGION_COUNT + 1];
	uint32_t dirty[VG_PROG_COUNT];
	struct vg_summary s;
	int published = 0, fy;

	pthread_mutex_lock(&gw->lock);
	fy = hold_targets(gw, &all);
	if (all)
		gw_core_mark_all_dirty(gw->core);
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		dirty[p] = gw_core_take_dirty(gw->core, p);
		for (int r = 0; r <= VG_REGION_COUNT; r++) {
			if (!(dirty[p] & (1u << r)))
				continue;
			gw_core_counts(gw->core, p, r, &sc[p][r].counts);
			sc[p][r].ts = gw_core_newest(gw->core, p, r);
			sc[p][r].flipped = gw_core_trigger(gw->core, p, r,
							   &sc[p][r].trig);
		}
	}
	pthread_mutex_unlock(&gw->lock);
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		for (int r = 0; r <= VG_REGION_COUNT; r++) {
			if (!(dirty[p] & (1u << r)))
				continue;
			vg_summary_compute(&s, (enum vg_program)p, r,
					   &sc[p][r].counts,
					   &gw->targets.plan[p], fy, sc[p][r].ts);
			publish_one(gw, &s, &sc[p][r]);
			published++;
		}
	}
	return published;
}

int gw_presence_json(const struct gateway *gw, bool online, char *buf,
		     size_t size)
{
	struct vg_gw_presence p = { .online = online, .ts = vg_now() };

	vg_strlcpy(p.id, gw->o.id, sizeof(p.id));
	vg_strlcpy(p.version, VG_VERSION, sizeof(p.version));
	return vg_gw_presence_encode(&p, buf, size);
}

void gw_publish_presence(struct gateway *gw, bool online)
{
	char topic[VG_TOPIC_MAX], buf[VG_PAYLOAD_MAX];
	int n = gw_presence_json(gw, online, buf, sizeof(buf));

	if (n < 0 || vg_topic_gateway(topic, sizeof(topic), gw->o.prefix,
				      gw->o.id) < 0)
		return;
	publish_checked(gw, topic, buf, n, true);
}

/* Receipts waiting to go out: copied under the lock, published after. */
struct receipts {
	struct vg_receipt *v;
	size_t n, cap;
};

static void take_receipt(struct receipts *rs, struct gw_site *s)
{
	if (rs->n == rs->cap) {
		size_t ncap = rs->cap ? rs->cap * 2 : 64;
		struct vg_receipt *nv = realloc(rs->v, ncap * sizeof(*nv));

		if (!nv)
			return; /* the flag stays set: sent next time */
		rs->v = nv;
		rs->cap = ncap;
	}
	vg_strlcpy(rs->v[rs->n].site, s->id, sizeof(rs->v[0].site));
	rs->v[rs->n].seq = s->receipt_seq;
	rs->v[rs->n].ts = s->receipt_ts;
	rs->n++;
	s->flags &= (uint8_t)~GW_SITE_RECEIPT;
}

/* Every site that has a receipt gets one again (a reconnection). */
static void flag_all_receipts(struct gw_units *t)
{
	for (uint32_t i = 0; i < gw_units_site_count(t); i++) {
		struct gw_site *s = gw_units_site(t, i);

		if (s->receipt_seq > 0)
			s->flags |= GW_SITE_RECEIPT;
	}
}

/* Under the lock: up to max flagged sites' receipts into rs, walking on
 * from where the last call stopped. */
static void take_receipts(struct gateway *gw, struct gw_units *t,
			  struct receipts *rs, size_t max)
{
	uint32_t n = gw_units_site_count(t), k = 0;

	for (; k < n && rs->n < max; k++) {
		struct gw_site *s = gw_units_site(t, (gw->rcpt_next + k) % n);

		if (s->receipt_seq > 0 && (s->flags & GW_SITE_RECEIPT))
			take_receipt(rs, s);
	}
	gw->rcpt_next = n ? (gw->rcpt_next + k) % n : 0;
	gw->rcpt_more = k < n; /* stopped at max: perhaps more */
}

int gw_publish_receipts(struct gateway *gw, bool all, size_t max)
{
	struct receipts rs = { 0 };
	char topic[VG_TOPIC_MAX], buf[VG_PAYLOAD_MAX];
	int published = 0;

	pthread_mutex_lock(&gw->lock);
	if (all)
		flag_all_receipts(gw_core_table(gw->core));
	if (gw_core_take_receipts(gw->core) || all || gw->rcpt_more)
		take_receipts(gw, gw_core_table(gw->core), &rs, max);
	pthread_mutex_unlock(&gw->lock);
	for (size_t i = 0; i < rs.n; i++) {
		int n = vg_receipt_encode(&rs.v[i], buf, sizeof(buf));

		if (n < 0 || vg_topic_receipt(topic, sizeof(topic),
					      gw->o.prefix, rs.v[i].site) < 0)
			continue;
		publish_checked(gw, topic, buf, n, true);
		published++;
	}
	free(rs.v);
	return published;
}
