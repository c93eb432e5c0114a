// SPDX-License-Identifier: MIT
#include "trace.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"

static const uint8_t probe_magic[4] = { 'd', 'T', 'R', 0x06 };

struct probe {
	int hop;		/* index into res->hops */
	int64_t sent_real_ns;	/* CLOCK_REALTIME, comparable with kernel timestamps */
	int64_t deadline_ns;	/* CLOCK_MONOTONIC */
	int pending;
};

struct run {
	int fd, family;
	const struct ds_addr *target;
	const struct ds_trace_opts *o;
	struct ds_trace_result *res;
	struct probe probes[DS_TRACE_MAX_HOPS * DS_TRACE_MAX_PROBES];
	int nprobes;
	int dest_hop;		/* index of the first hop at which the target answered, or -1 */
	uint32_t id_base;	/* probe id = id_base + index, so a stale error is not ours */
};

void ds_trace_opts_default(struct ds_trace_opts *o)
{
	o->first_ttl = 1;
	o->max_ttl = 30;
	o->probes_per_hop = 1;
	o->max_inflight = 8;
	o->wait_ns = 900 * DS_NSEC_PER_MSEC;
	o->send_interval_ns = 5 * DS_NSEC_PER_MSEC;
	o->size = 32;
}

const char *ds_trace_reply_name(enum ds_trace_reply r)
{
	switch (r) {
	case DS_TRACE_TIME_EXCEEDED:
		return "time-exceeded";
	case DS_TRACE_DESTINATION:
		return "destination";
	case DS_TRACE_UNREACHABLE:
		return "unreachable";
	default:
		return "silent";
	}
}

static int set_ttl(int fd, int family, int ttl)
{
	int r;

	if (family == AF_INET)
		r = setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
	else
		r = setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl));
	return r < 0 ? -errno : 0;
}

static int get_ttl(int fd, int family, int *ttl)
{
	socklen_t len = sizeof(*ttl);
	int r;

	if (family == AF_INET)
		r = getsockopt(fd, IPPROTO_IP, IP_TTL, ttl, &len);
	else
		r = getsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl, &len);
	return r < 0 ? -errno : 0;
}

static int send_probe(struct run *run, int hop)
{
	uint8_t payload[1500];
	struct probe *p;
	uint32_t id;
	ssize_t n;

	if (run->nprobes >= (int)(sizeof(run->probes) / sizeof(run->probes[0])))
		return -ENOSPC;
	p = &run->probes[run->nprobes];
	id = htonl(run->id_base + (uint32_t)run->nprobes);
	memset(payload, 0, (size_t)run->o->size);
	memcpy(payload, probe_magic, 4);
	memcpy(payload + 4, &id, 4);
	p->hop = hop;
	p->sent_real_ns = ds_clock_realtime_ns();
	p->deadline_ns = ds_clock_ns() + run->o->wait_ns;
	/* With IP_RECVERR an earlier probe's ICMP error is also left pending on the socket
	 * and reported by the next send (EHOSTUNREACH for time-exceeded, ECONNREFUSED for
	 * port unreachable) without sending: that report is not about this probe, so send
	 * again. The error itself is read from the error queue. */
	for (int tries = 0; tries < 4; tries++) {
		n = sendto(run->fd, payload, (size_t)run->o->size, 0, &run->target->sa,
			   run->target->len);
		if (n >= 0 || (errno != EHOSTUNREACH && errno != ENETUNREACH &&
			       errno != ECONNREFUSED && errno != EACCES))
			break;
	}
	if (n < 0) {
		/* A local error (no route, EMSGSIZE...) for this hop: it stays silent. */
		if (errno != EHOSTUNREACH && errno != ENETUNREACH && errno != ECONNREFUSED)
			return -errno;
	} else {
		p->pending = 1;
	}
	run->res->hops[hop].sent++;
	run->nprobes++;
	return 0;
}

/* Which probe does this quoted payload belong to? -1 when the quote is too short. */
static int match_probe(struct run *run, const uint8_t *buf, size_t len)
{
	uint32_t id;

	if (len < 8 || memcmp(buf, probe_magic, 4) != 0)
		return -1;
	memcpy(&id, buf + 4, 4);
	id = ntohl(id) - run->id_base;
	if (id >= (uint32_t)run->nprobes)
		return -1;
	return (int)id;
}

