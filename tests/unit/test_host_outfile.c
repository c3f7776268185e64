/*
 * The output file writer (host_out_*, host/linux_outfile.c): nothing is
 * touched before begin, an aborted or failed write leaves the old file,
 * a commit replaces it whole, begin/commit repeat (a flush), a FIFO or a
 * device is written in place, and two spellings of one file are the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "../../core/host.h"
#include "unit.h"

static char dir[256];

static int outfile_init(void)
{
	return unit_make_tmpdir(dir, sizeof(dir), "outfile") == 0 ? 0 : -1;
}

static int outfile_clean(void)
{
	return unit_remove_tree(dir) == 0 ? 0 : -1;
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

/* The file's text (at most len - 1 bytes), "" if it cannot be read. */
static const char *read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* How many entries the test folder holds. */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_prepare_touches_nothing(void)
{
	char path[PATH_MAX], err[512];
	struct host_out *o;

	path_of(path, sizeof(path), "new.txt");
	CU_ASSERT_EQUAL_FATAL(host_out_prepare(path, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	CU_ASSERT_EQUAL(entries(), 0);
	host_out_free(o);
	CU_ASSERT_EQUAL(entries(), 0);
}

static void test_commit_replaces_abort_keeps(void)
{
	char path[PATH_MAX], err[512], buf[256];
	struct host_out *o;
	FILE *f;

	path_of(path, sizeof(path), "k.svg");
	write_file(path, "old");
	CU_ASSERT_EQUAL_FATAL(host_out_prepare(path, &o, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(host_out_rewritable(o));

	/* aborted: the old text stays, no temporary file is left */
	CU_ASSERT_EQUAL_FATAL(host_out_begin(o, &f, err, sizeof(err)), 0);
	fputs("half", f);
	CU_ASSERT_STRING_EQUAL(read_file(path, buf, sizeof(buf)), "old");
	CU_ASSERT_EQUAL(entries(), 2);  /* k.svg and the temporary file beside it */
	host_out_abort(o);
	CU_ASSERT_STRING_EQUAL(read_file(path, buf, sizeof(buf)), "old");
	CU_ASSERT_EQUAL(entries(), 1);

	/* written again and again (a flush): each commit is the whole file */
	CU_ASSERT_EQUAL_FATAL(host_out_begin(o, &f, err, sizeof(err)), 0);
	fputs("first", f);
	CU_ASSERT_EQUAL(host_out_commit(o, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(read_file(path, buf, sizeof(buf)), "first");
	CU_ASSERT_EQUAL_FATAL(host_out_begin(o, &f, err, sizeof(err)), 0);
	fputs("second", f);
	CU_ASSERT_STRING_EQUAL(read_file(path, buf, sizeof(buf)), "first");
	CU_ASSERT_EQUAL(host_out_commit(o, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(read_file(path, buf, sizeof(buf)), "second");
	CU_ASSERT_EQUAL(entries(), 1);

	/* freed while begun: aborted */
	CU_ASSERT_EQUAL_FATAL(host_out_begin(o, &f, err, sizeof(err)), 0);
	fputs("lost", f);
	host_out_free(o);
	CU_ASSERT_STRING_EQUAL(read_file(path, buf, sizeof(buf)), "second");
	CU_ASSERT_EQUAL(entries(), 1);
	unlink(path);
}

static void test_mode_ignores_umask_zero(void)
{
	char path[PATH_MAX], err[512];
	struct host_out *o;
	struct stat st;
	mode_t old = umask(0);
	FILE *f;

	chmod(dir, 0755);
	path_of(path, sizeof(path), "m.txt");
	CU_ASSERT_EQUAL_FATAL(host_out_prepare(path, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(host_out_begin(o, &f, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(host_out_commit(o, err, sizeof(err)), 0);
	host_out_free(o);
	umask(old);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0644);
	unlink(path);
}

static void test_same_file_whatever_the_spelling(void)
{
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], sub[PATH_MAX], err[512];
	struct host_out *oa, *ob, *oc;

	/* not there yet: the folder and the name */
	path_of(a, sizeof(a), "a.svg");
	path_of(b, sizeof(b), "./sub/../a.svg");
	path_of(c, sizeof(c), "b.svg");
	path_of(sub, sizeof(sub), "sub");
	CU_ASSERT_EQUAL_FATAL(mkdir(sub, 0755), 0);
	CU_ASSERT_EQUAL_FATAL(host_out_prepare(a, &oa, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(host_out_prepare(b, &ob, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(host_out_prepare(c, &oc, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(host_out_same(oa, ob));
	CU_ASSERT_FALSE(host_out_same(oa, oc));
	host_out_free(oa);
	host_out_free(ob);
	host_out_free(oc);

	/* there: device and inode, through a link of our own too */
	write_file(a, "x");
	path_of(b, sizeof(b), "link.svg");
	CU_ASSERT_EQUAL_FATAL(symlink("a.svg", b), 0);
	CU_ASSERT_EQUAL_FATAL(host_out_prepare(a, &oa, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(host_out_prepare(b, &ob, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(host_out_same(oa, ob));
	host_out_free(oa);
	host_out_free(ob);
	unlink(a);
	unlink(b);
	rmdir(sub);
}

static void test_fifo_and_device_written_in_place(void)
{
	char path[PATH_MAX], err[512], buf[64];
	struct host_out *o;
	struct stat st;
	FILE *f;
	int rfd;

	path_of(path, sizeof(path), "fifo");
	CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(host_out_prepare(path, &o, err, sizeof(err)), 0);
	CU_ASSERT_FALSE(host_out_rewritable(o));
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	CU_ASSERT_FATAL(rfd >= 0);
	CU_ASSERT_EQUAL_FATAL(host_out_begin(o, &f, err, sizeof(err)), 0);
	fputs("through", f);
	CU_ASSERT_EQUAL(host_out_commit(o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(read(rfd, buf, sizeof(buf)), 7);
	close(rfd);
	/* begun and dropped: a FIFO is never removed */
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	CU_ASSERT_EQUAL_FATAL(host_out_begin(o, &f, err, sizeof(err)), 0);
	host_out_free(o);
	close(rfd);
	CU_ASSERT_EQUAL(lstat(path, &st), 0);
	CU_ASSERT_TRUE(S_ISFIFO(st.st_mode));
	unlink(path);

	CU_ASSERT_EQUAL_FATAL(host_out_prepare("/dev/null", &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(host_out_begin(o, &f, err, sizeof(err)), 0);
	host_out_free(o);
	CU_ASSERT_EQUAL(lstat("/dev/null", &st), 0);
	CU_ASSERT_TRUE(S_ISCHR(st.st_mode));
}

static void test_refusals(void)
{
	char path[PATH_MAX], err[512];
	struct host_out *o = NULL;

	CU_ASSERT_EQUAL(host_out_prepare(dir, &o, err, sizeof(err)), -EISDIR);
	CU_ASSERT_PTR_NULL(o);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "it is a folder"));
	path_of(path, sizeof(path), "no/such/folder/x.svg");
	CU_ASSERT_EQUAL(host_out_prepare(path, &o, err, sizeof(err)), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot write '"));
	CU_ASSERT_EQUAL(entries(), 0);
}

UNIT_SUITE(host_outfile_suite)
{
	CU_pSuite s = CU_add_suite("host/outfile", outfile_init, outfile_clean);

	CU_add_test(s, "prepare creates nothing", test_prepare_touches_nothing);
	CU_add_test(s, "commit replaces whole, abort keeps the old file",
		    test_commit_replaces_abort_keeps);
	CU_add_test(s, "a new file is 0644 under umask 0", test_mode_ignores_umask_zero);
	CU_add_test(s, "one file whatever the spelling", test_same_file_whatever_the_spelling);
	CU_add_test(s, "FIFO and device written in place, never removed",
		    test_fifo_and_device_written_in_place);
	CU_add_test(s, "a folder, a missing folder", test_refusals);
}
