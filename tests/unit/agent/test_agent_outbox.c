/*
 * Durable store and outbox: records survive a restart, acknowledgements
 * empty the outbox durably, seq only grows, a torn or corrupted record is
 * caught by its checksum, and a disk that refuses writes degrades to
 * memory without losing what is to be published.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_kit.h"
#include "outbox.h"
#include "vigie/err.h"
#include "vigie/log.h"

static struct agent_kit fx;

/* Three units; U2 is an RGT unit. */
static int setup(void **state)
{
	(void)state;
	if (agent_kit_setup(&fx, "outbox", 3) != VG_OK)
		return -1;
	fx.cfg.units[2].program = VG_PROG_RGT;
	return 0;
}

static void record_path(char *buf, size_t size, const char *unit)
{
	snprintf(buf, size, "%s/units/u.%s", fx.dir, unit);
}

/* Publish everything queued and acknowledge it. */
static int publish_all(struct agent_outbox *ob, int *mid)
{
	agent_outbox_birth(ob); /* as after a connect */
	return agent_kit_send_all(ob, mid, true);
}

static void new_units_start_unknown_in_the_outbox(void **state)
{
	struct agent_outbox ob;
	struct vg_unit_status st;
	int unacked, dirty, mid = 0;
	bool degraded;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	agent_outbox_counts(&ob, &unacked, &dirty, &degraded);
	assert_int_equal(unacked, 3);
	assert_int_equal(dirty, 0);
	assert_int_equal(agent_outbox_status(&ob, 0, &st, NULL), VG_OK);
	assert_int_equal(st.state, VG_STATE_UNKNOWN);
	assert_int_equal(publish_all(&ob, &mid), 3);
	assert_int_equal(agent_kit_unacked(&ob), 0);
	agent_outbox_close(&ob);
}

static void changes_survive_a_restart(void **state)
{
	struct agent_outbox ob;
	struct vg_unit_status st;
	int mid = 0;
	int64_t seq1, seq2, mseq;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	publish_all(&ob, &mid);
	agent_outbox_read_ok(&ob, 0, VG_STATE_MIGRATED);
	agent_outbox_status(&ob, 0, &st, NULL);
	seq1 = st.seq;
	agent_outbox_read_ok(&ob, 0, VG_STATE_MIGRATED); /* no change */
	agent_outbox_status(&ob, 0, &st, NULL);
	assert_true(st.seq == seq1);
	agent_outbox_read_fault(&ob, 1, "timeout");
	assert_int_equal(agent_outbox_mark(&ob, 2, VG_STATE_RETIRED, "T-7",
					   "removed", &mseq), VG_OK);
	agent_outbox_close(&ob); /* nothing acknowledged: all in the outbox */

	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(agent_kit_unacked(&ob), 3);
	agent_outbox_status(&ob, 0, &st, NULL);
	assert_int_equal(st.state, VG_STATE_MIGRATED);
	assert_int_equal(st.source, VG_SOURCE_MODBUS);
	assert_true(st.seq == seq1);
	agent_outbox_status(&ob, 1, &st, NULL);
	assert_string_equal(st.fault, "timeout");
	agent_outbox_status(&ob, 2, &st, NULL);
	assert_int_equal(st.state, VG_STATE_RETIRED);
	assert_int_equal(st.source, VG_SOURCE_MANUAL);
	assert_string_equal(st.tech, "T-7");
	assert_string_equal(st.note, "removed");
	assert_true(st.seq == mseq);
	/* seq keeps growing across the restart */
	agent_outbox_read_ok(&ob, 0, VG_STATE_PENDING);
	agent_outbox_status(&ob, 0, &st, NULL);
	seq2 = st.seq;
	assert_true(seq2 > mseq);
	/* acknowledgements are durable too */
	publish_all(&ob, &mid);
	agent_outbox_close(&ob);
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(agent_kit_unacked(&ob), 0);
	agent_outbox_close(&ob);
}

/*
 * A record keeps its technician, fault and note in one block: each one
 * changes without the others, a read clears them all, the longest of
 * each survives a restart whole.
 */
