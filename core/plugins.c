/*
 * The registry of modules (see plugins.h): plugins.ini read by core/config.c,
 * modules loaded by core/loader.c only when first needed, each bound to its
 * own host table whose option() reads the module's own section.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "host.h"
#include "loader.h"
#include "log.h"
#include "plugins.h"
#include "remote.h"
#include "util.h"

struct plugin_entry {
	struct plugin pub;                 /* first: handed out to callers */
	const struct plugins *owner;
	const struct config_module *cm;
	void *handle;
	struct pyspy_host host;
	char *error;                       /* "FILE:LINE: [outputs] x: /p.so: reason" */
	const char *reason;                /* the "reason" part of error */
	int tried;
};

struct plugins {
	struct config *cfg;
	struct plugin_entry *entries;      /* one per config module; never moved */
	size_t n;
	const struct plugin **layouts;
	size_t nlayouts;
};

/* --- the host table of a module ------------------------------------------ */

static void *host_alloc(size_t n)
{
	return calloc(1, n);
}

static void host_log(const struct pyspy_host *host, int level, const char *fmt, ...)
{
	const struct plugin_entry *e = host->ctx;
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_debug("%s: %s", e->pub.name, buf);
}

static const char *host_option(const struct pyspy_host *host, const char *key)
{
	const struct plugin_entry *e = host->ctx;
	const char *v = config_option(e->owner->cfg, e->pub.name, key);

	/* The module's own name, when plugins.ini calls it otherwise. */
	if (!v && e->pub.module && strcmp(e->pub.module->name, e->pub.name) != 0)
		v = config_option(e->owner->cfg, e->pub.module->name, key);
	return v;
}

static void host_bind(struct plugin_entry *e)
{
	memset(&e->host, 0, sizeof(e->host));
	e->host.size = sizeof(e->host);
	e->host.abi_version = PYSPY_ABI_VERSION;
	e->host.alloc = host_alloc;
	e->host.realloc = realloc;
	e->host.free = free;
	e->host.log = host_log;
	e->host.option = host_option;
	e->host.ctx = e;
}

/* --- open / close ----------------------------------------------------------- */

int plugins_open(const char *explicit_path, struct plugins **out, char *err, size_t errlen)
{
	struct plugins *pl;
	char *path;
	size_t i;
	int rc;

	*out = NULL;
	rc = config_locate(explicit_path, &path, err, errlen);
	if (rc)
		return rc;
	pl = xcalloc(1, sizeof(*pl));
	rc = config_load(path, &pl->cfg, err, errlen);
	free(path);
	if (rc) {
		free(pl);
		return rc;
	}
	log_info("modules listed by %s", pl->cfg->path);

	pl->n = pl->cfg->nmodules;
	pl->entries = xcalloc(pl->n ? pl->n : 1, sizeof(*pl->entries));
	for (i = 0; i < pl->n; i++) {
		struct plugin_entry *e = &pl->entries[i];
		const struct config_module *cm = &pl->cfg->modules[i];

		e->owner = pl;
		e->cm = cm;
		e->pub.kind = cm->kind;
		e->pub.name = cm->name;
		e->pub.path = cm->path;
		e->pub.origin = cm->origin;
	}
	*out = pl;
	return 0;
}

void plugins_close(struct plugins *pl)
{
	size_t i;

	if (!pl)
		return;
	for (i = pl->n; i-- > 0;) {
		if (pl->entries[i].handle)
			loader_close(pl->entries[i].handle);
		free(pl->entries[i].error);
	}
	free(pl->entries);
	free(pl->layouts);
	config_free(pl->cfg);
	free(pl);
}

const char *plugins_config_path(const struct plugins *pl)
{
	return pl->cfg->path;
}

/* --- loading one module ------------------------------------------------------ */

static void entry_fail(struct plugin_entry *e, const char *loader_msg)
{
	size_t plen = strlen(e->cm->path);

	free(e->error);
	e->error = xasprintf("%s: %s: %s", e->cm->origin, e->cm->where, loader_msg);
	e->reason = strstr(e->error, loader_msg);
	/* The loader's message starts with the path; the list shows it apart. */
	if (strncmp(e->reason, e->cm->path, plen) == 0 && strncmp(e->reason + plen, ": ", 2) == 0)
		e->reason += plen + 2;
	e->pub.error = e->error;
}

/* A loaded module of the same name, other than e. */
static const struct plugin_entry *loaded_named(const struct plugins *pl, const struct plugin_entry *e,
					       const char *name)
{
	size_t i;

	for (i = 0; i < pl->n; i++) {
		const struct plugin_entry *o = &pl->entries[i];

		if (o != e && o->pub.loaded && strcmp(o->pub.module->name, name) == 0)
			return o;
	}
	return NULL;
}

