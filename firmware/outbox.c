/*
 * Durable unit store and outbox (see outbox.h for the on-disk layout).
 * Every new record goes: seq reserved (persisted) -> record written and
 * fsync'd -> flags set -> publisher woken.  Acknowledgements rewrite the
 * record with the outbox flag cleared, so a restart knows what the broker
 * already has; a lost acknowledgement only costs a harmless republish.
 */
#include "outbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigie/err.h"
#include "vigie/ident.h"
#include "vigie/str.h"
#include "vigie/timeutil.h"
#include "vigie/topic.h"

/* Topics published before their unit had a record (announce_unwritten). */
#define ANNOUNCED "announced"
#define ANNOUNCED_MAX (64 << 20)

/* How far ahead a persisted seq reservation reaches (ms of wall clock). */
#define SEQ_RESERVE 60000

uint32_t agent_outbox_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1u));
	}
	return ~crc;
}

/* Copy with truncation (fault texts are cut to what a record holds). */
/*
 * *dst becomes a copy of src's first max bytes, owned by the record, or
 * NULL when src is empty; VG_ERR_NOMEM leaves *dst as it was.
 */
/* The texts of a record's block, in its order. */
enum rec_text { TXT_TECH, TXT_FAULT, TXT_NOTE, TXT_COUNT };

/* Text k of r, "" when it has none. */
static const char *rec_text(const struct agent_rec *r, enum rec_text k)
{
	const char *s = r->text;

	if (!s)
		return "";
	for (int n = 0; n < (int)k; n++)
		s += strlen(s) + 1;
	return s;
}

/*
 * r's texts replaced (NULL or "" for none), each cut at its longest; they
 * may point into r's own block.  VG_ERR_NOMEM leaves r as it was.
 */
static int rec_set_text(struct agent_rec *r, const char *tech,
			const char *fault, const char *note)
{
	static const size_t max[TXT_COUNT] = { VG_IDENT_MAX, AGENT_FAULT_MAX,
					       VG_NOTE_MAX };
	const char *in[TXT_COUNT] = { tech, fault, note };
	size_t len[TXT_COUNT], total = 0;
	char *block = NULL, *p;

	for (int k = 0; k < TXT_COUNT; k++) {
		len[k] = in[k] ? strnlen(in[k], max[k]) : 0;
		total += len[k] + 1;
	}
	if (total > TXT_COUNT) {
		if (!(block = malloc(total)))
			return VG_ERR_NOMEM;
		p = block;
		for (int k = 0; k < TXT_COUNT; k++) {
			if (len[k])
				memcpy(p, in[k], len[k]);
			p[len[k]] = '\0';
			p += len[k] + 1;
		}
	}
	free(r->text);
	r->text = block;
	return VG_OK;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void storage_error(struct agent_outbox *ob, const char *what,
			  const char *name, int err)
{
	uint32_t dropped = 0;

	if (!ob->degraded)
		vg_log(VG_LOG_ERR, "storage: cannot %s %s/%s: %s; keeping "
		       "state in memory until the disk takes it again", what,
		       ob->dir, name, strerror(err));
	else if (vg_ratelimit_allow(&ob->rl, vg_mono_ms(), &dropped))
		vg_log(VG_LOG_WARN, "storage: still cannot %s %s/%s: %s", what,
		       ob->dir, name, strerror(err));
	ob->degraded = true;
}

int agent_private_dir(const char *path)
{
	struct stat sb;

	if (mkdir(path, 0750) == 0)
		return chmod(path, 0750) == 0 ? VG_OK : VG_ERR_IO;
	if (errno != EEXIST || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return VG_ERR_IO;
	if (!(sb.st_mode & S_IRWXO))
		return VG_OK;
	vg_log(VG_LOG_WARN, "storage: %s was open to others (mode %03o); "
	       "closing it (chmod o-rwx)", path, (unsigned)(sb.st_mode & 0777));
	return chmod(path, sb.st_mode & 0770) == 0 ? VG_OK : VG_ERR_IO;
}

/* tmp file, fsync, rename, fsync dir: the file is the old or the new one. */
static int write_file(struct agent_outbox *ob, const char *name,
		      const void *buf, size_t len)
{
	char tmp[VG_TOPIC_MAX + 16];
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "tmp.%s", name) >= (int)sizeof(tmp))
		return ENAMETOOLONG;
	fd = openat(ob->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0640);
	if (fd < 0)
		return errno;
	/* the mode is the agent's decision, not its umask's */
	if (fchmod(fd, 0640) != 0)
		err = errno;
	else if (write(fd, buf, len) != (ssize_t)len)
		err = errno ? errno : ENOSPC;
	if (!err && fdatasync(fd) != 0)
		err = errno;
	if (close(fd) != 0 && !err)
		err = errno;
	if (!err && renameat(ob->dirfd, tmp, ob->dirfd, name) != 0)
		err = errno;
	if (!err && fsync(ob->dirfd) != 0)
		err = errno;
	if (err)
		unlinkat(ob->dirfd, tmp, 0);
	return err;
}

/* Unit i's status as published if its record were r. */
static void fill_status_rec(const struct agent_outbox *ob, int i,
			    const struct agent_rec *r,
			    struct vg_unit_status *st)
{
	const struct agent_unit *u = &ob->cfg->units[i];

	memset(st, 0, sizeof(*st));
	st->program = u->program;
	st->region = ob->cfg->region;
	vg_strlcpy(st->site, ob->cfg->site, sizeof(st->site));
	vg_strlcpy(st->unit, u->id, sizeof(st->unit));
	st->state = r->state;
	st->seq = r->seq;
	st->ts = r->seq / 1000;
	st->has_since = true;
	st->since = r->since;
	st->source = r->source;
	vg_strlcpy(st->tech, rec_text(r, TXT_TECH), sizeof(st->tech));
	vg_strlcpy(st->fault, rec_text(r, TXT_FAULT), sizeof(st->fault));
	vg_strlcpy(st->note, rec_text(r, TXT_NOTE), sizeof(st->note));
}

