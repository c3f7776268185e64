/*
 * Reading the target through the backend: thin wrappers over the backend's
 * ops (SQLite os.c style), plus typed reads and a check that an address is
 * mapped, against a copy of the memory map.
 */
#ifndef PYSPY_CORE_REMOTE_H
#define PYSPY_CORE_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/backend.h>

struct remote {
	const struct pyspy_backend_ops *ops;
	struct pyspy_proc *proc;
	int64_t pid;
	/* Our copy of the map (path strings not kept). */
	struct remote_range {
		uint64_t start, end;
		uint32_t prot;
	} *ranges;
	size_t nranges;
	uint64_t reads;       /* read calls made (statistics) */
};

/* Refresh the copy of the memory map. */
int remote_refresh_maps(struct remote *r, char *err, size_t errlen);

/* 1 if [addr, addr+len) lies in readable mapped memory (checked on our copy). */
int remote_mapped(const struct remote *r, uint64_t addr, size_t len);

/* Read exactly len bytes; 0, -EFAULT if not (completely) readable, -ESRCH if
 * the process is gone. */
int remote_read(struct remote *r, uint64_t addr, void *buf, size_t len);
/* Several ranges in one call: returns how many leading ranges were read. */
int remote_readv(struct remote *r, const struct pyspy_iov *iov, size_t n);

/* 1 if the backend can tell one thread's OS state (remote_thread_state). */
int remote_has_thread_state(const struct remote *r);
/* enum pyspy_os_thread_state of thread tid, or a negative errno. */
int remote_thread_state(struct remote *r, int64_t tid);

int remote_read_ptr(struct remote *r, uint64_t addr, uint64_t *out);
int remote_read_u32(struct remote *r, uint64_t addr, uint32_t *out);

/* Little-endian field access in a local copy of a remote struct.  off < 0
 * (PYSPY_NO_OFFSET) or out of the buffer gives 0. */
uint64_t field_ptr(const void *buf, size_t len, int32_t off);
uint32_t field_u32(const void *buf, size_t len, int32_t off);
int32_t field_i32(const void *buf, size_t len, int32_t off);
uint8_t field_u8(const void *buf, size_t len, int32_t off);
int64_t field_i64(const void *buf, size_t len, int32_t off);

#endif /* PYSPY_CORE_REMOTE_H */
