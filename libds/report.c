// SPDX-License-Identifier: MIT
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "num.h"
#include "svg.h"

/* ---- the results file ---- */

static const char *const column_names[DS_RESULTS_NCOLS] = {
    [DS_COL_TS] = "ts",
    [DS_COL_TOOL] = "tool",
    [DS_COL_RUN_ID] = "run_id",
    [DS_COL_SRC] = "src",
    [DS_COL_DST] = "dst",
    [DS_COL_DIRECTION] = "direction",
    [DS_COL_PATH] = "path",
    [DS_COL_OUTCOME] = "outcome",
    [DS_COL_RTT_MS] = "rtt_ms",
    [DS_COL_RTT_MIN_MS] = "rtt_min_ms",
    [DS_COL_RTT_EWMA_MS] = "rtt_ewma_ms",
    [DS_COL_OWD_MS] = "owd_ms",
    [DS_COL_JITTER_MS] = "jitter_ms",
    [DS_COL_OWD_VAR_MS] = "owd_var_ms",
    [DS_COL_LOSS_PCT] = "loss_pct",
    [DS_COL_BW_MBPS] = "bw_mbps",
    [DS_COL_BW_LOWER_BOUND_MBPS] = "bw_lower_bound_mbps",
    [DS_COL_BYTES] = "bytes",
};

/* What ds-report cannot do without: a file lacking one of these is not a results file. */
static const enum ds_results_column required_columns[] = {
    DS_COL_TS,     DS_COL_SRC,      DS_COL_DST,     DS_COL_OUTCOME,
    DS_COL_RTT_MS, DS_COL_LOSS_PCT, DS_COL_BW_MBPS,
};

static const char *const outcome_names[DS_OUTCOME_COUNT] = {
    [DS_OUTCOME_OK] = "ok",           [DS_OUTCOME_DOWN] = "down",
    [DS_OUTCOME_REFUSED] = "refused", [DS_OUTCOME_DISABLED] = "disabled",
    [DS_OUTCOME_ERROR] = "error",
};

const char *ds_results_column_name(enum ds_results_column c)
{
	return (unsigned)c < DS_RESULTS_NCOLS ? column_names[c] : "?";
}

const char *ds_results_outcome_name(enum ds_results_outcome o)
{
	return (unsigned)o < DS_OUTCOME_COUNT ? outcome_names[o] : "?";
}

int ds_results_columns_find(const struct ds_csv_reader *rd, struct ds_results_columns *cols,
			    const char **missing)
{
	size_t i;

	for (i = 0; i < DS_RESULTS_NCOLS; i++)
		cols->index[i] = ds_csv_reader_column(rd, column_names[i]);
	for (i = 0; i < sizeof(required_columns) / sizeof(required_columns[0]); i++) {
		if (cols->index[required_columns[i]] < 0) {
			if (missing)
				*missing = column_names[required_columns[i]];
			return -EBADMSG;
		}
	}
	return 0;
}

static const char *field(const struct ds_csv_reader *rd, const struct ds_results_columns *cols,
			 enum ds_results_column c)
{
	const char *s = ds_csv_reader_get(rd, cols->index[c]);

	return s ? s : "";
}

/* Printable and valid UTF-8: names end up in terminals, SVG (XML) and label values. */
static bool good_text(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	if (!*p)
		return false;
	while (*p) {
		int more;

		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (*p < 0x80)
			more = 0;
		else if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
			more = 1;
		else if ((*p & 0xf0) == 0xe0)
			more = 2;
		else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
			more = 3;
		else
			return false;
		/* Overlong and surrogate forms of the 3- and 4-byte sequences. */
		if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
		    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
			return false;
		for (p++, n++; more; more--, p++, n++)
			if ((*p & 0xc0) != 0x80)
				return false;
		/* C1 controls (U+0080..U+009F) move terminals around as much as C0 ones. */
		if (p[-1] >= 0x80 && p[-1] <= 0x9f && p[-2] == 0xc2)
			return false;
	}
	return n < max;
}

