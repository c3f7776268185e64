/*
 * flamegraph: py-spy record's default output, one self-contained
 * interactive SVG drawn as an icicle (the root at the top, callees below).
 *
 * While sampling, stacks are merged into a tree keyed by (parent node,
 * frame); frames are identified by the core's interned string pointers, so
 * a sample costs hash look-ups and no string work.  In finish the children
 * of every node are sorted by label, laid out left to right, and only the
 * frames at least min_width wide are written: the file stays small however
 * many unique stacks were seen.
 *
 * The SVG carries its own CSS and JavaScript (fg_css, fg_js below): one
 * delegated click handler zooms into a frame (its ancestors span the whole
 * width, dimmed), "Reset Zoom" or a click on "all" zooms out; "Search" (or
 * Ctrl-F, F3) asks for a regular expression, highlights the matching frames
 * and shows the share of samples they cover ("Matched: 12.3%", counted
 * from the drawn frames, nested matches once); each frame's tooltip is
 * `label (N samples, P%)`, also shown at the bottom on hover.
 *
 * Options ([flamegraph] in plugins.ini):
 *   title      the title (default: py-spy's command line, else "py-spy")
 *   width      image width in pixels, 200..100000 (default 1200)
 *   min_width  narrowest frame drawn: pixels ("0.1") or percent of the
 *              width ("0.5%"); never below 0.02 px (default 0.1)
 *   colors     hot (default), mem, io, red, green, blue, aqua, yellow,
 *              purple, orange; a frame's colour follows from its name
 *
 * Text is made safe for XML (outputs/common's escaper, OUTC_ESC_LABEL then
 * OUTC_ESC_XML): labels are valid UTF-8 (invalid bytes become U+FFFD),
 * control and bidirectional characters become '?', and & < > " ' are
 * escaped.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pyspy/output.h>

#include "common/common.h"

#define FG_PAD 10                 /* left and right margin, px */
#define FG_TOP 36                 /* space above the frames, px */
#define FG_BOTTOM 30              /* space below the frames, px */
#define FG_FRAME_H 16             /* one row, px */
#define FG_CHAR_W 7.3             /* width of a character of the font, px */
#define FG_TITLE_FONT 17          /* px, the title's font size (12 elsewhere) */
#define FG_MIN_MIN_WIDTH 0.02     /* px: keeps every drawn frame visible */

struct fg_palette {
	const char *name;
	/* channel = base + span * one of three hash-derived values in [0, 1] */
	uint8_t base[3], span[3], pick[3];
};

struct fg_state {
	struct outc_record rec;   /* first: host, stream, stacks */
	int width;
	double min_width;          /* px, after the option was applied */
	const struct fg_palette *palette;
	struct outc_buf title;     /* made safe, not yet escaped */

	uint64_t total;            /* every stack counted */

	/* finish */
	uint32_t *label_at;        /* per frame: its label in labels */
	uint32_t *color;           /* per frame: 0xRRGGBB */
	uint32_t *order;           /* nodes sorted by (parent, label) */
	uint64_t *x;               /* per node: samples to its left */
	struct outc_buf labels;
};

static const struct fg_palette fg_palettes[] = {
	{ "hot", { 205, 0, 0 }, { 50, 230, 55 }, { 0, 1, 2 } },
	{ "mem", { 0, 190, 0 }, { 0, 50, 210 }, { 0, 1, 2 } },
	{ "io", { 80, 80, 190 }, { 60, 60, 55 }, { 0, 0, 1 } },
	{ "red", { 200, 50, 50 }, { 55, 80, 80 }, { 0, 0, 0 } },
	{ "green", { 50, 200, 50 }, { 60, 55, 60 }, { 0, 0, 0 } },
	{ "blue", { 80, 80, 205 }, { 60, 60, 50 }, { 0, 0, 0 } },
	{ "aqua", { 50, 165, 165 }, { 60, 55, 55 }, { 0, 0, 0 } },
	{ "yellow", { 175, 175, 50 }, { 55, 55, 20 }, { 0, 0, 0 } },
	{ "purple", { 190, 80, 190 }, { 65, 60, 65 }, { 0, 0, 0 } },
	{ "orange", { 190, 90, 0 }, { 65, 65, 0 }, { 0, 0, 0 } },
};

