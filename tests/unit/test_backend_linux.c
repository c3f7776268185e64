/*
 * The Linux backend (build/modules/backends/linux.so), loaded with dlopen
 * and driven against real processes: the memtarget helper (known buffers,
 * 4 threads, a SIGUSR1 counter), a pyenv CPython 3.11 (PIE libpython) and
 * Debian's /usr/bin/python3.11 (non-PIE, libpython static in the exe).
 */
#include <dlfcn.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pyspy/backend.h>
#include <pyspy/module.h>

#include "unit.h"

#define TBL_MARKER 0x5ca1ab1e0ddba11ull /* MEMTARGET_MARKER of the helper */
#define TBL_PAGE 4096

static void *tbl_handle;
static const struct pyspy_module *tbl_mod;
static const struct pyspy_backend_ops *ops;
static size_t tbl_esz; /* element size of the last maps or threads answer */

/* --- a started program and what it printed ------------------------------ */

struct tbl_prog {
	int64_t pid;
	int out;              /* read end of its stdout */
	char text[8192];      /* what it printed so far */
	size_t len;
};

static int64_t tbl_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tbl_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The whole line of the output that starts with `key`, or NULL. */
static const char *tbl_line(const struct tbl_prog *p, const char *key)
{
	const char *s = p->text;
	size_t n = strlen(key);

	while (s && *s) {
		if (strncmp(s, key, n) == 0 && strchr(s, '\n'))
			return s;
		s = strchr(s, '\n');
		if (s)
			s++;
	}
	return NULL;
}

/* Read its stdout until a whole line starts with `until` (30 s at most:
 * a python starting on a busy machine can take seconds). */
static int tbl_read_until(struct tbl_prog *p, const char *until)
{
	int64_t deadline = tbl_ms() + 30000;
	struct pollfd pfd = { p->out, POLLIN, 0 };
	ssize_t r;

	while (!tbl_line(p, until)) {
		if (p->len + 1 >= sizeof(p->text) || tbl_ms() > deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		r = read(p->out, p->text + p->len, sizeof(p->text) - 1 - p->len);
		if (r <= 0)
			return -EIO;
		p->len += r;
		p->text[p->len] = '\0';
	}
	return 0;
}

/* Start argv through the backend with stdout to a pipe; wait for `until`. */
static int tbl_start(struct tbl_prog *p, char *const *argv, const char *until)
{
	struct pyspy_spawn sp = { .size = sizeof(sp), .argv = argv, .uid = -1, .gid = -1 };
	char err[256];
	int fds[2], rc;

	memset(p, 0, sizeof(*p));
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	sp.stdout_fd = fds[1];
	rc = ops->spawn(unit_host(), &sp, &p->pid, err, sizeof(err));
	close(fds[1]);
	if (rc) {
		close(fds[0]);
		fprintf(stderr, "spawn %s: %s\n", argv[0], err);
		return rc;
	}
	p->out = fds[0];
	rc = tbl_read_until(p, until);
	if (rc) {
		kill((pid_t)p->pid, SIGKILL);
		waitpid((pid_t)p->pid, NULL, 0);
		close(p->out);
	}
	return rc;
}

/* The number after "key " on its own line of the output. */
static uint64_t tbl_value(const struct tbl_prog *p, const char *key, int nth)
{
	char pat[64];
	const char *s = p->text;
	size_t n;

	snprintf(pat, sizeof(pat), "%s ", key);
	n = strlen(pat);
	while (s && *s) {
		if (strncmp(s, pat, n) == 0 && nth-- == 0)
			return strtoull(s + n, NULL, 0);
		s = strchr(s, '\n');
		if (s)
			s++;
	}
	return 0;
}

/* Attach; end the program and the attachment together. */
static struct pyspy_proc *tbl_attach(const struct pyspy_host *host, int64_t pid)
{
	struct pyspy_proc *proc = NULL;
	char err[512];
	int rc;

	rc = ops->attach(host, pid, &proc, err, sizeof(err));
	if (rc)
		fprintf(stderr, "attach %lld: %s\n", (long long)pid, err);
	return rc ? NULL : proc;
}

static void tbl_end(struct tbl_prog *p, struct pyspy_proc *proc)
{
	if (proc) {
		ops->terminate(proc);
		ops->detach(proc);
	} else if (p->pid > 0) {
		kill((pid_t)p->pid, SIGKILL);
		waitpid((pid_t)p->pid, NULL, 0);
	}
	if (p->out > 0)
		close(p->out);
}

/* The shared memtarget of the suite. */
static struct tbl_prog mt;
static struct pyspy_proc *mt_proc;
static char mt_path[PATH_MAX];

/* Whether the module is loaded and memtarget attached.  The suite init
 * always succeeds so that a failed setup fails every test, visibly. */
static int tbl_ready(void)
{
	return ops && mt_proc;
}

static int tbl_suite_init(void)
{
	char *argv[] = { mt_path, "an arg", NULL };

	tbl_mod = unit_load_module("modules/backends/linux.so", PYSPY_KIND_BACKEND, &tbl_handle);
	if (!tbl_mod || !tbl_mod->ops)
		return 0;
	ops = tbl_mod->ops;
	snprintf(mt_path, sizeof(mt_path), "%s/tests/helpers/memtarget", unit_build_dir());
	if (tbl_start(&mt, argv, "ready") == 0)
		mt_proc = tbl_attach(unit_host(), mt.pid);
	return 0;
}

static int tbl_suite_clean(void)
{
	if (mt.pid)
		tbl_end(&mt, mt_proc);
	if (tbl_handle)
		dlclose(tbl_handle);
	return 0;
}

/* --- the descriptor ----------------------------------------------------- */

static void test_descriptor(void)
{
	CU_ASSERT_FATAL(tbl_ready());
	CU_ASSERT_EQUAL(tbl_mod->abi_version, PYSPY_ABI_VERSION);
	CU_ASSERT_EQUAL(tbl_mod->struct_size, sizeof(struct pyspy_module));
	CU_ASSERT_EQUAL(tbl_mod->kind, PYSPY_KIND_BACKEND);
	CU_ASSERT_STRING_EQUAL(tbl_mod->name, "linux");
	CU_ASSERT_EQUAL(ops->size, sizeof(struct pyspy_backend_ops));
	CU_ASSERT_STRING_EQUAL(ops->platform, "linux");
	CU_ASSERT_PTR_NOT_NULL(ops->attach && ops->detach && ops->info && ops->read &&
			       ops->maps && ops->threads && ops->pause && ops->resume &&
			       ops->binary_open && ops->binary_close && ops->binary_info &&
			       ops->binary_symbol && ops->binary_section && ops->spawn &&
			       ops->alive && ops->terminate ? ops : NULL);
}

/* --- reading memory ----------------------------------------------------- */

static int tbl_check_pattern(const unsigned char *b, size_t n, unsigned mul, unsigned add)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != (unsigned char)(i * mul + add))
			return 0;
	return 1;
}

static void tbl_check_batch(struct pyspy_proc *proc)
{
	static unsigned char b0[TBL_PAGE], b1[3000], b2[TBL_PAGE];
	uint64_t marker = 0;
	struct pyspy_iov iov[4] = {
		{ tbl_value(&mt, "buf0", 0), b0, sizeof(b0) },
		{ tbl_value(&mt, "buf1", 0), b1, sizeof(b1) },
		{ tbl_value(&mt, "buf2", 0), b2, sizeof(b2) },
		{ tbl_value(&mt, "marker", 0), &marker, sizeof(marker) },
	};

	memset(b0, 0, sizeof(b0));
	memset(b1, 0, sizeof(b1));
	memset(b2, 0, sizeof(b2));
	CU_ASSERT_EQUAL(ops->read(proc, iov, 4, sizeof(struct pyspy_iov)), 4);
	CU_ASSERT(tbl_check_pattern(b0, sizeof(b0), 7, 1));
	CU_ASSERT(tbl_check_pattern(b1, sizeof(b1), 3, 2));
	CU_ASSERT(tbl_check_pattern(b2, sizeof(b2), 13, 5));
	CU_ASSERT_EQUAL(marker, TBL_MARKER);
}

/* More ranges than IOV_MAX in one read: every one lands where it should. */
static void tbl_check_many(struct pyspy_proc *proc)
{
	enum { N = 3000 };
	static struct pyspy_iov iov[N];
	static unsigned char out[N];
	uint64_t b0 = tbl_value(&mt, "buf0", 0), b2 = tbl_value(&mt, "buf2", 0);
	int i, bad = 0;

	for (i = 0; i < N; i++) {
		iov[i].remote = (i % 2 ? b2 : b0) + (uint64_t)(i % TBL_PAGE);
		iov[i].local = &out[i];
		iov[i].len = 1;
	}
	memset(out, 0, sizeof(out));
	CU_ASSERT_EQUAL(ops->read(proc, iov, N, sizeof(struct pyspy_iov)), N);
	for (i = 0; i < N; i++)
		bad += out[i] != (unsigned char)(i % 2 ? (i % TBL_PAGE) * 13 + 5 :
						 (i % TBL_PAGE) * 7 + 1);
	CU_ASSERT_EQUAL(bad, 0);
}

