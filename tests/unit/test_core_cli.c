/*
 * core/cli.c: every grammar (record, top, dump, plugins and their prefixes;
 * the original grammar: --pid alone = top, --flame FILE = record for 2 s,
 * --dump) with the parsed struct checked field by field, and every usage
 * error: -EINVAL and one "error: ..." line plus the hint on stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../core/cli.h"
#include "unit.h"

#define MAXARGS 64

static char *args[MAXARGS + 1];
static int nargs;
static char errtext[4096];

/* Parse "py-spy" followed by the given arguments (NULL-terminated);
 * stderr is captured into errtext. */
static int parse_v(struct cli *cli, va_list ap)
{
	const char *a;
	FILE *tmp = tmpfile();
	int saved, rc;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(tmp);
	nargs = 0;
	args[nargs++] = "py-spy";
	while ((a = va_arg(ap, const char *)) && nargs < MAXARGS)
		args[nargs++] = (char *)a;
	args[nargs] = NULL;
	fflush(stderr);
	saved = dup(2);
	dup2(fileno(tmp), 2);
	rc = cli_parse(nargs, args, cli);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(errtext, 1, sizeof(errtext) - 1, tmp);
	errtext[n] = '\0';
	fclose(tmp);
	return rc;
}

static int parse(struct cli *cli, ...)
{
	va_list ap;
	int rc;

	va_start(ap, cli);
	rc = parse_v(cli, ap);
	va_end(ap);
	return rc;
}

/* A usage error: -EINVAL, and stderr holds exactly one error line naming
 * `what`, then the hint. */
static void expect_error_v(const char *what, ...)
{
	struct cli cli;
	va_list ap;
	int rc;
	char *nl;

	va_start(ap, what);
	rc = parse_v(&cli, ap);
	va_end(ap);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_EQUAL(strncmp(errtext, "error: ", 7), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(errtext, what));
	nl = strchr(errtext, '\n');
	CU_ASSERT(nl && strcmp(nl + 1, "For more information, try 'py-spy --help'.\n") == 0);
	if (rc != -EINVAL || !strstr(errtext, what)) {
		int i;

		fprintf(stderr, "\n  args:");
		for (i = 1; i < nargs; i++)
			fprintf(stderr, " [%s]", args[i]);
		fprintf(stderr, "\n  rc %d, expected \"%s\" in: %s\n", rc, what, errtext);
	}
	cli_free(&cli);
}

#define EXPECT_ERROR(what, ...) expect_error_v(what, __VA_ARGS__, (const char *)NULL)
#define PARSE(cli, ...) parse(cli, __VA_ARGS__, (const char *)NULL)

/* Defaults every successful parse starts from. */
static void check_defaults_except_target(const struct cli *c)
{
	CU_ASSERT_EQUAL(c->rate, 100);
	CU_ASSERT_EQUAL(c->delay, 1);
	CU_ASSERT_EQUAL(c->duration, 0);
	CU_ASSERT_EQUAL(c->noutputs, 0);
	CU_ASSERT_PTR_NULL(c->format);
	CU_ASSERT_PTR_NULL(c->config);
	CU_ASSERT_FALSE(c->function || c->nolineno || c->threads || c->gil || c->idle ||
			c->full_filenames || c->nonblocking || c->json || c->verbose);
}

