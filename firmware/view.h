/*
 * What people read: the language of the text (French or English, from
 * the locale of whoever asks) and times in local time.  Machines read
 * the JSON forms instead, which never change with either.
 */
#ifndef AGENT_VIEW_H
#define AGENT_VIEW_H

#include <stdint.h>
#include <stdio.h>

enum view_lang { VIEW_FR = 0, VIEW_EN = 1 };

/* One text in both languages: VW(lang, "English", "français"). */
#define VW(lang, en, fr) ((lang) == VIEW_EN ? (en) : (fr))

/*
 * The language of this process's locale: the first of LC_ALL, LC_MESSAGES
 * and LANG that is set and not empty decides (POSIX order); "fr..." is
 * French, anything else English.  None set: French, the language of the
 * technicians on site.
 */
enum view_lang view_lang_env(void);
/* "fr" or "en", as the control socket's status request carries it. */
const char *view_lang_code(enum view_lang l);
/* Parse "fr"/"en"; VG_ERR_INVAL otherwise. */
int view_lang_parse(const char *s);

/* Unix seconds as "2026-11-30 11:02:03" in local time ("?" if not). */
void view_time(FILE *f, int64_t t);
/* How long ago t was, for a person: "12 min", "3 h", "2 j"/"2 d". */
void view_age(FILE *f, enum view_lang l, int64_t t, int64_t now);
/* A state in words after a count: "migrated", "migrée(s)". */
const char *view_state(enum view_lang l, int state);

#endif
