/*
 * Command line parsing.
 *
 *   py-spy [--config PATH] [-v] <record|top|dump|plugins> [options] [--pid PID | -- prog args]
 *   py-spy [options] (--pid PID | -- prog args)      the original (0.1) grammar:
 *          --flame FILE records a flamegraph (-d defaults to 2 s), --dump dumps,
 *          otherwise top.
 *
 * Options are described by one table; each subcommand accepts a subset.
 * Usage errors print one line and a hint, and the caller exits with 2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

enum opt_id {
	OPT_PID = 1, OPT_OUTPUT, OPT_FORMAT, OPT_DURATION, OPT_RATE, OPT_FUNCTION,
	OPT_NOLINENO, OPT_THREADS, OPT_GIL, OPT_IDLE, OPT_FULL_FILENAMES,
	OPT_NONBLOCKING, OPT_JSON, OPT_DELAY, OPT_CONFIG, OPT_VERBOSE, OPT_HELP,
	OPT_VERSION, OPT_SUBPROCESSES, OPT_NATIVE, OPT_LOCALS, OPT_FLAME, OPT_DUMP,
	OPT_CORE, OPT_CORE_ROOT,
};

/* Which grammars accept an option. */
#define IN_RECORD (1u << 0)
#define IN_TOP (1u << 1)
#define IN_DUMP (1u << 2)
#define IN_PLUGINS (1u << 3)
#define IN_OLD (1u << 4)
#define IN_ANY (IN_RECORD | IN_TOP | IN_DUMP | IN_PLUGINS | IN_OLD)
#define IN_SAMPLING (IN_RECORD | IN_TOP | IN_OLD)

struct opt_spec {
	enum opt_id id;
	char short_name;   /* 0: none */
	const char *long_name;
	int takes_value;
	unsigned where;
	const char *help;
};

static const struct opt_spec record_opts[] = {
	{ OPT_PID, 'p', "pid", 1, IN_SAMPLING | IN_DUMP, "PID of a running Python program (decimal or 0x hex)" },
	{ OPT_CORE, 'c', "core", 1, IN_DUMP, "dump: a core file (gcore, kernel; gzip too) in place of --pid" },
	{ OPT_CORE_ROOT, 0, "core-root", 1, IN_DUMP, "dump --core: look the core's binaries up under this folder" },
	{ OPT_OUTPUT, 'o', "output", 1, IN_RECORD | IN_TOP | IN_DUMP, "output: NAME, NAME:PATH or PATH (repeatable)" },
	{ OPT_FORMAT, 'f', "format", 1, IN_RECORD, "format of -o PATH outputs (py-spy plugins lists them)" },
	{ OPT_DURATION, 'd', "duration", 1, IN_RECORD | IN_OLD, "seconds to record, or 'unlimited' (default)" },
	{ OPT_RATE, 'r', "rate", 1, IN_SAMPLING, "samples per second (default 100)" },
	{ OPT_FUNCTION, 'F', "function", 0, IN_RECORD | IN_OLD, "aggregate by function (first line), not by line" },
	{ OPT_NOLINENO, 0, "nolineno", 0, IN_RECORD, "do not show line numbers" },
	{ OPT_THREADS, 't', "threads", 0, IN_RECORD | IN_TOP, "show a frame per thread at the root" },
	{ OPT_GIL, 'g', "gil", 0, IN_SAMPLING, "only the thread holding the GIL" },
	{ OPT_IDLE, 'i', "idle", 0, IN_SAMPLING, "include idle threads" },
	{ OPT_FULL_FILENAMES, 0, "full-filenames", 0, IN_ANY & ~IN_PLUGINS, "show full file paths" },
	{ OPT_NONBLOCKING, 0, "nonblocking", 0, IN_ANY & ~IN_PLUGINS, "do not pause the target (less accurate)" },
	{ OPT_JSON, 'j', "json", 0, IN_DUMP, "dump as JSON" },
	{ OPT_DELAY, 0, "delay", 1, IN_TOP | IN_OLD, "top: seconds between refreshes (default 1)" },
	{ OPT_SUBPROCESSES, 's', "subprocesses", 0, IN_ANY & ~IN_PLUGINS, "profile subprocesses (not supported yet)" },
	{ OPT_NATIVE, 'n', "native", 0, IN_ANY & ~IN_PLUGINS, "native frames (not supported yet)" },
	{ OPT_LOCALS, 'l', "locals", 0, IN_DUMP, "show each frame's arguments and local variables (-ll: longer values)" },
	{ OPT_FLAME, 'f', "flame", 1, IN_OLD, "old grammar: write a flamegraph to FILE" },
	{ OPT_DUMP, 0, "dump", 0, IN_OLD, "old grammar: dump the stacks and exit" },
	{ OPT_CONFIG, 0, "config", 1, IN_ANY, "plugins.ini to use" },
	{ OPT_VERBOSE, 'v', "verbose", 0, IN_ANY, "more messages (repeatable)" },
	{ OPT_HELP, 'h', "help", 0, IN_ANY, "this help" },
	{ OPT_VERSION, 'V', "version", 0, IN_ANY, "print the version" },
};