static void a_records_texts_change_one_at_a_time(void **state)
{
	struct agent_outbox ob;
	struct vg_unit_status st;
	char note[VG_NOTE_MAX + 1], fault[AGENT_FAULT_MAX + 1];
	int64_t seq;

	(void)state;
	memset(note, 'n', VG_NOTE_MAX);
	note[VG_NOTE_MAX] = '\0';
	memset(fault, 'f', AGENT_FAULT_MAX);
	fault[AGENT_FAULT_MAX] = '\0';
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(agent_outbox_mark(&ob, 0, VG_STATE_MIGRATED,
					   "tech-0123456789-0123456789-0123456789"
					   "-0123456789", note, &seq), VG_OK);
	assert_int_equal(agent_outbox_read_fault(&ob, 0, "timeout"), VG_OK);
	agent_outbox_status(&ob, 0, &st, NULL);
	assert_string_equal(st.tech, "tech-0123456789-0123456789-0123456789"
			    "-0123456789");
	assert_string_equal(st.note, note);
	assert_string_equal(st.fault, "timeout");
	assert_int_equal(agent_outbox_read_fault(&ob, 0, fault), VG_OK);
	agent_outbox_close(&ob);

	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	agent_outbox_status(&ob, 0, &st, NULL);
	assert_int_equal(st.source, VG_SOURCE_MANUAL);
	assert_string_equal(st.note, note);
	assert_string_equal(st.fault, fault);
	assert_int_equal(strlen(st.tech), VG_IDENT_MAX);
	/* a new mark drops the fault; a good read drops everything */
	assert_int_equal(agent_outbox_mark(&ob, 0, VG_STATE_RETIRED, "T-1",
					   NULL, &seq), VG_OK);
	agent_outbox_status(&ob, 0, &st, NULL);
	assert_string_equal(st.tech, "T-1");
	assert_string_equal(st.note, "");
	assert_string_equal(st.fault, "");
	agent_outbox_read_ok(&ob, 0, VG_STATE_RETIRED);
	agent_outbox_status(&ob, 0, &st, NULL);
	assert_int_equal(st.source, VG_SOURCE_MODBUS);
	assert_string_equal(st.tech, "");
	agent_outbox_close(&ob);
}

/*
 * The broker's acknowledgement is for the message it got: a change
 * committed after that message was taken (before or after it was handed
 * to the client) stays in the outbox, to be published again.
 */
static void an_ack_for_an_older_message_keeps_the_newer_record(void **state)
{
	struct agent_outbox ob;
	char topic[VG_TOPIC_MAX], payload[VG_PAYLOAD_MAX];
	int mid = 0, cursor = 0, unit;
	int64_t seq;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	agent_kit_send_all(&ob, &mid, true);
	assert_int_equal(agent_kit_unacked(&ob), 0);
	/* taken, changed, then handed over and acknowledged */
	agent_outbox_read_ok(&ob, 0, VG_STATE_MIGRATED);
	unit = agent_outbox_next(&ob, &cursor, topic, sizeof(topic), payload,
				 sizeof(payload), &seq);
	assert_int_equal(unit, 0);
	agent_outbox_read_ok(&ob, 0, VG_STATE_RETIRED);
	agent_outbox_sent(&ob, 0, ++mid, seq);
	agent_outbox_acked(&ob, mid);
	assert_int_equal(agent_kit_unacked(&ob), 1);
	/* taken, handed over, changed, then acknowledged */
	cursor = 0;
	unit = agent_outbox_next(&ob, &cursor, topic, sizeof(topic), payload,
				 sizeof(payload), &seq);
	assert_int_equal(unit, 0);
	agent_outbox_sent(&ob, 0, ++mid, seq);
	agent_outbox_read_ok(&ob, 0, VG_STATE_PENDING);
	agent_outbox_acked(&ob, mid);
	assert_int_equal(agent_kit_unacked(&ob), 1);
	/* the newest one, acknowledged, empties the outbox */
	assert_int_equal(agent_kit_send_all(&ob, &mid, true), 1);
	assert_int_equal(agent_kit_unacked(&ob), 0);
	agent_outbox_close(&ob);
}

