/*
 * dump: print every thread's stack once, as `py-spy dump` does.
 *
 * Text (the default):
 *
 *   Process 4321: python longsleep.py
 *   Python v3.11.2 (/usr/bin/python3.11)
 *
 *   Thread 4321 (idle): "MainThread"
 *       longsleep (longsleep.py:5)
 *       <module> (longsleep.py:9)
 *
 * A core file (dump --core) tells no OS thread states: its header starts
 * with the signal that ended the process and the core's name, and only the
 * GIL holder is marked, "(gil)"; JSON says "active": null.
 *
 * Or, with --json, a pretty-printed JSON array of the threads with py-spy's
 * field names.  Names come from the target and are untrusted: they go
 * through outputs/common's escaper (terminal or JSON policy), so control
 * and bidirectional characters are escaped and invalid UTF-8 becomes
 * U+FFFD, while valid UTF-8 (Cyrillic, CJK, emoji) is written unchanged.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pyspy/module.h>
#include <pyspy/output.h>

#include "common/common.h"

struct dump_state {
	const struct pyspy_host *host;
	FILE *stream;
	const struct pyspy_process_info *process;
	int full_filenames;
	int json;
	const char *core;     /* the core file read, or NULL for a live process */
	int32_t signal;       /* core: the signal that ended the process */
};

/* Terminal text. */
static void dump_put_text(FILE *f, const char *str)
{
	if (!str)
		str = "?";
	outc_escape_file(f, str, strlen(str), OUTC_ESC_TERMINAL);
}

/* A JSON string literal, or null for NULL. */
static void dump_put_json(FILE *f, const char *str)
{
	if (!str) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	outc_escape_file(f, str, strlen(str), OUTC_ESC_JSON);
	fputc('"', f);
}

static const char *dump_status(const struct dump_state *ds, const struct pyspy_stack *st)
{
	if (ds->core)
		return st->owns_gil ? "gil" : NULL;
	if (!st->active)
		return "idle";
	return st->owns_gil ? "active+gil" : "active";
}

static const char *dump_file(const struct dump_state *ds, const struct pyspy_frame *fr)
{
	if (ds->full_filenames || !fr->short_filename)
		return fr->filename;
	return fr->short_filename;
}

static void dump_text_header(struct dump_state *ds)
{
	const struct pyspy_process_info *p = ds->process;
	FILE *f = ds->stream;

	if (!p)
		return;
	if (ds->core && ds->signal)
		fprintf(f, "Signal %" PRId32 ": ", ds->signal);
	else if (ds->core)
		fputs("Core file: ", f);
	if (ds->core) {
		dump_put_text(f, ds->core);
		fputc('\n', f);
	}
	fprintf(f, "Process %" PRId64 ": ", p->pid);
	dump_put_text(f, p->cmdline);
	fputs("\nPython v", f);
	dump_put_text(f, p->python_version);
	fputs(" (", f);
	dump_put_text(f, p->python_path);
	fputs(")\n", f);
}

/* --locals, as py-spy shows them: "Arguments:" then "Locals:", one
 * "name: repr" line each under the frame. */
static void dump_text_locals(FILE *f, const struct pyspy_frame *fr)
{
	int shown_args = 0, shown_locals = 0;
	uint32_t i;

	for (i = 0; fr->locals && i < fr->nlocals; i++) {
		struct pyspy_local local;
		const struct pyspy_local *v = pyspy_elem_view(&local, sizeof(local), fr->locals, i,
							      fr->local_size);

		if ((v->flags & PYSPY_LOCAL_ARGUMENT) && !shown_args) {
			fputs("        Arguments:\n", f);
			shown_args = 1;
		} else if (!(v->flags & PYSPY_LOCAL_ARGUMENT) && !shown_locals) {
			fputs("        Locals:\n", f);
			shown_locals = 1;
		}
		fputs("            ", f);
		dump_put_text(f, v->name ? v->name : "?");
		fputs(": ", f);
		dump_put_text(f, v->repr ? v->repr : "?");
		fputc('\n', f);
	}
}

