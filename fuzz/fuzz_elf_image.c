/*
 * Fuzz target: the check a module file passes before it is loaded
 * (host/linux_elf.c).  The input is the whole file; the checker reads it
 * through the same callback interface as it reads an open module.  A
 * finding is a crash, undefined behaviour, or an accepted image whose
 * headers or PT_LOAD bytes lie past the end of the input.
 */
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../host/linux_elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_buffer in = { data, size };
	char err[512];
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	unsigned i;

	if (elf_image_check(elf_buffer_read, &in, size, err, sizeof(err)) != 0)
		return 0;
	/* accepted: then every program header and segment is in the input */
	memcpy(&eh, data, sizeof(eh));
	for (i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, data + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NULL && (ph.p_offset > size || ph.p_filesz > size - ph.p_offset))
			__builtin_trap();
	}
	return 0;
}
