/*
 * Linux backend: the ops table and the one exported symbol.
 *
 * Options (section [linux] of plugins.ini):
 *   read = proc-mem   read through /proc/PID/mem, never process_vm_readv
 */
#include "../common/elfbin.h"
#include "lnx.h"

static const struct pyspy_backend_ops lnx_ops = {
	.size = sizeof(struct pyspy_backend_ops),
	.platform = "linux",
	.attach = lnx_attach,
	.detach = lnx_detach,
	.info = lnx_info,
	.read = lnx_read,
	.maps = lnx_maps,
	.threads = lnx_threads,
	.pause = lnx_pause,
	.resume = lnx_resume,
	.binary_open = lnx_binary_open,
	.binary_close = elfbin_close,
	.binary_info = elfbin_info,
	.binary_symbol = elfbin_symbol,
	.binary_section = elfbin_section,
	.spawn = lnx_spawn,
	.alive = lnx_alive,
	.terminate = lnx_terminate,
	.thread_state = lnx_thread_state,
	.pause_threads = lnx_pause_threads,
};

PYSPY_EXPORT const struct pyspy_module pyspy_module = {
	PYSPY_ABI_VERSION,
	sizeof(struct pyspy_module),
	PYSPY_KIND_BACKEND,
	0,
	"linux",
	"Linux memory backend (process_vm_readv, ptrace, ELF via libelf)",
	&lnx_ops,
};
