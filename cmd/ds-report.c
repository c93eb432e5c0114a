// SPDX-License-Identifier: MIT
/*
 * ds-report — the fleet view from results files (ds-results(5)) gathered from many agents:
 * N×N directional matrices of latency, throughput and loss, each cell judged against that
 * direction's own baseline; as a terminal matrix, CSV, an SVG heat map, OpenMetrics text or
 * a ranked summary. The work is in libds/report.c; this file reads options and files.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "csv.h"
#include "msg.h"
#include "num.h"
#include "report.h"
#include "version.h"

/* Per file; the rest are counted and reported in one line at the end of the file. */
#define WARNINGS_PER_FILE 20
#define FUTURE_TOLERANCE_NS (5 * 60 * DS_NSEC_PER_SEC)

enum {
	OPT_CSV = 256,
	OPT_NO_HEADER,
	OPT_SVG,
	OPT_OPENMETRICS,
	OPT_SUMMARY,
	OPT_COLOR,
	OPT_LAT_MARGINAL,
	OPT_LAT_OUTSIDE,
	OPT_BW_MARGINAL,
	OPT_BW_OUTSIDE,
	OPT_LOSS_MARGINAL,
	OPT_LOSS_OUTSIDE,
	OPT_BASELINE,
	OPT_MAX_AGE,
	OPT_ASYMMETRY,
	OPT_TOP,
	OPT_TITLE,
};

