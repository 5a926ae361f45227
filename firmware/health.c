/*
 * Material change of health (see health.h).  Pure: unit-tested directly.
 */
#include "health.h"

#include <string.h>

/* -1 (absent), 0, 1-9, 10-99, ...: a new bucket is a material change. */
static int magnitude(int64_t n)
{
	int b = 0;

	if (n < 0)
		return -1;
	while (n > 0) {
		n /= 10;
		b++;
	}
	return b;
}

/* Ages: none, under a minute, an hour, a day, older. */
static int age_step(int64_t s)
{
	static const int64_t limits[] = { 1, 60, 3600, 86400 };
	int b = 0;

	if (s < 0)
		return -1;
	while (b < 4 && s >= limits[b])
		b++;
	return b;
}

bool agent_health_material(const struct vg_health *was,
			   const struct vg_health *now)
{
	return magnitude(was->outbox) != magnitude(now->outbox) ||
	       age_step(was->oldest_unacked_s) !=
		       age_step(now->oldest_unacked_s) ||
	       was->devices_ok != now->devices_ok ||
	       was->devices_failing != now->devices_failing ||
	       magnitude(was->refused) != magnitude(now->refused) ||
	       strcmp(was->config_hash, now->config_hash) != 0;
}
