// SPDX-License-Identifier: MIT
/* STUN client transactions: retransmission (RFC 8489 §6.2.1) and answer matching (§6.3). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll */
#endif
#include "stunclient.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"

#define WATCH_MAX 8

struct txn {
	int id; /* the caller's handle: stays valid until the transaction expires */
	struct ds_stun_txn_info info;
	struct ds_addr expect_from;
	uint8_t *req;
	size_t req_len;
	int64_t rto_ns;     /* current interval: doubles after each retransmission */
	int64_t next_ns;    /* next retransmission or, after the last one, the timeout */
	int64_t give_up_ns; /* max_wait cap, 0 none */
	uint8_t *resp;
	uint16_t method;
};

struct ds_stun_client {
	struct ds_stun_retrans p;
	struct txn *txns;
	size_t n, cap;
	int next_id;
	int watch[WATCH_MAX];
	size_t nwatch;
	ds_stun_client_other_fn other_fn;
	void *other_arg;
	struct ds_stun_redirect redirect[DS_STUN_CLIENT_REDIRECTS];
	size_t nredirect;
};

static const struct ds_stun_redirect *redirect_of(const struct ds_stun_client *c, int fd)
{
	for (size_t i = 0; i < c->nredirect; i++)
		if (c->redirect[i].send_fd == fd)
			return &c->redirect[i];
	return NULL;
}

void ds_stun_retrans_default(struct ds_stun_retrans *p)
{
	p->rto_ns = DS_STUN_RTO_DEFAULT_NS;
	p->rc = DS_STUN_RC_DEFAULT;
	p->rm = DS_STUN_RM_DEFAULT;
}

int64_t ds_stun_retrans_timeout_ns(const struct ds_stun_retrans *p)
{
	int64_t t = 0, rto = p->rto_ns;

	for (unsigned i = 1; i < p->rc; i++, rto *= 2)
		t += rto;
	return t + (int64_t)p->rm * p->rto_ns;
}

int ds_stun_client_new(const struct ds_stun_retrans *p, struct ds_stun_client **out)
{
	struct ds_stun_client *c;

	*out = NULL;
	if (p && (p->rto_ns <= 0 || p->rc < 1 || p->rc > 32 || p->rm < 1))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (p)
		c->p = *p;
	else
		ds_stun_retrans_default(&c->p);
	*out = c;
	return 0;
}

void ds_stun_client_free(struct ds_stun_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->txns[i].req);
		free(c->txns[i].resp);
	}
	free(c->txns);
	free(c);
}

static struct txn *txn_of(const struct ds_stun_client *c, int id)
{
	if (id < 0)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		if (c->txns[i].id == id)
			return &c->txns[i];
	return NULL;
}

/* Forget the transactions that ended and whose retransmission schedule (Rc, Rm; RFC 8489
 * §6.2.1) is over too: no answer to them can still be expected, and a late one is then no
 * longer ours. Without this a long-running owner (the agent, one refresh every 20 s) grows
 * the table forever. Order is kept, so handles stay where ids put them. */
static void expire(struct ds_stun_client *c, int64_t now)
{
	int64_t life = ds_stun_retrans_timeout_ns(&c->p);
	size_t keep = 0;

	for (size_t i = 0; i < c->n; i++) {
		struct txn *t = &c->txns[i];

		if (t->info.state != DS_STUN_TXN_PENDING && now - t->info.first_sent_ns >= life) {
			free(t->req);
			free(t->resp);
			continue;
		}
		if (keep != i)
			c->txns[keep] = *t;
		keep++;
	}
	c->n = keep;
}

