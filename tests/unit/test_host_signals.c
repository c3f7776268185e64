/*
 * The host's signal flags: a handler sets a bit, the run loop takes them
 * all at once.  Taking is one atomic exchange, so a signal that arrives
 * while the loop takes the flags is either in what it took or still
 * pending for the next take, never lost (it used to be a read, then a
 * clear, with a window between them).
 */
#include <signal.h>
#include <string.h>

#include "../../core/host.h"
#include "unit.h"

static void test_take_and_peek(void)
{
	struct sigaction saved[3];
	static const int sigs[] = { SIGINT, SIGWINCH, SIGCHLD };
	unsigned got;
	int i, n;

	for (i = 0; i < 3; i++)
		sigaction(sigs[i], NULL, &saved[i]);
	CU_ASSERT_EQUAL_FATAL(host_signals_install(), 0);
	host_signals_take();
	CU_ASSERT_EQUAL(host_signals_peek(), 0);
	raise(SIGINT);
	raise(SIGWINCH);
	CU_ASSERT_EQUAL(host_signals_peek(), HOST_SIG_INT | HOST_SIG_WINCH);
	CU_ASSERT_EQUAL(host_signals_take(), HOST_SIG_INT | HOST_SIG_WINCH);
	CU_ASSERT_EQUAL(host_signals_take(), 0);
	/* every signal raised between takes is in exactly one take */
	for (n = 0, i = 0; i < 1000; i++) {
		raise(SIGCHLD);
		got = host_signals_take();
		n += (got & HOST_SIG_CHLD) != 0;
	}
	CU_ASSERT_EQUAL(n, 1000);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &saved[i], NULL);
}

UNIT_SUITE(suite_host_signals)
{
	CU_pSuite s = CU_add_suite("host signals", NULL, NULL);

	CU_add_test(s, "signal flags are taken whole", test_take_and_peek);
}
