/*
 * outputs/common: the pieces the output modules share (growing arrays and
 * strings, hash tables, the stack trie, UTF-8 checks, frame labels).
 *
 * Linked into every output module, never into the core: everything here is
 * hidden, so a module still exports only pyspy_module.
 */
#ifndef PYSPY_OUTPUTS_COMMON_H
#define PYSPY_OUTPUTS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <pyspy/output.h>

#define OUTC_HIDDEN __attribute__((visibility("hidden")))

#define OUTC_NONE UINT32_MAX
#define OUTC_MAX_ENTRIES (1u << 28)  /* frames or trie nodes kept at most */
#define OUTC_MAX_DEPTH 65536u        /* frames of one stack used at most */
#define OUTC_MAX_PART 4096u          /* bytes of one name or file used at most */
#define OUTC_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD, for invalid UTF-8 */

/* --- the core's arrays (module.h): element i as our own struct ------- */

/* Stack i of a sample; *local holds it when the core's stack size is not ours. */
static inline const struct pyspy_stack *outc_stack(const struct pyspy_sample *s, size_t i,
						   struct pyspy_stack *local)
{
	return pyspy_elem_view(local, sizeof(*local), s->stacks, i, s->stack_size);
}

/* Frame i of a stack; *local holds it when the core's frame size is not ours. */
static inline const struct pyspy_frame *outc_frame(const struct pyspy_stack *st, size_t i,
						   struct pyspy_frame *local)
{
	return pyspy_elem_view(local, sizeof(*local), st->frames, i, st->frame_size);
}

/* --- memory: strmap.c ------------------------------------------------ */

/* Make *arr hold at least need elements (at most max); 0 or -ENOMEM. */
OUTC_HIDDEN int outc_grow(const struct pyspy_host *host, void **arr, size_t *cap,
			  size_t need, size_t elem, size_t max);

/* A growing string, kept NUL-terminated. */
struct outc_buf {
	char *p;
	size_t len, cap;
};

/* Append n bytes of s; 0 or -ENOMEM.  With host NULL the buffer is a
 * fixed array of cap bytes (a line on the screen): what does not fit is
 * cut off (never half a character) and the result is -ENOSPC. */
OUTC_HIDDEN int outc_buf_put(const struct pyspy_host *host, struct outc_buf *b,
			     const void *s, size_t n);
OUTC_HIDDEN int outc_buf_puts(const struct pyspy_host *host, struct outc_buf *b,
			      const char *s);
OUTC_HIDDEN int outc_buf_printf(const struct pyspy_host *host, struct outc_buf *b,
				const char *fmt, ...) PYSPY_PRINTF(3, 4);
/* Empty it, keeping its memory. */
OUTC_HIDDEN void outc_buf_reset(struct outc_buf *b);

/* A 64-bit mixer (murmur3's finalizer). */
OUTC_HIDDEN uint64_t outc_mix(uint64_t x);

/* An open-addressing index of entries kept in an array elsewhere. */
struct outc_slot {
	uint64_t hash;
	uint32_t idx1;    /* entry index + 1; 0 = empty */
	uint32_t reserved;
};

struct outc_table {
	struct outc_slot *slots;
	size_t cap;       /* power of two, or 0 */
	size_t count;
};

/* The entry under hash h for which same(arg, index) holds, or -1. */
OUTC_HIDDEN int64_t outc_table_find(const struct outc_table *t, uint64_t h,
				    int (*same)(const void *arg, size_t idx), const void *arg);
/* Make room for one more entry; 0 or -ENOMEM. */
OUTC_HIDDEN int outc_table_reserve(const struct pyspy_host *host, struct outc_table *t);
/* Insert entry idx under hash h; the table has room (outc_table_reserve). */
OUTC_HIDDEN void outc_table_insert(struct outc_table *t, uint64_t h, size_t idx);
/* Forget every entry, keeping the slots. */
OUTC_HIDDEN void outc_table_clear(struct outc_table *t);
OUTC_HIDDEN void outc_table_free(const struct pyspy_host *host, struct outc_table *t);

/* py-spy's --idle and --gil: whether a thread's stack is kept (idle ones
 * only with keep_idle, only the GIL holder with gil_only). */
OUTC_HIDDEN int outc_keep_stack(const struct pyspy_stack *s, int keep_idle, int gil_only);

/* --- the stack trie, record outputs: stacks.c ------------------------- */

/* A distinct frame: the strings are the core's interned pointers. */
struct outc_frame {
	const char *name;
	const char *file;  /* NULL for pseudo frames */
	int32_t line;      /* 0 when lines are not shown */
	uint32_t pseudo;   /* thread/process pseudo-frame: name only */
	int32_t first_line; /* the function's first line, 0 if unknown; not part
			     * of the identity: the first frame's is kept */
};

/* A trie node: one stack prefix, root first. */
struct outc_node {
	uint32_t parent;   /* OUTC_NONE for the outermost frames */
	uint32_t frame;
	uint32_t depth;    /* 1 for the outermost frames */
	uint32_t reserved;
	uint64_t count;    /* the module's own count */
};

/* The last path one thread added, root first: its next stack usually
 * starts the same way, and those frames need no hashing. */
#define OUTC_MEMOS 8
struct outc_memo {
	uint64_t thread_id;
	uint64_t used;               /* outc_stacks.memo_clock at the last use */
	struct pyspy_frame *frames;
	uint32_t *nodes;
	size_t n, frames_cap, nodes_cap;
};

/* Stacks merged into a trie keyed by (parent node, frame). */
struct outc_stacks {
	const struct pyspy_host *host;
	uint8_t show_lines, full_filenames;
	struct outc_memo memo[OUTC_MEMOS];
	uint64_t memo_clock;

