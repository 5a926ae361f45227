/*
 * Core of the gateway: decode, validate, apply, aggregate.  Every count is
 * kept incrementally (a unit leaving a state is subtracted, entering one is
 * added), so a message costs O(1) whatever the number of units, and the
 * province total is the sum of 17 regions at read time.
 */
#include "gw_core.h"

#include <stdlib.h>
#include <string.h>

#include "vigie/arith.h"
#include "vigie/err.h"
#include "vigie/log.h"
#include "vigie/str.h"
#include "vigie/timeutil.h"

#define NREG (VG_REGION_COUNT + 1)

/* The unit whose status last flipped a scope's met state (event ids). */
struct trigger {
	uint32_t unit; /* GW_NONE: none since the target was set */
	int64_t seq;
};

struct gw_core {
	struct gw_units *t;
	/* per region 1..17; row 0 holds the province's too, so that the met
	 * watch costs O(1) per message (readers still sum the regions) */
	uint64_t counts[VG_PROG_COUNT][NREG][VG_STATE_COUNT];
	uint64_t stale[VG_PROG_COUNT][NREG];
	/*
	 * Newest unit ts per program x region (1..17): exact, except where
	 * rescan is set (the newest record left: found again when read).
	 */
	int64_t newest[VG_PROG_COUNT][NREG];
	bool rescan[VG_PROG_COUNT][NREG];
	bool rescans;
	/* the current target's bp per program (-1: none), and per scope
	 * whether it is met (1, 0, -1 nothing eligible) and who flipped it */
	int32_t target_bp[VG_PROG_COUNT];
	int8_t met[VG_PROG_COUNT][NREG];
	struct trigger trig[VG_PROG_COUNT][NREG];
	uint32_t dirty[VG_PROG_COUNT];
	/* regions whose bridge to this broker is down (vigie/v1/bridge/RR
	 * at "0"): what their sites said last is as of the cut */
	bool bridge_down[NREG];
	uint32_t live;
	bool closed; /* sites come from a sites file only */
	bool receipts; /* some site's receipt_seq moved */
	uint32_t site_cap; /* unit records per unlisted site */
	int64_t (*now_ms)(void);
	struct gw_batch batch;
	struct gw_stats stats;
};

/* Out of memory in the ingest path: the state would diverge, so stop and
 * let the supervisor restart us (state comes back from disk and broker). */
static void oom(void)
{
	vg_log(VG_LOG_ERR, "out of memory: exiting so that state is rebuilt");
	abort();
}

struct gw_core *gw_core_new(void)
{
	struct gw_core *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->t = gw_units_new();
	if (!c->t) {
		free(c);
		return NULL;
	}
	c->site_cap = GW_SITE_CAP_DEFAULT;
	c->now_ms = vg_now_ms;
	for (int p = 0; p < VG_PROG_COUNT; p++)
		gw_core_set_target(c, p, -1);
	return c;
}

/* Past this many rows a drained batch gives its memory back: a first load
 * of a million units must not leave a million-row buffer behind. */
#define BATCH_KEEP 16384

void gw_batch_clear(struct gw_batch *b)
{
	if (b->rows_cap > BATCH_KEEP || b->trans_cap > BATCH_KEEP) {
		gw_batch_free(b);
		return;
	}
	b->nrows = 0;
	b->ntrans = 0;
	b->nsites = 0;
}

void gw_batch_free(struct gw_batch *b)
{
	free(b->rows);
	free(b->trans);
	free(b->sites);
	memset(b, 0, sizeof(*b));
}

void gw_core_free(struct gw_core *c)
{
	if (!c)
		return;
	gw_units_free(c->t);
	gw_batch_free(&c->batch);
	free(c);
}

