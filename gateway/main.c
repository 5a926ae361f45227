/*
 * vigie-gateway: wiring and the main thread's timers.  The MQTT thread
 * applies messages as they come; this thread publishes coalesced
 * summaries, writes SQLite batches, records history, refreshes the
 * projections and handles signals (SIGINT/SIGTERM stop cleanly, SIGHUP
 * reloads the targets file).  With --http, libmicrohttpd's threads serve
 * the dashboard and the API (gw_http.c).  "vigie-gateway report ..." is a
 * separate, offline command (gw_report.c).
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "gw_report.h"
#include "gw_sites.h"
#include "vigie/err.h"
#include "vigie/qcdate.h"
#include "vigie/timeutil.h"

/* The longest the main thread sleeps with nothing to do: a replay may
 * time out without any message arriving.  (The fiscal year turns with
 * the data, never with the clock: gw_publish_summaries sees it.) */
#define IDLE_MS 1000
/* How often the main thread checks that SQLite still takes a write. */
#define DB_PING_MS 10000
/*
 * Receipts go out at most this often (or at the coalescing delay, if
 * longer): they are for the agents, who wait on them by the second, and
 * one per site per window is what a storm costs the gateway's connection.
 * Coalesced with summaries (--coalesce-ms 10 in the benches) they made
 * thousands of retained publishes a second, which on NATS held back the
 * gateway's own deliveries (docs/BENCHMARKS.md).  And at most
 * RECEIPT_MAX a time, the rest in the next ones: on NATS each is two
 * replicated writes, about 550 a second through one connection, and a
 * storm of 5,000 sites' receipts at once made the gateway fall behind
 * its deliveries, and lose some (docs/scale-out.md).
 */
#define RECEIPT_MS 1000
#define RECEIPT_MAX 200
/* Projections move slowly: refitting them more often is wasted work. */
#define PROJECT_MIN_MS 10000

static volatile sig_atomic_t got_stop, got_hup;
static int signal_wake_fd = -1; /* the main thread's eventfd */

static void on_signal(int sig)
{
	uint64_t one = 1;
	int saved = errno;

	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
	if (signal_wake_fd >= 0 && write(signal_wake_fd, &one, 8) < 0)
		(void)0; /* already readable: the main thread will wake */
	errno = saved;
}

/*
 * Connected and waiting for the marker: until when (monotonic ms) the
 * broker may still be replaying its retained state, before which nothing
 * is published unless the marker comes back; 0 when not waiting.
 */
static int64_t replay_ends(struct gateway *gw)
{
	if (!atomic_load(&gw->connected) || atomic_load(&gw->synced))
		return 0;
	return atomic_load(&gw->connected_at) + gw->o.sync_timeout_ms;
}

static bool replaying(struct gateway *gw, int64_t now)
{
	return replay_ends(gw) > now;
}

void gw_wake(struct gateway *gw)
{
	uint64_t one = 1;
	int64_t end = replay_ends(gw); /* the clock only while unsynced */

	/* A replay's messages wake nobody: the main thread could publish
	 * nothing, and one wake-up per message cost the MQTT thread a
	 * write and the other core a context switch (the main loop
	 * counts on changes while unsynced, and the marker's wake-up comes
	 * after synced is set). */
	if (end && vg_mono_ms() < end)
		return;
	/* one write per batch of changes: the main thread clears the flag
	 * before it reads the state, so no change goes unseen */
	if (!atomic_exchange(&gw->wake_pending, true) &&
	    write(gw->wake_fd, &one, 8) < 0)
		vg_log(VG_LOG_WARN, "wake: %s", strerror(errno));
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int load_targets(struct gateway *gw)
{
	struct vg_targets t;
	char err[512];

	vg_targets_default(&t);
	if (gw->o.targets_file &&
	    vg_targets_load(&t, gw->o.targets_file, err, sizeof(err)) != 0) {
		vg_log(VG_LOG_ERR, "%s", err);
		return VG_ERR_PARSE;
	}
	/* HTTP threads copy the targets into their snapshots */
	pthread_mutex_lock(&gw->lock);
	gw->targets = t;
	pthread_mutex_unlock(&gw->lock);
	return VG_OK;
}

/* Take the pending batch under the lock, write it without the lock. */
static void flush_store(struct gateway *gw, struct gw_batch *b)
{
	pthread_mutex_lock(&gw->lock);
	gw_core_take(gw->core, b);
	pthread_mutex_unlock(&gw->lock);
	if (gw_store_write(gw->store, b) != VG_OK) {
		vg_log(VG_LOG_ERR, "store: batch of %zu units not written",
		       b->nrows);
		atomic_store(&gw->db_ok, false);
	}
	gw_batch_clear(b);
}

/* One history point per program × region whose counts changed. */
static void record_history(struct gateway *gw,
			   struct vg_counts last[][VG_REGION_COUNT + 1])
{
	struct vg_counts now[VG_PROG_COUNT][VG_REGION_COUNT + 1];
	int64_t at = vg_now();

	pthread_mutex_lock(&gw->lock);
	for (int p = 0; p < VG_PROG_COUNT; p++)
		for (int r = 0; r <= VG_REGION_COUNT; r++)
			gw_core_counts(gw->core, p, r, &now[p][r]);
	pthread_mutex_unlock(&gw->lock);
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		for (int r = 0; r <= VG_REGION_COUNT; r++) {
			if (memcmp(&now[p][r], &last[p][r], sizeof(now[p][r])) == 0)
				continue;
			gw_store_history(gw->store, at, p, r, &now[p][r]);
			last[p][r] = now[p][r];
		}
	}
}

