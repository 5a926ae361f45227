/*
 * When the agent's health (carried by its presence) has changed enough to
 * republish the birth.  Counts are compared by order of magnitude and ages
 * by coarse steps, so a gauge that moves by one every second does not turn
 * the retained presence into a stream; device counts and the configuration
 * hash are compared exactly.
 */
#ifndef AGENT_HEALTH_H
#define AGENT_HEALTH_H

#include <stdbool.h>

#include "vigie/msg.h"

/* At most one health-driven birth per this many ms (coalescing). */
#define AGENT_HEALTH_MIN_MS 10000

/* True when was and now differ materially (see above). */
bool agent_health_material(const struct vg_health *was,
			   const struct vg_health *now);

#endif
