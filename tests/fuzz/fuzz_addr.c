// SPDX-License-Identifier: MIT
/* Addresses come from command lines, peers files and candidate files. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[128], out[DS_ADDR_STRLEN];
	struct ds_addr a, b;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (ds_addr_parse(in, 41878, 0, &a) < 0)
		return 0;
	/* What we print, we must read back as the same address. */
	ds_addr_format(&a, true, out, sizeof(out));
	if (ds_addr_parse(out, 0, DS_ADDR_PORT_REQUIRED, &b) < 0 || !ds_addr_equal(&a, &b))
		__builtin_trap();
	return 0;
}
