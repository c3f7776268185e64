/*
 * Core-file backend: the files the process mapped, on this machine's disk.
 *
 * A core names its files (NT_FILE) but holds few of their pages, so the
 * binaries are read from disk: their symbols and sections (binary_open),
 * and the pages the core left out (memory.c).  A file is looked up under
 * the root folder (--core-root, "/" by default) with openat2's
 * RESOLVE_IN_ROOT, so that neither ".." nor a symlink leads outside it
 * (without openat2, symlinks are not followed at all); only regular files
 * are opened, non-blocking.  Before a file stands in for the process's
 * memory, its GNU build id is compared with the one in the ELF header page
 * the core holds: a different build is refused; where the core holds no
 * build id (gcore often omits that page), the file is used and the match
 * is reported as unverified.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/elfbin.h"
#include "ecore.h"

#define EC_NOTES_MAX 4096 /* bytes of a mapped file's notes read from the core */

/* --- looking a file up under the root ---------------------------------------- */

int ec_root_open(const char *root, int *fd, char *err, size_t errlen)
{
	struct stat st;
	int rc;

	*fd = open(root && *root ? root : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "--core-root %s: %s", root, strerror(errno));
		return rc;
	}
	if (fstat(*fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--core-root %s: not a folder", root);
		close(*fd);
		*fd = -1;
		return -ENOTDIR;
	}
	return 0;
}

/* Without openat2: walk the path a component at a time, following no
 * symlink and refusing "..".  An O_PATH descriptor, or a negative errno. */
static int ec_walk(int root_fd, const char *path)
{
	char comp[256];
	int dir = root_fd, fd = -1;
	const char *p = path, *end;
	struct stat st;
	size_t len;

	for (;;) {
		while (*p == '/')
			p++;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0 || len >= sizeof(comp) || (len == 2 && memcmp(p, "..", 2) == 0)) {
			fd = -EACCES;
			break;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		fd = openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			fd = -errno;
			break;
		}
		if (dir != root_fd)
			close(dir);
		dir = root_fd;
		if (fstat(fd, &st) != 0 || S_ISLNK(st.st_mode)) {
			close(fd);
			fd = -ELOOP;
			break;
		}
		if (!end)
			return fd;
		dir = fd;
		p = end;
	}
	if (dir != root_fd)
		close(dir);
	return fd;
}

/* An O_PATH descriptor of path, resolved inside root_fd. */
static int ec_lookup(int root_fd, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
	if (fd >= 0)
		return (int)fd;
	if (errno != ENOSYS)
		return -errno;
	return ec_walk(root_fd, path);
}

/* Open a regular file under the root, read-only and non-blocking.  A
 * descriptor, or a negative errno (-EINVAL: not a regular file). */
static int ec_open_under_root(int root_fd, const char *path)
{
	struct stat st, st2;
	char self[64];
	int pfd, fd;

	pfd = ec_lookup(root_fd, path);
	if (pfd < 0)
		return pfd;
	if (fstat(pfd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(pfd);
		return -EINVAL;
	}
	/* reopen the very file we checked, for reading */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	close(pfd);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st2) != 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* --- matching a file with the core -------------------------------------------- */

static void ec_hex(char *buf, size_t len, const uint8_t *id, size_t n)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < n && 2 * i + 3 <= len; i++)
		snprintf(buf + 2 * i, 3, "%02x", id[i]);
}

/* The build id the core holds for file f: from the ELF header page of its
 * mapping at file offset 0, if the core holds that page.  Its length, or 0. */
static size_t ec_core_build_id(struct pyspy_proc *proc, const struct ec_file *f, uint8_t *id,
			       size_t cap)
{
	uint8_t ehdr[64], phdr[56], notes[EC_NOTES_MAX];
	uint64_t phoff, off, size, span = f->head_end - f->head;
	uint16_t phnum, phentsize;
	uint32_t type;
	size_t k, got;

	if (!f->head_end || ec_read_core(proc, f->head, ehdr, sizeof(ehdr)) ||
	    memcmp(ehdr, "\177ELF", 4) != 0 || ehdr[4] != 2 /* 64-bit */)
		return 0;
	memcpy(&phoff, ehdr + 32, 8);
	memcpy(&phentsize, ehdr + 54, 2);
	memcpy(&phnum, ehdr + 56, 2);
	if (phentsize != sizeof(phdr) || phoff >= span)
		return 0;
	for (k = 0; k < phnum && k < 256; k++) {
		if (ec_read_core(proc, f->head + phoff + k * sizeof(phdr), phdr, sizeof(phdr)))
			break;
		memcpy(&type, phdr, 4);
		memcpy(&off, phdr + 8, 8);
		memcpy(&size, phdr + 32, 8); /* p_filesz */
		if (type != 4 /* PT_NOTE */ || size == 0 || off >= span)
			continue;
		if (size > sizeof(notes))
			size = sizeof(notes);
		if (size > span - off)
			size = span - off;
		if (ec_read_core(proc, f->head + off, notes, (size_t)size))
			continue;
		got = elfbin_notes_build_id(notes, (size_t)size, id, cap);
		if (got)
			return got;
	}
	return 0;
}

