// SPDX-License-Identifier: MIT
#define UNIT_NAME "linkem"
#include "unit.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "linkem.h"

#define MS 1000000LL
#define US 1000LL

static struct ds_linkem *link_with(const char *rate, const char *delay, const char *jitter,
				   const char *limit)
{
	struct ds_linkem_params p;

	ds_linkem_params_default(&p);
	if (rate)
		CHECK_INT(ds_linkem_param_set(&p, "rate", rate), 0);
	if (delay)
		CHECK_INT(ds_linkem_param_set(&p, "delay", delay), 0);
	if (jitter)
		CHECK_INT(ds_linkem_param_set(&p, "jitter", jitter), 0);
	if (limit)
		CHECK_INT(ds_linkem_param_set(&p, "limit", limit), 0);
	return ds_linkem_new(&p, 42);
}

static void parses_options_tc_style(void)
{
	struct ds_linkem_params p;

	ds_linkem_params_default(&p);
	CHECK_INT(p.limit, DS_LINKEM_LIMIT_DEFAULT);
	CHECK(p.rate_bps == 0 && p.delay_ns == 0 && p.jitter_ns == 0 && p.overhead == 0);
	CHECK_INT(ds_linkem_param_set(&p, "rate", "10mbit"), 0);
	CHECK(p.rate_bps == 10e6);
	CHECK_INT(ds_linkem_param_set(&p, "rate", "2.5M"), 0);
	CHECK(p.rate_bps == 2.5e6);
	CHECK_INT(ds_linkem_param_set(&p, "rate", "500kbit"), 0);
	CHECK(p.rate_bps == 500e3);
	CHECK_INT(ds_linkem_param_set(&p, "rate", "64000"), 0);
	CHECK(p.rate_bps == 64000);
	CHECK_INT(ds_linkem_param_set(&p, "rate", "0"), 0);
	CHECK(p.rate_bps == 0);
	CHECK_INT(ds_linkem_param_set(&p, "delay", "20ms"), 0);
	CHECK_INT(p.delay_ns, 20 * MS);
	CHECK_INT(ds_linkem_param_set(&p, "delay", "500us"), 0);
	CHECK_INT(p.delay_ns, 500 * US);
	CHECK_INT(ds_linkem_param_set(&p, "delay", "7"), 0);
	CHECK_INT(p.delay_ns, 7 * MS);
	CHECK_INT(ds_linkem_param_set(&p, "jitter", "1.5ms"), 0);
	CHECK_INT(p.jitter_ns, 1500 * US);
	CHECK_INT(ds_linkem_param_set(&p, "limit", "50"), 0);
	CHECK_INT(p.limit, 50);
	CHECK_INT(ds_linkem_param_set(&p, "overhead", "38"), 0);
	CHECK_INT(p.overhead, 38);
}

static void rejects_bad_values_and_keys(void)
{
	struct ds_linkem_params p, before;

	ds_linkem_params_default(&p);
	before = p;
	CHECK_INT(ds_linkem_param_set(&p, "rate", "10xbit"), -EINVAL);
	CHECK_INT(ds_linkem_param_set(&p, "rate", "-1mbit"), -EINVAL);
	CHECK_INT(ds_linkem_param_set(&p, "rate", "0.5"), -ERANGE);
	CHECK_INT(ds_linkem_param_set(&p, "rate", "nan"), -EINVAL);
	CHECK_INT(ds_linkem_param_set(&p, "delay", "fast"), -EINVAL);
	CHECK_INT(ds_linkem_param_set(&p, "delay", "-5ms"), -EINVAL);
	CHECK_INT(ds_linkem_param_set(&p, "delay", "2h"), -ERANGE);
	CHECK_INT(ds_linkem_param_set(&p, "limit", "0"), -ERANGE);
	CHECK_INT(ds_linkem_param_set(&p, "limit", "1000000"), -ERANGE);
	CHECK_INT(ds_linkem_param_set(&p, "limit", "ten"), -EINVAL);
	CHECK_INT(ds_linkem_param_set(&p, "overhead", "-1"), -ERANGE);
	CHECK_INT(ds_linkem_param_set(&p, "loss", "1%"), -ENOENT);
	CHECK(memcmp(&p, &before, sizeof(p)) == 0);
}

