/*
 * The durable store: the last known state of every unit (the inventory a
 * birth republishes) and, folded into it, the outbox: a unit whose latest
 * record the broker has not acknowledged yet.  A unit holds at most one
 * record, so the outbox is bounded by the number of units however long the
 * site stays offline.
 *
 * On disk, one file per unit (DATA_DIR/units/u.<id>): a 16-byte header
 * (magic, CRC-32, length, flags) and the unit status JSON exactly as it is
 * published.  A record is written to a temporary file, fsync'd, renamed
 * over the old one and the directory fsync'd, all before the record may be
 * published; the checksum catches what a rename cannot (a torn or corrupted
 * file).  That is one durable write per state change: acknowledgements go
 * to a log of their own (acklog.h), and a new unit's first "unknown" is not
 * written at all (a restart would say the same).  When the disk refuses (full, read-only) the record stays in
 * memory, marked dirty, is published anyway and written as soon as the
 * disk takes it again.
 *
 * A unit that leaves the configuration is not simply forgotten: the broker
 * still holds its retained status.  Its record becomes a tombstone,
 * DATA_DIR/units/t.<topic with '/' as '+'> holding the topic, written before
 * the record is deleted; the tombstone is published as a retained
 * "removed" status (the wire contract's "remove this unit", which a
 * mosquitto bridge forwards even after a cut, unlike an empty retained
 * message) on every connection until the broker acknowledges it, and only
 * then deleted.
 *
 * Thread-safe: the pollers, the MQTT thread and the control socket share
 * one store through its mutex.
 */
#ifndef AGENT_OUTBOX_H
#define AGENT_OUTBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "acklog.h"
#include "config.h"
#include "vigie/log.h"
#include "vigie/msg.h"
#include "vigie/topic.h"

#define AGENT_FAULT_MAX 63
#define AGENT_RECORD_MAGIC "VGR1"
#define AGENT_RECORD_HDR 16

/* Per-unit flags. */
#define REC_UNACKED 0x01u /* in the outbox: not acknowledged by the broker */
#define REC_DIRTY 0x02u   /* newer than what the disk holds */
#define REC_QUEUED 0x04u  /* to (re)publish on the current connection */
#define REC_UNWRITTEN 0x08u /* never written: a new unit's first "unknown" */
#define REC_INFLIGHT 0x10u  /* the message in flight (mid) carries this seq */

struct agent_rec {
	int64_t seq;                 /* its ts (ms) is seq / 1000 */
	int64_t since;
	int mid;                     /* MQTT message id in flight, or 0 */
	uint8_t state;               /* enum vg_state */
	uint8_t source;              /* enum vg_source */
	uint8_t flags;
	uint8_t refused;             /* PUBACK reason >= 0x80 for this seq */
	/* owned, NULL when all are empty: "TECH\0FAULT\0NOTE\0", a manual
	 * mark's technician and note and the last read's fault (at most
	 * AGENT_FAULT_MAX bytes).  One block, not three pointers, because
	 * most units have none and thousands of records are resident:
	 * 32 bytes a record. */
	char *text;
};

/* A removed unit's topic, to clear on the broker (see above). */
struct agent_tomb {
	char topic[VG_TOPIC_MAX];
	int mid;                     /* MQTT message id in flight, or 0 */
	bool queued;                 /* to publish on the current connection */
	bool ondisk;                 /* its file exists */
	bool done;                   /* acknowledged: forgotten */
};

typedef void (*agent_outbox_notify_fn)(void *arg);

struct agent_outbox {
	pthread_mutex_t lock;
	const struct agent_config *cfg; /* not owned; outlives the store */
	bool durable;                   /* false: memory only (--once) */
	char dir[AGENT_PATH_MAX];       /* DATA_DIR/units */
	int dirfd;
	bool degraded;                  /* the disk refused the last write */
	struct vg_ratelimit rl;
	int64_t last_seq;
	int64_t reserved_seq;           /* persisted high-water mark */
	int64_t last_session;           /* persisted presence session */
	int nunits;
	struct agent_rec *rec;          /* owned; one per cfg unit */
	int unacked;
	int dirty;
	int ntombs;                     /* tombs[0..ntombs) */
	int tombs_pending;              /* of which not acknowledged yet */
	struct agent_tomb *tombs;       /* owned */
	struct agent_acklog acks;       /* written by the MQTT thread only */
	int ack_hint;                   /* replay: where the next id may be */
	agent_outbox_notify_fn notify;  /* wakes the publisher; may be NULL */
	void *notify_arg;
};

/*
 * Open the store for cfg's units.  dir NULL keeps everything in memory.
 * Records of units no longer configured become tombstones (and so do the
 * old topics of units that moved to another program, site or region); a
 * tombstone whose topic is configured again is dropped.  A missing or
 * corrupt record starts its unit as "unknown" (logged).
 */
