/*
 * Quebec's civil calendar, whatever the server's time zone: the fiscal year
 * (April 1 - March 31), the target in force and its due date turn at
 * midnight in Quebec.  Conversions use the system's tz database (Debian
 * package tzdata), zone America/Toronto (Quebec's legal time; the old
 * America/Montreal is a link to it), read once from $TZDIR or
 * /usr/share/zoneinfo.  TZ and tzset() are never touched, so any thread may
 * call these at any time and the host's own local time keeps its meaning.
 */
#ifndef VIGIE_QCDATE_H
#define VIGIE_QCDATE_H

#include <stdint.h>

#include "vigie/timeutil.h"

#define VG_QC_ZONE "America/Toronto"

/* A Quebec civil date and time of day. */
struct vg_qc_time {
	struct vg_date date;
	int hh, mm, ss;
	int utoff; /* seconds east of UTC: -18000 (EST) or -14400 (EDT) */
};

/*
 * Read the zone, once per process (later calls return the first result):
 * VG_ERR_IO when the file cannot be read, VG_ERR_PARSE or VG_ERR_RANGE when
 * it is not a TZif file this reader takes.  The conversions call it; a
 * program calls it at startup to refuse to run without the calendar.
 */
int vg_qc_load(void);

/* Quebec civil date and time of Unix time t (VG_TIME_MIN..VG_TIME_MAX). */
int vg_qc_local(int64_t t, struct vg_qc_time *out);
/* Quebec civil date of Unix time t: what "today" is for the fiscal logic. */
int vg_qc_date_of(int64_t t, struct vg_date *out);

/*
 * Unix time of a Quebec civil date and time (years 0..9999).  A time that
 * happens twice (the autumn hour) gives the first; a time skipped in spring
 * is read with the offset before the change (02:30 becomes 03:30 EDT).
 * Midnight is neither under today's rules.
 */
int vg_qc_unix(const struct vg_date *d, int hh, int mm, int ss, int64_t *t);

#endif
