/*
 * Output module ABI (module kind PYSPY_KIND_OUTPUT).
 *
 * Three shapes share one ops table; a module fills the ops of the shapes it
 * implements and says in `commands` which subcommands it serves:
 *
 *   snapshot  (dump)   open, snapshot, finish, close
 *   stream    (record) open, sample*, finish, close
 *   live      (top)    open, sample*, event*, finish, close
 *
 * The core owns the run loop and the streams: an output writes only to the
 * FILE * it is handed in open (stdout, or a temporary file beside the
 * target that the core renames into place once finish succeeded; a run
 * that fails leaves the old file).  Output modules never print
 * diagnostics; they return an error text.
 *
 * Strings reachable from frames, stacks and process info are owned by the
 * core and stay valid and unchanged until finish returns, so an output may
 * keep the pointers and compare them by address.  Equal pointers mean equal
 * strings; different pointers always mean different strings.
 *
 * Arrays travel with their element size (module.h): a sample's stacks are
 * stack_size bytes apart, a stack's frames frame_size bytes apart.  An
 * output reads element i with PYSPY_ELEM and pyspy_copy_elem into a zeroed
 * local, never as stacks[i] or frames[i]: the core may be newer or older.
 */
#ifndef PYSPY_OUTPUT_H
#define PYSPY_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "module.h"

enum pyspy_command {
	PYSPY_CMD_DUMP = 1u << 0,
	PYSPY_CMD_RECORD = 1u << 1,
	PYSPY_CMD_TOP = 1u << 2,
};

enum pyspy_frame_flags {
	PYSPY_FRAME_THREAD = 1u << 0, /* pseudo-frame naming the thread (-t) */
	PYSPY_FRAME_PROCESS = 1u << 1, /* pseudo-frame naming the process */
	PYSPY_FRAME_OMITTED = 1u << 2, /* marker where frames of a very deep stack
					* were left out; its name says how many */
};

/* One frame of a stack (an element of pyspy_stack.frames). */
struct pyspy_frame {
	const char *name;           /* co_name, UTF-8 */
	const char *filename;       /* co_filename as the program names it, UTF-8 */
	const char *short_filename; /* shortened as py-spy does */
	int32_t line;               /* 0: unknown or not shown */
	uint32_t flags;             /* enum pyspy_frame_flags */
	/* Members above are valid for ABI version 2.  Append only. */
	int32_t first_line;         /* the function's first line (co_firstlineno); 0: unknown */
	uint32_t reserved;
	/* Members above are valid for ABI version 2 with first_line.  Append only. */
	const struct pyspy_local *locals; /* dump --locals: arguments first; NULL: none read */
	uint32_t nlocals;
	uint32_t local_size;        /* bytes from one local to the next */
	/* Members above are valid for ABI version 2 with locals.  Append only. */
};

enum pyspy_local_flags {
	PYSPY_LOCAL_ARGUMENT = 1u << 0, /* an argument of the function (*args and **kwargs too) */
};

/* One variable of a frame (an element of pyspy_frame.locals). */
struct pyspy_local {
	const char *name;           /* UTF-8 */
	const char *repr;           /* Python's repr, shortened; UTF-8, not escaped for any output */
	uint32_t flags;             /* enum pyspy_local_flags */
	uint32_t reserved;
	/* Members above are valid for ABI version 2 with locals.  Append only. */
};

/* One thread's stack at one moment (an element of pyspy_sample.stacks). */
struct pyspy_stack {
	const struct pyspy_frame *frames; /* innermost first */
	uint32_t nframes;
	uint32_t frame_size;    /* bytes from one frame to the next */
	int64_t pid;
	uint64_t thread_id;     /* the interpreter's thread id (pthread_t) */
	int64_t os_thread_id;   /* kernel thread id; 0 when unknown */
	const char *thread_name; /* NULL when unknown */
	uint8_t active;         /* running (not idle) */
	uint8_t owns_gil;
	uint8_t truncated;      /* the walk stopped early (error or limit) */
	uint8_t reserved[5];
	/* Members above are valid for ABI version 2.  Append only. */
};

struct pyspy_process_info {
	uint32_t size;
	uint32_t reserved;
	int64_t pid;
	const char *cmdline;
	const char *python_version; /* "3.11.2" */
	const char *python_path;    /* executable (or library) the version came from */
	/* Members above are valid for ABI version 2.  Append only. */
	const char *core_path;      /* the core file read (dump --core), or NULL for a
				     * live process.  A core tells no OS thread
				     * states: every stack's `active` is 0 and means
				     * "unknown", not "idle". */
	int32_t signal;             /* core: the signal that ended the process, or 0 */
	uint32_t reserved2;
	/* Members above are valid for ABI version 2 with core_path.  Append only. */
};