enum vg_reject gw_core_decode(const char *prefix, const char *topic,
			      const void *payload, size_t len,
			      struct gw_msg *out)
{
	if (vg_topic_parse(prefix, topic, strlen(topic), &out->topic) != 0)
		return VG_REJ_TOPIC;
	switch (out->topic.kind) {
	case VG_TOPIC_UNIT:
		out->kind = len ? GW_MSG_UNIT : GW_MSG_UNIT_REMOVE;
		if (!len)
			return VG_REJ_NONE;
		return vg_unit_status_decode(payload, len, &out->topic,
					     &out->u.st);
	case VG_TOPIC_AGENT:
		out->kind = len ? GW_MSG_PRESENCE : GW_MSG_PRESENCE_REMOVE;
		if (!len)
			return VG_REJ_NONE;
		return vg_presence_decode(payload, len, &out->topic,
					  &out->u.pr);
	case VG_TOPIC_BRIDGE:
		/* mosquitto's notification: "1" connected, "0" not (also its
		 * will); no notification at all (deleted) is no news of a cut */
		out->kind = GW_MSG_BRIDGE;
		out->u.bridge_up = true;
		if (len == 0)
			return VG_REJ_NONE;
		if (len != 1 || (*(const char *)payload != '0' &&
				 *(const char *)payload != '1'))
			return VG_REJ_MALFORMED;
		out->u.bridge_up = *(const char *)payload == '1';
		return VG_REJ_NONE;
	default:
		out->kind = GW_MSG_IGNORE;
		return VG_REJ_NONE;
	}
}

static void mark_dirty(struct gw_core *c, int program, int region)
{
	c->dirty[program] |= (1u << region) | 1u;
}

/* A payload's ts as a unit keeps it: 0 (none) before 1970. */
static uint32_t unit_ts(int64_t ts)
{
	if (ts <= 0)
		return 0;
	return ts >= (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)ts;
}

/* u's ts is about to change: if it was its scope's newest, the newest is
 * looked for again when next read (a max cannot be undone in O(1)). */
static void ts_leave(struct gw_core *c, const struct gw_unit *u)
{
	if (u->ts && u->ts == c->newest[u->program][u->region]) {
		c->rescan[u->program][u->region] = true;
		c->rescans = true;
		mark_dirty(c, u->program, u->region);
	}
}

static void ts_enter(struct gw_core *c, const struct gw_unit *u)
{
	int64_t *n = &c->newest[u->program][u->region];

	if (!u->ts || u->ts < *n)
		return;
	if (u->ts > *n)
		mark_dirty(c, u->program, u->region);
	/* at or above an upper bound: the max, whatever left before */
	*n = u->ts;
	c->rescan[u->program][u->region] = false;
}

/* One walk of the records for every scope whose newest left. */
static void rescan_newest(struct gw_core *c)
{
	uint32_t n = gw_units_count(c->t);

	if (!c->rescans)
		return;
	for (int p = 0; p < VG_PROG_COUNT; p++)
		for (int r = 1; r < NREG; r++)
			if (c->rescan[p][r])
				c->newest[p][r] = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct gw_unit *u = gw_units_at(c->t, i);
		int64_t *m = &c->newest[u->program][u->region];

		if (c->rescan[u->program][u->region] && u->ts > *m)
			*m = u->ts;
	}
	memset(c->rescan, 0, sizeof(c->rescan));
	c->rescans = false;
}

static void add(uint64_t *x, int d)
{
	*x = d > 0 ? *x + 1 : *x - 1;
}

static void add32(uint32_t *x, int d)
{
	*x = d > 0 ? *x + 1 : *x - 1;
}

/* Whether a site's healthy units count as stale: its will was seen, or
 * its region's bridge is cut (its presence at the centre is as of then). */
static bool dark_if(const struct gw_site *s, bool cut)
{
	return s->online == 0 || cut;
}

static bool dark(const struct gw_core *c, const struct gw_site *s)
{
	return dark_if(s, c->bridge_down[s->region]);
}

/* Add (d = +1) or remove (d = -1) a live unit from every count. */
static void tally(struct gw_core *c, const struct gw_unit *u,
		  struct gw_site *s, int d)
{
	int p = u->program, r = u->region;
	bool fault = u->flags & GW_UNIT_FAULT;

	add(&c->counts[p][r][u->state], d);
	add(&c->counts[p][VG_REGION_ALL][u->state], d);
	add32(&s->units[p], d);
	if (fault)
		add32(&s->faulted[p], d);
	if (fault || dark(c, s))
		add(&c->stale[p][r], d);
	add32(&c->live, d);
	mark_dirty(c, p, r);
}

/* Whether the current target is met in a scope: 1, 0, -1 for no target
 * or nothing eligible (met only vacuously: no event either way). */
