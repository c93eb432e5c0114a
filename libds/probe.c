// SPDX-License-Identifier: MIT
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "peers.h"

enum kind { K_ECHO, K_FWD_PAIR, K_WARM, K_FWD_TRAIN, K_CLOSE };
enum rstate { R_PLANNED, R_SENT, R_ANSWERED, R_LATE };

/* One echo request of the run (echoes, forward pairs and train, closers), in send order. */
struct req {
	uint64_t body_tx_ns; /* what a genuine reply echoes */
	int64_t tx_ns;       /* send time: the kernel's stamp when we have it */
	int64_t rx_ns;       /* reply arrival, our kernel stamp */
	int64_t peer_rx_ns, peer_tx_ns;
	uint32_t rx_count;
	uint32_t arrival; /* order of arrival of the replies, from 1 */
	uint32_t order;   /* order of sending, from 1 */
	uint16_t len, reply_len, got_len;
	uint8_t kind, state;
	bool kernel_tx;
};

/* One packet the peer sends us: pair data and reverse train. */
struct rdata {
	int64_t rx_ns, peer_tx_ns;
	uint16_t len;
	bool got;
};

struct ds_probe {
	struct ds_probe_opts o;
	struct req *req;
	size_t nreq, i_pair, i_warm, i_train, i_close; /* first index of each part */
	struct rdata *rpair;                           /* pairs x 2 */
	struct rdata *rtrain;                          /* train */
	bool rpair_req[DS_PROBE_MAX_PAIRS], rtrain_req;
	uint16_t rpair_req_len[DS_PROBE_MAX_PAIRS], rtrain_req_len;
	uint32_t nsent, arrivals;
	int64_t t0; /* first send */
	bool have_t0;
	uint32_t duplicates, late, bad, refused;
	uint64_t bytes_garbage;
};

void ds_probe_opts_default(struct ds_probe_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->count = 10;
	o->interval_ns = 20 * DS_NSEC_PER_MSEC;
	o->size = DS_WIRE_OVERHEAD + DS_WIRE_ECHO_LEN;
	o->pairs = 5;
	o->pair_size = DS_WIRE_MAX_PACKET;
	o->pair_size_small = DS_WIRE_MAX_PACKET / 2;
	o->pair_gap_ns = 20 * DS_NSEC_PER_MSEC;
	o->train = 0;
	o->wait_ns = DS_NSEC_PER_SEC;
	o->ip_overhead = 28;
	o->tos = -1;
}

static const size_t echo_min = DS_WIRE_OVERHEAD + DS_WIRE_ECHO_LEN;

int ds_probe_new(const struct ds_probe_opts *o, struct ds_probe **out)
{
	struct ds_probe *p;

	*out = NULL;
	if (o->count < 1 || o->count > DS_PROBE_MAX_COUNT || o->pairs > DS_PROBE_MAX_PAIRS ||
	    o->train > DS_PROBE_MAX_TRAIN || o->size < echo_min || o->size > DS_WIRE_MAX_PACKET ||
	    o->pair_size < echo_min || o->pair_size > DS_WIRE_MAX_PACKET ||
	    o->pair_size_small < echo_min || o->pair_size_small > o->pair_size ||
	    o->interval_ns < 0 || o->pair_gap_ns < 0 || o->wait_ns <= 0 || o->tos > 255)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->o = *o;
	p->i_pair = o->count;
	p->i_warm = p->i_pair + 2 * (size_t)o->pairs;
	p->i_train = p->i_warm + 2 * (size_t)o->pairs;
	p->i_close = p->i_train + o->train;
	p->nreq = p->i_close + DS_PROBE_MAX_CLOSERS;
	p->req = calloc(p->nreq, sizeof(*p->req));
	p->rpair = calloc(2 * (size_t)o->pairs + 1, sizeof(*p->rpair));
	p->rtrain = calloc((size_t)o->train + 2, sizeof(*p->rtrain));
	if (!p->req || !p->rpair || !p->rtrain) {
		ds_probe_free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->nreq; i++) {
		struct req *r = &p->req[i];

		if (i < p->i_pair) {
			r->kind = K_ECHO;
			r->len = o->size;
			r->reply_len = o->size;
		} else if (i < p->i_warm) {
			r->kind = K_FWD_PAIR;
			r->len = ((i - p->i_pair) / 2) % 2 ? o->pair_size_small : o->pair_size;
			r->reply_len = (uint16_t)echo_min;
		} else if (i < p->i_train) {
			r->kind = K_WARM;
			r->len = r->reply_len = (uint16_t)echo_min;
		} else if (i < p->i_close) {
			r->kind = K_FWD_TRAIN;
			r->len = o->pair_size;
			r->reply_len = (uint16_t)echo_min;
		} else {
			r->kind = K_CLOSE;
			r->len = r->reply_len = (uint16_t)echo_min;
		}
	}
	*out = p;
	return 0;
}

void ds_probe_free(struct ds_probe *p)
{
	if (!p)
		return;
	free(p->req);
	free(p->rpair);
	free(p->rtrain);
	free(p);
}

const struct ds_probe_opts *ds_probe_opts(const struct ds_probe *p)
{
	return &p->o;
}

/* Index of an echo request seq, or -1. */
static ssize_t req_index(const struct ds_probe *p, uint32_t seq)
{
	if (seq >= DS_PROBE_SEQ_ECHO && seq < DS_PROBE_SEQ_ECHO + p->o.count)
		return (ssize_t)(seq - DS_PROBE_SEQ_ECHO);
	if (seq >= DS_PROBE_SEQ_FWD_PAIR && seq < DS_PROBE_SEQ_FWD_PAIR + 2 * p->o.pairs)
		return (ssize_t)(p->i_pair + (seq - DS_PROBE_SEQ_FWD_PAIR));
	if (seq >= DS_PROBE_SEQ_WARM && seq < DS_PROBE_SEQ_WARM + 2 * p->o.pairs)
		return (ssize_t)(p->i_warm + (seq - DS_PROBE_SEQ_WARM));
	if (seq >= DS_PROBE_SEQ_FWD_TRAIN && seq < DS_PROBE_SEQ_FWD_TRAIN + p->o.train)
		return (ssize_t)(p->i_train + (seq - DS_PROBE_SEQ_FWD_TRAIN));
	if (seq >= DS_PROBE_SEQ_CLOSE && seq < DS_PROBE_SEQ_CLOSE + DS_PROBE_MAX_CLOSERS)
		return (ssize_t)(p->i_close + (seq - DS_PROBE_SEQ_CLOSE));
	return -1;
}

static bool is_rev_pair(const struct ds_probe *p, uint32_t seq)
{
	return seq >= DS_PROBE_SEQ_REV_PAIR && seq < DS_PROBE_SEQ_REV_PAIR + p->o.pairs;
}

static bool is_rev_train(const struct ds_probe *p, uint32_t seq)
{
	return p->o.train >= 2 && seq == DS_PROBE_SEQ_REV_TRAIN;
}

static uint16_t rev_pair_size(const struct ds_probe *p, uint32_t k)
{
	return k % 2 ? p->o.pair_size_small : p->o.pair_size;
}

