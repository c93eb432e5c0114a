// SPDX-License-Identifier: MIT
#define UNIT_NAME "gradehist"
#include "unit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gradehist.h"

static char dir[64];

static const char *path_of(const char *name)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void write_file(const char *name, const char *content)
{
	FILE *f = fopen(path_of(name), "w");

	fputs(content, f);
	fclose(f);
}

static struct ds_gradehist_row sample_row(void)
{
	struct ds_gradehist_row r;

	memset(&r, 0, sizeof(r));
	r.ts_ns = 1795435200123000000LL; /* 2026-11-23T12:00:00.123Z */
	snprintf(r.host, sizeof(r.host), "laptop");
	snprintf(r.event, sizeof(r.event), "closed");
	r.pid = 4242;
	snprintf(r.app, sizeof(r.app), "curl");
	r.exe = "/usr/bin/curl";
	ds_addr_parse("[2001:db8::1]:40000", 0, 0, &r.local);
	ds_addr_parse("[2001:db8::2]:443", 0, 0, &r.remote);
	r.cookie = 12345678901ULL;
	r.has_cookie = true;
	r.age_s = 12.34;
	r.rtt_ms = 38.123;
	r.retrans = 3;
	r.segs_out = 200;
	r.bytes_acked = 100002;
	r.bytes_received = 5000;
	r.grade = DS_GRADE_FAIR;
	return r;
}

static void record_has_the_documented_columns(void)
{
	struct ds_gradehist_row row = sample_row();
	struct ds_csv_rec r;
	char buf[1024];

	CHECK_INT(ds_gradehist_rec(&r, buf, sizeof(buf), &row), 0);
	CHECK_STR(buf, "2026-11-23T12:00:00.123Z,ds-grade,laptop,closed,4242,curl,/usr/bin/curl,"
		       "[2001:db8::1]:40000,[2001:db8::2]:443,12345678901,12.3,38.123,3,200,1.500,"
		       "100002,5000,Fair\n");
	row.pid = -1;
	row.exe = NULL;
	row.app[0] = '\0';
	row.age_s = -1;
	row.segs_out = 0;
	row.grade = DS_GRADE_NONE;
	CHECK_INT(ds_gradehist_rec(&r, buf, sizeof(buf), &row), 0);
	/* Unknown values are empty fields, never a made-up 0. */
	CHECK_STR(buf, "2026-11-23T12:00:00.123Z,ds-grade,laptop,closed,,,,[2001:db8::1]:40000,"
		       "[2001:db8::2]:443,12345678901,,38.123,3,0,,100002,5000,\n");
	CHECK_INT(ds_gradehist_rec(&r, buf, 40, &row), -ENOSPC);
}

static void written_rows_read_back(void)
{
	struct ds_gradehist_row row = sample_row(), *rows;
	struct ds_gradehist *h;
	struct ds_csv_rec r;
	char buf[1024];
	FILE *f = fopen(path_of("h.csv"), "w");
	size_t n;

	fprintf(f, "%s\n", DS_GRADEHIST_COLUMNS);
	snprintf(row.event, sizeof(row.event), "sample");
	ds_gradehist_rec(&r, buf, sizeof(buf), &row);
	fputs(buf, f);
	row.ts_ns += 60 * 1000000000LL;
	snprintf(row.event, sizeof(row.event), "closed");
	row.retrans = 4;
	ds_gradehist_rec(&r, buf, sizeof(buf), &row);
	fputs(buf, f);
	row.cookie++; /* another session */
	ds_gradehist_rec(&r, buf, sizeof(buf), &row);
	fputs(buf, f);
	fclose(f);

	CHECK_INT(ds_gradehist_new(&h), 0);
	CHECK_INT(ds_gradehist_read(h, path_of("h.csv"), 0), 0);
	rows = ds_gradehist_rows(h, &n);
	CHECK_INT(n, 3);
	CHECK(!rows[0].latest); /* the sample, superseded by the close */
	CHECK(rows[1].latest && rows[2].latest);
	CHECK_STR(rows[1].event, "closed");
	CHECK_STR(rows[1].app, "curl");
	CHECK_STR(rows[1].host, "laptop");
	CHECK_INT(rows[1].pid, 4242);
	CHECK(rows[1].cookie == 12345678901ULL);
	CHECK_INT(rows[1].retrans, 4);
	CHECK_INT(rows[1].segs_out, 200);
	CHECK(fabs(rows[1].rtt_ms - 38.123) < 1e-9);
	CHECK(fabs(rows[1].age_s - 12.3) < 1e-9);
	CHECK_INT(rows[1].grade, DS_GRADE_FAIR);
	CHECK_INT(ds_addr_port(&rows[1].remote), 443);
	CHECK_INT(ds_gradehist_skipped(h, NULL), 0);
	ds_gradehist_free(h);

	/* Only what is recent enough. */
	CHECK_INT(ds_gradehist_new(&h), 0);
	CHECK_INT(ds_gradehist_read(h, path_of("h.csv"), row.ts_ns), 0);
	ds_gradehist_rows(h, &n);
	CHECK_INT(n, 2);
	ds_gradehist_free(h);
}

