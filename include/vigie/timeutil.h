/*
 * Calendar arithmetic and RFC 3339 UTC timestamps, without the C library's
 * time zone state: the wire contract only ever speaks UTC ("...Z"), and the
 * fiscal-year logic works on civil dates, so both stay pure functions that
 * tests can drive at any instant.
 */
#ifndef VIGIE_TIMEUTIL_H
#define VIGIE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "2026-11-22T18:00:00Z" plus NUL */
#define VG_TIME_LEN 21
/* The instants RFC 3339 can write: 0000-01-01T00:00:00Z..9999-12-31T23:59:59Z */
#define VG_TIME_MIN (-62167219200LL)
#define VG_TIME_MAX 253402300799LL

struct vg_date {
	int y;
	int m; /* 1..12 */
	int d; /* 1..31 */
};

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t vg_days_from_civil(int y, int m, int d);
void vg_civil_from_days(int64_t days, struct vg_date *out);
/* UTC date of a Unix time. */
void vg_date_of_time(int64_t t, struct vg_date *out);

/*
 * Format Unix seconds as RFC 3339 UTC; buf must hold VG_TIME_LEN bytes.
 * VG_ERR_RANGE (buf untouched) outside VG_TIME_MIN..VG_TIME_MAX.
 */
int vg_time_format(int64_t t, char *buf, size_t size);
/*
 * Parse a strict RFC 3339 UTC timestamp "YYYY-MM-DDTHH:MM:SS[.frac]Z" of
 * exactly len bytes into Unix seconds (the fraction is dropped).  A leap
 * second, 23:59:60 on a month's last day, is read as 23:59:59.
 */
int vg_time_parse(const char *s, size_t len, int64_t *t);
/* Parse "YYYY-MM-DD" (whole string) and check the day exists. */
int vg_date_parse(const char *s, struct vg_date *out);

/* Wall clock in Unix seconds / milliseconds. */
int64_t vg_now(void);
int64_t vg_now_ms(void);
/* Monotonic milliseconds, for timers and rate limits. */
int64_t vg_mono_ms(void);
/* The moment ms (>= 0) milliseconds from now on clk, normalized, as
 * pthread_cond_timedwait takes it (the condition variable's clock). */
void vg_deadline(clockid_t clk, int64_t ms, struct timespec *out);

#endif
