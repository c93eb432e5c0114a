/* SPDX-License-Identifier: MIT */
/*
 * ds-grade's files (ds-grade(5)): the history of finished sessions (CSV, appended one whole
 * row at a time by the caller) and the cron state file of the sessions seen by the previous
 * run (CSV, replaced atomically: written beside it, synced, renamed).
 */
#ifndef DS_GRADEHIST_H
#define DS_GRADEHIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "csv.h"
#include "grade.h"

#define DS_GRADEHIST_COLUMNS                                                                       \
	"ts,tool,host,event,pid,app,exe,local,remote,cookie,age_s,rtt_ms,retrans,segs_out,"        \
	"retrans_pct,bytes_acked,bytes_received,grade"

/* One history row. */
struct ds_gradehist_row {
	int64_t ts_ns;
	char host[64];
	char event[16]; /* "closed", "gone", "sample" */
	long long pid;  /* -1 when unknown */
	char app[64];
	const char *exe; /* writing only; NULL = unknown */
	struct ds_addr local, remote;
	uint64_t cookie;
	bool has_cookie;
	double age_s;  /* < 0 when unknown */
	double rtt_ms; /* NAN when unknown */
	uint64_t retrans, segs_out;
	uint64_t bytes_acked, bytes_received;
	enum ds_grade grade; /* as the writer graded it; readers grade again */
	bool latest;         /* reading: the last row of its session in the file */
};

/* Build the CSV record of a row (tool is "ds-grade"). 0, or -ENOSPC if cap is too small. */
int ds_gradehist_rec(struct ds_csv_rec *r, char *buf, size_t cap,
		     const struct ds_gradehist_row *row);

/* ---- reading ---- */

struct ds_gradehist;

int ds_gradehist_new(struct ds_gradehist **out);
void ds_gradehist_free(struct ds_gradehist *h);
/*
 * Append the rows of a history file with ts >= not_before_ns (0 = all) and mark the last
 * row of every session (same cookie and addresses; a row without cookie is a session of its
 * own). Readers need only the ts, remote and rtt_ms columns; without segs_out, retrans_pct
 * is taken as given. 0, -errno, -EBADMSG (empty, no header) or -ENOMSG (no ts, remote or
 * rtt_ms column). Records that cannot be used are skipped and counted.
 */
int ds_gradehist_read(struct ds_gradehist *h, const char *path, int64_t not_before_ns);
/* The rows read so far, in file order (callers may set .grade). */
struct ds_gradehist_row *ds_gradehist_rows(struct ds_gradehist *h, size_t *n);
/* Records skipped so far, and the line of the first of them in the last file read. */
size_t ds_gradehist_skipped(const struct ds_gradehist *h, long *first_line);

/* ---- the cron state file ---- */

struct ds_gradestate {
	uint64_t cookie;
	int64_t first_seen_ns, last_seen_ns; /* realtime */
	long long pid;                       /* -1 when unknown */
	char app[64];
	char exe[512];
	struct ds_addr local, remote;
	uint8_t state;
	uint32_t rtt_us, retrans, segs_out;
	uint64_t bytes_acked, bytes_received;
};

/* Call cb for every entry of the state file. 0, -ENOENT (no file yet), -errno, or a negative
 * return of cb. Unusable lines are skipped. */
int ds_gradestate_load(const char *path, int (*cb)(const struct ds_gradestate *e, void *arg),
		       void *arg);

struct ds_gradestate_writer;

/* Start replacing path: entries go to a temporary file beside it. 0 or -errno. */
int ds_gradestate_begin(const char *path, struct ds_gradestate_writer **out);
int ds_gradestate_put(struct ds_gradestate_writer *w, const struct ds_gradestate *e);
/* Sync and rename over path (commit), or remove the temporary file (abort). Both free w.
 * commit returns 0 or -errno (and then leaves path as it was). */
int ds_gradestate_commit(struct ds_gradestate_writer *w);
void ds_gradestate_abort(struct ds_gradestate_writer *w);

#endif
