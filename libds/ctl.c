// SPDX-License-Identifier: MIT
/* ds-ctl(7): message codec, the agent's server side and the tools' client side. */
#include "ctl.h"

#include "bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <openssl/rand.h>

#include "clock.h"
#include "loop.h"

/* ---- codec ---- */

/* Fixed-size, NUL-padded string fields. */
static int put_str(uint8_t *p, size_t field, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n >= field)
		return -EINVAL;
	memset(p, 0, field);
	if (n)
		memcpy(p, s, n);
	return 0;
}

/* A field must hold a NUL and only printable ASCII before it. */
static int get_str(const uint8_t *p, size_t field, char *out)
{
	size_t n = 0;

	while (n < field && p[n])
		n++;
	if (n == field)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return -EBADMSG;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static void put_addr(uint8_t *p, const struct ds_addr *a)
{
	memset(p, 0, DS_CTL_ADDR_LEN);
	if (!a || !a->len)
		return;
	if (a->sa.sa_family == AF_INET) {
		p[0] = 4;
		memcpy(p + 8, &a->sin.sin_addr, 4);
	} else if (a->sa.sa_family == AF_INET6) {
		p[0] = 6;
		ds_put32(p + 4, a->sin6.sin6_scope_id);
		memcpy(p + 8, &a->sin6.sin6_addr, 16);
	} else {
		return;
	}
	ds_put16(p + 2, ds_addr_port(a));
}

static int get_addr(const uint8_t *p, struct ds_addr *a)
{
	memset(a, 0, sizeof(*a));
	switch (p[0]) {
	case 0:
		return 0;
	case 4:
		a->sin.sin_family = AF_INET;
		memcpy(&a->sin.sin_addr, p + 8, 4);
		a->sin.sin_port = htons(ds_get16(p + 2));
		a->len = sizeof(a->sin);
		return 0;
	case 6:
		a->sin6.sin6_family = AF_INET6;
		memcpy(&a->sin6.sin6_addr, p + 8, 16);
		a->sin6.sin6_port = htons(ds_get16(p + 2));
		a->sin6.sin6_scope_id = ds_get32(p + 4);
		a->len = sizeof(a->sin6);
		return 0;
	default:
		return -EBADMSG;
	}
}

#define NAME_F  (DS_CTL_NAME_MAX + 1)
#define LABEL_F (DS_CTL_LABEL_MAX + 1)

/* Fixed body length of each type; the variable part (a body or a STUN message) follows. */
static int fixed_len(int type)
{
	switch (type) {
	case DS_CTL_HELLO:
		return LABEL_F;
	case DS_CTL_REGISTER:
		return LABEL_F + NAME_F;
	case DS_CTL_UNREGISTER:
		return 8 + LABEL_F;
	case DS_CTL_STUN_REGISTER:
	case DS_CTL_STUN_UNREGISTER:
		return 12;
	case DS_CTL_SEND:
		return NAME_F + 4 + DS_CTL_ADDR_LEN;
	case DS_CTL_PEER:
		return NAME_F;
	case DS_CTL_USE:
		return NAME_F + 4 + DS_CTL_ADDR_LEN;
	case DS_CTL_STATUS:
	case DS_CTL_OK:
		return 0;
	case DS_CTL_HELLO_OK:
		return 4 + NAME_F;
	case DS_CTL_ERR:
		return 4 + 64;
	case DS_CTL_PACKET:
		return NAME_F + 2 * DS_CTL_ADDR_LEN + 8 + 8 + 8 + 8;
	case DS_CTL_STUN:
		return 2 * DS_CTL_ADDR_LEN + 8 + 8;
	case DS_CTL_SENT:
		return 8 + 8 + 4;
	case DS_CTL_TXSTAMP:
		return 16;
	case DS_CTL_PEER_INFO:
		return NAME_F + 4 + 2 * DS_CTL_ADDR_LEN + 8 + 8 + 8 + 4 +
		       DS_CTL_MAX_CANDS * DS_CTL_CAND_LEN;
	default:
		return -EPROTO;
	}
}

static bool has_tail(int type)
{
	return type == DS_CTL_SEND || type == DS_CTL_PACKET || type == DS_CTL_STUN;
}

/* Largest variable part: a toolkit body, or a STUN message as large as a toolkit packet. */
static size_t tail_max(int type)
{
	return type == DS_CTL_STUN ? DS_WIRE_MAX_PACKET : DS_WIRE_BODY_MAX;
}

const char *ds_ctl_type_name(int type)
{
	static const char *const names[] = {
	    [DS_CTL_HELLO] = "hello",
	    [DS_CTL_REGISTER] = "register",
	    [DS_CTL_UNREGISTER] = "unregister",
	    [DS_CTL_STUN_REGISTER] = "stun-register",
	    [DS_CTL_STUN_UNREGISTER] = "stun-unregister",
	    [DS_CTL_SEND] = "send",
	    [DS_CTL_PEER] = "peer",
	    [DS_CTL_STATUS] = "status",
	    [DS_CTL_USE] = "use",
	};
	static const char *const answers[] = {
	    "hello-ok", "ok", "err", "packet", "stun", "sent", "txstamp", "peer-info",
	};

	if (type > 0 && type < (int)(sizeof(names) / sizeof(names[0])))
		return names[type];
	if (type >= DS_CTL_HELLO_OK && type <= DS_CTL_PEER_INFO)
		return answers[type - DS_CTL_HELLO_OK];
	return NULL;
}

int ds_ctl_encode(const struct ds_ctl_msg *m, uint8_t *buf, size_t cap)
{
	int fixed = fixed_len(m->type);
	size_t tail = 0, len;
	uint8_t *b;
	int err = 0;

	if (fixed < 0)
		return -EINVAL;
	if (m->type == DS_CTL_SEND)
		tail = m->send.body_len;
	else if (m->type == DS_CTL_PACKET)
		tail = m->packet.body_len;
	else if (m->type == DS_CTL_STUN)
		tail = m->stun.len;
	if (tail > tail_max(m->type))
		return -EMSGSIZE;
	len = DS_CTL_HDR_LEN + (size_t)fixed + tail;
	if (len > cap)
		return -EMSGSIZE;
	memset(buf, 0, DS_CTL_HDR_LEN + (size_t)fixed);
	buf[0] = m->type;
	buf[1] = DS_CTL_VERSION;
	ds_put16(buf + 2, m->flags);
	ds_put32(buf + 4, (uint32_t)len);
	ds_put32(buf + 8, m->run_id);
	ds_put32(buf + 12, m->req_id);
	b = buf + DS_CTL_HDR_LEN;
	switch (m->type) {
	case DS_CTL_HELLO:
		err = put_str(b, LABEL_F, m->hello.tool);
		break;
	case DS_CTL_REGISTER:
		err = put_str(b, LABEL_F, m->reg.test);
		if (!err)
			err = put_str(b + LABEL_F, NAME_F, m->reg.peer);
		break;
	case DS_CTL_UNREGISTER:
		ds_put64(b, m->unreg.bytes);
		err = put_str(b + 8, LABEL_F, m->unreg.outcome);
		break;
	case DS_CTL_STUN_REGISTER:
	case DS_CTL_STUN_UNREGISTER:
		memcpy(b, m->stun_reg.tid, 12);
		break;
	case DS_CTL_SEND:
		err = put_str(b, NAME_F, m->send.peer);
		b[NAME_F] = m->send.wire_type;
		b[NAME_F + 1] = m->send.send_flags;
		ds_put16(b + NAME_F + 2, (uint16_t)m->send.tos);
		put_addr(b + NAME_F + 4, &m->send.dst);
		if (tail)
			memcpy(b + fixed, m->send.body, tail);
		break;
	case DS_CTL_PEER:
		err = put_str(b, NAME_F, m->peer.peer);
		break;
	case DS_CTL_USE:
		err = put_str(b, NAME_F, m->use.peer);
		ds_put32(b + NAME_F, m->use.use_flags);
		put_addr(b + NAME_F + 4, &m->use.addr);
		break;
	case DS_CTL_HELLO_OK:
		ds_put16(b, m->hello_ok.port);
		b[2] = m->hello_ok.families;
		b[3] = m->hello_ok.caps;
		err = put_str(b + 4, NAME_F, m->hello_ok.agent);
		break;
	case DS_CTL_ERR:
		ds_put32(b, (uint32_t)m->err.err);
		err = put_str(b + 4, 64, m->err.reason);
		break;
	case DS_CTL_PACKET:
		err = put_str(b, NAME_F, m->packet.peer);
		b += NAME_F;
		put_addr(b, &m->packet.src);
		put_addr(b + DS_CTL_ADDR_LEN, &m->packet.local);
		b += 2 * DS_CTL_ADDR_LEN;
		ds_put64(b, (uint64_t)m->packet.rx_ns);
		b[8] = m->packet.rx_kernel;
		b[9] = m->packet.wire_type;
		ds_put64(b + 16, m->packet.session);
		ds_put64(b + 24, m->packet.counter);
		if (tail)
			memcpy(b + 32, m->packet.body, tail);
		break;
	case DS_CTL_STUN:
		put_addr(b, &m->stun.src);
		put_addr(b + DS_CTL_ADDR_LEN, &m->stun.local);
		b += 2 * DS_CTL_ADDR_LEN;
		ds_put64(b, (uint64_t)m->stun.rx_ns);
		b[8] = m->stun.rx_kernel;
		if (tail)
			memcpy(b + 16, m->stun.data, tail);
		break;
	case DS_CTL_SENT:
		ds_put64(b, m->sent.counter);
		ds_put64(b + 8, (uint64_t)m->sent.tx_ns);
		ds_put32(b + 16, (uint32_t)m->sent.len);
		break;
	case DS_CTL_TXSTAMP:
		ds_put64(b, m->txstamp.counter);
		ds_put64(b + 8, (uint64_t)m->txstamp.tx_ns);
		break;
	case DS_CTL_PEER_INFO:
		err = put_str(b, NAME_F, m->peer_info.peer);
		ds_put32(b + NAME_F, m->peer_info.peer_flags);
		b += NAME_F + 4;
		put_addr(b, &m->peer_info.path);
		put_addr(b + DS_CTL_ADDR_LEN, &m->peer_info.local);
		b += 2 * DS_CTL_ADDR_LEN;
		ds_put64(b, (uint64_t)m->peer_info.last_rx_age_ms);
		ds_put64(b + 8, m->peer_info.rx_packets);
		ds_put64(b + 16, m->peer_info.tx_packets);
		b += 24;
		if (m->peer_info.ncands > DS_CTL_MAX_CANDS)
			return -EINVAL;
		b[0] = m->peer_info.ncands;
		for (unsigned i = 0; i < m->peer_info.ncands; i++) {
			uint8_t *q = b + 4 + i * DS_CTL_CAND_LEN;

			q[0] = m->peer_info.cands[i].kind;
			put_addr(q + 4, &m->peer_info.cands[i].addr);
		}
		break;
	default:
		break;
	}
	return err ? err : (int)len;
}

int ds_ctl_decode(const uint8_t *buf, size_t len, struct ds_ctl_msg *m)
{
	const uint8_t *b;
	size_t tail;
	int fixed;

	memset(m, 0, sizeof(*m));
	if (len < DS_CTL_HDR_LEN || ds_get32(buf + 4) != len)
		return -EBADMSG;
	if (buf[1] != DS_CTL_VERSION)
		return -EPROTONOSUPPORT;
	fixed = fixed_len(buf[0]);
	if (fixed < 0)
		return -EPROTO;
	if (len < DS_CTL_HDR_LEN + (size_t)fixed)
		return -EBADMSG;
	tail = len - DS_CTL_HDR_LEN - (size_t)fixed;
	if ((!has_tail(buf[0]) && tail) || tail > tail_max(buf[0]))
		return -EBADMSG;
	m->type = buf[0];
	m->flags = ds_get16(buf + 2);
	m->run_id = ds_get32(buf + 8);
	m->req_id = ds_get32(buf + 12);
	b = buf + DS_CTL_HDR_LEN;
	switch (m->type) {
	case DS_CTL_HELLO:
		return get_str(b, LABEL_F, m->hello.tool);
	case DS_CTL_REGISTER:
		if (m->run_id == 0)
			return -EBADMSG;
		if (get_str(b, LABEL_F, m->reg.test) || get_str(b + LABEL_F, NAME_F, m->reg.peer))
			return -EBADMSG;
		return 0;
	case DS_CTL_UNREGISTER:
		m->unreg.bytes = ds_get64(b);
		return get_str(b + 8, LABEL_F, m->unreg.outcome);
	case DS_CTL_STUN_REGISTER:
	case DS_CTL_STUN_UNREGISTER:
		memcpy(m->stun_reg.tid, b, 12);
		return 0;
	case DS_CTL_SEND:
		if (get_str(b, NAME_F, m->send.peer))
			return -EBADMSG;
		m->send.wire_type = b[NAME_F];
		m->send.send_flags = b[NAME_F + 1];
		m->send.tos = (int16_t)ds_get16(b + NAME_F + 2);
		if (m->send.tos < -1 || m->send.tos > 255)
			return -EBADMSG;
		if (get_addr(b + NAME_F + 4, &m->send.dst))
			return -EBADMSG;
		m->send.body = b + fixed;
		m->send.body_len = tail;
		return 0;
	case DS_CTL_PEER:
		return get_str(b, NAME_F, m->peer.peer);
	case DS_CTL_USE:
		if (get_str(b, NAME_F, m->use.peer) || get_addr(b + NAME_F + 4, &m->use.addr) ||
		    !m->use.addr.len)
			return -EBADMSG;
		m->use.use_flags = ds_get32(b + NAME_F);
		return 0;
	case DS_CTL_STATUS:
	case DS_CTL_OK:
		return 0;
	case DS_CTL_HELLO_OK:
		m->hello_ok.port = ds_get16(b);
		m->hello_ok.families = b[2];
		m->hello_ok.caps = b[3];
		return get_str(b + 4, NAME_F, m->hello_ok.agent);
	case DS_CTL_ERR:
		m->err.err = (int32_t)ds_get32(b);
		if (m->err.err <= 0 || m->err.err > 4095)
			return -EBADMSG;
		return get_str(b + 4, 64, m->err.reason);
	case DS_CTL_PACKET:
		if (get_str(b, NAME_F, m->packet.peer))
			return -EBADMSG;
		b += NAME_F;
		if (get_addr(b, &m->packet.src) || get_addr(b + DS_CTL_ADDR_LEN, &m->packet.local))
			return -EBADMSG;
		b += 2 * DS_CTL_ADDR_LEN;
		m->packet.rx_ns = (int64_t)ds_get64(b);
		m->packet.rx_kernel = b[8];
		m->packet.wire_type = b[9];
		m->packet.session = ds_get64(b + 16);
		m->packet.counter = ds_get64(b + 24);
		m->packet.body = b + 32;
		m->packet.body_len = tail;
		return 0;
	case DS_CTL_STUN:
		if (get_addr(b, &m->stun.src) || get_addr(b + DS_CTL_ADDR_LEN, &m->stun.local))
			return -EBADMSG;
		b += 2 * DS_CTL_ADDR_LEN;
		m->stun.rx_ns = (int64_t)ds_get64(b);
		m->stun.rx_kernel = b[8];
		m->stun.data = b + 16;
		m->stun.len = tail;
		return 0;
	case DS_CTL_SENT:
		m->sent.counter = ds_get64(b);
		m->sent.tx_ns = (int64_t)ds_get64(b + 8);
		m->sent.len = ds_get32(b + 16);
		return 0;
	case DS_CTL_TXSTAMP:
		m->txstamp.counter = ds_get64(b);
		m->txstamp.tx_ns = (int64_t)ds_get64(b + 8);
		return 0;
	case DS_CTL_PEER_INFO:
		if (get_str(b, NAME_F, m->peer_info.peer))
			return -EBADMSG;
		m->peer_info.peer_flags = ds_get32(b + NAME_F);
		b += NAME_F + 4;
		if (get_addr(b, &m->peer_info.path) ||
		    get_addr(b + DS_CTL_ADDR_LEN, &m->peer_info.local))
			return -EBADMSG;
		b += 2 * DS_CTL_ADDR_LEN;
		m->peer_info.last_rx_age_ms = (int64_t)ds_get64(b);
		m->peer_info.rx_packets = ds_get64(b + 8);
		m->peer_info.tx_packets = ds_get64(b + 16);
		b += 24;
		m->peer_info.ncands = b[0];
		if (m->peer_info.ncands > DS_CTL_MAX_CANDS)
			return -EBADMSG;
		for (unsigned i = 0; i < m->peer_info.ncands; i++) {
			const uint8_t *q = b + 4 + i * DS_CTL_CAND_LEN;

			m->peer_info.cands[i].kind = q[0];
			if (q[0] < 1 || q[0] > 4 || get_addr(q + 4, &m->peer_info.cands[i].addr) ||
			    !m->peer_info.cands[i].addr.len)
				return -EBADMSG;
		}
		return 0;
	default:
		return -EPROTO;
	}
}

const char *ds_ctl_path_kind(uint32_t peer_flags, const struct ds_addr *path)
{
	if (!path || !path->len)
		return "";
	if (peer_flags & DS_CTL_PEER_RELAYED)
		return "relay";
	if (peer_flags & DS_CTL_PEER_LAN)
		return "lan";
	if (ds_addr_family(path) == AF_INET6)
		return "v6";
	if (peer_flags & DS_CTL_PEER_PUNCHED)
		return "punch";
	return "direct";
}

int ds_ctl_sock_path(const char *state_dir, char *buf, size_t len)
{
	struct sockaddr_un sun;
	int n = snprintf(buf, len, "%s/%s", state_dir, DS_CTL_SOCK_NAME);

	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	return 0;
}

/* ---- server ---- */

#define MAX_CLIENTS   256
#define RUN_SLOTS     4096 /* power of two; at most half used */
#define MAX_STUN_TIDS 256

struct run_reg {
	uint32_t id;
	char test[LABEL_F];
	char peer[NAME_F];
};

struct ds_ctl_client_ref {
	struct ds_ctl_server *srv;
	int fd;
	char tool[LABEL_F];
	struct run_reg runs[DS_CTL_MAX_RUNS_PER_CLIENT];
	unsigned nruns;
	struct ds_ctl_client_ref *next;
};

struct run_slot {
	uint32_t id; /* 0 = free */
	struct ds_ctl_client_ref *c;
};

struct stun_slot {
	uint8_t tid[12];
	struct ds_ctl_client_ref *c;
};

struct ds_ctl_server {
	struct ds_loop *loop;
	int lfd;
	char path[108];
	struct ds_ctl_ops ops;
	struct ds_ctl_client_ref *clients;
	unsigned nclients, nruns;
	struct run_slot runs[RUN_SLOTS];
	struct stun_slot tids[MAX_STUN_TIDS];
	unsigned ntids;
	uint64_t backlog_drops;
	uint8_t buf[DS_CTL_MSG_MAX];
};

static size_t run_hash(uint32_t id)
{
	return (id * 2654435761u) & (RUN_SLOTS - 1);
}

static struct run_slot *run_find(const struct ds_ctl_server *s, uint32_t id)
{
	for (size_t i = run_hash(id), n = 0; n < RUN_SLOTS; i = (i + 1) & (RUN_SLOTS - 1), n++) {
		const struct run_slot *r = &s->runs[i];

		if (r->id == id)
			return (struct run_slot *)r;
		if (r->id == 0)
			return NULL;
	}
	return NULL;
}

static int run_insert(struct ds_ctl_server *s, uint32_t id, struct ds_ctl_client_ref *c)
{
	size_t i;

	if (s->nruns >= RUN_SLOTS / 2)
		return -ENOSPC;
	if (run_find(s, id))
		return -EEXIST;
	for (i = run_hash(id); s->runs[i].id; i = (i + 1) & (RUN_SLOTS - 1))
		;
	s->runs[i].id = id;
	s->runs[i].c = c;
	s->nruns++;
	return 0;
}

/* Linear probing deletion by backward shift: no tombstones. */
static void run_remove(struct ds_ctl_server *s, uint32_t id)
{
	struct run_slot *r = run_find(s, id);
	size_t i, j;

	if (!r)
		return;
	i = (size_t)(r - s->runs);
	s->runs[i].id = 0;
	s->nruns--;
	for (j = (i + 1) & (RUN_SLOTS - 1); s->runs[j].id; j = (j + 1) & (RUN_SLOTS - 1)) {
		size_t h = run_hash(s->runs[j].id);

		/* Move j into the hole i when its home h is not in (i, j]. */
		if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
			s->runs[i] = s->runs[j];
			s->runs[j].id = 0;
			i = j;
		}
	}
}