static bool good_path(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= DS_RESULTS_PATH_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int number(const struct ds_csv_reader *rd, const struct ds_results_columns *cols,
		  enum ds_results_column c, double min, double max, double *out, char *why,
		  size_t whylen)
{
	const char *s = field(rd, cols, c);
	double v;

	*out = NAN;
	if (!*s)
		return 0;
	if (ds_parse_double(s, min, max, &v) < 0 || !isfinite(v)) {
		snprintf(why, whylen, "bad %s '%.32s'", column_names[c], s);
		return -EBADMSG;
	}
	*out = v;
	return 0;
}

#define MAX_MS   1e7 /* about three hours: anything longer is not a delay */
#define MAX_MBPS 1e7 /* 10 Tbit/s */

/* Nanoseconds since 1970 in an int64_t end in 2262: refuse later years before converting
 * (ds_time_parse_iso8601 would overflow on them). */
static bool plausible_year(const char *ts)
{
	int i, year = 0;

	for (i = 0; i < 4; i++) {
		if (ts[i] < '0' || ts[i] > '9')
			return false;
		year = year * 10 + (ts[i] - '0');
	}
	return ts[4] == '-' && year >= 1970 && year < 2262;
}

int ds_results_row_parse(const struct ds_csv_reader *rd, const struct ds_results_columns *cols,
			 struct ds_results_row *row, char *why, size_t whylen)
{
	const char *ts = field(rd, cols, DS_COL_TS);
	const char *outcome = field(rd, cols, DS_COL_OUTCOME);
	const char *dir = field(rd, cols, DS_COL_DIRECTION);
	size_t i;

	memset(row, 0, sizeof(*row));
	row->rtt_ms = row->owd_ms = row->jitter_ms = row->owd_var_ms = NAN;
	row->loss_pct = row->bw_mbps = row->bw_lower_bound_mbps = NAN;
	if (!plausible_year(ts) || ds_time_parse_iso8601(ts, &row->ts_ns) < 0) {
		snprintf(why, whylen, "bad ts '%.32s'", ts);
		return -EBADMSG;
	}
	row->src = field(rd, cols, DS_COL_SRC);
	row->dst = field(rd, cols, DS_COL_DST);
	if (!good_text(row->src, DS_RESULTS_NAME_MAX)) {
		snprintf(why, whylen, "bad src '%.32s'", row->src);
		return -EBADMSG;
	}
	if (!good_text(row->dst, DS_RESULTS_NAME_MAX)) {
		snprintf(why, whylen, "bad dst '%.32s'", row->dst);
		return -EBADMSG;
	}
	if (strcmp(row->src, row->dst) == 0) {
		snprintf(why, whylen, "src and dst are the same agent '%.32s'", row->src);
		return -EBADMSG;
	}
	for (i = 0; i < DS_OUTCOME_COUNT; i++)
		if (strcmp(outcome, outcome_names[i]) == 0)
			break;
	if (i == DS_OUTCOME_COUNT) {
		snprintf(why, whylen, "bad outcome '%.32s'", outcome);
		return -EBADMSG;
	}
	row->outcome = (enum ds_results_outcome)i;
	if (!*dir)
		row->direction = DS_DIRECTION_UNKNOWN;
	else if (strcmp(dir, "fwd") == 0)
		row->direction = DS_DIRECTION_FWD;
	else if (strcmp(dir, "rev") == 0)
		row->direction = DS_DIRECTION_REV;
	else {
		snprintf(why, whylen, "bad direction '%.32s'", dir);
		return -EBADMSG;
	}
	row->path = field(rd, cols, DS_COL_PATH);
	if (*row->path && !good_path(row->path)) {
		snprintf(why, whylen, "bad path '%.32s'", row->path);
		return -EBADMSG;
	}
	row->run_id = field(rd, cols, DS_COL_RUN_ID);
	/* A run that measured nothing has nothing to parse: its fields are not looked at. */
	if (row->outcome != DS_OUTCOME_OK)
		return 0;
	if (number(rd, cols, DS_COL_RTT_MS, 0, MAX_MS, &row->rtt_ms, why, whylen) < 0 ||
	    number(rd, cols, DS_COL_OWD_MS, -MAX_MS, MAX_MS, &row->owd_ms, why, whylen) < 0 ||
	    number(rd, cols, DS_COL_JITTER_MS, 0, MAX_MS, &row->jitter_ms, why, whylen) < 0 ||
	    number(rd, cols, DS_COL_OWD_VAR_MS, 0, MAX_MS, &row->owd_var_ms, why, whylen) < 0 ||
	    number(rd, cols, DS_COL_LOSS_PCT, 0, 100, &row->loss_pct, why, whylen) < 0 ||
	    number(rd, cols, DS_COL_BW_MBPS, 0, MAX_MBPS, &row->bw_mbps, why, whylen) < 0 ||
	    number(rd, cols, DS_COL_BW_LOWER_BOUND_MBPS, 0, MAX_MBPS, &row->bw_lower_bound_mbps,
		   why, whylen) < 0)
		return -EBADMSG;
	return 0;
}

/* ---- names ---- */

static const char *const metric_names[DS_METRIC_COUNT] = {"latency", "throughput", "loss"};
static const char *const status_names[DS_STATUS_COUNT] = {"none", "within", "marginal", "outside",
							  "down"};
static const char *const reason_names[DS_REASON_COUNT] = {
    "value", "no data", "stale", "refused", "disabled", "error", "lower bound only",
};

const char *ds_report_metric_name(enum ds_report_metric m)
{
	return (unsigned)m < DS_METRIC_COUNT ? metric_names[m] : "?";
}

const char *ds_report_status_name(enum ds_report_status s)
{
	return (unsigned)s < DS_STATUS_COUNT ? status_names[s] : "?";
}

const char *ds_report_reason_name(enum ds_report_reason r)
{
	return (unsigned)r < DS_REASON_COUNT ? reason_names[r] : "?";
}

unsigned ds_report_metric_mask(const char *name)
{
	unsigned i;

	if (strcmp(name, "all") == 0)
		return DS_METRIC_ALL;
	for (i = 0; i < DS_METRIC_COUNT; i++)
		if (strcmp(name, metric_names[i]) == 0)
			return 1u << i;
	return 0;
}

/* ---- judging ---- */

void ds_report_thresholds_default(struct ds_report_thresholds *t)
{
	t->latency_marginal_pct = 20;
	t->latency_marginal_ms = 5;
	t->latency_outside_pct = 50;
	t->latency_outside_ms = 20;
	t->throughput_marginal_pct = 20;
	t->throughput_outside_pct = 50;
	t->loss_marginal_pp = 1;
	t->loss_outside_pp = 5;
	t->baseline_percentile = 5;
	t->max_age_ns = 10 * 60 * DS_NSEC_PER_SEC;
	t->asymmetry_ratio = 2;
}

enum ds_report_status ds_report_judge_value(enum ds_report_metric m, double value, double baseline,
					    const struct ds_report_thresholds *t)
{
	double d, pct;

	if (isnan(value) || isnan(baseline))
		return DS_STATUS_NONE;
	switch (m) {
	case DS_METRIC_LATENCY:
		d = value - baseline;
		if (d <= 0)
			return DS_STATUS_WITHIN;
		pct = baseline > 0 ? d / baseline * 100 : INFINITY;
		if (d > t->latency_outside_ms && pct > t->latency_outside_pct)
			return DS_STATUS_OUTSIDE;
		if (d > t->latency_marginal_ms && pct > t->latency_marginal_pct)
			return DS_STATUS_MARGINAL;
		return DS_STATUS_WITHIN;
	case DS_METRIC_THROUGHPUT:
		if (baseline <= 0 || value >= baseline)
			return DS_STATUS_WITHIN;
		pct = (baseline - value) / baseline * 100;
		if (pct > t->throughput_outside_pct)
			return DS_STATUS_OUTSIDE;
		if (pct > t->throughput_marginal_pct)
			return DS_STATUS_MARGINAL;
		return DS_STATUS_WITHIN;
	case DS_METRIC_LOSS:
		d = value - baseline;
		if (d > t->loss_outside_pp)
			return DS_STATUS_OUTSIDE;
		if (d > t->loss_marginal_pp)
			return DS_STATUS_MARGINAL;
		return DS_STATUS_WITHIN;
	default:
		return DS_STATUS_NONE;
	}
}

/* The k-th smallest of n values (0-based), reordering v: Hoare's selection, expected O(n). */
static double select_kth(double *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		double pivot = v[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				double x = v[i];

				v[i] = v[j];
				v[j] = x;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return v[k];
	}
	return v[k];
}

double ds_report_baseline(enum ds_report_metric m, double *v, size_t n,
			  const struct ds_report_thresholds *t)
{
	double q = t->baseline_percentile / 100.0;
	size_t k;

	if (n == 0)
		return NAN;
	if (!(q > 0))
		q = 0;
	if (q > 1)
		q = 1;
	/* Lower nearest rank, no interpolation: with fewer than 1/q + 1 samples the baseline is
	 * the best value itself, and never creeps towards the current one. The best end is the
	 * low one for delays and losses, the high one for rates. */
	k = (size_t)floor(q * (double)(n - 1));
	return select_kth(v, n, m == DS_METRIC_THROUGHPUT ? n - 1 - k : k);
}

/* ---- the report ---- */

/* The directions from one source: dst id -> cell, open addressing. One small table per
 * source keeps a file's run of rows from the same agent in cache. */
struct dst_slot {
	uint32_t dst;
	uint32_t cell; /* cell index + 1, 0 empty */
};

struct agent {
	char *name;
	uint32_t rank;
	uint32_t ndst, dst_cap;
	struct dst_slot *dst_slots;
};

/* One value of each metric per row, for the baselines; NAN where the row had none. */
struct sample {
	uint32_t cell;
	double v[DS_METRIC_COUNT];
};

struct cell {
	struct ds_report_cell pub;
	uint32_t src_id, dst_id;
	uint8_t cur_outcome[DS_METRIC_COUNT]; /* outcome of the row behind pub.m[i] */
	int64_t extras_ts;                    /* row that gave owd/owd_var/jitter */
	int64_t path_ts;                      /* row that gave pub.path */
};

struct ds_report {
	struct agent *agents;
	size_t nagents, agents_cap;
	uint32_t *agent_slots; /* open addressing: agent id + 1, 0 empty */
	uint32_t last_src, last_dst; /* the agents found last as src and as dst */
	size_t agent_slots_cap;
	uint32_t *by_rank;   /* rank -> agent id */
	uint32_t *sorted;    /* cell indices by (src rank, dst rank), after judge */
	uint32_t *row_start; /* sorted[row_start[r] .. row_start[r + 1]) have src rank r */

	struct cell *cells;
	size_t ncells, cells_cap;

	struct sample *samples;
	size_t nsamples, samples_cap;

	size_t nrows;
	int64_t newest_ns;
	int64_t horizon_ns;
	bool judged;
};

int ds_report_new(struct ds_report **out)
{
	struct ds_report *rep = calloc(1, sizeof(*rep));

	if (!rep)
		return -ENOMEM;
	*out = rep;
	return 0;
}

void ds_report_free(struct ds_report *rep)
{
	size_t i;

	if (!rep)
		return;
	for (i = 0; i < rep->nagents; i++) {
		free(rep->agents[i].name);
		free(rep->agents[i].dst_slots);
	}
	free(rep->agents);
	free(rep->agent_slots);
	free(rep->by_rank);
	free(rep->sorted);
	free(rep->row_start);
	free(rep->cells);
	free(rep->samples);
	free(rep);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 64;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static int agent_slots_rehash(struct ds_report *rep, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof(*slots));
	size_t i;

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < rep->nagents; i++) {
		size_t s = hash_str(rep->agents[i].name) & (cap - 1);

		while (slots[s])
			s = (s + 1) & (cap - 1);
		slots[s] = (uint32_t)i + 1;
	}
	free(rep->agent_slots);
	rep->agent_slots = slots;
	rep->agent_slots_cap = cap;
	return 0;
}

static int agent_id(struct ds_report *rep, const char *name, uint32_t *hint, uint32_t *id)
{
	size_t s;
	int r;

	/* Rows come in runs of the same agents (a file is mostly its own agent's rows). */
	if (*hint < rep->nagents && strcmp(rep->agents[*hint].name, name) == 0) {
		*id = *hint;
		return 0;
	}

	if (rep->agent_slots_cap) {
		for (s = hash_str(name) & (rep->agent_slots_cap - 1); rep->agent_slots[s];
		     s = (s + 1) & (rep->agent_slots_cap - 1)) {
			uint32_t i = rep->agent_slots[s] - 1;

			if (strcmp(rep->agents[i].name, name) == 0) {
				*id = *hint = i;
				return 0;
			}
		}
	}
	if (rep->nagents >= UINT32_MAX - 1)
		return -ENOMEM;
	if ((rep->nagents + 1) * 2 > rep->agent_slots_cap) {
		r = agent_slots_rehash(rep, rep->agent_slots_cap ? rep->agent_slots_cap * 2 : 64);
		if (r < 0)
			return r;
	}
	r = grow((void **)&rep->agents, &rep->agents_cap, rep->nagents + 1, sizeof(*rep->agents));
	if (r < 0)
		return r;
	memset(&rep->agents[rep->nagents], 0, sizeof(rep->agents[rep->nagents]));
	rep->agents[rep->nagents].name = strdup(name);
	if (!rep->agents[rep->nagents].name)
		return -ENOMEM;
	for (s = hash_str(name) & (rep->agent_slots_cap - 1); rep->agent_slots[s];
	     s = (s + 1) & (rep->agent_slots_cap - 1))
		;
	rep->agent_slots[s] = (uint32_t)rep->nagents + 1;
	*id = (uint32_t)rep->nagents++;
	return 0;
}

