/*
 * Host services for Linux: files (see core/host.h).  host_open_checked
 * walks a path one folder at a time so that what is checked is what gets
 * opened; the rest are thin wrappers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/host.h"

static void file_info_of(const struct stat *st, struct host_file_info *out)
{
	memset(out, 0, sizeof(*out));
	out->exists = 1;
	out->is_regular = S_ISREG(st->st_mode);
	out->is_dir = S_ISDIR(st->st_mode);
	out->uid = st->st_uid;
	out->mode = st->st_mode & 07777;
	out->group_writable = (st->st_mode & S_IWGRP) != 0;
	out->other_writable = (st->st_mode & S_IWOTH) != 0;
	out->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
}

int host_file_info(const char *path, struct host_file_info *out)
{
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (stat(path, &st) != 0)
		return -errno;
	file_info_of(&st, out);
	return 0;
}

/* --- opening a file through folders that are checked one by one --------- */

#define WALK_MAX_LINKS 32
#define WALK_MAX_DEPTH 256

/* The folders from / down to where the walk is; each stays open so that
 * ".." goes back to the very folder that was checked. */
struct walk {
	const struct host_trust *trust;
	int fd[WALK_MAX_DEPTH];
	struct stat st[WALK_MAX_DEPTH];
	size_t depth;            /* fd[depth - 1] is the current folder */
	char where[PATH_MAX];    /* its path as walked ("" for /) */
	char *err;
	size_t errlen;
};

static const char *walk_where(const struct walk *w)
{
	return w->where[0] ? w->where : "/";
}

static int trusted_uid(const struct host_trust *t, uid_t uid)
{
	size_t i;

	for (i = 0; i < t->nuid && i < HOST_TRUST_MAX_UIDS; i++) {
		if (t->uid[i] == (uint32_t)uid)
			return 1;
	}
	return 0;
}

/* A folder about to be passed through: owned by a trusted user. */
static int walk_check_dir(struct walk *w, const struct stat *st, const char *path)
{
	if (!w->trust->enforce || trusted_uid(w->trust, st->st_uid))
		return 0;
	snprintf(w->err, w->errlen, "the folder %s is owned by uid %u, who could swap what it holds (as root py-spy only trusts folders that root owns: install it with make install, or use a copy in such a folder)",
		 path[0] ? path : "/", (unsigned)st->st_uid);
	return -EPERM;
}

/* The entry `name` (of owner `uid`) taken in the current folder: nobody
 * untrusted may have put it there or be able to replace it. */