static int send_msg(int fd, const struct ds_ctl_msg *m, uint8_t *buf, const int *fds, size_t nfds)
{
	union {
		uint8_t b[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr align;
	} ctrl;
	int len = ds_ctl_encode(m, buf, DS_CTL_MSG_MAX);
	struct iovec iov;
	struct msghdr mh = {0};

	if (len < 0)
		return len;
	iov = (struct iovec){.iov_base = buf, .iov_len = (size_t)len};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctrl, 0, sizeof(ctrl));
		mh.msg_control = ctrl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

static void client_drop(struct ds_ctl_server *s, struct ds_ctl_client_ref *c)
{
	struct ds_ctl_client_ref **pp;

	for (unsigned i = 0; i < c->nruns; i++) {
		run_remove(s, c->runs[i].id);
		if (s->ops.run_end)
			s->ops.run_end(s->ops.arg, c->runs[i].id, c->tool, c->runs[i].test,
				       c->runs[i].peer, 0, "aborted");
	}
	for (unsigned i = 0; i < s->ntids;) {
		if (s->tids[i].c == c)
			s->tids[i] = s->tids[--s->ntids];
		else
			i++;
	}
	for (pp = &s->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	ds_loop_del_fd(s->loop, c->fd);
	close(c->fd);
	s->nclients--;
	free(c);
}

static int answer(struct ds_ctl_server *s, struct ds_ctl_client_ref *c,
		  const struct ds_ctl_msg *req, int err, struct ds_ctl_msg *ans)
{
	struct ds_ctl_msg e = {0};

	if (err < 0) {
		e.type = DS_CTL_ERR;
		e.err.err = -err;
		snprintf(e.err.reason, sizeof(e.err.reason), "%s", strerror(-err));
		ans = &e;
	} else if (!ans) {
		e.type = DS_CTL_OK;
		ans = &e;
	}
	ans->run_id = req->run_id;
	ans->req_id = req->req_id;
	return send_msg(c->fd, ans, s->buf, NULL, 0);
}

static int client_unregister(struct ds_ctl_server *s, struct ds_ctl_client_ref *c, uint32_t id,
			     uint64_t bytes, const char *outcome)
{
	for (unsigned i = 0; i < c->nruns; i++) {
		if (c->runs[i].id != id)
			continue;
		run_remove(s, id);
		if (s->ops.run_end)
			s->ops.run_end(s->ops.arg, id, c->tool, c->runs[i].test, c->runs[i].peer,
				       bytes, outcome);
		c->runs[i] = c->runs[--c->nruns];
		return 0;
	}
	return -ENOENT;
}

/* Handle one request; a negative return drops the client (it broke the protocol or its
 * socket failed). */
static int client_request(struct ds_ctl_server *s, struct ds_ctl_client_ref *c, const uint8_t *buf,
			  size_t len)
{
	struct ds_ctl_msg m, ans;
	int err;

	if (ds_ctl_decode(buf, len, &m) < 0 || m.type >= DS_CTL_HELLO_OK)
		return -EPROTO;
	memset(&ans, 0, sizeof(ans));
	switch (m.type) {
	case DS_CTL_HELLO: {
		int fds[2];
		size_t nfds = 0;

		snprintf(c->tool, sizeof(c->tool), "%s", m.hello.tool);
		ans.type = DS_CTL_HELLO_OK;
		if (s->ops.hello)
			s->ops.hello(s->ops.arg, &ans, fds, &nfds);
		ans.run_id = m.run_id;
		ans.req_id = m.req_id;
		return send_msg(c->fd, &ans, s->buf, fds, nfds);
	}
	case DS_CTL_REGISTER:
		if (c->nruns >= DS_CTL_MAX_RUNS_PER_CLIENT)
			return answer(s, c, &m, -ENOSPC, NULL);
		err = run_insert(s, m.run_id, c);
		if (!err) {
			struct run_reg *r = &c->runs[c->nruns++];

			r->id = m.run_id;
			memcpy(r->test, m.reg.test, sizeof(r->test));
			memcpy(r->peer, m.reg.peer, sizeof(r->peer));
		}
		return answer(s, c, &m, err, NULL);
	case DS_CTL_UNREGISTER:
		err = client_unregister(s, c, m.run_id, m.unreg.bytes,
					m.unreg.outcome[0] ? m.unreg.outcome : "ok");
		return answer(s, c, &m, err, NULL);
	case DS_CTL_STUN_REGISTER:
		err = s->ntids < MAX_STUN_TIDS ? 0 : -ENOSPC;
		for (unsigned i = 0; !err && i < s->ntids; i++)
			if (memcmp(s->tids[i].tid, m.stun_reg.tid, 12) == 0)
				err = -EEXIST;
		if (!err) {
			memcpy(s->tids[s->ntids].tid, m.stun_reg.tid, 12);
			s->tids[s->ntids++].c = c;
		}
		return answer(s, c, &m, err, NULL);
	case DS_CTL_STUN_UNREGISTER:
		err = -ENOENT;
		for (unsigned i = 0; i < s->ntids; i++) {
			if (s->tids[i].c == c && memcmp(s->tids[i].tid, m.stun_reg.tid, 12) == 0) {
				s->tids[i] = s->tids[--s->ntids];
				err = 0;
				break;
			}
		}
		return answer(s, c, &m, err, NULL);
	case DS_CTL_SEND:
		if (!run_find(s, m.run_id) || run_find(s, m.run_id)->c != c)
			return answer(s, c, &m, -EPERM, NULL); /* only under its own runs */
		err = s->ops.send ? s->ops.send(s->ops.arg, c, &m, &ans) : -ENOSYS;
		return answer(s, c, &m, err, err < 0 ? NULL : &ans);
	case DS_CTL_PEER:
		err = s->ops.peer ? s->ops.peer(s->ops.arg, &m, &ans) : -ENOSYS;
		return answer(s, c, &m, err, err < 0 ? NULL : &ans);
	case DS_CTL_USE:
		err = s->ops.use ? s->ops.use(s->ops.arg, &m) : -ENOSYS;
		return answer(s, c, &m, err, NULL);
	case DS_CTL_STATUS:
		err = s->ops.status ? s->ops.status(s->ops.arg) : -ENOSYS;
		return answer(s, c, &m, err, NULL);
	default:
		return -EPROTO;
	}
}

static void on_client(struct ds_loop *l, int fd, uint32_t events, void *arg)
{
	struct ds_ctl_client_ref *c = arg;
	struct ds_ctl_server *s = c->srv;
	uint8_t in[DS_CTL_MSG_MAX];

	for (int i = 0; i < 32; i++) {
		ssize_t n = recv(fd, in, sizeof(in), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0 || (size_t)n > sizeof(in) || client_request(s, c, in, (size_t)n) < 0) {
			client_drop(s, c);
			return;
		}
	}
	(void)l;
	(void)events;
}

static void on_accept(struct ds_loop *l, int fd, uint32_t events, void *arg)
{
	struct ds_ctl_server *s = arg;

	for (int i = 0; i < 16; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ds_ctl_client_ref *c;

		if (cfd < 0)
			return;
		if (s->nclients >= MAX_CLIENTS) {
			close(cfd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->srv = s;
		c->fd = cfd;
		if (ds_loop_add_fd(l, cfd, EPOLLIN, on_client, c) < 0) {
			close(cfd);
			free(c);
			continue;
		}
		c->next = s->clients;
		s->clients = c;
		s->nclients++;
	}
	(void)events;
}

int ds_ctl_server_new(struct ds_loop *loop, const char *state_dir, const struct ds_ctl_ops *ops,
		      struct ds_ctl_server **out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct ds_ctl_server *s;
	mode_t old;
	int err, probe;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->ops = *ops;
	s->lfd = -1;
	err = ds_ctl_sock_path(state_dir, s->path, sizeof(s->path));
	if (err)
		goto fail;
	memcpy(sun.sun_path, s->path, strlen(s->path) + 1);
	/* A live agent answers a connect; a dead one's socket file refuses it. */
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		int r = connect(probe, (struct sockaddr *)&sun, sizeof(sun));

		close(probe);
		if (r == 0) {
			err = -EADDRINUSE;
			goto fail;
		}
		if (errno == ECONNREFUSED)
			unlink(s->path);
	}
	s->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		err = -errno;
		goto fail;
	}
	old = umask(0117);
	err = bind(s->lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno : 0;
	umask(old);
	if (err)
		goto fail;
	if (chmod(s->path, 0660) < 0 || listen(s->lfd, 64) < 0) {
		err = -errno;
		unlink(s->path);
		goto fail;
	}
	err = ds_loop_add_fd(loop, s->lfd, EPOLLIN, on_accept, s);
	if (err) {
		unlink(s->path);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	free(s);
	return err;
}

void ds_ctl_server_free(struct ds_ctl_server *s)
{
	if (!s)
		return;
	while (s->clients)
		client_drop(s, s->clients);
	ds_loop_del_fd(s->loop, s->lfd);
	close(s->lfd);
	unlink(s->path);
	free(s);
}

static int forward_to(struct ds_ctl_server *s, struct ds_ctl_client_ref *c,
		      const struct ds_ctl_msg *m)
{
	int err = send_msg(c->fd, m, s->buf, NULL, 0);

	if (err == -EAGAIN || err == -EWOULDBLOCK || err == -ENOBUFS) {
		s->backlog_drops++;
		return -EAGAIN;
	}
	if (err < 0)
		client_drop(s, c); /* gone: its registrations go with it */
	return err;
}

int ds_ctl_server_forward(struct ds_ctl_server *s, const struct ds_ctl_msg *m)
{
	struct run_slot *r = run_find(s, m->run_id);

	if (!r || m->run_id == 0)
		return -ENOENT;
	return forward_to(s, r->c, m);
}

int ds_ctl_server_send_to_run(struct ds_ctl_server *s, uint32_t run_id, const struct ds_ctl_msg *m)
{
	struct run_slot *r = run_find(s, run_id);

	if (!r || run_id == 0)
		return -ENOENT;
	return forward_to(s, r->c, m);
}

int ds_ctl_server_forward_stun(struct ds_ctl_server *s, const uint8_t tid[12],
			       const struct ds_ctl_msg *m)
{
	for (unsigned i = 0; i < s->ntids; i++)
		if (memcmp(s->tids[i].tid, tid, 12) == 0)
			return forward_to(s, s->tids[i].c, m);
	return -ENOENT;
}

bool ds_ctl_server_has_run(const struct ds_ctl_server *s, uint32_t run_id)
{
	return run_id && run_find(s, run_id) != NULL;
}

unsigned ds_ctl_server_clients(const struct ds_ctl_server *s)
{
	return s->nclients;
}

unsigned ds_ctl_server_runs(const struct ds_ctl_server *s)
{
	return s->nruns;
}

uint64_t ds_ctl_server_backlog_drops(const struct ds_ctl_server *s)
{
	return s->backlog_drops;
}

/* ---- client ---- */

#define QUEUE_MAX 512

struct ds_ctl_client {
	int fd;
	int fd4, fd6;
	uint16_t port;
	char agent[NAME_F];
	uint32_t next_req;
	/* Forwarded messages that arrived while waiting for an answer. */
	uint8_t *queue[QUEUE_MAX];
	uint16_t qlen[QUEUE_MAX];
	unsigned qhead, qcount;
	uint8_t buf[DS_CTL_MSG_MAX];
};

uint32_t ds_ctl_run_id_random(void)
{
	uint32_t id = 0;

	while (id == 0)
		if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
			id = (uint32_t)ds_clock_ns() ^ (uint32_t)getpid();
	return id;
}

static bool is_answer(uint8_t type)
{
	return type == DS_CTL_HELLO_OK || type == DS_CTL_OK || type == DS_CTL_ERR ||
	       type == DS_CTL_SENT || type == DS_CTL_PEER_INFO;
}

static void enqueue(struct ds_ctl_client *c, const uint8_t *buf, size_t len)
{
	unsigned slot;

	if (c->qcount == QUEUE_MAX)
		return; /* the tool is not reading: like a full socket buffer, drop */
	slot = (c->qhead + c->qcount) % QUEUE_MAX;
	if (!c->queue[slot] && !(c->queue[slot] = malloc(DS_CTL_MSG_MAX)))
		return;
	memcpy(c->queue[slot], buf, len);
	c->qlen[slot] = (uint16_t)len;
	c->qcount++;
}

/* Receive one message (with descriptors when fds != NULL) within timeout_ms. */
static int recv_one(struct ds_ctl_client *c, uint8_t *buf, size_t cap, int timeout_ms, int *fds,
		    size_t *nfds)
{
	union {
		uint8_t b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	ssize_t n;
	int r;

	r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	mh.msg_control = ctrl.b;
	mh.msg_controllen = sizeof(ctrl.b);
	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (n == 0)
		return -ECONNRESET;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int got[4];

			memcpy(got, CMSG_DATA(cm), k * sizeof(int));
			for (size_t i = 0; i < k; i++) {
				if (fds && *nfds < 2)
					fds[(*nfds)++] = got[i];
				else
					close(got[i]);
			}
		}
	}
	if (mh.msg_flags & MSG_TRUNC)
		return -EBADMSG;
	return (int)n;
}

/* Send a request and wait for its answer (forwarded traffic meanwhile is queued). */
static int request(struct ds_ctl_client *c, struct ds_ctl_msg *m, struct ds_ctl_msg *ans, int *fds,
		   size_t *nfds)
{
	int64_t deadline = ds_clock_ns() + 2 * DS_NSEC_PER_SEC;
	int len, err;

	m->req_id = ++c->next_req;
	len = ds_ctl_encode(m, c->buf, sizeof(c->buf));
	if (len < 0)
		return len;
	if (send(c->fd, c->buf, (size_t)len, MSG_NOSIGNAL) < 0)
		return -errno;
	for (;;) {
		int64_t left = (deadline - ds_clock_ns()) / DS_NSEC_PER_MSEC;

		if (left < 0)
			return -ETIMEDOUT;
		len = recv_one(c, c->buf, sizeof(c->buf), (int)left, fds, nfds);
		if (len < 0)
			return len;
		if (ds_ctl_decode(c->buf, (size_t)len, ans) < 0)
			return -EPROTO;
		if (!is_answer(ans->type)) {
			enqueue(c, c->buf, (size_t)len);
			continue;
		}
		if (ans->req_id != m->req_id)
			continue; /* a late answer to an earlier request that timed out */
		if (ans->type == DS_CTL_ERR)
			return -ans->err.err;
		err = 0;
		return err;
	}
}

static void set_label(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%.*s", (int)cap - 1, s ? s : "");
}

int ds_ctl_connect(const char *state_dir, const char *tool, uint32_t run_id, const char *test,
		   const char *peer, struct ds_ctl_client **out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct ds_ctl_client *c;
	struct ds_ctl_msg m = {.type = DS_CTL_HELLO}, ans;
	char path[sizeof(sun.sun_path)];
	int fds[2], err;
	size_t nfds = 0;

	err = ds_ctl_sock_path(state_dir, path, sizeof(path));
	if (err)
		return err;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd4 = c->fd6 = -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = -errno;
		goto fail;
	}
	set_label(m.hello.tool, sizeof(m.hello.tool), tool);
	err = request(c, &m, &ans, fds, &nfds);
	if (!err && ans.type != DS_CTL_HELLO_OK)
		err = -EPROTO;
	if (err) {
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		goto fail;
	}
	c->port = ans.hello_ok.port;
	memcpy(c->agent, ans.hello_ok.agent, sizeof(c->agent));
	{
		size_t k = 0;

		if ((ans.hello_ok.families & 1) && k < nfds)
			c->fd4 = fds[k++];
		if ((ans.hello_ok.families & 2) && k < nfds)
			c->fd6 = fds[k++];
		while (k < nfds)
			close(fds[k++]);
	}
	if (run_id) {
		err = ds_ctl_register(c, run_id, test, peer);
		if (err)
			goto fail;
	}
	*out = c;
	return 0;
fail:
	ds_ctl_close(c);
	return err;
}

void ds_ctl_close(struct ds_ctl_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->fd4 >= 0)
		close(c->fd4);
	if (c->fd6 >= 0)
		close(c->fd6);
	for (unsigned i = 0; i < QUEUE_MAX; i++)
		free(c->queue[i]);
	free(c);
}

int ds_ctl_register(struct ds_ctl_client *c, uint32_t run_id, const char *test, const char *peer)
{
	struct ds_ctl_msg m = {.type = DS_CTL_REGISTER, .run_id = run_id}, ans;

	if (run_id == 0)
		return -EINVAL;
	set_label(m.reg.test, sizeof(m.reg.test), test);
	set_label(m.reg.peer, sizeof(m.reg.peer), peer);
	return request(c, &m, &ans, NULL, NULL);
}

int ds_ctl_unregister(struct ds_ctl_client *c, uint32_t run_id, uint64_t bytes, const char *outcome)
{
	struct ds_ctl_msg m = {.type = DS_CTL_UNREGISTER, .run_id = run_id}, ans;

	m.unreg.bytes = bytes;
	set_label(m.unreg.outcome, sizeof(m.unreg.outcome), outcome ? outcome : "ok");
	return request(c, &m, &ans, NULL, NULL);
}

int ds_ctl_stun_register(struct ds_ctl_client *c, const uint8_t tid[12])
{
	struct ds_ctl_msg m = {.type = DS_CTL_STUN_REGISTER}, ans;

	memcpy(m.stun_reg.tid, tid, 12);
	return request(c, &m, &ans, NULL, NULL);
}

int ds_ctl_sockfd(const struct ds_ctl_client *c, int family)
{
	return family == AF_INET ? c->fd4 : family == AF_INET6 ? c->fd6 : -1;
}

uint16_t ds_ctl_port(const struct ds_ctl_client *c)
{
	return c->port;
}

const char *ds_ctl_agent_name(const struct ds_ctl_client *c)
{
	return c->agent;
}

int ds_ctl_fd(const struct ds_ctl_client *c)
{
	return c->fd;
}

int ds_ctl_send(struct ds_ctl_client *c, uint32_t run_id, const char *peer, uint8_t wire_type,
		const void *body, size_t body_len, const struct ds_addr *dst, unsigned flags,
		struct ds_ctl_msg *sent)
{
	struct ds_ctl_msg m = {.type = DS_CTL_SEND, .run_id = run_id}, ans;
	int err;

	if (!peer || strlen(peer) > DS_CTL_NAME_MAX)
		return -EINVAL;
	set_label(m.send.peer, sizeof(m.send.peer), peer);
	m.send.wire_type = wire_type;
	m.send.send_flags = (uint8_t)flags;
	m.send.tos = -1;
	if (dst)
		m.send.dst = *dst;
	m.send.body = body;
	m.send.body_len = body_len;
	err = request(c, &m, &ans, NULL, NULL);
	if (!err && sent)
		*sent = ans;
	return err;
}

int ds_ctl_peer(struct ds_ctl_client *c, const char *peer, struct ds_ctl_msg *info)
{
	struct ds_ctl_msg m = {.type = DS_CTL_PEER}, ans;
	int err;

	if (!peer || strlen(peer) > DS_CTL_NAME_MAX)
		return -EINVAL;
	set_label(m.peer.peer, sizeof(m.peer.peer), peer);
	err = request(c, &m, &ans, NULL, NULL);
	if (!err && info)
		*info = ans;
	return err;
}

int ds_ctl_use(struct ds_ctl_client *c, const char *peer, const struct ds_addr *addr,
	       uint32_t flags)
{
	struct ds_ctl_msg m = {.type = DS_CTL_USE}, ans;

	if (!peer || strlen(peer) > DS_CTL_NAME_MAX || !addr || !addr->len)
		return -EINVAL;
	set_label(m.use.peer, sizeof(m.use.peer), peer);
	m.use.use_flags = flags;
	m.use.addr = *addr;
	return request(c, &m, &ans, NULL, NULL);
}

int ds_ctl_status(struct ds_ctl_client *c)
{
	struct ds_ctl_msg m = {.type = DS_CTL_STATUS}, ans;

	return request(c, &m, &ans, NULL, NULL);
}

int ds_ctl_recv(struct ds_ctl_client *c, struct ds_ctl_msg *m, uint8_t *buf, size_t cap,
		int timeout_ms)
{
	int64_t deadline = ds_clock_ns() + (int64_t)timeout_ms * DS_NSEC_PER_MSEC;

	if (cap < DS_CTL_MSG_MAX)
		return -EINVAL;
	while (c->qcount) {
		unsigned slot = c->qhead;
		size_t len = c->qlen[slot];

		c->qhead = (c->qhead + 1) % QUEUE_MAX;
		c->qcount--;
		memcpy(buf, c->queue[slot], len);
		if (ds_ctl_decode(buf, len, m) == 0)
			return 0;
	}
	for (;;) {
		int left =
		    timeout_ms < 0 ? -1 : (int)((deadline - ds_clock_ns()) / DS_NSEC_PER_MSEC);
		int len;

		if (timeout_ms >= 0 && left < 0)
			left = 0;
		len = recv_one(c, buf, cap, left, NULL, NULL);
		if (len < 0)
			return len;
		if (ds_ctl_decode(buf, (size_t)len, m) < 0)
			return -EPROTO;
		if (!is_answer(m->type))
			return 0;
		/* a stray answer (to a request that timed out): skip it */
	}
}
