// SPDX-License-Identifier: MIT
#define UNIT_NAME "grade"
#include "unit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "grade.h"

static struct ds_grade_config defaults(void)
{
	struct ds_grade_config c;

	ds_grade_config_default(&c);
	return c;
}

static void thresholds_are_the_spec_defaults(void)
{
	struct ds_grade_config c = defaults();

	CHECK(c.rtt_ms[0] == 50 && c.rtt_ms[1] == 100 && c.rtt_ms[2] == 200);
	CHECK(c.retrans_pct[0] == 0.5 && c.retrans_pct[1] == 1 && c.retrans_pct[2] == 3);
	CHECK(c.min_age_s == 0.5);
	CHECK_INT(c.min_sessions, 3);
	CHECK(!c.include_lan);
	CHECK_INT(ds_grade_config_check(&c), 0);
}

static void each_band_has_an_exclusive_upper_bound(void)
{
	struct ds_grade_config c = defaults();

	CHECK_INT(ds_grade_of(&c, 49.999, 0), DS_GRADE_EXCELLENT);
	CHECK_INT(ds_grade_of(&c, 50, 0), DS_GRADE_GOOD);
	CHECK_INT(ds_grade_of(&c, 99.9, 0), DS_GRADE_GOOD);
	CHECK_INT(ds_grade_of(&c, 100, 0), DS_GRADE_FAIR);
	CHECK_INT(ds_grade_of(&c, 199.9, 0), DS_GRADE_FAIR);
	CHECK_INT(ds_grade_of(&c, 200, 0), DS_GRADE_POOR);
	CHECK_INT(ds_grade_of(&c, 1, 0.49), DS_GRADE_EXCELLENT);
	CHECK_INT(ds_grade_of(&c, 1, 0.5), DS_GRADE_GOOD);
	CHECK_INT(ds_grade_of(&c, 1, 1), DS_GRADE_FAIR);
	CHECK_INT(ds_grade_of(&c, 1, 2.99), DS_GRADE_FAIR);
	CHECK_INT(ds_grade_of(&c, 1, 3), DS_GRADE_POOR);
}

static void worst_of_the_two_metrics_wins(void)
{
	struct ds_grade_config c = defaults();

	/* Great latency, heavy retransmits: Poor, not an average. */
	CHECK_INT(ds_grade_of(&c, 30, 5), DS_GRADE_POOR);
	CHECK_INT(ds_grade_of(&c, 150, 0.1), DS_GRADE_FAIR);
	CHECK_INT(ds_grade_of(&c, 60, 0.8), DS_GRADE_GOOD);
	CHECK_INT(ds_grade_of(&c, NAN, 0), DS_GRADE_NONE);
	/* Nothing sent: the retransmit share is unknown, RTT alone decides. */
	CHECK_INT(ds_grade_of(&c, 10, NAN), DS_GRADE_EXCELLENT);
}

static void retrans_pct_is_retransmitted_over_sent_segments(void)
{
	CHECK(fabs(ds_grade_retrans_pct(3, 200) - 1.5) < 1e-9);
	CHECK(ds_grade_retrans_pct(0, 10) == 0);
	CHECK(isnan(ds_grade_retrans_pct(0, 0)));
}

static void names_round_trip(void)
{
	enum ds_grade g;
	int i;

	for (i = DS_GRADE_EXCELLENT; i <= DS_GRADE_POOR; i++) {
		CHECK_INT(ds_grade_parse_name(ds_grade_name((enum ds_grade)i), &g), 0);
		CHECK_INT(g, i);
	}
	CHECK_INT(ds_grade_parse_name("poor", &g), 0);
	CHECK_INT(g, DS_GRADE_POOR);
	CHECK_INT(ds_grade_parse_name("", &g), 0);
	CHECK_INT(g, DS_GRADE_NONE);
	CHECK_INT(ds_grade_parse_name("Great", &g), -EINVAL);
	CHECK_STR(ds_grade_name(DS_GRADE_NONE), "");
}

static struct ds_addr A(const char *s) {
	struct ds_addr a;

	if (ds_addr_parse(s, 0, DS_ADDR_PORT_OPTIONAL, &a) < 0)
		abort();
	return a;
}

