/*
 * plugins.ini: finding it, the root safety rule, reading it, and every
 * error naming file:line and key.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/config.h"
#include "../../core/host.h"
#include "unit.h"

static char tmpdir[64];

static int cfg_setup(void)
{
	return unit_make_tmpdir(tmpdir, sizeof(tmpdir), "config");
}

static int cfg_teardown(void)
{
	return unit_remove_tree(tmpdir);
}

/* Writes tmpdir/name with text; returns its path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void make_dir(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	mkdir(path, 0755);
}

/* Loads text as plugins.ini and expects failure with an error containing
 * "<file>:<line>:" and `what`. */
static void expect_error(const char *text, int line, const char *what)
{
	char err[1024] = "", prefix[PATH_MAX + 32];
	const char *path = write_file("bad.ini", text);
	struct config *cfg = NULL;
	int rc = config_load(path, &cfg, err, sizeof(err));

	CU_ASSERT(rc < 0);
	CU_ASSERT_PTR_NULL(cfg);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, prefix));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
	if (!strstr(err, prefix) || !strstr(err, what))
		fprintf(stderr, "\n  expected \"%s\" and \"%s\" in: %s\n", prefix, what, err);
}

static const struct config_module *find_module(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nmodules; i++) {
		if (strcmp(cfg->modules[i].name, name) == 0)
			return &cfg->modules[i];
	}
	return NULL;
}

static void test_good_file(void)
{
	const char *path;
	char err[1024] = "", want[PATH_MAX * 2];
	const struct config_module *m;
	struct config *cfg = NULL;
	int rc;

	path = write_file("good.ini",
			  "; comment\n"
			  "[backend]\n"
			  "linux = mods/linux.so\n"
			  "macos = /abs/macos.so\n"
			  "\n"
			  "[layouts]\n"
			  "cpython-3.11 = ./lay/cp311.so ; trailing comment\n"
			  "\n"
			  "[outputs]\n"
			  "Dump = out/dump.so\n"
			  "flame = ../up/flame.so\n"
			  "[flame]\n"
			  "Width = 1200\n"
			  "title = \"a ; b\"\n");
	rc = config_load(path, &cfg, err, sizeof(err));
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(cfg->path, path);
	CU_ASSERT_STRING_EQUAL(cfg->dir, tmpdir);
	CU_ASSERT_EQUAL(cfg->nmodules, 5);

	m = find_module(cfg, "linux");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->kind, PYSPY_KIND_BACKEND);
	snprintf(want, sizeof(want), "%s/mods/linux.so", tmpdir);
	CU_ASSERT_STRING_EQUAL(m->path, want);
	snprintf(want, sizeof(want), "%s:3", path);
	CU_ASSERT_STRING_EQUAL(m->origin, want);
	CU_ASSERT_EQUAL(m->other_platform, strcmp(host_platform(), "linux") != 0);

	m = find_module(cfg, "macos");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STRING_EQUAL(m->path, "/abs/macos.so");
	CU_ASSERT_EQUAL(m->other_platform, strcmp(host_platform(), "macos") != 0);

	m = find_module(cfg, "cpython-3.11");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->kind, PYSPY_KIND_LAYOUT);
	snprintf(want, sizeof(want), "%s/lay/cp311.so", tmpdir);
	CU_ASSERT_STRING_EQUAL(m->path, want);
	snprintf(want, sizeof(want), "%s:7", path);
	CU_ASSERT_STRING_EQUAL(m->origin, want);

	/* keys are lowercased */
	m = find_module(cfg, "dump");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->kind, PYSPY_KIND_OUTPUT);
	CU_ASSERT_STRING_EQUAL(m->where, "[outputs] dump");
	snprintf(want, sizeof(want), "%s:10", path);
	CU_ASSERT_STRING_EQUAL(m->origin, want);

	m = find_module(cfg, "flame");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	snprintf(want, sizeof(want), "%s/../up/flame.so", tmpdir);
	CU_ASSERT_STRING_EQUAL(m->path, want);

	CU_ASSERT_STRING_EQUAL(config_option(cfg, "flame", "width"), "1200");
	CU_ASSERT_STRING_EQUAL(config_option(cfg, "flame", "WIDTH"), "1200");
	CU_ASSERT_STRING_EQUAL(config_option(cfg, "flame", "title"), "a ; b");
	CU_ASSERT_PTR_NULL(config_option(cfg, "flame", "height"));
	CU_ASSERT_PTR_NULL(config_option(cfg, "dump", "width"));
	config_free(cfg);
}

