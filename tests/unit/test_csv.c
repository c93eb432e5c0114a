// SPDX-License-Identifier: MIT
#define UNIT_NAME "csv"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "csv.h"

static void writes_fields_quoting_only_when_needed(void)
{
	char buf[256];
	struct ds_csv_rec r;

	ds_csv_rec_init(&r, buf, sizeof(buf));
	ds_csv_field(&r, "2026-11-23T12:00:00.123Z");
	ds_csv_field(&r, "ds-stun");
	ds_csv_field(&r, "[2001:db8::1]:3478");
	ds_csv_field(&r, "a,b");
	ds_csv_field(&r, "say \"hi\"");
	ds_csv_field(&r, NULL);
	ds_csv_field_double(&r, NAN, 3);
	ds_csv_field_double(&r, 1.23456, 3);
	ds_csv_field_long(&r, -7);
	ds_csv_field(&r, "two\nlines");
	CHECK_INT(ds_csv_rec_end(&r), 0);
	CHECK_STR(buf, "2026-11-23T12:00:00.123Z,ds-stun,[2001:db8::1]:3478,\"a,b\","
		       "\"say \"\"hi\"\"\",,,1.235,-7,\"two\nlines\"\n");
	CHECK_INT(r.nfields, 10);
}

static void refuses_a_record_that_does_not_fit(void)
{
	char buf[16];
	struct ds_csv_rec r;

	ds_csv_rec_init(&r, buf, sizeof(buf));
	ds_csv_field(&r, "0123456789");
	ds_csv_field(&r, "0123456789");
	CHECK_INT(ds_csv_rec_end(&r), -ENOSPC);
	CHECK_INT(ds_csv_write_fd(1, &r), -ENOSPC);
}

static void appends_whole_lines_to_a_file(void)
{
	char path[] = "/tmp/ds-test-csv.XXXXXX";
	char buf[64], back[64];
	struct ds_csv_rec r;
	int fd = mkstemp(path), fa;
	ssize_t n;

	CHECK(fd >= 0);
	fa = open(path, O_WRONLY | O_APPEND);
	ds_csv_rec_init(&r, buf, sizeof(buf));
	ds_csv_field(&r, "x");
	ds_csv_field(&r, "y");
	ds_csv_rec_end(&r);
	CHECK_INT(ds_csv_write_fd(fa, &r), 0);
	CHECK_INT(ds_csv_write_fd(fa, &r), 0);
	n = read(fd, back, sizeof(back) - 1);
	CHECK_INT(n, 8);
	back[n > 0 ? n : 0] = '\0';
	CHECK_STR(back, "x,y\nx,y\n");
	close(fa);
	close(fd);
	unlink(path);
}

static void reads_by_header_name(void)
{
	static const char data[] = "ts,tool,remote,rtt_ms\n"
				   "2026-11-23T12:00:00.000Z,ds-x,\"[2001:db8::1]:5\",1.5\n"
				   "\n"
				   "2026-11-23T12:00:01.000Z,ds-x,\"a \"\"q\"\" b\",\n"
				   "2026-11-23T12:00:02.000Z,ds-x,\"multi\nline\",3";
	struct ds_csv_reader *rd;

	CHECK_INT(ds_csv_reader_mem(data, sizeof(data) - 1, &rd), 0);
	if (!rd)
		return;
	CHECK_INT(ds_csv_reader_ncolumns(rd), 4);
	CHECK_INT(ds_csv_reader_column(rd, "rtt_ms"), 3);
	CHECK_INT(ds_csv_reader_column(rd, "nope"), -1);
	CHECK_INT(ds_csv_reader_next(rd), 1);
	CHECK_STR(ds_csv_reader_get_name(rd, "remote"), "[2001:db8::1]:5");
	CHECK_STR(ds_csv_reader_get_name(rd, "rtt_ms"), "1.5");
	CHECK_INT(ds_csv_reader_line(rd), 2);
	CHECK_INT(ds_csv_reader_next(rd), 1);
	CHECK_STR(ds_csv_reader_get_name(rd, "remote"), "a \"q\" b");
	CHECK_STR(ds_csv_reader_get_name(rd, "rtt_ms"), "");
	CHECK(ds_csv_reader_get_name(rd, "nope") == NULL);
	CHECK_INT(ds_csv_reader_line(rd), 4);
	CHECK_INT(ds_csv_reader_next(rd), 1);
	CHECK_STR(ds_csv_reader_get_name(rd, "remote"), "multi\nline");
	CHECK_STR(ds_csv_reader_get_name(rd, "rtt_ms"), "3");
	CHECK_INT(ds_csv_reader_next(rd), 0);
	ds_csv_reader_free(rd);
}