static void record(struct run *run, int idx, const struct ds_addr *from, int64_t rx_real_ns,
		   enum ds_trace_reply reply, int type, int code)
{
	struct probe *p = &run->probes[idx];
	struct ds_trace_hop *h = &run->res->hops[p->hop];

	if (!p->pending)
		return; /* duplicate, or already given up on */
	p->pending = 0;
	if (h->answered == 0) {
		h->addr = *from;
		h->reply = reply;
		h->icmp_type = type;
		h->icmp_code = code;
	} else if (!ds_addr_equal_host(&h->addr, from)) {
		h->other_addrs++;
	}
	if (h->answered < DS_TRACE_MAX_PROBES)
		h->rtt_ms[h->answered] = (double)(rx_real_ns - p->sent_real_ns) / 1e6;
	h->answered++;
	if (reply == DS_TRACE_DESTINATION || reply == DS_TRACE_UNREACHABLE) {
		if (run->dest_hop < 0 || p->hop < run->dest_hop)
			run->dest_hop = p->hop;
		if (reply == DS_TRACE_DESTINATION)
			run->res->reached = 1;
	}
}

static int64_t rx_timestamp(struct msghdr *msg, struct run *run)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			run->res->kernel_timestamps = 1;
			return ds_timespec_ns(&ts);
		}
	}
	return ds_clock_realtime_ns();
}

static enum ds_trace_reply classify(struct run *run, const struct sock_extended_err *ee,
				    const struct ds_addr *from)
{
	bool at_target = ds_addr_equal_host(from, run->target);

	if (ee->ee_origin == SO_EE_ORIGIN_ICMP) {
		if (ee->ee_type == ICMP_TIME_EXCEEDED)
			return DS_TRACE_TIME_EXCEEDED;
		if (ee->ee_type == ICMP_DEST_UNREACH)
			return at_target ? DS_TRACE_DESTINATION : DS_TRACE_UNREACHABLE;
	} else if (ee->ee_origin == SO_EE_ORIGIN_ICMP6) {
		if (ee->ee_type == ICMP6_TIME_EXCEEDED)
			return DS_TRACE_TIME_EXCEEDED;
		if (ee->ee_type == ICMP6_DST_UNREACH)
			return at_target ? DS_TRACE_DESTINATION : DS_TRACE_UNREACHABLE;
	}
	return DS_TRACE_SILENT;
}

/* Drain the error queue: one ICMP error per message. */
static void read_errors(struct run *run)
{
	for (;;) {
		uint8_t buf[1500], cbuf[512];
		struct sockaddr_storage name;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr msg = { .msg_name = &name, .msg_namelen = sizeof(name),
				      .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct sock_extended_err *ee = NULL;
		struct ds_addr from = { 0 };
		enum ds_trace_reply reply;
		struct cmsghdr *c;
		int64_t rx;
		ssize_t n;
		int idx;

		n = recvmsg(run->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
		if (n < 0)
			return;
		for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
			    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR))
				ee = (struct sock_extended_err *)CMSG_DATA(c);
		}
		if (!ee || (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6))
			continue;
		{
			const struct sockaddr *off = SO_EE_OFFENDER(ee);
			socklen_t olen = off->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
								    : sizeof(struct sockaddr_in);

			if (ds_addr_from_sockaddr(&from, off, olen) < 0)
				continue;
			ds_addr_set_port(&from, 0);
		}
		rx = rx_timestamp(&msg, run);
		reply = classify(run, ee, &from);
		if (reply == DS_TRACE_SILENT)
			continue;
		idx = match_probe(run, buf, (size_t)n);
		if (idx < 0) {
			int i, only = -1, pending = 0;

			/* A router that quotes only the UDP header: with one probe in
			 * flight the answer can only be that one's. */
			for (i = 0; i < run->nprobes; i++)
				if (run->probes[i].pending) {
					pending++;
					only = i;
				}
			if (pending != 1) {
				run->res->unmatched++;
				continue;
			}
			idx = only;
		}
		record(run, idx, &from, rx, reply, ee->ee_type, ee->ee_code);
	}
}

