/*
 * Reading the target through the backend (see remote.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"
#include "util.h"

int remote_refresh_maps(struct remote *r, char *err, size_t errlen)
{
	const struct pyspy_map *maps;
	size_t n, i;
	int rc;

	rc = r->ops->maps(r->proc, &maps, &n, err, errlen);
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
	return r->ops->read(r->proc, iov, n);
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

int remote_has_thread_state(const struct remote *r)
{
	return r->ops->size >= offsetof(struct pyspy_backend_ops, thread_state) + sizeof(r->ops->thread_state) &&
	       r->ops->thread_state != NULL;
}

int remote_thread_state(struct remote *r, int64_t tid)
{
	if (!remote_has_thread_state(r))
		return -ENOSYS;
	return r->ops->thread_state(r->proc, tid);
}
