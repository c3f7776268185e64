/*
 * Linux backend: reading a process through /proc and process_vm_readv (or
 * /proc/PID/mem where process_vm_readv is refused): its map, its threads,
 * its memory.  Attaching to it is in attach.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lnx.h"

/* --- small helpers ------------------------------------------------------ */

void *lnx_alloc(const struct pyspy_host *host, size_t n)
{
	return host->alloc(n ? n : 1);
}

void *lnx_realloc(const struct pyspy_host *host, void *p, size_t n)
{
	return host->realloc(p, n ? n : 1);
}

void lnx_free(const struct pyspy_host *host, void *p)
{
	if (p)
		host->free(p);
}

char *lnx_strdup(const struct pyspy_host *host, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = lnx_alloc(host, n);

	if (d)
		memcpy(d, s, n);
	return d;
}

int lnx_proc_path(char *buf, size_t len, pid_t pid, const char *fmt, ...)
{
	va_list ap;
	int a, b;

	a = snprintf(buf, len, "/proc/%d/", (int)pid);
	if (a < 0 || (size_t)a >= len)
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	b = vsnprintf(buf + a, len - a, fmt, ap);
	va_end(ap);
	if (b < 0 || (size_t)b >= len - a)
		return -ENAMETOOLONG;
	return 0;
}

