/*
 * The one door to the backend (core/remote.c) and the layout copy
 * (core/layoutcopy.c) against the ABI's promises: which ops a backend must
 * have, optional ops that are NULL or beyond a shorter table, arrays whose
 * elements are larger (a newer backend) or smaller (an older one) than the
 * core's, and a layout module shorter or longer than the core's struct.
 *
 * Arrays and tables of the "smaller" cases are allocated to their exact
 * size, so that the ASan build sees any read past them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <pyspy/backend.h>
#include <pyspy/layout.h>

#include "../../core/layoutcopy.h"
#include "../../core/remote.h"
#include "unit.h"

/* ---- a fake backend ------------------------------------------------------ */

/* What the fake ops hand out, set by each test. */
static const void *fk_maps, *fk_threads;
static size_t fk_nmaps, fk_map_size, fk_nthreads, fk_thread_size, fk_iov_size;
static int fk_optional_calls; /* optional ops called */

static int fk_attach(const struct pyspy_host *host, int64_t pid, struct pyspy_proc **out,
		     char *err, size_t errlen)
{
	*out = (struct pyspy_proc *)(uintptr_t)0x1000;
	return 0;
}

static void fk_detach(struct pyspy_proc *proc)
{
}

static int fk_info(struct pyspy_proc *proc, struct pyspy_proc_info *out, char *err, size_t errlen)
{
	return -ENOSYS;
}

static int fk_read(struct pyspy_proc *proc, const struct pyspy_iov *iov, size_t n, size_t iov_size)
{
	fk_iov_size = iov_size;
	return (int)n;
}

static int fk_maps_op(struct pyspy_proc *proc, const struct pyspy_map **maps, size_t *n,
		      size_t *map_size, char *err, size_t errlen)
{
	*maps = fk_maps;
	*n = fk_nmaps;
	*map_size = fk_map_size;
	return 0;
}

static int fk_threads_op(struct pyspy_proc *proc, const struct pyspy_os_thread **threads,
			 size_t *n, size_t *thread_size, char *err, size_t errlen)
{
	*threads = fk_threads;
	*n = fk_nthreads;
	*thread_size = fk_thread_size;
	return 0;
}

static int fk_pause(struct pyspy_proc *proc, char *err, size_t errlen)
{
	return 0;
}

static int fk_resume(struct pyspy_proc *proc)
{
	return 0;
}

static int fk_binary_open(struct pyspy_proc *proc, const char *path, struct pyspy_binary **out,
			  char *err, size_t errlen)
{
	return -ENOENT;
}

static void fk_binary_close(struct pyspy_binary *bin)
{
}

static int fk_binary_info(struct pyspy_binary *bin, struct pyspy_binary_info *out)
{
	return -ENOSYS;
}

static int fk_binary_symbol(struct pyspy_binary *bin, const char *name, uint64_t *addr,
			    uint64_t *size)
{
	return -ENOENT;
}

static int fk_binary_section(struct pyspy_binary *bin, const char *name, uint64_t *addr,
			     uint64_t *size)
{
	return -ENOENT;
}

static int fk_spawn(const struct pyspy_host *host, const struct pyspy_spawn *spawn, int64_t *pid,
		    char *err, size_t errlen)
{
	fk_optional_calls++;
	return 0;
}

static int fk_alive(struct pyspy_proc *proc, int *status)
{
	fk_optional_calls++;
	return 0;
}

static int fk_terminate(struct pyspy_proc *proc)
{
	fk_optional_calls++;
	return 0;
}

static int fk_thread_state(struct pyspy_proc *proc, int64_t tid)
{
	fk_optional_calls++;
	return PYSPY_THREAD_RUNNING;
}

static const struct pyspy_backend_ops fk_full = {
	.size = sizeof(struct pyspy_backend_ops),
	.platform = "fake",
	.attach = fk_attach,
	.detach = fk_detach,
	.info = fk_info,
	.read = fk_read,
	.maps = fk_maps_op,
	.threads = fk_threads_op,
	.pause = fk_pause,
	.resume = fk_resume,
	.binary_open = fk_binary_open,
	.binary_close = fk_binary_close,
	.binary_info = fk_binary_info,
	.binary_symbol = fk_binary_symbol,
	.binary_section = fk_binary_section,
	.spawn = fk_spawn,
	.alive = fk_alive,
	.terminate = fk_terminate,
	.thread_state = fk_thread_state,
};

/* fk_full cut to `size` bytes in a block of exactly that size. */
static struct pyspy_backend_ops *fk_cut(size_t size)
{
	unsigned char *block = malloc(size);
	uint32_t size32 = (uint32_t)size;

