// SPDX-License-Identifier: MIT
#define UNIT_NAME "test_udp"
#include "unit.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "clock.h"
#include "udp.h"

static int have_v6(void)
{
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int ok;

	if (fd < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static void wait_readable(int fd, int events)
{
	struct pollfd p = {.fd = fd, .events = (short)events};

	poll(&p, 1, 1000);
}

static void both_families_share_one_port_with_port_zero(void)
{
	struct ds_udp_config cfg = {.tos = -1, .family_optional = true};
	struct ds_udp *u;

	CHECK_INT(ds_udp_open(&cfg, &u), 0);
	CHECK(ds_udp_port(u) != 0);
	CHECK(ds_udp_fd(u, AF_INET) >= 0);
	if (have_v6())
		CHECK(ds_udp_fd(u, AF_INET6) >= 0);
	CHECK_INT(ds_udp_fd(u, AF_UNIX), -1);
	ds_udp_free(u);
}

static void second_open_of_a_bound_port_fails_instead_of_sharing_it(void)
{
	struct ds_udp_config cfg = {.tos = -1, .families = DS_UDP_IPV4};
	struct ds_udp *u, *u2 = NULL;

	CHECK_INT(ds_udp_open(&cfg, &u), 0);
	cfg.port = ds_udp_port(u);
	CHECK_INT(ds_udp_open(&cfg, &u2), -EADDRINUSE);
	ds_udp_free(u);
	ds_udp_free(u2);
}

static void receive_gives_kernel_stamp_source_and_local_address(void)
{
	struct ds_udp_config cfg = {.tos = -1, .families = DS_UDP_IPV4};
	struct ds_udp *u;
	uint8_t buf[2][64];
	struct ds_udp_msg m[2] = {{.buf = buf[0], .cap = 64}, {.buf = buf[1], .cap = 8}};
	struct ds_addr to, client_addr;
	int c, fd;
	char s[DS_ADDR_STRLEN];
	int64_t before;
	socklen_t alen = sizeof(client_addr.ss);

	CHECK_INT(ds_udp_open(&cfg, &u), 0);
	fd = ds_udp_fd(u, AF_INET);
	ds_addr_parse("127.0.0.1", ds_udp_port(u), 0, &to);
	c = socket(AF_INET, SOCK_DGRAM, 0);
	before = ds_clock_ns();
	CHECK_INT(sendto(c, "hello", 5, 0, &to.sa, to.len), 5);
	CHECK_INT(sendto(c, "a longer datagram", 17, 0, &to.sa, to.len), 17);
	getsockname(c, &client_addr.sa, &alen);
	client_addr.len = alen;
	wait_readable(fd, POLLIN);
	usleep(10000);
	CHECK_INT(ds_udp_recv(u, fd, m, 2), 2);
	CHECK_INT(m[0].len, 5);
	CHECK(memcmp(buf[0], "hello", 5) == 0);
	CHECK(!m[0].truncated);
	CHECK(m[1].truncated); /* 17 bytes into 8 */
	CHECK(ds_udp_caps(u) & (DS_UDP_CAP_RX_KERNEL_TS | DS_UDP_CAP_RX_TSNS));
	CHECK(m[0].rx_kernel);
	/* The kernel stamp, converted to the monotonic clock, lies between send and now. */
	CHECK(m[0].rx_ns >= before - 1000000 && m[0].rx_ns <= ds_clock_ns());
	CHECK_INT(ds_addr_port(&m[0].peer), ds_addr_port(&client_addr));
	ds_addr_format(&m[0].local, false, s, sizeof(s));
	CHECK_STR(s, "127.0.0.1");
	CHECK_INT(ds_addr_port(&m[0].local), ds_udp_port(u));
	CHECK(m[0].ifindex > 0);
	CHECK_INT(ds_udp_recv(u, fd, m, 2), 0); /* nothing more: no blocking */
	close(c);
	ds_udp_free(u);
}

static void reply_leaves_from_the_address_the_request_came_to(void)
{
	struct ds_udp_config cfg = {.tos = -1, .families = DS_UDP_IPV4};
	struct ds_udp *u;
	uint8_t buf[64];
	struct ds_udp_msg m = {.buf = buf, .cap = sizeof(buf)};
	struct ds_addr to, from;
	socklen_t alen = sizeof(from.ss);
	char rbuf[16];
	int c, fd;

	/* The agent is bound to 0.0.0.0; the request goes to 127.0.0.2, the reply must come
	 * from 127.0.0.2 and not from 127.0.0.1 (the kernel's choice). */
	CHECK_INT(ds_udp_open(&cfg, &u), 0);
	fd = ds_udp_fd(u, AF_INET);
	ds_addr_parse("127.0.0.2", ds_udp_port(u), 0, &to);
	c = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK_INT(sendto(c, "ping", 4, 0, &to.sa, to.len), 4);
	wait_readable(fd, POLLIN);
	CHECK_INT(ds_udp_recv(u, fd, &m, 1), 1);
	memcpy(buf, "pong", 4);
	m.len = 4;
	m.tos = 0xb8; /* EF */
	CHECK_INT(ds_udp_send(fd, &m, 1, 0), 1);
	wait_readable(c, POLLIN);
	CHECK_INT(recvfrom(c, rbuf, sizeof(rbuf), MSG_DONTWAIT, &from.sa, &alen), 4);
	from.len = alen;
	CHECK(ds_addr_equal(&from, &to));
	close(c);
	ds_udp_free(u);
}

static void transmit_stamp_comes_back_with_the_payload(void)
{
	struct ds_udp_config cfg = {.tos = -1, .families = DS_UDP_IPV4};
	struct ds_udp *u;
	uint8_t pkt[100];
	struct ds_udp_msg m = {.buf = pkt, .len = sizeof(pkt), .tos = -1};
	struct ds_udp_txstamp ts[4];
	int c, fd, n;
	struct ds_addr dst;
	socklen_t alen = sizeof(dst.ss);
	int64_t before = ds_clock_ns();

	CHECK_INT(ds_udp_open(&cfg, &u), 0);
	if (!(ds_udp_caps(u) & DS_UDP_CAP_TX_KERNEL_TS)) {
		ds_udp_free(u);
		return;
	}
	fd = ds_udp_fd(u, AF_INET);
	c = socket(AF_INET, SOCK_DGRAM, 0);
	ds_addr_parse("127.0.0.1:0", 0, 0, &dst);
	bind(c, &dst.sa, dst.len);
	getsockname(c, &dst.sa, &alen);
	dst.len = alen;
	memset(pkt, 0xab, sizeof(pkt));
	pkt[0] = 4;
	m.peer = dst;
	CHECK_INT(ds_udp_send(fd, &m, 1, DS_UDP_SEND_TX_STAMP), 1);
	wait_readable(fd, POLLERR);
	n = ds_udp_read_txstamps(fd, ts, 4);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK(ts[0].tx_ns >= before - 1000000 && ts[0].tx_ns <= ds_clock_ns());
		CHECK_INT(ts[0].payload_len, sizeof(pkt));
		CHECK_INT(ts[0].head[0], 4);
		CHECK_INT(ts[0].head[1], 0xab);
	}
	/* Without the flag no stamp is queued. */
	CHECK_INT(ds_udp_send(fd, &m, 1, 0), 1);
	usleep(10000);
	CHECK_INT(ds_udp_read_txstamps(fd, ts, 4), 0);
	close(c);
	ds_udp_free(u);
}

static void ipv6_receive_gives_local_address(void)
{
	struct ds_udp_config cfg = {.tos = -1, .families = DS_UDP_IPV6};
	struct ds_udp *u;
	uint8_t buf[64];
	struct ds_udp_msg m = {.buf = buf, .cap = sizeof(buf)};
	struct ds_addr to;
	char s[DS_ADDR_STRLEN];
	int c, fd;

	if (!have_v6())
		return;
	CHECK_INT(ds_udp_open(&cfg, &u), 0);
	fd = ds_udp_fd(u, AF_INET6);
	ds_addr_parse("::1", ds_udp_port(u), 0, &to);
	c = socket(AF_INET6, SOCK_DGRAM, 0);
	CHECK_INT(sendto(c, "six", 3, 0, &to.sa, to.len), 3);
	wait_readable(fd, POLLIN);
	CHECK_INT(ds_udp_recv(u, fd, &m, 1), 1);
	CHECK_STR(ds_addr_format(&m.local, false, s, sizeof(s)), "::1");
	CHECK(m.rx_kernel);
	/* The IPv6 socket is v6-only: IPv4 does not reach it. */
	CHECK_INT(ds_udp_fd(u, AF_INET), -1);
	close(c);
	ds_udp_free(u);
}

static void local_addrs_skip_loopback(void)
{
	struct ds_addr a[16];
	int n = ds_udp_local_addrs(AF_INET, 41878, a, 16);

	CHECK(n >= 0);
	for (int i = 0; i < n; i++) {
		CHECK(!ds_addr_is_loopback(&a[i]));
		CHECK_INT(ds_addr_port(&a[i]), 41878);
	}
}

static void on_link_matches_prefixes_of_both_families(void)
{
	struct ds_udp_net nets[3];
	struct ds_addr a;
	int n;

	ds_addr_parse("192.168.10.5", 0, 0, &nets[0].addr);
	nets[0].plen = 24;
	ds_addr_parse("2001:db8:10::5", 0, 0, &nets[1].addr);
	nets[1].plen = 64;
	ds_addr_parse("10.1.2.3", 0, 0, &nets[2].addr);
	nets[2].plen = 13; /* 10.0.0.0 - 10.7.255.255 */
	ds_addr_parse("192.168.10.200:41878", 0, 0, &a);
	CHECK(ds_udp_on_link(nets, 3, &a));
	ds_addr_parse("192.168.11.1:41878", 0, 0, &a);
	CHECK(!ds_udp_on_link(nets, 3, &a));
	ds_addr_parse("[2001:db8:10::77]:1", 0, 0, &a);
	CHECK(ds_udp_on_link(nets, 3, &a));
	ds_addr_parse("[2001:db8:11::77]:1", 0, 0, &a);
	CHECK(!ds_udp_on_link(nets, 3, &a));
	ds_addr_parse("10.7.255.1:1", 0, 0, &a);
	CHECK(ds_udp_on_link(nets, 3, &a));
	ds_addr_parse("10.8.0.1:1", 0, 0, &a);
	CHECK(!ds_udp_on_link(nets, 3, &a));
	CHECK(!ds_udp_on_link(nets, 0, &a));
	/* this host's own subnets: every address found is on its own link */
	n = ds_udp_local_nets(nets, 3);
	CHECK(n >= 0);
	for (int i = 0; i < n; i++)
		CHECK(ds_udp_on_link(nets, (size_t)n, &nets[i].addr));
}

int main(void)
{
	UNIT_RUN(both_families_share_one_port_with_port_zero);
	UNIT_RUN(second_open_of_a_bound_port_fails_instead_of_sharing_it);
	UNIT_RUN(receive_gives_kernel_stamp_source_and_local_address);
	UNIT_RUN(reply_leaves_from_the_address_the_request_came_to);
	UNIT_RUN(transmit_stamp_comes_back_with_the_payload);
	UNIT_RUN(ipv6_receive_gives_local_address);
	UNIT_RUN(local_addrs_skip_loopback);
	UNIT_RUN(on_link_matches_prefixes_of_both_families);
	UNIT_EXIT();
}
