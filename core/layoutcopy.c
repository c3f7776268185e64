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
};

void layout_copy(struct pyspy_layout *dst, const struct pyspy_layout *src)
{
	size_t n = src->size < sizeof(*dst) ? src->size : sizeof(*dst);

	*dst = absent;
	memcpy(dst, src, n);
	dst->size = (uint32_t)n; /* what the copy holds from the module */
}
