// SPDX-License-Identifier: MIT
#include "csv.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- writing ---- */

void ds_csv_rec_init(struct ds_csv_rec *r, char *buf, size_t cap)
{
	r->buf = buf;
	r->cap = cap;
	r->len = 0;
	r->nfields = 0;
	r->overflow = cap == 0;
	if (cap)
		buf[0] = '\0';
}

static bool needs_quotes(const char *s, size_t n)
{
	if (n && (s[0] == ' ' || s[n - 1] == ' '))
		return true;
	return strpbrk(s, ",\"\r\n") != NULL;
}

static void put(struct ds_csv_rec *r, const void *p, size_t n)
{
	if (r->overflow || r->len + n + 1 > r->cap) {
		r->overflow = true;
		return;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	r->buf[r->len] = '\0';
}

void ds_csv_field(struct ds_csv_rec *r, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (r->nfields++)
		put(r, ",", 1);
	if (!n || r->overflow)
		return;
	if (!needs_quotes(s, n)) {
		put(r, s, n);
		return;
	}
	/* libcsv quotes and doubles embedded quotes; it reports the size it needs. */
	if (r->len + 1 >= r->cap) {
		r->overflow = true;
		return;
	}
	{
		size_t room = r->cap - r->len - 1;
		size_t need = csv_write(r->buf + r->len, room, s, n);

		if (need > room) {
			r->overflow = true;
			return;
		}
		r->len += need;
		r->buf[r->len] = '\0';
	}
}

void ds_csv_fieldf(struct ds_csv_rec *r, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		r->nfields++;
		r->overflow = true;
		return;
	}
	ds_csv_field(r, tmp);
}

void ds_csv_field_double(struct ds_csv_rec *r, double v, int decimals)
{
	if (!isfinite(v)) {
		ds_csv_field(r, NULL);
		return;
	}
	ds_csv_fieldf(r, "%.*f", decimals, v);
}

void ds_csv_field_long(struct ds_csv_rec *r, long long v)
{
	ds_csv_fieldf(r, "%lld", v);
}

int ds_csv_rec_end(struct ds_csv_rec *r)
{
	put(r, "\n", 1);
	return r->overflow ? -ENOSPC : 0;
}

