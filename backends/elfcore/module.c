/*
 * Core-file backend: the ops table and the one exported symbol.
 *
 * plugins.ini names it under its own key: [backend] core = modules/backends/elfcore.so
 */
#include "../common/elfbin.h"
#include "ecore.h"

static const struct pyspy_backend_ops ec_ops = {
	.size = sizeof(struct pyspy_backend_ops),
	.platform = "linux", /* the OS whose cores it reads */
	.attach = ec_attach,
	.detach = ec_detach,
	.info = ec_info,
	.read = ec_read,
	.maps = ec_maps,
	.threads = ec_threads,
	.pause = ec_pause,
	.resume = ec_resume,
	.binary_open = ec_binary_open,
	.binary_close = elfbin_close,
	.binary_info = elfbin_info,
	.binary_symbol = elfbin_symbol,
	.binary_section = elfbin_section,
	.alive = ec_alive,
	.open_file = ec_open_file,
};

PYSPY_EXPORT const struct pyspy_module pyspy_module = {
	PYSPY_ABI_VERSION,
	sizeof(struct pyspy_module),
	PYSPY_KIND_BACKEND,
	0,
	"elfcore",
	"ELF core files (gcore, kernel cores; gzip too): dump --core FILE",
	&ec_ops,
};
