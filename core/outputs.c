/*
 * The outputs of one run (see outputs.h).
 *
 * Each -o/--output argument is, in this order of preference:
 *   a module name or alias            --output=collapsed
 *   NAME:PATH, NAME an output module  -o flamegraph:p.svg
 *   a PATH                            format from -f, else the extension,
 *                                     else the command's default module
 * Without -o the command's default module is used: the first output that
 * plugins.ini lists whose module says it is the default for the command
 * (default_for).  A module given no path writes to stdout when it says so
 * (to_stdout), else to py-spy's default file name.  Modules describe
 * themselves (format, aliases, extensions, what "Wrote" calls their file):
 * the core knows no format by name.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "host.h"
#include "log.h"
#include "outputs.h"
#include "util.h"

struct output {
	const struct plugin *plugin;
	const struct pyspy_output_ops *ops;
	char *path;          /* file written, NULL for stdout */
	struct host_out *file; /* the file behind path (host_out_*) */
	FILE *stream;
	void *state;
	int opened;          /* the module's open op succeeded */
	int finished;        /* finish was called */
	int failed;          /* an op failed; no more samples */
	struct pyspy_output_config cfg;
};

struct outputs {
	struct output items[CLI_MAX_OUTPUTS];
	int n;
	uint32_t command;
	int input_fd;        /* live outputs' keyboard, -1 if none */
	int pipe_closed;     /* stdout was closed by its reader */
};

static const char *command_name(uint32_t command)
{
	switch (command) {
	case PYSPY_CMD_DUMP: return "dump";
	case PYSPY_CMD_RECORD: return "record";
	case PYSPY_CMD_TOP: return "top";
	}
	return "?";
}

/* Whether the module's ops table reaches `member` (older modules' tables
 * end earlier: a member they lack reads as absent). */
#define OPS_HAS(ops, member) PYSPY_HAS((ops)->size, struct pyspy_output_ops, member)

/* "dump, record" for the commands in mask. */
static void commands_text(uint32_t mask, char *buf, size_t len)
{
	static const uint32_t all[] = { PYSPY_CMD_DUMP, PYSPY_CMD_RECORD, PYSPY_CMD_TOP };
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(all) / sizeof(all[0]) && used < len; i++) {
		if (!(mask & all[i]))
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 used ? ", " : "", command_name(all[i]));
	}
	if (!buf[0])
		snprintf(buf, len, "nothing");
}

/* The output module called `name` (name, format or alias); -ENOENT if no
 * output has that name, another error (in err) if it does but fails to load. */
static int find_module(struct plugins *pl, const char *name, const struct plugin **out,
		       char *err, size_t errlen)
{
	return plugins_output(pl, name, out, err, errlen);
}

/* The output modules plugins.ini lists, loaded, in its order; each call
 * of next() gives one (NULL at the end).  Modules that fail to load are
 * passed over (py-spy plugins shows why). */
struct module_iter {
	struct plugins *pl;
	const char *names[64];
	size_t n, i;
	char failed[512];    /* why the first module that failed did, or "" */
};

static void module_iter_start(struct module_iter *it, struct plugins *pl)
{
	it->pl = pl;
	it->i = 0;
	it->failed[0] = '\0';
	it->n = plugins_output_names(pl, it->names, sizeof(it->names) / sizeof(it->names[0]));
	if (it->n > sizeof(it->names) / sizeof(it->names[0]))
		it->n = sizeof(it->names) / sizeof(it->names[0]);
}

static const struct plugin *module_iter_next(struct module_iter *it)
{
	const struct plugin *p;
	char err[256];

	while (it->i < it->n) {
		if (plugins_output(it->pl, it->names[it->i++], &p, err, sizeof(err)) == 0)
			return p;
		if (!it->failed[0])
			snprintf(it->failed, sizeof(it->failed), "%s", err);
	}
	return NULL;
}

/* "flamegraph, speedscope, raw" (the formats plugins.ini offers for the
 * command, from the loaded modules) into buf. */
