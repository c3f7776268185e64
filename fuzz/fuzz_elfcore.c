/*
 * libFuzzer target: the core-file reader of the elfcore backend
 * (backends/elfcore/, with backends/common/elfbin.c).
 *
 * Each input is written to a memfd and opened as a core file, as
 * `py-spy dump --core FILE` would: ELF and program headers, notes
 * (NT_PRSTATUS, NT_PRPSINFO, NT_FILE, NT_SIGINFO, NT_AUXV), gzip inflation
 * when the input starts with the gzip magic.  When it opens, every op the
 * core would call is exercised: info, maps, threads, reads across every
 * map and at the addresses the notes name, binary_open of every mapped
 * file.  Files are looked up under an empty folder, so no file of this
 * machine is read.  Malformed notes, overlapping segments and huge counts
 * must end in an error, never a crash, a hang or unbounded memory.
 *
 * Built by `make fuzz-build` like the other targets; by hand:
 *
 *   clang -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *       fuzz/fuzz_elfcore.c backends/elfcore/[a-z]*.c backends/common/elfbin.c \
 *       -lelf -lz -o build/fuzz_elfcore
 *   build/fuzz_elfcore -max_len=1048576 -rss_limit_mb=2048 CORPUS_DIR
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pyspy/backend.h>
#include <pyspy/module.h>

#include "../backends/common/elfbin.h"
#include "../backends/elfcore/ecore.h"

static void *fz_alloc(size_t n)
{
	return calloc(1, n);
}

static void fz_log(const struct pyspy_host *host, int level, const char *fmt, ...)
{
}

static const char *fz_option(const struct pyspy_host *host, const char *key)
{
	return NULL;
}

static const struct pyspy_host fz_host = {
	.size = sizeof(struct pyspy_host),
	.abi_version = PYSPY_ABI_VERSION,
	.alloc = fz_alloc,
	.realloc = realloc,
	.free = free,
	.log = fz_log,
	.option = fz_option,
};

static char fz_root[64];

/* Read a little of every map (its first and last bytes), open its file. */
static void fz_read_maps(struct pyspy_proc *proc)
{
	struct pyspy_binary_info bi = { .size = sizeof(bi) };
	const struct pyspy_map *maps;
	struct pyspy_binary *bin;
	struct pyspy_iov iov[2];
	uint8_t a[64], b[64];
	uint64_t addr, size;
	char err[512];
	size_t n, elem, i;

	if (ec_maps(proc, &maps, &n, &elem, err, sizeof(err)) != 0)
		return;
	for (i = 0; i < n && i < 4096; i++) {
		iov[0].remote = maps[i].start;
		iov[0].local = a;
		iov[0].len = sizeof(a);
		iov[1].remote = maps[i].end > sizeof(b) ? maps[i].end - sizeof(b) : 0;
		iov[1].local = b;
		iov[1].len = sizeof(b);
		ec_read(proc, iov, 2, sizeof(iov[0]));
		if (maps[i].path[0] == '/' && ec_binary_open(proc, maps[i].path, &bin, err,
							     sizeof(err)) == 0) {
			elfbin_info(bin, &bi);
			elfbin_symbol(bin, "Py_GetVersion", &addr, &size);
			elfbin_close(bin);
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(fz_root, sizeof(fz_root), "/tmp/pyspy-fuzz-root-XXXXXX");
	if (!mkdtemp(fz_root))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pyspy_open_options opt = { .size = sizeof(opt), .root = fz_root };
	struct pyspy_proc_info info = { .size = sizeof(info) };
	const struct pyspy_os_thread *threads;
	struct pyspy_proc *proc;
	char path[64], err[512];
	size_t nthreads, elem;
	int fd;

	fd = memfd_create("core", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (ec_open_file(&fz_host, path, &opt, &proc, err, sizeof(err)) == 0) {
		ec_info(proc, &info, err, sizeof(err));
		ec_threads(proc, &threads, &nthreads, &elem, err, sizeof(err));
		fz_read_maps(proc);
		ec_detach(proc);
	} else if (!err[0] || strchr(err, '\n')) {
		abort(); /* a failure says why, in one line */
	}
	close(fd);
	return 0;
}
