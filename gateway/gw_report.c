/*
 * vigie-gateway report: each region's figures as of the end of a date,
 * rebuilt from the transitions recorded in SQLite (no broker needed), e.g.
 * the official figure at a fiscal year end.  A unit's state as of the
 * cutoff is that of its last transition at or before it (by the time the
 * gateway applied it, never a time the payload claims); a unit whose last
 * transition is a removal does not count.  Targets are those of the fiscal
 * year containing the date.  Staleness is not historical: reports say 0.
 * Dates and times are Quebec's, whatever the server's zone: the day ends
 * at midnight in Quebec, as the fiscal year does (vigie/qcdate.h).
 *
 * A region with nothing eligible (before the first record, or no units)
 * says "no data", never "met": 0 of 0 is vacuously met on the wire
 * (docs/protocol.md) but is no achievement to report.  Every format states
 * when the data start.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "gw_opts.h"
#include "gw_report.h"
#include "gw_store.h"
#include "vigie/arith.h"
#include "vigie/err.h"
#include "vigie/qcdate.h"
#include "vigie/region.h"
#include "vigie/timeutil.h"

enum fmt { FMT_TABLE, FMT_CSV, FMT_JSON };

struct report {
	struct vg_date as_of;
	int program; /* -1: both */
	enum fmt fmt;
	bool en;
	const char *data_dir;
	const char *targets_file;
	int64_t cutoff; /* first second after the date, in Quebec */
	bool has_data;      /* at least one transition recorded */
	int64_t data_since; /* the first transition's time */
	struct vg_counts counts[VG_PROG_COUNT][(VG_REGION_COUNT + 1)];
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: vigie-gateway report [--as-of YYYY-MM-DD] [--program renir|rgt]\n"
"                            [--format table|csv|json] [--lang fr|en]\n"
"                            [--data-dir DIR] [--targets FILE]\n"
"\n"
"Each region's state at the end of the day DATE (Quebec time, whatever\n"
"the server's zone; default today), rebuilt from the transitions in\n"
"DIR/vigie.db, held against the target of DATE's fiscal year.  Needs no\n"
"broker.\n");
}

/* Without the tz database no date can be placed: refuse, never guess. */
static int no_calendar(void)
{
	fprintf(stderr, "vigie-gateway report: cannot read the time zone "
		VG_QC_ZONE " (Debian package tzdata): %s\n",
		vg_strerror(vg_qc_load()));
	return VG_ERR_IO;
}

/* The end of DATE in Quebec: midnight there, the day after. */
static int quebec_cutoff(struct report *r)
{
	struct vg_date next;

	vg_civil_from_days(vg_days_from_civil(r->as_of.y, r->as_of.m,
					      r->as_of.d) + 1, &next);
	return vg_qc_unix(&next, 0, 0, 0, &r->cutoff);
}

/* One option; returns an error message or NULL (exits for --help). */
static const char *parse_one(void *ctx, int c, const char *a)
{
	struct report *r = ctx;

	switch (c) {
	case 'h':
		usage(stdout);
		exit(0);
	case 'a':
		return vg_date_parse(a, &r->as_of) ? "--as-of wants YYYY-MM-DD"
						   : NULL;
	case 'p':
		r->program = vg_program_parse(a, strlen(a));
		return r->program < 0 ? "--program wants renir or rgt" : NULL;
	case 'f':
		r->fmt = !strcmp(a, "table") ? FMT_TABLE :
			 !strcmp(a, "csv") ? FMT_CSV :
			 !strcmp(a, "json") ? FMT_JSON : (enum fmt)-1;
		return (int)r->fmt < 0 ? "--format wants table, csv or json"
				       : NULL;
	case 'l':
		r->en = !strcmp(a, "en");
		return (r->en || !strcmp(a, "fr")) ? NULL
						   : "--lang wants fr or en";
	case 'd': r->data_dir = a; return NULL;
	case 't': r->targets_file = a; return NULL;
	default: return "unknown option (see report --help)";
	}
}

