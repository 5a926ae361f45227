/*
 * "status": one snapshot of the agent (link, store, devices, units),
 * written for a person (a short summary, then unit lines on request) or
 * for a script (JSON).  The summary answers what a technician asks first:
 * is the link up, does the NOC have our records, is anything stuck, do the
 * devices answer, where does the migration stand, what is wrong.  A site
 * has hundreds of units; their lines come only when asked for.
 */
#include "status.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <mosquitto.h>

#include "agent.h"
#include "view.h"
#include "vigie/domain.h"
#include "vigie/err.h"
#include "vigie/region.h"
#include "vigie/str.h"
#include "vigie/timeutil.h"

enum view_kind { V_SUMMARY, V_PENDING, V_FAULTS, V_ALL, V_JSON };

enum delivery { DL_NOC, DL_BROKER, DL_WAITING, DL_REFUSED, DL_COUNT };

/* Everything the views print, taken once so that they agree. */
struct snap {
	struct agent *a;
	struct agent_mqtt_state st;
	enum view_lang l;
	int64_t now;
	int unacked, dirty;
	bool degraded;
	struct vg_health h;
	int count[DL_COUNT];
	int faults;                              /* units with a read fault */
	int by[VG_PROG_COUNT][VG_STATE_COUNT];
	int nprog[VG_PROG_COUNT];
};

/* One unit as the views see it. */
struct unit_view {
	struct vg_unit_status us;
	uint8_t flags;
	int refusal;
	enum delivery d;
};

static const char *const dl_code[DL_COUNT] = {
	"noc", "broker", "waiting", "refused"
};

/* Where a unit's current record is: NOC, broker, outbox or refused. */
static enum delivery delivery_of(int64_t seq, uint8_t flags, int refusal,
				 const struct agent_mqtt_state *st)
{
	if (flags & REC_UNACKED)
		return refusal ? DL_REFUSED : DL_WAITING;
	if (st->receipt && seq <= st->receipt_seq)
		return DL_NOC;
	return DL_BROKER;
}

static bool unit_get(const struct snap *s, int i, struct unit_view *u)
{
	if (agent_outbox_status(&s->a->ob, i, &u->us, &u->flags) != VG_OK)
		return false;
	u->refusal = agent_outbox_refusal(&s->a->ob, i);
	u->d = delivery_of(u->us.seq, u->flags, u->refusal, &s->st);
	return true;
}

static void snap_take(struct snap *s, struct agent *a, enum view_lang l)
{
	struct unit_view u;

	memset(s, 0, sizeof(*s));
	s->a = a;
	s->l = l;
	s->now = vg_now();
	agent_mqtt_state(&a->mq, &s->st);
	agent_outbox_counts(&a->ob, &s->unacked, &s->dirty, &s->degraded);
	agent_outbox_health(&a->ob, s->now, &s->h);
	for (int i = 0; i < a->cfg.nunits; i++) {
		if (!unit_get(s, i, &u))
			continue;
		s->count[u.d]++;
		s->faults += u.us.fault[0] != '\0';
		if (u.us.program < VG_PROG_COUNT &&
		    u.us.state < VG_STATE_COUNT) {
			s->by[u.us.program][u.us.state]++;
			s->nprog[u.us.program]++;
		}
	}
}

enum agent_dev_health agent_device_health(struct agent *a, int d)
{
	if (agent_modbus_dead(&a->mb, d))
		return AGENT_DEV_NOT_ANSWERING;
	return agent_outbox_device_failing(&a->ob, d) ? AGENT_DEV_FAILING
						      : AGENT_DEV_ANSWERING;
}

const char *agent_device_code(enum agent_dev_health h)
{
	static const char *const code[] = { "answering", "failing",
					     "not_answering" };

	return code[h];
}

const char *agent_device_words(enum view_lang l, enum agent_dev_health h)
{
	static const char *const en[] = {
		"answering",
		"FAILING (every unit has a read fault)",
		"NOT ANSWERING"
	};
	static const char *const fr[] = {
		"répond",
		"EN ÉCHEC (chaque unité a un défaut de lecture)",
		"NE RÉPOND PAS"
	};

	return VW(l, en[h], fr[h]);
}

