/*
 * Python thread names (see threadnames.h).
 *
 *   interp->modules["threading"].__dict__["_active"]  ->  {ident: Thread}
 *   Thread._name (2.7: _Thread__name)
 *
 * Dictionaries are read in the three layouts the layout module names
 * (2.7 open table, 3.6-3.10 compact dict, 3.11+ dict with unicode keys and
 * split tables); instance attributes through tp_dictoffset or the managed
 * dict / inline values of 3.11+.  Everything read is bounded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "log.h"
#include "pydict.h"
#include "pyobject.h"
#include "threadnames.h"
#include "util.h"

#define MAX_THREAD_NAMES 65536 /* as many entries as pydict.c reads of threading._active */
#define REFRESH_NS 1000000000ull
/* Key comparisons (string reads) in one refresh: thousands of threads with
 * huge attribute dicts, as garbage can claim, must not stall a sample. */
#define MAX_REFRESH_COMPARES 65536u
#define MAX_REFRESH_NS (32 * REFRESH_NS)
/* Reads of threading._active while it is being changed under us. */
#define ACTIVE_READ_ATTEMPTS 16

void thread_names_init(struct thread_names *tn, const struct pyspy_layout *l, struct remote *r,
		       struct interner *strings, uint64_t interp, struct pyspy_binary *bin)
{
	uint64_t addr = 0, size;

	memset(tn, 0, sizeof(*tn));
	tn->layout = l;
	tn->remote = r;
	tn->strings = strings;
	tn->interp = interp;
	tn->modules_used = -1;
	if (bin && remote_binary_symbol(r, bin, "PyInt_Type", &addr, &size) == 0)
		tn->int_type = addr;
}

void thread_names_free(struct thread_names *tn)
{
	free(tn->entries);
	memset(tn, 0, sizeof(*tn));
}

/* Whether the str object at addr equals s. */
static int str_equals(struct thread_names *tn, uint64_t addr, const char *s)
{
	struct strbuf sb;
	int eq;

	sb_init(&sb);
	eq = pyobj_read_string(tn->remote, tn->layout, addr, &sb) == 0 && sb.len == strlen(s) &&
	     memcmp(sb.buf, s, sb.len) == 0;
	sb_free(&sb);
	return eq;
}

static uint64_t dict_get(struct thread_names *tn, uint64_t dict, const char *key, size_t *budget)
{
	struct dict_items it;
	uint64_t found = 0;
	size_t i;

	if (pydict_items(tn->remote, tn->layout, dict, &it) == 0) {
		for (i = 0; i < it.n && !found && *budget; i++) {
			(*budget)--;
			if (str_equals(tn, it.keys[i], key))
				found = it.values[i];
		}
	}
	pydict_items_free(&it);
	return found;
}

/* The index of `key` among the entries of a shared-keys object (3.11+). */
static int64_t keys_index(struct thread_names *tn, uint64_t keys, const char *key, size_t *budget)
{
	const struct pyspy_layout *l = tn->layout;
	uint64_t hdr[8] = { 0 }, entries;
	int64_t nentries, i, found = -1;
	uint8_t log2_index, kind;
	uint64_t *buf;
	size_t esz;

	if (!keys || l->dict.dk_indices < 0 || l->dict.dk_indices > (int32_t)sizeof(hdr) ||
	    remote_read(tn->remote, keys, hdr, (size_t)l->dict.dk_indices))
		return -1;
	nentries = field_i64(hdr, sizeof(hdr), l->dict.dk_nentries);
	log2_index = field_u8(hdr, sizeof(hdr), l->dict.dk_log2_index_bytes);
	kind = field_u8(hdr, sizeof(hdr), l->dict.dk_kind);
	if (nentries < 0 || nentries > 4096 || log2_index > 24)
		return -1;
	esz = (size_t)(kind ? l->dict.unicode_entry_size : l->dict.entry_size);
	if (esz != 16 && esz != 24)
		return -1;
	entries = keys + (uint64_t)l->dict.dk_indices + ((uint64_t)1 << log2_index);
	buf = xcalloc((size_t)nentries + 1, esz);
	if (remote_read(tn->remote, entries, buf, (size_t)nentries * esz) == 0) {
		for (i = 0; i < nentries && found < 0 && *budget; i++) {
			uint64_t k = buf[(size_t)i * (esz / 8) + (esz == 24 ? 1 : 0)];

			(*budget)--;
			if (k && str_equals(tn, k, key))
				found = i;
		}
	}
	free(buf);
	return found;
}

