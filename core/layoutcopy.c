/*
 * Copying a layout by the module's own size (see layoutcopy.h).
 *
 * A member a module does not have must not read as 0 when it is an offset:
 * offset 0 is a real place (an object's reference count).  So the copy
 * starts from `absent`, in which every int32_t offset and size is
 * PYSPY_NO_OFFSET and everything else (models, flags, masks, shifts,
 * strings, group `present` bits) 0, and the module's bytes go over it.
 * A member appended to struct pyspy_layout gets its "not present" value
 * here, in the same change.
 */
#include <stddef.h>
#include <string.h>

#include "layoutcopy.h"

#define NO PYSPY_NO_OFFSET

static const struct pyspy_layout absent = {
	.runtime = { NO, NO, NO, NO, NO, NO, NO, NO },
	.interp = { NO, NO, NO, NO, NO, NO, NO, NO },
	.tstate = {
		.size = NO, .prev = NO, .next = NO, .interp = NO, .frame = NO, .cframe = NO,
		.cframe_current_frame = NO, .current_frame = NO, .thread_id = NO,
		.native_thread_id = NO, .status = NO, .status_holds_gil_mask = 0,
		.holds_gil = NO, .state = NO, .datastack_chunk = NO, .datastack_top = NO,
		.base_frame = NO,
	},
	.frame = { NO, NO, NO },
	.iframe = {
		.size = NO, .previous = NO, .executable = NO, .instr_ptr = NO, .owner = NO,
		.is_entry = NO, .tlbc_index = NO, .executable_tag_mask = 0,
		.owner_generator = 0, .owner_skip_min = 0,
	},
	.code = { NO, NO, NO, NO, NO, NO, NO, NO, NO },
	.object = {
		.ob_type = NO, .ob_size = NO, .tp_name = NO, .tp_basicsize = NO,
		.tp_dictoffset = NO, .tp_flags = NO, .ht_cached_keys = NO,
		.managed_dict_flag = 0, .inline_values_flag = 0,
	},
	.bytes = { NO, NO },
	.unicode = {
		.length = NO, .state = NO, .ascii_data = NO, .compact_data = NO,
		.legacy_data = NO, .kind_shift = 0, .compact_shift = 0, .ascii_shift = 0,
	},
	.dict = { NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO },
	.tuple = { NO },
	.names = {
		.present = 0, .long_tagged = 0, .long_size = NO, .long_digits = NO,
		.long_shift = 0, .int_ival = NO, .module_dict = NO, .managed_dict = NO,
		.managed_values = NO, .values_valid = NO,
	},
	.ob_refcnt = NO,
	.chunk = { NO },
	.debug_fields = NULL,
	.locals = {
		.present = 0, .frame_localsplus = NO, .iframe_localsplus = NO,
		.localsplus_tag_mask = 0, .co_argcount = NO, .co_kwonlyargcount = NO,
		.co_nlocals = NO, .co_nlocalsplus = NO, .co_flags = NO, .co_varnames = NO,
		.co_cellvars = NO, .co_freevars = NO, .co_localsplusnames = NO,
		.flag_varargs = 0, .flag_varkeywords = 0, .cell_ref = NO, .float_fval = NO,
		.list_ob_item = NO, .set_used = NO, .set_mask = NO, .set_table = NO,
		.set_entry_size = NO, .set_entry_key = NO, .long_digit_size = NO,
	},
};

void layout_copy(struct pyspy_layout *dst, const struct pyspy_layout *src)
{
	size_t n = src->size < sizeof(*dst) ? src->size : sizeof(*dst);

	*dst = absent;
	memcpy(dst, src, n);
	dst->size = (uint32_t)n; /* what the copy holds from the module */
}

/* The offset and size members (int32_t) of struct pyspy_layout, by the
 * dotted names the generator and debug_fields use. */
#define M(member) { #member, offsetof(struct pyspy_layout, member) }
static const struct {
	const char *name;
	size_t where;
} members[] = {
	M(runtime.size), M(runtime.interpreters_head), M(runtime.interpreters_main),
	M(runtime.main_interpreter), M(runtime.gilstate_tstate_current), M(runtime.gil_locked),
	M(runtime.gil_last_holder), M(runtime.debug_offsets), M(interp.size), M(interp.next),
	M(interp.tstate_head), M(interp.id), M(interp.modules), M(interp.ceval_gil),
	M(interp.gil_locked), M(interp.gil_last_holder), M(tstate.size), M(tstate.prev),
	M(tstate.next), M(tstate.interp), M(tstate.frame), M(tstate.cframe),
	M(tstate.cframe_current_frame), M(tstate.current_frame), M(tstate.thread_id),
	M(tstate.native_thread_id), M(tstate.status), M(tstate.holds_gil), M(tstate.state),
	M(tstate.datastack_chunk), M(tstate.datastack_top), M(tstate.base_frame),
	M(frame.back), M(frame.code), M(frame.lasti), M(iframe.size), M(iframe.previous),
	M(iframe.executable), M(iframe.instr_ptr), M(iframe.owner), M(iframe.is_entry),
	M(iframe.tlbc_index), M(code.size), M(code.filename), M(code.name), M(code.qualname),
	M(code.firstlineno), M(code.linetable), M(code.code), M(code.code_adaptive),
	M(code.tlbc), M(object.ob_type), M(object.ob_size), M(object.tp_name),
	M(object.tp_basicsize), M(object.tp_dictoffset), M(object.tp_flags),
	M(object.ht_cached_keys), M(bytes.ob_size), M(bytes.ob_sval), M(unicode.length),
	M(unicode.state), M(unicode.ascii_data), M(unicode.compact_data),
	M(unicode.legacy_data), M(dict.ma_used), M(dict.ma_keys), M(dict.ma_values),
	M(dict.ma_mask), M(dict.ma_table), M(dict.dk_size), M(dict.dk_log2_size),
	M(dict.dk_log2_index_bytes), M(dict.dk_kind), M(dict.dk_nentries), M(dict.dk_indices),
	M(dict.entry_size), M(dict.unicode_entry_size), M(dict.values_values),
	M(tuple.ob_item), M(names.long_size), M(names.long_digits), M(names.int_ival),
	M(names.module_dict), M(names.managed_dict), M(names.managed_values),
	M(names.values_valid), M(ob_refcnt), M(chunk.size),
	M(locals.frame_localsplus), M(locals.iframe_localsplus), M(locals.co_argcount),
	M(locals.co_kwonlyargcount), M(locals.co_nlocals), M(locals.co_nlocalsplus),
	M(locals.co_flags), M(locals.co_varnames), M(locals.co_cellvars),
	M(locals.co_freevars), M(locals.co_localsplusnames), M(locals.cell_ref),
	M(locals.float_fval), M(locals.list_ob_item), M(locals.set_used),
	M(locals.set_mask), M(locals.set_table), M(locals.set_entry_size),
	M(locals.set_entry_key), M(locals.long_digit_size),
};
#undef M

int32_t *layout_member(struct pyspy_layout *l, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		if (strlen(members[i].name) == len && memcmp(members[i].name, name, len) == 0)
			return (int32_t *)((char *)l + members[i].where);
	}
	return NULL;
}
