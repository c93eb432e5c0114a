// SPDX-License-Identifier: MIT
/* The warm UDP sockets: options, batched receive with ancillary data, batched send. */
#include "udp.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <sys/socket.h>

#include "clock.h"

#define CMSG_ROOM 256

struct ds_udp {
	int fd4, fd6;
	uint16_t port;
	unsigned caps;
	/* Scratch for recvmmsg: per-datagram headers, iovecs and control buffers. */
	struct mmsghdr hdr[DS_UDP_BATCH];
	struct iovec iov[DS_UDP_BATCH];
	struct sockaddr_storage from[DS_UDP_BATCH];
	uint8_t ctrl[DS_UDP_BATCH][CMSG_ROOM];
};

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

int ds_udp_set_tos(int fd, int family, int tos)
{
	if (family == AF_INET6)
		return set_int(fd, IPPROTO_IPV6, IPV6_TCLASS, tos);
	return set_int(fd, IPPROTO_IP, IP_TOS, tos);
}

static int open_one(const struct ds_udp_config *cfg, int family, uint16_t port, unsigned *caps)
{
	const struct ds_addr *want = family == AF_INET ? cfg->bind4 : cfg->bind6;
	struct ds_addr a;
	int fd, err, bufsize = cfg->bufsize ? cfg->bufsize : 4 << 20;
	int tsflags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6 && (err = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)))
		goto fail;
	if (cfg->reuseaddr && (err = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)))
		goto fail;
	/* Buffers: best effort, the sysctl caps them. */
	set_int(fd, SOL_SOCKET, SO_RCVBUF, bufsize);
	set_int(fd, SOL_SOCKET, SO_SNDBUF, bufsize);
	/* No IP_RECVERR: on a UDP socket it makes every ICMP error (a dead candidate, an
	 * unroutable host address) fail the socket's next send or receive, whoever it is for;
	 * transmit timestamps come through the error queue without it. */
	if (family == AF_INET)
		err = set_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
	else
		err = set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	if (err)
		goto fail;
	/* Kernel timestamps: SO_TIMESTAMPING (receive, and transmit on request per datagram),
	 * else SO_TIMESTAMPNS for receive only. */
	if (set_int(fd, SOL_SOCKET, SO_TIMESTAMPING, tsflags) == 0)
		*caps |= DS_UDP_CAP_RX_KERNEL_TS | DS_UDP_CAP_TX_KERNEL_TS;
	else if (set_int(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1) == 0)
		*caps |= DS_UDP_CAP_RX_TSNS;
	if (cfg->tos >= 0 && (err = ds_udp_set_tos(fd, family, cfg->tos)))
		goto fail;
	memset(&a, 0, sizeof(a));
	if (want && want->len) {
		a = *want;
	} else if (family == AF_INET) {
		a.sin.sin_family = AF_INET;
		a.len = sizeof(a.sin);
	} else {
		a.sin6.sin6_family = AF_INET6;
		a.len = sizeof(a.sin6);
	}
	ds_addr_set_port(&a, port);
	if (bind(fd, &a.sa, a.len) < 0) {
		err = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct ds_addr a;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    ds_addr_from_sockaddr(&a, (struct sockaddr *)&ss, len) < 0)
		return 0;
	return ds_addr_port(&a);
}

int ds_udp_open(const struct ds_udp_config *cfg, struct ds_udp **out)
{
	int families = cfg->families ? cfg->families : DS_UDP_IPV4 | DS_UDP_IPV6;
	struct ds_udp *u;
	int err = -EAFNOSUPPORT;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->fd4 = u->fd6 = -1;
	/* With port 0 the first family picks the port and the second must get the same one;
	 * if it is taken in the other family, try again with a fresh one. */
	for (int attempt = 0; attempt < 16; attempt++) {
		uint16_t port = cfg->port;

		u->caps = 0;
		if (families & DS_UDP_IPV4) {
			u->fd4 = open_one(cfg, AF_INET, port, &u->caps);
			if (u->fd4 < 0) {
				err = u->fd4;
				if (!(cfg->family_optional && err == -EAFNOSUPPORT))
					goto fail;
			} else {
				port = bound_port(u->fd4);
			}
		}
		if (families & DS_UDP_IPV6) {
			u->fd6 = open_one(cfg, AF_INET6, port, &u->caps);
			if (u->fd6 < 0) {
				err = u->fd6;
				if (err == -EADDRINUSE && cfg->port == 0 && u->fd4 >= 0) {
					close(u->fd4);
					u->fd4 = -1;
					continue;
				}
				if (!(cfg->family_optional &&
				      (err == -EAFNOSUPPORT || err == -EADDRNOTAVAIL)))
					goto fail;
			} else {
				port = bound_port(u->fd6);
			}
		}
		if (u->fd4 < 0 && u->fd6 < 0)
			goto fail;
		u->port = port;
		*out = u;
		return 0;
	}
fail:
	ds_udp_free(u);
	return err;
}

