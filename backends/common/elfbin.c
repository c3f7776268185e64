/*
 * ELF symbols and sections of a mapped file (see elfbin.h), read with
 * libelf: the defined symbols of .dynsym and .symtab in one table sorted by
 * name, and the allocated sections.  Addresses handed out are run-time
 * addresses: link-time value plus the load bias.
 */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elfbin.h"

#define ELFBIN_MAX_SYMBOLS  (1u << 24)
#define ELFBIN_MAX_SECTIONS (1u << 16)
#define ELFBIN_MAX_PHDRS    (1u << 16)
#define ELFBIN_MAX_NOTES    (64u << 10) /* bytes of one PT_NOTE read for a build id */
#define ELFBIN_PAGE_MASK    (~(uint64_t)4095)
#define ELFBIN_NT_GNU_BUILD_ID 3

struct elfbin_sym {
	size_t name;          /* offset in names */
	uint64_t value, size;
	int rank;             /* 0 global, 1 weak, 2 local: lookup takes the lowest */
	int absolute;         /* SHN_ABS: not relocated */
};

struct elfbin_section {
	size_t name;          /* offset in names */
	uint64_t addr, size;
};

struct pyspy_binary {
	const struct pyspy_host *host;
	char *path;
	char *notice;         /* binary_info's notice, or NULL */
	int is_pie;
	uint64_t bias, map_start, map_end;
	const char *arch;     /* uname -m name of e_machine, "" if unknown */
	uint32_t pointer_size; /* from EI_CLASS */

	struct elfbin_sym *syms;
	size_t nsyms, syms_cap;
	struct elfbin_section *sects;
	size_t nsects, sects_cap;
	char *names;          /* every name, NUL-terminated */
	size_t names_len, names_cap;
};

/* --- building the tables ------------------------------------------------ */

static void *elfbin_realloc(const struct pyspy_host *host, void *p, size_t n)
{
	return host->realloc(p, n ? n : 1);
}

static void elfbin_free(const struct pyspy_host *host, void *p)
{
	if (p)
		host->free(p);
}

static char *elfbin_strdup(const struct pyspy_host *host, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = host->alloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

static int elfbin_grow(const struct pyspy_host *host, void **p, size_t *cap, size_t need,
		       size_t elem, size_t max)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;

	if (need <= *cap)
		return 0;
	if (need > max)
		return -E2BIG;
	while (ncap < need)
		ncap *= 2;
	if (ncap > max)
		ncap = max;
	np = elfbin_realloc(host, *p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static int elfbin_add_name(struct pyspy_binary *bin, const char *name, size_t *off)
{
	size_t n = strnlen(name, 4096);
	int rc;

	rc = elfbin_grow(bin->host, (void **)&bin->names, &bin->names_cap,
			 bin->names_len + n + 1, 1, (size_t)1 << 32);
	if (rc)
		return rc;
	memcpy(bin->names + bin->names_len, name, n);
	bin->names[bin->names_len + n] = '\0';
	*off = bin->names_len;
	bin->names_len += n + 1;
	return 0;
}

static int elfbin_rank(int bind)
{
	switch (bind) {
	case STB_GLOBAL:
		return 0;
	case STB_WEAK:
		return 1;
	case STB_LOCAL:
		return 2;
	default:
		return 3;
	}
}

/* Defined symbols of one SHT_SYMTAB / SHT_DYNSYM section. */
static int elfbin_load_symbols(struct pyspy_binary *bin, Elf *elf, Elf_Scn *scn,
			       const GElf_Shdr *sh)
{
	Elf_Data *data;
	size_t entsize, count, i;
	GElf_Sym sym;
	const char *name;
	struct elfbin_sym *s;
	int rc, type;

	entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf || entsize == 0)
		return 0; /* no readable table: nothing to add */
	count = data->d_size / entsize;
	for (i = 1; i < count; i++) { /* entry 0 is the null symbol */
		if (!gelf_getsym(data, (int)i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if (sym.st_shndx == SHN_UNDEF || type == STT_SECTION || type == STT_FILE ||
		    type == STT_TLS)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		rc = elfbin_grow(bin->host, (void **)&bin->syms, &bin->syms_cap, bin->nsyms + 1,
				 sizeof(*bin->syms), ELFBIN_MAX_SYMBOLS);
		if (rc)
			return rc;
		s = &bin->syms[bin->nsyms];
		rc = elfbin_add_name(bin, name, &s->name);
		if (rc)
			return rc;
		s->value = sym.st_value;
		s->size = sym.st_size;
		s->rank = elfbin_rank(GELF_ST_BIND(sym.st_info));
		s->absolute = sym.st_shndx == SHN_ABS;
		bin->nsyms++;
	}
	return 0;
}

static int elfbin_load_sections(struct pyspy_binary *bin, Elf *elf)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, nscn = 0;
	struct elfbin_section *sec;
	const char *name;
	GElf_Shdr sh;
	int rc;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return 0; /* no section names: no sections, no symbols */
	while ((scn = elf_nextscn(elf, scn)) != NULL && nscn++ < ELFBIN_MAX_SECTIONS) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) {
			rc = elfbin_load_symbols(bin, elf, scn, &sh);
			if (rc)
				return rc;
		}
		/* only allocated sections have a run-time address */
		if (!(sh.sh_flags & SHF_ALLOC))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || !*name)
			continue;
		rc = elfbin_grow(bin->host, (void **)&bin->sects, &bin->sects_cap,
				 bin->nsects + 1, sizeof(*bin->sects), ELFBIN_MAX_SECTIONS);
		if (rc)
			return rc;
		sec = &bin->sects[bin->nsects];
		rc = elfbin_add_name(bin, name, &sec->name);
		if (rc)
			return rc;
		sec->addr = sh.sh_addr;
		sec->size = sh.sh_size;
		bin->nsects++;
	}
	return 0;
}

