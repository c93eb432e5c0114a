// SPDX-License-Identifier: MIT
#include "race.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "wire.h"

/* Each candidate is retried 200 ms after its start, then at doubling gaps, until its
 * timeout: a lost packet costs 200 ms, not the race. */
#define RETRY_FIRST_NS (200 * DS_NSEC_PER_MSEC)
/* While the agent is still proving the pair's session (ENOTCONN), ask again this often. */
#define RETRY_HANDSHAKE_NS (50 * DS_NSEC_PER_MSEC)

void ds_race_opts_default(struct ds_race_opts *o)
{
	o->stagger_ns = DS_RACE_STAGGER_DEFAULT_NS;
	o->timeout_ns = DS_RACE_TIMEOUT_DEFAULT_NS;
	o->sequential = false;
}

const char *ds_race_kind_str(int kind)
{
	static const char *const names[] = {"", "host", "srflx", "relay", "endpoint", "path"};

	return kind > 0 && kind <= DS_RACE_KNOWN ? names[kind] : "";
}

const char *ds_race_outcome_str(int outcome)
{
	static const char *const names[] = {"pending", "won", "lost", "cancelled", "timeout"};

	return outcome >= 0 && outcome <= DS_RACE_TIMEOUT ? names[outcome] : "";
}

static void classify(struct ds_race_cand *c, const struct ds_udp_net *nets, size_t nnets)
{
	bool v6 = ds_addr_family(&c->addr) == AF_INET6;

	if (c->kind == DS_RACE_RELAY) {
		c->label = "relay";
		c->pref = 40;
	} else if (ds_udp_on_link(nets, nnets, &c->addr)) {
		c->label = "lan";
		c->pref = v6 ? 0 : 1;
	} else if (v6) {
		c->label = "v6";
		c->pref = ds_addr_is_private(&c->addr) ? 25 : 10;
	} else {
		c->label = "direct";
		/* a private IPv4 address not on our links: another site's LAN, reachable only
		 * through a VPN or a route we do not know of */
		c->pref = c->kind == DS_RACE_HOST && ds_addr_is_private(&c->addr) ? 30 : 20;
	}
	/* within a class: the agent's current path, then the published order */
	if (c->kind == DS_RACE_KNOWN && c->pref > 0)
		c->pref--;
}

static int by_pref(const void *x, const void *y)
{
	const struct ds_race_cand *a = x, *b = y;

	return a->pref - b->pref;
}

size_t ds_race_plan(const struct ds_ctl_msg *info, bool have4, bool have6,
		    const struct ds_udp_net *nets, size_t nnets, struct ds_race_cand *out)
{
	size_t n = 0;

	for (size_t i = 0; i <= info->peer_info.ncands && n < DS_RACE_MAX; i++) {
		struct ds_race_cand c = {0};
		bool dup = false;
		int fam;

		if (i < info->peer_info.ncands) {
			c.addr = info->peer_info.cands[i].addr;
			c.kind = info->peer_info.cands[i].kind;
		} else if (info->peer_info.peer_flags & DS_CTL_PEER_PATH) {
			c.addr = info->peer_info.path;
			c.kind = DS_RACE_KNOWN;
		} else {
			break;
		}
		fam = ds_addr_family(&c.addr);
		/* family-matched only: a side without IPv6 never dials IPv6 */
		if ((fam == AF_INET && !have4) || (fam == AF_INET6 && !have6) ||
		    (fam != AF_INET && fam != AF_INET6) || ds_addr_is_loopback(&c.addr) ||
		    ds_addr_is_any(&c.addr) || ds_addr_port(&c.addr) == 0)
			continue;
		for (size_t k = 0; k < n && !dup; k++)
			dup = ds_addr_equal(&out[k].addr, &c.addr);
		if (dup)
			continue;
		classify(&c, nets, nnets);
		out[n++] = c;
	}
	/* insertion order is kept for equal preference (qsort is not stable) */
	for (size_t i = 0; i < n; i++)
		out[i].pref = out[i].pref * DS_RACE_MAX * 2 + (int)i;
	qsort(out, n, sizeof(out[0]), by_pref);
	for (size_t i = 0; i < n; i++)
		out[i].pref /= DS_RACE_MAX * 2;
	return n;
}

