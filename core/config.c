/*
 * plugins.ini: locate, check, read (see config.h).
 *
 * The file is opened through host_open_checked (as root: every folder on
 * its path checked), read whole (at most INI_MAX_BYTES) and parsed by
 * core/ini.c, which keeps each section's and key's line so that every error
 * names file:line.  Every lookup goes through a hash map: the cost is linear
 * in the size of the file.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "host.h"
#include "ini.h"
#include "strmap.h"
#include "util.h"

#define CONFIG_FILE "plugins.ini"
/* Layout modules one scan folder may add, and folders scanned. */
#define CONFIG_MAX_SCAN_FILES 4096
#define CONFIG_MAX_SCANS 64

static const char *const known_platforms[] = { "linux", "macos", "windows", "freebsd" };
static const char *const reserved_names[] = { "backend", "layouts", "outputs" };

/* --- paths ---------------------------------------------------------------- */

/* dir + "/" + rel, or rel itself when it is absolute.  "./" is dropped. */
static char *path_join(const char *dir, const char *rel)
{
	if (rel[0] == '/')
		return xstrdup(rel);
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	if (strcmp(dir, "/") == 0)
		return xasprintf("/%s", rel);
	return xasprintf("%s/%s", dir, rel);
}

static char *path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* Absolute form of path (the working folder prepended), symlinks kept. */
static char *path_absolute(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || host_cwd(cwd, sizeof(cwd)) != 0)
		return xstrdup(path);
	return path_join(cwd, path);
}

/* --- finding the file -------------------------------------------------------- */

static int file_exists(const char *path)
{
	struct host_file_info fi;

	return host_file_info(path, &fi) == 0 && fi.exists;
}

/* Tries one candidate: 1 (and *out set) if it exists.  `looked` collects
 * the places tried, for the message when none exists. */
static int try_candidate(const char *path, char **out, struct strbuf *looked)
{
	if (file_exists(path)) {
		*out = path_absolute(path);
		return 1;
	}
	sb_printf(looked, "%s%s", looked->len ? ", " : "", path);
	return 0;
}

int config_locate(const char *explicit_path, char **out, char *err, size_t errlen)
{
	const char *env = getenv("PYSPY_CONFIG");
	char dir[PATH_MAX], *cand, *parent;
	struct strbuf looked;
	int found = 0;

	*out = NULL;
	if (explicit_path) {
		if (!file_exists(explicit_path)) {
			snprintf(err, errlen, "%s: %s (given with --config)", explicit_path,
				 strerror(ENOENT));
			return -ENOENT;
		}
		*out = path_absolute(explicit_path);
		return 0;
	}
	if (env && env[0]) {
		if (!file_exists(env)) {
			snprintf(err, errlen, "%s: %s (named by $PYSPY_CONFIG)", env, strerror(ENOENT));
			return -ENOENT;
		}
		*out = path_absolute(env);
		return 0;
	}

	sb_init(&looked);
	if (host_user_config_dir(dir, sizeof(dir)) == 0 && dir[0]) {
		cand = path_join(dir, CONFIG_FILE);
		found = try_candidate(cand, out, &looked);
		free(cand);
	}
	if (!found && host_system_config_dir(dir, sizeof(dir)) == 0 && dir[0]) {
		cand = path_join(dir, CONFIG_FILE);
		found = try_candidate(cand, out, &looked);
		free(cand);
	}
	if (!found && host_self_dir(dir, sizeof(dir)) == 0) {
		cand = path_join(dir, CONFIG_FILE);
		found = try_candidate(cand, out, &looked);
		free(cand);
		if (!found) {
			/* installed: PREFIX/bin/py-spy, PREFIX/lib/py-spy/plugins.ini */
			parent = path_dirname(dir);
			cand = path_join(parent, "lib/py-spy/" CONFIG_FILE);
			found = try_candidate(cand, out, &looked);
			free(cand);
			free(parent);
		}
	}
	if (!found)
		snprintf(err, errlen, "no %s found (looked in %s); use --config PATH or set PYSPY_CONFIG",
			 CONFIG_FILE, looked.len ? looked.buf : "no place");
	sb_free(&looked);
	return found ? 0 : -ENOENT;
}

/* --- safety ------------------------------------------------------------------- */

int config_check_owner(const char *path, int is_root, const struct host_file_info *fi,
		       char *err, size_t errlen)
{
	static const char rule[] =
		"as root py-spy only reads a plugins.ini that root owns and only root can write";

	if (!is_root)
		return 0;
	if (fi->uid != 0) {
		snprintf(err, errlen, "%s is owned by uid %u; %s: chown root %s", path,
			 (unsigned)fi->uid, rule, path);
		return -EPERM;
	}
	if (fi->other_writable || fi->group_writable) {
		snprintf(err, errlen, "%s is writable by %s; %s: chmod go-w %s", path,
			 fi->other_writable ? "others" : "its group", rule, path);
		return -EPERM;
	}
	return 0;
}

