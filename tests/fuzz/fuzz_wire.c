// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the wire decoder (ds-wire(7)): header parse, AEAD open, every body
 * decoder, and a pair's receive path (session handshake, replay window).
 *
 * The keys are fixed so that the seed corpus can hold authentic packets: agent A (private
 * key 0x01 0x02 ... 0x20) sends to agent B (0x21 ... 0x40) from session FUZZ_SESSION;
 * tests/fuzz/gen_wire_seeds.c writes such packets.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "pair.h"
#include "wire.h"

#define FUZZ_SESSION UINT64_C(0x0102030405060708)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ds_pair_keys keys_b;   /* B's view of the pair */
static struct ds_wire_key *open_key; /* B opening A's session FUZZ_SESSION */
static struct ds_wire_key *seal_key; /* A sealing in that session, to re-seal and compare */

static void init(void)
{
	uint8_t a[32], b[32], pa[32], pb[32], k[32];
	struct ds_pair_keys keys_a;

	for (int i = 0; i < 32; i++) {
		a[i] = (uint8_t)(i + 1);
		b[i] = (uint8_t)(i + 33);
	}
	if (ds_key_public(a, pa) || ds_key_public(b, pb) || ds_key_pair_derive(a, pb, &keys_a) ||
	    ds_key_pair_derive(b, pa, &keys_b))
		abort();
	ds_key_session_derive(keys_b.rx_key, FUZZ_SESSION, k);
	if (ds_wire_key_new(k, false, &open_key))
		abort();
	ds_key_session_derive(keys_a.tx_key, FUZZ_SESSION, k);
	if (ds_wire_key_new(k, true, &seal_key))
		abort();
}

/* Every decoder on the same bytes: each must check the length itself. */
static void decode_all(const uint8_t *b, size_t len)
{
	struct ds_wire_echo e;
	struct ds_wire_pair_request r;
	struct ds_wire_pair_data d;
	struct ds_wire_punch p;
	struct ds_wire_keepalive k;
	struct ds_wire_refusal f;

	/* a reply is never larger than its request */
	if (ds_wire_echo_decode(b, len, &e) == 0 &&
	    ds_wire_echo_reply_len(&e, len + DS_WIRE_OVERHEAD) > len + DS_WIRE_OVERHEAD)
		abort();
	ds_wire_pair_request_decode(b, len, &r);
	ds_wire_pair_data_decode(b, len, &d);
	if (ds_wire_punch_decode(b, len, &p) == 0) {
		uint8_t again[DS_WIRE_BODY_MAX];
		size_t n = ds_wire_punch_len(&p);

		/* what decoded must encode again, byte for byte, in the same length */
		if (n > len || ds_wire_punch_encode(&p, again, n) != (int)n)
			abort();
		if (memcmp(again, b, 11) != 0 ||
		    memcmp(again + DS_WIRE_PUNCH_LEN, b + DS_WIRE_PUNCH_LEN, n - DS_WIRE_PUNCH_LEN))
			abort();
	}
	ds_wire_keepalive_decode(b, len, &k);
	if (ds_wire_refusal_decode(b, len, &f) == 0 && !ds_wire_refusal_name(f.reason))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t body[DS_WIRE_MAX_PACKET], again[DS_WIRE_MAX_PACKET];
	static bool ready;
	struct ds_wire_hdr h;
	size_t blen;

	if (!ready) {
		init();
		ready = true;
	}
	ds_wire_demux(data, size);
	decode_all(data, size);
	if (ds_wire_parse_hdr(data, size, &h) != 0)
		return 0;
	if (!ds_wire_type_name(h.type) || size < DS_WIRE_OVERHEAD || size > DS_WIRE_MAX_PACKET)
		abort(); /* parse_hdr let through what it must not */
	/* the body as if it had authenticated */
	decode_all(data + DS_WIRE_HDR_LEN, size - DS_WIRE_OVERHEAD);
	if (ds_wire_open(open_key, data, size, body, sizeof(body), &blen) == 0) {
		int n;

		if (blen != size - DS_WIRE_OVERHEAD)
			abort();
		decode_all(body, blen);
		/* the AEAD is deterministic: sealing again gives the very same packet */
		n = ds_wire_seal(seal_key, &h, body, blen, again, sizeof(again));
		if (n != (int)size || memcmp(again, data, size) != 0)
			abort();
	}
	if (h.pair_id == keys_b.rx_id) {
		struct ds_pair *p;
		int64_t now = 1000000000;

		if (ds_pair_new(&keys_b, 0x55, &p) == 0) {
			/* twice: the second time is a replay whatever the first did */
			int r1 = ds_pair_open(p, &h, data, size, now, body, sizeof(body), &blen);
			int r2 = ds_pair_open(p, &h, data, size, now, body, sizeof(body), &blen);

			if (r1 == 0 || (r1 == -ENOTCONN && r2 == 0))
				abort(); /* a fresh pair serves nothing before a handshake */
			if (ds_pair_keepalive_due(p, now)) {
				int n = ds_pair_keepalive(p, now, again, sizeof(again));

				if (n != DS_WIRE_OVERHEAD + DS_WIRE_KEEPALIVE_LEN)
					abort();
			}
			ds_pair_free(p);
		}
	}
	return 0;
}
