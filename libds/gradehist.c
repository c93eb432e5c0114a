// SPDX-License-Identifier: MIT
/* ds-grade's history and cron state files: see gradehist.h and ds-grade(5). */
#include "gradehist.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "num.h"

int ds_gradehist_rec(struct ds_csv_rec *r, char *buf, size_t cap,
		     const struct ds_gradehist_row *row)
{
	char ts[DS_ISO8601_LEN], la[DS_ADDR_STRLEN], ra[DS_ADDR_STRLEN];

	ds_csv_rec_init(r, buf, cap);
	ds_csv_field(r, ds_time_iso8601(ts, sizeof(ts), row->ts_ns));
	ds_csv_field(r, "ds-grade");
	ds_csv_field(r, row->host);
	ds_csv_field(r, row->event);
	if (row->pid >= 0)
		ds_csv_field_long(r, row->pid);
	else
		ds_csv_field(r, NULL);
	ds_csv_field(r, row->app);
	ds_csv_field(r, row->exe);
	ds_csv_field(r, ds_addr_format(&row->local, true, la, sizeof(la)));
	ds_csv_field(r, ds_addr_format(&row->remote, true, ra, sizeof(ra)));
	if (row->has_cookie)
		ds_csv_fieldf(r, "%llu", (unsigned long long)row->cookie);
	else
		ds_csv_field(r, NULL);
	ds_csv_field_double(r, row->age_s >= 0 ? row->age_s : NAN, 1);
	ds_csv_field_double(r, row->rtt_ms, 3);
	ds_csv_field_long(r, (long long)row->retrans);
	ds_csv_field_long(r, (long long)row->segs_out);
	ds_csv_field_double(r, ds_grade_retrans_pct(row->retrans, row->segs_out), 3);
	ds_csv_field_long(r, (long long)row->bytes_acked);
	ds_csv_field_long(r, (long long)row->bytes_received);
	ds_csv_field(r, ds_grade_name(row->grade));
	return ds_csv_rec_end(r);
}

/* ---- reading ---- */

struct ds_gradehist {
	struct ds_gradehist_row *rows;
	uint64_t *keys; /* per row: hash of cookie + addresses, to find each session's last row */
	size_t n, cap;
	size_t skipped;
	long first_skipped_line;
};

