// SPDX-License-Identifier: MIT
/*
 * The ds-pairprobe engine on synthetic timestamps: a responder simulated in a few lines,
 * with a clock offset between the two sides, so every figure is checked against what the
 * simulated path was made to be.
 */
#define UNIT_NAME "test_probe"
#include "unit.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

#define MS       1000000LL
#define US       1000LL
#define OFFSET   (123456789LL * US) /* the responder's clock minus ours */
#define IPV4_OVH 28

/* A simulated responder: counts requests, stamps them on its own clock. */
struct sim {
	struct ds_probe *p;
	uint32_t rx_count;
	int64_t t; /* our clock */
};

static struct ds_probe *mk(uint32_t count, uint32_t pairs, uint32_t train)
{
	struct ds_probe_opts o;
	struct ds_probe *p;

	ds_probe_opts_default(&o);
	o.count = count;
	o.pairs = pairs;
	o.train = train;
	if (ds_probe_new(&o, &p) != 0)
		return NULL;
	return p;
}

/* Send seq at t; it reaches the responder after fwd (or is lost: fwd < 0), which turns it
 * around in turn ns; the reply takes rev (lost: rev < 0). Returns the verdict or -1. */
static int echo(struct sim *s, uint32_t seq, int64_t t, int64_t fwd, int64_t turn, int64_t rev)
{
	struct ds_wire_echo e = {.seq = seq, .sender_tx_ns = (uint64_t)t};
	uint8_t body[DS_WIRE_BODY_MAX];
	int blen = ds_probe_echo_body(s->p, seq, (uint64_t)t, body, sizeof(body));

	if (blen < 0 || ds_probe_sent(s->p, seq, (uint64_t)t, t, (size_t)blen + 48) != 0)
		return -2;
	if (fwd < 0)
		return -1;
	e.rx_count = ++s->rx_count;
	e.responder_rx_ns = (uint64_t)(t + fwd + OFFSET);
	e.responder_tx_ns = e.responder_rx_ns + (uint64_t)turn;
	if (rev < 0)
		return -1;
	{
		struct ds_wire_echo req;
		size_t reply = (size_t)blen + 48;

		/* as the agent does: the reply length asked for, never more than the request */
		if (ds_wire_echo_decode(body, (size_t)blen, &req) == 0 && req.reply_len)
			reply = req.reply_len;
		return (int)ds_probe_echo_reply(s->p, &e, t + fwd + turn + rev, reply);
	}
}

static size_t pkt_len(struct ds_probe *p, uint32_t seq)
{
	uint8_t body[DS_WIRE_BODY_MAX];

	return (size_t)ds_probe_echo_body(p, seq, 0, body, sizeof(body)) + 48;
}

/* A forward pair through a bottleneck of `mbps`: the second packet leaves the bottleneck
 * its serialization time after the first. gap = the sender's spacing. */
static void fwd_pair(struct sim *s, uint32_t k, int64_t t, int64_t gap, double mbps, int64_t base,
		     int64_t extra)
{
	uint32_t a = DS_PROBE_SEQ_FWD_PAIR + 2 * k, b = a + 1;
	int64_t ser2 = (int64_t)((pkt_len(s->p, b) + IPV4_OVH) * 8.0 / mbps * 1e3);
	int64_t ser1 = (int64_t)((pkt_len(s->p, a) + IPV4_OVH) * 8.0 / mbps * 1e3);
	int64_t arr1 = t + ser1 + base + extra;
	int64_t arr2 = arr1 + (gap > ser2 ? gap : ser2);

	echo(s, a, t, arr1 - t, 10 * US, base);
	echo(s, b, t + gap, arr2 - (t + gap), 10 * US, base);
}

