/*
 * Interpreter discovery (see discover.h).
 *
 * 1. Pick the binary: every file mapped into the process is a candidate,
 *    libpython-like names first, then the executable, then python-like
 *    names, then the rest (an embedder may ship libpython under any name).
 *    The first one that defines Py_GetVersion (or another runtime symbol)
 *    holds the runtime.
 * 2. Version: Py_Version, then the version string in memory (.bss/.data),
 *    then the file name.
 * 3. Layout: the module whose range holds the version and whose flavour
 *    fits; for 3.13+ the target's own _Py_DebugOffsets (debugoffsets.c).
 * 4. Interpreter: *(_PyRuntime + interpreters_head), or *interp_head, or a
 *    scan of the runtime's data sections for a pointer that validates.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debugoffsets.h"
#include "discover.h"
#include "host.h"
#include "layoutcopy.h"
#include "log.h"
#include "util.h"

#define MAX_CANDIDATES 256
#define MAX_SCAN_BYTES (32u << 20)

/* ---- versions ---------------------------------------------------------- */

void version_format(uint32_t hex, char *buf, size_t len)
{
	unsigned major = hex >> 24, minor = (hex >> 16) & 255, micro = (hex >> 8) & 255;
	unsigned level = (hex >> 4) & 15, serial = hex & 15;
	const char *lv = level == 0xA ? "a" : level == 0xB ? "b" : level == 0xC ? "rc" : "";

	if (*lv)
		snprintf(buf, len, "%u.%u.%u%s%u", major, minor, micro, lv, serial);
	else
		snprintf(buf, len, "%u.%u.%u", major, minor, micro);
}

static int parse_uint(const char *s, size_t len, size_t *i, unsigned max_digits, unsigned *out)
{
	unsigned v = 0, n = 0;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9' && n < max_digits) {
		v = v * 10 + (unsigned)(s[*i] - '0');
		(*i)++;
		n++;
	}
	if (n == 0 || (*i < len && s[*i] >= '0' && s[*i] <= '9'))
		return -1;
	*out = v;
	return 0;
}

uint32_t version_scan(const char *s, size_t len)
{
	size_t start;

	for (start = 0; start + 6 < len; start++) {
		unsigned major, minor, micro, level = 0xF, serial = 0;
		size_t i = start;

		if ((s[i] != '2' && s[i] != '3') || (start > 0 && s[start - 1] >= '0' && s[start - 1] <= '9'))
			continue;
		if (parse_uint(s, len, &i, 1, &major) || i >= len || s[i++] != '.')
			continue;
		if (parse_uint(s, len, &i, 2, &minor) || i >= len || s[i++] != '.')
			continue;
		if (parse_uint(s, len, &i, 2, &micro))
			continue;
		if (i < len && (s[i] == 'a' || s[i] == 'b' || s[i] == 'c' || s[i] == 'r')) {
			level = s[i] == 'a' ? 0xA : s[i] == 'b' ? 0xB : 0xC;
			i += (s[i] == 'r' && i + 1 < len && s[i + 1] == 'c') ? 2 : 1;
			if (parse_uint(s, len, &i, 2, &serial))
				continue;
		}
		if (i < len && s[i] == '+')
			i++;
		/* "3.12.1 (main, ...)", or "3.13.0 experimental free-threading build (" */
		if (i + 1 < len && s[i] == ' ' && (s[i + 1] == '(' || s[i + 1] == 'e' || s[i + 1] == 'f' ||
						    s[i + 1] == '\n'))
			return (major << 24) | (minor << 16) | (micro << 8) | (level << 4) | (serial & 15);
		if (i < len && s[i] == '\n')
			return (major << 24) | (minor << 16) | (micro << 8) | (level << 4) | (serial & 15);
	}
	return 0;
}

uint32_t version_from_filename(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *p;

	base = base ? base + 1 : path;
	p = strstr(base, "python");
	if (!p)
		return 0;
	p += 6;
	if ((p[0] == '2' || p[0] == '3') && p[1] == '.' && p[2] >= '0' && p[2] <= '9') {
		unsigned major = (unsigned)(p[0] - '0'), minor = (unsigned)(p[2] - '0');

		if (p[3] >= '0' && p[3] <= '9')
			minor = minor * 10 + (unsigned)(p[3] - '0');
		return (major << 24) | (minor << 16) | (0xFFu << 8);
	}
	return 0;
}

/* ---- choosing the binary ----------------------------------------------- */

