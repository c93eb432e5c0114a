// SPDX-License-Identifier: MIT
/*
 * sock_diag reader. A dump reply and a destroy notification have the same layout:
 *
 *   struct nlmsghdr        nlmsg_len covers everything below, type SOCK_DIAG_BY_FAMILY
 *   struct inet_diag_msg   family, state, sockid (ports, addresses, if, cookie), uid, inode
 *   struct rtattr ...      INET_DIAG_INFO -> struct tcp_info (shorter on older kernels,
 *                          longer on newer ones: copy what both sides know)
 *
 * Everything the kernel sends is checked for length before it is read; the buffer may be
 * unaligned (the fuzzer), so fixed structs are copied out with memcpy.
 */
#include "sockdiag.h"

#include <errno.h>
#include <fcntl.h>
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

#define RECV_BUF_SIZE (64 * 1024)

struct ds_sockdiag {
	int fd;         /* dumps */
	int destroy_fd; /* destroy notifications, -1 until opened */
	uint32_t seq;
	unsigned char *buf;
};

static void sockid_addr(struct ds_addr *a, int family, const uint32_t *words, uint16_t port_be)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		a->sin.sin_family = AF_INET;
		a->sin.sin_port = port_be;
		memcpy(&a->sin.sin_addr, words, 4);
		a->len = sizeof(a->sin);
	} else {
		a->sin6.sin6_family = AF_INET6;
		a->sin6.sin6_port = port_be;
		memcpy(&a->sin6.sin6_addr, words, 16);
		a->len = sizeof(a->sin6);
	}
}

static void take_info(struct ds_tcp_session *s, const unsigned char *p, size_t n)
{
	struct tcp_info ti;

	memset(&ti, 0, sizeof(ti));
	memcpy(&ti, p, n < sizeof(ti) ? n : sizeof(ti));
	s->has_info = true;
	s->rtt_us = ti.tcpi_rtt;
	s->rttvar_us = ti.tcpi_rttvar;
	s->min_rtt_us = ti.tcpi_min_rtt;
	s->total_retrans = ti.tcpi_total_retrans;
	s->segs_out = ti.tcpi_segs_out;
	s->segs_in = ti.tcpi_segs_in;
	s->data_segs_out = ti.tcpi_data_segs_out;
	s->bytes_acked = ti.tcpi_bytes_acked;
	s->bytes_received = ti.tcpi_bytes_received;
	s->bytes_sent = ti.tcpi_bytes_sent;
	s->bytes_retrans = ti.tcpi_bytes_retrans;
	s->busy_time_us = ti.tcpi_busy_time;
	s->last_data_sent_ms = ti.tcpi_last_data_sent;
	s->last_data_recv_ms = ti.tcpi_last_data_recv;
	s->last_ack_recv_ms = ti.tcpi_last_ack_recv;
	s->snd_cwnd = ti.tcpi_snd_cwnd;
}

/* One SOCK_DIAG_BY_FAMILY payload. 1 = a TCP socket in *s, 0 = not one of ours, -EBADMSG. */
static int parse_diag_msg(const unsigned char *p, size_t len, struct ds_tcp_session *s)
{
	struct inet_diag_msg m;
	size_t off;

	if (len < sizeof(m))
		return -EBADMSG;
	memcpy(&m, p, sizeof(m));
	if (m.idiag_family != AF_INET && m.idiag_family != AF_INET6)
		return 0;
	memset(s, 0, sizeof(*s));
	sockid_addr(&s->local, m.idiag_family, m.id.idiag_src, m.id.idiag_sport);
	sockid_addr(&s->remote, m.idiag_family, m.id.idiag_dst, m.id.idiag_dport);
	/* A dual-stack socket talking IPv4 shows ::ffff:a.b.c.d at both ends: print IPv4.
	 * Both or neither, so the two ends always have the same family. */
	if (m.idiag_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s->local.sin6.sin6_addr) &&
	    IN6_IS_ADDR_V4MAPPED(&s->remote.sin6.sin6_addr)) {
		ds_addr_unmap_v4(&s->local);
		ds_addr_unmap_v4(&s->remote);
	}
	s->cookie = (uint64_t)m.id.idiag_cookie[0] | (uint64_t)m.id.idiag_cookie[1] << 32;
	s->inode = m.idiag_inode;
	s->uid = m.idiag_uid;
	s->state = m.idiag_state;

	off = NLMSG_ALIGN(sizeof(m));
	while (off + sizeof(struct rtattr) <= len) {
		struct rtattr rta;

		memcpy(&rta, p + off, sizeof(rta));
		if (rta.rta_len < sizeof(rta) || rta.rta_len > len - off)
			return -EBADMSG;
		if ((rta.rta_type & NLA_TYPE_MASK) == INET_DIAG_INFO)
			take_info(s, p + off + RTA_LENGTH(0), rta.rta_len - RTA_LENGTH(0));
		off += RTA_ALIGN(rta.rta_len);
	}
	return 1;
}

