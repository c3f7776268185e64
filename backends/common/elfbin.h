/*
 * ELF symbols and sections of a file mapped in a target: the code behind
 * the binary_* ops, shared by the backends that read ELF files (linux,
 * elfcore).  Each backend compiles backends/common/elfbin.c into its own
 * module; nothing here is exported (-fvisibility=hidden).
 *
 * A backend opens the file its own way (/proc/PID/root, a core's NT_FILE
 * path under a root) and hands elfbin_load the descriptor and the target's
 * mappings; elfbin_load copies what the binary_* ops answer and keeps no
 * descriptor.
 */
#ifndef PYSPY_BACKEND_COMMON_ELFBIN_H
#define PYSPY_BACKEND_COMMON_ELFBIN_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/backend.h>

#define ELFBIN_DELETED " (deleted)"
#define ELFBIN_MAX_BUILD_ID 64 /* bytes: a GNU build id is 20 (SHA-1) or 16 */

/*
 * Read the ELF file open on fd, which the target maps where the mappings
 * named `path` (or `path` + " (deleted)") say: load bias, symbols and
 * sections.  The maps need not be only those of the file.  Returns 0 and a
 * binary, or a negative errno with one line in err.
 */
int elfbin_load(const struct pyspy_host *host, int fd, const char *path,
		const struct pyspy_map *maps, size_t nmaps, struct pyspy_binary **out,
		char *err, size_t errlen);

/* A line to show the user about this binary (binary_info's notice), copied;
 * NULL clears it.  0 or -ENOMEM. */
int elfbin_set_notice(struct pyspy_binary *bin, const char *notice);

/* The GNU build id of the ELF file open on fd (from its PT_NOTE segments):
 * its length, 0 if it has none, or a negative errno (-ENOEXEC: not ELF). */
int elfbin_file_build_id(int fd, uint8_t *id, size_t cap);

/* The build id in a block of ELF notes (as a PT_NOTE segment holds them):
 * its length, or 0 if the block holds none.  Every length is checked. */
size_t elfbin_notes_build_id(const uint8_t *notes, size_t len, uint8_t *id, size_t cap);

/* Whether some mapping names exactly `path`, or `path` + " (deleted)". */
int elfbin_names(const struct pyspy_map *m, const char *path);

void elfbin_close(struct pyspy_binary *bin);
int elfbin_info(struct pyspy_binary *bin, struct pyspy_binary_info *out);
int elfbin_symbol(struct pyspy_binary *bin, const char *name, uint64_t *addr, uint64_t *size);
int elfbin_section(struct pyspy_binary *bin, const char *name, uint64_t *addr, uint64_t *size);

#endif /* PYSPY_BACKEND_COMMON_ELFBIN_H */