#define NOPTS (sizeof(record_opts) / sizeof(record_opts[0]))

static const struct {
	const char *name;
	enum cli_command command;
	unsigned where;
} commands[] = {
	{ "record", CLI_RECORD, IN_RECORD },
	{ "top", CLI_TOP, IN_TOP },
	{ "dump", CLI_DUMP, IN_DUMP },
	{ "plugins", CLI_PLUGINS, IN_PLUGINS },
};

static int usage_error(const char *fmt, const char *arg)
{
	fputs("error: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nFor more information, try 'py-spy --help'.\n", stderr);
	return -EINVAL;
}

/* The options valid in `where`, one a line, in the table's order. */
static void print_options(FILE *out, unsigned where)
{
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		const struct opt_spec *o = &record_opts[i];
		char left[40];

		if (o->id == OPT_FLAME || !(o->where & where))
			continue;
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s", o->short_name, o->long_name,
				 o->takes_value ? " X" : "");
		else
			snprintf(left, sizeof(left), "    --%s%s", o->long_name, o->takes_value ? " X" : "");
		fprintf(out, "  %-24s %s\n", left, o->help);
	}
}

void cli_usage(FILE *out)
{
	fprintf(out,
		"py-spy: a sampling profiler for Python programs\n\n"
		"Usage:\n"
		"  py-spy record [OPTIONS] (--pid PID | -- PROGRAM ARGS...)\n"
		"  py-spy top    [OPTIONS] (--pid PID | -- PROGRAM ARGS...)\n"
		"  py-spy dump   [OPTIONS] (--pid PID | --core FILE [--core-root DIR])\n"
		"  py-spy plugins          list the modules plugins.ini names\n"
		"  py-spy [--flame FILE | --dump] (--pid PID | -- PROGRAM ARGS...)   (original grammar)\n\n"
		"Options:\n");
	print_options(out, IN_ANY);
}

/* Each command's usage line, beside its grammar bit. */
static const struct {
	enum cli_command command;
	unsigned where;
	const char *usage;
} command_usage[] = {
	{ CLI_RECORD, IN_RECORD, "py-spy record [OPTIONS] (--pid PID | -- PROGRAM ARGS...)\n\n"
	  "Records samples of a program's stacks and writes them to the outputs." },
	{ CLI_TOP, IN_TOP, "py-spy top [OPTIONS] (--pid PID | -- PROGRAM ARGS...)\n\n"
	  "Shows a live, top-like view of the functions the program spends time in." },
	{ CLI_DUMP, IN_DUMP, "py-spy dump [OPTIONS] --pid PID\n\n"
	  "Prints the current stack of each thread of a running program." },
	{ CLI_PLUGINS, IN_PLUGINS, "py-spy plugins [OPTIONS]\n\n"
	  "Lists the modules plugins.ini names and whether each loads." },
};

void cli_help(FILE *out, enum cli_command command)
{
	size_t i;

	for (i = 0; i < sizeof(command_usage) / sizeof(command_usage[0]); i++) {
		if (command_usage[i].command != command)
			continue;
		fprintf(out, "Usage: %s\n\nOptions:\n", command_usage[i].usage);
		print_options(out, command_usage[i].where);
		return;
	}
	cli_usage(out);
}

/* Find the option for "--name" or "-c" valid in `where`.  The old grammar's
 * -f is --flame; record's -f is --format. */
static const struct opt_spec *find_long(const char *name, size_t len, unsigned where)
{
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		const struct opt_spec *o = &record_opts[i];

		if (strlen(o->long_name) == len && strncmp(o->long_name, name, len) == 0 &&
		    (o->where & where))
			return o;
	}
	return NULL;
}

static const struct opt_spec *find_short(char c, unsigned where)
{
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		const struct opt_spec *o = &record_opts[i];

		if (o->short_name == c && (o->where & where))
			return o;
	}
	return NULL;
}