/* --- building the module list ------------------------------------------- */

int config_valid_name(const char *name)
{
	const char *p;
	size_t i;

	if (!name || !name[0] || strlen(name) > 64)
		return 0;
	for (p = name; *p; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '.' && *p != '_' && *p != '-')
			return 0;
	}
	for (i = 0; i < sizeof(reserved_names) / sizeof(reserved_names[0]); i++) {
		if (strcmp(name, reserved_names[i]) == 0)
			return 0;
	}
	return 1;
}

static int known_platform(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(known_platforms) / sizeof(known_platforms[0]); i++) {
		if (strcmp(name, known_platforms[i]) == 0)
			return 1;
	}
	return strcmp(name, CONFIG_CORE_BACKEND) == 0;
}

/* The module list being built, with its names and paths mapped. */
struct build {
	struct config *cfg;
	size_t cap;
	struct strmap names;     /* module name -> index into cfg->modules */
	struct strmap paths;     /* module path -> index */
	char *err;
	size_t errlen;
};

static char *origin_of(const struct build *b, int line)
{
	return line ? xasprintf("%s:%d", b->cfg->path, line) : xstrdup(b->cfg->path);
}

static struct config_module *module_find(struct build *b, const char *name)
{
	size_t idx;

	if (!strmap_get(&b->names, name, strlen(name), &idx))
		return NULL;
	return &b->cfg->modules[idx];
}

static void module_add(struct build *b, enum pyspy_kind kind, const char *name, char *path,
		       char *origin, char *where)
{
	struct config *cfg = b->cfg;
	struct config_module *m;

	if (cfg->nmodules == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		cfg->modules = xrealloc(cfg->modules, b->cap * sizeof(*cfg->modules));
	}
	m = &cfg->modules[cfg->nmodules];
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->name = xstrdup(name);
	m->path = path;
	m->origin = origin;
	m->where = where;
	strmap_put(&b->names, m->name, strlen(m->name), cfg->nmodules);
	strmap_put(&b->paths, m->path, strlen(m->path), cfg->nmodules);
	cfg->nmodules++;
}

