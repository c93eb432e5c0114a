// SPDX-License-Identifier: MIT
/* libFuzzer harness for the agent's file parsers: rendezvous candidate files and the
 * last-known-good paths file (libds/agentstate.h). Any bytes another agent (or a damaged
 * disk) could leave there. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_path(void *arg, const struct ds_path_rec *p)
{
	char buf[512];

	(*(size_t *)arg)++;
	if (p->remote.len == 0 || ds_paths_format(p, 1, buf, sizeof(buf)) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_cand c[DS_CAND_MAX];
	char out[8192];
	size_t n = 0, npaths = 0;
	char *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (ds_cand_parse(copy, size, NULL, c, DS_CAND_MAX, &n) == 0) {
		if (n > DS_CAND_MAX)
			abort();
		/* What was accepted formats and parses back to as many candidates. */
		for (size_t i = 0; i < n; i++)
			if (!ds_cand_kind_str(c[i].kind) || c[i].addr.len == 0)
				abort();
		{
			int len = ds_cand_format("x", c, n, 0, out, sizeof(out));
			size_t n2 = 0;

			if (len < 0 ||
			    ds_cand_parse(out, (size_t)len, "x", c, DS_CAND_MAX, &n2) != 0 ||
			    n2 != n)
				abort();
		}
	}
	ds_cand_parse(copy, size, "hq", c, 2, &n);
	ds_paths_parse(copy, size, count_path, &npaths);
	free(copy);
	return 0;
}