/* An unmapped range stops the count at the ranges before it. */
static void tbl_check_partial(struct pyspy_proc *proc)
{
	static unsigned char b0[64], b1[64], h[64], b2[64];
	uint64_t buf0 = tbl_value(&mt, "buf0", 0), hole = tbl_value(&mt, "hole", 0);
	struct pyspy_iov iov[4] = {
		{ buf0, b0, sizeof(b0) },
		{ tbl_value(&mt, "buf1", 0), b1, sizeof(b1) },
		{ hole, h, sizeof(h) },
		{ tbl_value(&mt, "buf2", 0), b2, sizeof(b2) },
	};
	struct pyspy_iov across = { buf0 + TBL_PAGE - 8, h, 16 };

	CU_ASSERT_EQUAL(ops->read(proc, iov, 4, sizeof(struct pyspy_iov)), 2);
	CU_ASSERT(tbl_check_pattern(b0, sizeof(b0), 7, 1));
	CU_ASSERT(tbl_check_pattern(b1, sizeof(b1), 3, 2));
	CU_ASSERT_EQUAL(ops->read(proc, iov + 2, 2, sizeof(struct pyspy_iov)), 0);
	CU_ASSERT_EQUAL(ops->read(proc, &across, 1, sizeof(struct pyspy_iov)), 0); /* runs into the hole */
	CU_ASSERT_EQUAL(ops->read(proc, iov, 0, sizeof(struct pyspy_iov)), 0);
}

/* The caller's ranges come with their element size (ABI v2): a newer core's
 * larger elements and an older one's smaller ones are read by that size,
 * never past it (ASan sees an over-read of the small array on the stack). */
static void test_read_iov_size(void)
{
	static unsigned char b0[64], b1[64];
	struct big_iov {
		struct pyspy_iov v;
		uint64_t added[2];   /* members of a newer ABI, unknown to the backend */
	} big[2];
	struct small_iov {
		uint64_t remote;
		void *local;         /* no len: an element of 16 bytes reads len 0 */
	} small[2] = {
		{ tbl_value(&mt, "buf0", 0), b0 },
		{ tbl_value(&mt, "buf1", 0), b1 },
	};

	CU_ASSERT_FATAL(tbl_ready());
	memset(big, 0xA5, sizeof(big));
	big[0].v = (struct pyspy_iov){ tbl_value(&mt, "buf0", 0), b0, sizeof(b0) };
	big[1].v = (struct pyspy_iov){ tbl_value(&mt, "buf1", 0), b1, sizeof(b1) };
	memset(b0, 0, sizeof(b0));
	memset(b1, 0, sizeof(b1));
	CU_ASSERT_EQUAL(ops->read(mt_proc, &big[0].v, 2, sizeof(big[0])), 2);
	CU_ASSERT(tbl_check_pattern(b0, sizeof(b0), 7, 1));
	CU_ASSERT(tbl_check_pattern(b1, sizeof(b1), 3, 2));

	memset(b0, 0, sizeof(b0));
	memset(b1, 0, sizeof(b1));
	CU_ASSERT_EQUAL(ops->read(mt_proc, (const struct pyspy_iov *)(const void *)small, 2,
				  sizeof(small[0])), 2);
	CU_ASSERT_EQUAL(b0[0] | b0[63] | b1[0] | b1[63], 0);
}

/* Ranges close together are read as one (in any order, overlapping or
 * not); a group that runs into a hole still reports the ranges before it. */
static void tbl_check_grouped(struct pyspy_proc *proc)
{
	static unsigned char a[64], b[32], c[64], d[200], h[64], e[64];
	uint64_t buf0 = tbl_value(&mt, "buf0", 0), buf2 = tbl_value(&mt, "buf2", 0);
	struct pyspy_iov iov[6] = {
		{ buf0 + 100, a, sizeof(a) },
		{ buf0 + 10, b, sizeof(b) },
		{ buf0 + 120, d, sizeof(d) },
		{ buf2 + 7, e, sizeof(e) },
		{ buf0 + TBL_PAGE - 64, c, sizeof(c) },
		{ tbl_value(&mt, "hole", 0), h, sizeof(h) },
	};
	size_t i;

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(c, 0, sizeof(c));
	memset(d, 0, sizeof(d));
	memset(e, 0, sizeof(e));
	CU_ASSERT_EQUAL(ops->read(proc, iov, 5, sizeof(struct pyspy_iov)), 5);
	for (i = 0; i < sizeof(a); i++)
		CU_ASSERT_EQUAL(a[i], (unsigned char)((100 + i) * 7 + 1));
	for (i = 0; i < sizeof(b); i++)
		CU_ASSERT_EQUAL(b[i], (unsigned char)((10 + i) * 7 + 1));
	for (i = 0; i < sizeof(d); i++)
		CU_ASSERT_EQUAL(d[i], (unsigned char)((120 + i) * 7 + 1));
	for (i = 0; i < sizeof(e); i++)
		CU_ASSERT_EQUAL(e[i], (unsigned char)((7 + i) * 13 + 5));
	for (i = 0; i < sizeof(c); i++)
		CU_ASSERT_EQUAL(c[i], (unsigned char)((TBL_PAGE - 64 + i) * 7 + 1));
	/* the hole lies right after buf0: it joins the group of c */
	CU_ASSERT_EQUAL(ops->read(proc, iov, 6, sizeof(struct pyspy_iov)), 5);
	CU_ASSERT_EQUAL(ops->read(proc, iov + 4, 2, sizeof(struct pyspy_iov)), 1);
}

static void test_read(void)
{
	CU_ASSERT_FATAL(tbl_ready());
	tbl_check_batch(mt_proc);
	tbl_check_many(mt_proc);
	tbl_check_partial(mt_proc);
	tbl_check_grouped(mt_proc);
}

