/*
 * top: a live view of where the target spends its time, like Unix top.
 *
 * Every sample adds, per function (and, in a second table, per line), one
 * "own" count for the innermost frame of each kept stack and one "total"
 * count for every function on the stack (once per stack, however deep the
 * recursion).  Counts of the current refresh window become the shown
 * percentages at each TICK; cumulative counts divided by the rate are the
 * shown times.
 *
 * On a terminal the view is drawn with ncursesw on the stream the core
 * handed over (newterm, never initscr) and keys are read from input_fd.
 * Otherwise (or when ncurses cannot drive the terminal) the same header and
 * table are printed as plain text at every TICK, so the output can be piped
 * or logged; option `rows` of the [top] section of plugins.ini bounds those
 * tables (default 50 rows).
 */
#define NCURSES_WIDECHAR 1

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include <ncursesw/curses.h>

#include <pyspy/module.h>
#include <pyspy/output.h>

#include "common/common.h"

#define TOP_MAX_ENTRIES (1u << 20)  /* distinct functions (or lines) kept */
#define TOP_MAX_FRAMES 65536u       /* frames of one stack looked at */
#define TOP_MAX_STACKS 65536u       /* stacks of one sample looked at */
#define TOP_LINE_MAX 2048           /* bytes of one formatted line */
#define TOP_HEADER_ROWS 5           /* title, samples, GIL, status, columns */
#define TOP_TEXT_ROWS 50            /* rows of a plain-text table by default */
#define TOP_DEFAULT_RATE 100.0
#define TOP_LAG_WARN_S 1.0          /* warn when this far behind ... */
#define TOP_LATE_WARN_PCT 10.0      /* ... with this share of samples late */

enum top_column {
	TOP_COL_OWN = 1,        /* %Own */
	TOP_COL_TOTAL = 2,      /* %Total */
	TOP_COL_OWN_TIME = 3,   /* OwnTime */
	TOP_COL_TOTAL_TIME = 4, /* TotalTime */
};

/* One function (or one line of a function) and its counts. */
struct top_entry {
	const char *name;
	const char *filename;
	const char *short_filename;
	int32_t line;              /* 0 in the per-function table */
	uint64_t stamp;            /* last stack that counted it in total */
	uint64_t own, total;       /* the current refresh window */
	uint64_t own_cum, total_cum; /* since the start or the last reset */
	/* what the view shows: the last completed window */
	uint64_t shown_own, shown_total, shown_own_cum, shown_total_cum;
};

/* Entries in an array, found by outputs/common's hash index. */
struct top_table {
	struct top_entry *entries;
	size_t n, cap;
	struct outc_table index;
};

struct top_counts {
	uint64_t samples;       /* sample() calls */
	uint64_t gil, active;   /* kept stacks holding the GIL / running */
	uint64_t late;          /* samples taken a sampling period late or more */
	double last_lag;        /* seconds the latest sample was late */
};

struct top_state {
	const struct pyspy_host *host;
	FILE *stream;
	int input_fd;
	bool tty;
	bool utf8;              /* the locale's charset is UTF-8 */
	bool full_filenames, keep_idle, gil_only;
	double rate;
	size_t text_rows;

	char *title;            /* "Collecting samples from ..." (escaped) */
	char *saved_locale;     /* LC_ALL before open, restored by close */

	struct top_table funcs, lines;
	uint64_t stamp;

	/* counts: the current window, and the one shown */
	struct top_counts win, shown;
	uint64_t samples, errors;            /* since the start or a reset */
	uint64_t shown_samples, shown_errors;
	uint32_t threads, shown_threads;
	bool ticked;            /* a TICK (or an early refresh) happened */

	/* view */
	bool line_mode;
	int sort_col;
	bool ascending;
	bool paused, help, exited, input_eof;
	char exit_msg[256];

	/* terminal */
	SCREEN *screen;
	FILE *in;
	bool curses_on;         /* between newterm and endwin */

	struct top_entry **order;
	size_t order_cap;
};

/* ------------------------------------------------------------------ */
/* Text: escaping names, formatting the view's lines                   */

/* Text read from the target, escaped for the terminal (NULL: "?"): lines
 * are fixed outc_bufs (host NULL), so what does not fit is cut off. */
static void top_put_name(struct outc_buf *b, const char *s)
{
	outc_escape_buf(NULL, b, s ? s : "?", OUTC_ESC_TERMINAL);
}

static double top_pct(uint64_t count, uint64_t of)
{
	return of ? 100.0 * (double)count / (double)of : 0.0;
}

