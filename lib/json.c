/*
 * JSON guards and writer shared by the codecs.  The depth pre-scan exists
 * because the Debian cJSON is built with a nesting limit of 1000: we keep
 * hostile payloads far shallower than that before cJSON recurses.
 */
#include "json.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"
#include "vigie/timeutil.h"
#include "vigie/str.h"
#include "vigie/ident.h"

/*
 * cJSON allocates every node and string with malloc; for a 200-byte status
 * that is ~20 malloc/free pairs, half the decode time.  While a decoder
 * runs, this thread's parse draws from a per-thread bump arena that is
 * reset after the message; anything else (other threads, other cJSON
 * users, an arena that is full) falls through to malloc/free untouched.
 */
/* Sanitizer builds define VG_NO_ARENA so that ASan sees every cJSON node. */
#ifndef VG_NO_ARENA
#define ARENA_SIZE ((size_t)256 * 1024)

struct arena {
	_Alignas(16) unsigned char buf[ARENA_SIZE];
	size_t used;
	int active;
};

static _Thread_local struct arena *arena;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
static pthread_key_t arena_key; /* frees a thread's arena when it exits */

static void *arena_malloc(size_t n)
{
	struct arena *a = arena;
	size_t need = (n + 15) & ~(size_t)15;

	if (a && a->active && need <= ARENA_SIZE - a->used) {
		void *p = a->buf + a->used;
		a->used += need;
		return p;
	}
	return malloc(n);
}

static void arena_free(void *p)
{
	struct arena *a = arena;

	if (a && (unsigned char *)p >= a->buf &&
	    (unsigned char *)p < a->buf + ARENA_SIZE)
		return; /* released all at once when the decode ends */
	free(p);
}

static void install_hooks(void)
{
	cJSON_Hooks h = { arena_malloc, arena_free };

	pthread_key_create(&arena_key, free);
	cJSON_InitHooks(&h);
}

/*
 * Start a decode on this thread's arena (allocated on first use).
 */
static void arena_begin(void)
{
	pthread_once(&hooks_once, install_hooks);
	if (!arena) {
		arena = calloc(1, sizeof(*arena));
		if (arena)
			pthread_setspecific(arena_key, arena);
	}
	if (arena) {
		arena->used = 0;
		arena->active = 1;
	}
}

#else
struct arena {
	size_t used;
	int active;
};
static struct arena *const arena = NULL;
static void arena_begin(void)
{
}
#endif

void vg_json_release(cJSON *root)
{
	struct arena *a = arena;

	cJSON_Delete(root);
	if (a) {
		a->active = 0;
		a->used = 0;
	}
}

/* Maximum nesting of payload, outside strings; stops early past limit. */
static int max_depth(const char *p, size_t len, int limit)
{
	int depth = 0, max = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				max = depth;
			if (max > limit)
				return max;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return max;
}

enum vg_reject vg_json_parse_object(const char *payload, size_t len,
				    cJSON **root)
{
	const char *end = NULL;
	cJSON *obj;

	*root = NULL;
	if (len > VG_PAYLOAD_MAX)
		return VG_REJ_OVERSIZE;
	if (len == 0 || memchr(payload, '\0', len) ||
	    max_depth(payload, len, VG_JSON_DEPTH_MAX) > VG_JSON_DEPTH_MAX)
		return VG_REJ_MALFORMED;
	arena_begin();
	obj = cJSON_ParseWithLengthOpts(payload, len, &end, false);
	if (!obj) {
		vg_json_release(NULL);
		return VG_REJ_MALFORMED;
	}
	while (end && (size_t)(end - payload) < len &&
	       (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
		end++;
	if (!cJSON_IsObject(obj) || !end || (size_t)(end - payload) != len) {
		vg_json_release(obj);
		return VG_REJ_MALFORMED;
	}
	*root = obj;
	return VG_REJ_NONE;
}

enum vg_reject vg_json_decode_fields(const char *payload, size_t len,
				     const char *const *names,
				     unsigned required, vg_json_field_fn one,
				     void *out, size_t size)
{
	cJSON *root = NULL;
	unsigned seen = 0;
	enum vg_reject r;

	memset(out, 0, size);
	r = vg_json_parse_object(payload, len, &root);
	if (r != VG_REJ_NONE)
		return r;
	for (const cJSON *it = root->child; it && r == VG_REJ_NONE;
	     it = it->next) {
		int f = vg_json_field_index(names, it->string);
		if (f < 0)
			continue;
		if (seen & (1u << f))
			r = VG_REJ_MALFORMED; /* duplicate key */
		else if (f == 0)
			r = vg_json_version(it);
		else
			r = one(f, it, out);
		seen |= 1u << f;
	}
	if (r == VG_REJ_NONE && (seen & required) != required)
		r = VG_REJ_MISSING;
	vg_json_release(root);
	return r;
}

int vg_json_field_index(const char *const *names, const char *name)
{
	for (int i = 0; names[i]; i++) {
		if (names[i][0] == name[0] && strcmp(names[i], name) == 0)
			return i;
	}
	return VG_ERR_NOTFOUND;
}

bool vg_json_int(const cJSON *item, int64_t min, int64_t max, int64_t *out)
{
	double v;

	if (!cJSON_IsNumber(item))
		return false;
	v = item->valuedouble;
	if (!isfinite(v) || v != floor(v) || v < (double)min ||
	    v > (double)max)
		return false;
	*out = (int64_t)v;
	return true;
}

bool vg_json_text(const cJSON *item, char *dst, size_t size)
{
	size_t n;

	if (!cJSON_IsString(item) || !item->valuestring)
		return false;
	n = strlen(item->valuestring);
	return vg_utf8_valid(item->valuestring, n) &&
	       vg_strslice(dst, size, item->valuestring, n);
}

void vg_jw_init(struct vg_jw *w, char *buf, size_t size)
{
	w->buf = buf;
	w->size = size;
	w->len = 0;
	w->overflow = size == 0;
	if (size)
		buf[0] = '\0';
}

void vg_jw_raw(struct vg_jw *w, const char *s)
{
	size_t n = strlen(s);

	if (w->overflow || w->len + n >= w->size) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n + 1);
	w->len += n;
}

void vg_jw_printf(struct vg_jw *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->buf + w->len, w->size - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->size - w->len) {
		w->overflow = true;
		return;
	}
	w->len += (size_t)n;
}