int ds_probe_echo_body(const struct ds_probe *p, uint32_t seq, uint64_t body_tx_ns, uint8_t *buf,
		       size_t cap)
{
	ssize_t i = req_index(p, seq);
	struct ds_wire_echo e = {.seq = seq, .sender_tx_ns = body_tx_ns};
	size_t blen;

	if (i < 0)
		return -ENOENT;
	blen = p->req[i].len - DS_WIRE_OVERHEAD;
	if (blen > cap)
		return -EMSGSIZE;
	/* Ask for the reply length we planned: the echoes' replies as large as the request,
	 * small ones for pair and train members (the peer never sends more than asked). */
	e.reply_len = p->req[i].reply_len == p->req[i].len ? 0 : p->req[i].reply_len;
	return ds_wire_echo_encode(&e, buf, blen);
}

int ds_probe_pair_request_body(const struct ds_probe *p, uint32_t seq, uint64_t body_tx_ns,
			       uint8_t *buf, size_t cap)
{
	struct ds_wire_pair_request r = {.seq = seq, .sender_tx_ns = body_tx_ns};

	if (is_rev_pair(p, seq)) {
		r.count = 1;
		r.size = rev_pair_size(p, seq - DS_PROBE_SEQ_REV_PAIR);
	} else if (is_rev_train(p, seq)) {
		r.count = (uint16_t)(p->o.train / 2);
		r.size = p->o.pair_size;
	} else {
		return -ENOENT;
	}
	if (cap < DS_WIRE_PAIR_REQUEST_LEN)
		return -EMSGSIZE;
	return ds_wire_pair_request_encode(&r, buf, DS_WIRE_PAIR_REQUEST_LEN);
}

int ds_probe_sent(struct ds_probe *p, uint32_t seq, uint64_t body_tx_ns, int64_t tx_ns,
		  size_t pkt_len)
{
	ssize_t i = req_index(p, seq);

	if (!p->have_t0) {
		p->t0 = tx_ns;
		p->have_t0 = true;
	}
	if (i < 0) {
		uint32_t k = seq - DS_PROBE_SEQ_REV_PAIR;

		if (is_rev_pair(p, seq)) {
			if (p->rpair_req[k])
				return -EALREADY;
			p->rpair_req[k] = true;
			p->rpair_req_len[k] = (uint16_t)pkt_len;
			return 0;
		}
		if (is_rev_train(p, seq)) {
			if (p->rtrain_req)
				return -EALREADY;
			p->rtrain_req = true;
			p->rtrain_req_len = (uint16_t)pkt_len;
			return 0;
		}
		return -ENOENT;
	}
	if (p->req[i].state != R_PLANNED)
		return -EALREADY;
	p->req[i].state = R_SENT;
	p->req[i].body_tx_ns = body_tx_ns;
	p->req[i].tx_ns = tx_ns;
	p->req[i].len = (uint16_t)pkt_len;
	p->req[i].order = ++p->nsent;
	return 0;
}

int ds_probe_tx_stamp(struct ds_probe *p, uint32_t seq, int64_t tx_ns)
{
	ssize_t i = req_index(p, seq);

	if (i < 0 || p->req[i].state == R_PLANNED)
		return -ENOENT;
	/* A stamp that arrives after the reply must still leave room for the responder's
	 * turnaround inside the round trip; otherwise it cannot be right. */
	if (p->req[i].state == R_SENT ||
	    tx_ns <= p->req[i].rx_ns - (p->req[i].peer_tx_ns - p->req[i].peer_rx_ns)) {
		p->req[i].tx_ns = tx_ns;
		p->req[i].kernel_tx = true;
	}
	return 0;
}

enum ds_probe_verdict ds_probe_echo_reply(struct ds_probe *p, const struct ds_wire_echo *e,
					  int64_t rx_ns, size_t pkt_len)
{
	ssize_t i = req_index(p, e->seq);
	struct req *r;
	int64_t rtt, turn;

	if (i < 0) {
		p->bad++;
		p->bytes_garbage += pkt_len;
		return DS_PROBE_BAD;
	}
	r = &p->req[i];
	if (r->state == R_PLANNED || e->sender_tx_ns != r->body_tx_ns) {
		p->bad++;
		p->bytes_garbage += pkt_len;
		return DS_PROBE_BAD;
	}
	if (r->state == R_ANSWERED || r->state == R_LATE) {
		p->duplicates++;
		p->bytes_garbage += pkt_len;
		return DS_PROBE_DUPLICATE;
	}
	/* The responder's timestamps are its own clock: only their difference is used, and
	 * it must fit inside the round trip we timed. rx_count cannot exceed what we sent. */
	rtt = rx_ns - r->tx_ns;
	turn = (int64_t)(e->responder_tx_ns - e->responder_rx_ns);
	if (rtt < 0 || e->responder_tx_ns < e->responder_rx_ns || turn > rtt || e->rx_count == 0 ||
	    e->rx_count > p->nsent || pkt_len > r->len) {
		p->bad++;
		p->bytes_garbage += pkt_len;
		return DS_PROBE_BAD;
	}
	r->rx_ns = rx_ns;
	r->peer_rx_ns = (int64_t)e->responder_rx_ns;
	r->peer_tx_ns = (int64_t)e->responder_tx_ns;
	r->rx_count = e->rx_count;
	r->got_len = (uint16_t)pkt_len;
	r->arrival = ++p->arrivals;
	if (rtt > p->o.wait_ns) {
		r->state = R_LATE;
		p->late++;
		return DS_PROBE_LATE;
	}
	r->state = R_ANSWERED;
	return DS_PROBE_OK;
}

enum ds_probe_verdict ds_probe_pair_data(struct ds_probe *p, const struct ds_wire_pair_data *d,
					 int64_t rx_ns, size_t pkt_len)
{
	struct rdata *x = NULL;
	size_t want = 0;

	if (is_rev_pair(p, d->seq) && p->rpair_req[d->seq - DS_PROBE_SEQ_REV_PAIR] &&
	    d->index == 0 && d->member <= 1) {
		x = &p->rpair[2 * (d->seq - DS_PROBE_SEQ_REV_PAIR) + d->member];
		want = rev_pair_size(p, d->seq - DS_PROBE_SEQ_REV_PAIR);
	} else if (is_rev_train(p, d->seq) && p->rtrain_req && d->member <= 1 &&
		   2u * d->index + d->member < p->o.train) {
		x = &p->rtrain[2 * d->index + d->member];
		want = p->o.pair_size;
	}
	if (!x || pkt_len != want) {
		p->bad++;
		p->bytes_garbage += pkt_len;
		return DS_PROBE_BAD;
	}
	if (x->got) {
		p->duplicates++;
		p->bytes_garbage += pkt_len;
		return DS_PROBE_DUPLICATE;
	}
	x->got = true;
	x->rx_ns = rx_ns;
	x->peer_tx_ns = (int64_t)d->responder_tx_ns;
	x->len = (uint16_t)pkt_len;
	return DS_PROBE_OK;
}

void ds_probe_garbage(struct ds_probe *p, size_t pkt_len)
{
	p->bad++;
	p->bytes_garbage += pkt_len;
}