	CU_ASSERT_FATAL(block != NULL);
	memcpy(block, &fk_full, size);
	memcpy(block, &size32, sizeof(size32)); /* .size, the first member */
	return (struct pyspy_backend_ops *)(void *)block;
}

/* ---- which ops are required ----------------------------------------------- */

static void expect_refused(const struct pyspy_backend_ops *ops, const char *reason)
{
	char err[256] = "";

	CU_ASSERT_EQUAL(remote_check_ops(ops, err, sizeof(err)), -ENOEXEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, reason));
	if (!strstr(err, reason))
		fprintf(stderr, "\n  expected \"%s\" in: %s\n", reason, err);
}

static void test_required_ops(void)
{
	struct pyspy_backend_ops *ops;
	char err[256] = "";

	CU_ASSERT_EQUAL(remote_check_ops(&fk_full, err, sizeof(err)), 0);

	/* Only the required ops: the table ends before spawn. */
	ops = fk_cut(offsetof(struct pyspy_backend_ops, spawn));
	CU_ASSERT_EQUAL(remote_check_ops(ops, err, sizeof(err)), 0);
	free(ops);

	/* A table that ends inside the required ops names the first it lacks. */
	ops = fk_cut(offsetof(struct pyspy_backend_ops, binary_symbol));
	expect_refused(ops, "too short to hold the required op binary_symbol");
	free(ops);
	ops = fk_cut(offsetof(struct pyspy_backend_ops, attach));
	expect_refused(ops, "too short to hold the required op attach");
	free(ops);
	ops = fk_cut(sizeof(uint32_t) * 2);
	expect_refused(ops, "too short to name its platform");
	free(ops);

	/* A NULL required op is named; NULL optional ops are not missed. */
	ops = fk_cut(sizeof(*ops));
	ops->threads = NULL;
	expect_refused(ops, "lacks the required op threads");
	ops->threads = fk_threads_op;
	ops->spawn = NULL;
	ops->alive = NULL;
	ops->terminate = NULL;
	ops->thread_state = NULL;
	CU_ASSERT_EQUAL(remote_check_ops(ops, err, sizeof(err)), 0);
	ops->platform = "";
	expect_refused(ops, "names no platform");
	free(ops);
}

/* ---- optional ops ------------------------------------------------------------ */

static void check_optional_absent(const struct pyspy_backend_ops *ops)
{
	struct pyspy_spawn sp = { .size = sizeof(sp) };
	struct remote r;
	char err[256] = "";
	int64_t pid = 0;

	fk_optional_calls = 0;
	remote_init(&r, ops, unit_host());
	CU_ASSERT_EQUAL(remote_attach(&r, 42, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(remote_spawn(&r, &sp, &pid, err, sizeof(err)), -ENOSYS);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "the fake backend cannot start programs"));
	CU_ASSERT_EQUAL(remote_alive(&r, NULL), -ENOSYS);
	CU_ASSERT_EQUAL(remote_terminate(&r), -ENOSYS);
	CU_ASSERT_EQUAL(remote_has_thread_state(&r), 0);
	CU_ASSERT_EQUAL(remote_thread_state(&r, 42), -ENOSYS);
	CU_ASSERT_EQUAL(fk_optional_calls, 0);
	remote_detach(&r);
}