static int walk_check_entry(struct walk *w, const char *name, uid_t uid)
{
	const struct stat *dir = &w->st[w->depth - 1];

	if (!w->trust->enforce || !(dir->st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	if (!(dir->st_mode & S_ISVTX)) {
		snprintf(w->err, w->errlen, "the folder %s is writable by %s (mode %04o), who could swap %s (as root py-spy only trusts folders that only root can write: chmod go-w %s)",
			 walk_where(w), (dir->st_mode & S_IWOTH) ? "others" : "its group",
			 (unsigned)(dir->st_mode & 07777), name, walk_where(w));
		return -EPERM;
	}
	if (trusted_uid(w->trust, uid))
		return 0;
	snprintf(w->err, w->errlen, "%s/%s is owned by uid %u in the folder %s that others may write (as root py-spy only trusts what root put there)",
		 w->where, name, (unsigned)uid, walk_where(w));
	return -EPERM;
}

static int walk_push(struct walk *w, int fd, const struct stat *st, const char *name)
{
	size_t len = strlen(w->where);

	if (w->depth >= WALK_MAX_DEPTH ||
	    (size_t)snprintf(w->where + len, sizeof(w->where) - len, "/%s", name) >=
		    sizeof(w->where) - len) {
		w->where[len] = '\0';
		close(fd);
		snprintf(w->err, w->errlen, "the path is too deep or too long");
		return -ENAMETOOLONG;
	}
	w->fd[w->depth] = fd;
	w->st[w->depth] = *st;
	w->depth++;
	return 0;
}

/* Back to the parent folder (/ stays /). */
static void walk_pop(struct walk *w)
{
	char *slash;

	if (w->depth <= 1)
		return;
	close(w->fd[--w->depth]);
	slash = strrchr(w->where, '/');
	if (slash)
		*slash = '\0';
}

static void walk_close(struct walk *w)
{
	while (w->depth)
		close(w->fd[--w->depth]);
}

/* Start (again) at /. */
static int walk_root(struct walk *w)
{
	struct stat st;
	int fd;

	walk_close(w);
	w->where[0] = '\0';
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		int rc = -errno;

		if (fd >= 0)
			close(fd);
		snprintf(w->err, w->errlen, "cannot open /: %s", strerror(-rc));
		return rc;
	}
	w->fd[0] = fd;
	w->st[0] = st;
	w->depth = 1;
	return walk_check_dir(w, &st, "");
}

/*
 * The entry `name` of the current folder is a symbolic link (a link in a
 * folder passed the checks is as trusted as the folder): *rest becomes its
 * target followed by what was left of the path.
 */
static int walk_follow(struct walk *w, const char *name, const struct stat *lst,
		       const char *after, char *rest, size_t restlen, int *links)
{
	char target[PATH_MAX], joined[PATH_MAX];
	ssize_t n;
	int rc;

	rc = walk_check_entry(w, name, lst->st_uid);
	if (rc)
		return rc;
	if (++*links > WALK_MAX_LINKS) {
		snprintf(w->err, w->errlen, "more than %d symbolic links on the way", WALK_MAX_LINKS);
		return -ELOOP;
	}
	n = readlinkat(w->fd[w->depth - 1], name, target, sizeof(target) - 1);
	if (n <= 0) {
		rc = n < 0 ? -errno : -ENOENT;
		snprintf(w->err, w->errlen, "cannot read the link %s/%s: %s", w->where, name,
			 strerror(-rc));
		return rc;
	}
	target[n] = '\0';
	if ((size_t)snprintf(joined, sizeof(joined), "%s%s%s", target, after[0] ? "/" : "", after) >=
	    sizeof(joined) || strlen(joined) >= restlen) {
		snprintf(w->err, w->errlen, "the path through the link %s/%s is too long", w->where, name);
		return -ENAMETOOLONG;
	}
	memcpy(rest, joined, strlen(joined) + 1);
	return target[0] == '/' ? walk_root(w) : 0;
}

int host_open_checked(const char *path, const struct host_trust *trust,
		      struct host_file_info *fi, char *err, size_t errlen)
{
	char rest[PATH_MAX], name[NAME_MAX + 1], cwd[PATH_MAX];
	const char *p, *end, *after;
	struct walk w;
	struct stat st;
	int links = 0, last, fd, rc;

	memset(fi, 0, sizeof(*fi));
	memset(&w, 0, sizeof(w));
	w.trust = trust;
	w.err = err;
	w.errlen = errlen;
	err[0] = '\0';
	if (path[0] == '/')
		rc = snprintf(rest, sizeof(rest), "%s", path);
	else if (getcwd(cwd, sizeof(cwd)))
		rc = snprintf(rest, sizeof(rest), "%s/%s", cwd, path);
	else {
		rc = -errno;
		snprintf(err, errlen, "cannot tell the working folder: %s", strerror(-rc));
		return rc;
	}
	if (rc < 0 || (size_t)rc >= sizeof(rest)) {
		snprintf(err, errlen, "the path is too long");
		return -ENAMETOOLONG;
	}
	rc = walk_root(&w);
	if (rc)
		goto out_close;
	for (;;) {
		for (p = rest; *p == '/'; p++)
			;
		end = strchrnul(p, '/');
		for (after = end; *after == '/'; after++)
			;
		last = *after == '\0';
		if (end == p)
			memcpy(name, ".", 2);  /* "/" or "dir/": the folder itself */
		else if ((size_t)(end - p) > NAME_MAX) {
			snprintf(err, errlen, "a name in the path is longer than %d bytes", NAME_MAX);
			rc = -ENAMETOOLONG;
			goto out_close;
		} else {
			memcpy(name, p, (size_t)(end - p));
			name[end - p] = '\0';
		}
		if (!last && strcmp(name, ".") == 0) {
			memmove(rest, after, strlen(after) + 1);
			continue;
		}
		if (!last && strcmp(name, "..") == 0) {
			walk_pop(&w);
			memmove(rest, after, strlen(after) + 1);
			continue;
		}
		if (last && strcmp(name, "..") == 0) {
			walk_pop(&w);
			memcpy(name, ".", 2);
		}
		if (last)
			fd = openat(w.fd[w.depth - 1], name,
				    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		else
			fd = openat(w.fd[w.depth - 1], name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			if ((rc == -ELOOP || rc == -ENOTDIR) &&
			    fstatat(w.fd[w.depth - 1], name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode)) {
				char tail[PATH_MAX];

				memcpy(tail, after, strlen(after) + 1);
				rc = walk_follow(&w, name, &st, tail, rest, sizeof(rest), &links);
				if (rc)
					goto out_close;
				continue;
			}
			if (!err[0])
				snprintf(err, errlen, "%s", strerror(-rc));
			goto out_close;
		}
		if (fstat(fd, &st) != 0) {
			rc = -errno;
			close(fd);
			snprintf(err, errlen, "cannot stat %s/%s: %s", w.where, name, strerror(-rc));
			goto out_close;
		}
		rc = walk_check_entry(&w, name, st.st_uid);
		if (!rc && !last)
			rc = walk_push(&w, fd, &st, name);
		else if (rc)
			close(fd);
		if (rc)
			goto out_close;
		if (last) {
			walk_close(&w);
			file_info_of(&st, fi);
			return fd;
		}
		rc = walk_check_dir(&w, &st, w.where);
		if (rc)
			goto out_close;
		memmove(rest, after, strlen(after) + 1);
	}

out_close:
	walk_close(&w);
	return rc;
}

long host_fd_read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = pread(fd, (char *)buf + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (long)got;
}

int host_dir_each(const char *dir, int (*fn)(void *ctx, const char *name), void *ctx)
{
	struct dirent *de;
	int rc = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -errno;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = fn(ctx, de->d_name);
	}
	closedir(d);
	return rc;
}

int host_cwd(char *buf, size_t len)
{
	return getcwd(buf, len) ? 0 : -errno;
}