static void fill_status(const struct agent_outbox *ob, int i,
			struct vg_unit_status *st)
{
	fill_status_rec(ob, i, &ob->rec[i], st);
}

static int encode(const struct agent_outbox *ob, int i, char *buf,
		  size_t size)
{
	struct vg_unit_status st;

	fill_status(ob, i, &st);
	return vg_unit_status_encode(&st, buf, size);
}

/* Write unit i's record as it is in memory; clears DIRTY on success. */
static int persist(struct agent_outbox *ob, int i)
{
	uint8_t buf[AGENT_RECORD_HDR + VG_PAYLOAD_MAX];
	char name[VG_IDENT_MAX + 8];
	struct agent_rec *r = &ob->rec[i];
	int len, err;

	if (!ob->durable)
		return VG_OK;
	len = encode(ob, i, (char *)buf + AGENT_RECORD_HDR, VG_PAYLOAD_MAX);
	if (len < 0)
		return len;
	/* the magic is 4 bytes, not a C string */
	memcpy(buf, AGENT_RECORD_MAGIC, 4); /* NOLINT(bugprone-not-null-terminated-result) */
	put32(buf + 8, (uint32_t)len);
	put32(buf + 12, r->flags & REC_UNACKED);
	put32(buf + 4, agent_outbox_crc32(0, buf + 8, 8 + (size_t)len));
	snprintf(name, sizeof(name), "u.%s", ob->cfg->units[i].id);
	err = write_file(ob, name, buf, AGENT_RECORD_HDR + (size_t)len);
	if (err) {
		if (!(r->flags & REC_DIRTY))
			ob->dirty++;
		r->flags |= REC_DIRTY;
		storage_error(ob, "write", name, err);
		return VG_ERR_IO;
	}
	if (r->flags & REC_DIRTY)
		ob->dirty--;
	r->flags &= (uint8_t)~(REC_DIRTY | REC_UNWRITTEN);
	return VG_OK;
}

static int persist_seq(struct agent_outbox *ob, int64_t reserve)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld\n", (long long)reserve);
	int err;

	if (!ob->durable) {
		ob->reserved_seq = reserve;
		return VG_OK;
	}
	err = write_file(ob, "seq", buf, (size_t)n);
	if (err) {
		storage_error(ob, "write", "seq", err);
		return VG_ERR_IO;
	}
	ob->reserved_seq = reserve;
	return VG_OK;
}

/* The seq the next record would take: max(last + 1, now in ms). */
static int64_t seq_candidate(const struct agent_outbox *ob)
{
	int64_t s = vg_now_ms();

	return s <= ob->last_seq ? ob->last_seq + 1 : s;
}

/* seq_candidate, reserved on disk before it is used. */
static int64_t next_seq(struct agent_outbox *ob)
{
	int64_t s = seq_candidate(ob);

	if (s > ob->reserved_seq)
		persist_seq(ob, s + SEQ_RESERVE);
	ob->last_seq = s;
	return s;
}

/*
 * A new record for unit i (fields already updated): seq, disk, outbox.
 * write false skips the disk, for a record that says nothing a restart
 * would not say again (a new unit's first "unknown"): a first start then
 * costs one durable write per unit, at its first read, not two.
 */
static int commit_as(struct agent_outbox *ob, int i, bool write)
{
	struct agent_rec *r = &ob->rec[i];
	int rc = VG_OK;

	r->seq = next_seq(ob);
	r->refused = 0; /* a new record: not refused yet */
	r->flags &= (uint8_t)~REC_INFLIGHT; /* what is in flight is older */
	if (!(r->flags & REC_UNACKED))
		ob->unacked++;
	r->flags |= REC_UNACKED | REC_QUEUED;
	if (write)
		rc = persist(ob, i);
	else
		r->flags |= REC_UNWRITTEN;
	if (ob->notify)
		ob->notify(ob->notify_arg);
	return rc == VG_ERR_IO ? VG_OK : rc; /* degraded still publishes */
}

static int commit(struct agent_outbox *ob, int i)
{
	return commit_as(ob, i, true);
}

/* Record file u.<id> into *st (and its flags): VG_ERR_PARSE if corrupt. */
static int read_record(struct agent_outbox *ob, const char *name,
		       struct vg_unit_status *st, uint32_t *flags)
{
	uint8_t buf[AGENT_RECORD_HDR + VG_PAYLOAD_MAX + 1];
	ssize_t n;
	uint32_t len;
	int fd;