static void parses_params_file_with_comments(void)
{
	static const char text[] = "# ds-lab link a -> b\n"
				   "rate 10mbit\n"
				   "\n"
				   "  delay\t20ms   # one way\n"
				   "jitter 0\r\n"
				   "limit 64";
	struct ds_linkem_params p;
	unsigned line = 0;

	ds_linkem_params_default(&p);
	p.overhead = 14; /* not in the file: kept */
	CHECK_INT(ds_linkem_params_parse(text, strlen(text), &p, &line), 0);
	CHECK(p.rate_bps == 10e6);
	CHECK_INT(p.delay_ns, 20 * MS);
	CHECK_INT(p.jitter_ns, 0);
	CHECK_INT(p.limit, 64);
	CHECK_INT(p.overhead, 14);
	CHECK_INT(ds_linkem_params_parse("", 0, &p, NULL), 0);
}

static void params_file_error_names_line_and_changes_nothing(void)
{
	struct ds_linkem_params p, before;
	unsigned line = 0;
	char longline[400];

	ds_linkem_params_default(&p);
	before = p;
	CHECK_INT(ds_linkem_params_parse("rate 5mbit\ndelay soon\n", 22, &p, &line), -EINVAL);
	CHECK_INT(line, 2);
	CHECK_INT(ds_linkem_params_parse("rate 5mbit\n\nloss 1\n", 19, &p, &line), -ENOENT);
	CHECK_INT(line, 3);
	CHECK_INT(ds_linkem_params_parse("rate\n", 5, &p, &line), -EINVAL);
	CHECK_INT(line, 1);
	CHECK_INT(ds_linkem_params_parse("rate 1\0mbit\n", 12, &p, &line), -EINVAL);
	memset(longline, 'x', sizeof(longline));
	CHECK_INT(ds_linkem_params_parse(longline, sizeof(longline), &p, &line), -E2BIG);
	CHECK(memcmp(&p, &before, sizeof(p)) == 0);
}

static void serializes_back_to_back_packets_at_rate(void)
{
	struct ds_linkem *l = link_with("10mbit", NULL, NULL, NULL);
	int64_t r1, r2, r3;

	/* 1200 bytes at 10 Mbit/s: 960 us each; a pair arriving together leaves 960 us apart. */
	CHECK_INT(ds_linkem_tx_ns(l, 1200), 960 * US);
	CHECK_INT(ds_linkem_enqueue(l, 1000 * MS, 1200, &r1), 0);
	CHECK_INT(ds_linkem_enqueue(l, 1000 * MS + 3 * US, 1200, &r2), 0);
	CHECK_INT(r1, 1000 * MS + 960 * US);
	CHECK_INT(r2 - r1, 960 * US);
	/* After the link went idle, a packet starts serializing on arrival. */
	CHECK_INT(ds_linkem_enqueue(l, 2000 * MS, 100, &r3), 0);
	CHECK_INT(r3, 2000 * MS + 80 * US);
	ds_linkem_free(l);
}

static void adds_overhead_to_each_packet(void)
{
	struct ds_linkem_params p;
	struct ds_linkem *l;
	int64_t r;

	ds_linkem_params_default(&p);
	p.rate_bps = 1e6;
	p.overhead = 38;
	l = ds_linkem_new(&p, 1);
	CHECK_INT(ds_linkem_enqueue(l, 0, 1462, &r), 0);
	CHECK_INT(r, 12 * MS); /* 1500 bytes at 1 Mbit/s */
	ds_linkem_free(l);
}

static void delays_without_rate(void)
{
	struct ds_linkem *l = link_with(NULL, "20ms", NULL, NULL);
	int64_t r1, r2;

	CHECK_INT(ds_linkem_tx_ns(l, 1500), 0);
	CHECK_INT(ds_linkem_enqueue(l, 5 * MS, 1500, &r1), 0);
	CHECK_INT(ds_linkem_enqueue(l, 5 * MS, 1500, &r2), 0);
	CHECK_INT(r1, 25 * MS);
	CHECK_INT(r2, 25 * MS);
	CHECK_INT(ds_linkem_backlog(l, 5 * MS), 0);
	ds_linkem_free(l);
}

