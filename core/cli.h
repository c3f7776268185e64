/*
 * Command line: subcommands record, top, dump, plugins, and the original
 * (0.1) grammar without a subcommand.
 */
#ifndef PYSPY_CORE_CLI_H
#define PYSPY_CORE_CLI_H

#include <stdint.h>
#include <stdio.h>

enum cli_command {
	CLI_NONE = 0,
	CLI_RECORD,
	CLI_TOP,
	CLI_DUMP,
	CLI_PLUGINS,
	CLI_VERSION,
	CLI_HELP,
};

#define CLI_MAX_OUTPUTS 16

/* One -o/--output: a module name, NAME:PATH or a PATH, as given. */
struct cli_output {
	const char *arg;
};

struct cli {
	enum cli_command command;
	int64_t pid;              /* 0: none */
	const char *core;         /* dump --core FILE, or NULL */
	const char *core_root;    /* --core-root DIR, or NULL */
	char **spawn_argv;        /* NULL-terminated program to run, or NULL */
	const char *config;       /* --config */
	double rate;              /* -r, default 100 */
	double duration;          /* -d seconds; 0 = until exit or Ctrl-C */
	int duration_given;       /* -d was on the command line ("unlimited" too) */
	double delay;             /* top --delay, default 1 */
	struct cli_output outputs[CLI_MAX_OUTPUTS];
	int noutputs;
	const char *format;       /* -f/--format */
	int function;             /* -F */
	int nolineno;
	int threads;              /* -t */
	int gil;                  /* -g */
	int idle;                 /* -i */
	int full_filenames;
	int nonblocking;
	int locals;               /* dump -l (repeatable: -ll gives longer reprs) */
	int json;                 /* dump -j */
	int verbose;              /* -v (repeatable) */
	int old_grammar;          /* no subcommand was given */
	const char *title;        /* the whole py-spy command line */
	enum cli_command help_for; /* --help: the subcommand named, or CLI_NONE */
};

/* Parse argv.  On a usage error prints one line (and a hint) to stderr and
 * returns -EINVAL: exit 2. */
int cli_parse(int argc, char **argv, struct cli *out);
void cli_free(struct cli *cli);
void cli_usage(FILE *out);
/* --help after a subcommand: that command's usage and only its options
 * (from the option table); any other command gets cli_usage. */
void cli_help(FILE *out, enum cli_command command);

#endif /* PYSPY_CORE_CLI_H */
