/*
 * Linux backend: the ELF files mapped in the target.
 *
 * binary_open opens the file as the target sees it (/proc/PID/root/<path>,
 * or /proc/PID/map_files/<start>-<end> for a deleted or unreachable file)
 * and hands it to the shared ELF reader (backends/common/elfbin.c), which
 * copies the symbols and sections; the file is closed again.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../common/elfbin.h"
#include "lnx.h"

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
			   const char *path)
{
	size_t plen = strlen(path), dlen = strlen(ELFBIN_DELETED), i;
	int fd, tries = 0, rc = -ENOENT;
	char buf[96];

	if (path[0] == '/' && !(plen > dlen && strcmp(path + plen - dlen, ELFBIN_DELETED) == 0) &&
	    lnx_mapped_as(ml, path)) {
		fd = lnx_open_target(proc->mem_pid, path, LNX_OPEN_IN_ROOT);
		if (fd >= 0)
			return fd;
		rc = fd;
	}
	for (i = 0; i < ml->n && tries < 8; i++) {
		const struct pyspy_map *m = &ml->maps[i];

		if (!elfbin_names(m, path))
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

int lnx_binary_open(struct pyspy_proc *proc, const char *path, struct pyspy_binary **out,
		    char *err, size_t errlen)
{
	struct lnx_maplist ml;
	size_t i;
	int fd, rc;

	if (!path || !*path || strlen(path) > 4096) {
		snprintf(err, errlen, "bad binary path");
		return -EINVAL;
	}
	rc = lnx_maps_read(proc, &ml, err, errlen);
	if (rc)
		return rc;
	for (i = 0; i < ml.n && !elfbin_names(&ml.maps[i], path); i++)
		;
	if (i == ml.n) {
		snprintf(err, errlen, "%s is not mapped in process %d", path, (int)proc->pid);
		rc = -ENOENT;
		goto out_maps;
	}
	fd = lnx_open_mapped(proc, &ml, path);
	if (fd < 0) {
		rc = fd;
		snprintf(err, errlen, "cannot open %s of process %d: %s", path, (int)proc->pid,
			 lnx_open_strerror(rc));
		goto out_maps;
	}
	rc = elfbin_load(proc->host, fd, path, ml.maps, ml.n, out, err, errlen);
	close(fd);
out_maps:
	lnx_maps_free(proc->host, &ml);
	return rc;
}