size_t ds_race_plan_here(const struct ds_ctl_msg *info, const struct ds_ctl_client *cl,
			 bool allow4, bool allow6, struct ds_race_cand *out)
{
	struct ds_udp_net nets[DS_RACE_MAX];
	int nn = ds_udp_local_nets(nets, DS_RACE_MAX);
	bool has[2] = {false, false};

	for (int i = 0; i < nn; i++)
		has[ds_addr_family(&nets[i].addr) == AF_INET6] = true;
	return ds_race_plan(info, allow4 && has[0] && ds_ctl_sockfd(cl, AF_INET) >= 0,
			    allow6 && has[1] && ds_ctl_sockfd(cl, AF_INET6) >= 0, nets,
			    nn > 0 ? (size_t)nn : 0, out);
}

/* seq: candidate index in the high bits, attempt in the low byte */
static uint32_t seq_of(size_t i, unsigned attempt)
{
	return (uint32_t)(i + 1) << 8 | (attempt & 0xff);
}

static int send_echo(struct ds_ctl_client *cl, uint32_t run_id, const char *peer,
		     struct ds_race_cand *c, size_t i, uint64_t *bytes)
{
	struct ds_wire_echo e = {.seq = seq_of(i, c->sends), .sender_tx_ns = (uint64_t)ds_clock_ns()};
	uint8_t body[DS_WIRE_ECHO_LEN];
	struct ds_ctl_msg sent;
	int err;

	if (ds_wire_echo_encode(&e, body, sizeof(body)) < 0)
		return -EINVAL;
	err = ds_ctl_send(cl, run_id, peer, DS_WIRE_ECHO_REQUEST, body, sizeof(body), &c->addr, 0,
			  &sent);
	if (err)
		return err;
	c->sends++;
	*bytes += sent.sent.len;
	return 0;
}

/* The next moment something is due, or INT64_MAX. */
static int64_t next_due(const struct ds_race_cand *c, size_t n)
{
	int64_t t = INT64_MAX;

	for (size_t i = 0; i < n; i++)
		if (c[i].outcome == DS_RACE_PENDING && c[i].next_ns && c[i].next_ns < t)
			t = c[i].next_ns;
	return t;
}

static void on_reply(const struct ds_ctl_msg *m, struct ds_race_cand *c, size_t n,
		     uint64_t *bytes)
{
	struct ds_wire_echo e;
	size_t i;

	if (m->type != DS_CTL_PACKET || m->packet.wire_type != DS_WIRE_ECHO_REPLY ||
	    ds_wire_echo_decode(m->packet.body, m->packet.body_len, &e) < 0)
		return;
	*bytes += DS_WIRE_OVERHEAD + m->packet.body_len;
	i = (e.seq >> 8) - 1;
	if ((e.seq >> 8) == 0 || i >= n || c[i].answered_ns)
		return;
	c[i].answered_ns = m->packet.rx_ns;
	c[i].remote = m->packet.src;
	c[i].rtt_ms = (double)(m->packet.rx_ns - (int64_t)e.sender_tx_ns -
			       ((int64_t)e.responder_tx_ns - (int64_t)e.responder_rx_ns)) /
		      DS_NSEC_PER_MSEC;
	if (c[i].rtt_ms < 0)
		c[i].rtt_ms = (double)(m->packet.rx_ns - (int64_t)e.sender_tx_ns) / DS_NSEC_PER_MSEC;
}

/* Take every message waiting; the first answer by receive time wins, any other answer
 * already here lost. Returns the winner or SIZE_MAX. */