	fd = openat(ob->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? VG_ERR_NOTFOUND : VG_ERR_IO;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	len = n >= AGENT_RECORD_HDR ? get32(buf + 8) : 0;
	if (n < AGENT_RECORD_HDR || memcmp(buf, AGENT_RECORD_MAGIC, 4) != 0 ||
	    len > VG_PAYLOAD_MAX || (size_t)n != AGENT_RECORD_HDR + len ||
	    get32(buf + 4) != agent_outbox_crc32(0, buf + 8, 8 + len) ||
	    vg_unit_status_decode((char *)buf + AGENT_RECORD_HDR, len, NULL,
				  st) != VG_REJ_NONE ||
	    strcmp(st->unit, name + 2) != 0)
		return VG_ERR_PARSE;
	*flags = get32(buf + 12);
	return VG_OK;
}

/* Tombstone file name: "t." and the topic with '/' as '+' (a character
 * neither identifiers nor a topic prefix may contain). */
static int tomb_name(const char *topic, char *name, size_t size)
{
	size_t n = strlen(topic);

	if (n + 3 > size)
		return -1;
	name[0] = 't';
	name[1] = '.';
	name[n + 2] = '\0';
	memcpy(name + 2, topic, n);
	for (char *c = strchr(name + 2, '/'); c; c = strchr(c + 1, '/'))
		*c = '+';
	return 0;
}

/*
 * Remember a removed unit's topic, queued for its "removed" status.
 * The tombstone file is written first (unless it came from the disk), so
 * that the caller may then delete the unit's record.
 */
static struct agent_tomb *add_tomb(struct agent_outbox *ob, const char *topic,
				   bool ondisk)
{
	char name[VG_TOPIC_MAX + 3];
	struct agent_tomb *t;
	int err;

	for (int k = 0; k < ob->ntombs; k++) {
		if (!ob->tombs[k].done && strcmp(ob->tombs[k].topic, topic) == 0)
			return &ob->tombs[k];
	}
	t = realloc(ob->tombs, ((size_t)ob->ntombs + 1) * sizeof(*t));
	if (!t)
		return NULL;
	ob->tombs = t;
	t = &ob->tombs[ob->ntombs++];
	memset(t, 0, sizeof(*t));
	vg_strlcpy(t->topic, topic, sizeof(t->topic));
	t->queued = true;
	t->ondisk = ondisk;
	ob->tombs_pending++;
	if (!ondisk && ob->durable) {
		if (tomb_name(topic, name, sizeof(name)) != 0)
			err = ENAMETOOLONG;
		else
			err = write_file(ob, name, topic, strlen(topic));
		if (err)
			storage_error(ob, "write", name, err);
		else
			t->ondisk = true;
	}
	return t;
}

/* The broker has forgotten the topic (or the unit is back): forget it. */
static void drop_tomb(struct agent_outbox *ob, struct agent_tomb *t)
{
	char name[VG_TOPIC_MAX + 3];

	if (t->ondisk && tomb_name(t->topic, name, sizeof(name)) == 0 &&
	    unlinkat(ob->dirfd, name, 0) == 0)
		fsync(ob->dirfd);
	t->done = true;
	t->mid = 0;
	ob->tombs_pending--;
}

static void load_tomb(struct agent_outbox *ob, const char *name)
{
	char topic[VG_TOPIC_MAX + 1], check[VG_TOPIC_MAX + 3];
	int fd = openat(ob->dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, topic, sizeof(topic));
	close(fd);
	if (n > 0 && n < (ssize_t)sizeof(topic)) {
		topic[n] = '\0';
		if (strlen(topic) == (size_t)n &&
		    tomb_name(topic, check, sizeof(check)) == 0 &&
		    strcmp(check, name) == 0 && add_tomb(ob, topic, true))
			return;
	}
	vg_log(VG_LOG_ERR, "storage: %s/%s is corrupt; deleting it", ob->dir,
	       name);
	unlinkat(ob->dirfd, name, 0);
}

/*
 * u.<id> belongs to a unit no longer configured: tombstone its topic (both
 * programs' when the record is unreadable), then delete the record.
 */
static void retire_record(struct agent_outbox *ob, const char *name)
{
	const struct agent_config *c = ob->cfg;
	char topic[VG_TOPIC_MAX];
	struct vg_unit_status st;
	struct agent_tomb *t;
	bool kept = true;
	uint32_t flags;

	if (!vg_ident_valid(name + 2, strlen(name + 2)))
		return;
	if (read_record(ob, name, &st, &flags) == VG_OK) {
		t = vg_topic_unit(topic, sizeof(topic), c->prefix, st.program,
				  st.region, st.site, st.unit) < 0 ? NULL :
		    add_tomb(ob, topic, false);
		kept = t && t->ondisk;
	} else {
		for (int p = 0; p < VG_PROG_COUNT; p++) {
			t = vg_topic_unit(topic, sizeof(topic), c->prefix, p,
					  c->region, c->site, name + 2) < 0 ?
			    NULL : add_tomb(ob, topic, false);
			kept = kept && t && t->ondisk;
		}
	}
	if (!kept)
		return; /* the record stays until a tombstone can be written */
	vg_log(VG_LOG_INFO, "unit %s left the configuration: removing it "
	       "from the broker", name + 2);
	if (unlinkat(ob->dirfd, name, 0) == 0)
		fsync(ob->dirfd);
}

/* Records of units no longer configured, tombstones left from before. */
static void scan_dir(struct agent_outbox *ob)
{
	int fd = dup(ob->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	const struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		vg_log(VG_LOG_ERR, "storage: %s: %s", ob->dir, strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "t.", 2) == 0)
			load_tomb(ob, e->d_name);
		else if (strncmp(e->d_name, "u.", 2) == 0 &&
			 agent_config_unit_find(ob->cfg, e->d_name + 2) < 0)
			retire_record(ob, e->d_name);
	}
	closedir(d);
}

/* A unit configured again under a tombstoned topic: its record wins. */
static void cancel_tombs(struct agent_outbox *ob)
{
	const struct agent_config *c = ob->cfg;
	char topic[VG_TOPIC_MAX];

	for (int k = 0; k < ob->ntombs; k++) {
		struct agent_tomb *t = &ob->tombs[k];
		const char *id = strrchr(t->topic, '/');
		int i = id ? agent_config_unit_find(c, id + 1) : -1;

		if (t->done || i < 0 ||
		    vg_topic_unit(topic, sizeof(topic), c->prefix,
				  c->units[i].program, c->region, c->site,
				  c->units[i].id) < 0 ||
		    strcmp(topic, t->topic) != 0)
			continue;
		drop_tomb(ob, t);
	}
}

