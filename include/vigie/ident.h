/*
 * Site and unit identifiers: 1-48 characters of [A-Za-z0-9._-].  They are
 * MQTT topic segments, so the charset keeps out '/', '+', '#' and anything a
 * shell or a file name would trip on.
 */
#ifndef VIGIE_IDENT_H
#define VIGIE_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#define VG_IDENT_MAX 48

bool vg_ident_valid(const char *s, size_t len);

#endif