static int parse_args(struct report *r, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "as-of", required_argument, NULL, 'a' },
		{ "program", required_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'f' },
		{ "lang", required_argument, NULL, 'l' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "targets", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	memset(r, 0, sizeof(*r));
	r->program = -1;
	r->data_dir = ".";
	if (vg_qc_date_of(vg_now(), &r->as_of) != VG_OK)
		return no_calendar();
	if (gw_opts_walk(argc, argv, lo, "vigie-gateway report", parse_one,
			 r) != VG_OK)
		return VG_ERR_INVAL;
	return quebec_cutoff(r) == VG_OK ? VG_OK : no_calendar();
}

/* Count every unit's state as of the cutoff from the transition log. */
static int tally(struct report *r, sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db,
		"SELECT program, region, to_state FROM (SELECT program, region,"
		" to_state, ROW_NUMBER() OVER (PARTITION BY program, site, unit"
		" ORDER BY at DESC, id DESC) AS rn FROM transition WHERE at < ?)"
		" WHERE rn = 1 AND to_state IS NOT NULL", -1, &s, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "vigie-gateway report: %s\n",
			sqlite3_errmsg(db));
		return VG_ERR_IO;
	}
	sqlite3_bind_int64(s, 1, r->cutoff);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(s, 0);
		const char *g = (const char *)sqlite3_column_text(s, 1);
		const char *st = (const char *)sqlite3_column_text(s, 2);
		int pi = p ? vg_program_parse(p, strlen(p)) : -1;
		int ri = g ? vg_region_parse(g, strlen(g)) : -1;
		int si = st ? vg_state_parse(st, strlen(st)) : -1;
		if (pi < 0 || ri < 0 || si < 0)
			continue;
		r->counts[pi][ri].n[si]++;
		r->counts[pi][VG_REGION_ALL].n[si]++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? VG_OK : VG_ERR_IO;
}

/* When the recorded data start: the first transition, if any. */
static int first_record(struct report *r, sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT MIN(at) FROM transition", -1, &s,
			       NULL) != SQLITE_OK)
		return VG_ERR_IO;
	rc = sqlite3_step(s);
	r->has_data = rc == SQLITE_ROW &&
		      sqlite3_column_type(s, 0) != SQLITE_NULL;
	if (r->has_data)
		r->data_since = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? VG_OK : VG_ERR_IO;
}

/* 0 of 0 is met only vacuously: reports say there is nothing to judge. */
static bool no_data(const struct vg_summary *s)
{
	return s->eligible == 0;
}

/* printf's widths count bytes; names like "Montréal" need columns. */
static void put_padded(const char *s, int width)
{
	int cols = 0;

	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		cols += (*c & 0xc0) != 0x80;
	fputs(s, stdout);
	for (; cols < width; cols++)
		putchar(' ');
}

static void pct_text(bool has, uint32_t bp, bool fr, char *buf, size_t n)
{
	char *dot;

	if (!has) {
		snprintf(buf, n, "—");
		return;
	}
	vg_bp_format(bp, buf, n);
	dot = strchr(buf, '.');
	if (fr && dot)
		*dot = ','; /* French decimal comma */
}

static void table_row(const struct report *r, const struct vg_summary *s)
{
	const struct vg_summary_target *t =
		s->current >= 0 ? &s->targets[s->current] : NULL;
	char label[96], pct[16], tgt[16];

	if (s->region == VG_REGION_ALL)
		snprintf(label, sizeof(label), "%s",
			 r->en ? vg_region_name_en(0) : vg_region_name(0));
	else
		snprintf(label, sizeof(label), "%s %s",
			 vg_region_code(s->region), vg_region_name(s->region));
	pct_text(s->has_percent, s->percent_bp, !r->en, pct, sizeof(pct));
	pct_text(t != NULL, t ? t->bp : 0, !r->en, tgt, sizeof(tgt));
	put_padded(label, 34);
	printf("%11llu %9llu %8s %8s  ", (unsigned long long)s->eligible,
	       (unsigned long long)s->migrated, pct, tgt);
	if (t && no_data(s)) {
		put_padded(r->en ? "no data" : "aucune donnée", 13);
		printf("%10s\n", "—"); /* "—" is 3 bytes, 1 column */
		return;
	}
	put_padded(!t ? "—" : t->met ? (r->en ? "✔ met" : "✔ atteinte")
				     : (r->en ? "✖ behind" : "✖ en retard"), 13);
	printf("%8llu\n", t ? (unsigned long long)t->units_needed : 0ULL);
}