void ds_udp_free(struct ds_udp *u)
{
	if (!u)
		return;
	if (u->fd4 >= 0)
		close(u->fd4);
	if (u->fd6 >= 0)
		close(u->fd6);
	free(u);
}

int ds_udp_fd(const struct ds_udp *u, int family)
{
	return family == AF_INET ? u->fd4 : family == AF_INET6 ? u->fd6 : -1;
}

uint16_t ds_udp_port(const struct ds_udp *u)
{
	return u->port;
}

unsigned ds_udp_caps(const struct ds_udp *u)
{
	return u->caps;
}

static void parse_cmsgs(struct msghdr *mh, struct ds_udp_msg *m, int64_t rt_to_mono)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct scm_timestamping))) {
			struct scm_timestamping ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			if (ts.ts[0].tv_sec || ts.ts[0].tv_nsec) {
				m->rx_ns = ds_timespec_ns(&ts.ts[0]) + rt_to_mono;
				m->rx_kernel = true;
			}
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			m->rx_ns = ds_timespec_ns(&ts) + rt_to_mono;
			m->rx_kernel = true;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			m->local.sin.sin_family = AF_INET;
			m->local.sin.sin_addr = pi.ipi_addr;
			m->local.len = sizeof(m->local.sin);
			m->ifindex = pi.ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			m->local.sin6.sin6_family = AF_INET6;
			m->local.sin6.sin6_addr = pi.ipi6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
				m->local.sin6.sin6_scope_id = pi.ipi6_ifindex;
			m->local.len = sizeof(m->local.sin6);
			m->ifindex = (int)pi.ipi6_ifindex;
		}
	}
}

int ds_udp_recv(struct ds_udp *u, int fd, struct ds_udp_msg *m, size_t n)
{
	int64_t now_mono, rt_to_mono;
	int got;

	if (n > DS_UDP_BATCH)
		n = DS_UDP_BATCH;
	for (size_t i = 0; i < n; i++) {
		u->iov[i] = (struct iovec){.iov_base = m[i].buf, .iov_len = m[i].cap};
		u->hdr[i].msg_hdr = (struct msghdr){
		    .msg_name = &u->from[i],
		    .msg_namelen = sizeof(u->from[i]),
		    .msg_iov = &u->iov[i],
		    .msg_iovlen = 1,
		    .msg_control = u->ctrl[i],
		    .msg_controllen = CMSG_ROOM,
		};
	}
	got = recvmmsg(fd, u->hdr, (unsigned)n, MSG_DONTWAIT, NULL);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	now_mono = ds_clock_ns();
	rt_to_mono = now_mono - ds_clock_realtime_ns();
	for (int i = 0; i < got; i++) {
		struct msghdr *mh = &u->hdr[i].msg_hdr;
		struct ds_udp_msg *d = &m[i];

		d->len = u->hdr[i].msg_len;
		d->truncated = (mh->msg_flags & MSG_TRUNC) != 0;
		if (d->len > d->cap)
			d->len = d->cap;
		d->rx_ns = now_mono;
		d->rx_kernel = false;
		d->ifindex = 0;
		d->local.len = 0;
		memset(&d->local.ss, 0, sizeof(d->local.ss));
		if (ds_addr_from_sockaddr(&d->peer, (struct sockaddr *)&u->from[i],
					  mh->msg_namelen) < 0)
			d->peer.len = 0;
		parse_cmsgs(mh, d, rt_to_mono);
		if (d->local.len)
			ds_addr_set_port(&d->local, u->port);
	}
	return got;
}