static int elfbin_sym_cmp(const void *a, const void *b, void *names)
{
	const struct elfbin_sym *x = a, *y = b;
	int c = strcmp((const char *)names + x->name, (const char *)names + y->name);

	return c ? c : x->rank - y->rank;
}

int elfbin_names(const struct pyspy_map *m, const char *path)
{
	size_t plen = strlen(path);

	if (strncmp(m->path, path, plen) != 0)
		return 0;
	return m->path[plen] == '\0' || strcmp(m->path + plen, ELFBIN_DELETED) == 0;
}

/* Bias implied by mapping m if a PT_LOAD starts at its file offset. */
static int elfbin_bias_of(Elf *elf, size_t nph, const struct pyspy_map *m, uint64_t *bias)
{
	GElf_Phdr ph;
	size_t j;

	for (j = 0; j < nph; j++) {
		if (!gelf_getphdr(elf, (int)j, &ph) || ph.p_type != PT_LOAD)
			continue;
		if ((ph.p_offset & ELFBIN_PAGE_MASK) != m->offset)
			continue;
		*bias = m->start - (ph.p_vaddr & ELFBIN_PAGE_MASK);
		return 0;
	}
	return -ENOENT;
}

/*
 * Load bias of a position-independent file: the start of its mapping at
 * file offset 0 minus the page-aligned p_vaddr of the PT_LOAD that covers
 * file offset 0, wherever that PT_LOAD stands in the program headers.
 * Without a mapping at offset 0, the lowest mapping whose offset matches a
 * PT_LOAD's page-aligned offset does.
 */
static int elfbin_load_bias(Elf *elf, const struct pyspy_map *maps, size_t nmaps,
			    const char *path, uint64_t *bias)
{
	size_t nph, i;
	int pass;

	if (elf_getphdrnum(elf, &nph) != 0)
		return -ENOEXEC;
	if (nph > ELFBIN_MAX_PHDRS)
		nph = ELFBIN_MAX_PHDRS;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < nmaps; i++) {
			const struct pyspy_map *m = &maps[i];

			if (!elfbin_names(m, path))
				continue;
			if (pass == 0 && m->offset != 0)
				continue;
			if (elfbin_bias_of(elf, nph, m, bias) == 0)
				return 0;
		}
	}
	return -ENOENT;
}