/* All threads at one sampling instant (dump's snapshot is one too). */
struct pyspy_sample {
	uint32_t size;
	uint32_t reserved;
	const struct pyspy_stack *stacks;
	uint32_t nstacks;
	uint32_t stack_size;        /* bytes from one stack to the next */
	uint64_t time_ns;           /* monotonic, since the recording started */
	double lag_s;               /* how late this sample was taken */
	uint32_t errors;            /* the walk failed for this many threads/tries */
	uint32_t reserved2;
	/* Members above are valid for ABI version 2.  Append only. */
};

/* What the user chose; handed to open. */
struct pyspy_output_config {
	uint32_t size;
	uint32_t command;           /* the one enum pyspy_command being run */
	const char *path;           /* file being written; NULL for stdout */
	const char *title;          /* py-spy's command line, for titles */
	const struct pyspy_process_info *process;
	double rate;                /* samples per second (record, top) */
	double delay;               /* refresh interval in seconds (top) */
	uint8_t show_lines;         /* line numbers are part of a frame's identity */
	uint8_t full_filenames;     /* use filename rather than short_filename */
	uint8_t by_function;        /* -F: frames aggregated by function */
	uint8_t threads;            /* -t */
	uint8_t json;               /* dump --json */
	uint8_t idle;               /* -i: idle threads are kept */
	uint8_t gil;                /* -g: only the GIL holder is kept */
	uint8_t nonblocking;
	int32_t input_fd;           /* live: keyboard, -1 if none */
	uint8_t is_tty;             /* the stream is a terminal */
	uint8_t reserved[3];
	/* Members above are valid for ABI version 2.  Append only. */
};

/* Summary handed to finish. */
struct pyspy_run_summary {
	uint32_t size;
	uint32_t reserved;
	uint64_t samples;     /* per-thread stacks recorded */
	uint64_t errors;
	double duration_s;
	const char *stop_reason; /* "process exited", "Control-C pressed", ... */
	/* Members above are valid for ABI version 2.  Append only. */
};

enum pyspy_event_type {
	PYSPY_EVENT_TICK = 1,        /* refresh time (live) */
	PYSPY_EVENT_INPUT = 2,       /* input_fd is readable */
	PYSPY_EVENT_RESIZE = 3,      /* the terminal changed size */
	PYSPY_EVENT_TARGET_EXIT = 4, /* the target ended; keep the last view */
	PYSPY_EVENT_RESET = 5,       /* drop the counts */
};

struct pyspy_event {
	uint32_t size;
	uint32_t type;         /* enum pyspy_event_type */
	uint64_t time_ns;
	const char *message;   /* TARGET_EXIT: why */
	/* Members above are valid for ABI version 2.  Append only. */
};

/* Returned by event: what the core should do next. */
enum pyspy_event_result {
	PYSPY_CONTINUE = 0,
	PYSPY_QUIT = 1,
};

struct pyspy_output_ops {
	uint32_t size;          /* sizeof(struct pyspy_output_ops) of the module */
	uint32_t commands;      /* enum pyspy_command bits this module serves */
	const char *format;     /* format name shown to users ("flamegraph") */
	const char *aliases;    /* other accepted names, comma-separated, or NULL */
	const char *extension;  /* default file extension ("svg"), or NULL */
	uint32_t to_stdout;     /* 1: writes to stdout unless given a path */
	uint32_t reserved;

	int (*open)(const struct pyspy_host *host, const struct pyspy_output_config *cfg,
		    FILE *stream, void **state, char *err, size_t errlen);
	/* snapshot shape: every thread at one moment */
	int (*snapshot)(void *state, const struct pyspy_sample *sample,
			char *err, size_t errlen);
	/* stream and live shapes */
	int (*sample)(void *state, const struct pyspy_sample *sample,
		      char *err, size_t errlen);
	/* live shape: returns enum pyspy_event_result or a negative errno */
	int (*event)(void *state, const struct pyspy_event *event,
		     char *err, size_t errlen);
	/* Write out everything; called exactly once on every way out. */
	int (*finish)(void *state, const struct pyspy_run_summary *summary,
		      char *err, size_t errlen);
	void (*close)(void *state);
	/* Members above are valid for ABI version 2.  Append only. */

	/* How py-spy's "Wrote ... to 'PATH'" names what this module wrote
	 * ("flamegraph data"); NULL: the format name. */
	const char *written;
	/* Endings of a path that choose this module for -o PATH, without the
	 * dot, comma-separated ("pb.gz, pprof"); the longest that matches wins.
	 * NULL: `extension` alone. */
	const char *extensions;
	/* enum pyspy_command bits for which this module is the output when
	 * neither -o nor -f chooses one; of several, the first that plugins.ini
	 * lists. */
	uint32_t default_for;
	uint32_t reserved_describe;
	/* Members above are valid for ABI version 2 when `size` covers them
	 * (PYSPY_HAS).  Append only. */
};

#endif /* PYSPY_OUTPUT_H */