int ds_udp_send(int fd, struct ds_udp_msg *m, size_t n, unsigned flags)
{
	struct mmsghdr hdr[DS_UDP_BATCH];
	struct iovec iov[DS_UDP_BATCH];
	union {
		uint8_t b[CMSG_ROOM];
		struct cmsghdr align;
	} ctrl[DS_UDP_BATCH];
	int sent;

	if (n > DS_UDP_BATCH)
		n = DS_UDP_BATCH;
	for (size_t i = 0; i < n; i++) {
		struct msghdr *mh = &hdr[i].msg_hdr;
		struct cmsghdr *c;
		size_t clen = 0;
		int family = ds_addr_family(&m[i].peer);

		iov[i] = (struct iovec){.iov_base = m[i].buf, .iov_len = m[i].len};
		*mh = (struct msghdr){
		    .msg_name = &m[i].peer.sa,
		    .msg_namelen = m[i].peer.len,
		    .msg_iov = &iov[i],
		    .msg_iovlen = 1,
		    .msg_control = ctrl[i].b,
		    .msg_controllen = CMSG_ROOM,
		};
		memset(ctrl[i].b, 0, sizeof(ctrl[i].b));
		c = CMSG_FIRSTHDR(mh);
		if (m[i].local.len && !ds_addr_is_any(&m[i].local) &&
		    ds_addr_family(&m[i].local) == family) {
			if (family == AF_INET) {
				struct in_pktinfo pi = {.ipi_spec_dst = m[i].local.sin.sin_addr};

				c->cmsg_level = IPPROTO_IP;
				c->cmsg_type = IP_PKTINFO;
				c->cmsg_len = CMSG_LEN(sizeof(pi));
				memcpy(CMSG_DATA(c), &pi, sizeof(pi));
				clen += CMSG_SPACE(sizeof(pi));
			} else {
				struct in6_pktinfo pi = {.ipi6_addr = m[i].local.sin6.sin6_addr,
							 .ipi6_ifindex =
							     m[i].local.sin6.sin6_scope_id};

				c->cmsg_level = IPPROTO_IPV6;
				c->cmsg_type = IPV6_PKTINFO;
				c->cmsg_len = CMSG_LEN(sizeof(pi));
				memcpy(CMSG_DATA(c), &pi, sizeof(pi));
				clen += CMSG_SPACE(sizeof(pi));
			}
			c = (struct cmsghdr *)(ctrl[i].b + clen);
		}
		if (m[i].tos >= 0) {
			int tos = m[i].tos;

			c->cmsg_level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
			c->cmsg_type = family == AF_INET6 ? IPV6_TCLASS : IP_TOS;
			c->cmsg_len = CMSG_LEN(sizeof(tos));
			memcpy(CMSG_DATA(c), &tos, sizeof(tos));
			clen += CMSG_SPACE(sizeof(tos));
			c = (struct cmsghdr *)(ctrl[i].b + clen);
		}
		if (flags & DS_UDP_SEND_TX_STAMP) {
			uint32_t ts = SOF_TIMESTAMPING_TX_SOFTWARE;

			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SO_TIMESTAMPING;
			c->cmsg_len = CMSG_LEN(sizeof(ts));
			memcpy(CMSG_DATA(c), &ts, sizeof(ts));
			clen += CMSG_SPACE(sizeof(ts));
		}
		mh->msg_controllen = clen;
		if (!clen)
			mh->msg_control = NULL;
	}
	sent = sendmmsg(fd, hdr, (unsigned)n, MSG_DONTWAIT);
	if (sent < 0)
		return -errno;
	return sent;
}

/* The error queue hands the datagram back with whatever headers the stamping layer saw
 * (none, IP + UDP, or link + IP + UDP): find the UDP header whose length field matches the
 * rest of the buffer. */
static size_t find_udp_payload(const uint8_t *d, size_t len)
{
	static const size_t offs[] = {8, 28, 48, 42, 62, 36, 56};

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		size_t o = offs[i];

		if (o <= len && ((size_t)d[o - 4] << 8 | d[o - 3]) == len - o + 8)
			return o;
	}
	return 0;
}

