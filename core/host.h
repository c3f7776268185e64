/*
 * Host services the core itself needs: loading modules, files, clocks,
 * signals.  One implementation per host OS in host/<os>.c, selected by the
 * Makefile (HOST=linux).  The core has no platform #ifdefs; it calls these.
 */
#ifndef PYSPY_CORE_HOST_H
#define PYSPY_CORE_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "linux", "macos", "windows", "freebsd": the [backend] key in plugins.ini. */
const char *host_platform(void);

/* Shared objects: RTLD_NOW | RTLD_LOCAL.  On failure err holds the loader's
 * own reason.  Returns 0 or a negative errno. */
int host_dl_open(const char *path, void **handle, char *err, size_t errlen);
void *host_dl_sym(void *handle, const char *name);
void host_dl_close(void *handle);

struct host_file_info {
	int exists;
	int is_regular;
	int is_dir;
	uint32_t uid;
	uint32_t mode;        /* permission bits */
	int group_writable;
	int other_writable;
};
int host_file_info(const char *path, struct host_file_info *out);

/* The effective user is the superuser (checks on config and modules). */
int host_is_root(void);

/* Directory of the running py-spy binary (symlinks resolved). */
int host_self_dir(char *buf, size_t len);
/* The user's and the system's config folders for py-spy ("" if none). */
int host_user_config_dir(char *buf, size_t len);
int host_system_config_dir(char *buf, size_t len);

/* Monotonic clock, nanoseconds. */
uint64_t host_now_ns(void);
/* Wall clock, seconds since the epoch (for default file names). */
int64_t host_wall_time(void);
/* Sleep until the monotonic deadline, or until a signal arrives or fd (if
 * >= 0) becomes readable.  Returns 0 at the deadline, 1 if fd is readable,
 * -EINTR on a signal. */
int host_wait_until(uint64_t deadline_ns, int fd);

/* Signals the run loop cares about.  Handlers only set flags. */
enum host_signal {
	HOST_SIG_INT = 1u << 0,
	HOST_SIG_TERM = 1u << 1,
	HOST_SIG_WINCH = 1u << 2,
	HOST_SIG_CHLD = 1u << 3,
	HOST_SIG_PIPE = 1u << 4,
};
int host_signals_install(void);
/* Returns and clears the pending enum host_signal bits. */
unsigned host_signals_take(void);
/* Pending bits without clearing them. */
unsigned host_signals_peek(void);

/* Random number in [0, 1), seeded once. */
double host_random(void);

/* Resource usage of py-spy itself (user + system CPU seconds). */
double host_self_cpu_seconds(void);

/* Whether `path`, as process `pid` sees it (its mount namespace), exists.
 * Used to shorten file names the way py-spy does (packages). */
int host_target_file_exists(int64_t pid, const char *path);

/* Whether fd is a terminal. */
int host_isatty(int fd);

/* File descriptors, for a spawned program's output (record, top). */
/* A temporary file, already removed, open for reading and writing: its fd
 * or a negative errno. */
int host_temp_fd(void);
/* Make fd `target` refer to what `fd` refers to; *saved gets a copy of the
 * old target for host_fd_restore.  0 or a negative errno. */
int host_fd_redirect(int fd, int target, int *saved);
/* Undo host_fd_redirect (closes saved). */
void host_fd_restore(int saved, int target);
/* Copy the whole file behind fd (from its start) to out. */
int host_fd_copy(int fd, FILE *out);
void host_fd_close(int fd);

/*
 * Output files, written whole and then put in place (host/<os>_outfile.c),
 * so that a run that fails never harms a file that was there:
 *
 *   host_out_prepare  check `path` and note what it names; creates, opens
 *                     and changes nothing.  A link another user could have
 *                     planted is refused, a folder too, with err saying so.
 *   host_out_begin    a stream to write the whole file into: a new
 *                     temporary file beside the target (0644 less the
 *                     umask; 0600 as root in a folder others can write
 *                     to), or for a FIFO or a device the target itself
 *   host_out_commit   complete: the temporary file replaces the target (a
 *                     link the user made stays, its target is replaced)
 *   host_out_abort    drop what begin opened; the target is untouched
 *
 * begin then commit (or abort) may be repeated, each time writing the whole
 * file again (a periodic flush) when host_out_rewritable says the target
 * allows it (a FIFO does not).  Every call returns 0 or a negative errno
 * with one line in err ("cannot write 'PATH': why").
 */
struct host_out;
int host_out_prepare(const char *path, struct host_out **out, char *err, size_t errlen);
/* Whether two prepared outputs are the one file (device and inode, or for
 * files still to be created the folder and the name), whatever the spelling. */
int host_out_same(const struct host_out *a, const struct host_out *b);
int host_out_rewritable(const struct host_out *o);
int host_out_begin(struct host_out *o, FILE **stream, char *err, size_t errlen);
int host_out_commit(struct host_out *o, char *err, size_t errlen);
void host_out_abort(struct host_out *o);
/* Abort what is open and free o (NULL is fine). */
void host_out_free(struct host_out *o);

#endif /* PYSPY_CORE_HOST_H */
