/* SPDX-License-Identifier: MIT */
/*
 * The fleet view: results rows (ds-results(5), one row per direction measured, from many
 * agents) become an N×N directional matrix per metric (row = source, column = destination),
 * and each cell is judged against that direction's own baseline, its robust best in history.
 *
 *   rows ──ds_report_add──▶ cells keyed by (src,dst) in a hash map, samples in one array
 *        ──ds_report_judge──▶ baseline (percentile), current (latest row), status per metric
 *        ──ds_report_write_*──▶ terminal matrix, CSV, SVG heat map, OpenMetrics, summary
 *
 * Nothing here opens files or prints messages: rows come from a ds_csv_reader the caller
 * opened, problems with a row come back as text for the caller to show with file:line, and
 * the writers write to a FILE the caller owns.
 */
#ifndef DS_REPORT_H
#define DS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "csv.h"

/* ---- the results file (ds-results(5)) ---- */

enum ds_results_outcome {
	DS_OUTCOME_OK,       /* measured; empty fields are what the run could not measure */
	DS_OUTCOME_DOWN,     /* no path: no candidate answered, or the peer stopped answering */
	DS_OUTCOME_REFUSED,  /* the peer answered but would not be measured (key not accepted) */
	DS_OUTCOME_DISABLED, /* mesh testing is switched off on the peer or on this agent */
	DS_OUTCOME_ERROR,    /* a local failure (no agent, tool error): says nothing of the path */
	DS_OUTCOME_COUNT,
};

enum ds_results_direction {
	DS_DIRECTION_UNKNOWN, /* empty field */
	DS_DIRECTION_FWD,     /* src is the agent that ran the test */
	DS_DIRECTION_REV,     /* dst is the agent that ran the test */
};

/* Columns, in the order ds-mesh writes them (DS_RESULTS_HEADER). */
enum ds_results_column {
	DS_COL_TS,
	DS_COL_TOOL,
	DS_COL_RUN_ID,
	DS_COL_SRC,
	DS_COL_DST,
	DS_COL_DIRECTION,
	DS_COL_PATH,
	DS_COL_OUTCOME,
	DS_COL_RTT_MS,
	DS_COL_RTT_MIN_MS,
	DS_COL_RTT_EWMA_MS,
	DS_COL_OWD_MS,
	DS_COL_JITTER_MS,
	DS_COL_OWD_VAR_MS,
	DS_COL_LOSS_PCT,
	DS_COL_BW_MBPS,
	DS_COL_BW_LOWER_BOUND_MBPS,
	DS_COL_BYTES,
	DS_RESULTS_NCOLS,
};

#define DS_RESULTS_HEADER                                                                          \
	"ts,tool,run_id,src,dst,direction,path,outcome,rtt_ms,rtt_min_ms,rtt_ewma_ms,owd_ms,"      \
	"jitter_ms,owd_var_ms,loss_pct,bw_mbps,bw_lower_bound_mbps,bytes"

/* Longest agent name and path label a results file may carry. */
#define DS_RESULTS_NAME_MAX 64
#define DS_RESULTS_PATH_MAX 16

const char *ds_results_column_name(enum ds_results_column c);
const char *ds_results_outcome_name(enum ds_results_outcome o);

/* Where each column is in a file's header (-1 = absent, allowed for optional columns). */
struct ds_results_columns {
	int index[DS_RESULTS_NCOLS];
};

/* Map the header of an open reader. -EBADMSG when a required column is missing; *missing
 * then names it. Extra columns are ignored and the order is free. */
int ds_results_columns_find(const struct ds_csv_reader *rd, struct ds_results_columns *cols,
			    const char **missing);

/* One row. Strings point into the reader's current record (valid until the next read).
 * Measurements are NAN when the field is empty or the column absent. */
struct ds_results_row {
	int64_t ts_ns; /* realtime, from ts */
	const char *src, *dst, *path, *run_id;
	enum ds_results_outcome outcome;
	enum ds_results_direction direction;
	double rtt_ms, owd_ms, jitter_ms, owd_var_ms, loss_pct, bw_mbps, bw_lower_bound_mbps;
};

/* Parse the reader's current record. 0, or -EBADMSG with the reason in why ("bad rtt_ms
 * 'x'"); the caller names file:line. Only the columns ds-report uses are checked. */
int ds_results_row_parse(const struct ds_csv_reader *rd, const struct ds_results_columns *cols,
			 struct ds_results_row *row, char *why, size_t whylen);

/* ---- judging ---- */