	struct outc_frame *frames;
	size_t nframes, frames_cap;
	struct outc_table frame_index;

	struct outc_node *nodes;
	size_t nnodes, nodes_cap;
	struct outc_table node_index;
};

/*
 * Add the path of stack, root first (the outermost OUTC_MAX_DEPTH frames);
 * *leaf is the deepest node reached, even on failure (OUTC_NONE if none).
 * Returns 0 or -ENOMEM.
 */
OUTC_HIDDEN int outc_stacks_add(struct outc_stacks *s, const struct pyspy_stack *stack,
				uint32_t *leaf);
OUTC_HIDDEN void outc_stacks_free(struct outc_stacks *s);

/* A thread of a record output: the first member of a module's own
 * per-thread struct (threads.c). */
struct outc_thread {
	int64_t pid;
	uint64_t thread_id;     /* the interpreter's */
	int64_t os_thread_id;   /* the last nonzero one seen; 0: unknown */
	const char *name;       /* the last one seen, or NULL */
};

/*
 * The index of the stack's thread, by (pid, interpreter thread id), in
 * *arr: *n elements of elem bytes, each starting with struct outc_thread,
 * indexed by index.  A new thread is appended zeroed; the kernel id and
 * name are updated from the stack.  Returns the index or -ENOMEM.
 */
OUTC_HIDDEN int64_t outc_thread_of(const struct pyspy_host *host, struct outc_table *index,
				   void **arr, size_t *n, size_t *cap, size_t elem,
				   const struct pyspy_stack *stack);

/* The start of every record output's state (collapsed, flamegraph, ...). */
struct outc_record {
	const struct pyspy_host *host;
	FILE *stream;
	const char *module;        /* the module's name, for messages */
	struct outc_stacks stacks; /* lines and filenames as configured */
};

/*
 * Allocate *state, size zeroed bytes starting with a struct outc_record,
 * and fill that in (lines and filenames as cfg says): 0, or -EINVAL (no
 * stream) or -ENOMEM with err set.
 */
OUTC_HIDDEN int outc_record_open(const struct pyspy_host *host,
				 const struct pyspy_output_config *cfg, FILE *stream,
				 size_t size, const char *module, void **state,
				 char *err, size_t errlen);
/*
 * Pass every stack of sample to add(r, stack); on failure err says
 * "MODULE: out of memory after N stack prefixes".
 */
OUTC_HIDDEN int outc_record_sample(struct outc_record *r, const struct pyspy_sample *sample,
				   int (*add)(void *state, const struct pyspy_stack *stack),
				   char *err, size_t errlen);
/* Free what r holds (not r itself). */
OUTC_HIDDEN void outc_record_free(struct outc_record *r);

/* --- text: escape.c, label.c ------------------------------------------ */

/*
 * Length of the valid UTF-8 sequence at s (n bytes left: 1..4), or 0 if s
 * does not start one; *bad is then the length of the maximal invalid
 * prefix (Unicode's "maximal subpart").  bad may be NULL.
 */
OUTC_HIDDEN size_t outc_utf8_len(const unsigned char *s, size_t n, size_t *bad);
/* The code point of a valid sequence of length n. */
OUTC_HIDDEN uint32_t outc_utf8_decode(const unsigned char *s, size_t n);

/*
 * The one escaper of text read from the target (escape.c): invalid UTF-8
 * becomes U+FFFD and nothing that can move a terminal's cursor, change its
 * colours or reorder text (C0, DEL, C1, U+202E and the other bidirectional
 * controls, U+2028, U+2029) is written raw; each policy adds its format's
 * needs.
 */
enum outc_esc {
	OUTC_ESC_TERMINAL = 1, /* text for a terminal (dump, top): \xNN, \uNNNN */
	OUTC_ESC_JSON,         /* inside a JSON string: \" \\ \n ..., \uNNNN */
	OUTC_ESC_LABEL,        /* plain text without syntax: '?' in place */
	OUTC_ESC_COLLAPSED,    /* LABEL, and ';' (separates frames) becomes ':' */
	OUTC_ESC_XML,          /* LABEL, and & < > " ' as entities */
};
/* LABEL, COLLAPSED and XML also turn U+FFFE and U+FFFF (not XML
 * characters) into U+FFFD.  All policies are idempotent on their LABEL
 * part: a label made safe once may be written again as XML. */

/* s[0..n) escaped by policy, in pieces handed to put(ctx, p, n) (0 or a
 * negative errno, which ends the walk and is returned). */
OUTC_HIDDEN int outc_escape(const char *s, size_t n, enum outc_esc policy,
			    int (*put)(void *ctx, const void *p, size_t n), void *ctx);
/* The first OUTC_MAX_PART bytes of s escaped, appended to b. */
OUTC_HIDDEN int outc_escape_buf(const struct pyspy_host *host, struct outc_buf *b,
				const char *s, enum outc_esc policy);
/* s[0..n) escaped, written to f; 0 or -EIO. */
OUTC_HIDDEN int outc_escape_file(FILE *f, const char *s, size_t n, enum outc_esc policy);
/* The first OUTC_MAX_PART bytes of s (NULL: "") as a JSON string, quotes
 * included, written to f. */
OUTC_HIDDEN void outc_put_json(FILE *f, const char *s);

/*
 * Append `name (file:line)`, `name (file)` or `name` escaped by policy, and
 * a NUL; *at is where it starts in b.
 */
OUTC_HIDDEN int outc_put_label(const struct pyspy_host *host, struct outc_buf *b,
			       const struct outc_frame *f, enum outc_esc policy, uint32_t *at);

#endif /* PYSPY_OUTPUTS_COMMON_H */
