/*
 * Host services for Linux (see core/host.h); files are in linux_files.c,
 * the module image check in linux_elf.c.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/host.h"
#include "linux_elf.h"

const char *host_platform(void)
{
	return "linux";
}

const char *host_module_suffix(void)
{
	return ".so";
}

const char *const *host_data_sections(void)
{
	static const char *const names[] = { ".bss", ".data", NULL };

	return names;
}

const char *host_runtime_section(void)
{
	return ".PyRuntime";
}

int host_dl_open(const char *path, void **handle, char *err, size_t errlen)
{
	void *h;

	dlerror();
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();

		snprintf(err, errlen, "%s", why ? why : "dlopen failed");
		return -ENOEXEC;
	}
	*handle = h;
	return 0;
}

void *host_dl_sym(void *handle, const char *name)
{
	return dlsym(handle, name);
}

void host_dl_close(void *handle)
{
	if (handle)
		dlclose(handle);
}

/* The ELF checker reads the open module with pread. */
static int fd_reader(void *ctx, uint64_t off, void *buf, size_t len)
{
	long n = 0;
	int fd = *(const int *)ctx;

	if (off > (uint64_t)INT64_MAX)
		return -EINVAL;
	while ((size_t)n < len) {
		ssize_t r = pread(fd, (char *)buf + n, len - (size_t)n, (off_t)off + n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		n += r;
	}
	return 0;
}

int host_module_image_check(int fd, uint64_t size, char *err, size_t errlen)
{
	return elf_image_check(fd_reader, &fd, size, err, errlen);
}

/*
 * The kernel resolves /proc/self/fd/N to the open file itself.  The dynamic
 * loader knows an object by the name it was opened with and hands out an
 * object already loaded under the same name without opening anything: so the
 * name stays taken, fd open, for as long as the object is loaded.
 */
static void fd_object_name(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

int host_dl_open_fd(int fd, void **handle, char *err, size_t errlen)
{
	char name[64];

	fd_object_name(fd, name, sizeof(name));
	return host_dl_open(name, handle, err, errlen);
}

void host_dl_close_fd(void *handle, int fd)
{
	char name[64];
	void *still;

	if (handle)
		dlclose(handle);
	if (fd < 0)
		return;
	fd_object_name(fd, name, sizeof(name));
	still = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
	if (still) {
		dlclose(still);
		return;  /* kept: see host_dl_close_fd in core/host.h */
	}
	close(fd);
}

int host_is_root(void)
{
	return geteuid() == 0;
}

int host_self_dir(char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;

	if (n <= 0)
		return -errno;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s", path[0] ? path : "/") >= len)
		return -ENAMETOOLONG;
	return 0;
}

int host_user_config_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/py-spy", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.config/py-spy", home);
	else
		n = snprintf(buf, len, "%s", "");
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int host_system_config_dir(char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s", "/etc/py-spy");

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

uint64_t host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t host_wall_time(void)
{
	return (int64_t)time(NULL);
}

/* Set by the handler, taken by the run loop: an atomic exchange, so that a
 * signal arriving between a read and a clear is never lost. */
static atomic_uint pending_signals;

static void on_signal(int sig)
{
	unsigned bit = 0;

	switch (sig) {
	case SIGINT: bit = HOST_SIG_INT; break;
	case SIGTERM: bit = HOST_SIG_TERM; break;
	case SIGWINCH: bit = HOST_SIG_WINCH; break;
	case SIGCHLD: bit = HOST_SIG_CHLD; break;
	case SIGPIPE: bit = HOST_SIG_PIPE; break;
	}
	atomic_fetch_or(&pending_signals, bit);
}

int host_signals_install(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGWINCH, SIGCHLD, SIGPIPE };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must wake the sampler's sleep. */
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (sigaction(sigs[i], &sa, NULL) != 0)
			return -errno;
	}
	return 0;
}

unsigned host_signals_take(void)
{
	return atomic_exchange(&pending_signals, 0u);
}

unsigned host_signals_peek(void)
{
	return atomic_load(&pending_signals);
}

int host_wait_until(uint64_t deadline_ns, int fd)
{
	for (;;) {
		uint64_t now = host_now_ns();
		struct timespec ts;
		struct pollfd pfd;
		int rc;

		if (now >= deadline_ns)
			return 0;
		if (atomic_load(&pending_signals))
			return -EINTR;
		if (fd < 0) {
			/* Nothing to watch: a plain sleep to the deadline, a little
			 * cheaper than ppoll.  A signal handler ends it (EINTR). */
			ts.tv_sec = (time_t)(deadline_ns / 1000000000ull);
			ts.tv_nsec = (long)(deadline_ns % 1000000000ull);
			rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			if (rc == EINTR)
				return -EINTR;
			if (rc == 0)
				return 0;
			/* any other failure: ppoll below */
		}
		ts.tv_sec = (time_t)((deadline_ns - now) / 1000000000ull);
		ts.tv_nsec = (long)((deadline_ns - now) % 1000000000ull);
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = ppoll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, &ts, NULL);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno == EINTR)
			return -EINTR;
		if (rc == 0)
			return 0; /* the timeout never ends early */
	}
}

double host_random(void)
{
	static int seeded;

	if (!seeded) {
		srand48((long)(host_now_ns() ^ (uint64_t)getpid()));
		seeded = 1;
	}
	return drand48();
}

double host_self_cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0.0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int host_isatty(int fd)
{
	return isatty(fd);
}

int host_temp_fd(void)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	if (!dir || !dir[0])
		dir = "/tmp";
	if ((size_t)snprintf(path, sizeof(path), "%s/py-spy-XXXXXX", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

int host_fd_redirect(int fd, int target, int *saved)
{
	*saved = fcntl(target, F_DUPFD_CLOEXEC, 0);
	if (*saved < 0)
		return -errno;
	if (dup2(fd, target) < 0) {
		int rc = -errno;

		close(*saved);
		*saved = -1;
		return rc;
	}
	return 0;
}

void host_fd_restore(int saved, int target)
{
	if (saved < 0)
		return;
	dup2(saved, target);
	close(saved);
}

int host_fd_copy(int fd, FILE *out)
{
	char buf[8192];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			return -EIO;
	}
	fflush(out);
	return n < 0 ? -errno : 0;
}

void host_fd_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

int host_target_file_exists(int64_t pid, const char *path)
{
	char buf[PATH_MAX];

	if (pid > 0 && (size_t)snprintf(buf, sizeof(buf), "/proc/%lld/root%s", (long long)pid, path) <
			       sizeof(buf) && access(buf, F_OK) == 0)
		return 1;
	return access(path, F_OK) == 0;
}
