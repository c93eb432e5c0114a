// SPDX-License-Identifier: MIT
/*
 * ds-grade: passive grading of every TCP session on this host from the kernel's tcp_info,
 * attributed to the owning program, rolled up per app, per device, over 24 hours and across
 * a fleet of history files. See ds-grade(1) and ds-grade(5).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "addr.h"
#include "clock.h"
#include "csv.h"
#include "grade.h"
#include "gradehist.h"
#include "gradetrack.h"
#include "msg.h"
#include "num.h"
#include "procmap.h"
#include "sockdiag.h"
#include "version.h"

#define TOOL              "ds-grade"
#define TIMELINE_BUCKETS  288 /* 24 h of 5 minutes */
#define TIMELINE_WIDTH_NS (5 * 60 * DS_NSEC_PER_SEC)
#define ROW_MAX           4096

enum view { VIEW_SESSIONS, VIEW_APPS, VIEW_DEVICE, VIEW_TIMELINE, VIEW_FLEET };

struct opts {
	enum view view;
	int family; /* AF_UNSPEC, AF_INET, AF_INET6 */
	bool all, csv, header, snapshot;
	int color; /* -1 auto, 0 never, 1 always */
	int64_t watch_ns, sample_ns, since_ns;
	const char *history, *state_file, *svg, *config;
	struct ds_grade_config cfg;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* ---- the session tracker ---- */

static struct ds_gradesess *track_find(struct ds_gradetrack *t, uint64_t cookie, bool insert)
{
	struct ds_gradesess *s = ds_gradetrack_find(t, cookie, insert);

	if (!s && insert)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	return s;
}

static size_t track_n(struct ds_gradetrack *t)
{
	size_t n;

	ds_gradetrack_all(t, &n);
	return n;
}

static struct ds_gradesess *track_at(struct ds_gradetrack *t, size_t i)
{
	size_t n;

