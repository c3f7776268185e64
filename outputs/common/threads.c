/*
 * The threads of a record output, keyed by (pid, interpreter thread id):
 * one element of the module's own array each, starting with struct
 * outc_thread.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common.h"

struct outc_thread_key {
	const char *arr;
	size_t elem;
	int64_t pid;
	uint64_t thread_id;
};

static const struct outc_thread *outc_thread_at(const char *arr, size_t elem, size_t idx)
{
	return (const struct outc_thread *)(const void *)(arr + idx * elem);
}

static int outc_same_thread(const void *arg, size_t idx)
{
	const struct outc_thread_key *k = arg;
	const struct outc_thread *t = outc_thread_at(k->arr, k->elem, idx);

	return t->pid == k->pid && t->thread_id == k->thread_id;
}

int64_t outc_thread_of(const struct pyspy_host *host, struct outc_table *index, void **arr,
		       size_t *n, size_t *cap, size_t elem, const struct pyspy_stack *stack)
{
	struct outc_thread_key key = { *arr, elem, stack->pid, stack->thread_id };
	uint64_t h = outc_mix((uint64_t)stack->pid ^ outc_mix(stack->thread_id));
	struct outc_thread *t;
	int64_t id;
	int rc;

	id = outc_table_find(index, h, outc_same_thread, &key);
	if (id < 0) {
		rc = outc_grow(host, arr, cap, *n + 1, elem, OUTC_MAX_ENTRIES);
		if (!rc)
			rc = outc_table_reserve(host, index);
		if (rc)
			return rc;
		outc_table_insert(index, h, *n);
		t = (struct outc_thread *)(void *)((char *)*arr + *n * elem);
		memset(t, 0, elem);
		t->pid = stack->pid;
		t->thread_id = stack->thread_id;
		id = (int64_t)(*n)++;
	}
	t = (struct outc_thread *)(void *)((char *)*arr + (size_t)id * elem);
	if (stack->os_thread_id)
		t->os_thread_id = stack->os_thread_id;
	if (stack->thread_name)
		t->name = stack->thread_name;
	return id;
}