static int8_t met_now(const struct gw_core *c, int program, int region)
{
	const uint64_t *n = c->counts[program][region];
	uint64_t eligible = 0;

	if (c->target_bp[program] < 0)
		return -1;
	for (int i = 0; i < VG_STATE_COUNT; i++)
		eligible += n[i];
	eligible -= n[VG_STATE_RETIRED];
	if (eligible == 0)
		return -1;
	return vg_target_met(n[VG_STATE_MIGRATED], eligible,
			     (uint32_t)c->target_bp[program]) ? 1 : 0;
}

/* Unit ui's message changed the counts: remember it in each scope whose
 * met state it flipped, the data an event's id is made of. */
static void watch_met(struct gw_core *c, uint32_t ui)
{
	const struct gw_unit *u = gw_units_at(c->t, ui);
	int scope[2] = { u->region, VG_REGION_ALL };

	for (int i = 0; i < 2; i++) {
		int8_t m = met_now(c, u->program, scope[i]);

		if (m == c->met[u->program][scope[i]])
			continue;
		c->met[u->program][scope[i]] = m;
		c->trig[u->program][scope[i]].unit = ui;
		c->trig[u->program][scope[i]].seq = u->seq;
	}
}

void gw_core_set_target(struct gw_core *c, int program, int32_t bp)
{
	if (bp == c->target_bp[program] && bp >= 0)
		return;
	c->target_bp[program] = bp;
	for (int r = 0; r < NREG; r++) {
		c->met[program][r] = met_now(c, program, r);
		c->trig[program][r].unit = GW_NONE;
	}
}

bool gw_core_trigger(const struct gw_core *c, int program, int region,
		     struct gw_trigger *out)
{
	const struct trigger *t = &c->trig[program][region];
	const struct gw_unit *u;

	if (t->unit == GW_NONE)
		return false;
	u = gw_units_at(c->t, t->unit);
	vg_strlcpy(out->site, gw_units_site(c->t, u->site)->id,
		   sizeof(out->site));
	vg_strlcpy(out->unit, u->id, sizeof(out->unit));
	out->seq = t->seq;
	return true;
}

/* Grow an array of n elements of size sz held in *v with capacity *cap. */
/*
 * A new zeroed element at the end of the batch array *v; NULL when memory
 * runs out, counted as a store drop (the state in memory is still right;
 * only its copy on disk waits for the next change).
 */
static void *push(struct gw_core *c, void **v, size_t *n, size_t *cap,
		  size_t sz)
{
	void *e;

	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		void *nv = realloc(*v, ncap * sz);
		if (!nv) {
			c->stats.store_dropped++;
			return NULL;
		}
		*v = nv;
		*cap = ncap;
	}
	e = (char *)*v + (*n)++ * sz;
	memset(e, 0, sz);
	return e;
}

/* The store's copy of a unit, coalesced: one row per unit per batch. */
static void queue_row(struct gw_core *c, uint32_t ui,
		      const struct vg_unit_status *st)
{
	struct gw_unit *u = gw_units_at(c->t, ui);
	struct gw_batch *b = &c->batch;
	struct gw_row *row;

	if (u->row != GW_NONE) {
		row = &b->rows[u->row];
	} else {
		row = push(c, (void **)&b->rows, &b->nrows, &b->rows_cap,
			   sizeof(*row));
		if (!row)
			return;
		u->row = (uint32_t)(b->nrows - 1);
	}
	memset(row, 0, sizeof(*row)); /* a row met again is rewritten */
	row->idx = ui;
	row->program = u->program;
	row->region = u->region;
	row->state = u->state;
	row->removed = u->flags & GW_UNIT_REMOVED;
	row->seq = u->seq;
	row->since = u->since;
	vg_strlcpy(row->site, gw_units_site(c->t, u->site)->id,
		   sizeof(row->site));
	vg_strlcpy(row->unit, u->id, sizeof(row->unit));
	if (st) {
		row->source = (uint8_t)st->source;
		row->ts = st->ts;
		vg_strlcpy(row->tech, st->tech, sizeof(row->tech));
		vg_strlcpy(row->fault, st->fault, sizeof(row->fault));
		vg_strlcpy(row->note, st->note, sizeof(row->note));
	}
}

