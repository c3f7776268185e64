/*
 * py-spy dump: attach, take one sample of every thread (pausing the target
 * unless --nonblocking), hand it to the dump output, detach.  With --core
 * the sample is read from a core file through the core-file backend.
 */
#include <errno.h>
#include <stdio.h>

#include "commands.h"
#include "log.h"
#include "outputs.h"
#include "session.h"

int cmd_dump(struct plugins *pl, const struct cli *cli)
{
	struct session_options opt = {
		.pid = cli->pid,
		.core = cli->core,
		.core_root = cli->core_root,
		.nonblocking = cli->nonblocking,
		.show_lines = 1,
		.wait_s = 0,
		.locals = cli->locals,
	};
	struct pyspy_run_summary summary = { .size = sizeof(summary), .stop_reason = "dump" };
	struct session_sample sample;
	struct pyspy_sample snap = { .size = sizeof(snap) };
	struct session *s;
	struct outputs *o;
	char err[1024];
	int rc, tries;

	rc = session_open(pl, &opt, &s, err, sizeof(err));
	if (rc) {
		log_error("%s", err);
		return 1;
	}
	rc = outputs_open(pl, cli, PYSPY_CMD_DUMP, session_process(s), &o, err, sizeof(err));
	if (rc) {
		log_error("%s", err);
		session_close(s);
		return 1;
	}
	/* A sample taken while the target changes may fail; try a few times
	 * (a core does not change: once). */
	for (tries = 0; tries < (cli->core ? 1 : 5); tries++) {
		rc = session_sample(s, &sample);
		if (rc == 0 || rc == -ESRCH)
			break;
	}
	if (rc == 0) {
		summary.samples = sample.nstacks;
		summary.errors = sample.errors;
		snap.stacks = sample.stacks;
		snap.nstacks = (uint32_t)sample.nstacks;
		snap.stack_size = sizeof(*sample.stacks);
		snap.errors = (uint32_t)sample.errors;
		rc = outputs_snapshot(o, &snap);
		session_report_cuts(sample.frames_omitted, sample.stacks_omitting,
				    sample.thread_list_cut != 0);
	} else if (rc == -ESRCH) {
		log_error("process %lld exited while it was being read", (long long)cli->pid);
	} else if (cli->core) {
		log_error("could not read the stacks in core file %s (%s)", cli->core,
			  rc == -ELOOP ? "a frame or thread chain did not end" : "memory missing or unreadable");
	} else {
		log_error("could not read the stacks of process %lld (%s)", (long long)cli->pid,
			  rc == -ELOOP ? "a frame or thread chain did not end" : "memory changed or unreadable");
	}
	if (outputs_finish(o, &summary) != 0 && rc == 0)
		rc = -EIO;
	outputs_close(o);
	session_close(s);
	return rc == 0 ? 0 : 1;
}