/* What the main thread waits for next, in monotonic ms. */
struct timers {
	int64_t pub, store, hist, ping, proj, rcpt;
	bool changes;   /* the MQTT thread woke us: something to publish */
	bool unstored;  /* ...and to write */
	bool receipts;  /* summaries went out: receipts follow, by RECEIPT_MS */
	bool rcpt_all;  /* ...every site's (a reconnection) */
};

static int64_t receipt_ms(const struct gateway *gw)
{
	return gw->o.coalesce_ms > RECEIPT_MS ? gw->o.coalesce_ms : RECEIPT_MS;
}

static int64_t earliest(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static bool may_publish(struct gateway *gw, int64_t now)
{
	return atomic_load(&gw->connected) && !replaying(gw, now);
}

/*
 * Sleep until the next deadline or a wake-up (a message applied, a
 * replay finished, a signal): no polling tick.
 */
static void wait_for_work(struct gateway *gw, struct timers *t, int64_t now)
{
	int64_t next = now + IDLE_MS;
	struct pollfd pfd = { .fd = gw->wake_fd, .events = POLLIN };
	uint64_t n;

	/* Unsynced, changes wait for the marker (it wakes us) or the sync
	 * timeout below: a publish deadline now would be in the past at
	 * every turn, and the loop would spin through the whole replay on
	 * a core the MQTT thread needs. */
	if ((t->changes || atomic_load(&gw->republish)) && may_publish(gw, now))
		next = earliest(next, t->pub + gw->o.coalesce_ms);
	if (t->unstored)
		next = earliest(next, t->store + gw->o.store_ms);
	if (t->receipts && may_publish(gw, now))
		next = earliest(next, t->rcpt + receipt_ms(gw));
	next = earliest(next, t->hist + (int64_t)gw->o.history_s * 1000);
	next = earliest(next, t->ping + DB_PING_MS);
	/* the moment an unsynced connection may publish anyway; once past,
	 * it is no reason to wake (the loop would spin until synced: seen
	 * while NATS refused a gateway's subscriptions for minutes) */
	if (replaying(gw, now))
		next = earliest(next, replay_ends(gw));
	if (got_stop || got_hup || next <= now)
		return;
	if (poll(&pfd, 1, (int)(next - now)) > 0 &&
	    read(gw->wake_fd, &n, sizeof(n)) == (ssize_t)sizeof(n)) {
		atomic_store(&gw->wake_pending, false);
		t->changes = t->unstored = true;
	}
}

/* Every history_s: a history point, then (at most every 10 s) the
 * projections fitted to the history, which now includes that point. */
static void history_tick(struct gateway *gw,
			 struct vg_counts last[][VG_REGION_COUNT + 1],
			 int64_t now, int64_t *last_proj)
{
	record_history(gw, last);
	if (*last_proj == 0 || now - *last_proj >= PROJECT_MIN_MS) {
		gw_project_refresh(gw);
		*last_proj = now;
	}
}

/* Summaries; returns whether it was every one (a reconnection). */
static bool publish_tick(struct gateway *gw)
{
	bool all = atomic_exchange(&gw->republish, false);

	if (gw_publish_summaries(gw, all)) {
		atomic_fetch_add(&gw->gen, 1);
		gw_http_notify(gw); /* wakes the event streams */
	}
	return all;
}

static void receipt_tick(struct gateway *gw, struct timers *t, int64_t now)
{
	if (!t->receipts || !may_publish(gw, now) ||
	    now - t->rcpt < receipt_ms(gw))
		return;
	gw_publish_receipts(gw, t->rcpt_all, RECEIPT_MAX);
	t->rcpt = now;
	t->rcpt_all = false;
	t->receipts = gw->rcpt_more;
}

static void main_loop(struct gateway *gw)
{
	static struct vg_counts hist[VG_PROG_COUNT][VG_REGION_COUNT + 1];
	struct gw_batch batch = { 0 };
	struct timers t = { .changes = true, .unstored = true };

	memset(hist, 0xff, sizeof(hist)); /* first point always recorded */
	while (!got_stop) {
		int64_t now = vg_mono_ms();
		/* unsynced, messages may have come without a wake-up: the
		 * store is written on its timer, and summaries go out as
		 * soon as they may (marker, or the sync timeout) */
		if (atomic_load(&gw->connected) && !atomic_load(&gw->synced))
			t.changes = t.unstored = true;
		if (got_hup) {
			got_hup = 0;
			if (load_targets(gw) == VG_OK) {
				vg_log(VG_LOG_INFO, "targets reloaded");
				atomic_store(&gw->republish, true);
			}
		}
		if ((t.changes || atomic_load(&gw->republish)) &&
		    may_publish(gw, now) && now - t.pub >= gw->o.coalesce_ms) {
			t.rcpt_all |= publish_tick(gw);
			t.receipts = true;
			t.pub = now;
			t.changes = false;
		}
		receipt_tick(gw, &t, now);
		if (t.unstored && now - t.store >= gw->o.store_ms) {
			flush_store(gw, &batch);
			t.store = now;
			t.unstored = false;
		}
		if (now - t.hist >= (int64_t)gw->o.history_s * 1000) {
			history_tick(gw, hist, now, &t.proj);
			t.hist = now;
		}
		if (now - t.ping >= DB_PING_MS) {
			atomic_store(&gw->db_ok, gw_store_ping(gw->store));
			t.ping = now;
		}
		wait_for_work(gw, &t, vg_mono_ms());
	}
	flush_store(gw, &batch);
	gw_batch_free(&batch);
}

/* Before the store: the sites file wins over any binding stored. */
static int load_sites(struct gateway *gw)
{
	char err[512];

	gw_core_set_site_cap(gw->core, (uint32_t)gw->o.site_cap);
	if (!gw->o.sites_file)
		return VG_OK;
	if (gw_sites_load(gw->core, gw->o.sites_file, err, sizeof(err)) != 0) {
		vg_log(VG_LOG_ERR, "%s", err);
		return VG_ERR_PARSE;
	}
	vg_log(VG_LOG_INFO, "inventory %s: unlisted sites and units refused",
	       gw->o.sites_file);
	return VG_OK;
}

/*
 * The store holds every site's units and technicians' ids: the data dir
 * is 0750 and its files 0640 whatever the umask we were started with
 * (SQLite creates vigie.db, -wal and -shm with 0644 & ~umask), and files
 * left more open by an earlier run are closed down.
 */
static void private_files(const char *dir)
{
	static const char *const names[] = { "", "/vigie.db", "/vigie.db-wal",
					     "/vigie.db-shm" };
	char path[4096];
	struct stat st;

	umask(umask(027) | 027);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, names[i]);
		if (stat(path, &st) != 0 || st.st_uid != geteuid() ||
		    !(st.st_mode & 027))
			continue;
		if (chmod(path, st.st_mode & 07750) != 0)
			vg_log(VG_LOG_WARN, "%s: %s", path, strerror(errno));
		else
			vg_log(VG_LOG_INFO, "%s: closed to others (was %04o)",
			       path, (unsigned)(st.st_mode & 07777));
	}
}

