/*
 * Linux backend: the ELF files mapped in the target (libelf).
 *
 * binary_open reads the file as the target sees it (/proc/PID/root/<path>,
 * or /proc/PID/map_files/<start>-<end> for a deleted or unreachable file),
 * copies the defined symbols of .dynsym and .symtab into one table sorted
 * by name, and the section headers, then closes the file.  Addresses handed
 * out are run-time addresses: link-time value plus the load bias.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lnx.h"

#define LNX_MAX_SYMBOLS  (1u << 24)
#define LNX_MAX_SECTIONS (1u << 16)
#define LNX_MAX_PHDRS    (1u << 16)
#define LNX_PAGE_MASK    (~(uint64_t)4095)

#define LNX_DELETED " (deleted)"

struct lnx_sym {
	size_t name;          /* offset in names */
	uint64_t value, size;
	int rank;             /* 0 global, 1 weak, 2 local: lookup takes the lowest */
	int absolute;         /* SHN_ABS: not relocated */
};

struct lnx_section {
	size_t name;          /* offset in names */
	uint64_t addr, size;
};

struct pyspy_binary {
	const struct pyspy_host *host;
	char *path;
	int is_pie;
	uint64_t bias, map_start, map_end;
	const char *arch;     /* uname -m name of e_machine, "" if unknown */
	uint32_t pointer_size; /* from EI_CLASS */

	struct lnx_sym *syms;
	size_t nsyms, syms_cap;
	struct lnx_section *sects;
	size_t nsects, sects_cap;
	char *names;          /* every name, NUL-terminated */
	size_t names_len, names_cap;
};

/* --- building the tables ------------------------------------------------ */

static int lnx_grow(const struct pyspy_host *host, void **p, size_t *cap, size_t need,
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
	np = lnx_realloc(host, *p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static int lnx_add_name(struct pyspy_binary *bin, const char *name, size_t *off)
{
	size_t n = strnlen(name, 4096);
	int rc;

	rc = lnx_grow(bin->host, (void **)&bin->names, &bin->names_cap,
		      bin->names_len + n + 1, 1, (size_t)1 << 32);
	if (rc)
		return rc;
	memcpy(bin->names + bin->names_len, name, n);
	bin->names[bin->names_len + n] = '\0';
	*off = bin->names_len;
	bin->names_len += n + 1;
	return 0;
}

static int lnx_rank(int bind)
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
static int lnx_load_symbols(struct pyspy_binary *bin, Elf *elf, Elf_Scn *scn,
			    const GElf_Shdr *sh)
{
	Elf_Data *data;
	size_t entsize, count, i;
	GElf_Sym sym;
	const char *name;
	struct lnx_sym *s;
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
		rc = lnx_grow(bin->host, (void **)&bin->syms, &bin->syms_cap, bin->nsyms + 1,
			      sizeof(*bin->syms), LNX_MAX_SYMBOLS);
		if (rc)
			return rc;
		s = &bin->syms[bin->nsyms];
		rc = lnx_add_name(bin, name, &s->name);
		if (rc)
			return rc;
		s->value = sym.st_value;
		s->size = sym.st_size;
		s->rank = lnx_rank(GELF_ST_BIND(sym.st_info));
		s->absolute = sym.st_shndx == SHN_ABS;
		bin->nsyms++;
	}
	return 0;
}

static int lnx_load_sections(struct pyspy_binary *bin, Elf *elf)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, nscn = 0;
	struct lnx_section *sec;
	const char *name;
	GElf_Shdr sh;
	int rc;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return 0; /* no section names: no sections, no symbols */
	while ((scn = elf_nextscn(elf, scn)) != NULL && nscn++ < LNX_MAX_SECTIONS) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) {
			rc = lnx_load_symbols(bin, elf, scn, &sh);
			if (rc)
				return rc;
		}
		/* only allocated sections have a run-time address */
		if (!(sh.sh_flags & SHF_ALLOC))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || !*name)
			continue;
		rc = lnx_grow(bin->host, (void **)&bin->sects, &bin->sects_cap,
			      bin->nsects + 1, sizeof(*bin->sects), LNX_MAX_SECTIONS);
		if (rc)
			return rc;
		sec = &bin->sects[bin->nsects];
		rc = lnx_add_name(bin, name, &sec->name);
		if (rc)
			return rc;
		sec->addr = sh.sh_addr;
		sec->size = sh.sh_size;
		bin->nsects++;
	}
	return 0;
}