static void queue_transition(struct gw_core *c, const struct gw_unit *u,
			     int from, const struct vg_unit_status *st,
			     int64_t at)
{
	struct gw_batch *b = &c->batch;
	struct gw_transition *t = push(c, (void **)&b->trans, &b->ntrans,
				       &b->trans_cap, sizeof(*t));

	if (!t)
		return;
	t->program = u->program;
	t->region = u->region;
	t->from = (int8_t)from;
	t->to = (int8_t)((u->flags & GW_UNIT_REMOVED) ? -1 : (int)u->state);
	t->at = at;
	t->seq = u->seq;
	vg_strlcpy(t->site, gw_units_site(c->t, u->site)->id, sizeof(t->site));
	vg_strlcpy(t->unit, u->id, sizeof(t->unit));
	if (st) {
		t->source = (uint8_t)st->source;
		vg_strlcpy(t->tech, st->tech, sizeof(t->tech));
	}
}

static void queue_site(struct gw_core *c, const struct gw_site *s,
		       const struct vg_presence *pr)
{
	struct gw_batch *b = &c->batch;
	struct gw_site_row *r = push(c, (void **)&b->sites, &b->nsites,
				     &b->sites_cap, sizeof(*r));

	if (!r)
		return;
	vg_strlcpy(r->site, s->id, sizeof(r->site));
	r->region = s->region;
	r->online = s->online;
	r->ts = s->presence_ts;
	if (pr) {
		vg_strlcpy(r->version, pr->version, sizeof(r->version));
		vg_strlcpy(r->board, pr->board, sizeof(r->board));
	}
}

/*
 * Service accounts (the gateway, dashboards) are named vigie-*: such a
 * name is never a site, whatever the broker let through.
 */
static bool reserved(const char *id)
{
	return strncmp(id, GW_RESERVED_PREFIX,
		       sizeof(GW_RESERVED_PREFIX) - 1) == 0;
}

/*
 * Find or create a site and check (or make) its region binding.  A site
 * refused here leaves no trace but the reject counter.
 */
static enum vg_reject bind_site(struct gw_core *c, const char *id,
				int region, uint32_t *si)
{
	struct gw_site *s;

	if (reserved(id))
		return VG_REJ_NOT_SITE;
	*si = gw_units_site_find(c->t, id);
	if (*si == GW_NONE && c->closed)
		return VG_REJ_SITE_UNKNOWN;
	if (*si == GW_NONE)
		*si = gw_units_site_get(c->t, id);
	if (*si == GW_NONE)
		oom();
	s = gw_units_site(c->t, *si);
	if (s->region == 0 && c->closed)
		return VG_REJ_SITE_UNKNOWN;
	if (s->region == 0) {
		s->region = (uint8_t)region;
		queue_site(c, s, NULL);
	} else if (s->region != region) {
		return VG_REJ_SITE_REGION;
	}
	return VG_REJ_NONE;
}

enum vg_reject gw_core_bind_site(struct gw_core *c, const char *site,
				 int region)
{
	uint32_t si;

	return bind_site(c, site, region, &si);
}

void gw_core_close_sites(struct gw_core *c)
{
	c->closed = true;
}

void gw_core_set_clock(struct gw_core *c, int64_t (*now_ms)(void))
{
	c->now_ms = now_ms ? now_ms : vg_now_ms;
}

void gw_core_set_site_cap(struct gw_core *c, uint32_t cap)
{
	c->site_cap = cap;
}

int gw_core_limit_site(struct gw_core *c, const char *site, uint32_t cap)
{
	uint32_t si = gw_units_site_find(c->t, site);

	if (si == GW_NONE)
		return VG_ERR_NOTFOUND;
	gw_units_site(c->t, si)->cap = cap;
	return VG_OK;
}

/* A new unit record for a site, or GW_NONE when it may have no more. */
static uint32_t add_unit(struct gw_core *c, int program, uint32_t si,
			 const char *id)
{
	struct gw_site *s = gw_units_site(c->t, si);
	uint32_t cap = s->cap ? s->cap : c->site_cap, ui;

	if (s->records >= cap)
		return GW_NONE;
	ui = gw_units_add(c->t, program, si, id);
	if (ui == GW_NONE)
		oom();
	gw_units_site(c->t, si)->records++;
	gw_units_at(c->t, ui)->seq = -1;
	return ui;
}