void ds_probe_refusal(struct ds_probe *p, size_t pkt_len)
{
	p->refused++;
	p->bytes_garbage += pkt_len;
}

bool ds_probe_complete(const struct ds_probe *p)
{
	for (size_t i = 0; i < p->nreq; i++)
		if (p->req[i].state == R_SENT)
			return false;
	for (uint32_t k = 0; k < p->o.pairs; k++)
		if (p->rpair_req[k] && (!p->rpair[2 * k].got || !p->rpair[2 * k + 1].got))
			return false;
	if (p->rtrain_req)
		for (uint32_t k = 0; k < p->o.train / 2 * 2; k++)
			if (!p->rtrain[k].got)
				return false;
	return true;
}

uint32_t ds_probe_closers_answered(const struct ds_probe *p)
{
	for (uint32_t k = 0; k < DS_PROBE_MAX_CLOSERS; k++)
		if (p->req[p->i_close + k].state == R_ANSWERED ||
		    p->req[p->i_close + k].state == R_LATE)
			return k + 1;
	return 0;
}

/* ---- figures ---- */

static bool answered(const struct req *r)
{
	return r->state == R_ANSWERED;
}

static bool has_count(const struct req *r)
{
	return r->state == R_ANSWERED || r->state == R_LATE;
}

static int64_t rtt_ns(const struct req *r)
{
	return (r->rx_ns - r->tx_ns) - (r->peer_tx_ns - r->peer_rx_ns);
}

/* The requests sent, in the order they were sent. */
static size_t *send_order(const struct ds_probe *p, size_t *n)
{
	size_t *v = calloc(p->nsent + 1, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < p->nreq; i++)
		if (p->req[i].state != R_PLANNED && p->req[i].order >= 1 &&
		    p->req[i].order <= p->nsent)
			v[p->req[i].order - 1] = i + 1;
	for (size_t k = 0; k < p->nsent; k++)
		if (v[k])
			v[(*n)++] = v[k] - 1;
	return v;
}

/* Loss per direction from rx_count (see probe.h), over every echo request sent. */
static void loss(const struct ds_probe *p, const size_t *ord, size_t nord,
		 struct ds_probe_result *res)
{
	uint32_t considered = 0, fwd_lost = 0, ok = 0, pending = 0, last_rx = 0;
	double reply_unanswered = 0;
	uint32_t n_unanswered = 0;
	bool any = false;

	for (size_t k = 0; k < nord; k++) {
		const struct req *r = &p->req[ord[k]];

		if (!has_count(r)) {
			pending++;
			reply_unanswered += r->reply_len;
			n_unanswered++;
			continue;
		}
		/* `pending` requests were sent since the previous anchor; the responder got
		 * rx_count - last_rx - 1 of them (clamped: reordering can upset the count). */
		{
			int64_t got = (int64_t)r->rx_count - (int64_t)last_rx - 1;

			if (got < 0)
				got = 0;
			if (got > pending)
				got = pending;
			fwd_lost += pending - (uint32_t)got;
		}
		considered += pending + 1;
		if (r->rx_count > last_rx)
			last_rx = r->rx_count;
		if (answered(r))
			ok++;
		pending = 0;
		any = true;
	}
	/* `pending` now holds the tail after the last answer: its direction is unknown, so it
	 * counts in neither (the closers keep it empty when anything gets through). */
	if (!any) {
		res->fwd.sent = res->rev.sent = 0;
		res->fwd.loss_pct = res->rev.loss_pct = NAN;
		return;
	}
	res->fwd.sent = considered;
	res->fwd.lost = fwd_lost;
	res->fwd.loss_pct = 100.0 * fwd_lost / considered;
	res->rev.sent = considered - fwd_lost;
	res->rev.lost = res->rev.sent > ok ? res->rev.sent - ok : 0;
	res->rev.loss_pct = res->rev.sent ? 100.0 * res->rev.lost / res->rev.sent : NAN;
	/* What the responder sent that we never saw: the lost replies, at the average length
	 * asked of the unanswered requests. */
	if (n_unanswered)
		res->bytes_peer += (uint64_t)(res->rev.lost * (reply_unanswered / n_unanswered));
}

/* RFC 4737 style: a packet is reordered when one sent after it arrived before it. Forward:
 * the responder's rx_count; reverse: our arrival order. */
static void reordering(const struct ds_probe *p, const size_t *ord, size_t nord,
		       struct ds_probe_result *res)
{
	uint32_t min_count = UINT32_MAX, min_arr = UINT32_MAX;

	for (size_t k = nord; k-- > 0;) {
		const struct req *r = &p->req[ord[k]];

		if (!has_count(r))
			continue;
		if (min_count < r->rx_count)
			res->fwd.reordered++;
		if (min_arr < r->arrival)
			res->rev.reordered++;
		if (r->rx_count < min_count)
			min_count = r->rx_count;
		if (r->arrival < min_arr)
			min_arr = r->arrival;
	}
}

static double median_ns_ms(double *v, size_t n)
{
	return n ? ds_stats_median(v, n) / 1e6 : NAN;
}

static int delays(const struct ds_probe *p, struct ds_probe_result *res)
{
	size_t n = 0, cap = p->o.count;
	int64_t *fs = malloc(cap * sizeof(int64_t)), *fr = malloc(cap * sizeof(int64_t));
	int64_t *rs = malloc(cap * sizeof(int64_t)), *rr = malloc(cap * sizeof(int64_t));
	double *rtt = malloc(cap * sizeof(double)), *of = malloc(cap * sizeof(double));
	double *orv = malloc(cap * sizeof(double));
	struct ds_jitter jf, jr, jrtt;
	struct ds_owd_var v;
	int err = 0;

	if (!fs || !fr || !rs || !rr || !rtt || !of || !orv) {
		err = -ENOMEM;
		goto out;
	}
	ds_jitter_init(&jf);
	ds_jitter_init(&jr);
	ds_jitter_init(&jrtt);
	for (size_t i = 0; i < p->i_pair; i++) {
		const struct req *r = &p->req[i];

		if (r->state == R_SENT || r->state == R_ANSWERED || r->state == R_LATE)
			res->echoes_sent++;
		if (!answered(r))
			continue;
		res->echoes_answered++;
		fs[n] = r->tx_ns;
		fr[n] = r->peer_rx_ns;
		rs[n] = r->peer_tx_ns;
		rr[n] = r->rx_ns;
		rtt[n] = (double)rtt_ns(r) / 1e6;
		of[n] = (double)(r->peer_rx_ns - r->tx_ns);
		orv[n] = (double)(r->rx_ns - r->peer_tx_ns);
		ds_jitter_add(&jf, fs[n], fr[n]);
		ds_jitter_add(&jr, rs[n], rr[n]);
		ds_jitter_add(&jrtt, 0, rtt_ns(r));
		n++;
	}
	res->rtt_jitter_ms = n >= 2 ? jrtt.jitter_ns / 1e6 : NAN;
	res->fwd.jitter_ms = n >= 2 ? jf.jitter_ns / 1e6 : NAN;
	res->rev.jitter_ms = n >= 2 ? jr.jitter_ns / 1e6 : NAN;
	if (n && ds_stats_owd_variation(fs, fr, n, &v) == 0) {
		res->fwd.pdv_p95_ms = v.p95_ms;
		res->fwd.pdv_max_ms = v.max_ms;
	}
	if (n && ds_stats_owd_variation(rs, rr, n, &v) == 0) {
		res->rev.pdv_p95_ms = v.p95_ms;
		res->rev.pdv_max_ms = v.max_ms;
	}
	if (p->o.clock_synced) {
		res->fwd.owd_ms = median_ns_ms(of, n);
		res->rev.owd_ms = median_ns_ms(orv, n);
	}
	ds_stats_summarize(rtt, n, &res->rtt);
out:
	free(fs);
	free(fr);
	free(rs);
	free(rr);
	free(rtt);
	free(of);
	free(orv);
	return err;
}