int agent_outbox_open(struct agent_outbox *ob, const struct agent_config *cfg,
		      const char *data_dir);
void agent_outbox_close(struct agent_outbox *ob);
/*
 * For a memory-only store (--once): take the manual units' marks from
 * DATA_DIR/units, read-only; a missing or unreadable store leaves them
 * unknown.  Marks are facts no poll can find again.
 */
void agent_outbox_peek_marks(struct agent_outbox *ob, const char *data_dir);

/* Results of a read: a state (clears the fault) or a fault (keeps it). */
int agent_outbox_read_ok(struct agent_outbox *ob, int unit, int state);
int agent_outbox_read_fault(struct agent_outbox *ob, int unit,
			    const char *fault);
/*
 * A technician's mark; *seq receives the record's seq.  note may be NULL.
 * Refused before anything changes (no record, no seq, no outbox entry):
 * VG_ERR_NOTFOUND for a unit out of range, VG_ERR_INVAL for a state that is
 * not pending..retired, a bad technician id or text that cannot be
 * published (not UTF-8), VG_ERR_RANGE for a note over VG_NOTE_MAX bytes,
 * VG_ERR_NOMEM.  A disk that refuses the write does not refuse the mark:
 * it is held in memory (REC_DIRTY) and published, like any record.
 */
int agent_outbox_mark(struct agent_outbox *ob, int unit, int state,
		      const char *tech, const char *note, int64_t *seq);

/* A connection opened: queue every unit and tombstone (the birth). */
void agent_outbox_birth(struct agent_outbox *ob);
/* The connection closed: nothing is in flight any more. */
void agent_outbox_lost(struct agent_outbox *ob);
/*
 * Next queued unit from *cursor on: fills topic and payload, clears its
 * QUEUED flag and returns its index (publish, then agent_outbox_sent), or
 * -1 when nothing is queued.  An index >= nunits is a tombstone: the
 * payload is a "removed" status (or "", empty, for a topic this agent can
 * no longer parse); publish it retained.
 */
int agent_outbox_next(struct agent_outbox *ob, int *cursor, char *topic,
		      size_t tsize, char *payload, size_t psize,
		      int64_t *seq);
void agent_outbox_sent(struct agent_outbox *ob, int unit, int mid,
		       int64_t seq);
/* Publishing failed: queue the unit again. */
void agent_outbox_requeue(struct agent_outbox *ob, int unit);
/* PUBACK for mid: the unit leaves the outbox if nothing newer came. */
void agent_outbox_acked(struct agent_outbox *ob, int mid);
/*
 * PUBACK for mid with a reason code >= 0x80: the broker refused it.  The
 * record stays in the outbox and is not queued again on this connection
 * (retrying at once would only be refused again).  Returns the index as
 * agent_outbox_next does, or -1 when mid is unknown.
 */
int agent_outbox_refused(struct agent_outbox *ob, int mid, int reason);
/* Queue the refused records again (a slow retry); returns how many. */
int agent_outbox_retry_refused(struct agent_outbox *ob);
/* The refusal of unit's current record, or 0. */
int agent_outbox_refusal(struct agent_outbox *ob, int unit);
/* Units whose current record the broker refused. */
int agent_outbox_refused_count(struct agent_outbox *ob);
/*
 * A new presence session: max(last + 1, Unix ms), written to
 * DATA_DIR/units/session before it is returned (still returned, and
 * logged, when the disk refuses).
 */
int64_t agent_outbox_new_session(struct agent_outbox *ob);
/*
 * Health from the store: outbox depth, age of the oldest unacknowledged
 * record (0 when none), devices whose units answered and devices every one
 * of whose units carries a read fault.  Other members are left alone.
 */
void agent_outbox_health(struct agent_outbox *ob, int64_t now,
			 struct vg_health *h);
/* Device d polls units and every one of them carries a read fault. */
bool agent_outbox_device_failing(struct agent_outbox *ob, int d);
/* Retry writing records the disk refused; logs the recovery. */
void agent_outbox_flush(struct agent_outbox *ob);

/* The unit status as published (for --once and status). */
int agent_outbox_status(struct agent_outbox *ob, int unit,
			struct vg_unit_status *st, uint8_t *flags);
void agent_outbox_counts(struct agent_outbox *ob, int *unacked, int *dirty,
			 bool *degraded);
/* Removed units whose removal the broker has not acknowledged yet. */
int agent_outbox_removals(struct agent_outbox *ob);

/*
 * Make the directory path mode 0750 whatever the umask, or take away
 * others' access to an existing one (logged); VG_ERR_IO with errno set.
 * Files in it are written 0640 the same way.
 */
int agent_private_dir(const char *path);

/* CRC-32 (IEEE), as stored in record headers. */
uint32_t agent_outbox_crc32(uint32_t crc, const void *buf, size_t len);

#endif