/* The broker of the current or last attempt, as "host:port". */
static const struct vg_broker *link_broker(const struct snap *s)
{
	const struct agent_config *c = &s->a->cfg;
	int i = s->st.broker;

	return &c->brokers[i >= 0 && i < c->nbrokers ? i : 0];
}

static void link_addr(const struct snap *s, char *buf, size_t size)
{
	vg_broker_format(link_broker(s), buf, size);
}

/* " (broker 2 of 3)" when the config lists several: failover. */
static void link_which(FILE *f, const struct snap *s)
{
	int n = s->a->cfg.nbrokers;

	if (n > 1)
		fprintf(f, VW(s->l, " (broker %d of %d)", " (broker %d sur %d)"),
			s->st.broker + 1, n);
}

/* ------------------------------------------------------------ summary */

static void sum_site(FILE *f, const struct snap *s)
{
	const struct agent_config *c = &s->a->cfg;

	fprintf(f, VW(s->l, "site     %s, region %s %s, vigie-agent %s\n",
		      "site      %s, région %s %s, vigie-agent %s\n"),
		c->site, vg_region_code(c->region),
		VW(s->l, vg_region_name_en(c->region),
		   vg_region_name(c->region)), VG_VERSION);
}

static void sum_link(FILE *f, const struct snap *s)
{
	char addr[VG_BROKER_ADDR_MAX];

	link_addr(s, addr, sizeof(addr));
	if (s->st.connected)
		fprintf(f, VW(s->l, "link     connected to %s",
			      "lien      connecté à %s"), addr);
	else
		fprintf(f, VW(s->l, "link     DISCONNECTED from %s",
			      "lien      COUPÉ de %s"), addr);
	link_which(f, s);
	fputs(VW(s->l, " since ", " depuis le "), f);
	view_time(f, s->st.since);
	fputs(VW(s->l, " (", " (il y a "), f);
	view_age(f, s->l, s->st.since, s->now);
	fputs(VW(s->l, " ago)", ")"), f);
	if (!s->st.connected)
		fprintf(f, VW(s->l, ": %s", " : %s"), s->st.error);
	fputc('\n', f);
}

static void sum_noc(FILE *f, const struct snap *s)
{
	if (!s->st.receipt) {
		fputs(VW(s->l, "noc      no receipt from the NOC yet",
			 "NOC       aucun accusé de réception pour l'instant"),
		      f);
	} else {
		fprintf(f, VW(s->l, "noc      confirmed up to seq %lld (",
			      "NOC       a confirmé jusqu'au seq %lld (il y a "),
			(long long)s->st.receipt_seq);
		view_age(f, s->l, s->st.receipt_ts, s->now);
		fputs(VW(s->l, " ago)", ")"), f);
	}
	fprintf(f, VW(s->l, "; %d unit(s) received, %d at the broker "
		      "awaiting it\n", " ; %d unité(s) reçue(s), %d au broker "
		      "en attente du NOC\n"), s->count[DL_NOC],
		s->count[DL_BROKER]);
}

static void sum_outbox(FILE *f, const struct snap *s)
{
	fprintf(f, VW(s->l, "outbox   %d record(s) awaiting the broker",
		      "envois    %d enregistrement(s) en attente du broker"),
		s->unacked);
	if (s->unacked) {
		fputs(VW(s->l, ", the oldest for ", ", le plus ancien depuis "),
		      f);
		view_age(f, s->l, s->now - s->h.oldest_unacked_s, s->now);
	}
	fputc('\n', f);
	if (s->degraded || s->dirty)
		fprintf(f, VW(s->l, "storage  DEGRADED: the disk refuses "
			      "writes; %d record(s) held in memory only\n",
			      "stockage  DÉGRADÉ : le disque refuse les "
			      "écritures ; %d enregistrement(s) en mémoire "
			      "seulement\n"), s->dirty);
}

