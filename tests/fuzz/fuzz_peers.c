// SPDX-License-Identifier: MIT
/* libFuzzer harness for the peers file parser: any bytes, a whole file or an error naming
 * file:line, and every loaded peer found again by name and by key. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "peers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_peers *ps = NULL;
	char err[256];
	int ret;

	err[0] = '\0';
	ret = ds_peers_parse_mem((const char *)data, size, "peers.csv", &ps, err, sizeof(err));
	if (ret < 0) {
		/* refused whole, with a message that names the file */
		if (ps || strncmp(err, "peers.csv:", 10) != 0)
			abort();
		return 0;
	}
	for (size_t i = 0; i < ds_peers_count(ps); i++) {
		const struct ds_peer *p = ds_peers_get(ps, i);

		if (!ds_peers_name_ok(p->name) || ds_peers_find_name(ps, p->name) != p ||
		    ds_peers_find_pubkey(ps, p->pubkey) != p)
			abort();
	}
	if (ds_peers_get(ps, ds_peers_count(ps)) != NULL)
		abort();
	ds_peers_free(ps);
	return 0;
}