static const struct option long_options[] = {
	{"metric", required_argument, NULL, 'm'},
	{"csv", no_argument, NULL, OPT_CSV},
	{"no-header", no_argument, NULL, OPT_NO_HEADER},
	{"svg", required_argument, NULL, OPT_SVG},
	{"openmetrics", no_argument, NULL, OPT_OPENMETRICS},
	{"summary", no_argument, NULL, OPT_SUMMARY},
	{"color", required_argument, NULL, OPT_COLOR},
	{"latency-marginal", required_argument, NULL, OPT_LAT_MARGINAL},
	{"latency-outside", required_argument, NULL, OPT_LAT_OUTSIDE},
	{"throughput-marginal", required_argument, NULL, OPT_BW_MARGINAL},
	{"throughput-outside", required_argument, NULL, OPT_BW_OUTSIDE},
	{"loss-marginal", required_argument, NULL, OPT_LOSS_MARGINAL},
	{"loss-outside", required_argument, NULL, OPT_LOSS_OUTSIDE},
	{"baseline-percentile", required_argument, NULL, OPT_BASELINE},
	{"max-age", required_argument, NULL, OPT_MAX_AGE},
	{"asymmetry", required_argument, NULL, OPT_ASYMMETRY},
	{"top", required_argument, NULL, OPT_TOP},
	{"title", required_argument, NULL, OPT_TITLE},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void usage(void)
{
	printf("Usage: %s [options] RESULTS.csv...\n"
	       "The fleet view from results files (ds-results(5)) of many agents: an N×N matrix\n"
	       "per metric, row = source, column = destination, each direction judged against\n"
	       "its own baseline (its robust best in history): within, marginal, outside, down.\n"
	       "A file of \"-\" is standard input.\n"
	       "\n"
	       "Output (default: the matrix on the terminal):\n"
	       "  -m, --metric M             latency, throughput, loss or all (default all)\n"
	       "      --csv                  one CSV record per direction (cell) instead\n"
	       "      --no-header            no CSV header row\n"
	       "      --openmetrics          OpenMetrics text for node_exporter's textfile\n"
	       "                             collector instead\n"
	       "      --summary              ranked plain-language summary instead\n"
	       "      --svg FILE             also write a self-contained SVG heat map (\"-\":\n"
	       "                             to standard output, instead of the matrix)\n"
	       "      --title TEXT           title of the SVG\n"
	       "      --color WHEN           auto (colour when stdout is a terminal), always,\n"
	       "                             never (default auto; NO_COLOR turns auto off)\n"
	       "      --top N                summary: lines per section, 0 = all (default 20)\n"
	       "\n"
	       "Judgement (defaults in brackets):\n"
	       "      --latency-marginal P%%,Dms\n"
	       "                             marginal when the RTT is above its baseline by more\n"
	       "                             than P %% and more than D ms [20%%,5ms]\n"
	       "      --latency-outside P%%,Dms\n"
	       "                             outside likewise [50%%,20ms]\n"
	       "      --throughput-marginal P%%\n"
	       "                             marginal when more than P %% below baseline [20%%]\n"
	       "      --throughput-outside P%%\n"
	       "                             outside likewise [50%%]\n"
	       "      --loss-marginal PP     marginal when loss exceeds its baseline by more than\n"
	       "                             PP percentage points [1]\n"
	       "      --loss-outside PP      outside likewise [5]\n"
	       "      --baseline-percentile P\n"
	       "                             baseline = P-th percentile of the direction's\n"
	       "                             history (100-P for throughput); 0 = single best [5]\n"
	       "      --max-age DURATION     a direction whose latest row is older than this,\n"
	       "                             against the newest row of all, has no current\n"
	       "                             value (stale); 0 = never [10m]\n"
	       "      --asymmetry RATIO      summary: a pair is strongly asymmetric when one\n"
	       "                             direction is RATIO times the other [2]\n"
	       "\n"
	       "  -q, --quiet                no warnings about skipped rows\n"
	       "  -v, --verbose              say what was read\n"
	       "  -h, --help                 this help\n"
	       "  -V, --version              version and features\n"
	       "\n"
	       "Malformed rows are skipped with a warning naming file:line. A file without a\n"
	       "required column is an error (exit 1). Exit 0 whatever the cells' status.\n",
	       ds_msg_progname());
}

/* "20%,5ms", "20%", "5ms": the parts not given are 0 (that condition always holds). */
static void parse_pct_ms(const char *opt, const char *arg, double *pct, double *ms)
{
	char buf[64], *part, *save = NULL;
	int64_t ns;

	*pct = 0;
	*ms = 0;
	if (strlen(arg) >= sizeof(buf) || !*arg)
		ds_usage_error("--%s: bad threshold '%s'", opt, arg);
	strcpy(buf, arg);
	for (part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(part);

		if (n > 1 && part[n - 1] == '%') {
			part[n - 1] = '\0';
			if (ds_parse_double(part, 0, 1e6, pct) < 0)
				ds_usage_error("--%s: bad percentage in '%s'", opt, arg);
		} else if (ds_parse_duration_ns(part, 0, 3600 * DS_NSEC_PER_SEC, &ns) == 0) {
			*ms = (double)ns / DS_NSEC_PER_MSEC;
		} else {
			ds_usage_error("--%s: bad threshold '%s' (want like 20%%,5ms)", opt, arg);
		}
	}
}

static double parse_pct(const char *opt, const char *arg)
{
	double v;

	if (ds_parse_percent(arg, &v) < 0)
		ds_usage_error("--%s: bad percentage '%s'", opt, arg);
	return v;
}

struct file_ctx {
	const char *path;
	long warned, skipped;
};

static void warn_row(void *opaque, long line, const char *why)
{
	struct file_ctx *fc = opaque;

	fc->skipped++;
	if (fc->warned++ < WARNINGS_PER_FILE)
		ds_warnx("%s:%ld: %s; row skipped", fc->path, line, why);
}

static void read_file(struct ds_report *rep, const char *path)
{
	struct file_ctx fc = {.path = path};
	struct ds_csv_reader *rd;
	const char *missing = NULL;
	long n;
	int r;

	r = ds_csv_reader_open(path, &rd);
	if (r == -EBADMSG) {
		ds_warnx("%s: no header row (empty file?); skipped", path);
		return;
	}
	if (r < 0)
		ds_errc(DS_EXIT_FAILURE, r, "%s", path);
	n = ds_report_read(rep, rd, warn_row, &fc, &missing);
	ds_csv_reader_free(rd);
	if (n == -EBADMSG)
		ds_errx(DS_EXIT_FAILURE, "%s: missing column '%s': not a results file (ds-results(5))",
			path, missing ? missing : "?");
	if (n < 0)
		ds_errc(DS_EXIT_FAILURE, (int)n, "%s", path);
	if (fc.skipped > WARNINGS_PER_FILE)
		ds_warnx("%s: %ld rows skipped in all (%d shown)", path, fc.skipped,
			 WARNINGS_PER_FILE);
	ds_verbose("%s: %ld rows", path, n);
}

static void write_svg(const struct ds_report *rep, const struct ds_report_thresholds *t,
		      const struct ds_report_format *fmt, const char *path)
{
	char tmp[4096];
	mode_t mask;
	FILE *f;
	int fd, r;

	if (strcmp(path, "-") == 0) {
		if (ds_report_write_svg(rep, t, fmt, stdout) < 0 || fflush(stdout) == EOF)
			ds_errx(DS_EXIT_FAILURE, "writing the SVG to standard output failed");
		return;
	}
	/* Next to the target and renamed over it: a reader never sees half a heat map. */
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		ds_usage_error("--svg: path too long");
	fd = mkstemp(tmp);
	if (fd < 0)
		ds_errc(DS_EXIT_FAILURE, errno, "--svg %s", path);
	f = fdopen(fd, "w");
	if (!f)
		ds_errc(DS_EXIT_FAILURE, errno, "%s", tmp);
	r = ds_report_write_svg(rep, t, fmt, f);
	mask = umask(0); /* mkstemp made it 0600: give it the mode a plain create would */
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) < 0 || fclose(f) == EOF || r < 0 || rename(tmp, path) < 0) {
		r = errno;
		unlink(tmp);
		ds_errc(DS_EXIT_FAILURE, r, "%s", path);
	}
}

