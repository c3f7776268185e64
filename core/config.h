/*
 * plugins.ini: finding it, checking who may have written it, reading it
 * (core/ini.c) and turning it into a list of modules with absolute paths and
 * the file:line each was named at.  Nothing is loaded here (core/loader.c).
 *
 * Sections:
 *   [backend]  platform = path        one backend per platform
 *              core = path            the backend that reads core files
 *   [layouts]  scan = dir[,dir...]    every *.so in those folders
 *              name = path            one layout module
 *   [outputs]  name = path            one output module
 *   [<name>]   key = value            options of the module called <name>
 * Relative paths are relative to the folder of the plugins.ini file.
 */
#ifndef PYSPY_CORE_CONFIG_H
#define PYSPY_CORE_CONFIG_H

#include <stddef.h>

#include <pyspy/module.h>

#include "host.h"

/* One module named in plugins.ini or found by a layout folder scan. */
struct config_module {
	enum pyspy_kind kind;
	char *name;     /* the key (lowercase), or the file's stem for scans */
	char *path;     /* absolute */
	char *origin;   /* "FILE:LINE" of the entry (of the scan entry for scans) */
	char *where;    /* "[outputs] flamegraph", for messages */
	int other_platform; /* a [backend] entry for a platform we are not on */
};

/* The [backend] key of the backend that reads core files (dump --core). */
#define CONFIG_CORE_BACKEND "core"


/* One folder of a [layouts] scan entry; error is set if it cannot be read. */
struct config_scan {
	char *dir;      /* absolute */
	char *origin;
	char *error;
};

struct ini;

struct config {
	char *path;     /* the plugins.ini used, absolute */
	char *dir;      /* its folder */
	struct ini *ini; /* the parsed file (values of option sections) */
	struct config_module *modules;
	size_t nmodules;
	struct config_scan *scans;
	size_t nscans;
	/* Hash slots looked at while reading and checking the file: the work it
	 * took, linear in the file's size (tests check it, never a clock). */
	unsigned long long work;
};

/*
 * Which plugins.ini to use: explicit_path (--config; must exist), else
 * $PYSPY_CONFIG (must exist when set), else the first that exists of
 * <user config dir>/plugins.ini, <system config dir>/plugins.ini,
 * <binary dir>/plugins.ini, <binary dir>/../lib/py-spy/plugins.ini.
 * *out is allocated.  When nothing is found err says where it looked.
 */
int config_locate(const char *explicit_path, char **out, char *err, size_t errlen);

/*
 * The safety rule for a plugins.ini: running as root, the file must be
 * owned by root and writable by nobody else.  Separate from config_load so
 * that the rule can be tested without being root or not.
 */
int config_check_owner(const char *path, int is_root, const struct host_file_info *fi,
		       char *err, size_t errlen);

/* Read and check path (see config_locate).  Errors name file:line and key.
 * The file is opened as a module is (host_open_checked: as root, every
 * folder on its path is checked) and read whole, at most INI_MAX_BYTES. */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
void config_free(struct config *cfg);

/* Option `key` of the module called `module` (its own section), or NULL. */
const char *config_option(const struct config *cfg, const char *module, const char *key);

/* Whether name may name a module: [a-z0-9._-]+ and not a reserved word. */
int config_valid_name(const char *name);

#endif /* PYSPY_CORE_CONFIG_H */
