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

/* The file name ending of a loadable module here: ".so" (".dll", ".dylib"
 * elsewhere).  `[layouts] scan` takes the files that end with it. */
const char *host_module_suffix(void);

/* Names the platform's binary format gives to a program's data: the
 * sections that hold initialised and zeroed globals, in the order worth
 * scanning (NULL-terminated), and the section CPython 3.7+ puts _PyRuntime
 * in.  Discovery scans them when a binary has no usable symbols. */
const char *const *host_data_sections(void);
const char *host_runtime_section(void);

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
	uint64_t size;        /* bytes, for a regular file */
};
int host_file_info(const char *path, struct host_file_info *out);

/*
 * Who may have written the files the core reads and runs (plugins.ini,
 * modules).  With `enforce` clear any path is taken as it is (a user runs
 * their own files); set, as root, every folder on the way must be one that
 * only a trusted user can change (see host_open_checked).
 */
#define HOST_TRUST_MAX_UIDS 2
struct host_trust {
	int enforce;
	uint32_t uid[HOST_TRUST_MAX_UIDS];  /* trusted owners (root: uid 0) */
	size_t nuid;
};

/*
 * Open `path` for reading without letting the kernel follow a link: the
 * folders from / down are opened one by one, each symbolic link met is read
 * and followed by hand (at most 32), and the last name is opened
 * O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC.  With trust->enforce, each folder
 * passed through must be owned by a trusted uid and writable by nobody else,
 * or else be sticky (like /tmp) with the entry taken in it (folder, link or
 * file) owned by a trusted uid: a sticky folder lets nobody else rename or
 * remove what a trusted user put there.  *fi describes the open file itself
 * (fstat), which is what gets read or loaded.  Returns the fd, or a negative
 * errno with err saying which folder or link was refused and why (the path
 * itself is not repeated).  -ENOENT: the file does not exist.
 */
int host_open_checked(const char *path, const struct host_trust *trust,
		      struct host_file_info *fi, char *err, size_t errlen);

/* Read up to len bytes from the start of fd: the count read (short only at
 * the end of the file) or a negative errno. */
long host_fd_read_all(int fd, void *buf, size_t len);

/* Whether the open file fd is a module image this host can map without
 * faulting: its headers, and every segment to be mapped, lie within the
 * file's `size` bytes.  0, or -ENOEXEC with err saying what is wrong. */
int host_module_image_check(int fd, uint64_t size, char *err, size_t errlen);

/* Load the very file open as fd (host_open_checked), not what its path names
 * now.  As host_dl_open otherwise.  fd must stay open while the object is
 * loaded (the object is known by a name made of fd's number): unload with
 * host_dl_close_fd, which closes both. */
int host_dl_open_fd(int fd, void **handle, char *err, size_t errlen);
/* Unload what host_dl_open_fd loaded and close fd -- unless the object stays
 * loaded all the same, when fd is kept open so that its number, and with it
 * the name, is never given to another file. */
void host_dl_close_fd(void *handle, int fd);

/* Call fn for each entry of folder `dir` (not "." or ".."), until fn
 * returns non-zero (that value is returned).  0, or a negative errno when
 * the folder cannot be read. */
int host_dir_each(const char *dir, int (*fn)(void *ctx, const char *name), void *ctx);

/* The working folder (absolute). */
int host_cwd(char *buf, size_t len);

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
