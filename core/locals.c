/*
 * The variables of one frame, for dump --locals (see locals.h).
 *
 * Names come from the code object: co_varnames, co_cellvars and
 * co_freevars up to 3.10 (their values in f_localsplus in that order),
 * co_localsplusnames from 3.11 (values in the interpreter frame's
 * localsplus, tagged stack references from 3.14).  The first
 * co_argcount + co_kwonlyargcount (+1 for *args, +1 for **kwargs) are the
 * arguments.  A slot holding a cell shows the cell's content; an empty slot
 * (not yet bound) is left out, as Python's locals() does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "locals.h"
#include "pyobject.h"

#define MAX_VARS 256              /* variables shown of one frame */
#define FRAME_BUDGET (256u << 10) /* bytes read for one frame's values */

/* The type objects and singletons, by symbol: the interpreter's own objects,
 * so a value is recognised by identity, never by a name a program could
 * give its own class.  2.7's names differ; the ones absent are 0. */
static uint64_t symbol(struct remote *r, struct pyspy_binary *bin, const char *name)
{
	uint64_t addr = 0, size;

	if (remote_binary_symbol(r, bin, name, &addr, &size) != 0)
		return 0;
	return addr;
}

int locals_init(struct locals *lc, const struct pyspy_layout *l, struct remote *r,
		struct pyspy_binary *bin, int longer)
{
	struct repr_types *t = &lc->rc.t;
	uint32_t scale = longer > 1 ? 8 : 1;

	memset(lc, 0, sizeof(*lc));
	if (!repr_supported(l))
		return -ENOTSUP;
	lc->rc.r = r;
	lc->rc.l = l;
	lc->rc.lim.max_chars = 64 * scale;
	lc->rc.lim.max_items = 8 * scale;
	lc->rc.lim.max_depth = 3 + (longer > 1);
	lc->rc.lim.max_repr = 256 * scale;
	t->none = symbol(r, bin, "_Py_NoneStruct");
	t->true_ = symbol(r, bin, "_Py_TrueStruct");
	t->false_ = symbol(r, bin, "_Py_FalseStruct");
	if (!t->false_)
		t->false_ = symbol(r, bin, "_Py_ZeroStruct"); /* 2.7 */
	t->long_ = symbol(r, bin, "PyLong_Type");
	t->float_ = symbol(r, bin, "PyFloat_Type");
	t->tuple = symbol(r, bin, "PyTuple_Type");
	t->list = symbol(r, bin, "PyList_Type");
	t->dict = symbol(r, bin, "PyDict_Type");
	t->set = symbol(r, bin, "PySet_Type");
	t->frozenset = symbol(r, bin, "PyFrozenSet_Type");
	t->cell = symbol(r, bin, "PyCell_Type");
	if (l->string_model == PYSPY_STRINGS_BYTES) {
		t->int_ = symbol(r, bin, "PyInt_Type");
		t->bytes = symbol(r, bin, "PyString_Type");
	} else {
		t->str = symbol(r, bin, "PyUnicode_Type");
		t->bytes = symbol(r, bin, "PyBytes_Type");
	}
	return 0;
}

void locals_reset(struct locals *lc)
{
	size_t i;

	for (i = 0; i < lc->nowned; i++)
		free(lc->owned[i]);
	lc->nowned = 0;
}

void locals_fini(struct locals *lc)
{
	locals_reset(lc);
	free(lc->owned);
	memset(lc, 0, sizeof(*lc));
}

static void *own(struct locals *lc, void *p)
{
	if (lc->nowned == lc->cap_owned) {
		lc->cap_owned = lc->cap_owned ? lc->cap_owned * 2 : 64;
		lc->owned = xrealloc(lc->owned, lc->cap_owned * sizeof(*lc->owned));
	}
	lc->owned[lc->nowned++] = p;
	return p;
}

static int read_i32(struct remote *r, uint64_t addr, int32_t off, int32_t *out)
{
	uint32_t v;
	int rc;

	if (off < 0)
		return -EINVAL;
	rc = remote_read_u32(r, addr + (uint64_t)off, &v);
	*out = (int32_t)v;
	return rc;
}

/* A tuple of names: its size (bounded) and the address of its items. */
static int name_tuple(struct locals *lc, uint64_t code, int32_t off, int64_t *n, uint64_t *items)
{
	const struct pyspy_layout *l = lc->rc.l;
	uint64_t tuple;

	*n = 0;
	*items = 0;
	if (off < 0)
		return 0;
	if (remote_read_ptr(lc->rc.r, code + (uint64_t)off, &tuple) || !tuple)
		return -EFAULT;
	if (remote_read(lc->rc.r, tuple + (uint64_t)l->object.ob_size, n, sizeof(*n)) ||
	    *n < 0 || *n > MAX_VARS)
		return -EFAULT;
	*items = tuple + (uint64_t)l->tuple.ob_item;
	return 0;
}

