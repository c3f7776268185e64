/*
 * The one door to the backend (see remote.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"
#include "util.h"

/* ---- which ops a backend must have ---------------------------------------- */

struct backend_op {
	const char *name;
	size_t offset;   /* of its pointer in struct pyspy_backend_ops */
	int required;    /* 0: the core does without it (its wrapper returns -ENOSYS) */
};

#define BACKEND_OP(op, required) { #op, offsetof(struct pyspy_backend_ops, op), required }

/* Every op of ABI version 2, in table order.  An op appended later is optional. */
static const struct backend_op backend_ops[] = {
	BACKEND_OP(attach, 1),
	BACKEND_OP(detach, 1),
	BACKEND_OP(info, 1),
	BACKEND_OP(read, 1),
	BACKEND_OP(maps, 1),
	BACKEND_OP(threads, 1),
	BACKEND_OP(pause, 1),
	BACKEND_OP(resume, 1),
	BACKEND_OP(binary_open, 1),
	BACKEND_OP(binary_close, 1),
	BACKEND_OP(binary_info, 1),
	BACKEND_OP(binary_symbol, 1),
	BACKEND_OP(binary_section, 1),
	BACKEND_OP(spawn, 0),     /* record/top of a command line need it */
	BACKEND_OP(alive, 0),     /* without it an exit shows as -ESRCH */
	BACKEND_OP(terminate, 0), /* goes with spawn */
	BACKEND_OP(thread_state, 0), /* without it threads answers */
	BACKEND_OP(pause_threads, 0), /* without it pause stops every thread */
	BACKEND_OP(open_file, 0), /* without it dump --core says the backend reads no files */
};

/* A function pointer at offset of a table of `size` bytes, or NULL when the
 * table is too short to hold it. */
static int has_op(const struct pyspy_backend_ops *ops, size_t offset)
{
	void (*fn)(void);

	if (ops->size < offset + sizeof(fn))
		return 0;
	memcpy(&fn, (const char *)ops + offset, sizeof(fn));
	return fn != NULL;
}

#define REBUILD_HINT "rebuild the module against this py-spy's include/pyspy"

int remote_check_ops(const struct pyspy_backend_ops *ops, char *err, size_t errlen)
{
	size_t i;

	if (!PYSPY_HAS(ops->size, struct pyspy_backend_ops, platform)) {
		snprintf(err, errlen, "backend ops table is %u bytes, too short to name its platform (" REBUILD_HINT ")",
			 ops->size);
		return -ENOEXEC;
	}
	for (i = 0; i < sizeof(backend_ops) / sizeof(backend_ops[0]); i++) {
		const struct backend_op *op = &backend_ops[i];

		if (!op->required || has_op(ops, op->offset))
			continue;
		if (ops->size < op->offset + sizeof(void (*)(void)))
			snprintf(err, errlen, "backend ops table is %u bytes, too short to hold the required op %s (" REBUILD_HINT ")",
				 ops->size, op->name);
		else
			snprintf(err, errlen, "backend lacks the required op %s (it is NULL)", op->name);
		return -ENOEXEC;
	}
	if (!ops->platform || !ops->platform[0]) {
		snprintf(err, errlen, "backend names no platform");
		return -ENOEXEC;
	}
	return 0;
}

/* ---- one wrapper per op ---------------------------------------------------- */

void remote_init(struct remote *r, const struct pyspy_backend_ops *ops, const struct pyspy_host *host)
{
	memset(r, 0, sizeof(*r));
	r->ops = ops;
	r->host = host;
}

int remote_attach(struct remote *r, int64_t pid, char *err, size_t errlen)
{
	r->pid = pid;
	return r->ops->attach(r->host, pid, &r->proc, err, errlen);
}

void remote_detach(struct remote *r)
{
	if (r->proc)
		r->ops->detach(r->proc);
	r->proc = NULL;
	free(r->ranges);
	free(r->maps);
	free(r->threads);
	r->ranges = NULL;
	r->maps = NULL;
	r->threads = NULL;
	r->nranges = r->cap_maps = r->cap_threads = 0;
}

int remote_info(struct remote *r, struct pyspy_proc_info *out, char *err, size_t errlen)
{
	return r->ops->info(r->proc, out, err, errlen);
}

/* arr (n elements of elem_size bytes) as an array of own_size-byte
 * elements: arr itself when the sizes agree, else copies in *buf. */