static const char fg_css[] =
	"text { font-family: monospace; font-size: 12px; fill: #000; }\n"
	"#title { font-size: 17px; text-anchor: middle; }\n" /* FG_TITLE_FONT */
	".btn { cursor: pointer; fill: #224; }\n"
	".btn:hover { text-decoration: underline; }\n"
	"#frames g { cursor: pointer; }\n"
	"#frames text { pointer-events: none; }\n"
	"#frames g:hover rect { stroke: #000; stroke-width: 0.5; }\n"
	"#frames .anc { opacity: 0.6; }\n";

/*
 * The viewer.  Frames are the <g> children of #frames, each holding
 * <title>, <rect> and <text>; their original geometry is read once.
 * Kept free of "]]>" (it sits in a CDATA section).
 */
static const char fg_js[] =
	"\"use strict\";\n"
	"(function () {\n"
	"var svg = document.documentElement, box = document.getElementById(\"frames\");\n"
	"var W = +svg.getAttribute(\"width\"), PAD = +box.getAttribute(\"data-pad\");\n"
	"var FULL = W - 2 * PAD, CW = +box.getAttribute(\"data-charw\"), EPS = 1e-3;\n"
	"var reset = document.getElementById(\"reset\"), search = document.getElementById(\"search\");\n"
	"var info = document.getElementById(\"matched\"), details = document.getElementById(\"details\");\n"
	"var all = [], searching = false, g, r, tip, i = 0;\n"
	"for (g = box.firstElementChild; g; g = g.nextElementSibling) {\n"
	"\ttip = g.firstElementChild.textContent;\n"
	"\tr = g.children[1];\n"
	"\tall.push({ g: g, r: r, t: g.children[2], tip: tip,\n"
	"\t\tname: tip.slice(0, tip.lastIndexOf(\" (\")),\n"
	"\t\tx: +r.getAttribute(\"x\"), w: +r.getAttribute(\"width\"),\n"
	"\t\ty: +r.getAttribute(\"y\"), fill: r.getAttribute(\"fill\") });\n"
	"\tg.fgi = i++;\n"
	"}\n"
	"function frameOf(n) {\n"
	"\twhile (n && n.parentNode !== box)\n"
	"\t\tn = n.parentNode;\n"
	"\treturn n ? all[n.fgi] : null;\n"
	"}\n"
	"/* place a frame and fit its text: \"..\" marks a cut */\n"
	"function place(f, x, w) {\n"
	"\tvar n = Math.floor((w - 6) / CW), s = \"\";\n"
	"\tif (n >= 3)\n"
	"\t\ts = f.name.length <= n ? f.name : f.name.slice(0, n - 2) + \"..\";\n"
	"\tf.r.setAttribute(\"x\", x.toFixed(2));\n"
	"\tf.r.setAttribute(\"width\", w.toFixed(2));\n"
	"\tf.t.setAttribute(\"x\", (x + 3).toFixed(2));\n"
	"\tf.t.textContent = s;\n"
	"}\n"
	"function zoom(z) {\n"
	"\tvar k = FULL / z.w;\n"
	"\tall.forEach(function (f) {\n"
	"\t\tvar inside = f.x >= z.x - EPS && f.x + f.w <= z.x + z.w + EPS;\n"
	"\t\tvar around = f.x <= z.x + EPS && f.x + f.w >= z.x + z.w - EPS;\n"
	"\t\tvar show = true;\n"
	"\t\tif (f.y < z.y && around)\n"
	"\t\t\tplace(f, PAD, FULL);\n"
	"\t\telse if (f.y >= z.y && inside)\n"
	"\t\t\tplace(f, PAD + (f.x - z.x) * k, f.w * k);\n"
	"\t\telse\n"
	"\t\t\tshow = false;\n"
	"\t\tf.g.style.display = show ? \"\" : \"none\";\n"
	"\t\tf.g.setAttribute(\"class\", show && f.y < z.y ? \"anc\" : \"\");\n"
	"\t});\n"
	"\treset.style.display = \"\";\n"
	"}\n"
	"function unzoom() {\n"
	"\tall.forEach(function (f) {\n"
	"\t\tplace(f, f.x, f.w);\n"
	"\t\tf.g.style.display = \"\";\n"
	"\t\tf.g.setAttribute(\"class\", \"\");\n"
	"\t});\n"
	"\treset.style.display = \"none\";\n"
	"}\n"
	"function clearSearch() {\n"
	"\tall.forEach(function (f) { f.r.setAttribute(\"fill\", f.fill); });\n"
	"\tinfo.textContent = \" \";\n"
	"\tsearch.textContent = \"Search\";\n"
	"\tsearching = false;\n"
	"}\n"
	"/* highlight the matches; their share counts nested matches once */\n"
	"function find(term) {\n"
	"\tvar test, spans = [], sum = 0, end = -1;\n"
	"\ttry {\n"
	"\t\tvar re = new RegExp(term);\n"
	"\t\ttest = function (s) { return re.test(s); };\n"
	"\t} catch (e) {\n"
	"\t\ttest = function (s) { return s.indexOf(term) >= 0; };\n"
	"\t}\n"
	"\tall.forEach(function (f, n) {\n"
	"\t\tvar hit = n > 0 && test(f.name);\n"
	"\t\tf.r.setAttribute(\"fill\", hit ? \"rgb(230,0,230)\" : f.fill);\n"
	"\t\tif (hit)\n"
	"\t\t\tspans.push([f.x, f.x + f.w]);\n"
	"\t});\n"
	"\tspans.sort(function (a, b) { return a[0] - b[0]; });\n"
	"\tspans.forEach(function (s) {\n"
	"\t\tif (s[1] > end) {\n"
	"\t\t\tsum += s[1] - Math.max(s[0], end);\n"
	"\t\t\tend = s[1];\n"
	"\t\t}\n"
	"\t});\n"
	"\tinfo.textContent = \"Matched: \" + (100 * sum / FULL).toFixed(1) + \"%\";\n"
	"\tsearch.textContent = \"Reset Search\";\n"
	"\tsearching = true;\n"
	"}\n"
	"function ask() {\n"
	"\tvar term = window.prompt(\"Search frames (regular expression):\", \"\");\n"
	"\tif (term)\n"
	"\t\tfind(term);\n"
	"}\n"
	"box.addEventListener(\"click\", function (e) {\n"
	"\tvar f = frameOf(e.target);\n"
	"\tif (f === all[0])\n"
	"\t\tunzoom();\n"
	"\telse if (f)\n"
	"\t\tzoom(f);\n"
	"});\n"
	"box.addEventListener(\"mouseover\", function (e) {\n"
	"\tvar f = frameOf(e.target);\n"
	"\tdetails.textContent = f ? f.tip : \" \";\n"
	"});\n"
	"box.addEventListener(\"mouseout\", function () { details.textContent = \" \"; });\n"
	"reset.addEventListener(\"click\", unzoom);\n"
	"search.addEventListener(\"click\", function () {\n"
	"\tif (searching)\n"
	"\t\tclearSearch();\n"
	"\telse\n"
	"\t\task();\n"
	"});\n"
	"window.addEventListener(\"keydown\", function (e) {\n"
	"\tif (e.key === \"F3\" || ((e.ctrlKey || e.metaKey) && (e.key === \"f\" || e.key === \"F\"))) {\n"
	"\t\te.preventDefault();\n"
	"\t\task();\n"
	"\t} else if (e.key === \"Escape\") {\n"
	"\t\tclearSearch();\n"
	"\t}\n"
	"});\n"
	"})();\n";