/* The machine as `uname -m` names it, for matching layout modules. */
static const char *elfbin_machine(unsigned machine, unsigned data)
{
	switch (machine) {
	case EM_X86_64: return "x86_64";
	case EM_386: return "i686";
	case EM_AARCH64: return "aarch64";
	case EM_ARM: return "armv7l";
	case EM_PPC64: return data == ELFDATA2LSB ? "ppc64le" : "ppc64";
	case EM_S390: return "s390x";
	case EM_RISCV: return "riscv64";
	default: return "";
	}
}

void elfbin_close(struct pyspy_binary *bin)
{
	const struct pyspy_host *host;

	if (!bin)
		return;
	host = bin->host;
	elfbin_free(host, bin->path);
	elfbin_free(host, bin->notice);
	elfbin_free(host, bin->syms);
	elfbin_free(host, bin->sects);
	elfbin_free(host, bin->names);
	elfbin_free(host, bin);
}

int elfbin_load(const struct pyspy_host *host, int fd, const char *path,
		const struct pyspy_map *maps, size_t nmaps, struct pyspy_binary **out,
		char *err, size_t errlen)
{
	struct pyspy_binary *bin;
	GElf_Ehdr eh;
	Elf *elf = NULL;
	size_t i;
	int rc, found = 0;

	bin = host->alloc(sizeof(*bin));
	if (!bin) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	bin->host = host;
	for (i = 0; i < nmaps; i++) {
		const struct pyspy_map *m = &maps[i];

		if (!elfbin_names(m, path))
			continue;
		if (!found || m->start < bin->map_start)
			bin->map_start = m->start;
		if (!found || m->end > bin->map_end)
			bin->map_end = m->end;
		found = 1;
	}
	if (!found) {
		snprintf(err, errlen, "%s is not mapped in the process", path);
		rc = -ENOENT;
		goto out_bin;
	}
	bin->path = elfbin_strdup(host, path);
	if (!bin->path) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out_bin;
	}
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		snprintf(err, errlen, "%s: not an ELF file", path);
		rc = -ENOEXEC;
		goto out_elf;
	}
	bin->is_pie = eh.e_type == ET_DYN;
	bin->arch = elfbin_machine(eh.e_machine, eh.e_ident[EI_DATA]);
	bin->pointer_size = eh.e_ident[EI_CLASS] == ELFCLASS64 ? 8 : eh.e_ident[EI_CLASS] == ELFCLASS32 ? 4 : 0;
	if (bin->is_pie) {
		rc = elfbin_load_bias(elf, maps, nmaps, path, &bin->bias);
		if (rc) {
			rc = -ENOEXEC;
			snprintf(err, errlen, "%s: no mapping matches a PT_LOAD segment", path);
			goto out_elf;
		}
	}
	rc = elfbin_load_sections(bin, elf);
	if (rc) {
		snprintf(err, errlen, "%s: cannot load its symbols: %s", path, strerror(-rc));
		goto out_elf;
	}
	if (bin->nsyms)
		qsort_r(bin->syms, bin->nsyms, sizeof(*bin->syms), elfbin_sym_cmp, bin->names);
	elf_end(elf);
	*out = bin;
	return 0;

out_elf:
	if (elf)
		elf_end(elf);
out_bin:
	elfbin_close(bin);
	return rc;
}

int elfbin_set_notice(struct pyspy_binary *bin, const char *notice)
{
	elfbin_free(bin->host, bin->notice);
	bin->notice = notice ? elfbin_strdup(bin->host, notice) : NULL;
	return notice && !bin->notice ? -ENOMEM : 0;
}

/* --- build ids ------------------------------------------------------------ */

static uint32_t elfbin_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

