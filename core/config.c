/*
 * plugins.ini: locate, check, read (see config.h).
 *
 * iniparser reads the values; it keeps no line numbers, so a second small
 * pass over the file maps "section:key" to the line it is on, and every
 * error can name file:line.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iniparser/iniparser.h>

#include "config.h"
#include "host.h"
#include "util.h"

#define CONFIG_FILE "plugins.ini"
#define CONFIG_MAX_LINE 4096

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

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
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

/* --- the line map ------------------------------------------------------------- */

struct line_entry {
	char *key;      /* "section" or "section:key", lowercase */
	int line;
};

struct line_map {
	struct line_entry *v;
	size_t n;
};

static void line_map_free(struct line_map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->v[i].key);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

static int line_of(const struct line_map *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (strcmp(m->v[i].key, key) == 0)
			return m->v[i].line;
	}
	return 0;
}

static void line_map_add(struct line_map *m, char *key, int line)
{
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
	m->v[m->n].key = key;
	m->v[m->n].line = line;
	m->n++;
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

static char *lower_dup(const char *s, size_t n)
{
	char *d = xstrndup(s, n);
	char *p;

	for (p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/*
 * Map every section and key to its line, as iniparser reads them: comments
 * start with ';' or '#', a trailing '\' continues a line.  Also catches what
 * iniparser accepts silently: keys before any section, a key given twice.
 * Syntax errors are left to iniparser.
 */
static int line_map_read(FILE *f, const char *path, struct line_map *m, char *err, size_t errlen)
{
	char buf[CONFIG_MAX_LINE], *s, *eq, *key;
	char section[CONFIG_MAX_LINE] = "";
	int lineno = 0, continued = 0, first;
	size_t len;

	while (fgets(buf, sizeof(buf), f)) {
		lineno++;
		len = strlen(buf);
		if (len && buf[len - 1] != '\n' && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
				 CONFIG_MAX_LINE - 2);
			return -EINVAL;
		}
		s = trim(buf);
		len = strlen(s);
		if (continued) {
			continued = len && s[len - 1] == '\\';
			continue;
		}
		if (len == 0 || s[0] == ';' || s[0] == '#')
			continue;
		continued = s[len - 1] == '\\';
		if (s[0] == '[' && s[len - 1] == ']') {
			s[len - 1] = '\0';
			s = trim(s + 1);
			key = lower_dup(s, strlen(s));
			snprintf(section, sizeof(section), "%s", key);
			if (line_of(m, key))
				free(key);  /* a section may be continued further down */
			else
				line_map_add(m, key, lineno);
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			continue;
		*eq = '\0';
		s = trim(s);
		if (!section[0]) {
			snprintf(err, errlen, "%s:%d: %s: key outside any section (put it under [backend], [layouts], [outputs] or a module's section)",
				 path, lineno, s);
			return -EINVAL;
		}
		key = xasprintf("%s:%s", section, s);
		for (eq = key; *eq; eq++)
			*eq = (char)tolower((unsigned char)*eq);
		first = line_of(m, key);
		if (first) {
			snprintf(err, errlen, "%s:%d: [%s] %s: given twice (first at line %d)", path,
				 lineno, section, key + strlen(section) + 1, first);
			free(key);
			return -EINVAL;
		}
		line_map_add(m, key, lineno);
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

/* --- iniparser ------------------------------------------------------------- */

/* iniparser reports through a global callback; the first message is kept. */
static char ini_message[512];

static int ini_errback(const char *fmt, ...)
{
	va_list ap;

	if (ini_message[0])
		return 0;
	va_start(ap, fmt);
	vsnprintf(ini_message, sizeof(ini_message), fmt, ap);
	va_end(ap);
	return 0;
}

/*
 * iniparser's messages look like "iniparser: syntax error in FILE (LINE):\n
 * -> TEXT\n".  Rewritten as "FILE:LINE: syntax error: TEXT".
 */
static void ini_message_format(const char *path, char *err, size_t errlen)
{
	char *msg = ini_message, *what, *in, *text, *nl;
	int line = 0;

	if (strncmp(msg, "iniparser: ", 11) == 0)
		msg += 11;
	text = strstr(msg, "-> ");
	if (text) {
		text[-1] = '\0';
		text += 3;
		nl = strchr(text, '\n');
		if (nl)
			*nl = '\0';
	}
	in = strstr(msg, " in ");
	what = msg;
	if (in) {
		char *paren = strrchr(in, '(');

		*in = '\0';
		if (paren)
			line = atoi(paren + 1);
	}
	nl = strchr(what, '\n');
	if (nl)
		*nl = '\0';
	if (line > 0)
		snprintf(err, errlen, "%s:%d: %s%s%s", path, line, what, text ? ": " : "",
			 text ? text : "");
	else
		snprintf(err, errlen, "%s: %s", path, what);
}

static dictionary *ini_load(const char *path, char *err, size_t errlen)
{
	dictionary *d;

	ini_message[0] = '\0';
	iniparser_set_error_callback(ini_errback);
	d = iniparser_load(path);
	iniparser_set_error_callback(NULL);
	if (!d) {
		if (ini_message[0])
			ini_message_format(path, err, errlen);
		else
			snprintf(err, errlen, "%s: cannot be parsed", path);
	}
	return d;
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
	return 0;
}

struct build {
	struct config *cfg;
	struct line_map map;
	char *err;
	size_t errlen;
};

static char *origin_of(const struct build *b, const char *seckey)
{
	int line = line_of(&b->map, seckey);

	return line ? xasprintf("%s:%d", b->cfg->path, line) : xstrdup(b->cfg->path);
}

static struct config_module *module_find(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nmodules; i++) {
		if (strcmp(cfg->modules[i].name, name) == 0)
			return &cfg->modules[i];
	}
	return NULL;
}

static struct config_module *module_add(struct config *cfg, enum pyspy_kind kind,
					const char *name, char *path, char *origin, char *where)
{
	struct config_module *m;

	cfg->modules = xrealloc(cfg->modules, (cfg->nmodules + 1) * sizeof(*cfg->modules));
	m = &cfg->modules[cfg->nmodules++];
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->name = xstrdup(name);
	m->path = path;
	m->origin = origin;
	m->where = where;
	return m;
}

/* One "name = path" entry of [backend], [layouts] or [outputs]. */
static int add_entry(struct build *b, enum pyspy_kind kind, const char *section,
		     const char *seckey, const char *value)
{
	const char *name = seckey + strlen(section) + 1;
	char *origin = origin_of(b, seckey);
	struct config_module *dup;
	struct config_module *m;

	if (kind == PYSPY_KIND_BACKEND && !known_platform(name)) {
		snprintf(b->err, b->errlen, "%s: [backend] %s: unknown platform (known: linux, macos, windows, freebsd)",
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
	dup = module_find(b->cfg, name);
	if (dup) {
		snprintf(b->err, b->errlen, "%s: [%s] %s: name already used by %s at %s", origin,
			 section, name, dup->where, dup->origin);
		goto out_free_origin;
	}
	m = module_add(b->cfg, kind, name, path_join(b->cfg->dir, value), origin,
		       xasprintf("[%s] %s", section, name));
	m->other_platform = kind == PYSPY_KIND_BACKEND && strcmp(name, host_platform()) != 0;
	return 0;

out_free_origin:
	free(origin);
	return -EINVAL;
}

/* [layouts] scan = dir[,dir...]: remember the folders; read in scan_all. */
static int add_scans(struct build *b, const char *seckey, const char *value)
{
	struct config *cfg = b->cfg;
	char *copy = xstrdup(value), *tok, *save = NULL;
	int n = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		if (!tok[0])
			continue;
		cfg->scans = xrealloc(cfg->scans, (cfg->nscans + 1) * sizeof(*cfg->scans));
		cfg->scans[cfg->nscans].dir = path_join(cfg->dir, tok);
		cfg->scans[cfg->nscans].origin = origin_of(b, seckey);
		cfg->scans[cfg->nscans].error = NULL;
		cfg->nscans++;
		n++;
	}
	free(copy);
	if (n == 0) {
		char *origin = origin_of(b, seckey);

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

struct scan_file {
	char *stem;     /* file name without ".so": the module's name */
	char *file;
};

/* Version order: cpython-3.9 before cpython-3.10, and before 3.9-debug. */
static int cmp_scan_file(const void *a, const void *b)
{
	return strverscmp(((const struct scan_file *)a)->stem, ((const struct scan_file *)b)->stem);
}

static int module_path_known(const struct config *cfg, const char *path)
{
	size_t i;

	for (i = 0; i < cfg->nmodules; i++) {
		if (strcmp(cfg->modules[i].path, path) == 0)
			return 1;
	}
	return 0;
}

/*
 * Every *.so of one scan folder becomes a layout module named after the
 * file's stem, in version order.  Files also named explicitly are skipped.
 * A folder that cannot be read is noted, not fatal (py-spy plugins shows it).
 */
static void scan_one(struct config *cfg, struct config_scan *scan)
{
	struct scan_file *files = NULL;
	struct dirent *de;
	size_t n = 0, i;
	char *path;
	DIR *d;

	d = opendir(scan->dir);
	if (!d) {
		scan->error = xasprintf("cannot read the folder: %s", strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!has_suffix(de->d_name, ".so") || n >= 4096)
			continue;
		files = xrealloc(files, (n + 1) * sizeof(*files));
		files[n].file = xstrdup(de->d_name);
		files[n].stem = lower_dup(de->d_name, strlen(de->d_name) - 3);
		n++;
	}
	closedir(d);
	if (n)
		qsort(files, n, sizeof(*files), cmp_scan_file);
	for (i = 0; i < n; i++) {
		path = path_join(scan->dir, files[i].file);
		if (module_path_known(cfg, path))
			free(path);
		else
			module_add(cfg, PYSPY_KIND_LAYOUT, files[i].stem, path,
				   xstrdup(scan->origin), xstrdup("[layouts] scan"));
		free(files[i].file);
		free(files[i].stem);
	}
	free(files);
}

/* Every other section must be the options of a module named above. */
static int check_option_section(struct build *b, const char *section)
{
	char *origin;

	if (module_find(b->cfg, section))
		return 0;
	origin = origin_of(b, section);
	snprintf(b->err, b->errlen, "%s: [%s]: unknown section: not [backend], [layouts], [outputs] or the name of a module they list",
		 origin, section);
	free(origin);
	return -EINVAL;
}

static int build_modules(struct build *b)
{
	dictionary *d = b->cfg->ini;
	int nsec = iniparser_getnsec(d), i, j, nkeys, rc;
	const char **keys;
	const char *sec, *val;

	for (i = 0; i < nsec; i++) {
		enum pyspy_kind kind;

		sec = iniparser_getsecname(d, i);
		if (strcmp(sec, "backend") == 0)
			kind = PYSPY_KIND_BACKEND;
		else if (strcmp(sec, "layouts") == 0)
			kind = PYSPY_KIND_LAYOUT;
		else if (strcmp(sec, "outputs") == 0)
			kind = PYSPY_KIND_OUTPUT;
		else
			continue;
		nkeys = iniparser_getsecnkeys(d, sec);
		if (nkeys <= 0)
			continue;
		keys = xcalloc((size_t)nkeys, sizeof(*keys));
		iniparser_getseckeys(d, sec, keys);
		rc = 0;
		for (j = 0; j < nkeys && rc == 0; j++) {
			val = iniparser_getstring(d, keys[j], "");
			if (kind == PYSPY_KIND_LAYOUT && strcmp(keys[j], "layouts:scan") == 0)
				rc = add_scans(b, keys[j], val);
			else
				rc = add_entry(b, kind, sec, keys[j], val);
		}
		free(keys);
		if (rc)
			return rc;
	}
	for (i = 0; (size_t)i < b->cfg->nscans; i++)
		scan_one(b->cfg, &b->cfg->scans[i]);
	for (i = 0; i < nsec; i++) {
		sec = iniparser_getsecname(d, i);
		if (strcmp(sec, "backend") == 0 || strcmp(sec, "layouts") == 0 ||
		    strcmp(sec, "outputs") == 0)
			continue;
		rc = check_option_section(b, sec);
		if (rc)
			return rc;
	}
	return 0;
}

/* --- loading ------------------------------------------------------------------ */

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct host_file_info fi;
	struct build b;
	struct config *cfg;
	FILE *f;
	int rc;

	*out = NULL;
	rc = host_file_info(path, &fi);
	if (rc) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		return rc;
	}
	if (fi.is_dir) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(EISDIR));
		return -EISDIR;
	}
	if (!fi.is_regular) {
		snprintf(err, errlen, "%s: cannot read: not a regular file", path);
		return -EINVAL;
	}
	rc = config_check_owner(path, host_is_root(), &fi, err, errlen);
	if (rc)
		return rc;

	cfg = xcalloc(1, sizeof(*cfg));
	cfg->path = path_absolute(path);
	cfg->dir = path_dirname(cfg->path);
	memset(&b, 0, sizeof(b));
	b.cfg = cfg;
	b.err = err;
	b.errlen = errlen;

	/* Opened first for the errno reason, which iniparser does not give. */
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto out_free_cfg;
	}
	cfg->ini = ini_load(cfg->path, err, errlen);
	if (!cfg->ini) {
		rc = -EINVAL;
		fclose(f);
		goto out_free_cfg;
	}
	rc = line_map_read(f, cfg->path, &b.map, err, errlen);
	fclose(f);
	if (rc)
		goto out_free_map;
	rc = build_modules(&b);
	if (rc)
		goto out_free_map;
	line_map_free(&b.map);
	*out = cfg;
	return 0;

out_free_map:
	line_map_free(&b.map);
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
	if (cfg->ini)
		iniparser_freedict(cfg->ini);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}

const char *config_option(const struct config *cfg, const char *module, const char *key)
{
	char *seckey, *p;
	const char *val;

	if (!cfg || !cfg->ini || !module || !key)
		return NULL;
	seckey = xasprintf("%s:%s", module, key);
	for (p = seckey; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	val = iniparser_getstring(cfg->ini, seckey, NULL);
	free(seckey);
	return val;
}