enum ds_report_metric {
	DS_METRIC_LATENCY,    /* rtt_ms: lower is better */
	DS_METRIC_THROUGHPUT, /* bw_mbps: higher is better */
	DS_METRIC_LOSS,       /* loss_pct: lower is better */
	DS_METRIC_COUNT,
};
#define DS_METRIC_ALL ((1u << DS_METRIC_COUNT) - 1)

/* Ordered from best to worst, so "worst of" is a max. NONE sorts first: no data is not
 * better or worse than anything, it is shown apart. */
enum ds_report_status {
	DS_STATUS_NONE,     /* no current value: never measured, stale, refused, disabled... */
	DS_STATUS_WITHIN,   /* within baseline */
	DS_STATUS_MARGINAL, /* past the marginal threshold */
	DS_STATUS_OUTSIDE,  /* past the outside threshold */
	DS_STATUS_DOWN,     /* the latest word on this direction is outcome down */
	DS_STATUS_COUNT,
};

/* Why a value has no status of its own (DS_STATUS_NONE), for tooltips and the summary. */
enum ds_report_reason {
	DS_REASON_VALUE,       /* has a current value or is down */
	DS_REASON_NO_DATA,     /* never measured (or the diagonal) */
	DS_REASON_STALE,       /* the latest row is older than max_age */
	DS_REASON_REFUSED,     /* the latest row is outcome refused */
	DS_REASON_DISABLED,    /* ... disabled */
	DS_REASON_ERROR,       /* ... error */
	DS_REASON_LOWER_BOUND, /* throughput: only a lower bound, below the marginal line */
	DS_REASON_COUNT,
};

const char *ds_report_metric_name(enum ds_report_metric m); /* "latency" */
const char *ds_report_status_name(enum ds_report_status s); /* "within" */
const char *ds_report_reason_name(enum ds_report_reason r); /* "stale" */
/* "latency" / "throughput" / "loss" / "all" → mask of (1 << metric); 0 if unknown. */
unsigned ds_report_metric_mask(const char *name);

struct ds_report_thresholds {
	/* Latency is marginal when it exceeds the baseline by more than BOTH pct and ms. */
	double latency_marginal_pct, latency_marginal_ms;
	double latency_outside_pct, latency_outside_ms;
	/* Throughput is marginal when it is more than pct below the baseline. */
	double throughput_marginal_pct, throughput_outside_pct;
	/* Loss is marginal when it exceeds the baseline by more than pp percentage points. */
	double loss_marginal_pp, loss_outside_pp;
	/* Baseline = this percentile of the direction's history (the best end: low for latency
	 * and loss, the mirrored high percentile for throughput). 0 = the single best value. */
	double baseline_percentile;
	/* A value older than this (against the newest row in the input) is stale; 0 = never. */
	int64_t max_age_ns;
	/* A pair is asymmetric when one direction is this many times the other. */
	double asymmetry_ratio;
};

void ds_report_thresholds_default(struct ds_report_thresholds *t);

/* Judge one value against a baseline (NAN baseline or value → DS_STATUS_NONE). */
enum ds_report_status ds_report_judge_value(enum ds_report_metric m, double value, double baseline,
					    const struct ds_report_thresholds *t);
/* The baseline of n samples (reorders v): the robust best as described above; NAN if n == 0. */
double ds_report_baseline(enum ds_report_metric m, double *v, size_t n,
			  const struct ds_report_thresholds *t);

/* One metric of one cell after ds_report_judge. */
struct ds_report_value {
	double value;     /* current value, NAN when none (down, stale, never measured) */
	double baseline;  /* NAN when the direction has no sample of this metric */
	int64_t ts_ns;    /* of the row that gave the current value or the down, 0 none */
	uint32_t samples; /* values in the history of this direction */
	uint8_t status;   /* enum ds_report_status */
	uint8_t reason;   /* enum ds_report_reason */
	bool lower_bound; /* throughput: value is only a lower bound */
	char path[DS_RESULTS_PATH_MAX]; /* of the row that gave the value */
};

struct ds_report_cell {
	uint32_t src, dst;              /* agent ranks (the sorted order of ds_report_agent) */
	char path[DS_RESULTS_PATH_MAX]; /* of the latest row that named one */
	uint32_t rows;                  /* rows for this direction, all outcomes */
	int64_t last_ts_ns;             /* latest row of any outcome */
	int64_t last_ok_ns;             /* latest ok row, 0 none */
	uint8_t last_outcome;           /* enum ds_results_outcome of the latest row */
	/* From the latest ok row that had them (NAN none), for the asymmetry summary. */
	double owd_ms, owd_var_ms, jitter_ms;
	struct ds_report_value m[DS_METRIC_COUNT];
};

