/*
 * Linux backend: opening the files py-spy reads on a target's behalf, and
 * saying why the kernel refuses to let us read a process.
 *
 * Whatever the target maps (its executable, libpython, later the debug
 * files of native frames or the files a core dump names) is chosen by
 * whoever runs the target, who may be another user.  A FIFO bind-mounted
 * over a library in their own mount namespace would make a plain open()
 * wait forever for a writer, and a device would be read without end.  So
 * every such file is opened through lnx_open_target: never blocking, never
 * following a link where the path is ours to choose, close-on-exec, and
 * accepted only if the open file is a regular file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <unistd.h>

#include "lnx.h"

/* openat2 (Linux 5.6) by number: Debian 12's libc has no wrapper. */
static int lnx_openat2_in_root(int root, const char *path, int oflags)
{
#ifdef SYS_openat2
	struct open_how how;
	long fd;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)oflags;
	/* The path as the map names it is canonical: a link on the way is
	 * someone's swap, and an absolute one must not lead out of the root. */
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
#else
	(void)root;
	(void)path;
	(void)oflags;
	return -ENOSYS;
#endif
}

int lnx_open_target(pid_t pid, const char *path, int how)
{
	const int oflags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	char buf[4200];
	struct stat st;
	int fd, root, rc;

	if (how == LNX_OPEN_IN_ROOT) {
		if (path[0] != '/' || lnx_proc_path(buf, sizeof(buf), pid, "root") < 0)
			return -EINVAL;
		root = open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			return -errno;
		fd = lnx_openat2_in_root(root, path + 1, oflags);
		close(root);
		/* an older kernel, or a seccomp filter that refuses openat2 (older
		 * container runtimes say EPERM): at least never the last link */
		if (fd == -ENOSYS || fd == -EPERM) {
			if (lnx_proc_path(buf, sizeof(buf), pid, "root%s", path) < 0)
				return -ENAMETOOLONG;
			fd = open(buf, oflags | O_NOFOLLOW);
			if (fd < 0)
				fd = -errno;
		}
	} else {
		/* a path of our own making whose last part is a magic link
		 * (/proc/PID/map_files/...): it must be followed */
		fd = open(path, oflags);
		if (fd < 0)
			fd = -errno;
	}
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -LNX_ENOTREG;
	}
	/* a regular file never blocks: clear the flag for whoever reads it */
	rc = fcntl(fd, F_GETFL);
	if (rc >= 0)
		fcntl(fd, F_SETFL, rc & ~O_NONBLOCK);
	return fd;
}

const char *lnx_open_strerror(int rc)
{
	return rc == -LNX_ENOTREG ? "not a regular file" : strerror(-rc);
}

/* --- why the kernel refuses ------------------------------------------- */

#define LNX_CAP_SYS_PTRACE 19

/* capabilities(7), by number */
static const char *const lnx_cap_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
	"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};

/* "CAP_A, CAP_B" for the bits of caps, or numbers past the table. */
static void lnx_cap_list(uint64_t caps, char *out, size_t len)
{
	size_t used = 0;
	unsigned bit;
	int n;

	out[0] = '\0';
	for (bit = 0; bit < 64 && used < len; bit++) {
		if (!(caps & (1ull << bit)))
			continue;
		if (bit < sizeof(lnx_cap_names) / sizeof(lnx_cap_names[0]))
			n = snprintf(out + used, len - used, "%sCAP_%s", used ? ", " : "",
				     lnx_cap_names[bit]);
		else
			n = snprintf(out + used, len - used, "%scapability %u", used ? ", " : "", bit);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* The hex capability set named `key` ("CapEff:") of a status file. */
static int lnx_status_caps(const char *path, const char *key, uint64_t *caps)
{
	char buf[4096], *p;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	p = strstr(buf, key);
	if (!p)
		return -ENOENT;
	*caps = strtoull(p + strlen(key), NULL, 16);
	return 0;
}

/* Whether the two processes live in the same user namespace (1), not (0),
 * or it cannot be told (-1). */
static int lnx_same_userns(pid_t pid)
{
	char a[64], b[64], path[64];
	ssize_t na, nb;

	if (lnx_proc_path(path, sizeof(path), pid, "ns/user"))
		return -1;
	na = readlink(path, a, sizeof(a));
	nb = readlink("/proc/self/ns/user", b, sizeof(b));
	if (na <= 0 || nb <= 0)
		return -1;
	return na == nb && memcmp(a, b, (size_t)na) == 0;
}

static void lnx_comm(pid_t pid, char *out, size_t len)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	if (lnx_proc_path(path, sizeof(path), pid, "comm") == 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, out, len - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(out, len, "?");
		return;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

int lnx_perm_error(pid_t pid, char *err, size_t errlen)
{
	uint64_t mine = 0, theirs = 0;
	char path[64], comm[32], caps[256];

	if (geteuid() != 0) {
		snprintf(err, errlen,
			 "permission denied reading process %d: run py-spy as root (sudo), "
			 "or lower /proc/sys/kernel/yama/ptrace_scope, or in Docker start the "
			 "container with --cap-add SYS_PTRACE", (int)pid);
		return -EPERM;
	}
	/* Root was refused: say why, never "run as root". */
	lnx_comm(pid, comm, sizeof(comm));
	if (lnx_status_caps("/proc/self/status", "CapEff:", &mine) == 0 &&
	    !(mine & (1ull << LNX_CAP_SYS_PTRACE))) {
		snprintf(err, errlen,
			 "permission denied reading process %d (%s): py-spy runs as root but "
			 "without the SYS_PTRACE capability; in Docker start the container "
			 "with --cap-add SYS_PTRACE", (int)pid, comm);
		return -EPERM;
	}
	if (lnx_same_userns(pid) == 0) {
		snprintf(err, errlen,
			 "permission denied reading process %d (%s): it runs in a user "
			 "namespace where py-spy's root has no rights; run py-spy inside it",
			 (int)pid, comm);
		return -EPERM;
	}
	if (lnx_proc_path(path, sizeof(path), pid, "status") == 0 &&
	    lnx_status_caps(path, "CapPrm:", &theirs) == 0 && (theirs & ~mine)) {
		lnx_cap_list(theirs & ~mine, caps, sizeof(caps));
		snprintf(err, errlen,
			 "permission denied reading process %d (%s) even as root: it holds "
			 "capabilities py-spy does not (%s); run py-spy with every "
			 "capability the process has", (int)pid, comm, caps);
		return -EPERM;
	}
	snprintf(err, errlen,
		 "permission denied reading process %d (%s) even as root: the kernel's "
		 "security policy (yama ptrace_scope 3, an LSM such as SELinux or "
		 "AppArmor, or lockdown) refuses it", (int)pid, comm);
	return -EPERM;
}