static int lnx_sym_cmp(const void *a, const void *b, void *names)
{
	const struct lnx_sym *x = a, *y = b;
	int c = strcmp((const char *)names + x->name, (const char *)names + y->name);

	return c ? c : x->rank - y->rank;
}

/* Bias implied by mapping m if a PT_LOAD starts at its file offset. */
static int lnx_bias_of(Elf *elf, size_t nph, const struct pyspy_map *m, uint64_t *bias)
{
	GElf_Phdr ph;
	size_t j;

	for (j = 0; j < nph; j++) {
		if (!gelf_getphdr(elf, (int)j, &ph) || ph.p_type != PT_LOAD)
			continue;
		if ((ph.p_offset & LNX_PAGE_MASK) != m->offset)
			continue;
		*bias = m->start - (ph.p_vaddr & LNX_PAGE_MASK);
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
static int lnx_load_bias(Elf *elf, const struct lnx_maplist *ml, const char *path,
			 const char *alt, uint64_t *bias)
{
	size_t nph, i;
	int pass;

	if (elf_getphdrnum(elf, &nph) != 0)
		return -ENOEXEC;
	if (nph > LNX_MAX_PHDRS)
		nph = LNX_MAX_PHDRS;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < ml->n; i++) {
			const struct pyspy_map *m = &ml->maps[i];

			if (strcmp(m->path, path) != 0 && strcmp(m->path, alt) != 0)
				continue;
			if (pass == 0 && m->offset != 0)
				continue;
			if (lnx_bias_of(elf, nph, m, bias) == 0)
				return 0;
		}
	}
	return -ENOENT;
}

/* Whether some mapping names exactly `path`. */
static int lnx_mapped_as(const struct lnx_maplist *ml, const char *path)
{
	size_t i;

	for (i = 0; i < ml->n; i++)
		if (strcmp(ml->maps[i].path, path) == 0)
			return 1;
	return 0;
}

/*
 * Open the file as the process sees it: through its root (its mount
 * namespace), unless the file was deleted (or replaced: the maps then say
 * " (deleted)"); else, or if what is at that path now is no regular file,
 * through map_files, which reaches the very file that is mapped.  Both go
 * through lnx_open_target (never blocks, regular files only).
 */
static int lnx_open_mapped(struct pyspy_proc *proc, const struct lnx_maplist *ml,
			   const char *path, const char *alt)
{
	size_t plen = strlen(path), dlen = strlen(LNX_DELETED), i;
	int fd, tries = 0, rc = -ENOENT;
	char buf[96];

	if (path[0] == '/' && !(plen > dlen && strcmp(path + plen - dlen, LNX_DELETED) == 0) &&
	    lnx_mapped_as(ml, path)) {
		fd = lnx_open_target(proc->mem_pid, path, LNX_OPEN_IN_ROOT);
		if (fd >= 0)
			return fd;
		rc = fd;
	}
	for (i = 0; i < ml->n && tries < 8; i++) {
		const struct pyspy_map *m = &ml->maps[i];

		if (strcmp(m->path, path) != 0 && strcmp(m->path, alt) != 0)
			continue;
		tries++;
		if (lnx_proc_path(buf, sizeof(buf), proc->mem_pid, "map_files/%llx-%llx",
				  (unsigned long long)m->start, (unsigned long long)m->end))
			continue;
		fd = lnx_open_target(proc->mem_pid, buf, LNX_OPEN_MAGIC);
		if (fd >= 0)
			return fd;
		if (rc == -ENOENT)
			rc = fd;
	}
	return rc;
}

void lnx_binary_close(struct pyspy_binary *bin)
{
	const struct pyspy_host *host;

	if (!bin)
		return;
	host = bin->host;
	lnx_free(host, bin->path);
	lnx_free(host, bin->syms);
	lnx_free(host, bin->sects);
	lnx_free(host, bin->names);
	lnx_free(host, bin);
}

/* The machine as `uname -m` names it, for matching layout modules. */
static const char *machine_name(unsigned machine, unsigned data)
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

