/*
 * Linux backend, private declarations shared by the files of this module.
 *
 *   proc.c    read, maps, threads, /proc helpers
 *   attach.c  attach/detach, info
 *   ptrace.c  pause/resume (PTRACE_SEIZE + PTRACE_INTERRUPT, PTRACE_DETACH)
 *   elf.c     binary_open (the rest of binary_*: ../common/elfbin.c, libelf)
 *   spawn.c   spawn, alive, terminate
 *   files.c   opening the target's files, why the kernel refuses access
 *   module.c  the ops table and the exported descriptor
 *
 * Everything here is hidden (-fvisibility=hidden); only pyspy_module is
 * exported.
 */
#ifndef PYSPY_BACKEND_LINUX_LNX_H
#define PYSPY_BACKEND_LINUX_LNX_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <pyspy/backend.h>

/* Bounds on what the target (or /proc) may make us hold. */
#define LNX_MAX_MAPS      (1u << 20)        /* lines of /proc/PID/maps */
#define LNX_MAX_MAPS_TEXT (256u << 20)      /* bytes of /proc/PID/maps */
#define LNX_MAX_THREADS   (1u << 16)        /* tasks of one process */
#define LNX_MAX_CMDLINE   (32u << 10)       /* bytes of /proc/PID/cmdline kept */
#define LNX_PAUSE_PASSES  64                /* task listings per pause */
#define LNX_STAT_FDS      128               /* task stat files kept open */
#define LNX_MIN_PAGE      4096u             /* no page is smaller */
#define LNX_GROUP_SPAN    (64u << 10)       /* bytes one grouped range may cover */
#define LNX_BOUNCE_MAX    (1u << 20)        /* bytes of grouped ranges per call */

/* A memory map, owned by whoever parsed it. */
struct lnx_maplist {
	struct pyspy_map *maps;
	size_t n;
	char *text;           /* the file's text; paths point into it */
};

/* An open /proc/PID/task/TID/stat, re-read with pread at offset 0. */
struct lnx_statfd {
	pid_t tid;
	int fd;
	int seen;             /* listed by the last threads op */
	uint64_t used;        /* proc->stat_clock at the last use */
};

/* Neighbouring ranges read as one (lnx_read_grouped): [lo, hi) of the
 * target, ranges [first, first + n) of the request. */
struct lnx_group {
	uint64_t lo, hi;
	size_t first, n;
	size_t at;            /* offset in proc->bounce, if n > 1 */
};

/* One thread held by pause. */
struct lnx_held {
	pid_t tid;
	int sig;              /* signal to re-inject at detach, or 0 */
	int stopped;          /* 1: in a ptrace stop we have waited for */
};

struct pyspy_proc {
	const struct pyspy_host *host;
	pid_t pid;
	pid_t mem_pid;        /* task whose mem and maps we read: pid, or another
			       * live thread once the main thread has exited */
	int is_child;         /* we are its parent (spawned by us) */
	int exited;           /* a child whose exit status we have reaped */
	int status;           /* its wait status */
	int use_mem;          /* read through /proc/PID/mem */
	int mem_fd;           /* /proc/PID/mem (of mem_pid) or -1 */
	struct pyspy_iov *iovs; /* read's ranges when the caller's iov_size is not ours */
	size_t iovs_cap;
	uint8_t *bounce;      /* grouped reads land here first (lnx_read_grouped) */
	size_t bounce_cap;
	struct lnx_group *groups;
	size_t groups_cap;
	DIR *task_dir;        /* /proc/PID/task, kept open for pause */
	pid_t *tids;          /* last task listing */
	size_t ntids, tids_cap;
	uint64_t listed_ns;    /* when threads() last listed the tasks */

	struct lnx_maplist maps;          /* last result of the maps op */

	struct pyspy_os_thread *threads;  /* last result of the threads op */
	size_t threads_cap;
	struct lnx_statfd statfds[LNX_STAT_FDS];
	size_t nstatfds;
	uint64_t stat_clock;  /* counts uses of statfds, for eviction */

	struct lnx_held *held;            /* threads seized by pause */
	size_t nheld, held_cap;
	int paused;
	struct lnx_held *late;            /* seized, but not stopped by the deadline */
	size_t nlate, late_cap;
	int chld_checked, chld_notifies;  /* SIGCHLD reports each stop of a tracee */
	int boost_state;      /* SCHED_FIFO while holding: 0 untried, 1 yes, -1 no */
	int boosted;          /* running under SCHED_FIFO now */
	struct pyspy_hold *hold; /* of the current pause_threads: resume says when it let go */
	int reap_leader;      /* a traced main thread exited: reap it later */

	char *exe, *cmdline, *comm;       /* last result of the info op */
};

/* Memory through the host's allocator (zeroed). */
void *lnx_alloc(const struct pyspy_host *host, size_t n);
void *lnx_realloc(const struct pyspy_host *host, void *p, size_t n);
void lnx_free(const struct pyspy_host *host, void *p);
char *lnx_strdup(const struct pyspy_host *host, const char *s);

/* "/proc/PID/..." into buf; 0 or -ENAMETOOLONG. */
int lnx_proc_path(char *buf, size_t len, pid_t pid, const char *fmt, ...)
	PYSPY_PRINTF(4, 5);