size_t elfbin_notes_build_id(const uint8_t *notes, size_t len, uint8_t *id, size_t cap)
{
	size_t at = 0, namesz, descsz, name_at, desc_at;

	/* namesz, descsz, type, then the name and the descriptor, each padded to 4 */
	while (len - at >= 12) {
		namesz = elfbin_u32(notes + at);
		descsz = elfbin_u32(notes + at + 4);
		name_at = at + 12;
		if (namesz > len - name_at)
			return 0;
		desc_at = name_at + ((namesz + 3) & ~(size_t)3);
		if (desc_at > len || descsz > len - desc_at)
			return 0;
		if (elfbin_u32(notes + at + 8) == ELFBIN_NT_GNU_BUILD_ID && namesz == 4 &&
		    memcmp(notes + name_at, "GNU", 4) == 0 && descsz > 0 && descsz <= cap) {
			memcpy(id, notes + desc_at, descsz);
			return descsz;
		}
		at = desc_at + ((descsz + 3) & ~(size_t)3);
		if (at > len)
			return 0;
	}
	return 0;
}

int elfbin_file_build_id(int fd, uint8_t *id, size_t cap)
{
	uint8_t *buf;
	size_t nph, i, got = 0;
	GElf_Phdr ph;
	Elf *elf;
	int rc = 0;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nph) != 0) {
		rc = -ENOEXEC;
		goto out_elf;
	}
	if (nph > ELFBIN_MAX_PHDRS)
		nph = ELFBIN_MAX_PHDRS;
	for (i = 0; i < nph && got == 0; i++) {
		ssize_t n;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE || ph.p_filesz == 0)
			continue;
		if (ph.p_filesz > ELFBIN_MAX_NOTES)
			ph.p_filesz = ELFBIN_MAX_NOTES;
		buf = malloc(ph.p_filesz);
		if (!buf) {
			rc = -ENOMEM;
			break;
		}
		n = pread(fd, buf, ph.p_filesz, (off_t)ph.p_offset);
		if (n > 0)
			got = elfbin_notes_build_id(buf, (size_t)n, id, cap);
		free(buf);
	}
	if (rc == 0)
		rc = (int)got;
out_elf:
	if (elf)
		elf_end(elf);
	return rc;
}

/* --- the binary_* ops ------------------------------------------------------ */

int elfbin_info(struct pyspy_binary *bin, struct pyspy_binary_info *out)
{
	struct pyspy_binary_info info;

	if (!out || out->size < sizeof(out->size))
		return -EINVAL;
	/* As much as the caller's struct holds (module.h). */
	memset(&info, 0, sizeof(info));
	info.size = out->size;
	info.is_pie = bin->is_pie;
	info.load_bias = bin->bias;
	info.map_start = bin->map_start;
	info.map_end = bin->map_end;
	info.path = bin->path;
	info.arch = bin->arch ? bin->arch : "";
	info.pointer_size = bin->pointer_size;
	info.notice = bin->notice;
	memcpy(out, &info, out->size < sizeof(info) ? out->size : sizeof(info));
	return 0;
}

int elfbin_symbol(struct pyspy_binary *bin, const char *name, uint64_t *addr, uint64_t *size)
{
	size_t lo = 0, hi = bin->nsyms, mid;
	const struct elfbin_sym *s;

	/* first entry not less than name: the best-ranked of that name */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(bin->names + bin->syms[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == bin->nsyms || strcmp(bin->names + bin->syms[lo].name, name) != 0)
		return -ENOENT;
	s = &bin->syms[lo];
	if (addr)
		*addr = s->absolute ? s->value : s->value + bin->bias;
	if (size)
		*size = s->size;
	return 0;
}

int elfbin_section(struct pyspy_binary *bin, const char *name, uint64_t *addr, uint64_t *size)
{
	size_t i;

	for (i = 0; i < bin->nsects; i++) {
		if (strcmp(bin->names + bin->sects[i].name, name) != 0)
			continue;
		if (addr)
			*addr = bin->sects[i].addr + bin->bias;
		if (size)
			*size = bin->sects[i].size;
		return 0;
	}
	return -ENOENT;
}
