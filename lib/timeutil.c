/*
 * Civil-date arithmetic (Howard Hinnant's days_from_civil algorithm) and
 * strict RFC 3339 UTC.  Pure integer code: no timegm(), no TZ state, so the
 * same function serves the agent, the gateway and the tests.
 */
#include "vigie/timeutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "vigie/err.h"

int64_t vg_days_from_civil(int y, int m, int d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t mp = (m + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void vg_civil_from_days(int64_t z, struct vg_date *out)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	out->y = (int)(yoe + era * 400 + (m <= 2));
	out->m = (int)m;
	out->d = (int)d;
}

void vg_date_of_time(int64_t t, struct vg_date *out)
{
	int64_t days = (t >= 0 ? t : t - 86399) / 86400;
	vg_civil_from_days(days, out);
}

static int days_in_month(int y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return (m == 2 && leap) ? 29 : dim[m - 1];
}

int vg_time_format(int64_t t, char *buf, size_t size)
{
	struct vg_date d;
	int64_t secs = ((t % 86400) + 86400) % 86400;

	/* checked before any arithmetic: t - 86399 overflows near INT64_MIN */
	if (size < VG_TIME_LEN || t < VG_TIME_MIN || t > VG_TIME_MAX)
		return VG_ERR_RANGE;
	vg_date_of_time(t, &d);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", d.y, d.m, d.d,
		 (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	return VG_TIME_LEN - 1;
}

/* Exactly n decimal digits at s into *v; false when one is not a digit. */
static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

static int date_fields(const char *s, struct vg_date *out)
{
	int y, m, d;

	if (!digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
	    !digits(s + 8, 2, &d) || m < 1 || m > 12 || d < 1 ||
	    s[4] != '-' || s[7] != '-')
		return VG_ERR_PARSE;
	if (d > days_in_month(y, m))
		return VG_ERR_PARSE;
	out->y = y;
	out->m = m;
	out->d = d;
	return VG_OK;
}

int vg_time_parse(const char *s, size_t len, int64_t *t)
{
	struct vg_date d;
	size_t i = 19;
	int hh, mm, ss;

	if (len < 20 || len > 40 || date_fields(s, &d) != VG_OK)
		return VG_ERR_PARSE;
	if (s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return VG_ERR_PARSE;
	if (!digits(s + 11, 2, &hh) || !digits(s + 14, 2, &mm) ||
	    !digits(s + 17, 2, &ss) || hh > 23 || mm > 59 || ss > 60)
		return VG_ERR_PARSE;
	/* a leap second is inserted only as 23:59:60 UTC, at a month's end */
	if (ss == 60 && (hh != 23 || mm != 59 ||
			 d.d != days_in_month(d.y, d.m)))
		return VG_ERR_PARSE;
	if (s[i] == '.') {
		i++;
		size_t start = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return VG_ERR_PARSE;
	}
	if (i != len - 1 || s[i] != 'Z')
		return VG_ERR_PARSE;
	if (ss == 60) /* held at :59, as POSIX time has no :60 */
		ss = 59;
	*t = vg_days_from_civil(d.y, d.m, d.d) * 86400 + (int64_t)hh * 3600 +
	     (int64_t)mm * 60 + ss;
	return VG_OK;
}

int vg_date_parse(const char *s, struct vg_date *out)
{
	size_t len = 0;

	while (len < 11 && s[len])
		len++;
	if (len != 10)
		return VG_ERR_PARSE;
	return date_fields(s, out);
}

int64_t vg_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t vg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t vg_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vg_deadline(clockid_t clk, int64_t ms, struct timespec *out)
{
	clock_gettime(clk, out);
	out->tv_sec += (time_t)(ms / 1000);
	out->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (out->tv_nsec >= 1000000000L) {
		out->tv_sec++;
		out->tv_nsec -= 1000000000L;
	}
}
