// SPDX-License-Identifier: MIT
#define UNIT_NAME "report"
#include "unit.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "report.h"

#define HDR DS_RESULTS_HEADER "\n"

static struct ds_report_thresholds defaults(void)
{
	struct ds_report_thresholds t;

	ds_report_thresholds_default(&t);
	return t;
}

static void latency_needs_both_percent_and_milliseconds(void)
{
	struct ds_report_thresholds t = defaults();

	/* Baseline 10 ms: marginal needs > 12 ms (20 %) and > 15 ms (5 ms): 15 is the line. */
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 9.0, 10.0, &t), DS_STATUS_WITHIN);
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 14.9, 10.0, &t), DS_STATUS_WITHIN);
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 15.0, 10.0, &t), DS_STATUS_WITHIN);
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 15.1, 10.0, &t), DS_STATUS_MARGINAL);
	/* Outside needs > 15 ms (50 %) and > 30 ms (20 ms). */
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 30.0, 10.0, &t), DS_STATUS_MARGINAL);
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 30.1, 10.0, &t), DS_STATUS_OUTSIDE);
	/* A LAN: +0.5 ms is +170 % but under 5 ms: within. */
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 0.8, 0.3, &t), DS_STATUS_WITHIN);
	/* A long path: +25 ms is only +8 %: within. */
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 325, 300, &t), DS_STATUS_WITHIN);
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 400, 300, &t), DS_STATUS_MARGINAL);
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 451, 300, &t), DS_STATUS_OUTSIDE);
	/* A zero baseline: any rise past the ms thresholds counts. */
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 21, 0, &t), DS_STATUS_OUTSIDE);
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, NAN, 10, &t), DS_STATUS_NONE);
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 10, NAN, &t), DS_STATUS_NONE);
	/* Adjusted: percent only. */
	t.latency_marginal_ms = 0;
	CHECK_INT(ds_report_judge_value(DS_METRIC_LATENCY, 0.8, 0.3, &t), DS_STATUS_MARGINAL);
}

static void throughput_is_judged_by_relative_drop(void)
{
	struct ds_report_thresholds t = defaults();

	CHECK_INT(ds_report_judge_value(DS_METRIC_THROUGHPUT, 120, 100, &t), DS_STATUS_WITHIN);
	CHECK_INT(ds_report_judge_value(DS_METRIC_THROUGHPUT, 80, 100, &t), DS_STATUS_WITHIN);
	CHECK_INT(ds_report_judge_value(DS_METRIC_THROUGHPUT, 79.9, 100, &t), DS_STATUS_MARGINAL);
	CHECK_INT(ds_report_judge_value(DS_METRIC_THROUGHPUT, 50, 100, &t), DS_STATUS_MARGINAL);
	CHECK_INT(ds_report_judge_value(DS_METRIC_THROUGHPUT, 49.9, 100, &t), DS_STATUS_OUTSIDE);
	CHECK_INT(ds_report_judge_value(DS_METRIC_THROUGHPUT, 0, 100, &t), DS_STATUS_OUTSIDE);
	CHECK_INT(ds_report_judge_value(DS_METRIC_THROUGHPUT, 0, 0, &t), DS_STATUS_WITHIN);
}

static void loss_is_judged_in_percentage_points(void)
{
	struct ds_report_thresholds t = defaults();

	CHECK_INT(ds_report_judge_value(DS_METRIC_LOSS, 1, 0, &t), DS_STATUS_WITHIN);
	CHECK_INT(ds_report_judge_value(DS_METRIC_LOSS, 1.5, 0, &t), DS_STATUS_MARGINAL);
	CHECK_INT(ds_report_judge_value(DS_METRIC_LOSS, 5, 0, &t), DS_STATUS_MARGINAL);
	CHECK_INT(ds_report_judge_value(DS_METRIC_LOSS, 5.5, 0, &t), DS_STATUS_OUTSIDE);
	CHECK_INT(ds_report_judge_value(DS_METRIC_LOSS, 12, 10, &t), DS_STATUS_MARGINAL);
}