/* The plugins.ini of the repository is what the build folder uses. */
static void test_repository_file(void)
{
	char path[PATH_MAX], err[1024] = "";
	struct config *cfg = NULL;
	const struct config_module *m;

	snprintf(path, sizeof(path), "%s/plugins.ini", unit_source_dir());
	CU_ASSERT_EQUAL_FATAL(config_load(path, &cfg, err, sizeof(err)), 0);
	m = find_module(cfg, "linux");
	CU_ASSERT_PTR_NOT_NULL(m);
	CU_ASSERT_PTR_NOT_NULL(find_module(cfg, "flamegraph"));
	CU_ASSERT_PTR_NOT_NULL(find_module(cfg, "dump"));
	CU_ASSERT_EQUAL(cfg->nscans, 1);
	CU_ASSERT_STRING_EQUAL(config_option(cfg, "flamegraph", "width"), "1200");
	config_free(cfg);
}

static void test_syntax_error(void)
{
	expect_error("[outputs]\n"
		     "dump = a.so\n"
		     "this line has no equals sign\n", 3, "syntax error");
	expect_error("[outputs]\n"
		     "dump = a.so\n"
		     "\n"
		     "[flame\n"
		     "x = 1\n", 4, "syntax error");
}

static void test_unknown_section(void)
{
	expect_error("[outputs]\n"
		     "dump = a.so\n"
		     "[dmup]\n"
		     "x = 1\n", 3, "[dmup]: unknown section");
}

static void test_unknown_key(void)
{
	expect_error("[backend]\n"
		     "linux = a.so\n"
		     "beos = b.so\n", 3, "[backend] beos: unknown platform");
	expect_error("stray = 1\n"
		     "[outputs]\n", 1, "stray: key outside any section");
	expect_error("[outputs]\n"
		     "Bad/Name = a.so\n", 2, "[outputs] bad/name: not a usable module name");
	expect_error("[outputs]\n"
		     "layouts = a.so\n", 2, "[outputs] layouts: not a usable module name");
}

static void test_empty_path(void)
{
	expect_error("[outputs]\n"
		     "dump = a.so\n"
		     "\n"
		     "flamegraph =\n", 4, "[outputs] flamegraph: empty path");
	expect_error("[layouts]\n"
		     "scan = ,\n", 2, "[layouts] scan: empty path");
}

static void test_duplicates(void)
{
	expect_error("[outputs]\n"
		     "dump = a.so\n"
		     "dump = b.so\n", 3, "[outputs] dump: given twice (first at line 2)");
	expect_error("[outputs]\n"
		     "same = a.so\n"
		     "[layouts]\n"
		     "same = b.so\n", 4, "[layouts] same: name already used by [outputs] same");
}

static void test_missing_and_unreadable(void)
{
	char path[PATH_MAX], err[1024] = "";
	struct config *cfg = NULL;
	char *found = NULL;

	snprintf(path, sizeof(path), "%s/nonexistent.ini", tmpdir);
	CU_ASSERT_EQUAL(config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, strerror(ENOENT)));

	err[0] = '\0';
	CU_ASSERT_EQUAL(config_locate(path, &found, err, sizeof(err)), -ENOENT);
	CU_ASSERT_PTR_NULL(found);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--config"));

	err[0] = '\0';
	CU_ASSERT_EQUAL(config_load(tmpdir, &cfg, err, sizeof(err)), -EISDIR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, tmpdir));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, strerror(EISDIR)));
	CU_ASSERT_PTR_NULL(cfg);
}