/* The names of the frame's slots, in slot order, and how many there are. */
static int slot_names(struct locals *lc, uint64_t code, uint64_t names[MAX_VARS], size_t *n)
{
	const struct pyspy_layout *l = lc->rc.l;
	const int32_t groups[3] = { l->locals.co_varnames, l->locals.co_cellvars, l->locals.co_freevars };
	size_t g, total = 0;

	if (l->locals.co_localsplusnames >= 0) {
		int64_t k;
		uint64_t items;

		if (name_tuple(lc, code, l->locals.co_localsplusnames, &k, &items) ||
		    (k && remote_read(lc->rc.r, items, names, (size_t)k * sizeof(uint64_t))))
			return -EFAULT;
		*n = (size_t)k;
		return 0;
	}
	for (g = 0; g < 3; g++) {
		int64_t k;
		uint64_t items;

		if (name_tuple(lc, code, groups[g], &k, &items))
			return -EFAULT;
		if (total + (size_t)k > MAX_VARS)
			k = (int64_t)(MAX_VARS - total);
		if (k && remote_read(lc->rc.r, items, names + total, (size_t)k * sizeof(uint64_t)))
			return -EFAULT;
		total += (size_t)k;
	}
	*n = total;
	return 0;
}

/* How many of the first slots are arguments. */
static size_t argument_count(struct locals *lc, uint64_t code)
{
	const struct pyspy_layout *l = lc->rc.l;
	int32_t argc = 0, kwonly = 0, flags = 0;

	if (read_i32(lc->rc.r, code, l->locals.co_argcount, &argc) || argc < 0)
		return 0;
	if (l->locals.co_kwonlyargcount >= 0 &&
	    (read_i32(lc->rc.r, code, l->locals.co_kwonlyargcount, &kwonly) || kwonly < 0))
		return 0;
	if (read_i32(lc->rc.r, code, l->locals.co_flags, &flags))
		return 0;
	return (size_t)argc + (size_t)kwonly + ((uint32_t)flags & l->locals.flag_varargs ? 1 : 0) +
	       ((uint32_t)flags & l->locals.flag_varkeywords ? 1 : 0);
}

int locals_read(struct locals *lc, uint64_t frame, uint64_t code, struct pyspy_local **out,
		uint32_t *n)
{
	const struct pyspy_layout *l = lc->rc.l;
	uint64_t names[MAX_VARS], values[MAX_VARS], slots;
	struct pyspy_local *vars;
	size_t nslots, nargs, i, k = 0;
	struct strbuf sb;
	int32_t off = l->locals.frame_localsplus >= 0 ? l->locals.frame_localsplus :
							 l->locals.iframe_localsplus;

	*out = NULL;
	*n = 0;
	if (!frame || !code || off < 0)
		return -EINVAL;
	if (slot_names(lc, code, names, &nslots))
		return -EFAULT;
	slots = frame + (uint64_t)off;
	if (nslots && remote_read(lc->rc.r, slots, values, nslots * sizeof(uint64_t)))
		return -EFAULT;
	nargs = argument_count(lc, code);
	vars = own(lc, xcalloc(nslots ? nslots : 1, sizeof(*vars)));
	lc->rc.budget = FRAME_BUDGET;
	sb_init(&sb);
	for (i = 0; i < nslots; i++) {
		uint64_t v = values[i] & ~l->locals.localsplus_tag_mask, type = 0;

		if (!v)
			continue; /* not bound yet */
		/* A cell or free variable: its content (an empty cell is unbound). */
		if (lc->rc.t.cell && l->locals.cell_ref >= 0 &&
		    remote_read_ptr(lc->rc.r, v + (uint64_t)l->object.ob_type, &type) == 0 &&
		    type == lc->rc.t.cell) {
			if (remote_read_ptr(lc->rc.r, v + (uint64_t)l->locals.cell_ref, &v) != 0)
				v = 1; /* unreadable: shown so, not left out */
			if (!v)
				continue;
		}
		if (pyobj_read_string(lc->rc.r, l, names[i], &sb) != 0 || sb.len == 0) {
			sb.len = 0;
			sb_puts(&sb, "<unreadable>");
		}
		vars[k].name = own(lc, sb_take(&sb));
		repr_object(&lc->rc, v, &sb);
		vars[k].repr = own(lc, sb_take(&sb));
		vars[k].flags = i < nargs ? PYSPY_LOCAL_ARGUMENT : 0;
		k++;
	}
	sb_free(&sb);
	*out = vars;
	*n = (uint32_t)k;
	return 0;
}