/*
 * Load and check e once; a failure is remembered and returned again (never
 * as -ENOENT).  Works through a const registry: all that changes lives in
 * the entries.
 */
static int entry_load(const struct plugins *pl, struct plugin_entry *e, char *err, size_t errlen)
{
	const struct pyspy_module *m;
	const struct plugin_entry *other;
	char msg[1024];
	void *h;
	int rc;

	if (e->pub.loaded)
		return 0;
	if (e->tried) {
		snprintf(err, errlen, "%s", e->error);
		return -ENOEXEC;
	}
	e->tried = 1;
	rc = loader_open(e->cm->path, e->cm->kind, &h, &m, msg, sizeof(msg));
	if (rc)
		goto out_fail;
	other = loaded_named(pl, e, m->name);
	if (other) {
		snprintf(msg, sizeof(msg), "%s: module name \"%s\" is already used by %s (%s); give one of them another name",
			 e->cm->path, m->name, other->cm->path, other->cm->where);
		rc = -EEXIST;
		goto out_close;
	}
	/* [backend] core: any platform's backend that reads core files */
	if (e->cm->kind == PYSPY_KIND_BACKEND && strcmp(e->cm->name, CONFIG_CORE_BACKEND) == 0 &&
	    !remote_ops_read_files(m->ops)) {
		snprintf(msg, sizeof(msg), "%s: backend for %.32s that reads no core files (no open_file op), listed as %s",
			 e->cm->path, ((const struct pyspy_backend_ops *)m->ops)->platform, e->cm->name);
		rc = -ENOEXEC;
		goto out_close;
	}
	if (e->cm->kind == PYSPY_KIND_BACKEND && strcmp(e->cm->name, CONFIG_CORE_BACKEND) != 0 &&
	    strcmp(((const struct pyspy_backend_ops *)m->ops)->platform, e->cm->name) != 0) {
		snprintf(msg, sizeof(msg), "%s: backend for %.32s, listed as %s",
			 e->cm->path, ((const struct pyspy_backend_ops *)m->ops)->platform, e->cm->name);
		rc = -ENOEXEC;
		goto out_close;
	}
	e->handle = h;
	e->pub.module = m;
	host_bind(e);
	e->pub.host = &e->host;
	e->pub.loaded = 1;
	log_debug("loaded %s module %s from %s", loader_kind_name(e->cm->kind), m->name, e->cm->path);
	return 0;

out_close:
	loader_close(h);
out_fail:
	entry_fail(e, msg);
	snprintf(err, errlen, "%s", e->error);
	/* -ENOENT means "no such module" to callers, not "its file is missing". */
	return rc == -ENOENT ? -ENOEXEC : rc;
}

/* --- lookups ------------------------------------------------------------------ */

/* The [backend] entry `key` (a platform, or "core"), loaded and checked. */
static int backend_named(struct plugins *pl, const char *key, const char *module,
			 const struct plugin **out, char *err, size_t errlen)
{
	size_t i;
	int rc;

	*out = NULL;
	for (i = 0; i < pl->n; i++) {
		struct plugin_entry *e = &pl->entries[i];

		if (e->cm->kind != PYSPY_KIND_BACKEND || strcmp(e->cm->name, key) != 0)
			continue;
		rc = entry_load(pl, e, err, errlen);
		if (rc)
			return rc;
		*out = &e->pub;
		return 0;
	}
	snprintf(err, errlen, "%s: [backend] has no entry for %s (add: %s = modules/backends/%s%s)",
		 pl->cfg->path, key, key, module, host_module_suffix());
	return -ENOENT;
}

int plugins_backend(struct plugins *pl, const struct plugin **out, char *err, size_t errlen)
{
	return backend_named(pl, host_platform(), host_platform(), out, err, errlen);
}

int plugins_core_backend(struct plugins *pl, const struct plugin **out, char *err, size_t errlen)
{
	return backend_named(pl, CONFIG_CORE_BACKEND, "elfcore", out, err, errlen);
}

int plugins_layouts(struct plugins *pl, const struct plugin *const **out, size_t *n)
{
	char err[1024];
	size_t i;

	free(pl->layouts);
	pl->layouts = xcalloc(pl->n ? pl->n : 1, sizeof(*pl->layouts));
	pl->nlayouts = 0;
	for (i = 0; i < pl->n; i++) {
		struct plugin_entry *e = &pl->entries[i];
		int tried = e->tried;

		if (e->cm->kind != PYSPY_KIND_LAYOUT)
			continue;
		if (entry_load(pl, e, err, sizeof(err)) == 0)
			pl->layouts[pl->nlayouts++] = &e->pub;
		else if (!tried)
			log_warn("skipping layout module: %s", err);
	}
	*out = pl->layouts;
	*n = pl->nlayouts;
	return 0;
}

