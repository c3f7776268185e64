/*
 * Core-file backend ("core"), private declarations shared by its files.
 *
 *   source.c  the bytes of the core file: pread on a plain file, or the
 *             whole image inflated in memory (gzip, zlib), capped
 *   core.c    open_file/detach: the ELF header, PT_LOAD segments and the
 *             notes (NT_PRSTATUS, NT_PRPSINFO, NT_FILE, NT_SIGINFO, NT_AUXV)
 *   memory.c  read, maps, threads, info, and the stand-ins for a live
 *             process's ops (attach, pause, resume, alive)
 *   files.c   the mapped files on disk: looked up under --core-root,
 *             matched to the core by build id, binary_open
 *   module.c  the ops table and the exported descriptor
 *   ../common/elfbin.c  symbols and sections (shared with the linux backend)
 *
 * Everything here is hidden (-fvisibility=hidden); only pyspy_module is
 * exported.  The core file is untrusted: every count, size and offset it
 * holds is checked before use, and it is opened read-only.
 */
#ifndef PYSPY_BACKEND_ELFCORE_ECORE_H
#define PYSPY_BACKEND_ELFCORE_ECORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <pyspy/backend.h>

#define EC_MAX_PHDRS     (1u << 16)   /* program headers of a core */
#define EC_MAX_NOTES     (64u << 20)  /* bytes of notes read in all */
#define EC_MAX_THREADS   (1u << 16)   /* NT_PRSTATUS notes kept */
#define EC_MAX_FILES     (1u << 16)   /* NT_FILE entries kept */
#define EC_MAX_PATHS     (16u << 20)  /* bytes of NT_FILE names */
#define EC_MAX_PATH      4096
#define EC_FILE_LOOKBACK 8            /* NT_FILE files compared with a new name */
#define EC_AUXV_KEEP     64           /* bytes of NT_AUXV searched for on the stack */
#define EC_MAX_STACK     (16u << 20)  /* bytes of the initial stack searched */
#define EC_MAX_ARGS      4096         /* argv entries read */
#define EC_MAX_CMDLINE   (32u << 10)  /* bytes of the command line kept */
#define EC_PAGE          4096u

/* The bytes of the core file. */
struct ec_source {
	int fd;               /* the file, read-only */
	uint64_t size;        /* bytes of the (inflated) core */
	uint8_t *image;       /* the inflated image of a compressed core, or NULL */
	int compressed;
};

/* One PT_LOAD segment: [vaddr, vaddr + memsz) of the process, the first
 * filesz bytes of which the core holds at offset. */
struct ec_segment {
	uint64_t vaddr, memsz, offset, filesz;
	uint32_t prot;        /* enum pyspy_prot */
};

/* A file the process mapped, as the core names it, and whether the copy on
 * disk may stand in for pages the core left out. */
enum ec_file_state {
	EC_FILE_UNTRIED = 0,
	EC_FILE_MATCHES,      /* build ids agree */
	EC_FILE_UNVERIFIED,   /* the core holds no build id for it */
	EC_FILE_REFUSED,      /* missing, not a regular file, or a different build */
};

struct ec_file {
	const char *path;     /* into proc->paths */
	uint64_t head, head_end; /* its first mapping from file offset 0 (its
				  * ELF header page), or head_end 0 */
	enum ec_file_state state;
	int fd;               /* open while MATCHES or UNVERIFIED, else -1 */
	char *why;            /* REFUSED: one line; UNVERIFIED: the notice */
};

/* One NT_FILE entry: [start, end) maps file `file` from byte offset. */
struct ec_mapping {
	uint64_t start, end, offset;
	uint32_t file;        /* index in proc->files */
};

struct pyspy_proc {
	const struct pyspy_host *host;
	char *core_path;
	struct ec_source src;
	int root_fd;          /* the folder mapped files are looked up under */

	struct ec_segment *segs;          /* sorted by vaddr */
	size_t nsegs;
	struct ec_mapping *mappings;      /* sorted by start */
	size_t nmappings;
	struct ec_file *files;
	size_t nfiles, files_cap;
	char *paths;                      /* NT_FILE names, NUL-terminated */

