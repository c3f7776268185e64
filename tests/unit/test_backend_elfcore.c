/*
 * The core-file backend (build/modules/backends/elfcore.so), loaded with
 * dlopen, against core files written here: a small valid core, then the
 * same core broken in the ways an untrusted core may be (truncated, not
 * ELF, overlapping segments, notes whose sizes run past their segment,
 * huge counts), gzip-compressed, and a gzip bomb.  Every bad one must fail
 * with one line (or be read as far as it makes sense), never crash.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <pyspy/backend.h>
#include <pyspy/module.h>

#include "unit.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif

#define SEG_VADDR 0x400000ull
#define SEG_SIZE  0x2000ull
#define GAP_START 0x500000ull  /* an NT_FILE mapping with no segment */
#define GAP_END   0x501000ull

static const struct pyspy_module *mod;
static const struct pyspy_backend_ops *ops;
static void *handle;
static char dir[256];

/* --- writing cores ------------------------------------------------------------ */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void pad4(struct buf *b)
{
	static const uint8_t zero[4];

	put(b, zero, (4 - b->len % 4) % 4);
}

static void note(struct buf *b, uint32_t type, const void *desc, uint32_t descsz)
{
	uint32_t hdr[3] = { 5, descsz, type };

	put(b, hdr, sizeof(hdr));
	put(b, "CORE\0\0\0", 8);
	put(b, desc, descsz);
	pad4(b);
}

/* The notes of the valid core: two threads, process info, one file. */
static void notes(struct buf *b)
{
	uint8_t prstatus[336] = { 0 }, psinfo[136] = { 0 }, file[16 + 24 + 32] = { 0 };
	int32_t pid = 4242, tid = 4243;
	int16_t sig = 6;
	uint64_t v;

	memcpy(prstatus + 12, &sig, 2);
	memcpy(prstatus + 32, &pid, 4);
	note(b, NT_PRSTATUS, prstatus, sizeof(prstatus));
	memcpy(prstatus + 32, &tid, 4);
	note(b, NT_PRSTATUS, prstatus, sizeof(prstatus));
	memcpy(psinfo + 24, &pid, 4);
	memcpy(psinfo + 40, "python3", 7);
	memcpy(psinfo + 56, "python3 prog.py", 15);
	note(b, NT_PRPSINFO, psinfo, sizeof(psinfo));
	v = 1;
	memcpy(file, &v, 8);
	v = 4096;
	memcpy(file + 8, &v, 8);
	v = GAP_START;
	memcpy(file + 16, &v, 8);
	v = GAP_END;
	memcpy(file + 24, &v, 8);
	memcpy(file + 40, "/no/such/libpython.so", 21);
	note(b, NT_FILE, file, sizeof(file));
}

/* ELF header, 2 or 3 program headers (PT_NOTE, PT_LOAD, and with overlap
 * a second PT_LOAD over the first one's second page), notes, memory. */
static struct buf make_core(int overlap)
{
	struct buf nb = { 0 }, b = { 0 };
	int nph = overlap ? 3 : 2;
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph[3];
	uint8_t page[SEG_SIZE];
	size_t i;

	notes(&nb);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = (Elf64_Half)nph;
	memset(ph, 0, sizeof(ph));
	ph[0].p_type = PT_NOTE;
	ph[0].p_offset = sizeof(eh) + nph * sizeof(Elf64_Phdr);
	ph[0].p_filesz = nb.len;
	ph[1].p_type = PT_LOAD;
	ph[1].p_flags = PF_R | PF_W;
	ph[1].p_offset = 0x1000;
	ph[1].p_vaddr = SEG_VADDR;
	ph[1].p_filesz = ph[1].p_memsz = SEG_SIZE;
	/* the overlapping one holds the first one's second page again */
	ph[2] = ph[1];
	ph[2].p_vaddr = SEG_VADDR + 0x1000;
	ph[2].p_offset = 0x2000;
	ph[2].p_filesz = ph[2].p_memsz = 0x1000;
	put(&b, &eh, sizeof(eh));
	put(&b, ph, nph * sizeof(Elf64_Phdr));
	put(&b, nb.p, nb.len);
	free(nb.p);
	while (b.len < 0x1000)
		put(&b, "", 1);
	for (i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 7);
	put(&b, page, sizeof(page));
	return b;
}

static const char *write_file(const char *name, const void *data, size_t len)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

