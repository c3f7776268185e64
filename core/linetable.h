/*
 * CPython line tables: the byte offset of an instruction -> its line number.
 * Pure functions over a local copy of the table, for every era:
 *   co_lnotab (<= 3.9; unsigned line deltas before 3.6), the 3.10 co_linetable
 *   (PEP 626) and the 3.11+ location table (PEP 657).
 */
#ifndef PYSPY_CORE_LINETABLE_H
#define PYSPY_CORE_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

/* Line of the instruction at byte offset `addr` (negative: not started yet,
 * gives firstlineno).  `model` is an enum pyspy_line_table.  Returns the
 * line, or -1 when the table gives none (or is malformed there). */
int linetable_line(uint32_t model, const uint8_t *table, size_t n, int firstlineno,
		   int64_t addr);

#endif /* PYSPY_CORE_LINETABLE_H */