static void test_owner_rule(void)
{
	struct host_file_info fi = { .exists = 1, .is_regular = 1, .uid = 0, .mode = 0644 };
	char err[512] = "";

	/* Not root: anything goes. */
	fi.uid = 1000;
	fi.other_writable = 1;
	CU_ASSERT_EQUAL(config_check_owner("/x/plugins.ini", 0, &fi, err, sizeof(err)), 0);

	/* Root: root-owned, writable by root only. */
	fi.uid = 0;
	fi.other_writable = 0;
	CU_ASSERT_EQUAL(config_check_owner("/x/plugins.ini", 1, &fi, err, sizeof(err)), 0);

	fi.uid = 1000;
	CU_ASSERT_EQUAL(config_check_owner("/x/plugins.ini", 1, &fi, err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/x/plugins.ini is owned by uid 1000"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "chown root /x/plugins.ini"));

	fi.uid = 0;
	fi.other_writable = 1;
	fi.mode = 0646;
	CU_ASSERT_EQUAL(config_check_owner("/x/plugins.ini", 1, &fi, err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/x/plugins.ini is writable by others"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "chmod go-w /x/plugins.ini"));

	fi.other_writable = 0;
	fi.group_writable = 1;
	fi.mode = 0664;
	CU_ASSERT_EQUAL(config_check_owner("/x/plugins.ini", 1, &fi, err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "writable by its group"));
}

/* config_load applies the rule to the real file when we are root. */
static void test_owner_rule_applied(void)
{
	const char *path = write_file("open.ini", "[outputs]\ndump = a.so\n");
	char err[1024] = "";
	struct config *cfg = NULL;
	int rc;

	chmod(path, 0666);
	rc = config_load(path, &cfg, err, sizeof(err));
	if (host_is_root()) {
		CU_ASSERT_EQUAL(rc, -EPERM);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "writable by others"));
	} else {
		CU_ASSERT_EQUAL(rc, 0);
	}
	config_free(cfg);
	cfg = NULL;
	chmod(path, 0644);
	CU_ASSERT_EQUAL(config_load(path, &cfg, err, sizeof(err)), 0);
	config_free(cfg);
}

static void test_scan(void)
{
	char err[1024] = "", want[PATH_MAX * 2];
	struct config *cfg = NULL;
	const char *path;

	make_dir("scan1");
	write_file("scan1/cpython-3.12.so", "");
	write_file("scan1/cpython-3.10.so", "");
	write_file("scan1/readme.txt", "");
	path = write_file("scan.ini",
			  "[layouts]\n"
			  "scan = scan1, missing-folder\n"
			  "cpython-3.12 = scan1/cpython-3.12.so\n"
			  "[cpython-3.10]\n"
			  "x = y\n");
	CU_ASSERT_EQUAL_FATAL(config_load(path, &cfg, err, sizeof(err)), 0);
	/* the explicit entry, then the scan without the file named already */
	CU_ASSERT_EQUAL_FATAL(cfg->nmodules, 2);
	CU_ASSERT_STRING_EQUAL(cfg->modules[0].name, "cpython-3.12");
	CU_ASSERT_STRING_EQUAL(cfg->modules[1].name, "cpython-3.10");
	CU_ASSERT_EQUAL(cfg->modules[1].kind, PYSPY_KIND_LAYOUT);
	snprintf(want, sizeof(want), "%s/scan1/cpython-3.10.so", tmpdir);
	CU_ASSERT_STRING_EQUAL(cfg->modules[1].path, want);
	snprintf(want, sizeof(want), "%s:2", path);
	CU_ASSERT_STRING_EQUAL(cfg->modules[1].origin, want);
	CU_ASSERT_STRING_EQUAL(config_option(cfg, "cpython-3.10", "x"), "y");

	CU_ASSERT_EQUAL_FATAL(cfg->nscans, 2);
	CU_ASSERT_PTR_NULL(cfg->scans[0].error);
	CU_ASSERT_PTR_NOT_NULL(cfg->scans[1].error);
	if (cfg->scans[1].error)
		CU_ASSERT_PTR_NOT_NULL(strstr(cfg->scans[1].error, strerror(ENOENT)));
	config_free(cfg);
}

/* Search order: --config, $PYSPY_CONFIG, user folder, then the others. */
static void test_locate(void)
{
	char *saved_env = getenv("PYSPY_CONFIG") ? strdup(getenv("PYSPY_CONFIG")) : NULL;
	char *saved_xdg = getenv("XDG_CONFIG_HOME") ? strdup(getenv("XDG_CONFIG_HOME")) : NULL;
	char explicit[PATH_MAX], user[PATH_MAX], xdg[PATH_MAX], err[2048] = "";
	char *found = NULL;

	snprintf(explicit, sizeof(explicit), "%s", write_file("explicit.ini", "[outputs]\n"));
	make_dir("xdg");
	make_dir("xdg/py-spy");
	snprintf(user, sizeof(user), "%s", write_file("xdg/py-spy/plugins.ini", "[outputs]\n"));
	snprintf(xdg, sizeof(xdg), "%s/xdg", tmpdir);
	setenv("XDG_CONFIG_HOME", xdg, 1);

	/* $PYSPY_CONFIG beats the user folder; --config beats both */
	setenv("PYSPY_CONFIG", explicit, 1);
	CU_ASSERT_EQUAL(config_locate(NULL, &found, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(found ? found : "", explicit);
	free(found);
	CU_ASSERT_EQUAL(config_locate(user, &found, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(found ? found : "", user);
	free(found);

	/* $PYSPY_CONFIG naming a missing file is an error, not a fallback */
	setenv("PYSPY_CONFIG", "/nonexistent/plugins.ini", 1);
	CU_ASSERT_EQUAL(config_locate(NULL, &found, err, sizeof(err)), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/plugins.ini"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "PYSPY_CONFIG"));

	unsetenv("PYSPY_CONFIG");
	CU_ASSERT_EQUAL(config_locate(NULL, &found, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(found ? found : "", user);
	free(found);

	/* nothing anywhere (unless this machine has /etc/py-spy/plugins.ini) */
	setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
	if (access("/etc/py-spy/plugins.ini", F_OK) != 0) {
		CU_ASSERT_EQUAL(config_locate(NULL, &found, err, sizeof(err)), -ENOENT);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/py-spy/plugins.ini"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "/etc/py-spy/plugins.ini"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "/tests/plugins.ini"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "/lib/py-spy/plugins.ini"));
	}

	if (saved_env)
		setenv("PYSPY_CONFIG", saved_env, 1);
	if (saved_xdg)
		setenv("XDG_CONFIG_HOME", saved_xdg, 1);
	else
		unsetenv("XDG_CONFIG_HOME");
	free(saved_env);
	free(saved_xdg);
}

UNIT_SUITE(config_suite)
{
	CU_pSuite s = CU_add_suite("config", cfg_setup, cfg_teardown);

	CU_add_test(s, "good file", test_good_file);
	CU_add_test(s, "repository plugins.ini", test_repository_file);
	CU_add_test(s, "syntax error names file:line", test_syntax_error);
	CU_add_test(s, "unknown section names file:line", test_unknown_section);
	CU_add_test(s, "unknown key names file:line and key", test_unknown_key);
	CU_add_test(s, "empty path names file:line and key", test_empty_path);
	CU_add_test(s, "duplicate keys and names", test_duplicates);
	CU_add_test(s, "missing and unreadable file", test_missing_and_unreadable);
	CU_add_test(s, "root owner rule", test_owner_rule);
	CU_add_test(s, "root owner rule applied to the file", test_owner_rule_applied);
	CU_add_test(s, "layout folder scan", test_scan);
	CU_add_test(s, "search order", test_locate);
}
