/*
 * Topic building and parsing.  Parsing walks the segments once, without
 * copying the topic, because the gateway runs it on every message.
 */
#include "vigie/topic.h"

#include <stdio.h>
#include <string.h>

#include "vigie/err.h"
#include "vigie/region.h"
#include "vigie/str.h"

#define MAX_SEGS 8

struct seg {
	const char *s;
	size_t len;
};

/* Split at '/': the segments, at most MAX_SEGS; VG_ERR_RANGE if more. */
static int split(const char *t, size_t len, struct seg *segs)
{
	int n = 0;
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || t[i] == '/') {
			if (n == MAX_SEGS)
				return VG_ERR_RANGE;
			segs[n].s = t + start;
			segs[n].len = i - start;
			n++;
			start = i + 1;
		}
	}
	return n;
}

static int seg_is(const struct seg *g, const char *lit)
{
	size_t l = strlen(lit);
	return g->len == l && memcmp(g->s, lit, l) == 0;
}

/* An identifier segment into dst (VG_IDENT_MAX + 1 bytes). */
static int copy_ident(char *dst, const struct seg *g)
{
	if (!vg_ident_valid(g->s, g->len) ||
	    !vg_strslice(dst, VG_IDENT_MAX + 1, g->s, g->len))
		return VG_ERR_INVAL;
	return VG_OK;
}

/* Parse the part after "vigie/v1/": kind and its segments. */
static int parse_body(const struct seg *g, int n, struct vg_topic *out)
{
	int p, r;

	if (n == 5 && seg_is(&g[0], "unit")) {
		p = vg_program_parse(g[1].s, g[1].len);
		r = vg_region_parse(g[2].s, g[2].len);
		if (p < 0 || r < 0 || copy_ident(out->site, &g[3]) ||
		    copy_ident(out->unit, &g[4]))
			return VG_ERR_INVAL;
		out->kind = VG_TOPIC_UNIT;
	} else if (n == 2 && (seg_is(&g[0], "agent") ||
			      seg_is(&g[0], "receipt"))) {
		if (copy_ident(out->site, &g[1]))
			return VG_ERR_INVAL;
		out->kind = seg_is(&g[0], "agent") ? VG_TOPIC_AGENT
						   : VG_TOPIC_RECEIPT;
		return VG_OK;
	} else if (n == 2 && seg_is(&g[0], "bridge")) {
		r = vg_region_parse(g[1].s, g[1].len);
		if (r < 0)
			return VG_ERR_INVAL;
		out->kind = VG_TOPIC_BRIDGE;
		out->region = r;
		return VG_OK;
	} else if (n == 2 && seg_is(&g[0], "gateway")) {
		if (copy_ident(out->id, &g[1]))
			return VG_ERR_INVAL;
		out->kind = VG_TOPIC_GATEWAY;
		return VG_OK;
	} else if (n == 3 && (seg_is(&g[0], "summary") ||
			      seg_is(&g[0], "event"))) {
		p = vg_program_parse(g[1].s, g[1].len);
		r = vg_region_parse_or_all(g[2].s, g[2].len);
		if (p < 0 || r < 0)
			return VG_ERR_INVAL;
		out->kind = seg_is(&g[0], "summary") ? VG_TOPIC_SUMMARY
						     : VG_TOPIC_EVENT;
	} else {
		return VG_ERR_INVAL;
	}
	out->program = (enum vg_program)p;
	out->region = r;
	return VG_OK;
}

int vg_topic_parse(const char *prefix, const char *topic, size_t len,
		   struct vg_topic *out)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	struct seg g[MAX_SEGS];
	int n;

	memset(out, 0, sizeof(*out));
	if (plen > 0) {
		if (len <= plen || memcmp(topic, prefix, plen) != 0 ||
		    topic[plen] != '/')
			return VG_ERR_INVAL;
		topic += plen + 1;
		len -= plen + 1;
	}
	n = split(topic, len, g);
	if (n < 4 || !seg_is(&g[0], "vigie") || !seg_is(&g[1], "v1"))
		return VG_ERR_INVAL;
	return parse_body(g + 2, n - 2, out);
}