static void corrupt_and_torn_records_are_caught(void **state)
{
	struct agent_outbox ob;
	struct vg_unit_status st;
	char path[128];
	int fd, mid = 0;
	char c;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	agent_outbox_read_ok(&ob, 0, VG_STATE_MIGRATED);
	agent_outbox_read_ok(&ob, 1, VG_STATE_MIGRATING);
	agent_outbox_read_ok(&ob, 2, VG_STATE_MIGRATED);
	publish_all(&ob, &mid);
	agent_outbox_close(&ob);

	/* flip one byte inside U0's JSON: still valid JSON, wrong state */
	record_path(path, sizeof(path), "U0");
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, AGENT_RECORD_HDR + 50), 1);
	c ^= 0x01;
	assert_int_equal(pwrite(fd, &c, 1, AGENT_RECORD_HDR + 50), 1);
	close(fd);
	/* tear U1: only half of it reached the disk */
	record_path(path, sizeof(path), "U1");
	assert_int_equal(truncate(path, 60), 0);

	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	agent_outbox_status(&ob, 0, &st, NULL);
	assert_int_equal(st.state, VG_STATE_UNKNOWN);
	agent_outbox_status(&ob, 1, &st, NULL);
	assert_int_equal(st.state, VG_STATE_UNKNOWN);
	agent_outbox_status(&ob, 2, &st, NULL);
	assert_int_equal(st.state, VG_STATE_MIGRATED);
	agent_outbox_close(&ob);
}

static bool exists(const char *name);

static void refused_disk_keeps_state_in_memory(void **state)
{
	struct agent_outbox ob;
	struct vg_unit_status st;
	char topic[VG_TOPIC_MAX], payload[VG_PAYLOAD_MAX], cmd[128];
	int unacked, dirty, cursor = 0;
	int64_t seq;
	bool degraded;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	/* pull the directory from under the store: every write now fails */
	snprintf(cmd, sizeof(cmd), "rm -rf %s/units", fx.dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(agent_outbox_read_ok(&ob, 0, VG_STATE_MIGRATED),
			 VG_OK);
	agent_outbox_counts(&ob, &unacked, &dirty, &degraded);
	assert_true(degraded);
	assert_int_equal(dirty, 1);
	/* still published */
	assert_true(agent_outbox_next(&ob, &cursor, topic, sizeof(topic),
				      payload, sizeof(payload), &seq) >= 0);
	/* a new directory: every record is written into it */
	agent_outbox_flush(&ob);
	agent_outbox_counts(&ob, &unacked, &dirty, &degraded);
	assert_false(degraded);
	assert_int_equal(dirty, 0);
	assert_true(exists("u.U0") && exists("u.U1") && exists("u.U2"));
	assert_true(exists("seq"));
	agent_outbox_close(&ob);
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(agent_outbox_status(&ob, 0, &st, NULL), VG_OK);
	assert_int_equal(st.state, VG_STATE_MIGRATED);
	agent_outbox_close(&ob);
	vg_log_set_level(VG_LOG_ERR);
}

static bool exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/units/%s", fx.dir, name);
	return access(path, F_OK) == 0;
}

/* A unit leaving the configuration becomes a tombstone: published as a
 * retained "removed" status, kept on disk until acknowledged, cancelled
 * if it returns. */
static void removed_units_are_cleared_durably(void **state)
{
	const char *tomb = "t.vigie+v1+unit+renir+03+site-1+U1";
	char topic[VG_TOPIC_MAX], payload[VG_PAYLOAD_MAX];
	struct vg_unit_status st;
	struct agent_outbox ob;
	int mid = 0, cursor = 0, i;
	int64_t seq, last = 0;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(publish_all(&ob, &mid), 3);
	agent_outbox_close(&ob);
	/* U1 leaves: its record becomes a tombstone, also across a restart */
	fx.cfg.units[1].id = "U9";
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(agent_outbox_removals(&ob), 1);
	assert_false(exists("u.U1"));
	assert_true(exists(tomb));
	agent_outbox_close(&ob);
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(agent_outbox_removals(&ob), 1);
	/* published on the old topic as a "removed" status whose seq is
	 * above every record's; gone once acknowledged */
	agent_outbox_birth(&ob);
	while ((i = agent_outbox_next(&ob, &cursor, topic, sizeof(topic),
				      payload, sizeof(payload), &seq)) >= 0) {
		if (i >= ob.nunits) {
			assert_string_equal(topic,
					    "vigie/v1/unit/renir/03/site-1/U1");
			assert_int_equal(vg_unit_status_decode(
				payload, strlen(payload), NULL, &st),
				VG_REJ_NONE);
			assert_true(st.removed);
			assert_string_equal(st.unit, "U1");
			assert_int_equal(st.seq, seq);
			assert_true(seq > last);
			assert_int_equal(st.ts, seq / 1000);
		} else if (seq > last) {
			last = seq;
		}
		agent_outbox_sent(&ob, i, ++mid, seq);
		agent_outbox_acked(&ob, mid);
	}
	assert_int_equal(agent_outbox_removals(&ob), 0);
	assert_false(exists(tomb));
	agent_outbox_close(&ob);
	/* U9 leaves and comes back before the broker acknowledged: no
	 * removal is sent after its new record */
	fx.cfg.units[1].id = "U8";
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(agent_outbox_removals(&ob), 1);
	agent_outbox_close(&ob);
	fx.cfg.units[1].id = "U9";
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(agent_outbox_removals(&ob), 1); /* U8's, not U9's */
	assert_false(exists("t.vigie+v1+unit+renir+03+site-1+U9"));
	/* never read yet: no record, its topic is listed as announced */
	assert_false(exists("u.U9"));
	assert_true(exists("announced"));
	agent_outbox_close(&ob);
	/* a unit moving to another program clears its old topic */
	fx.cfg.units[0].program = VG_PROG_RGT;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_true(exists("t.vigie+v1+unit+renir+03+site-1+U0"));
	agent_outbox_close(&ob);
	fx.cfg.units[0].program = VG_PROG_RENIR;
	fx.cfg.units[1].id = "U1";
}

