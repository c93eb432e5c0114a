// SPDX-License-Identifier: MIT
#define UNIT_NAME "sockdiag"
#include "unit.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "procmap.h"
#include "sockdiag.h"

/* ---- building kernel messages by hand ---- */

struct msgbuf {
	unsigned char b[4096];
	size_t len;
};

/* One SOCK_DIAG_BY_FAMILY message; info_len bytes of tcp_info (0 = no INET_DIAG_INFO). */
static void add_diag(struct msgbuf *m, int family, const char *src, uint16_t sport, const char *dst,
		     uint16_t dport, uint64_t cookie, uint32_t inode, const struct tcp_info *ti,
		     size_t info_len)
{
	struct nlmsghdr h = {0};
	struct inet_diag_msg d;
	struct rtattr rta;
	size_t start = m->len, off;

	memset(&d, 0, sizeof(d));
	d.idiag_family = (uint8_t)family;
	d.idiag_state = 1; /* TCP_ESTABLISHED */
	d.id.idiag_sport = htons(sport);
	d.id.idiag_dport = htons(dport);
	inet_pton(family, src, d.id.idiag_src);
	inet_pton(family, dst, d.id.idiag_dst);
	d.id.idiag_cookie[0] = (uint32_t)cookie;
	d.id.idiag_cookie[1] = (uint32_t)(cookie >> 32);
	d.idiag_inode = inode;
	d.idiag_uid = 1000;
	off = start + NLMSG_HDRLEN;
	memcpy(m->b + off, &d, sizeof(d));
	off += NLMSG_ALIGN(sizeof(d));
	if (info_len) {
		rta.rta_type = INET_DIAG_INFO;
		rta.rta_len = (unsigned short)RTA_LENGTH(info_len);
		memcpy(m->b + off, &rta, sizeof(rta));
		memcpy(m->b + off + RTA_LENGTH(0), ti, info_len);
		off += RTA_ALIGN(rta.rta_len);
	}
	h.nlmsg_len = (uint32_t)(off - start);
	h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	h.nlmsg_flags = NLM_F_MULTI;
	memcpy(m->b + start, &h, sizeof(h));
	m->len = off;
}

static void add_done(struct msgbuf *m)
{
	struct nlmsghdr h = {.nlmsg_len = NLMSG_HDRLEN + 4, .nlmsg_type = NLMSG_DONE};

	memcpy(m->b + m->len, &h, sizeof(h));
	memset(m->b + m->len + NLMSG_HDRLEN, 0, 4);
	m->len += NLMSG_HDRLEN + 4;
}

struct seen {
	struct ds_tcp_session s[8];
	int n;
};

static int remember(const struct ds_tcp_session *s, void *arg)
{
	struct seen *v = arg;

	if (v->n < 8)
		v->s[v->n++] = *s;
	return 0;
}

static struct tcp_info sample_info(void)
{
	struct tcp_info ti;

	memset(&ti, 0, sizeof(ti));
	ti.tcpi_rtt = 38123;
	ti.tcpi_rttvar = 1500;
	ti.tcpi_total_retrans = 7;
	ti.tcpi_segs_out = 1400;
	ti.tcpi_bytes_acked = 1234567;
	ti.tcpi_bytes_received = 7654321;
	ti.tcpi_busy_time = 2500000;
	ti.tcpi_last_data_recv = 1200;
	return ti;
}

static void parses_ipv4_and_ipv6_with_tcp_info(void)
{
	struct msgbuf m = {.len = 0};
	struct tcp_info ti = sample_info();
	struct seen v = {.n = 0};
	char buf[DS_ADDR_STRLEN];
	bool done = false;

	add_diag(&m, AF_INET, "198.51.100.7", 40000, "203.0.113.9", 443, 0x100000002ULL, 555, &ti,
		 sizeof(ti));
	add_diag(&m, AF_INET6, "2001:db8::1", 40001, "2001:db8::2", 22, 9, 556, &ti, sizeof(ti));
	add_done(&m);
	CHECK_INT(ds_sockdiag_parse(m.b, m.len, remember, &v, &done), 2);
	CHECK(done);
	CHECK_INT(v.n, 2);
	CHECK_STR(ds_addr_format(&v.s[0].local, true, buf, sizeof(buf)), "198.51.100.7:40000");
	CHECK_STR(ds_addr_format(&v.s[0].remote, true, buf, sizeof(buf)), "203.0.113.9:443");
	CHECK(v.s[0].cookie == 0x100000002ULL);
	CHECK_INT(v.s[0].inode, 555);
	CHECK_INT(v.s[0].uid, 1000);
	CHECK(v.s[0].has_info);
	CHECK_INT(v.s[0].rtt_us, 38123);
	CHECK_INT(v.s[0].total_retrans, 7);
	CHECK_INT(v.s[0].segs_out, 1400);
	CHECK(v.s[0].bytes_acked == 1234567 && v.s[0].bytes_received == 7654321);
	CHECK(v.s[0].busy_time_us == 2500000);
	CHECK_STR(ds_addr_format(&v.s[1].remote, true, buf, sizeof(buf)), "[2001:db8::2]:22");
}