#define RESOLUTION_NS 10000 /* below 10 us, a dispersion is the host's noise, not the path */

/*
 * CapProbe over one direction's pairs, after two checks of our own:
 * - a pair that the bottleneck did not spread (its dispersion is hardly more than the gap
 *   the sender put between the two packets) measured the sender; it only says that the
 *   capacity is at least size / dispersion;
 * - the pairs alternate between two sizes: dispersion must scale with size. When both
 *   sizes give the same dispersion, something (interrupt coalescing, a batching link)
 *   releases packets in groups, and no pair figure can be trusted as converged.
 */
static void capacity(const struct ds_pair_sample *s, const int64_t *send_gap, size_t n,
		     const uint32_t *size1, struct ds_probe_dir *d)
{
	struct ds_pair_sample keep[DS_PROBE_MAX_PAIRS] = {{0}};
	double big[DS_PROBE_MAX_PAIRS], small[DS_PROBE_MAX_PAIRS];
	size_t nk = 0, nb = 0, ns = 0;
	uint32_t big_bits = 0, small_bits = UINT32_MAX;
	double lb = NAN;
	struct ds_capacity cap;

	for (size_t i = 0; i < n; i++) {
		int64_t disp = s[i].recv2_ns - s[i].recv1_ns;
		double bits = 8.0 * s[i].size2_bytes;

		if (disp <= 0 || s[i].size2_bytes == 0)
			continue;
		if (send_gap[i] * 10 >= disp * 7 || disp <= RESOLUTION_NS) {
			double b =
			    bits / ((double)(disp > RESOLUTION_NS ? disp : RESOLUTION_NS) / 1e3);

			if (isnan(lb) || b > lb)
				lb = b;
			continue;
		}
		keep[nk++] = s[i];
		if (size1[i] >= big_bits)
			big_bits = size1[i];
		if (size1[i] < small_bits)
			small_bits = size1[i];
	}
	for (size_t i = 0; i < nk; i++) {
		double disp = (double)(keep[i].recv2_ns - keep[i].recv1_ns);

		if (keep[i].size2_bytes == big_bits)
			big[nb++] = disp;
		else
			small[ns++] = disp;
	}
	ds_stats_capacity(keep, nk, RESOLUTION_NS, &cap);
	d->valid_pairs = cap.valid_pairs;
	d->dispersion_us = cap.dispersion_us;
	d->bw_pair_mbps = cap.mbps;
	if (!isnan(cap.lower_bound_mbps) && (isnan(lb) || cap.lower_bound_mbps > lb))
		lb = cap.lower_bound_mbps;
	if (isnan(cap.mbps))
		d->bw_lower_bound_mbps = lb;
	d->converged = cap.converged;
	if (nb && ns && small_bits < big_bits) {
		double want = (double)big_bits / small_bits;
		double got = ds_stats_median(big, nb) / ds_stats_median(small, ns);

		if (got < 1.0 + (want - 1.0) / 2) {
			d->coalescing = true;
			d->converged = false;
		} else if (got > want * 1.2 || got < want / 1.2) {
			/* the sizes disagree on the capacity by more than 20 %: timing noise of
			 * the order of the dispersion itself */
			d->converged = false;
		}
	}
	/* A pair the path did not spread says the capacity is at least lb; an estimate well
	 * below that contradicts it, and neither can be trusted. */
	if (!isnan(lb) && !isnan(d->bw_pair_mbps) && lb > 1.25 * d->bw_pair_mbps)
		d->converged = false;
	d->bw_mbps = d->bw_pair_mbps;
}

/* Median of per-gap rates (Mbit/s) of packets a+1..b: robust to a pause and to a few
 * packets released together, which a rate over the whole span is not. */
static double gap_rate_median(const int64_t *rx_ns, const uint32_t *bits, size_t a, size_t b)
{
	double r[DS_PROBE_MAX_TRAIN];
	size_t n = 0;

	for (size_t i = a + 1; i <= b && n < DS_PROBE_MAX_TRAIN; i++) {
		int64_t g = rx_ns[i] - rx_ns[i - 1];

		r[n++] = g > 0 ? bits[i] / ((double)g / 1e3) : INFINITY;
	}
	return n ? ds_stats_median(r, n) : NAN;
}

/* Sustained rate (Mbit/s) of packets a..b: bits over time, so packets the receiver's
 * softirq timestamped in clumps count at their true rate, which a median of per-gap rates
 * does not (most gaps of a clumped train are short). A pause (a gap over four times the
 * mean) lets the bucket refill and the packets after it through faster, so the span is cut
 * there and the slowest stretch of at least four gaps is the rate; none such: the median. */
static double span_rate(const int64_t *rx_ns, const uint32_t *bits, size_t a, size_t b)
{
	double mean, best = NAN;
	size_t from = a;

	if (b <= a || b - a > DS_PROBE_MAX_TRAIN)
		return NAN;
	mean = (double)(rx_ns[b] - rx_ns[a]) / (double)(b - a);
	for (size_t i = a + 1; i <= b + 1; i++) {
		double bt = 0;
		int64_t span;

		if (i <= b && (double)(rx_ns[i] - rx_ns[i - 1]) <= 4 * mean)
			continue;
		/* packets from..i-1 are one unbroken stretch */
		span = rx_ns[i - 1] - rx_ns[from];
		if (i - 1 - from >= 4 && span > 0) {
			for (size_t k = from + 1; k <= i - 1; k++)
				bt += bits[k];
			if (isnan(best) || bt / ((double)span / 1e3) < best)
				best = bt / ((double)span / 1e3);
		}
		from = i;
	}
	return isnan(best) ? gap_rate_median(rx_ns, bits, a, b) : best;
}