int gw_core_inventory_unit(struct gw_core *c, const char *site, int program,
			   const char *unit)
{
	uint32_t si = gw_units_site_find(c->t, site), ui;
	struct gw_site *s;
	struct gw_unit *u;

	if (si == GW_NONE || gw_units_site(c->t, si)->region == 0)
		return VG_ERR_NOTFOUND;
	s = gw_units_site(c->t, si);
	s->flags |= GW_SITE_LISTED;
	if (gw_units_find(c->t, program, si, unit) != GW_NONE)
		return VG_OK;
	s->cap = UINT32_MAX; /* the list, not a number, bounds it */
	ui = add_unit(c, program, si, unit);
	if (ui == GW_NONE)
		return VG_ERR_NOMEM;
	/* never reported: unknown, eligible, what the inventory says exists */
	u = gw_units_at(c->t, ui);
	u->region = s->region;
	u->state = VG_STATE_UNKNOWN;
	u->flags = 0;
	tally(c, u, s, +1);
	return VG_OK;
}

/* Too far ahead of our clock: it would freeze what it names. */
static bool future(const struct gw_core *c, int64_t ms)
{
	return ms > c->now_ms() + VG_FUTURE_MS;
}

/* The site has handed us this status: its receipt may move forward,
 * dated by the status itself, so that every gateway's receipt is alike. */
static void processed(struct gw_core *c, struct gw_site *s,
		      const struct vg_unit_status *st)
{
	if (st->seq <= s->receipt_seq)
		return;
	s->receipt_seq = st->seq;
	s->receipt_ts = st->ts;
	s->flags |= GW_SITE_RECEIPT;
	c->receipts = true;
}

/*
 * Whether a status may be applied to its unit: the site's binding, the
 * clock, the inventory, then the unit's seq.  *ui is the unit's record
 * (created if new); *dup is set for a harmless duplicate (equal seq).
 */
static enum vg_reject admit_unit(struct gw_core *c,
				 const struct vg_unit_status *st,
				 uint32_t *ui, bool *dup)
{
	uint32_t si;
	struct gw_unit *u;
	enum vg_reject r = bind_site(c, st->site, st->region, &si);

	*dup = false;
	if (r != VG_REJ_NONE)
		return r;
	if (future(c, st->seq) || future(c, st->ts * 1000))
		return VG_REJ_FUTURE;
	*ui = gw_units_find(c->t, st->program, si, st->unit);
	if (*ui == GW_NONE &&
	    (gw_units_site(c->t, si)->flags & GW_SITE_LISTED))
		return VG_REJ_UNIT_UNKNOWN;
	if (*ui == GW_NONE)
		*ui = add_unit(c, st->program, si, st->unit);
	if (*ui == GW_NONE)
		return VG_REJ_UNIT_UNKNOWN;
	u = gw_units_at(c->t, *ui);
	processed(c, gw_units_site(c->t, si), st);
	if (st->seq < u->seq)
		return VG_REJ_STALE_SEQ;
	*dup = st->seq == u->seq;
	return VG_REJ_NONE;
}

/*
 * Unit u leaves its tallies and the newest-ts index before it changes;
 * returns its state before (-1: it had been removed).
 */
static int unit_leave(struct gw_core *c, struct gw_unit *u)
{
	int from = (u->flags & GW_UNIT_REMOVED) ? -1 : u->state;

	if (from >= 0)
		tally(c, u, gw_units_site(c->t, u->site), -1);
	ts_leave(c, u);
	return from;
}

static void set_unit(struct gw_core *c, uint32_t ui,
		     const struct vg_unit_status *st)
{
	struct gw_unit *u = gw_units_at(c->t, ui);
	int from = unit_leave(c, u);

	u->seq = st->seq;
	u->ts = unit_ts(st->ts);
	u->region = (uint8_t)st->region;
	u->state = (uint8_t)st->state;
	u->flags = (uint8_t)((st->fault[0] ? GW_UNIT_FAULT : 0) |
			     (st->source == VG_SOURCE_MANUAL ? GW_UNIT_MANUAL
							     : 0));
	if (st->has_since)
		u->since = st->since;
	else if (from != (int)st->state)
		u->since = st->ts;
	tally(c, u, gw_units_site(c->t, u->site), +1);
	ts_enter(c, u);
	/* Dated by arrival, never by since/ts: a payload must not be able to
	 * place a transition in a closed fiscal year (security finding 5). */
	if (from != (int)st->state)
		queue_transition(c, u, from, st, c->now_ms() / 1000);
	queue_row(c, ui, st);
}

