/*
 * Internals of the HTTP server shared by its files: the daemon's state,
 * the embedded dashboard assets (generated at build time from gateway/www/
 * by gateway/www_embed.py) and the Server-Sent Events stream.
 */
#ifndef VIGIE_GW_HTTP_H
#define VIGIE_GW_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include <microhttpd.h>

#include "gateway.h"

struct gw_http {
	struct gateway *gw;
	struct MHD_Daemon *d;
	atomic_bool stopping;
	char *tls_key, *tls_cert; /* PEM, alive as long as the daemon */
};

struct gw_asset {
	const char *path;  /* "/", "/app.js"... */
	const char *type;  /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* The asset served at path, or NULL. (generated file) */
const struct gw_asset *gw_http_asset(const char *path);

/* A response streaming summaries as Server-Sent Events; NULL on failure. */
struct MHD_Response *gw_http_sse_response(struct gw_http *h);

#endif