static void sum_devices(FILE *f, const struct snap *s)
{
	struct agent *a = s->a;
	int ok = 0, bad = 0, shown = 0;

	for (int d = 0; d < a->cfg.ndevices; d++) {
		if (agent_device_health(a, d) == AGENT_DEV_ANSWERING)
			ok++;
		else
			bad++;
	}
	if (a->cfg.ndevices == 0) {
		fputs(VW(s->l, "devices  none (manual units only)\n",
			 "appareils aucun (unités manuelles seulement)\n"), f);
		return;
	}
	fprintf(f, VW(s->l, "devices  %d answering, %d failing",
		      "appareils %d répond(ent), %d en échec"), ok, bad);
	for (int d = 0; d < a->cfg.ndevices && bad; d++) {
		if (agent_device_health(a, d) == AGENT_DEV_ANSWERING)
			continue;
		if (shown++ == 4) {
			fputs(", ...", f);
			break;
		}
		fprintf(f, "%s%s", shown == 1 ? VW(s->l, ": ", " : ") : ", ",
			a->cfg.devices[d].name);
	}
	fputc('\n', f);
}

static void sum_program(FILE *f, const struct snap *s, int p)
{
	bool first = true;

	fprintf(f, VW(s->l, "; %s: ", " ; %s : "), vg_program_name(p));
	for (int k = 0; k < VG_STATE_COUNT; k++) {
		if (!s->by[p][k])
			continue;
		fprintf(f, "%s%d %s", first ? "" : ", ", s->by[p][k],
			view_state(s->l, k));
		first = false;
	}
}

static void sum_units(FILE *f, const struct snap *s)
{
	fprintf(f, VW(s->l, "units    %d", "unités    %d"),
		s->a->cfg.nunits);
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		if (s->nprog[p])
			sum_program(f, s, p);
	}
	fputc('\n', f);
}

static void sum_faults(FILE *f, const struct snap *s)
{
	char why[64];
	int refused = s->count[DL_REFUSED];

	if (!s->faults && !refused) {
		fputs(VW(s->l, "faults   none\n", "défauts   aucun\n"), f);
		return;
	}
	fputs(VW(s->l, "faults   ", "défauts   "), f);
	if (s->faults)
		fprintf(f, VW(s->l, "%d unit(s) with a read fault",
			      "%d unité(s) en défaut de lecture"), s->faults);
	if (refused) {
		agent_mqtt_reason(s->st.refused_rc, why, sizeof(why));
		fprintf(f, VW(s->l, "%s%d refused by the broker (%s): check "
			      "[broker] username", "%s%d refusée(s) par le "
			      "broker (%s) : vérifier [broker] username"),
			s->faults ? ", " : "", refused, why);
	}
	fputs(VW(s->l, "; see status --faults\n",
		 " ; voir status --faults\n"), f);
}

static void summary(FILE *f, const struct snap *s)
{
	sum_site(f, s);
	sum_link(f, s);
	sum_noc(f, s);
	sum_outbox(f, s);
	sum_devices(f, s);
	sum_units(f, s);
	sum_faults(f, s);
}

/* ------------------------------------------------------------ details */

/* The failover list, in the order it is tried, and moves so far. */
static void detail_brokers(FILE *f, const struct snap *s)
{
	const struct agent_config *c = &s->a->cfg;
	char addr[VG_BROKER_ADDR_MAX];

	fputs("brokers ", f);
	for (int i = 0; i < c->nbrokers; i++) {
		vg_broker_format(&c->brokers[i], addr, sizeof(addr));
		fprintf(f, "%s%s", i ? ", " : "", addr);
	}
	fprintf(f, VW(s->l, " (in turn; %u failover(s) since start)\n",
		      " (tour à tour ; %u bascule(s) depuis le démarrage)\n"),
		s->st.failovers);
}

static void detail_link(FILE *f, const struct snap *s)
{
	const struct agent_config *c = &s->a->cfg;
	const struct agent_mqtt_state *st = &s->st;
	char addr[VG_BROKER_ADDR_MAX];

	fprintf(f, VW(s->l, "agent   vigie-agent %s (%s), config %s\n",
		      "agent   vigie-agent %s (%s), configuration %s\n"),
		VG_VERSION, VG_BOARD, c->hash);
	link_addr(s, addr, sizeof(addr));
	fprintf(f, "broker  %s", addr);
	link_which(f, s);
	fprintf(f, VW(s->l, "%s: %s since ", "%s : %s depuis le "),
		c->tls ? " (TLS)" : "", st->connected ?
		VW(s->l, "connected", "connecté") :
		VW(s->l, "DISCONNECTED", "COUPÉ"));
	view_time(f, st->since);
	if (!st->connected)
		fprintf(f, VW(s->l, ", last error: %s",
			      ", dernière erreur : %s"), st->error);
	fprintf(f, VW(s->l, " (%u connects; MQTT %s, session %lld)\n",
		      " (%u connexions ; MQTT %s, session %lld)\n"),
		st->connects, st->protocol == MQTT_PROTOCOL_V311 ? "3.1.1" :
		"5", (long long)st->session);
	if (c->nbrokers > 1)
		detail_brokers(f, s);
}