static void test_record(void)
{
	struct cli c;

	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "record", "--pid", "1234", "-o", "flamegraph:out.svg", "-o", "raw",
				    "--output=speedscope:x.json", "-d", "5", "-r", "250.5", "--nolineno", "-t",
				    "-g", "-i", "--full-filenames", "--nonblocking", "-f", "speedscope",
				    "--config", "p.ini"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_RECORD);
	CU_ASSERT_EQUAL(c.old_grammar, 0);
	CU_ASSERT_EQUAL(c.pid, 1234);
	CU_ASSERT_PTR_NULL(c.spawn_argv);
	CU_ASSERT_EQUAL_FATAL(c.noutputs, 3);
	CU_ASSERT_STRING_EQUAL(c.outputs[0].arg, "flamegraph:out.svg");
	CU_ASSERT_STRING_EQUAL(c.outputs[1].arg, "raw");
	CU_ASSERT_STRING_EQUAL(c.outputs[2].arg, "speedscope:x.json");
	CU_ASSERT_EQUAL(c.duration, 5);
	CU_ASSERT_EQUAL(c.rate, 250.5);
	CU_ASSERT_EQUAL(c.delay, 1);
	CU_ASSERT_TRUE(c.nolineno && c.threads && c.gil && c.idle && c.full_filenames && c.nonblocking);
	CU_ASSERT_FALSE(c.function || c.json);
	CU_ASSERT_STRING_EQUAL(c.format, "speedscope");
	CU_ASSERT_STRING_EQUAL(c.config, "p.ini");
	CU_ASSERT_STRING_EQUAL(c.title, "py-spy record --pid 1234 -o flamegraph:out.svg -o raw "
			       "--output=speedscope:x.json -d 5 -r 250.5 --nolineno -t -g -i "
			       "--full-filenames --nonblocking -f speedscope --config p.ini");
	cli_free(&c);

	/* Prefixes, hex pid, grouped flags, a value glued to its flag. */
	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "rec", "-p", "0x4d2", "-tgiFd7.5", "-r50"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_RECORD);
	CU_ASSERT_EQUAL(c.pid, 1234);
	CU_ASSERT_TRUE(c.threads && c.gil && c.idle && c.function);
	CU_ASSERT_EQUAL(c.duration, 7.5);
	CU_ASSERT_EQUAL(c.rate, 50);
	cli_free(&c);

	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "r", "-d", "unlimited", "--", "python", "x.py", "-p", "1"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_RECORD);
	CU_ASSERT_EQUAL(c.pid, 0);
	CU_ASSERT_EQUAL(c.duration, 0);
	CU_ASSERT_PTR_EQUAL_FATAL(c.spawn_argv, &args[5]);
	CU_ASSERT_STRING_EQUAL(c.spawn_argv[0], "python");
	CU_ASSERT_STRING_EQUAL(c.spawn_argv[3], "1");
	CU_ASSERT_PTR_NULL(c.spawn_argv[4]);
	cli_free(&c);

	/* -o up to 16 times. */
	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "record", "-p", "1", "-o", "a", "-o", "b", "-o", "c", "-o", "d",
				    "-o", "e", "-o", "f", "-o", "g", "-o", "h", "-o", "i", "-o", "j", "-o", "k",
				    "-o", "l", "-o", "m", "-o", "n", "-o", "o", "-o", "p"), 0);
	CU_ASSERT_EQUAL(c.noutputs, 16);
	CU_ASSERT_STRING_EQUAL(c.outputs[15].arg, "p");
	cli_free(&c);

	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "record", "--pid=77"), 0);
	CU_ASSERT_EQUAL(c.pid, 77);
	check_defaults_except_target(&c);
	cli_free(&c);
}

static void test_top_dump_plugins(void)
{
	struct cli c;

	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "top", "--pid", "5", "--delay", "0.5", "-r", "10", "-t", "-o", "x"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_TOP);
	CU_ASSERT_EQUAL(c.pid, 5);
	CU_ASSERT_EQUAL(c.delay, 0.5);
	CU_ASSERT_EQUAL(c.rate, 10);
	CU_ASSERT_TRUE(c.threads);
	CU_ASSERT_EQUAL(c.noutputs, 1);
	cli_free(&c);

	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "t", "-p", "5"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_TOP);
	check_defaults_except_target(&c);
	cli_free(&c);
	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "to", "--", "prog"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_TOP);
	CU_ASSERT_STRING_EQUAL(c.spawn_argv[0], "prog");
	cli_free(&c);

	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "dump", "-p", "5", "-j", "--nonblocking", "--full-filenames"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_DUMP);
	CU_ASSERT_TRUE(c.json && c.nonblocking && c.full_filenames);
	cli_free(&c);
	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "d", "--pid=5", "--json"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_DUMP);
	CU_ASSERT_EQUAL(c.pid, 5);
	CU_ASSERT_TRUE(c.json);
	cli_free(&c);
	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "du", "-p", "5"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_DUMP);
	check_defaults_except_target(&c);
	CU_ASSERT_PTR_NULL(c.core);
	cli_free(&c);
	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "dump", "--core", "core.1", "--core-root=/r", "-j"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_DUMP);
	CU_ASSERT_EQUAL(c.pid, 0);
	CU_ASSERT_STRING_EQUAL(c.core, "core.1");
	CU_ASSERT_STRING_EQUAL(c.core_root, "/r");
	CU_ASSERT_TRUE(c.json);
	cli_free(&c);
	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "dump", "-c", "core.gz"), 0);
	CU_ASSERT_STRING_EQUAL(c.core, "core.gz");
	CU_ASSERT_PTR_NULL(c.core_root);
	check_defaults_except_target(&c);
	cli_free(&c);

	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "plugins"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_PLUGINS);
	cli_free(&c);
	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "--config", "x.ini", "-vv", "p", "-v"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_PLUGINS);
	CU_ASSERT_STRING_EQUAL(c.config, "x.ini");
	CU_ASSERT_EQUAL(c.verbose, 3);
	cli_free(&c);
}