/*
 * The unit leaves the counts: an empty retained payload (st NULL) or a
 * "removed" status (st, whose seq the tombstone keeps so that an older
 * status cannot bring the unit back).  A listed unit goes back to unknown
 * instead: the inventory, not the agent, says what exists.
 */
static void drop_unit(struct gw_core *c, uint32_t ui,
		      const struct vg_unit_status *st)
{
	struct gw_unit *u = gw_units_at(c->t, ui);
	struct gw_site *s = gw_units_site(c->t, u->site);
	int from = unit_leave(c, u);

	u->ts = st ? unit_ts(st->ts) : 0; /* an empty payload has no time */
	if (st) {
		u->seq = st->seq;
		u->region = (uint8_t)st->region;
	}
	ts_enter(c, u);
	if (s->flags & GW_SITE_LISTED) {
		u->state = VG_STATE_UNKNOWN;
		u->flags = 0;
		tally(c, u, s, +1);
	} else {
		u->flags = GW_UNIT_REMOVED;
	}
	if (from >= 0)
		queue_transition(c, u, from, NULL, c->now_ms() / 1000);
	queue_row(c, ui, st);
}

static enum vg_reject apply_unit(struct gw_core *c,
				 const struct vg_unit_status *st)
{
	uint32_t ui = GW_NONE;
	bool dup;
	enum vg_reject r = admit_unit(c, st, &ui, &dup);

	if (r != VG_REJ_NONE)
		return r;
	if (dup) {
		c->stats.duplicates++;
		return VG_REJ_NONE;
	}
	if (st->removed)
		drop_unit(c, ui, st);
	else
		set_unit(c, ui, st);
	watch_met(c, ui);
	c->stats.applied++;
	return VG_REJ_NONE;
}

/* An empty retained payload: it has no seq, so it removes what is there. */
static enum vg_reject remove_unit(struct gw_core *c, const struct vg_topic *t)
{
	uint32_t si = gw_units_site_find(c->t, t->site), ui;
	struct gw_unit *u;

	if (si == GW_NONE)
		return VG_REJ_NONE; /* never known: nothing to remove */
	ui = gw_units_find(c->t, t->program, si, t->unit);
	if (ui == GW_NONE)
		return VG_REJ_NONE;
	u = gw_units_at(c->t, ui);
	/* a removed status's tombstone is still dated: the empty payload
	 * clears that date, as it clears the broker's copy */
	if ((u->flags & GW_UNIT_REMOVED) && !u->ts) {
		c->stats.duplicates++;
		return VG_REJ_NONE;
	}
	if (u->region != t->region)
		return VG_REJ_MISMATCH;
	drop_unit(c, ui, NULL);
	watch_met(c, ui);
	c->stats.applied++;
	return VG_REJ_NONE;
}

/* A site going dark or coming back moves its non-faulted units in or out
 * of its region's stale count. */
static void relight(struct gw_core *c, const struct gw_site *s, bool was,
		    bool now)
{
	if (was == now)
		return;
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		uint64_t healthy = s->units[p] - s->faulted[p];
		uint64_t *st = &c->stale[p][s->region];
		*st = now ? *st + healthy : *st - healthy;
		if (healthy)
			c->dirty[p] |= (1u << s->region) | 1u;
	}
}

static void set_online(struct gw_core *c, struct gw_site *s, int8_t online)
{
	bool was = dark(c, s);

	s->online = online;
	relight(c, s, was, dark(c, s));
}

/* Every site bound to the region goes dark, or back to what its presence
 * says.  O(sites), on a bridge's connection or loss only. */
static enum vg_reject set_bridge(struct gw_core *c, int region, bool up)
{
	uint32_t n = gw_units_site_count(c->t);
	bool was, cut = !up;

	if (region < 1 || region > VG_REGION_COUNT)
		return VG_REJ_REGION;
	was = c->bridge_down[region];
	/* the same news again (a replay, a duplicate) changes nothing */
	for (uint32_t si = 0; was != cut && si < n; si++) {
		struct gw_site *s = gw_units_site(c->t, si);
		if (s->region == region)
			relight(c, s, dark_if(s, was), dark_if(s, cut));
	}
	c->bridge_down[region] = cut;
	c->stats.applied++;
	return VG_REJ_NONE;
}