	return &ds_gradetrack_all(t, &n)[i];
}

/* ---- reading the kernel ---- */

struct sweep {
	struct ds_tcp_session *v;
	size_t n, cap;
};

static int collect(const struct ds_tcp_session *s, void *arg)
{
	struct sweep *sw = arg;

	if (s->state == TCP_LISTEN || s->state == TCP_TIME_WAIT)
		return 0;
	if (sw->n == sw->cap) {
		size_t cap = sw->cap ? sw->cap * 2 : 1024;
		struct ds_tcp_session *v = realloc(sw->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		sw->v = v;
		sw->cap = cap;
	}
	sw->v[sw->n++] = *s;
	return 0;
}

static void do_sweep(struct ds_sockdiag *d, int family, struct sweep *sw)
{
	static const int families[] = {AF_INET, AF_INET6};
	size_t i;

	sw->n = 0;
	for (i = 0; i < 2; i++) {
		int r;

		if (family != AF_UNSPEC && family != families[i])
			continue;
		r = ds_sockdiag_dump(d, families[i], DS_SOCKDIAG_STATES_CONNECTED, collect, sw);
		if (r == -EAFNOSUPPORT || r == -ENOENT)
			continue; /* no IPv6 in this kernel / namespace */
		if (r < 0)
			ds_errc(DS_EXIT_FAILURE, r, "reading TCP sockets (sock_diag)");
	}
}

static double sess_age_s(const struct ds_gradesess *s, int64_t now_ns)
{
	return ds_gradetrack_age_s(s, now_ns);
}

static double sess_rtt_ms(const struct ds_tcp_session *k)
{
	return k->has_info ? k->rtt_us / 1000.0 : NAN;
}

static double sess_retrans_pct(const struct ds_tcp_session *k)
{
	return k->has_info ? ds_grade_retrans_pct(k->total_retrans, k->segs_out) : NAN;
}

static enum ds_grade_skip sess_skip(const struct opts *o, const struct ds_gradesess *s,
				    int64_t now_ns)
{
	return ds_grade_eligible(&o->cfg, &s->k.local, &s->k.remote, sess_age_s(s, now_ns),
				 s->k.has_info);
}

static enum ds_grade sess_grade(const struct opts *o, const struct ds_gradesess *s, int64_t now_ns)
{
	if (sess_skip(o, s, now_ns) != DS_GRADE_GRADED)
		return DS_GRADE_NONE;
	return ds_grade_of(&o->cfg, sess_rtt_ms(&s->k), sess_retrans_pct(&s->k));
}

/* Executable paths, kept once each for the life of the program. */
static const char *intern(const char *s)
{
	static char **strs;
	static size_t n, cap;
	static const char *last;
	size_t i;

	if (last && strcmp(last, s) == 0)
		return last;
	for (i = 0; i < n; i++)
		if (strcmp(strs[i], s) == 0)
			return last = strs[i];
	if (n == cap) {
		size_t nc = cap ? cap * 2 : 64;
		char **ns = realloc(strs, nc * sizeof(*ns));

		if (!ns)
			ds_errx(DS_EXIT_FAILURE, "out of memory");
		strs = ns;
		cap = nc;
	}
	strs[n] = strdup(s);
	if (!strs[n])
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	return last = strs[n++];
}

static bool owner_from_cache(struct ds_procmap *pm, struct ds_gradesess *s)
{
	struct ds_procinfo pi;

	if (ds_procmap_lookup(pm, s->k.inode, &pi) < 0)
		return false;
	s->pid = pi.pid;
	memcpy(s->comm, pi.comm, sizeof(s->comm));
	s->exe = intern(pi.exe);
	s->have_proc = true;
	return true;
}

/* Fill in owners for the sessions that need one (cached; one /proc walk for the misses). */
static void attribute(struct ds_procmap *pm, struct ds_gradesess **v, size_t n)
{
	uint32_t *want = malloc((n ? n : 1) * sizeof(*want));
	size_t i, nwant = 0;
	int r;

	if (!want)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	for (i = 0; i < n; i++) {
		if (v[i]->have_proc || !v[i]->k.inode)
			continue;
		if (!owner_from_cache(pm, v[i]))
			want[nwant++] = v[i]->k.inode;
	}
	if (nwant) {
		r = ds_procmap_resolve(pm, want, nwant);
		if (r < 0)
			ds_warnc(r, "reading /proc");
		for (i = 0; i < n; i++)
			if (!v[i]->have_proc && v[i]->k.inode)
				owner_from_cache(pm, v[i]);
	}
	free(want);
}

/* ---- output helpers ---- */

static const char *app_name(const struct ds_gradesess *s)
{
	return s->have_proc && s->comm[0] ? s->comm : "";
}

static char hostname_buf[256];

static const char *host_name(void)
{
	if (!hostname_buf[0] && gethostname(hostname_buf, sizeof(hostname_buf) - 1) < 0)
		strcpy(hostname_buf, "localhost");
	return hostname_buf;
}

static void out_csv(FILE *f, struct ds_csv_rec *r)
{
	if (ds_csv_rec_end(r) < 0 || ds_csv_write_file(f, r) < 0)
		ds_errx(DS_EXIT_FAILURE, "writing output failed");
}

static const char SESSION_COLUMNS[] =
    "ts,tool,pid,app,exe,local,remote,state,age_s,rtt_ms,rttvar_ms,retrans,segs_out,"
    "retrans_pct,bytes_acked,bytes_received,grade,note";

static const char *state_name(uint8_t st)
{
	static const char *const names[] = {"",           "established", "syn-sent",  "syn-recv",
					    "fin-wait-1", "fin-wait-2",  "time-wait", "closed",
					    "close-wait", "last-ack",    "listen",    "closing"};

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "";
}

static void session_csv(FILE *f, const char *ts, const struct opts *o, const struct ds_gradesess *s,
			int64_t now_ns)
{
	char buf[ROW_MAX], la[DS_ADDR_STRLEN], ra[DS_ADDR_STRLEN];
	struct ds_csv_rec r;
	enum ds_grade_skip skip = sess_skip(o, s, now_ns);

	ds_csv_rec_init(&r, buf, sizeof(buf));
	ds_csv_field(&r, ts);
	ds_csv_field(&r, TOOL);
	if (s->have_proc)
		ds_csv_field_long(&r, s->pid);
	else
		ds_csv_field(&r, NULL);
	ds_csv_field(&r, app_name(s));
	ds_csv_field(&r, s->have_proc ? s->exe : NULL);
	ds_csv_field(&r, ds_addr_format(&s->k.local, true, la, sizeof(la)));
	ds_csv_field(&r, ds_addr_format(&s->k.remote, true, ra, sizeof(ra)));
	ds_csv_field(&r, state_name(s->k.state));
	ds_csv_field_double(&r, sess_age_s(s, now_ns), 1);
	ds_csv_field_double(&r, sess_rtt_ms(&s->k), 3);
	ds_csv_field_double(&r, s->k.has_info ? s->k.rttvar_us / 1000.0 : NAN, 3);
	if (s->k.has_info) {
		ds_csv_field_long(&r, s->k.total_retrans);
		ds_csv_field_long(&r, s->k.segs_out);
	} else {
		ds_csv_field(&r, NULL);
		ds_csv_field(&r, NULL);
	}
	ds_csv_field_double(&r, sess_retrans_pct(&s->k), 3);
	if (s->k.has_info) {
		ds_csv_field_long(&r, (long long)s->k.bytes_acked);
		ds_csv_field_long(&r, (long long)s->k.bytes_received);
	} else {
		ds_csv_field(&r, NULL);
		ds_csv_field(&r, NULL);
	}
	ds_csv_field(&r, ds_grade_name(sess_grade(o, s, now_ns)));
	ds_csv_field(&r, skip == DS_GRADE_GRADED ? "" : ds_grade_skip_name(skip));
	out_csv(f, &r);
}

static void session_line(FILE *f, const struct opts *o, const struct ds_gradesess *s,
			 int64_t now_ns)
{
	char ra[DS_ADDR_STRLEN], who[96];
	enum ds_grade_skip skip = sess_skip(o, s, now_ns);
	const char *label = skip == DS_GRADE_GRADED ? ds_grade_name(sess_grade(o, s, now_ns))
						    : ds_grade_skip_name(skip);

	if (s->have_proc)
		snprintf(who, sizeof(who), "%s[%d]", s->comm[0] ? s->comm : "?", (int)s->pid);
	else
		snprintf(who, sizeof(who), "-");
	fprintf(f, "%-9s  %-22s %-46s rtt %8.1f ms  retx %6.2f%%  age %7.1f s\n", label, who,
		ds_addr_format(&s->k.remote, true, ra, sizeof(ra)), sess_rtt_ms(&s->k),
		isnan(sess_retrans_pct(&s->k)) ? 0.0 : sess_retrans_pct(&s->k),
		sess_age_s(s, now_ns));
}

/* ---- history ---- */

static const char HISTORY_COLUMNS[] = DS_GRADEHIST_COLUMNS;

static void history_rec(struct ds_csv_rec *r, char *buf, size_t cap, const struct opts *o,
			const struct ds_gradesess *s, const char *event, int64_t ts_ns,
			double age_s)
{
	struct ds_gradehist_row row;

	memset(&row, 0, sizeof(row));
	row.ts_ns = ts_ns;
	snprintf(row.host, sizeof(row.host), "%s", host_name());
	snprintf(row.event, sizeof(row.event), "%s", event);
	row.pid = s->have_proc ? s->pid : -1;
	snprintf(row.app, sizeof(row.app), "%s", app_name(s));
	row.exe = s->have_proc ? s->exe : NULL;
	row.local = s->k.local;
	row.remote = s->k.remote;
	row.cookie = s->k.cookie;
	row.has_cookie = true;
	row.age_s = age_s;
	row.rtt_ms = sess_rtt_ms(&s->k);
	row.retrans = s->k.total_retrans;
	row.segs_out = s->k.segs_out;
	row.bytes_acked = s->k.bytes_acked;
	row.bytes_received = s->k.bytes_received;
	row.grade = DS_GRADE_NONE;
	if (ds_grade_eligible(&o->cfg, &s->k.local, &s->k.remote, age_s, s->k.has_info) ==
	    DS_GRADE_GRADED)
		row.grade = ds_grade_of(&o->cfg, row.rtt_ms, sess_retrans_pct(&s->k));
	if (ds_gradehist_rec(r, buf, cap, &row) < 0)
		ds_warnx("history row too long, dropped");
}

/*
 * Rows are appended whole: each is one write(2) to an O_APPEND descriptor under an
 * exclusive flock, the header only when the file is empty.
 */
struct appender {
	const char *path;
	int fd;
	FILE *out; /* stdout when there is no history file */
	bool header_done;
};

static void appender_begin(struct appender *a)
{
	struct stat st;

	a->fd = -1;
	if (!a->path)
		return;
	a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (a->fd < 0)
		ds_errc(DS_EXIT_FAILURE, errno, "%s", a->path);
	if (flock(a->fd, LOCK_EX) < 0)
		ds_errc(DS_EXIT_FAILURE, errno, "locking %s", a->path);
	if (fstat(a->fd, &st) == 0 && st.st_size == 0) {
		char hdr[sizeof(HISTORY_COLUMNS) + 1];
		struct ds_csv_rec r = {.buf = hdr, .cap = sizeof(hdr)};

		int err;

		snprintf(hdr, sizeof(hdr), "%s\n", HISTORY_COLUMNS);
		r.len = strlen(hdr);
		err = ds_csv_write_fd(a->fd, &r);
		if (err < 0)
			ds_errc(DS_EXIT_FAILURE, err, "writing %s", a->path);
	}
}

static void appender_end(struct appender *a)
{
	if (a->fd >= 0) {
		flock(a->fd, LOCK_UN);
		close(a->fd);
		a->fd = -1;
	}
	if (a->out)
		fflush(a->out);
}

static void emit_history(struct appender *a, const struct opts *o, const struct ds_gradesess *s,
			 const char *event, int64_t ts_ns, double age_s)
{
	char buf[ROW_MAX];
	struct ds_csv_rec r;

	if (ds_addr_is_loopback(&s->k.local) || ds_addr_is_loopback(&s->k.remote))
		return; /* never graded, not worth a line */
	history_rec(&r, buf, sizeof(buf), o, s, event, ts_ns, age_s);
	if (r.overflow)
		return;
	if (a->fd >= 0) {
		int err = ds_csv_write_fd(a->fd, &r);

		if (err)
			ds_warnc(err, "appending to %s", a->path);
		return;
	}
	if (o->csv) {
		if (!a->header_done && o->header)
			ds_csv_header(a->out, HISTORY_COLUMNS);
		a->header_done = true;
		ds_csv_write_file(a->out, &r);
	} else {
		char ra[DS_ADDR_STRLEN];
		enum ds_grade g = DS_GRADE_NONE;

		if (ds_grade_eligible(&o->cfg, &s->k.local, &s->k.remote, age_s, s->k.has_info) ==
		    DS_GRADE_GRADED)
			g = ds_grade_of(&o->cfg, sess_rtt_ms(&s->k), sess_retrans_pct(&s->k));
		fprintf(a->out, "%-7s %-9s %-16s %-46s rtt %8.1f ms  retx %6.2f%%  age %7.1f s\n",
			event, g == DS_GRADE_NONE ? "-" : ds_grade_name(g),
			app_name(s)[0] ? app_name(s) : "-",
			ds_addr_format(&s->k.remote, true, ra, sizeof(ra)), sess_rtt_ms(&s->k),
			isnan(sess_retrans_pct(&s->k)) ? 0.0 : sess_retrans_pct(&s->k), age_s);
	}
}

static struct ds_gradehist *new_history(void)
{
	struct ds_gradehist *h;

	if (ds_gradehist_new(&h) < 0)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	return h;
}

/* Read one history file (the last since_ns of it; 0 = all) into h. */
static struct ds_gradehist_row *read_history(struct ds_gradehist *h, const char *path,
					     int64_t since_ns, size_t *n)
{
	int64_t not_before = since_ns > 0 ? ds_clock_realtime_ns() - since_ns : 0;
	size_t before = ds_gradehist_skipped(h, NULL), after;
	long line;
	int r = ds_gradehist_read(h, path, not_before);

	if (r == -EBADMSG)
		ds_errx(DS_EXIT_FAILURE, "%s: empty, or no header row", path);
	if (r == -ENOMSG)
		ds_errx(DS_EXIT_FAILURE,
			"%s: not a ds-grade history (no ts, rtt_ms, remote columns)", path);
	if (r < 0)
		ds_errc(DS_EXIT_FAILURE, r, "%s", path);
	after = ds_gradehist_skipped(h, &line);
	if (after > before)
		ds_warnx("%s:%ld: %zu malformed or incomplete records skipped", path, line,
			 after - before);
	return ds_gradehist_rows(h, n);
}

static void grade_hrow(const struct opts *o, struct ds_gradehist_row *h)
{
	h->grade = DS_GRADE_NONE;
	if (ds_grade_eligible(&o->cfg, &h->local, &h->remote, h->age_s, true) != DS_GRADE_GRADED)
		return;
	h->grade = ds_grade_of(&o->cfg, h->rtt_ms, ds_grade_retrans_pct(h->retrans, h->segs_out));
}

/* ---- views over graded items (live sessions or history rows) ---- */

struct item {
	struct ds_grade_item g;
	const char *app;
	int64_t ts_ns;
	double retrans_pct;
};

static int cmp_item_app(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	return strcmp(x->app, y->app);
}

struct app_row {
	const char *app;
	struct ds_grade_rollup r;
};

static int cmp_app_row(const void *a, const void *b)
{
	const struct app_row *x = a, *y = b;

	/* Worst first; ungraded apps last; then slower first; then by name. */
	int gx = x->r.grade == DS_GRADE_NONE ? -2 : (int)x->r.grade;
	int gy = y->r.grade == DS_GRADE_NONE ? -2 : (int)y->r.grade;

	if (gx != gy)
		return gy - gx;
	if (x->r.median_rtt_ms != y->r.median_rtt_ms)
		return x->r.median_rtt_ms < y->r.median_rtt_ms ? 1 : -1;
	return strcmp(x->app, y->app);
}

static void view_apps(const struct opts *o, struct item *items, size_t n, const char *ts)
{
	struct ds_grade_item *gi = malloc((n ? n : 1) * sizeof(*gi));
	double *scratch = malloc((n ? n : 1) * sizeof(*scratch));
	struct app_row *rows = malloc((n ? n : 1) * sizeof(*rows));
	size_t i, j, nrows = 0;

	if (!gi || !scratch || !rows)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	qsort(items, n, sizeof(*items), cmp_item_app);
	for (i = 0; i < n; i = j) {
		size_t k = 0;

		for (j = i; j < n && strcmp(items[j].app, items[i].app) == 0; j++)
			gi[k++] = items[j].g;
		rows[nrows].app = items[i].app;
		ds_grade_rollup(&o->cfg, gi, k, o->cfg.min_sessions, scratch, &rows[nrows].r);
		nrows++;
	}
	qsort(rows, nrows, sizeof(*rows), cmp_app_row);
	if (o->csv && o->header)
		ds_csv_header(stdout, "ts,tool,app,sessions,rtt_ms,retrans_pct,clean_pct,grade");
	for (i = 0; i < nrows; i++) {
		const struct app_row *a = &rows[i];

		if (a->r.grade == DS_GRADE_NONE && !o->all)
			continue;
		if (o->csv) {
			char buf[ROW_MAX];
			struct ds_csv_rec r;

			ds_csv_rec_init(&r, buf, sizeof(buf));
			ds_csv_field(&r, ts);
			ds_csv_field(&r, TOOL);
			ds_csv_field(&r, a->app);
			ds_csv_field_long(&r, (long long)a->r.sessions);
			ds_csv_field_double(&r, a->r.median_rtt_ms, 3);
			ds_csv_field_double(&r, a->r.retrans_pct, 3);
			ds_csv_field_double(&r, a->r.clean_pct, 1);
			ds_csv_field(&r, ds_grade_name(a->r.grade));
			out_csv(stdout, &r);
		} else if (a->r.grade == DS_GRADE_NONE) {
			printf("%-9s  %-20s %4zu sessions (fewer than %u: no app grade)\n", "-",
			       a->app[0] ? a->app : "(unknown)", a->r.sessions,
			       o->cfg.min_sessions);
		} else {
			printf("%-9s  %-20s %4zu sessions  median rtt %7.1f ms  retx %5.2f%%  "
			       "%3.0f%% clean\n",
			       ds_grade_name(a->r.grade), a->app[0] ? a->app : "(unknown)",
			       a->r.sessions, a->r.median_rtt_ms,
			       isnan(a->r.retrans_pct) ? 0.0 : a->r.retrans_pct, a->r.clean_pct);
		}
	}
	free(gi);
	free(scratch);
	free(rows);
}

static const char *headline(enum ds_grade g)
{
	switch (g) {
	case DS_GRADE_EXCELLENT:
		return "Connections from this machine are in great shape.";
	case DS_GRADE_GOOD:
		return "Connections from this machine are healthy.";
	case DS_GRADE_FAIR:
		return "Some connections from this machine are slow or losing packets.";
	case DS_GRADE_POOR:
		return "Connections from this machine are in trouble.";
	default:
		return "Not enough graded sessions for a verdict yet.";
	}
}

static void format_when(char *buf, size_t len, int64_t ts_ns)
{
	time_t t = (time_t)(ts_ns / DS_NSEC_PER_SEC);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
}

static void view_device(const struct opts *o, struct item *items, size_t n, const char *ts)
{
	struct ds_grade_item *gi = malloc((n ? n : 1) * sizeof(*gi));
	double *scratch = malloc((n ? n : 1) * sizeof(*scratch));
	struct ds_grade_rollup r;
	const struct item *hiccup = NULL;
	size_t i;

	if (!gi || !scratch)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	for (i = 0; i < n; i++) {
		gi[i] = items[i].g;
		if (items[i].g.grade >= DS_GRADE_FAIR &&
		    (!hiccup || items[i].ts_ns >= hiccup->ts_ns))
			hiccup = &items[i];
	}
	ds_grade_rollup(&o->cfg, gi, n, 1, scratch, &r);
	if (o->csv) {
		char buf[ROW_MAX];
		struct ds_csv_rec rec;
		char when[DS_ISO8601_LEN];

		if (o->header)
			ds_csv_header(stdout, "ts,tool,host,sessions,clean_pct,rtt_ms,retrans_pct,"
					      "grade,hiccup_ts,hiccup_app,hiccup_rtt_ms,"
					      "hiccup_retrans_pct,hiccup_grade");
		ds_csv_rec_init(&rec, buf, sizeof(buf));
		ds_csv_field(&rec, ts);
		ds_csv_field(&rec, TOOL);
		ds_csv_field(&rec, host_name());
		ds_csv_field_long(&rec, (long long)r.sessions);
		ds_csv_field_double(&rec, r.clean_pct, 1);
		ds_csv_field_double(&rec, r.median_rtt_ms, 3);
		ds_csv_field_double(&rec, r.retrans_pct, 3);
		ds_csv_field(&rec, ds_grade_name(r.grade));
		ds_csv_field(&rec,
			     hiccup ? ds_time_iso8601(when, sizeof(when), hiccup->ts_ns) : NULL);
		ds_csv_field(&rec, hiccup ? hiccup->app : NULL);
		ds_csv_field_double(&rec, hiccup ? hiccup->g.rtt_ms : NAN, 3);
		ds_csv_field_double(&rec, hiccup ? hiccup->retrans_pct : NAN, 3);
		ds_csv_field(&rec, hiccup ? ds_grade_name(hiccup->g.grade) : NULL);
		out_csv(stdout, &rec);
	} else {
		printf("%s: %s\n", r.grade == DS_GRADE_NONE ? "No verdict" : ds_grade_name(r.grade),
		       headline(r.grade));
		if (r.sessions)
			printf("Evidence: %.0f%% of %zu sessions clean (Excellent or Good), median "
			       "RTT %.1f ms, %.2f%% retransmits\n",
			       r.clean_pct, r.sessions, r.median_rtt_ms,
			       isnan(r.retrans_pct) ? 0.0 : r.retrans_pct);
		else
			printf("Evidence: no graded sessions\n");
		if (hiccup) {
			char when[40];

			format_when(when, sizeof(when), hiccup->ts_ns);
			printf("Last hiccup: %s, %s, RTT %.1f ms, %.2f%% retransmits (%s)\n", when,
			       hiccup->app[0] ? hiccup->app : "(unknown program)", hiccup->g.rtt_ms,
			       isnan(hiccup->retrans_pct) ? 0.0 : hiccup->retrans_pct,
			       ds_grade_name(hiccup->g.grade));
		} else {
			printf("Last hiccup: none\n");
		}
	}
	free(gi);
	free(scratch);
}

/* ---- timeline ---- */

static const char *const grade_colour[DS_GRADE_COUNT] = {
    "\033[32m", /* Excellent: green */
    "\033[36m", /* Good: cyan */
    "\033[33m", /* Fair: yellow */
    "\033[31m", /* Poor: red */
};
static const char *const grade_svg_colour[DS_GRADE_COUNT] = {"#2e9e44", "#4fb3c9", "#e0a800",
							     "#d23c3c"};

static void write_svg(const char *path, const enum ds_grade *worst, const size_t *count,
		      int64_t start_ns)
{
	FILE *f = fopen(path, "we");
	int i;

	if (!f)
		ds_errc(DS_EXIT_FAILURE, errno, "%s", path);
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"70\" "
		"font-family=\"sans-serif\" font-size=\"10\">\n"
		"<title>%s: 24 h of TCP session grades, 5-minute buckets</title>\n",
		TIMELINE_BUCKETS * 3 + 20, host_name());
	for (i = 0; i < TIMELINE_BUCKETS; i++) {
		const char *fill =
		    worst[i] == DS_GRADE_NONE ? "#d0d0d0" : grade_svg_colour[worst[i]];
		char when[40];

		format_when(when, sizeof(when), start_ns + i * TIMELINE_WIDTH_NS);
		fprintf(f,
			"<rect x=\"%d\" y=\"10\" width=\"3\" height=\"30\" fill=\"%s\">"
			"<title>%s: %s (%zu sessions)</title></rect>\n",
			10 + i * 3, fill, when,
			worst[i] == DS_GRADE_NONE ? "idle" : ds_grade_name(worst[i]), count[i]);
	}
	for (i = 0; i <= TIMELINE_BUCKETS; i += 36) {
		char when[40];
		time_t t = (time_t)((start_ns + i * TIMELINE_WIDTH_NS) / DS_NSEC_PER_SEC);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%H:%M", &tm);
		fprintf(f, "<text x=\"%d\" y=\"55\" text-anchor=\"middle\">%s</text>\n", 10 + i * 3,
			when);
	}
	fprintf(f, "</svg>\n");
	if (fclose(f) != 0)
		ds_errc(DS_EXIT_FAILURE, errno, "writing %s", path);
}

static void view_timeline(const struct opts *o, const struct ds_gradehist_row *rows, size_t n,
			  const char *ts)
{
	enum ds_grade worst[TIMELINE_BUCKETS];
	size_t count[TIMELINE_BUCKETS] = {0};
	int64_t now = ds_clock_realtime_ns();
	/* Buckets are aligned to 5-minute wall-clock boundaries; the last holds now. */
	int64_t end = (now / TIMELINE_WIDTH_NS + 1) * TIMELINE_WIDTH_NS;
	int64_t start = end - (int64_t)TIMELINE_BUCKETS * TIMELINE_WIDTH_NS;
	bool colour = o->color == 1 || (o->color == -1 && isatty(STDOUT_FILENO));
	size_t i;
	int b;

	for (b = 0; b < TIMELINE_BUCKETS; b++)
		worst[b] = DS_GRADE_NONE;
	for (i = 0; i < n; i++) {
		if (rows[i].grade == DS_GRADE_NONE)
			continue;
		b = ds_grade_bucket(start, TIMELINE_WIDTH_NS, TIMELINE_BUCKETS, rows[i].ts_ns);
		if (b < 0)
			continue;
		count[b]++;
		worst[b] = worst[b] == DS_GRADE_NONE ? rows[i].grade
						     : ds_grade_worse(worst[b], rows[i].grade);
	}
	if (o->svg)
		write_svg(o->svg, worst, count, start);
	if (o->csv) {
		if (o->header)
			ds_csv_header(stdout, "ts,tool,bucket_start,sessions,state,grade");
		for (b = 0; b < TIMELINE_BUCKETS; b++) {
			char buf[256], when[DS_ISO8601_LEN];
			struct ds_csv_rec r;

			ds_csv_rec_init(&r, buf, sizeof(buf));
			ds_csv_field(&r, ts);
			ds_csv_field(&r, TOOL);
			ds_csv_field(
			    &r, ds_time_iso8601(when, sizeof(when), start + b * TIMELINE_WIDTH_NS));
			ds_csv_field_long(&r, (long long)count[b]);
			ds_csv_field(&r, worst[b] == DS_GRADE_NONE ? "idle" : "active");
			ds_csv_field(&r, ds_grade_name(worst[b]));
			out_csv(stdout, &r);
		}
		return;
	}
	/* Four rows of six hours, one cell per 5 minutes. */
	for (b = 0; b < TIMELINE_BUCKETS; b++) {
		if (b % 72 == 0) {
			char when[16];
			time_t t = (time_t)((start + b * TIMELINE_WIDTH_NS) / DS_NSEC_PER_SEC);
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%H:%M", &tm);
			printf("%s%s ", b ? "\n" : "", when);
		}
		if (worst[b] == DS_GRADE_NONE)
			printf(colour ? "\033[90m\xc2\xb7\033[0m" : ".");
		else if (colour)
			printf("%s\xe2\x96\x88\033[0m", grade_colour[worst[b]]);
		else
			putchar("EGFP"[worst[b]]);
	}
	printf("\n");
	if (colour)
		printf("      %s\xe2\x96\x88\033[0m Excellent  %s\xe2\x96\x88\033[0m Good  "
		       "%s\xe2\x96\x88\033[0m Fair  %s\xe2\x96\x88\033[0m Poor  "
		       "\033[90m\xc2\xb7\033[0m idle   (UTC, 5 min per cell)\n",
		       grade_colour[0], grade_colour[1], grade_colour[2], grade_colour[3]);
	else
		printf(
		    "      E Excellent  G Good  F Fair  P Poor  . idle   (UTC, 5 min per cell)\n");
}

/* ---- fleet ---- */

struct device_row {
	char name[64];
	struct ds_grade_rollup r;
};

static int cmp_device_rtt(const void *a, const void *b)
{
	const struct device_row *x = a, *y = b;

	if (isnan(x->r.median_rtt_ms) != isnan(y->r.median_rtt_ms))
		return isnan(x->r.median_rtt_ms) ? 1 : -1;
	if (x->r.median_rtt_ms != y->r.median_rtt_ms)
		return x->r.median_rtt_ms < y->r.median_rtt_ms ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void fleet_line(const struct device_row *d)
{
	printf("  %-9s %-24s %8.1f ms  %5.2f%%  %5zu sessions\n",
	       d->r.grade == DS_GRADE_NONE ? "-" : ds_grade_name(d->r.grade), d->name,
	       d->r.median_rtt_ms, isnan(d->r.retrans_pct) ? 0.0 : d->r.retrans_pct, d->r.sessions);
}

static void view_fleet(const struct opts *o, char **files, int nfiles, const char *ts)
{
	struct device_row *dev = calloc((size_t)nfiles, sizeof(*dev));
	double *meds = calloc((size_t)nfiles, sizeof(*meds));
	size_t per_grade[DS_GRADE_COUNT] = {0}, ungraded = 0, nmeds = 0, i, shown;
	int f;

	if (!dev || !meds)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	for (f = 0; f < nfiles; f++) {
		struct ds_gradehist *h = new_history();
		struct ds_gradehist_row *rows;
		size_t n = 0, k = 0;
		struct ds_grade_item *gi;
		double *scratch;
		const char *base = strrchr(files[f], '/');

		rows = read_history(h, files[f], o->since_ns, &n);
		gi = malloc((n ? n : 1) * sizeof(*gi));
		scratch = malloc((n ? n : 1) * sizeof(*scratch));
		if (!gi || !scratch)
			ds_errx(DS_EXIT_FAILURE, "out of memory");
		snprintf(dev[f].name, sizeof(dev[f].name), "%s", base ? base + 1 : files[f]);
		for (i = 0; i < n; i++) {
			if (rows[i].host[0])
				snprintf(dev[f].name, sizeof(dev[f].name), "%s", rows[i].host);
			if (!rows[i].latest)
				continue;
			grade_hrow(o, &rows[i]);
			if (rows[i].grade == DS_GRADE_NONE)
				continue;
			gi[k].rtt_ms = rows[i].rtt_ms;
			gi[k].retrans = rows[i].retrans;
			gi[k].segs_out = rows[i].segs_out;
			gi[k].grade = rows[i].grade;
			k++;
		}
		ds_grade_rollup(&o->cfg, gi, k, o->cfg.min_sessions, scratch, &dev[f].r);
		if (dev[f].r.grade == DS_GRADE_NONE)
			ungraded++;
		else
			per_grade[dev[f].r.grade]++;
		if (!isnan(dev[f].r.median_rtt_ms))
			meds[nmeds++] = dev[f].r.median_rtt_ms;
		free(gi);
		free(scratch);
		ds_gradehist_free(h);
	}
	qsort(dev, (size_t)nfiles, sizeof(*dev), cmp_device_rtt);
	if (o->csv) {
		if (o->header)
			ds_csv_header(stdout, "ts,tool,device,rank,sessions,rtt_ms,retrans_pct,"
					      "clean_pct,grade");
		for (f = 0; f < nfiles; f++) {
			char buf[ROW_MAX];
			struct ds_csv_rec r;

			ds_csv_rec_init(&r, buf, sizeof(buf));
			ds_csv_field(&r, ts);
			ds_csv_field(&r, TOOL);
			ds_csv_field(&r, dev[f].name);
			ds_csv_field_long(&r, f + 1);
			ds_csv_field_long(&r, (long long)dev[f].r.sessions);
			ds_csv_field_double(&r, dev[f].r.median_rtt_ms, 3);
			ds_csv_field_double(&r, dev[f].r.retrans_pct, 3);
			ds_csv_field_double(&r, dev[f].r.clean_pct, 1);
			ds_csv_field(&r, ds_grade_name(dev[f].r.grade));
			out_csv(stdout, &r);
		}
	} else {
		size_t graded = (size_t)nfiles - ungraded;
		const char *state = per_grade[DS_GRADE_POOR]   ? "needs attention"
				    : per_grade[DS_GRADE_FAIR] ? "is mostly healthy"
				    : graded                   ? "is healthy"
							       : "is not graded yet";

		/* The one-line band first: it is what a dashboard shows. */
		printf("Fleet %s: %zu Excellent, %zu Good, %zu Fair, %zu Poor", state, per_grade[0],
		       per_grade[1], per_grade[2], per_grade[3]);
		if (ungraded)
			printf(", %zu not graded", ungraded);
		printf(" (%d devices)\n\n", nfiles);
		printf("Grade distribution:\n");
		for (i = 0; i < DS_GRADE_COUNT; i++) {
			size_t bar = graded ? (per_grade[i] * 40 + graded / 2) / graded : 0, j;

			printf("  %-9s %4zu ", ds_grade_name((enum ds_grade)i), per_grade[i]);
			for (j = 0; j < bar; j++)
				fputs("\xe2\x96\x88", stdout);
			putchar('\n');
		}
		printf("\nMedian fleet latency: ");
		if (nmeds)
			printf("%.1f ms (median of device medians)\n",
			       ds_grade_median(meds, nmeds));
		else
			printf("none\n");
		shown = nmeds < 10 ? nmeds : 10;
		printf("\nFastest %zu:\n", shown);
		for (i = 0; i < shown; i++)
			fleet_line(&dev[i]);
		printf("\nSlowest %zu:\n", shown);
		for (i = 0; i < shown; i++)
			fleet_line(&dev[nmeds - 1 - i]);
	}
	free(dev);
	free(meds);
}

/* ---- cron state: the sessions seen by the previous run ---- */

static int state_entry(const struct ds_gradestate *e, void *arg)
{
	struct ds_gradetrack *t = arg;
	struct ds_gradesess *s = track_find(t, e->cookie, true);

	s->k.local = e->local;
	s->k.remote = e->remote;
	s->k.state = e->state;
	s->k.has_info = true;
	s->k.rtt_us = e->rtt_us;
	s->k.total_retrans = e->retrans;
	s->k.segs_out = e->segs_out;
	s->k.bytes_acked = e->bytes_acked;
	s->k.bytes_received = e->bytes_received;
	s->first_seen_ns = e->first_seen_ns;
	s->last_seen_ns = e->last_seen_ns;
	if (e->pid >= 0) {
		s->have_proc = true;
		s->pid = (pid_t)e->pid;
		snprintf(s->comm, sizeof(s->comm), "%s", e->app);
		s->exe = intern(e->exe);
	}
	return 0;
}

static void state_load(const char *path, struct ds_gradetrack *t)
{
	int r = ds_gradestate_load(path, state_entry, t);

	if (r < 0 && r != -ENOENT)
		ds_warnc(r, "%s: ignoring state", path);
}

/* Replace the state file atomically: write a temporary file beside it, then rename. */
static void state_save(const char *path, struct ds_gradetrack *t)
{
	struct ds_gradestate_writer *w;
	struct ds_gradestate e;
	size_t i;
	int r = ds_gradestate_begin(path, &w);

	if (r < 0)
		ds_errc(DS_EXIT_FAILURE, r, "%s", path);
	for (i = 0; i < track_n(t) && r == 0; i++) {
		const struct ds_gradesess *s = track_at(t, i);

		memset(&e, 0, sizeof(e));
		e.cookie = s->k.cookie;
		e.first_seen_ns = s->first_seen_ns;
		e.last_seen_ns = s->last_seen_ns;
		e.pid = s->have_proc ? s->pid : -1;
		snprintf(e.app, sizeof(e.app), "%s", app_name(s));
		snprintf(e.exe, sizeof(e.exe), "%s", s->have_proc && s->exe ? s->exe : "");
		e.local = s->k.local;
		e.remote = s->k.remote;
		e.state = s->k.state;
		e.rtt_us = s->k.rtt_us;
		e.retrans = s->k.total_retrans;
		e.segs_out = s->k.segs_out;
		e.bytes_acked = s->k.bytes_acked;
		e.bytes_received = s->k.bytes_received;
		r = ds_gradestate_put(w, &e);
	}
	if (r < 0) {
		ds_gradestate_abort(w);
		ds_errc(DS_EXIT_FAILURE, r, "writing %s", path);
	}
	r = ds_gradestate_commit(w);
	if (r < 0)
		ds_errc(DS_EXIT_FAILURE, r, "replacing %s", path);
}

/* ---- the live lane ---- */

struct live {
	struct ds_sockdiag *diag;
	struct ds_procmap *procs;
	struct ds_gradetrack *track;
	struct sweep sweep;
};

static void merge_sweep(struct live *L, int64_t now_ns)
{
	if (ds_gradetrack_merge(L->track, L->sweep.v, L->sweep.n, now_ns) < 0)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
}

static void attribute_table(struct live *L, bool only_graded, const struct opts *o, int64_t now_ns)
{
	struct ds_gradesess **v = malloc((track_n(L->track) ? track_n(L->track) : 1) * sizeof(*v));
	uint32_t *live = malloc((track_n(L->track) ? track_n(L->track) : 1) * sizeof(*live));
	size_t i, n = 0;

	if (!v || !live)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	for (i = 0; i < track_n(L->track); i++) {
		struct ds_gradesess *s = track_at(L->track, i);

		if (s->missing)
			continue;
		live[n] = s->k.inode;
		if (only_graded && sess_skip(o, s, now_ns) != DS_GRADE_GRADED)
			continue;
		v[n++] = s;
	}
	attribute(L->procs, v, n);
	ds_procmap_expire(L->procs, live, n);
	free(v);
	free(live);
}

static void live_open(struct live *L)
{
	int r = ds_sockdiag_new(&L->diag);

	if (r < 0)
		ds_errc(DS_EXIT_FAILURE, r, "opening sock_diag");
	r = ds_procmap_new("/proc", &L->procs);
	if (r < 0)
		ds_errc(DS_EXIT_FAILURE, r, "procmap");
	if (ds_gradetrack_new(&L->track) < 0)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
}

static void live_close(struct live *L)
{
	ds_sockdiag_free(L->diag);
	ds_procmap_free(L->procs);
	ds_gradetrack_free(L->track);
	free(L->sweep.v);
}

static int cmp_sess_ptr(const void *a, const void *b)
{
	const struct ds_gradesess *x = *(struct ds_gradesess *const *)a,
				  *y = *(struct ds_gradesess *const *)b;
	int c = strcmp(app_name(x), app_name(y));

	if (c)
		return c;
	return (x->k.cookie > y->k.cookie) - (x->k.cookie < y->k.cookie);
}

/* One-shot: sweep; if some sessions are too young to tell, look again min_age later. */
static void live_snapshot(struct live *L, const struct opts *o, int64_t *now_out)
{
	int64_t t0 = ds_clock_realtime_ns(), m0 = ds_clock_ns(), now;
	size_t i;
	bool again = false;

	do_sweep(L->diag, o->family, &L->sweep);
	merge_sweep(L, t0);
	if (!o->snapshot) {
		for (i = 0; i < track_n(L->track) && !again; i++) {
			const struct ds_gradesess *s = track_at(L->track, i);

			if (s->k.has_info && sess_skip(o, s, t0) == DS_GRADE_SKIP_YOUNG &&
			    s->k.state != TCP_SYN_SENT && s->k.state != TCP_SYN_RECV)
				again = true;
		}
	}
	if (again) {
		ds_clock_sleep_until(m0 + (int64_t)(o->cfg.min_age_s * 1e9));
		now = t0 + (ds_clock_ns() - m0);
		do_sweep(L->diag, o->family, &L->sweep);
		merge_sweep(L, now);
		for (i = 0; i < track_n(L->track); i++) /* closed meanwhile: not ours to show */
			if (track_at(L->track, i)->missing) {
				ds_gradetrack_remove(L->track, track_at(L->track, i));
				i--;
			}
	} else {
		now = t0;
	}
	*now_out = now;
}

static struct ds_gradesess **live_list(struct live *L, size_t *n)
{
	struct ds_gradesess **v = malloc((track_n(L->track) ? track_n(L->track) : 1) * sizeof(*v));
	size_t i;

	if (!v)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	*n = 0;
	for (i = 0; i < track_n(L->track); i++)
		if (!track_at(L->track, i)->missing)
			v[(*n)++] = track_at(L->track, i);
	return v;
}

static void run_sessions_once(const struct opts *o)
{
	struct live L = {0};
	struct ds_gradesess **v;
	size_t n, i;
	int64_t now;
	char ts[DS_ISO8601_LEN];

	live_open(&L);
	live_snapshot(&L, o, &now);
	attribute_table(&L, !o->all, o, now);
	v = live_list(&L, &n);
	qsort(v, n, sizeof(*v), cmp_sess_ptr);
	ds_time_iso8601(ts, sizeof(ts), now);
	if (o->csv && o->header)
		ds_csv_header(stdout, SESSION_COLUMNS);
	for (i = 0; i < n; i++) {
		if (!o->all && sess_skip(o, v[i], now) != DS_GRADE_GRADED)
			continue;
		if (o->csv)
			session_csv(stdout, ts, o, v[i], now);
		else
			session_line(stdout, o, v[i], now);
	}
	free(v);
	live_close(&L);
}

/* Graded items from the live sessions (for --apps and --device). */
static struct item *live_items(const struct opts *o, size_t *n, struct live *L, int64_t *now)
{
	struct ds_gradesess **v;
	struct item *items;
	size_t i, m;

	live_open(L);
	live_snapshot(L, o, now);
	attribute_table(L, true, o, *now);
	v = live_list(L, &m);
	items = calloc(m ? m : 1, sizeof(*items));
	if (!items)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	*n = 0;
	for (i = 0; i < m; i++) {
		enum ds_grade g = sess_grade(o, v[i], *now);
		struct item *it = &items[*n];

		if (g == DS_GRADE_NONE)
			continue;
		it->g.rtt_ms = sess_rtt_ms(&v[i]->k);
		it->g.retrans = v[i]->k.total_retrans;
		it->g.segs_out = v[i]->k.segs_out;
		it->g.grade = g;
		it->app = app_name(v[i]);
		it->ts_ns = *now;
		it->retrans_pct = sess_retrans_pct(&v[i]->k);
		(*n)++;
	}
	free(v);
	return items;
}

/* Graded items from the history (for --apps and --device); they point into h. */
static struct item *history_items(const struct opts *o, size_t *n, struct ds_gradehist *h)
{
	struct ds_gradehist_row *rows;
	size_t nrows = 0, i;
	struct item *items;

	rows = read_history(h, o->history, o->since_ns, &nrows);
	items = calloc(nrows ? nrows : 1, sizeof(*items));
	if (!items)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	*n = 0;
	for (i = 0; i < nrows; i++) {
		struct item *it = &items[*n];

		if (!rows[i].latest)
			continue;
		grade_hrow(o, &rows[i]);
		if (rows[i].grade == DS_GRADE_NONE)
			continue;
		it->g.rtt_ms = rows[i].rtt_ms;
		it->g.retrans = rows[i].retrans;
		it->g.segs_out = rows[i].segs_out;
		it->g.grade = rows[i].grade;
		it->app = rows[i].app;
		it->ts_ns = rows[i].ts_ns;
		it->retrans_pct = ds_grade_retrans_pct(rows[i].retrans, rows[i].segs_out);
		(*n)++;
	}
	return items;
}

/* Cron mode: append the sessions that finished since the previous run. */
static void run_cron(const struct opts *o)
{
	struct live L = {0};
	struct appender a = {.path = o->history, .out = stdout};
	char state_path[4096];
	int64_t now;
	size_t i, finished = 0;

	if (o->state_file)
		snprintf(state_path, sizeof(state_path), "%s", o->state_file);
	else if (snprintf(state_path, sizeof(state_path), "%s.state", o->history) >=
		 (int)sizeof(state_path))
		ds_errx(DS_EXIT_FAILURE, "%s: path too long", o->history);
	live_open(&L);
	state_load(state_path, L.track);
	now = ds_clock_realtime_ns();
	do_sweep(L.diag, o->family, &L.sweep);
	merge_sweep(&L, now);
	attribute_table(&L, false, o, now);
	appender_begin(&a);
	for (i = 0; i < track_n(L.track); i++) {
		struct ds_gradesess *s = track_at(L.track, i);

		if (!s->missing)
			continue;
		/* Gone since the last run: its counters as that run saw them. */
		emit_history(&a, o, s, "gone", s->last_seen_ns,
			     (double)(s->last_seen_ns - s->first_seen_ns) / 1e9);
		finished++;
		ds_gradetrack_remove(L.track, s);
		i--;
	}
	appender_end(&a);
	for (i = 0; i < track_n(L.track); i++) { /* loopback is never graded: not worth keeping */
		struct ds_gradesess *s = track_at(L.track, i);

		if ((ds_addr_is_loopback(&s->k.local) || ds_addr_is_loopback(&s->k.remote))) {
			ds_gradetrack_remove(L.track, s);
			i--;
		}
	}
	state_save(state_path, L.track);
	ds_verbose("%zu sessions finished since the previous run, %zu open", finished,
		   track_n(L.track));
	live_close(&L);
}

struct destroy_ctx {
	struct live *L;
	struct appender *a;
	const struct opts *o;
	unsigned closed;
};

static int on_destroy(const struct ds_tcp_session *k, void *arg)
{
	struct destroy_ctx *c = arg;
	struct ds_gradesess *s = track_find(c->L->track, k->cookie, false);
	int64_t now = ds_clock_realtime_ns();
	struct ds_gradesess tmp;

	if (k->state == TCP_LISTEN)
		return 0;
	if (s) {
		/*
		 * Keep what only a live socket tells: owner, first seen. An abortive close
		 * (SO_LINGER 0, tcp_disconnect) zeroes the kernel's counters before the
		 * socket is destroyed: then the last sweep's counters are the better ones.
		 */
		if (k->has_info && k->segs_out >= s->k.segs_out)
			s->k = *k;
		s->k.inode = 0;
		emit_history(c->a, c->o, s, "closed", now, sess_age_s(s, now));
		ds_gradetrack_remove(c->L->track, s);
	} else {
		/* Opened and closed between two sweeps: the owner is unknown, the age is
		 * what the kernel's counters prove. */
		memset(&tmp, 0, sizeof(tmp));
		tmp.k = *k;
		tmp.first_seen_ns = now;
		emit_history(c->a, c->o, &tmp, "closed", now, sess_age_s(&tmp, now));
	}
	c->closed++;
	return 0;
}

static void run_watch(const struct opts *o)
{
	struct live L = {0};
	struct appender a = {.path = o->history, .out = stdout};
	struct destroy_ctx dc = {.L = &L, .a = &a, .o = o};
	int dfd;
	unsigned lost = 0, lost_reported = 0;
	int64_t next = ds_clock_ns();
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	live_open(&L);
	dfd = ds_sockdiag_destroy_open(L.diag);
	if (dfd < 0) {
		ds_warnc(dfd, "cannot join the kernel's TCP destroy groups; sessions that close "
			      "are reported with the counters of their last sweep, and those that "
			      "open and close between two sweeps are missed");
		dfd = -1;
	}
	while (!stop_requested) {
		int64_t now = ds_clock_realtime_ns();
		size_t i;

		if (dfd >= 0) {
			appender_begin(&a);
			ds_sockdiag_destroy_read(L.diag, on_destroy, &dc, &lost);
			appender_end(&a);
		}
		do_sweep(L.diag, o->family, &L.sweep);
		merge_sweep(&L, now);
		attribute_table(&L, false, o, now);
		appender_begin(&a);
		if (dfd >= 0) /* a close right before the sweep: its notification may be queued */
			ds_sockdiag_destroy_read(L.diag, on_destroy, &dc, &lost);
		for (i = 0; i < track_n(L.track); i++) {
			struct ds_gradesess *s = track_at(L.track, i);

			/* Without destroy notifications (or when one was lost), a session that
			 * vanished is reported with its last counters one sweep later. */
			if (s->missing >= (dfd >= 0 ? 2u : 1u)) {
				emit_history(&a, o, s, "gone", s->last_seen_ns,
					     (double)(s->last_seen_ns - s->first_seen_ns) / 1e9);
				ds_gradetrack_remove(L.track, s);
				i--;
				continue;
			}
			if (!s->missing && o->sample_ns > 0 &&
			    sess_skip(o, s, now) == DS_GRADE_GRADED &&
			    now - (s->last_sample_ns ? s->last_sample_ns : s->first_seen_ns) >=
				o->sample_ns) {
				emit_history(&a, o, s, "sample", now, sess_age_s(s, now));
				s->last_sample_ns = now;
			}
		}
		appender_end(&a);
		if (lost != lost_reported) {
			ds_warnx("%u bursts of close notifications were lost (receive buffer full)",
				 lost - lost_reported);
			lost_reported = lost;
		}
		next += o->watch_ns;
		/* Between sweeps, wait on the destroy socket so closes are recorded promptly. */
		while (!stop_requested) {
			int64_t left = next - ds_clock_ns();
			struct pollfd p = {.fd = dfd, .events = POLLIN};
			int r;

			if (left <= 0)
				break;
			r = poll(&p, dfd >= 0 ? 1 : 0,
				 (int)((left + DS_NSEC_PER_MSEC - 1) / DS_NSEC_PER_MSEC));
			if (r > 0) {
				appender_begin(&a);
				ds_sockdiag_destroy_read(L.diag, on_destroy, &dc, &lost);
				appender_end(&a);
			}
		}
	}
	live_close(&L);
}

/* ---- options ---- */

enum {
	OPT_APPS = 256,
	OPT_DEVICE,
	OPT_TIMELINE,
	OPT_FLEET,
	OPT_CSV,
	OPT_NO_HEADER,
	OPT_ALL,
	OPT_LAN,
	OPT_RTT,
	OPT_RETRANS,
	OPT_MIN_AGE,
	OPT_MIN_SESSIONS,
	OPT_CONFIG,
	OPT_WATCH,
	OPT_SAMPLE,
	OPT_HISTORY,
	OPT_STATE_FILE,
	OPT_SINCE,
	OPT_SVG,
	OPT_COLOR,
	OPT_SNAPSHOT,
};

static const struct option long_options[] = {
    {"apps", no_argument, NULL, OPT_APPS},
    {"device", no_argument, NULL, OPT_DEVICE},
    {"timeline", no_argument, NULL, OPT_TIMELINE},
    {"fleet", no_argument, NULL, OPT_FLEET},
    {"all", no_argument, NULL, OPT_ALL},
    {"lan", no_argument, NULL, OPT_LAN},
    {"rtt-ms", required_argument, NULL, OPT_RTT},
    {"retrans-pct", required_argument, NULL, OPT_RETRANS},
    {"min-age", required_argument, NULL, OPT_MIN_AGE},
    {"min-sessions", required_argument, NULL, OPT_MIN_SESSIONS},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"snapshot", no_argument, NULL, OPT_SNAPSHOT},
    {"watch", required_argument, NULL, OPT_WATCH},
    {"sample", required_argument, NULL, OPT_SAMPLE},
    {"history", required_argument, NULL, OPT_HISTORY},
    {"state-file", required_argument, NULL, OPT_STATE_FILE},
    {"since", required_argument, NULL, OPT_SINCE},
    {"svg", required_argument, NULL, OPT_SVG},
    {"color", required_argument, NULL, OPT_COLOR},
    {"csv", no_argument, NULL, OPT_CSV},
    {"no-header", no_argument, NULL, OPT_NO_HEADER},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {0},
};

static void usage(void)
{
	printf("Usage: ds-grade [OPTIONS]                   grade every TCP session now\n"
	       "       ds-grade --apps [OPTIONS]            one grade per program\n"
	       "       ds-grade --device [OPTIONS]          one verdict for this machine\n"
	       "       ds-grade --timeline --history FILE   24 h in 5-minute buckets\n"
	       "       ds-grade --fleet FILE...             rank many machines' histories\n"
	       "       ds-grade --watch INTERVAL [--history FILE]   record finished sessions\n"
	       "       ds-grade --history FILE              (from cron) record what finished\n"
	       "\n"
	       "Grades: the worse of the RTT grade (tcpi_rtt) and the retransmit grade\n"
	       "(retrans_pct = tcpi_total_retrans / tcpi_segs_out * 100). Sessions younger than\n"
	       "--min-age, loopback and (without --lan) LAN peers are not graded.\n"
	       "\n"
	       "Views:\n"
	       "      --apps              programs with at least --min-sessions graded sessions,\n"
	       "                          worst first (--all: the others too)\n"
	       "      --device            verdict, headline, evidence and last hiccup\n"
	       "      --timeline          last 24 h from --history, worst grade per 5 minutes\n"
	       "      --svg FILE          with --timeline: also draw it as SVG\n"
	       "      --color WHEN        timeline colours: auto (a terminal), always, never\n"
	       "      --fleet             the operands are history files, one per device\n"
	       "      --all               also list sessions (apps) that are not graded, and why\n"
	       "Grading:\n"
	       "      --rtt-ms A,B,C      RTT thresholds in ms (default 50,100,200)\n"
	       "      --retrans-pct A,B,C retransmit thresholds in %% (default 0.5,1,3)\n"
	       "      --min-age SECS      youngest session graded (default 0.5)\n"
	       "      --min-sessions N    fewest sessions for an app grade (default 3)\n"
	       "      --lan               grade sessions to private and link-local peers too\n"
	       "      --config FILE       read settings from FILE (ds-grade(5)); flags win\n"
	       "Reading the kernel:\n"
	       "  -4, -6                  IPv4 or IPv6 sessions only\n"
	       "      --snapshot          one sweep only: ages are what the kernel's counters\n"
	       "                          prove (otherwise a second sweep --min-age later)\n"
	       "History:\n"
	       "      --watch INTERVAL    sweep every INTERVAL (e.g. 10s) until SIGTERM; report\n"
	       "                          finished sessions with their final counters\n"
	       "      --sample INTERVAL   with --watch: a sample row of each long session this\n"
	       "                          often (default 5m; 0 = none)\n"
	       "      --history FILE      sessions view: append finished sessions to FILE;\n"
	       "                          --apps, --device, --timeline: read FILE\n"
	       "      --state-file FILE   cron run state (default HISTORY.state)\n"
	       "      --since DURATION    history window to read (default 24h; 0 = all)\n"
	       "Output:\n"
	       "      --csv               CSV with a header row\n"
	       "      --no-header         CSV without the header row\n"
	       "  -q, --quiet             only errors on stderr\n"
	       "  -v, --verbose           more detail on stderr\n"
	       "  -h, --help              this help\n"
	       "  -V, --version           version and features\n");
}

static void set_view(struct opts *o, enum view v, const char *name)
{
	if (o->view != VIEW_SESSIONS && o->view != v)
		ds_usage_error("%s cannot be combined with another view", name);
	o->view = v;
}

int main(int argc, char **argv)
{
	struct opts o = {.family = AF_UNSPEC, .header = true, .color = -1};
	struct ds_grade_config flags_cfg;
	/* Flags win over the config file: remember them and apply after it. */
	const char *rtt_arg = NULL, *retrans_arg = NULL, *min_age_arg = NULL,
		   *min_sessions_arg = NULL;
	bool lan = false;
	int c, verbosity = 0;
	char ts[DS_ISO8601_LEN];

	ds_msg_init(argv[0]);
	ds_grade_config_default(&o.cfg);
	o.sample_ns = 5 * 60 * DS_NSEC_PER_SEC;
	o.since_ns = 24 * 3600 * DS_NSEC_PER_SEC;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":46qvhV", long_options, NULL)) != -1) {
		switch (c) {
		case '4':
			o.family = AF_INET;
			break;
		case '6':
			o.family = AF_INET6;
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
			ds_version_print(stdout, TOOL);
			return DS_EXIT_OK;
		case OPT_APPS:
			set_view(&o, VIEW_APPS, "--apps");
			break;
		case OPT_DEVICE:
			set_view(&o, VIEW_DEVICE, "--device");
			break;
		case OPT_TIMELINE:
			set_view(&o, VIEW_TIMELINE, "--timeline");
			break;
		case OPT_FLEET:
			set_view(&o, VIEW_FLEET, "--fleet");
			break;
		case OPT_ALL:
			o.all = true;
			break;
		case OPT_LAN:
			lan = true;
			break;
		case OPT_RTT:
			rtt_arg = optarg;
			break;
		case OPT_RETRANS:
			retrans_arg = optarg;
			break;
		case OPT_MIN_AGE:
			min_age_arg = optarg;
			break;
		case OPT_MIN_SESSIONS:
			min_sessions_arg = optarg;
			break;
		case OPT_CONFIG:
			o.config = optarg;
			break;
		case OPT_SNAPSHOT:
			o.snapshot = true;
			break;
		case OPT_WATCH:
			if (ds_parse_duration_ns(optarg, 100 * DS_NSEC_PER_MSEC,
						 24 * 3600 * DS_NSEC_PER_SEC, &o.watch_ns) < 0)
				ds_usage_error("bad --watch interval '%s' (100ms..24h)", optarg);
			break;
		case OPT_SAMPLE:
			if (strcmp(optarg, "0") != 0 &&
			    ds_parse_duration_ns(optarg, DS_NSEC_PER_SEC,
						 24 * 3600 * DS_NSEC_PER_SEC, &o.sample_ns) < 0)
				ds_usage_error("bad --sample interval '%s' (0 or 1s..24h)", optarg);
			if (strcmp(optarg, "0") == 0)
				o.sample_ns = 0;
			break;
		case OPT_HISTORY:
			o.history = optarg;
			break;
		case OPT_STATE_FILE:
			o.state_file = optarg;
			break;
		case OPT_SINCE:
			if (strcmp(optarg, "0") == 0)
				o.since_ns = 0;
			else if (ds_parse_duration_ns(optarg, DS_NSEC_PER_SEC,
						      3660LL * 24 * 3600 * DS_NSEC_PER_SEC,
						      &o.since_ns) < 0)
				ds_usage_error("bad --since duration '%s'", optarg);
			break;
		case OPT_SVG:
			o.svg = optarg;
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") == 0)
				o.color = -1;
			else if (strcmp(optarg, "always") == 0)
				o.color = 1;
			else if (strcmp(optarg, "never") == 0)
				o.color = 0;
			else
				ds_usage_error("bad --color '%s' (auto, always, never)", optarg);
			break;
		case OPT_CSV:
			o.csv = true;
			break;
		case OPT_NO_HEADER:
			o.csv = true;
			o.header = false;
			break;
		case ':':
			ds_usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt)
				ds_usage_error("unknown option '-%c'", optopt);
			ds_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	ds_msg_set_verbosity(verbosity);

	if (o.config) {
		unsigned line;
		int r = ds_grade_config_load(&o.cfg, o.config, &line);

		if (r < 0 && line)
			ds_usage_error("%s:%u: bad setting", o.config, line);
		if (r == -EINVAL)
			ds_usage_error("%s: thresholds must increase: Excellent < Good < Fair",
				       o.config);
		if (r < 0)
			ds_usage_error("cannot read --config '%s': %s", o.config, strerror(-r));
	}
	flags_cfg = o.cfg;
	if (rtt_arg && ds_grade_parse_thresholds(rtt_arg, flags_cfg.rtt_ms) < 0)
		ds_usage_error("bad --rtt-ms '%s' (three increasing numbers, e.g. 50,100,200)",
			       rtt_arg);
	if (retrans_arg && ds_grade_parse_thresholds(retrans_arg, flags_cfg.retrans_pct) < 0)
		ds_usage_error("bad --retrans-pct '%s' (three increasing numbers, e.g. 0.5,1,3)",
			       retrans_arg);
	if (min_age_arg && ds_grade_config_set(&flags_cfg, "min_age_s", min_age_arg) < 0)
		ds_usage_error("bad --min-age '%s' (seconds, 0..86400)", min_age_arg);
	if (min_sessions_arg &&
	    ds_grade_config_set(&flags_cfg, "min_sessions", min_sessions_arg) < 0)
		ds_usage_error("bad --min-sessions '%s' (1 or more)", min_sessions_arg);
	if (lan)
		flags_cfg.include_lan = true;
	if (ds_grade_config_check(&flags_cfg) < 0)
		ds_usage_error("thresholds must increase: Excellent < Good < Fair");
	o.cfg = flags_cfg;

	if (o.view == VIEW_FLEET) {
		if (optind >= argc)
			ds_usage_error("--fleet needs one or more history files");
	} else if (optind < argc) {
		ds_usage_error("unexpected argument '%s'", argv[optind]);
	}
	if (o.view == VIEW_TIMELINE && !o.history)
		ds_usage_error("--timeline needs --history FILE");
	if (o.svg && o.view != VIEW_TIMELINE)
		ds_usage_error("--svg goes with --timeline");
	if (o.watch_ns && o.view != VIEW_SESSIONS)
		ds_usage_error("--watch records sessions; it does not combine with other views");

	ds_time_now_iso8601(ts, sizeof(ts));
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	switch (o.view) {
	case VIEW_SESSIONS:
		if (o.watch_ns) {
			if (!o.history)
				setvbuf(stdout, NULL, _IOLBF, 0);
			run_watch(&o);
		} else if (o.history) {
			run_cron(&o);
		} else {
			run_sessions_once(&o);
		}
		break;
	case VIEW_APPS:
	case VIEW_DEVICE: {
		struct live L = {0};
		struct ds_gradehist *h = new_history();
		struct item *items;
		size_t n;
		int64_t now;

		if (o.history)
			items = history_items(&o, &n, h);
		else
			items = live_items(&o, &n, &L, &now);
		if (!o.history)
			ds_time_iso8601(ts, sizeof(ts), now);
		if (o.view == VIEW_APPS)
			view_apps(&o, items, n, ts);
		else
			view_device(&o, items, n, ts);
		free(items);
		ds_gradehist_free(h);
		if (!o.history)
			live_close(&L);
		break;
	}
	case VIEW_TIMELINE: {
		struct ds_gradehist *h = new_history();
		struct ds_gradehist_row *rows;
		size_t n = 0, i;

		rows =
		    read_history(h, o.history, 24 * 3600 * DS_NSEC_PER_SEC + TIMELINE_WIDTH_NS, &n);
		for (i = 0; i < n; i++)
			grade_hrow(&o, &rows[i]);
		view_timeline(&o, rows, n, ts);
		ds_gradehist_free(h);
		break;
	}
	case VIEW_FLEET:
		view_fleet(&o, argv + optind, argc - optind, ts);
		break;
	}
	if (fflush(stdout) != 0)
		ds_errc(DS_EXIT_FAILURE, errno, "writing output");
	return DS_EXIT_OK;
}