/* Count one stack on every node of its path. */
static int fg_add_stack(void *state, const struct pyspy_stack *stack)
{
	struct fg_state *st = state;
	struct outc_node *nodes;
	uint32_t leaf, n;
	int rc;

	rc = outc_stacks_add(&st->rec.stacks, stack, &leaf);
	/* the nodes reached count even when the rest of the path failed */
	nodes = st->rec.stacks.nodes;
	for (n = leaf; n != OUTC_NONE; n = nodes[n].parent)
		nodes[n].count++;
	if (rc)
		return rc;
	if (leaf != OUTC_NONE)
		st->total++;
	return 0;
}

/* A colour that follows from the function name alone. */
static uint32_t fg_color(const struct fg_palette *pal, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	uint64_t h = 0xcbf29ce484222325ull;
	uint32_t rgb = 0;
	double v[3];
	size_t i, n = strnlen(name, OUTC_MAX_PART);

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	h = outc_mix(h);
	for (i = 0; i < 3; i++)
		v[i] = (double)((h >> (16 * i)) & 0xffff) / 65535.0;
	for (i = 0; i < 3; i++) {
		unsigned c = pal->base[i] + (unsigned)(pal->span[i] * v[pal->pick[i]]);

		rgb = (rgb << 8) | (c > 255 ? 255 : c);
	}
	return rgb;
}