static uint32_t hash_id(uint32_t id)
{
	/* Fibonacci hashing: the high half of the product is the well-mixed one. */
	return (uint32_t)(((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> 32);
}

static struct cell *cell_find(const struct ds_report *rep, uint32_t src, uint32_t dst)
{
	const struct agent *a = &rep->agents[src];
	uint32_t mask = a->dst_cap - 1, s;

	if (!a->dst_cap)
		return NULL;
	for (s = hash_id(dst) & mask; a->dst_slots[s].cell; s = (s + 1) & mask)
		if (a->dst_slots[s].dst == dst)
			return &rep->cells[a->dst_slots[s].cell - 1];
	return NULL;
}

static void dst_slot_put(struct dst_slot *slots, uint32_t cap, uint32_t dst, uint32_t index)
{
	uint32_t s = hash_id(dst) & (cap - 1);

	while (slots[s].cell)
		s = (s + 1) & (cap - 1);
	slots[s].dst = dst;
	slots[s].cell = index + 1;
}

static int dst_slots_grow(struct agent *a)
{
	uint32_t cap = a->dst_cap ? a->dst_cap * 2 : 8, i;
	struct dst_slot *slots;

	if (a->dst_cap > UINT32_MAX / 4)
		return -ENOMEM;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < a->dst_cap; i++)
		if (a->dst_slots[i].cell)
			dst_slot_put(slots, cap, a->dst_slots[i].dst, a->dst_slots[i].cell - 1);
	free(a->dst_slots);
	a->dst_slots = slots;
	a->dst_cap = cap;
	return 0;
}

static int cell_get(struct ds_report *rep, uint32_t src, uint32_t dst, uint32_t *index)
{
	struct cell *c = cell_find(rep, src, dst);
	int r, m;

	if (c) {
		*index = (uint32_t)(c - rep->cells);
		return 0;
	}
	if (rep->ncells >= UINT32_MAX - 1)
		return -ENOMEM;
	if ((rep->agents[src].ndst + 1) * 2 > rep->agents[src].dst_cap) {
		r = dst_slots_grow(&rep->agents[src]);
		if (r < 0)
			return r;
	}
	r = grow((void **)&rep->cells, &rep->cells_cap, rep->ncells + 1, sizeof(*rep->cells));
	if (r < 0)
		return r;
	c = &rep->cells[rep->ncells];
	memset(c, 0, sizeof(*c));
	c->src_id = src;
	c->dst_id = dst;
	c->pub.owd_ms = c->pub.owd_var_ms = c->pub.jitter_ms = NAN;
	for (m = 0; m < DS_METRIC_COUNT; m++) {
		c->pub.m[m].value = c->pub.m[m].baseline = NAN;
		c->pub.m[m].status = DS_STATUS_NONE;
		c->pub.m[m].reason = DS_REASON_NO_DATA;
	}
	dst_slot_put(rep->agents[src].dst_slots, rep->agents[src].dst_cap, dst,
		     (uint32_t)rep->ncells);
	rep->agents[src].ndst++;
	*index = (uint32_t)rep->ncells++;
	return 0;
}

/* The row is the latest word on metric m of this direction when it is newer (or as new and
 * later in the input) than what the cell holds. */
static void consider(struct cell *c, enum ds_report_metric m, const struct ds_results_row *row,
		     double value, bool lower_bound)
{
	struct ds_report_value *v = &c->pub.m[m];

	if (v->ts_ns && row->ts_ns < v->ts_ns)
		return;
	v->ts_ns = row->ts_ns;
	v->value = value;
	v->lower_bound = lower_bound;
	c->cur_outcome[m] = (uint8_t)row->outcome;
	if (row->path && strlen(row->path) < sizeof(v->path))
		strcpy(v->path, row->path);
	else
		v->path[0] = '\0';
}

void ds_report_set_horizon(struct ds_report *rep, int64_t latest_ns)
{
	rep->horizon_ns = latest_ns;
}

int ds_report_add(struct ds_report *rep, const struct ds_results_row *row)
{
	double vals[DS_METRIC_COUNT];
	uint32_t src, dst, index;
	struct cell *c;
	int r, m;

	if (!good_text(row->src, DS_RESULTS_NAME_MAX) ||
	    !good_text(row->dst, DS_RESULTS_NAME_MAX) || strcmp(row->src, row->dst) == 0 ||
	    (unsigned)row->outcome >= DS_OUTCOME_COUNT || row->ts_ns <= 0)
		return -EINVAL;
	if (rep->horizon_ns && row->ts_ns > rep->horizon_ns)
		return -ERANGE;
	if ((r = agent_id(rep, row->src, &rep->last_src, &src)) < 0 ||
	    (r = agent_id(rep, row->dst, &rep->last_dst, &dst)) < 0 ||
	    (r = cell_get(rep, src, dst, &index)) < 0)
		return r;
	c = &rep->cells[index];
	rep->judged = false;
	rep->nrows++;
	c->pub.rows++;
	if (row->ts_ns > rep->newest_ns)
		rep->newest_ns = row->ts_ns;
	if (row->ts_ns >= c->pub.last_ts_ns) {
		c->pub.last_ts_ns = row->ts_ns;
		c->pub.last_outcome = (uint8_t)row->outcome;
	}
	if (row->path && *row->path && row->ts_ns >= c->path_ts &&
	    strlen(row->path) < sizeof(c->pub.path)) {
		c->path_ts = row->ts_ns;
		strcpy(c->pub.path, row->path);
	}
	if (row->outcome != DS_OUTCOME_OK) {
		for (m = 0; m < DS_METRIC_COUNT; m++)
			consider(c, m, row, NAN, false);
		return 0;
	}
	c->pub.last_ok_ns = row->ts_ns > c->pub.last_ok_ns ? row->ts_ns : c->pub.last_ok_ns;
	if (row->ts_ns >= c->extras_ts &&
	    (!isnan(row->owd_ms) || !isnan(row->owd_var_ms) || !isnan(row->jitter_ms))) {
		c->extras_ts = row->ts_ns;
		c->pub.owd_ms = row->owd_ms;
		c->pub.owd_var_ms = row->owd_var_ms;
		c->pub.jitter_ms = row->jitter_ms;
	}
	/* A round trip belongs to the agent that sent the echoes: the rev row of a run repeats
	 * the initiator's RTT, which is not what the source of that direction sees. */
	vals[DS_METRIC_LATENCY] = row->direction == DS_DIRECTION_REV ? NAN : row->rtt_ms;
	vals[DS_METRIC_THROUGHPUT] = row->bw_mbps;
	vals[DS_METRIC_LOSS] = row->loss_pct;
	if (!isnan(vals[DS_METRIC_LATENCY]))
		consider(c, DS_METRIC_LATENCY, row, vals[DS_METRIC_LATENCY], false);
	if (!isnan(row->bw_mbps))
		consider(c, DS_METRIC_THROUGHPUT, row, row->bw_mbps, false);
	else if (!isnan(row->bw_lower_bound_mbps))
		consider(c, DS_METRIC_THROUGHPUT, row, row->bw_lower_bound_mbps, true);
	if (!isnan(row->loss_pct))
		consider(c, DS_METRIC_LOSS, row, row->loss_pct, false);
	if (isnan(vals[0]) && isnan(vals[1]) && isnan(vals[2]))
		return 0;
	r = grow((void **)&rep->samples, &rep->samples_cap, rep->nsamples + 1,
		 sizeof(*rep->samples));
	if (r < 0)
		return r;
	rep->samples[rep->nsamples].cell = index;
	memcpy(rep->samples[rep->nsamples].v, vals, sizeof(vals));
	rep->nsamples++;
	return 0;
}

long ds_report_read(struct ds_report *rep, struct ds_csv_reader *rd, ds_report_warn_fn *warn,
		    void *ctx, const char **missing)
{
	struct ds_results_columns cols;
	struct ds_results_row row;
	char why[128];
	long added = 0;
	int r;

	if (ds_results_columns_find(rd, &cols, missing) < 0)
		return -EBADMSG;
	while ((r = ds_csv_reader_next(rd)) != 0) {
		const char *ts = r > 0 ? ds_csv_reader_get(rd, cols.index[DS_COL_TS]) : NULL;

		/* Files joined with cat(1) repeat the header: not an error worth a warning. */
		if (ts && strcmp(ts, "ts") == 0)
			continue;
		if (r < 0) {
			if (warn)
				warn(
				    ctx, ds_csv_reader_line(rd),
				    "malformed CSV record (bad quoting or wrong number of fields)");
			continue;
		}
		if (ds_results_row_parse(rd, &cols, &row, why, sizeof(why)) < 0) {
			if (warn)
				warn(ctx, ds_csv_reader_line(rd), why);
			continue;
		}
		r = ds_report_add(rep, &row);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			if (warn)
				warn(ctx, ds_csv_reader_line(rd),
				     r == -ERANGE ? "ts is in the future (clock running ahead?)"
						  : "row not usable");
			continue;
		}
		added++;
	}
	return added;
}

static const struct ds_report *cmp_rep; /* qsort has no context argument */

static int cmp_agent_ids(const void *a, const void *b)
{
	return strcmp(cmp_rep->agents[*(const uint32_t *)a].name,
		      cmp_rep->agents[*(const uint32_t *)b].name);
}

static int judge_baselines(struct ds_report *rep, const struct ds_report_thresholds *t)
{
	uint32_t *start = calloc(rep->ncells + 1, sizeof(*start));
	uint32_t *order = malloc((rep->nsamples + 1) * sizeof(*order));
	uint32_t *fill = NULL;
	double *scratch = NULL;
	size_t i, longest = 0;
	int m;

	if (!start || !order)
		goto nomem;
	/* Counting sort of the samples by cell: each cell's history is then one run. */
	for (i = 0; i < rep->nsamples; i++)
		start[rep->samples[i].cell + 1]++;
	for (i = 0; i < rep->ncells; i++) {
		if (start[i + 1] > longest)
			longest = start[i + 1];
		start[i + 1] += start[i];
	}
	fill = malloc((rep->ncells + 1) * sizeof(*fill));
	scratch = malloc((longest + 1) * sizeof(*scratch));
	if (!fill || !scratch)
		goto nomem;
	memcpy(fill, start, (rep->ncells + 1) * sizeof(*fill));
	for (i = 0; i < rep->nsamples; i++)
		order[fill[rep->samples[i].cell]++] = (uint32_t)i;
	for (i = 0; i < rep->ncells; i++) {
		for (m = 0; m < DS_METRIC_COUNT; m++) {
			size_t n = 0, k;

			for (k = start[i]; k < start[i + 1]; k++) {
				double v = rep->samples[order[k]].v[m];

				if (!isnan(v))
					scratch[n++] = v;
			}
			rep->cells[i].pub.m[m].samples = (uint32_t)n;
			rep->cells[i].pub.m[m].baseline = ds_report_baseline(m, scratch, n, t);
		}
	}
	free(start);
	free(order);
	free(fill);
	free(scratch);
	return 0;
nomem:
	free(start);
	free(order);
	free(fill);
	free(scratch);
	return -ENOMEM;
}