/* Whether `name` is one of the comma-separated names in list. */
static int in_list(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list, *end;

	while (p && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		end = p;
		while (*end && *end != ',')
			end++;
		while (end > p && end[-1] == ' ')
			end--;
		if ((size_t)(end - p) == len && strncasecmp(p, name, len) == 0)
			return 1;
		p = strchr(end, ',');
	}
	return 0;
}

static int output_matches(const struct plugin_entry *e, const char *name)
{
	const struct pyspy_output_ops *ops;

	if (!e->pub.loaded)
		return 0;
	ops = e->pub.module->ops;
	return strcasecmp(e->pub.module->name, name) == 0 ||
	       (ops->format && strcasecmp(ops->format, name) == 0) ||
	       (ops->aliases && in_list(ops->aliases, name));
}

/*
 * The output module called `name`: by its plugins.ini name first (loading
 * only that one), else by module name, format or alias, which means loading
 * the others.  Modules that fail while looking for aliases are passed over.
 */
static struct plugin_entry *find_output(const struct plugins *pl, const char *name, int *named)
{
	char err[1024];
	size_t i;

	*named = 0;
	for (i = 0; i < pl->n; i++) {
		struct plugin_entry *e = &pl->entries[i];

		if (e->cm->kind == PYSPY_KIND_OUTPUT && strcasecmp(e->cm->name, name) == 0) {
			*named = 1;
			return e;
		}
	}
	for (i = 0; i < pl->n; i++) {
		struct plugin_entry *e = &pl->entries[i];

		if (e->cm->kind != PYSPY_KIND_OUTPUT)
			continue;
		if (entry_load(pl, e, err, sizeof(err)) == 0 && output_matches(e, name))
			return e;
	}
	return NULL;
}

int plugins_output(struct plugins *pl, const char *name, const struct plugin **out,
		   char *err, size_t errlen)
{
	struct plugin_entry *e;
	struct strbuf known;
	size_t i;
	int named, rc;

	*out = NULL;
	e = find_output(pl, name, &named);
	if (!e) {
		sb_init(&known);
		for (i = 0; i < pl->n; i++) {
			if (pl->entries[i].cm->kind == PYSPY_KIND_OUTPUT)
				sb_printf(&known, "%s%s", known.len ? ", " : "", pl->entries[i].cm->name);
		}
		snprintf(err, errlen, "no output format \"%s\" (known: %s; see py-spy plugins)", name,
			 known.len ? known.buf : "none");
		sb_free(&known);
		return -ENOENT;
	}
	if (named) {
		rc = entry_load(pl, e, err, errlen);
		if (rc)
			return rc;
	}
	*out = &e->pub;
	return 0;
}

size_t plugins_output_names(const struct plugins *pl, const char **names, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < pl->n; i++) {
		if (pl->entries[i].pub.kind != PYSPY_KIND_OUTPUT)
			continue;
		if (n < max)
			names[n] = pl->entries[i].pub.name;
		n++;
	}
	return n;
}

int plugins_is_output(const struct plugins *pl, const char *name)
{
	int named;

	return find_output(pl, name, &named) != NULL;
}

/* --- py-spy plugins ------------------------------------------------------------ */

