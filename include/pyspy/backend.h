/*
 * Platform memory backend ABI (module kind PYSPY_KIND_BACKEND).
 *
 * One backend per platform (linux, macos, windows, freebsd).  It reads the
 * target's memory, lists its mappings and threads, pauses and resumes it,
 * spawns programs, and answers binary-format questions (symbol addresses,
 * section ranges, load bias) so that the core holds no ELF/Mach-O/PE code.
 *
 * Conventions: functions return 0 (or a count) on success and a negative
 * errno value on failure, with a one-line reason in (err, errlen) where the
 * signature has one.  Everything a backend returns by pointer stays valid
 * until the next call of the same op on the same object, or until close.
 *
 * Arrays travel with their element size (module.h): the core passes
 * iov_size with read's ranges, a backend returns map_size and thread_size
 * with maps and threads (its own sizeof), and each side reads an element
 * through PYSPY_ELEM and pyspy_copy_elem.
 *
 * Ops are required or optional; the core's table of which is which is in
 * core/remote.c.  An optional op may be NULL or lie beyond a shorter table
 * (`size`): the core then does without it.
 */
#ifndef PYSPY_BACKEND_H
#define PYSPY_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "module.h"

struct pyspy_proc;   /* an attached process; backend-private */
struct pyspy_binary; /* one parsed executable file mapped in a process */

/* One remote range to copy into local memory (an element of read's array). */
struct pyspy_iov {
	uint64_t remote;
	void *local;
	size_t len;
	/* Members above are valid for ABI version 2.  Append only. */
};

enum pyspy_prot {
	PYSPY_PROT_READ = 1,
	PYSPY_PROT_WRITE = 2,
	PYSPY_PROT_EXEC = 4,
};

/* One line of the target's memory map (an element of maps' array). */
struct pyspy_map {
	uint64_t start, end; /* [start, end) */
	uint64_t offset;     /* file offset of start */
	uint32_t prot;       /* enum pyspy_prot bits */
	uint32_t reserved;
	const char *path;    /* "" when anonymous; "[heap]", "[stack]" as the OS names them */
	/* Members above are valid for ABI version 2.  Append only. */
};

enum pyspy_os_thread_state {
	PYSPY_THREAD_UNKNOWN = 0,
	PYSPY_THREAD_RUNNING = 1, /* on a CPU or runnable */
	PYSPY_THREAD_IDLE = 2,    /* sleeping, waiting, stopped */
};

/* One thread of the target (an element of threads' array). */
struct pyspy_os_thread {
	int64_t tid;    /* kernel thread id */
	uint32_t state; /* enum pyspy_os_thread_state, read before any pause */
	uint32_t reserved;
	/* Members above are valid for ABI version 2.  Append only. */
};

struct pyspy_proc_info {
	uint32_t size;       /* set by the caller to sizeof(struct pyspy_proc_info) */
	uint32_t reserved;
	int64_t pid;
	const char *exe;     /* path of the executable as the OS names it */
	const char *cmdline; /* arguments joined by single spaces */
	const char *comm;    /* short process name */
	/* Members above are valid for ABI version 2.  Append only. */
	int32_t signal;      /* the signal that ended it (a core file), else 0 */
	uint32_t reserved2;
	/* Members above are valid for ABI version 2 with open_file.  Append only. */
};

struct pyspy_binary_info {
	uint32_t size;       /* set by the caller */
	uint32_t is_pie;     /* 1: position independent (ET_DYN and the like) */
	uint64_t load_bias;  /* run-time address minus link-time address */
	uint64_t map_start;  /* lowest mapping of the file */
	uint64_t map_end;    /* end of the highest mapping of the file */
	const char *path;    /* as given to binary_open */
	/* Members above are valid for ABI version 2.  Append only. */
	const char *arch;    /* machine as `uname -m` names it ("x86_64"); "" if unknown */
	uint32_t pointer_size; /* 4 or 8; 0 if unknown */
	uint32_t reserved2;
	/* Members above are valid for ABI version 2 (since layouts are checked
	 * against the binary).  Append only. */
	const char *notice;  /* one line to show the user about this file, or NULL
			      * (a core file's binary whose match is unverified) */
	/* Members above are valid for ABI version 2 with open_file and notice.  Append only. */
};

struct pyspy_spawn {
	uint32_t size;        /* set by the caller */
	int32_t stdout_fd;    /* child's stdout becomes this fd; -1 keeps ours */
	char *const *argv;    /* argv[0] is looked up in PATH */
	int64_t uid, gid;     /* run as this user/group; -1 keeps ours */
	/* Members above are valid for ABI version 2.  Append only. */
};

/* Limits of one pause_threads.  Waiting for the first stop holds nothing;
 * once a thread is stopped, it is held while the others are waited for. */
struct pyspy_hold {
	uint32_t size;        /* set by the caller to sizeof(struct pyspy_hold) */
	uint32_t reserved;
	uint64_t wait_ns;     /* longest wait for the first thread to stop */
	uint64_t hold_ns;     /* longest wait for the others after the first stop */
	uint64_t stopped_ns;  /* out: when the first stop was seen (the clock of
			       * the host's now_ns, CLOCK_MONOTONIC), 0 if none */
	uint64_t released_ns; /* out, written by resume: when the last thread
			       * was let go (*hold must live until resume) */
};

/* How open_file reads a file that describes a process (a core file). */
struct pyspy_open_options {
	uint32_t size;        /* set by the caller */
	uint32_t reserved;
	const char *root;     /* look the files the process mapped up under this
			       * folder (NULL or "": where they are named) */
};

