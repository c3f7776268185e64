/*
 * feed_output: drive one output module without the sampler.
 *
 *   feed_output [-l] [-f] [-r RATE] [-T TITLE] [-o KEY=VALUE]... MODULE.so OUT INPUT
 *
 * Loads MODULE.so, opens it for `record` on OUT ("-" for stdout), feeds it
 * the stacks of INPUT and finishes it.  INPUT has one line per stack:
 *
 *   PID <tab> TID <tab> COUNT <tab> THREADNAME <tab> FRAME <tab> FRAME ...
 *
 * frames root first, each `name\x1ffile\x1fline[\x1ffirstline]`; a frame `!name` is a
 * thread pseudo-frame.  THREADNAME "-" means unknown.  The stack is fed as
 * COUNT samples of one stack each.  Strings are interned as the core does
 * (equal strings, equal pointers).  -l: show lines, -f: full filenames,
 * -o: an option of the module's plugins.ini section.  FEED_LOCALE=NAME in
 * the environment runs the module under that locale.
 * Exit 0 on success; on failure the module's error text goes to stderr.
 */
#include <dlfcn.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../include/pyspy/output.h"

#define MAX_OPTS 32
#define MAX_FRAMES 4096

static char *opt_keys[MAX_OPTS], *opt_vals[MAX_OPTS];
static int nopts;

static void *h_alloc(size_t n) { return calloc(1, n ? n : 1); }
static void *h_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
static void h_free(void *p) { free(p); }
static void h_log(const struct pyspy_host *h, int level, const char *fmt, ...) { }

static const char *h_option(const struct pyspy_host *h, const char *key)
{
	for (int i = 0; i < nopts; i++)
		if (strcmp(opt_keys[i], key) == 0)
			return opt_vals[i];
	return NULL;
}

/* String interning: chained hash table, never freed (process is short). */
struct istr { struct istr *next; char s[]; };
static struct istr *itab[1 << 16];

static const char *intern(const char *s)
{
	unsigned long h = 5381;
	for (const char *p = s; *p; p++)
		h = h * 33 + (unsigned char)*p;
	struct istr **b = &itab[h & 0xffff];
	for (struct istr *e = *b; e; e = e->next)
		if (strcmp(e->s, s) == 0)
			return e->s;
	struct istr *e = malloc(sizeof(*e) + strlen(s) + 1);
	strcpy(e->s, s);
	e->next = *b;
	*b = e;
	return e->s;
}

static const char *short_name(const char *file)
{
	const char *slash = strrchr(file, '/');
	return intern(slash ? slash + 1 : file);
}