static void dump_text_stack(struct dump_state *ds, const struct pyspy_stack *st)
{
	const char *status = dump_status(ds, st);
	FILE *f = ds->stream;
	uint32_t i;

	if (st->os_thread_id)
		fprintf(f, "Thread %" PRId64, st->os_thread_id);
	else
		fprintf(f, "Thread 0x%" PRIX64, st->thread_id);
	if (status)
		fprintf(f, " (%s)", status);
	if (st->thread_name) {
		fputs(": \"", f);
		dump_put_text(f, st->thread_name);
		fputc('"', f);
	}
	fputc('\n', f);

	for (i = 0; st->frames && i < st->nframes; i++) {
		struct pyspy_frame local;
		const struct pyspy_frame *fr = pyspy_elem_view(&local, sizeof(local), st->frames, i,
							       st->frame_size);

		fputs("    ", f);
		dump_put_text(f, fr->name);
		if (fr->flags & (PYSPY_FRAME_THREAD | PYSPY_FRAME_PROCESS | PYSPY_FRAME_OMITTED)) {
			fputc('\n', f);
			continue;
		}
		fputs(" (", f);
		dump_put_text(f, dump_file(ds, fr));
		if (fr->line != 0)
			fprintf(f, ":%" PRId32, fr->line);
		fputs(")\n", f);
		dump_text_locals(f, fr);
	}
}

static void dump_json_frame(FILE *f, const struct pyspy_frame *fr)
{
	fputs("      {\n        \"name\": ", f);
	dump_put_json(f, fr->name ? fr->name : "?");
	fputs(",\n        \"filename\": ", f);
	dump_put_json(f, fr->filename ? fr->filename : "?");
	fputs(",\n        \"module\": null,\n        \"short_filename\": ", f);
	dump_put_json(f, fr->short_filename);
	fprintf(f, ",\n        \"line\": %" PRId32, fr->line);
	fputs(",\n        \"locals\": ", f);
	if (fr->locals) {
		uint32_t i;

		fputc('[', f);
		for (i = 0; i < fr->nlocals; i++) {
			struct pyspy_local local;
			const struct pyspy_local *v = pyspy_elem_view(&local, sizeof(local), fr->locals,
								      i, fr->local_size);

			fputs(i ? ",\n          {\"name\": " : "\n          {\"name\": ", f);
			dump_put_json(f, v->name ? v->name : "?");
			fprintf(f, ", \"arg\": %s, \"repr\": ",
				v->flags & PYSPY_LOCAL_ARGUMENT ? "true" : "false");
			dump_put_json(f, v->repr ? v->repr : "?");
			fputc('}', f);
		}
		fputs(fr->nlocals ? "\n        ]" : "]", f);
	} else {
		fputs("null", f);
	}
	fputs(",\n        \"is_entry\": false,\n"
	      "        \"is_shim_entry\": false\n      }", f);
}

static void dump_json_stack(const struct dump_state *ds, FILE *f, const struct pyspy_stack *st)
{
	uint32_t i;
	int first = 1;

	fprintf(f, "  {\n    \"pid\": %" PRId64 ",\n    \"thread_id\": %" PRIu64
		",\n    \"thread_name\": ", st->pid, st->thread_id);
	dump_put_json(f, st->thread_name);
	fputs(",\n    \"os_thread_id\": ", f);
	if (st->os_thread_id)
		fprintf(f, "%" PRId64, st->os_thread_id);
	else
		fputs("null", f);
	/* a core cannot tell whether a thread was active */
	fprintf(f, ",\n    \"active\": %s,\n    \"owns_gil\": %s,\n    \"frames\": [",
		ds->core ? "null" : st->active ? "true" : "false", st->owns_gil ? "true" : "false");
	/* Pseudo frames are not frames of the program: JSON leaves them out. */
	for (i = 0; st->frames && i < st->nframes; i++) {
		struct pyspy_frame local;
		const struct pyspy_frame *fr = pyspy_elem_view(&local, sizeof(local), st->frames, i,
							       st->frame_size);

		if (fr->flags & (PYSPY_FRAME_THREAD | PYSPY_FRAME_PROCESS))
			continue;
		fputs(first ? "\n" : ",\n", f);
		dump_json_frame(f, fr);
		first = 0;
	}
	fputs(first ? "]" : "\n    ]", f);
	fputs(",\n    \"process_info\": null\n  }", f);
}

