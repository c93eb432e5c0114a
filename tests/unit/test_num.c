// SPDX-License-Identifier: MIT
#define UNIT_NAME "num"
#include "unit.h"

#include <errno.h>

#include "num.h"

static void parses_integers_in_range(void)
{
	long long v;

	CHECK_INT(ds_parse_long("42", 0, 100, &v), 0);
	CHECK_INT(v, 42);
	CHECK_INT(ds_parse_long("0x10", 0, 100, &v), 0);
	CHECK_INT(v, 16);
	CHECK_INT(ds_parse_long("101", 0, 100, &v), -ERANGE);
	CHECK_INT(ds_parse_long("-1", 0, 100, &v), -ERANGE);
	CHECK_INT(ds_parse_long("99999999999999999999", 0, 100, &v), -ERANGE);
	CHECK_INT(ds_parse_long("4x", 0, 100, &v), -EINVAL);
	CHECK_INT(ds_parse_long("", 0, 100, &v), -EINVAL);
	CHECK_INT(ds_parse_long(" 4", 0, 100, &v), -EINVAL);
}

static void parses_ports(void)
{
	uint16_t p;

	CHECK_INT(ds_parse_port("41878", &p), 0);
	CHECK_INT(p, 41878);
	CHECK_INT(ds_parse_port("65536", &p), -ERANGE);
	CHECK_INT(ds_parse_port("-1", &p), -EINVAL);
	CHECK_INT(ds_parse_port("+5", &p), -EINVAL);
}

static void parses_durations_with_units(void)
{
	int64_t ns;

	CHECK_INT(ds_parse_duration_ns("20", 0, INT64_MAX, &ns), 0);
	CHECK_INT(ns, 20000000);
	CHECK_INT(ds_parse_duration_ns("20ms", 0, INT64_MAX, &ns), 0);
	CHECK_INT(ns, 20000000);
	CHECK_INT(ds_parse_duration_ns("500us", 0, INT64_MAX, &ns), 0);
	CHECK_INT(ns, 500000);
	CHECK_INT(ds_parse_duration_ns("1.5s", 0, INT64_MAX, &ns), 0);
	CHECK_INT(ns, 1500000000);
	CHECK_INT(ds_parse_duration_ns("2m", 0, INT64_MAX, &ns), 0);
	CHECK_INT(ns, 120000000000LL);
	CHECK_INT(ds_parse_duration_ns("5 ms", 0, INT64_MAX, &ns), -EINVAL);
	CHECK_INT(ds_parse_duration_ns("5days", 0, INT64_MAX, &ns), -EINVAL);
	CHECK_INT(ds_parse_duration_ns("-5", 0, INT64_MAX, &ns), -EINVAL);
	CHECK_INT(ds_parse_duration_ns("10s", 0, 1000000000, &ns), -ERANGE);
}

static void parses_rates_tc_style(void)
{
	double bps;

	CHECK_INT(ds_parse_rate_bps("10mbit", 0, 1e12, &bps), 0);
	CHECK(bps == 10e6);
	CHECK_INT(ds_parse_rate_bps("2.5M", 0, 1e12, &bps), 0);
	CHECK(bps == 2.5e6);
	CHECK_INT(ds_parse_rate_bps("500kbit", 0, 1e12, &bps), 0);
	CHECK(bps == 500e3);
	CHECK_INT(ds_parse_rate_bps("1G", 0, 1e12, &bps), 0);
	CHECK(bps == 1e9);
	CHECK_INT(ds_parse_rate_bps("1200", 0, 1e12, &bps), 0);
	CHECK(bps == 1200);
	CHECK_INT(ds_parse_rate_bps("10mbyte", 0, 1e12, &bps), -EINVAL);
	CHECK_INT(ds_parse_rate_bps("fast", 0, 1e12, &bps), -EINVAL);
}

static void parses_percent_and_sizes(void)
{
	double pct;
	long long sz;

	CHECK_INT(ds_parse_percent("5%", &pct), 0);
	CHECK(pct == 5);
	CHECK_INT(ds_parse_percent("0.5", &pct), 0);
	CHECK(pct == 0.5);
	CHECK_INT(ds_parse_percent("101", &pct), -ERANGE);
	CHECK_INT(ds_parse_percent("5%%", &pct), -EINVAL);
	CHECK_INT(ds_parse_size("32k", 0, 1 << 30, &sz), 0);
	CHECK_INT(sz, 32768);
	CHECK_INT(ds_parse_size("1200", 0, 1 << 30, &sz), 0);
	CHECK_INT(sz, 1200);
	CHECK_INT(ds_parse_size("1.5", 0, 1 << 30, &sz), -EINVAL);
	CHECK_INT(ds_parse_size("2g", 0, 1 << 30, &sz), -ERANGE);
}

static void parses_doubles(void)
{
	double d;

	CHECK_INT(ds_parse_double("0.25", 0, 1, &d), 0);
	CHECK(d == 0.25);
	CHECK_INT(ds_parse_double("nan", 0, 1, &d), -EINVAL);
	CHECK_INT(ds_parse_double("2", 0, 1, &d), -ERANGE);
	CHECK_INT(ds_parse_double("1e", 0, 1, &d), -EINVAL);
}

int main(void)
{
	UNIT_RUN(parses_integers_in_range);
	UNIT_RUN(parses_ports);
	UNIT_RUN(parses_durations_with_units);
	UNIT_RUN(parses_rates_tc_style);
	UNIT_RUN(parses_percent_and_sizes);
	UNIT_RUN(parses_doubles);
	UNIT_EXIT();
}