/* The table's first line: when the data start, and whether DATE is
 * before them. */
static void table_since(const struct report *r)
{
	struct vg_qc_time lt;

	if (!r->has_data) {
		puts(r->en ? "No data recorded." : "Aucune donnée enregistrée.");
		return;
	}
	/* fails only past year 9999, a corrupt store: zeros then */
	if (vg_qc_local(r->data_since, &lt) != VG_OK)
		memset(&lt, 0, sizeof(lt));
	printf(r->en ? "Data since %04d-%02d-%02d %02d:%02d (Quebec time).\n"
		     : "Données depuis le %04d-%02d-%02d %02d:%02d (heure du "
		       "Québec).\n",
	       lt.date.y, lt.date.m, lt.date.d, lt.hh, lt.mm);
	if (r->cutoff <= r->data_since)
		puts(r->en ? "No data on this date: it is before the first "
			     "record."
			   : "Aucune donnée à cette date : elle précède le "
			     "premier enregistrement.");
}

static void table_head(const struct report *r, int p, int fy)
{
	char fys[16];

	vg_fy_format(fy, fys, sizeof(fys));
	printf("\n%s — %s %04d-%02d-%02d (%s), %s %s\n",
	       p == VG_PROG_RENIR ? "RENIR" : "RGT",
	       r->en ? "as of the end of" : "état à la fin du",
	       r->as_of.y, r->as_of.m, r->as_of.d,
	       r->en ? "Quebec time" : "heure du Québec",
	       r->en ? "fiscal year" : "exercice", fys);
	put_padded(r->en ? "Region" : "Région", 34);
	printf("%11s %9s %8s %8s  ", r->en ? "Eligible" : "Admissibles",
	       r->en ? "Migrated" : "Migrées", "%", r->en ? "Target" : "Cible");
	put_padded(r->en ? "Status" : "État", 13);
	printf("%8s\n", r->en ? "Needed" : "Manque");
}

static void csv_head(const struct report *r)
{
	puts(r->en ? "program,region,region_name,as_of,fiscal_year,pending,"
		     "migrating,migrated,retired,unknown,eligible,percent,"
		     "target,met,units_needed,data_since"
		   : "programme,region,nom_region,date,exercice,en_attente,"
		     "en_migration,migrees,retirees,inconnues,admissibles,"
		     "pourcentage,cible,atteinte,unites_manquantes,"
		     "donnees_depuis");
}

/* The met column: yes, no, no data, or empty without a target. */
static const char *csv_met(const struct report *r,
			   const struct vg_summary *s,
			   const struct vg_summary_target *t)
{
	if (!t)
		return "";
	if (no_data(s))
		return r->en ? "no data" : "aucune donnée";
	return t->met ? (r->en ? "yes" : "oui") : (r->en ? "no" : "non");
}

static void csv_row(const struct report *r, const struct vg_summary *s,
		    int fy, const char *since)
{
	const struct vg_summary_target *t =
		s->current >= 0 ? &s->targets[s->current] : NULL;
	char pct[16] = "", tgt[16] = "", fys[16], need[24] = "";
	const uint64_t *n = s->counts.n;

	if (s->has_percent)
		vg_bp_format(s->percent_bp, pct, sizeof(pct));
	if (t)
		vg_bp_format(t->bp, tgt, sizeof(tgt));
	if (t && !no_data(s))
		snprintf(need, sizeof(need), "%llu",
			 (unsigned long long)t->units_needed);
	vg_fy_format(fy, fys, sizeof(fys));
	printf("%s,%s,\"%s\",%04d-%02d-%02d,%s,%llu,%llu,%llu,%llu,%llu,%llu,"
	       "%s,%s,%s,%s,%s\n",
	       vg_program_name(s->program), vg_region_code(s->region),
	       s->region ? vg_region_name(s->region)
			 : (r->en ? vg_region_name_en(0) : vg_region_name(0)),
	       r->as_of.y, r->as_of.m, r->as_of.d, fys,
	       (unsigned long long)n[0], (unsigned long long)n[1],
	       (unsigned long long)n[2], (unsigned long long)n[3],
	       (unsigned long long)n[4], (unsigned long long)s->eligible, pct,
	       tgt, csv_met(r, s, t), need, since);
}

