// SPDX-License-Identifier: MIT
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double ds_stats_quantile(double *v, size_t n, double q)
{
	double pos, frac;
	size_t lo;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	if (q <= 0)
		return v[0];
	if (q >= 1)
		return v[n - 1];
	pos = q * (double)(n - 1);
	lo = (size_t)pos;
	frac = pos - (double)lo;
	if (lo + 1 >= n)
		return v[n - 1];
	return v[lo] + frac * (v[lo + 1] - v[lo]);
}

double ds_stats_median(double *v, size_t n)
{
	return ds_stats_quantile(v, n, 0.5);
}

void ds_stats_summarize(double *v, size_t n, struct ds_stats_summary *out)
{
	double sum = 0;
	size_t i;

	out->n = n;
	if (n == 0) {
		out->min = out->median = out->p95 = out->max = out->mean = NAN;
		return;
	}
	for (i = 0; i < n; i++)
		sum += v[i];
	out->mean = sum / (double)n;
	out->median = ds_stats_quantile(v, n, 0.5);
	out->p95 = ds_stats_quantile(v, n, 0.95);
	out->min = v[0];
	out->max = v[n - 1];
}

double ds_stats_ewma(double prev, double sample, double alpha)
{
	if (isnan(sample))
		return prev;
	if (isnan(prev))
		return sample;
	return prev + alpha * (sample - prev);
}

void ds_jitter_init(struct ds_jitter *j)
{
	memset(j, 0, sizeof(*j));
}

void ds_jitter_add(struct ds_jitter *j, int64_t send_ns, int64_t recv_ns)
{
	if (j->have_last) {
		double d = (double)((recv_ns - j->last_recv_ns) - (send_ns - j->last_send_ns));

		j->jitter_ns += (fabs(d) - j->jitter_ns) / 16.0;
	}
	j->last_send_ns = send_ns;
	j->last_recv_ns = recv_ns;
	j->have_last = 1;
}

int ds_stats_owd_variation(const int64_t *send_ns, const int64_t *recv_ns, size_t n,
			   struct ds_owd_var *out)
{
	int64_t min_d = INT64_MAX;
	double *v, sum = 0;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->p95_ms = out->max_ms = out->mean_ms = NAN;
	if (n == 0)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if (recv_ns[i] - send_ns[i] < min_d)
			min_d = recv_ns[i] - send_ns[i];
	for (i = 0; i < n; i++) {
		v[i] = (double)(recv_ns[i] - send_ns[i] - min_d) / 1e6;
		sum += v[i];
	}
	out->n = n;
	out->mean_ms = sum / (double)n;
	out->p95_ms = ds_stats_quantile(v, n, 0.95);
	out->max_ms = v[n - 1];
	free(v);
	return 0;
}

void ds_stats_capacity(const struct ds_pair_sample *pairs, size_t n, int64_t resolution_ns,
		       struct ds_capacity *out)
{
	int64_t best_sum = INT64_MAX;
	double disp[64];
	size_t i, nd = 0;
	int64_t disp_ns;
	double bits;

	memset(out, 0, sizeof(*out));
	out->mbps = out->lower_bound_mbps = out->dispersion_us = NAN;
	out->chosen = -1;
	for (i = 0; i < n; i++) {
		const struct ds_pair_sample *p = &pairs[i];
		int64_t sum;

		/* A pair whose second packet came first was reordered: no dispersion. */
		if (p->recv2_ns < p->recv1_ns || p->size2_bytes == 0)
			continue;
		out->valid_pairs++;
		sum = (p->recv1_ns - p->send1_ns) + (p->recv2_ns - p->send2_ns);
		if (sum < best_sum) {
			best_sum = sum;
			out->chosen = (int)i;
		}
	}
	if (out->chosen < 0)
		return;
	disp_ns = pairs[out->chosen].recv2_ns - pairs[out->chosen].recv1_ns;
	bits = 8.0 * pairs[out->chosen].size2_bytes;
	out->dispersion_us = (double)disp_ns / 1e3;
	if (disp_ns <= resolution_ns) {
		/* Faster than we can time: all we know is that it is at least this fast. */
		int64_t res = resolution_ns > 0 ? resolution_ns : 1;

		out->lower_bound_mbps = bits / ((double)res / 1e9) / 1e6;
		return;
	}
	out->mbps = bits / ((double)disp_ns / 1e9) / 1e6;

	/* Converged when the pairs whose delay sum is within two dispersions of the minimum
	 * (the ones cross traffic left alone too) agree with the chosen one within 10 %. */
	for (i = 0; i < n && nd < sizeof(disp) / sizeof(disp[0]); i++) {
		const struct ds_pair_sample *p = &pairs[i];
		int64_t sum;

		if (p->recv2_ns < p->recv1_ns || p->size2_bytes == 0)
			continue;
		sum = (p->recv1_ns - p->send1_ns) + (p->recv2_ns - p->send2_ns);
		if (sum - best_sum <= 2 * disp_ns)
			disp[nd++] = (double)(p->recv2_ns - p->recv1_ns) * 8.0 / p->size2_bytes;
	}
	if (nd >= 2) {
		double med = ds_stats_median(disp, nd);
		double mine = (double)disp_ns * 8.0 / pairs[out->chosen].size2_bytes;

		out->converged = fabs(med - mine) <= 0.10 * mine;
	}
}