static void judge_cell(struct cell *c, int64_t newest, const struct ds_report_thresholds *t)
{
	int m;

	for (m = 0; m < DS_METRIC_COUNT; m++) {
		struct ds_report_value *v = &c->pub.m[m];

		v->status = DS_STATUS_NONE;
		v->reason = DS_REASON_VALUE;
		if (!v->ts_ns) {
			v->reason = DS_REASON_NO_DATA;
			continue;
		}
		if (t->max_age_ns > 0 && v->ts_ns < newest - t->max_age_ns) {
			v->reason = DS_REASON_STALE;
			continue;
		}
		switch (c->cur_outcome[m]) {
		case DS_OUTCOME_DOWN:
			v->status = DS_STATUS_DOWN;
			break;
		case DS_OUTCOME_REFUSED:
			v->reason = DS_REASON_REFUSED;
			break;
		case DS_OUTCOME_DISABLED:
			v->reason = DS_REASON_DISABLED;
			break;
		case DS_OUTCOME_ERROR:
			v->reason = DS_REASON_ERROR;
			break;
		default:
			if (v->lower_bound && !isnan(v->baseline) &&
			    ds_report_judge_value(m, v->value, v->baseline, t) !=
				DS_STATUS_WITHIN) {
				/* At least X, and X is already below the line: can't tell. */
				v->reason = DS_REASON_LOWER_BOUND;
				break;
			}
			if (v->lower_bound && isnan(v->baseline)) {
				v->reason = DS_REASON_LOWER_BOUND;
				break;
			}
			v->status = (uint8_t)ds_report_judge_value(m, v->value, v->baseline, t);
		}
	}
}

static int cmp_cells_dst(const void *a, const void *b)
{
	uint32_t x = cmp_rep->cells[*(const uint32_t *)a].pub.dst;
	uint32_t y = cmp_rep->cells[*(const uint32_t *)b].pub.dst;

	return (x > y) - (x < y);
}

/* Cells in (src, dst) rank order, so the writers walk rows instead of probing the map. */
static int index_rows(struct ds_report *rep)
{
	uint32_t *sorted = malloc((rep->ncells + 1) * sizeof(*sorted));
	uint32_t *start = calloc(rep->nagents + 2, sizeof(*start));
	uint32_t *fill = malloc((rep->nagents + 1) * sizeof(*fill));
	size_t i;

	if (!sorted || !start || !fill) {
		free(sorted);
		free(start);
		free(fill);
		return -ENOMEM;
	}
	for (i = 0; i < rep->ncells; i++)
		start[rep->cells[i].pub.src + 1]++;
	for (i = 0; i < rep->nagents; i++)
		start[i + 1] += start[i];
	memcpy(fill, start, (rep->nagents + 1) * sizeof(*fill));
	for (i = 0; i < rep->ncells; i++)
		sorted[fill[rep->cells[i].pub.src]++] = (uint32_t)i;
	cmp_rep = rep;
	for (i = 0; i < rep->nagents; i++) {
		uint32_t k;

		/* Files usually list a source's peers in order: check before sorting. */
		for (k = start[i] + 1; k < start[i + 1]; k++)
			if (rep->cells[sorted[k - 1]].pub.dst > rep->cells[sorted[k]].pub.dst)
				break;
		if (k < start[i + 1])
			qsort(sorted + start[i], start[i + 1] - start[i], sizeof(*sorted),
			      cmp_cells_dst);
	}
	cmp_rep = NULL;
	free(fill);
	free(rep->sorted);
	free(rep->row_start);
	rep->sorted = sorted;
	rep->row_start = start;
	return 0;
}