bool gw_core_bridge_down(const struct gw_core *c, int region)
{
	return region >= 1 && region <= VG_REGION_COUNT &&
	       c->bridge_down[region];
}

/*
 * Presence is ordered by the agent's per-connection session, not by
 * clocks: a newer session wins; within the current session any message
 * applies until its will (online:false) has, after which only a newer
 * session can bring the site back; an older session changes nothing.
 * Agents without sessions (0) are ordered by ts, as before.
 */
static enum vg_reject presence_order(const struct gw_site *s,
				     const struct vg_presence *pr)
{
	if (pr->session == 0)
		return (s->session || (pr->ts && pr->ts < s->presence_ts))
			       ? VG_REJ_STALE_SEQ : VG_REJ_NONE;
	if (pr->session > s->session)
		return VG_REJ_NONE;
	if (pr->session < s->session)
		return VG_REJ_STALE_SEQ;
	return (s->online == 0 && pr->online) ? VG_REJ_STALE_SEQ
					      : VG_REJ_NONE;
}

static bool has_health(const struct vg_health *h)
{
	return h->outbox >= 0 || h->oldest_unacked_s >= 0 ||
	       h->devices_ok >= 0 || h->devices_failing >= 0 ||
	       h->refused >= 0 || h->config_hash[0];
}

static enum vg_reject apply_presence(struct gw_core *c,
				     const struct vg_presence *pr)
{
	uint32_t si;
	struct gw_site *s;
	enum vg_reject r = bind_site(c, pr->site, pr->region, &si);

	if (r != VG_REJ_NONE)
		return r;
	if (future(c, pr->session) || future(c, pr->ts * 1000))
		return VG_REJ_FUTURE;
	s = gw_units_site(c->t, si);
	r = presence_order(s, pr);
	if (r != VG_REJ_NONE)
		return r;
	if (s->online != (int8_t)pr->online)
		set_online(c, s, (int8_t)pr->online);
	s->presence_ts = pr->ts;
	s->session = pr->session;
	/* a will carries no health: the last reported stays on show */
	if (has_health(&pr->health))
		s->health = pr->health;
	if (pr->version[0])
		vg_strlcpy(s->version, pr->version, sizeof(s->version));
	if (pr->board[0])
		vg_strlcpy(s->board, pr->board, sizeof(s->board));
	queue_site(c, s, pr);
	c->stats.applied++;
	return VG_REJ_NONE;
}

static enum vg_reject remove_presence(struct gw_core *c, const char *site)
{
	uint32_t si = gw_units_site_find(c->t, site);
	struct gw_site *s;

	if (si == GW_NONE)
		return VG_REJ_NONE;
	s = gw_units_site(c->t, si);
	if (s->online != -1)
		set_online(c, s, -1);
	queue_site(c, s, NULL);
	c->stats.applied++;
	return VG_REJ_NONE;
}

enum vg_reject gw_core_apply(struct gw_core *c, const struct gw_msg *m)
{
	enum vg_reject r = VG_REJ_NONE;

	c->stats.messages++;
	switch (m->kind) {
	case GW_MSG_UNIT: r = apply_unit(c, &m->u.st); break;
	case GW_MSG_UNIT_REMOVE: r = remove_unit(c, &m->topic); break;
	case GW_MSG_PRESENCE: r = apply_presence(c, &m->u.pr); break;
	case GW_MSG_PRESENCE_REMOVE:
		r = remove_presence(c, m->topic.site);
		break;
	case GW_MSG_BRIDGE:
		r = set_bridge(c, m->topic.region, m->u.bridge_up);
		break;
	default: break;
	}
	if (r != VG_REJ_NONE)
		c->stats.rejected[r]++;
	return r;
}

void gw_core_count_reject(struct gw_core *c, enum vg_reject r)
{
	c->stats.messages++;
	if ((unsigned)r < VG_REJ_COUNT)
		c->stats.rejected[r]++;
}

