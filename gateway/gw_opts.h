/*
 * The command-line walk the daemon's options and the offline report
 * share (gw_opts.c); the report needs it without the daemon's header.
 */
#ifndef VIGIE_GW_OPTS_H
#define VIGIE_GW_OPTS_H

#include <getopt.h>

/* One option c with its argument into ctx: NULL, or what is wrong. */
typedef const char *(*gw_opt_fn)(void *ctx, int c, const char *arg);

/*
 * Hand every option of argv (getopt_long over lo, from the start) to one;
 * the first error, or an argument that is not an option, is said on
 * stderr after "WHO: " and gives VG_ERR_INVAL.  VG_OK otherwise.
 */
int gw_opts_walk(int argc, char **argv, const struct option *lo,
		 const char *who, gw_opt_fn one, void *ctx);

#endif