static const char *basename_of(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

static int rank_path(const char *path, const char *exe)
{
	const char *b = basename_of(path);

	if (strncmp(b, "libpython", 9) == 0)
		return 0;
	if (exe && strcmp(path, exe) == 0)
		return 1;
	if (strncmp(b, "python", 6) == 0)
		return 2;
	return 3;
}

static int has_symbol(struct remote *r, struct pyspy_binary *bin, const char *name, uint64_t *addr)
{
	uint64_t a = 0, size = 0;

	if (remote_binary_symbol(r, bin, name, &a, &size) != 0)
		return 0;
	if (addr)
		*addr = a;
	return 1;
}

static int looks_like_python(struct remote *r, struct pyspy_binary *bin)
{
	return has_symbol(r, bin, "Py_GetVersion", NULL) || has_symbol(r, bin, "_PyRuntime", NULL) ||
	       has_symbol(r, bin, "interp_head", NULL) || has_symbol(r, bin, "Py_Version", NULL);
}

struct candidates {
	char *path[MAX_CANDIDATES];
	int rank[MAX_CANDIDATES];
	size_t n;
};

static void collect_candidates(struct remote *r, const char *exe, struct candidates *c)
{
	const struct pyspy_map *maps;
	char err[256];
	size_t n, i, j;

	c->n = 0;
	if (remote_maps(r, &maps, &n, err, sizeof(err)) < 0)
		return;
	for (i = 0; i < n && c->n < MAX_CANDIDATES; i++) {
		const char *p = maps[i].path;
		int dup = 0;

		if (!p || p[0] != '/')
			continue;
		for (j = 0; j < c->n; j++)
			dup |= strcmp(c->path[j], p) == 0;
		if (dup)
			continue;
		c->path[c->n] = xstrdup(p);
		c->rank[c->n] = rank_path(p, exe);
		c->n++;
	}
	/* Stable sort by rank (insertion sort; n is small). */
	for (i = 1; i < c->n; i++) {
		for (j = i; j > 0 && c->rank[j - 1] > c->rank[j]; j--) {
			char *tp = c->path[j];
			int tr = c->rank[j];

			c->path[j] = c->path[j - 1];
			c->rank[j] = c->rank[j - 1];
			c->path[j - 1] = tp;
			c->rank[j - 1] = tr;
		}
	}
}

static void free_candidates(struct candidates *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->path[i]);
	c->n = 0;
}

static int find_runtime_binary(struct remote *r, const char *exe, struct python_target *t,
			       char *err, size_t errlen)
{
	struct candidates c;
	struct strbuf tried;
	char first_fail[512];
	int likely_opened = 0;
	size_t i;
	int rc = -ENOENT;

	collect_candidates(r, exe, &c);
	sb_init(&tried);
	first_fail[0] = '\0';
	for (i = 0; i < c.n; i++) {
		struct pyspy_binary *bin;
		char berr[512];

		if (remote_binary_open(r, c.path[i], &bin, berr, sizeof(berr)) != 0) {
			/* a likely runtime that cannot be read: why, if nothing else is found */
			if (!first_fail[0] && c.rank[i] < 3)
				snprintf(first_fail, sizeof(first_fail), "%s", berr);
			continue;
		}
		if (c.rank[i] < 3)
			likely_opened = 1;
		if (looks_like_python(r, bin)) {
			t->bin = bin;
			t->bin_path = xstrdup(c.path[i]);
			rc = 0;
			break;
		}
		remote_binary_close(r, bin);
		if (i < 6)
			sb_printf(&tried, "%s%s", tried.len ? ", " : "", basename_of(c.path[i]));
	}
	if (rc && first_fail[0] && !likely_opened) {
		/* none of the likely runtimes could be read (a core's binary
		 * missing or not the one that ran): that is the error */
		snprintf(err, errlen, "%s", first_fail);
		rc = -ENOEXEC;
	} else if (rc) {
		snprintf(err, errlen, "no Python runtime found in its memory: none of the %zu mapped files "
			 "(%s%s) defines Py_GetVersion or _PyRuntime", c.n, tried.len ? tried.buf : "none",
			 c.n > 6 ? ", ..." : "");
	}
	sb_free(&tried);
	free_candidates(&c);
	return rc;
}

/* ---- version and flavour ----------------------------------------------- */