static void baseline_ignores_a_single_lucky_sample(void)
{
	struct ds_report_thresholds t = defaults();
	double v[41];
	int i;

	/* 40 samples of 10..13.9 ms and one 1 ms outlier: the 5th percentile is not 1. */
	for (i = 0; i < 40; i++)
		v[i] = 10 + (i % 40) * 0.1;
	v[40] = 1;
	CHECK(fabs(ds_report_baseline(DS_METRIC_LATENCY, v, 41, &t) - 10.1) < 1e-9);
	/* Throughput mirrors it: one 1000 Mbit/s outlier among 50..53.9. */
	for (i = 0; i < 40; i++)
		v[i] = 50 + i * 0.1;
	v[40] = 1000;
	CHECK(fabs(ds_report_baseline(DS_METRIC_THROUGHPUT, v, 41, &t) - 53.8) < 1e-9);
	/* Fewer than 21 samples: the best one, even if it is an outlier. */
	for (i = 0; i < 20; i++)
		v[i] = 10 + i;
	v[7] = 2;
	CHECK(ds_report_baseline(DS_METRIC_LATENCY, v, 20, &t) == 2);
	/* Percentile 0: the single best. */
	t.baseline_percentile = 0;
	v[0] = 7;
	v[1] = 3;
	v[2] = 5;
	CHECK(ds_report_baseline(DS_METRIC_LATENCY, v, 3, &t) == 3);
	CHECK(ds_report_baseline(DS_METRIC_THROUGHPUT, v, 3, &t) == 7);
	CHECK(isnan(ds_report_baseline(DS_METRIC_LOSS, v, 0, &t)));
	/* One sample: it is its own baseline. */
	t = defaults();
	v[0] = 42;
	CHECK(ds_report_baseline(DS_METRIC_LATENCY, v, 1, &t) == 42);
}

struct warnings {
	int n;
	long lines[16];
	char last[128];
};

static void collect(void *ctx, long line, const char *why)
{
	struct warnings *w = ctx;

	if (w->n < 16)
		w->lines[w->n] = line;
	w->n++;
	snprintf(w->last, sizeof(w->last), "%s", why);
}

/* Read text into a judged report; the warnings in *w. */
static struct ds_report *build(const char *text, struct warnings *w, long *added,
			       const struct ds_report_thresholds *t)
{
	struct ds_report_thresholds dt = defaults();
	struct ds_csv_reader *rd = NULL;
	struct ds_report *rep = NULL;
	const char *missing = NULL;

	memset(w, 0, sizeof(*w));
	CHECK_INT(ds_report_new(&rep), 0);
	CHECK_INT(ds_csv_reader_mem(text, strlen(text), &rd), 0);
	if (!rd)
		return rep;
	*added = ds_report_read(rep, rd, collect, w, &missing);
	ds_csv_reader_free(rd);
	CHECK_INT(ds_report_judge(rep, t ? t : &dt), 0);
	return rep;
}

static int rank(const struct ds_report *rep, const char *name)
{
	size_t i;

	for (i = 0; i < ds_report_nagents(rep); i++)
		if (strcmp(ds_report_agent(rep, i), name) == 0)
			return (int)i;
	return -1;
}

static const struct ds_report_cell *cell(const struct ds_report *rep, const char *s, const char *d)
{
	return ds_report_cell(rep, (size_t)rank(rep, s), (size_t)rank(rep, d));
}