int main(int argc, char **argv)
{
	struct pyspy_output_config cfg = { .size = sizeof(cfg), .command = PYSPY_CMD_RECORD,
					   .rate = 100 };
	struct pyspy_host host = { .size = sizeof(host), .abi_version = PYSPY_ABI_VERSION,
				   .alloc = h_alloc, .realloc = h_realloc, .free = h_free,
				   .log = h_log, .option = h_option };
	static struct pyspy_frame frames[MAX_FRAMES];
	const struct pyspy_output_ops *ops;
	const struct pyspy_module *mod;
	char err[512] = "", *line = NULL;
	size_t cap = 0;
	uint64_t nsamples = 0;
	void *dl, *state = NULL;
	FILE *out, *in;
	int c, rc;

	/* FEED_LOCALE: run the module under that locale (decimal comma...) */
	if (getenv("FEED_LOCALE") && !setlocale(LC_ALL, getenv("FEED_LOCALE"))) {
		fprintf(stderr, "locale %s not available\n", getenv("FEED_LOCALE"));
		return 2;
	}
	while ((c = getopt(argc, argv, "lfr:T:o:")) != -1) {
		switch (c) {
		case 'l': cfg.show_lines = 1; break;
		case 'f': cfg.full_filenames = 1; break;
		case 'r': cfg.rate = atof(optarg); break;
		case 'T': cfg.title = optarg; break;
		case 'o': {
			char *eq = strchr(optarg, '=');
			if (!eq || nopts == MAX_OPTS) {
				fprintf(stderr, "bad -o %s\n", optarg);
				return 2;
			}
			*eq = '\0';
			opt_keys[nopts] = optarg;
			opt_vals[nopts++] = eq + 1;
			break;
		}
		default:
			return 2;
		}
	}
	if (argc - optind != 3) {
		fprintf(stderr, "usage: feed_output [-l] [-f] [-r RATE] [-T TITLE] "
			"[-o KEY=VALUE] MODULE.so OUT INPUT\n");
		return 2;
	}
	dl = dlopen(argv[optind], RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	mod = dlsym(dl, PYSPY_MODULE_SYMBOL);
	if (!mod || mod->kind != PYSPY_KIND_OUTPUT) {
		fprintf(stderr, "not an output module\n");
		return 1;
	}
	ops = mod->ops;
	in = fopen(argv[optind + 2], "r");
	out = strcmp(argv[optind + 1], "-") ? fopen(argv[optind + 1], "w") : stdout;
	if (!in || !out) {
		perror("fopen");
		return 1;
	}
	cfg.path = out == stdout ? NULL : argv[optind + 1];
	rc = ops->open(&host, &cfg, out, &state, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "open: %d %s\n", rc, err);
		return 1;
	}
	while (getline(&line, &cap, in) > 0) {
		struct pyspy_stack stack = { 0 };
		struct pyspy_sample sample = { .size = sizeof(sample), .nstacks = 1,
					       .stack_size = sizeof(stack), .stacks = &stack };
		char *save, *field, *f[4] = { 0 };
		int n = 0, nf = 0, k;
		long count = 1;

		line[strcspn(line, "\n")] = '\0';
		for (field = strtok_r(line, "\t", &save); field; field = strtok_r(NULL, "\t", &save)) {
			if (n < 4) {
				f[n++] = field;
				continue;
			}
			if (nf == MAX_FRAMES)
				break;
			struct pyspy_frame *fr = &frames[nf++];
			memset(fr, 0, sizeof(*fr));
			if (field[0] == '!') {
				fr->name = intern(field + 1);
				fr->filename = fr->short_filename = intern("");
				fr->flags = PYSPY_FRAME_THREAD;
				continue;
			}
			char *s1 = strchr(field, '\x1f'), *s2 = s1 ? strchr(s1 + 1, '\x1f') : NULL;
			char *s3 = s2 ? strchr(s2 + 1, '\x1f') : NULL;
			if (s1)
				*s1 = '\0';
			if (s2)
				*s2 = '\0';
			if (s3)
				*s3 = '\0';
			fr->name = intern(field);
			fr->filename = intern(s1 ? s1 + 1 : "");
			fr->short_filename = short_name(fr->filename);
			fr->line = s2 ? atoi(s2 + 1) : 0;
			fr->first_line = s3 ? atoi(s3 + 1) : 0;
		}
		if (n < 4)
			continue;
		stack.pid = atoll(f[0]);
		stack.thread_id = strtoull(f[1], NULL, 10);
		stack.os_thread_id = (int64_t)stack.thread_id;
		stack.thread_name = strcmp(f[3], "-") ? intern(f[3]) : NULL;
		stack.active = 1;
		count = atol(f[2]);
		/* frames[] is innermost first: reverse the root-first input */
		for (k = 0; k < nf / 2; k++) {
			struct pyspy_frame t = frames[k];
			frames[k] = frames[nf - 1 - k];
			frames[nf - 1 - k] = t;
		}
		stack.nframes = (uint32_t)nf;
		stack.frame_size = sizeof(frames[0]);
		stack.frames = frames;
		for (long i = 0; i < count; i++) {
			sample.time_ns = (uint64_t)(nsamples * 1e9 / cfg.rate);
			nsamples++;
			rc = ops->sample(state, &sample, err, sizeof(err));
			if (rc) {
				fprintf(stderr, "sample: %d %s\n", rc, err);
				ops->close(state);
				return 1;
			}
		}
	}
	struct pyspy_run_summary sum = { .size = sizeof(sum), .samples = nsamples,
					 .duration_s = nsamples / cfg.rate,
					 .stop_reason = "input ended" };
	rc = ops->finish(state, &sum, err, sizeof(err));
	ops->close(state);
	if (out != stdout && fclose(out) != 0)
		rc = rc ? rc : -errno;
	if (rc) {
		fprintf(stderr, "finish: %d %s\n", rc, err);
		return rc == -EPIPE ? 3 : 1;
	}
	free(line);
	fclose(in);
	dlclose(dl);
	return 0;
}