static void ec_refuse(struct pyspy_proc *proc, struct ec_file *f, const char *line)
{
	f->state = EC_FILE_REFUSED;
	f->why = ec_strdup(proc->host, line);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* Open file f and decide whether it may stand in for the core. */
static void ec_file_check(struct pyspy_proc *proc, struct ec_file *f)
{
	uint8_t core_id[ELFBIN_MAX_BUILD_ID], disk_id[ELFBIN_MAX_BUILD_ID];
	char hex_core[2 * ELFBIN_MAX_BUILD_ID + 1], hex_disk[2 * ELFBIN_MAX_BUILD_ID + 1];
	size_t ncore;
	int ndisk, fd;
	char line[1024];

	fd = ec_open_under_root(proc->root_fd, f->path);
	if (fd == -EINVAL) {
		snprintf(line, sizeof(line), "%s (mapped by the core's process) is not a regular file "
			 "here: not read", f->path);
		ec_refuse(proc, f, line);
		return;
	}
	if (fd < 0) {
		snprintf(line, sizeof(line), "cannot open %s (mapped by the core's process): %s; copy it "
			 "from the machine the core comes from and give --core-root DIR", f->path,
			 strerror(-fd));
		ec_refuse(proc, f, line);
		return;
	}
	f->fd = fd;
	ncore = ec_core_build_id(proc, f, core_id, sizeof(core_id));
	ndisk = elfbin_file_build_id(fd, disk_id, sizeof(disk_id));
	if (ncore == 0) {
		snprintf(line, sizeof(line), "%s: the core holds no build id for it, so its match with "
			 "the file on disk is unverified", f->path);
		f->state = EC_FILE_UNVERIFIED;
		f->why = ec_strdup(proc->host, line);
		return;
	}
	ec_hex(hex_core, sizeof(hex_core), core_id, ncore);
	if (ndisk <= 0) {
		snprintf(line, sizeof(line), "%s on disk has no build id, the core's has %s: not the "
			 "file the process mapped, not used", f->path, hex_core);
		ec_refuse(proc, f, line);
		return;
	}
	ec_hex(hex_disk, sizeof(hex_disk), disk_id, (size_t)ndisk);
	if ((size_t)ndisk != ncore || memcmp(core_id, disk_id, ncore) != 0) {
		snprintf(line, sizeof(line), "%s on disk (build id %s) is not the file the core's "
			 "process mapped (build id %s): not used; give --core-root DIR with the right "
			 "files", f->path, hex_disk, hex_core);
		ec_refuse(proc, f, line);
		return;
	}
	f->state = EC_FILE_MATCHES;
}

int ec_file_fd(struct pyspy_proc *proc, uint32_t file)
{
	struct ec_file *f;

	if (file >= proc->nfiles)
		return -1;
	f = &proc->files[file];
	if (f->state == EC_FILE_UNTRIED)
		ec_file_check(proc, f);
	return f->state == EC_FILE_REFUSED ? -1 : f->fd;
}

void ec_files_close(struct pyspy_proc *proc)
{
	size_t i;

	for (i = 0; i < proc->nfiles; i++) {
		if (proc->files[i].fd >= 0)
			close(proc->files[i].fd);
		ec_free(proc->host, proc->files[i].why);
	}
}

/* --- binary_open ------------------------------------------------------------------ */

int ec_binary_open(struct pyspy_proc *proc, const char *path, struct pyspy_binary **out,
		   char *err, size_t errlen)
{
	const struct pyspy_map *maps;
	struct ec_file *f = NULL;
	size_t nmaps, map_size, i;
	int fd, rc;

	for (i = 0; i < proc->nfiles && !f; i++) {
		if (strcmp(proc->files[i].path, path) == 0)
			f = &proc->files[i];
	}
	if (!f) {
		snprintf(err, errlen, "%s is not mapped in the core's process", path);
		return -ENOENT;
	}
	fd = ec_file_fd(proc, (uint32_t)(f - proc->files));
	if (fd < 0) {
		snprintf(err, errlen, "%s", f->why ? f->why : "cannot open it");
		return -ENOENT;
	}
	rc = ec_maps(proc, &maps, &nmaps, &map_size, err, errlen);
	if (rc)
		return rc;
	rc = elfbin_load(proc->host, fd, path, maps, nmaps, out, err, errlen);
	if (rc)
		return rc;
	if (f->state == EC_FILE_UNVERIFIED && elfbin_set_notice(*out, f->why)) {
		elfbin_close(*out);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}
