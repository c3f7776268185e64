/*
 * The one door to the backend: one thin wrapper per backend op (SQLite
 * os.c style), the table of which ops are required and which optional
 * (checked when a backend is loaded), plus typed reads and a check that an
 * address is mapped, against a copy of the memory map.
 *
 * Nothing else in the core calls a backend op.  An optional op that the
 * backend lacks (NULL, or beyond its shorter table) makes its wrapper
 * return -ENOSYS.  Arrays from the backend come back in the core's own
 * element type, whatever element size the backend used (module.h).
 */
#ifndef PYSPY_CORE_REMOTE_H
#define PYSPY_CORE_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/backend.h>

struct remote {
	const struct pyspy_backend_ops *ops;
	const struct pyspy_host *host; /* the backend's, handed to attach and spawn */
	struct pyspy_proc *proc;
	int64_t pid;
	/* Our copy of the map (path strings not kept). */
	struct remote_range {
		uint64_t start, end;
		uint32_t prot;
	} *ranges;
	size_t nranges;
	uint64_t reads;       /* read calls made (statistics) */
	/* The last maps and threads answers in our element type, when the
	 * backend's element size differs from ours. */
	struct pyspy_map *maps;
	size_t cap_maps;
	struct pyspy_os_thread *threads;
	size_t cap_threads;
};

/* 0 if ops has every required op within its size and names its platform,
 * else -ENOEXEC and a line naming what is missing (the loader's check). */
int remote_check_ops(const struct pyspy_backend_ops *ops, char *err, size_t errlen);

/* Bind r to a backend (no process yet). */
void remote_init(struct remote *r, const struct pyspy_backend_ops *ops, const struct pyspy_host *host);
/* Attach to pid (see the attach op). */
int remote_attach(struct remote *r, int64_t pid, char *err, size_t errlen);
/* Detach (if attached) and free what r holds; r stays bound to its backend. */
void remote_detach(struct remote *r);
int remote_info(struct remote *r, struct pyspy_proc_info *out, char *err, size_t errlen);
/* The memory map and the threads in the core's element type, valid until
 * the next call of the same wrapper. */
int remote_maps(struct remote *r, const struct pyspy_map **maps, size_t *n, char *err, size_t errlen);
int remote_threads(struct remote *r, const struct pyspy_os_thread **threads, size_t *n,
		   char *err, size_t errlen);
int remote_pause(struct remote *r, char *err, size_t errlen);
int remote_resume(struct remote *r);
int remote_binary_open(struct remote *r, const char *path, struct pyspy_binary **out,
		       char *err, size_t errlen);
void remote_binary_close(struct remote *r, struct pyspy_binary *bin);
int remote_binary_info(struct remote *r, struct pyspy_binary *bin, struct pyspy_binary_info *out);
/* The platform the backend serves ("linux"). */
const char *remote_platform(const struct remote *r);
int remote_binary_symbol(struct remote *r, struct pyspy_binary *bin, const char *name,
			 uint64_t *addr, uint64_t *size);
int remote_binary_section(struct remote *r, struct pyspy_binary *bin, const char *name,
			  uint64_t *addr, uint64_t *size);
/* Optional ops: -ENOSYS when the backend lacks them. */
int remote_spawn(struct remote *r, const struct pyspy_spawn *spawn, int64_t *pid,
		 char *err, size_t errlen);
/* 1 while the process runs, 0 once it has exited. */
int remote_alive(struct remote *r, int *status);
int remote_terminate(struct remote *r);
/* 1 if the ops table has open_file (the backend reads core files). */
int remote_ops_read_files(const struct pyspy_backend_ops *ops);
/* Open a core file (the open_file op) in place of attaching: r->proc is
 * set here; r->pid is left to the caller (from remote_info). */
int remote_open_file(struct remote *r, const char *path, const char *root, char *err, size_t errlen);

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

/* 1 if the backend can stop chosen threads (remote_pause_threads). */
int remote_has_pause_threads(const struct remote *r);
/* Stop only threads tids[0..n) within the limits of *hold: 0 (all held),
 * a count of threads another tracer holds (the others held), -ETIMEDOUT
 * (given up, nothing held) or a negative errno; resume with ops->resume. */
int remote_pause_threads(struct remote *r, const int64_t *tids, size_t n, struct pyspy_hold *hold,
			 char *err, size_t errlen);

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
