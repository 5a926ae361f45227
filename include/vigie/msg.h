/*
 * Payloads of the wire contract: unit status and agent presence (decoded
 * strictly, encoded by agents) and the reasons a message is rejected.  The
 * decoders cap the size and the nesting depth before handing bytes to cJSON,
 * type-check every known field, ignore unknown ones (forward compatibility
 * within v1) and check that the payload agrees with its topic.
 */
#ifndef VIGIE_MSG_H
#define VIGIE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigie/domain.h"
#include "vigie/ident.h"
#include "vigie/topic.h"

#define VG_PAYLOAD_MAX 4096
#define VG_JSON_DEPTH_MAX 4
#define VG_FAULT_MAX 127
#define VG_NOTE_MAX 127
#define VG_TEXT_MAX 63
/* Largest integer a JSON number (an IEEE double) carries exactly. */
#define VG_SEQ_MAX 9007199254740991LL
/*
 * How far ahead of the gateway's clock a seq (Unix ms), a presence session
 * or a timestamp may be: a field unit's clock may drift, but a message from
 * the far future would freeze a unit (nothing could ever be newer).
 */
#define VG_FUTURE_MS (5LL * 60 * 1000)

/* Why a message was refused; the gateway counts each one. */
enum vg_reject {
	VG_REJ_NONE = 0,
	VG_REJ_OVERSIZE,   /* payload over 4 KiB */
	VG_REJ_MALFORMED,  /* not a JSON object, or nested too deep */
	VG_REJ_VERSION,    /* "v" is not 1 */
	VG_REJ_MISSING,    /* a required field is absent */
	VG_REJ_TYPE,       /* a field has the wrong JSON type or range */
	VG_REJ_PROGRAM,    /* unknown program */
	VG_REJ_REGION,     /* unknown region */
	VG_REJ_IDENT,      /* bad site, unit or technician identifier */
	VG_REJ_STATE,      /* unknown state or source */
	VG_REJ_TIME,       /* timestamp not RFC 3339 UTC */
	VG_REJ_TOPIC,      /* topic outside the contract */
	VG_REJ_MISMATCH,   /* topic segments differ from payload fields */
	VG_REJ_STALE_SEQ,  /* older than what is already known */
	VG_REJ_SITE_REGION,/* site is bound to another region */
	VG_REJ_SITE_UNKNOWN,/* not in the gateway's sites file */
	VG_REJ_UNIT_UNKNOWN,/* not in the inventory, or over the site's cap */
	VG_REJ_FUTURE,     /* seq, session or ts beyond now + VG_FUTURE_MS */
	VG_REJ_NOT_SITE,   /* a service account's name used as a site */
	VG_REJ_COUNT
};

/* Stable snake_case name, used in logs and metrics labels. */
const char *vg_reject_name(enum vg_reject r);

struct vg_unit_status {
	enum vg_program program;
	int region;
	char site[VG_IDENT_MAX + 1];
	char unit[VG_IDENT_MAX + 1];
	enum vg_state state;
	/*
	 * "state":"removed": the agent no longer has the unit (a retained
	 * tombstone that, unlike an empty payload, crosses a broker bridge
	 * that was down and carries a seq).  state is then VG_STATE_UNKNOWN,
	 * never counted: removed is not a state of the indicator.
	 */
	bool removed;
	int64_t seq;
	int64_t ts;
	bool has_since;
	int64_t since;
	enum vg_source source;           /* VG_SOURCE_NONE when absent */
	char tech[VG_IDENT_MAX + 1];     /* "" when absent */
	char fault[VG_FAULT_MAX + 1];    /* "" when absent */
	char note[VG_NOTE_MAX + 1];      /* "" when absent */
};

#define VG_HASH_MAX 16 /* config hash: up to 16 hex digits */

/*
 * Agent health, carried by presence (all optional on the wire; -1 when
 * absent).  Sites are hundreds, so the gateway keeps it per site.
 */
struct vg_health {
	int64_t outbox;          /* records awaiting a PUBACK */
	int64_t oldest_unacked_s;/* age of the oldest of them, seconds */
	int64_t devices_ok;      /* devices whose last poll answered */
	int64_t devices_failing; /* devices whose last poll failed */
	int64_t refused;         /* publishes the broker refused (MQTT 5) */
	char config_hash[VG_HASH_MAX + 1]; /* "" when absent */
};

struct vg_presence {
	char site[VG_IDENT_MAX + 1];
	int region;
	bool online;
	char version[VG_TEXT_MAX + 1];
	char board[VG_TEXT_MAX + 1];
	int64_t units;
	int64_t ts;
	/*
	 * Per-connection number, the same in a birth and its will; 0 when
	 * absent (agents before sessions: ordered by ts instead).  Agents use
	 * max(last + 1, Unix ms) so it grows across restarts and re-flashes.
	 */
	int64_t session;
	struct vg_health health;
};

/*
 * Decode a unit status.  When topic is not NULL its segments must match the
 * payload's program, region, site and unit.  Returns VG_REJ_NONE or the
 * reason; *out is only meaningful on VG_REJ_NONE.
 */
enum vg_reject vg_unit_status_decode(const char *payload, size_t len,
				     const struct vg_topic *topic,
				     struct vg_unit_status *out);
/*
 * Encode as compact JSON into buf (NUL-terminated).  Returns the length, or
 * a negative VG_ERR_* (VG_ERR_RANGE when buf is too small, VG_ERR_INVAL when
 * a field is outside the contract).
 */
int vg_unit_status_encode(const struct vg_unit_status *st, char *buf,
			  size_t size);

enum vg_reject vg_presence_decode(const char *payload, size_t len,
				  const struct vg_topic *topic,
				  struct vg_presence *out);
int vg_presence_encode(const struct vg_presence *pr, char *buf, size_t size);
/* No health fields: every member -1 or "" (what the decoder starts from). */
void vg_health_clear(struct vg_health *h);

/*
 * Receipt, vigie/v1/receipt/{site} (gateway → agent, retained): the
 * highest seq the gateway has processed from that site and when (gateway
 * time).  An agent's record with seq <= this one is in the NOC's hands.
 */
struct vg_receipt {
	char site[VG_IDENT_MAX + 1];
	int64_t seq;
	int64_t ts;
};

enum vg_reject vg_receipt_decode(const char *payload, size_t len,
				 const struct vg_topic *topic,
				 struct vg_receipt *out);
int vg_receipt_encode(const struct vg_receipt *rc, char *buf, size_t size);

#endif
