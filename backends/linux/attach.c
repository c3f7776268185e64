/*
 * Linux backend: attaching to a process (proving we may read it), letting
 * it go, and what the OS says of it (info).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lnx.h"

#define LNX_PROBE_MAPS 16 /* mappings tried by attach's read probe */

static int lnx_is_special_map(const char *path)
{
	return strcmp(path, "[vvar]") == 0 || strcmp(path, "[vsyscall]") == 0 ||
	       strcmp(path, "[vvar_vclock]") == 0;
}

/* Read a few bytes of readable mappings: proves we may read the process. */
static int lnx_probe(struct pyspy_proc *proc, char *err, size_t errlen)
{
	struct lnx_maplist *ml = &proc->maps;
	unsigned char buf[8];
	struct pyspy_iov iov;
	size_t i, tried = 0;
	int rc;

	rc = lnx_maps_parse(proc->host, proc->pid, proc->mem_pid, ml);
	if (rc == -EACCES || rc == -EPERM)
		return lnx_perm_error(proc->pid, err, errlen);
	if (rc == -ENOENT || rc == -ESRCH) {
		snprintf(err, errlen, "no such process: %d", (int)proc->pid);
		return -ESRCH;
	}
	if (rc) {
		snprintf(err, errlen, "cannot read /proc/%d/maps: %s", (int)proc->pid,
			 strerror(-rc));
		return rc;
	}
	for (i = 0; i < ml->n && tried < LNX_PROBE_MAPS; i++) {
		const struct pyspy_map *m = &ml->maps[i];

		if (!(m->prot & PYSPY_PROT_READ) || lnx_is_special_map(m->path) ||
		    m->end - m->start < sizeof(buf))
			continue;
		tried++;
		iov.remote = m->start;
		iov.local = buf;
		iov.len = sizeof(buf);
		rc = lnx_read(proc, &iov, 1, sizeof(iov));
		if (rc == 1)
			return 0;
		if (rc == -EPERM || rc == -EACCES)
			return lnx_perm_error(proc->pid, err, errlen);
		if (rc == -ESRCH) {
			snprintf(err, errlen, "process %d has exited", (int)proc->pid);
			return -ESRCH;
		}
		if (rc < 0) {
			snprintf(err, errlen, "cannot read process %d: %s", (int)proc->pid,
				 strerror(-rc));
			return rc;
		}
	}
	/* A process that ended while it was looked at has no mappings left. */
	if (tried == 0 && !lnx_pid_running(proc->pid)) {
		snprintf(err, errlen, "process %d has exited", (int)proc->pid);
		return -ESRCH;
	}
	if (tried == 0) {
		snprintf(err, errlen, "process %d has no readable memory (a kernel thread?)",
			 (int)proc->pid);
		return -EINVAL;
	}
	snprintf(err, errlen, "cannot read any mapping of process %d", (int)proc->pid);
	return -EIO;
}

static void lnx_proc_free(struct pyspy_proc *proc)
{
	const struct pyspy_host *host = proc->host;
	size_t i;

	for (i = 0; i < proc->nstatfds; i++)
		close(proc->statfds[i].fd);
	if (proc->task_dir)
		closedir(proc->task_dir);
	if (proc->mem_fd >= 0)
		close(proc->mem_fd);
	lnx_maps_free(host, &proc->maps);
	lnx_free(host, proc->tids);
	lnx_free(host, proc->threads);
	lnx_free(host, proc->iovs);
	lnx_free(host, proc->bounce);
	lnx_free(host, proc->groups);
	lnx_free(host, proc->held);
	lnx_free(host, proc->late);
	lnx_free(host, proc->exe);
	lnx_free(host, proc->cmdline);
	lnx_free(host, proc->comm);
	lnx_free(host, proc);
}

