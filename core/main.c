/*
 * py-spy: entry point.  Parses the command line, reads plugins.ini and runs
 * the subcommand.  Exit codes: 0 success, 1 runtime error, 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "commands.h"
#include "host.h"
#include "log.h"
#include "plugins.h"

#ifndef PYSPY_VERSION
#define PYSPY_VERSION "0.0.0"
#endif

int main(int argc, char **argv)
{
	struct plugins *pl = NULL;
	struct cli cli;
	char err[1024];
	int rc;

	if (cli_parse(argc, argv, &cli) != 0) {
		cli_free(&cli);
		return 2;
	}
	log_verbosity = cli.verbose;

	switch (cli.command) {
	case CLI_HELP:
		cli_help(stdout, cli.help_for);
		rc = 0;
		goto out_free_cli;
	case CLI_VERSION:
		printf("py-spy %s\n", PYSPY_VERSION);
		rc = 0;
		goto out_free_cli;
	default:
		break;
	}

	if (plugins_open(cli.config, &pl, err, sizeof(err)) != 0) {
		log_error("%s", err);
		rc = 1;
		goto out_free_cli;
	}

	switch (cli.command) {
	case CLI_PLUGINS:
		rc = plugins_list(pl, stdout) == 0 ? 0 : 1;
		break;
	case CLI_DUMP:
		rc = cmd_dump(pl, &cli);
		break;
	case CLI_RECORD:
		rc = cmd_record(pl, &cli);
		break;
	case CLI_TOP:
		rc = cmd_top(pl, &cli);
		break;
	default:
		cli_usage(stderr);
		rc = 2;
		break;
	}

	plugins_close(pl);
out_free_cli:
	cli_free(&cli);
	return rc;
}