void ds_probe_train(const int64_t *rx_ns, const uint32_t *bits, size_t n, double ref_mbps,
		    double *head_mbps, double *tail_mbps, int *shaper, double *burst_bytes)
{
	double ref, bytes;

	*head_mbps = *tail_mbps = *burst_bytes = NAN;
	*shaper = -1;
	if (n < 4 || n > DS_PROBE_MAX_TRAIN)
		return;
	/* Head: the first third; tail: the last half. An emptied bucket spaces every packet
	 * at the token rate, so the tail's sustained rate is the shaper's rate. */
	*head_mbps = gap_rate_median(rx_ns, bits, 0, (n - 1) / 3 > 1 ? (n - 1) / 3 : 1);
	*tail_mbps = span_rate(rx_ns, bits, (n - 1) / 2, n - 1);
	if (isinf(*head_mbps))
		*head_mbps = NAN;
	if (isnan(*tail_mbps) || isinf(*tail_mbps)) {
		*tail_mbps = NAN;
		return;
	}
	ref = !isnan(ref_mbps) && ref_mbps > 0 ? ref_mbps : *head_mbps;
	if (isnan(ref))
		return;
	*shaper = *tail_mbps < 0.75 * ref;
	if (!*shaper)
		return;
	/* The bucket: a token bucket of depth b and rate r lets through at most
	 * b + r * (t_i - t_0) bytes by packet i, so the deepest excess over the rate line is
	 * the bucket (read off the whole curve, not off one knee a clump can hide). */
	bytes = 0;
	*burst_bytes = 0;
	for (size_t i = 0; i < n; i++) {
		double over;

		bytes += bits[i] / 8.0;
		over = bytes - *tail_mbps / 8.0 * (double)(rx_ns[i] - rx_ns[0]) / 1e3;
		if (over > *burst_bytes)
			*burst_bytes = over;
	}
}

/* A direction whose one-way delay varies by more than its pairs' dispersion (and by more
 * than a millisecond) spreads or squeezes each pair at random: the dispersion then
 * says nothing of the bottleneck (a 2 ms jitter read as anything from 3 to 1200 Mbit/s in
 * the lab). The figure is withheld, never shown as a capacity. The floor is above what a
 * loaded host adds by itself (the lab's 50 Mbit/s link under a full test suite). */
#define JITTER_BOUND_MS 1.0
static void jitter_guard(struct ds_probe_dir *d)
{
	double disp_ms = isnan(d->dispersion_us) ? 0 : d->dispersion_us / 1e3;

	if (isnan(d->pdv_p95_ms) || d->pdv_p95_ms < JITTER_BOUND_MS || d->pdv_p95_ms <= disp_ms)
		return;
	if (isnan(d->bw_pair_mbps) && isnan(d->bw_lower_bound_mbps))
		return;
	d->bw_mbps = d->bw_pair_mbps = d->bw_lower_bound_mbps = NAN;
	d->converged = false;
	d->jitter_bound = true;
}

static void train_dir(const int64_t *rx, const uint32_t *bits, size_t n, struct ds_probe_dir *d)
{
	ds_probe_train(rx, bits, n, d->bw_pair_mbps, &d->train_head_mbps, &d->train_tail_mbps,
		       &d->shaper, &d->shaper_burst_bytes);
	if (d->shaper == 1) {
		/* What the path sustains is the shaper's rate: say so, keep the burst rate. */
		d->bw_mbps = d->train_tail_mbps;
		d->converged = false;
	}
}

int ds_probe_result(const struct ds_probe *p, struct ds_probe_result *res)
{
	struct ds_pair_sample s[DS_PROBE_MAX_PAIRS];
	int64_t gap[DS_PROBE_MAX_PAIRS];
	uint32_t size1[DS_PROBE_MAX_PAIRS];
	int64_t rx[DS_PROBE_MAX_TRAIN];
	uint32_t bits[DS_PROBE_MAX_TRAIN];
	size_t n, nord, *ord;
	int err;

	memset(res, 0, sizeof(*res));
	for (struct ds_probe_dir *d = &res->fwd; d <= &res->rev; d++) {
		d->loss_pct = d->jitter_ms = d->pdv_p95_ms = d->pdv_max_ms = d->owd_ms = NAN;
		d->bw_mbps = d->bw_pair_mbps = d->bw_lower_bound_mbps = d->dispersion_us = NAN;
		d->train_head_mbps = d->train_tail_mbps = d->shaper_burst_bytes = NAN;
		d->shaper = -1;
	}
	res->rtt_jitter_ms = NAN;
	err = delays(p, res);
	if (err)
		return err;
	ord = send_order(p, &nord);
	if (!ord)
		return -ENOMEM;
	loss(p, ord, nord, res);
	reordering(p, ord, nord, res);
	free(ord);
	res->duplicates = p->duplicates;
	res->late = p->late;
	res->bad = p->bad;
	res->refused = p->refused;

	/* Forward pairs: our send times, the responder's receive stamps. */
	n = 0;
	for (uint32_t k = 0; k < p->o.pairs; k++) {
		const struct req *a = &p->req[p->i_pair + 2 * k], *b = a + 1;

		if (!answered(a) || !answered(b))
			continue;
		s[n] = (struct ds_pair_sample){a->tx_ns, b->tx_ns, a->peer_rx_ns, b->peer_rx_ns,
					       (uint32_t)(b->len + p->o.ip_overhead)};
		gap[n] = b->tx_ns - a->tx_ns;
		size1[n++] = (uint32_t)(b->len + p->o.ip_overhead);
	}
	capacity(s, gap, n, size1, &res->fwd);
	/* Reverse pairs: the peer's send stamps, our receive stamps. */
	n = 0;
	for (uint32_t k = 0; k < p->o.pairs; k++) {
		const struct rdata *a = &p->rpair[2 * k], *b = a + 1;

		if (!a->got || !b->got)
			continue;
		s[n] = (struct ds_pair_sample){a->peer_tx_ns, b->peer_tx_ns, a->rx_ns, b->rx_ns,
					       (uint32_t)(b->len + p->o.ip_overhead)};
		gap[n] = b->peer_tx_ns - a->peer_tx_ns;
		size1[n++] = (uint32_t)(b->len + p->o.ip_overhead);
	}
	capacity(s, gap, n, size1, &res->rev);
	jitter_guard(&res->fwd);
	jitter_guard(&res->rev);

	if (p->o.train) {
		n = 0;
		for (size_t i = p->i_train; i < p->i_close; i++)
			if (answered(&p->req[i])) {
				rx[n] = p->req[i].peer_rx_ns;
				bits[n++] = 8u * (p->req[i].len + p->o.ip_overhead);
			}
		train_dir(rx, bits, n, &res->fwd);
		n = 0;
		for (size_t i = 0; i < p->o.train; i++)
			if (p->rtrain[i].got) {
				rx[n] = p->rtrain[i].rx_ns;
				bits[n++] = 8u * (p->rtrain[i].len + p->o.ip_overhead);
			}
		train_dir(rx, bits, n, &res->rev);
	}

	/* Bytes: ours as sent; the peer's as received, plus what it sent that was lost. */
	for (size_t i = 0; i < p->nreq; i++) {
		const struct req *r = &p->req[i];

		if (r->state == R_PLANNED)
			continue;
		res->bytes_sent += r->len;
		if (has_count(r))
			res->bytes_peer += r->got_len;
	}
	for (uint32_t k = 0; k < p->o.pairs; k++) {
		if (!p->rpair_req[k])
			continue;
		res->bytes_sent += p->rpair_req_len[k];
		if (p->rpair[2 * k].got || p->rpair[2 * k + 1].got)
			res->bytes_peer += 2u * rev_pair_size(p, k);
	}
	if (p->rtrain_req) {
		bool any = false;

		res->bytes_sent += p->rtrain_req_len;
		for (size_t i = 0; i < p->o.train; i++)
			any |= p->rtrain[i].got;
		if (any)
			res->bytes_peer += (uint64_t)(p->o.train / 2 * 2) * p->o.pair_size;
	}
	res->bytes_peer += p->bytes_garbage;
	return 0;
}