/* Scan a section of the runtime binary for the version string. */
static uint32_t scan_section_for_version(struct remote *r, struct pyspy_binary *bin, const char *name)
{
	uint64_t addr, size;
	uint32_t v = 0;
	char *buf;

	if (remote_binary_section(r, bin, name, &addr, &size) != 0 || size == 0)
		return 0;
	if (size > MAX_SCAN_BYTES)
		size = MAX_SCAN_BYTES;
	buf = xcalloc(1, (size_t)size);
	if (remote_read(r, addr, buf, (size_t)size) == 0)
		v = version_scan(buf, (size_t)size);
	free(buf);
	return v;
}

static void find_version(struct remote *r, struct python_target *t)
{
	const char *const *sec;
	uint64_t addr;
	uint32_t v = 0;

	if (has_symbol(r, t->bin, "Py_Version", &addr) && remote_read_u32(r, addr, &v) == 0 &&
	    (v >> 24) == 3) {
		t->version = v;
		t->version_source = "Py_Version";
		return;
	}
	for (sec = host_data_sections(); *sec && !v; sec++)
		v = scan_section_for_version(r, t->bin, *sec);
	if (v) {
		t->version = v;
		t->version_source = "version string in memory";
		return;
	}
	t->version = version_from_filename(t->bin_path);
	t->version_source = "file name";
}

static uint32_t find_flavour(struct remote *r, struct python_target *t)
{
	uint32_t f = 0;
	const char *b = basename_of(t->bin_path), *sfx;

	if (has_symbol(r, t->bin, "_Py_NegativeRefcount", NULL))
		f |= PYSPY_FLAVOUR_DEBUG;
	if (has_symbol(r, t->bin, "_Py_PrintReferences", NULL))
		f |= PYSPY_FLAVOUR_TRACE_REFS;
	/* libpython3.13t.so(.1.0) / python3.13t */
	sfx = strstr(b, host_module_suffix());
	if ((sfx && sfx > b && sfx[-1] == 't') || (strncmp(b, "python", 6) == 0 && b[strlen(b) - 1] == 't'))
		f |= PYSPY_FLAVOUR_FREETHREADED;
	return f;
}

/* ---- layout ------------------------------------------------------------ */

static int version_in(const struct pyspy_layout *l, uint32_t v)
{
	uint32_t vv = v & 0xFFFFFF00u;

	return (l->version_min & 0xFFFFFF00u) <= vv && vv <= (l->version_max & 0xFFFFFF00u);
}

static int same_minor(uint32_t a, uint32_t b)
{
	return (a >> 16) == (b >> 16);
}

/* Flavour fit: free-threading and trace-refs must match; a debug module is
 * preferred for a debug build, a release one accepted otherwise. */
static int flavour_score(uint32_t module, uint32_t target)
{
	uint32_t hard = PYSPY_FLAVOUR_FREETHREADED | PYSPY_FLAVOUR_TRACE_REFS;

	/* A target that describes itself (_Py_DebugOffsets, see discover_python)
	 * has its trace-refs bit cleared: its own table gives the object offsets. */
	if ((module & hard) != (target & hard))
		return -1;
	return (module & PYSPY_FLAVOUR_DEBUG) == (target & PYSPY_FLAVOUR_DEBUG) ? 2 : 1;
}

/* What a layout module must match besides the version: the platform the
 * backend serves, and the target binary's machine and pointer size (each
 * unchecked when the binary does not say). */
struct fit {
	const char *os;
	const char *arch;
	uint32_t pointer_size;
};

static int layout_fits(const struct pyspy_layout *l, const struct fit *fit)
{
	if (fit->os && (!l->os || strcmp(l->os, fit->os) != 0))
		return 0;
	if (fit->arch && fit->arch[0] && (!l->arch || strcmp(l->arch, fit->arch) != 0))
		return 0;
	return !fit->pointer_size || l->pointer_size == fit->pointer_size;
}

static const struct plugin *choose_layout(const struct plugin *const *list, size_t n, uint32_t version,
					  uint32_t flavour, int patch_known, const struct fit *fit)
{
	const struct plugin *best = NULL;
	int best_score = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct pyspy_layout *l = plugin_layout(list[i]);
		int s = flavour_score(l->flavour, flavour);

		if (s < 0 || !layout_fits(l, fit))
			continue;
		if (patch_known ? !version_in(l, version) : !same_minor(l->version_min, version))
			continue;
		/* Without a patch level prefer the range ending highest. */
		if (!patch_known && best && s == best_score &&
		    plugin_layout(best)->version_max > l->version_max)
			continue;
		if (s >= best_score) {
			best = list[i];
			best_score = s;
		}
	}
	return best;
}

