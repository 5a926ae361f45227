/*
 * Fuzz the targets-file parser.  Property: on error nothing changes and
 * the message names the file and a line; on success every plan stays
 * sorted, unique and within 0..100 %.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "vigie/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_targets tg, orig;
	char err[256] = "";

	vg_targets_default(&tg);
	orig = tg;
	if (vg_targets_parse(&tg, (const char *)data, size, "t.conf", err,
			     sizeof(err)) != 0) {
		assert(memcmp(&tg, &orig, sizeof(tg)) == 0);
		assert(strncmp(err, "t.conf:", 7) == 0);
		return 0;
	}
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		const struct vg_plan *pl = &tg.plan[p];
		assert(pl->n >= 2 && pl->n <= VG_TARGETS_MAX);
		assert(pl->baseline_bp <= 10000);
		for (int i = 0; i < pl->n; i++) {
			assert(pl->t[i].bp <= 10000);
			assert(i == 0 || pl->t[i - 1].fy < pl->t[i].fy);
		}
	}
	return 0;
}