static int dump_open(const struct pyspy_host *host, const struct pyspy_output_config *cfg,
		     FILE *stream, void **state, char *err, size_t errlen)
{
	struct dump_state *ds;

	if (!stream) {
		snprintf(err, errlen, "dump: no output stream");
		return -EINVAL;
	}
	ds = host->alloc(sizeof(*ds));
	if (!ds) {
		snprintf(err, errlen, "dump: out of memory");
		return -ENOMEM;
	}
	ds->host = host;
	ds->stream = stream;
	ds->process = cfg->process;
	ds->full_filenames = cfg->full_filenames;
	ds->json = cfg->json;
	if (ds->process && PYSPY_HAS(ds->process->size, struct pyspy_process_info, signal)) {
		ds->core = ds->process->core_path;
		ds->signal = ds->process->signal;
	}
	*state = ds;
	return 0;
}

static int dump_flush(struct dump_state *ds, char *err, size_t errlen)
{
	if (fflush(ds->stream) != 0 || ferror(ds->stream)) {
		snprintf(err, errlen, "dump: cannot write the output: %s",
			 strerror(errno ? errno : EIO));
		return -EIO;
	}
	return 0;
}

static int dump_snapshot(void *state, const struct pyspy_sample *sample, char *err, size_t errlen)
{
	struct dump_state *ds = state;
	FILE *f = ds->stream;
	struct pyspy_sample smp;
	struct pyspy_stack local;
	size_t i, n;

	pyspy_copy_elem(&smp, sizeof(smp), sample, 0, sample->size);
	n = smp.stacks ? smp.nstacks : 0;
	if (ds->json) {
		fputs(n ? "[\n" : "[]\n", f);
		for (i = 0; i < n; i++) {
			dump_json_stack(ds, f, pyspy_elem_view(&local, sizeof(local), smp.stacks, i,
							       smp.stack_size));
			fputs(i + 1 < n ? ",\n" : "\n]\n", f);
		}
		return dump_flush(ds, err, errlen);
	}

	dump_text_header(ds);
	for (i = 0; i < n; i++) {
		fputc('\n', f);
		dump_text_stack(ds, pyspy_elem_view(&local, sizeof(local), smp.stacks, i, smp.stack_size));
	}
	return dump_flush(ds, err, errlen);
}

static int dump_finish(void *state, const struct pyspy_run_summary *summary,
		       char *err, size_t errlen)
{
	struct dump_state *ds = state;

	/* No snapshot (the walk failed): there is nothing to show. */
	return dump_flush(ds, err, errlen);
}

static void dump_close(void *state)
{
	struct dump_state *ds = state;

	if (ds)
		ds->host->free(ds);
}

static const struct pyspy_output_ops dump_ops = {
	.size = sizeof(struct pyspy_output_ops),
	.commands = PYSPY_CMD_DUMP,
	.format = "dump",
	.aliases = NULL,
	.extension = NULL,
	.to_stdout = 1,
	.open = dump_open,
	.snapshot = dump_snapshot,
	.finish = dump_finish,
	.close = dump_close,
	.default_for = PYSPY_CMD_DUMP,
};

PYSPY_EXPORT const struct pyspy_module pyspy_module = {
	.abi_version = PYSPY_ABI_VERSION,
	.struct_size = sizeof(struct pyspy_module),
	.kind = PYSPY_KIND_OUTPUT,
	.name = "dump",
	.summary = "every thread's stack once, as text or JSON (py-spy dump)",
	.ops = &dump_ops,
};
