/*
 * The sampler's schedule (jittered but exact in the mean, never before its
 * own period) and its stack filter (idle threads, --gil, empty stacks).
 */
#include <stdlib.h>
#include <string.h>

#include "../../core/host.h"
#include "../../core/sampler.h"
#include "unit.h"

/* Instant k lies inside its own period, whatever u is. */
static void test_deadline_in_period(void)
{
	const uint64_t start = 1000000000ull;
	const double rates[] = { 1, 100, 997, 1000 };
	const double us[] = { 0.0, 0.25, 0.5, 0.999, 1.0, -1.0 };
	size_t i, j;
	uint64_t k;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		double period = 1e9 / rates[i];

		for (j = 0; j < sizeof(us) / sizeof(us[0]); j++) {
			for (k = 0; k < 5000; k += 499) {
				uint64_t d = sampler_deadline(start, rates[i], k, us[j]);

				CU_ASSERT(d >= start + (uint64_t)((double)k * period));
				CU_ASSERT(d < start + (uint64_t)((double)(k + 1) * period) + 1);
			}
		}
	}
}

/* With random jitter, the instants in any second number rate +- 1, and the
 * gaps vary (the jitter is real). */
static void test_mean_rate(void)
{
	const double rates[] = { 10, 100, 250, 1000 };
	size_t i;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		double rate = rates[i];
		uint64_t n = (uint64_t)(rate * 20), k, in_window = 0;
		uint64_t prev = 0, min_gap = UINT64_MAX, max_gap = 0;

		for (k = 0; k < n; k++) {
			uint64_t d = sampler_deadline(0, rate, k, host_random());

			if (d >= 5000000000ull && d < 6000000000ull)
				in_window++;
			if (k) {
				uint64_t gap = d - prev;

				if (gap < min_gap)
					min_gap = gap;
				if (gap > max_gap)
					max_gap = gap;
			}
			prev = d;
		}
		CU_ASSERT(in_window + 1 >= (uint64_t)rate && in_window <= (uint64_t)rate + 1);
		/* The last instant: within one period of 20 s. */
		CU_ASSERT(prev >= 20000000000ull - (uint64_t)(2e9 / rate));
		CU_ASSERT(prev < 20000000000ull);
		CU_ASSERT(max_gap > min_gap + (uint64_t)(0.5e9 / rate));
	}
}

/* 1..1000 us, once each: the median is 500 us and the 99th percentile
 * 990 us, each within a bucket (12.5%); nothing counted gives 0. */
static void test_hold_quantiles(void)
{
	static struct sampler_stats st;
	uint64_t med, p99;
	int i;

	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(sampler_hold_quantile(&st, 0.5), 0);
	for (i = 1; i <= 1000; i++)
		sampler_count_hold(&st, (uint64_t)i * 1000);
	sampler_count_hold(&st, 3); /* tiny and huge ones have buckets too */
	sampler_count_hold(&st, UINT64_MAX);
	med = sampler_hold_quantile(&st, 0.5);
	p99 = sampler_hold_quantile(&st, 0.99);
	CU_ASSERT(med >= 500000 * 7 / 8 && med <= 500000 * 9 / 8);
	CU_ASSERT(p99 >= 990000 * 7 / 8 && p99 <= 990000 * 9 / 8);
	CU_ASSERT_EQUAL(st.holds, 1002);
}

static void test_filter(void)
{
	struct pyspy_stack in[4], out[4];
	size_t n;

	memset(in, 0, sizeof(in));
	for (n = 0; n < 4; n++)
		in[n].nframes = 1;
	in[0].thread_id = 1; in[0].active = 1; in[0].owns_gil = 1;
	in[1].thread_id = 2; in[1].active = 1; in[1].owns_gil = 0;
	in[2].thread_id = 3; in[2].active = 0; in[2].owns_gil = 0;
	in[3].thread_id = 4; in[3].active = 0; in[3].owns_gil = 0;

	n = sampler_filter(in, 4, 0, 0, out);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(out[0].thread_id, 1);
	CU_ASSERT_EQUAL(out[1].thread_id, 2);

	n = sampler_filter(in, 4, 1, 0, out);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_EQUAL(out[3].thread_id, 4);

	n = sampler_filter(in, 4, 0, 1, out);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(out[0].thread_id, 1);

	/* --gil --idle: the GIL holder, idle or not. */
	in[0].active = 0;
	n = sampler_filter(in, 4, 1, 1, out);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(out[0].thread_id, 1);
	n = sampler_filter(in, 4, 0, 1, out);
	CU_ASSERT_EQUAL(n, 0);

	CU_ASSERT_EQUAL(sampler_filter(in, 0, 1, 1, out), 0);

	/* A stack without frames is never kept. */
	in[0].nframes = 0;
	CU_ASSERT_EQUAL(sampler_filter(in, 4, 1, 1, out), 0);
	n = sampler_filter(in, 4, 1, 0, out);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(out[0].thread_id, 2);
}

static void test_stop_reasons(void)
{
	CU_ASSERT_STRING_EQUAL(sampler_stop_reason(SAMPLER_STOP_EXITED), "process exited");
	CU_ASSERT_STRING_EQUAL(sampler_stop_reason(SAMPLER_STOP_INTERRUPT), "Control-C pressed");
}

UNIT_SUITE(sampler_suite)
{
	CU_pSuite s = CU_add_suite("sampler", NULL, NULL);

	CU_add_test(s, "deadline stays in its period", test_deadline_in_period);
	CU_add_test(s, "jittered schedule keeps the mean rate", test_mean_rate);
	CU_add_test(s, "idle and gil filter", test_filter);
	CU_add_test(s, "hold time quantiles", test_hold_quantiles);
	CU_add_test(s, "stop reasons", test_stop_reasons);
}