static void delay_adds_after_serialization(void)
{
	struct ds_linkem *l = link_with("1mbit", "20ms", NULL, NULL);
	int64_t r1, r2;

	CHECK_INT(ds_linkem_enqueue(l, 0, 1000, &r1), 0);
	CHECK_INT(ds_linkem_enqueue(l, 0, 1000, &r2), 0);
	CHECK_INT(r1, 8 * MS + 20 * MS);
	CHECK_INT(r2, 16 * MS + 20 * MS);
	ds_linkem_free(l);
}

static void jitter_stays_in_bounds_and_never_reorders(void)
{
	struct ds_linkem *l = link_with(NULL, "10ms", "5ms", NULL);
	int64_t now, r, last = 0, min_extra = INT64_MAX, max_extra = 0, sum = 0;
	int i, n = 20000, reordered = 0;

	for (i = 0; i < n; i++) {
		now = (int64_t)i * 100 * MS; /* far apart: order never binds */
		CHECK_INT(ds_linkem_enqueue(l, now, 100, &r), 0);
		if (r - now < min_extra)
			min_extra = r - now;
		if (r - now > max_extra)
			max_extra = r - now;
		sum += r - now;
	}
	CHECK(min_extra >= 5 * MS && min_extra < 5 * MS + 10 * US);
	CHECK(max_extra <= 15 * MS && max_extra > 15 * MS - 10 * US);
	/* uniform: mean near the delay (sd of the mean ~20 us here) */
	CHECK(sum / n > 10 * MS - 150 * US && sum / n < 10 * MS + 150 * US);

	/* Packets 100 us apart with 5 ms of jitter: the draw would reorder, the link must not. */
	for (i = 0; i < n; i++) {
		now = 10000 * 1000 * MS + (int64_t)i * 100 * US;
		CHECK_INT(ds_linkem_enqueue(l, now, 100, &r), 0);
		if (i > 0 && r < last)
			reordered++;
		CHECK(r >= now + 5 * MS);
		last = r;
	}
	CHECK_INT(reordered, 0);
	ds_linkem_free(l);
}

static void jitter_larger_than_delay_never_releases_before_serialized(void)
{
	struct ds_linkem *l = link_with("8mbit", "1ms", "3ms", NULL);
	int64_t r;

	for (int i = 0; i < 1000; i++) {
		int64_t now = (int64_t)i * 50 * MS;

		CHECK_INT(ds_linkem_enqueue(l, now, 1000, &r), 0);
		CHECK(r >= now + 1 * MS); /* 1000 bytes at 8 Mbit/s */
		CHECK(r <= now + 1 * MS + 4 * MS);
	}
	ds_linkem_free(l);
}

static void same_seed_same_jitter(void)
{
	struct ds_linkem *a = link_with(NULL, "10ms", "2ms", NULL);
	struct ds_linkem *b = link_with(NULL, "10ms", "2ms", NULL);
	int64_t ra, rb;
	int same = 1;

	for (int i = 0; i < 100; i++) {
		ds_linkem_enqueue(a, (int64_t)i * 20 * MS, 100, &ra);
		ds_linkem_enqueue(b, (int64_t)i * 20 * MS, 100, &rb);
		same &= ra == rb;
	}
	CHECK(same);
	ds_linkem_free(a);
	ds_linkem_free(b);
}