static void v4_mapped_addresses_become_ipv4(void)
{
	struct msgbuf m = {.len = 0};
	struct tcp_info ti = sample_info();
	struct seen v = {.n = 0};
	char buf[DS_ADDR_STRLEN];

	add_diag(&m, AF_INET6, "::ffff:198.51.100.7", 8080, "::ffff:203.0.113.5", 5555, 1, 1, &ti,
		 sizeof(ti));
	CHECK_INT(ds_sockdiag_parse(m.b, m.len, remember, &v, NULL), 1);
	CHECK_STR(ds_addr_format(&v.s[0].remote, true, buf, sizeof(buf)), "203.0.113.5:5555");
}

static void older_kernels_shorter_tcp_info(void)
{
	struct msgbuf m = {.len = 0};
	struct tcp_info ti = sample_info();
	struct seen v = {.n = 0};
	/* Up to tcpi_total_retrans only (the 3.x layout): later fields read as zero. */
	size_t short_len = offsetof(struct tcp_info, tcpi_total_retrans) + 4;

	add_diag(&m, AF_INET, "198.51.100.7", 1, "203.0.113.9", 2, 3, 4, &ti, short_len);
	CHECK_INT(ds_sockdiag_parse(m.b, m.len, remember, &v, NULL), 1);
	CHECK_INT(v.s[0].rtt_us, 38123);
	CHECK_INT(v.s[0].total_retrans, 7);
	CHECK_INT(v.s[0].segs_out, 0);
	CHECK(v.s[0].bytes_acked == 0);
}

static void socket_without_info(void)
{
	struct msgbuf m = {.len = 0};
	struct seen v = {.n = 0};

	add_diag(&m, AF_INET, "198.51.100.7", 1, "203.0.113.9", 2, 3, 4, NULL, 0);
	CHECK_INT(ds_sockdiag_parse(m.b, m.len, remember, &v, NULL), 1);
	CHECK(!v.s[0].has_info);
}

static void every_length_is_checked(void)
{
	struct msgbuf m = {.len = 0};
	struct tcp_info ti = sample_info();
	struct nlmsghdr h;
	size_t cut;

	add_diag(&m, AF_INET, "198.51.100.7", 1, "203.0.113.9", 2, 3, 4, &ti, sizeof(ti));
	/* Every truncation of the datagram is refused or parsed as far as it goes, never read
	 * past: under ASan this would trip. */
	for (cut = 1; cut < m.len; cut++) {
		unsigned char *copy = malloc(cut);
		int r;

		memcpy(copy, m.b, cut);
		r = ds_sockdiag_parse(copy, cut, NULL, NULL, NULL);
		CHECK(r == -EBADMSG || r == 0);
		free(copy);
	}
	/* nlmsg_len larger than the datagram */
	memcpy(&h, m.b, sizeof(h));
	h.nlmsg_len += 4;
	memcpy(m.b, &h, sizeof(h));
	CHECK_INT(ds_sockdiag_parse(m.b, m.len, NULL, NULL, NULL), -EBADMSG);
	/* nlmsg_len smaller than a header */
	h.nlmsg_len = 8;
	memcpy(m.b, &h, sizeof(h));
	CHECK_INT(ds_sockdiag_parse(m.b, m.len, NULL, NULL, NULL), -EBADMSG);
}

