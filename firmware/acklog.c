/*
 * The acknowledgement log (see acklog.h): appended without a sync, replayed
 * at start, rewritten when it grows.  Nothing here may lose a state: the
 * worst a lost or torn line does is publish a record once more.
 */
#include "acklog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigie/err.h"
#include "vigie/ident.h"
#include "vigie/log.h"

#define ACKLOG_NAME "acked"
#define ACKLOG_TMP "tmp.acked"
/* "<seq> <id>\n": 19 digits, a space, an identifier, a newline */
#define ACKLOG_LINE (20 + VG_IDENT_MAX + 2)

/* One line into (id, seq); false for a torn or foreign line. */
static bool parse_line(char *line, const char **id, int64_t *seq)
{
	char *end;
	size_t n = strlen(line);
	long long v;

	if (n == 0 || line[n - 1] != '\n')
		return false; /* torn: the write was cut short */
	line[--n] = '\0';
	errno = 0;
	v = strtoll(line, &end, 10);
	if (errno || end == line || *end != ' ' || v <= 0)
		return false;
	*id = end + 1;
	*seq = v;
	return vg_ident_valid(*id, strlen(*id));
}

static int replay(struct agent_acklog *log, agent_acklog_fn fn, void *arg)
{
	int fd = openat(log->dirfd, ACKLOG_NAME, O_RDONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	char line[ACKLOG_LINE + 1];
	const char *id;
	int64_t seq;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return fd < 0 && errno == ENOENT ? VG_OK : VG_ERR_IO;
	}
	while (fgets(line, sizeof(line), f)) {
		log->lines++;
		if (parse_line(line, &id, &seq))
			fn(arg, id, seq);
	}
	fclose(f);
	return VG_OK;
}

static int open_append(struct agent_acklog *log)
{
	log->fd = openat(log->dirfd, ACKLOG_NAME,
			 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	/* the store's modes are the agent's decision, not its umask's */
	return log->fd < 0 || fchmod(log->fd, 0640) != 0 ? VG_ERR_IO : VG_OK;
}

void agent_acklog_open(struct agent_acklog *log, int dirfd, int nunits,
		       agent_acklog_fn fn, void *arg)
{
	memset(log, 0, sizeof(*log));
	log->dirfd = dirfd;
	log->fd = -1;
	log->limit = 4 * nunits + 64;
	if (replay(log, fn, arg) != VG_OK || open_append(log) != VG_OK)
		vg_log(VG_LOG_WARN, "storage: acknowledgement log: %s; records "
		       "will be published again after a restart",
		       strerror(errno));
}

void agent_acklog_close(struct agent_acklog *log)
{
	if (log->fd >= 0)
		close(log->fd);
	log->fd = -1;
}

static int line_of(char *buf, size_t size, const char *id, int64_t seq)
{
	int n = snprintf(buf, size, "%" PRId64 " %s\n", seq, id);

	return n > 0 && (size_t)n < size ? n : VG_ERR_RANGE;
}

bool agent_acklog_append(struct agent_acklog *log, const char *id,
			 int64_t seq)
{
	char line[ACKLOG_LINE + 1];
	int n = line_of(line, sizeof(line), id, seq);

	if (log->fd < 0 || n < 0)
		return false;
	/* O_APPEND: one write is one line, whole or torn at the end */
	if (write(log->fd, line, (size_t)n) != n) {
		if (!log->failing)
			vg_log(VG_LOG_WARN, "storage: cannot append to the "
			       "acknowledgement log: %s", strerror(errno));
		log->failing = true;
		return false;
	}
	log->failing = false;
	return ++log->lines > log->limit;
}

/*
 * Write the n lines to fd, a buffer at a time; VG_OK or VG_ERR_IO.  The
 * buffer is small: this runs on the main thread at start, under the
 * deepest frames it ever has, and a stack page touched stays resident.
 */
static int write_all(int fd, const struct agent_ack *acks, int n)
{
	char buf[2048];
	size_t used = 0;
	int len;

	for (int i = 0; i < n; i++) {
		if (sizeof(buf) - used <= ACKLOG_LINE) {
			if (write(fd, buf, used) != (ssize_t)used)
				return VG_ERR_IO;
			used = 0;
		}
		len = line_of(buf + used, sizeof(buf) - used, acks[i].id,
			      acks[i].seq);
		if (len > 0)
			used += (size_t)len;
	}
	return used && write(fd, buf, used) != (ssize_t)used ? VG_ERR_IO
							     : VG_OK;
}

int agent_acklog_rewrite(struct agent_acklog *log,
			 const struct agent_ack *acks, int n)
{
	int fd = openat(log->dirfd, ACKLOG_TMP,
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	int rc = fd < 0 || fchmod(fd, 0640) != 0 ? VG_ERR_IO
						  : write_all(fd, acks, n);

	if (fd >= 0 && close(fd) != 0)
		rc = VG_ERR_IO;
	/* no sync: a log lost to a power cut only republishes records */
	if (rc == VG_OK &&
	    renameat(log->dirfd, ACKLOG_TMP, log->dirfd, ACKLOG_NAME) != 0)
		rc = VG_ERR_IO;
	if (rc != VG_OK) {
		vg_log(VG_LOG_WARN, "storage: cannot rewrite the "
		       "acknowledgement log: %s", strerror(errno));
		unlinkat(log->dirfd, ACKLOG_TMP, 0);
		return rc;
	}
	agent_acklog_close(log);
	log->lines = n;
	if (open_append(log) != VG_OK)
		vg_log(VG_LOG_WARN, "storage: acknowledgement log: %s",
		       strerror(errno));
	return VG_OK;
}