/* Every frame's label and colour. */
static int fg_make_labels(struct fg_state *st)
{
	size_t i, n = st->rec.stacks.nframes;
	int rc = 0;

	if (!n)
		return 0;
	st->label_at = st->rec.host->alloc(n * sizeof(*st->label_at));
	st->color = st->rec.host->alloc(n * sizeof(*st->color));
	if (!st->label_at || !st->color)
		return -ENOMEM;
	for (i = 0; i < n && !rc; i++) {
		rc = outc_put_label(st->rec.host, &st->labels, &st->rec.stacks.frames[i],
				    OUTC_ESC_LABEL, &st->label_at[i]);
		st->color[i] = fg_color(st->palette, st->rec.stacks.frames[i].name);
	}
	return rc;
}

static int fg_cmp_order(const void *a, const void *b, void *arg)
{
	const struct fg_state *st = arg;
	const struct outc_node *na = &st->rec.stacks.nodes[*(const uint32_t *)a];
	const struct outc_node *nb = &st->rec.stacks.nodes[*(const uint32_t *)b];
	int64_t pa = na->parent == OUTC_NONE ? -1 : (int64_t)na->parent;
	int64_t pb = nb->parent == OUTC_NONE ? -1 : (int64_t)nb->parent;
	int c;

	if (pa != pb)
		return pa < pb ? -1 : 1;
	c = strcmp(st->labels.p + st->label_at[na->frame],
		   st->labels.p + st->label_at[nb->frame]);
	if (c)
		return c;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* Siblings sorted by label, left to right: every node's x offset. */
static int fg_layout(struct fg_state *st)
{
	size_t i, nnodes = st->rec.stacks.nnodes;
	uint32_t parent = OUTC_NONE;
	uint64_t run = 0;

	if (!nnodes)
		return 0;
	st->order = st->rec.host->alloc(nnodes * sizeof(*st->order));
	st->x = st->rec.host->alloc(nnodes * sizeof(*st->x));
	if (!st->order || !st->x)
		return -ENOMEM;
	for (i = 0; i < nnodes; i++)
		st->order[i] = (uint32_t)i;
	qsort_r(st->order, nnodes, sizeof(*st->order), fg_cmp_order, st);
	/* a parent is created before its children, so its group sorts first */
	for (i = 0; i < nnodes; i++) {
		const struct outc_node *n = &st->rec.stacks.nodes[st->order[i]];

		if (i == 0 || n->parent != parent) {
			parent = n->parent;
			run = parent == OUTC_NONE ? 0 : st->x[parent];
		}
		st->x[st->order[i]] = run;
		run += n->count;
	}
	return 0;
}

/* Write s[0..n) (a label, already safe) escaped for XML text and attributes. */
static void fg_put_xml(FILE *out, const char *s, size_t n)
{
	outc_escape_file(out, s, n, OUTC_ESC_XML);
}

/* The label as it fits in w pixels: whole, cut with "..", or nothing. */
static void fg_put_fitted(FILE *out, const char *label, double w)
{
	double fit = floor((w - 6) / FG_CHAR_W);
	size_t n = strlen(label), chars = 0, i, cut = 0;

	if (fit < 3)
		return;
	for (i = 0; i < n; i++) {
		if (((unsigned char)label[i] & 0xc0) == 0x80)
			continue;
		if (chars == (size_t)fit - 2)
			cut = i;
		chars++;
	}
	if (chars <= (size_t)fit) {
		fg_put_xml(out, label, n);
		return;
	}
	fg_put_xml(out, label, cut);
	fputs("..", out);
}

/* The title, centred between "Reset Zoom" and "Reset Search" (the widest
 * state of the buttons): a long command line is cut with an ellipsis to the
 * characters that fit there, the whole of it in a <title> tooltip. */
static void fg_put_title(FILE *out, const struct fg_state *st)
{
	double char_w = FG_CHAR_W * FG_TITLE_FONT / 12.0;
	double half = st->width / 2.0 - FG_PAD - strlen("Reset Search") * FG_CHAR_W - FG_PAD;
	double fit = floor(2 * half / char_w);
	const char *t = st->title.p;
	size_t n = st->title.len, chars = 0, i, cut = 0;

	if (fit < 2)
		fit = 2;
	for (i = 0; i < n; i++) {
		if (((unsigned char)t[i] & 0xc0) == 0x80)
			continue;
		if (chars == (size_t)fit - 1)
			cut = i;
		chars++;
	}
	fprintf(out, "<text id=\"title\" x=\"%.1f\" y=\"24\">", st->width / 2.0);
	if (chars <= (size_t)fit) {
		fg_put_xml(out, t, n);
	} else {
		fputs("<title>", out);
		fg_put_xml(out, t, n);
		fputs("</title>", out);
		fg_put_xml(out, t, cut);
		fputs("\xe2\x80\xa6", out); /* U+2026 HORIZONTAL ELLIPSIS */
	}
	fputs("</text>\n", out);
}

static double fg_round2(double v)
{
	return floor(v * 100.0 + 0.5) / 100.0;
}

/* One frame: tooltip, box, text. */
static void fg_put_frame(struct fg_state *st, const char *label, uint32_t rgb,
			 uint64_t x, uint64_t count, uint32_t depth, double px)
{
	FILE *out = st->rec.stream;
	double x0 = fg_round2(FG_PAD + (double)x * px);
	double x1 = fg_round2(FG_PAD + (double)(x + count) * px);
	int y = FG_TOP + (int)depth * FG_FRAME_H;

	fputs("<g><title>", out);
	fg_put_xml(out, label, strlen(label));
	fprintf(out, " (%llu samples, %.2f%%)</title>", (unsigned long long)count,
		100.0 * (double)count / (double)st->total);
	fprintf(out, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
		"fill=\"rgb(%u,%u,%u)\"/>", x0, y, x1 - x0, FG_FRAME_H - 1,
		(rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff);
	fprintf(out, "<text x=\"%.2f\" y=\"%d\">", x0 + 3, y + FG_FRAME_H - 4);
	fg_put_fitted(out, label, x1 - x0);
	fputs("</text></g>\n", out);
}

static void fg_write_svg(struct fg_state *st)
{
	FILE *out = st->rec.stream;
	double full = st->width - 2 * FG_PAD;
	double px = st->total ? full / (double)st->total : 0;
	uint32_t maxdepth = 0;
	size_t i;
	int height;

	for (i = 0; i < st->rec.stacks.nnodes; i++) {
		const struct outc_node *n = &st->rec.stacks.nodes[i];

		if ((double)n->count * px >= st->min_width && n->depth > maxdepth)
			maxdepth = n->depth;
	}
	height = FG_TOP + (int)(maxdepth + 1) * FG_FRAME_H + FG_BOTTOM;

	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", out);
	fprintf(out, "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
		st->width, height, st->width, height);
	fprintf(out, "<style type=\"text/css\"><![CDATA[\n%s]]></style>\n", fg_css);
	fputs("<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#f4f4ee\"/>\n", out);
	fg_put_title(out, st);
	fprintf(out, "<text id=\"reset\" class=\"btn\" x=\"%d\" y=\"24\" "
		"style=\"display:none\">Reset Zoom</text>\n", FG_PAD);
	fprintf(out, "<text id=\"search\" class=\"btn\" x=\"%d\" y=\"24\" "
		"text-anchor=\"end\">Search</text>\n", st->width - FG_PAD);
	fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n", FG_PAD, height - 10);
	fprintf(out, "<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"> </text>\n",
		st->width - FG_PAD, height - 10);
	if (!st->total)
		fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
			"No samples were recorded</text>\n", st->width / 2.0, FG_TOP + 12);
	fprintf(out, "<g id=\"frames\" data-pad=\"%d\" data-charw=\"%.2f\">\n", FG_PAD, FG_CHAR_W);
	if (st->total)
		fg_put_frame(st, "all", 0xd0a050, 0, st->total, 0, px);
	for (i = 0; i < st->rec.stacks.nnodes; i++) {
		const struct outc_node *n = &st->rec.stacks.nodes[i];

		if ((double)n->count * px < st->min_width)
			continue;
		fg_put_frame(st, st->labels.p + st->label_at[n->frame], st->color[n->frame],
			     st->x[i], n->count, n->depth, px);
	}
	fputs("</g>\n", out);
	fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n", fg_js);
	fputs("</svg>\n", out);
}

/* strtod with '.' as the decimal point, whatever the locale. */
static double fg_strtod_c(const char *s, char **end)
{
	locale_t c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	double d;

	if (!c_numeric)
		return strtod(s, end);
	d = strtod_l(s, end, c_numeric);
	freelocale(c_numeric);
	return d;
}

/* Read the options of [flamegraph]; err says which one is wrong. */
static int fg_read_options(struct fg_state *st, const struct pyspy_output_config *cfg,
			   char *err, size_t errlen)
{
	const struct pyspy_host *host = st->rec.host;
	const char *v, *title;
	char *end;
	double d;
	long w;
	size_t i;

	st->width = 1200;
	v = host->option ? host->option(host, "width") : NULL;
	if (v && *v) {
		errno = 0;
		w = strtol(v, &end, 10);
		if (errno || *end || w < 200 || w > 100000) {
			snprintf(err, errlen, "flamegraph: width '%.40s' is not a number of "
				 "pixels from 200 to 100000", v);
			return -EINVAL;
		}
		st->width = (int)w;
	}
	st->min_width = 0.1;
	v = host->option ? host->option(host, "min_width") : NULL;
	if (v && *v) {
		d = fg_strtod_c(v, &end);
		if (end == v || !isfinite(d) || d < 0 || (*end && strcmp(end, "%") != 0) ||
		    (*end && d > 100)) {
			snprintf(err, errlen, "flamegraph: min_width '%.40s' is neither pixels "
				 "(0.1) nor a percentage (0.5%%)", v);
			return -EINVAL;
		}
		st->min_width = *end ? (st->width - 2 * FG_PAD) * d / 100.0 : d;
	}
	if (st->min_width < FG_MIN_MIN_WIDTH)
		st->min_width = FG_MIN_MIN_WIDTH;
	st->palette = &fg_palettes[0];
	v = host->option ? host->option(host, "colors") : NULL;
	if (v && *v) {
		st->palette = NULL;
		for (i = 0; i < sizeof(fg_palettes) / sizeof(fg_palettes[0]); i++) {
			if (strcmp(v, fg_palettes[i].name) == 0)
				st->palette = &fg_palettes[i];
		}
		if (!st->palette) {
			snprintf(err, errlen, "flamegraph: unknown colors '%.40s' (hot, mem, io, "
				 "red, green, blue, aqua, yellow, purple, orange)", v);
			return -EINVAL;
		}
	}
	title = host->option ? host->option(host, "title") : NULL;
	if (!title || !*title)
		title = cfg->title && *cfg->title ? cfg->title : "py-spy";
	if (outc_escape_buf(host, &st->title, title, OUTC_ESC_LABEL) ||
	    outc_buf_put(host, &st->title, "", 0)) {
		snprintf(err, errlen, "flamegraph: out of memory");
		return -ENOMEM;
	}
	return 0;
}

static void fg_close(void *state);

static int fg_open(const struct pyspy_host *host, const struct pyspy_output_config *cfg,
		   FILE *stream, void **state, char *err, size_t errlen)
{
	struct fg_state *st;
	int rc;

	rc = outc_record_open(host, cfg, stream, sizeof(*st), "flamegraph", (void **)&st,
			      err, errlen);
	if (rc)
		return rc;
	rc = fg_read_options(st, cfg, err, errlen);
	if (rc) {
		fg_close(st);
		return rc;
	}
	*state = st;
	return 0;
}

static int fg_sample(void *state, const struct pyspy_sample *sample, char *err, size_t errlen)
{
	struct fg_state *st = state;

	return outc_record_sample(&st->rec, sample, fg_add_stack, err, errlen);
}

static int fg_finish(void *state, const struct pyspy_run_summary *summary,
		     char *err, size_t errlen)
{
	struct fg_state *st = state;
	locale_t c_numeric, old_locale = (locale_t)0;
	int rc = 0;

	rc = fg_make_labels(st);
	if (!rc)
		rc = fg_layout(st);
	if (rc) {
		snprintf(err, errlen, "flamegraph: out of memory");
		return rc;
	}
	/* numbers in the SVG use '.', whatever the locale of the program */
	c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (c_numeric)
		old_locale = uselocale(c_numeric);
	errno = 0;
	fg_write_svg(st);
	if (fflush(st->rec.stream) == EOF || ferror(st->rec.stream)) {
		rc = errno > 0 ? -errno : -EIO;
		snprintf(err, errlen, "flamegraph: cannot write: %s", strerror(-rc));
	}
	if (c_numeric) {
		uselocale(old_locale);
		freelocale(c_numeric);
	}
	return rc;
}

static void fg_close(void *state)
{
	struct fg_state *st = state;
	const struct pyspy_host *host;

	if (!st)
		return;
	host = st->rec.host;
	outc_record_free(&st->rec);
	host->free(st->label_at);
	host->free(st->color);
	host->free(st->order);
	host->free(st->x);
	host->free(st->labels.p);
	host->free(st->title.p);
	host->free(st);
}

static const struct pyspy_output_ops fg_ops = {
	.size = sizeof(struct pyspy_output_ops),
	.commands = PYSPY_CMD_RECORD,
	.format = "flamegraph",
	.aliases = "svg",
	.extension = "svg",
	.to_stdout = 0,
	.open = fg_open,
	.sample = fg_sample,
	.finish = fg_finish,
	.close = fg_close,
	.written = "flamegraph data",
	.extensions = "svg",
	.default_for = PYSPY_CMD_RECORD,
};

PYSPY_EXPORT const struct pyspy_module pyspy_module = {
	.abi_version = PYSPY_ABI_VERSION,
	.struct_size = sizeof(struct pyspy_module),
	.kind = PYSPY_KIND_OUTPUT,
	.name = "flamegraph",
	.summary = "interactive SVG flame graph (icicle), zoom and search",
	.ops = &fg_ops,
};
