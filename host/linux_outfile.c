/*
 * Output files for Linux (see core/host.h, host_out_*).
 *
 * A regular file is written whole into a new temporary file beside it
 * (same directory: O_CREAT | O_EXCL | O_NOFOLLOW, an unpredictable name)
 * and renamed over it only when complete, so a run that fails, or a flush
 * that is cut short, never harms what was there.  The path is resolved
 * component by component, as the kernel would, and a symbolic link is
 * followed only when the running user made it, or when it sits in a
 * directory that only the link's owner can change: a link planted in /tmp
 * by someone else is refused.  A FIFO, a device or a socket is written
 * directly, once, and never removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/host.h"

#define OUT_MAX_LINKS 40        /* as the kernel's own limit */
#define OUT_TMP_TRIES 64        /* names tried before giving up */
#define OUT_TMP_NAME_MAX 200    /* bytes of the target's name kept in the temp's */

struct host_out {
	char *path;             /* as given, for messages */
	int direct;             /* FIFO, device: written in place */
	int dirfd;              /* the folder the file is in; -1 when direct */
	char *name;             /* the file's name in dirfd */
	mode_t mode;            /* of a new file */
	int exists;             /* the file existed when prepared */
	dev_t dev;              /* identity: the file's, or its folder's */
	ino_t ino;
	FILE *stream;           /* between begin and commit/abort */
	char tmp[NAME_MAX + 1]; /* the temporary file's name in dirfd, "" if none */
};

/* "refusing ..." or "cannot write ..." with the path as given. */
static int out_fail(const struct host_out *o, int rc, char *err, size_t errlen,
		    const char *why)
{
	snprintf(err, errlen, "cannot write '%s': %s", o->path, why ? why : strerror(-rc));
	return rc;
}

/*
 * Whether the symbolic link at `link` (lstat in ls), in folder `dir`, may
 * be followed: the running user made it, or the link's owner owns the
 * folder and nobody else may write there (a link in a sticky /tmp owned by
 * another user is refused).
 */