static size_t drain(struct ds_ctl_client *cl, uint8_t *buf, size_t cap, struct ds_race_cand *c,
		    size_t n, uint64_t *bytes)
{
	struct ds_ctl_msg m;
	size_t w = SIZE_MAX;

	while (ds_ctl_recv(cl, &m, buf, cap, 0) == 0)
		on_reply(&m, c, n, bytes);
	for (size_t i = 0; i < n; i++)
		if (c[i].answered_ns && (w == SIZE_MAX || c[i].answered_ns < c[w].answered_ns))
			w = i;
	if (w == SIZE_MAX)
		return w;
	for (size_t i = 0; i < n; i++)
		c[i].outcome = i == w		 ? DS_RACE_WON
			       : c[i].answered_ns ? DS_RACE_LOST
			       : c[i].outcome == DS_RACE_PENDING ? DS_RACE_CANCELLED
								  : c[i].outcome;
	return w;
}

int ds_race_run(struct ds_ctl_client *cl, uint32_t run_id, const char *peer,
		const struct ds_race_opts *o, struct ds_race_cand *c, size_t n, size_t *winner,
		uint64_t *bytes, int64_t *t0_ns)
{
	uint8_t buf[DS_CTL_MSG_MAX];
	size_t first = SIZE_MAX, open = n;
	int64_t t0 = ds_clock_ns();

	*bytes = 0;
	*t0_ns = t0;
	for (size_t i = 0; i < n; i++) {
		c[i].started_ns = c[i].answered_ns = 0;
		c[i].sends = 0;
		c[i].outcome = DS_RACE_PENDING;
		c[i].next_ns = o->sequential ? (i == 0 ? t0 : 0) : t0 + (int64_t)i * o->stagger_ns;
	}
	while (first == SIZE_MAX && open) {
		int64_t now = ds_clock_ns(), due;
		struct pollfd pfd = {.fd = ds_ctl_fd(cl), .events = POLLIN};
		int r;

		for (size_t i = 0; i < n; i++) {
			struct ds_race_cand *x = &c[i];
			int err;

			if (x->outcome != DS_RACE_PENDING || !x->next_ns || x->next_ns > now)
				continue;
			if (x->started_ns && now - x->started_ns >= o->timeout_ns) {
				x->outcome = DS_RACE_TIMEOUT;
				open--;
				/* sequential: the next candidate starts now */
				if (o->sequential && i + 1 < n && !c[i + 1].next_ns)
					c[i + 1].next_ns = now;
				continue;
			}
			if (!x->started_ns)
				x->started_ns = now;
			err = send_echo(cl, run_id, peer, x, i, bytes);
			if (err == -ENOTCONN) {
				x->next_ns = now + RETRY_HANDSHAKE_NS;
			} else if (err && err != -EAGAIN && err != -ENOBUFS) {
				/* unroutable from here (no route, no socket): it cannot win */
				x->outcome = DS_RACE_TIMEOUT;
				open--;
				if (o->sequential && i + 1 < n && !c[i + 1].next_ns)
					c[i + 1].next_ns = now;
				continue;
			} else {
				int64_t gap = RETRY_FIRST_NS << (x->sends > 1 ? x->sends - 1 : 0);

				x->next_ns = now + gap;
			}
			if (x->next_ns > x->started_ns + o->timeout_ns)
				x->next_ns = x->started_ns + o->timeout_ns;
		}
		if (!open)
			break;
		first = drain(cl, buf, sizeof(buf), c, n, bytes);
		if (first != SIZE_MAX)
			break;
		due = next_due(c, n);
		now = ds_clock_ns();
		r = poll(&pfd, 1,
			 due == INT64_MAX ? 1000
			 : due <= now     ? 0
					  : (int)((due - now + DS_NSEC_PER_MSEC - 1) / DS_NSEC_PER_MSEC));
		if (r < 0 && errno != EINTR)
			return -errno;
		/* everything queued (the client library also keeps messages that came
		 * between a request and its answer) */
		first = drain(cl, buf, sizeof(buf), c, n, bytes);
	}
	if (first != SIZE_MAX) {
		*winner = first;
		return 0;
	}
	return -ETIMEDOUT;
}