static int parse_number(const char *s, double *out, int allow_unlimited)
{
	char *end;
	double v;

	if (allow_unlimited && strcmp(s, "unlimited") == 0) {
		*out = 0;
		return 0;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e9)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_pid(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)
		v = strtoll(s + 2, &end, 16);
	else
		v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 0x7fffffff)
		return -EINVAL;
	*out = v;
	return 0;
}

static int apply(struct cli *cli, const struct opt_spec *o, const char *value, int *old_dump,
		 const char **old_flame)
{
	switch (o->id) {
	case OPT_PID:
		if (parse_pid(value, &cli->pid))
			return usage_error("invalid PID '%s': expected a process id like 1234 or 0x4d2", value);
		return 0;
	case OPT_CORE:
		if (!value[0])
			return usage_error("empty --core value%s", "");
		cli->core = value;
		return 0;
	case OPT_CORE_ROOT:
		if (!value[0])
			return usage_error("empty --core-root value%s", "");
		cli->core_root = value;
		return 0;
	case OPT_OUTPUT:
		if (cli->noutputs >= CLI_MAX_OUTPUTS)
			return usage_error("too many --output options (at most %s)", "16");
		if (!value[0])
			return usage_error("empty --output value%s", "");
		cli->outputs[cli->noutputs++].arg = value;
		return 0;
	case OPT_FORMAT:
		cli->format = value;
		return 0;
	case OPT_DURATION:
		if (parse_number(value, &cli->duration, 1))
			return usage_error("invalid duration '%s': expected seconds or 'unlimited'", value);
		cli->duration_given = 1;
		return 0;
	case OPT_RATE:
		if (parse_number(value, &cli->rate, 0) || cli->rate < 1 || cli->rate > 1000000)
			return usage_error("invalid rate '%s': expected samples per second (1 to 1000000)", value);
		return 0;
	case OPT_DELAY:
		if (parse_number(value, &cli->delay, 0))
			return usage_error("invalid delay '%s': expected seconds", value);
		return 0;
	case OPT_FUNCTION: cli->function = 1; return 0;
	case OPT_NOLINENO: cli->nolineno = 1; return 0;
	case OPT_THREADS: cli->threads = 1; return 0;
	case OPT_GIL: cli->gil = 1; return 0;
	case OPT_IDLE: cli->idle = 1; return 0;
	case OPT_FULL_FILENAMES: cli->full_filenames = 1; return 0;
	case OPT_NONBLOCKING: cli->nonblocking = 1; return 0;
	case OPT_JSON: cli->json = 1; return 0;
	case OPT_CONFIG: cli->config = value; return 0;
	case OPT_VERBOSE: cli->verbose++; return 0;
	case OPT_HELP: cli->command = CLI_HELP; return 0;
	case OPT_VERSION: cli->command = CLI_VERSION; return 0;
	case OPT_DUMP: *old_dump = 1; return 0;
	case OPT_FLAME: *old_flame = value; return 0;
	case OPT_SUBPROCESSES:
		return usage_error("%s is not supported by this py-spy yet", "--subprocesses");
	case OPT_NATIVE:
		return usage_error("%s is not supported by this py-spy yet", "--native");
	case OPT_LOCALS: cli->locals++; return 0;
	}
	return usage_error("internal: unknown option %s", o->long_name);
}

/* Which subcommand argv[i] names: exact, or an unambiguous prefix. */
static int match_command(const char *arg)
{
	size_t len = strlen(arg), i;
	int found = -1;

	if (len == 0)
		return -1;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strncmp(commands[i].name, arg, len) == 0) {
			if (strcmp(commands[i].name, arg) == 0)
				return (int)i;
			if (found >= 0)
				return -1;
			found = (int)i;
		}
	}
	return found;
}

static char *join_argv(int argc, char **argv)
{
	struct strbuf sb;
	int i;

	sb_init(&sb);
	for (i = 0; i < argc; i++) {
		if (i)
			sb_putc(&sb, ' ');
		sb_puts(&sb, argv[i]);
	}
	return sb_take(&sb);
}