static void missing_required_column_is_named(void)
{
	static const char text[] = "ts,tool,run_id,src,dst,path,rtt_ms,rtt_min_ms,rtt_ewma_ms,"
				   "jitter_ms,loss_fwd_pct,loss_rev_pct,bw_fwd_mbps,bw_rev_mbps,"
				   "bytes\n2026-11-23T12:00:00.000Z,ds-pairprobe,1,a,b,punch,1,1,1,"
				   "0,0,0,1,1,100\n";
	struct ds_results_columns cols;
	struct ds_csv_reader *rd;
	struct ds_report *rep;
	const char *missing = NULL;

	CHECK_INT(ds_csv_reader_mem(text, sizeof(text) - 1, &rd), 0);
	CHECK_INT(ds_results_columns_find(rd, &cols, &missing), -EBADMSG);
	CHECK_STR(missing, "outcome");
	ds_report_new(&rep);
	missing = NULL;
	CHECK_INT(ds_report_read(rep, rd, NULL, NULL, &missing), -EBADMSG);
	CHECK_STR(missing, "outcome");
	ds_report_free(rep);
	ds_csv_reader_free(rd);
}

static void columns_are_found_by_name_in_any_order(void)
{
	static const char text[] = "outcome,bw_mbps,extra,loss_pct,dst,src,rtt_ms,ts\n"
				   "ok,50,whatever,0,b,a,12.5,2026-11-23T12:00:00.000Z\n";
	struct warnings w;
	long added = 0;
	struct ds_report *rep = build(text, &w, &added, NULL);
	const struct ds_report_cell *c = cell(rep, "a", "b");

	CHECK_INT(added, 1);
	CHECK_INT(w.n, 0);
	CHECK(c != NULL);
	if (c) {
		CHECK(c->m[DS_METRIC_LATENCY].value == 12.5);
		CHECK(c->m[DS_METRIC_THROUGHPUT].value == 50);
		CHECK_INT(c->m[DS_METRIC_LATENCY].status, DS_STATUS_WITHIN);
	}
	CHECK(cell(rep, "b", "a") == NULL);
	ds_report_free(rep);
}

static void bad_rows_are_skipped_with_their_line(void)
{
	static const char text[] = HDR
	    "2026-11-23T12:00:00.000Z,ds-mesh,1,a,b,fwd,punch,ok,10,,,,,,0,50,,\n"       /* 2 ok */
	    "2026-11-23T12:00:00.000Z,ds-mesh,1,a,b,fwd,punch,ok,10\n"                   /* 3 */
	    "yesterday,ds-mesh,1,a,b,fwd,punch,ok,10,,,,,,0,50,,\n"                      /* 4 */
	    "2026-11-23T12:00:00.000Z,ds-mesh,1,a,b,fwd,punch,ok,ten,,,,,,0,50,,\n"      /* 5 */
	    "2026-11-23T12:00:00.000Z,ds-mesh,1,a,b,fwd,punch,fine,10,,,,,,0,50,,\n"     /* 6 */
	    "2026-11-23T12:00:00.000Z,ds-mesh,1,a,a,fwd,punch,ok,10,,,,,,0,50,,\n"       /* 7 */
	    "2026-11-23T12:00:00.000Z,ds-mesh,1,a,b,fwd,punch,ok,10,,,,,,101,50,,\n"     /* 8 */
	    "2026-11-23T12:00:00.000Z,ds-mesh,1,a,b,fwd,punch,ok,nan,,,,,,0,50,,\n"      /* 9 */
	    "2026-11-23T12:00:00.000Z,ds-mesh,1,a\033[2J,b,fwd,punch,ok,1,,,,,,0,50,,\n" /* 10 */
	    "2026-11-23T12:00:00.000Z,ds-mesh,1,a,b,sideways,punch,ok,1,,,,,,0,50,,\n"   /* 11 */
	    "2026-11-23T12:00:00.000Z,ds-mesh,1,a,b,fwd,\"bad path\",ok,1,,,,,,0,50,,\n" /* 12 */
	    "2026-11-23T12:00:01.000Z,ds-mesh,1,b,a,fwd,punch,down,junk,,,,,,,,,\n"      /* 13 ok */
	    /* An open quote runs to the end of the file, as RFC 4180 says it may. */
	    "\"2026-11-23T12:00:00.000Z,ds-mesh\n"; /* 14 */
	struct warnings w;
	long added = 0;
	struct ds_report *rep = build(text, &w, &added, NULL);

	CHECK_INT(added, 2);
	CHECK_INT(w.n, 11);
	CHECK_INT(w.lines[0], 3);
	CHECK_INT(w.lines[1], 4);
	CHECK_INT(w.lines[2], 5);
	CHECK_INT(w.lines[3], 6);
	CHECK_INT(w.lines[4], 7);
	CHECK_INT(w.lines[5], 8);
	CHECK_INT(w.lines[6], 9);
	CHECK_INT(w.lines[7], 10);
	CHECK_INT(w.lines[8], 11);
	CHECK_INT(w.lines[9], 12);
	CHECK_INT(w.lines[10], 14);
	CHECK_INT(ds_report_nagents(rep), 2);
	ds_report_free(rep);
}

