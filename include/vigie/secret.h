/*
 * Secret files (passwords, tokens, private keys): one rule for the agent
 * and the gateway — a secret that others can read or write is refused,
 * with the chmod that fixes it, rather than used.
 */
#ifndef VIGIE_SECRET_H
#define VIGIE_SECRET_H

#include <stddef.h>

/*
 * VG_OK when path exists and others can neither read nor write it;
 * otherwise err receives "WHAT PATH: reason" (what names the secret, e.g.
 * "password_file").
 */
int vg_secret_check(const char *path, const char *what, char *err,
		    size_t errlen);
/* vg_secret_check, then the file's first line (no newline) into dst. */
int vg_secret_read_line(const char *path, const char *what, char *dst,
			size_t size, char *err, size_t errlen);

#endif
