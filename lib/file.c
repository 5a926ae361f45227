/*
 * Whole-file reader (include/vigie/file.h).  The buffer is allocated at
 * the cap, as the files are small and read once at start or on reload.
 */
#include "vigie/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"

int vg_file_read(const char *path, size_t max, char **text, size_t *len,
		 char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0;
	int rc = VG_ERR_IO;

	*text = NULL;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	buf = malloc(max + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		rc = VG_ERR_NOMEM;
		goto out;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (n > max) {
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
		rc = VG_ERR_RANGE;
		goto out;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	buf = NULL;
	rc = VG_OK;
out:
	free(buf);
	if (f)
		fclose(f);
	return rc;
}

int vg_file_load(const char *path, size_t max, vg_file_parse_fn parse,
		 void *ctx, char *err, size_t errlen)
{
	char *text = NULL;
	size_t n = 0;
	int rc = vg_file_read(path, max, &text, &n, err, errlen);

	if (rc == VG_OK)
		rc = parse(ctx, text, n, path, err, errlen);
	free(text);
	return rc;
}