static const char *top_entry_file(const struct top_state *st, const struct top_entry *e)
{
	if (!st->full_filenames && e->short_filename)
		return e->short_filename;
	return e->filename;
}

/* "name (file)" or "name (file:line)" */
static void top_format_label(const struct top_state *st, const struct top_entry *e,
			     struct outc_buf *b)
{
	top_put_name(b, e->name);
	outc_buf_puts(NULL, b, " (");
	top_put_name(b, top_entry_file(st, e));
	if (st->line_mode && e->line > 0)
		outc_buf_printf(NULL, b, ":%d", (int)e->line);
	outc_buf_puts(NULL, b, ")");
}

static void top_format_samples(const struct top_state *st, struct outc_buf *b)
{
	double err_rate = top_pct(st->shown_errors, st->shown_samples);

	outc_buf_printf(NULL, b, "Total Samples %llu", (unsigned long long)st->shown_samples);
	if (st->shown_samples > 100 && err_rate >= 1.0)
		outc_buf_printf(NULL, b, ", Error Rate %.2f%% (%llu)", err_rate,
			       (unsigned long long)st->shown_errors);
}

/* Whether sampling falls behind enough to say so. */
static bool top_lagging(const struct top_state *st)
{
	return st->shown.last_lag > TOP_LAG_WARN_S &&
	       top_pct(st->shown.late, st->shown.samples) > TOP_LATE_WARN_PCT;
}

static void top_format_lag(const struct top_state *st, struct outc_buf *b)
{
	outc_buf_printf(NULL, b, "Warning: sampling is %.2fs behind (%.0f%% of the samples late); "
		       "try a lower --rate", st->shown.last_lag,
		       top_pct(st->shown.late, st->shown.samples));
}

static void top_format_gil(const struct top_state *st, struct outc_buf *b)
{
	outc_buf_printf(NULL, b, "GIL: %.2f%%, Active: %.2f%%, Threads: %u",
		       top_pct(st->shown.gil, st->shown.samples),
		       top_pct(st->shown.active, st->shown.samples),
		       (unsigned)st->shown_threads);
}

/* The column header; the sort column carries an arrow (down: largest
 * first). */
static void top_format_columns(const struct top_state *st, struct outc_buf *b)
{
	static const char *const names[] = { "%Own", "%Total", "OwnTime", "TotalTime" };
	static const int widths[] = { 7, 7, 8, 9 };
	const char *mark;
	int i, w;

	if (st->utf8)
		mark = st->ascending ? "\u25b2" : "\u25bc";
	else
		mark = st->ascending ? "^" : "v";
	for (i = 0; i < 4; i++) {
		bool sorted = st->sort_col == i + 1;

		/* the arrow takes one column */
		w = widths[i] - (int)strlen(names[i]) - (sorted ? 1 : 0);
		if (i > 0)
			outc_buf_puts(NULL, b, " ");
		while (w-- > 0)
			outc_buf_puts(NULL, b, " ");
		if (sorted)
			outc_buf_puts(NULL, b, mark);
		outc_buf_puts(NULL, b, names[i]);
	}
	outc_buf_puts(NULL, b, st->line_mode ? "   Function (filename:line)" : "   Function (filename)");
}