static void attribute_running_past_its_message(void)
{
	struct msgbuf m = {.len = 0};
	struct tcp_info ti = sample_info();
	struct rtattr rta;
	size_t at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct inet_diag_msg));

	add_diag(&m, AF_INET, "198.51.100.7", 1, "203.0.113.9", 2, 3, 4, &ti, sizeof(ti));
	memcpy(&rta, m.b + at, sizeof(rta));
	rta.rta_len = (unsigned short)(rta.rta_len + 64);
	memcpy(m.b + at, &rta, sizeof(rta));
	CHECK_INT(ds_sockdiag_parse(m.b, m.len, NULL, NULL, NULL), -EBADMSG);
	rta.rta_len = 2; /* shorter than its own header */
	memcpy(m.b + at, &rta, sizeof(rta));
	CHECK_INT(ds_sockdiag_parse(m.b, m.len, NULL, NULL, NULL), -EBADMSG);
}

static void kernel_error_is_returned(void)
{
	unsigned char b[NLMSG_HDRLEN + sizeof(struct nlmsgerr)];
	struct nlmsghdr h = {.nlmsg_len = sizeof(b), .nlmsg_type = NLMSG_ERROR};
	int err = -EPERM;

	memset(b, 0, sizeof(b));
	memcpy(b, &h, sizeof(h));
	memcpy(b + NLMSG_HDRLEN, &err, sizeof(err));
	CHECK_INT(ds_sockdiag_parse(b, sizeof(b), NULL, NULL, NULL), -EPERM);
	err = 5; /* not an errno the kernel sends */
	memcpy(b + NLMSG_HDRLEN, &err, sizeof(err));
	CHECK_INT(ds_sockdiag_parse(b, sizeof(b), NULL, NULL, NULL), -EBADMSG);
}

static void unknown_families_and_types_are_skipped(void)
{
	struct msgbuf m = {.len = 0};
	struct tcp_info ti = sample_info();
	struct seen v = {.n = 0};
	struct nlmsghdr h;

	add_diag(&m, AF_INET, "198.51.100.7", 1, "203.0.113.9", 2, 3, 4, &ti, sizeof(ti));
	m.b[NLMSG_HDRLEN] = AF_UNIX; /* idiag_family */
	add_diag(&m, AF_INET, "198.51.100.7", 5, "203.0.113.9", 6, 7, 8, &ti, sizeof(ti));
	memcpy(&h, m.b, sizeof(h));
	CHECK_INT(ds_sockdiag_parse(m.b, m.len, remember, &v, NULL), 1);
	CHECK_INT(v.s[0].cookie, 7);
	h.nlmsg_type = NLMSG_NOOP;
	memcpy(m.b, &h, sizeof(h));
	v.n = 0;
	CHECK_INT(ds_sockdiag_parse(m.b, m.len, remember, &v, NULL), 1);
}

static int stop_at_first(const struct ds_tcp_session *s, void *arg)
{
	(*(int *)arg)++;
	return -ECANCELED;
}

static void callback_can_stop_the_walk(void)
{
	struct msgbuf m = {.len = 0};
	struct tcp_info ti = sample_info();
	int calls = 0;

	add_diag(&m, AF_INET, "198.51.100.7", 1, "203.0.113.9", 2, 3, 4, &ti, sizeof(ti));
	add_diag(&m, AF_INET, "198.51.100.7", 5, "203.0.113.9", 6, 7, 8, &ti, sizeof(ti));
	CHECK_INT(ds_sockdiag_parse(m.b, m.len, stop_at_first, &calls, NULL), -ECANCELED);
	CHECK_INT(calls, 1);
}

/* ---- against the running kernel ---- */

struct find {
	uint64_t cookie;
	uint16_t port;
	struct ds_tcp_session got;
	int found;
};

static int find_port(const struct ds_tcp_session *s, void *arg)
{
	struct find *f = arg;

	if (ds_addr_port(&s->local) == f->port || (f->cookie && s->cookie == f->cookie)) {
		f->got = *s;
		f->found++;
	}
	return 0;
}

static int connected_pair(int *client, int *server, uint16_t *cport)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*client = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*client, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	*server = accept(l, NULL, NULL);
	close(l);
	len = sizeof(a);
	getsockname(*client, (struct sockaddr *)&a, &len);
	*cport = ntohs(a.sin_port);
	return *server >= 0 ? 0 : -1;
}