/* snprintf into buf with the optional prefix; VG_ERR_RANGE on truncation. */
static int build(char *buf, size_t size, const char *prefix, const char *rest)
{
	int n;

	if (prefix && *prefix)
		n = snprintf(buf, size, "%s/" VG_TOPIC_ROOT "/%s", prefix, rest);
	else
		n = snprintf(buf, size, VG_TOPIC_ROOT "/%s", rest);
	return (n < 0 || (size_t)n >= size) ? VG_ERR_RANGE : n;
}

int vg_topic_unit(char *buf, size_t size, const char *prefix,
		  enum vg_program p, int region, const char *site,
		  const char *unit)
{
	char rest[VG_TOPIC_MAX];
	const char *pn = vg_program_name(p);

	if (!pn || region < 1 || region > VG_REGION_COUNT ||
	    !vg_ident_valid(site, strlen(site)) ||
	    !vg_ident_valid(unit, strlen(unit)))
		return VG_ERR_INVAL;
	snprintf(rest, sizeof(rest), "unit/%s/%s/%s/%s", pn,
		 vg_region_code(region), site, unit);
	return build(buf, size, prefix, rest);
}

/* kind/{site}: agent presence and receipts. */
static int per_site(char *buf, size_t size, const char *prefix,
		    const char *kind, const char *site)
{
	char rest[VG_TOPIC_MAX];

	if (!vg_ident_valid(site, strlen(site)))
		return VG_ERR_INVAL;
	snprintf(rest, sizeof(rest), "%s/%s", kind, site);
	return build(buf, size, prefix, rest);
}

int vg_topic_agent(char *buf, size_t size, const char *prefix,
		   const char *site)
{
	return per_site(buf, size, prefix, "agent", site);
}

int vg_topic_receipt(char *buf, size_t size, const char *prefix,
		     const char *site)
{
	return per_site(buf, size, prefix, "receipt", site);
}

static int prog_region(char *buf, size_t size, const char *prefix,
		       const char *kind, enum vg_program p, int region)
{
	char rest[VG_TOPIC_MAX];
	const char *pn = vg_program_name(p);
	const char *rc = vg_region_code(region);

	if (!pn || !rc)
		return VG_ERR_INVAL;
	snprintf(rest, sizeof(rest), "%s/%s/%s", kind, pn, rc);
	return build(buf, size, prefix, rest);
}

int vg_topic_summary(char *buf, size_t size, const char *prefix,
		     enum vg_program p, int region)
{
	return prog_region(buf, size, prefix, "summary", p, region);
}

int vg_topic_event(char *buf, size_t size, const char *prefix,
		   enum vg_program p, int region)
{
	return prog_region(buf, size, prefix, "event", p, region);
}

int vg_topic_gateway(char *buf, size_t size, const char *prefix,
		     const char *id)
{
	char rest[VG_TOPIC_MAX];

	if (!vg_ident_valid(id, strlen(id)))
		return VG_ERR_INVAL;
	snprintf(rest, sizeof(rest), "gateway/%s", id);
	return build(buf, size, prefix, rest);
}

int vg_topic_bridge(char *buf, size_t size, const char *prefix, int region)
{
	char rest[VG_TOPIC_MAX];
	const char *rc = region == VG_REGION_ALL ? NULL
						 : vg_region_code(region);

	if (!rc)
		return VG_ERR_INVAL;
	snprintf(rest, sizeof(rest), "bridge/%s", rc);
	return build(buf, size, prefix, rest);
}

int vg_topic_filter(char *buf, size_t size, const char *prefix,
		    const char *kind)
{
	char rest[VG_TOPIC_MAX];

	snprintf(rest, sizeof(rest), "%s/#", kind);
	return build(buf, size, prefix, rest);
}

bool vg_prefix_valid(const char *prefix)
{
	struct seg g[MAX_SEGS];
	size_t len = strlen(prefix);
	int n;

	if (len == 0)
		return true;
	if (len > VG_PREFIX_MAX)
		return false;
	n = split(prefix, len, g);
	if (n < 0)
		return false;
	for (int i = 0; i < n; i++) {
		if (!vg_ident_valid(g[i].s, g[i].len))
			return false;
	}
	return true;
}