static const void *own_elems(const void *arr, size_t n, size_t elem_size, size_t own_size,
			     void **buf, size_t *cap)
{
	size_t i;

	if (elem_size == own_size || n == 0)
		return arr;
	if (*cap < n) {
		free(*buf);
		*buf = xcalloc(n, own_size);
		*cap = n;
	}
	for (i = 0; i < n; i++)
		pyspy_copy_elem((char *)*buf + i * own_size, own_size, arr, i, elem_size);
	return *buf;
}

int remote_maps(struct remote *r, const struct pyspy_map **maps, size_t *n, char *err, size_t errlen)
{
	const struct pyspy_map *m = NULL;
	size_t count = 0, size = sizeof(*m);
	int rc;

	rc = r->ops->maps(r->proc, &m, &count, &size, err, errlen);
	if (rc < 0)
		return rc;
	*maps = own_elems(m, count, size, sizeof(*m), (void **)&r->maps, &r->cap_maps);
	*n = count;
	return rc;
}

int remote_threads(struct remote *r, const struct pyspy_os_thread **threads, size_t *n,
		   char *err, size_t errlen)
{
	const struct pyspy_os_thread *t = NULL;
	size_t count = 0, size = sizeof(*t);
	int rc;

	rc = r->ops->threads(r->proc, &t, &count, &size, err, errlen);
	if (rc < 0)
		return rc;
	*threads = own_elems(t, count, size, sizeof(*t), (void **)&r->threads, &r->cap_threads);
	*n = count;
	return rc;
}

int remote_pause(struct remote *r, char *err, size_t errlen)
{
	return r->ops->pause(r->proc, err, errlen);
}

int remote_resume(struct remote *r)
{
	return r->ops->resume(r->proc);
}

int remote_binary_open(struct remote *r, const char *path, struct pyspy_binary **out,
		       char *err, size_t errlen)
{
	return r->ops->binary_open(r->proc, path, out, err, errlen);
}

void remote_binary_close(struct remote *r, struct pyspy_binary *bin)
{
	r->ops->binary_close(bin);
}

int remote_binary_info(struct remote *r, struct pyspy_binary *bin, struct pyspy_binary_info *out)
{
	return r->ops->binary_info(bin, out);
}

int remote_binary_symbol(struct remote *r, struct pyspy_binary *bin, const char *name,
			 uint64_t *addr, uint64_t *size)
{
	return r->ops->binary_symbol(bin, name, addr, size);
}

int remote_binary_section(struct remote *r, struct pyspy_binary *bin, const char *name,
			  uint64_t *addr, uint64_t *size)
{
	return r->ops->binary_section(bin, name, addr, size);
}

int remote_spawn(struct remote *r, const struct pyspy_spawn *spawn, int64_t *pid,
		 char *err, size_t errlen)
{
	if (!has_op(r->ops, offsetof(struct pyspy_backend_ops, spawn))) {
		snprintf(err, errlen, "the %s backend cannot start programs", r->ops->platform);
		return -ENOSYS;
	}
	return r->ops->spawn(r->host, spawn, pid, err, errlen);
}

int remote_alive(struct remote *r, int *status)
{
	if (!has_op(r->ops, offsetof(struct pyspy_backend_ops, alive)))
		return -ENOSYS;
	return r->ops->alive(r->proc, status);
}

int remote_terminate(struct remote *r)
{
	if (!has_op(r->ops, offsetof(struct pyspy_backend_ops, terminate)))
		return -ENOSYS;
	return r->ops->terminate(r->proc);
}

int remote_has_thread_state(const struct remote *r)
{
	return has_op(r->ops, offsetof(struct pyspy_backend_ops, thread_state));
}

int remote_thread_state(struct remote *r, int64_t tid)
{
	if (!remote_has_thread_state(r))
		return -ENOSYS;
	return r->ops->thread_state(r->proc, tid);
}

int remote_has_pause_threads(const struct remote *r)
{
	return has_op(r->ops, offsetof(struct pyspy_backend_ops, pause_threads));
}

int remote_pause_threads(struct remote *r, const int64_t *tids, size_t n, struct pyspy_hold *hold,
			 char *err, size_t errlen)
{
	if (!remote_has_pause_threads(r)) {
		snprintf(err, errlen, "the backend cannot stop chosen threads");
		return -ENOSYS;
	}
	return r->ops->pause_threads(r->proc, tids, n, hold, err, errlen);
}