int ds_sockdiag_parse(const void *buf, size_t len, ds_sockdiag_cb cb, void *arg, bool *done)
{
	const unsigned char *p = buf;
	size_t off = 0;
	int count = 0;

	if (done)
		*done = false;
	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		size_t payload;

		memcpy(&h, p + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
			return -EBADMSG;
		payload = h.nlmsg_len - NLMSG_HDRLEN;
		if (h.nlmsg_type == NLMSG_DONE) {
			if (done)
				*done = true;
			return count;
		}
		if (h.nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr e;

			if (payload < sizeof(e.error))
				return -EBADMSG;
			memcpy(&e.error, p + off + NLMSG_HDRLEN, sizeof(e.error));
			if (e.error > 0 || e.error < -4095)
				return -EBADMSG;
			if (e.error < 0)
				return e.error;
		} else if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
			struct ds_tcp_session s;
			int r = parse_diag_msg(p + off + NLMSG_HDRLEN, payload, &s);

			if (r < 0)
				return r;
			if (r > 0) {
				count++;
				if (cb) {
					int stop = cb(&s, arg);

					if (stop < 0)
						return stop;
				}
			}
		}
		/* The last message of a datagram need not be padded. */
		if (NLMSG_ALIGN(h.nlmsg_len) >= len - off)
			return count;
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	return off == len ? count : -EBADMSG;
}

int ds_sockdiag_new(struct ds_sockdiag **out)
{
	struct ds_sockdiag *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->destroy_fd = -1;
	d->buf = malloc(RECV_BUF_SIZE);
	d->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (!d->buf || d->fd < 0) {
		err = d->buf ? -errno : -ENOMEM;
		ds_sockdiag_free(d);
		return err;
	}
	*out = d;
	return 0;
}

void ds_sockdiag_free(struct ds_sockdiag *d)
{
	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	if (d->destroy_fd >= 0)
		close(d->destroy_fd);
	free(d->buf);
	free(d);
}

int ds_sockdiag_dump(struct ds_sockdiag *d, int family, uint32_t states, ds_sockdiag_cb cb,
		     void *arg)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	int total = 0;
	bool done = false;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = ++d->seq;
	req.r.sdiag_family = (uint8_t)family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_ext = 1u << (INET_DIAG_INFO - 1);
	req.r.idiag_states = states;
	if (sendto(d->fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;

	while (!done) {
		ssize_t n = recv(d->fd, d->buf, RECV_BUF_SIZE, MSG_TRUNC);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		if (n > RECV_BUF_SIZE)
			return -EMSGSIZE;
		r = ds_sockdiag_parse(d->buf, (size_t)n, cb, arg, &done);
		if (r < 0)
			return r;
		total += r;
	}
	return total;
}

int ds_sockdiag_destroy_open(struct ds_sockdiag *d)
{
	static const int groups[] = {SKNLGRP_INET_TCP_DESTROY, SKNLGRP_INET6_TCP_DESTROY};
	int fd, size = 4 << 20;
	size_t i;

	if (d->destroy_fd >= 0)
		return d->destroy_fd;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	/*
	 * Bind first: an unbound netlink socket has port id 0, and a multicast sent by the
	 * kernel (port 0) skips the socket with the sender's port id.
	 */
	{
		struct sockaddr_nl local = {.nl_family = AF_NETLINK};

		if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
	}
	/* Bursts of closes (a browser tab, a test) must not overrun the queue. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i],
			       sizeof(groups[i])) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
	}
	d->destroy_fd = fd;
	return fd;
}

int ds_sockdiag_destroy_read(struct ds_sockdiag *d, ds_sockdiag_cb cb, void *arg, unsigned *lost)
{
	int total = 0;

	if (d->destroy_fd < 0)
		return -EBADF;
	for (;;) {
		ssize_t n = recv(d->destroy_fd, d->buf, RECV_BUF_SIZE, MSG_TRUNC);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				if (lost)
					(*lost)++;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return total;
			return -errno;
		}
		if (n > RECV_BUF_SIZE)
			continue; /* cannot be one of ours: a destroy message is small */
		r = ds_sockdiag_parse(d->buf, (size_t)n, cb, arg, NULL);
		if (r < 0)
			return r;
		total += r;
	}
}
