// SPDX-License-Identifier: MIT
/*
 * ds-report reads results files gathered from many machines: any bytes at all. The whole
 * pipeline runs on each input — read, judge, and every writer — so a row that parses but
 * then breaks a baseline, a label or an SVG attribute is found too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink;

static void ignore(void *ctx, long line, const char *why)
{
	(void)ctx;
	(void)line;
	(void)why;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_report_format fmt = {.metrics = DS_METRIC_ALL, .header = true, .top = 3};
	struct ds_report_thresholds t;
	struct ds_csv_reader *rd;
	struct ds_report *rep;
	const char *missing = NULL;
	long n;

	if (!sink)
		sink = fopen("/dev/null", "w");
	if (ds_csv_reader_mem((const char *)data, size, &rd) < 0)
		return 0;
	if (ds_report_new(&rep) < 0) {
		ds_csv_reader_free(rd);
		return 0;
	}
	ds_report_thresholds_default(&t);
	n = ds_report_read(rep, rd, ignore, NULL, &missing);
	ds_csv_reader_free(rd);
	if (n > 0 && ds_report_judge(rep, &t) == 0) {
		fmt.color = size & 1;
		ds_report_write_matrix(rep, &t, &fmt, sink);
		ds_report_write_csv(rep, &fmt, sink);
		ds_report_write_openmetrics(rep, &fmt, sink);
		ds_report_write_summary(rep, &t, &fmt, sink);
		ds_report_write_svg(rep, &t, &fmt, sink);
		/* Judged again with other thresholds: the report must stay consistent. */
		t.max_age_ns = 0;
		t.baseline_percentile = 0;
		if (ds_report_judge(rep, &t) == 0)
			ds_report_write_summary(rep, &t, &fmt, sink);
	}
	ds_report_free(rep);
	return 0;
}