static void test_help_version(void)
{
	struct cli c;

	CU_ASSERT_EQUAL(PARSE(&c, "--help"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_HELP);
	cli_free(&c);
	CU_ASSERT_EQUAL(PARSE(&c, "record", "-h"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_HELP);
	cli_free(&c);
	CU_ASSERT_EQUAL(PARSE(&c, "-V"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_VERSION);
	cli_free(&c);
	CU_ASSERT_EQUAL(PARSE(&c, "dump", "--version"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_VERSION);
	cli_free(&c);
	/* Help or version asked for before the subcommand. */
	CU_ASSERT_EQUAL(PARSE(&c, "--help", "record"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_HELP);
	cli_free(&c);
	CU_ASSERT_EQUAL(PARSE(&c, "-V", "top"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_VERSION);
	cli_free(&c);
	/* No argument at all: help. */
	args[0] = "py-spy";
	args[1] = NULL;
	CU_ASSERT_EQUAL(cli_parse(1, args, &c), 0);
	CU_ASSERT_EQUAL(c.command, CLI_HELP);
	cli_free(&c);
}

/* The original grammar: no subcommand. */
static void test_old_grammar(void)
{
	struct cli c;

	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "--pid", "1234"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_TOP);
	CU_ASSERT_EQUAL(c.old_grammar, 1);
	CU_ASSERT_EQUAL(c.pid, 1234);
	check_defaults_except_target(&c);
	cli_free(&c);

	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "-p", "9", "--delay", "2", "-r", "7"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_TOP);
	CU_ASSERT_EQUAL(c.delay, 2);
	CU_ASSERT_EQUAL(c.rate, 7);
	cli_free(&c);

	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "--flame", "out.svg", "--pid", "1234"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_RECORD);
	CU_ASSERT_EQUAL(c.old_grammar, 1);
	CU_ASSERT_EQUAL(c.duration, 2);
	CU_ASSERT_EQUAL_FATAL(c.noutputs, 1);
	CU_ASSERT_STRING_EQUAL(c.outputs[0].arg, "flamegraph:out.svg");
	cli_free(&c);

	/* -f is --flame here; -d given wins over the 2 s default. */
	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "-f", "o.svg", "-d", "7", "-F", "--", "python", "x.py"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_RECORD);
	CU_ASSERT_EQUAL(c.duration, 7);
	CU_ASSERT_TRUE(c.function);
	CU_ASSERT_STRING_EQUAL(c.outputs[0].arg, "flamegraph:o.svg");
	CU_ASSERT_STRING_EQUAL(c.spawn_argv[1], "x.py");
	cli_free(&c);

	/* -d unlimited asked for explicitly: no 2 s default. */
	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "--flame", "o.svg", "-d", "unlimited", "--pid", "1"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_RECORD);
	CU_ASSERT_EQUAL(c.duration, 0);
	cli_free(&c);

	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "--dump", "--pid", "1"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_DUMP);
	CU_ASSERT_EQUAL(c.old_grammar, 1);
	CU_ASSERT_EQUAL(c.noutputs, 0);
	cli_free(&c);

	CU_ASSERT_EQUAL_FATAL(PARSE(&c, "--", "python", "-c", "pass"), 0);
	CU_ASSERT_EQUAL(c.command, CLI_TOP);
	CU_ASSERT_EQUAL(c.old_grammar, 1);
	CU_ASSERT_STRING_EQUAL(c.spawn_argv[2], "pass");
	cli_free(&c);
}