int ds_udp_read_txstamps(int fd, struct ds_udp_txstamp *out, size_t n)
{
	size_t got = 0;
	int64_t rt_to_mono = ds_clock_ns() - ds_clock_realtime_ns();

	for (int guard = 0; got < n && guard < 256; guard++) {
		uint8_t data[2048];
		union {
			uint8_t b[512];
			struct cmsghdr align;
		} ctrl;
		struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = ctrl.b,
				    .msg_controllen = sizeof(ctrl.b)};
		struct scm_timestamping ts;
		bool have_ts = false, is_stamp = false;
		ssize_t r = recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return got ? (int)got : -errno;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING &&
			    c->cmsg_len >= CMSG_LEN(sizeof(ts))) {
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				have_ts = ts.ts[0].tv_sec || ts.ts[0].tv_nsec;
			} else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
				   (c->cmsg_level == IPPROTO_IPV6 &&
				    c->cmsg_type == IPV6_RECVERR)) {
				struct sock_extended_err ee;

				if (c->cmsg_len >= CMSG_LEN(sizeof(ee))) {
					memcpy(&ee, CMSG_DATA(c), sizeof(ee));
					is_stamp = ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING;
				}
			}
		}
		if (!have_ts || !is_stamp)
			continue;
		{
			struct ds_udp_txstamp *t = &out[got++];
			size_t len = (size_t)r > sizeof(data) ? sizeof(data) : (size_t)r;
			size_t off = find_udp_payload(data, len);

			t->tx_ns = ds_timespec_ns(&ts.ts[0]) + rt_to_mono;
			if (off == 0 && len > 0 && data[0] >= 4 && data[0] <= 15)
				off = 0; /* the bare payload */
			else if (off == 0)
				len = 0;
			t->payload_len = len - off;
			t->head_len =
			    t->payload_len < sizeof(t->head) ? t->payload_len : sizeof(t->head);
			memcpy(t->head, data + off, t->head_len);
		}
	}
	return (int)got;
}

int ds_udp_local_addrs(int family, uint16_t port, struct ds_addr *out, size_t max)
{
	struct ifaddrs *ifa, *i;
	size_t n = 0;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i && n < max; i = i->ifa_next) {
		struct ds_addr a;

		if (!i->ifa_addr || i->ifa_addr->sa_family != family)
			continue;
		if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (ds_addr_from_sockaddr(&a, i->ifa_addr,
					  family == AF_INET ? sizeof(struct sockaddr_in)
							    : sizeof(struct sockaddr_in6)) < 0)
			continue;
		if (ds_addr_is_loopback(&a) || ds_addr_is_link_local(&a))
			continue;
		ds_addr_set_port(&a, port);
		out[n++] = a;
	}
	freeifaddrs(ifa);
	return (int)n;
}

static int prefix_len(const struct sockaddr *mask)
{
	const uint8_t *b;
	size_t n;
	int len = 0;

	if (!mask)
		return -1;
	if (mask->sa_family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)(const void *)mask)->sin_addr;
		n = 4;
	} else if (mask->sa_family == AF_INET6) {
		b = ((const struct sockaddr_in6 *)(const void *)mask)->sin6_addr.s6_addr;
		n = 16;
	} else {
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		len += __builtin_popcount(b[i]);
	return len;
}

int ds_udp_local_nets(struct ds_udp_net *out, size_t max)
{
	struct ifaddrs *ifa, *i;
	size_t n = 0;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i && n < max; i = i->ifa_next) {
		int fam, plen;

		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		fam = i->ifa_addr->sa_family;
		if (fam != AF_INET && fam != AF_INET6)
			continue;
		plen = prefix_len(i->ifa_netmask);
		if (plen < 0 ||
		    ds_addr_from_sockaddr(&out[n].addr, i->ifa_addr,
					  fam == AF_INET ? sizeof(struct sockaddr_in)
							 : sizeof(struct sockaddr_in6)) < 0)
			continue;
		if (ds_addr_is_loopback(&out[n].addr) || ds_addr_is_link_local(&out[n].addr))
			continue;
		out[n++].plen = (uint8_t)plen;
	}
	freeifaddrs(ifa);
	return (int)n;
}

static const uint8_t *addr_bytes(const struct ds_addr *a, size_t *n)
{
	if (ds_addr_family(a) == AF_INET) {
		*n = 4;
		return (const uint8_t *)&a->sin.sin_addr;
	}
	if (ds_addr_family(a) == AF_INET6) {
		*n = 16;
		return a->sin6.sin6_addr.s6_addr;
	}
	*n = 0;
	return NULL;
}

bool ds_udp_on_link(const struct ds_udp_net *nets, size_t n, const struct ds_addr *a)
{
	size_t la, ln;
	const uint8_t *pa = addr_bytes(a, &la);

	if (!pa)
		return false;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *pn = addr_bytes(&nets[i].addr, &ln);
		unsigned bits = nets[i].plen, k;

		if (!pn || ln != la || bits > la * 8 || bits == 0)
			continue;
		for (k = 0; k < bits / 8 && pa[k] == pn[k]; k++)
			;
		if (k < bits / 8)
			continue;
		if (bits % 8 && ((pa[k] ^ pn[k]) & (uint8_t)(0xff << (8 - bits % 8))))
			continue;
		return true;
	}
	return false;
}
