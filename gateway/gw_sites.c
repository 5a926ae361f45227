/*
 * The inventory (--inventory FILE, formerly --sites): which sites exist,
 * their regions, and what units each has.  The indicator is the share of
 * *existing* units, so this file, not the agents, fixes the denominator:
 * a listed unit that never reported counts as unknown, a unit outside the
 * list is refused, and a site not in the file is refused.
 *
 *     # site SITE REGION [max N]        bind a site; cap its units at N
 *     site mtl-042 06
 *     # unit SITE PROGRAM UNIT...       the site's units (then: only these)
 *     unit mtl-042 renir radio-1 radio-2 radio-3
 *     unit mtl-042 rgt   link-1
 *     # SITE REGION                     sites.map from vigie-pki: a site
 *     qc-1 03
 *
 * A site with neither units nor max gets the default cap (--site-cap).
 * The whole file is checked before anything is bound: an error says
 * "file:line: reason" and changes nothing.
 */
#include "gw_sites.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"
#include "vigie/ident.h"
#include "vigie/region.h"
#include "vigie/str.h"

#define TOKENS_MAX 4096 /* unit ids on one line */
#define CAP_MAX 1000000u

struct entry {
	int line;
	bool unit_line;
	char site[VG_IDENT_MAX + 1];
	int region;        /* site lines */
	uint32_t cap;      /* site lines; 0: default */
	int program;       /* unit lines */
	char **units;      /* unit lines: owned copies */
	size_t nunits;
};

struct inv {
	struct entry *v;
	size_t n, cap;
};

static void inv_free(struct inv *inv)
{
	for (size_t i = 0; i < inv->n; i++) {
		for (size_t j = 0; j < inv->v[i].nunits; j++)
			free(inv->v[i].units[j]);
		free(inv->v[i].units);
	}
	free(inv->v);
}

static bool ident_ok(const char *s)
{
	return vg_ident_valid(s, strlen(s));
}

static const char *parse_cap(char **tok, int n, struct entry *e)
{
	long long v;

	if (n != 2 || strcmp(tok[0], "max") != 0)
		return "expected: site SITE REGION [max N]";
	if (vg_int_parse(tok[1], 1, CAP_MAX, &v) != VG_OK)
		return "max must be 1..1000000 units";
	e->cap = (uint32_t)v;
	return NULL;
}

/*
 * What every line starts with: a SITE (copied into e) and a word of a
 * vocabulary (region or program) that parse maps to *out, at least lo.
 * Returns NULL or why the line is refused.
 */
static const char *parse_head(char **tok, struct entry *e,
			      int (*parse)(const char *, size_t), int lo,
			      const char *bad, int *out)
{
	if (!ident_ok(tok[0]))
		return "site must be 1-48 characters of A-Za-z0-9._-";
	*out = parse(tok[1], strlen(tok[1]));
	if (*out < lo)
		return bad;
	vg_strlcpy(e->site, tok[0], sizeof(e->site));
	return NULL;
}

/* "site SITE REGION [max N]" or the short "SITE REGION". */
static const char *parse_site(char **tok, int n, struct entry *e)
{
	const char *why = n < 2 ? "expected: site SITE REGION [max N]"
				: parse_head(tok, e, vg_region_parse, 1,
					     "region must be 01..17",
					     &e->region);

	return (why || n == 2) ? why : parse_cap(tok + 2, n - 2, e);
}

/* "unit SITE PROGRAM UNIT...": copies the ids into e. */
static const char *parse_units(char **tok, int n, struct entry *e)
{
	const char *why = n < 3 ? "expected: unit SITE PROGRAM UNIT..."
				: parse_head(tok, e, vg_program_parse, 0,
					     "program must be renir or rgt",
					     &e->program);

	if (why)
		return why;
	e->unit_line = true;
	e->units = calloc((size_t)(n - 2), sizeof(char *));
	if (!e->units)
		return "out of memory";
	for (int i = 2; i < n; i++) {
		if (!ident_ok(tok[i]))
			return "unit ids are 1-48 characters of A-Za-z0-9._-";
		e->units[e->nunits] = strdup(tok[i]);
		if (!e->units[e->nunits])
			return "out of memory";
		e->nunits++;
	}
	return NULL;
}