/* The field list of the runtime's self-description in a module, or NULL
 * (none, or a module older than the member). */
static const char *debug_fields_of(const struct pyspy_layout *l)
{
	if (!PYSPY_HAS(l->size, struct pyspy_layout, debug_fields))
		return NULL;
	return l->debug_fields;
}

/* The newest module older than `version` of the same major version that
 * can read a runtime's self-description (it has a field list). */
static const struct plugin *nearest_lower(const struct plugin *const *list, size_t n, uint32_t version,
					  uint32_t flavour, const struct fit *fit)
{
	const struct plugin *best = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct pyspy_layout *l = plugin_layout(list[i]);

		if (flavour_score(l->flavour, flavour) < 0 || (l->version_min >> 24) != (version >> 24) ||
		    !layout_fits(l, fit) || !debug_fields_of(l))
			continue;
		if ((l->version_max & 0xFFFFFF00u) >= (version & 0xFFFFFF00u))
			continue;
		if (!best || plugin_layout(best)->version_max < l->version_max)
			best = list[i];
	}
	return best;
}

static void describe_layouts(const struct plugin *const *list, size_t n, char *buf, size_t len)
{
	struct strbuf sb;
	size_t i;

	sb_init(&sb);
	for (i = 0; i < n; i++)
		sb_printf(&sb, "%s%s", i ? ", " : "", list[i]->name);
	snprintf(buf, len, "%s", sb.len ? sb.buf : "none");
	sb_free(&sb);
}

/* ---- the interpreter --------------------------------------------------- */

int discover_valid_interp(struct remote *r, const struct pyspy_layout *l, uint64_t interp,
			  uint64_t dict_type)
{
	uint64_t tstate, back, modules, type;

	if ((interp & 7) || !remote_mapped(r, interp, 16))
		return 0;
	if (remote_read_ptr(r, interp + (uint64_t)l->interp.tstate_head, &tstate) != 0)
		return 0;
	/* A self-referencing list head is not an interpreter. */
	if (tstate == interp || (tstate & 7) || !remote_mapped(r, tstate, 16))
		return 0;
	if (remote_read_ptr(r, tstate + (uint64_t)l->tstate.interp, &back) != 0 || back != interp)
		return 0;
	/* Its sys.modules is a dict (pystack's check). */
	if (dict_type && l->interp.modules >= 0) {
		if (remote_read_ptr(r, interp + (uint64_t)l->interp.modules, &modules) != 0 || !modules ||
		    remote_read_ptr(r, modules + (uint64_t)l->object.ob_type, &type) != 0 || type != dict_type)
			return 0;
	}
	return 1;
}

/* Every aligned word of a section as a candidate interpreter pointer. */
static uint64_t scan_for_interp(struct remote *r, const struct pyspy_layout *l, struct pyspy_binary *bin,
				const char *section, uint64_t dict_type)
{
	uint64_t addr, size, found = 0;
	uint64_t *buf;
	size_t i, n;

	if (remote_binary_section(r, bin, section, &addr, &size) != 0 || size < 8)
		return 0;
	if (size > MAX_SCAN_BYTES)
		size = MAX_SCAN_BYTES;
	buf = xcalloc(1, (size_t)size);
	if (remote_read(r, addr, buf, (size_t)size) != 0)
		goto out_free;
	n = (size_t)size / 8;
	for (i = 0; i < n && !found; i++) {
		if (buf[i] && discover_valid_interp(r, l, buf[i], dict_type))
			found = buf[i];
	}
out_free:
	free(buf);
	return found;
}