static void top_format_row(const struct top_state *st, const struct top_entry *e,
			   struct outc_buf *b)
{
	outc_buf_printf(NULL, b, "%6.2f%% %6.2f%% %7.2fs %8.2fs   ",
		       top_pct(e->shown_own, st->shown.samples),
		       top_pct(e->shown_total, st->shown.samples),
		       (double)e->shown_own_cum / st->rate,
		       (double)e->shown_total_cum / st->rate);
	top_format_label(st, e, b);
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */

/* The strings are the core's interned pointers: compared by address. */
static uint64_t top_hash(const char *name, const char *filename, int32_t line)
{
	return outc_mix((uint64_t)(uintptr_t)name ^
			outc_mix((uint64_t)(uintptr_t)filename ^ (uint64_t)(uint32_t)line));
}

struct top_key {
	const struct top_table *t;
	const struct pyspy_frame *f;
	int32_t line;
};

static int top_same(const void *arg, size_t idx)
{
	const struct top_key *k = arg;
	const struct top_entry *e = &k->t->entries[idx];

	return e->name == k->f->name && e->filename == k->f->filename && e->line == k->line;
}

/* The entry for (name, filename, line), added with zero counts if new. */
static int top_table_get(const struct pyspy_host *host, struct top_table *t,
			 const struct pyspy_frame *f, int32_t line, struct top_entry **out)
{
	const struct top_key key = { t, f, line };
	uint64_t h = top_hash(f->name, f->filename, line);
	int64_t found = outc_table_find(&t->index, h, top_same, &key);
	struct top_entry *e;
	int ret;

	if (found >= 0) {
		*out = &t->entries[found];
		return 0;
	}
	if (t->n >= TOP_MAX_ENTRIES)
		return -ENOSPC;
	ret = outc_table_reserve(host, &t->index);
	if (!ret)
		ret = outc_grow(host, (void **)&t->entries, &t->cap, t->n + 1, sizeof(*e),
				TOP_MAX_ENTRIES);
	if (ret)
		return ret;
	e = &t->entries[t->n];
	memset(e, 0, sizeof(*e));
	e->name = f->name;
	e->filename = f->filename;
	e->short_filename = f->short_filename;
	e->line = line;
	outc_table_insert(&t->index, h, t->n);
	t->n++;
	*out = e;
	return 0;
}

static void top_table_clear(struct top_table *t)
{
	t->n = 0;
	outc_table_clear(&t->index);
}

static void top_table_free(const struct pyspy_host *host, struct top_table *t)
{
	host->free(t->entries);
	outc_table_free(host, &t->index);
	memset(t, 0, sizeof(*t));
}

/* Count one stack into a table: own for the innermost real frame, total
 * once per entry (st->stamp names this stack). */
static int top_count_stack(struct top_state *st, struct top_table *t,
			   const struct pyspy_stack *s, bool by_line)
{
	uint32_t n = s->nframes < TOP_MAX_FRAMES ? s->nframes : TOP_MAX_FRAMES;
	bool leaf = true;
	struct top_entry *e;
	uint32_t i;
	int ret;

	for (i = 0; i < n; i++) {
		struct pyspy_frame local;
		const struct pyspy_frame *f = outc_frame(s, i, &local);

		/* thread and process pseudo-frames and omission markers are not code */
		if (f->flags & (PYSPY_FRAME_THREAD | PYSPY_FRAME_PROCESS | PYSPY_FRAME_OMITTED))
			continue;
		ret = top_table_get(st->host, t, f, by_line ? f->line : 0, &e);
		if (ret == -ENOSPC)
			continue;       /* full: count what is known */
		if (ret)
			return ret;
		if (leaf) {
			e->own++;
			e->own_cum++;
			leaf = false;
		}
		if (e->stamp != st->stamp) {
			e->stamp = st->stamp;
			e->total++;
			e->total_cum++;
		}
	}
	return 0;
}

/* The current window becomes the shown one. */
static void top_promote(struct top_state *st)
{
	struct top_table *tables[] = { &st->funcs, &st->lines };
	size_t i, k;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < tables[k]->n; i++) {
			struct top_entry *e = &tables[k]->entries[i];

			e->shown_own = e->own;
			e->shown_total = e->total;
			e->shown_own_cum = e->own_cum;
			e->shown_total_cum = e->total_cum;
			e->own = 0;
			e->total = 0;
		}
	}
	st->shown = st->win;
	memset(&st->win, 0, sizeof(st->win));
	st->shown_samples = st->samples;
	st->shown_errors = st->errors;
	st->shown_threads = st->threads;
	st->ticked = true;
}

/* At the target's exit: show the last samples, unless so few arrived since
 * the last refresh that their percentages would mislead (then only the
 * times and totals move on). */
static void top_promote_last(struct top_state *st)
{
	struct top_table *tables[] = { &st->funcs, &st->lines };
	size_t i, k;

	if (st->win.samples == 0)
		return;
	if (st->shown.samples == 0 || st->win.samples * 2 >= st->shown.samples) {
		top_promote(st);
		return;
	}
	for (k = 0; k < 2; k++) {
		for (i = 0; i < tables[k]->n; i++) {
			struct top_entry *e = &tables[k]->entries[i];

			e->shown_own_cum = e->own_cum;
			e->shown_total_cum = e->total_cum;
		}
	}
	st->shown_samples = st->samples;
	st->shown_errors = st->errors;
	st->shown_threads = st->threads;
}

static void top_reset(struct top_state *st)
{
	top_table_clear(&st->funcs);
	top_table_clear(&st->lines);
	memset(&st->win, 0, sizeof(st->win));
	memset(&st->shown, 0, sizeof(st->shown));
	st->samples = st->errors = 0;
	st->shown_samples = st->shown_errors = 0;
	st->shown_threads = 0;
}

