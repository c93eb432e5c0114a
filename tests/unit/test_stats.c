// SPDX-License-Identifier: MIT
#define UNIT_NAME "stats"
#include "unit.h"

#include <math.h>

#include "stats.h"

#define NEAR(a, b, eps) (fabs((a) - (b)) <= (eps))

static void quantiles_interpolate_like_numpy(void)
{
	double v[] = { 5, 1, 4, 2, 3 };
	double w[] = { 10, 20, 30, 40 };
	struct ds_stats_summary s;

	CHECK(ds_stats_median(v, 5) == 3);
	CHECK(NEAR(ds_stats_quantile(v, 5, 0.95), 4.8, 1e-9));
	CHECK(NEAR(ds_stats_median(w, 4), 25, 1e-9));
	CHECK(isnan(ds_stats_median(w, 0)));
	ds_stats_summarize(v, 5, &s);
	CHECK(s.min == 1 && s.max == 5 && s.mean == 3 && s.n == 5);
}

static void ewma_starts_at_first_sample_and_weighs_one_sixth(void)
{
	double e = NAN;

	e = ds_stats_ewma(e, 60, DS_EWMA_ALPHA_RTT);
	CHECK(e == 60);
	e = ds_stats_ewma(e, 120, DS_EWMA_ALPHA_RTT);
	CHECK(NEAR(e, 70, 1e-9));
	e = ds_stats_ewma(e, NAN, DS_EWMA_ALPHA_RTT);
	CHECK(NEAR(e, 70, 1e-9));
}

static void jitter_follows_rfc3550(void)
{
	struct ds_jitter j;
	int i;

	ds_jitter_init(&j);
	/* Constant transit: no jitter, whatever the clock offset. */
	for (i = 0; i < 10; i++)
		ds_jitter_add(&j, i * 20000000LL, 123456789LL + i * 20000000LL);
	CHECK(j.jitter_ns == 0);
	/* Alternating +-1 ms transit: |D| = 2 ms each step; J converges toward 2 ms. */
	ds_jitter_init(&j);
	for (i = 0; i < 500; i++)
		ds_jitter_add(&j, i * 20000000LL, i * 20000000LL + (i % 2 ? 1000000 : -1000000));
	CHECK(NEAR(j.jitter_ns, 2e6, 1e3));
	/* First step: J = |D| / 16. */
	ds_jitter_init(&j);
	ds_jitter_add(&j, 0, 0);
	ds_jitter_add(&j, 1000, 1000 + 16000);
	CHECK(NEAR(j.jitter_ns, 1000, 1e-9));
}

static void owd_variation_cancels_clock_offset(void)
{
	int64_t s[5] = { 0, 10, 20, 30, 40 };
	int64_t r[5];
	struct ds_owd_var v;
	int i;

	for (i = 0; i < 5; i++)
		r[i] = s[i] + 5000000000LL + (i == 3 ? 4000000 : 0); /* +5 s offset, one 4 ms spike */
	CHECK_INT(ds_stats_owd_variation(s, r, 5, &v), 0);
	CHECK(NEAR(v.max_ms, 4, 1e-9));
	CHECK(NEAR(v.mean_ms, 0.8, 1e-9));
	CHECK(v.n == 5);
}

static void capacity_picks_min_delay_sum_pair(void)
{
	/* 10 Mbit/s bottleneck, 1200-byte packets: 960 us dispersion. Pair 1 was delayed
	 * by cross traffic (larger delay sum, compressed dispersion). */
	struct ds_pair_sample p[3] = {
		{ 0, 0, 1000000, 1960000, 1200 },
		{ 0, 0, 3000000, 3300000, 1200 },
		{ 0, 0, 1000100, 1960100, 1200 },
	};
	struct ds_capacity c;

	ds_stats_capacity(p, 3, 1000, &c);
	CHECK(c.chosen == 0);
	CHECK(NEAR(c.mbps, 10.0, 1e-6));
	CHECK(c.valid_pairs == 3);
	CHECK(c.converged);
	CHECK(isnan(c.lower_bound_mbps));
}

static void capacity_below_resolution_is_a_lower_bound(void)
{
	struct ds_pair_sample p[1] = { { 0, 0, 1000, 1500, 1200 } };
	struct ds_capacity c;

	ds_stats_capacity(p, 1, 1000, &c);
	CHECK(isnan(c.mbps));
	CHECK(NEAR(c.lower_bound_mbps, 9600, 1e-6));
}

static void capacity_skips_reordered_pairs(void)
{
	struct ds_pair_sample p[2] = { { 0, 0, 2000, 1000, 1200 }, { 0, 0, 0, 0, 0 } };
	struct ds_capacity c;

	ds_stats_capacity(p, 2, 1000, &c);
	CHECK(c.chosen == -1);
	CHECK(isnan(c.mbps) && isnan(c.lower_bound_mbps));
	CHECK(c.valid_pairs == 0);
}

int main(void)
{
	UNIT_RUN(quantiles_interpolate_like_numpy);
	UNIT_RUN(ewma_starts_at_first_sample_and_weighs_one_sixth);
	UNIT_RUN(jitter_follows_rfc3550);
	UNIT_RUN(owd_variation_cancels_clock_offset);
	UNIT_RUN(capacity_picks_min_delay_sum_pair);
	UNIT_RUN(capacity_below_resolution_is_a_lower_bound);
	UNIT_RUN(capacity_skips_reordered_pairs);
	UNIT_EXIT();
}