static int find_interp(struct remote *r, struct python_target *t, char *err, size_t errlen)
{
	const struct pyspy_layout *l = &t->layout;
	const char *const *sec;
	char scanned[128];
	uint64_t addr, size, interp = 0, dict_type;

	if (has_symbol(r, t->bin, "_PyRuntime", &addr))
		t->runtime = addr;
	else if (remote_binary_section(r, t->bin, host_runtime_section(), &addr, &size) == 0)
		t->runtime = addr;
	if (has_symbol(r, t->bin, "_PyThreadState_Current", &addr))
		t->tstate_current = addr;

	if (l->anchor == PYSPY_ANCHOR_RUNTIME && t->runtime && l->runtime.interpreters_head >= 0)
		remote_read_ptr(r, t->runtime + (uint64_t)l->runtime.interpreters_head, &interp);
	else if (l->anchor == PYSPY_ANCHOR_INTERP_HEAD && has_symbol(r, t->bin, "interp_head", &addr))
		remote_read_ptr(r, addr, &interp);

	if (!has_symbol(r, t->bin, "PyDict_Type", &dict_type))
		dict_type = 0;
	if (interp && discover_valid_interp(r, l, interp, dict_type)) {
		t->interp = interp;
		return 0;
	}
	if (interp == 0 && (t->runtime || has_symbol(r, t->bin, "interp_head", NULL))) {
		/* The symbol is there but the list is empty: not initialised yet. */
		snprintf(err, errlen, "Python %s in %s has no interpreter yet (still starting or "
			 "shutting down)", t->version_str, t->bin_path);
		return -EAGAIN;
	}
	/* No usable symbol: scan the runtime's data for a pointer that validates. */
	interp = scan_for_interp(r, l, t->bin, host_runtime_section(), dict_type);
	for (sec = host_data_sections(); *sec && !interp; sec++)
		interp = scan_for_interp(r, l, t->bin, *sec, dict_type);
	if (interp) {
		log_info("found the interpreter state at 0x%llx by scanning %s", (unsigned long long)interp,
			 t->bin_path);
		t->interp = interp;
		return 0;
	}
	snprintf(scanned, sizeof(scanned), "%s", host_runtime_section());
	for (sec = host_data_sections(); *sec; sec++)
		snprintf(scanned + strlen(scanned), sizeof(scanned) - strlen(scanned), ", %s", *sec);
	snprintf(err, errlen, "found Python %s in %s but not its interpreter state (tried %s, then scanned "
		 "%s)", t->version_str, t->bin_path,
		 l->anchor == PYSPY_ANCHOR_RUNTIME ? "_PyRuntime" : "interp_head", scanned);
	return -EAGAIN;
}

/* ---- putting it together ----------------------------------------------- */

/* The platform and the machine of the binary holding the runtime. */
static void binary_fit(struct remote *r, const struct python_target *t, struct fit *fit)
{
	struct pyspy_binary_info info = { .size = sizeof(info) };

	fit->os = remote_platform(r);
	fit->arch = NULL;
	fit->pointer_size = 0;
	if (remote_binary_info(r, t->bin, &info) == 0 &&
	    PYSPY_HAS(info.size, struct pyspy_binary_info, pointer_size)) {
		fit->arch = info.arch;
		fit->pointer_size = info.pointer_size;
	}
}

/* An exact module is never overridden by the runtime's own description;
 * where they disagree, say so under -v (struct sizes legitimately differ
 * between the patch releases one module covers). */
static void cross_check(const struct debug_offsets *dbg, const struct python_target *t)
{
	const char *fields = debug_fields_of(&t->layout);
	char diff[512];
	int n;

	if (!fields)
		return;
	n = debug_offsets_compare(dbg, fields, &t->layout, diff, sizeof(diff));
	if (n < 0)
		log_info("_Py_DebugOffsets of the target does not fit %s's field list: %s",
			 t->layout_plugin->name, diff);
	else if (n > 0)
		log_info("_Py_DebugOffsets of the target differs from %s in %d member(s): %s; "
			 "using the module", t->layout_plugin->name, n, diff);
}

/* A newer minor with no module of its own: read its self-description with
 * the field list of the nearest older module, and take it only if it
 * checks (here, then by the interpreter it leads to in find_interp). */
static int read_self_description(struct remote *r, const struct debug_offsets *dbg,
				 const struct plugin *const *layouts, size_t nlayouts,
				 const struct fit *fit, struct python_target *t, char *err, size_t errlen)
{
	const struct plugin *near = nearest_lower(layouts, nlayouts, t->version, t->flavour, fit);
	char why[256];

	if (!near)
		return 0;
	layout_copy(&t->layout, plugin_layout(near));
	if (debug_offsets_apply(dbg, debug_fields_of(&t->layout), &t->layout, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "Python %s has no layout module, and its own description "
			 "(_Py_DebugOffsets) does not check against %s's field list (%s): add a layout "
			 "module for %u.%u (make layouts; docs/adding-a-python-version.md)",
			 t->version_str, near->name, why, t->version >> 24, (t->version >> 16) & 255);
		return -ENOTSUP;
	}
	t->layout_plugin = near;
	t->self_described = 1;
	snprintf(t->notice, sizeof(t->notice), "Python %s has no layout module: reading it with "
		 "its own _Py_DebugOffsets, through the field list of %s", t->version_str, near->name);
	return 0;
}