int lnx_read_file(const struct pyspy_host *host, const char *path, size_t max,
		  char **out, size_t *len)
{
	size_t cap = 4096, n = 0, room;
	char *buf, *nbuf;
	ssize_t r;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = lnx_alloc(host, cap);
	if (!buf) {
		rc = -ENOMEM;
		goto out_close;
	}
	while (n < max) { /* keep max bytes at most */
		if (n + 1 >= cap) {
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;

			nbuf = lnx_realloc(host, buf, ncap);
			if (!nbuf) {
				rc = -ENOMEM;
				goto out_free;
			}
			buf = nbuf;
			cap = ncap;
		}
		room = cap - 1 - n < max - n ? cap - 1 - n : max - n;
		r = read(fd, buf + n, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out_free;
		}
		if (r == 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	close(fd);
	*out = buf;
	*len = n;
	return 0;

out_free:
	lnx_free(host, buf);
out_close:
	close(fd);
	return rc;
}

/* The text after the last ')' of a stat line: comm may hold anything. */
static const char *lnx_stat_rest(char *buf, ssize_t n)
{
	char *p;

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == '\0')
		return NULL;
	return p + 2;
}

static ssize_t lnx_read_small(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	return n;
}

char lnx_stat_state(const char *path)
{
	char buf[1024];
	const char *rest;

	rest = lnx_stat_rest(buf, lnx_read_small(path, buf, sizeof(buf)));
	return rest ? rest[0] : 0;
}

pid_t lnx_stat_ppid(pid_t pid)
{
	char path[64], buf[1024];
	const char *rest;
	long ppid;

	if (lnx_proc_path(path, sizeof(path), pid, "stat"))
		return -1;
	rest = lnx_stat_rest(buf, lnx_read_small(path, buf, sizeof(buf)));
	/* "S 1234 ...": state, then ppid */
	if (!rest || sscanf(rest, "%*c %ld", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

static int lnx_dead_state(char st)
{
	return st == 0 || st == 'Z' || st == 'X' || st == 'x';
}

/* Whether a task other than the main thread is still alive. */
static int lnx_other_task_alive(pid_t pid)
{
	char path[96];
	struct dirent *de;
	unsigned n = 0;
	int alive = 0;
	DIR *d;

	if (lnx_proc_path(path, sizeof(path), pid, "task"))
		return 0;
	d = opendir(path);
	if (!d)
		return 0;
	while (!alive && n++ < LNX_MAX_THREADS && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || atoi(de->d_name) == pid)
			continue;
		if (lnx_proc_path(path, sizeof(path), pid, "task/%.20s/stat", de->d_name))
			continue;
		alive = !lnx_dead_state(lnx_stat_state(path));
	}
	closedir(d);
	return alive;
}

int lnx_pid_running(pid_t pid)
{
	char path[64];
	char st;

	if (lnx_proc_path(path, sizeof(path), pid, "stat"))
		return 0;
	st = lnx_stat_state(path);
	if (st != 'Z')
		return !lnx_dead_state(st);
	/* a zombie main thread: the process lives on while another thread does */
	return lnx_other_task_alive(pid);
}

/* --- the memory map ----------------------------------------------------- */

static int lnx_hex(const char **p, char end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int digits = 0;

	for (; *s && *s != end; s++, digits++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -EINVAL;
		if (digits >= 16)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	if (*s != end || digits == 0)
		return -EINVAL;
	*p = s + 1;
	*out = v;
	return 0;
}

/* Skip one space-terminated field and the space. */
static int lnx_skip_field(const char **p)
{
	const char *s = strchr(*p, ' ');

	if (!s)
		return -EINVAL;
	*p = s + 1;
	return 0;
}

/* "start-end perms offset dev inode   path" (line NUL-terminated). */
static int lnx_maps_line(char *line, struct pyspy_map *m)
{
	const char *p = line;

	memset(m, 0, sizeof(*m));
	if (lnx_hex(&p, '-', &m->start) || lnx_hex(&p, ' ', &m->end))
		return -EINVAL;
	if (strlen(p) < 5 || p[4] != ' ')
		return -EINVAL;
	if (p[0] == 'r')
		m->prot |= PYSPY_PROT_READ;
	if (p[1] == 'w')
		m->prot |= PYSPY_PROT_WRITE;
	if (p[2] == 'x')
		m->prot |= PYSPY_PROT_EXEC;
	p += 5;
	if (lnx_hex(&p, ' ', &m->offset))
		return -EINVAL;
	if (lnx_skip_field(&p)) /* dev */
		return -EINVAL;
	/* inode, then padding spaces, then the path (which may hold spaces) */
	while (*p && *p != ' ')
		p++;
	while (*p == ' ')
		p++;
	m->path = p;
	if (m->end < m->start)
		return -EINVAL;
	return 0;
}

static int lnx_map_cmp(const void *a, const void *b)
{
	const struct pyspy_map *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

void lnx_maps_free(const struct pyspy_host *host, struct lnx_maplist *ml)
{
	lnx_free(host, ml->maps);
	lnx_free(host, ml->text);
	memset(ml, 0, sizeof(*ml));
}

int lnx_maps_parse(const struct pyspy_host *host, pid_t pid, pid_t tid,
		   struct lnx_maplist *ml)
{
	char path[96], *text, *line, *nl;
	struct pyspy_map *maps;
	size_t len, lines = 0, n = 0, i;
	int rc, sorted = 1;

	memset(ml, 0, sizeof(*ml));
	if (tid == pid)
		rc = lnx_proc_path(path, sizeof(path), pid, "maps");
	else
		rc = lnx_proc_path(path, sizeof(path), pid, "task/%d/maps", (int)tid);
	if (rc)
		return rc;
	rc = lnx_read_file(host, path, LNX_MAX_MAPS_TEXT, &text, &len);
	if (rc)
		return rc;
	for (i = 0; i < len; i++)
		lines += text[i] == '\n';
	lines++;
	if (lines > LNX_MAX_MAPS)
		lines = LNX_MAX_MAPS;
	maps = lnx_alloc(host, lines * sizeof(*maps));
	if (!maps) {
		lnx_free(host, text);
		return -ENOMEM;
	}
	for (line = text; *line && n < lines; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		else
			nl = line + strlen(line);
		if (lnx_maps_line(line, &maps[n]))
			continue; /* malformed: skip rather than trust it */
		if (n && maps[n].start < maps[n - 1].start)
			sorted = 0;
		n++;
	}
	if (!sorted)
		qsort(maps, n, sizeof(*maps), lnx_map_cmp);
	ml->maps = maps;
	ml->n = n;
	ml->text = text;
	return 0;
}

int lnx_maps_read(struct pyspy_proc *proc, struct lnx_maplist *ml, char *err, size_t errlen)
{
	pid_t was = proc->mem_pid;
	int rc;

	rc = lnx_maps_parse(proc->host, proc->pid, proc->mem_pid, ml);
	/* the main thread has exited (its maps are empty) but others live */
	if (rc == 0 && ml->n == 0 && lnx_pick_mem_task(proc) == 0 && proc->mem_pid != was) {
		lnx_maps_free(proc->host, ml);
		rc = lnx_maps_parse(proc->host, proc->pid, proc->mem_pid, ml);
	}
	if (rc) {
		if (rc == -ENOENT)
			rc = -ESRCH;
		snprintf(err, errlen, "cannot read /proc/%d/maps: %s", (int)proc->pid,
			 strerror(-rc));
		return rc;
	}
	if (ml->n == 0 && !lnx_pid_running(proc->pid)) {
		lnx_maps_free(proc->host, ml);
		snprintf(err, errlen, "process %d has exited", (int)proc->pid);
		return -ESRCH;
	}
	return 0;
}

int lnx_maps(struct pyspy_proc *proc, const struct pyspy_map **maps, size_t *n,
	     size_t *map_size, char *err, size_t errlen)
{
	struct lnx_maplist ml;
	int rc;

	rc = lnx_maps_read(proc, &ml, err, errlen);
	if (rc)
		return rc;
	lnx_maps_free(proc->host, &proc->maps);
	proc->maps = ml;
	*maps = ml.maps;
	*n = ml.n;
	*map_size = sizeof(struct pyspy_map);
	return 0;
}

/* --- threads ------------------------------------------------------------ */

#define LNX_RELIST_NS 50000000ull /* 50 ms */

int lnx_task_list(struct pyspy_proc *proc)
{
	struct dirent *de;
	pid_t *ntids;
	char *end;
	long tid;

	proc->ntids = 0;
	rewinddir(proc->task_dir);
	errno = 0;
	while ((de = readdir(proc->task_dir)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		tid = strtol(de->d_name, &end, 10);
		if (*end || tid <= 0 || tid > INT_MAX)
			continue;
		if (proc->ntids == proc->tids_cap) {
			size_t cap = proc->tids_cap ? proc->tids_cap * 2 : 64;

			if (cap > LNX_MAX_THREADS)
				return -E2BIG;
			ntids = lnx_realloc(proc->host, proc->tids, cap * sizeof(*ntids));
			if (!ntids)
				return -ENOMEM;
			proc->tids = ntids;
			proc->tids_cap = cap;
		}
		proc->tids[proc->ntids++] = (pid_t)tid;
	}
	if (errno && errno != ENOENT && errno != ESRCH)
		return -errno;
	return proc->ntids ? 0 : -ESRCH;
}

/* The least recently used stat file, closed to make room. */
static struct lnx_statfd *lnx_statfd_evict(struct pyspy_proc *proc)
{
	struct lnx_statfd *old = &proc->statfds[0];
	size_t i;

	for (i = 1; i < proc->nstatfds; i++) {
		if (proc->statfds[i].used < old->used)
			old = &proc->statfds[i];
	}
	close(old->fd);
	return old;
}

/*
 * State letter of one task, 0 if it cannot be read (the task is gone).  Its
 * stat file stays open between calls (up to LNX_STAT_FDS of them, the least
 * recently used closed first): a pread at offset 0 reads it afresh for the
 * cost of one system call.  A file that fails (the task ended, its tid
 * reused) is opened again once.
 */
static char lnx_task_state(struct pyspy_proc *proc, pid_t tid)
{
	struct lnx_statfd *sf = NULL;
	char name[32], buf[1024];
	const char *rest;
	ssize_t r;
	size_t i;
	int fd;

	for (i = 0; i < proc->nstatfds; i++) {
		if (proc->statfds[i].tid == tid) {
			sf = &proc->statfds[i];
			break;
		}
	}
	if (sf) {
		sf->seen = 1;
		sf->used = ++proc->stat_clock;
		r = pread(sf->fd, buf, sizeof(buf) - 1, 0);
		rest = lnx_stat_rest(buf, r);
		if (rest)
			return rest[0];
		close(sf->fd);
		*sf = proc->statfds[--proc->nstatfds];
	}
	snprintf(name, sizeof(name), "%d/stat", (int)tid);
	fd = openat(dirfd(proc->task_dir), name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = pread(fd, buf, sizeof(buf) - 1, 0);
	rest = lnx_stat_rest(buf, r);
	if (!rest) {
		close(fd);
		return 0;
	}
	sf = proc->nstatfds < LNX_STAT_FDS ? &proc->statfds[proc->nstatfds++] : lnx_statfd_evict(proc);
	sf->tid = tid;
	sf->fd = fd;
	sf->seen = 1;
	sf->used = ++proc->stat_clock;
	return rest[0];
}

int lnx_thread_state(struct pyspy_proc *proc, int64_t tid)
{
	char st;

	if (tid <= 0 || tid > INT_MAX)
		return -EINVAL;
	st = lnx_task_state(proc, (pid_t)tid);
	if (lnx_dead_state(st))
		return -ESRCH;
	return st == 'R' ? PYSPY_THREAD_RUNNING : PYSPY_THREAD_IDLE;
}

/* Close the stat files of tasks the last listing did not show. */
static void lnx_statfds_prune(struct pyspy_proc *proc)
{
	size_t i = 0;

	while (i < proc->nstatfds) {
		if (proc->statfds[i].seen) {
			proc->statfds[i++].seen = 0;
			continue;
		}
		close(proc->statfds[i].fd);
		proc->statfds[i] = proc->statfds[--proc->nstatfds];
	}
}

/* Monotonic clock, nanoseconds. */
uint64_t lnx_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int lnx_threads(struct pyspy_proc *proc, const struct pyspy_os_thread **threads,
		size_t *n, size_t *thread_size, char *err, size_t errlen)
{
	uint64_t now;
	struct pyspy_os_thread *t;
	size_t i, k = 0;
	char st;
	int rc;

	/* Listing the task folder costs three system calls; the stat files of
	 * known tasks stay open.  List again at most every LNX_RELIST_NS: a new
	 * thread is seen that much later, reported as unknown meanwhile. */
	now = lnx_now_ns();
	rc = 0;
	if (proc->ntids == 0 || now - proc->listed_ns >= LNX_RELIST_NS) {
		rc = lnx_task_list(proc);
		proc->listed_ns = now;
	}
	if (rc) {
		if (rc == -ESRCH)
			snprintf(err, errlen, "process %d has exited", (int)proc->pid);
		else
			snprintf(err, errlen, "cannot list /proc/%d/task: %s", (int)proc->pid,
				 strerror(-rc));
		return rc;
	}
	if (proc->threads_cap < proc->ntids) {
		t = lnx_realloc(proc->host, proc->threads, proc->ntids * sizeof(*t));
		if (!t) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		proc->threads = t;
		proc->threads_cap = proc->ntids;
	}
	for (i = 0; i < proc->ntids; i++) {
		st = lnx_task_state(proc, proc->tids[i]);
		if (lnx_dead_state(st))
			continue; /* exited since the listing */
		t = &proc->threads[k++];
		memset(t, 0, sizeof(*t));
		t->tid = proc->tids[i];
		t->state = st == 'R' ? PYSPY_THREAD_RUNNING : PYSPY_THREAD_IDLE;
	}
	if (rc == 0 && proc->listed_ns == now)
		lnx_statfds_prune(proc);
	if (k == 0 && proc->listed_ns != now) {
		/* Every known task is gone: list again before saying so. */
		proc->ntids = 0;
		return lnx_threads(proc, threads, n, thread_size, err, errlen);
	}
	if (k == 0) {
		snprintf(err, errlen, "process %d has exited", (int)proc->pid);
		return -ESRCH;
	}
	*threads = proc->threads;
	*n = k;
	*thread_size = sizeof(struct pyspy_os_thread);
	return 0;
}

/* --- reading memory ----------------------------------------------------- */

/* Whether a failed read means the process is gone. */
static int lnx_gone(struct pyspy_proc *proc)
{
	return !lnx_pid_running(proc->pid);
}

int lnx_open_mem(struct pyspy_proc *proc)
{
	char path[96];
	int rc;

	if (proc->mem_fd >= 0)
		return 0;
	if (proc->mem_pid == proc->pid)
		rc = lnx_proc_path(path, sizeof(path), proc->pid, "mem");
	else
		rc = lnx_proc_path(path, sizeof(path), proc->pid, "task/%d/mem",
				   (int)proc->mem_pid);
	if (rc)
		return rc;
	proc->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	return proc->mem_fd < 0 ? -errno : 0;
}

/* pread on /proc/PID/mem, one range after the other. */
static int lnx_read_mem(struct pyspy_proc *proc, const struct pyspy_iov *iov, size_t n)
{
	size_t i, got;
	ssize_t r;

	for (i = 0; i < n; i++) {
		if (iov[i].remote > (uint64_t)INT64_MAX - iov[i].len)
			return (int)i;
		for (got = 0; got < iov[i].len; got += r) {
			r = pread(proc->mem_fd, (char *)iov[i].local + got, iov[i].len - got,
				  (off_t)(iov[i].remote + got));
			if (r < 0 && errno == EINTR) {
				r = 0;
				continue;
			}
			if (r <= 0) /* EIO: unmapped; 0: no mm any more */
				return lnx_gone(proc) ? -ESRCH : (int)i;
		}
	}
	return (int)i;
}

/*
 * Group ranges that follow each other in the request and lie close in
 * memory: the kernel pins the pages of each remote range in a call of its
 * own, and those calls are most of the cost of a read.  A range joins the
 * group before it when less than a page separates it from the bytes the
 * group covers, so a group never touches a page its ranges do not.
 * Returns the number of groups, or 0 if grouping saves nothing.
 */
static size_t lnx_group(struct pyspy_proc *proc, const struct pyspy_iov *iov, size_t n, size_t *bounce)
{
	struct lnx_group *g = NULL;
	size_t i, ng = 0;

	*bounce = 0;
	if (n < 2 || n > IOV_MAX)
		return 0;
	if (proc->groups_cap < n) {
		g = lnx_realloc(proc->host, proc->groups, n * sizeof(*g));
		if (!g)
			return 0;
		proc->groups = g;
		proc->groups_cap = n;
	}
	g = NULL;
	for (i = 0; i < n; i++) {
		uint64_t lo = iov[i].remote, hi = lo + iov[i].len;

		if (iov[i].len == 0 || hi < lo)
			return 0;
		if (g && lo < g->hi + LNX_MIN_PAGE && g->lo < hi + LNX_MIN_PAGE &&
		    (hi > g->hi ? hi : g->hi) - (lo < g->lo ? lo : g->lo) <= LNX_GROUP_SPAN) {
			g->lo = lo < g->lo ? lo : g->lo;
			g->hi = hi > g->hi ? hi : g->hi;
			g->n++;
			continue;
		}
		g = &proc->groups[ng++];
		g->lo = lo;
		g->hi = hi;
		g->first = i;
		g->n = 1;
	}
	if (ng == n)
		return 0;
	for (i = 0; i < ng; i++) {
		g = &proc->groups[i];
		if (g->n > 1) {
			g->at = *bounce;
			*bounce += (size_t)(g->hi - g->lo);
		}
	}
	return *bounce <= LNX_BOUNCE_MAX ? ng : 0;
}

/* One call for the grouped ranges; 1 if every range was copied, 0 if the
 * caller must read them one by one (to learn which failed), -errno. */
static int lnx_read_grouped(struct pyspy_proc *proc, const struct pyspy_iov *iov, size_t n)
{
	struct iovec local[IOV_MAX], remote[IOV_MAX];
	size_t ng, bounce, i, k, total = 0;
	ssize_t got;

	ng = lnx_group(proc, iov, n, &bounce);
	if (ng == 0)
		return 0;
	if (proc->bounce_cap < bounce) {
		uint8_t *b = lnx_realloc(proc->host, proc->bounce, bounce);

		if (!b)
			return 0;
		proc->bounce = b;
		proc->bounce_cap = bounce;
	}
	for (i = 0; i < ng; i++) {
		const struct lnx_group *g = &proc->groups[i];

		remote[i].iov_base = (void *)(uintptr_t)g->lo;
		remote[i].iov_len = (size_t)(g->hi - g->lo);
		local[i].iov_base = g->n > 1 ? proc->bounce + g->at : iov[g->first].local;
		local[i].iov_len = remote[i].iov_len;
		total += remote[i].iov_len;
	}
	got = process_vm_readv(proc->mem_pid, local, ng, remote, ng, 0);
	if (got < 0 && errno != EFAULT && errno != EIO)
		return -errno;
	if (got < 0 || (size_t)got != total)
		return 0;
	for (i = 0; i < ng; i++) {
		const struct lnx_group *g = &proc->groups[i];

		for (k = g->first; g->n > 1 && k < g->first + g->n; k++)
			memcpy(iov[k].local, proc->bounce + g->at + (iov[k].remote - g->lo), iov[k].len);
	}
	return 1;
}

/* process_vm_readv in batches of IOV_MAX ranges: how many leading ranges
 * were copied, or -errno of the first failing call. */
static int lnx_read_vm(struct pyspy_proc *proc, const struct pyspy_iov *iov, size_t n)
{
	struct iovec local[IOV_MAX], remote[IOV_MAX];
	size_t done = 0, k, i, total;
	ssize_t got;
	int rc;

	rc = lnx_read_grouped(proc, iov, n);
	if (rc)
		return rc < 0 ? rc : (int)n;
	while (done < n) {
		total = 0;
		for (k = 0; k < IOV_MAX && done + k < n; k++) {
			const struct pyspy_iov *v = &iov[done + k];

			if (v->len > (size_t)SSIZE_MAX - total)
				break;
			total += v->len;
			local[k].iov_base = v->local;
			local[k].iov_len = v->len;
			remote[k].iov_base = (void *)(uintptr_t)v->remote;
			remote[k].iov_len = v->len;
		}
		if (k == 0)
			return (int)done; /* a range too long to read at all */
		got = process_vm_readv(proc->mem_pid, local, k, remote, k, 0);
		if (got < 0) {
			if (errno == EFAULT || errno == EIO)
				return (int)done; /* the first range of the batch */
			return -errno;
		}
		for (i = 0; i < k && (size_t)got >= remote[i].iov_len; i++)
			got -= remote[i].iov_len;
		done += i;
		if (i < k)
			return (int)done;
	}
	return (int)done;
}

int lnx_pick_mem_task(struct pyspy_proc *proc)
{
	pid_t was = proc->mem_pid, pick = 0;
	char path[96];
	size_t i;

	if (lnx_proc_path(path, sizeof(path), proc->pid, "stat") == 0 &&
	    !lnx_dead_state(lnx_stat_state(path))) {
		pick = proc->pid;
	} else if (lnx_task_list(proc) == 0) {
		for (i = 0; i < proc->ntids && !pick; i++) {
			if (lnx_proc_path(path, sizeof(path), proc->pid, "task/%d/stat",
					  (int)proc->tids[i]) == 0 &&
			    !lnx_dead_state(lnx_stat_state(path)))
				pick = proc->tids[i];
		}
	}
	if (!pick)
		return -ESRCH;
	proc->mem_pid = pick;
	if (pick != was && proc->mem_fd >= 0) {
		close(proc->mem_fd);
		proc->mem_fd = -1;
	}
	return 0;
}

static int lnx_read_once(struct pyspy_proc *proc, const struct pyspy_iov *iov, size_t n)
{
	int rc;

	if (proc->use_mem) {
		rc = lnx_open_mem(proc);
		if (rc)
			return lnx_gone(proc) ? -ESRCH : rc;
		return lnx_read_mem(proc, iov, n);
	}
	rc = lnx_read_vm(proc, iov, n);
	if (rc >= 0 || rc == -ESRCH || rc == -ENOMEM)
		return rc;
	if (lnx_gone(proc))
		return -ESRCH;
	if (rc != -EPERM && rc != -ENOSYS)
		return rc;
	/* process_vm_readv refused: /proc/PID/mem may still be allowed */
	if (lnx_open_mem(proc))
		return rc;
	proc->use_mem = 1;
	return lnx_read_mem(proc, iov, n);
}

/* The caller's ranges as our own struct pyspy_iov array: itself when its
 * elements are ours, else a copy of each (module.h), NULL without memory. */
static const struct pyspy_iov *lnx_own_iovs(struct pyspy_proc *proc, const struct pyspy_iov *iov,
					    size_t n, size_t iov_size)
{
	struct pyspy_iov *v;
	size_t i;

	if (iov_size == sizeof(struct pyspy_iov))
		return iov;
	if (proc->iovs_cap < n) {
		v = lnx_realloc(proc->host, proc->iovs, n * sizeof(*v));
		if (!v)
			return NULL;
		proc->iovs = v;
		proc->iovs_cap = n;
	}
	for (i = 0; i < n; i++)
		pyspy_copy_elem(&proc->iovs[i], sizeof(proc->iovs[i]), iov, i, iov_size);
	return proc->iovs;
}

int lnx_read(struct pyspy_proc *proc, const struct pyspy_iov *iov, size_t n, size_t iov_size)
{
	pid_t was = proc->mem_pid;
	int rc;

	if (n > INT_MAX)
		n = INT_MAX;
	if (n == 0)
		return 0;
	iov = lnx_own_iovs(proc, iov, n, iov_size);
	if (!iov)
		return -ENOMEM;
	rc = lnx_read_once(proc, iov, n);
	/* the main thread has exited but others live: read through one */
	if (rc == -ESRCH && lnx_pick_mem_task(proc) == 0 && proc->mem_pid != was)
		rc = lnx_read_once(proc, iov, n);
	return rc;
}