static int send_req(struct txn *t)
{
	ssize_t n;

	do
		n = sendto(t->info.fd, t->req, t->req_len, 0, &t->info.dst.sa, t->info.dst.len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == t->req_len ? 0 : -EMSGSIZE;
}

int ds_stun_client_start(struct ds_stun_client *c, int fd, const struct ds_addr *dst,
			 const struct ds_addr *expect_from, const void *req, size_t len,
			 int64_t max_wait_ns)
{
	const struct ds_stun_redirect *rd = redirect_of(c, fd);
	struct ds_stun_msg m;
	struct txn *t;
	int64_t now;
	int r;

	if (!dst || !dst->len || ds_stun_parse(req, len, &m, NULL) < 0 ||
	    m.cls != DS_STUN_REQUEST)
		return -EINVAL;
	expire(c, ds_clock_ns());
	if (c->n == c->cap) {
		size_t ncap = c->cap ? 2 * c->cap : 8;
		struct txn *nt = realloc(c->txns, ncap * sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		c->txns = nt;
		c->cap = ncap;
	}
	t = &c->txns[c->n];
	memset(t, 0, sizeof(*t));
	t->req = malloc(len);
	if (!t->req)
		return -ENOMEM;
	memcpy(t->req, req, len);
	t->req_len = len;
	t->info.fd = fd;
	t->info.dst = *dst;
	t->method = m.method;
	t->expect_from = expect_from ? *expect_from : *dst;
	memcpy(t->info.tid, m.tid, DS_STUN_TID_LEN);
	if (rd && rd->track && (r = rd->track(rd->arg, m.tid)) < 0) {
		free(t->req);
		return r;
	}
	now = ds_clock_ns(); /* before sendto: the RTT includes our own send path */
	r = send_req(t);
	if (r < 0) {
		free(t->req);
		return r;
	}
	t->info.state = DS_STUN_TXN_PENDING;
	t->info.transmissions = 1;
	t->info.first_sent_ns = t->info.last_sent_ns = now;
	t->rto_ns = c->p.rto_ns;
	t->next_ns = c->p.rc > 1 ? now + t->rto_ns : now + (int64_t)c->p.rm * c->p.rto_ns;
	t->give_up_ns = max_wait_ns > 0 ? now + max_wait_ns : 0;
	t->id = c->next_id;
	c->next_id = c->next_id == INT_MAX ? 0 : c->next_id + 1;
	c->n++;
	return t->id;
}

void ds_stun_client_cancel(struct ds_stun_client *c, int id)
{
	struct txn *t = txn_of(c, id);

	if (t && t->info.state == DS_STUN_TXN_PENDING)
		t->info.state = DS_STUN_TXN_CANCELLED;
}

static struct txn *find_tid(struct ds_stun_client *c, const uint8_t *tid)
{
	for (size_t i = 0; i < c->n; i++)
		if (memcmp(c->txns[i].info.tid, tid, DS_STUN_TID_LEN) == 0)
			return &c->txns[i];
	return NULL;
}

int ds_stun_client_input(struct ds_stun_client *c, int fd, const void *pkt, size_t len,
			 const struct ds_addr *from, int64_t now_ns)
{
	struct ds_stun_msg m;
	struct ds_stun_attr a;
	struct ds_addr src;
	struct txn *t;
	int code;

	if (!ds_stun_is_stun(pkt, len))
		return -ENOENT;
	if (ds_stun_parse(pkt, len, &m, NULL) < 0) {
		/* a broken answer with our id is counted against that transaction */
		t = find_tid(c, (const uint8_t *)pkt + 8);
		if (t)
			t->info.malformed++;
		return t ? -EBADMSG : -ENOENT;
	}
	if (m.cls != DS_STUN_SUCCESS && m.cls != DS_STUN_ERROR)
		return -ENOENT;
	t = find_tid(c, m.tid);
	if (!t)
		return -ENOENT;
	src = *from;
	ds_addr_unmap_v4(&src);
	if (fd != t->info.fd || !ds_addr_equal(&src, &t->expect_from)) {
		t->info.wrong_source++;
		return -EPERM;
	}
	if (t->info.state != DS_STUN_TXN_PENDING) {
		t->info.duplicates++;
		return -EALREADY;
	}
	if (m.method != t->method) {
		t->info.malformed++;
		return -EBADMSG;
	}
	if (len > DS_STUN_CLIENT_RESP_MAX) {
		t->info.malformed++;
		return -EBADMSG;
	}
	t->info.from = src;
	t->info.answered_ns = now_ns;
	t->info.rtt_ns = now_ns - t->info.last_sent_ns;
	/* §6.3.3, §6.3.4: unknown comprehension-required attributes, or an error response
	 * without ERROR-CODE, fail the transaction. */
	if (m.n_unknown || m.unknown_overflow) {
		t->info.state = DS_STUN_TXN_FAILED;
		t->info.error = -EPROTO;
		return -EBADMSG;
	}
	if (m.cls == DS_STUN_ERROR && (ds_stun_find(&m, DS_STUN_ATTR_ERROR_CODE, &a) < 0 ||
				       ds_stun_attr_error(&a, &code, NULL, 0) < 0)) {
		t->info.state = DS_STUN_TXN_FAILED;
		t->info.error = -EPROTO;
		return -EBADMSG;
	}
	t->resp = malloc(len);
	if (!t->resp) {
		t->info.state = DS_STUN_TXN_FAILED;
		t->info.error = -ENOMEM;
		return -ENOMEM;
	}
	memcpy(t->resp, pkt, len);
	t->info.resp_len = len;
	t->info.state = DS_STUN_TXN_DONE;
	return t->id;
}

int64_t ds_stun_client_tick(struct ds_stun_client *c, int64_t now_ns)
{
	int64_t next = -1;

	for (size_t i = 0; i < c->n; i++) {
		struct txn *t = &c->txns[i];
		int64_t due;

		if (t->info.state != DS_STUN_TXN_PENDING)
			continue;
		if (t->give_up_ns && now_ns >= t->give_up_ns) {
			t->info.state = DS_STUN_TXN_TIMEOUT;
			continue;
		}
		while (t->info.state == DS_STUN_TXN_PENDING && now_ns >= t->next_ns) {
			if (t->info.transmissions >= c->p.rc) {
				t->info.state = DS_STUN_TXN_TIMEOUT;
				break;
			}
			int r = send_req(t);
			if (r < 0 && r != -EAGAIN && r != -ENOBUFS) {
				t->info.state = DS_STUN_TXN_FAILED;
				t->info.error = r;
				break;
			}
			t->info.transmissions++;
			t->info.last_sent_ns = now_ns;
			t->rto_ns *= 2;
			if (t->info.transmissions < c->p.rc)
				t->next_ns += t->rto_ns;
			else
				t->next_ns = now_ns + (int64_t)c->p.rm * c->p.rto_ns;
		}
		if (t->info.state != DS_STUN_TXN_PENDING)
			continue;
		due = t->next_ns;
		if (t->give_up_ns && t->give_up_ns < due)
			due = t->give_up_ns;
		if (next < 0 || due - now_ns < next)
			next = due - now_ns < 0 ? 0 : due - now_ns;
	}
	return next;
}

size_t ds_stun_client_count(const struct ds_stun_client *c)
{
	return c->n;
}

unsigned ds_stun_client_pending(const struct ds_stun_client *c)
{
	unsigned n = 0;

	for (size_t i = 0; i < c->n; i++)
		n += c->txns[i].info.state == DS_STUN_TXN_PENDING;
	return n;
}

void ds_stun_client_on_other(struct ds_stun_client *c, ds_stun_client_other_fn fn, void *arg)
{
	c->other_fn = fn;
	c->other_arg = arg;
}

int ds_stun_client_watch(struct ds_stun_client *c, int fd)
{
	for (size_t i = 0; i < c->nwatch; i++)
		if (c->watch[i] == fd)
			return 0;
	if (c->nwatch == WATCH_MAX)
		return -ENOSPC;
	c->watch[c->nwatch++] = fd;
	return 0;
}

static void add_fd(struct pollfd *pfd, size_t *n, size_t max, int fd)
{
	for (size_t i = 0; i < *n; i++)
		if (pfd[i].fd == fd)
			return;
	if (*n < max) {
		pfd[*n].fd = fd;
		pfd[*n].events = POLLIN;
		pfd[*n].revents = 0;
		(*n)++;
	}
}

static int drain(struct ds_stun_client *c, int fd)
{
	uint8_t buf[DS_STUN_CLIENT_RESP_MAX + 1];

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct ds_addr from;
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&ss, &sl);
		int64_t now = ds_clock_ns();

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ICMP errors surface here on some sockets: not fatal for us */
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED ||
			    errno == EHOSTUNREACH || errno == ENETUNREACH)
				return 0;
			return -errno;
		}
		if (ds_addr_from_sockaddr(&from, (struct sockaddr *)&ss, sl) < 0)
			continue;
		if ((size_t)n > sizeof(buf))
			n = sizeof(buf); /* truncated: fails the length check below */
		ds_stun_client_feed(c, fd, buf, (size_t)n, &from, now);
	}
}