/* ---- raw rows ---- */

static const char *kind_name(uint8_t k)
{
	static const char *const names[] = {"echo", "fwd-pair", "warm", "fwd-train", "close"};

	return names[k];
}

int ds_probe_raw_row(const struct ds_probe *p, size_t index, struct ds_probe_raw *row)
{
	int64_t min_f = INT64_MAX, min_r = INT64_MAX;
	size_t nr = 2 * (size_t)p->o.pairs, nt = p->o.train;

	for (size_t i = 0; i < p->nreq; i++)
		if (has_count(&p->req[i]) && p->req[i].kind == K_ECHO) {
			const struct req *r = &p->req[i];

			if (r->peer_rx_ns - r->tx_ns < min_f)
				min_f = r->peer_rx_ns - r->tx_ns;
			if (r->rx_ns - r->peer_tx_ns < min_r)
				min_r = r->rx_ns - r->peer_tx_ns;
		}
	if (p->o.clock_synced)
		min_f = min_r = 0;
	memset(row, 0, sizeof(*row));
	row->recv_ms = row->rtt_ms = row->owd_fwd_ms = row->owd_rev_ms = row->gap_us = NAN;
	/* Echo requests that were sent, in send order. */
	for (size_t i = 0; i < p->nreq; i++) {
		const struct req *r = &p->req[i];

		if (r->state == R_PLANNED)
			continue;
		if (index--)
			continue;
		row->kind = kind_name(r->kind);
		row->seq = (uint32_t)(i < p->i_pair    ? DS_PROBE_SEQ_ECHO + i
				      : i < p->i_warm  ? DS_PROBE_SEQ_FWD_PAIR + (i - p->i_pair)
				      : i < p->i_train ? DS_PROBE_SEQ_WARM + (i - p->i_warm)
				      : i < p->i_close ? DS_PROBE_SEQ_FWD_TRAIN + (i - p->i_train)
						       : DS_PROBE_SEQ_CLOSE + (i - p->i_close));
		row->size = r->len;
		row->sent_ms = (double)(r->tx_ns - p->t0) / 1e6;
		row->status = r->state == R_ANSWERED ? "ok" : r->state == R_LATE ? "late" : "lost";
		if (has_count(r)) {
			row->recv_ms = (double)(r->rx_ns - p->t0) / 1e6;
			row->rtt_ms = (double)rtt_ns(r) / 1e6;
			if (min_f != INT64_MAX) {
				row->owd_fwd_ms = (double)(r->peer_rx_ns - r->tx_ns - min_f) / 1e6;
				row->owd_rev_ms = (double)(r->rx_ns - r->peer_tx_ns - min_r) / 1e6;
			}
			if (((r->kind == K_FWD_PAIR && (i - p->i_pair) % 2) ||
			     (r->kind == K_FWD_TRAIN && i > p->i_train)) &&
			    has_count(r - 1))
				row->gap_us = (double)(r->peer_rx_ns - (r - 1)->peer_rx_ns) / 1e3;
		}
		return 0;
	}
	/* The peer's pair data and train, as requested. */
	for (size_t i = 0; i < nr + nt; i++) {
		bool pair = i < nr;
		const struct rdata *x = pair ? &p->rpair[i] : &p->rtrain[i - nr];
		const struct rdata *prev = pair ? (i % 2 ? x - 1 : NULL) : (i > nr ? x - 1 : NULL);

		if (pair ? !p->rpair_req[i / 2] : (!p->rtrain_req || i - nr >= nt / 2 * 2))
			continue;
		if (index--)
			continue;
		row->kind = pair ? "rev-pair" : "rev-train";
		row->seq =
		    pair ? DS_PROBE_SEQ_REV_PAIR + (uint32_t)(i / 2) : DS_PROBE_SEQ_REV_TRAIN;
		row->size = pair ? rev_pair_size(p, (uint32_t)(i / 2)) : p->o.pair_size;
		row->status = x->got ? "ok" : "lost";
		row->sent_ms = NAN;
		if (x->got) {
			row->recv_ms = (double)(x->rx_ns - p->t0) / 1e6;
			if (min_r != INT64_MAX) {
				row->owd_rev_ms = (double)(x->rx_ns - x->peer_tx_ns - min_r) / 1e6;
				row->sent_ms = row->recv_ms - row->owd_rev_ms -
					       (p->o.clock_synced ? 0 : (double)min_r / 1e6);
				if (!p->o.clock_synced)
					row->sent_ms = NAN;
			}
			if (prev && prev->got)
				row->gap_us = (double)(x->rx_ns - prev->rx_ns) / 1e3;
		}
		return 0;
	}
	return -ENOENT;
}

/* ---- EWMA file ---- */

static int ewma_path(const char *dir, const char *peer, char *buf, size_t len, bool mk)
{
	int n;

	if (!ds_peers_name_ok(peer) || peer[0] == '.')
		return -EINVAL;
	n = snprintf(buf, len, "%s/pairprobe", dir);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (mk && mkdir(buf, 0750) < 0 && errno != EEXIST)
		return -errno;
	n = snprintf(buf, len, "%s/pairprobe/%s.ewma", dir, peer);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int ds_probe_ewma_load(const char *state_dir, const char *peer, double *ewma_ms, uint64_t *runs)
{
	char path[4096], line[128], *end;
	FILE *f;
	int err;

	*ewma_ms = NAN;
	*runs = 0;
	err = ewma_path(state_dir, peer, path, sizeof(path), false);
	if (err)
		return err;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -EBADMSG;
	}
	fclose(f);
	errno = 0;
	*ewma_ms = strtod(line, &end);
	if (errno || end == line || !isfinite(*ewma_ms) || *ewma_ms < 0 || *end != ' ') {
		*ewma_ms = NAN;
		return -EBADMSG;
	}
	*runs = strtoull(end + 1, &end, 10);
	if (errno || (*end != '\n' && *end != '\0')) {
		*ewma_ms = NAN;
		*runs = 0;
		return -EBADMSG;
	}
	return 0;
}

