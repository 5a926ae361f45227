/*
 * One line per message on stderr, "ident: level: text".  stdio's own lock
 * keeps lines from different threads whole.  No timestamps: journald and
 * the demo's log files add their own.
 */
#include "vigie/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vigie/err.h"

static enum vg_log_level current = VG_LOG_INFO;
static const char *ident = "vigie";
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void vg_log_set_level(enum vg_log_level level)
{
	current = level;
}

enum vg_log_level vg_log_get_level(void)
{
	return current;
}

int vg_log_level_parse(const char *s)
{
	for (int i = 0; i <= VG_LOG_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0)
			return i;
	}
	return VG_ERR_INVAL;
}

void vg_log_set_ident(const char *name)
{
	ident = name;
}

void vg_log(enum vg_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > current)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s: %s\n", ident, level_names[level], line);
}

void vg_ratelimit_init(struct vg_ratelimit *rl, int64_t window_ms,
		       uint32_t burst)
{
	memset(rl, 0, sizeof(*rl));
	rl->window_ms = window_ms;
	rl->burst = burst;
	rl->start_ms = -window_ms; /* the first event opens a window */
}

bool vg_ratelimit_allow(struct vg_ratelimit *rl, int64_t now_ms,
			uint32_t *suppressed)
{
	*suppressed = 0;
	if (now_ms - rl->start_ms >= rl->window_ms) {
		*suppressed = rl->suppressed;
		rl->start_ms = now_ms;
		rl->used = 0;
		rl->suppressed = 0;
	}
	if (rl->used < rl->burst) {
		rl->used++;
		return true;
	}
	rl->suppressed++;
	return false;
}