static int load_record(struct agent_outbox *ob, int i, int64_t now)
{
	const struct agent_unit *u = &ob->cfg->units[i];
	struct agent_rec *r = &ob->rec[i];
	struct vg_unit_status st;
	char name[VG_IDENT_MAX + 8];
	char old[VG_TOPIC_MAX];
	uint32_t flags;
	int rc;

	snprintf(name, sizeof(name), "u.%s", u->id);
	rc = read_record(ob, name, &st, &flags);
	if (rc == VG_ERR_PARSE)
		vg_log(VG_LOG_ERR, "storage: %s/%s is corrupt (bad checksum "
		       "or content); unit %s restarts as unknown", ob->dir,
		       name, u->id);
	if (rc != VG_OK)
		return rc;
	r->state = st.state;
	r->source = st.source;
	r->seq = st.seq;
	r->since = st.has_since ? st.since : now;
	/* out of memory at start: the texts are missing, the state is not */
	(void)rec_set_text(r, st.tech, st.fault, st.note);
	r->flags = flags & REC_UNACKED;
	if (st.seq > ob->last_seq)
		ob->last_seq = st.seq;
	/* moved to another site, region or program: say so again, and clear
	 * the old topic */
	if ((int)st.program != u->program || st.region != ob->cfg->region ||
	    strcmp(st.site, ob->cfg->site) != 0) {
		if (vg_topic_unit(old, sizeof(old), ob->cfg->prefix,
				  st.program, st.region, st.site, st.unit) >= 0)
			add_tomb(ob, old, false);
		return VG_ERR_RANGE;
	}
	return VG_OK;
}

static int64_t read_seq_file(struct agent_outbox *ob, const char *name)
{
	char buf[32] = "";
	int fd = openat(ob->dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strtoll(buf, NULL, 10);
}

static int open_dir(struct agent_outbox *ob, const char *data_dir)
{
	if (snprintf(ob->dir, sizeof(ob->dir), "%s/units", data_dir) >=
	    (int)sizeof(ob->dir))
		return VG_ERR_RANGE;
	if (agent_private_dir(data_dir) != VG_OK ||
	    agent_private_dir(ob->dir) != VG_OK)
		goto fail;
	ob->dirfd = open(ob->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ob->dirfd < 0)
		goto fail;
	return VG_OK;
fail:
	vg_log(VG_LOG_ERR, "storage: %s: %s", ob->dir, strerror(errno));
	return VG_ERR_IO;
}

/* Load every configured unit; new or unreadable ones start unknown. */
static void load_all(struct agent_outbox *ob)
{
	int64_t now = vg_now();
	int rc;

	ob->last_seq = ob->durable ? read_seq_file(ob, "seq") : 0;
	ob->last_session = ob->durable ? read_seq_file(ob, "session") : 0;
	ob->reserved_seq = ob->last_seq;
	for (int i = 0; i < ob->nunits; i++) {
		struct agent_rec *r = &ob->rec[i];

		rc = ob->durable ? load_record(ob, i, now) : VG_ERR_NOTFOUND;
		if (rc == VG_OK) {
			ob->unacked += !!(r->flags & REC_UNACKED);
			continue;
		}
		if (rc != VG_ERR_RANGE) {
			memset(r, 0, sizeof(*r));
			r->state = VG_STATE_UNKNOWN;
			r->since = now;
		}
		commit_as(ob, i, rc != VG_ERR_NOTFOUND);
	}
}

/* An acknowledgement from the log: its record leaves the outbox. */
static void replay_ack(void *arg, const char *id, int64_t seq)
{
	struct agent_outbox *ob = arg;
	int i = ob->ack_hint < ob->nunits &&
		strcmp(ob->cfg->units[ob->ack_hint].id, id) == 0 ?
		ob->ack_hint : agent_config_unit_find(ob->cfg, id);
	struct agent_rec *r;

	if (i < 0)
		return;
	ob->ack_hint = i + 1; /* a rewritten log is in unit order */
	r = &ob->rec[i];
	if ((r->flags & REC_UNACKED) && r->seq == seq) {
		r->flags &= (uint8_t)~REC_UNACKED;
		ob->unacked--;
	}
}

/*
 * The acknowledged records, for a rewrite of the log; NULL when there is
 * no memory (the log then keeps growing until the next try).  Owned by
 * the caller; ids point into cfg.  Called under the lock.
 */
static struct agent_ack *acked_set(const struct agent_outbox *ob, int *n)
{
	struct agent_ack *a = malloc(((size_t)ob->nunits + 1) * sizeof(*a));

	*n = 0;
	for (int i = 0; a && i < ob->nunits; i++) {
		if (ob->rec[i].flags & REC_UNACKED)
			continue;
		a[*n].id = ob->cfg->units[i].id;
		a[(*n)++].seq = ob->rec[i].seq;
	}
	return a;
}

/* Rewrite the log with what is acknowledged now (lock not held). */
static void compact_acks(struct agent_outbox *ob)
{
	struct agent_ack *a;
	int n;

	pthread_mutex_lock(&ob->lock);
	a = acked_set(ob, &n);
	pthread_mutex_unlock(&ob->lock);
	if (a)
		agent_acklog_rewrite(&ob->acks, a, n);
	free(a);
}

/*
 * Manual unit i's record from the store, if it still belongs here (same
 * program, region and site); nothing else is taken, nothing written.
 */
static void peek_mark(struct agent_outbox *ob, int i)
{
	const struct agent_unit *u = &ob->cfg->units[i];
	struct agent_rec *r = &ob->rec[i];
	struct vg_unit_status st;
	char name[VG_IDENT_MAX + 8];
	uint32_t flags;

	snprintf(name, sizeof(name), "u.%s", u->id);
	if (read_record(ob, name, &st, &flags) != VG_OK ||
	    (int)st.program != u->program || st.region != ob->cfg->region ||
	    strcmp(st.site, ob->cfg->site) != 0)
		return;
	r->state = st.state;
	r->source = st.source;
	r->seq = st.seq;
	if (st.has_since)
		r->since = st.since;
	/* out of memory: the mark's text is missing from this dry run only */
	(void)rec_set_text(r, st.tech, rec_text(r, TXT_FAULT), st.note);
}

void agent_outbox_peek_marks(struct agent_outbox *ob, const char *data_dir)
{
	char dir[AGENT_PATH_MAX];

	if (ob->durable || snprintf(dir, sizeof(dir), "%s/units", data_dir) >=
	    (int)sizeof(dir))
		return;
	/* read-only: no agent_private_dir, which would create it */
	ob->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ob->dirfd < 0)
		return;
	pthread_mutex_lock(&ob->lock);
	for (int i = 0; i < ob->nunits; i++) {
		if (ob->cfg->units[i].manual)
			peek_mark(ob, i);
	}
	pthread_mutex_unlock(&ob->lock);
	close(ob->dirfd);
	ob->dirfd = -1;
}