static void rev_pair(struct sim *s, uint32_t k, int64_t t, double mbps, int64_t base, int64_t extra,
		     int64_t disp_override)
{
	uint32_t seq = DS_PROBE_SEQ_REV_PAIR + k;
	uint8_t body[64];
	struct ds_wire_pair_request r;
	int n = ds_probe_pair_request_body(s->p, seq, (uint64_t)t, body, sizeof(body));

	CHECK(n == DS_WIRE_PAIR_REQUEST_LEN);
	CHECK(ds_wire_pair_request_decode(body, (size_t)n, &r) == 0);
	CHECK(ds_probe_sent(s->p, seq, (uint64_t)t, t, (size_t)n + 48) == 0);
	for (int m = 0; m < 2; m++) {
		struct ds_wire_pair_data d = {
		    .seq = seq, .member = (uint8_t)m, .size = r.size, .count = 1};
		int64_t ser = (int64_t)((r.size + IPV4_OVH) * 8.0 / mbps * 1e3);
		int64_t peer_tx = t + base + OFFSET + m * 2 * US;
		int64_t arr =
		    t + 2 * base + ser + extra + m * (disp_override ? disp_override : ser);

		d.responder_tx_ns = (uint64_t)peer_tx;
		CHECK(ds_probe_pair_data(s->p, &d, arr, r.size) == DS_PROBE_OK);
	}
}

static void closer(struct sim *s, int64_t t, int64_t base)
{
	CHECK(echo(s, DS_PROBE_SEQ_CLOSE, t, base, 10 * US, base) == DS_PROBE_OK);
}

static void clean_run_figures(void)
{
	struct sim s = {.p = mk(10, 5, 0)};
	struct ds_probe_result r;
	int64_t t = 1000 * MS;

	CHECK(s.p != NULL);
	for (uint32_t i = 0; i < 10; i++, t += 20 * MS)
		CHECK(echo(&s, 1 + i, t, 20 * MS + i * 10 * US, 50 * US, 5 * MS) == DS_PROBE_OK);
	for (uint32_t k = 0; k < 5; k++, t += 20 * MS)
		fwd_pair(&s, k, t, 20 * US, 10.0, 20 * MS, 0);
	for (uint32_t k = 0; k < 5; k++, t += 20 * MS)
		rev_pair(&s, k, t, 50.0, 5 * MS, 0, 0);
	closer(&s, t, 5 * MS);
	CHECK(ds_probe_complete(s.p));
	CHECK(ds_probe_result(s.p, &r) == 0);
	/* RTT = 20 + i*0.01 + 5 ms; the 50 us turnaround removed. */
	CHECK(fabs(r.rtt.min - 25.0) < 1e-6);
	CHECK(fabs(r.rtt.max - 25.09) < 1e-6);
	CHECK(fabs(r.rtt.median - 25.045) < 1e-6);
	CHECK(r.echoes_sent == 10 && r.echoes_answered == 10);
	CHECK(r.fwd.loss_pct == 0 && r.rev.loss_pct == 0);
	CHECK_INT(r.fwd.sent, 21);
	/* Forward delay grows 10 us per echo, reverse is flat: the variation is forward. */
	CHECK(fabs(r.fwd.pdv_max_ms - 0.09) < 1e-6);
	CHECK(fabs(r.rev.pdv_max_ms) < 1e-9);
	CHECK(r.fwd.jitter_ms > 0.001 && r.rev.jitter_ms == 0);
	CHECK(isnan(r.fwd.owd_ms)); /* clocks not synced: no absolute one-way delay */
	CHECK(fabs(r.fwd.bw_mbps - 10.0) < 0.01);
	CHECK(fabs(r.rev.bw_mbps - 50.0) < 0.05);
	CHECK(r.fwd.converged && r.rev.converged);
	CHECK(!r.fwd.coalescing && !r.rev.coalescing);
	CHECK(r.fwd.shaper == -1 && r.rev.shaper == -1);
	CHECK(r.duplicates == 0 && r.late == 0 && r.bad == 0);
	/* Bytes: 10 echoes of 88 each way, 10 pair packets + 10 small replies, 5 requests
	 * of 72 and 10 pair packets back, one closer each way. */
	CHECK(r.bytes_sent == 10 * 88 + 3 * 2 * 1472 + 2 * 2 * 736 + 5 * 72 + 88);
	CHECK(r.bytes_peer == 10 * 88 + 10 * 88 + 3 * 2 * 1472 + 2 * 2 * 736 + 88);
	CHECK(r.bytes_sent + r.bytes_peer < 30000);
	ds_probe_free(s.p);
}