struct pyspy_backend_ops {
	uint32_t size;        /* sizeof(struct pyspy_backend_ops) of the module */
	uint32_t reserved;
	const char *platform; /* "linux", "macos", "windows", "freebsd"; for a
			       * backend that reads core files (open_file), the
			       * OS of the processes whose cores it reads */

	/* Attach to a running process for reading.  Does not pause it.  Fails
	 * with -ESRCH (no such process) or -EPERM (no permission; err says
	 * how to get it on this platform). */
	int (*attach)(const struct pyspy_host *host, int64_t pid,
		      struct pyspy_proc **out, char *err, size_t errlen);
	/* Resume (if paused), release everything.  A spawned child is not
	 * killed here: see terminate. */
	void (*detach)(struct pyspy_proc *proc);

	int (*info)(struct pyspy_proc *proc, struct pyspy_proc_info *out,
		    char *err, size_t errlen);

	/* Copy n ranges, each iov_size bytes apart in iov (the caller's
	 * sizeof(struct pyspy_iov)); as few system calls as the platform
	 * allows.  Returns how many leading ranges were copied completely (n
	 * on full success), or a negative errno (-ESRCH once the process is
	 * gone). */
	int (*read)(struct pyspy_proc *proc, const struct pyspy_iov *iov, size_t n,
		    size_t iov_size);

	/* Re-read the memory map: *n elements of *map_size bytes (the
	 * backend's sizeof(struct pyspy_map)), sorted by start address. */
	int (*maps)(struct pyspy_proc *proc, const struct pyspy_map **maps,
		    size_t *n, size_t *map_size, char *err, size_t errlen);

	/* Current threads with their OS state, read without pausing: *n
	 * elements of *thread_size bytes (sizeof(struct pyspy_os_thread)). */
	int (*threads)(struct pyspy_proc *proc, const struct pyspy_os_thread **threads,
		       size_t *n, size_t *thread_size, char *err, size_t errlen);

	/* Stop every thread of the process / let them run again.  Never leaves
	 * the process stopped if py-spy dies.  Signals that arrive while the
	 * process is held are delivered when it runs again. */
	int (*pause)(struct pyspy_proc *proc, char *err, size_t errlen);
	int (*resume)(struct pyspy_proc *proc);

	/* Open the file mapped at `path` (as in maps) as the process sees it
	 * (its own mount namespace, deleted files). */
	int (*binary_open)(struct pyspy_proc *proc, const char *path,
			   struct pyspy_binary **out, char *err, size_t errlen);
	void (*binary_close)(struct pyspy_binary *bin);
	int (*binary_info)(struct pyspy_binary *bin, struct pyspy_binary_info *out);
	/* Run-time address and size of a defined symbol (dynamic and static
	 * symbol tables), or -ENOENT. */
	int (*binary_symbol)(struct pyspy_binary *bin, const char *name,
			     uint64_t *addr, uint64_t *size);
	/* Run-time address and size of a section (".bss", ".PyRuntime", ...),
	 * or -ENOENT. */
	int (*binary_section)(struct pyspy_binary *bin, const char *name,
			      uint64_t *addr, uint64_t *size);

	/* Start a program; the caller then attaches to *pid.  Optional (record
	 * and top with a command line need it). */
	int (*spawn)(const struct pyspy_host *host, const struct pyspy_spawn *spawn,
		     int64_t *pid, char *err, size_t errlen);
	/* 1 while the process runs, 0 once it has exited (a spawned child is
	 * reaped and its exit status stored in *status if not NULL).
	 * Optional: without it the core learns of an exit from -ESRCH. */
	int (*alive)(struct pyspy_proc *proc, int *status);
	/* Ask a process we spawned to end (SIGTERM, then SIGKILL after a grace
	 * period) and reap it.  Optional (goes with spawn). */
	int (*terminate)(struct pyspy_proc *proc);
	/* The OS state of one thread now (enum pyspy_os_thread_state), or a
	 * negative errno (-ESRCH: no such thread in the process).  Cheaper
	 * than threads when only a few threads need asking.  Optional: NULL
	 * or a table too short to hold it means "use threads". */
	int (*thread_state)(struct pyspy_proc *proc, int64_t tid);
	/* Members above are valid for ABI version 2.  Append only. */

	/* Stop only the threads tids[0..n) (kernel thread ids, such as the
	 * threads that run Python code; the others keep running) within the
	 * limits of *hold, which also says when the hold began; resume lets
	 * them go.  Threads that have exited are left out.  Returns 0 when
	 * every thread is held; a positive count of threads that could not be
	 * seized (held by another tracer: err says which), the others being
	 * held; -ETIMEDOUT when a thread did not stop in time (nothing is held
	 * then: the sample is to be given up; err says which); -ESRCH once the
	 * process is gone.  Same guarantees as pause.  Optional: NULL or a
	 * table too short to hold it means "use pause". */
	int (*pause_threads)(struct pyspy_proc *proc, const int64_t *tids, size_t n,
			     struct pyspy_hold *hold, char *err, size_t errlen);
	/* Members above: ABI version 2 with pause_threads appended (optional:
	 * the core checks the table's size).  Append only. */

	/* Open a file that holds a stopped process (a core file) in place of
	 * attach: read, maps, threads, info and binary_* then answer from it;
	 * pause and resume do nothing, alive says 1, and threads report every
	 * state as PYSPY_THREAD_UNKNOWN.  Optional: NULL or beyond a shorter
	 * table means "this backend reads no files". */
	int (*open_file)(const struct pyspy_host *host, const char *path,
			 const struct pyspy_open_options *options,
			 struct pyspy_proc **out, char *err, size_t errlen);
	/* Members above are valid for ABI version 2 with open_file.  Append only. */
};

#endif /* PYSPY_BACKEND_H */