static void formats_text(struct plugins *pl, uint32_t command, char *buf, size_t len)
{
	const struct plugin *p;
	struct module_iter it;
	size_t used = 0;

	buf[0] = '\0';
	module_iter_start(&it, pl);
	while ((p = module_iter_next(&it)) && used < len) {
		const struct pyspy_output_ops *ops = plugin_output_ops(p);

		if (!(ops->commands & command) || !ops->format)
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 used ? ", " : "", ops->format);
	}
	if (!buf[0])
		snprintf(buf, len, "none");
}

/* -f/--format names a format case-insensitively, as in py-spy; an unknown
 * one is reported with the formats the command can write. */
static int find_format(struct plugins *pl, const char *name, uint32_t command,
		       const struct plugin **out, char *err, size_t errlen)
{
	char *lower = xstrdup(name);
	char formats[256];
	size_t i;
	int rc;

	for (i = 0; lower[i]; i++) {
		if (lower[i] >= 'A' && lower[i] <= 'Z')
			lower[i] = (char)(lower[i] - 'A' + 'a');
	}
	rc = find_module(pl, lower, out, err, errlen);
	if (rc == -ENOENT) {
		formats_text(pl, command, formats, sizeof(formats));
		snprintf(err, errlen, "unknown output format '%s' (%s can write: %s)",
			 name, command_name(command), formats);
	}
	free(lower);
	return rc;
}

/* Length of the longest ending of `list` ("pb.gz, pprof") that path's file
 * name ends with after a dot (not the whole name); 0 if none. */
static size_t extension_match(const char *list, const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t blen = strlen(base), best = 0;
	const char *p = list, *end;

	while (p && *p) {
		size_t len;

		while (*p == ' ' || *p == ',')
			p++;
		end = p;
		while (*end && *end != ',')
			end++;
		len = (size_t)(end - p);
		while (len && p[len - 1] == ' ')
			len--;
		if (len && len + 1 < blen && base[blen - len - 1] == '.' &&
		    strncasecmp(base + blen - len, p, len) == 0 && len > best)
			best = len;
		p = end;
	}
	return best;
}

/* The output module whose extensions match path best, preferring one that
 * serves the command, then the first plugins.ini lists. */
static const struct plugin *module_by_extension(struct plugins *pl, const char *path,
						uint32_t command)
{
	const struct plugin *p, *best = NULL;
	size_t best_len = 0, len;
	int best_serves = 0, serves;
	struct module_iter it;

	module_iter_start(&it, pl);
	while ((p = module_iter_next(&it))) {
		const struct pyspy_output_ops *ops = plugin_output_ops(p);
		const char *list = OPS_HAS(ops, extensions) && ops->extensions ?
				   ops->extensions : ops->extension;

		len = list ? extension_match(list, path) : 0;
		serves = (ops->commands & command) != 0;
		if (len > best_len || (len && len == best_len && serves && !best_serves)) {
			best = p;
			best_len = len;
			best_serves = serves;
		}
	}
	return best;
}

/* The first output plugins.ini lists that is the default for command. */
static int default_module(struct plugins *pl, uint32_t command, const struct plugin **out,
			  char *err, size_t errlen)
{
	const struct plugin *p;
	struct module_iter it;

	module_iter_start(&it, pl);
	while ((p = module_iter_next(&it))) {
		const struct pyspy_output_ops *ops = plugin_output_ops(p);

		if (OPS_HAS(ops, default_for) && (ops->default_for & ops->commands & command)) {
			*out = p;
			return 0;
		}
	}
	if (it.failed[0])
		snprintf(err, errlen, "no output module is the default for %s; one failed to "
			 "load: %s", command_name(command), it.failed);
	else
		snprintf(err, errlen, "no output module is the default for %s: choose one with "
			 "-o or -f (see py-spy plugins)", command_name(command));
	return -ENOENT;
}

