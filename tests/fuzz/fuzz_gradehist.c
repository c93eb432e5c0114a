// SPDX-License-Identifier: MIT
/*
 * History files come from other machines (ds-grade --fleet reads what every agent wrote):
 * whatever they hold, reading them must not crash, every row kept must have a parsed
 * remote address and an RTT, and every session must have exactly one latest row.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gradehist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64];
	struct ds_gradehist *h;
	struct ds_gradehist_row *rows;
	size_t n, i, latest = 0;

	if (fd < 0)
		fd = memfd_create("fuzz_gradehist", 0);
	if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (ds_gradehist_new(&h) < 0)
		return 0;
	if (ds_gradehist_read(h, path, 0) == 0) {
		rows = ds_gradehist_rows(h, &n);
		for (i = 0; i < n; i++) {
			if (ds_addr_family(&rows[i].remote) == 0 || !(rows[i].rtt_ms >= 0))
				__builtin_trap();
			latest += rows[i].latest;
		}
		if (n && !latest)
			__builtin_trap();
	}
	ds_gradehist_free(h);
	return 0;
}
