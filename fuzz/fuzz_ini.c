/*
 * Fuzz target: plugins.ini's reader (core/ini.c) on arbitrary bytes.  Every
 * section and key it returns is looked up again, as core/config.c does; a
 * crash, a leak, undefined behaviour or a hang is a finding.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../core/ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ini ini;
	char err[512];
	size_t i;

	if (ini_parse(&ini, (const char *)data, size, "fuzz.ini", 1, err, sizeof(err)) != 0) {
		/* one line, NUL-terminated */
		if (!memchr(err, '\0', sizeof(err)) || strchr(err, '\n'))
			__builtin_trap();
		return 0;
	}
	for (i = 0; i < ini.nsections; i++) {
		if (ini_section(&ini, ini.sections[i].name) != &ini.sections[i])
			__builtin_trap();
	}
	for (i = 0; i < ini.nkeys; i++) {
		const struct ini_key *k = &ini.keys[i];

		if (ini_key(&ini, ini.sections[k->section].name, k->key) != k)
			__builtin_trap();
	}
	ini_free(&ini);
	return 0;
}
