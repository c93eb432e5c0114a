// SPDX-License-Identifier: MIT
/* Grading rules, thresholds and roll-ups: see grade.h and ds-grade(1). */
#include "grade.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "num.h"

static const char *const grade_names[DS_GRADE_COUNT] = {"Excellent", "Good", "Fair", "Poor"};

void ds_grade_config_default(struct ds_grade_config *c)
{
	memset(c, 0, sizeof(*c));
	c->rtt_ms[0] = 50;
	c->rtt_ms[1] = 100;
	c->rtt_ms[2] = 200;
	c->retrans_pct[0] = 0.5;
	c->retrans_pct[1] = 1;
	c->retrans_pct[2] = 3;
	c->min_age_s = 0.5;
	c->min_sessions = 3;
	c->include_lan = false;
}

static int check_triple(const double t[3])
{
	if (!(t[0] >= 0 && t[0] < t[1] && t[1] < t[2]))
		return -EINVAL;
	return 0;
}

int ds_grade_config_check(const struct ds_grade_config *c)
{
	if (check_triple(c->rtt_ms) || check_triple(c->retrans_pct))
		return -EINVAL;
	if (!(c->min_age_s >= 0) || c->min_sessions < 1)
		return -EINVAL;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1") ||
	    !strcasecmp(s, "on")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0") ||
	    !strcasecmp(s, "off")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

int ds_grade_config_set(struct ds_grade_config *c, const char *key, const char *value)
{
	static const struct {
		const char *key;
		int metric; /* 0 rtt, 1 retrans */
		int index;
	} thresholds[] = {
	    {"excellent_rtt_ms", 0, 0},      {"good_rtt_ms", 0, 1},      {"fair_rtt_ms", 0, 2},
	    {"excellent_retrans_pct", 1, 0}, {"good_retrans_pct", 1, 1}, {"fair_retrans_pct", 1, 2},
	};
	size_t i;

	for (i = 0; i < sizeof(thresholds) / sizeof(thresholds[0]); i++) {
		if (strcmp(key, thresholds[i].key) == 0) {
			double *t = thresholds[i].metric ? c->retrans_pct : c->rtt_ms;

			return ds_parse_double(value, 0, thresholds[i].metric ? 100 : 3600000,
					       &t[thresholds[i].index]);
		}
	}
	if (strcmp(key, "min_age_s") == 0)
		return ds_parse_double(value, 0, 86400, &c->min_age_s);
	if (strcmp(key, "min_sessions") == 0) {
		long long v;
		int r = ds_parse_long(value, 1, 1000000, &v);

		if (r == 0)
			c->min_sessions = (unsigned)v;
		return r;
	}
	if (strcmp(key, "include_lan") == 0)
		return parse_bool(value, &c->include_lan);
	return -ENOENT;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int ds_grade_config_load(struct ds_grade_config *c, const char *path, unsigned *line)
{
	char buf[512];
	FILE *f;
	int err = 0;

	*line = 0;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(buf, sizeof(buf), f)) {
		char *s, *eq, *key, *value;

		(*line)++;
		if (!strchr(buf, '\n') && !feof(f)) {
			err = -EINVAL; /* line too long */
			break;
		}
		s = buf;
		s[strcspn(s, "#")] = '\0';
		s = trim(s);
		if (!*s)
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			err = -EINVAL;
			break;
		}
		*eq = '\0';
		key = trim(s);
		value = trim(eq + 1);
		err = ds_grade_config_set(c, key, value);
		if (err)
			break;
	}
	if (!err && ferror(f))
		err = -EIO;
	fclose(f);
	if (!err) {
		*line = 0;
		err = ds_grade_config_check(c);
	}
	return err;
}

int ds_grade_parse_thresholds(const char *s, double out[3])
{
	char buf[128], *tok, *save = NULL;
	double t[3];
	int i = 0, r;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (i == 3)
			return -EINVAL;
		r = ds_parse_double(tok, 0, 3600000, &t[i++]);
		if (r)
			return r;
	}
	if (i != 3 || check_triple(t))
		return -EINVAL;
	memcpy(out, t, sizeof(t));
	return 0;
}

double ds_grade_retrans_pct(uint64_t retrans, uint64_t segs_out)
{
	if (segs_out == 0)
		return NAN;
	return (double)retrans * 100.0 / (double)segs_out;
}