static int out_link_trusted(const struct host_out *o, const char *link, const char *dir,
			    const struct stat *ls, char *err, size_t errlen)
{
	struct stat ds;
	char why[PATH_MAX + 160];

	if (ls->st_uid == geteuid())
		return 0;
	if (stat(dir[0] ? dir : "/", &ds) != 0)
		return out_fail(o, -errno, err, errlen, NULL);
	if (ds.st_uid == ls->st_uid && !(ds.st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	snprintf(why, sizeof(why), "%s is a symbolic link owned by another user (uid %u) "
		 "in a folder others can write to; refusing to follow it (remove it or "
		 "choose another path)", link, (unsigned)ls->st_uid);
	return out_fail(o, -EPERM, err, errlen, why);
}

/* The first component of *todo (slashes skipped) into c; *todo moves past
 * it.  0 when nothing is left. */
static size_t out_next_component(const char **todo, char *c, size_t clen)
{
	const char *p = *todo, *end;
	size_t n;

	while (*p == '/')
		p++;
	end = p;
	while (*end && *end != '/')
		end++;
	n = (size_t)(end - p);
	if (n >= clen)
		n = clen - 1;
	memcpy(c, p, n);
	c[n] = '\0';
	*todo = end;
	return (size_t)(end - p);
}

/*
 * Resolve o->path into done[PATH_MAX] (absolute, no symbolic links, no
 * trailing slash; its last component may not exist yet), checking every
 * link on the way.
 */
static int out_walk(struct host_out *o, char *done, char *err, size_t errlen)
{
	char todo[PATH_MAX], next[PATH_MAX], target[PATH_MAX], c[NAME_MAX + 1];
	const char *rest;
	int links = 0, rc;
	size_t n;

	done[0] = '\0';
	if (o->path[0] != '/') {
		if (!getcwd(done, PATH_MAX))
			return out_fail(o, -errno, err, errlen, NULL);
		if (strcmp(done, "/") == 0)
			done[0] = '\0';
	}
	if ((size_t)snprintf(todo, sizeof(todo), "%s", o->path) >= sizeof(todo))
		return out_fail(o, -ENAMETOOLONG, err, errlen, NULL);
	rest = todo;
	for (;;) {
		struct stat ls;
		ssize_t len;

		n = out_next_component(&rest, c, sizeof(c));
		if (n == 0)
			return 0;
		if (n > NAME_MAX)
			return out_fail(o, -ENAMETOOLONG, err, errlen, NULL);
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			char *slash = strrchr(done, '/');

			if (slash)
				*slash = '\0';
			continue;
		}
		if ((size_t)snprintf(next, sizeof(next), "%s/%s", done, c) >= sizeof(next))
			return out_fail(o, -ENAMETOOLONG, err, errlen, NULL);
		if (lstat(next, &ls) != 0) {
			rc = -errno;
			/* a missing last component is the file to create */
			if (rc == -ENOENT && rest[strspn(rest, "/")] == '\0') {
				memcpy(done, next, strlen(next) + 1);
				return 0;
			}
			return out_fail(o, rc, err, errlen, NULL);
		}
		if (!S_ISLNK(ls.st_mode)) {
			memcpy(done, next, strlen(next) + 1);
			continue;
		}
		if (++links > OUT_MAX_LINKS)
			return out_fail(o, -ELOOP, err, errlen, NULL);
		rc = out_link_trusted(o, next, done, &ls, err, errlen);
		if (rc)
			return rc;
		len = readlink(next, target, sizeof(target) - 1);
		if (len < 0)
			return out_fail(o, -errno, err, errlen, NULL);
		target[len] = '\0';
		if ((size_t)snprintf(next, sizeof(next), "%s/%s", target, rest) >= sizeof(next))
			return out_fail(o, -ENAMETOOLONG, err, errlen, NULL);
		memcpy(todo, next, strlen(next) + 1);
		rest = todo;
		if (target[0] == '/')
			done[0] = '\0';
	}
}

/* The folder part of an absolute resolved path into o->dirfd, and its last
 * component into o->name. */
static int out_open_dir(struct host_out *o, char *resolved, char *err, size_t errlen)
{
	char *slash = strrchr(resolved, '/');
	struct stat ds, st;

	if (!slash || !slash[1])
		return out_fail(o, -EISDIR, err, errlen, "it is a folder");
	*slash = '\0';
	o->name = strdup(slash + 1);
	if (!o->name)
		return out_fail(o, -ENOMEM, err, errlen, NULL);
	o->dirfd = open(resolved[0] ? resolved : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->dirfd < 0)
		return out_fail(o, -errno, err, errlen, NULL);
	if (fstat(o->dirfd, &ds) != 0)
		return out_fail(o, -errno, err, errlen, NULL);
	if (faccessat(o->dirfd, ".", W_OK | X_OK, AT_EACCESS) != 0)
		return out_fail(o, -errno, err, errlen, NULL);
	/* 0644 less the umask; as root in a folder others can write to, 0600 */
	o->mode = (geteuid() == 0 && (ds.st_mode & (S_IWGRP | S_IWOTH))) ? 0600 : 0644;

	if (fstatat(o->dirfd, o->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT)
			return out_fail(o, -errno, err, errlen, NULL);
		o->dev = ds.st_dev;
		o->ino = ds.st_ino;
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return out_fail(o, -EISDIR, err, errlen, "it is a folder");
	if (!S_ISREG(st.st_mode))
		return out_fail(o, -EAGAIN, err, errlen, "it changed while it was checked");
	/* In a sticky folder only the owners may replace a file. */
	if ((ds.st_mode & S_ISVTX) && geteuid() != 0 && st.st_uid != geteuid() &&
	    ds.st_uid != geteuid())
		return out_fail(o, -EPERM, err, errlen, "it belongs to another user and the "
				"folder is sticky; remove it or choose another path");
	o->exists = 1;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	return 0;
}

int host_out_prepare(const char *path, struct host_out **out, char *err, size_t errlen)
{
	struct host_out *o = calloc(1, sizeof(*o));
	char resolved[PATH_MAX];
	struct stat st;
	int rc;

	*out = NULL;
	if (!o || !(o->path = strdup(path))) {
		free(o);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->dirfd = -1;
	rc = out_walk(o, resolved, err, errlen);
	if (rc)
		goto out_free;
	/* A FIFO, device or socket (/dev/null, /dev/stdout): written directly. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		o->direct = 1;
		o->exists = 1;
		o->dev = st.st_dev;
		o->ino = st.st_ino;
		*out = o;
		return 0;
	}
	rc = out_open_dir(o, resolved, err, errlen);
	if (rc)
		goto out_free;
	*out = o;
	return 0;

out_free:
	host_out_free(o);
	return rc;
}

int host_out_same(const struct host_out *a, const struct host_out *b)
{
	if (a->dev != b->dev || a->ino != b->ino || a->exists != b->exists)
		return 0;
	/* files that do not exist yet: the same folder and the same name */
	return a->exists || strcmp(a->name, b->name) == 0;
}

int host_out_rewritable(const struct host_out *o)
{
	return !o->direct;
}

/* A new temporary file beside the target: its fd, or a negative errno. */
static int out_create_temp(struct host_out *o)
{
	unsigned char rnd[8];
	size_t keep = strlen(o->name);
	int tries, fd, i;

	if (keep > OUT_TMP_NAME_MAX)
		keep = OUT_TMP_NAME_MAX;
	for (tries = 0; tries < OUT_TMP_TRIES; tries++) {
		char hex[17];

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -EIO;
		for (i = 0; i < 8; i++)
			snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
		snprintf(o->tmp, sizeof(o->tmp), ".%.*s.%s.tmp", (int)keep, o->name, hex);
		fd = openat(o->dirfd, o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    o->mode);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST) {
			o->tmp[0] = '\0';
			return -errno;
		}
	}
	o->tmp[0] = '\0';
	return -EEXIST;
}

/* The FIFO or device itself, checked to be the one prepared. */
static int out_open_direct(struct host_out *o)
{
	struct stat st;
	int fd = open(o->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || st.st_dev != o->dev || st.st_ino != o->ino ||
	    S_ISREG(st.st_mode)) {
		close(fd);
		return -EAGAIN;
	}
	return fd;
}

int host_out_begin(struct host_out *o, FILE **stream, char *err, size_t errlen)
{
	int fd;

	if (o->stream)
		host_out_abort(o);
	fd = o->direct ? out_open_direct(o) : out_create_temp(o);
	if (fd < 0)
		return out_fail(o, fd, err, errlen, fd == -EAGAIN ?
				"it changed since it was checked" : NULL);
	o->stream = fdopen(fd, "w");
	if (!o->stream) {
		int rc = -errno;

		close(fd);
		host_out_abort(o);
		return out_fail(o, rc, err, errlen, NULL);
	}
	*stream = o->stream;
	return 0;
}

int host_out_commit(struct host_out *o, char *err, size_t errlen)
{
	int rc = 0;

	if (!o->stream)
		return out_fail(o, -EINVAL, err, errlen, "nothing was begun");
	if (fflush(o->stream) != 0 || ferror(o->stream))
		rc = -(errno ? errno : EIO);
	else if (!o->direct && fsync(fileno(o->stream)) != 0)
		rc = -errno;
	if (fclose(o->stream) != 0 && !rc)
		rc = -errno;
	o->stream = NULL;
	if (!rc && !o->direct && renameat(o->dirfd, o->tmp, o->dirfd, o->name) != 0)
		rc = -errno;
	if (rc) {
		host_out_abort(o);
		return out_fail(o, rc, err, errlen, NULL);
	}
	o->tmp[0] = '\0';
	return 0;
}

void host_out_abort(struct host_out *o)
{
	if (o->stream) {
		fclose(o->stream);
		o->stream = NULL;
	}
	/* only the temporary file is ever removed, never the target */
	if (o->tmp[0]) {
		unlinkat(o->dirfd, o->tmp, 0);
		o->tmp[0] = '\0';
	}
}

void host_out_free(struct host_out *o)
{
	if (!o)
		return;
	host_out_abort(o);
	if (o->dirfd >= 0)
		close(o->dirfd);
	free(o->name);
	free(o->path);
	free(o);
}
