/* SPDX-License-Identifier: MIT */
/*
 * The statistics every measurement reports, in one place, so ds-pairprobe, ds-stun,
 * ds-grade and ds-report compute a median or a jitter the same way.
 * Times are in nanoseconds (int64_t) or milliseconds (double) as named.
 */
#ifndef DS_STATS_H
#define DS_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Quantile q in [0,1] of n values (linear interpolation between closest ranks, the
 * "type 7" estimator of R and numpy). Sorts v in place. NAN when n == 0. */
double ds_stats_quantile(double *v, size_t n, double q);
double ds_stats_median(double *v, size_t n);

struct ds_stats_summary {
	size_t n;
	double min, median, p95, max, mean;
};
/* min/median/p95/max/mean of n values (sorts v in place); all NAN when n == 0. */
void ds_stats_summarize(double *v, size_t n, struct ds_stats_summary *out);

/* EWMA with weight alpha on the new sample: e = e + alpha * (x - e). The first sample
 * (prev NAN) starts the average. SPEC's RTT EWMA uses alpha = 1/6. */
#define DS_EWMA_ALPHA_RTT (1.0 / 6.0)
double ds_stats_ewma(double prev, double sample, double alpha);

/*
 * RFC 3550 §6.4.1 interarrival jitter, per direction: for consecutive packets i-1, i,
 * D = (R_i - R_{i-1}) - (S_i - S_{i-1}) with S the send time on the sender's clock and R
 * the arrival time on the receiver's clock (the clocks need not agree: only differences
 * are used); J += (|D| - J) / 16.
 */
struct ds_jitter {
	int64_t last_send_ns, last_recv_ns;
	double jitter_ns;
	int have_last;
};
void ds_jitter_init(struct ds_jitter *j);
void ds_jitter_add(struct ds_jitter *j, int64_t send_ns, int64_t recv_ns);

/*
 * One-way delay variation without synchronised clocks: each packet's apparent one-way
 * delay d_i = R_i - S_i contains the unknown clock offset, which cancels in
 * d_i - min(d). RFC 5481 PDV is that variation; we report its p95 (and max).
 * Sorts nothing in the caller's arrays: the results go into pdv_ms.
 */
struct ds_owd_var {
	double p95_ms, max_ms, mean_ms;
	size_t n;
};
int ds_stats_owd_variation(const int64_t *send_ns, const int64_t *recv_ns, size_t n,
			   struct ds_owd_var *out);

/*
 * Packet-pair capacity with the CapProbe filter (Kapoor et al., 2004): of the pairs, keep
 * the one whose delay sum (one-way delay of first + second packet, offset-free because it
 * is compared between pairs of the same direction) is smallest: it is the pair least
 * disturbed by cross traffic, so its dispersion is the bottleneck's serialization time.
 * capacity = size_bits / dispersion.
 */
struct ds_pair_sample {
	int64_t send1_ns, send2_ns; /* sender clock */
	int64_t recv1_ns, recv2_ns; /* receiver clock (kernel receive timestamps) */
	uint32_t size2_bytes;	    /* the second packet's size on the wire */
};
struct ds_capacity {
	double mbps;		    /* NAN when no valid pair or under the resolution */
	double lower_bound_mbps;    /* set instead of mbps when the dispersion was below the
				     * timestamp resolution: the capacity is at least this */
	double dispersion_us;	    /* of the chosen pair */
	int chosen;		    /* index of the chosen pair, -1 if none */
	int valid_pairs;
	int converged;		    /* the min-delay-sum pair's dispersion agrees (±10 %) with
				     * the median dispersion of the pairs near the min delay sum */
};
void ds_stats_capacity(const struct ds_pair_sample *pairs, size_t n, int64_t resolution_ns,
		       struct ds_capacity *out);

#endif