/* ---- objects ------------------------------------------------------------ */

/* An attribute of a plain Python object, or 0. */
static uint64_t object_attr(struct thread_names *tn, uint64_t obj, const char *name, size_t *budget)
{
	const struct pyspy_layout *l = tn->layout;
	uint64_t type, flags = 0, dict = 0, values = 0, keys;
	int64_t dictoffset = 0, basicsize = 0;
	int64_t idx;

	if (remote_read_ptr(tn->remote, obj + (uint64_t)l->object.ob_type, &type) || !type)
		return 0;
	remote_read(tn->remote, type + (uint64_t)l->object.tp_flags, &flags, 8);
	remote_read(tn->remote, type + (uint64_t)l->object.tp_dictoffset, &dictoffset, 8);
	remote_read(tn->remote, type + (uint64_t)l->object.tp_basicsize, &basicsize, 8);

	switch (l->attr_model) {
	case PYSPY_ATTRS_DICTOFFSET:
		if (dictoffset <= 0 || dictoffset > (1 << 20))
			return 0;
		remote_read_ptr(tn->remote, obj + (uint64_t)dictoffset, &dict);
		break;
	case PYSPY_ATTRS_MANAGED_311:
		if (!(flags & l->object.managed_dict_flag))
			break;
		remote_read_ptr(tn->remote, obj + (uint64_t)(int64_t)l->names.managed_dict, &dict);
		if (!dict)
			remote_read_ptr(tn->remote, obj + (uint64_t)(int64_t)l->names.managed_values, &values);
		break;
	case PYSPY_ATTRS_MANAGED_312: {
		uint64_t dorv = 0;

		if (!(flags & l->object.managed_dict_flag))
			break;
		remote_read_ptr(tn->remote, obj + (uint64_t)(int64_t)l->names.managed_dict, &dorv);
		if (dorv & 1)
			values = dorv + 1; /* tagged: the pointer is stored 1 byte low */
		else
			dict = dorv;
		break;
	}
	case PYSPY_ATTRS_INLINE_313:
		if (flags & l->object.managed_dict_flag)
			remote_read_ptr(tn->remote, obj + (uint64_t)(int64_t)l->names.managed_dict, &dict);
		if (!dict && (flags & l->object.inline_values_flag) && basicsize > 0 && basicsize < (1 << 20)) {
			uint8_t valid = 0;

			values = obj + (uint64_t)basicsize;
			remote_read(tn->remote, values + (uint64_t)l->names.values_valid, &valid, 1);
			if (!valid)
				values = 0;
		}
		if (!dict && !values && dictoffset > 0 && dictoffset < (1 << 20))
			remote_read_ptr(tn->remote, obj + (uint64_t)dictoffset, &dict);
		break;
	}
	if (dict)
		return dict_get(tn, dict, name, budget);
	if (!values || remote_read_ptr(tn->remote, type + (uint64_t)l->object.ht_cached_keys, &keys))
		return 0;
	idx = keys_index(tn, keys, name, budget);
	if (idx < 0)
		return 0;
	remote_read_ptr(tn->remote, values + (uint64_t)(l->dict.values_values > 0 ? l->dict.values_values : 0) +
					    (uint64_t)idx * 8,
			&dict /* the attribute */);
	return dict;
}

