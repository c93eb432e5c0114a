// SPDX-License-Identifier: MIT
#define UNIT_NAME "test_race"
/* The race order (libds/race.h): cheapest first, families filtered, duplicates dropped. */
#include <string.h>

#include "race.h"
#include "unit.h"

static void add(struct ds_ctl_msg *m, int kind, const char *addr)
{
	m->peer_info.cands[m->peer_info.ncands].kind = (uint8_t)kind;
	ds_addr_parse(addr, 0, 0, &m->peer_info.cands[m->peer_info.ncands++].addr);
}

static void plan_orders_lan_v6_public_private_relay(void)
{
	struct ds_ctl_msg m;
	struct ds_udp_net nets[2];
	struct ds_race_cand c[DS_RACE_MAX];
	char a[DS_ADDR_STRLEN];
	size_t n;

	memset(&m, 0, sizeof(m));
	add(&m, 3, "203.0.113.10:50000");      /* relay */
	add(&m, 1, "192.168.2.10:41878");      /* another site's LAN */
	add(&m, 2, "198.51.100.42:41878");     /* server-reflexive */
	add(&m, 1, "[2001:db8::60]:41878");    /* global IPv6 */
	add(&m, 1, "192.168.10.11:41878");     /* on our link */
	add(&m, 2, "198.51.100.42:41878");     /* the same again */
	m.peer_info.peer_flags = DS_CTL_PEER_PATH;
	ds_addr_parse("198.51.100.42:41878", 0, 0, &m.peer_info.path); /* the agent's path */
	ds_addr_parse("192.168.10.10", 0, 0, &nets[0].addr);
	nets[0].plen = 24;
	ds_addr_parse("2001:db8:10::10", 0, 0, &nets[1].addr);
	nets[1].plen = 64;

	n = ds_race_plan(&m, true, true, nets, 2, c);
	CHECK_INT(n, 5);
	CHECK_STR(c[0].label, "lan");
	CHECK_STR(ds_addr_format(&c[0].addr, true, a, sizeof(a)), "192.168.10.11:41878");
	CHECK_STR(c[1].label, "v6");
	CHECK_STR(c[2].label, "direct");
	CHECK_STR(ds_addr_format(&c[2].addr, true, a, sizeof(a)), "198.51.100.42:41878");
	CHECK_STR(c[3].label, "direct");
	CHECK_STR(ds_addr_format(&c[3].addr, true, a, sizeof(a)), "192.168.2.10:41878");
	CHECK_STR(c[4].label, "relay");
	/* a side without IPv6 never races it */
	n = ds_race_plan(&m, true, false, nets, 2, c);
	CHECK_INT(n, 4);
	for (size_t i = 0; i < n; i++)
		CHECK(ds_addr_family(&c[i].addr) == AF_INET);
	/* nor one without IPv4 an IPv4 address */
	n = ds_race_plan(&m, false, true, nets, 2, c);
	CHECK_INT(n, 1);
	CHECK_STR(c[0].label, "v6");
}

int main(void)
{
	UNIT_RUN(plan_orders_lan_v6_public_private_relay);
	UNIT_EXIT();
}