void vg_jw_string(struct vg_jw *w, const char *s)
{
	vg_jw_raw(w, "\"");
	for (; *s && !w->overflow; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"')
			vg_jw_raw(w, "\\\"");
		else if (c == '\\')
			vg_jw_raw(w, "\\\\");
		else if (c < 0x20)
			vg_jw_printf(w, "\\u%04x", c);
		else {
			char one[2] = { (char)c, '\0' };
			vg_jw_raw(w, one);
		}
	}
	vg_jw_raw(w, "\"");
}

int vg_jw_finish(struct vg_jw *w)
{
	return w->overflow ? VG_ERR_RANGE : (int)w->len;
}

bool vg_json_bp(const cJSON *it, uint32_t *bp)
{
	double v;

	if (!cJSON_IsNumber(it))
		return false;
	v = it->valuedouble * 100.0;
	if (!isfinite(v) || v < 0 || v > 10000.0 ||
	    fabs(v - floor(v + 0.5)) > 1e-6)
		return false;
	*bp = (uint32_t)floor(v + 0.5);
	return true;
}

enum vg_reject vg_json_version(const cJSON *it)
{
	int64_t n;

	if (!vg_json_int(it, 0, 1000, &n))
		return VG_REJ_TYPE;
	return n == 1 ? VG_REJ_NONE : VG_REJ_VERSION;
}

enum vg_reject vg_json_ident(const cJSON *it, char *dst, size_t size)
{
	if (!cJSON_IsString(it))
		return VG_REJ_TYPE;
	if (!vg_ident_valid(it->valuestring, strlen(it->valuestring)))
		return VG_REJ_IDENT;
	vg_strlcpy(dst, it->valuestring, size);
	return VG_REJ_NONE;
}

enum vg_reject vg_json_enum(const cJSON *it,
			    int (*parse)(const char *, size_t),
			    enum vg_reject bad, int *out)
{
	if (!cJSON_IsString(it))
		return VG_REJ_TYPE;
	*out = parse(it->valuestring, strlen(it->valuestring));
	return *out < 0 ? bad : VG_REJ_NONE;
}

enum vg_reject vg_json_time(const cJSON *it, int64_t *out)
{
	if (!cJSON_IsString(it))
		return VG_REJ_TYPE;
	if (vg_time_parse(it->valuestring, strlen(it->valuestring), out))
		return VG_REJ_TIME;
	return VG_REJ_NONE;
}

enum vg_reject vg_json_bool(const cJSON *it, bool *out)
{
	if (!cJSON_IsBool(it))
		return VG_REJ_TYPE;
	*out = cJSON_IsTrue(it);
	return VG_REJ_NONE;
}

enum vg_reject vg_json_range(const cJSON *it, int64_t min, int64_t max,
			     int64_t *out)
{
	return vg_json_int(it, min, max, out) ? VG_REJ_NONE : VG_REJ_TYPE;
}

enum vg_reject vg_json_topic_site(const struct vg_topic *topic,
				  enum vg_topic_kind kind, const char *site)
{
	if (topic && (topic->kind != kind || strcmp(topic->site, site) != 0))
		return VG_REJ_MISMATCH;
	return VG_REJ_NONE;
}
