/*
 * Receipt codec: vigie/v1/receipt/{site}, the highest seq the gateway has
 * processed from a site.  The agent reads it to tell a technician that the
 * NOC (not just the broker) has a mark.
 */
#include <string.h>

#include "json.h"
#include "vigie/err.h"
#include "vigie/str.h"
#include "vigie/timeutil.h"

enum { F_V, F_SITE, F_SEQ, F_TS };

static const char *const fields[] = { "v", "site", "seq", "ts", NULL };

#define REQUIRED ((1u << F_V) | (1u << F_SITE) | (1u << F_SEQ) | \
		  (1u << F_TS))

/* "v" is checked by vg_json_decode_fields. */
static enum vg_reject one_field(int f, const cJSON *it, void *out)
{
	struct vg_receipt *o = out;

	if (f == F_SITE)
		return vg_json_ident(it, o->site, sizeof(o->site));
	if (f == F_SEQ)
		return vg_json_range(it, 0, VG_SEQ_MAX, &o->seq);
	return vg_json_time(it, &o->ts);
}

enum vg_reject vg_receipt_decode(const char *payload, size_t len,
				 const struct vg_topic *topic,
				 struct vg_receipt *out)
{
	enum vg_reject r = vg_json_decode_fields(payload, len, fields,
						 REQUIRED, one_field, out,
						 sizeof(*out));
	return r != VG_REJ_NONE ? r
		: vg_json_topic_site(topic, VG_TOPIC_RECEIPT, out->site);
}

int vg_receipt_encode(const struct vg_receipt *rc, char *buf, size_t size)
{
	char ts[VG_TIME_LEN];
	struct vg_jw w;

	if (!vg_ident_valid(rc->site, strlen(rc->site)) || rc->seq < 0 ||
	    rc->seq > VG_SEQ_MAX || vg_time_format(rc->ts, ts, sizeof(ts)) < 0)
		return VG_ERR_INVAL;
	vg_jw_init(&w, buf, size);
	vg_jw_printf(&w, "{\"v\":1,\"site\":\"%s\",\"seq\":%lld,\"ts\":\"%s\"}",
		     rc->site, (long long)rc->seq, ts);
	return vg_jw_finish(&w);
}
