/*
 * The outputs of one run: chosen from -o/--output/--format and their paths
 * checked before anything starts, their files begun only once the target is
 * known (host_out_*: a temporary file beside each), fed by the run loop,
 * and put in place complete by outputs_finish; a run that ends another way
 * leaves every file that was there as it was.
 */
#ifndef PYSPY_CORE_OUTPUTS_H
#define PYSPY_CORE_OUTPUTS_H

#include <pyspy/output.h>

#include "cli.h"
#include "plugins.h"

struct outputs;

/* Resolve the cli's outputs for `command` (enum pyspy_command), load their
 * modules, open their streams and call their open op.  A module that does
 * not serve the command is refused with one line. */
int outputs_open(struct plugins *pl, const struct cli *cli, uint32_t command,
		 const struct pyspy_process_info *proc, struct outputs **out,
		 char *err, size_t errlen);

/* outputs_open in two steps, so that a bad path fails before a program is
 * spawned or attached to, and nothing is created before the target is
 * known: outputs_prepare resolves the outputs, loads their modules and
 * checks their paths (touching nothing); outputs_start begins their files
 * and calls their open op. */
int outputs_prepare(struct plugins *pl, const struct cli *cli, uint32_t command,
		    struct outputs **out, char *err, size_t errlen);
int outputs_start(struct outputs *o, const struct pyspy_process_info *proc,
		  char *err, size_t errlen);

int outputs_snapshot(struct outputs *o, const struct pyspy_sample *sample);
int outputs_sample(struct outputs *o, const struct pyspy_sample *sample);
/* Live outputs only; returns PYSPY_QUIT if one asks to quit. */
int outputs_event(struct outputs *o, const struct pyspy_event *event);
/* Whether any output is live (top) and wants input from fd. */
int outputs_input_fd(const struct outputs *o);
/* Whether an output writes to stdout (a spawned program's stdout then goes
 * elsewhere so that the stream stays clean). */
int outputs_use_stdout(const struct outputs *o);
/* finish every output (once), print where each was written. */
int outputs_finish(struct outputs *o, const struct pyspy_run_summary *summary);
void outputs_close(struct outputs *o);

#endif /* PYSPY_CORE_OUTPUTS_H */
