/*
 * embed_host: a program that embeds CPython the way applications do, so
 * that the profiled process's exe is this program, not python, and
 * libpython may be mapped under any file name.
 *
 *   embed_host LIBPYTHON SCRIPT [ARG...]
 *   embed_host LIBPYTHON -c CODE [ARG...]
 *
 * LIBPYTHON is dlopen()ed (RTLD_GLOBAL, so that extension modules find the
 * C API) and the few functions needed are looked up with dlsym(): no
 * Python headers at build time.  sys.argv is [SCRIPT or "-c", ARG...] as
 * with python.  Set PYTHONHOME to the interpreter's prefix: the stdlib is
 * not found from this program's location.  Exit status: that of the
 * script (SystemExit is honoured by CPython itself), 1 on an uncaught
 * exception, 2 on a usage or loading error.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* The C API functions used, with their stable signatures. */
struct pyapi {
	void (*initialize)(void);
	void (*set_program_name)(void *name);
	int (*finalize_ex)(void);
	wchar_t *(*decode_locale)(const char *arg, size_t *size);
	void (*set_argv_ex)(int argc, void *argv, int updatepath);
	int (*run_string)(const char *code, void *flags);
	int (*run_file)(FILE *fp, const char *name, int closeit, void *flags);
};

static void *need(void *lib, const char *name, int *missing)
{
	void *sym = dlsym(lib, name);

	if (!sym) {
		fprintf(stderr, "embed_host: no symbol %s in libpython\n", name);
		*missing = 1;
	}
	return sym;
}

static int load_api(const char *path, struct pyapi *api)
{
	void *lib;
	int missing = 0;

	lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	if (!lib) {
		fprintf(stderr, "embed_host: dlopen %s: %s\n", path, dlerror());
		return -1;
	}
	api->initialize = need(lib, "Py_Initialize", &missing);
	api->set_argv_ex = need(lib, "PySys_SetArgvEx", &missing);
	api->run_string = need(lib, "PyRun_SimpleStringFlags", &missing);
	api->run_file = need(lib, "PyRun_SimpleFileExFlags", &missing);
	/* Python 3 only; Python 2 takes char ** argv and has Py_Finalize. */
	api->decode_locale = dlsym(lib, "Py_DecodeLocale");
	api->finalize_ex = dlsym(lib, "Py_FinalizeEx");
	/* Optional (deprecated since 3.11): sys.executable = this program. */
	api->set_program_name = dlsym(lib, "Py_SetProgramName");
	return missing ? -1 : 0;
}

/* sys.argv as wchar_t * strings (Python 3) or the char * strings as they
 * are (Python 2, which has no Py_DecodeLocale). */
static void *make_argv(const struct pyapi *api, int argc, char **argv)
{
	wchar_t **wargv;
	int i;

	if (!api->decode_locale)
		return argv;
	wargv = calloc(argc + 1, sizeof(*wargv));
	if (!wargv)
		return NULL;
	for (i = 0; i < argc; i++) {
		wargv[i] = api->decode_locale(argv[i], NULL);
		if (!wargv[i])
			return NULL;
	}
	return wargv;
}

int main(int argc, char **argv)
{
	struct pyapi api;
	void *pyargv;
	char *code;
	FILE *fp;
	int rc;

	if (argc < 3 || (strcmp(argv[2], "-c") == 0 && argc < 4)) {
		fprintf(stderr, "usage: embed_host LIBPYTHON SCRIPT|-c CODE [ARG...]\n");
		return 2;
	}
	if (load_api(argv[1], &api) < 0)
		return 2;

	if (api.set_program_name) {
		pyargv = make_argv(&api, 1, argv);
		if (!pyargv)
			goto out_nomem;
		api.set_program_name(*(void **)pyargv);
	}
	api.initialize();
	/* sys.argv: "-c" or the script, then its arguments. */
	if (strcmp(argv[2], "-c") == 0) {
		code = argv[3];
		argv[3] = argv[2];	/* sys.argv[0] is "-c", as with python */
		pyargv = make_argv(&api, argc - 3, argv + 3);
		if (!pyargv)
			goto out_nomem;
		api.set_argv_ex(argc - 3, pyargv, 0);
		rc = api.run_string(code, NULL);
	} else {
		pyargv = make_argv(&api, argc - 2, argv + 2);
		if (!pyargv)
			goto out_nomem;
		api.set_argv_ex(argc - 2, pyargv, 0);
		fp = fopen(argv[2], "r");
		if (!fp) {
			perror(argv[2]);
			return 2;
		}
		rc = api.run_file(fp, argv[2], 1, NULL);
	}
	if (api.finalize_ex && api.finalize_ex() < 0 && rc == 0)
		rc = 120;
	return rc == 0 ? 0 : (rc == 120 ? 120 : 1);

out_nomem:
	fprintf(stderr, "embed_host: cannot build sys.argv\n");
	return 2;
}