/* The whole of a file (records are small), for before/after checks. */
static size_t slurp(const char *name, char *buf, size_t size)
{
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/units/%s", fx.dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, size, f);
	fclose(f);
	return n;
}

/*
 * A mark refused for any reason leaves no trace: not in memory (state,
 * seq, outbox), not on disk (record, seq file).  The invalid UTF-8 note
 * used to be applied, then fail to encode: the unit sat "unacked" forever.
 */
static void refused_marks_change_nothing(void **state)
{
	static const struct { int unit, state; const char *tech, *note;
			      int rc; } bad[] = {
		{ 2, VG_STATE_MIGRATED, "T-1", "caf\xe9 froid", VG_ERR_INVAL },
		{ 2, VG_STATE_MIGRATED, "T-1", "\xc3\x28", VG_ERR_INVAL },
		{ 2, VG_STATE_UNKNOWN, "T-1", NULL, VG_ERR_INVAL },
		{ 2, 42, "T-1", NULL, VG_ERR_INVAL },
		{ 2, VG_STATE_MIGRATED, "T 1", NULL, VG_ERR_INVAL },
		{ 2, VG_STATE_MIGRATED, "", NULL, VG_ERR_INVAL },
		{ 3, VG_STATE_MIGRATED, "T-1", NULL, VG_ERR_NOTFOUND },
		{ -1, VG_STATE_MIGRATED, "T-1", NULL, VG_ERR_NOTFOUND },
	};
	char before[512], after[512], seqb[64], seqa[64], longnote[200];
	struct agent_outbox ob;
	struct vg_unit_status st;
	size_t nb, ns;
	int unacked, dirty, mid = 0;
	bool degraded;
	int64_t seq = -1, seq0;
	uint8_t flags;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	/* a read that fails: still unknown, now with a record on disk */
	assert_int_equal(agent_outbox_read_fault(&ob, 2, "no answer"), VG_OK);
	publish_all(&ob, &mid);
	agent_outbox_status(&ob, 2, &st, NULL);
	seq0 = st.seq;
	nb = slurp("u.U2", before, sizeof(before));
	ns = slurp("seq", seqb, sizeof(seqb));
	memset(longnote, 'x', sizeof(longnote) - 1);
	longnote[VG_NOTE_MAX + 1] = '\0';
	assert_int_equal(agent_outbox_mark(&ob, 2, VG_STATE_MIGRATED, "T-1",
					   longnote, &seq), VG_ERR_RANGE);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		if (agent_outbox_mark(&ob, bad[k].unit, bad[k].state,
				      bad[k].tech, bad[k].note, &seq) !=
		    bad[k].rc)
			fail_msg("case %zu not refused as expected", k);
	}
	assert_true(seq == -1);
	agent_outbox_counts(&ob, &unacked, &dirty, &degraded);
	assert_int_equal(unacked, 0);
	assert_int_equal(dirty, 0);
	agent_outbox_status(&ob, 2, &st, &flags);
	assert_true(st.seq == seq0);
	assert_int_equal(st.state, VG_STATE_UNKNOWN);
	assert_int_equal(flags & (REC_UNACKED | REC_QUEUED), 0);
	assert_true(slurp("u.U2", after, sizeof(after)) == nb);
	assert_memory_equal(before, after, nb);
	assert_true(slurp("seq", seqa, sizeof(seqa)) == ns);
	assert_memory_equal(seqb, seqa, ns);
	/* a good mark after all that, UTF-8 accents included */
	assert_int_equal(agent_outbox_mark(&ob, 2, VG_STATE_MIGRATED, "T-1",
					   "caf\xc3\xa9 froid", &seq), VG_OK);
	assert_true(seq > seq0);
	agent_outbox_close(&ob);
}

