/*
 * MQTT topics of the wire contract, built and parsed in one place:
 *   [prefix/]vigie/v1/unit/{program}/{region}/{site}/{unit}
 *   [prefix/]vigie/v1/agent/{site}
 *   [prefix/]vigie/v1/receipt/{site}
 *   [prefix/]vigie/v1/summary/{program}/{region|all}
 *   [prefix/]vigie/v1/event/{program}/{region|all}
 *   [prefix/]vigie/v1/gateway/{id}
 *   [prefix/]vigie/v1/bridge/{region}   (a regional bridge's notification)
 * The prefix (possibly empty) is given without a trailing '/'.
 */
#ifndef VIGIE_TOPIC_H
#define VIGIE_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#include "vigie/domain.h"
#include "vigie/ident.h"

#define VG_TOPIC_ROOT "vigie/v1"
#define VG_PREFIX_MAX 64
#define VG_TOPIC_MAX 256

enum vg_topic_kind {
	VG_TOPIC_UNIT = 1,
	VG_TOPIC_AGENT,
	VG_TOPIC_SUMMARY,
	VG_TOPIC_EVENT,
	VG_TOPIC_GATEWAY,
	VG_TOPIC_RECEIPT,
	VG_TOPIC_BRIDGE
};

struct vg_topic {
	enum vg_topic_kind kind;
	enum vg_program program;       /* unit, summary, event */
	int region;                    /* 1..17; 0 = all (summary, event);
					  unit and bridge: 1..17 */
	char site[VG_IDENT_MAX + 1];   /* unit, agent, receipt */
	char unit[VG_IDENT_MAX + 1];   /* unit */
	char id[VG_IDENT_MAX + 1];     /* gateway */
};

/*
 * Parse a topic of len bytes.  Returns 0, or VG_ERR_INVAL when the topic is
 * not one of the contract's (wrong prefix, unknown kind, bad segment).
 */
int vg_topic_parse(const char *prefix, const char *topic, size_t len,
		   struct vg_topic *out);

/* Builders write a NUL-terminated topic; VG_ERR_RANGE if buf is short. */
int vg_topic_unit(char *buf, size_t size, const char *prefix,
		  enum vg_program p, int region, const char *site,
		  const char *unit);
int vg_topic_agent(char *buf, size_t size, const char *prefix,
		   const char *site);
int vg_topic_summary(char *buf, size_t size, const char *prefix,
		     enum vg_program p, int region);
int vg_topic_event(char *buf, size_t size, const char *prefix,
		   enum vg_program p, int region);
int vg_topic_receipt(char *buf, size_t size, const char *prefix,
		     const char *site);
int vg_topic_gateway(char *buf, size_t size, const char *prefix,
		     const char *id);
/* A regional bridge's notification topic; region 1..17. */
int vg_topic_bridge(char *buf, size_t size, const char *prefix, int region);
/* Subscription filter for a kind, e.g. "pfx/vigie/v1/unit/#". */
int vg_topic_filter(char *buf, size_t size, const char *prefix,
		    const char *kind);
/* A prefix is valid when empty or made of identifier segments split by '/'. */
bool vg_prefix_valid(const char *prefix);

#endif