static void current_value_is_the_latest_row(void)
{
	static const char text[] = HDR
	    /* Out of order on purpose: the 12:04 row is the current one. */
	    "2026-11-23T12:04:00.000Z,ds-mesh,3,a,b,fwd,punch,ok,35,,,,,,0,50,,\n"
	    "2026-11-23T12:00:00.000Z,ds-mesh,1,a,b,fwd,punch,ok,10,,,,,,0,50,,\n"
	    "2026-11-23T12:02:00.000Z,ds-mesh,2,a,b,fwd,punch,ok,11,,,,,,0,50,,\n"
	    /* b's test of a repeats b's round trip on the rev row: not a's latency. */
	    "2026-11-23T12:04:10.000Z,ds-mesh,4,a,b,rev,punch,ok,99,,,,,,0,49,,\n"
	    "2026-11-23T12:04:10.000Z,ds-mesh,4,b,a,fwd,punch,ok,99,,,,,,0,50,,\n";
	struct warnings w;
	long added = 0;
	struct ds_report *rep = build(text, &w, &added, NULL);
	const struct ds_report_cell *ab = cell(rep, "a", "b");

	CHECK_INT(added, 5);
	CHECK(ab != NULL);
	if (!ab)
		goto out;
	CHECK(ab->m[DS_METRIC_LATENCY].value == 35);
	CHECK(ab->m[DS_METRIC_LATENCY].baseline == 10);
	CHECK_INT(ab->m[DS_METRIC_LATENCY].samples, 3);
	CHECK_INT(ab->m[DS_METRIC_LATENCY].status, DS_STATUS_OUTSIDE);
	/* Throughput from both rows: the rev row is the latest. */
	CHECK(ab->m[DS_METRIC_THROUGHPUT].value == 49);
	CHECK_INT(ab->m[DS_METRIC_THROUGHPUT].samples, 4);
	CHECK_INT(ab->rows, 4);
	CHECK_INT(ds_report_cell_status(ab, DS_METRIC_ALL), DS_STATUS_OUTSIDE);
	CHECK_INT(ds_report_cell_status(ab, 1u << DS_METRIC_LOSS), DS_STATUS_WITHIN);
out:
	ds_report_free(rep);
}

