/*
 * memtarget: a process for the Linux backend's unit tests to read, list,
 * pause and inspect.  It fills known buffers, starts 3 threads (one that
 * never sleeps, two that block), prints what it made on stdout, one fact a
 * line, then "ready", and sleeps.  It ends itself after 120 s in case the
 * test that started it dies.
 *
 *   buf0 ADDR LEN     anonymous page, byte i = (i * 7 + 1) & 0xff
 *   hole ADDR         the page after buf0, unmapped
 *   buf2 ADDR LEN     the page after the hole, byte i = (i * 13 + 5) & 0xff
 *   buf1 ADDR LEN     static array in .data, byte i = (i * 3 + 2) & 0xff
 *   marker ADDR       the exported global memtarget_marker (MEMTARGET_MARKER)
 *   usr1 ADDR         counter the SIGUSR1 handler increments (in .bss)
 *   rt ADDR           counter the SIGRTMIN+1 handler increments (real-time
 *                     signals queue: every one sent is counted)
 *   spin TID          the thread that never sleeps
 *   sleep TID         (twice) threads blocked in nanosleep
 *   vfork TID         (with --vfork) the thread blocked in vfork
 *   ready
 *
 * SIGUSR1 also writes "usr1\n" on stdout.
 *
 * Arguments "--map FILE" (repeated) map each FILE read-only at offset 0, so
 * that the tests can ask the backend to parse it (corrupt ELF files);
 * "--churn" adds a thread that starts short-lived threads without end;
 * "--leader-exits" ends the main thread (pthread_exit) after "ready": the
 * process lives on in its other threads; "--vfork" adds a thread that
 * vforks, again and again, a child that sleeps 1 s: no signal interrupts
 * its wait (state D), so it reaches no ptrace stop for that long.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MEMTARGET_MARKER 0x5ca1ab1e0ddba11ul
#define BUF1_LEN 3000

unsigned long memtarget_marker = MEMTARGET_MARKER;
volatile sig_atomic_t memtarget_usr1;
volatile sig_atomic_t memtarget_rt;
static unsigned char buf1[BUF1_LEN] = { 1 }; /* initialised: lives in .data */
static volatile unsigned long spin_count;
static pthread_barrier_t started; /* the 3 threads have printed their line */

static pid_t self_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void on_usr1(int sig)
{
	__atomic_fetch_add(&memtarget_usr1, 1, __ATOMIC_SEQ_CST);
	(void)!write(STDOUT_FILENO, "usr1\n", 5);
}

/* atomic: two threads may run the handler at once */
static void on_rt(int sig)
{
	__atomic_fetch_add(&memtarget_rt, 1, __ATOMIC_SEQ_CST);
}

static void *spinner(void *arg)
{
	printf("spin %d\n", (int)self_tid());
	fflush(stdout);
	pthread_barrier_wait(&started);
	for (;;)
		spin_count++;
	return NULL;
}

static void *sleeper(void *arg)
{
	struct timespec ts = { 3600, 0 };

	printf("sleep %d\n", (int)self_tid());
	fflush(stdout);
	pthread_barrier_wait(&started);
	for (;;)
		nanosleep(&ts, NULL);
	return NULL;
}

static void *vforker(void *arg)
{
	struct timespec ts = { 1, 0 };
	pid_t child;

	printf("vfork %d\n", (int)self_tid());
	fflush(stdout);
	pthread_barrier_wait(&started);
	for (;;) {
		child = vfork();
		if (child == 0) {
			/* only system calls in a vfork child: it shares our stack */
			syscall(SYS_nanosleep, &ts, NULL);
			syscall(SYS_exit, 0);
		}
		if (child > 0)
			while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
				;
	}
	return NULL;
}

static void *short_lived(void *arg)
{
	return arg;
}

/* Start thread after thread, each ending at once. */
static void *churner(void *arg)
{
	pthread_t t;

	pthread_barrier_wait(&started);
	for (;;)
		if (pthread_create(&t, NULL, short_lived, NULL) == 0)
			pthread_join(t, NULL);
	return NULL;
}

/* "--map FILE": map FILE read-only; "--churn": *churn = 1;
 * "--leader-exits": *leader_exits = 1; "--vfork": *vfork_thread = 1. */
static int parse_args(int argc, char **argv, int *churn, int *leader_exits, int *vfork_thread)
{
	struct stat st;
	int i, fd;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--churn") == 0) {
			*churn = 1;
			continue;
		}
		if (strcmp(argv[i], "--leader-exits") == 0) {
			*leader_exits = 1;
			continue;
		}
		if (strcmp(argv[i], "--vfork") == 0) {
			*vfork_thread = 1;
			continue;
		}
		if (strcmp(argv[i], "--map") != 0 || i + 1 == argc)
			continue;
		fd = open(argv[++i], O_RDONLY);
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0 ||
		    mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED)
			return -1;
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	struct sigaction sa;
	pthread_t th[5];
	int churn = 0, leader_exits = 0, vfork_thread = 0;
	unsigned char *pages;
	long i;

	alarm(120);
	if (parse_args(argc, argv, &churn, &leader_exits, &vfork_thread))
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_rt;
	sigaction(SIGRTMIN + 1, &sa, NULL);

	pages = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED)
		return 1;
	munmap(pages + page, page);
	for (i = 0; i < page; i++) {
		pages[i] = (unsigned char)(i * 7 + 1);
		pages[2 * page + i] = (unsigned char)(i * 13 + 5);
	}
	for (i = 0; i < BUF1_LEN; i++)
		buf1[i] = (unsigned char)(i * 3 + 2);

	printf("buf0 %p %ld\n", (void *)pages, page);
	printf("hole %p\n", (void *)(pages + page));
	printf("buf2 %p %ld\n", (void *)(pages + 2 * page), page);
	printf("buf1 %p %d\n", (void *)buf1, BUF1_LEN);
	printf("marker %p\n", (void *)&memtarget_marker);
	printf("usr1 %p\n", (void *)&memtarget_usr1);
	printf("rt %p\n", (void *)&memtarget_rt);
	fflush(stdout);

	pthread_barrier_init(&started, NULL, 4 + churn + vfork_thread);
	if (pthread_create(&th[0], NULL, spinner, NULL) ||
	    pthread_create(&th[1], NULL, sleeper, NULL) ||
	    pthread_create(&th[2], NULL, sleeper, NULL) ||
	    (churn && pthread_create(&th[3], NULL, churner, NULL)) ||
	    (vfork_thread && pthread_create(&th[4], NULL, vforker, NULL)))
		return 1;
	pthread_barrier_wait(&started);
	printf("ready\n");
	fflush(stdout);
	if (leader_exits)
		pthread_exit(NULL);
	for (;;)
		pause();
	return 0;
}