static int top_cmp_label(const struct top_entry *a, const struct top_entry *b)
{
	int c;

	if (a->name != b->name) {
		c = strcmp(a->name ? a->name : "", b->name ? b->name : "");
		if (c)
			return c;
	}
	if (a->filename != b->filename) {
		c = strcmp(a->filename ? a->filename : "", b->filename ? b->filename : "");
		if (c)
			return c;
	}
	return (a->line > b->line) - (a->line < b->line);
}

static int top_cmp_u64(uint64_t a, uint64_t b)
{
	return (a > b) - (a < b);
}

/* Largest first by the sort column (smallest first when ascending), then
 * by the other columns, then by name so the order is stable. */
static int top_cmp(const void *pa, const void *pb, void *arg)
{
	const struct top_state *st = arg;
	const struct top_entry *a = *(const struct top_entry *const *)pa;
	const struct top_entry *b = *(const struct top_entry *const *)pb;
	uint64_t ka[4] = { a->shown_own, a->shown_total, a->shown_own_cum, a->shown_total_cum };
	uint64_t kb[4] = { b->shown_own, b->shown_total, b->shown_own_cum, b->shown_total_cum };
	static const int next[4][4] = {
		{ 0, 2, 1, 3 }, { 1, 3, 0, 2 }, { 2, 0, 3, 1 }, { 3, 1, 2, 0 },
	};
	int col = st->sort_col - 1, i, c;

	for (i = 0; i < 4; i++) {
		c = top_cmp_u64(kb[next[col][i]], ka[next[col][i]]);
		if (c)
			return st->ascending ? -c : c;
	}
	return top_cmp_label(a, b);
}