int ds_stun_client_feed(struct ds_stun_client *c, int fd, const void *pkt, size_t len,
			const struct ds_addr *from, int64_t now_ns)
{
	int r = ds_stun_client_input(c, fd, pkt, len, from, now_ns);

	if (r == -ENOENT && c->other_fn)
		c->other_fn(c->other_arg, fd, pkt, len, from);
	return r;
}

int ds_stun_client_redirect(struct ds_stun_client *c, const struct ds_stun_redirect *r)
{
	if (!r || !r->read || r->poll_fd < 0)
		return -EINVAL;
	if (c->nredirect == DS_STUN_CLIENT_REDIRECTS)
		return -ENOSPC;
	c->redirect[c->nredirect++] = *r;
	return 0;
}

/* Poll the redirect's descriptor in place of the borrowed one. */
static void add_fd_or_redirect(const struct ds_stun_client *c, struct pollfd *pfd, size_t *n,
			       size_t max, int fd)
{
	const struct ds_stun_redirect *rd = redirect_of(c, fd);

	add_fd(pfd, n, max, rd ? rd->poll_fd : fd);
}

static const struct ds_stun_redirect *redirect_polled(const struct ds_stun_client *c, int fd)
{
	for (size_t i = 0; i < c->nredirect; i++)
		if (c->redirect[i].poll_fd == fd)
			return &c->redirect[i];
	return NULL;
}