static void loss_split_by_direction(void)
{
	struct sim s = {.p = mk(20, 0, 0)};
	struct ds_probe_result r;
	int64_t t = 0;

	for (uint32_t i = 1; i <= 20; i++, t += 10 * MS) {
		int64_t fwd = (i == 3 || i == 4 || i == 9) ? -1 : MS; /* 3 lost on the way out */
		int64_t rev = (i == 12) ? -1 : MS;                    /* 1 lost on the way back */

		echo(&s, i, t, fwd, 0, rev);
	}
	closer(&s, t, MS);
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK_INT(r.fwd.sent, 21);
	CHECK_INT(r.fwd.lost, 3);
	CHECK_INT(r.rev.sent, 18);
	CHECK_INT(r.rev.lost, 1);
	CHECK(fabs(r.fwd.loss_pct - 100.0 * 3 / 21) < 1e-9);
	CHECK(fabs(r.rev.loss_pct - 100.0 / 18) < 1e-9);
	CHECK(r.echoes_answered == 16);
	ds_probe_free(s.p);
}

static void tail_loss_told_apart_by_the_closer(void)
{
	struct sim s = {.p = mk(5, 0, 0)};
	struct ds_probe_result r;

	for (uint32_t i = 1; i <= 4; i++)
		echo(&s, i, i * 10 * MS, MS, 0, MS);
	echo(&s, 5, 50 * MS, MS, 0, -1); /* the last reply lost: arrived, answer lost */
	closer(&s, 60 * MS, MS);
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK_INT(r.fwd.lost, 0);
	CHECK_INT(r.rev.lost, 1);

	ds_probe_free(s.p);
	s = (struct sim){.p = mk(5, 0, 0)};
	for (uint32_t i = 1; i <= 4; i++)
		echo(&s, i, i * 10 * MS, MS, 0, MS);
	echo(&s, 5, 50 * MS, -1, 0, MS); /* the last request lost */
	closer(&s, 60 * MS, MS);
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK_INT(r.fwd.lost, 1);
	CHECK_INT(r.rev.lost, 0);
	ds_probe_free(s.p);
}

static void nothing_back_is_no_figure(void)
{
	struct sim s = {.p = mk(5, 0, 0)};
	struct ds_probe_result r;

	for (uint32_t i = 1; i <= 5; i++)
		echo(&s, i, i * MS, -1, 0, 0);
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK(isnan(r.fwd.loss_pct) && isnan(r.rev.loss_pct));
	CHECK(isnan(r.rtt.median));
	CHECK(r.echoes_answered == 0);
	ds_probe_free(s.p);
}

