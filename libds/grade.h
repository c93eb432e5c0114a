/* SPDX-License-Identifier: MIT */
/*
 * Grading TCP sessions from the kernel's own counters (SPEC "Grading rules").
 *
 *   rtt_ms       tcpi_rtt / 1000: the kernel's smoothed RTT of the session
 *   retrans_pct  tcpi_total_retrans / tcpi_segs_out * 100: of all the segments the session
 *                sent (retransmissions included), the share that were retransmissions
 *
 * A grade is the worse of the RTT grade and the retransmit grade; each is Excellent below the
 * first threshold, Good below the second, Fair below the third, Poor otherwise. Defaults:
 * RTT 50 / 100 / 200 ms, retransmits 0.5 / 1 / 3 %.
 *
 * A roll-up (app, device, fleet member) grades the median RTT of its sessions and the
 * retransmit share of all their segments together (sum of retransmits / sum of segments),
 * so one long clean transfer is not drowned by many tiny ones nor the other way round.
 */
#ifndef DS_GRADE_H
#define DS_GRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum ds_grade {
	DS_GRADE_NONE = -1, /* not graded */
	DS_GRADE_EXCELLENT = 0,
	DS_GRADE_GOOD = 1,
	DS_GRADE_FAIR = 2,
	DS_GRADE_POOR = 3,
};
#define DS_GRADE_COUNT 4

struct ds_grade_config {
	double rtt_ms[3];      /* Excellent / Good / Fair upper bounds (exclusive) */
	double retrans_pct[3]; /* the same for retransmits */
	double min_age_s;      /* younger sessions are not graded (0.5) */
	unsigned min_sessions; /* fewer graded sessions: no app grade (3) */
	bool include_lan;      /* grade sessions to private / link-local peers too (false) */
};

/* Why a session is not graded. */
enum ds_grade_skip {
	DS_GRADE_GRADED = 0,
	DS_GRADE_SKIP_LOOPBACK, /* loopback, or to one of this host's own addresses */
	DS_GRADE_SKIP_LAN,      /* private or link-local peer, and include_lan is off */
	DS_GRADE_SKIP_YOUNG,    /* younger than min_age_s (or age unknown) */
	DS_GRADE_SKIP_NO_INFO,  /* the kernel gave no tcp_info */
};

void ds_grade_config_default(struct ds_grade_config *c);
/* Thresholds strictly increasing and non-negative: 0 or -EINVAL. */
int ds_grade_config_check(const struct ds_grade_config *c);
/*
 * Set one setting by name (the config file keys, see ds-grade(5)):
 * excellent_rtt_ms good_rtt_ms fair_rtt_ms excellent_retrans_pct good_retrans_pct
 * fair_retrans_pct min_age_s min_sessions include_lan.
 * 0, -ENOENT (unknown key), -EINVAL / -ERANGE (bad value).
 */
int ds_grade_config_set(struct ds_grade_config *c, const char *key, const char *value);
/*
 * Read "key = value" lines ('#' comments, blank lines). On error *line is the 1-based line
 * (0 when the file could not be opened). 0 or -errno / -ENOENT / -EINVAL / -ERANGE.
 */
int ds_grade_config_load(struct ds_grade_config *c, const char *path, unsigned *line);
/* "50,100,200": three strictly increasing non-negative numbers. 0, -EINVAL or -ERANGE. */
int ds_grade_parse_thresholds(const char *s, double out[3]);

/* NAN when nothing was sent. */
double ds_grade_retrans_pct(uint64_t retrans, uint64_t segs_out);
/* Grade of one metric against its three thresholds. */
enum ds_grade ds_grade_metric(const double thresholds[3], double value);
/* Worse of the RTT grade and the retransmit grade; a NAN retransmit share counts as none. */
enum ds_grade ds_grade_of(const struct ds_grade_config *c, double rtt_ms, double retrans_pct);
enum ds_grade ds_grade_worse(enum ds_grade a, enum ds_grade b);
/* "Excellent" "Good" "Fair" "Poor", "" for DS_GRADE_NONE. */
const char *ds_grade_name(enum ds_grade g);
/* Case-insensitive; "" gives DS_GRADE_NONE. 0 or -EINVAL. */
int ds_grade_parse_name(const char *s, enum ds_grade *out);

/* Whether a session is graded; age_s < 0 = unknown. */
enum ds_grade_skip ds_grade_eligible(const struct ds_grade_config *c, const struct ds_addr *local,
				     const struct ds_addr *remote, double age_s, bool has_info);
/* "graded" "loopback" "lan" "young" "no-info" */
const char *ds_grade_skip_name(enum ds_grade_skip s);

/* ---- roll-ups ---- */

/* One graded session as a roll-up sees it. */
struct ds_grade_item {
	double rtt_ms;
	uint64_t retrans;
	uint64_t segs_out;
	enum ds_grade grade;
};

struct ds_grade_rollup {
	size_t sessions;
	size_t per_grade[DS_GRADE_COUNT]; /* sessions per grade */
	double median_rtt_ms;             /* NAN when no sessions */
	double retrans_pct;               /* sum retrans / sum segs_out * 100; NAN when none */
	double clean_pct;                 /* share of sessions graded Excellent or Good */
	enum ds_grade grade;              /* DS_GRADE_NONE below min_sessions */
};

/* Median of v[0..n) (sorts v). NAN for n == 0. */
double ds_grade_median(double *v, size_t n);
/*
 * Roll n items up; scratch holds n doubles (caller-owned, for the median). Graded only
 * when n >= min_sessions.
 */
void ds_grade_rollup(const struct ds_grade_config *c, const struct ds_grade_item *items, size_t n,
		     unsigned min_sessions, double *scratch, struct ds_grade_rollup *out);

/* Timeline bucket of ts within [start, start + n * width): index, or -1 outside. */
int ds_grade_bucket(int64_t start_ns, int64_t width_ns, int nbuckets, int64_t ts_ns);

#endif