static void foreign_and_broken_files(void)
{
	struct ds_gradehist *h;
	struct ds_gradehist_row *rows;
	size_t n;
	long line;

	CHECK_INT(ds_gradehist_new(&h), 0);
	CHECK_INT(ds_gradehist_read(h, path_of("absent.csv"), 0), -ENOENT);
	write_file("empty.csv", "");
	CHECK_INT(ds_gradehist_read(h, path_of("empty.csv"), 0), -EBADMSG);
	write_file("other.csv", "ts,tool,server,family\n2026-11-23T12:00:00Z,ds-stun,x,ipv4\n");
	CHECK_INT(ds_gradehist_read(h, path_of("other.csv"), 0), -ENOMSG);
	/* Minimal columns, a percentage instead of counts, and three bad records. */
	write_file("min.csv", "ts,remote,rtt_ms,retrans_pct\n"
			      "2026-11-23T12:00:00Z,203.0.113.1:443,20.5,1.5\n"
			      "yesterday,203.0.113.1:443,20,0\n"
			      "2026-11-23T12:00:01Z,not-an-address,20,0\n"
			      "2026-11-23T12:00:02Z,203.0.113.1:443,fast,0\n"
			      "2026-11-23T12:00:03Z,203.0.113.2:443,30,\n");
	CHECK_INT(ds_gradehist_read(h, path_of("min.csv"), 0), 0);
	rows = ds_gradehist_rows(h, &n);
	CHECK_INT(n, 2);
	CHECK(fabs(ds_grade_retrans_pct(rows[0].retrans, rows[0].segs_out) - 1.5) < 1e-9);
	CHECK(rows[0].latest && rows[1].latest); /* no cookie: each row a session */
	CHECK_INT(rows[0].pid, -1);
	CHECK(rows[0].age_s < 0);
	CHECK_INT(ds_gradehist_skipped(h, &line), 3);
	CHECK_INT(line, 3);
	ds_gradehist_free(h);
}

struct loaded {
	struct ds_gradestate e[4];
	int n;
};

static int keep(const struct ds_gradestate *e, void *arg)
{
	struct loaded *l = arg;

	if (l->n < 4)
		l->e[l->n++] = *e;
	return 0;
}

static void state_file_round_trip_and_atomic_replace(void)
{
	struct ds_gradestate_writer *w;
	struct ds_gradestate e;
	struct loaded l = {.n = 0};
	const char *p = path_of("h.csv.state");

	CHECK_INT(ds_gradestate_load(p, keep, &l), -ENOENT);
	memset(&e, 0, sizeof(e));
	e.cookie = 99;
	e.first_seen_ns = 1000;
	e.last_seen_ns = 2000;
	e.pid = 17;
	snprintf(e.app, sizeof(e.app), "ssh, the client"); /* needs quoting */
	snprintf(e.exe, sizeof(e.exe), "/usr/bin/ssh");
	ds_addr_parse("198.51.100.7:50000", 0, 0, &e.local);
	ds_addr_parse("203.0.113.9:22", 0, 0, &e.remote);
	e.state = 1;
	e.rtt_us = 38000;
	e.retrans = 2;
	e.segs_out = 300;
	e.bytes_acked = 4000;
	e.bytes_received = 9000;
	CHECK_INT(ds_gradestate_begin(p, &w), 0);
	CHECK_INT(ds_gradestate_put(w, &e), 0);
	e.cookie = 100;
	e.pid = -1;
	e.app[0] = '\0';
	CHECK_INT(ds_gradestate_put(w, &e), 0);
	CHECK_INT(ds_gradestate_commit(w), 0);
	CHECK_INT(ds_gradestate_load(p, keep, &l), 0);
	CHECK_INT(l.n, 2);
	CHECK(l.e[0].cookie == 99 && l.e[0].first_seen_ns == 1000 && l.e[0].last_seen_ns == 2000);
	CHECK_INT(l.e[0].pid, 17);
	CHECK_STR(l.e[0].app, "ssh, the client");
	CHECK_STR(l.e[0].exe, "/usr/bin/ssh");
	CHECK_INT(ds_addr_port(&l.e[0].remote), 22);
	CHECK_INT(l.e[0].rtt_us, 38000);
	CHECK_INT(l.e[0].segs_out, 300);
	CHECK(l.e[0].bytes_received == 9000);
	CHECK_INT(l.e[1].pid, -1);

	/* An aborted replacement leaves the old file as it was, and no temporary file. */
	CHECK_INT(ds_gradestate_begin(p, &w), 0);
	ds_gradestate_abort(w);
	l.n = 0;
	CHECK_INT(ds_gradestate_load(p, keep, &l), 0);
	CHECK_INT(l.n, 2);
	{
		char cmd[160];

		/* h.csv, empty.csv, other.csv, min.csv and the state file: no leftovers. */
		snprintf(cmd, sizeof(cmd), "test $(ls %s | wc -l) -eq 5", dir);
		CHECK_INT(system(cmd), 0);
	}
}

int main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/test_gradehist.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	UNIT_RUN(record_has_the_documented_columns);
	UNIT_RUN(written_rows_read_back);
	UNIT_RUN(foreign_and_broken_files);
	UNIT_RUN(state_file_round_trip_and_atomic_replace);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	UNIT_EXIT();
}