int lnx_attach(const struct pyspy_host *host, int64_t pid, struct pyspy_proc **out,
	       char *err, size_t errlen)
{
	struct pyspy_proc *proc;
	const char *opt;
	char path[64];
	char st;
	int rc;

	if (pid <= 0 || pid > INT_MAX ||
	    lnx_proc_path(path, sizeof(path), (pid_t)pid, "stat") ||
	    (st = lnx_stat_state(path)) == 0) {
		snprintf(err, errlen, "no such process: %lld", (long long)pid);
		return -ESRCH;
	}
	if (!lnx_pid_running((pid_t)pid)) {
		snprintf(err, errlen, "process %lld has exited", (long long)pid);
		return -ESRCH;
	}
	proc = lnx_alloc(host, sizeof(*proc));
	if (!proc) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	proc->host = host;
	proc->pid = (pid_t)pid;
	proc->mem_pid = proc->pid;
	proc->mem_fd = -1;
	proc->is_child = lnx_stat_ppid(proc->pid) == getpid();
	rc = lnx_proc_path(path, sizeof(path), proc->pid, "task");
	if (rc == 0 && !(proc->task_dir = opendir(path)))
		rc = -errno;
	if (rc) {
		snprintf(err, errlen, "cannot open /proc/%d/task: %s", (int)proc->pid,
			 strerror(-rc));
		if (rc == -ENOENT)
			rc = -ESRCH;
		goto out_free;
	}
	if (lnx_pick_mem_task(proc)) {
		snprintf(err, errlen, "process %d has exited", (int)proc->pid);
		rc = -ESRCH;
		goto out_free;
	}
	opt = host->option ? host->option(host, "read") : NULL;
	if (opt && strcmp(opt, "proc-mem") == 0) {
		/* option read = proc-mem: never use process_vm_readv */
		rc = lnx_open_mem(proc);
		if (rc == -ENOENT) {
			snprintf(err, errlen, "no such process: %d", (int)proc->pid);
			rc = -ESRCH;
			goto out_free;
		}
		if (rc) {
			rc = lnx_perm_error(proc->pid, err, errlen);
			goto out_free;
		}
		proc->use_mem = 1;
	}
	rc = lnx_probe(proc, err, errlen);
	if (rc)
		goto out_free;
	*out = proc;
	return 0;

out_free:
	lnx_proc_free(proc);
	return rc;
}

void lnx_detach(struct pyspy_proc *proc)
{
	if (!proc)
		return;
	lnx_resume(proc); /* also the threads a pause gave up on, if stopped now */
	if (proc->reap_leader)
		lnx_alive(proc, NULL);
	lnx_proc_free(proc);
}

/* One /proc/TASK/<name> file as a string: NULs to spaces, no trailing
 * newline or space. */
static int lnx_proc_string(struct pyspy_proc *proc, pid_t task, const char *name, size_t max,
			   char **out)
{
	char path[64], *text;
	size_t len, i;
	int rc;

	rc = lnx_proc_path(path, sizeof(path), task, "%s", name);
	if (rc)
		return rc;
	rc = lnx_read_file(proc->host, path, max, &text, &len);
	if (rc)
		return rc;
	for (i = 0; i < len; i++)
		if (text[i] == '\0')
			text[i] = ' ';
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\n'))
		text[--len] = '\0';
	*out = text;
	return 0;
}

int lnx_info(struct pyspy_proc *proc, struct pyspy_proc_info *out, char *err, size_t errlen)
{
	const struct pyspy_host *host = proc->host;
	struct pyspy_proc_info info = { 0 };
	char path[64], exe[PATH_MAX], *cmdline = NULL, *comm = NULL;
	ssize_t n;
	int rc;

	if (!out || out->size < sizeof(out->size)) {
		snprintf(err, errlen, "proc_info struct too small");
		return -EINVAL;
	}
	/* The process's name is its main thread's, which outlives the thread
	 * as a zombie; its arguments and executable belong to its memory,
	 * which only a live thread still reaches (mem_pid). */
	lnx_pick_mem_task(proc);
	rc = lnx_proc_string(proc, proc->pid, "comm", 256, &comm);
	if (rc) {
		if (rc == -ENOENT || rc == -ESRCH) {
			snprintf(err, errlen, "process %d has exited", (int)proc->pid);
			return -ESRCH;
		}
		snprintf(err, errlen, "cannot read /proc/%d/comm: %s", (int)proc->pid,
			 strerror(-rc));
		return rc;
	}
	rc = lnx_proc_string(proc, proc->mem_pid, "cmdline", LNX_MAX_CMDLINE, &cmdline);
	if (rc) {
		snprintf(err, errlen, "cannot read /proc/%d/cmdline: %s", (int)proc->pid,
			 strerror(-rc));
		goto out_free;
	}
	/* exe may be unreadable (kernel thread, permissions): then "" */
	n = -1;
	if (lnx_proc_path(path, sizeof(path), proc->mem_pid, "exe") == 0)
		n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';

	lnx_free(host, proc->exe);
	lnx_free(host, proc->cmdline);
	lnx_free(host, proc->comm);
	proc->exe = lnx_strdup(host, exe);
	proc->cmdline = cmdline;
	proc->comm = comm;
	if (!proc->exe) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* As much as the caller's struct holds (module.h). */
	info.size = out->size;
	info.pid = proc->pid;
	info.exe = proc->exe;
	info.cmdline = proc->cmdline;
	info.comm = proc->comm;
	memcpy(out, &info, out->size < sizeof(info) ? out->size : sizeof(info));
	return 0;

out_free:
	lnx_free(host, comm);
	lnx_free(host, cmdline);
	return rc;
}