int remote_ops_read_files(const struct pyspy_backend_ops *ops)
{
	return has_op(ops, offsetof(struct pyspy_backend_ops, open_file));
}

int remote_open_file(struct remote *r, const char *path, const char *root, char *err, size_t errlen)
{
	struct pyspy_open_options opt = { .size = sizeof(opt), .root = root };

	if (!has_op(r->ops, offsetof(struct pyspy_backend_ops, open_file))) {
		snprintf(err, errlen, "the %s backend reads no core files", r->ops->platform);
		return -ENOSYS;
	}
	return r->ops->open_file(r->host, path, &opt, &r->proc, err, errlen);
}

/* ---- the memory map and typed reads ----------------------------------------- */

int remote_refresh_maps(struct remote *r, char *err, size_t errlen)
{
	const struct pyspy_map *maps;
	size_t n, i;
	int rc;

	rc = remote_maps(r, &maps, &n, err, errlen);
	if (rc < 0)
		return rc;
	free(r->ranges);
	r->ranges = xcalloc(n ? n : 1, sizeof(*r->ranges));
	for (i = 0; i < n; i++) {
		r->ranges[i].start = maps[i].start;
		r->ranges[i].end = maps[i].end;
		r->ranges[i].prot = maps[i].prot;
	}
	r->nranges = n;
	return 0;
}

int remote_mapped(const struct remote *r, uint64_t addr, size_t len)
{
	size_t lo = 0, hi = r->nranges;
	uint64_t end = addr + len;

	if (addr == 0 || end < addr)
		return 0;
	/* Binary search for the last range starting at or below addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->ranges[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return 0;
	lo--;
	/* Adjacent mappings may together cover the range. */
	while (lo < r->nranges && r->ranges[lo].start <= addr) {
		if (!(r->ranges[lo].prot & PYSPY_PROT_READ) || addr >= r->ranges[lo].end)
			return 0;
		if (end <= r->ranges[lo].end)
			return 1;
		addr = r->ranges[lo].end;
		lo++;
	}
	return 0;
}

int remote_readv(struct remote *r, const struct pyspy_iov *iov, size_t n)
{
	r->reads++;
	return r->ops->read(r->proc, iov, n, sizeof(*iov));
}

int remote_read(struct remote *r, uint64_t addr, void *buf, size_t len)
{
	struct pyspy_iov iov = { addr, buf, len };
	int rc;

	if (len == 0)
		return 0;
	if (addr == 0)
		return -EFAULT;
	rc = remote_readv(r, &iov, 1);
	if (rc < 0)
		return rc;
	return rc == 1 ? 0 : -EFAULT;
}

int remote_read_ptr(struct remote *r, uint64_t addr, uint64_t *out)
{
	uint64_t v = 0;
	int rc = remote_read(r, addr, &v, sizeof(v));

	*out = rc == 0 ? v : 0;
	return rc;
}

int remote_read_u32(struct remote *r, uint64_t addr, uint32_t *out)
{
	uint32_t v = 0;
	int rc = remote_read(r, addr, &v, sizeof(v));

	*out = rc == 0 ? v : 0;
	return rc;
}

static int in_buf(size_t len, int32_t off, size_t size)
{
	return off >= 0 && (size_t)off + size <= len;
}

uint64_t field_ptr(const void *buf, size_t len, int32_t off)
{
	uint64_t v;

	if (!in_buf(len, off, 8))
		return 0;
	memcpy(&v, (const char *)buf + off, 8);
	return v;
}

int64_t field_i64(const void *buf, size_t len, int32_t off)
{
	return (int64_t)field_ptr(buf, len, off);
}

uint32_t field_u32(const void *buf, size_t len, int32_t off)
{
	uint32_t v;

	if (!in_buf(len, off, 4))
		return 0;
	memcpy(&v, (const char *)buf + off, 4);
	return v;
}

int32_t field_i32(const void *buf, size_t len, int32_t off)
{
	return (int32_t)field_u32(buf, len, off);
}

uint8_t field_u8(const void *buf, size_t len, int32_t off)
{
	if (!in_buf(len, off, 1))
		return 0;
	return ((const uint8_t *)buf)[off];
}

const char *remote_platform(const struct remote *r)
{
	return r->ops->platform;
}