int ds_probe_ewma_save(const char *state_dir, const char *peer, double ewma_ms, uint64_t runs)
{
	char path[4096], tmp[4200], line[128];
	int fd, n, err = 0;

	if (!isfinite(ewma_ms) || ewma_ms < 0)
		return -EINVAL;
	err = ewma_path(state_dir, peer, path, sizeof(path), true);
	if (err)
		return err;
	n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	n = snprintf(line, sizeof(line), "%.6f %llu\n", ewma_ms, (unsigned long long)runs);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)n) != n || fsync(fd) < 0)
		err = errno ? -errno : -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int ds_probe_ewma_update(const char *state_dir, const char *peer, double median_ms, double *ewma_ms,
			 uint64_t *runs, bool *was_bad)
{
	char path[4096];
	double prev;
	uint64_t n;
	int fd, err;

	*was_bad = false;
	if (!isfinite(median_ms) || median_ms < 0)
		return -EINVAL;
	err = ewma_path(state_dir, peer, path, sizeof(path), true);
	if (err)
		return err;
	/* path ends in ".ewma": the lock file is beside it */
	memcpy(path + strlen(path) - 5, ".lock", 5);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	err = ds_probe_ewma_load(state_dir, peer, &prev, &n);
	if (err == -EBADMSG)
		*was_bad = true;
	if (err) {
		prev = NAN;
		n = 0;
	}
	*ewma_ms = ds_stats_ewma(prev, median_ms, DS_EWMA_ALPHA_RTT);
	*runs = n + 1;
	err = ds_probe_ewma_save(state_dir, peer, *ewma_ms, *runs);
	close(fd); /* and with it the lock */
	return err;
}

/* ---- one run through the agent ---- */

#define PEND  512 /* SEND requests in flight, by request id */
#define BATCH 64  /* SEND requests handed to the agent in one sendmmsg */

struct drv {
	struct ds_probe *p;
	struct ds_ctl_client *c;
	int fd;
	uint32_t run_id;
	const char *peer;
	uint32_t next_req;
	struct {
		uint32_t req_id, seq;
		uint64_t body_tx;
		uint16_t len;
		bool used;
	} pend[PEND];
	struct {
		uint64_t counter;
		uint32_t seq;
	} ctr[PEND];
	struct {
		uint64_t counter;
		int64_t tx_ns;
	} early[16]; /* transmit stamps that came before their SENT */
	unsigned nearly;
	unsigned outstanding;
	int err;
	uint8_t buf[DS_CTL_MSG_MAX];
	uint8_t batch[BATCH][DS_CTL_MSG_MAX];
	size_t batch_len[BATCH];
	unsigned nbatch;
};

/*
 * Requests go out without waiting for each answer (ds_ctl_send waits for each SENT), and the
 * packets of a pair or a train go to the agent in one sendmmsg(2): all of them are in its
 * socket buffer before it wakes up, so it seals and sends them in one turn of its loop,
 * back to back. (Two separate writes let the scheduler run the agent between them, which
 * spaced the pairs by ~100 us on the lab machine, wider than a packet at 200 Mbit/s.)
 * Request ids start high so that they never match a library request.
 */
static int flush(struct drv *d)
{
	struct mmsghdr mh[BATCH];
	struct iovec iov[BATCH];
	unsigned done = 0;

	for (unsigned i = 0; i < d->nbatch; i++) {
		iov[i] = (struct iovec){.iov_base = d->batch[i], .iov_len = d->batch_len[i]};
		mh[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
	}
	while (done < d->nbatch) {
		int r = sendmmsg(d->fd, mh + done, d->nbatch - done, MSG_NOSIGNAL);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			d->nbatch = 0;
			return -errno;
		}
		done += (unsigned)r;
	}
	d->nbatch = 0;
	return 0;
}

static int queue_req(struct drv *d, uint8_t type, uint32_t seq, const uint8_t *body, size_t blen,
		     uint64_t body_tx)
{
	struct ds_ctl_msg m = {.type = DS_CTL_SEND, .run_id = d->run_id};
	unsigned slot;
	int len;

	if (d->nbatch == BATCH) {
		int err = flush(d);

		if (err)
			return err;
	}
	m.req_id = d->next_req++;
	snprintf(m.send.peer, sizeof(m.send.peer), "%s", d->peer);
	m.send.wire_type = type;
	m.send.send_flags = DS_CTL_SEND_TX_STAMP;
	m.send.tos = (int16_t)d->p->o.tos;
	m.send.body = body;
	m.send.body_len = blen;
	len = ds_ctl_encode(&m, d->batch[d->nbatch], sizeof(d->batch[0]));
	if (len < 0)
		return len;
	slot = m.req_id % PEND;
	if (d->pend[slot].used)
		return -ENOBUFS;
	d->batch_len[d->nbatch++] = (size_t)len;
	d->pend[slot].used = true;
	d->pend[slot].req_id = m.req_id;
	d->pend[slot].seq = seq;
	d->pend[slot].body_tx = body_tx;
	d->pend[slot].len = (uint16_t)(blen + DS_WIRE_OVERHEAD);
	d->outstanding++;
	return 0;
}

static int send_echo(struct drv *d, uint32_t seq)
{
	uint8_t body[DS_WIRE_BODY_MAX];
	uint64_t now = (uint64_t)ds_clock_ns();
	int blen = ds_probe_echo_body(d->p, seq, now, body, sizeof(body));

	if (blen < 0)
		return blen;
	return queue_req(d, DS_WIRE_ECHO_REQUEST, seq, body, (size_t)blen, now);
}

static int send_pair_request(struct drv *d, uint32_t seq)
{
	uint8_t body[DS_WIRE_PAIR_REQUEST_LEN];
	uint64_t now = (uint64_t)ds_clock_ns();
	int blen = ds_probe_pair_request_body(d->p, seq, now, body, sizeof(body));

	if (blen < 0)
		return blen;
	return queue_req(d, DS_WIRE_PAIR_REQUEST, seq, body, (size_t)blen, now);
}

static void on_sent(struct drv *d, const struct ds_ctl_msg *m)
{
	unsigned slot = m->req_id % PEND;

	if (!d->pend[slot].used || d->pend[slot].req_id != m->req_id)
		return;
	d->pend[slot].used = false;
	d->outstanding--;
	if (m->type == DS_CTL_ERR) {
		/* A full socket buffer loses this one request (it counts as never sent);
		 * anything else ends the run. */
		if (m->err.err != EAGAIN && m->err.err != ENOBUFS && !d->err)
			d->err = -m->err.err;
		return;
	}
	ds_probe_sent(d->p, d->pend[slot].seq, d->pend[slot].body_tx, m->sent.tx_ns,
		      m->sent.len ? m->sent.len : d->pend[slot].len);
	d->ctr[m->sent.counter % PEND].counter = m->sent.counter;
	d->ctr[m->sent.counter % PEND].seq = d->pend[slot].seq;
	for (unsigned i = 0; i < d->nearly; i++)
		if (d->early[i].counter == m->sent.counter) {
			ds_probe_tx_stamp(d->p, d->pend[slot].seq, d->early[i].tx_ns);
			d->early[i] = d->early[--d->nearly];
			break;
		}
}

static void on_txstamp(struct drv *d, const struct ds_ctl_msg *m)
{
	unsigned slot = m->txstamp.counter % PEND;

	if (d->ctr[slot].counter == m->txstamp.counter && m->txstamp.counter) {
		ds_probe_tx_stamp(d->p, d->ctr[slot].seq, m->txstamp.tx_ns);
		return;
	}
	if (d->nearly < sizeof(d->early) / sizeof(d->early[0])) {
		d->early[d->nearly].counter = m->txstamp.counter;
		d->early[d->nearly++].tx_ns = m->txstamp.tx_ns;
	}
}