int ds_report_judge(struct ds_report *rep, const struct ds_report_thresholds *t)
{
	uint32_t *ids;
	size_t i;
	int r;

	ids = malloc((rep->nagents + 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < rep->nagents; i++)
		ids[i] = (uint32_t)i;
	cmp_rep = rep;
	qsort(ids, rep->nagents, sizeof(*ids), cmp_agent_ids);
	cmp_rep = NULL;
	for (i = 0; i < rep->nagents; i++)
		rep->agents[ids[i]].rank = (uint32_t)i;
	free(rep->by_rank);
	rep->by_rank = ids;
	r = judge_baselines(rep, t);
	if (r < 0)
		return r;
	for (i = 0; i < rep->ncells; i++) {
		struct cell *c = &rep->cells[i];

		c->pub.src = rep->agents[c->src_id].rank;
		c->pub.dst = rep->agents[c->dst_id].rank;
		judge_cell(c, rep->newest_ns, t);
	}
	r = index_rows(rep);
	if (r < 0)
		return r;
	rep->judged = true;
	return 0;
}

size_t ds_report_nagents(const struct ds_report *rep)
{
	return rep->judged ? rep->nagents : 0;
}

const char *ds_report_agent(const struct ds_report *rep, size_t rank)
{
	if (!rep->judged || rank >= rep->nagents)
		return NULL;
	return rep->agents[rep->by_rank[rank]].name;
}

const struct ds_report_cell *ds_report_cell(const struct ds_report *rep, size_t src, size_t dst)
{
	struct cell *c;

	if (!rep->judged || src >= rep->nagents || dst >= rep->nagents || src == dst)
		return NULL;
	c = cell_find(rep, rep->by_rank[src], rep->by_rank[dst]);
	return c ? &c->pub : NULL;
}

size_t ds_report_nrows(const struct ds_report *rep)
{
	return rep->nrows;
}

int64_t ds_report_newest(const struct ds_report *rep)
{
	return rep->newest_ns;
}

void ds_report_counts(const struct ds_report *rep, enum ds_report_metric m,
		      size_t counts[DS_STATUS_COUNT])
{
	size_t i, seen = 0;

	memset(counts, 0, DS_STATUS_COUNT * sizeof(*counts));
	if (!rep->judged || (unsigned)m >= DS_METRIC_COUNT)
		return;
	for (i = 0; i < rep->ncells; i++) {
		counts[rep->cells[i].pub.m[m].status]++;
		seen++;
	}
	if (rep->nagents > 1)
		counts[DS_STATUS_NONE] += rep->nagents * (rep->nagents - 1) - seen;
}

enum ds_report_status ds_report_cell_status(const struct ds_report_cell *c, unsigned mask)
{
	enum ds_report_status worst = DS_STATUS_NONE;
	int m;

	if (!c)
		return DS_STATUS_NONE;
	for (m = 0; m < DS_METRIC_COUNT; m++)
		if ((mask & (1u << m)) && c->m[m].status > worst)
			worst = c->m[m].status;
	return worst;
}

/* ---- output ---- */

/* Walks the cells of one source row; ask for destinations in increasing rank. */
struct row_iter {
	const struct ds_report *rep;
	const uint32_t *p, *end;
};

static void row_iter_init(struct row_iter *it, const struct ds_report *rep, size_t src)
{
	it->rep = rep;
	it->p = rep->sorted + rep->row_start[src];
	it->end = rep->sorted + rep->row_start[src + 1];
}

static const struct ds_report_cell *row_iter_cell(struct row_iter *it, size_t dst)
{
	const struct cell *cells = it->rep->cells;

	while (it->p < it->end && cells[*it->p].pub.dst < dst)
		it->p++;
	if (it->p < it->end && cells[*it->p].pub.dst == dst)
		return &cells[*it->p].pub;
	return NULL;
}

static const char *const metric_units[DS_METRIC_COUNT] = {"ms", "Mbit/s", "%"};
static const char *const metric_columns[DS_METRIC_COUNT] = {"rtt_ms", "bw_mbps", "loss_pct"};

/* Three significant figures or so, the way a person reads a heat map. */
static void fmt_num(char *buf, size_t len, double v)
{
	static const double scale[] = {1, 10, 100};
	double a = fabs(v);
	int decimals = a < 10 ? 2 : a < 100 ? 1 : 0, n = 0, d;
	char rev[32];
	long long x;

	if (!isfinite(v) || a >= 1e12 || len < 24) {
		snprintf(buf, len, "%.*f", decimals, v);
		return;
	}
	/* A million cells per matrix on a big fleet: digits by hand, not snprintf("%.2f"); on a
	 * near-tie the last digit may differ from printf's by one. */
	x = llrint(a * scale[decimals]);
	for (d = 0; d < decimals; d++, x /= 10)
		rev[n++] = (char)('0' + x % 10);
	if (decimals)
		rev[n++] = '.';
	do
		rev[n++] = (char)('0' + x % 10);
	while ((x /= 10) > 0);
	d = 0;
	if (v < 0 && llrint(a * scale[decimals]) != 0)
		buf[d++] = '-';
	while (n > 0)
		buf[d++] = rev[--n];
	buf[d] = '\0';
}

static void fmt_iso(char *buf, size_t len, int64_t ns)
{
	if (ns <= 0 || len < DS_ISO8601_LEN)
		snprintf(buf, len, "-");
	else
		ds_time_iso8601(buf, len, ns);
}

/* Short text of a cell for the matrix and the heat map. */
static void cell_text(const struct ds_report_cell *c, enum ds_report_metric m, char *buf,
		      size_t len)
{
	const struct ds_report_value *v;
	char num[32];

	if (!c) {
		snprintf(buf, len, "-");
		return;
	}
	v = &c->m[m];
	if (v->status == DS_STATUS_DOWN) {
		snprintf(buf, len, "down");
		return;
	}
	switch (v->reason) {
	case DS_REASON_NO_DATA:
		snprintf(buf, len, "-");
		return;
	case DS_REASON_STALE:
		snprintf(buf, len, "stale");
		return;
	case DS_REASON_REFUSED:
		snprintf(buf, len, "refused");
		return;
	case DS_REASON_DISABLED:
		snprintf(buf, len, "off");
		return;
	case DS_REASON_ERROR:
		snprintf(buf, len, "error");
		return;
	default:
		break;
	}
	fmt_num(num, sizeof(num), v->value);
	if (v->lower_bound)
		snprintf(buf, len, ">=%s", num);
	else
		snprintf(buf, len, "%s", num);
}

static const char status_marks[DS_STATUS_COUNT] = {' ', ' ', '~', '!', ' '};
static const char *const status_ansi[DS_STATUS_COUNT] = {
    "\033[2m", "\033[32m", "\033[33m", "\033[1;31m", "\033[1;97;41m",
};
static const char *const status_labels[DS_STATUS_COUNT] = {
    "no data", "within baseline", "marginal", "outside baseline", "down",
};

static int display_width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Print s in a field of width w (right-aligned unless left), cut to w display columns. */
static void put_field(FILE *f, const char *s, int w, bool left)
{
	static const char spaces[] = "                                ";
	int dw = display_width(s), pad = dw < w ? w - dw : 0, cols = 0;

	if (!left && pad)
		fwrite(spaces, 1,
		       (size_t)pad < sizeof(spaces) - 1 ? (size_t)pad : sizeof(spaces) - 1, f);
	if (dw <= w) {
		fputs(s, f);
	} else {
		for (; *s; s++) {
			if (((unsigned char)*s & 0xc0) != 0x80 && ++cols > w)
				break;
			fputc(*s, f);
		}
	}
	if (left && pad)
		fwrite(spaces, 1,
		       (size_t)pad < sizeof(spaces) - 1 ? (size_t)pad : sizeof(spaces) - 1, f);
}

static void threshold_text(const struct ds_report_thresholds *t, enum ds_report_metric m, char *buf,
			   size_t len)
{
	switch (m) {
	case DS_METRIC_LATENCY:
		snprintf(
		    buf, len,
		    "marginal above baseline +%g %% and +%g ms, outside above +%g %% and +%g ms",
		    t->latency_marginal_pct, t->latency_marginal_ms, t->latency_outside_pct,
		    t->latency_outside_ms);
		break;
	case DS_METRIC_THROUGHPUT:
		snprintf(buf, len, "marginal below baseline -%g %%, outside below -%g %%",
			 t->throughput_marginal_pct, t->throughput_outside_pct);
		break;
	default:
		snprintf(buf, len, "marginal above baseline +%g points, outside above +%g points",
			 t->loss_marginal_pp, t->loss_outside_pp);
	}
}

int ds_report_write_matrix(const struct ds_report *rep, const struct ds_report_thresholds *t,
			   const struct ds_report_format *fmt, FILE *f)
{
	size_t n = ds_report_nagents(rep), i, j;
	int namew = 4, colw = 7, m, first = 1;

	for (i = 0; i < n; i++) {
		int w = display_width(ds_report_agent(rep, i));

		if (w > namew)
			namew = w;
		if (w + 1 > colw)
			colw = w + 1;
	}
	namew = namew > 20 ? 20 : namew;
	colw = colw > 12 ? 12 : colw;
	for (m = 0; m < DS_METRIC_COUNT; m++) {
		size_t counts[DS_STATUS_COUNT];
		char text[48], thr[160];
		int s;

		if (!(fmt->metrics & (1u << m)))
			continue;
		if (!first)
			fputc('\n', f);
		first = 0;
		threshold_text(t, m, thr, sizeof(thr));
		fprintf(f, "%s (%s): row = from, column = to; ~ %s\n", metric_names[m],
			metric_columns[m], thr);
		put_field(f, "from\\to", namew, true);
		for (j = 0; j < n; j++) {
			fputc(' ', f);
			put_field(f, ds_report_agent(rep, j), colw, false);
		}
		fputc('\n', f);
		for (i = 0; i < n; i++) {
			put_field(f, ds_report_agent(rep, i), namew, true);
			struct row_iter it;

			row_iter_init(&it, rep, i);
			for (j = 0; j < n; j++) {
				const struct ds_report_cell *c = row_iter_cell(&it, j);
				enum ds_report_status st = c ? c->m[m].status : DS_STATUS_NONE;

				fputc(' ', f);
				if (i == j) {
					put_field(f, "", colw, false);
					continue;
				}
				cell_text(c, m, text, sizeof(text));
				if (fmt->color)
					fputs(status_ansi[st], f);
				put_field(f, text, colw - 1, false);
				fputc(status_marks[st], f);
				if (fmt->color)
					fputs("\033[0m", f);
			}
			fputc('\n', f);
		}
		ds_report_counts(rep, m, counts);
		for (s = DS_STATUS_WITHIN; s <= DS_STATUS_COUNT; s++) {
			int st = s % DS_STATUS_COUNT; /* NONE last */

			if (fmt->color)
				fputs(status_ansi[st], f);
			fprintf(f, "%s%s %zu", status_labels[st],
				st == DS_STATUS_MARGINAL  ? " (~)"
				: st == DS_STATUS_OUTSIDE ? " (!)"
							  : "",
				counts[st]);
			if (fmt->color)
				fputs("\033[0m", f);
			fputs(st == DS_STATUS_NONE ? "\n" : "  ", f);
		}
	}
	return ferror(f) ? -EIO : 0;
}

int ds_report_write_csv(const struct ds_report *rep, const struct ds_report_format *fmt, FILE *f)
{
	size_t n = ds_report_nagents(rep), i, j;
	char ts[DS_ISO8601_LEN], last[DS_ISO8601_LEN], buf[1024];
	struct ds_csv_rec r;
	int m;

	fmt_iso(ts, sizeof(ts), rep->newest_ns);
	if (fmt->header && ds_csv_header(f, DS_REPORT_CSV_HEADER) < 0)
		return -EIO;
	for (i = 0; i < n; i++) {
		struct row_iter it;

		row_iter_init(&it, rep, i);
		for (j = 0; j < n; j++) {
			const struct ds_report_cell *c = row_iter_cell(&it, j);

			if (i == j)
				continue;
			ds_csv_rec_init(&r, buf, sizeof(buf));
			ds_csv_field(&r, ts);
			ds_csv_field(&r, "ds-report");
			ds_csv_field(&r, ds_report_agent(rep, i));
			ds_csv_field(&r, ds_report_agent(rep, j));
			ds_csv_field(&r, c ? c->path : NULL);
			ds_csv_field(&r, status_names[ds_report_cell_status(c, fmt->metrics)]);
			for (m = 0; m < DS_METRIC_COUNT; m++) {
				const struct ds_report_value *v = c ? &c->m[m] : NULL;
				bool shown = v && v->status != DS_STATUS_DOWN &&
					     (v->reason == DS_REASON_VALUE ||
					      v->reason == DS_REASON_LOWER_BOUND);

				ds_csv_field(&r, status_names[v ? v->status : DS_STATUS_NONE]);
				if (m == DS_METRIC_THROUGHPUT) {
					ds_csv_field_double(
					    &r, shown && !v->lower_bound ? v->value : NAN, 3);
					ds_csv_field_double(
					    &r, shown && v->lower_bound ? v->value : NAN, 3);
				} else {
					ds_csv_field_double(&r, shown ? v->value : NAN, 3);
				}
				ds_csv_field_double(&r, v ? v->baseline : NAN, 3);
			}
			if (c)
				ds_csv_field_long(&r, c->rows);
			else
				ds_csv_field(&r, "0");
			fmt_iso(last, sizeof(last), c ? c->last_ts_ns : 0);
			ds_csv_field(&r, c ? last : NULL);
			if (ds_csv_rec_end(&r) < 0 || ds_csv_write_file(f, &r) < 0)
				return -EIO;
		}
	}
	return ferror(f) ? -EIO : 0;
}

/* OpenMetrics label values: backslash, double quote and newline escaped. */
static void om_label(FILE *f, const char *name, const char *value)
{
	fprintf(f, "%s=\"", name);
	if (!strpbrk(value, "\\\"\n")) {
		fputs(value, f);
		fputc('"', f);
		return;
	}
	for (; *value; value++) {
		if (*value == '\\' || *value == '"')
			fputc('\\', f);
		if (*value == '\n')
			fputs("\\n", f);
		else
			fputc(*value, f);
	}
	fputc('"', f);
}

static void om_family(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# TYPE %s gauge\n# HELP %s %s\n", name, name, help);
}

struct om_gauge {
	const char *name, *help;
	enum ds_report_metric metric;
	bool baseline;
	double scale;
};

static const struct om_gauge om_gauges[] = {
    {"ds_report_rtt_seconds", "Round-trip time of the latest measurement of the direction.",
     DS_METRIC_LATENCY, false, 1e-3},
    {"ds_report_rtt_baseline_seconds",
     "Baseline round-trip time of the direction (low percentile of its history).",
     DS_METRIC_LATENCY, true, 1e-3},
    /* Bytes, not bits: Prometheus' base unit (promtool says so); Mbit/s × 125000. */
    {"ds_report_throughput_bytes_per_second",
     "Packet-pair bottleneck rate of the latest measurement of the direction.",
     DS_METRIC_THROUGHPUT, false, 125000},
    {"ds_report_throughput_baseline_bytes_per_second",
     "Baseline bottleneck rate of the direction (high percentile of its history).",
     DS_METRIC_THROUGHPUT, true, 125000},
    {"ds_report_loss_ratio", "Packet loss of the latest measurement of the direction, 0..1.",
     DS_METRIC_LOSS, false, 1e-2},
    {"ds_report_loss_baseline_ratio",
     "Baseline packet loss of the direction (low percentile of its history), 0..1.", DS_METRIC_LOSS,
     true, 1e-2},
};

static void om_cell_labels(FILE *f, const struct ds_report *rep, size_t i, size_t j,
			   const char *path)
{
	fputc('{', f);
	om_label(f, "src", ds_report_agent(rep, i));
	fputc(',', f);
	om_label(f, "dst", ds_report_agent(rep, j));
	fputc(',', f);
	om_label(f, "path", path);
}

int ds_report_write_openmetrics(const struct ds_report *rep, const struct ds_report_format *fmt,
				FILE *f)
{
	size_t n = ds_report_nagents(rep), i, j, g;
	int m, s;

	for (g = 0; g < sizeof(om_gauges) / sizeof(om_gauges[0]); g++) {
		const struct om_gauge *og = &om_gauges[g];

		if (!(fmt->metrics & (1u << og->metric)))
			continue;
		om_family(f, og->name, og->help);
		for (i = 0; i < n; i++) {
			struct row_iter it;

			row_iter_init(&it, rep, i);
			for (j = 0; j < n; j++) {
				const struct ds_report_cell *c = row_iter_cell(&it, j);
				const struct ds_report_value *v;
				double x;

				if (!c)
					continue;
				v = &c->m[og->metric];
				if (og->baseline)
					x = v->baseline;
				else if (v->reason == DS_REASON_VALUE &&
					 v->status != DS_STATUS_DOWN && !v->lower_bound)
					x = v->value;
				else
					x = NAN;
				if (isnan(x))
					continue;
				fputs(og->name, f);
				om_cell_labels(f, rep, i, j, v->path);
				fprintf(f, "} %.9g\n", x * og->scale);
			}
		}
	}
	om_family(f, "ds_report_status",
		  "Status of the direction against its baseline: 0 within, 1 marginal, "
		  "2 outside, 3 down; absent when there is no current value.");
	for (i = 0; i < n; i++) {
		struct row_iter it;

		row_iter_init(&it, rep, i);
		for (j = 0; j < n; j++) {
			const struct ds_report_cell *c = row_iter_cell(&it, j);

			if (!c)
				continue;
			for (m = 0; m < DS_METRIC_COUNT; m++) {
				if (!(fmt->metrics & (1u << m)) || c->m[m].status == DS_STATUS_NONE)
					continue;
				fputs("ds_report_status", f);
				om_cell_labels(f, rep, i, j, c->m[m].path);
				fputc(',', f);
				om_label(f, "metric", metric_names[m]);
				fprintf(f, "} %d\n", c->m[m].status - DS_STATUS_WITHIN);
			}
		}
	}
	om_family(f, "ds_report_cells",
		  "Directions of the N x (N-1) matrix per metric and status.");
	for (m = 0; m < DS_METRIC_COUNT; m++) {
		size_t counts[DS_STATUS_COUNT];

		if (!(fmt->metrics & (1u << m)))
			continue;
		ds_report_counts(rep, m, counts);
		for (s = 0; s < DS_STATUS_COUNT; s++) {
			fputs("ds_report_cells{", f);
			om_label(f, "metric", metric_names[m]);
			fputc(',', f);
			om_label(f, "status", status_names[s]);
			fprintf(f, "} %zu\n", counts[s]);
		}
	}
	om_family(f, "ds_report_last_row_timestamp_seconds",
		  "Unix time of the latest results row for the direction, any outcome.");
	for (i = 0; i < n; i++) {
		struct row_iter it;

		row_iter_init(&it, rep, i);
		for (j = 0; j < n; j++) {
			const struct ds_report_cell *c = row_iter_cell(&it, j);

			if (!c)
				continue;
			fputs("ds_report_last_row_timestamp_seconds", f);
			om_cell_labels(f, rep, i, j, c->path);
			fprintf(f, "} %.3f\n", (double)c->last_ts_ns / 1e9);
		}
	}
	om_family(f, "ds_report_agents", "Agents named in the results.");
	fprintf(f, "ds_report_agents %zu\n", n);
	fputs("# EOF\n", f);
	return ferror(f) ? -EIO : 0;
}

/* ---- SVG heat map ---- */

static const char svg_style[] =
    "text{font-family:DejaVu Sans,Verdana,sans-serif;font-size:12px;fill:#212529}\n"
    ".h1{font-size:16px;font-weight:bold}\n"
    ".note{font-size:11px;fill:#495057}\n"
    ".lbl{font-size:11px}\n"
    ".v{font-size:11px;pointer-events:none}\n"
    ".vs{font-size:9px;pointer-events:none}\n"
    ".s-within{fill:#2f9e44}.s-marginal{fill:#f59f00}.s-outside{fill:#e03131}\n"
    ".s-down{fill:#343a40}.s-none{fill:#e9ecef}.diag{fill:#f8f9fa;stroke:#dee2e6}\n"
    ".t-within,.t-outside,.t-down{fill:#ffffff}.t-marginal,.t-none{fill:#212529}\n"
    ".cell rect{stroke:#ffffff;stroke-width:1}\n"
    ".chip rect{stroke:none}\n";

/* Display order of statuses in chips and legend: the worst last, no data at the end. */
static const enum ds_report_status svg_order[DS_STATUS_COUNT] = {
    DS_STATUS_WITHIN, DS_STATUS_MARGINAL, DS_STATUS_OUTSIDE, DS_STATUS_DOWN, DS_STATUS_NONE,
};

struct svg_geometry {
	double cell, left, top, width, panel_height;
	bool values;
	bool compact; /* only cells not within baseline are drawn */
};

static void svg_geometry(const struct ds_report *rep, struct svg_geometry *g)
{
	size_t n = ds_report_nagents(rep), i;
	int longest = 4;

	for (i = 0; i < n; i++) {
		int w = display_width(ds_report_agent(rep, i));

		longest = w > longest ? w : longest;
	}
	longest = longest > 24 ? 24 : longest;
	g->cell = n <= 12 ? 56 : n <= 30 ? 34 : n <= 100 ? 14 : 6;
	g->values = g->cell >= 34;
	g->compact = n > 150;
	g->left = 24 + longest * 7.0;
	/* Column labels are turned 45°: they need about 0.75 of their length upwards. */
	g->top = 110 + (n <= 100 ? longest * 5.5 : 20);
	g->width = g->left + (double)n * g->cell + 24;
	if (g->width < 760)
		g->width = 760;
	g->panel_height = g->top + (double)n * g->cell + 40;
}

static void svg_cell(FILE *f, const struct ds_report *rep, const struct ds_report_thresholds *t,
		     enum ds_report_metric m, size_t i, size_t j, const struct ds_report_cell *c,
		     double x, double y, const struct svg_geometry *g)
{
	const struct ds_report_value *v = c ? &c->m[m] : NULL;
	enum ds_report_status st = v ? v->status : DS_STATUS_NONE;
	const char *src = ds_report_agent(rep, i), *dst = ds_report_agent(rep, j);
	char text[48], tip[512], val[32], base[32], when[DS_ISO8601_LEN], delta[64] = "";

	cell_text(c, m, text, sizeof(text));
	fputs("<g class=\"cell\" data-src=\"", f);
	ds_svg_escape(f, src);
	fputs("\" data-dst=\"", f);
	ds_svg_escape(f, dst);
	fprintf(f, "\" data-metric=\"%s\" data-status=\"%s\"", metric_names[m], status_names[st]);
	if (v && v->reason == DS_REASON_VALUE && st != DS_STATUS_DOWN)
		fprintf(f, " data-value=\"%.6g\"", v->value);
	if (v && !isnan(v->baseline))
		fprintf(f, " data-baseline=\"%.6g\"", v->baseline);
	fputs(">\n<title>", f);
	if (!v) {
		ds_svg_fmt(tip, sizeof(tip), "%s → %s (from %s to %s): never measured", src, dst,
			   src, dst);
	} else {
		fmt_num(val, sizeof(val), v->value);
		fmt_num(base, sizeof(base), v->baseline);
		fmt_iso(when, sizeof(when), v->ts_ns);
		if (st >= DS_STATUS_WITHIN && st <= DS_STATUS_OUTSIDE && v->baseline != 0) {
			if (m == DS_METRIC_LOSS)
				ds_svg_fmt(delta, sizeof(delta), ", %+.1f points",
					   v->value - v->baseline);
			else
				ds_svg_fmt(delta, sizeof(delta), ", %+.0f %%",
					   (v->value - v->baseline) / v->baseline * 100);
		}
		if (st == DS_STATUS_DOWN)
			ds_svg_fmt(tip, sizeof(tip),
				   "%s → %s (from %s to %s): down at %s; baseline %s %s; "
				   "%u rows",
				   src, dst, src, dst, when, base, metric_units[m], c->rows);
		else if (v->reason != DS_REASON_VALUE)
			ds_svg_fmt(tip, sizeof(tip),
				   "%s → %s (from %s to %s): %s, latest row %s; baseline %s %s",
				   src, dst, src, dst, reason_names[v->reason], when, base,
				   metric_units[m]);
		else
			ds_svg_fmt(tip, sizeof(tip),
				   "%s → %s (from %s to %s): %s%s %s, baseline %s %s%s — %s; "
				   "path %s; %s; %u samples",
				   src, dst, src, dst, v->lower_bound ? "at least " : "", val,
				   metric_units[m], base, metric_units[m], delta, status_labels[st],
				   v->path[0] ? v->path : "-", when, v->samples);
	}
	ds_svg_escape(f, tip);
	fprintf(f,
		"</title>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		"class=\"s-%s\"/>\n",
		x, y, g->cell, g->cell, status_names[st]);
	if (g->values) {
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"%s t-%s\">",
			x + g->cell / 2, y + g->cell / 2 + 4, g->cell >= 50 ? "v" : "vs",
			status_names[st]);
		ds_svg_escape(f, text);
		fputs("</text>\n", f);
	}
	fputs("</g>\n", f);
	(void)t;
}

