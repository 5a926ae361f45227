/* Human-readable text for VG_ERR_* codes. */
#include "vigie/err.h"

const char *vg_strerror(int err)
{
	switch (err) {
	case VG_OK: return "success";
	case VG_ERR_INVAL: return "invalid argument";
	case VG_ERR_NOMEM: return "out of memory";
	case VG_ERR_IO: return "input/output error";
	case VG_ERR_RANGE: return "value out of range";
	case VG_ERR_PARSE: return "parse error";
	case VG_ERR_NOTFOUND: return "not found";
	case VG_ERR_BUSY: return "in use by another";
	default: return "unknown error";
	}
}