static void bad_replies_counted_never_used(void)
{
	struct sim s = {.p = mk(5, 0, 0)};
	struct ds_probe_result r, clean;
	struct ds_wire_echo e;

	for (uint32_t i = 1; i <= 5; i++)
		CHECK(echo(&s, i, i * 10 * MS, MS, 10 * US, MS) == DS_PROBE_OK);
	CHECK(ds_probe_result(s.p, &clean) == 0);
	/* duplicate of seq 2 with a different, tempting RTT */
	e = (struct ds_wire_echo){.seq = 2,
				  .rx_count = 2,
				  .sender_tx_ns = 20 * MS,
				  .responder_rx_ns = 20 * MS + MS + OFFSET,
				  .responder_tx_ns = 20 * MS + MS + OFFSET};
	CHECK(ds_probe_echo_reply(s.p, &e, 20 * MS + 100 * US, 88) == DS_PROBE_DUPLICATE);
	/* unknown seq, seq never sent, forged sender time */
	e.seq = 77;
	CHECK(ds_probe_echo_reply(s.p, &e, 30 * MS, 88) == DS_PROBE_BAD);
	e.seq = DS_PROBE_SEQ_CLOSE;
	CHECK(ds_probe_echo_reply(s.p, &e, 30 * MS, 88) == DS_PROBE_BAD);
	e.seq = 3;
	e.sender_tx_ns = 1;
	CHECK(ds_probe_echo_reply(s.p, &e, 30 * MS, 88) == DS_PROBE_BAD);
	/* a turnaround longer than the round trip, rx_count beyond what was sent, tx < rx,
	 * a reply larger than the request */
	s.p = s.p;
	{
		struct sim s2 = {.p = mk(3, 0, 0)};
		struct ds_wire_echo b = {.seq = 1, .sender_tx_ns = 0, .rx_count = 1};

		ds_probe_sent(s2.p, 1, 0, 0, 88);
		b.responder_rx_ns = 5;
		b.responder_tx_ns = 5 + 10 * MS;
		CHECK(ds_probe_echo_reply(s2.p, &b, 2 * MS, 88) == DS_PROBE_BAD);
		b.responder_tx_ns = 5;
		b.rx_count = 9;
		CHECK(ds_probe_echo_reply(s2.p, &b, 2 * MS, 88) == DS_PROBE_BAD);
		b.rx_count = 0;
		CHECK(ds_probe_echo_reply(s2.p, &b, 2 * MS, 88) == DS_PROBE_BAD);
		b.rx_count = 1;
		b.responder_tx_ns = 4;
		CHECK(ds_probe_echo_reply(s2.p, &b, 2 * MS, 88) == DS_PROBE_BAD);
		b.responder_tx_ns = 5;
		CHECK(ds_probe_echo_reply(s2.p, &b, 2 * MS, 1000) == DS_PROBE_BAD);
		CHECK(ds_probe_echo_reply(s2.p, &b, -1, 88) == DS_PROBE_BAD);
		CHECK(ds_probe_echo_reply(s2.p, &b, 2 * MS, 88) == DS_PROBE_OK);
		ds_probe_free(s2.p);
	}
	/* pair data nobody asked for, of the wrong size, or a duplicate */
	{
		struct ds_wire_pair_data d = {.seq = DS_PROBE_SEQ_REV_PAIR, .member = 0};

		CHECK(ds_probe_pair_data(s.p, &d, 40 * MS, 1472) == DS_PROBE_BAD);
		d.seq = 12345;
		CHECK(ds_probe_pair_data(s.p, &d, 40 * MS, 1472) == DS_PROBE_BAD);
	}
	ds_probe_garbage(s.p, 100);
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK_INT(r.duplicates, 1);
	CHECK_INT(r.bad, 6);
	CHECK(r.rtt.median == clean.rtt.median && r.rtt.min == clean.rtt.min);
	CHECK(r.fwd.loss_pct == 0 && r.rev.loss_pct == 0);
	CHECK(r.bytes_peer == clean.bytes_peer + 4 * 88 + 2 * 1472 + 100);
	ds_probe_free(s.p);
}

static void late_reply_is_lost_on_the_way_back(void)
{
	struct sim s = {.p = mk(4, 0, 0)};
	struct ds_probe_result r;

	CHECK(echo(&s, 1, 0, MS, 0, MS) == DS_PROBE_OK);
	CHECK(echo(&s, 2, 10 * MS, MS, 0, 2000 * MS) == DS_PROBE_LATE); /* wait is 1 s */
	CHECK(echo(&s, 3, 20 * MS, MS, 0, MS) == DS_PROBE_OK);
	CHECK(echo(&s, 4, 30 * MS, MS, 0, MS) == DS_PROBE_OK);
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK_INT(r.late, 1);
	CHECK_INT(r.fwd.lost, 0);
	CHECK_INT(r.rev.lost, 1);
	CHECK(fabs(r.rtt.max - 2.0) < 1e-9);
	ds_probe_free(s.p);
}

static void reordering_per_direction(void)
{
	struct sim s = {.p = mk(6, 0, 0)};
	struct ds_probe_result r;
	uint8_t body[64];
	struct ds_wire_echo e[6];

	/* Send 1..6; the responder receives 1 2 4 3 5 6 (forward reordering of 3 and 4);
	 * the replies arrive 1 2 3 4 6 5 (reverse reordering). */
	static const uint32_t count_of[6] = {1, 2, 4, 3, 5, 6};
	static const int64_t arrive[6] = {10, 20, 31, 32, 60, 55};

	for (uint32_t i = 0; i < 6; i++) {
		ds_probe_echo_body(s.p, i + 1, i * MS, body, sizeof(body));
		ds_probe_sent(s.p, i + 1, i * MS, (int64_t)i * MS, 88);
		e[i] = (struct ds_wire_echo){
		    .seq = i + 1, .rx_count = count_of[i], .sender_tx_ns = i * MS};
	}
	for (int k = 0; k < 6; k++) { /* in arrival order */
		int i = k == 4 ? 5 : k == 5 ? 4 : k;

		CHECK(ds_probe_echo_reply(s.p, &e[i], arrive[i] * MS, 88) == DS_PROBE_OK);
	}
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK_INT(r.fwd.reordered, 1);
	CHECK_INT(r.rev.reordered, 1);
	CHECK_INT(r.fwd.lost, 0);
	ds_probe_free(s.p);
}