/* A UDP answer from the target itself (its port is open and it replied). */
static void read_data(struct run *run)
{
	for (;;) {
		uint8_t buf[1500], cbuf[256];
		struct sockaddr_storage name;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr msg = { .msg_name = &name, .msg_namelen = sizeof(name),
				      .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct ds_addr from;
		int64_t rx;
		ssize_t n;
		int idx;

		n = recvmsg(run->fd, &msg, MSG_DONTWAIT);
		if (n < 0)
			return;
		if (ds_addr_from_sockaddr(&from, (struct sockaddr *)&name, msg.msg_namelen) < 0)
			continue;
		ds_addr_unmap_v4(&from);
		if (!ds_addr_equal(&from, run->target))
			continue;
		rx = rx_timestamp(&msg, run);
		idx = match_probe(run, buf, (size_t)n);
		if (idx < 0)
			continue;
		ds_addr_set_port(&from, 0);
		record(run, idx, &from, rx, DS_TRACE_DESTINATION, -1, -1);
	}
}

static int enable_errors(int fd, int family)
{
	int on = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0)
		return -errno;
	if (family == AF_INET) {
		if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)) < 0)
			return -errno;
	} else if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on)) < 0) {
		return -errno;
	}
	return 0;
}

static int validate(const struct ds_trace_opts *o)
{
	if (o->first_ttl < 1 || o->max_ttl < o->first_ttl || o->max_ttl > 255 ||
	    o->max_ttl - o->first_ttl + 1 > DS_TRACE_MAX_HOPS || o->probes_per_hop < 1 ||
	    o->probes_per_hop > DS_TRACE_MAX_PROBES || o->max_inflight < 1 || o->wait_ns <= 0 ||
	    o->send_interval_ns < 0 || o->size < DS_TRACE_MIN_SIZE || o->size > 1400)
		return -EINVAL;
	return 0;
}

int ds_trace_run(int fd, const struct ds_addr *target, const struct ds_trace_opts *o,
		 struct ds_trace_result *res)
{
	struct run run = { .fd = fd, .target = target, .o = o, .res = res, .dest_hop = -1 };
	int nhops = o->max_ttl - o->first_ttl + 1;
	int next = 0, old_ttl = 64, r, i;
	int64_t next_send = 0;

	memset(res, 0, sizeof(*res));
	if (validate(o) < 0)
		return -EINVAL;
	run.family = ds_addr_family(target);
	if (run.family != AF_INET && run.family != AF_INET6)
		return -EAFNOSUPPORT;
	if ((r = enable_errors(fd, run.family)) < 0 || (r = get_ttl(fd, run.family, &old_ttl)) < 0)
		return r;
	run.id_base = (uint32_t)ds_clock_ns() & 0x7fffff00u;
	for (i = 0; i < nhops; i++)
		res->hops[i].ttl = o->first_ttl + i;
	/* Drop errors left from before (an earlier run on a shared socket). */
	read_errors(&run);

	for (;;) {
		int64_t now = ds_clock_ns(), wake = now + o->wait_ns;
		int inflight_hops = 0, last_pending_hop = -1, limit;
		struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLERR };

		/* Time out silent probes. */
		for (i = 0; i < run.nprobes; i++) {
			struct probe *p = &run.probes[i];

			if (!p->pending)
				continue;
			if (now >= p->deadline_ns || (run.dest_hop >= 0 && p->hop > run.dest_hop)) {
				p->pending = 0;
				continue;
			}
			if (p->hop != last_pending_hop)
				inflight_hops++;
			last_pending_hop = p->hop;
			if (p->deadline_ns < wake)
				wake = p->deadline_ns;
		}
		limit = run.dest_hop >= 0 ? run.dest_hop : nhops - 1;
		if (next <= limit && inflight_hops < o->max_inflight && now >= next_send) {
			if ((r = set_ttl(fd, run.family, o->first_ttl + next)) < 0)
				goto out;
			for (i = 0; i < o->probes_per_hop; i++)
				if ((r = send_probe(&run, next)) < 0)
					goto out;
			next++;
			next_send = now + o->send_interval_ns;
			continue;
		}
		if (next > limit && inflight_hops == 0)
			break;
		if (next <= limit && inflight_hops < o->max_inflight && next_send < wake)
			wake = next_send;
		{
			int64_t ms = (wake - now + DS_NSEC_PER_MSEC - 1) / DS_NSEC_PER_MSEC;

			if (poll(&pfd, 1, ms > 0 ? (int)ms : 0) > 0) {
				read_errors(&run);
				read_data(&run);
			}
		}
	}
	res->nhops = run.dest_hop >= 0 ? run.dest_hop + 1 : nhops;
	r = 0;
out:
	set_ttl(fd, run.family, old_ttl);
	return r;
}
