/*
 * Private JSON helpers for the codecs: guards run before cJSON sees a byte
 * (size, depth, trailing garbage), single-pass field dispatch, and a small
 * bounded writer for encoding without allocation.
 */
#ifndef VIGIE_LIB_JSON_H
#define VIGIE_LIB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "vigie/msg.h"
#include "vigie/str.h" /* vg_utf8_valid */

/*
 * Parse payload into a cJSON object after the size, depth and shape checks.
 * On success *root is owned by the caller (cJSON_Delete).
 */
enum vg_reject vg_json_parse_object(const char *payload, size_t len,
				    cJSON **root);

/* Free a tree from vg_json_parse_object and end the decode. */
void vg_json_release(cJSON *root);

/* Decode one known field (index f of the table) into out. */
typedef enum vg_reject (*vg_json_field_fn)(int f, const cJSON *item,
					   void *out);

/*
 * Parse a flat object and hand each known member to one(): unknown members
 * are skipped (forward compatibility), a duplicate key is malformed, and
 * every field whose bit is in `required` must be present.  names[0] is
 * "v", the version every payload carries: it is checked here (it must be
 * 1) and never handed to one().  out (size bytes) is zeroed first, so
 * that a member left out reads as 0 (size 0: the caller prepared it).  The tree is released before
 * returning; what one() copied into out stays.
 */
enum vg_reject vg_json_decode_fields(const char *payload, size_t len,
				     const char *const *names,
				     unsigned required, vg_json_field_fn one,
				     void *out, size_t size);

/* Index of name in a NULL-terminated table, or VG_ERR_NOTFOUND. */
int vg_json_field_index(const char *const *names, const char *name);

/* The members every payload shares: "v" (must be 1), an identifier
 * (site, unit, technician), a closed vocabulary through its parser, an
 * RFC 3339 UTC time.  Each returns VG_REJ_NONE or the reason. */
enum vg_reject vg_json_version(const cJSON *item);
enum vg_reject vg_json_ident(const cJSON *item, char *dst, size_t size);
enum vg_reject vg_json_enum(const cJSON *item,
			    int (*parse)(const char *, size_t),
			    enum vg_reject bad, int *out);
enum vg_reject vg_json_time(const cJSON *item, int64_t *out);
/* A JSON boolean. */
enum vg_reject vg_json_bool(const cJSON *item, bool *out);
/* vg_json_int as a member: VG_REJ_TYPE when not an integer in range. */
enum vg_reject vg_json_range(const cJSON *item, int64_t min, int64_t max,
			     int64_t *out);
/*
 * A decoded payload against the topic it came on (NULL: not checked): the
 * topic must be of kind `kind` and name the payload's site.
 */
enum vg_reject vg_json_topic_site(const struct vg_topic *topic,
				  enum vg_topic_kind kind, const char *site);

/* Integral JSON number in [min, max]. */
bool vg_json_int(const cJSON *item, int64_t min, int64_t max, int64_t *out);
/* A percentage (number, two decimals at most, 0..100) as basis points. */
bool vg_json_bp(const cJSON *item, uint32_t *bp);
/* String item copied into dst (size bytes with NUL); false if too long. */
bool vg_json_text(const cJSON *item, char *dst, size_t size);

/* Bounded writer: appends until full, then remembers it overflowed. */
struct vg_jw {
	char *buf;
	size_t size;
	size_t len;
	bool overflow;
};

void vg_jw_init(struct vg_jw *w, char *buf, size_t size);
void vg_jw_raw(struct vg_jw *w, const char *s);
void vg_jw_printf(struct vg_jw *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A JSON string literal, escaping quotes, backslashes and controls. */
void vg_jw_string(struct vg_jw *w, const char *s);
/* Length written, or VG_ERR_RANGE when it did not fit. */
int vg_jw_finish(struct vg_jw *w);

#endif
