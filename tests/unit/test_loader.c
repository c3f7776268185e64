/*
 * Module loading: each broken fixture module is refused with its own
 * reason naming the file, nothing of a refused module stays mapped, the
 * good ones load; and the registry on top (names, formats, aliases,
 * options, duplicates, the listing).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/host.h"
#include "../../core/loader.h"
#include "../../core/plugins.h"
#include "unit.h"

static char ldr_tmp[64];

static int ldr_setup(void)
{
	return unit_make_tmpdir(ldr_tmp, sizeof(ldr_tmp), "loader");
}

static int ldr_teardown(void)
{
	return unit_remove_tree(ldr_tmp);
}

/* Absolute path of a fixture module (static buffer per call site use). */
static const char *fixture(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tests/fixtures/%s.so", unit_build_dir(), name);
	return buf;
}

/* Whether path is mapped in this process now. */
static int mapped(const char *path)
{
	char line[PATH_MAX + 256];
	size_t plen = strlen(path), len;
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		len = strlen(line);
		while (len && line[len - 1] == '\n')
			line[--len] = '\0';
		found = len >= plen && strcmp(line + len - plen, path) == 0;
	}
	fclose(f);
	return found;
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
	chmod(to, mode);
}

/* Expect loader_open(path, kind) to refuse with a message naming the file
 * and containing each of the reasons, and nothing left mapped. */
static void expect_refused(const char *path, enum pyspy_kind kind, const char *reason,
			   const char *reason2)
{
	const struct pyspy_module *m = (const void *)1;
	void *h = (void *)1;
	char err[1024] = "";
	int rc = loader_open(path, kind, &h, &m, err, sizeof(err));

	CU_ASSERT(rc < 0);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT(strncmp(err, path, strlen(path)) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, reason));
	if (reason2)
		CU_ASSERT_PTR_NOT_NULL(strstr(err, reason2));
	if (strncmp(err, path, strlen(path)) != 0 || !strstr(err, reason) ||
	    (reason2 && !strstr(err, reason2)))
		fprintf(stderr, "\n  expected \"%s\" in: %s\n", reason, err);
	CU_ASSERT_EQUAL(strchr(err, '\n'), NULL);
	CU_ASSERT_EQUAL(mapped(path), 0);
}

static void expect_loaded(const char *path, enum pyspy_kind kind, const char *name)
{
	const struct pyspy_module *m = NULL;
	void *h = NULL;
	char err[1024] = "";
	int rc = loader_open(path, kind, &h, &m, err, sizeof(err));

	CU_ASSERT_EQUAL_FATAL(rc, 0);
	if (rc)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STRING_EQUAL(m->name, name);
	CU_ASSERT_EQUAL(m->kind, (uint32_t)kind);
	CU_ASSERT_EQUAL(mapped(path), 1);
	loader_close(h);
	CU_ASSERT_EQUAL(mapped(path), 0);
}

static void test_good_modules(void)
{
	char p[PATH_MAX];

	expect_loaded(fixture("fx_good_output", p, sizeof(p)), PYSPY_KIND_OUTPUT, "fx-good-output");
	expect_loaded(fixture("fx_good_layout", p, sizeof(p)), PYSPY_KIND_LAYOUT, "fx-good-layout");
	expect_loaded(fixture("fx_good_backend", p, sizeof(p)), PYSPY_KIND_BACKEND, "fx-good-backend");
}

static void test_refused_modules(void)
{
	char p[PATH_MAX];

	expect_refused(fixture("fx_no_symbol", p, sizeof(p)), PYSPY_KIND_OUTPUT,
		       "no symbol \"pyspy_module\"", NULL);
	expect_refused(fixture("fx_bad_abi", p, sizeof(p)), PYSPY_KIND_OUTPUT,
		       "ABI version 99", "this py-spy uses ABI version 2");
	expect_refused(fixture("fx_small_struct", p, sizeof(p)), PYSPY_KIND_OUTPUT,
		       "descriptor is 8 bytes", "needs at least");
	expect_refused(fixture("fx_good_layout", p, sizeof(p)), PYSPY_KIND_OUTPUT,
		       "is a layout module but is listed in [outputs]", "move it to [layouts]");
	expect_refused(fixture("fx_good_output", p, sizeof(p)), PYSPY_KIND_BACKEND,
		       "is an output module but is listed in [backend]", NULL);
	expect_refused(fixture("fx_missing_op", p, sizeof(p)), PYSPY_KIND_OUTPUT,
		       "lacks the required op finish", NULL);
	expect_refused(fixture("fx_small_ops", p, sizeof(p)), PYSPY_KIND_OUTPUT,
		       "ops table is 8 bytes", NULL);
}

