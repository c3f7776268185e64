/*
 * The subcommands.  Each returns the process exit code (0 success, 1 error;
 * the error line has already been printed).
 */
#ifndef PYSPY_CORE_COMMANDS_H
#define PYSPY_CORE_COMMANDS_H

#include "cli.h"
#include "plugins.h"

int cmd_dump(struct plugins *pl, const struct cli *cli);    /* core/cmd_dump.c */
int cmd_record(struct plugins *pl, const struct cli *cli);  /* core/cmd_record.c */
int cmd_top(struct plugins *pl, const struct cli *cli);     /* core/cmd_record.c: same loop */

#endif /* PYSPY_CORE_COMMANDS_H */