int ds_csv_write_fd(int fd, const struct ds_csv_rec *r)
{
	ssize_t n;

	if (r->overflow)
		return -ENOSPC;
	do
		n = write(fd, r->buf, r->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == r->len ? 0 : -EIO;
}

int ds_csv_write_file(FILE *f, const struct ds_csv_rec *r)
{
	if (r->overflow)
		return -ENOSPC;
	if (fwrite(r->buf, 1, r->len, f) != r->len)
		return -EIO;
	return 0;
}

int ds_csv_header(FILE *f, const char *columns)
{
	if (fputs(columns, f) == EOF || fputc('\n', f) == EOF)
		return -EIO;
	return 0;
}

/* ---- reading ---- */

struct record {
	char **fields;
	int n, cap;
	long line;
	bool bad;
};

struct ds_csv_reader {
	FILE *f;
	char *path;
	struct csv_parser parser;
	struct record header;
	struct record building;
	struct record current;
	struct record *queue;
	size_t qhead, qlen, qcap;
	char *linebuf;
	size_t linecap;
	long line;    /* lines fed so far */
	long start;   /* line at which the record in progress began */
	bool eof;
	bool started; /* a field of the record being built has been seen */
};

/* Refuse absurd records rather than grow without bound on hostile input. */
#define MAX_FIELDS 4096

static void record_clear(struct record *r)
{
	int i;

	for (i = 0; i < r->n; i++)
		free(r->fields[i]);
	free(r->fields);
	memset(r, 0, sizeof(*r));
}

static void on_field(void *data, size_t len, void *opaque)
{
	struct ds_csv_reader *rd = opaque;
	struct record *b = &rd->building;
	char *copy;

	if (!rd->started) {
		rd->started = true;
		b->line = rd->start;
	}
	if (b->bad)
		return;
	if (b->n >= MAX_FIELDS) {
		b->bad = true;
		return;
	}
	if (b->n == b->cap) {
		int ncap = b->cap ? b->cap * 2 : 16;
		char **nf = realloc(b->fields, (size_t)ncap * sizeof(*nf));

		if (!nf) {
			b->bad = true;
			return;
		}
		b->fields = nf;
		b->cap = ncap;
	}
	copy = malloc(len + 1);
	if (!copy) {
		b->bad = true;
		return;
	}
	if (len)
		memcpy(copy, data, len);
	copy[len] = '\0';
	b->fields[b->n++] = copy;
}

static void on_record(int c, void *opaque)
{
	struct ds_csv_reader *rd = opaque;

	if (!rd->started && rd->building.n == 0)
		return;
	if (rd->qlen + rd->qhead == rd->qcap) {
		if (rd->qhead) {
			memmove(rd->queue, rd->queue + rd->qhead, rd->qlen * sizeof(*rd->queue));
			rd->qhead = 0;
		} else {
			size_t ncap = rd->qcap ? rd->qcap * 2 : 8;
			struct record *nq = realloc(rd->queue, ncap * sizeof(*nq));

			if (!nq) {
				record_clear(&rd->building);
				rd->started = false;
				return;
			}
			rd->queue = nq;
			rd->qcap = ncap;
		}
	}
	rd->queue[rd->qhead + rd->qlen++] = rd->building;
	memset(&rd->building, 0, sizeof(rd->building));
	rd->started = false;
}

/* Feed one more line to the parser; false at end of input. */
static bool feed_line(struct ds_csv_reader *rd)
{
	ssize_t n;

	if (rd->eof)
		return false;
	n = getline(&rd->linebuf, &rd->linecap, rd->f);
	if (n <= 0) {
		rd->eof = true;
		csv_fini(&rd->parser, on_field, on_record, rd);
		return rd->qlen > 0;
	}
	rd->line++;
	/* libcsv's parser is between records (state 0, ROW_NOT_BEGUN) unless a quoted field
	 * runs on from an earlier line: then the record began there, not here. */
	if (rd->parser.pstate == 0 && !rd->started)
		rd->start = rd->line;
	if (csv_parse(&rd->parser, rd->linebuf, (size_t)n, on_field, on_record, rd) != (size_t)n) {
		/* A malformed line: mark the record, restart the parser after this line. */
		if (!rd->started) {
			rd->started = true;
			rd->building.line = rd->start;
		}
		rd->building.bad = true;
		csv_free(&rd->parser);
		csv_init(&rd->parser, CSV_STRICT | CSV_APPEND_NULL);
		on_record(0, rd);
	}
	return true;
}

static int next_record(struct ds_csv_reader *rd, struct record *out)
{
	while (rd->qlen == 0)
		if (!feed_line(rd) && rd->qlen == 0)
			return 0;
	*out = rd->queue[rd->qhead++];
	rd->qlen--;
	return 1;
}

static int reader_start(FILE *f, const char *path, struct ds_csv_reader **out)
{
	struct ds_csv_reader *rd = calloc(1, sizeof(*rd));
	int r;

	if (!rd || !(rd->path = strdup(path))) {
		free(rd);
		if (f != stdin)
			fclose(f);
		return -ENOMEM;
	}
	rd->f = f;
	csv_init(&rd->parser, CSV_STRICT | CSV_APPEND_NULL);
	r = next_record(rd, &rd->header);
	if (r <= 0 || rd->header.bad) {
		ds_csv_reader_free(rd);
		return -EBADMSG;
	}
	*out = rd;
	return 0;
}

int ds_csv_reader_open(const char *path, struct ds_csv_reader **out)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");

	if (!f)
		return -errno;
	return reader_start(f, path, out);
}

int ds_csv_reader_mem(const char *data, size_t len, struct ds_csv_reader **out)
{
	FILE *f;

	if (len == 0)
		return -EBADMSG;
	f = fmemopen((void *)data, len, "r");
	if (!f)
		return -errno;
	return reader_start(f, "(memory)", out);
}

void ds_csv_reader_free(struct ds_csv_reader *rd)
{
	size_t i;

	if (!rd)
		return;
	for (i = 0; i < rd->qlen; i++)
		record_clear(&rd->queue[rd->qhead + i]);
	free(rd->queue);
	record_clear(&rd->header);
	record_clear(&rd->building);
	record_clear(&rd->current);
	csv_free(&rd->parser);
	if (rd->f && rd->f != stdin)
		fclose(rd->f);
	free(rd->linebuf);
	free(rd->path);
	free(rd);
}

int ds_csv_reader_next(struct ds_csv_reader *rd)
{
	record_clear(&rd->current);
	if (!next_record(rd, &rd->current))
		return 0;
	if (rd->current.bad || rd->current.n != rd->header.n)
		return -EBADMSG;
	return 1;
}

int ds_csv_reader_column(const struct ds_csv_reader *rd, const char *name)
{
	int i;

	for (i = 0; i < rd->header.n; i++)
		if (strcmp(rd->header.fields[i], name) == 0)
			return i;
	return -1;
}

int ds_csv_reader_ncolumns(const struct ds_csv_reader *rd)
{
	return rd->header.n;
}

const char *ds_csv_reader_get(const struct ds_csv_reader *rd, int index)
{
	if (index < 0 || index >= rd->current.n)
		return NULL;
	return rd->current.fields[index];
}

const char *ds_csv_reader_get_name(const struct ds_csv_reader *rd, const char *name)
{
	return ds_csv_reader_get(rd, ds_csv_reader_column(rd, name));
}

int ds_csv_reader_nfields(const struct ds_csv_reader *rd)
{
	return rd->current.n;
}

long ds_csv_reader_line(const struct ds_csv_reader *rd)
{
	return rd->current.line;
}

const char *ds_csv_reader_path(const struct ds_csv_reader *rd)
{
	return rd->path;
}