static void
loopback_lan_and_young_sessions_are_not_graded(void)
{
	struct ds_grade_config c = defaults();
	struct ds_addr pub_l = A("198.18.0.1:40000"), pub_r = A("203.0.113.9:443");
	struct ds_addr lo_l = A("127.0.0.1:40000"), lo_r = A("127.0.0.1:80");
	struct ds_addr v6lo = A("[::1]:80"), lan = A("192.168.1.10:445");
	struct ds_addr ll6 = A("[fe80::1]:22"), self_r = A("198.18.0.1:22");

	CHECK_INT(ds_grade_eligible(&c, &pub_l, &pub_r, 10, true), DS_GRADE_GRADED);
	CHECK_INT(ds_grade_eligible(&c, &lo_l, &lo_r, 10, true), DS_GRADE_SKIP_LOOPBACK);
	CHECK_INT(ds_grade_eligible(&c, &v6lo, &v6lo, 10, true), DS_GRADE_SKIP_LOOPBACK);
	/* A session to one of this host's own addresses runs over loopback too. */
	CHECK_INT(ds_grade_eligible(&c, &pub_l, &self_r, 10, true), DS_GRADE_SKIP_LOOPBACK);
	CHECK_INT(ds_grade_eligible(&c, &pub_l, &lan, 10, true), DS_GRADE_SKIP_LAN);
	CHECK_INT(ds_grade_eligible(&c, &pub_l, &ll6, 10, true), DS_GRADE_SKIP_LAN);
	CHECK_INT(ds_grade_eligible(&c, &pub_l, &pub_r, 0.49, true), DS_GRADE_SKIP_YOUNG);
	CHECK_INT(ds_grade_eligible(&c, &pub_l, &pub_r, 0.5, true), DS_GRADE_GRADED);
	CHECK_INT(ds_grade_eligible(&c, &pub_l, &pub_r, -1, true), DS_GRADE_SKIP_YOUNG);
	CHECK_INT(ds_grade_eligible(&c, &pub_l, &pub_r, 10, false), DS_GRADE_SKIP_NO_INFO);
	c.include_lan = true;
	CHECK_INT(ds_grade_eligible(&c, &pub_l, &lan, 10, true), DS_GRADE_GRADED);
	/* --lan never lets loopback in. */
	CHECK_INT(ds_grade_eligible(&c, &lo_l, &lo_r, 10, true), DS_GRADE_SKIP_LOOPBACK);
	CHECK_STR(ds_grade_skip_name(DS_GRADE_SKIP_YOUNG), "young");
}

static void threshold_lists_must_increase(void)
{
	double t[3] = {1, 2, 3};

	CHECK_INT(ds_grade_parse_thresholds("20,40,80", t), 0);
	CHECK(t[0] == 20 && t[1] == 40 && t[2] == 80);
	CHECK_INT(ds_grade_parse_thresholds("0.25,0.5,2", t), 0);
	CHECK(t[0] == 0.25);
	CHECK(ds_grade_parse_thresholds("50,50,200", t) < 0);
	CHECK(ds_grade_parse_thresholds("100,50,200", t) < 0);
	CHECK(ds_grade_parse_thresholds("50,100", t) < 0);
	CHECK(ds_grade_parse_thresholds("50,100,200,400", t) < 0);
	CHECK(ds_grade_parse_thresholds("50,abc,200", t) < 0);
	CHECK(ds_grade_parse_thresholds("-1,1,2", t) < 0);
	CHECK(t[0] == 0.25 && t[1] == 0.5 && t[2] == 2); /* untouched on error */
}

