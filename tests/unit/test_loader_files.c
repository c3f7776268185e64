/*
 * What the loader opens is what it loads: the path is walked without the
 * kernel following links, each folder and link on it is checked by the
 * trust rule, the open file is checked (owner, mode, a whole ELF image) and
 * that very file is loaded, whatever the path names by then.
 *
 * The trust rule is tested with the tester's own uid as a trusted owner
 * beside root, so that it holds the same as root or not.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/host.h"
#include "../../core/loader.h"
#include "../../host/linux_elf.h"
#include "unit.h"

static char lf_tmp[64];

static int lf_setup(void)
{
	return unit_make_tmpdir(lf_tmp, sizeof(lf_tmp), "loadfile");
}

static int lf_teardown(void)
{
	return unit_remove_tree(lf_tmp);
}

/* Trust enforced as for root, with root and the tester trusted. */
static void strict_trust(struct host_trust *t)
{
	memset(t, 0, sizeof(*t));
	t->enforce = 1;
	t->uid[0] = 0;
	t->uid[1] = (uint32_t)geteuid();
	t->nuid = 2;
}

static const char *fixture(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tests/fixtures/%s.so", unit_build_dir(), name);
	return buf;
}

/* Copies the first `limit` bytes of from (all if limit < 0) to to. */
static void copy_head(const char *from, const char *to, long limit)
{
	char buf[65536];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	long total = 0;
	size_t n, want;

	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	for (;;) {
		want = sizeof(buf);
		if (limit >= 0 && (long)want > limit - total)
			want = (size_t)(limit - total);
		if (want == 0)
			break;
		n = fread(buf, 1, want, in);
		if (n == 0)
			break;
		fwrite(buf, 1, n, out);
		total += (long)n;
	}
	fclose(in);
	fclose(out);
	chmod(to, 0755);
}

static void sub(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", lf_tmp, name);
}

/* Open path under `trust` and load it as an output module: 0 and the
 * module's name in name[], or the error in err[]. */
static int open_and_load(const char *path, const struct host_trust *trust, char *name,
			 size_t namelen, char *err, size_t errlen)
{
	const struct pyspy_module *m;
	void *h;
	int fd, rc;

	err[0] = '\0';
	rc = loader_open_file(path, trust, &fd, err, errlen);
	if (rc)
		return rc;
	rc = loader_load_fd(fd, path, PYSPY_KIND_OUTPUT, &h, &m, err, errlen);
	if (rc)
		return rc;
	snprintf(name, namelen, "%s", m->name);
	loader_close(h);
	return 0;
}

