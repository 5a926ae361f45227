/*
 * Text for people (view.h): the language from the locale, local times,
 * ages and state words.
 */
#include "view.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigie/domain.h"
#include "vigie/err.h"

enum view_lang view_lang_env(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_MESSAGES", "LANG" };

	for (size_t k = 0; k < sizeof(vars) / sizeof(vars[0]); k++) {
		const char *v = getenv(vars[k]);

		if (v && v[0])
			return strncmp(v, "fr", 2) == 0 ? VIEW_FR : VIEW_EN;
	}
	return VIEW_FR;
}

const char *view_lang_code(enum view_lang l)
{
	return l == VIEW_EN ? "en" : "fr";
}

int view_lang_parse(const char *s)
{
	if (strcmp(s, "fr") == 0)
		return VIEW_FR;
	if (strcmp(s, "en") == 0)
		return VIEW_EN;
	return VG_ERR_INVAL;
}

void view_time(FILE *f, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];

	/* localtime_r, not localtime: the agent has other threads */
	if (!localtime_r(&tt, &tm) ||
	    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm) == 0) {
		fputc('?', f);
		return;
	}
	fputs(buf, f);
}

void view_age(FILE *f, enum view_lang l, int64_t t, int64_t now)
{
	int64_t s = now > t ? now - t : 0;

	if (s < 60)
		fprintf(f, "%lld s", (long long)s);
	else if (s < 3600)
		fprintf(f, "%lld min", (long long)(s / 60));
	else if (s < 86400)
		fprintf(f, "%lld h", (long long)(s / 3600));
	else
		fprintf(f, "%lld %s", (long long)(s / 86400), VW(l, "d", "j"));
}

const char *view_state(enum view_lang l, int state)
{
	static const char *const fr[VG_STATE_COUNT] = {
		"en attente", "en migration", "migrée(s)", "retirée(s)",
		"inconnue(s)"
	};

	if (state < 0 || state >= VG_STATE_COUNT)
		return "?";
	return l == VIEW_EN ? vg_state_name(state) : fr[state];
}