static ino_t inode_of(const char *name)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/units/%s", fx.dir, name);
	return stat(path, &sb) == 0 ? sb.st_ino : 0;
}

static int lines_of(const char *name)
{
	char buf[16384];
	char path[256];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/units/%s", fx.dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		n++;
	fclose(f);
	return n;
}

static int unlink_units_file(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/units/%s", fx.dir, name);
	return unlink(path);
}

/*
 * An SD card's budget: a first start writes no record until a unit is
 * read, and a state change is one record write; the broker's
 * acknowledgement goes to the log, not into the record again.
 */
static void one_record_write_per_change(void **state)
{
	struct agent_outbox ob;
	ino_t ino;
	int mid = 0;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_false(exists("u.U0") || exists("u.U1") || exists("u.U2"));
	assert_int_equal(lines_of("announced"), 3);
	assert_int_equal(agent_outbox_read_ok(&ob, 0, VG_STATE_MIGRATED),
			 VG_OK);
	ino = inode_of("u.U0");
	assert_true(ino != 0);
	assert_int_equal(publish_all(&ob, &mid), 3);
	assert_int_equal(agent_kit_unacked(&ob), 0);
	assert_true(inode_of("u.U0") == ino); /* not rewritten */
	agent_outbox_close(&ob);
	/* the log holds the acknowledgement across a restart */
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(agent_kit_unacked(&ob), 2); /* U1, U2: new unknowns */
	assert_int_equal(lines_of("announced"), 2);
	agent_outbox_close(&ob);
	/* a lost log only republishes */
	assert_int_equal(unlink_units_file("acked"), 0);
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(agent_kit_unacked(&ob), 3);
	agent_outbox_close(&ob);
}

/* A torn line is skipped; the log is rewritten before it grows past a
 * few times the unit count. */
static void ack_log_is_bounded_and_tolerant(void **state)
{
	struct agent_outbox ob;
	char path[256];
	FILE *f;
	int mid = 0;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	for (int k = 0; k < 200; k++) {
		agent_outbox_read_ok(&ob, k % 3, k % 2 ? VG_STATE_PENDING
						      : VG_STATE_MIGRATED);
		publish_all(&ob, &mid);
		assert_true(lines_of("acked") <= 4 * 3 + 64 + 1);
	}
	assert_int_equal(agent_kit_unacked(&ob), 0);
	agent_outbox_close(&ob);
	snprintf(path, sizeof(path), "%s/units/acked", fx.dir);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("12345 U", f); /* cut short by a power loss */
	fclose(f);
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(agent_kit_unacked(&ob), 0);
	assert_int_equal(lines_of("acked"), 3); /* rewritten at start */
	agent_outbox_close(&ob);
}

static void crc_matches_ieee(void **state)
{
	(void)state;
	assert_int_equal(agent_outbox_crc32(0, "123456789", 9), 0xCBF43926u);
}

/* Every test on a fresh fixture. */
#define TEST(f) \
	cmocka_unit_test_setup_teardown(f, setup, agent_kit_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(new_units_start_unknown_in_the_outbox),
		TEST(changes_survive_a_restart),
		TEST(a_records_texts_change_one_at_a_time),
		TEST(an_ack_for_an_older_message_keeps_the_newer_record),
		TEST(corrupt_and_torn_records_are_caught),
		TEST(refused_disk_keeps_state_in_memory),
		TEST(removed_units_are_cleared_durably),
		TEST(refused_marks_change_nothing),
		TEST(one_record_write_per_change),
		TEST(ack_log_is_bounded_and_tolerant),
		cmocka_unit_test(crc_matches_ieee),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