static void dump_finds_a_live_socket_with_its_inode_and_cookie(void)
{
	struct ds_sockdiag *d;
	struct ds_procmap *pm;
	struct ds_procinfo pi;
	struct find f = {0};
	struct stat st;
	int c, s;
	uint64_t cookie = 0;
	socklen_t cl = sizeof(cookie);
	uint32_t inode;

	CHECK_INT(ds_sockdiag_new(&d), 0);
	CHECK_INT(connected_pair(&c, &s, &f.port), 0);
	CHECK(write(c, "hello", 5) == 5);
	CHECK(ds_sockdiag_dump(d, AF_INET, DS_SOCKDIAG_STATES_CONNECTED, find_port, &f) > 0);
	CHECK_INT(f.found, 1);
	fstat(c, &st);
	CHECK_INT(f.got.inode, st.st_ino);
	if (getsockopt(c, SOL_SOCKET, SO_COOKIE, &cookie, &cl) == 0)
		CHECK(f.got.cookie == cookie);
	CHECK(f.got.has_info);
	CHECK(f.got.segs_out >= 2);

	/* And the owner of that inode is this very process. */
	CHECK_INT(ds_procmap_new("/proc", &pm), 0);
	inode = f.got.inode;
	CHECK_INT(ds_procmap_lookup(pm, inode, &pi), -ENOENT);
	CHECK_INT(ds_procmap_resolve(pm, &inode, 1), 1);
	CHECK_INT(ds_procmap_lookup(pm, inode, &pi), 0);
	CHECK_INT(pi.pid, getpid());
	CHECK_STR(pi.comm, "test_sockdiag");
	/* Cached: no second walk for a known inode. */
	CHECK_INT(ds_procmap_resolve(pm, &inode, 1), 0);
	CHECK_INT(ds_procmap_walks(pm), 1);
	ds_procmap_expire(pm, NULL, 0);
	CHECK_INT(ds_procmap_size(pm), 0);
	ds_procmap_free(pm);
	close(c);
	close(s);
	ds_sockdiag_free(d);
}

static void destroy_group_reports_final_counters(void)
{
	struct ds_sockdiag *d;
	struct find f = {0};
	struct pollfd p;
	socklen_t cl = sizeof(f.cookie);
	int c, s, fd, i;
	uint16_t port;

	CHECK_INT(ds_sockdiag_new(&d), 0);
	fd = ds_sockdiag_destroy_open(d);
	if (fd == -EPERM) {
		printf("SKIP: sockdiag/destroy_group_reports_final_counters "
		       "(this kernel restricts the destroy groups)\n");
		ds_sockdiag_free(d);
		return;
	}
	CHECK(fd >= 0);
	CHECK_INT(connected_pair(&c, &s, &port), 0);
	CHECK(getsockopt(c, SOL_SOCKET, SO_COOKIE, &f.cookie, &cl) == 0);
	CHECK(write(c, "0123456789", 10) == 10);
	usleep(20000);
	/* An orderly close: the client's full socket is destroyed when it enters TIME_WAIT. */
	close(c);
	close(s);
	p.fd = fd;
	p.events = POLLIN;
	for (i = 0; i < 20 && !f.found; i++) {
		if (poll(&p, 1, 100) > 0)
			CHECK(ds_sockdiag_destroy_read(d, find_port, &f, NULL) >= 0);
	}
	f.port = 0;
	CHECK(f.found >= 1);
	CHECK(f.got.cookie == f.cookie);
	CHECK(f.got.has_info);
	CHECK(f.got.bytes_acked >= 10);
	ds_sockdiag_free(d);
}

int main(void)
{
	UNIT_RUN(parses_ipv4_and_ipv6_with_tcp_info);
	UNIT_RUN(v4_mapped_addresses_become_ipv4);
	UNIT_RUN(older_kernels_shorter_tcp_info);
	UNIT_RUN(socket_without_info);
	UNIT_RUN(every_length_is_checked);
	UNIT_RUN(attribute_running_past_its_message);
	UNIT_RUN(kernel_error_is_returned);
	UNIT_RUN(unknown_families_and_types_are_skipped);
	UNIT_RUN(callback_can_stop_the_walk);
	UNIT_RUN(dump_finds_a_live_socket_with_its_inode_and_cookie);
	UNIT_RUN(destroy_group_reports_final_counters);
	UNIT_EXIT();
}
