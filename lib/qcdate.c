/*
 * Quebec civil time from the system's tz database: a small reader of the
 * TZif file (RFC 8536) of America/Toronto, its transitions and the POSIX TZ
 * rule of its footer (for instants after the last transition).  It is read
 * once (pthread_once) into a table that never changes afterwards, so the
 * conversions are pure lookups, safe from any thread, and never depend on
 * TZ, tzset() or the server's zone.
 *
 * Why not a library: glibc converts only in the process-wide zone (no
 * tzalloc/localtime_rz); ICU (libicu72) converts with its own copy of the
 * rules, not tzdata's; GLib's GTimeZone reads tzdata's files but would be
 * a new dependency of lib/, which the field boards build too (their
 * sysroots have no GLib), for two conversions.  Setting TZ at startup
 * would change what "local time" means for the whole process.  The format
 * is small and fixed; tests/unit/test_qcdate.c holds this reader against
 * glibc on the same files.
 */
#include "vigie/qcdate.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"

#define ZONE_DIR "/usr/share/zoneinfo"
#define FILE_MAX ((size_t)64 * 1024)
#define TRANS_MAX 2000 /* America/Toronto has about 240 */
#define TYPES_MAX 256  /* the format's own limit */
#define CHARS_MAX 4096
#define DAY 86400

/* A POSIX TZ rule date: Jn (1..365, no Feb 29), n (0..365) or Mm.w.d. */
struct rule {
	char kind; /* 'J', 'N' or 'M' */
	int n, m, w, d;
	int32_t secs; /* local time of day of the change, may exceed a day */
};

/* The footer: the rule in force after the last transition. */
struct footer {
	bool set, dst;
	int32_t std_off, dst_off; /* seconds east of UTC */
	struct rule start, end;   /* into and out of DST */
};

struct zone {
	int n;
	int64_t at[TRANS_MAX];
	int32_t off[TRANS_MAX]; /* offset in force from at[i] on */
	int32_t first_off;      /* before at[0]: the file's first type */
	struct footer tail;
};

struct hdr {
	int version;
	uint32_t isut, isstd, leap, time, type, chars;
};

/* A bounded reader over the file's bytes. */
struct cur {
	const unsigned char *p;
	size_t left;
};

static struct zone zone;
static int zone_rc;
static pthread_once_t zone_once = PTHREAD_ONCE_INIT;

static const unsigned char *take(struct cur *c, size_t n)
{
	const unsigned char *p = c->p;

	if (n > c->left)
		return NULL;
	c->p += n;
	c->left -= n;
	return p;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int read_header(struct cur *c, struct hdr *h)
{
	const unsigned char *p = take(c, 44);

	if (!p || memcmp(p, "TZif", 4) != 0)
		return VG_ERR_PARSE;
	h->version = p[4];
	h->isut = be32(p + 20);
	h->isstd = be32(p + 24);
	h->leap = be32(p + 28);
	h->time = be32(p + 32);
	h->type = be32(p + 36);
	h->chars = be32(p + 40);
	/* leap seconds ("right/" zones) count time differently from POSIX */
	if (h->leap != 0 || h->type == 0 || h->type > TYPES_MAX ||
	    h->chars > CHARS_MAX || (h->isut && h->isut != h->type) ||
	    (h->isstd && h->isstd != h->type))
		return VG_ERR_PARSE;
	return h->time > TRANS_MAX ? VG_ERR_RANGE : VG_OK;
}

/* Bytes of a data block after the transition times and their types. */
static size_t block_tail(const struct hdr *h)
{
	return (size_t)h->type * 6 + h->chars + h->isstd + h->isut;
}

/* A data block's transitions and offsets; tsize is 4 (v1) or 8 bytes. */
static int read_block(struct cur *c, const struct hdr *h, size_t tsize,
		      struct zone *z)
{
	const unsigned char *at = take(c, h->time * tsize);
	const unsigned char *idx = take(c, h->time);
	const unsigned char *types = take(c, block_tail(h));
	int32_t off[TYPES_MAX];

	if (!at || !idx || !types)
		return VG_ERR_PARSE;
	for (size_t i = 0; i < h->type; i++) {
		off[i] = (int32_t)be32(types + 6 * i);
		if (off[i] <= -25 * 3600 || off[i] >= 26 * 3600)
			return VG_ERR_PARSE;
	}
	z->first_off = off[0];
	z->n = (int)h->time;
	for (size_t i = 0; i < h->time; i++) {
		z->at[i] = tsize == 8 ? be64(at + 8 * i)
				      : (int64_t)(int32_t)be32(at + 4 * i);
		if (idx[i] >= h->type || (i > 0 && z->at[i] <= z->at[i - 1]))
			return VG_ERR_PARSE;
		z->off[i] = off[idx[i]];
	}
	return VG_OK;
}

/* Read digits as a number no larger than max. */
static bool tz_num(const char **s, int max, int *v)
{
	const char *p = *s;

	*v = 0;
	while (*p >= '0' && *p <= '9' && *v <= max)
		*v = *v * 10 + (*p++ - '0');
	if (p == *s || *v > max)
		return false;
	*s = p;
	return true;
}

/* [+-]hh[:mm[:ss]] in seconds, hours at most maxh. */
static bool tz_hms(const char **s, int maxh, int32_t *secs)
{
	int sign = **s == '-' ? -1 : 1, h, m = 0, x = 0;

	if (**s == '-' || **s == '+')
		(*s)++;
	if (!tz_num(s, maxh, &h))
		return false;
	if (**s == ':' && (++*s, !tz_num(s, 59, &m)))
		return false;
	if (**s == ':' && (++*s, !tz_num(s, 59, &x)))
		return false;
	*secs = sign * (h * 3600 + m * 60 + x);
	return true;
}

/* A zone abbreviation: three letters or more, or <...> with digits/signs. */
static bool tz_name(const char **s)
{
	const char *p = *s;
	bool quoted = *p == '<';

	if (quoted)
		p++;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
	       (quoted && ((*p >= '0' && *p <= '9') || *p == '+' || *p == '-')))
		p++;
	if (p - *s < 3 + quoted || (quoted && *p++ != '>'))
		return false;
	*s = p;
	return true;
}