static void down_stale_refused_and_never_measured(void)
{
	static const char text[] =
	    HDR "2026-11-23T12:00:00.000Z,ds-mesh,1,a,b,fwd,punch,ok,10,,,,,,0,50,,\n"
		"2026-11-23T12:20:00.000Z,ds-mesh,2,a,b,fwd,,down,,,,,,,,,,\n"
		/* A down that is followed by an ok row is over. */
		"2026-11-23T12:19:00.000Z,ds-mesh,3,b,a,fwd,,down,,,,,,,,,,\n"
		"2026-11-23T12:19:30.000Z,ds-mesh,3,b,a,fwd,punch,ok,10,,,,,,0,50,,\n"
		/* 12:05 is more than 10 min before the newest row (12:20): stale. */
		"2026-11-23T12:05:00.000Z,ds-mesh,4,a,c,fwd,punch,ok,10,,,,,,0,50,,\n"
		"2026-11-23T12:18:00.000Z,ds-mesh,5,c,a,fwd,punch,refused,,,,,,,,,,\n"
		"2026-11-23T12:18:00.000Z,ds-mesh,6,b,c,fwd,punch,disabled,,,,,,,,,,\n";
	struct ds_report_thresholds t = defaults();
	size_t counts[DS_STATUS_COUNT];
	struct warnings w;
	long added = 0;
	struct ds_report *rep = build(text, &w, &added, NULL);
	const struct ds_report_cell *c;

	CHECK_INT(added, 7);
	c = cell(rep, "a", "b");
	CHECK(c && c->m[DS_METRIC_LATENCY].status == DS_STATUS_DOWN);
	CHECK(c && c->m[DS_METRIC_LOSS].status == DS_STATUS_DOWN);
	CHECK(c && isnan(c->m[DS_METRIC_LATENCY].value));
	CHECK(c && c->m[DS_METRIC_LATENCY].baseline == 10);
	c = cell(rep, "b", "a");
	CHECK(c && c->m[DS_METRIC_LATENCY].status == DS_STATUS_WITHIN);
	c = cell(rep, "a", "c");
	CHECK(c && c->m[DS_METRIC_LATENCY].status == DS_STATUS_NONE);
	CHECK(c && c->m[DS_METRIC_LATENCY].reason == DS_REASON_STALE);
	c = cell(rep, "c", "a");
	CHECK(c && c->m[DS_METRIC_THROUGHPUT].reason == DS_REASON_REFUSED);
	c = cell(rep, "b", "c");
	CHECK(c && c->m[DS_METRIC_THROUGHPUT].reason == DS_REASON_DISABLED);
	CHECK(cell(rep, "c", "b") == NULL);
	ds_report_counts(rep, DS_METRIC_LATENCY, counts);
	CHECK_INT(counts[DS_STATUS_DOWN], 1);
	CHECK_INT(counts[DS_STATUS_WITHIN], 1);
	/* stale a→c, refused c→a, disabled b→c, never measured c→b. */
	CHECK_INT(counts[DS_STATUS_NONE], 4);
	CHECK_INT(counts[DS_STATUS_MARGINAL] + counts[DS_STATUS_OUTSIDE], 0);
	ds_report_free(rep);

	/* With max age off, a→c is judged again. */
	t.max_age_ns = 0;
	rep = build(text, &w, &added, &t);
	c = cell(rep, "a", "c");
	CHECK(c && c->m[DS_METRIC_LATENCY].status == DS_STATUS_WITHIN);
	ds_report_free(rep);
}

static void lower_bound_counts_only_when_it_clears_the_line(void)
{
	static const char text[] =
	    HDR "2026-11-23T12:00:00.000Z,ds-mesh,1,a,b,fwd,lan,ok,1,,,,,,0,900,,\n"
		"2026-11-23T12:02:00.000Z,ds-mesh,2,a,b,fwd,lan,ok,1,,,,,,0,,800,\n"
		"2026-11-23T12:00:00.000Z,ds-mesh,3,b,a,fwd,lan,ok,1,,,,,,0,900,,\n"
		"2026-11-23T12:02:00.000Z,ds-mesh,4,b,a,fwd,lan,ok,1,,,,,,0,,500,\n";
	struct warnings w;
	long added = 0;
	struct ds_report *rep = build(text, &w, &added, NULL);
	const struct ds_report_cell *c = cell(rep, "a", "b");

	CHECK(c && c->m[DS_METRIC_THROUGHPUT].lower_bound);
	CHECK(c && c->m[DS_METRIC_THROUGHPUT].status == DS_STATUS_WITHIN);
	CHECK(c && c->m[DS_METRIC_THROUGHPUT].baseline == 900);
	c = cell(rep, "b", "a");
	CHECK(c && c->m[DS_METRIC_THROUGHPUT].status == DS_STATUS_NONE);
	CHECK(c && c->m[DS_METRIC_THROUGHPUT].reason == DS_REASON_LOWER_BOUND);
	ds_report_free(rep);
}