static int open_store(struct gateway *gw)
{
	char err[512];
	long n;
	int64_t t0 = vg_mono_ms();

	if (mkdir(gw->o.data_dir, 0750) != 0 && errno != EEXIST) {
		vg_log(VG_LOG_ERR, "%s: %s", gw->o.data_dir, strerror(errno));
		return VG_ERR_IO;
	}
	private_files(gw->o.data_dir);
	gw->store = gw_store_open(gw->o.data_dir, err, sizeof(err));
	if (!gw->store) {
		vg_log(VG_LOG_ERR, "store: %s", err);
		return VG_ERR_IO;
	}
	n = gw_store_load(gw->store, gw->core);
	if (n < 0) {
		vg_log(VG_LOG_ERR, "store: cannot load %s/vigie.db",
		       gw->o.data_dir);
		return VG_ERR_IO;
	}
	vg_log(VG_LOG_INFO, "store: %ld units restored in %lld ms", n,
	       (long long)(vg_mono_ms() - t0));
	return VG_OK;
}

int main(int argc, char **argv)
{
	static struct gateway gw;
	char brokers[VG_BROKERS_MAX * (VG_BROKER_ADDR_MAX + 2)];
	int rc = 1, rc_store;
	bool mqtt_up = false;

	vg_log_set_ident("vigie-gateway");
	if (argc > 1 && strcmp(argv[1], "report") == 0)
		return gw_report_main(argc - 1, argv + 1);
	/* Store batches are large and short-lived: keep them out of the heap
	 * (glibc would otherwise raise this threshold and keep the pages). */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	if (gw_opts_parse(&gw.o, argc, argv) != VG_OK)
		return 2;
	/* the fiscal calendar is Quebec's: without it no target can be held
	 * (loaded here, before any thread, though any thread could load it) */
	if (vg_qc_load() != VG_OK) {
		vg_log(VG_LOG_ERR, "cannot read the time zone %s from the tz "
		       "database (Debian package tzdata): %s", VG_QC_ZONE,
		       vg_strerror(vg_qc_load()));
		return 2;
	}
	memset(gw.last_met, -1, sizeof(gw.last_met));
	gw.pub_fy = -1; /* none yet: the first summaries mark every region */
	pthread_mutex_init(&gw.lock, NULL);
	gw_backlog_init(&gw.backlog, gw_mqtt_apply, gw_mqtt_applied, &gw);
	gw.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (gw.wake_fd < 0) {
		vg_log(VG_LOG_ERR, "eventfd: %s", strerror(errno));
		return 1;
	}
	signal_wake_fd = gw.wake_fd;
	install_signals();
	if (load_targets(&gw) != VG_OK)
		return 2;
	gw.core = gw_core_new();
	if (!gw.core || load_sites(&gw) != VG_OK)
		goto out;
	/* Connected while the store loads: the broker's retained replay
	 * runs meanwhile, held in the backlog, applied once the load is
	 * over (nothing else touches the core before gw_backlog_open). */
	if (gw_backlog_start(&gw.backlog) != VG_OK ||
	    gw_mqtt_init(&gw) != VG_OK || gw_mqtt_start(&gw) != VG_OK)
		goto out;
	mqtt_up = true;
	rc_store = open_store(&gw);
	gw_backlog_open(&gw.backlog);
	if (rc_store != VG_OK)
		goto out;
	atomic_store(&gw.db_ok, true);
	if (gw_http_start(&gw) != VG_OK)
		goto out;
	gw_opts_brokers(&gw.o, brokers, sizeof(brokers));
	vg_log(VG_LOG_INFO, "vigie-gateway %s: broker %s, id %s, data %s",
	       VG_VERSION, brokers, gw.o.id, gw.o.data_dir);
	if (gw.o.resync_s)
		vg_log(VG_LOG_INFO, "re-reading the retained state every %d s "
		       "once synced (--resync-interval)", gw.o.resync_s);
	main_loop(&gw);
	gw_http_stop(&gw);
	gw_mqtt_stop(&gw);
	mqtt_up = false;
	vg_log(VG_LOG_INFO, "stopped cleanly");
	rc = 0;
out:
	if (mqtt_up)
		gw_mqtt_stop(&gw);
	gw_http_stop(&gw);
	/* the MQTT thread is gone: the applier ends its last batch */
	gw_backlog_free(&gw.backlog);
	gw_store_close(gw.store);
	gw_core_free(gw.core);
	return rc;
}