int ds_gradehist_new(struct ds_gradehist **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void ds_gradehist_free(struct ds_gradehist *h)
{
	if (!h)
		return;
	free(h->rows);
	free(h->keys);
	free(h);
}

struct ds_gradehist_row *ds_gradehist_rows(struct ds_gradehist *h, size_t *n)
{
	*n = h->n;
	return h->rows;
}

size_t ds_gradehist_skipped(const struct ds_gradehist *h, long *first_line)
{
	if (first_line)
		*first_line = h->first_skipped_line;
	return h->skipped;
}

static uint64_t fnv1a(uint64_t hk, const char *s)
{
	for (; s && *s; s++)
		hk = (hk ^ (unsigned char)*s) * 1099511628211ULL;
	return hk ^ 0xff; /* separator, so ("ab","c") and ("a","bc") differ */
}

static void skip(struct ds_gradehist *h, long line)
{
	if (!h->skipped++ || !h->first_skipped_line)
		h->first_skipped_line = line;
}

/* "YYYY-" with YYYY in 1970..2199. */
static bool year_ok(const char *v)
{
	int i, year = 0;

	for (i = 0; i < 4; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		year = year * 10 + (v[i] - '0');
	}
	return v[4] == '-' && year >= 1970 && year <= 2199;
}

static int parse_row(struct ds_csv_reader *rd, struct ds_gradehist_row *row)
{
	const char *v;
	long long ll;

	memset(row, 0, sizeof(*row));
	row->pid = -1;
	row->grade = DS_GRADE_NONE;
	v = ds_csv_reader_get_name(rd, "ts");
	/* Years outside 1970..2199 are not ours (and would not fit in int64 nanoseconds). */
	if (!v || !year_ok(v) || ds_time_parse_iso8601(v, &row->ts_ns) < 0)
		return -EBADMSG;
	v = ds_csv_reader_get_name(rd, "remote");
	if (!v || ds_addr_parse(v, 0, DS_ADDR_PORT_OPTIONAL, &row->remote) < 0)
		return -EBADMSG;
	v = ds_csv_reader_get_name(rd, "rtt_ms");
	if (!v || ds_parse_double(v, 0, 1e9, &row->rtt_ms) < 0)
		return -EBADMSG;
	v = ds_csv_reader_get_name(rd, "local");
	if (!v || ds_addr_parse(v, 0, DS_ADDR_PORT_OPTIONAL, &row->local) < 0)
		memset(&row->local, 0, sizeof(row->local));
	v = ds_csv_reader_get_name(rd, "host");
	snprintf(row->host, sizeof(row->host), "%s", v ? v : "");
	v = ds_csv_reader_get_name(rd, "event");
	snprintf(row->event, sizeof(row->event), "%s", v ? v : "");
	v = ds_csv_reader_get_name(rd, "app");
	snprintf(row->app, sizeof(row->app), "%s", v ? v : "");
	v = ds_csv_reader_get_name(rd, "pid");
	if (v && ds_parse_long(v, 0, INT32_MAX, &ll) == 0)
		row->pid = ll;
	v = ds_csv_reader_get_name(rd, "cookie");
	if (v && ds_parse_long(v, 0, INT64_MAX, &ll) == 0) {
		row->cookie = (uint64_t)ll;
		row->has_cookie = true;
	}
	v = ds_csv_reader_get_name(rd, "age_s");
	if (!v || ds_parse_double(v, 0, 1e12, &row->age_s) < 0)
		row->age_s = -1;
	v = ds_csv_reader_get_name(rd, "retrans");
	if (v && ds_parse_long(v, 0, INT64_MAX, &ll) == 0)
		row->retrans = (uint64_t)ll;
	v = ds_csv_reader_get_name(rd, "segs_out");
	if (v && ds_parse_long(v, 0, INT64_MAX, &ll) == 0) {
		row->segs_out = (uint64_t)ll;
	} else {
		/* A history without counts: take the percentage as given. */
		double pct;

		v = ds_csv_reader_get_name(rd, "retrans_pct");
		if (v && ds_parse_double(v, 0, 100, &pct) == 0) {
			row->segs_out = 100000;
			row->retrans = (uint64_t)llround(pct * 1000);
		}
	}
	v = ds_csv_reader_get_name(rd, "bytes_acked");
	if (v && ds_parse_long(v, 0, INT64_MAX, &ll) == 0)
		row->bytes_acked = (uint64_t)ll;
	v = ds_csv_reader_get_name(rd, "bytes_received");
	if (v && ds_parse_long(v, 0, INT64_MAX, &ll) == 0)
		row->bytes_received = (uint64_t)ll;
	v = ds_csv_reader_get_name(rd, "grade");
	if (v && ds_grade_parse_name(v, &row->grade) < 0)
		row->grade = DS_GRADE_NONE;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Mark rows [first, n) that are the last of their session: sort (key, index) pairs. */
static int mark_latest(struct ds_gradehist *h, size_t first)
{
	size_t m = h->n - first, i;
	uint64_t *pairs;

	if (!m)
		return 0;
	pairs = malloc(m * 2 * sizeof(*pairs));
	if (!pairs)
		return -ENOMEM;
	/* Sorting 128-bit (key, index) as two u64s: sort by key, then by index. */
	for (i = 0; i < m; i++) {
		pairs[2 * i] = h->keys[first + i];
		pairs[2 * i + 1] = first + i;
	}
	qsort(pairs, m, 2 * sizeof(*pairs), cmp_u64); /* by key (first word) */
	for (i = 0; i < m;) {
		size_t j = i, last = (size_t)pairs[2 * i + 1];

		for (; j < m && pairs[2 * j] == pairs[2 * i]; j++)
			if ((size_t)pairs[2 * j + 1] > last)
				last = (size_t)pairs[2 * j + 1];
		h->rows[last].latest = true;
		i = j;
	}
	free(pairs);
	return 0;
}

int ds_gradehist_read(struct ds_gradehist *h, const char *path, int64_t not_before_ns)
{
	struct ds_csv_reader *rd;
	size_t first = h->n;
	int r = ds_csv_reader_open(path, &rd);

	if (r < 0)
		return r;
	if (ds_csv_reader_column(rd, "ts") < 0 || ds_csv_reader_column(rd, "rtt_ms") < 0 ||
	    ds_csv_reader_column(rd, "remote") < 0) {
		ds_csv_reader_free(rd);
		return -ENOMSG;
	}
	h->first_skipped_line = 0;
	while ((r = ds_csv_reader_next(rd)) != 0) {
		struct ds_gradehist_row row;
		uint64_t key = 1469598103934665603ULL;

		if (r < 0 || parse_row(rd, &row) < 0) {
			skip(h, ds_csv_reader_line(rd));
			continue;
		}
		if (not_before_ns > 0 && row.ts_ns < not_before_ns)
			continue;
		if (h->n == h->cap) {
			size_t nc = h->cap ? h->cap * 2 : 1024;
			struct ds_gradehist_row *nr = realloc(h->rows, nc * sizeof(*nr));
			uint64_t *nk = nr ? realloc(h->keys, nc * sizeof(*nk)) : NULL;

			if (nr)
				h->rows = nr;
			if (!nr || !nk) {
				ds_csv_reader_free(rd);
				return -ENOMEM;
			}
			h->keys = nk;
			h->cap = nc;
		}
		if (row.has_cookie) {
			key = fnv1a(key, ds_csv_reader_get_name(rd, "cookie"));
			key = fnv1a(key, ds_csv_reader_get_name(rd, "local"));
			key = fnv1a(key, ds_csv_reader_get_name(rd, "remote"));
		} else {
			/* No cookie: every row is its own session. */
			key = ~(uint64_t)h->n;
		}
		h->keys[h->n] = key;
		h->rows[h->n++] = row;
	}
	ds_csv_reader_free(rd);
	return mark_latest(h, first);
}

/* ---- the cron state file ---- */

#define STATE_COLUMNS                                                                              \
	"cookie,first_seen_ns,last_seen_ns,pid,app,exe,local,remote,state,rtt_us,retrans,"         \
	"segs_out,bytes_acked,bytes_received"

int ds_gradestate_load(const char *path, int (*cb)(const struct ds_gradestate *e, void *arg),
		       void *arg)
{
	static const char *const num[] = {"cookie",   "first_seen_ns", "last_seen_ns",
					  "state",    "rtt_us",        "retrans",
					  "segs_out", "bytes_acked",   "bytes_received"};
	struct ds_csv_reader *rd;
	int r = ds_csv_reader_open(path, &rd);

	if (r < 0)
		return r;
	while ((r = ds_csv_reader_next(rd)) != 0) {
		struct ds_gradestate e;
		long long v[9];
		const char *f;
		size_t i;
		bool bad = false;

		if (r < 0)
			continue;
		for (i = 0; i < 9; i++) {
			f = ds_csv_reader_get_name(rd, num[i]);
			if (!f || ds_parse_long(f, 0, INT64_MAX, &v[i]) < 0)
				bad = true;
		}
		memset(&e, 0, sizeof(e));
		f = ds_csv_reader_get_name(rd, "local");
		if (bad || !f || ds_addr_parse(f, 0, DS_ADDR_PORT_OPTIONAL, &e.local) < 0)
			continue;
		f = ds_csv_reader_get_name(rd, "remote");
		if (!f || ds_addr_parse(f, 0, DS_ADDR_PORT_OPTIONAL, &e.remote) < 0)
			continue;
		if (v[3] > 255 || v[4] > UINT32_MAX || v[5] > UINT32_MAX || v[6] > UINT32_MAX)
			continue;
		e.cookie = (uint64_t)v[0];
		e.first_seen_ns = v[1];
		e.last_seen_ns = v[2];
		e.state = (uint8_t)v[3];
		e.rtt_us = (uint32_t)v[4];
		e.retrans = (uint32_t)v[5];
		e.segs_out = (uint32_t)v[6];
		e.bytes_acked = (uint64_t)v[7];
		e.bytes_received = (uint64_t)v[8];
		f = ds_csv_reader_get_name(rd, "pid");
		e.pid = -1;
		if (f && *f && ds_parse_long(f, 0, INT32_MAX, &v[0]) == 0)
			e.pid = v[0];
		f = ds_csv_reader_get_name(rd, "app");
		snprintf(e.app, sizeof(e.app), "%s", f ? f : "");
		f = ds_csv_reader_get_name(rd, "exe");
		snprintf(e.exe, sizeof(e.exe), "%s", f ? f : "");
		r = cb(&e, arg);
		if (r < 0)
			break;
	}
	ds_csv_reader_free(rd);
	return r < 0 ? r : 0;
}

struct ds_gradestate_writer {
	char *path, *tmp;
	FILE *f;
	int err;
};

int ds_gradestate_begin(const char *path, struct ds_gradestate_writer **out)
{
	struct ds_gradestate_writer *w = calloc(1, sizeof(*w));
	size_t n = strlen(path) + sizeof(".XXXXXX");
	int fd, err;

	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->tmp = malloc(n);
	if (!w->path || !w->tmp) {
		err = -ENOMEM;
		goto fail;
	}
	snprintf(w->tmp, n, "%s.XXXXXX", path);
	fd = mkstemp(w->tmp);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	w->f = fdopen(fd, "w");
	if (!w->f) {
		err = -errno;
		close(fd);
		unlink(w->tmp);
		goto fail;
	}
	if (ds_csv_header(w->f, STATE_COLUMNS) < 0)
		w->err = -EIO;
	*out = w;
	return 0;
fail:
	free(w->path);
	free(w->tmp);
	free(w);
	return err;
}

int ds_gradestate_put(struct ds_gradestate_writer *w, const struct ds_gradestate *e)
{
	char buf[2048], la[DS_ADDR_STRLEN], ra[DS_ADDR_STRLEN];
	struct ds_csv_rec r;

	ds_csv_rec_init(&r, buf, sizeof(buf));
	ds_csv_fieldf(&r, "%llu", (unsigned long long)e->cookie);
	ds_csv_field_long(&r, e->first_seen_ns);
	ds_csv_field_long(&r, e->last_seen_ns);
	if (e->pid >= 0)
		ds_csv_field_long(&r, e->pid);
	else
		ds_csv_field(&r, NULL);
	ds_csv_field(&r, e->app);
	ds_csv_field(&r, e->exe);
	ds_csv_field(&r, ds_addr_format(&e->local, true, la, sizeof(la)));
	ds_csv_field(&r, ds_addr_format(&e->remote, true, ra, sizeof(ra)));
	ds_csv_field_long(&r, e->state);
	ds_csv_field_long(&r, e->rtt_us);
	ds_csv_field_long(&r, e->retrans);
	ds_csv_field_long(&r, e->segs_out);
	ds_csv_field_long(&r, (long long)e->bytes_acked);
	ds_csv_field_long(&r, (long long)e->bytes_received);
	if (ds_csv_rec_end(&r) < 0)
		return -ENOSPC;
	if (ds_csv_write_file(w->f, &r) < 0)
		w->err = -EIO;
	return w->err;
}

static void writer_free(struct ds_gradestate_writer *w)
{
	free(w->path);
	free(w->tmp);
	free(w);
}

int ds_gradestate_commit(struct ds_gradestate_writer *w)
{
	int err = w->err;

	if (!err && (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0))
		err = -errno;
	if (fclose(w->f) != 0 && !err)
		err = -errno;
	if (!err && rename(w->tmp, w->path) < 0)
		err = -errno;
	if (err)
		unlink(w->tmp);
	writer_free(w);
	return err;
}

void ds_gradestate_abort(struct ds_gradestate_writer *w)
{
	if (!w)
		return;
	fclose(w->f);
	unlink(w->tmp);
	writer_free(w);
}
