/*
 * Whether an ELF file is a shared object this host can map without
 * faulting (host_module_image_check, see core/host.h).  Separate from
 * host/linux.c and reading through a callback, so that the fuzz target
 * (fuzz/fuzz_elf_image.c) can drive it from a buffer.
 */
#ifndef PYSPY_HOST_LINUX_ELF_H
#define PYSPY_HOST_LINUX_ELF_H

#include <stddef.h>
#include <stdint.h>

/* Read exactly len bytes at off: 0 or a negative errno. */
typedef int (*elf_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);

/* An elf_read_fn over bytes in memory (ctx: a struct elf_buffer). */
struct elf_buffer {
	const void *p;
	size_t n;
};
int elf_buffer_read(void *ctx, uint64_t off, void *buf, size_t len);

/*
 * Checks, against the file's `size`: the ELF header (magic, this host's
 * class, byte order and machine, a shared object), that the program header
 * table and the section header table lie within the file, and that every
 * segment's file bytes (offset + file size) do too, so that mapping it can
 * never touch a page past the end of the file (SIGBUS).  0, or -ENOEXEC
 * with err saying what is wrong (the file is not named); -EIO if it cannot
 * be read.
 */
int elf_image_check(elf_read_fn read, void *ctx, uint64_t size, char *err, size_t errlen);

#endif /* PYSPY_HOST_LINUX_ELF_H */