int cli_parse(int argc, char **argv, struct cli *cli)
{
	const char *old_flame = NULL;
	unsigned where = IN_OLD;
	int old_dump = 0, i, rc;
	int command_seen = 0;

	memset(cli, 0, sizeof(*cli));
	cli->rate = 100;
	cli->delay = 1;
	cli->title = join_argv(argc, argv);

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const struct opt_spec *o;
		const char *value = NULL;

		if (strcmp(arg, "--") == 0) {
			if (i + 1 >= argc)
				return usage_error("%s must be followed by a program to run", "--");
			cli->spawn_argv = &argv[i + 1];
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			int c = command_seen ? -1 : match_command(arg);

			if (c < 0) {
				if (!command_seen)
					return usage_error("unknown command '%s': expected record, top, dump or plugins", arg);
				return usage_error("unexpected argument '%s' (a program to run goes after --)", arg);
			}
			command_seen = 1;
			/* "py-spy --help record": the help asked for first stays */
			if (cli->command != CLI_HELP && cli->command != CLI_VERSION)
				cli->command = commands[c].command;
			where = commands[c].where;
			cli->help_for = commands[c].command;
			continue;
		}
		if (arg[1] == '-') {
			const char *name = arg + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);

			o = find_long(name, len, where);
			if (!o)
				return usage_error("unknown option '%s' here (see py-spy --help)", arg);
			if (eq && !o->takes_value)
				return usage_error("option '%s' takes no value", arg);
			if (o->takes_value)
				value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		} else {
			/* -abc: flags may be grouped; a value option takes the rest or the next arg */
			const char *p;

			for (p = arg + 1; *p; p++) {
				o = find_short(*p, where);
				if (!o) {
					char bad[3] = { '-', *p, 0 };

					return usage_error("unknown option '%s' here (see py-spy --help)", bad);
				}
				if (o->takes_value)
					break;
				rc = apply(cli, o, NULL, &old_dump, &old_flame);
				if (rc)
					return rc;
			}
			if (!*p)
				continue;
			value = p[1] ? p + 1 : (i + 1 < argc ? argv[++i] : NULL);
		}
		if (o->takes_value && !value)
			return usage_error("option '%s' needs a value", arg);
		rc = apply(cli, o, value, &old_dump, &old_flame);
		if (rc)
			return rc;
	}

	if (cli->command == CLI_HELP || cli->command == CLI_VERSION)
		return 0;

	if (!command_seen) {
		/* The original grammar. */
		cli->old_grammar = 1;
		if (old_flame && old_dump)
			return usage_error("%s: choose one of --flame and --dump", "--flame");
		if (old_dump) {
			cli->command = CLI_DUMP;
		} else if (old_flame) {
			cli->command = CLI_RECORD;
			cli->outputs[0].arg = xasprintf("flamegraph:%s", old_flame);
			cli->noutputs = 1;
			if (!cli->duration_given)
				cli->duration = 2;
		} else {
			cli->command = CLI_TOP;
		}
		if (!cli->pid && !cli->spawn_argv && argc <= 1) {
			cli->command = CLI_HELP;
			return 0;
		}
	}

	if (cli->command == CLI_PLUGINS) {
		if (cli->pid || cli->spawn_argv)
			return usage_error("%s takes no --pid or program", "plugins");
		return 0;
	}
	if (cli->core_root && !cli->core)
		return usage_error("%s needs --core FILE", "--core-root");
	if (cli->core && (cli->pid || cli->spawn_argv))
		return usage_error("give either %s or --core, not both", cli->pid ? "--pid" : "a program to run");
	if (cli->core && cli->nonblocking)
		return usage_error("%s does not apply to a core file: a core is never running", "--nonblocking");
	if (cli->core)
		return 0;
	if (cli->function && cli->nolineno)
		return usage_error("%s and --nolineno can't be used together", "--function");
	/* Values read while the program runs could mix two moments of it:
	 * reading them needs the pause --nonblocking gives up. */
	if (cli->locals && cli->nonblocking)
		return usage_error("%s needs the target paused: drop --nonblocking to read locals", "--locals");
	if (cli->pid && cli->spawn_argv)
		return usage_error("give either --pid or a program to run, not both%s", "");
	if (!cli->pid && !cli->spawn_argv)
		return usage_error("a target is required: --pid PID%s", cli->command == CLI_DUMP ? " or --core FILE" :
				   ", or a program to run after --");
	if (cli->command == CLI_DUMP && cli->spawn_argv)
		return usage_error("dump needs --pid; it does not run programs%s", "");
	return 0;
}

void cli_free(struct cli *cli)
{
	if (cli->old_grammar && cli->noutputs == 1 && cli->command == CLI_RECORD)
		free((char *)cli->outputs[0].arg);
	free((char *)cli->title);
	memset(cli, 0, sizeof(*cli));
}
