// SPDX-License-Identifier: MIT
#define UNIT_NAME "peers"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "peers.h"

#define KEY1 "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
#define KEY2 "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
#define KEY3 "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="

static char err[256];

static int parse(const char *text, struct ds_peers **ps)
{
	err[0] = '\0';
	return ds_peers_parse_mem(text, strlen(text), "peers.csv", ps, err, sizeof(err));
}

static void reads_names_keys_and_endpoints(void)
{
	struct ds_peers *ps;
	const struct ds_peer *p;
	char buf[DS_ADDR_STRLEN];
	uint8_t k[32];

	CHECK_INT(parse("name,pubkey,endpoint\n"
			"hq," KEY1 ",203.0.113.10:41000\n"
			"laptop," KEY2 ",\n"
			"v6-box," KEY3 ",[2001:db8::7]\n",
			&ps),
		  0);
	CHECK_INT(ds_peers_count(ps), 3);
	p = ds_peers_find_name(ps, "hq");
	CHECK(p != NULL);
	CHECK_STR(ds_addr_format(&p->endpoint, true, buf, sizeof(buf)), "203.0.113.10:41000");
	CHECK_INT(p->line, 2);
	p = ds_peers_find_name(ps, "laptop");
	CHECK(p && p->endpoint.len == 0);
	p = ds_peers_find_name(ps, "v6-box");
	CHECK_STR(ds_addr_format(&p->endpoint, true, buf, sizeof(buf)), "[2001:db8::7]:41878");
	ds_key_from_base64(KEY2, k);
	p = ds_peers_find_pubkey(ps, k);
	CHECK(p && strcmp(p->name, "laptop") == 0);
	CHECK(ds_peers_find_name(ps, "nobody") == NULL);
	CHECK_STR(ds_peers_get(ps, 0)->name, "hq"); /* file order kept */
	ds_peers_free(ps);
}

static void columns_by_name_in_any_order(void)
{
	struct ds_peers *ps;

	CHECK_INT(parse("pubkey,site,name\n" KEY1 ",austin,a\n" KEY2 ",\"humble, tx\",b\n", &ps), 0);
	CHECK_INT(ds_peers_count(ps), 2);
	CHECK(ds_peers_find_name(ps, "b") != NULL);
	CHECK(ds_peers_find_name(ps, "b")->endpoint.len == 0);
	ds_peers_free(ps);
	CHECK_INT(parse("name,pubkey\n", &ps), 0); /* no peers yet is fine */
	CHECK_INT(ds_peers_count(ps), 0);
	ds_peers_free(ps);
}

static void errors_name_file_line_and_field(void)
{
	struct ds_peers *ps = NULL;

	CHECK_INT(parse("name,pubkey\nhq,notakey\n", &ps), -EBADMSG);
	CHECK_STR(err, "peers.csv:2: bad pubkey 'notakey' for 'hq' (want 44 characters of "
		       "base64, as ds-key pubkey prints)");
	CHECK(ps == NULL);
	CHECK_INT(parse("name,endpoint\nhq,1.2.3.4\n", &ps), -EBADMSG);
	CHECK(strstr(err, "peers.csv:1: missing column 'pubkey'") == err);
	CHECK_INT(parse("pubkey\n" KEY1 "\n", &ps), -EBADMSG);
	CHECK(strstr(err, "peers.csv:1: missing column 'name'") == err);
	CHECK_INT(parse("name,pubkey\na," KEY1 "\nb," KEY2 "\na," KEY3 "\n", &ps), -EEXIST);
	CHECK_STR(err, "peers.csv:4: duplicate name 'a' (first at line 2)");
	CHECK_INT(parse("name,pubkey\na," KEY1 "\nb," KEY1 "\n", &ps), -EEXIST);
	CHECK_STR(err, "peers.csv:3: duplicate pubkey of 'b' (already 'a' at line 2)");
	CHECK_INT(parse("name,pubkey\nhas space," KEY1 "\n", &ps), -EBADMSG);
	CHECK(strstr(err, "peers.csv:2: bad name 'has space'") == err);
	CHECK_INT(parse("name,pubkey\n," KEY1 "\n", &ps), -EBADMSG);
	CHECK(strstr(err, "peers.csv:2: bad name ''") == err);
	CHECK_INT(parse("name,pubkey,endpoint\na," KEY1 ",example.com:1\n", &ps), -EBADMSG);
	CHECK(strstr(err, "peers.csv:2: bad endpoint 'example.com:1' for 'a'") == err);
	CHECK_INT(parse("name,pubkey,endpoint\na," KEY1 ",1.2.3.4:0\n", &ps), -EBADMSG);
	CHECK(strstr(err, "peers.csv:2: bad endpoint '1.2.3.4:0'") == err);
	CHECK_INT(parse("name,pubkey,endpoint\na," KEY1 ",0.0.0.0:5\n", &ps), -EBADMSG);
	/* a record with a field missing or one too many */
	CHECK_INT(parse("name,pubkey,endpoint\na," KEY1 "\n", &ps), -EBADMSG);
	CHECK(strstr(err, "peers.csv:2: malformed CSV record") == err);
	CHECK_INT(parse("name,pubkey\na," KEY1 ",x\n", &ps), -EBADMSG);
	CHECK_INT(parse("name,pubkey\n\"a," KEY1 "\n", &ps), -EBADMSG);
	/* no header at all */
	CHECK_INT(parse("", &ps), -EBADMSG);
	CHECK(strstr(err, "peers.csv:1: no header row") == err);
	/* control characters are not echoed into the message */
	CHECK_INT(parse("name,pubkey\n\"a\x1b[2J\"," KEY1 "\n", &ps), -EBADMSG);
	CHECK(strchr(err, 0x1b) == NULL);
	/* a very long field is shortened in the message */
	{
		char text[600];

		snprintf(text, sizeof(text), "name,pubkey\nx,%0500d\n", 1);
		CHECK_INT(parse(text, &ps), -EBADMSG);
		CHECK(strlen(err) < 200);
	}
}

static void loads_files_and_names_them(void)
{
	char path[] = "/tmp/ds-test-peers.XXXXXX";
	int fd = mkstemp(path);
	struct ds_peers *ps;
	const char *text = "name,pubkey\nhq," KEY1 "\nhq," KEY2 "\n";

	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	CHECK_INT(ds_peers_load(path, &ps, err, sizeof(err)), -EEXIST);
	CHECK(strncmp(err, path, strlen(path)) == 0 && strstr(err, ":3: duplicate name 'hq'"));
	unlink(path);
	CHECK_INT(ds_peers_load(path, &ps, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, path) == err);
}

static void name_rules(void)
{
	CHECK(ds_peers_name_ok("agent-0001"));
	CHECK(ds_peers_name_ok("a.b_c-D9"));
	CHECK(!ds_peers_name_ok(""));
	CHECK(!ds_peers_name_ok("a,b"));
	CHECK(!ds_peers_name_ok("a/b"));
	CHECK(ds_peers_name_ok("123456789012345678901234567890123456789012345678901234567890123"));
	CHECK(!ds_peers_name_ok("1234567890123456789012345678901234567890123456789012345678901234"));
}

int main(void)
{
	UNIT_RUN(reads_names_keys_and_endpoints);
	UNIT_RUN(columns_by_name_in_any_order);
	UNIT_RUN(errors_name_file_line_and_field);
	UNIT_RUN(loads_files_and_names_them);
	UNIT_RUN(name_rules);
	UNIT_EXIT();
}