static void test_errors(void)
{
	/* unknown commands and stray arguments */
	EXPECT_ERROR("unknown command 'recrod'", "recrod", "-p", "1");
	EXPECT_ERROR("unknown command '-'", "-");
	EXPECT_ERROR("unknown command ''", "");
	EXPECT_ERROR("unknown command 'records'", "records");
	EXPECT_ERROR("unexpected argument 'extra'", "record", "-p", "1", "extra");
	EXPECT_ERROR("unexpected argument 'top'", "record", "top", "-p", "1");
	/* options unknown, or not in this grammar */
	EXPECT_ERROR("unknown option '--bogus'", "record", "--bogus", "-p", "1");
	EXPECT_ERROR("unknown option '-x'", "record", "-p", "1", "-x");
	EXPECT_ERROR("unknown option '-x'", "record", "-tx", "-p", "1");
	EXPECT_ERROR("unknown option '-r'", "dump", "-p", "1", "-r", "5");
	EXPECT_ERROR("unknown option '-d'", "top", "-p", "1", "-d", "5");
	EXPECT_ERROR("unknown option '--format'", "top", "-p", "1", "--format", "raw");
	EXPECT_ERROR("unknown option '-o'", "-o", "x", "-p", "1");
	EXPECT_ERROR("unknown option '--flame'", "record", "--flame", "x", "-p", "1");
	EXPECT_ERROR("unknown option '--dump'", "record", "--dump", "-p", "1");
	EXPECT_ERROR("unknown option '-j'", "top", "-p", "1", "-j");
	EXPECT_ERROR("unknown option '-p'", "plugins", "-p", "1");
	EXPECT_ERROR("unknown option '--pi'", "record", "--pi", "1");
	/* values */
	EXPECT_ERROR("takes no value", "record", "--gil=1", "-p", "1");
	EXPECT_ERROR("needs a value", "record", "-p");
	EXPECT_ERROR("needs a value", "record", "--pid");
	EXPECT_ERROR("needs a value", "record", "-p", "1", "-d");
	EXPECT_ERROR("needs a value", "--flame");
	EXPECT_ERROR("invalid PID 'abc'", "record", "-p", "abc");
	EXPECT_ERROR("invalid PID '0'", "record", "-p", "0");
	EXPECT_ERROR("invalid PID '-5'", "record", "-p", "-5");
	EXPECT_ERROR("invalid PID '0x'", "record", "-p", "0x");
	EXPECT_ERROR("invalid PID '12x'", "record", "-p", "12x");
	EXPECT_ERROR("invalid PID ''", "record", "--pid=");
	EXPECT_ERROR("invalid PID '2147483648'", "record", "-p", "2147483648");
	EXPECT_ERROR("invalid PID '0x80000000'", "dump", "-p", "0x80000000");
	EXPECT_ERROR("invalid PID '99999999999999999999'", "dump", "-p", "99999999999999999999");
	EXPECT_ERROR("invalid duration '0'", "record", "-p", "1", "-d", "0");
	EXPECT_ERROR("invalid duration '-1'", "record", "-p", "1", "-d", "-1");
	EXPECT_ERROR("invalid duration 'soon'", "record", "-p", "1", "-d", "soon");
	EXPECT_ERROR("invalid duration '1e10'", "record", "-p", "1", "-d", "1e10");
	EXPECT_ERROR("invalid duration 'nan'", "record", "-p", "1", "-d", "nan");
	EXPECT_ERROR("invalid duration '5s'", "record", "-p", "1", "-d", "5s");
	EXPECT_ERROR("invalid rate '0'", "record", "-p", "1", "-r", "0");
	EXPECT_ERROR("invalid rate '0.5': expected samples per second (1 to 1000000)", "record", "-p", "1", "-r", "0.5");
	EXPECT_ERROR("invalid rate '1000001'", "top", "-p", "1", "-r", "1000001");
	EXPECT_ERROR("invalid rate 'fast'", "-p", "1", "-r", "fast");
	EXPECT_ERROR("invalid delay '0'", "top", "-p", "1", "--delay", "0");
	EXPECT_ERROR("empty --output value", "record", "-p", "1", "-o", "");
	EXPECT_ERROR("too many --output options (at most 16)", "record", "-p", "1", "-o", "a", "-o", "b",
		     "-o", "c", "-o", "d", "-o", "e", "-o", "f", "-o", "g", "-o", "h", "-o", "i", "-o", "j",
		     "-o", "k", "-o", "l", "-o", "m", "-o", "n", "-o", "o", "-o", "p", "-o", "q");
	/* not supported */
	EXPECT_ERROR("--subprocesses is not supported", "record", "-p", "1", "-s");
	EXPECT_ERROR("--subprocesses is not supported", "record", "-p", "1", "--subprocesses");
	EXPECT_ERROR("--native is not supported", "dump", "-p", "1", "-n");
	EXPECT_ERROR("--native is not supported", "-p", "1", "--native");
	EXPECT_ERROR("--locals needs the target paused", "dump", "-p", "1", "--locals", "--nonblocking");
	EXPECT_ERROR("--locals needs the target paused", "dump", "-p", "1", "--nonblocking", "-jll");
	EXPECT_ERROR("unknown option '--locals' here", "record", "-p", "1", "--locals");
	/* targets and combinations */
	EXPECT_ERROR("-- must be followed by a program", "record", "--");
	EXPECT_ERROR("-- must be followed by a program", "--");
	EXPECT_ERROR("choose one of --flame and --dump", "--flame", "x.svg", "--dump", "-p", "1");
	EXPECT_ERROR("plugins takes no --pid or program", "plugins", "--", "python");
	EXPECT_ERROR("--function and --nolineno can't be used together", "record", "-F", "--nolineno",
		     "-p", "1");
	EXPECT_ERROR("either --pid or a program to run, not both", "record", "-p", "1", "--", "python");
	EXPECT_ERROR("either --pid or a program to run, not both", "--flame", "x", "-p", "1", "--", "x");
	EXPECT_ERROR("a target is required: --pid PID, or a program to run after --", "record");
	EXPECT_ERROR("a target is required: --pid PID, or a program to run after --", "top", "-r", "5");
	EXPECT_ERROR("a target is required: --pid PID or --core FILE\n", "dump");
	/* dump --core */
	EXPECT_ERROR("give either --pid or --core, not both", "dump", "--core", "c", "-p", "1");
	EXPECT_ERROR("give either a program to run or --core", "dump", "--core", "c", "--", "python");
	EXPECT_ERROR("--nonblocking does not apply to a core file", "dump", "--core", "c", "--nonblocking");
	EXPECT_ERROR("--subprocesses is not supported", "dump", "--core", "c", "-s");
	EXPECT_ERROR("unknown option '-r'", "dump", "--core", "c", "-r", "5");
	EXPECT_ERROR("--core-root needs --core FILE", "dump", "-p", "1", "--core-root", "/x");
	EXPECT_ERROR("empty --core value", "dump", "--core", "");
	EXPECT_ERROR("unknown option '--core'", "record", "--core", "c");
	EXPECT_ERROR("unknown option '--core'", "--core", "c");
	EXPECT_ERROR("a target is required", "-v");
	EXPECT_ERROR("dump needs --pid; it does not run programs", "dump", "--", "python", "x.py");
}

/* The usage text names every subcommand and option. */
static void test_usage(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	cli_usage(f);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "py-spy record"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "py-spy top"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "py-spy dump"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "py-spy plugins"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "--flame FILE"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "-o, --output X"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "--nolineno"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "-j, --json"));
	free(text);
}

UNIT_SUITE(cli_suite)
{
	CU_pSuite s = CU_add_suite("core/cli", NULL, NULL);

	CU_add_test(s, "record", test_record);
	CU_add_test(s, "top, dump, plugins, prefixes", test_top_dump_plugins);
	CU_add_test(s, "help and version", test_help_version);
	CU_add_test(s, "original grammar", test_old_grammar);
	CU_add_test(s, "every usage error is -EINVAL with one line", test_errors);
	CU_add_test(s, "usage text", test_usage);
}