static void svg_panel(FILE *f, const struct ds_report *rep, const struct ds_report_thresholds *t,
		      enum ds_report_metric m, double y0, const struct svg_geometry *g)
{
	static const char *const headings[DS_METRIC_COUNT] = {
	    "Latency — round-trip time, ms",
	    "Throughput — packet-pair bottleneck rate, Mbit/s",
	    "Loss — packets lost, %",
	};
	size_t n = ds_report_nagents(rep), i, j, counts[DS_STATUS_COUNT];
	char buf[256];
	double x;
	int k;

	fprintf(f, "<g class=\"panel\" data-metric=\"%s\">\n", metric_names[m]);
	ds_svg_text(f, 16, y0 + 24, "h1", NULL, headings[m]);
	threshold_text(t, m, buf, sizeof(buf));
	ds_svg_text(f, 16, y0 + 42, "note", NULL, buf);
	/* Chips: how many directions are in each status. */
	ds_report_counts(rep, m, counts);
	x = 16;
	for (k = 0; k < DS_STATUS_COUNT; k++) {
		enum ds_report_status st = svg_order[k];
		double w;

		ds_svg_fmt(buf, sizeof(buf), "%s %zu", status_labels[st], counts[st]);
		w = display_width(buf) * 7.0 + 20;
		fprintf(f, "<g class=\"chip\" data-status=\"%s\" data-count=\"%zu\">",
			status_names[st], counts[st]);
		fprintf(f,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"20\" rx=\"10\" "
			"class=\"s-%s\"/>",
			x, y0 + 54, w, status_names[st]);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"lbl t-%s\">",
			x + w / 2, y0 + 68, status_names[st]);
		ds_svg_escape(f, buf);
		fputs("</text></g>\n", f);
		x += w + 8;
	}
	ds_svg_text(f, 16, y0 + 96, "note", NULL,
		    g->compact ? "Each cell is one direction: row = from (source), column = to "
				 "(destination). Only cells not within baseline are drawn."
			       : "Each cell is one direction: row = from (source), column = to "
				 "(destination). Baseline = the direction's own best in history.");
	ds_svg_text(f, 8, y0 + g->top - 6, "note", NULL, "from ↓  to →");
	for (j = 0; j < n && g->cell >= 14; j++) {
		double cx = g->left + (double)j * g->cell + g->cell / 2;

		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" class=\"lbl col\" "
			"transform=\"rotate(-45 %.1f %.1f)\">",
			cx, y0 + g->top - 6, cx, y0 + g->top - 6);
		ds_svg_escape(f, ds_report_agent(rep, j));
		fputs("</text>\n", f);
	}
	if (g->compact)
		fprintf(f,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			"class=\"s-within background\"/>\n",
			g->left, y0 + g->top, (double)n * g->cell, (double)n * g->cell);
	for (i = 0; i < n; i++) {
		double y = y0 + g->top + (double)i * g->cell;
		struct row_iter it;

		if (g->cell >= 14)
			ds_svg_text(f, g->left - 6, y + g->cell / 2 + 4, "lbl row", "end",
				    ds_report_agent(rep, i));
		row_iter_init(&it, rep, i);
		for (j = 0; j < n; j++) {
			double cx = g->left + (double)j * g->cell;

			if (g->compact) {
				const struct ds_report_cell *c = row_iter_cell(&it, j);

				/* Big fleets: only what needs attention gets an element. */
				if (i != j && (!c || c->m[m].status != DS_STATUS_WITHIN))
					svg_cell(f, rep, t, m, i, j, c, cx, y, g);
				continue;
			}
			if (i == j)
				fprintf(f,
					"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
					"height=\"%.1f\" class=\"diag\"/>\n",
					cx, y, g->cell, g->cell);
			else
				svg_cell(f, rep, t, m, i, j, row_iter_cell(&it, j), cx, y, g);
		}
	}
	fputs("</g>\n", f);
}