int main(int argc, char **argv)
{
	struct ds_report_format fmt = {.metrics = DS_METRIC_ALL, .header = true, .top = 20};
	enum { OUT_MATRIX, OUT_CSV, OUT_OPENMETRICS, OUT_SUMMARY, OUT_NONE } out = OUT_MATRIX;
	struct ds_report_thresholds t;
	const char *svg = NULL, *color = "auto";
	struct ds_report *rep;
	int c, verbosity = 0, stdout_outputs = 0, r;
	long long top;
	int64_t ns;

	ds_msg_init(argv[0]);
	ds_report_thresholds_default(&t);
	opterr = 0; /* our own one-line usage errors */
	while ((c = getopt_long(argc, argv, ":m:qvhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'm':
			fmt.metrics = ds_report_metric_mask(optarg);
			if (!fmt.metrics)
				ds_usage_error("bad metric '%s' (latency, throughput, loss, all)",
					       optarg);
			break;
		case OPT_CSV:
			out = OUT_CSV;
			stdout_outputs++;
			break;
		case OPT_NO_HEADER:
			fmt.header = false;
			break;
		case OPT_SVG:
			svg = optarg;
			break;
		case OPT_OPENMETRICS:
			out = OUT_OPENMETRICS;
			stdout_outputs++;
			break;
		case OPT_SUMMARY:
			out = OUT_SUMMARY;
			stdout_outputs++;
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") && strcmp(optarg, "always") &&
			    strcmp(optarg, "never"))
				ds_usage_error("bad --color '%s' (auto, always, never)", optarg);
			color = optarg;
			break;
		case OPT_LAT_MARGINAL:
			parse_pct_ms("latency-marginal", optarg, &t.latency_marginal_pct,
				     &t.latency_marginal_ms);
			break;
		case OPT_LAT_OUTSIDE:
			parse_pct_ms("latency-outside", optarg, &t.latency_outside_pct,
				     &t.latency_outside_ms);
			break;
		case OPT_BW_MARGINAL:
			t.throughput_marginal_pct = parse_pct("throughput-marginal", optarg);
			break;
		case OPT_BW_OUTSIDE:
			t.throughput_outside_pct = parse_pct("throughput-outside", optarg);
			break;
		case OPT_LOSS_MARGINAL:
			t.loss_marginal_pp = parse_pct("loss-marginal", optarg);
			break;
		case OPT_LOSS_OUTSIDE:
			t.loss_outside_pp = parse_pct("loss-outside", optarg);
			break;
		case OPT_BASELINE:
			if (ds_parse_double(optarg, 0, 50, &t.baseline_percentile) < 0)
				ds_usage_error("bad --baseline-percentile '%s' (0..50)", optarg);
			break;
		case OPT_MAX_AGE:
			if (ds_parse_duration_ns(optarg, 0, 366LL * 86400 * DS_NSEC_PER_SEC, &ns) <
			    0)
				ds_usage_error("bad --max-age '%s' (like 10m, 1h; 0 = never)",
					       optarg);
			t.max_age_ns = ns;
			break;
		case OPT_ASYMMETRY:
			if (ds_parse_double(optarg, 1, 1e6, &t.asymmetry_ratio) < 0)
				ds_usage_error("bad --asymmetry '%s' (a ratio >= 1)", optarg);
			break;
		case OPT_TOP:
			if (ds_parse_long(optarg, 0, 1000000000, &top) < 0)
				ds_usage_error("bad --top '%s'", optarg);
			fmt.top = (size_t)top;
			break;
		case OPT_TITLE:
			fmt.title = optarg;
			break;
		case 'q':
			verbosity = -1;
			break;
		case 'v':
			verbosity++;
			break;
		case 'h':
			usage();
			return DS_EXIT_OK;
		case 'V':
			ds_version_print(stdout, ds_msg_progname());
			return DS_EXIT_OK;
		case ':':
			ds_usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			ds_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	ds_msg_set_verbosity(verbosity);
	if (optind >= argc)
		ds_usage_error("no results file given");
	if (stdout_outputs > 1)
		ds_usage_error("choose one of --csv, --openmetrics, --summary");
	if (svg && strcmp(svg, "-") == 0) {
		if (stdout_outputs)
			ds_usage_error("--svg - and another output cannot share standard output");
		out = OUT_NONE;
	} else if (svg && !stdout_outputs) {
		out = OUT_NONE; /* only the file: nothing on stdout for a script to filter */
	}
	if (t.latency_outside_pct < t.latency_marginal_pct ||
	    t.latency_outside_ms < t.latency_marginal_ms ||
	    t.throughput_outside_pct < t.throughput_marginal_pct ||
	    t.loss_outside_pp < t.loss_marginal_pp)
		ds_usage_error("an outside threshold is below its marginal one");
	if (strcmp(color, "always") == 0)
		fmt.color = true;
	else if (strcmp(color, "auto") == 0)
		fmt.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
			    !(getenv("TERM") && strcmp(getenv("TERM"), "dumb") == 0);

	r = ds_report_new(&rep);
	if (r < 0)
		ds_errc(DS_EXIT_FAILURE, r, "report");
	/* Beyond a few minutes ahead of our clock a row comes from a clock running ahead. */
	ds_report_set_horizon(rep, ds_clock_realtime_ns() + FUTURE_TOLERANCE_NS);
	for (; optind < argc; optind++)
		read_file(rep, argv[optind]);
	if (ds_report_nrows(rep) == 0)
		ds_errx(DS_EXIT_FAILURE, "no usable rows in the files given");
	r = ds_report_judge(rep, &t);
	if (r < 0)
		ds_errc(DS_EXIT_FAILURE, r, "judging");
	ds_verbose("%zu rows, %zu agents", ds_report_nrows(rep), ds_report_nagents(rep));

	switch (out) {
	case OUT_MATRIX:
		r = ds_report_write_matrix(rep, &t, &fmt, stdout);
		break;
	case OUT_CSV:
		r = ds_report_write_csv(rep, &fmt, stdout);
		break;
	case OUT_OPENMETRICS:
		r = ds_report_write_openmetrics(rep, &fmt, stdout);
		break;
	case OUT_SUMMARY:
		r = ds_report_write_summary(rep, &t, &fmt, stdout);
		break;
	default:
		r = 0;
	}
	if (r < 0 || fflush(stdout) == EOF)
		ds_errx(DS_EXIT_FAILURE, "writing to standard output failed");
	if (svg)
		write_svg(rep, &t, &fmt, svg);
	ds_report_free(rep);
	return DS_EXIT_OK;
}