static void sender_limited_pairs_give_a_lower_bound(void)
{
	struct sim s = {.p = mk(2, 5, 0)};
	struct ds_probe_result r;
	int64_t t = 0;

	echo(&s, 1, t, MS, 0, MS);
	echo(&s, 2, t + MS, MS, 0, MS);
	/* 1000 Mbit/s bottleneck (12 us), sender spaces its packets 100 us: the pair shows
	 * the sender, and only says the path is at least that fast. */
	for (uint32_t k = 0; k < 5; k++, t += 20 * MS)
		fwd_pair(&s, k, t + 10 * MS, 100 * US, 1000.0, MS, 0);
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK(isnan(r.fwd.bw_mbps));
	CHECK(r.fwd.bw_lower_bound_mbps > 100 && r.fwd.bw_lower_bound_mbps < 125);
	CHECK(isnan(r.rev.bw_mbps) && isnan(r.rev.bw_lower_bound_mbps)); /* no reverse pairs */
	ds_probe_free(s.p);
}

static void jitter_above_the_dispersion_withholds_the_figure(void)
{
	struct sim s = {.p = mk(10, 5, 0)};
	struct ds_probe_result r;
	int64_t t = 0;

	/* forward: one-way delay 1 to 4 ms (a 3 ms spread), reverse steady at 1 ms */
	for (uint32_t k = 0; k < 10; k++, t += 20 * MS)
		echo(&s, k + 1, t, MS + (int64_t)(k % 3) * 1500 * US, 0, MS);
	/* 100 Mbit/s pairs forward (118 us apart: far inside the jitter), 20 reverse */
	for (uint32_t k = 0; k < 5; k++, t += 20 * MS) {
		fwd_pair(&s, k, t, 0, 100.0, MS, (int64_t)(k % 3) * 1500 * US);
		rev_pair(&s, k, t + 10 * MS, 20.0, MS, 0, 0);
	}
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK(r.fwd.pdv_p95_ms > 2.0);
	CHECK(r.fwd.jitter_bound);
	CHECK(isnan(r.fwd.bw_mbps) && isnan(r.fwd.bw_lower_bound_mbps));
	CHECK(!r.fwd.converged);
	CHECK(!r.rev.jitter_bound);
	CHECK(fabs(r.rev.bw_mbps - 20.0) < 0.1);
	ds_probe_free(s.p);
}

static void cross_traffic_filtered_by_delay_sum(void)
{
	struct sim s = {.p = mk(1, 5, 0)};
	struct ds_probe_result r;

	echo(&s, 1, 0, MS, 0, MS);
	/* Pairs 0, 1, 3 met cross traffic: queued longer and spread wider. */
	for (uint32_t k = 0; k < 5; k++) {
		bool hit = k != 2 && k != 4;

		rev_pair(&s, k, (int64_t)(k + 1) * 20 * MS, 20.0, MS, hit ? 3 * MS : 0,
			 hit ? 1500 * US : 0);
	}
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK(fabs(r.rev.bw_mbps - 20.0) < 0.05);
	ds_probe_free(s.p);
}

static void equal_dispersions_for_both_sizes_mean_coalescing(void)
{
	struct sim s = {.p = mk(1, 4, 0)};
	struct ds_probe_result r;

	echo(&s, 1, 0, MS, 0, MS);
	for (uint32_t k = 0; k < 4; k++)
		rev_pair(&s, k, (int64_t)(k + 1) * 20 * MS, 100.0, MS, 0, 125 * US);
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK(r.rev.coalescing);
	CHECK(!r.rev.converged);
	ds_probe_free(s.p);
}

