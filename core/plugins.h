/*
 * The registry of modules named by plugins.ini: finding and reading the
 * file, loading and checking modules on demand, listing them.
 *
 * Errors are one line in (err, errlen) naming the file (file:line for
 * plugins.ini, the module path for modules) and the reason; the caller
 * prints it and exits non-zero.
 */
#ifndef PYSPY_CORE_PLUGINS_H
#define PYSPY_CORE_PLUGINS_H

#include <stddef.h>
#include <stdio.h>

#include <pyspy/backend.h>
#include <pyspy/layout.h>
#include <pyspy/module.h>
#include <pyspy/output.h>

struct plugins;

/* One module named in plugins.ini (or found by a layout folder scan). */
struct plugin {
	enum pyspy_kind kind;
	const char *name;      /* name in plugins.ini (or the file's stem for scans) */
	const char *path;      /* absolute path of the .so */
	const char *origin;    /* "plugins.ini:12" where it was named */
	int loaded;            /* 1: module is loaded and checked */
	const struct pyspy_module *module; /* valid when loaded */
	const struct pyspy_host *host;     /* the host table bound to its options */
	const char *error;     /* why it did not load, or NULL */
};

/* Find plugins.ini (explicit path first, NULL to search), read and check it.
 * Modules are not loaded yet. */
int plugins_open(const char *explicit_path, struct plugins **out, char *err, size_t errlen);
void plugins_close(struct plugins *pl);
const char *plugins_config_path(const struct plugins *pl);

/* The backend for this platform, loaded and checked. */
int plugins_backend(struct plugins *pl, const struct plugin **out, char *err, size_t errlen);
/* The backend that reads core files ([backend] core), loaded and checked. */
int plugins_core_backend(struct plugins *pl, const struct plugin **out, char *err, size_t errlen);

/* Every layout module, loaded and checked.  Modules that fail to load are
 * skipped here (plugins_list shows why).  The array is owned by pl. */
int plugins_layouts(struct plugins *pl, const struct plugin *const **out, size_t *n);

/* The output module whose name, format or alias is `name`, loaded and
 * checked; -ENOENT if no such output exists. */
int plugins_output(struct plugins *pl, const char *name, const struct plugin **out,
		   char *err, size_t errlen);
/* The names of the output modules plugins.ini lists, without loading them:
 * up to max into names; returns how many there are. */
size_t plugins_output_names(const struct plugins *pl, const char **names, size_t max);

/* Whether `name` names an output module (without loading it). */
int plugins_is_output(const struct plugins *pl, const char *name);

/* `py-spy plugins`: every module with kind, name, what it covers, path and
 * whether it loads.  Returns 0 if every module loads. */
int plugins_list(struct plugins *pl, FILE *out);

/* Typed access to a loaded module's ops. */
static inline const struct pyspy_backend_ops *plugin_backend_ops(const struct plugin *p)
{
	return (const struct pyspy_backend_ops *)p->module->ops;
}
static inline const struct pyspy_layout *plugin_layout(const struct plugin *p)
{
	return (const struct pyspy_layout *)p->module->ops;
}
static inline const struct pyspy_output_ops *plugin_output_ops(const struct plugin *p)
{
	return (const struct pyspy_output_ops *)p->module->ops;
}

#endif /* PYSPY_CORE_PLUGINS_H */
