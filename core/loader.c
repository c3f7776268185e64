/*
 * Loading and checking one module (see loader.h).
 *
 * Checks, in the order module.h promises: the file itself, then the
 * descriptor's ABI version, its size, its kind, its ops table (size and
 * required ops), and its name.  Uniqueness of names across modules is
 * checked by the registry (core/plugins.c), which knows the other modules.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pyspy/backend.h>
#include <pyspy/layout.h>
#include <pyspy/module.h>
#include <pyspy/output.h>

#include "config.h"
#include "host.h"
#include "loader.h"
#include "remote.h"
#include "util.h"

/* Bytes up to the end of `member`: the smallest table that has it. */
#define SIZE_THROUGH(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/* What the core needs of each table (a backend's: remote_check_ops). */
#define MIN_MODULE_SIZE SIZE_THROUGH(struct pyspy_module, ops)
#define MIN_OUTPUT_OPS SIZE_THROUGH(struct pyspy_output_ops, close)
#define MIN_LAYOUT_SIZE SIZE_THROUGH(struct pyspy_layout, tuple)

#define REBUILD_HINT "rebuild the module against this py-spy's include/pyspy"

const char *loader_kind_name(enum pyspy_kind kind)
{
	switch (kind) {
	case PYSPY_KIND_BACKEND:
		return "backend";
	case PYSPY_KIND_LAYOUT:
		return "layout";
	case PYSPY_KIND_OUTPUT:
		return "output";
	}
	return "unknown";
}

static const char *section_of(enum pyspy_kind kind)
{
	switch (kind) {
	case PYSPY_KIND_BACKEND:
		return "[backend]";
	case PYSPY_KIND_LAYOUT:
		return "[layouts]";
	case PYSPY_KIND_OUTPUT:
		return "[outputs]";
	}
	return "?";
}

int loader_check_file(const char *path, int is_root, const struct host_file_info *fi,
		      char *err, size_t errlen)
{
	if (!fi->exists) {
		snprintf(err, errlen, "%s: module file not found (build it with make, or fix the path in plugins.ini)",
			 path);
		return -ENOENT;
	}
	if (fi->is_dir) {
		snprintf(err, errlen, "%s: is a directory, not a module file", path);
		return -EISDIR;
	}
	if (!fi->is_regular) {
		snprintf(err, errlen, "%s: not a regular file, refusing to load it", path);
		return -EINVAL;
	}
	if (is_root && fi->uid != 0) {
		snprintf(err, errlen, "%s: is owned by uid %u; as root py-spy only loads modules that root owns: chown root %s",
			 path, (unsigned)fi->uid, path);
		return -EPERM;
	}
	if (is_root && (fi->group_writable || fi->other_writable)) {
		snprintf(err, errlen, "%s: is writable by %s; as root py-spy only loads modules that only their owner can write: chmod go-w %s",
			 path, fi->other_writable ? "others" : "its group", path);
		return -EPERM;
	}
	return 0;
}

static int check_output(const struct pyspy_output_ops *ops, char *err, size_t errlen)
{
	const char *missing = NULL;
	const uint32_t all = PYSPY_CMD_DUMP | PYSPY_CMD_RECORD | PYSPY_CMD_TOP;

	if (ops->size < MIN_OUTPUT_OPS) {
		snprintf(err, errlen, "output ops table is %u bytes, this py-spy needs at least %zu (" REBUILD_HINT ")",
			 ops->size, (size_t)MIN_OUTPUT_OPS);
		return -ENOEXEC;
	}
	if (!(ops->commands & all)) {
		snprintf(err, errlen, "output serves no subcommand (commands has none of dump, record, top)");
		return -ENOEXEC;
	}
	if (!ops->open)
		missing = "open";
	else if (!ops->finish)
		missing = "finish";
	else if (!ops->close)
		missing = "close";
	else if ((ops->commands & PYSPY_CMD_DUMP) && !ops->snapshot)
		missing = "snapshot (it serves dump)";
	else if ((ops->commands & (PYSPY_CMD_RECORD | PYSPY_CMD_TOP)) && !ops->sample)
		missing = (ops->commands & PYSPY_CMD_RECORD) ? "sample (it serves record)" :
							       "sample (it serves top)";
	else if ((ops->commands & PYSPY_CMD_TOP) && !ops->event)
		missing = "event (it serves top)";
	if (missing) {
		snprintf(err, errlen, "output lacks the required op %s", missing);
		return -ENOEXEC;
	}
	return 0;
}

static int check_layout(const struct pyspy_layout *l, char *err, size_t errlen)
{
	if (l->size < MIN_LAYOUT_SIZE) {
		snprintf(err, errlen, "layout table is %u bytes, this py-spy needs at least %zu (" REBUILD_HINT ")",
			 l->size, (size_t)MIN_LAYOUT_SIZE);
		return -ENOEXEC;
	}
	if (l->version_min == 0 || l->version_min > l->version_max ||
	    (l->version_min >> 24) != (l->version_max >> 24)) {
		snprintf(err, errlen, "layout covers no sane version range (version_min 0x%08x, version_max 0x%08x)",
			 l->version_min, l->version_max);
		return -ENOEXEC;
	}
	return 0;
}

