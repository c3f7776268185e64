/*
 * Frame labels of the record outputs: `name (file:line)`, `name (file)` or
 * `name`, escaped and kept NUL-terminated in one string buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

int outc_put_label(const struct pyspy_host *host, struct outc_buf *b,
		   const struct outc_frame *f, enum outc_esc policy, uint32_t *at)
{
	char num[16];
	int rc;

	/* offsets stay 32-bit: room for one more label of the longest parts */
	if (b->len > UINT32_MAX - 8 * OUTC_MAX_PART)
		return -ENOMEM;
	*at = (uint32_t)b->len;
	rc = outc_escape_buf(host, b, f->name, policy);
	if (rc || f->pseudo || !f->file[0])
		goto out_end;
	rc = outc_buf_put(host, b, " (", 2);
	if (!rc)
		rc = outc_escape_buf(host, b, f->file, policy);
	if (!rc && f->line != 0) {
		snprintf(num, sizeof(num), ":%d", (int)f->line);
		rc = outc_buf_put(host, b, num, strlen(num));
	}
	if (!rc)
		rc = outc_buf_put(host, b, ")", 1);
out_end:
	if (!rc)
		rc = outc_buf_put(host, b, "", 1); /* keep the terminator */
	return rc;
}