int ds_report_write_svg(const struct ds_report *rep, const struct ds_report_thresholds *t,
			const struct ds_report_format *fmt, FILE *f)
{
	struct svg_geometry g;
	char title[256], when[DS_ISO8601_LEN];
	double y = 0, height;
	int m, panels = 0;

	svg_geometry(rep, &g);
	for (m = 0; m < DS_METRIC_COUNT; m++)
		panels += !!(fmt->metrics & (1u << m));
	height = g.panel_height * panels + 40;
	fmt_iso(when, sizeof(when), rep->newest_ns);
	ds_svg_fmt(title, sizeof(title), "%s — %zu agents, as of %s",
		   fmt->title ? fmt->title : "datastun fleet heat map", ds_report_nagents(rep),
		   when);
	ds_svg_begin(f, g.width, height, title, svg_style);
	fputs("<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n", f);
	for (m = 0; m < DS_METRIC_COUNT; m++) {
		if (!(fmt->metrics & (1u << m)))
			continue;
		svg_panel(f, rep, t, m, y, &g);
		y += g.panel_height;
	}
	ds_svg_text(f, 16, y + 24, "note", NULL, title);
	ds_svg_end(f);
	return ferror(f) ? -EIO : 0;
}

/* ---- plain-language summary ---- */

struct finding {
	double score; /* higher = worse, within a section */
	uint32_t src, dst;
	uint8_t metric, status, kind;
	double a, b; /* asymmetry: the two directions' values */
};

enum { ASYM_RATE, ASYM_OWD, ASYM_RTT, ASYM_OWD_VAR, ASYM_LOSS };

struct findings {
	struct finding *v;
	size_t n, cap;
};

static int finding_add(struct findings *fs, const struct finding *x)
{
	int r = grow((void **)&fs->v, &fs->cap, fs->n + 1, sizeof(*fs->v));

	if (r < 0)
		return r;
	fs->v[fs->n++] = *x;
	return 0;
}

static int cmp_findings(const void *pa, const void *pb)
{
	const struct finding *a = pa, *b = pb;

	if (a->status != b->status)
		return a->status > b->status ? -1 : 1;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->src != b->src)
		return a->src < b->src ? -1 : 1;
	if (a->dst != b->dst)
		return a->dst < b->dst ? -1 : 1;
	return (int)a->metric - (int)b->metric;
}

static void sort_findings(struct findings *fs)
{
	if (fs->n)
		qsort(fs->v, fs->n, sizeof(*fs->v), cmp_findings);
}

static double slip_score(const struct ds_report_value *v, enum ds_report_metric m,
			 const struct ds_report_thresholds *t)
{
	switch (m) {
	case DS_METRIC_LATENCY:
		if (v->baseline <= 0)
			return 1e9;
		return (v->value - v->baseline) / v->baseline * 100 / t->latency_outside_pct;
	case DS_METRIC_THROUGHPUT:
		if (v->baseline <= 0)
			return 0;
		return (v->baseline - v->value) / v->baseline * 100 / t->throughput_outside_pct;
	default:
		return (v->value - v->baseline) / (t->loss_outside_pp > 0 ? t->loss_outside_pp : 1);
	}
}

static bool has_value(const struct ds_report_cell *c, enum ds_report_metric m)
{
	return c && c->m[m].reason == DS_REASON_VALUE && c->m[m].status >= DS_STATUS_WITHIN &&
	       c->m[m].status <= DS_STATUS_OUTSIDE && !c->m[m].lower_bound;
}

/* a and b asymmetric: one at least ratio times the other and apart by more than floor. */
static bool asymmetric(double a, double b, double ratio, double floor, double *score)
{
	double hi = a > b ? a : b, lo = a > b ? b : a;

	if (isnan(a) || isnan(b) || hi - lo <= floor || hi < ratio * lo)
		return false;
	*score = lo > 0 ? hi / lo : 1e6;
	return true;
}

static int collect_asymmetries(const struct ds_report *rep, const struct ds_report_thresholds *t,
			       unsigned mask, struct findings *fs)
{
	size_t n = ds_report_nagents(rep), i, j;
	double R = t->asymmetry_ratio;
	int r = 0;

	for (i = 0; i < n && r == 0; i++) {
		struct row_iter it;

		row_iter_init(&it, rep, i);
		for (j = i + 1; j < n && r == 0; j++) {
			const struct ds_report_cell *ab = row_iter_cell(&it, j), *ba;
			struct finding x = {.src = (uint32_t)i, .dst = (uint32_t)j};

			if (!ab || !(ba = ds_report_cell(rep, j, i)))
				continue;
			if ((mask & (1u << DS_METRIC_THROUGHPUT)) &&
			    has_value(ab, DS_METRIC_THROUGHPUT) &&
			    has_value(ba, DS_METRIC_THROUGHPUT) &&
			    asymmetric(ab->m[1].value, ba->m[1].value, R, 0, &x.score)) {
				x.kind = ASYM_RATE;
				x.metric = DS_METRIC_THROUGHPUT;
				x.a = ab->m[1].value;
				x.b = ba->m[1].value;
				r = finding_add(fs, &x);
			}
			if ((mask & (1u << DS_METRIC_LATENCY)) &&
			    has_value(ab, DS_METRIC_LATENCY) && has_value(ba, DS_METRIC_LATENCY)) {
				x.metric = DS_METRIC_LATENCY;
				if (!isnan(ab->owd_ms) && !isnan(ba->owd_ms)) {
					if (asymmetric(ab->owd_ms, ba->owd_ms, R,
						       t->latency_marginal_ms, &x.score)) {
						x.kind = ASYM_OWD;
						x.a = ab->owd_ms;
						x.b = ba->owd_ms;
						r = r ? r : finding_add(fs, &x);
					}
				} else if (asymmetric(ab->m[0].value, ba->m[0].value, R,
						      t->latency_marginal_ms, &x.score)) {
					x.kind = ASYM_RTT;
					x.a = ab->m[0].value;
					x.b = ba->m[0].value;
					r = r ? r : finding_add(fs, &x);
				}
				if (asymmetric(ab->owd_var_ms, ba->owd_var_ms, R,
					       t->latency_marginal_ms, &x.score)) {
					x.kind = ASYM_OWD_VAR;
					x.a = ab->owd_var_ms;
					x.b = ba->owd_var_ms;
					r = r ? r : finding_add(fs, &x);
				}
			}
			if ((mask & (1u << DS_METRIC_LOSS)) && has_value(ab, DS_METRIC_LOSS) &&
			    has_value(ba, DS_METRIC_LOSS) &&
			    asymmetric(ab->m[2].value, ba->m[2].value, R, t->loss_marginal_pp,
				       &x.score)) {
				x.kind = ASYM_LOSS;
				x.metric = DS_METRIC_LOSS;
				x.a = ab->m[2].value;
				x.b = ba->m[2].value;
				/* Against a loss-free direction the ratio is infinite: rank by how many
				 * marginal steps apart they are instead, next to the other ratios. */
				x.score = 1 + fabs(x.a - x.b) / (t->loss_marginal_pp > 0.1
									 ? t->loss_marginal_pp
									 : 0.1);
				r = r ? r : finding_add(fs, &x);
			}
		}
	}
	return r;
}

