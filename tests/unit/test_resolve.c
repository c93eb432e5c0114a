// SPDX-License-Identifier: MIT
/* Server specs: literals, host[:port], stun: URIs; resolution that needs no DNS. */
#define UNIT_NAME "test_resolve"
#include "unit.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "resolve.h"

static void check_parse(const char *spec, const char *host, unsigned port, int port_given,
			int numeric)
{
	struct ds_resolved r;
	const char *why = NULL;

	CHECK_INT(ds_resolve_parse(spec, 3478, &r, &why), 0);
	CHECK_STR(r.host, host);
	CHECK_INT(r.port, port);
	CHECK_INT(r.port_given, port_given);
	CHECK_INT(r.numeric, numeric);
}

static void literals_names_and_uris_parse(void)
{
	check_parse("192.0.2.1", "192.0.2.1", 3478, 0, 1);
	check_parse("192.0.2.1:5349", "192.0.2.1", 5349, 1, 1);
	check_parse("2001:db8::1", "2001:db8::1", 3478, 0, 1);
	check_parse("[2001:db8::1]:19302", "2001:db8::1", 19302, 1, 1);
	check_parse("[2001:db8::1]", "2001:db8::1", 3478, 0, 1);
	check_parse("stun.example.net", "stun.example.net", 3478, 0, 0);
	check_parse("stun.example.net.", "stun.example.net", 3478, 0, 0);
	check_parse("stun.example.net:3479", "stun.example.net", 3479, 1, 0);
	check_parse("stun:stun.example.net", "stun.example.net", 3478, 0, 0);
	check_parse("STUN:stun.example.net:1234", "stun.example.net", 1234, 1, 0);
	check_parse("stun:[2001:db8::1]:3478", "2001:db8::1", 3478, 1, 1);
	check_parse("stun:192.0.2.1", "192.0.2.1", 3478, 0, 1);
	check_parse("turn:relay.example.net", "relay.example.net", 3478, 0, 0);
}

static void bad_specs_say_why(void)
{
	static const char *bad[] = {
	    "",           "stun:",     "host name",     "host:0",
	    "host:65536", "host:x",    "[2001:db8::1",  "stun:host?transport=udp",
	    "a..b",       "user@host", "1.2.3.4:99999", "-"};
	struct ds_resolved r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		int rc = ds_resolve_parse(bad[i], 3478, &r, &why);

		if (rc != -EINVAL || !why)
			fprintf(stderr, "accepted bad spec '%s'\n", bad[i]);
		CHECK(rc == -EINVAL && why);
	}
	CHECK_INT(ds_resolve_parse("stuns:host", 3478, &r, NULL), 0);
	CHECK(r.tls);
}

static void literals_and_localhost_resolve_without_dns(void)
{
	struct ds_resolve_opts o = {.default_port = 3478, .family = AF_UNSPEC};
	struct ds_resolved r;
	char buf[DS_ADDR_STRLEN];

	CHECK_INT(ds_resolve_server("127.0.0.1:9", &o, &r, NULL), 0);
	CHECK_INT(r.n, 1);
	CHECK_STR(ds_addr_format(&r.addr[0], true, buf, sizeof(buf)), "127.0.0.1:9");
	o.family = AF_INET6;
	CHECK_INT(ds_resolve_server("127.0.0.1:9", &o, &r, NULL), -ENOENT);
	o.family = AF_INET;
	CHECK_INT(ds_resolve_server("localhost", &o, &r, NULL), 0); /* no SRV for localhost */
	CHECK(r.n >= 1 && !r.via_srv);
	CHECK_STR(ds_addr_format(&r.addr[0], true, buf, sizeof(buf)), "127.0.0.1:3478");
}

int main(void)
{
	UNIT_RUN(literals_names_and_uris_parse);
	UNIT_RUN(bad_specs_say_why);
	UNIT_RUN(literals_and_localhost_resolve_without_dns);
	UNIT_EXIT();
}