static void test_refused_files(void)
{
	char p[PATH_MAX], dir[PATH_MAX];

	snprintf(p, sizeof(p), "%s/none.so", ldr_tmp);
	expect_refused(p, PYSPY_KIND_OUTPUT, "module file not found", NULL);
	snprintf(dir, sizeof(dir), "%s/dir.so", ldr_tmp);
	mkdir(dir, 0755);
	expect_refused(dir, PYSPY_KIND_OUTPUT, "is a directory", NULL);
	snprintf(p, sizeof(p), "%s/fifo.so", ldr_tmp);
	CU_ASSERT_EQUAL(mkfifo(p, 0644), 0);
	expect_refused(p, PYSPY_KIND_OUTPUT, "not a regular file", NULL);

	/* Not a shared object at all: refused before the dynamic loader sees it. */
	snprintf(p, sizeof(p), "%s/garbage.so", ldr_tmp);
	FILE *f = fopen(p, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("this is not an ELF file\n", f);
	fclose(f);
	chmod(p, 0755);
	expect_refused(p, PYSPY_KIND_OUTPUT, "not an ELF file", NULL);
}

/* Group- or world-writable modules are refused when root; the rule itself
 * is checked as root and not root through loader_check_file, as is the
 * rule that root loads only modules root owns. */
static void test_writable_modules(void)
{
	struct host_file_info fi = { .exists = 1, .is_regular = 1, .mode = 0775, .group_writable = 1 };
	char good[PATH_MAX], copy[PATH_MAX], err[1024] = "";
	const struct pyspy_module *m;
	void *h;
	int rc;

	CU_ASSERT_EQUAL(loader_check_file("/m.so", 0, &fi, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(loader_check_file("/m.so", 1, &fi, err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/m.so: is writable by its group"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "chmod go-w /m.so"));
	fi.group_writable = 0;
	fi.mode = 0755;
	CU_ASSERT_EQUAL(loader_check_file("/m.so", 1, &fi, err, sizeof(err)), 0);
	fi.other_writable = 1;
	CU_ASSERT_EQUAL(loader_check_file("/m.so", 1, &fi, err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "writable by others"));
	fi.other_writable = 0;
	fi.uid = 1000;
	CU_ASSERT_EQUAL(loader_check_file("/m.so", 0, &fi, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(loader_check_file("/m.so", 1, &fi, err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/m.so: is owned by uid 1000"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "chown root /m.so"));

	/* The real thing: a copy of a good module made group-writable. */
	snprintf(copy, sizeof(copy), "%s/writable.so", ldr_tmp);
	copy_file(fixture("fx_good_output", good, sizeof(good)), copy, 0775);
	if (host_is_root()) {
		expect_refused(copy, PYSPY_KIND_OUTPUT, "is writable by its group", "chmod go-w");
	} else {
		rc = loader_open(copy, PYSPY_KIND_OUTPUT, &h, &m, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, 0);
		if (rc == 0)
			loader_close(h);
	}
	chmod(copy, 0755);
	expect_loaded(copy, PYSPY_KIND_OUTPUT, "fx-good-output");
}

/* Writes a plugins.ini into the temp folder naming fixtures by absolute
 * path; "@NAME" in text is replaced with the fixture NAME's path. */
static const char *write_ini(const char *name, const char *text)
{
	static char path[PATH_MAX];
	char fx[PATH_MAX];
	const char *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", ldr_tmp, name);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	for (p = text; *p; p++) {
		if (*p == '@') {
			size_t n = strcspn(p + 1, "\n ");
			char stem[128];

			if (n >= sizeof(stem))
				n = sizeof(stem) - 1;
			memcpy(stem, p + 1, n);
			stem[n] = '\0';
			fputs(fixture(stem, fx, sizeof(fx)), f);
			p += n;
		} else {
			fputc(*p, f);
		}
	}
	fclose(f);
	return path;
}

static void test_duplicate_names(void)
{
	char a[PATH_MAX], b[PATH_MAX], err[2048] = "";
	const struct plugin *pa = NULL, *pb = NULL;
	struct plugins *pl = NULL;
	const char *ini;
	int rc;

	ini = write_ini("dup.ini", "[outputs]\none = @fx_dup_a\ntwo = @fx_dup_b\n");
	CU_ASSERT_EQUAL_FATAL(plugins_open(ini, &pl, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(plugins_output(pl, "one", &pa, err, sizeof(err)), 0);
	rc = plugins_output(pl, "two", &pb, err, sizeof(err));
	CU_ASSERT(rc < 0);
	CU_ASSERT_PTR_NULL(pb);
	/* names both files, and where the refused one was named */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, fixture("fx_dup_a", a, sizeof(a))));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, fixture("fx_dup_b", b, sizeof(b))));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "module name \"fx-dup\" is already used"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":3: [outputs] two:"));
	CU_ASSERT_EQUAL(mapped(a), 1);
	CU_ASSERT_EQUAL(mapped(b), 0);
	plugins_close(pl);
	CU_ASSERT_EQUAL(mapped(a), 0);
}

static void test_registry(void)
{
	char err[2048] = "", good[PATH_MAX], abi[PATH_MAX], buf[8192];
	const struct plugin *const *layouts;
	const struct plugin *p = NULL;
	struct plugins *pl = NULL;
	const char *ini;
	size_t n, len;
	FILE *f;
	int rc;

	ini = write_ini("reg.ini",
			"[backend]\n"
			"linux = @fx_good_backend\n"
			"[layouts]\n"
			"lay = @fx_good_layout\n"
			"badlay = @fx_bad_abi\n"
			"[outputs]\n"
			"good = @fx_good_output\n"
			"old = @fx_bad_abi\n"
			"gone = /nonexistent/gone.so\n"
			"[good]\n"
			"Color = blue\n");
	CU_ASSERT_EQUAL_FATAL(plugins_open(ini, &pl, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(plugins_config_path(pl), ini);
	fixture("fx_good_output", good, sizeof(good));
	fixture("fx_bad_abi", abi, sizeof(abi));

	/* Nothing is loaded before it is asked for. */
	CU_ASSERT_EQUAL(mapped(good), 0);
	CU_ASSERT_EQUAL(plugins_is_output(pl, "good"), 1);
	CU_ASSERT_EQUAL(mapped(good), 0);

	/* By plugins.ini name, format, alias; options from its section. */
	CU_ASSERT_EQUAL_FATAL(plugins_output(pl, "good", &p, err, sizeof(err)), 0);
	CU_ASSERT(p->loaded);
	CU_ASSERT_STRING_EQUAL(p->module->name, "fx-good-output");
	CU_ASSERT_STRING_EQUAL(p->host->option(p->host, "color"), "blue");
	CU_ASSERT_PTR_NULL(p->host->option(p->host, "size"));
	CU_ASSERT_EQUAL(p->host->abi_version, PYSPY_ABI_VERSION);
	CU_ASSERT_EQUAL_FATAL(plugins_output(pl, "fxformat", &p, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(p->name, "good");
	CU_ASSERT_EQUAL_FATAL(plugins_output(pl, "fxother", &p, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(p->name, "good");
	CU_ASSERT_EQUAL(plugins_is_output(pl, "fxalias"), 1);
	CU_ASSERT_EQUAL(plugins_is_output(pl, "out.svg"), 0);

	rc = plugins_output(pl, "nosuch", &p, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no output format \"nosuch\""));

	/* A refused output: file:line, section and key, file, reason. */
	rc = plugins_output(pl, "old", &p, err, sizeof(err));
	CU_ASSERT(rc < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":8: [outputs] old: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, abi));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "ABI version 99"));

	/* A module whose file is missing is not "no such output". */
	rc = plugins_output(pl, "gone", &p, err, sizeof(err));
	CU_ASSERT(rc < 0 && rc != -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":9: [outputs] gone: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "module file not found"));

	CU_ASSERT_EQUAL_FATAL(plugins_backend(pl, &p, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(plugin_backend_ops(p)->platform, "linux");

	/* Layouts: the broken one is skipped. */
	CU_ASSERT_EQUAL(plugins_layouts(pl, &layouts, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(layouts[0]->name, "lay");
	CU_ASSERT_EQUAL(plugin_layout(layouts[0])->version_min, PYSPY_PYVER(3, 11, 0));

	/* The listing shows every module and fails because three do not load. */
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	rc = plugins_list(pl, f);
	len = (size_t)ftell(f);
	fclose(f);
	buf[len] = '\0';
	CU_ASSERT(rc != 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, ini));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "CPython 3.11.0-3.11.255 release linux/x86_64, not tested live"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "format fxformat (aliases fxalias, fxother) (files txt) for dump, record"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "platform linux"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "FAILED: module ABI version 99"));
	plugins_close(pl);
	CU_ASSERT_EQUAL(mapped(good), 0);
}

static void test_list_all_ok(void)
{
	char err[1024] = "", buf[4096];
	struct plugins *pl = NULL;
	const char *ini;
	size_t len;
	FILE *f;

	ini = write_ini("ok.ini", "[layouts]\nlay = @fx_good_layout\n[outputs]\ngood = @fx_good_output\n");
	CU_ASSERT_EQUAL_FATAL(plugins_open(ini, &pl, err, sizeof(err)), 0);
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(plugins_list(pl, f), 0);
	len = (size_t)ftell(f);
	fclose(f);
	buf[len] = '\0';
	CU_ASSERT_PTR_NULL(strstr(buf, "FAILED"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "  ok\n"));
	plugins_close(pl);
}

UNIT_SUITE(loader_suite)
{
	CU_pSuite s = CU_add_suite("loader", ldr_setup, ldr_teardown);

	CU_add_test(s, "good modules load", test_good_modules);
	CU_add_test(s, "broken modules are refused and unloaded", test_refused_modules);
	CU_add_test(s, "missing, odd and non-ELF files are refused", test_refused_files);
	CU_add_test(s, "writable modules are refused as root", test_writable_modules);
	CU_add_test(s, "two modules with one name", test_duplicate_names);
	CU_add_test(s, "registry: names, formats, aliases, options, listing", test_registry);
	CU_add_test(s, "listing with every module loading", test_list_all_ok);
}
