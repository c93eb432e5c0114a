/* SPDX-License-Identifier: MIT */
/*
 * The peers file (ds-agent(1), SPEC): CSV with a header row, read through libds/csv.h.
 *
 *   name,pubkey,endpoint
 *   hq,2K1mVD0uTNtD4HTh2XMUqDo7zWQ8v1t5m1Q2bTQwC2c=,203.0.113.10:41878
 *   laptop,xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=,
 *
 * Columns are found by name, in any order; `name` and `pubkey` are required, `endpoint`
 * (a static "addr[:port]" for a peer with a public address, default port 41878) is
 * optional, other columns are ignored. Names are 1..63 characters of [A-Za-z0-9._-].
 * A file with an error is refused whole: the message names "file:line" and the field.
 */
#ifndef DS_PEERS_H
#define DS_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "key.h"

#define DS_PEER_NAME_MAX 63
#define DS_PEERS_MAX     65536

struct ds_peer {
	char name[DS_PEER_NAME_MAX + 1];
	uint8_t pubkey[DS_KEY_LEN];
	struct ds_addr endpoint; /* endpoint.len == 0: none given */
	long line;               /* where it was defined */
};

struct ds_peers;

/* Read a peers file ("-" = stdin). 0, or -errno with a one-line reason in err
 * ("peers.csv:3: bad pubkey 'abc' (want 44 characters of base64)"):
 * -ENOENT/-EACCES/..., -EBADMSG (malformed CSV, bad field, missing column),
 * -EEXIST (duplicate name or key), -E2BIG (more than DS_PEERS_MAX). */
int ds_peers_load(const char *path, struct ds_peers **out, char *err, size_t errlen);
/* The same for a buffer; label names it in messages. */
int ds_peers_parse_mem(const char *data, size_t len, const char *label, struct ds_peers **out,
		       char *err, size_t errlen);
void ds_peers_free(struct ds_peers *ps);

size_t ds_peers_count(const struct ds_peers *ps);
const struct ds_peer *ds_peers_get(const struct ds_peers *ps, size_t i);
const struct ds_peer *ds_peers_find_name(const struct ds_peers *ps, const char *name);
const struct ds_peer *ds_peers_find_pubkey(const struct ds_peers *ps,
					   const uint8_t pubkey[DS_KEY_LEN]);
/* A valid peer name? */
bool ds_peers_name_ok(const char *name);

#endif