/* An int object as an unsigned 64-bit value (thread idents). */
static int read_int(struct thread_names *tn, uint64_t obj, uint64_t *out)
{
	const struct pyspy_layout *l = tn->layout;
	uint64_t type = 0, value = 0;
	int64_t sizeword, ndigits;
	uint32_t digits[4] = { 0 };
	unsigned shift = l->names.long_shift, i;

	if (tn->int_type && l->names.int_ival >= 0 &&
	    remote_read_ptr(tn->remote, obj + (uint64_t)l->object.ob_type, &type) == 0 && type == tn->int_type)
		return remote_read(tn->remote, obj + (uint64_t)l->names.int_ival, out, 8);
	if (remote_read(tn->remote, obj + (uint64_t)l->names.long_size, &sizeword, 8))
		return -EFAULT;
	if (l->names.long_tagged) {
		if ((sizeword & 3) == 2)
			return -ERANGE; /* negative */
		ndigits = sizeword >> 3;
	} else {
		if (sizeword < 0)
			return -ERANGE;
		ndigits = sizeword;
	}
	if (ndigits < 0 || ndigits > 4 || shift == 0 || shift > 30)
		return -ERANGE;
	if (shift == 30) {
		if (remote_read(tn->remote, obj + (uint64_t)l->names.long_digits, digits, (size_t)ndigits * 4))
			return -EFAULT;
	} else {
		uint16_t d16[4] = { 0 };

		if (remote_read(tn->remote, obj + (uint64_t)l->names.long_digits, d16, (size_t)ndigits * 2))
			return -EFAULT;
		for (i = 0; i < 4; i++)
			digits[i] = d16[i];
	}
	for (i = 0; i < (unsigned)ndigits; i++) {
		unsigned at = shift * i;

		/* An ident fits in 64 bits: a digit beyond them is garbage. */
		if (at >= 64 || (at + shift > 64 && ((uint64_t)digits[i] >> (64 - at))))
			return -ERANGE;
		value |= (uint64_t)digits[i] << at;
	}
	*out = value;
	return 0;
}

/* ---- the registry --------------------------------------------------------- */

/* The slot of id: where it is, or the free slot where it would go. */
static struct thread_name_entry *slot(const struct thread_names *tn, uint64_t id)
{
	size_t i = hash_u64(id) & (tn->cap - 1);

	while (tn->entries[i].name && tn->entries[i].thread_id != id)
		i = (i + 1) & (tn->cap - 1);
	return &tn->entries[i];
}

static const char *lookup(const struct thread_names *tn, uint64_t id)
{
	return tn->cap ? slot(tn, id)->name : NULL;
}

static void store(struct thread_names *tn, uint64_t id, const char *name)
{
	struct thread_name_entry *e, *old = tn->entries;
	size_t i, old_cap = tn->cap;

	if (tn->cap && (e = slot(tn, id))->name) {
		e->name = name;
		return;
	}
	if (tn->n >= MAX_THREAD_NAMES)
		return;
	if (2 * (tn->n + 1) > tn->cap) {
		tn->cap = tn->cap ? tn->cap * 2 : 32;
		tn->entries = xcalloc(tn->cap, sizeof(*tn->entries));
		for (i = 0; i < old_cap; i++)
			if (old[i].name)
				*slot(tn, old[i].thread_id) = old[i];
		free(old);
	}
	e = slot(tn, id);
	e->thread_id = id;
	e->name = name;
	tn->n++;
}

/* The items of threading._active, read again while they disagree with the
 * dict's own count: the target runs while names are read, and a thread
 * starting or ending may be resizing the dict (3.6-3.10 fill the new table
 * after pointing the dict at it), which reads as an empty registry. */