enum ds_grade ds_grade_metric(const double t[3], double value)
{
	if (isnan(value))
		return DS_GRADE_EXCELLENT;
	if (value < t[0])
		return DS_GRADE_EXCELLENT;
	if (value < t[1])
		return DS_GRADE_GOOD;
	if (value < t[2])
		return DS_GRADE_FAIR;
	return DS_GRADE_POOR;
}

enum ds_grade ds_grade_worse(enum ds_grade a, enum ds_grade b)
{
	return a > b ? a : b;
}

enum ds_grade ds_grade_of(const struct ds_grade_config *c, double rtt_ms, double retrans_pct)
{
	if (isnan(rtt_ms))
		return DS_GRADE_NONE;
	return ds_grade_worse(ds_grade_metric(c->rtt_ms, rtt_ms),
			      ds_grade_metric(c->retrans_pct, retrans_pct));
}

const char *ds_grade_name(enum ds_grade g)
{
	if (g < DS_GRADE_EXCELLENT || g > DS_GRADE_POOR)
		return "";
	return grade_names[g];
}

int ds_grade_parse_name(const char *s, enum ds_grade *out)
{
	int i;

	if (!*s) {
		*out = DS_GRADE_NONE;
		return 0;
	}
	for (i = 0; i < DS_GRADE_COUNT; i++) {
		if (strcasecmp(s, grade_names[i]) == 0) {
			*out = (enum ds_grade)i;
			return 0;
		}
	}
	return -EINVAL;
}

enum ds_grade_skip ds_grade_eligible(const struct ds_grade_config *c, const struct ds_addr *local,
				     const struct ds_addr *remote, double age_s, bool has_info)
{
	if (ds_addr_is_loopback(local) || ds_addr_is_loopback(remote) ||
	    ds_addr_equal_host(local, remote))
		return DS_GRADE_SKIP_LOOPBACK;
	if (!c->include_lan && (ds_addr_is_private(remote) || ds_addr_is_link_local(remote)))
		return DS_GRADE_SKIP_LAN;
	if (!has_info)
		return DS_GRADE_SKIP_NO_INFO;
	if (age_s < 0 || age_s < c->min_age_s)
		return DS_GRADE_SKIP_YOUNG;
	return DS_GRADE_GRADED;
}

const char *ds_grade_skip_name(enum ds_grade_skip s)
{
	switch (s) {
	case DS_GRADE_GRADED:
		return "graded";
	case DS_GRADE_SKIP_LOOPBACK:
		return "loopback";
	case DS_GRADE_SKIP_LAN:
		return "lan";
	case DS_GRADE_SKIP_YOUNG:
		return "young";
	case DS_GRADE_SKIP_NO_INFO:
		return "no-info";
	}
	return "";
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double ds_grade_median(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	if (n % 2)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

void ds_grade_rollup(const struct ds_grade_config *c, const struct ds_grade_item *items, size_t n,
		     unsigned min_sessions, double *scratch, struct ds_grade_rollup *out)
{
	uint64_t retrans = 0, segs = 0;
	size_t i, clean = 0;

	memset(out, 0, sizeof(*out));
	out->sessions = n;
	for (i = 0; i < n; i++) {
		scratch[i] = items[i].rtt_ms;
		retrans += items[i].retrans;
		segs += items[i].segs_out;
		if (items[i].grade >= DS_GRADE_EXCELLENT && items[i].grade <= DS_GRADE_POOR)
			out->per_grade[items[i].grade]++;
		if (items[i].grade == DS_GRADE_EXCELLENT || items[i].grade == DS_GRADE_GOOD)
			clean++;
	}
	out->median_rtt_ms = ds_grade_median(scratch, n);
	out->retrans_pct = ds_grade_retrans_pct(retrans, segs);
	out->clean_pct = n ? (double)clean * 100.0 / (double)n : NAN;
	out->grade = (n > 0 && n >= min_sessions)
			 ? ds_grade_of(c, out->median_rtt_ms, out->retrans_pct)
			 : DS_GRADE_NONE;
}

int ds_grade_bucket(int64_t start_ns, int64_t width_ns, int nbuckets, int64_t ts_ns)
{
	int64_t i;

	if (width_ns <= 0 || ts_ns < start_ns)
		return -1;
	i = (ts_ns - start_ns) / width_ns;
	return i < nbuckets ? (int)i : -1;
}