static void skips_malformed_records_and_names_their_line(void)
{
	static const char data[] = "a,b\n"
				   "1,2\n"
				   "1,2,3\n"
				   "\"unterminated,x\"y\n"
				   "5,6\n";
	struct ds_csv_reader *rd;

	CHECK_INT(ds_csv_reader_mem(data, sizeof(data) - 1, &rd), 0);
	if (!rd)
		return;
	CHECK_INT(ds_csv_reader_next(rd), 1);
	CHECK_INT(ds_csv_reader_next(rd), -EBADMSG);
	CHECK_INT(ds_csv_reader_line(rd), 3);
	CHECK_INT(ds_csv_reader_next(rd), -EBADMSG);
	CHECK_INT(ds_csv_reader_line(rd), 4);
	CHECK_INT(ds_csv_reader_next(rd), 1);
	CHECK_STR(ds_csv_reader_get(rd, 0), "5");
	CHECK_INT(ds_csv_reader_line(rd), 5);
	CHECK_INT(ds_csv_reader_next(rd), 0);
	ds_csv_reader_free(rd);
}

static void names_the_line_where_a_bad_record_began(void)
{
	static const char data[] = "a,b\n"
				   "1,2\n"
				   "\"open quote,\n"
				   "runs on\n"
				   "and on\n";
	struct ds_csv_reader *rd;

	CHECK_INT(ds_csv_reader_mem(data, sizeof(data) - 1, &rd), 0);
	if (!rd)
		return;
	CHECK_INT(ds_csv_reader_next(rd), 1);
	CHECK_INT(ds_csv_reader_next(rd), -EBADMSG);
	CHECK_INT(ds_csv_reader_line(rd), 3);
	CHECK_INT(ds_csv_reader_next(rd), 0);
	ds_csv_reader_free(rd);
}

static void round_trips_what_it_writes(void)
{
	static const char *fields[] = { "plain", "", "co,mma", "qu\"ote", " lead", "nl\r\nx" };
	char buf[256];
	struct ds_csv_rec r;
	struct ds_csv_reader *rd;
	size_t i;

	ds_csv_rec_init(&r, buf, sizeof(buf));
	for (i = 0; i < 6; i++)
		ds_csv_field(&r, "h");
	ds_csv_rec_end(&r);
	{
		struct ds_csv_rec r2;
		char *rest = buf + r.len;

		ds_csv_rec_init(&r2, rest, sizeof(buf) - r.len);
		for (i = 0; i < 6; i++)
			ds_csv_field(&r2, fields[i]);
		CHECK_INT(ds_csv_rec_end(&r2), 0);
		CHECK_INT(ds_csv_reader_mem(buf, r.len + r2.len, &rd), 0);
	}
	if (!rd)
		return;
	CHECK_INT(ds_csv_reader_next(rd), 1);
	for (i = 0; i < 6; i++)
		CHECK_STR(ds_csv_reader_get(rd, (int)i), fields[i]);
	ds_csv_reader_free(rd);
}

static void rejects_files_without_header(void)
{
	struct ds_csv_reader *rd = NULL;

	CHECK_INT(ds_csv_reader_mem("", 0, &rd), -EBADMSG);
	CHECK_INT(ds_csv_reader_mem("\n\n", 2, &rd), -EBADMSG);
	CHECK_INT(ds_csv_reader_open("/nonexistent/x.csv", &rd), -ENOENT);
}

int main(void)
{
	UNIT_RUN(writes_fields_quoting_only_when_needed);
	UNIT_RUN(refuses_a_record_that_does_not_fit);
	UNIT_RUN(appends_whole_lines_to_a_file);
	UNIT_RUN(reads_by_header_name);
	UNIT_RUN(skips_malformed_records_and_names_their_line);
	UNIT_RUN(names_the_line_where_a_bad_record_began);
	UNIT_RUN(round_trips_what_it_writes);
	UNIT_RUN(rejects_files_without_header);
	UNIT_EXIT();
}