static void on_packet(struct drv *d, const struct ds_ctl_msg *m)
{
	size_t plen = m->packet.body_len + DS_WIRE_OVERHEAD;

	if (m->run_id != d->run_id)
		return;
	switch (m->packet.wire_type) {
	case DS_WIRE_ECHO_REPLY: {
		struct ds_wire_echo e;

		if (ds_wire_echo_decode(m->packet.body, m->packet.body_len, &e) == 0)
			ds_probe_echo_reply(d->p, &e, m->packet.rx_ns, plen);
		else
			ds_probe_garbage(d->p, plen);
		break;
	}
	case DS_WIRE_PAIR_DATA: {
		struct ds_wire_pair_data pd;

		if (ds_wire_pair_data_decode(m->packet.body, m->packet.body_len, &pd) == 0)
			ds_probe_pair_data(d->p, &pd, m->packet.rx_ns, plen);
		else
			ds_probe_garbage(d->p, plen);
		break;
	}
	case DS_WIRE_REFUSAL: {
		struct ds_wire_refusal rf;

		if (ds_wire_refusal_decode(m->packet.body, m->packet.body_len, &rf) == 0) {
			ds_probe_refusal(d->p, plen);
			if (!d->err)
				d->err = rf.reason == DS_REFUSE_BUSY ? -EBUSY : -ECONNREFUSED;
		} else {
			ds_probe_garbage(d->p, plen);
		}
		break;
	}
	default:
		ds_probe_garbage(d->p, plen);
	}
}

/* Handle what the agent says until `until` (monotonic ns), or until done() says so. */
static int pump(struct drv *d, int64_t until, bool (*done)(struct drv *))
{
	for (;;) {
		int64_t now = ds_clock_ns();
		struct pollfd pf = {.fd = d->fd, .events = POLLIN};
		struct timespec ts;
		struct ds_ctl_msg m;
		ssize_t n;
		int r;

		if (done && done(d))
			return 0;
		/* Past `until`, still take what is already waiting (a poll of 0), so that the
		 * agent's answers never pile up in the socket however short the interval. */
		ts = ds_ns_timespec(now < until ? until - now : 0);
		r = ppoll(&pf, 1, &ts, NULL);
		if (r < 0) {
			if (errno == EINTR)
				return -EINTR;
			return -errno;
		}
		if (r == 0) {
			if (ds_clock_ns() >= until)
				return 0;
			continue;
		}
		n = recv(d->fd, d->buf, sizeof(d->buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		if (ds_ctl_decode(d->buf, (size_t)n, &m) < 0)
			continue;
		switch (m.type) {
		case DS_CTL_SENT:
		case DS_CTL_ERR:
			on_sent(d, &m);
			break;
		case DS_CTL_TXSTAMP:
			on_txstamp(d, &m);
			break;
		case DS_CTL_PACKET:
			on_packet(d, &m);
			break;
		default:
			break;
		}
		if (d->err)
			return d->err;
	}
}

static bool all_in(struct drv *d)
{
	return d->outstanding == 0 && ds_probe_complete(d->p);
}

static bool closer_in(struct drv *d)
{
	return ds_probe_closers_answered(d->p) != 0;
}

static bool few_outstanding(struct drv *d)
{
	return d->outstanding <= 4;
}

static bool nothing_outstanding(struct drv *d)
{
	return d->outstanding == 0;
}

int ds_probe_run(struct ds_probe *p, struct ds_ctl_client *c, uint32_t run_id, const char *peer)
{
	const struct ds_probe_opts *o = &p->o;
	struct drv *d = calloc(1, sizeof(*d));
	int64_t t, wait_end;
	int err = 0;

	if (!d)
		return -ENOMEM;
	d->p = p;
	d->c = c;
	d->fd = ds_ctl_fd(c);
	d->run_id = run_id;
	d->peer = peer;
	d->next_req = 0x40000000u;

	/* Echoes at a fixed schedule. The first one tells us whether the peer is there. */
	t = ds_clock_ns();
	for (uint32_t i = 0; i < o->count; i++) {
		err = send_echo(d, DS_PROBE_SEQ_ECHO + i);
		if (!err)
			err = flush(d);
		if (!err && i == 0)
			err = pump(d, ds_clock_ns() + 2 * DS_NSEC_PER_SEC, nothing_outstanding);
		if (!err)
			err = pump(d, t + (int64_t)(i + 1) * o->interval_ns, NULL);
		/* At a short interval, let the agent's answers catch up before the request
		 * table fills. */
		if (!err && d->outstanding > 16)
			err = pump(d, ds_clock_ns() + DS_NSEC_PER_SEC, few_outstanding);
		if (err)
			goto out;
	}
	/* Forward pairs: both packets in the agent's socket buffer before it reads the first. */
	for (uint32_t k = 0; k < o->pairs; k++) {
		err = send_echo(d, DS_PROBE_SEQ_WARM + 2 * k);
		if (!err)
			err = send_echo(d, DS_PROBE_SEQ_FWD_PAIR + 2 * k);
		if (!err)
			err = send_echo(d, DS_PROBE_SEQ_FWD_PAIR + 2 * k + 1);
		if (!err)
			err = flush(d);
		if (!err)
			err = pump(d, ds_clock_ns() + o->pair_gap_ns, NULL);
		if (err)
			goto out;
	}
	for (uint32_t k = 0; k < o->pairs; k++) {
		err = send_echo(d, DS_PROBE_SEQ_WARM + 2 * k + 1);
		if (!err)
			err = send_pair_request(d, DS_PROBE_SEQ_REV_PAIR + k);
		if (!err)
			err = flush(d);
		if (!err)
			err = pump(d, ds_clock_ns() + o->pair_gap_ns, NULL);
		if (err)
			goto out;
	}
	if (o->train >= 2) {
		for (uint32_t i = 0; i < o->train && !err; i++)
			err = send_echo(d, DS_PROBE_SEQ_FWD_TRAIN + i);
		if (!err)
			err = flush(d);
		if (!err)
			err = pump(d, ds_clock_ns() + o->pair_gap_ns + 2 * o->train * 1000000LL,
				   all_in);
		if (!err)
			err = send_pair_request(d, DS_PROBE_SEQ_REV_TRAIN);
		if (!err)
			err = flush(d);
		if (err)
			goto out;
	}
	/* Whatever is still on its way: until all is in, or the wait is over. */
	wait_end = ds_clock_ns() + o->wait_ns;
	err = pump(d, wait_end, all_in);
	/* Closers: the responder's final count, so that loss is split by direction. */
	for (uint32_t k = 0; !err && k < DS_PROBE_MAX_CLOSERS; k++) {
		err = send_echo(d, DS_PROBE_SEQ_CLOSE + k);
		if (!err)
			err = flush(d);
		if (!err)
			err = pump(d, ds_clock_ns() + o->wait_ns, closer_in);
		if (closer_in(d))
			break;
	}
	/* Answers still in the agent's queue. */
	if (!err)
		err = pump(d, ds_clock_ns() + 5 * DS_NSEC_PER_MSEC, NULL);
out:
	free(d);
	return err;
}