/* The shown entries of the current table, sorted; returns how many. */
static int top_sort(struct top_state *st, size_t *count)
{
	struct top_table *t = st->line_mode ? &st->lines : &st->funcs;
	size_t i, n = 0;

	if (t->n > st->order_cap) {
		struct top_entry **v = st->host->realloc(st->order, t->n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		st->order = v;
		st->order_cap = t->n;
	}
	for (i = 0; i < t->n; i++) {
		struct top_entry *e = &t->entries[i];

		if (e->shown_own_cum || e->shown_total_cum)
			st->order[n++] = e;
	}
	if (n > 1)
		qsort_r(st->order, n, sizeof(*st->order), top_cmp, st);
	*count = n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Plain text (not a terminal)                                         */

static int top_print_text(struct top_state *st)
{
	char line[TOP_LINE_MAX];
	struct outc_buf b = { line, 0, sizeof(line) };
	size_t i, n;
	int ret;

	ret = top_sort(st, &n);
	if (ret)
		return ret;
	fprintf(st->stream, "%s\n", st->title);
	outc_buf_reset(&b);
	top_format_samples(st, &b);
	fprintf(st->stream, "%s\n", line);
	outc_buf_reset(&b);
	top_format_gil(st, &b);
	fprintf(st->stream, "%s\n", line);
	if (top_lagging(st)) {
		outc_buf_reset(&b);
		top_format_lag(st, &b);
		fprintf(st->stream, "%s\n", line);
	}
	fputc('\n', st->stream);
	outc_buf_reset(&b);
	top_format_columns(st, &b);
	fprintf(st->stream, "%s\n", line);
	for (i = 0; i < n && i < st->text_rows; i++) {
		outc_buf_reset(&b);
		top_format_row(st, st->order[i], &b);
		fprintf(st->stream, "%s\n", line);
	}
	fputc('\n', st->stream);
	if (fflush(st->stream) != 0 || ferror(st->stream))
		return errno == EPIPE ? -EPIPE : -EIO;  /* EPIPE: the reader left */
	return 0;
}

/* ------------------------------------------------------------------ */
/* Terminal                                                            */

/* Draw UTF-8 text at (y, x) in at most `cols` columns. */
static void top_draw(struct top_state *st, int y, int x, const char *s, int cols, attr_t attr)
{
	const unsigned char *u = (const unsigned char *)s;
	wchar_t ws[TOP_LINE_MAX];
	size_t i = 0, n = strlen(s), k = 0, len;
	int used = 0, w;
	uint32_t cp;

	while (i < n && k < TOP_LINE_MAX - 1) {
		len = outc_utf8_len(u + i, n - i, NULL);
		if (len == 0) {
			cp = '?';
			len = 1;
		} else {
			cp = outc_utf8_decode(u + i, len);
		}
		if (cp >= 0x80 && !st->utf8)
			cp = '?';       /* the terminal cannot show it */
		w = wcwidth((wchar_t)cp);
		if (w < 0)
			w = 1;
		if (used + w > cols)
			break;
		ws[k++] = (wchar_t)cp;
		used += w;
		i += len;
	}
	ws[k] = L'\0';
	attron(attr);
	mvaddnwstr(y, x, ws, (int)k);
	attroff(attr);
}

static void top_draw_help(struct top_state *st)
{
	static const char *const text[] = {
		"py-spy top: keys",
		"",
		"  1   sort by %Own",
		"  2   sort by %Total",
		"  3   sort by OwnTime",
		"  4   sort by TotalTime",
		"      (the same key again reverses the order)",
		"  L   aggregate by line / by function",
		"  R   reset the counts",
		"  P   pause / resume the display",
		"  ?   this help",
		"  q   quit (also Control-C)",
		"",
		"Press any key to close this help.",
	};
	int rows = (int)(sizeof(text) / sizeof(text[0])) + 2, cols = 52;
	int y0, x0, i, j;

	if (rows > LINES)
		rows = LINES;
	if (cols > COLS)
		cols = COLS;
	y0 = (LINES - rows) / 2;
	x0 = (COLS - cols) / 2;
	for (i = 0; i < rows; i++) {
		move(y0 + i, x0);
		for (j = 0; j < cols; j++)
			addch(' ' | A_REVERSE);
	}
	for (i = 0; i + 2 < rows; i++)
		top_draw(st, y0 + 1 + i, x0 + 2, text[i], cols - 4, A_REVERSE);
}

static void top_draw_screen(struct top_state *st)
{
	char line[TOP_LINE_MAX];
	struct outc_buf b = { line, 0, sizeof(line) };
	size_t i, n = 0;
	int y;

	if (!st->curses_on)
		return;
	set_term(st->screen);
	if (top_sort(st, &n))
		n = 0;          /* out of memory: draw the header at least */
	erase();
	top_draw(st, 0, 0, st->title, COLS, A_BOLD);
	outc_buf_reset(&b);
	top_format_samples(st, &b);
	top_draw(st, 1, 0, line, COLS, A_NORMAL);
	outc_buf_reset(&b);
	top_format_gil(st, &b);
	top_draw(st, 2, 0, line, COLS, A_NORMAL);

	outc_buf_reset(&b);
	if (st->exited) {
		top_put_name(&b, st->exit_msg);
		outc_buf_puts(NULL, &b, st->utf8 ? " \u2014 " : " - ");
		outc_buf_puts(NULL, &b, "press any key to quit");
		top_draw(st, 3, 0, line, COLS, A_BOLD | A_REVERSE);
	} else if (st->paused) {
		top_draw(st, 3, 0, "Paused: press P to resume", COLS, A_BOLD);
	} else if (top_lagging(st)) {
		top_format_lag(st, &b);
		top_draw(st, 3, 0, line, COLS, A_BOLD | (has_colors() ? COLOR_PAIR(1) : 0));
	} else {
		top_draw(st, 3, 0, "Press ? for help, q to quit", COLS, A_DIM);
	}

	outc_buf_reset(&b);
	top_format_columns(st, &b);
	move(4, 0);
	for (y = 0; y < COLS; y++)
		addch(' ' | A_REVERSE);
	top_draw(st, 4, 0, line, COLS, A_REVERSE);

	for (i = 0, y = TOP_HEADER_ROWS; i < n && y < LINES; i++, y++) {
		outc_buf_reset(&b);
		top_format_row(st, st->order[i], &b);
		top_draw(st, y, 0, line, COLS, A_NORMAL);
	}
	if (st->help)
		top_draw_help(st);
	refresh();
}

/* Follow the terminal's size (the core's RESIZE, or a change noticed at a
 * refresh when the core did not see the signal). */
static void top_check_size(struct top_state *st)
{
	struct winsize ws;

	if (!st->curses_on)
		return;
	set_term(st->screen);
	if (ioctl(fileno(st->stream), TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0)
		return;
	if (ws.ws_row != LINES || ws.ws_col != COLS) {
		resizeterm(ws.ws_row, ws.ws_col);
		clearok(curscr, TRUE);
	}
}

static void top_curses_end(struct top_state *st);

/* Whether the terminal can place the cursor (a "dumb" one cannot). */
static bool top_can_address(void)
{
	char cap[] = "cup";
	const char *cup = tigetstr(cap);

	return cup && cup != (const char *)-1;
}

static int top_curses_start(struct top_state *st, char *err, size_t errlen)
{
	struct sigaction old_int, old_term;
	const char *term = getenv("TERM");
	int fd, ret;

	fflush(st->stream);
	/* ncurses wants a FILE for input; keys are read from input_fd
	 * directly, so this one is only a duplicate. */
	if (st->input_fd >= 0)
		fd = fcntl(st->input_fd, F_DUPFD_CLOEXEC, 0);
	else
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "top: cannot open the keyboard: %s", strerror(-ret));
		return ret;
	}
	st->in = fdopen(fd, "r");
	if (!st->in) {
		ret = -errno;
		close(fd);
		snprintf(err, errlen, "top: cannot open the keyboard: %s", strerror(-ret));
		return ret;
	}

	/* ncurses keeps caches (terminfo entries, names) after delscreen,
	 * reachable from its own globals: keep the libraries loaded when
	 * this module is unloaded, so they stay reachable, not leaked. */
	dlopen("libncursesw.so.6", RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
	dlopen("libtinfo.so.6", RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);

	/* ncurses catches SIGINT and SIGTERM when nobody else does, and its
	 * handler exits the process: keep whatever the core set. */
	sigaction(SIGINT, NULL, &old_int);
	sigaction(SIGTERM, NULL, &old_term);
	st->screen = newterm(NULL, st->stream, st->in);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (!st->screen) {
		snprintf(err, errlen, "top: cannot use the terminal '%s' (check TERM)",
			 term ? term : "");
		fclose(st->in);
		st->in = NULL;
		return -ENOTTY;
	}
	set_term(st->screen);
	st->curses_on = true;
	if (!top_can_address()) {
		snprintf(err, errlen, "top: the terminal '%s' cannot move the cursor",
			 term ? term : "");
		top_curses_end(st);
		delscreen(st->screen);
		st->screen = NULL;
		fclose(st->in);
		st->in = NULL;
		return -ENOTTY;
	}
	/* raw: Control-C arrives as a key; without a keyboard let it signal */
	if (st->input_fd >= 0)
		raw();
	else
		cbreak();
	noecho();
	nonl();
	typeahead(-1);  /* keys pending on input_fd must not stall drawing */
	leaveok(stdscr, TRUE);
	curs_set(0);
	if (has_colors() && start_color() == OK) {
		use_default_colors();
		init_pair(1, COLOR_RED, -1);    /* warnings */
	}
	return 0;
}

/* Restore the terminal; safe to call more than once. */
static void top_curses_end(struct top_state *st)
{
	if (!st->curses_on)
		return;
	set_term(st->screen);
	curs_set(1);
	endwin();
	st->curses_on = false;
	fflush(st->stream);
}

/* ------------------------------------------------------------------ */
/* Ops                                                                 */

static int top_refresh(struct top_state *st)
{
	if (st->tty) {
		top_draw_screen(st);
		return 0;
	}
	return top_print_text(st);
}

static int top_open(const struct pyspy_host *host, const struct pyspy_output_config *cfg,
		    FILE *stream, void **state, char *err, size_t errlen)
{
	const struct pyspy_process_info *proc;
	struct top_state *st;
	const char *opt, *loc;
	char line[TOP_LINE_MAX], cmdline[TOP_LINE_MAX / 2] = "";
	struct outc_buf b = { line, 0, sizeof(line) };
	struct outc_buf cmd = { cmdline, 0, sizeof(cmdline) };
	int ret;

	if (!host || !cfg || !stream || !state ||
	    cfg->size < offsetof(struct pyspy_output_config, reserved)) {
		snprintf(err, errlen, "top: bad configuration");
		return -EINVAL;
	}
	st = host->alloc(sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "top: out of memory");
		return -ENOMEM;
	}
	st->host = host;
	st->stream = stream;
	st->input_fd = cfg->input_fd;
	st->tty = cfg->is_tty;
	st->full_filenames = cfg->full_filenames;
	st->keep_idle = cfg->idle;
	st->gil_only = cfg->gil;
	st->rate = cfg->rate > 0 ? cfg->rate : TOP_DEFAULT_RATE;
	st->sort_col = TOP_COL_OWN_TIME;
	st->text_rows = TOP_TEXT_ROWS;
	opt = host->option ? host->option(host, "rows") : NULL;
	if (opt && atoi(opt) > 0)
		st->text_rows = (size_t)atoi(opt);

	/* ncursesw draws non-ASCII only under the user's locale; numbers stay
	 * in the C format whatever it says. */
	loc = setlocale(LC_ALL, NULL);
	if (loc) {
		st->saved_locale = host->alloc(strlen(loc) + 1);
		if (!st->saved_locale) {
			ret = -ENOMEM;
			snprintf(err, errlen, "top: out of memory");
			goto out_free_state;
		}
		strcpy(st->saved_locale, loc);
	}
	setlocale(LC_ALL, "");
	setlocale(LC_NUMERIC, "C");
	st->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;

	/* the command line is cut (at a character) so the version fits */
	proc = cfg->process;
	top_put_name(&cmd, proc && proc->cmdline ? proc->cmdline : "?");
	outc_buf_reset(&b);
	outc_buf_puts(NULL, &b, "Collecting samples from '");
	outc_buf_puts(NULL, &b, cmdline);
	outc_buf_puts(NULL, &b, "' (python v");
	top_put_name(&b, proc && proc->python_version ? proc->python_version : "?");
	outc_buf_puts(NULL, &b, ")");
	st->title = host->alloc(b.len + 1);
	if (!st->title) {
		ret = -ENOMEM;
		snprintf(err, errlen, "top: out of memory");
		goto out_restore_locale;
	}
	memcpy(st->title, line, b.len + 1);

	if (st->tty) {
		ret = top_curses_start(st, err, errlen);
		if (ret == -ENOTTY) {
			/* a terminal ncurses cannot drive (TERM unset, dumb):
			 * the plain tables still work */
			host->log(host, PYSPY_LOG_DEBUG, "%s; printing plain tables", err);
			if (errlen)
				err[0] = '\0';
			st->tty = false;
		} else if (ret) {
			goto out_free_title;
		} else {
			top_draw_screen(st);
		}
	}
	*state = st;
	return 0;

out_free_title:
	host->free(st->title);
out_restore_locale:
	if (st->saved_locale)
		setlocale(LC_ALL, st->saved_locale);
	host->free(st->saved_locale);
out_free_state:
	host->free(st);
	return ret;
}

static int top_sample(void *state, const struct pyspy_sample *sample, char *err, size_t errlen)
{
	struct top_state *st = state;
	struct pyspy_sample smp;
	uint32_t n, i;
	int ret;

	if (!st || !sample)
		return -EINVAL;
	sample = pyspy_copy_elem(&smp, sizeof(smp), sample, 0, sample->size);
	n = sample->nstacks < TOP_MAX_STACKS ? sample->nstacks : TOP_MAX_STACKS;
	if (!sample->stacks)
		n = 0;
	st->samples++;
	st->win.samples++;
	st->errors += sample->errors;
	if (sample->lag_s >= 1.0 / st->rate)
		st->win.late++;
	st->win.last_lag = sample->lag_s > 0 ? sample->lag_s : 0;
	st->threads = n;
	for (i = 0; i < n; i++) {
		struct pyspy_stack local;
		const struct pyspy_stack *s = outc_stack(sample, i, &local);

		if (!outc_keep_stack(s, st->keep_idle, st->gil_only))
			continue;
		if (s->owns_gil)
			st->win.gil++;
		if (s->active)
			st->win.active++;
		if (!s->frames)
			continue;
		st->stamp++;
		ret = top_count_stack(st, &st->funcs, s, false);
		if (!ret)
			ret = top_count_stack(st, &st->lines, s, true);
		if (ret) {
			snprintf(err, errlen, "top: out of memory");
			return ret;
		}
	}
	/* On a terminal, show something early rather than after a full
	 * refresh interval. */
	if (st->tty && !st->ticked && !st->paused && !st->exited &&
	    (st->samples == 10 || st->samples == 100)) {
		top_promote(st);
		top_draw_screen(st);
	}
	return 0;
}

/* Keys: one read of what is waiting on input_fd. */
static int top_input(struct top_state *st)
{
	unsigned char keys[64];
	bool redraw = false;
	ssize_t r, i;

	if (st->input_fd < 0)
		return PYSPY_CONTINUE;
	r = read(st->input_fd, keys, sizeof(keys));
	if (r < 0)
		return PYSPY_CONTINUE;
	if (r == 0) {
		/* the keyboard is gone: nothing more can be asked */
		st->input_eof = true;
		return st->exited ? PYSPY_QUIT : PYSPY_CONTINUE;
	}
	for (i = 0; i < r; i++) {
		unsigned char k = keys[i];

		if (k == 0x03 || k == 'q' || k == 'Q' || st->exited)
			return PYSPY_QUIT;
		if (k == 0x1b) {
			/* an escape sequence (arrows, function keys): its
			 * letters are not commands */
			if (st->help)
				st->help = false;
			redraw = true;
			break;
		}
		if (st->help) {
			st->help = false;
			redraw = true;
			continue;
		}
		switch (k) {
		case '1': case '2': case '3': case '4':
			if (st->sort_col == k - '0') {
				st->ascending = !st->ascending;
			} else {
				st->sort_col = k - '0';
				st->ascending = false;
			}
			break;
		case 'l': case 'L':
			st->line_mode = !st->line_mode;
			break;
		case 'r': case 'R':
			top_reset(st);
			break;
		case 'p': case 'P':
			st->paused = !st->paused;
			break;
		case '?': case 'h': case 'H':
			st->help = true;
			break;
		case 'x': case 'X':
			st->help = false;
			break;
		default:
			continue;
		}
		redraw = true;
	}
	if (redraw && st->tty)
		top_draw_screen(st);
	return PYSPY_CONTINUE;
}

static int top_event(void *state, const struct pyspy_event *ev, char *err, size_t errlen)
{
	struct top_state *st = state;
	int ret;

	if (!st || !ev)
		return -EINVAL;
	switch (ev->type) {
	case PYSPY_EVENT_TICK:
		if (st->exited)
			return PYSPY_CONTINUE;
		if (st->paused)
			return PYSPY_CONTINUE;  /* sampling goes on */
		top_promote(st);
		top_check_size(st);
		ret = top_refresh(st);
		break;
	case PYSPY_EVENT_INPUT:
		return top_input(st);
	case PYSPY_EVENT_RESIZE:
		if (!st->tty)
			return PYSPY_CONTINUE;
		top_check_size(st);
		top_draw_screen(st);
		return PYSPY_CONTINUE;
	case PYSPY_EVENT_TARGET_EXIT:
		if (!st->exited) {
			st->exited = true;
			snprintf(st->exit_msg, sizeof(st->exit_msg), "%s",
				 ev->message && ev->message[0] ? ev->message : "process exited");
			st->help = false;
			top_promote_last(st);
			ret = top_refresh(st);
			if (ret)
				break;
		}
		/* nobody can press a key: there is nothing more to show */
		if (!st->tty || st->input_fd < 0 || st->input_eof)
			return PYSPY_QUIT;
		return PYSPY_CONTINUE;
	case PYSPY_EVENT_RESET:
		top_reset(st);
		ret = st->tty ? top_refresh(st) : 0;
		break;
	default:
		return PYSPY_CONTINUE;
	}
	if (ret) {
		snprintf(err, errlen, "top: %s", strerror(-ret));
		return ret;
	}
	return PYSPY_CONTINUE;
}

static int top_finish(void *state, const struct pyspy_run_summary *summary,
		      char *err, size_t errlen)
{
	struct top_state *st = state;
	int ret = 0;

	if (!st)
		return 0;
	if (st->tty) {
		top_curses_end(st);
		return 0;
	}
	/* piped: what arrived since the last table (e.g. at Control-C) */
	if (!st->exited && !st->paused && st->win.samples > 0) {
		top_promote(st);
		ret = top_print_text(st);
	}
	if (fflush(st->stream) != 0 && !ret)
		ret = -EIO;
	if (ret)
		snprintf(err, errlen, "top: %s", strerror(-ret));
	return ret;
}

static void top_close(void *state)
{
	struct top_state *st = state;

	if (!st)
		return;
	top_curses_end(st);
	if (st->screen)
		delscreen(st->screen);
	if (st->in)
		fclose(st->in);
	top_table_free(st->host, &st->funcs);
	top_table_free(st->host, &st->lines);
	st->host->free(st->order);
	st->host->free(st->title);
	if (st->saved_locale)
		setlocale(LC_ALL, st->saved_locale);
	st->host->free(st->saved_locale);
	st->host->free(st);
}

static const struct pyspy_output_ops top_ops = {
	.size = sizeof(struct pyspy_output_ops),
	.commands = PYSPY_CMD_TOP,
	.format = "top",
	.aliases = NULL,
	.extension = NULL,
	.to_stdout = 1,
	.open = top_open,
	.sample = top_sample,
	.event = top_event,
	.finish = top_finish,
	.close = top_close,
	.default_for = PYSPY_CMD_TOP,
};

PYSPY_EXPORT const struct pyspy_module pyspy_module = {
	.abi_version = PYSPY_ABI_VERSION,
	.struct_size = sizeof(struct pyspy_module),
	.kind = PYSPY_KIND_OUTPUT,
	.name = "top",
	.summary = "live view of the hottest functions, like Unix top",
	.ops = &top_ops,
};
