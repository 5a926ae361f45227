/*
 * The domain's small closed vocabularies: the two migration programs, the
 * five unit states and where a state came from.  Their wire spellings are
 * fixed by the wire contract (docs/protocol.md); the enum order is part of
 * the in-memory layout of counts and must not change.
 */
#ifndef VIGIE_DOMAIN_H
#define VIGIE_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>

enum vg_program {
	VG_PROG_RENIR = 0, /* SQ operational units onto RENIR */
	VG_PROG_RGT = 1,   /* RITM links onto RGT */
	VG_PROG_COUNT
};

enum vg_state {
	VG_STATE_PENDING = 0,
	VG_STATE_MIGRATING,
	VG_STATE_MIGRATED,
	VG_STATE_RETIRED,
	VG_STATE_UNKNOWN,
	VG_STATE_COUNT
};

enum vg_source {
	VG_SOURCE_NONE = 0, /* field absent */
	VG_SOURCE_MODBUS,
	VG_SOURCE_MANUAL
};

/* Wire name ("renir"), or NULL for an out-of-range value. */
const char *vg_program_name(enum vg_program p);
/* Parse a wire name of exactly len bytes; VG_ERR_INVAL when unknown. */
int vg_program_parse(const char *s, size_t len);

const char *vg_state_name(enum vg_state s);
int vg_state_parse(const char *s, size_t len);

const char *vg_source_name(enum vg_source s);
int vg_source_parse(const char *s, size_t len);

#endif
