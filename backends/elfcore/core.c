/*
 * Core-file backend: opening a core (open_file) and reading its headers.
 *
 * A core is an ELF file of type ET_CORE: PT_LOAD segments hold the
 * process's memory (a segment whose pages the kernel or gcore left out has
 * p_filesz below p_memsz, often 0), and PT_NOTE segments hold the notes:
 * NT_PRSTATUS once per thread, NT_PRPSINFO, NT_SIGINFO, NT_AUXV and NT_FILE
 * (which file every file-backed range maps, from which offset).  Only
 * 64-bit little-endian cores are read (the layouts py-spy has are for
 * those).
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecore.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif
#ifndef NT_SIGINFO
#define NT_SIGINFO 0x53494749
#endif

/* Offsets in the 64-bit Linux note descriptors. */
#define PRSTATUS_CURSIG 12  /* short pr_cursig */
#define PRSTATUS_PID    32  /* int pr_pid */
#define PRPSINFO_PID    24
#define PRPSINFO_FNAME  40  /* char pr_fname[16] */
#define PRPSINFO_ARGS   56  /* char pr_psargs[80] */
#define PRPSINFO_SIZE   136

static uint32_t ec_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t ec_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static int ec_seg_cmp(const void *a, const void *b)
{
	const struct ec_segment *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

static int ec_mapping_cmp(const void *a, const void *b)
{
	const struct ec_mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* --- the notes ------------------------------------------------------------- */

static int ec_note_prstatus(struct pyspy_proc *proc, const uint8_t *d, size_t len)
{
	struct pyspy_os_thread *t;
	int32_t pid;
	int16_t sig;

	if (len < PRSTATUS_PID + 4 || proc->nthreads >= EC_MAX_THREADS)
		return 0;
	memcpy(&pid, d + PRSTATUS_PID, 4);
	memcpy(&sig, d + PRSTATUS_CURSIG, 2);
	if (pid <= 0)
		return 0;
	if (proc->nthreads == proc->threads_cap) {
		size_t cap = proc->threads_cap ? proc->threads_cap * 2 : 16;

		t = ec_realloc(proc->host, proc->threads, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		proc->threads = t;
		proc->threads_cap = cap;
	}
	t = &proc->threads[proc->nthreads++];
	memset(t, 0, sizeof(*t));
	t->tid = pid;
	t->state = PYSPY_THREAD_UNKNOWN;
	/* the first thread is the one that took the signal */
	if (proc->nthreads == 1 && !proc->signal)
		proc->signal = sig;
	return 0;
}

static void ec_note_prpsinfo(struct pyspy_proc *proc, const uint8_t *d, size_t len)
{
	int32_t pid;
	size_t i;

	if (len < PRPSINFO_SIZE)
		return;
	memcpy(&pid, d + PRPSINFO_PID, 4);
	proc->pid = pid;
	memcpy(proc->comm, d + PRPSINFO_FNAME, 16);
	proc->comm[16] = '\0';
	memcpy(proc->psargs, d + PRPSINFO_ARGS, 80);
	proc->psargs[80] = '\0';
	for (i = strlen(proc->psargs); i > 0 && proc->psargs[i - 1] == ' '; i--)
		proc->psargs[i - 1] = '\0';
	proc->have_psinfo = 1;
}

static void ec_note_auxv(struct pyspy_proc *proc, const uint8_t *d, size_t len)
{
	size_t i;

	proc->auxv_len = len < EC_AUXV_KEEP ? len : EC_AUXV_KEEP;
	memcpy(proc->auxv, d, proc->auxv_len);
	for (i = 0; i + 16 <= len; i += 16) {
		if (ec_u64(d + i) == 3 /* AT_PHDR */)
			proc->at_phdr = ec_u64(d + i + 8);
		if (ec_u64(d + i) == 31 /* AT_EXECFN */)
			proc->at_execfn = ec_u64(d + i + 8);
	}
}

/* The file index of `name`, added if new. */
static int ec_file_index(struct pyspy_proc *proc, size_t name_at, uint32_t *index)
{
	const char *name = proc->paths + name_at;
	struct ec_file *f;
	size_t i;

	/* a file's mappings follow each other: look back a few files only (a
	 * file met again later gets a second entry, which does no harm) */
	for (i = proc->nfiles; i-- > 0 && proc->nfiles - i <= EC_FILE_LOOKBACK;) {
		if (strcmp(proc->files[i].path, name) == 0) {
			*index = (uint32_t)i;
			return 0;
		}
	}
	if (proc->nfiles == proc->files_cap) {
		size_t cap = proc->files_cap ? proc->files_cap * 2 : 16;

		f = ec_realloc(proc->host, proc->files, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		proc->files = f;
		proc->files_cap = cap;
	}
	f = &proc->files[proc->nfiles];
	memset(f, 0, sizeof(*f));
	f->path = name;
	f->fd = -1;
	*index = (uint32_t)proc->nfiles++;
	return 0;
}

/*
 * NT_FILE: count, page size, then count (start, end, page offset) triples,
 * then count NUL-terminated names.  Entries whose numbers or names do not
 * make sense are dropped.
 */
static int ec_note_file(struct pyspy_proc *proc, const uint8_t *d, size_t len)
{
	uint64_t count, page, i;
	const char *names, *end;
	size_t names_len, at;
	int rc;

	if (proc->paths || len < 16)
		return 0; /* one NT_FILE only */
	count = ec_u64(d);
	page = ec_u64(d + 8);
	if (count > EC_MAX_FILES || count > (len - 16) / 24 || page == 0 || page > (1u << 30))
		return 0;
	names = (const char *)d + 16 + count * 24;
	names_len = len - 16 - (size_t)count * 24;
	if (names_len > EC_MAX_PATHS)
		names_len = EC_MAX_PATHS;
	proc->paths = ec_alloc(proc->host, names_len + 1);
	proc->mappings = ec_alloc(proc->host, (count ? count : 1) * sizeof(*proc->mappings));
	if (!proc->paths || !proc->mappings)
		return -ENOMEM;
	memcpy(proc->paths, names, names_len);
	proc->paths[names_len] = '\0';
	end = proc->paths + names_len;
	at = 0;
	for (i = 0; i < count && proc->paths + at < end; i++) {
		const uint8_t *e = d + 16 + i * 24;
		struct ec_mapping *m = &proc->mappings[proc->nmappings];
		size_t nlen = strnlen(proc->paths + at, (size_t)(end - (proc->paths + at)));
		uint64_t pgoff = ec_u64(e + 16);

		m->start = ec_u64(e);
		m->end = ec_u64(e + 8);
		if (m->end > m->start && proc->paths[at] == '/' && nlen <= EC_MAX_PATH &&
		    pgoff <= UINT64_MAX / page) {
			m->offset = pgoff * page;
			rc = ec_file_index(proc, at, &m->file);
			if (rc)
				return rc;
			if (m->offset == 0 && !proc->files[m->file].head_end) {
				proc->files[m->file].head = m->start;
				proc->files[m->file].head_end = m->end;
			}
			proc->nmappings++;
		}
		at += nlen + 1;
	}
	qsort(proc->mappings, proc->nmappings, sizeof(*proc->mappings), ec_mapping_cmp);
	return 0;
}

/* Every note of one PT_NOTE segment: namesz, descsz, type, name, desc. */
static int ec_notes(struct pyspy_proc *proc, const uint8_t *d, size_t len)
{
	size_t at = 0, namesz, descsz, desc_at;
	uint32_t type;
	int rc = 0;

	while (rc == 0 && len - at >= 12) {
		namesz = ec_u32(d + at);
		descsz = ec_u32(d + at + 4);
		type = ec_u32(d + at + 8);
		if (namesz > len - at - 12)
			break;
		desc_at = at + 12 + ((namesz + 3) & ~(size_t)3);
		if (desc_at > len || descsz > len - desc_at)
			break;
		/* "CORE" notes (and "LINUX" ones, which we do not use) */
		if (namesz == 5 && memcmp(d + at + 12, "CORE", 5) == 0) {
			switch (type) {
			case NT_PRSTATUS:
				rc = ec_note_prstatus(proc, d + desc_at, descsz);
				break;
			case NT_PRPSINFO:
				ec_note_prpsinfo(proc, d + desc_at, descsz);
				break;
			case NT_AUXV:
				ec_note_auxv(proc, d + desc_at, descsz);
				break;
			case NT_FILE:
				rc = ec_note_file(proc, d + desc_at, descsz);
				break;
			case NT_SIGINFO:
				if (descsz >= 4)
					memcpy(&proc->signal, d + desc_at, 4);
				break;
			}
		}
		at = desc_at + ((descsz + 3) & ~(size_t)3);
		if (at > len)
			break;
	}
	return rc;
}

/* --- the headers ------------------------------------------------------------ */

static uint32_t ec_prot(uint32_t flags)
{
	return ((flags & PF_R) ? PYSPY_PROT_READ : 0) | ((flags & PF_W) ? PYSPY_PROT_WRITE : 0) |
	       ((flags & PF_X) ? PYSPY_PROT_EXEC : 0);
}

/* The ELF header: a 64-bit little-endian core.  err says what it is not. */
static int ec_check_ehdr(const Elf64_Ehdr *eh, ssize_t got, const char *path, char *err,
			 size_t errlen)
{
	if (got < (ssize_t)sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) {
		snprintf(err, errlen, "%s is not a core file (not an ELF file)", path);
		return -EINVAL;
	}
	if (eh->e_type != ET_CORE) {
		snprintf(err, errlen, "%s is not a core file (an ELF %s)", path,
			 eh->e_type == ET_EXEC ? "executable" : eh->e_type == ET_DYN ?
			 "shared object or executable" : eh->e_type == ET_REL ? "object file" : "file of another type");
		return -EINVAL;
	}
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB) {
		snprintf(err, errlen, "%s: only 64-bit little-endian cores are supported", path);
		return -ENOTSUP;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum == PN_XNUM) {
		snprintf(err, errlen, "%s: corrupt core: %u program headers of %u bytes", path,
			 eh->e_phnum, eh->e_phentsize);
		return -EINVAL;
	}
	return 0;
}

/* Bytes the headers say the core holds: the end of its furthest part
 * (segments, or the section headers gdb writes last). */
static uint64_t ec_declared(const Elf64_Ehdr *eh, const Elf64_Phdr *ph, size_t n)
{
	uint64_t end = eh->e_phoff + (uint64_t)n * sizeof(*ph);
	size_t i;

	if (eh->e_shoff && eh->e_shoff < UINT64_MAX / 2 &&
	    eh->e_shoff + (uint64_t)eh->e_shnum * eh->e_shentsize > end)
		end = eh->e_shoff + (uint64_t)eh->e_shnum * eh->e_shentsize;

	for (i = 0; i < n; i++) {
		if ((ph[i].p_type == PT_LOAD || ph[i].p_type == PT_NOTE) &&
		    ph[i].p_offset + ph[i].p_filesz > end)
			end = ph[i].p_offset + ph[i].p_filesz;
	}
	return end;
}

static int ec_load_headers(struct pyspy_proc *proc, const char *path, char *err, size_t errlen)
{
	const struct pyspy_host *host = proc->host;
	uint64_t phend, notes_read = 0;
	Elf64_Phdr *ph = NULL;
	Elf64_Ehdr eh;
	uint8_t *buf = NULL;
	size_t n, i;
	ssize_t got;
	int rc;

	got = ec_source_peek(&proc->src, &eh, sizeof(eh));
	if (got == -EBADMSG) {
		snprintf(err, errlen, "%s: the gzip stream is corrupt", path);
		return -EINVAL;
	}
	rc = ec_check_ehdr(&eh, got, path, err, errlen);
	if (rc)
		return rc;
	n = eh.e_phnum;
	phend = eh.e_phoff + n * sizeof(*ph);
	if (eh.e_phoff < sizeof(eh) || eh.e_phoff > (64u << 20)) {
		snprintf(err, errlen, "%s: corrupt core: program headers at offset %llu", path,
			 (unsigned long long)eh.e_phoff);
		return -EINVAL;
	}
	/* the headers come first: read them before anything is inflated */
	buf = ec_alloc(host, (size_t)phend);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	got = ec_source_peek(&proc->src, buf, (size_t)phend);
	if (got < 0 || (uint64_t)got < phend) {
		snprintf(err, errlen, "%s is truncated: it ends inside its program headers", path);
		rc = -EINVAL;
		goto out_free;
	}
	ph = (Elf64_Phdr *)(buf + eh.e_phoff);
	for (i = 0; i < n; i++) {
		if ((ph[i].p_type == PT_LOAD || ph[i].p_type == PT_NOTE) &&
		    (ph[i].p_offset > UINT64_MAX / 2 || ph[i].p_filesz > UINT64_MAX / 2 ||
		     ph[i].p_memsz > UINT64_MAX / 2 || ph[i].p_vaddr > UINT64_MAX - ph[i].p_memsz)) {
			snprintf(err, errlen, "%s: corrupt core: program header %zu is out of range", path, i);
			rc = -EINVAL;
			goto out_free;
		}
	}
	rc = ec_source_inflate(host, path, &proc->src, ec_declared(&eh, ph, n), err, errlen);
	if (rc)
		goto out_free;

	proc->segs = ec_alloc(host, n * sizeof(*proc->segs));
	if (!proc->segs) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		struct ec_segment *s;
		uint8_t *notes;

		if (ph[i].p_type == PT_NOTE && ph[i].p_filesz > 0) {
			notes_read += ph[i].p_filesz;
			if (notes_read > EC_MAX_NOTES) {
				snprintf(err, errlen, "%s: corrupt core: more than %u MiB of notes", path,
					 EC_MAX_NOTES >> 20);
				rc = -EINVAL;
				goto out_free;
			}
			notes = ec_alloc(host, (size_t)ph[i].p_filesz);
			if (!notes) {
				rc = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out_free;
			}
			rc = ec_source_read(&proc->src, ph[i].p_offset, notes, (size_t)ph[i].p_filesz);
			if (rc == 0)
				rc = ec_notes(proc, notes, (size_t)ph[i].p_filesz);
			ec_free(host, notes);
			if (rc) {
				snprintf(err, errlen, "%s: cannot read its notes: %s", path, strerror(-rc));
				goto out_free;
			}
		}
		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		s = &proc->segs[proc->nsegs++];
		s->vaddr = ph[i].p_vaddr;
		s->memsz = ph[i].p_memsz;
		s->offset = ph[i].p_offset;
		/* bytes beyond memsz are not the process's */
		s->filesz = ph[i].p_filesz < ph[i].p_memsz ? ph[i].p_filesz : ph[i].p_memsz;
		s->prot = ec_prot(ph[i].p_flags);
	}
	qsort(proc->segs, proc->nsegs, sizeof(*proc->segs), ec_seg_cmp);
	rc = 0;
out_free:
	ec_free(host, buf);
	return rc;
}

/* --- open_file / detach ---------------------------------------------------- */

void ec_detach(struct pyspy_proc *proc)
{
	const struct pyspy_host *host;

	if (!proc)
		return;
	host = proc->host;
	ec_files_close(proc);
	ec_source_close(host, &proc->src);
	if (proc->root_fd >= 0)
		close(proc->root_fd);
	ec_free(host, proc->core_path);
	ec_free(host, proc->segs);
	ec_free(host, proc->mappings);
	ec_free(host, proc->files);
	ec_free(host, proc->paths);
	ec_free(host, proc->threads);
	ec_free(host, proc->maps);
	ec_free(host, proc->cmdline);
	ec_free(host, proc);
}

int ec_open_file(const struct pyspy_host *host, const char *path,
		 const struct pyspy_open_options *options, struct pyspy_proc **out,
		 char *err, size_t errlen)
{
	const char *root = NULL;
	struct pyspy_proc *proc;
	int rc;

	if (options && options->size >= offsetof(struct pyspy_open_options, root) + sizeof(root))
		root = options->root;
	proc = ec_alloc(host, sizeof(*proc));
	if (!proc) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	proc->host = host;
	proc->root_fd = -1;
	proc->src.fd = -1;
	proc->core_path = ec_strdup(host, path);
	if (!proc->core_path) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out_free;
	}
	rc = ec_root_open(root, &proc->root_fd, err, errlen);
	if (rc)
		goto out_free;
	rc = ec_source_open(host, path, &proc->src, err, errlen);
	if (rc)
		goto out_free;
	rc = ec_load_headers(proc, path, err, errlen);
	if (rc)
		goto out_free;
	if (proc->nsegs == 0 || proc->nthreads == 0) {
		snprintf(err, errlen, "%s: the core holds no %s", path,
			 proc->nsegs == 0 ? "memory (no PT_LOAD segment)" : "thread (no NT_PRSTATUS note)");
		rc = -EINVAL;
		goto out_free;
	}
	if (!proc->have_psinfo)
		proc->pid = proc->threads[0].tid;
	ec_find_cmdline(proc);
	*out = proc;
	return 0;

out_free:
	ec_detach(proc);
	return rc;
}