/*
 * The whole of DATA_DIR/units/announced, NUL-terminated, or NULL when it
 * is missing or unreadable.  Owned by the caller.
 */
static char *read_announced(struct agent_outbox *ob)
{
	int fd = openat(ob->dirfd, ANNOUNCED, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	char *buf = NULL;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) == 0 && sb.st_size < ANNOUNCED_MAX)
		buf = malloc((size_t)sb.st_size + 1);
	if (buf && read(fd, buf, (size_t)sb.st_size) != sb.st_size) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[sb.st_size] = '\0';
	close(fd);
	return buf;
}

/*
 * A topic announced without a record whose unit is gone (no record, not
 * configured at that topic any more) is removed like any other.
 */
static void retire_announced(struct agent_outbox *ob, const char *topic)
{
	const struct agent_config *c = ob->cfg;
	const char *id = strrchr(topic, '/');
	char name[VG_IDENT_MAX + 8], now[VG_TOPIC_MAX];
	int i;

	if (!id || !vg_ident_valid(id + 1, strlen(id + 1)))
		return;
	snprintf(name, sizeof(name), "u.%s", id + 1);
	if (faccessat(ob->dirfd, name, F_OK, 0) == 0)
		return; /* its record speaks for it */
	i = agent_config_unit_find(c, id + 1);
	if (i >= 0 && vg_topic_unit(now, sizeof(now), c->prefix,
				    c->units[i].program, c->region, c->site,
				    id + 1) >= 0 && strcmp(now, topic) == 0)
		return;
	add_tomb(ob, topic, false);
}

/* Topics of the units whose record is not on disk, one a line. */
static int announced_now(const struct agent_outbox *ob, char **out)
{
	const struct agent_config *c = ob->cfg;
	size_t size = (size_t)ob->nunits * VG_TOPIC_MAX + 1, len = 0;
	char *buf = malloc(size);
	int n;

	if (!buf)
		return VG_ERR_NOMEM;
	buf[0] = '\0';
	for (int i = 0; i < ob->nunits; i++) {
		if (!(ob->rec[i].flags & REC_UNWRITTEN))
			continue;
		n = vg_topic_unit(buf + len, size - len - 1, c->prefix,
				  c->units[i].program, c->region, c->site,
				  c->units[i].id);
		if (n < 0)
			continue;
		len += (size_t)n;
		buf[len++] = '\n';
		buf[len] = '\0';
	}
	*out = buf;
	return (int)len;
}

/*
 * Units published before they have a record (see commit_as) must still be
 * removable from the broker if they leave the configuration first: their
 * topics are listed durably in DATA_DIR/units/announced, one write at
 * start when the list changed, and tombstoned at the next start if gone.
 */