int lnx_binary_open(struct pyspy_proc *proc, const char *path, struct pyspy_binary **out,
		    char *err, size_t errlen)
{
	const struct pyspy_host *host = proc->host;
	struct pyspy_binary *bin;
	struct lnx_maplist ml;
	char alt[4200];
	GElf_Ehdr eh;
	Elf *elf = NULL;
	size_t i;
	int fd, rc, found = 0;

	if (!path || !*path || strlen(path) > 4096) {
		snprintf(err, errlen, "bad binary path");
		return -EINVAL;
	}
	rc = lnx_maps_read(proc, &ml, err, errlen);
	if (rc)
		return rc;
	/* the caller may name a deleted file without the suffix */
	snprintf(alt, sizeof(alt), "%s%s", path, LNX_DELETED);
	bin = lnx_alloc(host, sizeof(*bin));
	if (!bin) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out_maps;
	}
	bin->host = host;
	for (i = 0; i < ml.n; i++) {
		const struct pyspy_map *m = &ml.maps[i];

		if (strcmp(m->path, path) != 0 && strcmp(m->path, alt) != 0)
			continue;
		if (!found || m->start < bin->map_start)
			bin->map_start = m->start;
		if (!found || m->end > bin->map_end)
			bin->map_end = m->end;
		found = 1;
	}
	if (!found) {
		snprintf(err, errlen, "%s is not mapped in process %d", path, (int)proc->pid);
		rc = -ENOENT;
		goto out_bin;
	}
	bin->path = lnx_strdup(host, path);
	if (!bin->path) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out_bin;
	}
	fd = lnx_open_mapped(proc, &ml, path, alt);
	if (fd < 0) {
		rc = fd;
		snprintf(err, errlen, "cannot open %s of process %d: %s", path, (int)proc->pid,
			 lnx_open_strerror(rc));
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
	bin->arch = machine_name(eh.e_machine, eh.e_ident[EI_DATA]);
	bin->pointer_size = eh.e_ident[EI_CLASS] == ELFCLASS64 ? 8 : eh.e_ident[EI_CLASS] == ELFCLASS32 ? 4 : 0;
	if (bin->is_pie) {
		rc = lnx_load_bias(elf, &ml, path, alt, &bin->bias);
		if (rc) {
			rc = -ENOEXEC;
			snprintf(err, errlen, "%s: no mapping matches a PT_LOAD segment", path);
			goto out_elf;
		}
	}
	rc = lnx_load_sections(bin, elf);
	if (rc) {
		snprintf(err, errlen, "%s: cannot load its symbols: %s", path, strerror(-rc));
		goto out_elf;
	}
	if (bin->nsyms)
		qsort_r(bin->syms, bin->nsyms, sizeof(*bin->syms), lnx_sym_cmp, bin->names);
	elf_end(elf);
	close(fd);
	lnx_maps_free(host, &ml);
	*out = bin;
	return 0;

out_elf:
	if (elf)
		elf_end(elf);
	close(fd);
out_bin:
	lnx_binary_close(bin);
out_maps:
	lnx_maps_free(host, &ml);
	return rc;
}

int lnx_binary_info(struct pyspy_binary *bin, struct pyspy_binary_info *out)
{
	struct pyspy_binary_info info;

	if (!out || out->size < sizeof(out->size))
		return -EINVAL;
	/* As much as the caller's struct holds (module.h). */
	info.size = out->size;
	info.is_pie = bin->is_pie;
	info.load_bias = bin->bias;
	info.map_start = bin->map_start;
	info.map_end = bin->map_end;
	info.path = bin->path;
	info.arch = bin->arch ? bin->arch : "";
	info.pointer_size = bin->pointer_size;
	info.reserved2 = 0;
	memcpy(out, &info, out->size < sizeof(info) ? out->size : sizeof(info));
	return 0;
}

int lnx_binary_symbol(struct pyspy_binary *bin, const char *name, uint64_t *addr,
		      uint64_t *size)
{
	size_t lo = 0, hi = bin->nsyms, mid;
	const struct lnx_sym *s;

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

int lnx_binary_section(struct pyspy_binary *bin, const char *name, uint64_t *addr,
		       uint64_t *size)
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