/*
 * The JSON summary is the wire's, plus "no_data"; with no data its "met"
 * (vacuously true) becomes null.  Patched in place: the encoder writes
 * "met":true with no caller text in it, and null is as long as true.
 */
static int json_summary(const struct vg_summary *s, char *buf, size_t size)
{
	static const char met[] = "\"met\":true";
	static const char null4[4] = { 'n', 'u', 'l', 'l' }; /* no NUL */
	int len = vg_summary_encode(s, buf, size), n;
	bool none = no_data(s);
	size_t room;

	if (len <= 0 || buf[len - 1] != '}')
		return VG_ERR_RANGE;
	if (none)
		for (char *m = buf; (m = strstr(m, met)) != NULL;
		     m += sizeof(met) - 1)
			memcpy(m + sizeof(met) - 5, null4, sizeof(null4));
	len--; /* reopen the object */
	room = size - (size_t)len;
	n = snprintf(buf + len, room, ",\"no_data\":%s}",
		     none ? "true" : "false");
	return n > 0 && (size_t)n < room ? VG_OK : VG_ERR_RANGE;
}

static void emit(const struct report *r, const struct vg_targets *tg)
{
	int fy = vg_fy_of_date(&r->as_of);
	char buf[VG_PAYLOAD_MAX], cut[VG_TIME_LEN], fys[16];
	char since[VG_TIME_LEN] = "";
	struct vg_summary s;
	bool first = true;

	vg_time_format(r->cutoff, cut, sizeof(cut));
	vg_fy_format(fy, fys, sizeof(fys));
	if (r->has_data)
		vg_time_format(r->data_since, since, sizeof(since));
	if (r->fmt == FMT_TABLE)
		table_since(r);
	if (r->fmt == FMT_CSV)
		csv_head(r);
	if (r->fmt == FMT_JSON)
		printf("{\"v\":1,\"as_of\":\"%04d-%02d-%02d\",\"cutoff\":\"%s\","
		       "\"fiscal_year\":\"%s\",\"data_since\":%s%s%s,"
		       "\"summaries\":[",
		       r->as_of.y, r->as_of.m, r->as_of.d, cut, fys,
		       r->has_data ? "\"" : "", r->has_data ? since : "null",
		       r->has_data ? "\"" : "");
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		if (r->program >= 0 && p != r->program)
			continue;
		if (r->fmt == FMT_TABLE)
			table_head(r, p, fy);
		for (int i = 1; i <= (VG_REGION_COUNT + 1); i++) {
			int reg = i % (VG_REGION_COUNT + 1); /* regions first, province last */
			vg_summary_compute(&s, (enum vg_program)p, reg,
					   &r->counts[p][reg], &tg->plan[p], fy,
					   r->cutoff - 1);
			if (r->fmt == FMT_TABLE)
				table_row(r, &s);
			else if (r->fmt == FMT_CSV)
				csv_row(r, &s, fy, since);
			else if (json_summary(&s, buf, sizeof(buf)) == VG_OK)
				printf("%s%s", first ? "" : ",", buf);
			first = false;
		}
	}
	if (r->fmt == FMT_JSON)
		puts("]}");
}

int gw_report_main(int argc, char **argv)
{
	static struct report r;
	struct vg_targets tg;
	char err[512];
	sqlite3 *db;
	int rc;

	if (parse_args(&r, argc, argv) != VG_OK)
		return 2;
	vg_targets_default(&tg);
	if (r.targets_file &&
	    vg_targets_load(&tg, r.targets_file, err, sizeof(err)) != VG_OK) {
		fprintf(stderr, "vigie-gateway report: %s\n", err);
		return 2;
	}
	db = gw_store_open_ro(r.data_dir);
	if (!db) {
		fprintf(stderr, "vigie-gateway report: cannot open %s/vigie.db\n",
			r.data_dir);
		return 1;
	}
	rc = first_record(&r, db);
	if (rc == VG_OK)
		rc = tally(&r, db);
	sqlite3_close(db);
	if (rc != VG_OK)
		return 1;
	emit(&r, &tg);
	return 0;
}
