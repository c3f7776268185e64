/*
 * Fuzz target: the backends' ELF reader (backends/common/elfbin.c, built
 * into the Linux and core-file backends), which reads every binary mapped
 * into a target: the symbol and section tables are built from the input as
 * binary_open builds them from a file, then looked up as discovery does.
 * elfbin.c is included so that its static table builders are reachable
 * without a process to read.
 */
#include "../backends/common/elfbin.c"

static void *fz_alloc(size_t n)
{
	return calloc(1, n ? n : 1);
}

static const struct pyspy_host fz_host = {
	.size = sizeof(struct pyspy_host),
	.abi_version = PYSPY_ABI_VERSION,
	.alloc = fz_alloc,
	.realloc = realloc,
	.free = free,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "Py_GetVersion", "_PyRuntime", "Py_Version",
					     "interp_head", ".bss", ".data", ".PyRuntime" };
	struct pyspy_binary *bin = fz_alloc(sizeof(*bin));
	char *copy = malloc(size ? size : 1);
	uint64_t addr, len;
	GElf_Ehdr eh;
	Elf *elf;
	size_t i;

	memcpy(copy, data, size);
	bin->host = &fz_host;
	elf_version(EV_CURRENT);
	elf = elf_memory(copy, size);
	if (elf && elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &eh) &&
	    elfbin_load_sections(bin, elf) == 0) {
		if (bin->nsyms)
			qsort_r(bin->syms, bin->nsyms, sizeof(*bin->syms), elfbin_sym_cmp, bin->names);
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			elfbin_symbol(bin, names[i], &addr, &len);
			elfbin_section(bin, names[i], &addr, &len);
		}
	}
	if (elf)
		elf_end(elf);
	elfbin_close(bin);
	free(copy);
	return 0;
}