static void short_time(char *buf, size_t len, int64_t ns)
{
	fmt_iso(buf, len, ns);
}

static bool more_lines(FILE *f, size_t shown, size_t total, const struct ds_report_format *fmt)
{
	if (fmt->top && shown >= fmt->top) {
		fprintf(f, "  ... and %zu more\n", total - shown);
		return false;
	}
	return true;
}

int ds_report_write_summary(const struct ds_report *rep, const struct ds_report_thresholds *t,
			    const struct ds_report_format *fmt, FILE *f)
{
	static const char *const asym_words[] = {
	    [ASYM_RATE] = "throughput",
	    [ASYM_OWD] = "one-way delay",
	    [ASYM_RTT] = "round-trip time as measured from each end",
	    [ASYM_OWD_VAR] = "one-way delay variation (queueing)",
	    [ASYM_LOSS] = "loss",
	};
	static const char *const asym_units[] = {"Mbit/s", "ms", "ms", "ms", "%"};
	struct findings down = {0}, slipped = {0}, unmeasured = {0}, asym = {0};
	size_t n = ds_report_nagents(rep), i, j, k, never = 0, bad = 0;
	char when[DS_ISO8601_LEN], when2[DS_ISO8601_LEN], a[32], b[32];
	int m, r = 0;

	fmt_iso(when, sizeof(when), rep->newest_ns);
	fprintf(f,
		"%zu agents, %zu directions, as of %s; each judged against its own baseline "
		"(%g%s percentile of its history).\n",
		n, n > 1 ? n * (n - 1) : 0, when, t->baseline_percentile,
		t->baseline_percentile == 1 ? "st" : "th");
	for (m = 0; m < DS_METRIC_COUNT; m++) {
		size_t c[DS_STATUS_COUNT];

		if (!(fmt->metrics & (1u << m)))
			continue;
		ds_report_counts(rep, m, c);
		fprintf(f,
			"  %-10s %zu within baseline, %zu marginal, %zu outside, %zu down, "
			"%zu without a current value\n",
			metric_names[m], c[DS_STATUS_WITHIN], c[DS_STATUS_MARGINAL],
			c[DS_STATUS_OUTSIDE], c[DS_STATUS_DOWN], c[DS_STATUS_NONE]);
	}
	for (i = 0; i < n && r == 0; i++) {
		struct row_iter it;

		row_iter_init(&it, rep, i);
		for (j = 0; j < n && r == 0; j++) {
			const struct ds_report_cell *c = row_iter_cell(&it, j);
			struct finding x = {.src = (uint32_t)i, .dst = (uint32_t)j};
			enum ds_report_status worst;

			if (i == j)
				continue;
			if (!c) {
				never++;
				continue;
			}
			worst = ds_report_cell_status(c, fmt->metrics);
			if (worst == DS_STATUS_DOWN) {
				x.status = DS_STATUS_DOWN;
				/* Down longest first: the oldest last success. */
				x.score = -(double)c->last_ok_ns;
				r = finding_add(&down, &x);
				continue;
			}
			if (worst == DS_STATUS_NONE) {
				for (m = 0; m < DS_METRIC_COUNT; m++)
					if ((fmt->metrics & (1u << m)) &&
					    c->m[m].reason != DS_REASON_VALUE)
						x.kind = c->m[m].reason;
				x.score = -(double)c->last_ts_ns;
				r = finding_add(&unmeasured, &x);
				continue;
			}
			for (m = 0; m < DS_METRIC_COUNT && r == 0; m++) {
				const struct ds_report_value *v = &c->m[m];

				if (!(fmt->metrics & (1u << m)) || v->status < DS_STATUS_MARGINAL ||
				    v->status > DS_STATUS_OUTSIDE)
					continue;
				x.metric = (uint8_t)m;
				x.status = v->status;
				x.score = slip_score(v, m, t);
				r = finding_add(&slipped, &x);
			}
		}
	}
	if (r == 0)
		r = collect_asymmetries(rep, t, fmt->metrics, &asym);
	if (r < 0)
		goto out;
	sort_findings(&down);
	sort_findings(&slipped);
	sort_findings(&unmeasured);
	sort_findings(&asym);
	bad = down.n + slipped.n;
	if (bad == 0 && never == 0 && unmeasured.n == 0)
		fprintf(f, "\nEvery direction is within its baseline.\n");
	if (down.n)
		fprintf(f, "\nDown (%zu directions), longest first:\n", down.n);
	for (k = 0; k < down.n && more_lines(f, k, down.n, fmt); k++) {
		const struct ds_report_cell *c = ds_report_cell(rep, down.v[k].src, down.v[k].dst);

		short_time(when, sizeof(when), c->last_ts_ns);
		short_time(when2, sizeof(when2), c->last_ok_ns);
		fprintf(f, "  %zu. %s → %s is down (latest row %s); ", k + 1,
			ds_report_agent(rep, down.v[k].src), ds_report_agent(rep, down.v[k].dst),
			when);
		if (c->last_ok_ns)
			fprintf(f, "last measured %s%s%s.\n", when2, c->path[0] ? " over " : "",
				c->path);
		else
			fprintf(f, "never measured in these files.\n");
	}
	if (slipped.n)
		fprintf(f, "\nSlipped from baseline (%zu), worst first:\n", slipped.n);
	for (k = 0; k < slipped.n && more_lines(f, k, slipped.n, fmt); k++) {
		const struct finding *x = &slipped.v[k];
		const struct ds_report_cell *c = ds_report_cell(rep, x->src, x->dst);
		const struct ds_report_value *v = &c->m[x->metric];

		fmt_num(a, sizeof(a), v->value);
		fmt_num(b, sizeof(b), v->baseline);
		fprintf(f, "  %zu. %s → %s %s is %s: %s %s against a baseline of %s %s", k + 1,
			ds_report_agent(rep, x->src), ds_report_agent(rep, x->dst),
			metric_names[x->metric],
			x->status == DS_STATUS_OUTSIDE ? "outside" : "marginal", a,
			metric_units[x->metric], b, metric_units[x->metric]);
		if (x->metric == DS_METRIC_LATENCY)
			fprintf(f, " (+%.1f ms, %.1f×)", v->value - v->baseline,
				v->baseline > 0 ? v->value / v->baseline : INFINITY);
		else if (x->metric == DS_METRIC_THROUGHPUT)
			fprintf(f, " (%.0f %% lower)",
				(v->baseline - v->value) / v->baseline * 100);
		else
			fprintf(f, " (+%.1f points)", v->value - v->baseline);
		fprintf(f, "%s%s.\n", v->path[0] ? ", path " : "", v->path);
	}
	if (unmeasured.n)
		fprintf(f, "\nNo current value (%zu directions):\n", unmeasured.n);
	for (k = 0; k < unmeasured.n && more_lines(f, k, unmeasured.n, fmt); k++) {
		const struct finding *x = &unmeasured.v[k];
		const struct ds_report_cell *c = ds_report_cell(rep, x->src, x->dst);

		short_time(when, sizeof(when), c->last_ts_ns);
		fprintf(f, "  %zu. %s → %s: %s (latest row %s).\n", k + 1,
			ds_report_agent(rep, x->src), ds_report_agent(rep, x->dst),
			reason_names[x->kind], when);
	}
	if (never)
		fprintf(f, "\nNever measured (%zu directions):\n", never);
	for (i = 0, k = 0; never && i < n; i++) {
		struct row_iter it;

		row_iter_init(&it, rep, i);
		for (j = 0; j < n; j++) {
			if (i == j || row_iter_cell(&it, j))
				continue;
			if (fmt->top && k == fmt->top)
				fprintf(f, "  ... and %zu more\n", never - k);
			if (!fmt->top || k < fmt->top)
				fprintf(f, "  %zu. %s → %s\n", k + 1, ds_report_agent(rep, i),
					ds_report_agent(rep, j));
			k++;
		}
	}
	if (asym.n)
		fprintf(f, "\nStrongly asymmetric pairs (%zu; one direction %g× the other or more):\n",
			asym.n, t->asymmetry_ratio);
	for (k = 0; k < asym.n && more_lines(f, k, asym.n, fmt); k++) {
		const struct finding *x = &asym.v[k];
		const char *s = ds_report_agent(rep, x->src), *d = ds_report_agent(rep, x->dst);

		fmt_num(a, sizeof(a), x->a);
		fmt_num(b, sizeof(b), x->b);
		if (x->kind == ASYM_LOSS || x->score >= 1e6)
			fprintf(f, "  %zu. %s ⇄ %s %s: %s %s %s → %s, %s %s %s → %s.\n", k + 1, s,
				d, asym_words[x->kind], a, asym_units[x->kind], s, d, b,
				asym_units[x->kind], d, s);
		else
			fprintf(f, "  %zu. %s ⇄ %s %s: %s %s %s → %s, %s %s %s → %s (%.1f×).\n",
				k + 1, s, d, asym_words[x->kind], a, asym_units[x->kind], s, d, b,
				asym_units[x->kind], d, s, x->score);
	}
out:
	free(down.v);
	free(slipped.v);
	free(unmeasured.v);
	free(asym.v);
	if (r < 0)
		return r;
	return ferror(f) ? -EIO : 0;
}
