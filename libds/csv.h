/* SPDX-License-Identifier: MIT */
/*
 * CSV through libcsv, RFC 4180: writing records (fields quoted only when needed, "\n" line
 * ends) and reading files with a header row, fields looked up by column name.
 *
 * Results are appended whole-line or not at all: a record is built in memory and written
 * with a single write(2) to an O_APPEND descriptor (ds_csv_append_fd), so concurrent
 * appenders and a crash never leave half a line.
 */
#ifndef DS_CSV_H
#define DS_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* ---- writing ---- */

/* A record under construction, in a caller-owned buffer. */
struct ds_csv_rec {
	char *buf;
	size_t cap;
	size_t len;
	int nfields;
	bool overflow; /* a field did not fit: the record must not be written */
};

void ds_csv_rec_init(struct ds_csv_rec *r, char *buf, size_t cap);
/* Append a field (quoted/escaped as RFC 4180 requires). NULL = empty (missing) field. */
void ds_csv_field(struct ds_csv_rec *r, const char *s);
__attribute__((format(printf, 2, 3))) void ds_csv_fieldf(struct ds_csv_rec *r, const char *fmt,
							   ...);
/* Numbers: NAN / missing prints an empty field (never a made-up 0). */
void ds_csv_field_double(struct ds_csv_rec *r, double v, int decimals);
void ds_csv_field_long(struct ds_csv_rec *r, long long v);
/* Terminate with "\n". 0, or -ENOSPC if the record did not fit. */
int ds_csv_rec_end(struct ds_csv_rec *r);
/* One write(2) of the finished record; 0 or -errno (-EIO on a short write). */
int ds_csv_write_fd(int fd, const struct ds_csv_rec *r);
int ds_csv_write_file(FILE *f, const struct ds_csv_rec *r);
/* Write a header row from a comma-separated list of names. */
int ds_csv_header(FILE *f, const char *columns);

/* ---- reading ---- */

struct ds_csv_reader;

/* Open a file (or "-" for stdin) and read its header row. -errno, -EBADMSG (no header). */
int ds_csv_reader_open(const char *path, struct ds_csv_reader **out);
/* Read from an in-memory buffer (for tests and fuzzing). */
int ds_csv_reader_mem(const char *data, size_t len, struct ds_csv_reader **out);
void ds_csv_reader_free(struct ds_csv_reader *r);
/* Next record: 1 = got one, 0 = end of file, -EBADMSG = malformed record (skipped; the
 * caller warns with ds_csv_reader_line and goes on). */
int ds_csv_reader_next(struct ds_csv_reader *r);
/* Column index by header name, or -1. */
int ds_csv_reader_column(const struct ds_csv_reader *r, const char *name);
int ds_csv_reader_ncolumns(const struct ds_csv_reader *r);
/* Field of the current record by index or header name; NULL when absent, "" when empty. */
const char *ds_csv_reader_get(const struct ds_csv_reader *r, int index);
const char *ds_csv_reader_get_name(const struct ds_csv_reader *r, const char *name);
int ds_csv_reader_nfields(const struct ds_csv_reader *r);
/* 1-based line number where the current record starts (for "file:line" warnings). */
long ds_csv_reader_line(const struct ds_csv_reader *r);
const char *ds_csv_reader_path(const struct ds_csv_reader *r);

#endif