/* One line into e (blank lines leave e->site empty). */
static const char *parse_line(char *line, struct entry *e)
{
	static char *tok[TOKENS_MAX + 1];
	char *save = NULL, *t;
	int n = 0;

	line[strcspn(line, "#\r\n")] = '\0';
	for (t = strtok_r(line, " \t", &save); t && n <= TOKENS_MAX;
	     t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	if (n == 0)
		return NULL;
	if (n > TOKENS_MAX)
		return "too many unit ids on one line (split it)";
	if (n == 2)
		return parse_site(tok, n, e);
	if (strcmp(tok[0], "site") == 0)
		return parse_site(tok + 1, n - 1, e);
	if (strcmp(tok[0], "unit") == 0)
		return parse_units(tok + 1, n - 1, e);
	return "expected: site SITE REGION [max N], unit SITE PROGRAM "
	       "UNIT..., or SITE REGION";
}

static struct entry *push(struct inv *inv)
{
	if (inv->n == inv->cap) {
		size_t ncap = inv->cap ? inv->cap * 2 : 64;
		struct entry *nv = realloc(inv->v, ncap * sizeof(*nv));

		if (!nv)
			return NULL;
		inv->v = nv;
		inv->cap = ncap;
	}
	memset(&inv->v[inv->n], 0, sizeof(inv->v[0]));
	return &inv->v[inv->n++];
}

static int read_all(FILE *f, const char *path, struct inv *inv, char *err,
		    size_t errlen)
{
	char *line = NULL;
	size_t lsize = 0;
	int lineno = 0, rc = VG_OK;

	while (rc == VG_OK && getline(&line, &lsize, f) >= 0) {
		struct entry *e = push(inv);
		const char *why;

		lineno++;
		if (!e) {
			rc = VG_ERR_NOMEM;
			break;
		}
		e->line = lineno;
		why = parse_line(line, e);
		if (why) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			rc = VG_ERR_PARSE;
		} else if (!e->site[0]) {
			inv->n--; /* blank or comment */
		}
	}
	free(line);
	return rc;
}

/* The site line of a site, or NULL. */
static const struct entry *site_of(const struct inv *inv, const char *site)
{
	for (size_t i = 0; i < inv->n; i++)
		if (!inv->v[i].unit_line && !strcmp(inv->v[i].site, site))
			return &inv->v[i];
	return NULL;
}

/* Cross-line rules: one region per site, units of declared sites only. */
static int check(const struct inv *inv, const char *path, char *err,
		 size_t errlen)
{
	for (size_t i = 0; i < inv->n; i++) {
		const struct entry *e = &inv->v[i];
		const struct entry *s = site_of(inv, e->site);

		if (e->unit_line && !s) {
			snprintf(err, errlen, "%s:%d: site %s has no site line "
				 "(site %s REGION)", path, e->line, e->site,
				 e->site);
			return VG_ERR_PARSE;
		}
		if (e->unit_line && s->cap) {
			snprintf(err, errlen, "%s:%d: site %s has a max at line"
				 " %d: list its units or cap them, not both",
				 path, e->line, e->site, s->line);
			return VG_ERR_PARSE;
		}
		if (!e->unit_line && s != e && s->region != e->region) {
			snprintf(err, errlen, "%s:%d: site %s is in region %02d "
				 "at line %d", path, e->line, e->site,
				 s->region, s->line);
			return VG_ERR_PARSE;
		}
	}
	return VG_OK;
}

static int apply(struct gw_core *core, const struct inv *inv,
		 const char *path, char *err, size_t errlen)
{
	for (size_t i = 0; i < inv->n; i++) {
		const struct entry *e = &inv->v[i];
		int rc = VG_OK;

		if (!e->unit_line &&
		    gw_core_bind_site(core, e->site, e->region) != VG_REJ_NONE)
			rc = VG_ERR_INVAL;
		if (!e->unit_line && e->cap)
			rc = gw_core_limit_site(core, e->site, e->cap);
		for (size_t j = 0; rc == VG_OK && j < e->nunits; j++)
			rc = gw_core_inventory_unit(core, e->site, e->program,
						    e->units[j]);
		if (rc != VG_OK) {
			snprintf(err, errlen, "%s:%d: site %s could not be "
				 "loaded (%s)", path, e->line, e->site,
				 vg_strerror(rc));
			return rc;
		}
	}
	gw_core_close_sites(core);
	return VG_OK;
}

int gw_sites_load(struct gw_core *core, const char *path, char *err,
		  size_t errlen)
{
	struct inv inv = { 0 };
	FILE *f = fopen(path, "r");
	int rc;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VG_ERR_IO;
	}
	rc = read_all(f, path, &inv, err, errlen);
	fclose(f);
	if (rc == VG_OK)
		rc = check(&inv, path, err, errlen);
	if (rc == VG_OK)
		rc = apply(core, &inv, path, err, errlen);
	inv_free(&inv);
	return rc;
}