/* One "name = path" entry of [backend], [layouts] or [outputs]. */
static int add_entry(struct build *b, enum pyspy_kind kind, const char *section,
		     const struct ini_key *k)
{
	const char *name = k->key, *value = k->value;
	char *origin = origin_of(b, k->line);
	struct config_module *dup;
	struct config_module *m;

	if (kind == PYSPY_KIND_BACKEND && !known_platform(name)) {
		snprintf(b->err, b->errlen, "%s: [backend] %s: unknown platform (known: linux, macos, windows, freebsd; core for core files)",
			 origin, name);
		goto out_free_origin;
	}
	if (!config_valid_name(name)) {
		snprintf(b->err, b->errlen, "%s: [%s] %s: not a usable module name (a-z, 0-9, '.', '_', '-'; not backend, layouts or outputs)",
			 origin, section, name);
		goto out_free_origin;
	}
	if (!value[0]) {
		snprintf(b->err, b->errlen, "%s: [%s] %s: empty path", origin, section, name);
		goto out_free_origin;
	}
	dup = module_find(b, name);
	if (dup) {
		snprintf(b->err, b->errlen, "%s: [%s] %s: name already used by %s at %s", origin,
			 section, name, dup->where, dup->origin);
		goto out_free_origin;
	}
	module_add(b, kind, name, path_join(b->cfg->dir, value), origin,
		   xasprintf("[%s] %s", section, name));
	m = &b->cfg->modules[b->cfg->nmodules - 1];
	m->other_platform = kind == PYSPY_KIND_BACKEND && strcmp(name, host_platform()) != 0 &&
			    strcmp(name, CONFIG_CORE_BACKEND) != 0;
	return 0;

out_free_origin:
	free(origin);
	return -EINVAL;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* [layouts] scan = dir[,dir...]: remember the folders (at most
 * CONFIG_MAX_SCANS); read in scan_one. */
static int add_scans(struct build *b, const struct ini_key *k)
{
	struct config *cfg = b->cfg;
	char *copy = xstrdup(k->value), *tok, *next;
	int n = 0;

	for (tok = copy; tok; tok = next) {
		next = strchr(tok, ',');
		if (next)
			*next++ = '\0';
		tok = trim(tok);
		if (!tok[0])
			continue;
		if (cfg->nscans >= CONFIG_MAX_SCANS) {
			char *origin = origin_of(b, k->line);

			snprintf(b->err, b->errlen, "%s: [layouts] scan: more than %d folders",
				 origin, CONFIG_MAX_SCANS);
			free(origin);
			free(copy);
			return -EINVAL;
		}
		cfg->scans = xrealloc(cfg->scans, (cfg->nscans + 1) * sizeof(*cfg->scans));
		cfg->scans[cfg->nscans].dir = path_join(cfg->dir, tok);
		cfg->scans[cfg->nscans].origin = origin_of(b, k->line);
		cfg->scans[cfg->nscans].error = NULL;
		cfg->nscans++;
		n++;
	}
	free(copy);
	if (n == 0) {
		char *origin = origin_of(b, k->line);

		snprintf(b->err, b->errlen, "%s: [layouts] scan: empty path", origin);
		free(origin);
		return -EINVAL;
	}
	return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx && strcmp(s + ls - lx, suffix) == 0;
}

/*
 * Version order of names: runs of digits compare as numbers, so that
 * cpython-3.9 comes before cpython-3.10, and a name before its longer
 * forms (3.9 before 3.9-debug).
 */
static int version_order(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			const char *ea = a, *eb = b;
			int c;

			while (*a == '0')
				a++;
			while (*b == '0')
				b++;
			for (ea = a; isdigit((unsigned char)*ea); ea++)
				;
			for (eb = b; isdigit((unsigned char)*eb); eb++)
				;
			if (ea - a != eb - b)
				return ea - a < eb - b ? -1 : 1;
			c = strncmp(a, b, (size_t)(ea - a));
			if (c)
				return c;
			a = ea;
			b = eb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}

struct scan_file {
	char *stem;     /* file name without the module suffix: the module's name */
	char *file;
};

static int cmp_scan_file(const void *a, const void *b)
{
	return version_order(((const struct scan_file *)a)->stem, ((const struct scan_file *)b)->stem);
}

struct scan_list {
	struct scan_file *v;
	size_t n, cap;
	const char *suffix;
};

static int scan_collect(void *ctx, const char *name)
{
	struct scan_list *l = ctx;
	size_t stem;
	char *p;

	if (!has_suffix(name, l->suffix))
		return 0;
	if (l->n >= CONFIG_MAX_SCAN_FILES)
		return 1;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	stem = strlen(name) - strlen(l->suffix);
	l->v[l->n].file = xstrdup(name);
	l->v[l->n].stem = xstrndup(name, stem);
	for (p = l->v[l->n].stem; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	l->n++;
	return 0;
}

/*
 * Every module file (the host's module suffix: ".so" here) of one scan
 * folder becomes a layout module named after the file's stem, in version
 * order; at most CONFIG_MAX_SCAN_FILES of them.  Files also named
 * explicitly are skipped.  A folder that cannot be read is noted, not fatal
 * (py-spy plugins shows it).
 */
static void scan_one(struct build *b, struct config_scan *scan)
{
	struct scan_list l = { .suffix = host_module_suffix() };
	size_t i, idx;
	char *path;
	int rc;

	rc = host_dir_each(scan->dir, scan_collect, &l);
	if (rc < 0) {
		scan->error = xasprintf("cannot read the folder: %s", strerror(-rc));
		return;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_scan_file);
	for (i = 0; i < l.n; i++) {
		path = path_join(scan->dir, l.v[i].file);
		if (strmap_get(&b->paths, path, strlen(path), &idx))
			free(path);
		else
			module_add(b, PYSPY_KIND_LAYOUT, l.v[i].stem, path, xstrdup(scan->origin),
				   xstrdup("[layouts] scan"));
		free(l.v[i].file);
		free(l.v[i].stem);
	}
	free(l.v);
}

/* Every other section must be the options of a module named above. */
static int check_option_section(struct build *b, const struct ini_section *sec)
{
	char *origin;

	if (module_find(b, sec->name))
		return 0;
	origin = origin_of(b, sec->line);
	snprintf(b->err, b->errlen, "%s: [%.64s]: unknown section: not [backend], [layouts], [outputs] or the name of a module they list",
		 origin, sec->name);
	free(origin);
	return -EINVAL;
}

static int module_section(const char *name, enum pyspy_kind *kind)
{
	if (strcmp(name, "backend") == 0)
		*kind = PYSPY_KIND_BACKEND;
	else if (strcmp(name, "layouts") == 0)
		*kind = PYSPY_KIND_LAYOUT;
	else if (strcmp(name, "outputs") == 0)
		*kind = PYSPY_KIND_OUTPUT;
	else
		return 0;
	return 1;
}

/* The entries of [backend], [layouts] and [outputs] in file order, then the
 * scan folders, then every other section is checked to name a module. */
static int build_modules(struct build *b)
{
	struct ini *ini = b->cfg->ini;
	enum pyspy_kind kind;
	size_t i;
	int rc;

	for (i = 0; i < ini->nkeys; i++) {
		const struct ini_key *k = &ini->keys[i];
		const char *sec = ini->sections[k->section].name;

		if (!module_section(sec, &kind))
			continue;
		if (kind == PYSPY_KIND_LAYOUT && strcmp(k->key, "scan") == 0)
			rc = add_scans(b, k);
		else
			rc = add_entry(b, kind, sec, k);
		if (rc)
			return rc;
	}
	for (i = 0; i < b->cfg->nscans; i++)
		scan_one(b, &b->cfg->scans[i]);
	for (i = 0; i < ini->nsections; i++) {
		if (module_section(ini->sections[i].name, &kind))
			continue;
		rc = check_option_section(b, &ini->sections[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* --- loading ------------------------------------------------------------------ */

/* The trust rule for plugins.ini: as for modules (loader_trust). */
static void config_trust(struct host_trust *t)
{
	memset(t, 0, sizeof(*t));
	t->enforce = host_is_root();
	t->uid[0] = 0;
	t->nuid = 1;
}

/* Open and read the whole file: *text (NUL-terminated) and *len. */
static int read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	struct host_file_info fi;
	struct host_trust trust;
	char why[512];
	long n;
	int fd, rc;

	config_trust(&trust);
	fd = host_open_checked(path, &trust, &fi, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, fd == -ENOENT ? strerror(ENOENT) : why);
		return fd;
	}
	rc = 0;
	if (fi.is_dir) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(EISDIR));
		rc = -EISDIR;
	} else if (!fi.is_regular) {
		snprintf(err, errlen, "%s: cannot read: not a regular file", path);
		rc = -EINVAL;
	} else {
		rc = config_check_owner(path, trust.enforce, &fi, err, errlen);
	}
	if (!rc && fi.size > INI_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %u bytes (a plugins.ini is a few lines)", path,
			 INI_MAX_BYTES);
		rc = -EFBIG;
	}
	if (rc)
		goto out_close;
	/* One byte more than allowed: a file that grew is caught by ini_parse. */
	*text = xcalloc(1, (size_t)fi.size + 2);
	n = host_fd_read_all(fd, *text, (size_t)fi.size + 1);
	if (n < 0) {
		rc = (int)n;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		free(*text);
		*text = NULL;
		goto out_close;
	}
	*len = (size_t)n;
out_close:
	host_fd_close(fd);
	return rc;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct build b;
	struct config *cfg;
	char *text = NULL;
	size_t len = 0;
	uint64_t seed;
	int rc;

	*out = NULL;
	rc = read_file(path, &text, &len, err, errlen);
	if (rc)
		return rc;

	cfg = xcalloc(1, sizeof(*cfg));
	cfg->path = path_absolute(path);
	cfg->dir = path_dirname(cfg->path);
	cfg->ini = xcalloc(1, sizeof(*cfg->ini));
	/* A seed nobody can guess: keys chosen to collide cost no more. */
	seed = host_now_ns() ^ (uint64_t)(host_random() * 18446744073709551615.0);
	rc = ini_parse(cfg->ini, text, len, cfg->path, seed, err, errlen);
	free(text);
	if (rc)
		goto out_free_cfg;

	memset(&b, 0, sizeof(b));
	b.cfg = cfg;
	b.err = err;
	b.errlen = errlen;
	strmap_init(&b.names, seed + 1);
	strmap_init(&b.paths, seed + 2);
	rc = build_modules(&b);
	cfg->work = ini_probes(cfg->ini) + b.names.probes + b.paths.probes;
	strmap_free(&b.names);
	strmap_free(&b.paths);
	if (rc)
		goto out_free_cfg;
	*out = cfg;
	return 0;

out_free_cfg:
	config_free(cfg);
	return rc;
}

void config_free(struct config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nmodules; i++) {
		free(cfg->modules[i].name);
		free(cfg->modules[i].path);
		free(cfg->modules[i].origin);
		free(cfg->modules[i].where);
	}
	free(cfg->modules);
	for (i = 0; i < cfg->nscans; i++) {
		free(cfg->scans[i].dir);
		free(cfg->scans[i].origin);
		free(cfg->scans[i].error);
	}
	free(cfg->scans);
	if (cfg->ini) {
		ini_free(cfg->ini);
		free(cfg->ini);
	}
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}

const char *config_option(const struct config *cfg, const char *module, const char *key)
{
	const struct ini_key *k;

	if (!cfg || !cfg->ini || !module || !key)
		return NULL;
	k = ini_key(cfg->ini, module, key);
	return k ? k->value : NULL;
}