	struct pyspy_os_thread *threads;  /* from NT_PRSTATUS, in note order */
	size_t nthreads, threads_cap;
	int64_t pid;
	int32_t signal;
	uint64_t at_phdr;                 /* AT_PHDR from NT_AUXV, or 0 */
	uint64_t at_execfn;               /* AT_EXECFN: on the initial stack, or 0 */
	uint8_t auxv[EC_AUXV_KEEP];       /* the start of NT_AUXV, to find it in memory */
	size_t auxv_len;
	char *cmdline;                    /* argv from the initial stack, or NULL */
	char comm[17];                    /* NT_PRPSINFO pr_fname */
	char psargs[81];                  /* NT_PRPSINFO pr_psargs */
	int have_psinfo;

	struct pyspy_map *maps;           /* the maps op's answer */
	size_t nmaps;
	const char *exe;                  /* into paths, or "" */
};

/* Memory through the host's allocator (zeroed). */
void *ec_alloc(const struct pyspy_host *host, size_t n);
void *ec_realloc(const struct pyspy_host *host, void *p, size_t n);
void ec_free(const struct pyspy_host *host, void *p);
char *ec_strdup(const struct pyspy_host *host, const char *s);

/* source.c */
int ec_source_open(const struct pyspy_host *host, const char *path, struct ec_source *src,
		   char *err, size_t errlen);
/* Inflate a compressed core, now that its headers say how large it is:
 * `declared` bytes at most (more is refused as a gzip bomb). */
int ec_source_inflate(const struct pyspy_host *host, const char *path, struct ec_source *src,
		      uint64_t declared, char *err, size_t errlen);
/* Copy len bytes at off; 0, or -EFAULT if they are not all in the core. */
int ec_source_read(const struct ec_source *src, uint64_t off, void *buf, size_t len);
void ec_source_close(const struct pyspy_host *host, struct ec_source *src);
/* Read the first len bytes of a compressed core (the headers) without
 * keeping the image: how many were read, or a negative errno. */
ssize_t ec_source_peek(const struct ec_source *src, void *buf, size_t len);

/* core.c */
int ec_open_file(const struct pyspy_host *host, const char *path,
		 const struct pyspy_open_options *options, struct pyspy_proc **out,
		 char *err, size_t errlen);
void ec_detach(struct pyspy_proc *proc);

/* memory.c */
int ec_attach(const struct pyspy_host *host, int64_t pid, struct pyspy_proc **out,
	      char *err, size_t errlen);
int ec_info(struct pyspy_proc *proc, struct pyspy_proc_info *out, char *err, size_t errlen);
int ec_read(struct pyspy_proc *proc, const struct pyspy_iov *iov, size_t n, size_t iov_size);
/* Copy [addr, addr + len) from the core's own bytes only (no file on disk):
 * 0 or -EFAULT. */
int ec_read_core(struct pyspy_proc *proc, uint64_t addr, void *buf, size_t len);
int ec_maps(struct pyspy_proc *proc, const struct pyspy_map **maps, size_t *n,
	    size_t *map_size, char *err, size_t errlen);
int ec_threads(struct pyspy_proc *proc, const struct pyspy_os_thread **threads,
	       size_t *n, size_t *thread_size, char *err, size_t errlen);
int ec_pause(struct pyspy_proc *proc, char *err, size_t errlen);
int ec_resume(struct pyspy_proc *proc);
int ec_alive(struct pyspy_proc *proc, int *status);
/* The command line from argv on the process's initial stack, when the
 * core holds it (NT_PRPSINFO keeps only 80 bytes): into proc->cmdline. */
void ec_find_cmdline(struct pyspy_proc *proc);
/* The NT_FILE mapping that holds addr, or NULL. */
const struct ec_mapping *ec_mapping_at(const struct pyspy_proc *proc, uint64_t addr);

/* files.c */
/* The file of a mapping, opened and checked against the core on first use:
 * its fd when it may stand in for the core's missing pages, else -1. */
int ec_file_fd(struct pyspy_proc *proc, uint32_t file);
void ec_files_close(struct pyspy_proc *proc);
int ec_binary_open(struct pyspy_proc *proc, const char *path, struct pyspy_binary **out,
		   char *err, size_t errlen);
/* Open `root` (NULL or "": "/") as the folder files are looked up under. */
int ec_root_open(const char *root, int *fd, char *err, size_t errlen);

#endif /* PYSPY_BACKEND_ELFCORE_ECORE_H */