int discover_python(struct remote *r, struct plugins *pl, struct python_target *t,
		    char *err, size_t errlen)
{
	const struct plugin *const *layouts;
	struct pyspy_proc_info info = { .size = sizeof(info) };
	struct debug_offsets dbg;
	size_t nlayouts;
	int have_dbg, rc, patch_known;
	struct fit fit;
	char names[512];

	memset(t, 0, sizeof(*t));
	if (remote_info(r, &info, err, errlen) != 0)
		info.exe = NULL;
	rc = remote_refresh_maps(r, err, errlen);
	if (rc)
		return rc;
	rc = find_runtime_binary(r, info.exe, t, err, errlen);
	if (rc)
		return rc;

	{
		struct pyspy_binary_info bi = { .size = sizeof(bi) };

		/* the backend's word on this file (a core's unverified binary) */
		if (remote_binary_info(r, t->bin, &bi) == 0 && bi.notice && bi.notice[0])
			log_warn("%s", bi.notice);
	}
	find_version(r, t);
	t->flavour = find_flavour(r, t);

	/* 3.13+: the runtime describes itself. */
	have_dbg = 0;
	{
		uint64_t addr, size;

		if (has_symbol(r, t->bin, "_PyRuntime", &addr) ||
		    remote_binary_section(r, t->bin, host_runtime_section(), &addr, &size) == 0)
			have_dbg = debug_offsets_read(r, addr, &dbg) == 0;
	}
	if (have_dbg) {
		if (!t->version || t->version_source[0] == 'f')
			t->version = dbg.version;
		if (dbg.free_threaded)
			t->flavour |= PYSPY_FLAVOUR_FREETHREADED;
		t->flavour &= ~(uint32_t)PYSPY_FLAVOUR_TRACE_REFS;
	}
	if (!t->version) {
		snprintf(err, errlen, "found a Python runtime in %s but could not tell its version "
			 "(no Py_Version symbol, no version string in memory, no version in the file name)",
			 t->bin_path);
		return -ENOENT;
	}
	version_format(t->version, t->version_str, sizeof(t->version_str));
	patch_known = ((t->version >> 8) & 255) != 255;
	if (!patch_known)
		snprintf(t->version_str, sizeof(t->version_str), "%u.%u", t->version >> 24,
			 (t->version >> 16) & 255);

	plugins_layouts(pl, &layouts, &nlayouts);
	binary_fit(r, t, &fit);
	t->layout_plugin = choose_layout(layouts, nlayouts, t->version, t->flavour, patch_known, &fit);
	if (t->layout_plugin) {
		layout_copy(&t->layout, plugin_layout(t->layout_plugin));
		if (have_dbg)
			cross_check(&dbg, t);
	} else if (have_dbg) {
		rc = read_self_description(r, &dbg, layouts, nlayouts, &fit, t, err, errlen);
		if (rc)
			return rc;
	}
	if (!t->layout_plugin) {
		describe_layouts(layouts, nlayouts, names, sizeof(names));
		snprintf(err, errlen, "Python %s%s (%s, %s %s) has no layout module (loaded: %s); see "
			 "docs/adding-a-python-version.md", t->version_str,
			 (t->flavour & PYSPY_FLAVOUR_FREETHREADED) ? " free-threaded" : "", t->bin_path,
			 fit.os, fit.arch && fit.arch[0] ? fit.arch : "unknown machine", names);
		return -ENOTSUP;
	}

	rc = find_interp(r, t, err, errlen);
	if (rc == -EAGAIN && t->self_described) {
		/* Offsets taken from an unchecked self-description found no
		 * interpreter: say which way the doubt lies. */
		snprintf(err, errlen, "Python %s has no layout module, and its own description "
			 "(_Py_DebugOffsets) read with %s's field list leads to no valid interpreter state: "
			 "add a layout module for %u.%u (make layouts; docs/adding-a-python-version.md)",
			 t->version_str, t->layout_plugin->name, t->version >> 24, (t->version >> 16) & 255);
		return -ENOTSUP;
	}
	if (rc)
		return rc;
	log_info("Python %s (%s, version from %s), layout %s, interpreter at 0x%llx", t->version_str,
		 t->bin_path, t->version_source, t->layout_plugin->name, (unsigned long long)t->interp);
	return 0;
}

void discover_free(struct remote *r, struct python_target *t)
{
	if (t->bin)
		remote_binary_close(r, t->bin);
	free(t->bin_path);
	memset(t, 0, sizeof(*t));
}