static void detail_store(FILE *f, const struct snap *s)
{
	fprintf(f, VW(s->l, "outbox  %d record(s) awaiting acknowledgement, "
		      "%d in flight, %d removal(s) pending\n",
		      "envois  %d enregistrement(s) en attente d'accusé, "
		      "%d en vol, %d suppression(s) en attente\n"),
		s->unacked, s->st.inflight, agent_outbox_removals(&s->a->ob));
	fprintf(f, VW(s->l, "storage %s/units: %s", "stockage %s/units : %s"),
		s->a->cfg.data_dir, s->degraded ?
		VW(s->l, "DEGRADED (disk refuses writes)",
		   "DÉGRADÉ (le disque refuse les écritures)") : "ok");
	if (s->dirty)
		fprintf(f, VW(s->l, ", %d record(s) held in memory only",
			      ", %d enregistrement(s) en mémoire seulement"),
			s->dirty);
	fputc('\n', f);
}

/* Publishes refused since start, and the NOC's receipt. */
static void detail_trust(FILE *f, const struct snap *s)
{
	const struct agent_mqtt_state *st = &s->st;
	char why[64];

	if (st->refused) {
		agent_mqtt_reason(st->refused_rc, why, sizeof(why));
		fprintf(f, VW(s->l, "refused %lld publish(es) refused by the "
			      "broker: %s (last at ", "refus   %lld "
			      "publication(s) refusée(s) par le broker : %s "
			      "(dernière le "), (long long)st->refused, why);
		view_time(f, st->refused_at);
		fputs(VW(s->l, "); check [broker] username: the broker lets "
			 "a site write only its own topics\n", ") ; vérifier "
			 "[broker] username : le broker ne laisse un site "
			 "écrire que ses propres topics\n"), f);
	}
	if (!st->receipt) {
		fputs(VW(s->l, "noc     no receipt from the NOC yet\n",
			 "noc     aucun accusé du NOC pour l'instant\n"), f);
		return;
	}
	fprintf(f, VW(s->l, "noc     received up to seq=%lld (NOC time ",
		      "noc     reçu jusqu'à seq=%lld (heure du NOC "),
		(long long)st->receipt_seq);
	view_time(f, st->receipt_ts);
	fputs(")\n", f);
}

static void detail_devices(FILE *f, const struct snap *s)
{
	struct agent *a = s->a;

	for (int d = 0; d < a->cfg.ndevices; d++) {
		const struct agent_device *dev = &a->cfg.devices[d];
		enum agent_dev_health k = agent_device_health(a, d);

		fprintf(f, VW(s->l, "device  %s ", "appareil %s "), dev->name);
		if (dev->transport == AGENT_TCP)
			fprintf(f, "tcp %s:%d", dev->host, dev->port);
		else
			fprintf(f, "rtu %s", dev->serial);
		fprintf(f, VW(s->l, " slave %d: %d request(s) planned per "
			      "poll, %d in the last, %s\n", " esclave %d : %d "
			      "requête(s) prévue(s) par cycle, %d au dernier, "
			      "%s\n"), dev->slave, a->mb.plan.dev_nreq[d],
			agent_modbus_requests(&a->mb, d),
			agent_device_words(s->l, k));
	}
}

/* ------------------------------------------------------------ unit lines */

