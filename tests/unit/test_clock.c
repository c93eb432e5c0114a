// SPDX-License-Identifier: MIT
#define UNIT_NAME "clock"
#include "unit.h"

#include <errno.h>

#include "clock.h"

static void formats_iso8601_utc_milliseconds(void)
{
	char buf[DS_ISO8601_LEN];

	/* 2026-11-23T12:00:00.123Z */
	CHECK_STR(ds_time_iso8601(buf, sizeof(buf), 1795435200123456789LL),
		  "2026-11-23T12:00:00.123Z");
	CHECK_STR(ds_time_iso8601(buf, sizeof(buf), 0), "1970-01-01T00:00:00.000Z");
	CHECK_INT(strlen(ds_time_now_iso8601(buf, sizeof(buf))), 24);
}

static void parses_iso8601_back(void)
{
	int64_t ns;

	CHECK_INT(ds_time_parse_iso8601("2026-11-23T12:00:00.123Z", &ns), 0);
	CHECK_INT(ns, 1795435200123000000LL);
	CHECK_INT(ds_time_parse_iso8601("2026-11-23T12:00:00Z", &ns), 0);
	CHECK_INT(ns, 1795435200000000000LL);
	CHECK_INT(ds_time_parse_iso8601("2026-11-23T12:00:00.5Z", &ns), 0);
	CHECK_INT(ns, 1795435200500000000LL);
	CHECK_INT(ds_time_parse_iso8601("2026-11-23 12:00:00", &ns), -EINVAL);
	CHECK_INT(ds_time_parse_iso8601("2026-11-23T12:00:00.Z", &ns), -EINVAL);
	CHECK_INT(ds_time_parse_iso8601("2026-11-23T12:00:00.123", &ns), -EINVAL);
	CHECK_INT(ds_time_parse_iso8601("1969-12-31T23:59:59Z", &ns), -ERANGE);
	CHECK_INT(ds_time_parse_iso8601("9999-01-01T00:00:00Z", &ns), -ERANGE);
	CHECK_INT(ds_time_parse_iso8601("2261-12-31T23:59:59Z", &ns), 0);
}

static void monotonic_clock_advances_and_sleeps(void)
{
	int64_t t0 = ds_clock_ns(), t1;

	ds_clock_sleep_until(t0 + 2 * DS_NSEC_PER_MSEC);
	t1 = ds_clock_ns();
	CHECK(t1 - t0 >= 2 * DS_NSEC_PER_MSEC);
	CHECK(t1 - t0 < 1000 * DS_NSEC_PER_MSEC);
}

static void converts_timespecs(void)
{
	struct timespec ts = ds_ns_timespec(-1);

	CHECK_INT(ts.tv_sec, -1);
	CHECK_INT(ts.tv_nsec, 999999999);
	CHECK_INT(ds_timespec_ns(&ts), -1);
}

int main(void)
{
	UNIT_RUN(formats_iso8601_utc_milliseconds);
	UNIT_RUN(parses_iso8601_back);
	UNIT_RUN(monotonic_clock_advances_and_sleeps);
	UNIT_RUN(converts_timespecs);
	UNIT_EXIT();
}
