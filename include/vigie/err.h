/*
 * Error codes shared by every Vigie module, and the one return convention:
 *
 * - a function that can fail returns VG_OK (0) or a negative VG_ERR_*, in
 *   the style of MOSQ_ERR_*, so callers can propagate without translating;
 * - one whose result is a length, a count or an index returns it (>= 0)
 *   or a negative VG_ERR_* (a name that is not in a vocabulary:
 *   VG_ERR_INVAL; a lookup that finds nothing: VG_ERR_NOTFOUND), so
 *   "< 0" is the test for failure everywhere;
 * - a predicate returns bool.
 *
 * Exceptions are where an outside contract decides (inih handlers, main's
 * exit status, libFuzzer and cmocka callbacks) and say so.
 */
#ifndef VIGIE_ERR_H
#define VIGIE_ERR_H

enum vg_err {
	VG_OK = 0,
	VG_ERR_INVAL = -1,   /* bad argument or bad input */
	VG_ERR_NOMEM = -2,   /* allocation failed */
	VG_ERR_IO = -3,      /* a system call failed; errno says why */
	VG_ERR_RANGE = -4,   /* a value or buffer is out of bounds */
	VG_ERR_PARSE = -5,   /* text could not be parsed */
	VG_ERR_NOTFOUND = -6, /* the thing asked for does not exist */
	VG_ERR_BUSY = -7      /* another holds it (a lock, a resource) */
};

/* A short English description of an error code (never NULL). */
const char *vg_strerror(int err);

#endif
