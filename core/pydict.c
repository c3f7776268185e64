/*
 * The items of a dict in the target, in iteration order (see pydict.h):
 * 2.7's open table of {hash, key, value}, the 3.6+ compact table (indices,
 * then entries; split tables keep their values apart).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pydict.h"

#define MAX_DICT_ENTRIES 65536

void pydict_items_free(struct dict_items *it)
{
	free(it->keys);
	free(it->values);
	memset(it, 0, sizeof(*it));
}

static void items_add(struct dict_items *it, uint64_t key, uint64_t value)
{
	if (it->n == it->cap) {
		it->cap = it->cap ? it->cap * 2 : 16;
		it->keys = xrealloc(it->keys, it->cap * sizeof(*it->keys));
		it->values = xrealloc(it->values, it->cap * sizeof(*it->values));
	}
	it->keys[it->n] = key;
	it->values[it->n] = value;
	it->n++;
}

/* 2.7: ma_table of (mask + 1) entries {hash, key, value}. */
static int dict27_items(struct remote *r, const struct pyspy_layout *l, uint64_t dict,
			struct dict_items *it)
{
	int64_t mask;
	uint64_t table, *buf;
	size_t n, i, esz = (size_t)l->dict.entry_size / 8;
	int rc;

	if (remote_read(r, dict + (uint64_t)l->dict.ma_mask, &mask, 8) ||
	    remote_read_ptr(r, dict + (uint64_t)l->dict.ma_table, &table))
		return -EFAULT;
	if (mask < 0 || mask >= MAX_DICT_ENTRIES || esz < 3)
		return -EINVAL;
	n = (size_t)mask + 1;
	buf = xcalloc(n * esz, 8);
	rc = remote_read(r, table, buf, n * esz * 8);
	for (i = 0; rc == 0 && i < n; i++) {
		if (buf[i * esz + 1] && buf[i * esz + 2])
			items_add(it, buf[i * esz + 1], buf[i * esz + 2]);
	}
	free(buf);
	return rc;
}

/* 3.6+: ma_keys -> indices then entries; ma_values for split tables. */
static int dict3_items(struct remote *r, const struct pyspy_layout *l, uint64_t dict,
		       struct dict_items *it)
{
	uint64_t keys, values, entries, hdr[8] = { 0 };
	int64_t nentries, size = 0;
	size_t esz, i, index_bytes;
	uint64_t *buf, *vals = NULL;
	int split_values_at, rc;

	if (remote_read_ptr(r, dict + (uint64_t)l->dict.ma_keys, &keys) ||
	    remote_read_ptr(r, dict + (uint64_t)l->dict.ma_values, &values) || !keys)
		return -EFAULT;
	if (l->dict.dk_indices < 0 || l->dict.dk_indices > (int32_t)sizeof(hdr))
		return -EINVAL;
	if (remote_read(r, keys, hdr, (size_t)l->dict.dk_indices))
		return -EFAULT;
	nentries = field_i64(hdr, sizeof(hdr), l->dict.dk_nentries);
	esz = (size_t)l->dict.entry_size;
	if (l->dict_model == PYSPY_DICT_311) {
		uint8_t log2_index = field_u8(hdr, sizeof(hdr), l->dict.dk_log2_index_bytes);
		uint8_t kind = field_u8(hdr, sizeof(hdr), l->dict.dk_kind);

		if (log2_index > 24)
			return -EINVAL;
		index_bytes = (size_t)1 << log2_index;
		if (kind != 0)
			esz = (size_t)l->dict.unicode_entry_size;
	} else {
		size = field_i64(hdr, sizeof(hdr), l->dict.dk_size);
		if (size <= 0 || size > MAX_DICT_ENTRIES * 2)
			return -EINVAL;
		index_bytes = (size_t)size * (size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffLL ? 4 : 8);
	}
	if (nentries < 0 || nentries > MAX_DICT_ENTRIES || (esz != 16 && esz != 24))
		return -EINVAL;
	entries = keys + (uint64_t)l->dict.dk_indices + index_bytes;
	buf = xcalloc((size_t)nentries + 1, esz);
	rc = remote_read(r, entries, buf, (size_t)nentries * esz);
	split_values_at = values != 0;
	if (rc == 0 && split_values_at) {
		vals = xcalloc((size_t)nentries + 1, 8);
		rc = remote_read(r, values + (uint64_t)(l->dict.values_values > 0 ? l->dict.values_values : 0),
				 vals, (size_t)nentries * 8);
	}
	for (i = 0; rc == 0 && i < (size_t)nentries; i++) {
		uint64_t *e = buf + i * (esz / 8);
		uint64_t key = esz == 24 ? e[1] : e[0];
		uint64_t value = split_values_at ? vals[i] : (esz == 24 ? e[2] : e[1]);

		if (key && value)
			items_add(it, key, value);
	}
	free(vals);
	free(buf);
	return rc;
}

int pydict_items(struct remote *r, const struct pyspy_layout *l, uint64_t dict, struct dict_items *it)
{
	memset(it, 0, sizeof(*it));
	if (!dict)
		return -EFAULT;
	if (l->dict_model == PYSPY_DICT_27)
		return dict27_items(r, l, dict, it);
	return dict3_items(r, l, dict, it);
}
