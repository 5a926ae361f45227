/* Secret files: permission check and first-line read (vigie/secret.h). */
#include "vigie/secret.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vigie/err.h"

int vg_secret_check(const char *path, const char *what, char *err,
		    size_t errlen)
{
	struct stat sb;

	if (stat(path, &sb) != 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return VG_ERR_IO;
	}
	if (sb.st_mode & (S_IROTH | S_IWOTH)) {
		snprintf(err, errlen,
			 "%s %s is readable by others (mode %03o): "
			 "chmod o-rwx %s", what, path,
			 (unsigned)(sb.st_mode & 0777), path);
		return VG_ERR_INVAL;
	}
	return VG_OK;
}

int vg_secret_read_line(const char *path, const char *what, char *dst,
			size_t size, char *err, size_t errlen)
{
	int rc = vg_secret_check(path, what, err, errlen);
	FILE *f;

	if (rc != VG_OK)
		return rc;
	f = fopen(path, "r");
	if (!f || !fgets(dst, (int)size, f)) {
		snprintf(err, errlen, "%s %s: cannot read", what, path);
		if (f)
			fclose(f);
		return VG_ERR_IO;
	}
	fclose(f);
	dst[strcspn(dst, "\r\n")] = '\0';
	return VG_OK;
}
