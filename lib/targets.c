/*
 * Targets and fiscal years.  The compiled-in plan is the ministry's
 * 2023-2025 action plan; a targets file layers later plans on top, parsed
 * strictly (file:line errors) into a copy that replaces the original only
 * when the whole file is valid.
 */
#include "vigie/targets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigie/arith.h"
#include "vigie/err.h"
#include "vigie/file.h"
#include "vigie/str.h"

#define TARGETS_FILE_MAX ((size_t)64 * 1024)

void vg_targets_default(struct vg_targets *tg)
{
	memset(tg, 0, sizeof(*tg));
	tg->plan[VG_PROG_RENIR] = (struct vg_plan){
		.baseline_bp = 5100, .n = 2,
		.t = { { 2023, 7000 }, { 2024, 7500 } } };
	tg->plan[VG_PROG_RGT] = (struct vg_plan){
		.baseline_bp = 1100, .n = 2,
		.t = { { 2023, 1500 }, { 2024, 4000 } } };
}

int vg_fy_of_date(const struct vg_date *d)
{
	return d->m >= 4 ? d->y : d->y - 1;
}

int vg_fy_format(int fy, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%04d-%04d", fy, fy + 1);
	return (n < 0 || (size_t)n >= size) ? VG_ERR_RANGE : n;
}

int vg_fy_parse(const char *s, size_t len, int *fy)
{
	int a = 0, b = 0;

	if (len != 9 || s[4] != '-')
		return VG_ERR_PARSE;
	for (int i = 0; i < 9; i++) {
		if (i == 4)
			continue;
		if (s[i] < '0' || s[i] > '9')
			return VG_ERR_PARSE;
		if (i < 4)
			a = a * 10 + (s[i] - '0');
		else
			b = b * 10 + (s[i] - '0');
	}
	if (b != a + 1 || a < 1900)
		return VG_ERR_PARSE;
	*fy = a;
	return VG_OK;
}

void vg_fy_due(int fy, struct vg_date *out)
{
	out->y = fy + 1;
	out->m = 3;
	out->d = 31;
}

int vg_plan_current(const struct vg_plan *plan, int today_fy, bool *ended)
{
	*ended = false;
	if (plan->n <= 0)
		return VG_ERR_NOTFOUND;
	for (int i = 0; i < plan->n; i++) {
		if (plan->t[i].fy >= today_fy)
			return i;
	}
	*ended = true;
	return plan->n - 1;
}

/* Insert or replace a fiscal year's target, keeping the list sorted. */
static int plan_set(struct vg_plan *plan, int fy, uint32_t bp)
{
	int i = 0;

	while (i < plan->n && plan->t[i].fy < fy)
		i++;
	if (i < plan->n && plan->t[i].fy == fy) {
		plan->t[i].bp = bp;
		return VG_OK;
	}
	if (plan->n == VG_TARGETS_MAX)
		return VG_ERR_RANGE;
	memmove(&plan->t[i + 1], &plan->t[i],
		(size_t)(plan->n - i) * sizeof(plan->t[0]));
	plan->t[i] = (struct vg_target){ fy, bp };
	plan->n++;
	return VG_OK;
}

/* Split a line into at most 4 whitespace-separated words, in place. */
static int words(char *line, char **w)
{
	int n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(line, " \t\r", &save); tok;
	     tok = strtok_r(NULL, " \t\r", &save)) {
		if (n == 4)
			return 4;
		w[n++] = tok;
	}
	return n;
}

/* One statement; on error returns a message for the caller to locate. */
static const char *parse_line(struct vg_targets *tg, char *line)
{
	char *w[4];
	char *hash = strchr(line, '#');
	int n, prog, fy = 0;
	uint32_t bp;

	if (hash)
		*hash = '\0';
	n = words(line, w);
	if (n == 0)
		return NULL;
	if (n != 3)
		return "expected: PROGRAM FISCAL-YEAR|baseline PERCENT";
	prog = vg_program_parse(w[0], strlen(w[0]));
	if (prog < 0)
		return "unknown program (expected renir or rgt)";
	if (vg_bp_parse(w[2], &bp) != VG_OK)
		return "percent must be 0 to 100 with at most two decimals";
	if (strcmp(w[1], "baseline") == 0) {
		tg->plan[prog].baseline_bp = bp;
		return NULL;
	}
	if (vg_fy_parse(w[1], strlen(w[1]), &fy) != VG_OK)
		return "fiscal year must look like 2025-2026";
	if (plan_set(&tg->plan[prog], fy, bp) != VG_OK)
		return "too many fiscal years for one program";
	return NULL;
}

int vg_targets_parse(struct vg_targets *tg, const char *text, size_t len,
		     const char *name, char *err, size_t errlen)
{
	struct vg_targets work = *tg;
	char line[256];
	size_t pos = 0;
	int lineno = 0;

	while (pos < len) {
		size_t end = pos;
		const char *msg;

		while (end < len && text[end] != '\n')
			end++;
		lineno++;
		if (!vg_strslice(line, sizeof(line), text + pos, end - pos)) {
			snprintf(err, errlen, "%s:%d: line too long", name,
				 lineno);
			return VG_ERR_PARSE;
		}
		if (memchr(line, '\0', end - pos)) {
			snprintf(err, errlen, "%s:%d: NUL byte", name, lineno);
			return VG_ERR_PARSE;
		}
		msg = parse_line(&work, line);
		if (msg) {
			snprintf(err, errlen, "%s:%d: %s", name, lineno, msg);
			return VG_ERR_PARSE;
		}
		pos = end + 1;
	}
	*tg = work;
	return VG_OK;
}

static int parse_file(void *ctx, const char *text, size_t len,
		      const char *path, char *err, size_t errlen)
{
	return vg_targets_parse(ctx, text, len, path, err, errlen);
}

int vg_targets_load(struct vg_targets *tg, const char *path, char *err,
		    size_t errlen)
{
	return vg_file_load(path, TARGETS_FILE_MAX, parse_file, tg, err,
			    errlen);
}