static void sizes_that_disagree_are_not_converged(void)
{
	struct sim s = {.p = mk(1, 4, 0)};
	struct ds_probe_result r;

	echo(&s, 1, 0, MS, 0, MS);
	/* large pairs (even) say 100 Mbit/s, small ones (odd) 150: no agreement */
	for (uint32_t k = 0; k < 4; k++)
		rev_pair(&s, k, (int64_t)(k + 1) * 20 * MS, k % 2 ? 150.0 : 100.0, MS, 0, 0);
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK(!r.rev.coalescing);
	CHECK(!r.rev.converged);
	CHECK(!isnan(r.rev.bw_mbps)); /* a figure, flagged */
	ds_probe_free(s.p);
}

static void token_bucket_found_by_the_train(void)
{
	int64_t rx[44];
	uint32_t bits[44];
	double head, tail, burst;
	int shaper;
	int64_t t = 0;

	/* tbf 20 Mbit/s with a 32 KB bucket behind a 1 Gbit/s link: 22 packets of 1500
	 * bytes pass at line rate, the rest at the token rate. */
	for (int i = 0; i < 44; i++) {
		bits[i] = 1500 * 8;
		t += i < 22 ? 12 * US : 600 * US;
		rx[i] = t;
	}
	ds_probe_train(rx, bits, 44, 1000.0, &head, &tail, &shaper, &burst);
	CHECK(shaper == 1);
	CHECK(fabs(tail - 20.0) < 0.1);
	CHECK(head > 20.0);
	CHECK(burst > 30000 && burst < 36000);
	/* the sender paused 5 ms after packet 36: the bucket refilled and let the rest pass
	 * at line rate; the shaper's rate must not change */
	for (int i = 37; i < 44; i++)
		rx[i] = rx[36] + 5 * MS + (i - 36) * 12 * US;
	ds_probe_train(rx, bits, 44, 1000.0, &head, &tail, &shaper, &burst);
	CHECK(shaper == 1);
	CHECK(fabs(tail - 20.0) < 0.1);
	CHECK(burst > 30000 && burst < 36000);
	/* the receiver's softirq ran late and timestamped the tail in clumps of three (one
	 * long gap, two short): most gaps are short, the rate is still 20 */
	for (int i = 0; i < 44; i++) {
		rx[i] = i < 22 ? i * 12 * (int64_t)US : 21 * 12 * (int64_t)US + (i - 21) * 600 * (int64_t)US;
		if (i >= 22 && i % 3 != 0)
			rx[i] = rx[i] - (i % 3) * 525 * (int64_t)US + (i % 3 == 2 ? 75 * (int64_t)US : 0);
	}
	ds_probe_train(rx, bits, 44, 1000.0, &head, &tail, &shaper, &burst);
	CHECK(shaper == 1);
	CHECK(fabs(tail - 20.0) < 1.0);
	CHECK(burst > 30000 && burst < 36000);
	/* the same train through a plain 1 Gbit/s link */
	for (int i = 0; i < 44; i++)
		rx[i] = i * 12 * US;
	ds_probe_train(rx, bits, 44, 1000.0, &head, &tail, &shaper, &burst);
	CHECK(shaper == 0);
	CHECK(fabs(tail - 1000.0) < 1);
	ds_probe_train(rx, bits, 3, 1000.0, &head, &tail, &shaper, &burst);
	CHECK(shaper == -1);
}

static void train_in_a_run(void)
{
	struct sim s = {.p = mk(1, 2, 8)};
	struct ds_probe_result r;
	int64_t t = 0;

	echo(&s, 1, t, MS, 0, MS);
	for (uint32_t k = 0; k < 2; k++)
		fwd_pair(&s, k, (k + 1) * 20 * MS, 5 * US, 100.0, MS, 0);
	/* the train: 3 at 100 Mbit/s, then 10 Mbit/s */
	t = 100 * MS;
	{
		int64_t arr = t + MS;

		for (uint32_t i = 0; i < 8; i++) {
			uint32_t seq = DS_PROBE_SEQ_FWD_TRAIN + i;

			arr += (i < 3 ? 120 : 1200) * US;
			echo(&s, seq, t + i * US, arr - (t + i * US), 0, MS);
		}
	}
	CHECK(ds_probe_result(s.p, &r) == 0);
	CHECK(r.fwd.shaper == 1);
	CHECK(fabs(r.fwd.bw_mbps - 10.0) < 0.2);
	CHECK(fabs(r.fwd.bw_pair_mbps - 100.0) < 1);
	CHECK(r.rev.shaper == -1); /* no reverse train came back */
	ds_probe_free(s.p);
}