/* The same through /proc/PID/mem. */
static void test_read_proc_mem(void)
{
	struct pyspy_proc *proc;

	CU_ASSERT_FATAL(tbl_ready());
	/* the backend reads the option at attach */
	unit_host_options((const char *const[]){ "read", "proc-mem", NULL });
	proc = tbl_attach(unit_host(), mt.pid);
	unit_host_options(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(proc);
	tbl_check_batch(proc);
	tbl_check_many(proc);
	tbl_check_partial(proc);
	ops->detach(proc);
}

/* In a child whose process_vm_readv fails with `errno_value` (a seccomp
 * filter), attach and read: the backend must fall back to /proc/PID/mem.
 * Returns the child's exit status: 0 when every check held. */
static int tbl_fallback_child(int errno_value)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_readv, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (errno_value & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(filter) / sizeof(filter[0]), filter };
	static unsigned char b0[TBL_PAGE], b1[3000], h[8];
	struct pyspy_iov iov[3] = {
		{ tbl_value(&mt, "buf0", 0), b0, sizeof(b0) },
		{ tbl_value(&mt, "buf1", 0), b1, sizeof(b1) },
		{ tbl_value(&mt, "hole", 0), h, sizeof(h) },
	};
	struct pyspy_proc *proc = NULL;
	char err[512];
	int st = -1, ok;
	pid_t c;

	c = fork();
	if (c == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(2);
		if (syscall(__NR_process_vm_readv, getpid(), NULL, 0, NULL, 0, 0) != -1 ||
		    errno != errno_value)
			_exit(3); /* the filter does not work: the test would prove nothing */
		if (ops->attach(unit_host(), mt.pid, &proc, err, sizeof(err)))
			_exit(4);
		ok = ops->read(proc, iov, 3, sizeof(struct pyspy_iov)) == 2 &&
		     tbl_check_pattern(b0, sizeof(b0), 7, 1) &&
		     tbl_check_pattern(b1, sizeof(b1), 3, 2);
		ops->detach(proc);
		_exit(ok ? 0 : 5);
	}
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void test_read_fallback(void)
{
	CU_ASSERT_FATAL(tbl_ready());
	CU_ASSERT_EQUAL(tbl_fallback_child(EPERM), 0);
	CU_ASSERT_EQUAL(tbl_fallback_child(ENOSYS), 0);
}

/* --- maps, threads, info ------------------------------------------------ */

static const struct pyspy_map *tbl_map_of(const struct pyspy_map *maps, size_t n, uint64_t a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (maps[i].start <= a && a < maps[i].end)
			return &maps[i];
	return NULL;
}

static void test_maps(void)
{
	const struct pyspy_map *maps, *m;
	char err[256], exe[PATH_MAX];
	size_t n, i;
	int sorted = 1, exe_x = 0;

	CU_ASSERT_FATAL(tbl_ready());
	CU_ASSERT_EQUAL_FATAL(ops->maps(mt_proc, &maps, &n, &tbl_esz, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(tbl_esz, sizeof(struct pyspy_map));
	CU_ASSERT(n > 5);
	for (i = 1; i < n; i++)
		sorted &= maps[i - 1].start < maps[i].start && maps[i].start < maps[i].end;
	CU_ASSERT(sorted);
	m = tbl_map_of(maps, n, tbl_value(&mt, "buf0", 0));
	CU_ASSERT(m && m->prot == (PYSPY_PROT_READ | PYSPY_PROT_WRITE) && !m->path[0]);
	m = tbl_map_of(maps, n, tbl_value(&mt, "buf2", 0));
	CU_ASSERT(m && (m->prot & PYSPY_PROT_WRITE));
	m = tbl_map_of(maps, n, tbl_value(&mt, "buf1", 0));
	CU_ASSERT(m && (m->prot & PYSPY_PROT_WRITE));
	CU_ASSERT_PTR_NULL(tbl_map_of(maps, n, tbl_value(&mt, "hole", 0)));
	CU_ASSERT_PTR_NOT_NULL(realpath(mt_path, exe));
	for (i = 0; i < n; i++)
		if (strcmp(maps[i].path, exe) == 0 && (maps[i].prot & PYSPY_PROT_EXEC))
			exe_x = 1;
	CU_ASSERT(exe_x);
	for (i = 0; i < n; i++)
		if (strcmp(maps[i].path, "[stack]") == 0)
			break;
	CU_ASSERT(i < n);
}

static void test_threads(void)
{
	const struct pyspy_os_thread *t;
	int64_t spin = (int64_t)tbl_value(&mt, "spin", 0);
	int64_t s0 = (int64_t)tbl_value(&mt, "sleep", 0), s1 = (int64_t)tbl_value(&mt, "sleep", 1);
	int seen = 0;
	char err[256];
	size_t n, i;

	CU_ASSERT_FATAL(tbl_ready());
	CU_ASSERT_EQUAL_FATAL(ops->threads(mt_proc, &t, &n, &tbl_esz, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(tbl_esz, sizeof(struct pyspy_os_thread));
	CU_ASSERT_EQUAL(n, 4);
	for (i = 0; i < n; i++) {
		if (t[i].tid == mt.pid) {
			CU_ASSERT_EQUAL(t[i].state, PYSPY_THREAD_IDLE);
			seen |= 1;
		} else if (t[i].tid == spin) {
			CU_ASSERT_EQUAL(t[i].state, PYSPY_THREAD_RUNNING);
			seen |= 2;
		} else if (t[i].tid == s0 || t[i].tid == s1) {
			CU_ASSERT_EQUAL(t[i].state, PYSPY_THREAD_IDLE);
			seen |= t[i].tid == s0 ? 4 : 8;
		}
	}
	CU_ASSERT_EQUAL(seen, 15);
	/* one thread at a time */
	CU_ASSERT_PTR_NOT_NULL_FATAL(ops->thread_state);
	CU_ASSERT_EQUAL(ops->thread_state(mt_proc, spin), PYSPY_THREAD_RUNNING);
	CU_ASSERT_EQUAL(ops->thread_state(mt_proc, s0), PYSPY_THREAD_IDLE);
	CU_ASSERT_EQUAL(ops->thread_state(mt_proc, mt.pid), PYSPY_THREAD_IDLE);
	CU_ASSERT_EQUAL(ops->thread_state(mt_proc, 1), -ESRCH); /* not one of its tasks */
	CU_ASSERT_EQUAL(ops->thread_state(mt_proc, 0), -EINVAL);
}

static void test_info(void)
{
	struct pyspy_proc_info info = { .size = sizeof(info) };
	char err[256], exe[PATH_MAX], cmd[PATH_MAX + 16];

	CU_ASSERT_FATAL(tbl_ready());
	CU_ASSERT_EQUAL_FATAL(ops->info(mt_proc, &info, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info.pid, mt.pid);
	CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(mt_path, exe));
	CU_ASSERT_STRING_EQUAL(info.exe, exe);
	snprintf(cmd, sizeof(cmd), "%s an arg", mt_path);
	CU_ASSERT_STRING_EQUAL(info.cmdline, cmd);
	CU_ASSERT_STRING_EQUAL(info.comm, "memtarget");

	/* A caller's struct that ends before exe: filled as far as it goes,
	 * nothing written past it (ASan sees the exact allocation). */
	{
		size_t small = offsetof(struct pyspy_proc_info, exe);
		unsigned char *block = malloc(small);
		uint32_t size32 = (uint32_t)small;
		struct pyspy_proc_info got = { 0 };

		CU_ASSERT_FATAL(block != NULL);
		memset(block, 0, small);
		memcpy(block, &size32, sizeof(size32));
		CU_ASSERT_EQUAL(ops->info(mt_proc, (struct pyspy_proc_info *)(void *)block, err,
					  sizeof(err)), 0);
		memcpy(&got, block, small);
		CU_ASSERT_EQUAL(got.size, small);
		CU_ASSERT_EQUAL(got.pid, mt.pid);
		free(block);
	}
}

/* --- pause and resume --------------------------------------------------- */

/* How many live tasks of pid are in state `state` ('t'), and how many live
 * tasks there are. */
static int tbl_count_state(int64_t pid, char state, int *total)
{
	char path[128], buf[512], *p;
	struct dirent *de;
	int n = 0, fd;
	ssize_t r;
	DIR *d;

	*total = 0;
	snprintf(path, sizeof(path), "/proc/%lld/task", (long long)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "/proc/%lld/task/%s/stat",
				     (long long)pid, de->d_name) >= sizeof(path))
			continue;
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		p = strrchr(buf, ')');
		if (!p || p[2] == 'Z' || p[2] == 'X' || p[2] == 'x')
			continue; /* gone or going */
		(*total)++;
		n += p[2] == state;
	}
	closedir(d);
	return n;
}

static uint64_t tbl_read_u64(struct pyspy_proc *proc, uint64_t addr)
{
	uint64_t v = 0;
	struct pyspy_iov iov = { addr, &v, sizeof(v) };

	return ops->read(proc, &iov, 1, sizeof(struct pyspy_iov)) == 1 ? v : ~0ull;
}

static uint32_t tbl_read_u32(struct pyspy_proc *proc, uint64_t addr)
{
	uint32_t v = 0;
	struct pyspy_iov iov = { addr, &v, sizeof(v) };

	return ops->read(proc, &iov, 1, sizeof(struct pyspy_iov)) == 1 ? v : ~0u;
}

static void test_pause_resume(void)
{
	uint64_t usr1 = tbl_value(&mt, "usr1", 0);
	uint32_t before;
	int64_t deadline;
	char err[256];
	int total, stopped;

	CU_ASSERT_FATAL(tbl_ready());
	before = tbl_read_u32(mt_proc, usr1);
	CU_ASSERT_NOT_EQUAL_FATAL(before, ~0u);
	CU_ASSERT_EQUAL_FATAL(ops->pause(mt_proc, err, sizeof(err)), 0);
	stopped = tbl_count_state(mt.pid, 't', &total);
	CU_ASSERT_EQUAL(total, 4);
	CU_ASSERT_EQUAL(stopped, total);
	CU_ASSERT_EQUAL(ops->pause(mt_proc, err, sizeof(err)), 0); /* already paused */

	/* a signal sent while it is held waits for the resume */
	CU_ASSERT_EQUAL(kill((pid_t)mt.pid, SIGUSR1), 0);
	tbl_sleep_ms(100);
	CU_ASSERT_EQUAL(tbl_read_u32(mt_proc, usr1), before); /* read works while held */
	CU_ASSERT_EQUAL(tbl_count_state(mt.pid, 't', &total), total);

	CU_ASSERT_EQUAL(ops->resume(mt_proc), 0);
	deadline = tbl_ms() + 10000;
	while (tbl_read_u32(mt_proc, usr1) == before && tbl_ms() < deadline)
		tbl_sleep_ms(5);
	CU_ASSERT_EQUAL(tbl_read_u32(mt_proc, usr1), before + 1);
	while (tbl_count_state(mt.pid, 't', &total) != 0 && tbl_ms() < deadline)
		tbl_sleep_ms(5);
	CU_ASSERT_EQUAL(tbl_count_state(mt.pid, 't', &total), 0);
	CU_ASSERT_EQUAL(total, 4);
	CU_ASSERT_EQUAL(ops->resume(mt_proc), 0); /* not paused: nothing to do */
}

/* Signals that arrive while pause is seizing the threads (a thread stops
 * to have one delivered) are handed back at the resume: real-time signals
 * queue, so the target must count every one sent.  A child sends them
 * until told to stop; the pauses go on until they number 50 and 500
 * signals were sent while they went on, however the machine schedules
 * the two. */
static void test_pause_signal_storm(void)
{
	enum { CYCLES = 50, SIGNALS = 500 };
	uint64_t rt = tbl_value(&mt, "rt", 0);
	int cycles = 0, rc = 0, total;
	uint32_t before, now, at_start;
	volatile uint32_t *shared; /* [0]: signals sent, [1]: stop */
	int64_t deadline;
	char err[256];
	pid_t sender;

	CU_ASSERT_FATAL(tbl_ready());
	before = tbl_read_u32(mt_proc, rt);
	CU_ASSERT_NOT_EQUAL_FATAL(before, ~0u);
	shared = mmap(NULL, 2 * sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	CU_ASSERT_FATAL(shared != MAP_FAILED);
	shared[0] = shared[1] = 0;
	sender = fork();
	CU_ASSERT_FATAL(sender >= 0);
	if (sender == 0) {
		while (!__atomic_load_n(&shared[1], __ATOMIC_ACQUIRE)) {
			if (kill((pid_t)mt.pid, SIGRTMIN + 1) == 0)
				__atomic_add_fetch(&shared[0], 1, __ATOMIC_RELEASE);
			usleep(50);
		}
		_exit(0);
	}
	at_start = __atomic_load_n(&shared[0], __ATOMIC_ACQUIRE);
	while (rc == 0 && (cycles < CYCLES ||
			   __atomic_load_n(&shared[0], __ATOMIC_ACQUIRE) - at_start < SIGNALS)) {
		rc = ops->pause(mt_proc, err, sizeof(err));
		if (rc == 0)
			rc = ops->resume(mt_proc);
		cycles++;
	}
	__atomic_store_n(&shared[1], 1, __ATOMIC_RELEASE);
	waitpid(sender, NULL, 0);
	CU_ASSERT_EQUAL(rc, 0);
	deadline = tbl_ms() + 10000;
	while ((now = tbl_read_u32(mt_proc, rt)) != before + shared[0] && tbl_ms() < deadline)
		tbl_sleep_ms(10);
	CU_ASSERT_EQUAL(now, before + shared[0]);
	CU_ASSERT_EQUAL(tbl_count_state(mt.pid, 't', &total), 0);
	munmap((void *)shared, 2 * sizeof(*shared));
}

/* CPU time this process has used, in milliseconds. */
static int64_t tbl_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Many cycles: cheap enough (in CPU time: waiting for the target's
 * threads to stop takes as long as a busy machine makes it), and the
 * target runs on afterwards. */
static void test_pause_cycles(void)
{
	int64_t t0 = tbl_cpu_ms();
	int i, rc = 0, total;
	char err[256];

	CU_ASSERT_FATAL(tbl_ready());
	for (i = 0; i < 500 && rc == 0; i++) {
		rc = ops->pause(mt_proc, err, sizeof(err));
		if (rc == 0)
			rc = ops->resume(mt_proc);
	}
	if (rc)
		fprintf(stderr, "pause: %s\n", err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(tbl_cpu_ms() - t0 < 5000);
	CU_ASSERT_EQUAL(tbl_count_state(mt.pid, 't', &total), 0);
	CU_ASSERT_EQUAL(tbl_read_u64(mt_proc, tbl_value(&mt, "marker", 0)), TBL_MARKER);
}

/* Threads that come and go while pause seizes them: every live task is
 * held when pause returns, and none is left stopped after resume. */
static void test_pause_churn(void)
{
	char *argv[] = { mt_path, "--churn", NULL };
	struct pyspy_proc *proc;
	int i, rc = 0, total, held_ok = 1;
	struct tbl_prog p;
	int64_t deadline;
	char err[256];

	CU_ASSERT_FATAL(tbl_ready());
	CU_ASSERT_EQUAL_FATAL(tbl_start(&p, argv, "ready"), 0);
	proc = tbl_attach(unit_host(), p.pid);
	CU_ASSERT_PTR_NOT_NULL_FATAL(proc);
	for (i = 0; i < 300 && rc == 0; i++) {
		rc = ops->pause(proc, err, sizeof(err));
		if (rc)
			break;
		if (i % 30 == 0)
			held_ok &= tbl_count_state(p.pid, 't', &total) == total;
		rc = ops->resume(proc);
	}
	if (rc)
		fprintf(stderr, "pause: %s\n", err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(held_ok);
	deadline = tbl_ms() + 10000;
	while (tbl_count_state(p.pid, 't', &total) != 0 && tbl_ms() < deadline)
		tbl_sleep_ms(5);
	CU_ASSERT_EQUAL(tbl_count_state(p.pid, 't', &total), 0);
	CU_ASSERT_EQUAL(ops->alive(proc, NULL), 1);
	tbl_end(&p, proc);
}

/* TracerPid of every task of pid: 1 if all are traced, 0 if none is. */
static int tbl_all_traced(int64_t pid, int want)
{
	char path[128], buf[4096], *p;
	int fd, ok = 1, n = 0;
	struct dirent *de;
	ssize_t r;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%lld/task", (long long)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    (size_t)snprintf(path, sizeof(path), "/proc/%lld/task/%s/status",
				     (long long)pid, de->d_name) >= sizeof(path))
			continue;
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[r > 0 ? r : 0] = '\0';
		p = strstr(buf, "TracerPid:");
		ok &= p && (atoi(p + 10) != 0) == want;
		n++;
	}
	closedir(d);
	return ok && n > 0;
}

/* Another tracer (strace) holds the threads: pause says so and leaves
 * nothing held; once it has gone, pause works. */
static void test_pause_traced_elsewhere(void)
{
	char *argv[] = { mt_path, NULL }, pidarg[32], want[64];
	struct pyspy_proc *proc;
	struct tbl_prog p;
	int64_t deadline;
	char err[256] = "";
	pid_t tracer;

	CU_ASSERT_FATAL(tbl_ready());
	if (access("/usr/bin/strace", X_OK)) {
		unit_skip("/usr/bin/strace is absent");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(tbl_start(&p, argv, "ready"), 0);
	proc = tbl_attach(unit_host(), p.pid);
	CU_ASSERT_PTR_NOT_NULL_FATAL(proc);
	snprintf(pidarg, sizeof(pidarg), "%lld", (long long)p.pid);
	tracer = fork();
	CU_ASSERT_FATAL(tracer >= 0);
	if (tracer == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execl("/usr/bin/strace", "strace", "-f", "-q", "-o", "/dev/null", "-p", pidarg,
		      (char *)NULL);
		_exit(127);
	}
	deadline = tbl_ms() + 5000;
	while (!tbl_all_traced(p.pid, 1) && tbl_ms() < deadline)
		tbl_sleep_ms(10);
	CU_ASSERT_EQUAL(ops->pause(proc, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "already traced by process %d", (int)tracer);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	kill(tracer, SIGTERM);
	waitpid(tracer, NULL, 0);
	deadline = tbl_ms() + 5000;
	while (!tbl_all_traced(p.pid, 0) && tbl_ms() < deadline)
		tbl_sleep_ms(10);
	CU_ASSERT_EQUAL(ops->pause(proc, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ops->resume(proc), 0);
	CU_ASSERT_EQUAL(ops->alive(proc, NULL), 1);
	tbl_end(&p, proc);
}

/* --- holding chosen threads (pause_threads) ------------------------------ */

static struct pyspy_hold tbl_hold(uint64_t wait_ns, uint64_t hold_ns)
{
	struct pyspy_hold h = { .size = sizeof(h), .wait_ns = wait_ns, .hold_ns = hold_ns };

	return h;
}

/* State letter of one task ('t' when held by a tracer), 0 if gone. */
static char tbl_task_state(int64_t pid, int64_t tid)
{
	char path[128], buf[512], *p;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%lld/task/%lld/stat", (long long)pid, (long long)tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* TracerPid of one task, -1 if unknown. */
static long tbl_tracer(int64_t pid, int64_t tid)
{
	char path[128], buf[4096], *p;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%lld/task/%lld/status", (long long)pid, (long long)tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[r > 0 ? r : 0] = '\0';
	p = strstr(buf, "TracerPid:");
	return p ? atol(p + 10) : -1;
}

/* Only the threads asked for stop; the others run on. */
static void test_pause_threads_chosen(void)
{
	int64_t tids[2] = { (int64_t)tbl_value(&mt, "spin", 0), (int64_t)tbl_value(&mt, "sleep", 0) };
	int64_t other = (int64_t)tbl_value(&mt, "sleep", 1);
	char err[256] = "";
	int total;

	CU_ASSERT_FATAL(tbl_ready() && ops->pause_threads);
	struct pyspy_hold h = tbl_hold(1000000000ull, 1000000000ull);

	CU_ASSERT_EQUAL_FATAL(ops->pause_threads(mt_proc, tids, 2, &h, err, sizeof(err)), 0);
	CU_ASSERT(h.stopped_ns > 0);
	CU_ASSERT_EQUAL(tbl_task_state(mt.pid, tids[0]), 't');
	CU_ASSERT_EQUAL(tbl_task_state(mt.pid, tids[1]), 't');
	CU_ASSERT_EQUAL(tbl_count_state(mt.pid, 't', &total), 2);
	CU_ASSERT_EQUAL(total, 4);
	CU_ASSERT_EQUAL(tbl_tracer(mt.pid, other), 0);
	CU_ASSERT_EQUAL(tbl_tracer(mt.pid, mt.pid), 0);
	CU_ASSERT_EQUAL(ops->resume(mt_proc), 0);
	CU_ASSERT_EQUAL(tbl_count_state(mt.pid, 't', &total), 0);
	CU_ASSERT_EQUAL(tbl_tracer(mt.pid, tids[0]), 0);
	/* a tid that is not a task of the process is not touched */
	tids[0] = getpid();
	CU_ASSERT_EQUAL(ops->pause_threads(mt_proc, tids, 1, &h, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tbl_tracer(getpid(), getpid()), 0);
	CU_ASSERT_EQUAL(ops->resume(mt_proc), 0);
}

static void tbl_nocldstop(int sig)
{
}

/* When SIGCHLD does not report stops (SA_NOCLDSTOP, or ignored), the wait
 * falls back to short timed waits: a pause still works, in a child that
 * asks for that. */
static void test_pause_threads_without_sigchld(void)
{
	int64_t tids[2] = { (int64_t)tbl_value(&mt, "spin", 0), (int64_t)tbl_value(&mt, "sleep", 0) };
	int st = -1;
	pid_t c;

	CU_ASSERT_FATAL(tbl_ready());
	c = fork();
	CU_ASSERT_FATAL(c >= 0);
	if (c == 0) {
		struct pyspy_hold h = tbl_hold(1000000000ull, 1000000000ull);
		struct pyspy_proc *proc = NULL;
		struct sigaction sa;
		char err[256];
		int total, ok;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = tbl_nocldstop;
		sa.sa_flags = SA_NOCLDSTOP;
		sigaction(SIGCHLD, &sa, NULL);
		if (ops->attach(unit_host(), mt.pid, &proc, err, sizeof(err)))
			_exit(2);
		ok = ops->pause_threads(proc, tids, 2, &h, err, sizeof(err)) == 0 &&
		     tbl_count_state(mt.pid, 't', &total) == 2;
		ok &= ops->resume(proc) == 0 && tbl_count_state(mt.pid, 't', &total) == 0;
		ops->detach(proc);
		_exit(ok ? 0 : 1);
	}
	CU_ASSERT_EQUAL(waitpid(c, &st, 0), c);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* One thread traced by another process (strace on that thread alone): it
 * is counted, the others are held. */
static void test_pause_threads_traced_elsewhere(void)
{
	char *argv[] = { mt_path, NULL }, tidarg[32], want[64], err[256] = "";
	struct pyspy_proc *proc;
	struct pyspy_hold h;
	struct tbl_prog p;
	int64_t deadline, tids[2];
	int total;
	pid_t tracer;

	CU_ASSERT_FATAL(tbl_ready());
	if (access("/usr/bin/strace", X_OK)) {
		printf("\n  skip: /usr/bin/strace is absent\n");
		CU_PASS("strace absent");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(tbl_start(&p, argv, "ready"), 0);
	proc = tbl_attach(unit_host(), p.pid);
	CU_ASSERT_PTR_NOT_NULL_FATAL(proc);
	tids[0] = (int64_t)tbl_value(&p, "sleep", 0);
	tids[1] = (int64_t)tbl_value(&p, "spin", 0);
	snprintf(tidarg, sizeof(tidarg), "%lld", (long long)tids[0]);
	tracer = fork();
	CU_ASSERT_FATAL(tracer >= 0);
	if (tracer == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execl("/usr/bin/strace", "strace", "-q", "-o", "/dev/null", "-p", tidarg, (char *)NULL);
		_exit(127);
	}
	deadline = tbl_ms() + 5000;
	while (tbl_tracer(p.pid, tids[0]) <= 0 && tbl_ms() < deadline)
		tbl_sleep_ms(10);
	CU_ASSERT_EQUAL(tbl_tracer(p.pid, tids[0]), tracer);
	h = tbl_hold(1000000000ull, 1000000000ull);
	CU_ASSERT_EQUAL(ops->pause_threads(proc, tids, 2, &h, err, sizeof(err)), 1);
	snprintf(want, sizeof(want), "already traced by process %d", (int)tracer);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_EQUAL(tbl_task_state(p.pid, tids[1]), 't');
	CU_ASSERT_EQUAL(ops->resume(proc), 0);
	CU_ASSERT_EQUAL(tbl_count_state(p.pid, 't', &total), 0);
	kill(tracer, SIGTERM);
	waitpid(tracer, NULL, 0);
	CU_ASSERT_EQUAL(ops->alive(proc, NULL), 1);
	tbl_end(&p, proc);
}

/* A thread blocked in vfork reaches no stop: the pause gives up by its
 * deadline, lets the others go at once, and the late thread is let go as
 * soon as it stops (here at an alive check). */
static void test_pause_threads_late(void)
{
	char *argv[] = { mt_path, "--vfork", NULL }, err[256] = "";
	struct pyspy_hold h;
	struct pyspy_proc *proc;
	struct tbl_prog p;
	int64_t t0, deadline, tids[2];
	int total;

	CU_ASSERT_FATAL(tbl_ready());
	CU_ASSERT_EQUAL_FATAL(tbl_start(&p, argv, "ready"), 0);
	proc = tbl_attach(unit_host(), p.pid);
	CU_ASSERT_PTR_NOT_NULL_FATAL(proc);
	tids[0] = (int64_t)tbl_value(&p, "spin", 0);
	tids[1] = (int64_t)tbl_value(&p, "vfork", 0);
	deadline = tbl_ms() + 5000;
	while (tbl_task_state(p.pid, tids[1]) != 'D' && tbl_ms() < deadline)
		tbl_sleep_ms(5);
	CU_ASSERT_EQUAL(tbl_task_state(p.pid, tids[1]), 'D');
	t0 = tbl_ms();
	h = tbl_hold(50000000ull, 50000000ull);
	CU_ASSERT_EQUAL(ops->pause_threads(proc, tids, 2, &h, err, sizeof(err)), -ETIMEDOUT);
	CU_ASSERT(tbl_ms() - t0 < 900); /* the deadline, not the vfork */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "did not stop within 50.0 ms of the first"));
	/* alone, it is waited for up to wait_ns: nothing is held meanwhile */
	h = tbl_hold(50000000ull, 50000000ull);
	t0 = tbl_ms();
	if (tbl_task_state(p.pid, tids[1]) == 'D') {
		CU_ASSERT_EQUAL(ops->pause_threads(proc, tids + 1, 1, &h, err, sizeof(err)),
				-ETIMEDOUT);
		CU_ASSERT(tbl_ms() - t0 < 900);
		CU_ASSERT_EQUAL(h.stopped_ns, 0);
	}
	CU_ASSERT_EQUAL(tbl_count_state(p.pid, 't', &total), 0);
	CU_ASSERT_EQUAL(ops->resume(proc), 0); /* nothing held: nothing to do */
	/* still late: the next pause asks it again and waits for it up to its
	 * wait deadline (not the vfork's end), then gives up, holding nothing */
	t0 = tbl_ms();
	if (tbl_task_state(p.pid, tids[1]) == 'D') {
		h = tbl_hold(50000000ull, 50000000ull);
		CU_ASSERT_EQUAL(ops->pause_threads(proc, tids, 2, &h, err, sizeof(err)), -ETIMEDOUT);
		CU_ASSERT(tbl_ms() - t0 < 900);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "has not yet reached the stop an earlier sample asked for"));
		CU_ASSERT_EQUAL(tbl_count_state(p.pid, 't', &total), 0);
	}
	/* once its child has ended it stops, and is let go */
	deadline = tbl_ms() + 5000;
	while ((tbl_tracer(p.pid, tids[1]) != 0 || tbl_count_state(p.pid, 't', &total) != 0) &&
	       tbl_ms() < deadline) {
		CU_ASSERT_EQUAL(ops->alive(proc, NULL), 1);
		tbl_sleep_ms(20);
	}
	CU_ASSERT_EQUAL(tbl_tracer(p.pid, tids[1]), 0);
	CU_ASSERT_EQUAL(tbl_count_state(p.pid, 't', &total), 0);
	tbl_end(&p, proc);
}

/* A user who may not read the target gets -EPERM and how to fix it. */
static void test_attach_no_permission(void)
{
	int st = -1;
	pid_t c;

	CU_ASSERT_FATAL(tbl_ready());
	if (geteuid() != 0) {
		unit_skip("attach without permission needs root to drop it");
		return;
	}
	c = fork();
	CU_ASSERT_FATAL(c >= 0);
	if (c == 0) {
		struct pyspy_proc *proc = NULL;
		char err[512] = "";
		int rc;

		if (setgid(65534) || setuid(65534))
			_exit(3);
		rc = ops->attach(unit_host(), mt.pid, &proc, err, sizeof(err));
		_exit(rc == -EPERM && !proc && strstr(err, "permission denied reading process") &&
		      strstr(err, "sudo") && strstr(err, "ptrace_scope") &&
		      strstr(err, "--cap-add SYS_PTRACE") ? 0 : 1);
	}
	CU_ASSERT_EQUAL(waitpid(c, &st, 0), c);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The main thread has ended (pthread_exit), the others run on: attach,
 * read, maps, threads, pause and alive work through the live threads. */
static void test_leader_exited(void)
{
	char *argv[] = { mt_path, "--leader-exits", NULL };
	const struct pyspy_os_thread *t;
	const struct pyspy_map *maps;
	struct pyspy_proc *proc = NULL;
	struct tbl_prog p;
	int64_t deadline;
	char err[512];
	int total;
	size_t n;

	CU_ASSERT_FATAL(tbl_ready());
	CU_ASSERT_EQUAL_FATAL(tbl_start(&p, argv, "ready"), 0);
	deadline = tbl_ms() + 10000; /* until the main thread is a zombie */
	while (tbl_count_state(p.pid, 't', &total) >= 0 && total != 3 && tbl_ms() < deadline)
		tbl_sleep_ms(5);
	CU_ASSERT_EQUAL(ops->attach(unit_host(), p.pid, &proc, err, sizeof(err)), 0);
	if (!proc) {
		fprintf(stderr, "attach: %s\n", err);
		tbl_end(&p, NULL);
		return;
	}
	CU_ASSERT_EQUAL(tbl_read_u64(proc, tbl_value(&p, "marker", 0)), TBL_MARKER);
	CU_ASSERT_EQUAL(ops->maps(proc, &maps, &n, &tbl_esz, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL(tbl_map_of(maps, n, tbl_value(&p, "buf0", 0)));
	CU_ASSERT_EQUAL(ops->threads(proc, &t, &n, &tbl_esz, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(ops->pause(proc, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tbl_count_state(p.pid, 't', &total), 3);
	CU_ASSERT_EQUAL(total, 3);
	CU_ASSERT_EQUAL(ops->resume(proc), 0);
	CU_ASSERT_EQUAL(tbl_count_state(p.pid, 't', &total), 0);
	CU_ASSERT_EQUAL(ops->alive(proc, NULL), 1);
	tbl_end(&p, proc);
}

/* The profiler dies while it holds the target: the target runs on. */
/* chosen: the profiler held chosen threads (pause_threads), else all. */
static void tbl_profiler_dies(int chosen)
{
	uint64_t rt = tbl_value(&mt, "rt", 0);
	int64_t deadline;
	uint32_t before;
	int st = 0, total;
	pid_t c;

	CU_ASSERT_FATAL(tbl_ready());
	before = tbl_read_u32(mt_proc, rt);
	c = fork();
	CU_ASSERT_FATAL(c >= 0);
	if (c == 0) {
		struct pyspy_proc *proc = NULL;
		char err[256];
		int64_t tids[2] = { mt.pid, (int64_t)tbl_value(&mt, "spin", 0) };
		struct pyspy_hold h = tbl_hold(1000000000ull, 1000000000ull);

		if (ops->attach(unit_host(), mt.pid, &proc, err, sizeof(err)) ||
		    (chosen ? ops->pause_threads(proc, tids, 2, &h, err, sizeof(err))
			    : ops->pause(proc, err, sizeof(err)))) {
			fprintf(stderr, "pause: %s\n", err);
			_exit(1);
		}
		kill((pid_t)mt.pid, SIGRTMIN + 1); /* waits for the resume */
		raise(SIGKILL);
		_exit(2);
	}
	CU_ASSERT_EQUAL(waitpid(c, &st, 0), c);
	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	deadline = tbl_ms() + 10000;
	while ((tbl_count_state(mt.pid, 't', &total) != 0 ||
		tbl_read_u32(mt_proc, rt) != before + 1) && tbl_ms() < deadline)
		tbl_sleep_ms(5);
	CU_ASSERT_EQUAL(tbl_count_state(mt.pid, 't', &total), 0);
	CU_ASSERT_EQUAL(total, 4);
	CU_ASSERT_EQUAL(tbl_read_u32(mt_proc, rt), before + 1);
}

static void test_pause_profiler_dies(void)
{
	tbl_profiler_dies(0);
	tbl_profiler_dies(1);
}

/* --- ELF ---------------------------------------------------------------- */

/* The first mapped path that contains `part`. */
static int tbl_find_path(struct pyspy_proc *proc, const char *part, char *out, size_t len)
{
	const struct pyspy_map *maps;
	char err[256];
	size_t n, i;

	if (ops->maps(proc, &maps, &n, &tbl_esz, err, sizeof(err)))
		return -1;
	for (i = 0; i < n; i++) {
		if (strstr(maps[i].path, part)) {
			snprintf(out, len, "%s", maps[i].path);
			return 0;
		}
	}
	return -1;
}

/* e_type of an ELF file read by hand (2: ET_EXEC, 3: ET_DYN). */
static int tbl_elf_type(const char *path)
{
	unsigned char h[18];
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, h, sizeof(h));
	close(fd);
	return r == sizeof(h) ? h[16] | h[17] << 8 : -1;
}

static void tbl_check_memtarget_elf(struct pyspy_proc *proc, const struct tbl_prog *p,
				    const char *path, const char *file)
{
	struct pyspy_binary_info bi = { .size = sizeof(bi) };
	struct pyspy_binary *bin = NULL;
	uint64_t addr = 0, size = 0, sa = 0, ss = 0;
	uint64_t marker = tbl_value(p, "marker", 0);
	char err[512];
	int rc;

	rc = ops->binary_open(proc, path, &bin, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, 0);
	if (rc) { /* not fatal: the callers clean up behind them */
		fprintf(stderr, "binary_open %s: %s\n", path, err);
		return;
	}
	CU_ASSERT_EQUAL(ops->binary_info(bin, &bi), 0);
	CU_ASSERT_STRING_EQUAL(bi.path, path);
	CU_ASSERT_EQUAL(bi.is_pie, tbl_elf_type(file) == 3);
	CU_ASSERT(bi.map_start <= marker && marker < bi.map_end);
	CU_ASSERT_EQUAL(bi.load_bias % TBL_PAGE, 0);
	/* from .symtab: the helper is not linked with -rdynamic */
	CU_ASSERT_EQUAL(ops->binary_symbol(bin, "memtarget_marker", &addr, &size), 0);
	CU_ASSERT_EQUAL(addr, marker);
	CU_ASSERT_EQUAL(size, 8);
	CU_ASSERT_EQUAL(tbl_read_u64(proc, addr), TBL_MARKER);
	CU_ASSERT_EQUAL(ops->binary_symbol(bin, "tbl_no_such_symbol", &addr, &size), -ENOENT);
	CU_ASSERT_EQUAL(ops->binary_section(bin, ".bss", &sa, &ss), 0);
	addr = tbl_value(p, "usr1", 0);
	CU_ASSERT(sa <= addr && addr < sa + ss);
	CU_ASSERT_EQUAL(ops->binary_section(bin, ".data", &sa, &ss), 0);
	addr = tbl_value(p, "buf1", 0);
	CU_ASSERT(sa <= addr && addr + 3000 <= sa + ss);
	CU_ASSERT_EQUAL(ops->binary_section(bin, ".tbl_none", &sa, &ss), -ENOENT);
	ops->binary_close(bin);
}

static void test_elf_self(void)
{
	struct pyspy_binary *bin = NULL;
	char exe[PATH_MAX], err[512];

	CU_ASSERT_FATAL(tbl_ready());
	CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(mt_path, exe));
	tbl_check_memtarget_elf(mt_proc, &mt, exe, exe);
	CU_ASSERT_EQUAL(ops->binary_open(mt_proc, "/tbl/not/mapped", &bin, err, sizeof(err)),
			-ENOENT);
	CU_ASSERT_PTR_NULL(bin);
}

/* A deleted (and replaced) executable is read through /proc/PID/map_files. */
static void test_elf_deleted(void)
{
	char tmp[] = "/tmp/tbl-memtarget-XXXXXX", path[PATH_MAX + 16];
	char *argv[] = { tmp, NULL };
	struct pyspy_proc *proc = NULL;
	struct tbl_prog p;
	char buf[65536];
	int in, out;
	ssize_t r;

	CU_ASSERT_FATAL(tbl_ready());
	in = open(mt_path, O_RDONLY);
	out = mkstemp(tmp);
	CU_ASSERT_FATAL(in >= 0 && out >= 0);
	while ((r = read(in, buf, sizeof(buf))) > 0)
		CU_ASSERT_EQUAL(write(out, buf, r), r);
	close(in);
	fchmod(out, 0755);
	close(out);
	if (tbl_start(&p, argv, "ready")) {
		unlink(tmp);
		CU_FAIL_FATAL("cannot start a copy of memtarget");
	}
	unlink(tmp);
	/* another file now stands at that path: it must not be read */
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	CU_ASSERT(out >= 0 && write(out, "not the mapped file\n", 20) == 20);
	close(out);
	proc = tbl_attach(unit_host(), p.pid);
	CU_ASSERT_PTR_NOT_NULL(proc);
	if (proc && tbl_find_path(proc, tmp, path, sizeof(path)) == 0) {
		CU_ASSERT_PTR_NOT_NULL(strstr(path, " (deleted)"));
		tbl_check_memtarget_elf(proc, &p, path, mt_path);
		tbl_check_memtarget_elf(proc, &p, tmp, mt_path); /* without the suffix */
	} else {
		CU_FAIL("the deleted copy is not in the maps");
	}
	tbl_end(&p, proc);
	unlink(tmp);
}

/* A process in its own mount namespace: its files are opened through
 * /proc/PID/root.  Our namespace has another file at the same path. */
static void test_elf_mount_namespace(void)
{
	char dir[] = "/tmp/tbl-ns-XXXXXX", file[64], script[PATH_MAX + 256];
	char *argv[] = { "unshare", "-m", "--propagation", "private", "sh", "-c", script, NULL };
	struct pyspy_proc *proc = NULL;
	struct tbl_prog p;
	int fd;

	CU_ASSERT_FATAL(tbl_ready());
	if (access("/usr/bin/unshare", X_OK) || geteuid() != 0) {
		unit_skip("needs root and /usr/bin/unshare");
		return;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/memtarget", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0644);
	CU_ASSERT(fd >= 0 && write(fd, "outside\n", 8) == 8);
	close(fd);
	snprintf(script, sizeof(script),
		 "mount -t tmpfs none %s && cp %s %s && exec %s", dir, mt_path, file, file);
	if (tbl_start(&p, argv, "ready") == 0) {
		proc = tbl_attach(unit_host(), p.pid);
		CU_ASSERT_PTR_NOT_NULL(proc);
		if (proc)
			tbl_check_memtarget_elf(proc, &p, file, mt_path);
		tbl_end(&p, proc);
	} else {
		unit_skip("cannot make a mount namespace here");
	}
	unlink(file);
	rmdir(dir);
}

/* --- corrupt ELF files -------------------------------------------------- */

enum { TBL_CORRUPT = 15, TBL_SHIFT = 0x10000 };

static const char *const tbl_corrupt_names[TBL_CORRUPT] = {
	"intact", "not-elf", "truncated-64", "truncated-half", "shoff-beyond",
	"shnum-huge", "shstrndx-bad", "phdrs-beyond", "symtab-size", "symtab-offset",
	"symtab-link", "strtab-unterminated", "garbage-shdrs", "garbage-all",
	"loads-moved",
};

static uint64_t tbl_rand_state = 0x9e3779b97f4a7c15ull;

static unsigned char tbl_rand(void)
{
	tbl_rand_state ^= tbl_rand_state << 13;
	tbl_rand_state ^= tbl_rand_state >> 7;
	tbl_rand_state ^= tbl_rand_state << 17;
	return (unsigned char)tbl_rand_state;
}

/* Not damage: the PT_LOAD at file offset 0 moved after the other PT_LOADs
 * (as patchelf --no-sort leaves it) and every PT_LOAD TBL_SHIFT higher. */
static void tbl_move_loads(unsigned char *b)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
	Elf64_Phdr *ph = (Elf64_Phdr *)(b + eh->e_phoff), first;
	int i, at = -1, last = -1;

	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		ph[i].p_vaddr += TBL_SHIFT;
		ph[i].p_paddr += TBL_SHIFT;
		if (at < 0 && ph[i].p_offset == 0)
			at = i;
		last = i;
	}
	if (at < 0 || last <= at)
		return;
	first = ph[at];
	memmove(&ph[at], &ph[at + 1], (size_t)(last - at) * sizeof(*ph));
	ph[last] = first;
}

/* Damage a copy of a valid ELF64 file (b, n) the way `kind` says; returns
 * the length to write. */
static size_t tbl_corrupt(int kind, unsigned char *b, size_t n)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
	Elf64_Shdr *sh = (Elf64_Shdr *)(b + eh->e_shoff);
	size_t i, nsh = eh->e_shnum;

	switch (kind) {
	case 1:
		return (size_t)snprintf((char *)b, n, "not an ELF file at all\n");
	case 2:
		return 64;
	case 3:
		return n / 2;
	case 4:
		eh->e_shoff = n + 1000000;
		break;
	case 5:
		eh->e_shnum = 0xffff;
		break;
	case 6:
		eh->e_shstrndx = 0xfffe;
		break;
	case 7:
		eh->e_phoff = ~(uint64_t)0 - 10;
		eh->e_phnum = 0xffff;
		break;
	case 8: case 9: case 10:
		for (i = 0; i < nsh; i++) {
			if (sh[i].sh_type != SHT_SYMTAB && sh[i].sh_type != SHT_DYNSYM)
				continue;
			if (kind == 8)
				sh[i].sh_size = 0x7fffffffffffull;
			else if (kind == 9)
				sh[i].sh_offset = 0x7ffffffffff0ull;
			else
				sh[i].sh_link = 0xfff0;
		}
		break;
	case 11:
		for (i = 0; i < nsh; i++)
			if (sh[i].sh_type == SHT_STRTAB && sh[i].sh_offset + sh[i].sh_size <= n)
				memset(b + sh[i].sh_offset, 'A', sh[i].sh_size);
		break;
	case 12:
		for (i = eh->e_shoff; i < n; i++)
			b[i] = tbl_rand();
		break;
	case 13:
		for (i = 64; i < n; i++)
			b[i] = tbl_rand();
		break;
	case 14:
		tbl_move_loads(b);
		break;
	}
	return n;
}

/* Damaged copies of memtarget mapped in a process: binary_open fails or
 * works, and nothing crashes (this test matters most under ASan). */
static void test_elf_corrupt(void)
{
	char dir[] = "/tmp/tbl-elf-XXXXXX", files[TBL_CORRUPT][64];
	char *argv[2 + 2 * TBL_CORRUPT];
	static unsigned char orig[1 << 20], copy[1 << 20];
	struct pyspy_binary_info bi = { .size = sizeof(bi) };
	struct pyspy_proc *proc = NULL;
	struct pyspy_binary *bin;
	uint64_t a, sz;
	struct tbl_prog p;
	char err[512];
	size_t n, len;
	int i, fd, rc[TBL_CORRUPT];
	uint64_t bias[TBL_CORRUPT];

	CU_ASSERT_FATAL(tbl_ready());
	fd = open(mt_path, O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	n = (size_t)read(fd, orig, sizeof(orig));
	close(fd);
	CU_ASSERT_FATAL(n > 4096 && n < sizeof(orig) && orig[EI_CLASS] == ELFCLASS64);
	CU_ASSERT_FATAL(tbl_elf_type(mt_path) == ET_DYN); /* the bias checks need a PIE */
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	argv[0] = mt_path;
	for (i = 0; i < TBL_CORRUPT; i++) {
		snprintf(files[i], sizeof(files[i]), "%s/%s", dir, tbl_corrupt_names[i]);
		memcpy(copy, orig, n);
		len = tbl_corrupt(i, copy, n);
		fd = open(files[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		CU_ASSERT(fd >= 0 && write(fd, copy, len) == (ssize_t)len);
		close(fd);
		argv[1 + 2 * i] = "--map";
		argv[2 + 2 * i] = files[i];
	}
	argv[1 + 2 * TBL_CORRUPT] = NULL;
	if (tbl_start(&p, argv, "ready") == 0) {
		proc = tbl_attach(unit_host(), p.pid);
		CU_ASSERT_PTR_NOT_NULL(proc);
	} else {
		CU_FAIL("memtarget --map did not start");
	}
	for (i = 0; proc && i < TBL_CORRUPT; i++) {
		bin = NULL;
		rc[i] = ops->binary_open(proc, files[i], &bin, err, sizeof(err));
		CU_ASSERT(rc[i] <= 0);
		CU_ASSERT((rc[i] == 0) == (bin != NULL));
		if (!bin)
			continue;
		CU_ASSERT_EQUAL(ops->binary_info(bin, &bi), 0);
		bias[i] = bi.load_bias - bi.map_start;
		ops->binary_symbol(bin, "memtarget_marker", &a, &sz);
		ops->binary_symbol(bin, "", &a, &sz);
		ops->binary_section(bin, ".bss", &a, &sz);
		if (i == 0) /* the control: an intact copy is read as it should be */
			CU_ASSERT_EQUAL(ops->binary_symbol(bin, "memtarget_marker", &a, &sz), 0);
		ops->binary_close(bin);
	}
	if (proc) {
		CU_ASSERT_EQUAL(rc[0], 0);
		CU_ASSERT_EQUAL(rc[1], -ENOEXEC);
		/* load bias: mapping at offset 0 minus the p_vaddr of the
		 * PT_LOAD at offset 0, wherever that PT_LOAD stands */
		CU_ASSERT_EQUAL(rc[14], 0);
		if (rc[0] == 0 && rc[14] == 0) {
			CU_ASSERT_EQUAL(bias[0], 0);
			CU_ASSERT_EQUAL(bias[14], (uint64_t)0 - TBL_SHIFT);
		}
	}
	tbl_end(&p, proc);
	for (i = 0; i < TBL_CORRUPT; i++)
		unlink(files[i]);
	rmdir(dir);
}

static int tbl_pyenv_python(const char *version, char *out, size_t len)
{
	const char *root = getenv("PYENV_ROOT");
	char buf[PATH_MAX] = "";
	FILE *f;

	if (!root || !*root) {
		f = popen("pyenv root 2>/dev/null", "r");
		if (f) {
			if (fgets(buf, sizeof(buf), f))
				buf[strcspn(buf, "\n")] = '\0';
			pclose(f);
		}
		if (!buf[0] && getenv("HOME"))
			snprintf(buf, sizeof(buf), "%s/.pyenv", getenv("HOME"));
		root = buf;
	}
	if ((size_t)snprintf(out, len, "%s/versions/%s/bin/python", root, version) >= len)
		return -1;
	return access(out, X_OK);
}

static const char tbl_py_script[] =
	"import sys, time; print('hexversion', sys.hexversion, flush=True); time.sleep(60)";

/* A running python: open `file_part`'s ELF, check Py_Version and that
 * _PyRuntime lies at the .PyRuntime section. */
static void tbl_check_python(const char *python, const char *file_part, int want_pie,
			     uint64_t want_version)
{
	char *argv[] = { (char *)python, "-c", (char *)tbl_py_script, NULL };
	struct pyspy_binary_info bi = { .size = sizeof(bi) };
	struct pyspy_binary *bin = NULL;
	struct pyspy_proc *proc;
	uint64_t addr = 0, size = 0, raddr = 0, rsize = 0, saddr = 0, ssize = 0;
	char path[PATH_MAX + 16], err[512];
	struct tbl_prog p;

	if (tbl_start(&p, argv, "hexversion")) {
		CU_FAIL("cannot start python");
		return;
	}
	CU_ASSERT_EQUAL(tbl_value(&p, "hexversion", 0), want_version);
	proc = tbl_attach(unit_host(), p.pid);
	CU_ASSERT_PTR_NOT_NULL(proc);
	if (!proc || tbl_find_path(proc, file_part, path, sizeof(path))) {
		CU_FAIL("python's binary is not mapped");
		tbl_end(&p, proc);
		return;
	}
	CU_ASSERT_EQUAL(ops->binary_open(proc, path, &bin, err, sizeof(err)), 0);
	if (!bin) {
		fprintf(stderr, "binary_open %s: %s\n", path, err);
		tbl_end(&p, proc);
		return;
	}
	CU_ASSERT_EQUAL(ops->binary_info(bin, &bi), 0);
	CU_ASSERT_EQUAL(bi.is_pie, want_pie);
	CU_ASSERT(want_pie ? bi.load_bias != 0 && bi.load_bias % TBL_PAGE == 0 :
		  bi.load_bias == 0);
	CU_ASSERT_EQUAL(ops->binary_symbol(bin, "Py_Version", &addr, &size), 0);
	CU_ASSERT(bi.map_start <= addr && addr < bi.map_end);
	CU_ASSERT_EQUAL(tbl_read_u64(proc, addr), want_version);
	CU_ASSERT_EQUAL(ops->binary_symbol(bin, "_PyRuntime", &raddr, &rsize), 0);
	CU_ASSERT_EQUAL(ops->binary_section(bin, ".PyRuntime", &saddr, &ssize), 0);
	CU_ASSERT_EQUAL(raddr, saddr);
	CU_ASSERT_EQUAL(rsize, ssize);
	CU_ASSERT(bi.map_start <= raddr && raddr < bi.map_end);
	ops->binary_close(bin);
	tbl_end(&p, proc);
}

static void test_elf_pyenv_libpython(void)
{
	char python[PATH_MAX];

	CU_ASSERT_FATAL(tbl_ready());
	if (tbl_pyenv_python("3.11.7", python, sizeof(python))) {
		unit_skip("pyenv 3.11.7 (%s) is absent", python);
		return;
	}
	tbl_check_python(python, "/libpython3.11.so", 1, 0x030b07f0);
}

static void test_elf_debian_python(void)
{
	const char *python = "/usr/bin/python3.11";
	char cmd[128], line[64] = "";
	uint64_t version;
	FILE *f;

	CU_ASSERT_FATAL(tbl_ready());
	if (access(python, X_OK)) {
		unit_skip("Debian %s is absent", python);
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s -c 'import sys; print(sys.hexversion)'", python);
	f = popen(cmd, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	pclose(f);
	version = strtoull(line, NULL, 10);
	CU_ASSERT_FATAL(version >> 16 == 0x030b);
	CU_ASSERT_EQUAL(tbl_elf_type(python), 2);
	tbl_check_python(python, python, 0, version);
}

/* --- spawn, alive, terminate, exited processes -------------------------- */

static void test_spawn_fail(void)
{
	char *argv[] = { "tbl-no-such-program", NULL };
	struct pyspy_spawn sp = { .size = sizeof(sp), .stdout_fd = -1, .argv = argv,
				  .uid = -1, .gid = -1 };
	char err[256] = "";
	int64_t pid = 0;

	CU_ASSERT_FATAL(tbl_ready());
	CU_ASSERT_EQUAL(ops->spawn(unit_host(), &sp, &pid, err, sizeof(err)), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot run tbl-no-such-program: "));
}

static void test_spawn_user(void)
{
	char *argv[] = { "sh", "-c", "echo ids $(id -u) $(id -g) $(id -G)", NULL };
	struct tbl_prog p;
	int st = 0;

	CU_ASSERT_FATAL(tbl_ready());
	if (geteuid() != 0) {
		unit_skip("spawn as another user needs root");
		return;
	}
	{
		struct pyspy_spawn sp = { .size = sizeof(sp), .argv = argv, .uid = 65534,
					  .gid = 65534 };
		char err[256];
		int fds[2];

		memset(&p, 0, sizeof(p));
		CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
		sp.stdout_fd = fds[1];
		CU_ASSERT_EQUAL_FATAL(ops->spawn(unit_host(), &sp, &p.pid, err, sizeof(err)), 0);
		close(fds[1]);
		p.out = fds[0];
	}
	CU_ASSERT_EQUAL(tbl_read_until(&p, "ids"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(p.text, "ids 65534 65534 65534\n"));
	CU_ASSERT_EQUAL(waitpid((pid_t)p.pid, &st, 0), p.pid);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(p.out);
}

/* A child we spawned and hold with ptrace: its stops are not exits. */
static void test_alive_terminate(void)
{
	char *argv[] = { mt_path, NULL };
	const struct pyspy_os_thread *t;
	struct pyspy_proc *proc;
	struct tbl_prog p;
	char err[256];
	int st = 0, i, alive = 1;
	size_t n;

	CU_ASSERT_FATAL(tbl_ready());
	CU_ASSERT_EQUAL_FATAL(tbl_start(&p, argv, "ready"), 0);
	proc = tbl_attach(unit_host(), p.pid);
	CU_ASSERT_PTR_NOT_NULL_FATAL(proc);
	CU_ASSERT_EQUAL(ops->alive(proc, &st), 1);
	CU_ASSERT_EQUAL(ops->pause(proc, err, sizeof(err)), 0);
	for (i = 0; i < 5; i++)
		alive &= ops->alive(proc, &st) == 1;
	CU_ASSERT(alive);
	CU_ASSERT_EQUAL(ops->resume(proc), 0);
	CU_ASSERT_EQUAL(ops->alive(proc, &st), 1);
	CU_ASSERT_EQUAL(ops->terminate(proc), 0);
	st = 0;
	CU_ASSERT_EQUAL(ops->alive(proc, &st), 0);
	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	CU_ASSERT_EQUAL(tbl_read_u64(proc, tbl_value(&p, "marker", 0)), ~0ull);
	{
		uint64_t v;
		struct pyspy_iov iov = { tbl_value(&p, "marker", 0), &v, sizeof(v) };

		CU_ASSERT_EQUAL(ops->read(proc, &iov, 1, sizeof(struct pyspy_iov)), -ESRCH);
	}
	CU_ASSERT_EQUAL(ops->pause(proc, err, sizeof(err)), -ESRCH);
	CU_ASSERT_EQUAL(ops->threads(proc, &t, &n, &tbl_esz, err, sizeof(err)), -ESRCH);
	ops->detach(proc);
	close(p.out);
}

/* Killed while held: alive sees the end, resume and detach cope. */
static void test_killed_while_paused(void)
{
	char *argv[] = { mt_path, NULL };
	struct pyspy_proc *proc;
	struct tbl_prog p;
	int64_t deadline;
	char err[256];
	int st = 0;

	CU_ASSERT_FATAL(tbl_ready());
	CU_ASSERT_EQUAL_FATAL(tbl_start(&p, argv, "ready"), 0);
	proc = tbl_attach(unit_host(), p.pid);
	CU_ASSERT_PTR_NOT_NULL_FATAL(proc);
	CU_ASSERT_EQUAL(ops->pause(proc, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(kill((pid_t)p.pid, SIGKILL), 0);
	CU_ASSERT_EQUAL(ops->resume(proc), 0);
	deadline = tbl_ms() + 10000;
	while (ops->alive(proc, &st) && tbl_ms() < deadline)
		tbl_sleep_ms(5);
	CU_ASSERT_EQUAL(ops->alive(proc, &st), 0);
	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CU_ASSERT_EQUAL(waitpid((pid_t)p.pid, NULL, WNOHANG), -1); /* reaped */
	ops->detach(proc);
	close(p.out);
}

static void test_attach_dead(void)
{
	struct pyspy_proc *proc = NULL;
	char err[256] = "", want[64];
	pid_t pid;

	CU_ASSERT_FATAL(tbl_ready());
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		_exit(0);
	CU_ASSERT_EQUAL(waitpid(pid, NULL, 0), pid);
	CU_ASSERT_EQUAL(ops->attach(unit_host(), pid, &proc, err, sizeof(err)), -ESRCH);
	CU_ASSERT_PTR_NULL(proc);
	snprintf(want, sizeof(want), "no such process: %d", (int)pid);
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_EQUAL(ops->attach(unit_host(), -5, &proc, err, sizeof(err)), -ESRCH);
}

UNIT_SUITE(backend_linux_suite)
{
	CU_pSuite s = CU_add_suite("backend_linux", tbl_suite_init, tbl_suite_clean);

	CU_add_test(s, "descriptor", test_descriptor);
	CU_add_test(s, "read: batched, many, partial", test_read);
	CU_add_test(s, "read: ranges of a larger and a smaller element size", test_read_iov_size);
	CU_add_test(s, "read through /proc/PID/mem", test_read_proc_mem);
	CU_add_test(s, "read: process_vm_readv refused, /proc/PID/mem used", test_read_fallback);
	CU_add_test(s, "maps", test_maps);
	CU_add_test(s, "threads and states", test_threads);
	CU_add_test(s, "info", test_info);
	CU_add_test(s, "pause/resume, signal held", test_pause_resume);
	CU_add_test(s, "pause/resume under a signal storm", test_pause_signal_storm);
	CU_add_test(s, "pause/resume cycles", test_pause_cycles);
	CU_add_test(s, "pause/resume while threads come and go", test_pause_churn);
	CU_add_test(s, "pause of a process traced elsewhere", test_pause_traced_elsewhere);
	CU_add_test(s, "the profiler dies while the target is held", test_pause_profiler_dies);
	CU_add_test(s, "pause_threads holds only the threads asked for", test_pause_threads_chosen);
	CU_add_test(s, "pause_threads: a thread traced elsewhere", test_pause_threads_traced_elsewhere);
	CU_add_test(s, "pause_threads without SIGCHLD at stops", test_pause_threads_without_sigchld);
	CU_add_test(s, "pause_threads: a thread stopped late", test_pause_threads_late);
	CU_add_test(s, "the main thread has exited, the others run", test_leader_exited);
	CU_add_test(s, "ELF: own symbol, sections", test_elf_self);
	CU_add_test(s, "ELF: deleted executable", test_elf_deleted);
	CU_add_test(s, "ELF: a process in its own mount namespace", test_elf_mount_namespace);
	CU_add_test(s, "ELF: corrupt files", test_elf_corrupt);
	CU_add_test(s, "ELF: pyenv 3.11 libpython (PIE)", test_elf_pyenv_libpython);
	CU_add_test(s, "ELF: Debian python3.11 (ET_EXEC)", test_elf_debian_python);
	CU_add_test(s, "spawn: exec failure", test_spawn_fail);
	CU_add_test(s, "spawn: as another user", test_spawn_user);
	CU_add_test(s, "alive/terminate of a held child", test_alive_terminate);
	CU_add_test(s, "killed while paused", test_killed_while_paused);
	CU_add_test(s, "attach to a dead pid", test_attach_dead);
	CU_add_test(s, "attach without permission", test_attach_no_permission);
}