static void expect_refusal(const char *path, const struct host_trust *trust, const char *what)
{
	char name[64], err[1024];
	int rc = open_and_load(path, trust, name, sizeof(name), err, sizeof(err));

	CU_ASSERT(rc < 0);
	CU_ASSERT(strncmp(err, path, strlen(path)) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	if (rc >= 0 || !strstr(err, what))
		fprintf(stderr, "\n  %s: expected \"%s\" in: %s\n", path, what, err);
}

static void expect_load(const char *path, const struct host_trust *trust, const char *want)
{
	char name[64] = "", err[1024];
	int rc = open_and_load(path, trust, name, sizeof(name), err, sizeof(err));

	CU_ASSERT_EQUAL(rc, 0);
	if (rc)
		fprintf(stderr, "\n  %s: %s\n", path, err);
	CU_ASSERT_STRING_EQUAL(name, want);
}

/*
 * The swap the issue reproduced, made deterministic: the file is checked,
 * then the path is made to name another module, then the load happens.
 * The module checked is the one loaded (a load by path would get the
 * other, and be refused as a layout listed in [outputs]).
 */
static void test_loads_what_was_checked(void)
{
	char good[PATH_MAX], other[PATH_MAX], path[PATH_MAX], swap[PATH_MAX], err[1024];
	const struct pyspy_module *m = NULL;
	struct host_trust trust;
	void *h = NULL;
	int fd, rc;

	strict_trust(&trust);
	sub(path, sizeof(path), "swapped.so");
	sub(swap, sizeof(swap), "swapped.so.new");
	copy_head(fixture("fx_good_output", good, sizeof(good)), path, -1);
	copy_head(fixture("fx_good_layout", other, sizeof(other)), swap, -1);

	CU_ASSERT_EQUAL_FATAL(loader_open_file(path, &trust, &fd, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(rename(swap, path), 0);
	rc = loader_load_fd(fd, path, PYSPY_KIND_OUTPUT, &h, &m, err, sizeof(err));
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(m->name, "fx-good-output");
	loader_close(h);

	/* and the path, loaded afresh, is now the layout */
	expect_refusal(path, &trust, "is a layout module but is listed in [outputs]");
	unlink(path);
}

/* Two modules loaded one after the other through the same fd number are
 * two modules (the dynamic loader knows objects by the name they were opened
 * with, and /proc/self/fd/N names are reused once N is closed). */
static void test_fd_names_not_confused(void)
{
	char a[PATH_MAX], b[PATH_MAX], err[1024];
	const struct pyspy_module *ma, *mb;
	struct host_trust trust;
	void *ha, *hb;
	int fd;

	strict_trust(&trust);
	fixture("fx_dup_a", a, sizeof(a));
	fixture("fx_good_output", b, sizeof(b));
	CU_ASSERT_EQUAL_FATAL(loader_open_file(a, &trust, &fd, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(loader_load_fd(fd, a, PYSPY_KIND_OUTPUT, &ha, &ma, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(loader_open_file(b, &trust, &fd, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(loader_load_fd(fd, b, PYSPY_KIND_OUTPUT, &hb, &mb, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(ma->name, "fx-dup");
	CU_ASSERT_STRING_EQUAL(mb->name, "fx-good-output");
	loader_close(hb);
	loader_close(ha);
	/* unloaded and loaded again, in the other order: fd numbers repeat */
	expect_load(b, &trust, "fx-good-output");
	expect_load(a, &trust, "fx-dup");
	expect_load(b, &trust, "fx-good-output");
}

/*
 * A module reached through a symbolic link: followed when the link sits in
 * a folder only trusted users can change, refused when it sits in a folder
 * others may write (they could point it anywhere between check and load).
 */
static void test_links_and_folders(void)
{
	char good[PATH_MAX], dir[256], link[PATH_MAX], target[PATH_MAX], p[PATH_MAX];
	struct host_trust trust, none = { 0 };

	strict_trust(&trust);
	fixture("fx_good_output", good, sizeof(good));
	sub(target, sizeof(target), "real.so");
	copy_head(good, target, -1);

	/* a link in a folder only we can write: followed */
	sub(dir, sizeof(dir), "safe");
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
	snprintf(link, sizeof(link), "%s/m.so", dir);
	CU_ASSERT_EQUAL_FATAL(symlink("../real.so", link), 0);
	expect_load(link, &trust, "fx-good-output");
	/* a link to a folder, in a folder only we can write: followed */
	snprintf(p, sizeof(p), "%s/sub", dir);
	CU_ASSERT_EQUAL_FATAL(symlink(lf_tmp, p), 0);
	snprintf(p, sizeof(p), "%s/sub/real.so", dir);
	expect_load(p, &trust, "fx-good-output");
	/* "..", "." and doubled slashes on the way */
	snprintf(p, sizeof(p), "%s/./safe//../safe/m.so", lf_tmp);
	expect_load(p, &trust, "fx-good-output");

	/* the same link in a folder anyone may write: refused, naming it */
	sub(dir, sizeof(dir), "open");
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
	CU_ASSERT_EQUAL(chmod(dir, 0777), 0);
	snprintf(link, sizeof(link), "%s/m.so", dir);
	CU_ASSERT_EQUAL_FATAL(symlink(target, link), 0);
	expect_refusal(link, &trust, "is writable by others (mode 0777)");
	expect_refusal(link, &trust, "chmod go-w");
	/* and so is a file in it, and anything below it */
	snprintf(p, sizeof(p), "%s/f.so", dir);
	copy_head(good, p, -1);
	expect_refusal(p, &trust, "is writable by others");
	/* a group-writable folder too */
	CU_ASSERT_EQUAL(chmod(dir, 0775), 0);
	expect_refusal(p, &trust, "is writable by its group");
	/* without the rule (not root) the same paths load */
	expect_load(link, &none, "fx-good-output");
	expect_load(p, &none, "fx-good-output");

	/* a link in a folder above the module */
	CU_ASSERT_EQUAL(chmod(dir, 0777), 0);
	snprintf(p, sizeof(p), "%s/up", dir);
	CU_ASSERT_EQUAL(symlink(lf_tmp, p), 0);
	snprintf(p, sizeof(p), "%s/up/real.so", dir);
	expect_refusal(p, &trust, "is writable by others");

	/* a sticky folder anyone may write (like /tmp): what a trusted user
	 * put there cannot be renamed or removed by others, so it is taken */
	CU_ASSERT_EQUAL(chmod(dir, 01777), 0);
	expect_load(link, &trust, "fx-good-output");
	snprintf(p, sizeof(p), "%s/f.so", dir);
	expect_load(p, &trust, "fx-good-output");
	if (geteuid() == 0) {
		/* ... but not what someone else put there */
		CU_ASSERT_EQUAL(lchown(link, 65534, 65534), 0);
		expect_refusal(link, &trust, "is owned by uid 65534 in the folder");
		CU_ASSERT_EQUAL(chown(p, 65534, 65534), 0);
		expect_refusal(p, &trust, "is owned by uid 65534 in the folder");
	}
	/* a folder owned by someone untrusted: its owner could change it */
	if (geteuid() == 0) {
		sub(dir, sizeof(dir), "theirs");
		CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
		CU_ASSERT_EQUAL(chown(dir, 65534, 65534), 0);
		snprintf(p, sizeof(p), "%s/f.so", dir);
		copy_head(good, p, -1);
		expect_refusal(p, &trust, "is owned by uid 65534, who could swap what it holds");
	}
}

static void test_link_loops_and_missing(void)
{
	char a[PATH_MAX], b[PATH_MAX], p[PATH_MAX];
	struct host_trust trust;

	strict_trust(&trust);
	sub(a, sizeof(a), "loop-a.so");
	sub(b, sizeof(b), "loop-b.so");
	CU_ASSERT_EQUAL(symlink(b, a), 0);
	CU_ASSERT_EQUAL(symlink(a, b), 0);
	expect_refusal(a, &trust, "more than 32 symbolic links");
	sub(p, sizeof(p), "nowhere/m.so");
	expect_refusal(p, &trust, "module file not found");
	sub(p, sizeof(p), "dangling.so");
	CU_ASSERT_EQUAL(symlink("/nonexistent/x.so", p), 0);
	expect_refusal(p, &trust, "module file not found");
}

/* Every truncation of a real module is refused, with one line naming the
 * file, before the dynamic loader could fault on it (SIGBUS). */
static void test_truncated_modules(void)
{
	char good[PATH_MAX], p[PATH_MAX], err[1024], name[64];
	struct host_trust trust;
	struct stat st;
	long size, cut;
	int refused = 0, tried = 0;

	strict_trust(&trust);
	fixture("fx_good_output", good, sizeof(good));
	CU_ASSERT_EQUAL_FATAL(stat(good, &st), 0);
	size = (long)st.st_size;
	sub(p, sizeof(p), "t.so");
	copy_head(good, p, 3000);  /* head -c 3000 good.so > t.so */
	expect_refusal(p, &trust, "truncated");
	for (cut = 0; cut < size; cut += cut < 128 ? 1 : 61) {
		copy_head(good, p, cut);
		tried++;
		if (open_and_load(p, &trust, name, sizeof(name), err, sizeof(err)) < 0 &&
		    (strstr(err, "truncated") || strstr(err, "not an ELF file")) &&
		    strncmp(err, p, strlen(p)) == 0)
			refused++;
		else
			fprintf(stderr, "\n  cut at %ld: %s\n", cut, err);
	}
	CU_ASSERT_EQUAL(refused, tried);
	copy_head(good, p, size - 1);
	expect_refusal(p, &trust, "truncated");
	copy_head(good, p, -1);
	expect_load(p, &trust, "fx-good-output");
}

/* The ELF checks themselves, on headers made up in memory. */
static int check_image(const void *p, size_t n, uint64_t size, char *err, size_t errlen)
{
	struct elf_buffer b = { p, n };

	return elf_image_check(elf_buffer_read, &b, size, err, errlen);
}

static void test_elf_checks(void)
{
	struct {
		Elf64_Ehdr eh;
		Elf64_Phdr ph[2];
	} img;
	char err[512];

	memset(&img, 0, sizeof(img));
	memcpy(img.eh.e_ident, ELFMAG, SELFMAG);
	img.eh.e_ident[EI_CLASS] = ELFCLASS64;
	img.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	img.eh.e_type = ET_DYN;
	img.eh.e_machine = EM_X86_64;
	img.eh.e_phoff = sizeof(img.eh);
	img.eh.e_phentsize = sizeof(Elf64_Phdr);
	img.eh.e_phnum = 2;
	img.ph[0].p_type = PT_LOAD;
	img.ph[0].p_filesz = sizeof(img);
	img.ph[1].p_type = PT_DYNAMIC;
	img.ph[1].p_offset = 64;
	img.ph[1].p_filesz = 16;
#if defined(__x86_64__)
	CU_ASSERT_EQUAL(check_image(&img, sizeof(img), sizeof(img), err, sizeof(err)), 0);
	/* a segment whose end wraps around 2^64 */
	img.ph[1].p_offset = UINT64_MAX - 8;
	CU_ASSERT_EQUAL(check_image(&img, sizeof(img), sizeof(img), err, sizeof(err)), -ENOEXEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "segment 1 (not loaded) needs bytes up to"));
	img.ph[1].p_offset = 64;
	/* program headers past the end */
	img.eh.e_phnum = 3;
	CU_ASSERT_EQUAL(check_image(&img, sizeof(img), sizeof(img), err, sizeof(err)), -ENOEXEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "program headers end at byte"));
	img.eh.e_phnum = 2;
	/* section headers past the end, and a count in section 0 */
	img.eh.e_shoff = 64;
	img.eh.e_shentsize = sizeof(Elf64_Shdr);
	img.eh.e_shnum = 4;
	CU_ASSERT_EQUAL(check_image(&img, sizeof(img), sizeof(img), err, sizeof(err)), -ENOEXEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "section headers at byte 64 do not fit"));
	img.eh.e_shnum = 0;  /* the count is section 0's sh_size: ph[0]'s bytes */
	CU_ASSERT_EQUAL(check_image(&img, sizeof(img), sizeof(img), err, sizeof(err)), -ENOEXEC);
	img.eh.e_shoff = 0;
	/* no PT_LOAD, not a shared object, another class */
	img.ph[0].p_type = PT_NOTE;
	CU_ASSERT_EQUAL(check_image(&img, sizeof(img), sizeof(img), err, sizeof(err)), -ENOEXEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no loadable segment"));
	img.ph[0].p_type = PT_LOAD;
	img.eh.e_type = ET_EXEC;
	CU_ASSERT_EQUAL(check_image(&img, sizeof(img), sizeof(img), err, sizeof(err)), -ENOEXEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a shared object"));
	img.eh.e_type = ET_DYN;
	img.eh.e_ident[EI_CLASS] = ELFCLASS32;
	CU_ASSERT_EQUAL(check_image(&img, sizeof(img), sizeof(img), err, sizeof(err)), -ENOEXEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not a 64-bit ELF file"));
#endif
	CU_ASSERT_EQUAL(check_image("\177EL", 3, 3, err, sizeof(err)), -ENOEXEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not an ELF file"));
	CU_ASSERT_EQUAL(check_image("\177ELF", 4, 4, err, sizeof(err)), -ENOEXEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "less than an ELF header"));
}

UNIT_SUITE(suite_loader_files)
{
	CU_pSuite s = CU_add_suite("loader files", lf_setup, lf_teardown);

	CU_add_test(s, "the module loaded is the file checked", test_loads_what_was_checked);
	CU_add_test(s, "modules loaded by fd are not confused", test_fd_names_not_confused);
	CU_add_test(s, "links and folders on the way are checked", test_links_and_folders);
	CU_add_test(s, "link loops and missing files", test_link_loops_and_missing);
	CU_add_test(s, "truncated modules are refused", test_truncated_modules);
	CU_add_test(s, "ELF header checks", test_elf_checks);
}
