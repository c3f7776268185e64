/*
 * The ELF image check (see linux_elf.h).  Each header is read into a local
 * copy and every offset and count is checked against the file's size before
 * anything is read from where it points, so that a truncated or hostile
 * file costs at most one read per header entry.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "linux_elf.h"

/* This host's own ELF flavour: a module is loaded into py-spy itself. */
#if UINTPTR_MAX > 0xffffffffu
typedef Elf64_Ehdr ehdr_t;
typedef Elf64_Phdr phdr_t;
typedef Elf64_Shdr shdr_t;
#define HOST_CLASS ELFCLASS64
#define HOST_BITS 64
#else
typedef Elf32_Ehdr ehdr_t;
typedef Elf32_Phdr phdr_t;
typedef Elf32_Shdr shdr_t;
#define HOST_CLASS ELFCLASS32
#define HOST_BITS 32
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA ELFDATA2LSB
#else
#define HOST_DATA ELFDATA2MSB
#endif

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__i386__)
#define HOST_MACHINE EM_386
#elif defined(__arm__)
#define HOST_MACHINE EM_ARM
#else
#define HOST_MACHINE EM_NONE  /* not checked here; the dynamic loader does */
#endif

#define REBUILD "rebuild or reinstall it"

/* Whether [off, off + len) lies within size bytes, without overflow. */
static int fits(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static int check_header(const ehdr_t *eh, uint64_t size, char *err, size_t errlen)
{
	if (eh->e_ident[EI_CLASS] != HOST_CLASS) {
		snprintf(err, errlen, "is not a %d-bit ELF file, as this py-spy is (ELF class %u)",
			 HOST_BITS, eh->e_ident[EI_CLASS]);
		return -ENOEXEC;
	}
	if (eh->e_ident[EI_DATA] != HOST_DATA) {
		snprintf(err, errlen, "ELF file of the other byte order (ELF data %u)", eh->e_ident[EI_DATA]);
		return -ENOEXEC;
	}
	if (eh->e_type != ET_DYN) {
		snprintf(err, errlen, "not a shared object (ELF type %u; build it with -shared)",
			 (unsigned)eh->e_type);
		return -ENOEXEC;
	}
	if (HOST_MACHINE != EM_NONE && eh->e_machine != HOST_MACHINE) {
		snprintf(err, errlen, "built for another machine (ELF machine %u, this host is %u)",
			 (unsigned)eh->e_machine, (unsigned)HOST_MACHINE);
		return -ENOEXEC;
	}
	if (eh->e_phentsize != sizeof(phdr_t) || eh->e_phnum == 0 || eh->e_phnum == PN_XNUM) {
		snprintf(err, errlen, "broken ELF header: %u program headers of %u bytes (expected 1 to %u of %zu)",
			 (unsigned)eh->e_phnum, (unsigned)eh->e_phentsize, PN_XNUM - 1u, sizeof(phdr_t));
		return -ENOEXEC;
	}
	if (!fits(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(phdr_t), size)) {
		snprintf(err, errlen, "truncated: its program headers end at byte %llu but the file has %llu bytes (" REBUILD ")",
			 (unsigned long long)eh->e_phoff + (unsigned long long)eh->e_phnum * sizeof(phdr_t),
			 (unsigned long long)size);
		return -ENOEXEC;
	}
	return 0;
}

/* Every segment's file bytes lie within the file; at least one is loaded. */
static int check_segments(elf_read_fn read, void *ctx, const ehdr_t *eh, uint64_t size,
			  char *err, size_t errlen)
{
	unsigned i, nload = 0;
	phdr_t ph;
	int rc;

	for (i = 0; i < eh->e_phnum; i++) {
		rc = read(ctx, eh->e_phoff + (uint64_t)i * sizeof(ph), &ph, sizeof(ph));
		if (rc) {
			snprintf(err, errlen, "cannot read program header %u: %s", i, strerror(-rc));
			return rc;
		}
		if (ph.p_type == PT_NULL)
			continue;
		nload += ph.p_type == PT_LOAD;
		if (!fits(ph.p_offset, ph.p_filesz, size)) {
			snprintf(err, errlen, "truncated: segment %u (%s) needs bytes up to %llu but the file has %llu (" REBUILD ")",
				 i, ph.p_type == PT_LOAD ? "PT_LOAD" : "not loaded",
				 (unsigned long long)ph.p_offset + (unsigned long long)ph.p_filesz,
				 (unsigned long long)size);
			return -ENOEXEC;
		}
	}
	if (nload == 0) {
		snprintf(err, errlen, "has no loadable segment (no PT_LOAD program header)");
		return -ENOEXEC;
	}
	return 0;
}

/* The section header table (optional: e_shoff 0) lies within the file.  With
 * more than 0xff00 sections the count is in section 0's sh_size. */
static int check_sections(elf_read_fn read, void *ctx, const ehdr_t *eh, uint64_t size,
			  char *err, size_t errlen)
{
	uint64_t count = eh->e_shnum;
	shdr_t sh0;
	int rc;

	if (eh->e_shoff == 0)
		return 0;
	if (eh->e_shentsize != sizeof(shdr_t)) {
		snprintf(err, errlen, "broken ELF header: section headers of %u bytes (expected %zu)",
			 (unsigned)eh->e_shentsize, sizeof(shdr_t));
		return -ENOEXEC;
	}
	if (count == 0) {
		if (!fits(eh->e_shoff, sizeof(sh0), size))
			goto out_truncated;
		rc = read(ctx, eh->e_shoff, &sh0, sizeof(sh0));
		if (rc) {
			snprintf(err, errlen, "cannot read section header 0: %s", strerror(-rc));
			return rc;
		}
		count = sh0.sh_size;
		if (count == 0)
			count = 1;
	}
	if (count <= size / sizeof(shdr_t) && fits(eh->e_shoff, count * sizeof(shdr_t), size))
		return 0;
out_truncated:
	snprintf(err, errlen, "truncated: its %llu section headers at byte %llu do not fit in its %llu bytes (" REBUILD ")",
		 (unsigned long long)count, (unsigned long long)eh->e_shoff, (unsigned long long)size);
	return -ENOEXEC;
}

int elf_image_check(elf_read_fn read, void *ctx, uint64_t size, char *err, size_t errlen)
{
	ehdr_t eh;
	int rc;

	memset(&eh, 0, sizeof(eh));
	rc = read(ctx, 0, &eh, size < sizeof(eh) ? (size_t)size : sizeof(eh));
	if (rc) {
		snprintf(err, errlen, "cannot read its ELF header: %s", strerror(-rc));
		return rc;
	}
	if (size < SELFMAG || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
		snprintf(err, errlen, "not an ELF file (no ELF magic at its start)");
		return -ENOEXEC;
	}
	if (size < sizeof(eh)) {
		snprintf(err, errlen, "truncated: %llu bytes, less than an ELF header (" REBUILD ")",
			 (unsigned long long)size);
		return -ENOEXEC;
	}
	rc = check_header(&eh, size, err, errlen);
	if (!rc)
		rc = check_segments(read, ctx, &eh, size, err, errlen);
	if (!rc)
		rc = check_sections(read, ctx, &eh, size, err, errlen);
	return rc;
}

int elf_buffer_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct elf_buffer *b = ctx;

	if (off > b->n || len > b->n - off)
		return -EIO;
	memcpy(buf, (const char *)b->p + off, len);
	return 0;
}
