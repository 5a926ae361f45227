/*
 * Small text files read whole (the agent's configuration, the targets
 * file, PEM certificates and keys): one reader with one size cap and one
 * set of error messages, "PATH: reason", for both programs.
 */
#ifndef VIGIE_FILE_H
#define VIGIE_FILE_H

#include <stddef.h>

/*
 * Read the whole of path (at most max bytes) into a new NUL-terminated
 * buffer: *text (free() it) and *len on VG_OK.  Otherwise *text is NULL,
 * err receives "PATH: reason" and the result is VG_ERR_IO (cannot open or
 * read; errno's text), VG_ERR_NOMEM or VG_ERR_RANGE (larger than max).
 */
int vg_file_read(const char *path, size_t max, char **text, size_t *len,
		 char *err, size_t errlen);

/* Parse a file's text (len bytes, NUL-terminated) into ctx; VG_ERR_*. */
typedef int (*vg_file_parse_fn)(void *ctx, const char *text, size_t len,
				const char *path, char *err, size_t errlen);
/*
 * vg_file_read, then parse on the text, which is freed after: VG_OK, the
 * reader's error, or parse's.
 */
int vg_file_load(const char *path, size_t max, vg_file_parse_fn parse,
		 void *ctx, char *err, size_t errlen);

#endif
