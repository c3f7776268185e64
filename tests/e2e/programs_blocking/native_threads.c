/*
 * native_threads: a small shared library that test programs load with
 * ctypes, to give a Python process what the blocking-mode tests need:
 *
 *   native_start(n)      start n threads that never touch Python (no thread
 *                        state): thread 0 spins, the others sleep 1 ms at a
 *                        time; returns how many started
 *   native_tid(i)        kernel thread id of native thread i (0 if none)
 *   vfork_sleep(ms)      vfork a child that sleeps ms and exits; the caller
 *                        waits in vfork meanwhile (state D: no signal and no
 *                        ptrace stop interrupts it); 0 or -errno
 *   trace_thread(tid)    fork a process that holds thread tid of this
 *                        process with PTRACE_SEIZE (the thread runs on) and
 *                        lives as long as the thread that called this;
 *                        its pid, or -errno
 *
 * Built by the tests: cc -shared -fPIC -pthread native_threads.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_NATIVE 64

static volatile long native_tids[MAX_NATIVE];
static volatile unsigned long spins;

struct start {
	int index;
};

static void *native_main(void *arg)
{
	int index = (int)(long)arg;
	struct timespec ms = { 0, 1000000 };

	native_tids[index] = syscall(SYS_gettid);
	for (;;) {
		if (index == 0)
			spins++;
		else
			nanosleep(&ms, NULL);
	}
	return NULL;
}

int native_start(int n)
{
	pthread_t t;
	int i, started = 0;

	for (i = 0; i < n && i < MAX_NATIVE; i++) {
		if (pthread_create(&t, NULL, native_main, (void *)(long)i) == 0) {
			pthread_detach(t);
			started++;
		}
	}
	/* each thread records its own tid */
	for (i = 0; i < started; i++)
		while (!native_tids[i])
			sched_yield();
	return started;
}

long native_tid(int i)
{
	return i >= 0 && i < MAX_NATIVE ? native_tids[i] : 0;
}

int vfork_sleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	pid_t child;
	int st;

	child = vfork();
	if (child == 0) {
		/* only system calls in a vfork child: it shares our stack */
		syscall(SYS_nanosleep, &ts, NULL);
		syscall(SYS_exit, 0);
	}
	if (child < 0)
		return -errno;
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int trace_thread(int tid)
{
	int fds[2];
	pid_t child;
	char ok = 0;

	if (pipe(fds) < 0)
		return -errno;
	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		ok = ptrace(PTRACE_SEIZE, tid, NULL, NULL) == 0;
		(void)!write(fds[1], &ok, 1);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (read(fds[0], &ok, 1) != 1)
		ok = 0;
	close(fds[0]);
	return ok ? (int)child : -EPERM;
}
