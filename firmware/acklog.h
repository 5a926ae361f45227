/*
 * The acknowledgement log: which record of which unit the broker has
 * acknowledged, so that a restart does not publish it again.
 *
 * An acknowledgement used to rewrite the unit's record (two syncs on the
 * MQTT thread, under the lock the pollers need): on an SD card that
 * doubled the writes of every state change.  It is now one line appended
 * to DATA_DIR/units/acked ("<seq> <unit id>\n") without a sync.  Losing
 * lines is harmless by design: a record whose acknowledgement is not in
 * the log is published again after a restart, and the gateway drops what
 * it already has by seq.  A torn last line is skipped.
 *
 * The log is rewritten whole (temporary file and rename, still no sync)
 * when it holds more lines than a few times the unit count, so it stays
 * bounded however long the agent runs.
 *
 * Thread-safety: the caller serialises calls (the outbox calls it from the
 * MQTT thread only, outside its own lock).
 */
#ifndef AGENT_ACKLOG_H
#define AGENT_ACKLOG_H

#include <stdbool.h>
#include <stdint.h>

struct agent_acklog {
	int dirfd;       /* not owned: the store's directory */
	int fd;          /* the log, opened for appending; -1 when none */
	int lines;       /* lines in the file (read or appended) */
	int limit;       /* rewrite past this many lines */
	bool failing;    /* the last append failed (logged once) */
};

/* One acknowledged record, as replayed or as rewritten. */
struct agent_ack {
	const char *id;  /* not owned */
	int64_t seq;
};

typedef void (*agent_acklog_fn)(void *arg, const char *id, int64_t seq);

/*
 * Replay DATA_DIR/units/acked (dirfd is the units directory) through fn,
 * oldest line first, then open it for appending; a unit may appear many
 * times, the last line wins only if its seq is the record's.  Never fails
 * the store: without a log, records are published again (logged).
 */
void agent_acklog_open(struct agent_acklog *log, int dirfd, int nunits,
		       agent_acklog_fn fn, void *arg);
void agent_acklog_close(struct agent_acklog *log);
/* Append one acknowledgement; true when the log is due for a rewrite. */
bool agent_acklog_append(struct agent_acklog *log, const char *id,
			 int64_t seq);
/* Replace the log by these n acknowledgements; VG_OK or VG_ERR_IO. */
int agent_acklog_rewrite(struct agent_acklog *log,
			 const struct agent_ack *acks, int n);

#endif