/* "python-2026-11-25T10:11:12.svg": program name or pid, local time. */
static char *default_path(const struct cli *cli, const struct pyspy_output_ops *ops)
{
	time_t now = (time_t)host_wall_time();
	char stamp[32] = "";
	char name[256];
	struct tm tm;

	if (cli->spawn_argv && cli->spawn_argv[0]) {
		const char *base = strrchr(cli->spawn_argv[0], '/');

		snprintf(name, sizeof(name), "%s", base ? base + 1 : cli->spawn_argv[0]);
	} else {
		snprintf(name, sizeof(name), "%lld", (long long)cli->pid);
	}
	if (localtime_r(&now, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (ops->extension && ops->extension[0])
		return xasprintf("%s-%s.%s", name, stamp, ops->extension);
	return xasprintf("%s-%s", name, stamp);
}

/*
 * Resolve one -o argument (NULL: none given) into a module and a path
 * (NULL: the module's default).
 */
static int resolve(struct plugins *pl, const struct cli *cli, uint32_t command,
		   const char *arg, const struct plugin **mod, char **path,
		   char *err, size_t errlen)
{
	const char *colon;
	int rc;

	*path = NULL;
	if (!arg) {
		if (cli->format)
			return find_format(pl, cli->format, command, mod, err, errlen);
		return default_module(pl, command, mod, err, errlen);
	}

	/* A module name or alias. */
	rc = find_module(pl, arg, mod, err, errlen);
	if (rc != -ENOENT)
		return rc;

	/* NAME:PATH */
	colon = strchr(arg, ':');
	if (colon && colon != arg) {
		char *name = xstrndup(arg, (size_t)(colon - arg));

		rc = find_module(pl, name, mod, err, errlen);
		free(name);
		if (rc == 0 && !colon[1]) {
			snprintf(err, errlen, "output '%s' has an empty path", arg);
			return -EINVAL;
		}
		if (rc == 0) {
			*path = xstrdup(colon + 1);
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
	}

	/* A path: the format from -f, the extension, or the default. */
	*path = xstrdup(arg);
	if (cli->format) {
		rc = find_format(pl, cli->format, command, mod, err, errlen);
		goto out_path;
	}
	*mod = module_by_extension(pl, arg, command);
	if (*mod)
		return 0;
	rc = default_module(pl, command, mod, err, errlen);
out_path:
	if (rc != 0) {
		free(*path);
		*path = NULL;
	}
	return rc;
}

static void fill_config(struct output *out, const struct cli *cli, uint32_t command)
{
	struct pyspy_output_config *c = &out->cfg;

	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	c->command = command;
	c->path = out->path;
	c->title = cli->title;
	c->rate = cli->rate > 0 ? cli->rate : 100.0;
	c->delay = cli->delay > 0 ? cli->delay : 1.0;
	c->show_lines = !cli->nolineno;
	c->full_filenames = cli->full_filenames != 0;
	c->by_function = cli->function != 0;
	c->threads = cli->threads != 0;
	c->json = cli->json != 0;
	c->idle = cli->idle != 0;
	c->gil = cli->gil != 0;
	c->nonblocking = cli->nonblocking != 0;
	/* A live output reads keys from the terminal py-spy runs in. */
	c->input_fd = (command == PYSPY_CMD_TOP && out->ops->event && host_isatty(0) == 1) ? 0 : -1;
}

static int add_output(struct outputs *o, struct plugins *pl, const struct cli *cli,
		      const char *arg, char *err, size_t errlen)
{
	struct output *out = &o->items[o->n];
	const struct plugin *mod;
	char served[64];
	char *path;
	int rc, i;

	rc = resolve(pl, cli, o->command, arg, &mod, &path, err, errlen);
	if (rc != 0)
		return rc;
	out->plugin = mod;
	out->ops = plugin_output_ops(mod);
	if (!(out->ops->commands & o->command)) {
		commands_text(out->ops->commands, served, sizeof(served));
		snprintf(err, errlen, "output '%s' cannot be used with %s; it serves: %s",
			 mod->name, command_name(o->command), served);
		free(path);
		return -EINVAL;
	}
	if (!path && !out->ops->to_stdout)
		path = default_path(cli, out->ops);
	/* Checked now, created only once the target is known (outputs_start). */
	if (path) {
		rc = host_out_prepare(path, &out->file, err, errlen);
		if (rc != 0) {
			free(path);
			return rc;
		}
	}
	for (i = 0; i < o->n; i++) {
		const struct output *other = &o->items[i];

		if ((!path && !other->path) ||
		    (path && other->path && host_out_same(out->file, other->file))) {
			if (path)
				snprintf(err, errlen, "two outputs write to one file: '%s' and '%s'",
					 other->path, path);
			else
				snprintf(err, errlen, "two outputs write to stdout");
			host_out_free(out->file);
			out->file = NULL;
			free(path);
			return -EINVAL;
		}
	}
	out->path = path;
	fill_config(out, cli, o->command);
	if (out->cfg.input_fd >= 0)
		o->input_fd = out->cfg.input_fd;
	o->n++;
	return 0;
}

int outputs_prepare(struct plugins *pl, const struct cli *cli, uint32_t command,
		    struct outputs **out, char *err, size_t errlen)
{
	struct outputs *o = xcalloc(1, sizeof(*o));
	int rc, i;

	o->command = command;
	o->input_fd = -1;
	if (cli->noutputs == 0) {
		rc = add_output(o, pl, cli, NULL, err, errlen);
		if (rc != 0)
			goto out_close;
	}
	for (i = 0; i < cli->noutputs && i < CLI_MAX_OUTPUTS; i++) {
		rc = add_output(o, pl, cli, cli->outputs[i].arg, err, errlen);
		if (rc != 0)
			goto out_close;
	}
	*out = o;
	return 0;

out_close:
	outputs_close(o);
	return rc;
}

int outputs_start(struct outputs *o, const struct pyspy_process_info *proc,
		  char *err, size_t errlen)
{
	char why[512];
	int i, rc;

	for (i = 0; i < o->n; i++) {
		struct output *out = &o->items[i];

		out->stream = stdout;
		if (out->file) {
			rc = host_out_begin(out->file, &out->stream, err, errlen);
			if (rc != 0)
				return rc;
		}
		out->cfg.is_tty = host_isatty(fileno(out->stream)) == 1;
		out->cfg.process = proc;
		why[0] = '\0';
		rc = out->ops->open(out->plugin->host, &out->cfg, out->stream, &out->state,
				    why, sizeof(why));
		if (rc != 0) {
			snprintf(err, errlen, "output '%s': %s", out->plugin->name,
				 why[0] ? why : strerror(rc < 0 ? -rc : EIO));
			return rc < 0 ? rc : -EIO;
		}
		out->opened = 1;
	}
	return 0;
}

int outputs_open(struct plugins *pl, const struct cli *cli, uint32_t command,
		 const struct pyspy_process_info *proc, struct outputs **out,
		 char *err, size_t errlen)
{
	int rc;

	rc = outputs_prepare(pl, cli, command, out, err, errlen);
	if (rc != 0)
		return rc;
	rc = outputs_start(*out, proc, err, errlen);
	if (rc != 0) {
		outputs_close(*out);
		*out = NULL;
	}
	return rc;
}

/* A write to stdout failed because its reader went away. */
static int stdout_closed(struct outputs *o, const struct output *out, int rc)
{
	if (out->path)
		return 0;
	if (rc == -EPIPE || (host_signals_peek() & HOST_SIG_PIPE) ||
	    (ferror(out->stream) && errno == EPIPE)) {
		o->pipe_closed = 1;
		return 1;
	}
	return 0;
}

/* Record the failure of one op: -EPIPE for a closed stdout (quiet), else
 * the error is printed and the output takes no more samples. */
static int op_failed(struct outputs *o, struct output *out, int rc, const char *what,
		     const char *why)
{
	out->failed = 1;
	if (stdout_closed(o, out, rc))
		return -EPIPE;
	log_error("output '%s' (%s): %s", out->plugin->name, what,
		  why[0] ? why : strerror(rc < 0 ? -rc : EIO));
	return rc < 0 ? rc : -EIO;
}

int outputs_snapshot(struct outputs *o, const struct pyspy_sample *sample)
{
	char why[512];
	int i, rc, ret = 0;

	for (i = 0; i < o->n; i++) {
		struct output *out = &o->items[i];

		if (!out->opened || out->failed || !out->ops->snapshot)
			continue;
		why[0] = '\0';
		rc = out->ops->snapshot(out->state, sample, why, sizeof(why));
		if (rc < 0)
			ret = op_failed(o, out, rc, "snapshot", why);
	}
	return ret;
}

int outputs_sample(struct outputs *o, const struct pyspy_sample *sample)
{
	char why[512];
	int i, rc, ret = 0;

	for (i = 0; i < o->n; i++) {
		struct output *out = &o->items[i];

		if (!out->opened || out->failed || !out->ops->sample)
			continue;
		why[0] = '\0';
		rc = out->ops->sample(out->state, sample, why, sizeof(why));
		if (rc < 0 && op_failed(o, out, rc, "sample", why) == -EPIPE)
			ret = -EPIPE;
	}
	return ret;
}

int outputs_event(struct outputs *o, const struct pyspy_event *event)
{
	char why[512];
	int i, rc, ret = PYSPY_CONTINUE;

	for (i = 0; i < o->n; i++) {
		struct output *out = &o->items[i];

		if (!out->opened || out->failed || !out->ops->event)
			continue;
		why[0] = '\0';
		rc = out->ops->event(out->state, event, why, sizeof(why));
		if (rc < 0)
			return op_failed(o, out, rc, "event", why);
		if (rc == PYSPY_QUIT)
			ret = PYSPY_QUIT;
	}
	return ret;
}

int outputs_input_fd(const struct outputs *o)
{
	return o->input_fd;
}

int outputs_use_stdout(const struct outputs *o)
{
	int i;

	for (i = 0; i < o->n; i++) {
		if (!o->items[i].path)
			return 1;
	}
	return 0;
}

/* What "Wrote ..." calls the file: the module's words, else its format. */
static const char *written_what(const struct output *out)
{
	if (OPS_HAS(out->ops, written) && out->ops->written)
		return out->ops->written;
	return NULL;
}

/* finish one output and close its file; 0, -EPIPE (quiet) or an error. */
static int finish_one(struct outputs *o, struct output *out,
		      const struct pyspy_run_summary *summary)
{
	char why[512] = "";
	int rc = 0;

	out->finished = 1;
	if (out->ops->finish)
		rc = out->ops->finish(out->state, summary, why, sizeof(why));
	if (rc < 0)
		return op_failed(o, out, rc, "finish", why);
	if (!out->path) {
		if (fflush(out->stream) != 0 || ferror(out->stream))
			return stdout_closed(o, out, -errno) ? -EPIPE : -EIO;
		return 0;
	}
	rc = host_out_commit(out->file, why, sizeof(why));
	out->stream = NULL;
	if (rc != 0) {
		log_error("%s", why);
		return rc;
	}
	return 0;
}

int outputs_finish(struct outputs *o, const struct pyspy_run_summary *summary)
{
	int i, rc, ret = 0;

	for (i = 0; i < o->n; i++) {
		struct output *out = &o->items[i];
		const char *what;

		if (!out->opened || out->finished)
			continue;
		rc = finish_one(o, out, summary);
		if (rc != 0) {
			if (ret == 0 || ret == -EPIPE)
				ret = rc;
			continue;
		}
		if (!out->path || o->command == PYSPY_CMD_TOP)
			continue;
		what = written_what(out);
		if (o->command == PYSPY_CMD_RECORD)
			/* py-spy's words, then what a sample is here: one
			 * thread's stack at one tick (a tick of 3 threads is 3). */
			log_status("Wrote %s%s to '%s'. Samples: %llu Errors: %llu "
				   "(samples count stacks: one per thread per tick)",
				   what ? what : out->ops->format, what ? "" : " data",
				   out->path, (unsigned long long)summary->samples,
				   (unsigned long long)summary->errors);
		else
			log_status("Wrote %s to '%s'", out->ops->format, out->path);
	}
	/* Any output that failed before finish makes the run fail too. */
	for (i = 0; i < o->n && ret == 0; i++) {
		if (o->items[i].failed)
			ret = -EIO;
	}
	if (o->pipe_closed && ret == 0)
		ret = -EPIPE;
	return ret;
}

void outputs_close(struct outputs *o)
{
	int i;

	if (!o)
		return;
	for (i = 0; i < o->n; i++) {
		struct output *out = &o->items[i];

		if (out->opened && out->ops->close)
			out->ops->close(out->state);
		/* Not committed: the temporary file goes, the target stays as it was. */
		host_out_free(out->file);
		free(out->path);
	}
	free(o);
}
