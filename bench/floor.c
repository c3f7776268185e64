/*
 * The floor of a sampling profiler on this machine: the CPU time one
 * sleep-and-wake costs at a given rate, alone and with the least a sample
 * can read (one 8-byte process_vm_readv of the target).  Part of the
 * benchmark, not of py-spy.
 *
 *   floor RATE SECONDS [PID ADDRESS]
 *
 * prints "floor <microseconds of user+sys CPU per wake>".
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>

static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int main(int argc, char **argv)
{
	double rate, seconds, start;
	long period, n, i;
	struct timespec next;
	pid_t pid = 0;
	uint64_t addr = 0, word;

	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: floor RATE SECONDS [PID ADDRESS]\n");
		return 2;
	}
	rate = atof(argv[1]);
	seconds = atof(argv[2]);
	if (!(rate > 0 && rate <= 1e6) || !(seconds > 0)) {
		fprintf(stderr, "floor: bad rate or duration\n");
		return 2;
	}
	if (argc == 5) {
		pid = (pid_t)atol(argv[3]);
		addr = strtoull(argv[4], NULL, 0);
	}
	period = (long)(1e9 / rate);
	n = (long)(rate * seconds);
	clock_gettime(CLOCK_MONOTONIC, &next);
	start = cpu_us();
	for (i = 0; i < n; i++) {
		next.tv_nsec += period;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		if (pid) {
			struct iovec local = { &word, sizeof(word) };
			struct iovec remote = { (void *)(uintptr_t)addr, sizeof(word) };

			if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != sizeof(word)) {
				perror("floor: process_vm_readv");
				return 1;
			}
		}
	}
	printf("floor %.2f\n", (cpu_us() - start) / (double)n);
	return 0;
}
