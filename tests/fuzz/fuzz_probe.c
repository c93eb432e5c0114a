// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the ds-pairprobe engine (libds/probe.h) fed by a hostile responder:
 * the input is a script of requests sent and answers received (echo replies and pair data,
 * through the wire body decoders, with fuzzed counts, stamps, sizes, order, duplicates and
 * garbage), after which every figure must still be sane: no crash, no loss outside
 * 0..100 %, no negative RTT, nothing lost that was never sent.
 *
 * Input: 4 bytes of options (count, pairs, train, flags), then operations of one byte each
 * followed by their operands:
 *   0 t16         send the next planned request, t16 us after the previous event
 *   1 k8 f8 c16 a16 b16 r16 l16
 *                 answer the k-th request sent: f bit 0 = forge sender time; c = rx_count;
 *                 a, b = responder rx/tx in us; r = our arrival in us; l = packet length
 *   2 n8 bytes    an echo reply body of n bytes (decoder), arriving now
 *   3 n8 bytes    a pair-data body of n bytes (decoder), arriving now
 *   4 k8 t16      a transmit stamp for the k-th request sent
 *   5 l16         garbage of length l
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXSENT 256

static uint16_t u16(const uint8_t *d)
{
	return (uint16_t)(d[0] << 8 | d[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_probe_opts o;
	struct ds_probe *p;
	struct ds_probe_result r;
	struct ds_probe_raw row;
	uint32_t plan[MAXSENT], nplan = 0, sent[MAXSENT], nsent = 0;
	int64_t sent_t[MAXSENT], now = 1000000000;
	size_t i = 4;

	if (size < 4)
		return 0;
	ds_probe_opts_default(&o);
	o.count = 1 + data[0] % 64;
	o.pairs = data[1] % 9;
	o.train = data[2] % 17;
	if (o.train == 1)
		o.train = 0;
	o.clock_synced = data[3] & 1;
	o.wait_ns = (data[3] & 2) ? 1000000 : 1000000000;
	if (ds_probe_new(&o, &p) != 0)
		return 0;
	for (uint32_t k = 0; k < o.count && nplan < MAXSENT; k++)
		plan[nplan++] = DS_PROBE_SEQ_ECHO + k;
	for (uint32_t k = 0; k < 2 * o.pairs && nplan < MAXSENT; k++)
		plan[nplan++] = DS_PROBE_SEQ_FWD_PAIR + k;
	for (uint32_t k = 0; k < 2 * o.pairs && nplan < MAXSENT; k++)
		plan[nplan++] = DS_PROBE_SEQ_WARM + k;
	for (uint32_t k = 0; k < o.pairs && nplan < MAXSENT; k++)
		plan[nplan++] = DS_PROBE_SEQ_REV_PAIR + k;
	for (uint32_t k = 0; k < o.train && nplan < MAXSENT; k++)
		plan[nplan++] = DS_PROBE_SEQ_FWD_TRAIN + k;
	if (o.train && nplan < MAXSENT)
		plan[nplan++] = DS_PROBE_SEQ_REV_TRAIN;
	for (uint32_t k = 0; k < DS_PROBE_MAX_CLOSERS && nplan < MAXSENT; k++)
		plan[nplan++] = DS_PROBE_SEQ_CLOSE + k;

	while (i < size) {
		uint8_t op = data[i++] % 6;

		if (op == 0 && i + 2 <= size) {
			uint8_t body[DS_WIRE_BODY_MAX];
			uint32_t seq;
			int n;

			now += u16(data + i) * 1000;
			i += 2;
			if (nsent >= nplan)
				continue;
			seq = plan[nsent];
			n = seq >= DS_PROBE_SEQ_REV_PAIR
				? ds_probe_pair_request_body(p, seq, (uint64_t)now, body,
							     sizeof(body))
				: ds_probe_echo_body(p, seq, (uint64_t)now, body, sizeof(body));
			if (n < 0 || ds_probe_sent(p, seq, (uint64_t)now, now, (size_t)n + 48) != 0)
				abort(); /* the plan is the engine's own: it must accept it */
			sent[nsent] = seq;
			sent_t[nsent++] = now;
		} else if (op == 1 && i + 12 <= size) {
			struct ds_wire_echo e = {0};
			uint32_t k = nsent ? data[i] % nsent : 0;

			if (nsent) {
				e.seq = sent[k];
				e.sender_tx_ns = (uint64_t)sent_t[k] ^ (data[i + 1] & 1);
				e.rx_count = u16(data + i + 2);
				e.responder_rx_ns = (uint64_t)sent_t[k] + u16(data + i + 4) * 1000u;
				e.responder_tx_ns = (uint64_t)sent_t[k] + u16(data + i + 6) * 1000u;
				now = sent_t[k] + (int64_t)u16(data + i + 8) * 1000 - 1000;
				ds_probe_echo_reply(p, &e, now, u16(data + i + 10));
			}
			i += 12;
		} else if ((op == 2 || op == 3) && i + 1 <= size) {
			size_t n = data[i++];

			if (n > size - i)
				n = size - i;
			if (op == 2) {
				struct ds_wire_echo e;

				if (ds_wire_echo_decode(data + i, n, &e) == 0)
					ds_probe_echo_reply(p, &e, now, n + 48);
				else
					ds_probe_garbage(p, n + 48);
			} else {
				struct ds_wire_pair_data d;

				if (ds_wire_pair_data_decode(data + i, n, &d) == 0)
					ds_probe_pair_data(p, &d, now, d.size);
				else
					ds_probe_garbage(p, n + 48);
			}
			i += n;
		} else if (op == 4 && i + 3 <= size) {
			if (nsent)
				ds_probe_tx_stamp(p, sent[data[i] % nsent],
						  sent_t[data[i] % nsent] + u16(data + i + 1) -
						      30000);
			i += 3;
		} else if (op == 5 && i + 2 <= size) {
			ds_probe_garbage(p, u16(data + i));
			i += 2;
		} else {
			break;
		}
	}
	(void)ds_probe_complete(p);
	(void)ds_probe_closers_answered(p);
	if (ds_probe_result(p, &r) == 0) {
		const struct ds_probe_dir *d[2] = {&r.fwd, &r.rev};

		for (int k = 0; k < 2; k++) {
			if (!isnan(d[k]->loss_pct) && (d[k]->loss_pct < 0 || d[k]->loss_pct > 100))
				abort();
			if (d[k]->lost > d[k]->sent)
				abort();
			if (!isnan(d[k]->bw_mbps) && !(d[k]->bw_mbps > 0))
				abort();
		}
		if (r.fwd.sent > nsent || r.echoes_answered > r.echoes_sent)
			abort();
		if (!isnan(r.rtt.min) && (r.rtt.min < 0 || r.rtt.max < r.rtt.min))
			abort();
	}
	for (size_t k = 0; ds_probe_raw_row(p, k, &row) == 0; k++)
		if (!row.kind || !row.status)
			abort();
	ds_probe_free(p);
	return 0;
}