static void test_optional_ops(void)
{
	struct pyspy_backend_ops *ops;
	struct remote r;
	char err[256];

	/* Beyond a shorter table: never called, whatever lies there. */
	ops = fk_cut(offsetof(struct pyspy_backend_ops, spawn));
	check_optional_absent(ops);
	free(ops);

	/* In the table but NULL. */
	ops = fk_cut(sizeof(*ops));
	ops->spawn = NULL;
	ops->alive = NULL;
	ops->terminate = NULL;
	ops->thread_state = NULL;
	check_optional_absent(ops);
	free(ops);

	/* There: called. */
	fk_optional_calls = 0;
	remote_init(&r, &fk_full, unit_host());
	CU_ASSERT_EQUAL(remote_attach(&r, 42, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(remote_alive(&r, NULL), 0);
	CU_ASSERT_EQUAL(remote_thread_state(&r, 42), PYSPY_THREAD_RUNNING);
	CU_ASSERT_EQUAL(fk_optional_calls, 2);
	remote_detach(&r);
}

/* ---- element sizes --------------------------------------------------------- */

/* An element of a newer backend: ours, then members we do not know. */
struct newer_map {
	struct pyspy_map m;
	uint64_t added[2];
};

struct newer_thread {
	struct pyspy_os_thread t;
	uint64_t added[3];
};

static const struct pyspy_map want_maps[3] = {
	{ 0x1000, 0x3000, 0, PYSPY_PROT_READ, 0, "/usr/bin/python3" },
	{ 0x3000, 0x4000, 0x2000, PYSPY_PROT_READ | PYSPY_PROT_WRITE, 0, "" },
	{ 0x8000, 0x9000, 0, 0, 0, "[stack]" },
};

static const struct pyspy_os_thread want_threads[2] = {
	{ 100, PYSPY_THREAD_RUNNING, 0 },
	{ 101, PYSPY_THREAD_IDLE, 0 },
};

static void test_maps_element_size(void)
{
	struct newer_map newer[3];
	const struct pyspy_map *got;
	unsigned char *older;
	size_t older_size = offsetof(struct pyspy_map, path), n, i;
	struct remote r;
	char err[256];

	remote_init(&r, &fk_full, unit_host());
	CU_ASSERT_EQUAL_FATAL(remote_attach(&r, 42, err, sizeof(err)), 0);

	/* Larger: each element read at its own stride, the added members ignored. */
	memset(newer, 0xA5, sizeof(newer));
	for (i = 0; i < 3; i++)
		newer[i].m = want_maps[i];
	fk_maps = newer;
	fk_nmaps = 3;
	fk_map_size = sizeof(newer[0]);
	CU_ASSERT_EQUAL_FATAL(remote_maps(&r, &got, &n, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	for (i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(got[i].start, want_maps[i].start);
		CU_ASSERT_EQUAL(got[i].end, want_maps[i].end);
		CU_ASSERT_EQUAL(got[i].offset, want_maps[i].offset);
		CU_ASSERT_EQUAL(got[i].prot, want_maps[i].prot);
		CU_ASSERT_PTR_EQUAL(got[i].path, want_maps[i].path);
	}
	/* The copy of the map the core checks addresses against. */
	CU_ASSERT_EQUAL(remote_refresh_maps(&r, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x2ff8, 0x10), 1);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x8000, 1), 0);

	/* Smaller (no path): the missing member reads as absent. */
	older = malloc(3 * older_size);
	CU_ASSERT_FATAL(older != NULL);
	for (i = 0; i < 3; i++)
		memcpy(older + i * older_size, &want_maps[i], older_size);
	fk_maps = older;
	fk_map_size = older_size;
	CU_ASSERT_EQUAL_FATAL(remote_maps(&r, &got, &n, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	for (i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(got[i].start, want_maps[i].start);
		CU_ASSERT_EQUAL(got[i].prot, want_maps[i].prot);
		CU_ASSERT_PTR_NULL(got[i].path);
	}
	CU_ASSERT_EQUAL(remote_refresh_maps(&r, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x3800, 8), 1);
	free(older);

	/* The same size: handed through as it is. */
	fk_maps = want_maps;
	fk_map_size = sizeof(want_maps[0]);
	CU_ASSERT_EQUAL(remote_maps(&r, &got, &n, err, sizeof(err)), 0);
	CU_ASSERT_PTR_EQUAL(got, want_maps);
	remote_detach(&r);
}

static void test_threads_element_size(void)
{
	struct newer_thread newer[2];
	const struct pyspy_os_thread *got;
	unsigned char *older;
	size_t older_size = offsetof(struct pyspy_os_thread, state), n, i;
	struct remote r;
	char err[256];

	remote_init(&r, &fk_full, unit_host());
	CU_ASSERT_EQUAL_FATAL(remote_attach(&r, 42, err, sizeof(err)), 0);

	memset(newer, 0xA5, sizeof(newer));
	for (i = 0; i < 2; i++)
		newer[i].t = want_threads[i];
	fk_threads = newer;
	fk_nthreads = 2;
	fk_thread_size = sizeof(newer[0]);
	CU_ASSERT_EQUAL_FATAL(remote_threads(&r, &got, &n, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	for (i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(got[i].tid, want_threads[i].tid);
		CU_ASSERT_EQUAL(got[i].state, want_threads[i].state);
	}

	/* An element without state: unknown, not garbage. */
	older = malloc(2 * older_size);
	CU_ASSERT_FATAL(older != NULL);
	for (i = 0; i < 2; i++)
		memcpy(older + i * older_size, &want_threads[i], older_size);
	fk_threads = older;
	fk_thread_size = older_size;
	CU_ASSERT_EQUAL_FATAL(remote_threads(&r, &got, &n, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	for (i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(got[i].tid, want_threads[i].tid);
		CU_ASSERT_EQUAL(got[i].state, PYSPY_THREAD_UNKNOWN);
	}
	free(older);
	remote_detach(&r);
}

static void test_read_passes_iov_size(void)
{
	struct remote r;
	uint64_t v;
	char err[256];

	remote_init(&r, &fk_full, unit_host());
	CU_ASSERT_EQUAL_FATAL(remote_attach(&r, 42, err, sizeof(err)), 0);
	fk_iov_size = 0;
	CU_ASSERT_EQUAL(remote_read(&r, 0x1000, &v, sizeof(v)), 0);
	CU_ASSERT_EQUAL(fk_iov_size, sizeof(struct pyspy_iov));
	remote_detach(&r);
}

/* ---- layouts of another size ------------------------------------------------- */

static void fill_layout(struct pyspy_layout *l)
{
	memset(l, 0, sizeof(*l));
	l->size = sizeof(*l);
	l->version_min = PYSPY_PYVER(3, 11, 0);
	l->version_max = PYSPY_PYVER(3, 11, 255);
	l->tuple.ob_item = 24;
	l->names.present = 1;
	l->names.long_size = 16;
	l->names.module_dict = 16;
}

static void test_layout_shorter_module(void)
{
	size_t short_size = offsetof(struct pyspy_layout, names);
	struct pyspy_layout full, got;
	unsigned char *older;

	fill_layout(&full);
	full.size = (uint32_t)short_size;
	/* A module built before `names` was appended: exactly that long. */
	older = malloc(short_size);
	CU_ASSERT_FATAL(older != NULL);
	memcpy(older, &full, short_size);

	memset(&got, 0x5A, sizeof(got));
	layout_copy(&got, (const struct pyspy_layout *)(void *)older);
	CU_ASSERT_EQUAL(got.size, short_size);
	CU_ASSERT_EQUAL(got.version_min, full.version_min);
	CU_ASSERT_EQUAL(got.tuple.ob_item, 24);
	/* Not present: a group flag 0, every offset PYSPY_NO_OFFSET (never 0,
	 * which is a real offset), shifts 0. */
	CU_ASSERT_EQUAL(got.names.present, 0);
	CU_ASSERT_EQUAL(got.names.long_tagged, 0);
	CU_ASSERT_EQUAL(got.names.long_size, PYSPY_NO_OFFSET);
	CU_ASSERT_EQUAL(got.names.long_digits, PYSPY_NO_OFFSET);
	CU_ASSERT_EQUAL(got.names.long_shift, 0);
	CU_ASSERT_EQUAL(got.names.int_ival, PYSPY_NO_OFFSET);
	CU_ASSERT_EQUAL(got.names.module_dict, PYSPY_NO_OFFSET);
	CU_ASSERT_EQUAL(got.names.managed_dict, PYSPY_NO_OFFSET);
	CU_ASSERT_EQUAL(got.names.managed_values, PYSPY_NO_OFFSET);
	CU_ASSERT_EQUAL(got.names.values_valid, PYSPY_NO_OFFSET);
	free(older);
}

static void test_layout_longer_module(void)
{
	struct {
		struct pyspy_layout l;
		uint64_t added[4];   /* members of a newer ABI */
	} newer;
	struct pyspy_layout got;

	memset(&newer, 0xA5, sizeof(newer));
	fill_layout(&newer.l);
	newer.l.size = sizeof(newer);
	layout_copy(&got, &newer.l);
	CU_ASSERT_EQUAL(got.size, sizeof(got));
	CU_ASSERT_EQUAL(got.names.present, 1);
	CU_ASSERT_EQUAL(got.names.long_size, 16);
	CU_ASSERT_EQUAL(got.tuple.ob_item, 24);
}

UNIT_SUITE(core_remote_suite)
{
	CU_pSuite s = CU_add_suite("core/remote, layout copy", NULL, NULL);

	CU_add_test(s, "required ops checked at load, named when missing", test_required_ops);
	CU_add_test(s, "optional ops NULL or beyond a shorter table", test_optional_ops);
	CU_add_test(s, "maps of a larger and a smaller element size", test_maps_element_size);
	CU_add_test(s, "threads of a larger and a smaller element size", test_threads_element_size);
	CU_add_test(s, "read hands the backend the iov size", test_read_passes_iov_size);
	CU_add_test(s, "layout: a shorter module is not over-read", test_layout_shorter_module);
	CU_add_test(s, "layout: a longer module is cut to ours", test_layout_longer_module);
}
