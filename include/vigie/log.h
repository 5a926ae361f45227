/*
 * Leveled logging to stderr (journald captures it under systemd), one line
 * per call, and a rate limiter so that a flood of bad messages cannot fill a
 * disk with log lines.
 */
#ifndef VIGIE_LOG_H
#define VIGIE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum vg_log_level {
	VG_LOG_ERR = 0,
	VG_LOG_WARN,
	VG_LOG_INFO,
	VG_LOG_DEBUG
};

void vg_log_set_level(enum vg_log_level level);
enum vg_log_level vg_log_get_level(void);
/* "error", "warn", "info", "debug"; VG_ERR_INVAL when unknown. */
int vg_log_level_parse(const char *s);
/* Prefix every line with this program name (not copied: keep it alive). */
void vg_log_set_ident(const char *ident);

void vg_log(enum vg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * At most `burst` events per `window_ms`.  Not thread-safe: give each
 * thread or each reason its own.
 */
struct vg_ratelimit {
	int64_t window_ms;
	uint32_t burst;
	int64_t start_ms;
	uint32_t used;
	uint32_t suppressed;
};

void vg_ratelimit_init(struct vg_ratelimit *rl, int64_t window_ms,
		       uint32_t burst);
/*
 * True when the event may be logged.  When a new window opens after
 * suppressions, *suppressed receives how many were dropped (else 0) so the
 * caller can say so once.
 */
bool vg_ratelimit_allow(struct vg_ratelimit *rl, int64_t now_ms,
			uint32_t *suppressed);

#endif
