/*
 * Unit and site tables.  Units are stored in 64 Ki-record chunks so that a
 * growing table never copies or moves records (pointers stay valid and RSS
 * grows smoothly); the bucket array doubles when the load passes 1.
 */
#include "gw_units.h"

#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"
#include "vigie/str.h"

#define CHUNK_SHIFT 16
#define CHUNK_SIZE (1u << CHUNK_SHIFT)
#define MAX_CHUNKS 1024 /* 64 Mi units */

struct gw_units {
	struct gw_unit *chunks[MAX_CHUNKS];
	uint32_t count;
	uint32_t *buckets;
	uint32_t nbuckets; /* power of two */

	struct gw_site *sites;
	uint32_t nsites, sites_cap;
	uint32_t *site_buckets;
	uint32_t nsite_buckets;
};

/* FNV-1a over the key's parts: cheap and good enough for short ids. */
static uint32_t hash_key(int program, uint32_t site, const char *id)
{
	uint32_t h = 2166136261u;

	h = (h ^ (uint32_t)program) * 16777619u;
	h = (h ^ site) * 16777619u;
	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h ^ (h >> 15);
}

static uint32_t hash_site(const char *id)
{
	return hash_key(0, 0, id);
}

static uint32_t *new_buckets(uint32_t n)
{
	uint32_t *b = n ? malloc((size_t)n * sizeof(*b)) : NULL;
	if (b)
		memset(b, 0xff, (size_t)n * sizeof(*b)); /* all GW_NONE */
	return b;
}

struct gw_units *gw_units_new(void)
{
	struct gw_units *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->nbuckets = 1024;
	u->nsite_buckets = 256;
	u->buckets = new_buckets(u->nbuckets);
	u->site_buckets = new_buckets(u->nsite_buckets);
	if (!u->buckets || !u->site_buckets) {
		gw_units_free(u);
		return NULL;
	}
	return u;
}

void gw_units_free(struct gw_units *u)
{
	if (!u)
		return;
	for (uint32_t i = 0; i < MAX_CHUNKS && u->chunks[i]; i++)
		free(u->chunks[i]);
	free(u->buckets);
	free(u->sites);
	free(u->site_buckets);
	free(u);
}

struct gw_unit *gw_units_at(struct gw_units *u, uint32_t idx)
{
	return &u->chunks[idx >> CHUNK_SHIFT][idx & (CHUNK_SIZE - 1)];
}

static const struct gw_unit *unit_at_c(const struct gw_units *u, uint32_t i)
{
	return &u->chunks[i >> CHUNK_SHIFT][i & (CHUNK_SIZE - 1)];
}

uint32_t gw_units_count(const struct gw_units *u)
{
	return u->count;
}

uint32_t gw_units_find(const struct gw_units *u, int program, uint32_t site,
		       const char *id)
{
	uint32_t i = u->buckets[hash_key(program, site, id) &
				(u->nbuckets - 1)];

	while (i != GW_NONE) {
		const struct gw_unit *r = unit_at_c(u, i);
		if (r->site == site && r->program == program &&
		    strcmp(r->id, id) == 0)
			return i;
		i = r->next;
	}
	return GW_NONE;
}

/* Double the unit buckets and rechain every record. */
static int grow_buckets(struct gw_units *u)
{
	uint32_t n = u->nbuckets * 2;
	uint32_t *b = new_buckets(n);

	if (!b)
		return VG_ERR_NOMEM;
	for (uint32_t i = 0; i < u->count; i++) {
		struct gw_unit *r = gw_units_at(u, i);
		uint32_t h = hash_key(r->program, r->site, r->id) & (n - 1);
		r->next = b[h];
		b[h] = i;
	}
	free(u->buckets);
	u->buckets = b;
	u->nbuckets = n;
	return VG_OK;
}

uint32_t gw_units_add(struct gw_units *u, int program, uint32_t site,
		      const char *id)
{
	uint32_t idx = u->count, h;
	struct gw_unit *r;

	if ((idx >> CHUNK_SHIFT) >= MAX_CHUNKS)
		return GW_NONE;
	if (!u->chunks[idx >> CHUNK_SHIFT]) {
		u->chunks[idx >> CHUNK_SHIFT] =
			malloc(CHUNK_SIZE * sizeof(struct gw_unit));
		if (!u->chunks[idx >> CHUNK_SHIFT])
			return GW_NONE;
	}
	if (u->count >= u->nbuckets && grow_buckets(u) != VG_OK)
		return GW_NONE;
	r = gw_units_at(u, idx);
	memset(r, 0, sizeof(*r));
	r->program = (uint8_t)program;
	r->site = site;
	r->row = GW_NONE;
	r->flags = GW_UNIT_REMOVED;
	vg_strlcpy(r->id, id, sizeof(r->id));
	h = hash_key(program, site, id) & (u->nbuckets - 1);
	r->next = u->buckets[h];
	u->buckets[h] = idx;
	u->count++;
	return idx;
}

uint32_t gw_units_site_find(const struct gw_units *u, const char *id)
{
	uint32_t i = u->site_buckets[hash_site(id) & (u->nsite_buckets - 1)];

	while (i != GW_NONE) {
		if (strcmp(u->sites[i].id, id) == 0)
			return i;
		i = u->sites[i].next;
	}
	return GW_NONE;
}

static int grow_sites(struct gw_units *u)
{
	uint32_t cap = u->sites_cap ? u->sites_cap * 2 : 64;
	struct gw_site *s = realloc(u->sites, (size_t)cap * sizeof(*s));

	if (!s)
		return VG_ERR_NOMEM;
	u->sites = s;
	u->sites_cap = cap;
	if (u->nsites >= u->nsite_buckets) {
		uint32_t n = u->nsite_buckets * 2;
		uint32_t *b = new_buckets(n);
		if (!b)
			return VG_ERR_NOMEM;
		for (uint32_t i = 0; i < u->nsites; i++) {
			uint32_t h = hash_site(u->sites[i].id) & (n - 1);
			u->sites[i].next = b[h];
			b[h] = i;
		}
		free(u->site_buckets);
		u->site_buckets = b;
		u->nsite_buckets = n;
	}
	return VG_OK;
}

uint32_t gw_units_site_get(struct gw_units *u, const char *id)
{
	uint32_t i = gw_units_site_find(u, id), h;
	struct gw_site *s;

	if (i != GW_NONE)
		return i;
	if (u->nsites == u->sites_cap && grow_sites(u) != VG_OK)
		return GW_NONE;
	i = u->nsites++;
	s = &u->sites[i];
	memset(s, 0, sizeof(*s));
	vg_strlcpy(s->id, id, sizeof(s->id));
	s->online = -1;
	vg_health_clear(&s->health);
	h = hash_site(id) & (u->nsite_buckets - 1);
	s->next = u->site_buckets[h];
	u->site_buckets[h] = i;
	return i;
}

struct gw_site *gw_units_site(struct gw_units *u, uint32_t idx)
{
	return &u->sites[idx];
}

uint32_t gw_units_site_count(const struct gw_units *u)
{
	return u->nsites;
}

size_t gw_units_bytes(const struct gw_units *u)
{
	size_t chunks = (u->count + CHUNK_SIZE - 1) / CHUNK_SIZE;

	return sizeof(*u) + chunks * CHUNK_SIZE * sizeof(struct gw_unit) +
	       (size_t)u->nbuckets * 4 +
	       (size_t)u->sites_cap * sizeof(struct gw_site) +
	       (size_t)u->nsite_buckets * 4;
}