static void rows_beyond_the_horizon_are_refused(void)
{
	struct ds_results_row row = {.src = "a", .dst = "b", .outcome = DS_OUTCOME_DOWN};
	struct ds_report *rep;

	CHECK_INT(ds_report_new(&rep), 0);
	ds_report_set_horizon(rep, 2000);
	row.ts_ns = 2000;
	CHECK_INT(ds_report_add(rep, &row), 0);
	row.ts_ns = 2001;
	CHECK_INT(ds_report_add(rep, &row), -ERANGE);
	row.dst = "a";
	CHECK_INT(ds_report_add(rep, &row), -EINVAL);
	CHECK_INT(ds_report_nrows(rep), 1);
	CHECK_INT(ds_report_newest(rep), 2000);
	ds_report_free(rep);
}

static char *render(struct ds_report *rep, int which, unsigned metrics);

static void cells_come_out_in_name_order_whatever_the_input_order(void)
{
	static const char text[] =
		HDR
		"2026-11-23T12:00:00.000Z,ds-mesh,1,zulu,yankee,fwd,lan,ok,1,,,,,,0,50,,\n"
		"2026-11-23T12:00:00.000Z,ds-mesh,1,zulu,alpha,fwd,lan,ok,2,,,,,,0,50,,\n"
		"2026-11-23T12:00:00.000Z,ds-mesh,1,yankee,zulu,fwd,lan,ok,3,,,,,,0,50,,\n"
		"2026-11-23T12:00:00.000Z,ds-mesh,1,alpha,zulu,fwd,lan,ok,4,,,,,,0,50,,\n"
		"2026-11-23T12:00:00.000Z,ds-mesh,1,alpha,yankee,fwd,lan,ok,5,,,,,,0,50,,\n";
	struct warnings w;
	long added = 0;
	struct ds_report *rep = build(text, &w, &added, NULL);
	char *out = render(rep, 1, DS_METRIC_ALL), *p;
	static const char *const order[] = {
		"alpha,yankee,lan,within,within,5.000", "alpha,zulu,lan,within,within,4.000",
		"yankee,alpha,,none",			"yankee,zulu,lan,within,within,3.000",
		"zulu,alpha,lan,within,within,2.000",	"zulu,yankee,lan,within,within,1.000",
	};
	size_t i;

	CHECK_INT(added, 5);
	for (i = 0, p = out; p && i < sizeof(order) / sizeof(order[0]); i++) {
		char *hit = strstr(p, order[i]);

		CHECK(hit != NULL);
		p = hit;
	}
	free(out);
	ds_report_free(rep);
}

static char *render(struct ds_report *rep, int which, unsigned metrics)
{
	struct ds_report_thresholds t = defaults();
	struct ds_report_format fmt = {.metrics = metrics, .header = true, .top = 0};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	switch (which) {
	case 0:
		CHECK_INT(ds_report_write_matrix(rep, &t, &fmt, f), 0);
		break;
	case 1:
		CHECK_INT(ds_report_write_csv(rep, &fmt, f), 0);
		break;
	case 2:
		CHECK_INT(ds_report_write_openmetrics(rep, &fmt, f), 0);
		break;
	case 3:
		CHECK_INT(ds_report_write_summary(rep, &t, &fmt, f), 0);
		break;
	default:
		CHECK_INT(ds_report_write_svg(rep, &t, &fmt, f), 0);
	}
	fclose(f);
	return buf;
}