/* Read a whole (small or /proc) file, at most max bytes, NUL-terminated.
 * *len gets the size without the NUL.  0 or a negative errno. */
int lnx_read_file(const struct pyspy_host *host, const char *path, size_t max,
		  char **out, size_t *len);
/* State letter of /proc/PID/stat (or /proc/PID/task/TID/stat): 'R', 'S',
 * 'Z', 't', ...; 0 if the file cannot be read. */
char lnx_stat_state(const char *path);
/* Parent pid from /proc/PID/stat, or -1. */
pid_t lnx_stat_ppid(pid_t pid);
/* 1 if the process exists and is not a zombie, else 0. */
int lnx_pid_running(pid_t pid);

/* Parse the maps of task tid of process pid into ml (sorted by start).
 * 0 or a negative errno. */
int lnx_maps_parse(const struct pyspy_host *host, pid_t pid, pid_t tid,
		   struct lnx_maplist *ml);
/* Choose proc->mem_pid: the main thread while it lives, else another live
 * thread.  0, or -ESRCH when no task lives. */
int lnx_pick_mem_task(struct pyspy_proc *proc);
void lnx_maps_free(const struct pyspy_host *host, struct lnx_maplist *ml);
/* The process's map, read through a live thread if the main one has
 * exited; -ESRCH once the process is gone.  err says what failed. */
int lnx_maps_read(struct pyspy_proc *proc, struct lnx_maplist *ml, char *err, size_t errlen);

/* List /proc/PID/task into proc->tids.  0, -ESRCH (no task left) or a
 * negative errno. */
int lnx_task_list(struct pyspy_proc *proc);

/*
 * Every file py-spy opens on a target's behalf (what it maps, debug files,
 * files a core dump names) is opened here: non-blocking (a FIFO put in its
 * place cannot make us wait), close-on-exec, and accepted only if the open
 * file is a regular file (else -LNX_ENOTREG).  how:
 *   LNX_OPEN_IN_ROOT  path is absolute in the target's root (its mount
 *                     namespace), canonical as its maps name it: resolved
 *                     inside that root, following no link at all;
 *   LNX_OPEN_MAGIC    path is ours (/proc/PID/map_files/...), its last part
 *                     a link the kernel resolves to the very mapped file.
 * Returns the fd (blocking again, for plain reads) or a negative errno.
 */
#define LNX_ENOTREG ENXIO
enum { LNX_OPEN_IN_ROOT = 1, LNX_OPEN_MAGIC = 2 };
int lnx_open_target(pid_t pid, const char *path, int how);
/* strerror, with -LNX_ENOTREG as "not a regular file". */
const char *lnx_open_strerror(int rc);

/* The one-line reason why reading process pid was refused (-EPERM): what
 * to do if we are not root, what stands in the way if we are. */
int lnx_perm_error(pid_t pid, char *err, size_t errlen);

/* Open /proc/PID/mem (of mem_pid) into proc->mem_fd if not open yet.
 * 0 or a negative errno. */
int lnx_open_mem(struct pyspy_proc *proc);

/* Record a wait status of the main thread of a process we spawned. */
void lnx_note_exit(struct pyspy_proc *proc, pid_t tid, int status);

/* Ops (one file each group). */
int lnx_attach(const struct pyspy_host *host, int64_t pid, struct pyspy_proc **out,
	       char *err, size_t errlen);
void lnx_detach(struct pyspy_proc *proc);
int lnx_info(struct pyspy_proc *proc, struct pyspy_proc_info *out, char *err, size_t errlen);
int lnx_read(struct pyspy_proc *proc, const struct pyspy_iov *iov, size_t n, size_t iov_size);
int lnx_maps(struct pyspy_proc *proc, const struct pyspy_map **maps, size_t *n,
	     size_t *map_size, char *err, size_t errlen);
int lnx_thread_state(struct pyspy_proc *proc, int64_t tid);
int lnx_threads(struct pyspy_proc *proc, const struct pyspy_os_thread **threads,
		size_t *n, size_t *thread_size, char *err, size_t errlen);

int lnx_pause(struct pyspy_proc *proc, char *err, size_t errlen);
int lnx_pause_threads(struct pyspy_proc *proc, const int64_t *tids, size_t n,
		      struct pyspy_hold *hold, char *err, size_t errlen);
int lnx_resume(struct pyspy_proc *proc);
/* Detach the threads a pause gave up on that have stopped since. */
void lnx_settle_late(struct pyspy_proc *proc);
/* A stop seen outside pause (by alive's waitpid) for a held thread. */
void lnx_held_note_stop(struct pyspy_proc *proc, pid_t tid, int status);

int lnx_binary_open(struct pyspy_proc *proc, const char *path, struct pyspy_binary **out,
		    char *err, size_t errlen);

int lnx_spawn(const struct pyspy_host *host, const struct pyspy_spawn *spawn,
	      int64_t *pid, char *err, size_t errlen);
int lnx_alive(struct pyspy_proc *proc, int *status);
int lnx_terminate(struct pyspy_proc *proc);

uint64_t lnx_now_ns(void);

#endif /* PYSPY_BACKEND_LINUX_LNX_H */