static void config_file_sets_and_rejects(void)
{
	struct ds_grade_config c = defaults();
	char path[] = "/tmp/test_grade_conf.XXXXXX";
	unsigned line = 99;
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fprintf(f, "# thresholds for a satellite office\n\n"
		   "excellent_rtt_ms = 300\n  good_rtt_ms=600 # trailing comment\n"
		   "fair_rtt_ms = 900\nfair_retrans_pct = 5\nmin_age_s = 2\nmin_sessions = 5\n"
		   "include_lan = yes\n");
	fclose(f);
	CHECK_INT(ds_grade_config_load(&c, path, &line), 0);
	CHECK_INT(line, 0);
	CHECK(c.rtt_ms[0] == 300 && c.rtt_ms[1] == 600 && c.rtt_ms[2] == 900);
	CHECK(c.retrans_pct[2] == 5 && c.retrans_pct[0] == 0.5);
	CHECK(c.min_age_s == 2);
	CHECK_INT(c.min_sessions, 5);
	CHECK(c.include_lan);

	f = fopen(path, "w");
	fprintf(f, "good_rtt_ms = 60\nbogus_key = 1\n");
	fclose(f);
	c = defaults();
	CHECK_INT(ds_grade_config_load(&c, path, &line), -ENOENT);
	CHECK_INT(line, 2);

	f = fopen(path, "w");
	fprintf(f, "good_rtt_ms 60\n");
	fclose(f);
	CHECK_INT(ds_grade_config_load(&c, path, &line), -EINVAL);
	CHECK_INT(line, 1);

	f = fopen(path, "w");
	fprintf(f, "excellent_rtt_ms = 150\n"); /* above good: out of order */
	fclose(f);
	c = defaults();
	CHECK_INT(ds_grade_config_load(&c, path, &line), -EINVAL);
	CHECK_INT(line, 0);
	unlink(path);
	CHECK_INT(ds_grade_config_load(&c, path, &line), -ENOENT);
	CHECK_INT(line, 0);
}

static void rollup_medians_rtt_and_pools_segments(void)
{
	struct ds_grade_config c = defaults();
	struct ds_grade_item it[4] = {
	    {10, 0, 1000, DS_GRADE_EXCELLENT},
	    {30, 0, 1000, DS_GRADE_EXCELLENT},
	    {180, 40, 1000, DS_GRADE_POOR},
	    {40, 0, 1000, DS_GRADE_EXCELLENT},
	};
	double scratch[4];
	struct ds_grade_rollup r;

	ds_grade_rollup(&c, it, 4, 3, scratch, &r);
	CHECK_INT(r.sessions, 4);
	CHECK(r.median_rtt_ms == 35);            /* (30 + 40) / 2 */
	CHECK(fabs(r.retrans_pct - 1.0) < 1e-9); /* 40 of 4000 */
	CHECK(fabs(r.clean_pct - 75.0) < 1e-9);
	CHECK_INT(r.per_grade[DS_GRADE_EXCELLENT], 3);
	CHECK_INT(r.per_grade[DS_GRADE_POOR], 1);
	CHECK_INT(r.grade, DS_GRADE_FAIR); /* 35 ms Excellent, 1.0 % Fair */

	ds_grade_rollup(&c, it, 2, 3, scratch, &r); /* two sessions: no app grade */
	CHECK_INT(r.grade, DS_GRADE_NONE);
	CHECK(r.median_rtt_ms == 20);
	ds_grade_rollup(&c, it, 0, 1, scratch, &r);
	CHECK_INT(r.grade, DS_GRADE_NONE);
	CHECK(isnan(r.median_rtt_ms) && isnan(r.retrans_pct));
}

static void timeline_buckets(void)
{
	int64_t w = 300 * 1000000000LL;

	CHECK_INT(ds_grade_bucket(0, w, 288, 0), 0);
	CHECK_INT(ds_grade_bucket(0, w, 288, w - 1), 0);
	CHECK_INT(ds_grade_bucket(0, w, 288, w), 1);
	CHECK_INT(ds_grade_bucket(0, w, 288, 288 * w - 1), 287);
	CHECK_INT(ds_grade_bucket(0, w, 288, 288 * w), -1);
	CHECK_INT(ds_grade_bucket(w, w, 288, 0), -1);
	CHECK_INT(ds_grade_worse(DS_GRADE_GOOD, DS_GRADE_FAIR), DS_GRADE_FAIR);
}

int main(void)
{
	UNIT_RUN(thresholds_are_the_spec_defaults);
	UNIT_RUN(each_band_has_an_exclusive_upper_bound);
	UNIT_RUN(worst_of_the_two_metrics_wins);
	UNIT_RUN(retrans_pct_is_retransmitted_over_sent_segments);
	UNIT_RUN(names_round_trip);
	UNIT_RUN(loopback_lan_and_young_sessions_are_not_graded);
	UNIT_RUN(threshold_lists_must_increase);
	UNIT_RUN(config_file_sets_and_rejects);
	UNIT_RUN(rollup_medians_rtt_and_pools_segments);
	UNIT_RUN(timeline_buckets);
	UNIT_EXIT();
}