static void clock_synced_gives_absolute_one_way_delay(void)
{
	struct ds_probe_opts o;
	struct ds_probe *p;
	struct ds_probe_result r;
	struct ds_wire_echo e = {.seq = 1, .rx_count = 1, .sender_tx_ns = 100 * MS};

	ds_probe_opts_default(&o);
	o.count = 1;
	o.pairs = 0;
	o.clock_synced = true;
	CHECK(ds_probe_new(&o, &p) == 0);
	ds_probe_sent(p, 1, 100 * MS, 100 * MS, 88);
	e.responder_rx_ns = 105 * MS;
	e.responder_tx_ns = 105 * MS + 20 * US;
	CHECK(ds_probe_echo_reply(p, &e, 145 * MS + 20 * US, 88) == DS_PROBE_OK);
	CHECK(ds_probe_result(p, &r) == 0);
	CHECK(fabs(r.fwd.owd_ms - 5.0) < 1e-9);
	CHECK(fabs(r.rev.owd_ms - 40.0) < 1e-9);
	CHECK(fabs(r.rtt.median - 45.0) < 1e-9);
	ds_probe_free(p);
}

static void options_out_of_range_refused(void)
{
	struct ds_probe_opts o;
	struct ds_probe *p = (struct ds_probe *)1;

	ds_probe_opts_default(&o);
	o.count = 0;
	CHECK(ds_probe_new(&o, &p) == -EINVAL && p == NULL);
	ds_probe_opts_default(&o);
	o.size = 87;
	CHECK(ds_probe_new(&o, &p) == -EINVAL);
	ds_probe_opts_default(&o);
	o.pairs = 33;
	CHECK(ds_probe_new(&o, &p) == -EINVAL);
	ds_probe_opts_default(&o);
	o.train = 65;
	CHECK(ds_probe_new(&o, &p) == -EINVAL);
	ds_probe_opts_default(&o);
	CHECK(ds_probe_new(&o, &p) == 0);
	CHECK(ds_probe_sent(p, 999, 0, 0, 88) == -ENOENT);
	CHECK(ds_probe_sent(p, 1, 0, 0, 88) == 0);
	CHECK(ds_probe_sent(p, 1, 0, 0, 88) == -EALREADY);
	ds_probe_free(p);
	ds_probe_free(NULL);
}

static void raw_rows_one_per_packet(void)
{
	struct sim s = {.p = mk(3, 1, 0)};
	struct ds_probe_raw row;
	size_t n = 0;

	for (uint32_t i = 1; i <= 3; i++)
		echo(&s, i, i * 10 * MS, MS, 0, MS);
	fwd_pair(&s, 0, 50 * MS, 5 * US, 10.0, MS, 0);
	rev_pair(&s, 0, 70 * MS, 10.0, MS, 0, 0);
	while (ds_probe_raw_row(s.p, n, &row) == 0) {
		if (n == 0) {
			CHECK_STR(row.kind, "echo");
			CHECK(row.sent_ms == 0 && fabs(row.rtt_ms - 2.0) < 1e-9);
		}
		if (n == 4) {
			CHECK_STR(row.kind, "fwd-pair");
			CHECK(fabs(row.gap_us - 1200.0) < 1); /* 1500 bytes at 10 Mbit/s */
		}
		if (n == 6)
			CHECK_STR(row.kind, "rev-pair");
		n++;
	}
	CHECK_INT(n, 7);
	ds_probe_free(s.p);
}