static void delivery_text(const struct snap *s, const struct unit_view *u,
			  FILE *f)
{
	static const char *const en[] = {
		"received by the NOC", "at the broker, awaiting the NOC",
		"awaiting the broker"
	};
	static const char *const fr[] = {
		"reçu par le NOC", "au broker, en attente du NOC",
		"en attente du broker"
	};
	char why[64];

	if (u->d != DL_REFUSED) {
		fputs(VW(s->l, en[u->d], fr[u->d]), f);
		return;
	}
	agent_mqtt_reason(u->refusal, why, sizeof(why));
	fprintf(f, VW(s->l, "refused by the broker: %s",
		      "refusé par le broker : %s"), why);
}

/* Identifiers stay as `mark` takes them (program, state, source). */
static void unit_line(FILE *f, const struct snap *s,
		      const struct unit_view *u)
{
	fprintf(f, "%-20s %-6s %-10s %-7s ", u->us.unit,
		vg_program_name(u->us.program), vg_state_name(u->us.state),
		u->us.source ? vg_source_name(u->us.source) : "-");
	view_time(f, u->us.since);
	fprintf(f, " seq=%lld", (long long)u->us.seq);
	if (u->flags & REC_UNACKED)
		fputs(" unacked", f);
	if (u->us.fault[0])
		fprintf(f, " fault=\"%s\"", u->us.fault);
	if (u->us.tech[0])
		fprintf(f, " tech=%s", u->us.tech);
	fputs("; ", f);
	delivery_text(s, u, f);
	fputc('\n', f);
}

static bool wanted(enum view_kind v, const struct unit_view *u)
{
	if (v == V_PENDING)
		return u->us.state != VG_STATE_MIGRATED &&
		       u->us.state != VG_STATE_RETIRED;
	if (v == V_FAULTS)
		return u->us.fault[0] || u->d == DL_REFUSED;
	return true;
}

static void table_end(FILE *f, const struct snap *s, enum view_kind v,
		      int shown)
{
	const int *c = s->count;
	char why[64] = "";

	if (v != V_ALL) {
		fprintf(f, VW(s->l, "%d of %d unit(s) shown\n",
			      "%d unité(s) sur %d affichée(s)\n"), shown,
			s->a->cfg.nunits);
		return;
	}
	if (c[DL_REFUSED])
		agent_mqtt_reason(s->st.refused_rc, why, sizeof(why));
	fprintf(f, VW(s->l, "delivery %d received by the NOC, %d at the "
		      "broker awaiting the NOC, %d awaiting the broker, %d "
		      "refused by the broker%s%s\n", "acheminement %d reçu(s) "
		      "par le NOC, %d au broker en attente du NOC, %d en "
		      "attente du broker, %d refusé(s) par le broker%s%s\n"),
		c[DL_NOC], c[DL_BROKER], c[DL_WAITING], c[DL_REFUSED],
		why[0] ? VW(s->l, ": ", " : ") : "", why);
}

static void table(FILE *f, const struct snap *s, enum view_kind v)
{
	struct unit_view u;
	int shown = 0;

	/* literal headers: printf pads bytes, and "É" takes two */
	fputs(VW(s->l, "UNIT                 PROG   STATE      SOURCE  "
		 "SINCE               DETAIL; DELIVERY\n",
		 "UNITÉ                PROG   ÉTAT       SOURCE  "
		 "DEPUIS              DÉTAIL ; ACHEMINEMENT\n"), f);
	for (int i = 0; i < s->a->cfg.nunits; i++) {
		if (!unit_get(s, i, &u) || !wanted(v, &u))
			continue;
		unit_line(f, s, &u);
		shown++;
	}
	table_end(f, s, v, shown);
}

/* ------------------------------------------------------------ JSON */