static void version_str(char *buf, size_t len, uint32_t v)
{
	snprintf(buf, len, "%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff);
}

static void covers_layout(struct strbuf *sb, const struct pyspy_layout *l)
{
	char lo[32], hi[32];

	version_str(lo, sizeof(lo), l->version_min);
	version_str(hi, sizeof(hi), l->version_max);
	sb_printf(sb, "CPython %s-%s ", lo, hi);
	if (l->flavour == PYSPY_FLAVOUR_RELEASE)
		sb_puts(sb, "release");
	if (l->flavour & PYSPY_FLAVOUR_DEBUG)
		sb_puts(sb, "debug");
	if (l->flavour & PYSPY_FLAVOUR_TRACE_REFS)
		sb_puts(sb, (l->flavour & PYSPY_FLAVOUR_DEBUG) ? "+trace-refs" : "trace-refs");
	if (l->flavour & PYSPY_FLAVOUR_FREETHREADED)
		sb_puts(sb, (l->flavour & (PYSPY_FLAVOUR_DEBUG | PYSPY_FLAVOUR_TRACE_REFS)) ?
			    "+free-threaded" : "free-threaded");
	sb_printf(sb, " %s/%s", l->os ? l->os : "?", l->arch ? l->arch : "?");
	if (!l->tested_live)
		sb_puts(sb, ", not tested live");
}

static void covers_output(struct strbuf *sb, const struct pyspy_output_ops *ops)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} cmds[] = {
		{ PYSPY_CMD_DUMP, "dump" },
		{ PYSPY_CMD_RECORD, "record" },
		{ PYSPY_CMD_TOP, "top" },
	};
	size_t i, n = 0;

	const char *exts = ops->extension;
	uint32_t defaults = 0;

	if (PYSPY_HAS(ops->size, struct pyspy_output_ops, default_for)) {
		exts = ops->extensions ? ops->extensions : ops->extension;
		defaults = ops->default_for & ops->commands;
	}
	sb_printf(sb, "format %s", ops->format ? ops->format : "?");
	if (ops->aliases && ops->aliases[0])
		sb_printf(sb, " (aliases %s)", ops->aliases);
	if (exts && exts[0])
		sb_printf(sb, " (files %s)", exts);
	sb_puts(sb, " for ");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (ops->commands & cmds[i].bit)
			sb_printf(sb, "%s%s%s", n++ ? ", " : "", cmds[i].name,
				  (defaults & cmds[i].bit) ? " (default)" : "");
	}
}

static void covers(struct strbuf *sb, const struct plugin_entry *e)
{
	if (e->cm->other_platform) {
		sb_printf(sb, "platform %s", e->cm->name);
		return;
	}
	if (!e->pub.loaded) {
		sb_puts(sb, "-");
		return;
	}
	switch (e->cm->kind) {
	case PYSPY_KIND_BACKEND:
		sb_printf(sb, "platform %s", plugin_backend_ops(&e->pub)->platform);
		break;
	case PYSPY_KIND_LAYOUT:
		covers_layout(sb, plugin_layout(&e->pub));
		break;
	case PYSPY_KIND_OUTPUT:
		covers_output(sb, plugin_output_ops(&e->pub));
		break;
	}
}

struct list_row {
	const char *kind, *name, *path;
	char *covers;
	char *status;
};

int plugins_list(struct plugins *pl, FILE *out)
{
	struct list_row *rows;
	size_t nrows = 0, i, wkind = 4, wname = 4, wcovers = 6;
	struct strbuf sb;
	char err[1024];
	int failed = 0;

	rows = xcalloc(pl->n + pl->cfg->nscans + 1, sizeof(*rows));
	for (i = 0; i < pl->n; i++) {
		struct plugin_entry *e = &pl->entries[i];
		struct list_row *r = &rows[nrows++];

		if (e->cm->other_platform) {
			r->status = xstrdup("not for this platform");
		} else if (entry_load(pl, e, err, sizeof(err)) != 0) {
			r->status = xasprintf("FAILED: %s", e->reason);
			failed++;
		} else {
			r->status = xstrdup("ok");
		}
		sb_init(&sb);
		covers(&sb, e);
		r->covers = sb_take(&sb);
		r->kind = loader_kind_name(e->cm->kind);
		r->name = e->cm->name;
		r->path = e->cm->path;
	}
	for (i = 0; i < pl->cfg->nscans; i++) {
		const struct config_scan *s = &pl->cfg->scans[i];
		struct list_row *r;

		if (!s->error)
			continue;
		r = &rows[nrows++];
		r->kind = "layout";
		r->name = "(scan)";
		r->path = s->dir;
		r->covers = xstrdup("-");
		r->status = xasprintf("FAILED: %s (%s)", s->error, s->origin);
		failed++;
	}
	for (i = 0; i < nrows; i++) {
		if (strlen(rows[i].kind) > wkind)
			wkind = strlen(rows[i].kind);
		if (strlen(rows[i].name) > wname)
			wname = strlen(rows[i].name);
		if (strlen(rows[i].covers) > wcovers)
			wcovers = strlen(rows[i].covers);
	}

	fprintf(out, "plugins.ini: %s\n", pl->cfg->path);
	fprintf(out, "%-*s  %-*s  %-*s  %s  %s\n", (int)wkind, "KIND", (int)wname, "NAME",
		(int)wcovers, "COVERS", "PATH", "STATUS");
	for (i = 0; i < nrows; i++) {
		fprintf(out, "%-*s  %-*s  %-*s  %s  %s\n", (int)wkind, rows[i].kind, (int)wname,
			rows[i].name, (int)wcovers, rows[i].covers, rows[i].path, rows[i].status);
		free(rows[i].covers);
		free(rows[i].status);
	}
	free(rows);
	return failed ? -ENOEXEC : 0;
}