static void tail_drops_beyond_limit(void)
{
	struct ds_linkem *l = link_with("1mbit", "50ms", NULL, "3");
	int64_t r, last = 0;

	/* 1000 bytes at 1 Mbit/s = 8 ms each; a burst of 5 at t=0 keeps 3, drops 2. */
	for (int i = 0; i < 3; i++)
		CHECK_INT(ds_linkem_enqueue(l, 0, 1000, &r), 0);
	last = r;
	CHECK_INT(ds_linkem_backlog(l, 0), 3);
	CHECK_INT(ds_linkem_enqueue(l, 0, 1000, &r), -ENOBUFS);
	CHECK_INT(ds_linkem_enqueue(l, 1 * MS, 1000, &r), -ENOBUFS);
	/* At 8 ms the first has been serialized: room for one; it goes after the third. */
	CHECK_INT(ds_linkem_backlog(l, 8 * MS), 2);
	CHECK_INT(ds_linkem_enqueue(l, 8 * MS, 1000, &r), 0);
	CHECK_INT(r, last + 8 * MS);
	CHECK_INT(ds_linkem_enqueue(l, 8 * MS, 1000, &r), -ENOBUFS);
	/* Packets in propagation (delay) do not count against the limit. */
	CHECK_INT(ds_linkem_backlog(l, 32 * MS), 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(ds_linkem_enqueue(l, 32 * MS, 1000, &r), 0);
	ds_linkem_free(l);
}

static void new_params_apply_to_later_packets_only(void)
{
	struct ds_linkem *l = link_with("10mbit", "20ms", NULL, NULL);
	struct ds_linkem_params p;
	int64_t r1, r2, r3;

	CHECK_INT(ds_linkem_enqueue(l, 0, 1250, &r1), 0); /* 1 ms at 10 Mbit/s */
	CHECK_INT(r1, 21 * MS);
	ds_linkem_get_params(l, &p);
	CHECK_INT(ds_linkem_param_set(&p, "rate", "1mbit"), 0);
	CHECK_INT(ds_linkem_param_set(&p, "delay", "5ms"), 0);
	ds_linkem_set_params(l, &p);
	/* Queued behind the first; 10 ms at the new rate; the shorter delay cannot pass it. */
	CHECK_INT(ds_linkem_enqueue(l, 0, 1250, &r2), 0);
	CHECK_INT(r2, 21 * MS);
	CHECK_INT(ds_linkem_enqueue(l, 100 * MS, 1250, &r3), 0);
	CHECK_INT(r3, 100 * MS + 10 * MS + 5 * MS);
	ds_linkem_get_params(l, &p);
	CHECK_INT(p.delay_ns, 5 * MS);
	ds_linkem_free(l);
}

static void lowering_the_limit_drops_until_drained(void)
{
	struct ds_linkem *l = link_with("1mbit", NULL, NULL, "10");
	struct ds_linkem_params p;
	int64_t r;

	for (int i = 0; i < 10; i++)
		CHECK_INT(ds_linkem_enqueue(l, 0, 1000, &r), 0);
	ds_linkem_get_params(l, &p);
	p.limit = 2;
	ds_linkem_set_params(l, &p);
	CHECK_INT(ds_linkem_enqueue(l, 0, 1000, &r), -ENOBUFS);
	CHECK_INT(ds_linkem_enqueue(l, 64 * MS, 1000, &r), -ENOBUFS); /* 2 left, still full */
	CHECK_INT(ds_linkem_enqueue(l, 72 * MS, 1000, &r), 0);
	CHECK_INT(r, 88 * MS);
	ds_linkem_free(l);
}

static void long_runs_keep_the_rate_exact(void)
{
	struct ds_linkem *l = link_with("3mbit", NULL, NULL, "100000");
	int64_t r = 0;

	/* 100000 packets of 1000 bytes: 800 Mbit at 3 Mbit/s, no rounding drift. */
	for (int i = 0; i < 100000; i++)
		CHECK_INT(ds_linkem_enqueue(l, 0, 1000, &r), 0);
	CHECK(r >= 266666666667LL - 100000 && r <= 266666666667LL + 100000);
	CHECK_INT(ds_linkem_enqueue(l, 0, 1000, &r), -ENOBUFS);
	ds_linkem_free(l);
}

int main(void)
{
	UNIT_RUN(parses_options_tc_style);
	UNIT_RUN(rejects_bad_values_and_keys);
	UNIT_RUN(parses_params_file_with_comments);
	UNIT_RUN(params_file_error_names_line_and_changes_nothing);
	UNIT_RUN(serializes_back_to_back_packets_at_rate);
	UNIT_RUN(adds_overhead_to_each_packet);
	UNIT_RUN(delays_without_rate);
	UNIT_RUN(delay_adds_after_serialization);
	UNIT_RUN(jitter_stays_in_bounds_and_never_reorders);
	UNIT_RUN(jitter_larger_than_delay_never_releases_before_serialized);
	UNIT_RUN(same_seed_same_jitter);
	UNIT_RUN(tail_drops_beyond_limit);
	UNIT_RUN(new_params_apply_to_later_packets_only);
	UNIT_RUN(lowering_the_limit_drops_until_drained);
	UNIT_RUN(long_runs_keep_the_rate_exact);
	UNIT_EXIT();
}