/* A JSON string, or null for "" (absent). */
static void j_str(FILE *f, const char *key, const char *v)
{
	if (key) /* NULL: an array element */
		fprintf(f, "\"%s\":", key);
	if (!v || !v[0]) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* RFC 3339 UTC, like the wire contract; null when unset. */
static void j_time(FILE *f, const char *key, int64_t t)
{
	char buf[VG_TIME_LEN];

	if (t <= 0 || vg_time_format(t, buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	j_str(f, key, buf);
}

static void j_link(FILE *f, const struct snap *s)
{
	const struct agent_config *c = &s->a->cfg;
	const struct agent_mqtt_state *st = &s->st;
	char addr[VG_BROKER_ADDR_MAX];

	fputs(",\"link\":{", f);
	j_str(f, "host", link_broker(s)->host);
	fprintf(f, ",\"port\":%d,\"broker\":%d,\"brokers\":[",
		link_broker(s)->port, st->broker);
	for (int i = 0; i < c->nbrokers; i++) {
		vg_broker_format(&c->brokers[i], addr, sizeof(addr));
		fputs(i ? "," : "", f);
		j_str(f, NULL, addr);
	}
	fprintf(f, "],\"failovers\":%u,\"tls\":%s,\"connected\":%s,",
		st->failovers, c->tls ? "true" : "false",
		st->connected ? "true" : "false");
	j_time(f, "since", st->since);
	fputc(',', f);
	j_str(f, "error", st->connected ? NULL : st->error);
	fprintf(f, ",\"connects\":%u,\"mqtt\":\"%s\",\"session\":%lld,"
		"\"inflight\":%d}", st->connects,
		st->protocol == MQTT_PROTOCOL_V311 ? "3.1.1" : "5",
		(long long)st->session, st->inflight);
}

static void j_trust(FILE *f, const struct snap *s)
{
	const struct agent_mqtt_state *st = &s->st;
	char why[64] = "";

	if (st->refused)
		agent_mqtt_reason(st->refused_rc, why, sizeof(why));
	fprintf(f, ",\"refused\":{\"publishes\":%lld,", (long long)st->refused);
	j_str(f, "reason", why);
	fputc(',', f);
	j_time(f, "last", st->refused ? st->refused_at : 0);
	fprintf(f, "},\"noc\":{\"receipt\":%s,", st->receipt ? "true" :
		"false");
	if (st->receipt)
		fprintf(f, "\"seq\":%lld,", (long long)st->receipt_seq);
	else
		fputs("\"seq\":null,", f);
	j_time(f, "time", st->receipt ? st->receipt_ts : 0);
	fputc('}', f);
}

static void j_store(FILE *f, const struct snap *s)
{
	fprintf(f, ",\"outbox\":{\"unacked\":%d,\"inflight\":%d,\"removals\":"
		"%d,\"oldest_unacked_s\":%lld},\"storage\":{", s->unacked,
		s->st.inflight, agent_outbox_removals(&s->a->ob),
		(long long)s->h.oldest_unacked_s);
	j_str(f, "data_dir", s->a->cfg.data_dir);
	fprintf(f, ",\"degraded\":%s,\"memory_only\":%d}",
		s->degraded ? "true" : "false", s->dirty);
}

static void j_devices(FILE *f, const struct snap *s)
{
	struct agent *a = s->a;

	fputs(",\"devices\":[", f);
	for (int d = 0; d < a->cfg.ndevices; d++) {
		const struct agent_device *dev = &a->cfg.devices[d];

		fputs(d ? ",{" : "{", f);
		j_str(f, "name", dev->name);
		fprintf(f, ",\"transport\":\"%s\",",
			dev->transport == AGENT_TCP ? "tcp" : "rtu");
		j_str(f, "address", dev->transport == AGENT_TCP ? dev->host :
		      dev->serial);
		fprintf(f, ",\"port\":%d,\"slave\":%d,\"planned\":%d,"
			"\"requests\":%d,\"state\":\"%s\"}",
			dev->transport == AGENT_TCP ? dev->port : 0, dev->slave,
			a->mb.plan.dev_nreq[d], agent_modbus_requests(&a->mb, d),
			agent_device_code(agent_device_health(a, d)));
	}
	fputc(']', f);
}

static void j_counts(FILE *f, const struct snap *s)
{
	fprintf(f, ",\"counts\":{\"units\":%d,\"faults\":%d,\"delivery\":{",
		s->a->cfg.nunits, s->faults);
	for (int d = 0; d < DL_COUNT; d++)
		fprintf(f, "%s\"%s\":%d", d ? "," : "", dl_code[d],
			s->count[d]);
	fputs("},\"programs\":{", f);
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		fprintf(f, "%s\"%s\":{", p ? "," : "", vg_program_name(p));
		for (int k = 0; k < VG_STATE_COUNT; k++)
			fprintf(f, "%s\"%s\":%d", k ? "," : "",
				vg_state_name(k), s->by[p][k]);
		fputc('}', f);
	}
	fputs("}}", f);
}

static void j_unit(FILE *f, const struct unit_view *u)
{
	char why[64] = "";

	if (u->d == DL_REFUSED)
		agent_mqtt_reason(u->refusal, why, sizeof(why));
	j_str(f, "unit", u->us.unit);
	fprintf(f, ",\"program\":\"%s\",\"state\":\"%s\",",
		vg_program_name(u->us.program), vg_state_name(u->us.state));
	j_str(f, "source", u->us.source ? vg_source_name(u->us.source) : "");
	fputc(',', f);
	j_time(f, "since", u->us.since);
	fprintf(f, ",\"seq\":%lld,\"unacked\":%s,", (long long)u->us.seq,
		(u->flags & REC_UNACKED) ? "true" : "false");
	j_str(f, "fault", u->us.fault);
	fputc(',', f);
	j_str(f, "tech", u->us.tech);
	fputc(',', f);
	j_str(f, "note", u->us.note);
	fprintf(f, ",\"delivery\":\"%s\",", dl_code[u->d]);
	j_str(f, "refusal", why);
}

static void json(FILE *f, const struct snap *s)
{
	const struct agent_config *c = &s->a->cfg;
	struct unit_view u;
	bool first = true;

	fputc('{', f);
	j_str(f, "site", c->site);
	fprintf(f, ",\"region\":\"%s\",", vg_region_code(c->region));
	j_str(f, "version", VG_VERSION);
	fputc(',', f);
	j_str(f, "board", VG_BOARD);
	fputc(',', f);
	j_str(f, "config", c->hash);
	fputc(',', f);
	j_time(f, "time", s->now);
	j_link(f, s);
	j_trust(f, s);
	j_store(f, s);
	j_devices(f, s);
	j_counts(f, s);
	fputs(",\"units\":[", f);
	for (int i = 0; i < c->nunits; i++) {
		if (!unit_get(s, i, &u))
			continue;
		fputs(first ? "{" : ",{", f);
		first = false;
		j_unit(f, &u);
		fputc('}', f);
	}
	fputs("]}\n", f);
}

/* ------------------------------------------------------------ request */

static int view_parse(const char *w)
{
	static const char *const names[] = {
		"summary", "pending", "faults", "all", "json"
	};

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		if (strcmp(w, names[k]) == 0)
			return (int)k;
	}
	return VG_ERR_INVAL;
}

/* "[VIEW] [LANG]" in any order; false (said to f) on anything else. */
static bool args_parse(FILE *f, const char *args, int *view, int *lang)
{
	char buf[64], *save = NULL;

	*view = V_SUMMARY;
	*lang = VIEW_FR;
	if (strlen(args) >= sizeof(buf)) {
		fputs("error: status: arguments too long\n", f);
		return false;
	}
	vg_strlcpy(buf, args, sizeof(buf));
	for (char *w = strtok_r(buf, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		int v = view_parse(w), l = view_lang_parse(w);

		if (v < 0 && l < 0) {
			fprintf(f, "error: status: unknown argument '%.20s' "
				"(summary, pending, faults, all, json; fr, "
				"en)\n", w);
			return false;
		}
		if (v >= 0)
			*view = v;
		else
			*lang = l;
	}
	return true;
}

void agent_status_answer(FILE *f, struct agent *a, const char *args)
{
	struct snap s;
	int view, lang;

	if (!args_parse(f, args, &view, &lang))
		return;
	snap_take(&s, a, (enum view_lang)lang);
	fputs("ok\n", f);
	if (view == V_JSON) {
		json(f, &s);
		return;
	}
	summary(f, &s);
	if (view == V_SUMMARY) {
		fputs(VW(s.l, "more     vigie-agent status --pending | --faults"
			 " | --all | --json\n", "détail    vigie-agent status "
			 "--pending | --faults | --all | --json\n"), f);
		return;
	}
	fputc('\n', f);
	if (view == V_ALL) {
		detail_link(f, &s);
		detail_store(f, &s);
		detail_trust(f, &s);
		detail_devices(f, &s);
	}
	table(f, &s, view);
}