int gw_core_load_unit(struct gw_core *c, const struct gw_row *row,
		      bool faulted)
{
	uint32_t si, ui;
	struct gw_unit *u;
	struct gw_site *s;
	bool listed;

	/* a row stored before today's rules must obey them too */
	if (bind_site(c, row->site, row->region, &si) != VG_REJ_NONE ||
	    future(c, row->seq))
		return -1;
	listed = gw_units_site(c->t, si)->flags & GW_SITE_LISTED;
	ui = gw_units_find(c->t, row->program, si, row->unit);
	if (ui == GW_NONE && !listed)
		ui = add_unit(c, row->program, si, row->unit);
	if (ui == GW_NONE)
		return -1;
	s = gw_units_site(c->t, si);
	u = gw_units_at(c->t, ui);
	if (!(u->flags & GW_UNIT_REMOVED))
		tally(c, u, s, -1);
	ts_leave(c, u);
	u->seq = row->seq;
	u->ts = unit_ts(row->ts);
	u->since = row->since;
	u->region = row->region;
	u->state = row->state;
	u->flags = (uint8_t)(row->removed ? GW_UNIT_REMOVED : 0);
	if (listed && row->removed) {
		u->state = VG_STATE_UNKNOWN;
		u->flags = 0;
	}
	if (faulted)
		u->flags |= GW_UNIT_FAULT;
	if (row->source == VG_SOURCE_MANUAL)
		u->flags |= GW_UNIT_MANUAL;
	if (!(u->flags & GW_UNIT_REMOVED))
		tally(c, u, s, +1);
	ts_enter(c, u);
	return 0;
}

int gw_core_load_site(struct gw_core *c, const struct gw_site_row *r)
{
	uint32_t si;
	struct gw_site *s;

	if (bind_site(c, r->site, r->region, &si) != VG_REJ_NONE)
		return -1;
	s = gw_units_site(c->t, si);
	if (s->online != r->online)
		set_online(c, s, r->online);
	s->presence_ts = r->ts;
	vg_strlcpy(s->version, r->version, sizeof(s->version));
	vg_strlcpy(s->board, r->board, sizeof(s->board));
	return 0;
}

void gw_core_counts(const struct gw_core *c, int program, int region,
		    struct vg_counts *out)
{
	memset(out, 0, sizeof(*out));
	for (int r = 1; r < NREG; r++) {
		if (region != VG_REGION_ALL && r != region)
			continue;
		for (int s = 0; s < VG_STATE_COUNT; s++)
			out->n[s] += c->counts[program][r][s];
		out->stale += c->stale[program][r];
	}
}

int64_t gw_core_newest(struct gw_core *c, int program, int region)
{
	int64_t m = 0;

	rescan_newest(c);
	if (region != VG_REGION_ALL)
		return c->newest[program][region];
	for (int r = 1; r < NREG; r++)
		m = c->newest[program][r] > m ? c->newest[program][r] : m;
	return m;
}

int64_t gw_core_data_time(struct gw_core *c)
{
	int64_t m = 0;

	for (int p = 0; p < VG_PROG_COUNT; p++) {
		int64_t t = gw_core_newest(c, p, VG_REGION_ALL);
		m = t > m ? t : m;
	}
	return m;
}

uint32_t gw_core_take_dirty(struct gw_core *c, int program)
{
	uint32_t d = c->dirty[program];

	c->dirty[program] = 0;
	return d;
}

void gw_core_mark_all_dirty(struct gw_core *c)
{
	for (int p = 0; p < VG_PROG_COUNT; p++)
		c->dirty[p] = (1u << NREG) - 1;
}

void gw_core_take(struct gw_core *c, struct gw_batch *out)
{
	struct gw_batch tmp = c->batch;

	c->batch = *out;
	gw_batch_clear(&c->batch);
	*out = tmp;
	for (size_t i = 0; i < out->nrows; i++)
		gw_units_at(c->t, out->rows[i].idx)->row = GW_NONE;
}

bool gw_core_take_receipts(struct gw_core *c)
{
	bool any = c->receipts;

	c->receipts = false;
	return any;
}

const struct gw_stats *gw_core_stats(const struct gw_core *c)
{
	return &c->stats;
}

uint32_t gw_core_units(const struct gw_core *c)
{
	return c->live;
}

uint32_t gw_core_sites(const struct gw_core *c)
{
	return gw_units_site_count(c->t);
}

size_t gw_core_bytes(const struct gw_core *c)
{
	return sizeof(*c) + gw_units_bytes(c->t) +
	       c->batch.rows_cap * sizeof(struct gw_row) +
	       c->batch.trans_cap * sizeof(struct gw_transition);
}

struct gw_units *gw_core_table(struct gw_core *c)
{
	return c->t;
}