static void ewma_file_round_trip(void)
{
	char dir[] = "/tmp/test_probe.XXXXXX", path[256];
	double e;
	uint64_t runs;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(ds_probe_ewma_load(dir, "peer1", &e, &runs) == -ENOENT);
	CHECK(ds_probe_ewma_save(dir, "peer1", 12.5, 3) == 0);
	CHECK(ds_probe_ewma_load(dir, "peer1", &e, &runs) == 0);
	CHECK(e == 12.5 && runs == 3);
	CHECK(ds_probe_ewma_save(dir, "peer1", 13.25, 4) == 0); /* replaced, not appended */
	CHECK(ds_probe_ewma_load(dir, "peer1", &e, &runs) == 0 && e == 13.25 && runs == 4);
	CHECK(ds_probe_ewma_save(dir, "../x", 1, 1) == -EINVAL);
	CHECK(ds_probe_ewma_save(dir, "p", NAN, 1) == -EINVAL);
	snprintf(path, sizeof(path), "%s/pairprobe/bad.ewma", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("nonsense\n", f);
		fclose(f);
	}
	CHECK(ds_probe_ewma_load(dir, "bad", &e, &runs) == -EBADMSG && isnan(e));
	unlink(path);
	snprintf(path, sizeof(path), "%s/pairprobe/peer1.ewma", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/pairprobe", dir);
	rmdir(path);
	rmdir(dir);
	/* EWMA with alpha 1/6 over runs */
	e = ds_stats_ewma(NAN, 30.0, DS_EWMA_ALPHA_RTT);
	e = ds_stats_ewma(e, 36.0, DS_EWMA_ALPHA_RTT);
	CHECK(fabs(e - 31.0) < 1e-9);
}

static void ewma_updates_at_once_all_count(void)
{
	char dir[] = "/tmp/test_probe.XXXXXX", path[256];
	double e;
	uint64_t runs;
	bool bad;
	pid_t kid;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(ds_probe_ewma_update(dir, "p", 30.0, &e, &runs, &bad) == 0);
	CHECK(e == 30.0 && runs == 1 && !bad);
	CHECK(ds_probe_ewma_update(dir, "p", 36.0, &e, &runs, &bad) == 0);
	CHECK(fabs(e - 31.0) < 1e-9 && runs == 2);
	/* two processes, 100 updates each, all at once: no update lost */
	kid = fork();
	for (int i = 0; i < 100; i++)
		ds_probe_ewma_update(dir, "p", 31.0, &e, &runs, &bad);
	if (kid == 0)
		_exit(0);
	waitpid(kid, NULL, 0);
	CHECK(ds_probe_ewma_load(dir, "p", &e, &runs) == 0);
	CHECK_INT(runs, 202);
	CHECK(fabs(e - 31.0) < 1e-9);
	snprintf(path, sizeof(path), "%s/pairprobe/p.ewma", dir);
	{
		FILE *f = fopen(path, "w");

		if (f) {
			fputs("x\n", f);
			fclose(f);
		}
	}
	CHECK(ds_probe_ewma_update(dir, "p", 12.0, &e, &runs, &bad) == 0);
	CHECK(bad && e == 12.0 && runs == 1);
	unlink(path);
	snprintf(path, sizeof(path), "%s/pairprobe/p.lock", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/pairprobe", dir);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	UNIT_RUN(clean_run_figures);
	UNIT_RUN(loss_split_by_direction);
	UNIT_RUN(tail_loss_told_apart_by_the_closer);
	UNIT_RUN(nothing_back_is_no_figure);
	UNIT_RUN(bad_replies_counted_never_used);
	UNIT_RUN(late_reply_is_lost_on_the_way_back);
	UNIT_RUN(reordering_per_direction);
	UNIT_RUN(sender_limited_pairs_give_a_lower_bound);
	UNIT_RUN(cross_traffic_filtered_by_delay_sum);
	UNIT_RUN(jitter_above_the_dispersion_withholds_the_figure);
	UNIT_RUN(equal_dispersions_for_both_sizes_mean_coalescing);
	UNIT_RUN(sizes_that_disagree_are_not_converged);
	UNIT_RUN(token_bucket_found_by_the_train);
	UNIT_RUN(train_in_a_run);
	UNIT_RUN(clock_synced_gives_absolute_one_way_delay);
	UNIT_RUN(options_out_of_range_refused);
	UNIT_RUN(raw_rows_one_per_packet);
	UNIT_RUN(ewma_file_round_trip);
	UNIT_RUN(ewma_updates_at_once_all_count);
	UNIT_EXIT();
}
