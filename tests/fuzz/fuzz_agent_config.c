/*
 * Fuzz the agent's config parser (a file technicians edit by hand).
 * Property: an error always says "file:line: ..." and leaves nothing to
 * free; a success frees cleanly.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config cfg;
	char err[512] = "";
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (agent_config_parse(&cfg, text, "a.conf", err, sizeof(err)) == 0)
		agent_config_free(&cfg);
	else
		assert(strncmp(err, "a.conf", 6) == 0);
	free(text);
	return 0;
}