struct ds_report;

int ds_report_new(struct ds_report **out);
void ds_report_free(struct ds_report *rep);

/* Rows stamped later than this realtime (ns) are refused by ds_report_add with -ERANGE: one
 * agent with a clock running ahead would otherwise make every other direction look stale.
 * 0 (the default) accepts any time. */
void ds_report_set_horizon(struct ds_report *rep, int64_t latest_ns);

/* Add one parsed row. 0, -EINVAL (src == dst, empty or too long a name), -ERANGE (beyond
 * the horizon), -ENOMEM. */
int ds_report_add(struct ds_report *rep, const struct ds_results_row *row);

/*
 * Read every record of an open results reader into rep. Malformed records and bad rows are
 * skipped; for each, warn(ctx, line, why) is called (warn may be NULL). Returns the number
 * of rows added, -EBADMSG when a required column is missing (*missing names it), -ENOMEM.
 */
typedef void ds_report_warn_fn(void *ctx, long line, const char *why);
long ds_report_read(struct ds_report *rep, struct ds_csv_reader *rd, ds_report_warn_fn *warn,
		    void *ctx, const char **missing);

/* Compute baselines, current values and statuses; call after the last add, and again after
 * more adds or with other thresholds. 0 or -ENOMEM. */
int ds_report_judge(struct ds_report *rep, const struct ds_report_thresholds *t);

/* After judge: agents in name order, and the cell for (src rank, dst rank) or NULL when the
 * direction has no row (and for the diagonal). */
size_t ds_report_nagents(const struct ds_report *rep);
const char *ds_report_agent(const struct ds_report *rep, size_t rank);
const struct ds_report_cell *ds_report_cell(const struct ds_report *rep, size_t src, size_t dst);
/* Rows added; the newest row's time (0 when none). */
size_t ds_report_nrows(const struct ds_report *rep);
int64_t ds_report_newest(const struct ds_report *rep);
/* Cells of the N×(N-1) off-diagonal per status for metric m; never-measured ones count as
 * DS_STATUS_NONE. */
void ds_report_counts(const struct ds_report *rep, enum ds_report_metric m,
		      size_t counts[DS_STATUS_COUNT]);
/* Worst status of a cell over the metrics in mask (DS_STATUS_NONE when no metric has one). */
enum ds_report_status ds_report_cell_status(const struct ds_report_cell *c, unsigned mask);

/* ---- output (to a caller's FILE; 0 or -EIO) ---- */

struct ds_report_format {
	unsigned metrics;  /* mask of (1 << enum ds_report_metric) */
	bool color;        /* ANSI colour (terminal matrix) */
	bool header;       /* CSV header row */
	size_t top;        /* summary: lines per section, 0 = all */
	const char *title; /* SVG title, NULL for a default */
};

/* Terminal matrix, one per metric: rows = source, columns = destination. */
int ds_report_write_matrix(const struct ds_report *rep, const struct ds_report_thresholds *t,
			   const struct ds_report_format *fmt, FILE *f);
/* One CSV record per off-diagonal cell (DS_REPORT_CSV_HEADER). */
#define DS_REPORT_CSV_HEADER                                                                       \
	"ts,tool,src,dst,path,status,latency_status,rtt_ms,rtt_baseline_ms,"                       \
	"throughput_status,bw_mbps,bw_lower_bound_mbps,bw_baseline_mbps,loss_status,"              \
	"loss_pct,loss_baseline_pct,rows,last_ts"
int ds_report_write_csv(const struct ds_report *rep, const struct ds_report_format *fmt, FILE *f);
/* Self-contained SVG heat map, one panel per metric. */
int ds_report_write_svg(const struct ds_report *rep, const struct ds_report_thresholds *t,
			const struct ds_report_format *fmt, FILE *f);
/* OpenMetrics / Prometheus text exposition (node_exporter textfile collector), "# EOF". */
int ds_report_write_openmetrics(const struct ds_report *rep, const struct ds_report_format *fmt,
				FILE *f);
/* Ranked plain-language summary: down legs, slipped legs, asymmetric pairs. */
int ds_report_write_summary(const struct ds_report *rep, const struct ds_report_thresholds *t,
			    const struct ds_report_format *fmt, FILE *f);

#endif