static void outputs_name_each_direction(void)
{
	static const char text[] =
	    HDR "2026-11-23T12:00:00.000Z,ds-mesh,1,alpha,bravo,fwd,punch,ok,10,,,,,,0,100,,\n"
		"2026-11-23T12:00:00.000Z,ds-mesh,1,bravo,alpha,rev,punch,ok,10,,,,,,0,10,,\n"
		"2026-11-23T12:02:00.000Z,ds-mesh,2,alpha,bravo,fwd,relay,ok,45,,,,,,0,100,,\n"
		"2026-11-23T12:02:00.000Z,ds-mesh,2,bravo,alpha,rev,relay,ok,45,,,,,,0,10,,\n"
		"2026-11-23T12:02:00.000Z,ds-mesh,3,bravo,\"q\"\"uote\",fwd,,down,,,,,,,,,,\n";
	struct warnings w;
	long added = 0;
	struct ds_report *rep = build(text, &w, &added, NULL);
	char *out;

	CHECK_INT(added, 5);
	out = render(rep, 1, DS_METRIC_ALL);
	CHECK(out && strstr(out, DS_REPORT_CSV_HEADER "\n"));
	CHECK(out && strstr(out, "2026-11-23T12:02:00.000Z,ds-report,alpha,bravo,relay,outside,"
				 "outside,45.000,10.000,within,100.000,,100.000,within,0.000,"
				 "0.000,2,2026-11-23T12:02:00.000Z\n"));
	/* Never measured: a record with empty values. */
	CHECK(out &&
	      strstr(out, ",ds-report,alpha,\"q\"\"uote\",,none,none,,,none,,,,none,,,0,\n"));
	free(out);
	out = render(rep, 2, DS_METRIC_ALL);
	CHECK(out &&
	      strstr(out, "ds_report_rtt_seconds{src=\"alpha\",dst=\"bravo\",path=\"relay\"} "
			  "0.045\n"));
	CHECK(out && strstr(out, "ds_report_status{src=\"bravo\",dst=\"q\\\"uote\",path=\"\","
				 "metric=\"latency\"} 3\n"));
	CHECK(out && strstr(out, "ds_report_cells{metric=\"latency\",status=\"outside\"} 1\n"));
	CHECK(out && strlen(out) > 6 && strcmp(out + strlen(out) - 6, "# EOF\n") == 0);
	free(out);
	out = render(rep, 3, DS_METRIC_ALL);
	CHECK(out && strstr(out, "alpha → bravo latency is outside: 45.0 ms against a baseline of "
				 "10.0 ms"));
	CHECK(out && strstr(out, "alpha ⇄ bravo throughput: 100 Mbit/s alpha → bravo, 10.0 Mbit/s "
				 "bravo → alpha (10.0×)"));
	CHECK(out && strstr(out, "bravo → q\"uote is down"));
	free(out);
	out = render(rep, 4, 1u << DS_METRIC_LATENCY);
	CHECK(out && strstr(out, "data-src=\"alpha\" data-dst=\"bravo\" data-metric=\"latency\" "
				 "data-status=\"outside\""));
	CHECK(out && strstr(out, "data-dst=\"q&quot;uote\""));
	CHECK(out && !strstr(out, "data-metric=\"loss\""));
	free(out);
	out = render(rep, 0, 1u << DS_METRIC_LATENCY);
	CHECK(out && strstr(out, "45.0!"));
	CHECK(out && !strstr(out, "\033["));
	free(out);
	ds_report_free(rep);
}

int main(void)
{
	UNIT_RUN(latency_needs_both_percent_and_milliseconds);
	UNIT_RUN(throughput_is_judged_by_relative_drop);
	UNIT_RUN(loss_is_judged_in_percentage_points);
	UNIT_RUN(baseline_ignores_a_single_lucky_sample);
	UNIT_RUN(missing_required_column_is_named);
	UNIT_RUN(columns_are_found_by_name_in_any_order);
	UNIT_RUN(bad_rows_are_skipped_with_their_line);
	UNIT_RUN(current_value_is_the_latest_row);
	UNIT_RUN(down_stale_refused_and_never_measured);
	UNIT_RUN(lower_bound_counts_only_when_it_clears_the_line);
	UNIT_RUN(rows_beyond_the_horizon_are_refused);
	UNIT_RUN(cells_come_out_in_name_order_whatever_the_input_order);
	UNIT_RUN(outputs_name_each_direction);
	UNIT_EXIT();
}