static bool tz_rule(const char **s, struct rule *r)
{
	bool ok;

	memset(r, 0, sizeof(*r));
	r->secs = 2 * 3600; /* POSIX's default: 02:00 */
	if (**s == 'M') {
		r->kind = 'M';
		++*s;
		ok = tz_num(s, 12, &r->m) && r->m >= 1 && *(*s)++ == '.' &&
		     tz_num(s, 5, &r->w) && r->w >= 1 && *(*s)++ == '.' &&
		     tz_num(s, 6, &r->d);
	} else if (**s == 'J') {
		r->kind = 'J';
		++*s;
		ok = tz_num(s, 365, &r->n) && r->n >= 1;
	} else {
		r->kind = 'N';
		ok = tz_num(s, 365, &r->n);
	}
	/* RFC 8536 extends the time of day to -167..167 hours */
	return ok && (**s != '/' || (++*s, tz_hms(s, 167, &r->secs)));
}

/* The footer's TZ string; empty means no rule after the last transition. */
static int tz_parse(const char *s, struct footer *f)
{
	int32_t west;

	memset(f, 0, sizeof(*f));
	if (!*s)
		return VG_OK;
	if (!tz_name(&s) || !tz_hms(&s, 24, &west))
		return VG_ERR_PARSE;
	f->set = true;
	f->std_off = -west; /* POSIX counts hours west of Greenwich */
	if (!*s)
		return VG_OK;
	f->dst = true;
	f->dst_off = f->std_off + 3600;
	if (!tz_name(&s))
		return VG_ERR_PARSE;
	if (*s != ',') {
		if (!tz_hms(&s, 24, &west))
			return VG_ERR_PARSE;
		f->dst_off = -west;
	}
	if (*s++ != ',' || !tz_rule(&s, &f->start) || *s++ != ',' ||
	    !tz_rule(&s, &f->end) || *s)
		return VG_ERR_PARSE;
	return VG_OK;
}

/* The footer: '\n', the TZ string, '\n'. */
static int read_footer(struct cur *c, struct footer *f)
{
	char s[128];
	size_t n = 0;

	if (c->left < 2 || c->p[0] != '\n')
		return VG_ERR_PARSE;
	while (n + 1 < c->left && c->p[n + 1] != '\n' && n < sizeof(s) - 1) {
		s[n] = (char)c->p[n + 1];
		n++;
	}
	if (n + 1 >= c->left || c->p[n + 1] != '\n')
		return VG_ERR_PARSE;
	s[n] = '\0';
	return tz_parse(s, f);
}

static int parse_zone(const unsigned char *buf, size_t len, struct zone *z)
{
	struct cur c = { buf, len };
	struct hdr h;
	int rc = read_header(&c, &h);

	memset(&z->tail, 0, sizeof(z->tail));
	if (rc != VG_OK)
		return rc;
	if (h.version == 0) /* version 1: 32-bit times, no footer */
		return read_block(&c, &h, 4, z);
	if (!take(&c, h.time * (size_t)5 + block_tail(&h)))
		return VG_ERR_PARSE;
	rc = read_header(&c, &h);
	if (rc == VG_OK)
		rc = read_block(&c, &h, 8, z);
	return rc == VG_OK ? read_footer(&c, &z->tail) : rc;
}

static int load_file(const char *path, struct zone *z)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	size_t n;
	int rc = VG_ERR_NOMEM;

	if (!f)
		return VG_ERR_IO;
	buf = malloc(FILE_MAX + 1);
	if (buf) {
		n = fread(buf, 1, FILE_MAX + 1, f);
		rc = ferror(f) ? VG_ERR_IO
		     : n > FILE_MAX ? VG_ERR_RANGE : parse_zone(buf, n, z);
	}
	free(buf);
	fclose(f);
	return rc;
}

