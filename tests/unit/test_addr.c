// SPDX-License-Identifier: MIT
#define UNIT_NAME "addr"
#include "unit.h"

#include <errno.h>

#include "addr.h"

static const char *roundtrip(const char *in, uint16_t defport, int flags)
{
	static char buf[DS_ADDR_STRLEN];
	struct ds_addr a;

	if (ds_addr_parse(in, defport, flags, &a) < 0)
		return "(error)";
	return ds_addr_format(&a, true, buf, sizeof(buf));
}

static void parses_ipv4_with_and_without_port(void)
{
	CHECK_STR(roundtrip("192.0.2.1:3478", 0, 0), "192.0.2.1:3478");
	CHECK_STR(roundtrip("192.0.2.1", 41878, 0), "192.0.2.1:41878");
	CHECK_STR(roundtrip("0.0.0.0:0", 0, 0), "0.0.0.0:0");
}

static void parses_ipv6_bracketed_and_bare(void)
{
	CHECK_STR(roundtrip("[2001:db8::1]:3478", 0, 0), "[2001:db8::1]:3478");
	CHECK_STR(roundtrip("2001:db8::1", 3478, 0), "[2001:db8::1]:3478");
	CHECK_STR(roundtrip("[2001:DB8:0:0::1]", 5, 0), "[2001:db8::1]:5");
	CHECK_STR(roundtrip("::", 1, 0), "[::]:1");
	CHECK_STR(roundtrip("::ffff:192.0.2.1", 1, 0), "[::ffff:192.0.2.1]:1");
}

static void parses_scope_ids(void)
{
	struct ds_addr a;
	char buf[DS_ADDR_STRLEN];

	CHECK_INT(ds_addr_parse("fe80::1%lo", 9, 0, &a), 0);
	CHECK(a.sin6.sin6_scope_id != 0);
	CHECK_STR(ds_addr_format(&a, true, buf, sizeof(buf)), "[fe80::1%lo]:9");
	CHECK_INT(ds_addr_parse("[fe80::1%1]:7", 0, 0, &a), 0);
	CHECK_INT(a.sin6.sin6_scope_id, 1);
	CHECK_INT(ds_addr_parse("fe80::1%nosuchif0", 0, 0, &a), -EINVAL);
	CHECK_INT(ds_addr_parse("fe80::1%", 0, 0, &a), -EINVAL);
}

static void rejects_bad_input(void)
{
	struct ds_addr a;

	CHECK_INT(ds_addr_parse("", 0, 0, &a), -EINVAL);
	CHECK_INT(ds_addr_parse("192.0.2.256", 0, 0, &a), -EINVAL);
	CHECK_INT(ds_addr_parse("192.0.2.1:", 0, 0, &a), -EINVAL);
	CHECK_INT(ds_addr_parse("192.0.2.1:65536", 0, 0, &a), -ERANGE);
	CHECK_INT(ds_addr_parse("192.0.2.1:-1", 0, 0, &a), -EINVAL);
	CHECK_INT(ds_addr_parse("192.0.2.1:12x", 0, 0, &a), -EINVAL);
	CHECK_INT(ds_addr_parse("[192.0.2.1]:1", 0, 0, &a), -EINVAL);
	CHECK_INT(ds_addr_parse("[2001:db8::1", 0, 0, &a), -EINVAL);
	CHECK_INT(ds_addr_parse("[2001:db8::1]x", 0, 0, &a), -EINVAL);
	CHECK_INT(ds_addr_parse("2001:db8::g", 0, 0, &a), -EINVAL);
	CHECK_INT(ds_addr_parse("example.com", 0, 0, &a), -EINVAL);
	CHECK_INT(ds_addr_parse("192.0.2.1", 0, DS_ADDR_PORT_REQUIRED, &a), -EINVAL);
	CHECK_INT(ds_addr_parse("192.0.2.1:5", 0, DS_ADDR_PORT_FORBIDDEN, &a), -EINVAL);
}

static void formats_without_port(void)
{
	struct ds_addr a;
	char buf[DS_ADDR_STRLEN];

	ds_addr_parse("[2001:db8::5]:80", 0, 0, &a);
	CHECK_STR(ds_addr_format(&a, false, buf, sizeof(buf)), "2001:db8::5");
	CHECK_STR(ds_addr_family_name(&a), "ipv6");
	CHECK_INT(ds_addr_port(&a), 80);
	ds_addr_set_port(&a, 81);
	CHECK_INT(ds_addr_port(&a), 81);
}

static void compares_and_unmaps(void)
{
	struct ds_addr a, b, c;

	ds_addr_parse("::ffff:192.0.2.9", 7, 0, &a);
	ds_addr_parse("192.0.2.9:7", 0, 0, &b);
	CHECK(!ds_addr_equal(&a, &b));
	ds_addr_unmap_v4(&a);
	CHECK(ds_addr_equal(&a, &b));
	ds_addr_parse("192.0.2.9:8", 0, 0, &c);
	CHECK(!ds_addr_equal(&b, &c));
	CHECK(ds_addr_equal_host(&b, &c));
}

static void classifies_addresses(void)
{
	static const struct {
		const char *addr;
		int loopback, private_, any;
	} cases[] = {
		{ "127.0.0.1", 1, 0, 0 },     { "::1", 1, 0, 0 },	    { "10.1.2.3", 0, 1, 0 },
		{ "172.16.0.1", 0, 1, 0 },    { "172.32.0.1", 0, 0, 0 },    { "192.168.1.1", 0, 1, 0 },
		{ "100.64.0.1", 0, 1, 0 },    { "100.128.0.1", 0, 0, 0 },   { "203.0.113.5", 0, 0, 0 },
		{ "fd00::1", 0, 1, 0 },	      { "fe80::1", 0, 1, 0 },	    { "2001:db8::1", 0, 0, 0 },
		{ "0.0.0.0", 0, 0, 1 },	      { "::", 0, 0, 1 },	    { "::ffff:10.0.0.1", 0, 1, 0 },
		{ "::ffff:127.0.0.1", 1, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ds_addr a;

		CHECK_INT(ds_addr_parse(cases[i].addr, 0, 0, &a), 0);
		if (ds_addr_is_loopback(&a) != cases[i].loopback ||
		    ds_addr_is_private(&a) != cases[i].private_ || ds_addr_is_any(&a) != cases[i].any) {
			fprintf(stderr, "misclassified %s\n", cases[i].addr);
			unit_failed_now = 1;
		}
	}
}

int main(void)
{
	UNIT_RUN(parses_ipv4_with_and_without_port);
	UNIT_RUN(parses_ipv6_bracketed_and_bare);
	UNIT_RUN(parses_scope_ids);
	UNIT_RUN(rejects_bad_input);
	UNIT_RUN(formats_without_port);
	UNIT_RUN(compares_and_unmaps);
	UNIT_RUN(classifies_addresses);
	UNIT_EXIT();
}
