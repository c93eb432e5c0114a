// SPDX-License-Identifier: MIT
/*
 * Writes the seed corpus of fuzz_wire (tests/fuzz/corpus/wire/): authentic packets of every
 * type under the harness's fixed keys, edge cases and malformed ones. Run from the top:
 *   cc -D_GNU_SOURCE -Ilibds tests/fuzz/gen_wire_seeds.c build/libds.a -lcrypto \
 *      -o build/gen_wire_seeds && build/gen_wire_seeds tests/fuzz/corpus/wire
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "wire.h"

#define FUZZ_SESSION UINT64_C(0x0102030405060708)

static const char *dir;
static struct ds_pair_keys keys_a;
static struct ds_wire_key *seal;

static void save(const char *name, const uint8_t *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static int sealed(uint8_t type, uint64_t counter, const uint8_t *body, size_t blen, uint8_t *out)
{
	struct ds_wire_hdr h = { .type = type, .version = DS_WIRE_VERSION, .run_id = 0x2a,
				 .pair_id = keys_a.tx_id, .session = FUZZ_SESSION,
				 .counter = counter };
	int n = ds_wire_seal(seal, &h, body, blen, out, DS_WIRE_MAX_PACKET);

	if (n < 0)
		exit(1);
	return n;
}

int main(int argc, char **argv)
{
	uint8_t a[32], b[32], pb[32], k[32], body[DS_WIRE_MAX_PACKET], pkt[DS_WIRE_MAX_PACKET];
	int n, len;

	if (argc != 2)
		return 2;
	dir = argv[1];
	for (int i = 0; i < 32; i++) {
		a[i] = (uint8_t)(i + 1);
		b[i] = (uint8_t)(i + 33);
	}
	ds_key_public(b, pb);
	ds_key_pair_derive(a, pb, &keys_a);
	ds_key_session_derive(keys_a.tx_key, FUZZ_SESSION, k);
	ds_wire_key_new(k, true, &seal);

	struct ds_wire_echo e = { .seq = 1, .reply_len = 120, .sender_tx_ns = 1234567890 };
	len = ds_wire_echo_encode(&e, body, DS_WIRE_ECHO_LEN);
	save("valid_echo_request", pkt, (size_t)sealed(DS_WIRE_ECHO_REQUEST, 1, body, (size_t)len, pkt));
	e.rx_count = 1, e.responder_rx_ns = 5, e.responder_tx_ns = 6;
	len = ds_wire_echo_encode(&e, body, 200);
	save("valid_echo_reply_padded", pkt, (size_t)sealed(DS_WIRE_ECHO_REPLY, 2, body, (size_t)len, pkt));
	struct ds_wire_pair_request r = { .seq = 3, .count = 5, .size = 1200, .gap_us = 500 };
	len = ds_wire_pair_request_encode(&r, body, DS_WIRE_PAIR_REQUEST_LEN);
	save("valid_pair_request", pkt, (size_t)sealed(DS_WIRE_PAIR_REQUEST, 3, body, (size_t)len, pkt));
	struct ds_wire_pair_data d = { .seq = 3, .index = 4, .member = 1, .size = 1200, .count = 5 };
	len = ds_wire_pair_data_encode(&d, body, 1200 - DS_WIRE_OVERHEAD);
	save("valid_pair_data", pkt, (size_t)sealed(DS_WIRE_PAIR_DATA, 4, body, (size_t)len, pkt));
	struct ds_wire_punch p = { .hint_id = 9, .attempts = 5, .port_deltas = 64, .interval_ms = 20,
				   .start_in_ms = 250, .ncand = 3 };
	p.cand[0] = (struct ds_wire_cand){ 4, DS_CAND_HOST, 41878, { 192, 168, 1, 130 } };
	p.cand[1] = (struct ds_wire_cand){ 4, DS_CAND_SRFLX, 64512, { 198, 51, 100, 7 } };
	p.cand[2] = (struct ds_wire_cand){ 6, DS_CAND_HOST, 41878, { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 } };
	len = ds_wire_punch_encode(&p, body, ds_wire_punch_len(&p));
	save("valid_punch_hint", pkt, (size_t)sealed(DS_WIRE_PUNCH_HINT, 5, body, (size_t)len, pkt));
	struct ds_wire_keepalive ka = { .flags = DS_KA_CHALLENGE };
	memset(ka.challenge, 0x5a, 16);
	len = ds_wire_keepalive_encode(&ka, body, DS_WIRE_KEEPALIVE_LEN);
	save("valid_keepalive_challenge", pkt, (size_t)sealed(DS_WIRE_KEEPALIVE, 6, body, (size_t)len, pkt));
	ka.flags = DS_KA_CHALLENGE | DS_KA_RESPONSE;
	memset(ka.response, 0xa5, 16);
	len = ds_wire_keepalive_encode(&ka, body, DS_WIRE_KEEPALIVE_LEN);
	save("valid_keepalive_both", pkt, (size_t)sealed(DS_WIRE_KEEPALIVE, 7, body, (size_t)len, pkt));
	struct ds_wire_refusal f = { .reason = DS_REFUSE_MESH_OFF, .refused_type = 4, .refused_seq = 1 };
	len = ds_wire_refusal_encode(&f, body, DS_WIRE_REFUSAL_LEN);
	save("valid_refusal", pkt, (size_t)sealed(DS_WIRE_REFUSAL, 8, body, (size_t)len, pkt));

	/* edge: empty body, the largest packet, the largest counter */
	save("edge_empty_body", pkt, (size_t)sealed(DS_WIRE_KEEPALIVE, 9, body, 0, pkt));
	memset(body, 0, sizeof(body));
	len = ds_wire_echo_encode(&e, body, DS_WIRE_BODY_MAX);
	save("edge_max_packet", pkt, (size_t)sealed(DS_WIRE_ECHO_REQUEST, 10, body, (size_t)len, pkt));
	len = ds_wire_echo_encode(&e, body, DS_WIRE_ECHO_LEN);
	save("edge_max_counter", pkt, (size_t)sealed(DS_WIRE_ECHO_REQUEST, UINT64_MAX, body, (size_t)len, pkt));

	/* malformed: flipped tag, truncated, bad version, reserved type, STUN, ChannelData */
	n = sealed(DS_WIRE_ECHO_REQUEST, 11, body, DS_WIRE_ECHO_LEN, pkt);
	pkt[n - 1] ^= 1;
	save("malformed_bad_tag", pkt, (size_t)n);
	pkt[n - 1] ^= 1;
	save("malformed_truncated", pkt, (size_t)n - 5);
	pkt[1] = 2;
	save("malformed_version", pkt, (size_t)n);
	pkt[1] = 1;
	pkt[0] = 13;
	save("malformed_reserved_type", pkt, (size_t)n);
	static const uint8_t stun[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4,
					  5, 6, 7, 8, 9, 10, 11, 12 };
	save("malformed_stun_binding", stun, sizeof(stun));
	static const uint8_t chan[8] = { 0x40, 0x00, 0x00, 0x04, 4, 1, 0, 0 };
	save("malformed_channel_data", chan, sizeof(chan));
	/* a punch hint whose candidate count runs past its body, sealed */
	memset(body, 0, 64);
	body[4] = 1, body[10] = 8;
	save("malformed_punch_overrun", pkt, (size_t)sealed(DS_WIRE_PUNCH_HINT, 12, body, 40, pkt));
	return 0;
}