static void load_once(void)
{
	/* TZDIR as glibc reads it: where the tz database is, if elsewhere */
	const char *dir = getenv("TZDIR");
	char path[512];
	int n = snprintf(path, sizeof(path), "%s/%s",
			 dir && *dir ? dir : ZONE_DIR, VG_QC_ZONE);

	zone_rc = (n < 0 || (size_t)n >= sizeof(path)) ? VG_ERR_RANGE
						       : load_file(path, &zone);
}

int vg_qc_load(void)
{
	pthread_once(&zone_once, load_once);
	return zone_rc;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of the rule's date in year y. */
static int64_t rule_day(const struct rule *r, int y)
{
	int64_t first, next;
	int d;

	if (r->kind == 'J')
		return vg_days_from_civil(y, 1, 1) + r->n - 1 +
		       (leap_year(y) && r->n >= 60);
	if (r->kind == 'N')
		return vg_days_from_civil(y, 1, 1) + r->n;
	first = vg_days_from_civil(y, r->m, 1);
	next = r->m == 12 ? vg_days_from_civil(y + 1, 1, 1)
			  : vg_days_from_civil(y, r->m + 1, 1);
	/* 1970-01-01 was a Thursday (4); week 5 means the last */
	d = (int)((r->d - (first % 7 + 7 + 4) % 7 + 7) % 7) + (r->w - 1) * 7;
	while (first + d >= next)
		d -= 7;
	return first + d;
}

/* The footer's offset at t: the latest change at or before t decides. */
static int32_t footer_off(const struct footer *f, int64_t t)
{
	int64_t best = INT64_MIN;
	bool dst = false;
	struct vg_date d;

	if (!f->dst)
		return f->std_off;
	vg_date_of_time(t, &d);
	for (int y = d.y - 1; y <= d.y + 1; y++) {
		/* into DST on standard time, out of it on DST */
		int64_t on = rule_day(&f->start, y) * DAY + f->start.secs -
			     f->std_off;
		int64_t off = rule_day(&f->end, y) * DAY + f->end.secs -
			      f->dst_off;
		if (off <= t && off > best) {
			best = off;
			dst = false;
		}
		if (on <= t && on >= best) { /* a tie: DST all year */
			best = on;
			dst = true;
		}
	}
	return dst ? f->dst_off : f->std_off;
}

static int32_t offset_at(const struct zone *z, int64_t t)
{
	int lo = 0, hi = z->n - 1;

	if (z->n == 0)
		return z->tail.set ? footer_off(&z->tail, t) : z->first_off;
	if (t < z->at[0])
		return z->first_off;
	if (t >= z->at[hi] && z->tail.set)
		return footer_off(&z->tail, t);
	while (lo < hi) { /* the last transition at or before t */
		int mid = lo + (hi - lo + 1) / 2;
		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return z->off[lo];
}

int vg_qc_local(int64_t t, struct vg_qc_time *out)
{
	int rc = vg_qc_load();
	int64_t l, days, secs;

	if (rc != VG_OK)
		return rc;
	if (t < VG_TIME_MIN || t > VG_TIME_MAX)
		return VG_ERR_RANGE;
	out->utoff = offset_at(&zone, t);
	l = t + out->utoff;
	days = (l >= 0 ? l : l - (DAY - 1)) / DAY;
	secs = l - days * DAY;
	vg_civil_from_days(days, &out->date);
	out->hh = (int)(secs / 3600);
	out->mm = (int)(secs / 60 % 60);
	out->ss = (int)(secs % 60);
	return VG_OK;
}

int vg_qc_date_of(int64_t t, struct vg_date *out)
{
	struct vg_qc_time lt;
	int rc = vg_qc_local(t, &lt);

	if (rc == VG_OK)
		*out = lt.date;
	return rc;
}

int vg_qc_unix(const struct vg_date *d, int hh, int mm, int ss, int64_t *t)
{
	int rc = vg_qc_load();
	int64_t l, t1, t2;
	int32_t before, after;
	bool ok1, ok2;

	if (rc != VG_OK)
		return rc;
	if (d->y < 0 || d->y > 9999 || d->m < 1 || d->m > 12 || d->d < 1 ||
	    d->d > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 ||
	    ss > 59)
		return VG_ERR_RANGE;
	l = vg_days_from_civil(d->y, d->m, d->d) * DAY + (int64_t)hh * 3600 +
	    (int64_t)mm * 60 + ss;
	/* the offsets a day either side: a change in between is a gap or a
	 * fold (America/Toronto never changed twice within two days) */
	before = offset_at(&zone, l - DAY);
	after = offset_at(&zone, l + DAY);
	t1 = l - before;
	t2 = l - after;
	ok1 = offset_at(&zone, t1) == before;
	ok2 = offset_at(&zone, t2) == after;
	/* a fold gives its first instant; a gap, t1 (past the change) */
	*t = (ok2 && !ok1) || (ok1 && ok2 && t2 < t1) ? t2 : t1;
	return VG_OK;
}