int loader_check_module(const struct pyspy_module *m, enum pyspy_kind kind,
			char *err, size_t errlen)
{
	int rc = 0;

	if (m->abi_version != PYSPY_ABI_VERSION) {
		snprintf(err, errlen, "module ABI version %u, this py-spy uses ABI version %u (" REBUILD_HINT ")",
			 m->abi_version, PYSPY_ABI_VERSION);
		return -ENOEXEC;
	}
	if (m->struct_size < MIN_MODULE_SIZE) {
		snprintf(err, errlen, "module descriptor is %u bytes, this py-spy needs at least %zu (" REBUILD_HINT ")",
			 m->struct_size, (size_t)MIN_MODULE_SIZE);
		return -ENOEXEC;
	}
	if (m->kind != (uint32_t)kind) {
		if (m->kind >= PYSPY_KIND_BACKEND && m->kind <= PYSPY_KIND_OUTPUT)
			snprintf(err, errlen, "is %s %s module but is listed in %s (move it to %s)",
				 m->kind == PYSPY_KIND_OUTPUT ? "an" : "a", loader_kind_name(m->kind),
				 section_of(kind), section_of(m->kind));
		else
			snprintf(err, errlen, "unknown module kind %u, listed in %s", m->kind,
				 section_of(kind));
		return -ENOEXEC;
	}
	if (!m->ops) {
		snprintf(err, errlen, "module has no ops table (ops is NULL)");
		return -ENOEXEC;
	}
	switch (kind) {
	case PYSPY_KIND_BACKEND:
		rc = remote_check_ops(m->ops, err, errlen);
		break;
	case PYSPY_KIND_LAYOUT:
		rc = check_layout(m->ops, err, errlen);
		break;
	case PYSPY_KIND_OUTPUT:
		rc = check_output(m->ops, err, errlen);
		break;
	}
	if (rc)
		return rc;
	if (!m->name || !m->name[0]) {
		snprintf(err, errlen, "module has no name");
		return -ENOEXEC;
	}
	if (!config_valid_name(m->name)) {
		snprintf(err, errlen, "module name \"%.64s\" is not usable (a-z, 0-9, '.', '_', '-'; not backend, layouts or outputs)",
			 m->name);
		return -ENOEXEC;
	}
	return 0;
}

void loader_trust(struct host_trust *t)
{
	memset(t, 0, sizeof(*t));
	t->enforce = host_is_root();
	t->uid[0] = 0;
	t->nuid = 1;
}

int loader_open_file(const char *path, const struct host_trust *trust, int *fd,
		     char *err, size_t errlen)
{
	struct host_file_info fi;
	char why[512];
	int rc;

	*fd = -1;
	/* -ENOENT leaves fi zeroed: "module file not found" below. */
	rc = host_open_checked(path, trust, &fi, why, sizeof(why));
	if (rc < 0 && rc != -ENOENT) {
		snprintf(err, errlen, "%s: cannot open: %s", path, why);
		return rc;
	}
	*fd = rc < 0 ? -1 : rc;
	rc = loader_check_file(path, trust->enforce, &fi, err, errlen);
	if (!rc) {
		rc = host_module_image_check(*fd, fi.size, why, sizeof(why));
		if (rc)
			snprintf(err, errlen, "%s: %s", path, why);
	}
	if (rc) {
		host_fd_close(*fd);
		*fd = -1;
	}
	return rc;
}

/* A loaded module: the object and the open file it was loaded from. */
struct loader_handle {
	void *dl;
	int fd;
};

int loader_load_fd(int fd, const char *path, enum pyspy_kind kind, void **handle,
		   const struct pyspy_module **out, char *err, size_t errlen)
{
	const struct pyspy_module *m;
	struct loader_handle *lh;
	char why[512];
	void *h;
	int rc;

	*handle = NULL;
	*out = NULL;
	rc = host_dl_open_fd(fd, &h, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "%s: cannot load: %s (missing dependency? check with ldd %s)",
			 path, why, path);
		host_fd_close(fd);
		return rc;
	}
	m = host_dl_sym(h, PYSPY_MODULE_SYMBOL);
	if (!m) {
		snprintf(err, errlen, "%s: no symbol \"%s\": not a py-spy module (modules export it with PYSPY_EXPORT)",
			 path, PYSPY_MODULE_SYMBOL);
		rc = -ENOEXEC;
		goto out_close;
	}
	rc = loader_check_module(m, kind, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto out_close;
	}
	lh = xcalloc(1, sizeof(*lh));
	lh->dl = h;
	lh->fd = fd;
	*handle = lh;
	*out = m;
	return 0;

out_close:
	host_dl_close_fd(h, fd);
	return rc;
}

int loader_open(const char *path, enum pyspy_kind kind, void **handle,
		const struct pyspy_module **out, char *err, size_t errlen)
{
	struct host_trust trust;
	int fd, rc;

	*handle = NULL;
	*out = NULL;
	loader_trust(&trust);
	rc = loader_open_file(path, &trust, &fd, err, errlen);
	if (rc)
		return rc;
	return loader_load_fd(fd, path, kind, handle, out, err, errlen);
}

void loader_close(void *handle)
{
	struct loader_handle *lh = handle;

	if (!lh)
		return;
	host_dl_close_fd(lh->dl, lh->fd);
	free(lh);
}