static void announce_unwritten(struct agent_outbox *ob)
{
	char *old = read_announced(ob), *now = NULL, *line, *save = NULL;
	int len = announced_now(ob, &now);
	int err = 0;

	for (line = old ? strtok_r(old, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		retire_announced(ob, line);
	free(old);
	old = read_announced(ob); /* strtok_r cut the first copy */
	if (len < 0 || (old && strcmp(old, now) == 0) || (!old && len == 0))
		goto out;
	err = write_file(ob, ANNOUNCED, now, (size_t)len);
	if (err)
		storage_error(ob, "write", ANNOUNCED, err);
out:
	free(old);
	free(now);
}

int agent_outbox_open(struct agent_outbox *ob, const struct agent_config *cfg,
		      const char *data_dir)
{
	memset(ob, 0, sizeof(*ob));
	ob->dirfd = -1;
	ob->acks.fd = -1;
	ob->cfg = cfg;
	ob->nunits = cfg->nunits;
	vg_ratelimit_init(&ob->rl, 60000, 1);
	if (data_dir) {
		ob->durable = true;
		if (open_dir(ob, data_dir) != VG_OK)
			return VG_ERR_IO;
	}
	ob->rec = calloc((size_t)cfg->nunits + 1, sizeof(*ob->rec));
	if (!ob->rec) {
		agent_outbox_close(ob);
		return VG_ERR_NOMEM;
	}
	pthread_mutex_init(&ob->lock, NULL);
	if (ob->durable)
		scan_dir(ob);
	load_all(ob);
	if (ob->durable)
		announce_unwritten(ob);
	cancel_tombs(ob);
	if (ob->durable) {
		agent_acklog_open(&ob->acks, ob->dirfd, ob->nunits, replay_ack,
				  ob);
		compact_acks(ob);
	}
	return VG_OK;
}

void agent_outbox_close(struct agent_outbox *ob)
{
	if (ob->rec) {
		for (int i = 0; i < ob->nunits; i++)
			free(ob->rec[i].text);
		free(ob->rec);
		pthread_mutex_destroy(&ob->lock);
	}
	free(ob->tombs);
	ob->tombs = NULL;
	ob->ntombs = ob->tombs_pending = 0;
	agent_acklog_close(&ob->acks);
	if (ob->dirfd >= 0)
		close(ob->dirfd);
	ob->rec = NULL;
	ob->dirfd = -1;
}

int agent_outbox_read_ok(struct agent_outbox *ob, int unit, int state)
{
	struct agent_rec *r = &ob->rec[unit];
	int rc = VG_OK;

	pthread_mutex_lock(&ob->lock);
	if (r->state != state || r->text || r->source != VG_SOURCE_MODBUS) {
		if (r->state != state)
			r->since = vg_now();
		r->state = (uint8_t)state;
		r->source = VG_SOURCE_MODBUS;
		(void)rec_set_text(r, NULL, NULL, NULL); /* frees, never fails */
		rc = commit(ob, unit);
	}
	pthread_mutex_unlock(&ob->lock);
	return rc;
}

int agent_outbox_read_fault(struct agent_outbox *ob, int unit,
			    const char *fault)
{
	struct agent_rec *r = &ob->rec[unit];
	int rc = VG_OK;

	pthread_mutex_lock(&ob->lock);
	if (strncmp(rec_text(r, TXT_FAULT), fault, AGENT_FAULT_MAX) != 0) {
		rc = rec_set_text(r, rec_text(r, TXT_TECH), fault,
				  rec_text(r, TXT_NOTE));
		if (rc == VG_OK)
			rc = commit(ob, unit);
	}
	pthread_mutex_unlock(&ob->lock);
	return rc;
}

/*
 * r as the mark would leave it, but without texts (the mark's technician
 * and note are given beside it), so that the candidate can be checked and
 * dropped without touching r.
 */
static void marked(const struct agent_rec *r, struct agent_rec *next,
		   int state)
{
	*next = *r;
	if (r->state != state)
		next->since = vg_now();
	next->state = (uint8_t)state;
	next->source = VG_SOURCE_MANUAL;
	next->text = NULL;
}

/*
 * Everything a mark could be refused for, checked before the record is
 * touched: a refused mark must leave no trace (a record that cannot be
 * encoded would sit in the outbox as "unacked" forever).
 */
static int mark_valid(const struct agent_outbox *ob, int unit,
		      const struct agent_rec *next, const char *tech,
		      const char *note)
{
	char buf[VG_PAYLOAD_MAX];
	struct vg_unit_status st;
	struct agent_rec probe = *next;

	if (unit < 0 || unit >= ob->nunits)
		return VG_ERR_NOTFOUND;
	if (next->state == VG_STATE_UNKNOWN || !vg_state_name(next->state) ||
	    !vg_ident_valid(tech, strlen(tech)))
		return VG_ERR_INVAL;
	if (note && strlen(note) > VG_NOTE_MAX)
		return VG_ERR_RANGE;
	/* encoded as it will be published, with a seq of the right size */
	probe.seq = seq_candidate(ob);
	fill_status_rec(ob, unit, &probe, &st);
	vg_strlcpy(st.tech, tech, sizeof(st.tech));
	if (note)
		vg_strlcpy(st.note, note, sizeof(st.note));
	return vg_unit_status_encode(&st, buf, sizeof(buf)) < 0 ?
	       VG_ERR_INVAL : VG_OK;
}

/* Replace unit's record with next (which has no texts: marked) and its
 * own copies of the mark's. */
static int install_mark(struct agent_outbox *ob, int unit,
			const struct agent_rec *next, const char *tech,
			const char *note)
{
	struct agent_rec *r = &ob->rec[unit], marked_rec = *next;
	int rc;

	if ((rc = rec_set_text(&marked_rec, tech, NULL, note)) != VG_OK)
		return rc;
	free(r->text);
	*r = marked_rec;
	return commit(ob, unit);
}

int agent_outbox_mark(struct agent_outbox *ob, int unit, int state,
		      const char *tech, const char *note, int64_t *seq)
{
	struct agent_rec next;
	int rc;

	if (note && !note[0])
		note = NULL;
	pthread_mutex_lock(&ob->lock);
	if (unit >= 0 && unit < ob->nunits)
		marked(&ob->rec[unit], &next, state);
	else
		memset(&next, 0, sizeof(next));
	rc = mark_valid(ob, unit, &next, tech, note);
	if (rc == VG_OK)
		rc = install_mark(ob, unit, &next, tech, note);
	if (rc == VG_OK)
		*seq = ob->rec[unit].seq;
	pthread_mutex_unlock(&ob->lock);
	return rc;
}

void agent_outbox_birth(struct agent_outbox *ob)
{
	pthread_mutex_lock(&ob->lock);
	for (int i = 0; i < ob->nunits; i++) {
		ob->rec[i].flags |= REC_QUEUED;
		ob->rec[i].mid = 0;
	}
	for (int k = 0; k < ob->ntombs; k++) {
		ob->tombs[k].queued = !ob->tombs[k].done;
		ob->tombs[k].mid = 0;
	}
	pthread_mutex_unlock(&ob->lock);
}

void agent_outbox_lost(struct agent_outbox *ob)
{
	pthread_mutex_lock(&ob->lock);
	for (int i = 0; i < ob->nunits; i++)
		ob->rec[i].mid = 0;
	for (int k = 0; k < ob->ntombs; k++)
		ob->tombs[k].mid = 0;
	pthread_mutex_unlock(&ob->lock);
}

/*
 * A tombstone's payload: a "removed" status with a seq of its own, taken
 * now, so that it orders after every record this agent published (an
 * empty retained message would carry none, and a broker bridge that is
 * down when it passes never forwards it: eclipse/mosquitto#1040).  A
 * topic this agent cannot parse any more (its prefix changed) is still
 * cleared, by an empty payload.  Returns the seq, 0 for the empty one.
 */
static int64_t tomb_payload(struct agent_outbox *ob, const char *topic,
			    char *payload, size_t psize)
{
	struct vg_unit_status st;
	struct vg_topic t;

	memset(&st, 0, sizeof(st));
	payload[0] = '\0';
	if (vg_topic_parse(ob->cfg->prefix, topic, strlen(topic), &t) != 0 ||
	    t.kind != VG_TOPIC_UNIT)
		return 0;
	st.program = t.program;
	st.region = t.region;
	vg_strlcpy(st.site, t.site, sizeof(st.site));
	vg_strlcpy(st.unit, t.unit, sizeof(st.unit));
	st.removed = true;
	st.state = VG_STATE_UNKNOWN;
	st.seq = next_seq(ob);
	st.ts = st.seq / 1000;
	if (vg_unit_status_encode(&st, payload, psize) < 0) {
		payload[0] = '\0';
		return 0;
	}
	return st.seq;
}

int agent_outbox_next(struct agent_outbox *ob, int *cursor, char *topic,
		      size_t tsize, char *payload, size_t psize,
		      int64_t *seq)
{
	int found = -1, total;

	pthread_mutex_lock(&ob->lock);
	total = ob->nunits + ob->ntombs;
	for (int k = 0; k < total && found < 0; k++) {
		int i = (*cursor + k) % total;
		const struct agent_unit *u;

		if (i >= ob->nunits) {
			struct agent_tomb *t = &ob->tombs[i - ob->nunits];

			if (!t->queued || t->done || psize == 0)
				continue;
			t->queued = false;
			if (vg_strlcpy(topic, t->topic, tsize) >= tsize)
				continue;
			*seq = tomb_payload(ob, t->topic, payload, psize);
			found = i;
			*cursor = (i + 1) % total;
			break;
		}
		if (!(ob->rec[i].flags & REC_QUEUED))
			continue;
		u = &ob->cfg->units[i];
		ob->rec[i].flags &= (uint8_t)~REC_QUEUED;
		if (vg_topic_unit(topic, tsize, ob->cfg->prefix, u->program,
				  ob->cfg->region, ob->cfg->site, u->id) < 0 ||
		    encode(ob, i, payload, psize) < 0) {
			vg_log(VG_LOG_ERR, "unit %s: cannot encode", u->id);
			continue;
		}
		*seq = ob->rec[i].seq;
		found = i;
		*cursor = (i + 1) % total;
	}
	pthread_mutex_unlock(&ob->lock);
	return found;
}

void agent_outbox_sent(struct agent_outbox *ob, int unit, int mid,
		       int64_t seq)
{
	pthread_mutex_lock(&ob->lock);
	if (unit >= ob->nunits) {
		ob->tombs[unit - ob->nunits].mid = mid;
	} else {
		struct agent_rec *r = &ob->rec[unit];

		r->mid = mid;
		/* a commit between next and now made the message stale */
		if (seq == r->seq)
			r->flags |= REC_INFLIGHT;
		else
			r->flags &= (uint8_t)~REC_INFLIGHT;
	}
	pthread_mutex_unlock(&ob->lock);
}

void agent_outbox_requeue(struct agent_outbox *ob, int unit)
{
	pthread_mutex_lock(&ob->lock);
	if (unit >= ob->nunits)
		ob->tombs[unit - ob->nunits].queued = true;
	else
		ob->rec[unit].flags |= REC_QUEUED;
	pthread_mutex_unlock(&ob->lock);
}

/*
 * The log line is written after the lock is released: an acknowledgement
 * never holds up the pollers behind a disk write.
 */
void agent_outbox_acked(struct agent_outbox *ob, int mid)
{
	const char *id = NULL;
	int64_t seq = 0;

	pthread_mutex_lock(&ob->lock);
	for (int i = 0; i < ob->nunits; i++) {
		struct agent_rec *r = &ob->rec[i];

		if (r->mid != mid)
			continue;
		r->mid = 0;
		if ((r->flags & REC_UNACKED) && (r->flags & REC_INFLIGHT)) {
			r->refused = 0;
			r->flags &= (uint8_t)~REC_UNACKED;
			ob->unacked--;
			id = ob->cfg->units[i].id;
			seq = r->seq;
		}
		pthread_mutex_unlock(&ob->lock);
		if (id && ob->durable && agent_acklog_append(&ob->acks, id, seq))
			compact_acks(ob);
		return;
	}
	for (int k = 0; k < ob->ntombs; k++) {
		struct agent_tomb *t = &ob->tombs[k];

		if (t->done || t->mid != mid)
			continue;
		vg_log(VG_LOG_INFO, "%s removed from the broker", t->topic);
		drop_tomb(ob, t);
		break;
	}
	pthread_mutex_unlock(&ob->lock);
}

/*
 * The directory was removed or replaced while the store held it open:
 * writes would go to the old one, or nowhere.  Open the one at the path
 * (made again if missing) and rewrite every record into it.
 */
static void reopen_dir(struct agent_outbox *ob)
{
	struct stat held, now;
	int fd;

	if (!ob->durable || fstat(ob->dirfd, &held) != 0 ||
	    (stat(ob->dir, &now) == 0 && held.st_dev == now.st_dev &&
	     held.st_ino == now.st_ino))
		return;
	if (agent_private_dir(ob->dir) != VG_OK)
		return;
	fd = open(ob->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	close(ob->dirfd);
	ob->dirfd = fd;
	vg_log(VG_LOG_WARN, "storage: %s was replaced; rewriting every record "
	       "into it", ob->dir);
	for (int i = 0; i < ob->nunits; i++) {
		if (!(ob->rec[i].flags & REC_DIRTY))
			ob->dirty++;
		ob->rec[i].flags |= REC_DIRTY;
	}
	for (int k = 0; k < ob->ntombs; k++)
		ob->tombs[k].ondisk = false; /* not rewritten: best effort */
	ob->reserved_seq = ob->last_seq; /* the seq file too */
}

void agent_outbox_flush(struct agent_outbox *ob)
{
	pthread_mutex_lock(&ob->lock);
	if (ob->degraded)
		reopen_dir(ob);
	if (ob->degraded && ob->last_seq >= ob->reserved_seq)
		persist_seq(ob, ob->last_seq + SEQ_RESERVE);
	for (int i = 0; i < ob->nunits && ob->dirty; i++) {
		if ((ob->rec[i].flags & REC_DIRTY) && persist(ob, i) != VG_OK)
			break;
	}
	if (ob->degraded && ob->dirty == 0 &&
	    ob->reserved_seq > ob->last_seq) {
		ob->degraded = false;
		vg_log(VG_LOG_INFO, "storage: %s writable again; every "
		       "record is on disk", ob->dir);
	}
	pthread_mutex_unlock(&ob->lock);
}

int agent_outbox_status(struct agent_outbox *ob, int unit,
			struct vg_unit_status *st, uint8_t *flags)
{
	if (unit < 0 || unit >= ob->nunits)
		return VG_ERR_NOTFOUND;
	pthread_mutex_lock(&ob->lock);
	fill_status(ob, unit, st);
	if (flags)
		*flags = ob->rec[unit].flags;
	pthread_mutex_unlock(&ob->lock);
	return VG_OK;
}

void agent_outbox_counts(struct agent_outbox *ob, int *unacked, int *dirty,
			 bool *degraded)
{
	pthread_mutex_lock(&ob->lock);
	*unacked = ob->unacked;
	*dirty = ob->dirty;
	*degraded = ob->degraded;
	pthread_mutex_unlock(&ob->lock);
}

int agent_outbox_removals(struct agent_outbox *ob)
{
	int n;

	pthread_mutex_lock(&ob->lock);
	n = ob->tombs_pending;
	pthread_mutex_unlock(&ob->lock);
	return n;
}

int agent_outbox_refused(struct agent_outbox *ob, int mid, int reason)
{
	int found = -1;

	pthread_mutex_lock(&ob->lock);
	for (int i = 0; i < ob->nunits && found < 0; i++) {
		struct agent_rec *r = &ob->rec[i];

		if (r->mid != mid)
			continue;
		r->mid = 0;
		if (r->flags & REC_INFLIGHT)
			r->refused = (uint8_t)reason;
		found = i;
	}
	for (int k = 0; k < ob->ntombs && found < 0; k++) {
		if (!ob->tombs[k].done && ob->tombs[k].mid == mid) {
			ob->tombs[k].mid = 0; /* pending until a later try */
			found = ob->nunits + k;
		}
	}
	pthread_mutex_unlock(&ob->lock);
	return found;
}

int agent_outbox_retry_refused(struct agent_outbox *ob)
{
	int n = 0;

	pthread_mutex_lock(&ob->lock);
	for (int i = 0; i < ob->nunits; i++) {
		struct agent_rec *r = &ob->rec[i];

		if (r->refused && (r->flags & REC_UNACKED) && !r->mid) {
			r->flags |= REC_QUEUED;
			n++;
		}
	}
	pthread_mutex_unlock(&ob->lock);
	return n;
}

int agent_outbox_refusal(struct agent_outbox *ob, int unit)
{
	int rc = 0;

	if (unit < 0 || unit >= ob->nunits)
		return 0;
	pthread_mutex_lock(&ob->lock);
	if (ob->rec[unit].flags & REC_UNACKED)
		rc = ob->rec[unit].refused;
	pthread_mutex_unlock(&ob->lock);
	return rc;
}

int agent_outbox_refused_count(struct agent_outbox *ob)
{
	int n = 0;

	pthread_mutex_lock(&ob->lock);
	for (int i = 0; i < ob->nunits; i++)
		n += (ob->rec[i].flags & REC_UNACKED) && ob->rec[i].refused;
	pthread_mutex_unlock(&ob->lock);
	return n;
}

int64_t agent_outbox_new_session(struct agent_outbox *ob)
{
	char buf[32];
	int64_t s = vg_now_ms();
	int n, err;

	pthread_mutex_lock(&ob->lock);
	if (s <= ob->last_session)
		s = ob->last_session + 1;
	ob->last_session = s;
	n = snprintf(buf, sizeof(buf), "%lld\n", (long long)s);
	err = ob->durable ? write_file(ob, "session", buf, (size_t)n) : 0;
	if (err)
		storage_error(ob, "write", "session", err);
	pthread_mutex_unlock(&ob->lock);
	return s;
}

/* Units of device d, and how many of them carry a read fault. */
static void device_faults(const struct agent_outbox *ob, int d, int *units,
			  int *faulted)
{
	*units = *faulted = 0;
	for (int i = 0; i < ob->nunits; i++) {
		if (ob->cfg->units[i].manual || ob->cfg->units[i].device != d)
			continue;
		(*units)++;
		*faulted += rec_text(&ob->rec[i], TXT_FAULT)[0] != '\0';
	}
}

bool agent_outbox_device_failing(struct agent_outbox *ob, int d)
{
	int units, faulted;

	pthread_mutex_lock(&ob->lock);
	device_faults(ob, d, &units, &faulted);
	pthread_mutex_unlock(&ob->lock);
	return units > 0 && faulted == units;
}

void agent_outbox_health(struct agent_outbox *ob, int64_t now,
			 struct vg_health *h)
{
	int64_t oldest = now;
	int units, faulted;

	pthread_mutex_lock(&ob->lock);
	h->outbox = ob->unacked;
	for (int i = 0; i < ob->nunits; i++) {
		if ((ob->rec[i].flags & REC_UNACKED) &&
		    ob->rec[i].seq / 1000 < oldest)
			oldest = ob->rec[i].seq / 1000;
	}
	h->oldest_unacked_s = now > oldest ? now - oldest : 0;
	h->devices_ok = h->devices_failing = 0;
	for (int d = 0; d < ob->cfg->ndevices; d++) {
		device_faults(ob, d, &units, &faulted);
		if (units > 0 && faulted == units)
			h->devices_failing++;
		else if (units > 0)
			h->devices_ok++;
	}
	pthread_mutex_unlock(&ob->lock);
}
