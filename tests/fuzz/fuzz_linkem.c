// SPDX-License-Identifier: MIT
/*
 * ds-link's params file is written by scripts (ds-lab) and by hand: any bytes at all. The
 * parsed values then drive the schedule, which must stay in order whatever they are.
 */
#include <stddef.h>
#include <stdint.h>

#include "linkem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_linkem_params p;
	struct ds_linkem *l;
	unsigned line = 0;
	int64_t now = 0, release, last = INT64_MIN;

	ds_linkem_params_default(&p);
	if (ds_linkem_params_parse((const char *)data, size, &p, &line) < 0)
		return 0;
	l = ds_linkem_new(&p, size);
	if (!l)
		return 0;
	for (size_t i = 0; i < size && i < 64; i++) {
		now += data[i] * 1000;
		if (ds_linkem_enqueue(l, now, 40 + data[i] * 6, &release) == 0) {
			if (release < last || release < now)
				__builtin_trap();
			last = release;
		}
	}
	ds_linkem_free(l);
	return 0;
}
