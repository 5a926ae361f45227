/*
 * LD_PRELOAD shim for make agent-bench: an fsync that costs what an SD
 * card's does, and a count of the calls that touch the disk.
 *
 *   VG_SYNC_MS   what each fsync/fdatasync costs (default 10 ms)
 *   VG_SYNC_OUT  file the counts are kept in, rewritten after each
 *                counted call: "fsync N fdatasync N rename N create N
 *                write N unlink N" (writes to regular files only)
 *
 * A loop device with a delay would cost the same but needs root and a
 * kernel module; this measures the agent's own calls, which is what the
 * durable-write budget is about.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { C_FSYNC, C_FDATASYNC, C_RENAME, C_CREATE, C_WRITE, C_UNLINK, C_N };
static const char *const names[C_N] = {
	"fsync", "fdatasync", "rename", "create", "write", "unlink"
};
static atomic_long counts[C_N];

/* The counts, rewritten in place; raw syscalls so as not to count them. */
static void dump(void)
{
	static atomic_int fd = -1;
	char buf[256];
	int n = 0, f = fd;
	const char *out;

	if (f < 0) {
		out = getenv("VG_SYNC_OUT");
		if (!out)
			return;
		f = (int)syscall(SYS_openat, AT_FDCWD, out,
				 O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (f < 0)
			return;
		fd = f;
	}
	for (int i = 0; i < C_N; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s %ld ",
			      names[i], (long)counts[i]);
	buf[n - 1] = '\n';
	syscall(SYS_pwrite64, f, buf, (size_t)n, (off_t)0);
}

static void count(int what)
{
	counts[what]++;
	dump();
}

static void cost(void)
{
	const char *ms = getenv("VG_SYNC_MS");
	long v = ms ? atol(ms) : 10;
	struct timespec ts = { v / 1000, (v % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* the libc function this one stands in front of (dlsym gives an object
 * pointer: copied, as ISO C has no cast between the two kinds) */
typedef int (*fd_fn)(int);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*unlinkat_fn)(int, const char *, int);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef ssize_t (*write_fn)(int, const void *, size_t);

#define REAL(name, type) \
	static type real_##name; \
	if (!real_##name) { \
		void *sym_ = dlsym(RTLD_NEXT, #name); \
		memcpy(&real_##name, &sym_, sizeof(sym_)); \
	}

int fsync(int fd)
{
	REAL(fsync, fd_fn);
	count(C_FSYNC);
	cost();
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	REAL(fdatasync, fd_fn);
	count(C_FDATASYNC);
	cost();
	return real_fdatasync(fd);
}

int rename(const char *from, const char *to)
{
	REAL(rename, rename_fn);
	count(C_RENAME);
	return real_rename(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	REAL(renameat, renameat_fn);
	count(C_RENAME);
	return real_renameat(fd1, from, fd2, to);
}

int unlinkat(int dirfd, const char *path, int flags)
{
	REAL(unlinkat, unlinkat_fn);
	count(C_UNLINK);
	return real_unlinkat(dirfd, path, flags);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	REAL(openat, openat_fn);
	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
		count(C_CREATE);
	}
	return real_openat(dirfd, path, flags, mode);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct stat sb;

	REAL(write, write_fn);
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		count(C_WRITE);
	return real_write(fd, buf, len);
}
