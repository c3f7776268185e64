/*
 * Core-file backend: the process as the core holds it.
 *
 * Memory comes from the PT_LOAD segments.  Read-only file-backed pages
 * (program text, constants) are mostly left out: the kernel writes their
 * segment with p_filesz below p_memsz (often 0), gcore writes no segment
 * at all.  Those bytes come from the file NT_FILE names for the range, at
 * the matching offset, when files.c found that file to match the core.
 * Anything else is unreadable, as unmapped memory of a live process is.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecore.h"

/* How many of n sorted elements (size bytes each, their uint64_t start
 * at offset `at`) start at or below addr: the one that may hold addr is
 * the one before. */
static size_t ec_count_at_or_below(const void *base, size_t n, size_t size, size_t at, uint64_t addr)
{
	size_t lo = 0, hi = n, mid;
	uint64_t start;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		memcpy(&start, (const char *)base + mid * size + at, sizeof(start));
		if (start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The segment that holds addr, or NULL; *next is where the next segment
 * starts (UINT64_MAX if none does). */
static const struct ec_segment *ec_segment_at(const struct pyspy_proc *proc, uint64_t addr,
					      uint64_t *next)
{
	size_t lo = ec_count_at_or_below(proc->segs, proc->nsegs, sizeof(*proc->segs),
					 offsetof(struct ec_segment, vaddr), addr);

	*next = lo < proc->nsegs ? proc->segs[lo].vaddr : UINT64_MAX;
	if (lo == 0)
		return NULL;
	if (addr - proc->segs[lo - 1].vaddr >= proc->segs[lo - 1].memsz)
		return NULL;
	return &proc->segs[lo - 1];
}

const struct ec_mapping *ec_mapping_at(const struct pyspy_proc *proc, uint64_t addr)
{
	size_t lo = ec_count_at_or_below(proc->mappings, proc->nmappings, sizeof(*proc->mappings),
					 offsetof(struct ec_mapping, start), addr);

	if (lo == 0 || addr >= proc->mappings[lo - 1].end)
		return NULL;
	return &proc->mappings[lo - 1];
}

/* Bytes at addr that the mapped file on disk holds: how many were copied
 * (up to len, within one mapping), or 0. */
static size_t ec_read_from_file(struct pyspy_proc *proc, uint64_t addr, uint8_t *buf, size_t len)
{
	const struct ec_mapping *m = ec_mapping_at(proc, addr);
	uint64_t off;
	ssize_t n;
	int fd;

	if (!m)
		return 0;
	if (len > m->end - addr)
		len = (size_t)(m->end - addr);
	fd = ec_file_fd(proc, m->file);
	if (fd < 0)
		return 0;
	off = m->offset + (addr - m->start);
	if (off > (uint64_t)INT64_MAX - len)
		return 0;
	do
		n = pread(fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n > 0 ? (size_t)n : 0;
}

/* One range, piece by piece across segments; with_files: the files on
 * disk fill what the core left out. */
static int ec_read_range(struct pyspy_proc *proc, uint64_t addr, uint8_t *buf, size_t len,
			 int with_files)
{
	const struct ec_segment *s;
	uint64_t in, next;
	size_t piece, got;

	if (addr > UINT64_MAX - len)
		return -EFAULT;
	while (len > 0) {
		s = ec_segment_at(proc, addr, &next);
		if (!s) {
			/* a mapping with no segment (gcore): the file only */
			piece = next - addr < len ? (size_t)(next - addr) : len;
			got = with_files ? ec_read_from_file(proc, addr, buf, piece) : 0;
			if (got == 0)
				return -EFAULT;
			addr += got;
			buf += got;
			len -= got;
			continue;
		}
		if (!(s->prot & PYSPY_PROT_READ))
			return -EFAULT;
		in = addr - s->vaddr;
		piece = s->memsz - in < len ? (size_t)(s->memsz - in) : len;
		if (in < s->filesz) {
			if (piece > s->filesz - in)
				piece = (size_t)(s->filesz - in);
			if (ec_source_read(&proc->src, s->offset + in, buf, piece))
				return -EFAULT;
		} else {
			got = with_files ? ec_read_from_file(proc, addr, buf, piece) : 0;
			if (got == 0)
				return -EFAULT;
			piece = got;
		}
		addr += piece;
		buf += piece;
		len -= piece;
	}
	return 0;
}

int ec_read_core(struct pyspy_proc *proc, uint64_t addr, void *buf, size_t len)
{
	return ec_read_range(proc, addr, buf, len, 0);
}

int ec_read(struct pyspy_proc *proc, const struct pyspy_iov *iov, size_t n, size_t iov_size)
{
	struct pyspy_iov v;
	size_t i;

	if (n > INT_MAX)
		n = INT_MAX;
	for (i = 0; i < n; i++) {
		/* the caller's element size may differ from ours (module.h) */
		pyspy_copy_elem(&v, sizeof(v), iov, i, iov_size);
		if (ec_read_range(proc, v.remote, v.local, v.len, 1)) {
			proc->host->log(proc->host, PYSPY_LOG_DEBUG, "%zu bytes at 0x%llx: not in the core "
					"nor in a matching file", v.len, (unsigned long long)v.remote);
			break;
		}
	}
	return (int)i;
}

static void ec_add_map(struct pyspy_proc *proc, uint64_t start, uint64_t end, uint32_t prot)
{
	const struct ec_mapping *m = ec_mapping_at(proc, start);
	struct pyspy_map *pm = &proc->maps[proc->nmaps++];

	pm->start = start;
	pm->end = end;
	pm->prot = prot;
	pm->path = m ? proc->files[m->file].path : "";
	pm->offset = m ? m->offset + (start - m->start) : 0;
}

static int ec_map_cmp(const void *a, const void *b)
{
	const struct pyspy_map *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * One map per PT_LOAD segment, named after the NT_FILE mapping that holds
 * its start (the kernel and gcore write one segment per mapping), and one
 * per stretch of an NT_FILE mapping that no segment covers (what gcore left
 * out), readable from its file.
 */
int ec_maps(struct pyspy_proc *proc, const struct pyspy_map **maps, size_t *n,
	    size_t *map_size, char *err, size_t errlen)
{
	const struct ec_segment *s;
	uint64_t addr, next;
	size_t i, cap;

	if (!proc->maps) {
		/* each gap ends at a segment or at the end of its mapping */
		cap = 2 * proc->nsegs + proc->nmappings + 1;
		proc->maps = ec_alloc(proc->host, cap * sizeof(*proc->maps));
		if (!proc->maps) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		for (i = 0; i < proc->nsegs; i++)
			ec_add_map(proc, proc->segs[i].vaddr, proc->segs[i].vaddr + proc->segs[i].memsz,
				   proc->segs[i].prot);
		for (i = 0; i < proc->nmappings && proc->nmaps < cap; i++) {
			const struct ec_mapping *m = &proc->mappings[i];

			for (addr = m->start; addr < m->end && proc->nmaps < cap;) {
				s = ec_segment_at(proc, addr, &next);
				if (s) {
					addr = s->vaddr + s->memsz;
					continue;
				}
				next = next < m->end ? next : m->end;
				ec_add_map(proc, addr, next, PYSPY_PROT_READ);
				addr = next;
			}
		}
		qsort(proc->maps, proc->nmaps, sizeof(*proc->maps), ec_map_cmp);
	}
	*maps = proc->maps;
	*n = proc->nmaps;
	*map_size = sizeof(struct pyspy_map);
	return 0;
}

int ec_threads(struct pyspy_proc *proc, const struct pyspy_os_thread **threads,
	       size_t *n, size_t *thread_size, char *err, size_t errlen)
{
	*threads = proc->threads;
	*n = proc->nthreads;
	*thread_size = sizeof(struct pyspy_os_thread);
	return 0;
}

int ec_info(struct pyspy_proc *proc, struct pyspy_proc_info *out, char *err, size_t errlen)
{
	struct pyspy_proc_info info = { 0 };
	const struct ec_mapping *m;

	if (!out || out->size < sizeof(out->size)) {
		snprintf(err, errlen, "proc_info struct too small");
		return -EINVAL;
	}
	/* The executable: the file whose program headers AT_PHDR points at,
	 * else the lowest mapped file. */
	m = proc->at_phdr ? ec_mapping_at(proc, proc->at_phdr) : NULL;
	if (!m && proc->nmappings)
		m = &proc->mappings[0];
	info.size = out->size;
	info.pid = proc->pid;
	info.exe = m ? proc->files[m->file].path : "";
	info.cmdline = proc->cmdline ? proc->cmdline : proc->psargs[0] ? proc->psargs : proc->comm;
	info.comm = proc->comm;
	info.signal = proc->signal;
	/* as much as the caller's struct holds (module.h) */
	memcpy(out, &info, out->size < sizeof(info) ? out->size : sizeof(info));
	return 0;
}

/* --- the command line ------------------------------------------------------ */

/*
 * The kernel starts a process with, from the stack pointer up: argc, the
 * argv pointers and a NULL, the envp pointers and a NULL, then the auxv
 * that NT_AUXV copies.  So: find the auxv's bytes in the stack segment
 * (the one AT_EXECFN points into), walk back over envp to argv, and accept
 * it only if the word before argv[0] counts them.
 */
static uint64_t ec_find_argv(struct pyspy_proc *proc, uint64_t *argc)
{
	const struct ec_segment *s;
	uint64_t next, len, at, word, k, p;
	uint8_t *stack, *hit;

	s = proc->at_execfn ? ec_segment_at(proc, proc->at_execfn, &next) : NULL;
	if (!s || proc->auxv_len < 32 || s->filesz == 0)
		return 0;
	len = s->filesz < EC_MAX_STACK ? s->filesz : EC_MAX_STACK;
	at = s->filesz - len; /* the top of the stack holds what we look for */
	stack = ec_alloc(proc->host, (size_t)len);
	if (!stack)
		return 0;
	hit = NULL;
	if (ec_source_read(&proc->src, s->offset + at, stack, (size_t)len) == 0)
		hit = memmem(stack, (size_t)len, proc->auxv, proc->auxv_len);
	ec_free(proc->host, stack);
	if (!hit)
		return 0;
	p = s->vaddr + at + (uint64_t)(hit - stack);
	/* back over envp's NULL and its pointers, to argv's NULL */
	p -= 8;
	if (ec_read_core(proc, p, &word, 8) || word != 0)
		return 0;
	for (k = 0; k < (1u << 16); k++) {
		p -= 8;
		if (ec_read_core(proc, p, &word, 8))
			return 0;
		if (word == 0)
			break;
	}
	/* back over argv to argc */
	for (k = 0; k <= EC_MAX_ARGS; k++) {
		p -= 8;
		if (ec_read_core(proc, p, &word, 8))
			return 0;
		if (word == k && k > 0) {
			*argc = k;
			return p + 8;
		}
	}
	return 0;
}

void ec_find_cmdline(struct pyspy_proc *proc)
{
	uint64_t argv, argc = 0, i, str;
	size_t used = 0, n;
	char *line;

	argv = ec_find_argv(proc, &argc);
	if (!argv)
		return;
	line = ec_alloc(proc->host, EC_MAX_CMDLINE);
	if (!line)
		return;
	for (i = 0; i < argc && used + 2 < EC_MAX_CMDLINE; i++) {
		if (ec_read_core(proc, argv + 8 * i, &str, 8))
			break;
		if (i)
			line[used++] = ' ';
		/* byte by byte up to its NUL: argument strings are short */
		for (n = 0; used + 1 < EC_MAX_CMDLINE; n++) {
			if (ec_read_core(proc, str + n, line + used, 1) || line[used] == '\0')
				break;
			used++;
		}
	}
	line[used] = '\0';
	proc->cmdline = line;
}

/* A core is a process stopped for good: nothing to attach to, pause or
 * resume, and it stays "alive" (readable) until detach. */
int ec_attach(const struct pyspy_host *host, int64_t pid, struct pyspy_proc **out,
	      char *err, size_t errlen)
{
	snprintf(err, errlen, "the core-file backend reads core files (dump --core FILE), "
		 "not running processes");
	return -ENOTSUP;
}

int ec_pause(struct pyspy_proc *proc, char *err, size_t errlen)
{
	return 0;
}

int ec_resume(struct pyspy_proc *proc)
{
	return 0;
}

int ec_alive(struct pyspy_proc *proc, int *status)
{
	return 1;
}