int ds_stun_client_run(struct ds_stun_client *c)
{
	enum { MAXFD = 32 };

	for (;;) {
		struct pollfd pfd[MAXFD];
		size_t npfd = 0;
		int64_t wait = ds_stun_client_tick(c, ds_clock_ns());
		struct timespec ts;
		int r;

		if (wait < 0)
			return 0;
		/* forwarded messages may already wait in a queue poll(2) cannot see */
		for (size_t i = 0; i < c->nredirect; i++) {
			r = c->redirect[i].read(c->redirect[i].arg, c);
			if (r < 0)
				return r;
		}
		wait = ds_stun_client_tick(c, ds_clock_ns());
		if (wait < 0)
			return 0;
		for (size_t i = 0; i < c->n; i++)
			if (c->txns[i].info.state == DS_STUN_TXN_PENDING)
				add_fd_or_redirect(c, pfd, &npfd, MAXFD, c->txns[i].info.fd);
		for (size_t i = 0; i < c->nwatch; i++)
			add_fd_or_redirect(c, pfd, &npfd, MAXFD, c->watch[i]);
		ts = ds_ns_timespec(wait);
		r = ppoll(pfd, npfd, &ts, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (size_t i = 0; i < npfd; i++) {
			const struct ds_stun_redirect *rd;

			if (!pfd[i].revents)
				continue;
			rd = redirect_polled(c, pfd[i].fd);
			r = rd ? rd->read(rd->arg, c) : drain(c, pfd[i].fd);
			if (r < 0)
				return r;
		}
	}
}

const struct ds_stun_txn_info *ds_stun_client_info(const struct ds_stun_client *c, int id)
{
	const struct txn *t = txn_of(c, id);

	return t ? &t->info : NULL;
}

int ds_stun_client_response(const struct ds_stun_client *c, int id, struct ds_stun_msg *m)
{
	const struct txn *t = txn_of(c, id);

	if (!t)
		return -EINVAL;
	if (t->info.state != DS_STUN_TXN_DONE || !t->resp)
		return -ENOENT;
	return ds_stun_parse(t->resp, t->info.resp_len, m, NULL);
}