static int read_active(struct thread_names *tn, uint64_t active, struct dict_items *it)
{
	const struct pyspy_layout *l = tn->layout;
	int attempt, rc = -EFAULT;

	for (attempt = 0; attempt < ACTIVE_READ_ATTEMPTS; attempt++) {
		int64_t used = -1;

		rc = pydict_items(tn->remote, l, active, it);
		if (rc == 0 && (l->dict.ma_used < 0 ||
				remote_read(tn->remote, active + (uint64_t)l->dict.ma_used, &used, sizeof(used)) ||
				used == (int64_t)it->n))
			return 0;
		pydict_items_free(it);
		if (rc == 0)
			rc = -EAGAIN;
	}
	return rc;
}

static void refresh(struct thread_names *tn)
{
	const struct pyspy_layout *l = tn->layout;
	uint64_t modules, threading, mdict, active, type;
	struct dict_items it;
	size_t i, budget = MAX_REFRESH_COMPARES;

	if (!l->names.present || l->interp.modules < 0)
		return;
	/* threading._active is found once and kept: a dict that lives as long
	 * as the module.  Its type is checked each time it is used again. */
	active = tn->active;
	if (active && (remote_read_ptr(tn->remote, active + (uint64_t)l->object.ob_type, &type) ||
		       type != tn->active_type))
		active = tn->active = 0;
	if (!active) {
		int64_t used = -1;

		if (remote_read_ptr(tn->remote, tn->interp + (uint64_t)l->interp.modules, &modules) || !modules)
			return;
		/* Looked already and sys.modules has not changed size: no threading yet. */
		remote_read(tn->remote, modules + (uint64_t)l->dict.ma_used, &used, sizeof(used));
		if (used >= 0 && used == tn->modules_used)
			return;
		tn->modules_used = used;
		threading = dict_get(tn, modules, "threading", &budget);
		if (!threading ||
		    remote_read_ptr(tn->remote, threading + (uint64_t)l->names.module_dict, &mdict)) {
			log_debug("thread names: no threading module in sys.modules");
			return;
		}
		active = dict_get(tn, mdict, "_active", &budget);
		if (!active || remote_read_ptr(tn->remote, active + (uint64_t)l->object.ob_type, &type))
			return;
		tn->active = active;
		tn->active_type = type;
	}
	if (read_active(tn, active, &it) != 0) {
		log_debug("thread names: no readable threading._active");
		tn->active = 0;
		return;
	}
	/* every thread gets a few comparisons of its own */
	budget += 16 * it.n;
	for (i = 0; i < it.n && i < MAX_THREAD_NAMES; i++) {
		uint64_t ident, name_obj;
		struct strbuf sb;

		if (read_int(tn, it.keys[i], &ident) != 0)
			continue;
		name_obj = object_attr(tn, it.values[i], "_name", &budget);
		if (!name_obj)
			name_obj = object_attr(tn, it.values[i], "_Thread__name", &budget);
		if (!name_obj)
			continue;
		sb_init(&sb);
		if (pyobj_read_string(tn->remote, l, name_obj, &sb) == 0)
			store(tn, ident, intern_n(tn->strings, sb.buf ? sb.buf : "", sb.len));
		sb_free(&sb);
	}
	pydict_items_free(&it);
}

const char *thread_names_get(struct thread_names *tn, uint64_t thread_id)
{
	const char *name = lookup(tn, thread_id);
	uint64_t now;
	size_t before;

	if (name)
		return name;
	/* Unknown id: read the registry again, but not too often.  A thread
	 * that never gets a name (no threading module, a C thread) backs the
	 * re-reads off up to MAX_REFRESH_NS. */
	now = host_now_ns();
	if (!tn->wait_ns)
		tn->wait_ns = REFRESH_NS;
	if (tn->last_refresh_ns && now - tn->last_refresh_ns < tn->wait_ns)
		return NULL;
	tn->last_refresh_ns = now;
	before = tn->n;
	refresh(tn);
	if (tn->n > before)
		tn->wait_ns = REFRESH_NS;
	else if (tn->wait_ns < MAX_REFRESH_NS)
		tn->wait_ns *= 2;
	return lookup(tn, thread_id);
}