static const char *write_gzip(const char *name, const void *data, size_t len, size_t extra_zeros)
{
	static char path[512];
	static const uint8_t zeros[4096];
	gzFile gz;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	gz = gzopen(path, "wb1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(gz);
	CU_ASSERT_EQUAL(gzwrite(gz, data, (unsigned)len), (int)len);
	while (extra_zeros >= sizeof(zeros)) {
		gzwrite(gz, zeros, sizeof(zeros));
		extra_zeros -= sizeof(zeros);
	}
	gzclose(gz);
	return path;
}

/* --- using the module ----------------------------------------------------------- */

static int open_core(const char *path, struct pyspy_proc **proc, char *err, size_t errlen)
{
	struct pyspy_open_options opt = { .size = sizeof(opt), .root = dir };

	err[0] = '\0';
	return ops->open_file(unit_host(), path, &opt, proc, err, errlen);
}

/* Fails with one line naming `what`. */
static void expect_refused(const char *path, const char *what)
{
	struct pyspy_proc *proc = NULL;
	char err[512];
	int rc = open_core(path, &proc, err, sizeof(err));

	CU_ASSERT(rc < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	if (rc >= 0 || !strstr(err, what))
		fprintf(stderr, "\n  %s: rc %d, expected \"%s\" in: %s\n", path, rc, what, err);
	if (rc == 0)
		ops->detach(proc);
}

static int read_at(struct pyspy_proc *proc, uint64_t addr, void *buf, size_t len)
{
	struct pyspy_iov iov = { addr, buf, len };

	return ops->read(proc, &iov, 1, sizeof(iov));
}

/* What the valid core says, through every op the core uses. */
static void check_valid(const char *path)
{
	struct pyspy_proc_info info = { .size = sizeof(info) };
	const struct pyspy_os_thread *t;
	const struct pyspy_map *m;
	struct pyspy_binary *bin;
	size_t n, size, i;
	uint8_t got[16];
	struct pyspy_proc *proc;
	char err[512];
	int gap = 0;

	CU_ASSERT_EQUAL_FATAL(open_core(path, &proc, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ops->info(proc, &info, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info.pid, 4242);
	CU_ASSERT_EQUAL(info.signal, 6);
	CU_ASSERT_STRING_EQUAL(info.cmdline, "python3 prog.py");
	CU_ASSERT_STRING_EQUAL(info.comm, "python3");
	CU_ASSERT_EQUAL(ops->threads(proc, &t, &n, &size, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(size, sizeof(*t));
	CU_ASSERT_EQUAL(t[0].tid, 4242);
	CU_ASSERT_EQUAL(t[1].tid, 4243);
	CU_ASSERT_EQUAL(t[1].state, PYSPY_THREAD_UNKNOWN);
	CU_ASSERT_EQUAL(ops->maps(proc, &m, &n, &size, err, sizeof(err)), 0);
	CU_ASSERT(n >= 2);
	for (i = 0; i < n; i++) {
		CU_ASSERT(i == 0 || m[i - 1].start <= m[i].start);
		if (m[i].start == GAP_START && m[i].end == GAP_END)
			gap = strcmp(m[i].path, "/no/such/libpython.so") == 0;
	}
	CU_ASSERT(gap);
	/* memory the core holds, across the segment's pages */
	CU_ASSERT_EQUAL(read_at(proc, SEG_VADDR + 0xff8, got, sizeof(got)), 1);
	for (i = 0; i < sizeof(got); i++)
		CU_ASSERT_EQUAL(got[i], (uint8_t)((0xff8 + i) * 7));
	/* past its end, and a file's range whose file is missing: unreadable */
	CU_ASSERT_EQUAL(read_at(proc, SEG_VADDR + SEG_SIZE - 8, got, sizeof(got)), 0);
	CU_ASSERT_EQUAL(read_at(proc, GAP_START, got, sizeof(got)), 0);
	CU_ASSERT_EQUAL(read_at(proc, UINT64_MAX - 4, got, sizeof(got)), 0);
	CU_ASSERT_NOT_EQUAL(ops->binary_open(proc, "/no/such/libpython.so", &bin, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open /no/such/libpython.so"));
	CU_ASSERT_NOT_EQUAL(ops->binary_open(proc, "/not/mapped", &bin, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ops->pause(proc, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ops->resume(proc), 0);
	CU_ASSERT_NOT_EQUAL(ops->attach(unit_host(), 1, &proc, err, sizeof(err)), 0);
	ops->detach(proc);
}

/* --- tests -------------------------------------------------------------------- */

static void test_valid_and_gzip(void)
{
	Elf64_Phdr *phdr;
	struct buf b;

	if (!ops)
		CU_FAIL_FATAL("elfcore.so did not load");
	b = make_core(0);
	check_valid(write_file("core", b.p, b.len));
	check_valid(write_gzip("core.gz", b.p, b.len, 0));
	/* more data than the headers declare: refused before it is all inflated */
	expect_refused(write_gzip("bomb.gz", b.p, b.len, 8u << 20), "gzip bomb");
	/* headers that declare 6 GiB in a few compressed bytes: refused at once */
	phdr = (Elf64_Phdr *)(b.p + sizeof(Elf64_Ehdr));
	phdr[1].p_filesz = phdr[1].p_memsz = 6ull << 30;
	expect_refused(write_gzip("huge.gz", b.p, b.len, 0), "more than its");
	free(b.p);
}

static void test_overlapping_segments(void)
{
	struct buf b = make_core(1);

	if (!ops)
		CU_FAIL_FATAL("elfcore.so did not load");
	check_valid(write_file("overlap", b.p, b.len));
	free(b.p);
}

/* The core b with len bytes at offset off replaced by val: refused, `what`. */
static void refuse_changed(const struct buf *b, const char *name, size_t off, const void *val,
			   size_t len, const char *what)
{
	uint8_t *copy = malloc(b->len);

	memcpy(copy, b->p, b->len);
	memcpy(copy + off, val, len);
	expect_refused(write_file(name, copy, b->len), what);
	free(copy);
}

#define EH(member) offsetof(Elf64_Ehdr, member)
#define PH(i, member) (sizeof(Elf64_Ehdr) + (i) * sizeof(Elf64_Phdr) + offsetof(Elf64_Phdr, member))

/* Offset of the first note of type `type` in the valid core b. */
static size_t find_note(const struct buf *b, uint32_t type)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(b->p + sizeof(Elf64_Ehdr));
	size_t at = ph[0].p_offset, end = at + ph[0].p_filesz;
	uint32_t namesz, descsz, t;

	while (at + 12 <= end) {
		memcpy(&namesz, b->p + at, 4);
		memcpy(&descsz, b->p + at + 4, 4);
		memcpy(&t, b->p + at + 8, 4);
		if (t == type)
			return at;
		at += 12 + ((namesz + 3) & ~3u) + ((descsz + 3) & ~3u);
	}
	return 0;
}

static void test_bad_cores(void)
{
	struct buf b = make_core(0);
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(b.p + sizeof(Elf64_Ehdr));
	uint16_t half;
	uint32_t word;
	uint64_t big;
	uint8_t byte;
	const struct pyspy_map *m;
	struct pyspy_proc *proc;
	size_t n, size, at;
	uint8_t *copy;
	char err[512];

	if (!ops)
		CU_FAIL_FATAL("elfcore.so did not load");
	expect_refused(write_file("truncated", b.p, b.len - 100), "is truncated");
	expect_refused(write_file("short", b.p, 40), "not a core file");
	expect_refused(write_file("phdrs-cut", b.p, sizeof(Elf64_Ehdr) + 10), "is truncated");
	expect_refused(write_file("text", "hello\n", 6), "not a core file (not an ELF file)");
	expect_refused(write_file("empty", "", 0), "not a core file");
	expect_refused(dir, "not a regular file");
	expect_refused(write_gzip("cut.gz", b.p, b.len / 2, 0), "is truncated");

	half = ET_EXEC;
	refuse_changed(&b, "exec", EH(e_type), &half, 2, "not a core file (an ELF executable)");
	byte = ELFCLASS32;
	refuse_changed(&b, "elf32", EI_CLASS, &byte, 1, "only 64-bit");
	half = 0xffff;
	refuse_changed(&b, "phnum", EH(e_phnum), &half, 2, "corrupt core");
	big = 1ull << 40;
	refuse_changed(&b, "phoff", EH(e_phoff), &big, 8, "corrupt core");
	big = 1ull << 63;
	refuse_changed(&b, "seg-huge", PH(1, p_filesz), &big, 8, "out of range");
	big = 1ull << 30;
	refuse_changed(&b, "seg-past-end", PH(1, p_offset), &big, 8, "is truncated");
	/* a note whose size runs past its segment: the notes stop there, and
	 * with no thread left the core is refused */
	word = 0xfffffff0;
	refuse_changed(&b, "note-size", ph[0].p_offset, &word, 4, "no thread");
	big = 0;
	refuse_changed(&b, "notes-gone", PH(0, p_filesz), &big, 8, "no thread");
	word = PT_NULL;
	refuse_changed(&b, "no-load", PH(1, p_type), &word, 4, "no memory");

	/* NT_FILE with a count far beyond its size: its entries are dropped */
	at = find_note(&b, NT_FILE);
	CU_ASSERT_FATAL(at != 0);
	copy = malloc(b.len);
	memcpy(copy, b.p, b.len);
	big = 1ull << 40;
	memcpy(copy + at + 12 + 8, &big, 8);
	CU_ASSERT_EQUAL_FATAL(open_core(write_file("file-count", copy, b.len), &proc, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ops->maps(proc, &m, &n, &size, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 1);
	ops->detach(proc);
	free(copy);
	free(b.p);
}

static int suite_init(void)
{
	if (unit_make_tmpdir(dir, sizeof(dir), "elfcore"))
		return 0;
	mod = unit_load_module("modules/backends/elfcore.so", PYSPY_KIND_BACKEND, &handle);
	if (mod && mod->ops && PYSPY_HAS(((const struct pyspy_backend_ops *)mod->ops)->size,
					 struct pyspy_backend_ops, open_file))
		ops = mod->ops;
	return 0;
}

static int suite_clean(void)
{
	unit_remove_tree(dir);
	return 0;
}

UNIT_SUITE(elfcore_suite)
{
	CU_pSuite s = CU_add_suite("backends/elfcore", suite_init, suite_clean);

	CU_add_test(s, "a valid core, plain and gzip; a gzip bomb", test_valid_and_gzip);
	CU_add_test(s, "overlapping segments", test_overlapping_segments);
	CU_add_test(s, "bad cores: one line each, no crash", test_bad_cores);
}
