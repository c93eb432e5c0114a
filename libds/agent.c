// SPDX-License-Identifier: MIT
/* The agent engine: warm port, authenticated answers, sessions, paths, STUN, candidates. */
#include "agent.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>

#include <openssl/rand.h>

#include "agentrelay.h"
#include "agentstate.h"
#include "clock.h"
#include "ctl.h"
#include "msg.h"
#include "pair.h"
#include "stun.h"
#include "stunclient.h"
#include "udp.h"
#include "wire.h"

#define RATE_BUCKETS 4096 /* power of two */
#define RUN_SLOTS    1024 /* power of two: responder-side runs tracked for the audit log */
#define RUN_IDLE_NS  (10LL * DS_NSEC_PER_SEC)
#define PAIR_JOBS    16 /* packet-pair answers with gaps in progress */
#define OUT_MAX      DS_UDP_BATCH
#define FAM_IDX(f)   ((f) == AF_INET6 ? 1 : 0)

static const char *const drop_names[DS_DROP_COUNT] = {
    [DS_DROP_TRUNCATED] = "truncated",
    [DS_DROP_NOT_OURS] = "not-ours",
    [DS_DROP_BAD_TYPE] = "bad-type",
    [DS_DROP_BAD_VERSION] = "bad-version",
    [DS_DROP_RATE_LIMITED] = "rate-limited",
    [DS_DROP_UNKNOWN_KEY] = "unknown-key",
    [DS_DROP_BAD_TAG] = "bad-tag",
    [DS_DROP_LIMIT] = "limit",
    [DS_DROP_REPLAY] = "replay",
    [DS_DROP_STALE] = "stale",
    [DS_DROP_UNPROVEN] = "unproven-session",
    [DS_DROP_MALFORMED] = "malformed",
    [DS_DROP_NO_RUN] = "no-run",
    [DS_DROP_CTL_BACKLOG] = "ctl-backlog",
    [DS_DROP_STUN] = "stun-unexpected",
    [DS_DROP_UNEXPECTED] = "unexpected",
};

const char *ds_agent_drop_name(int reason)
{
	return reason >= 0 && reason < DS_DROP_COUNT ? drop_names[reason] : NULL;
}

struct ds_agent;

struct apeer {
	struct ds_agent *a;
	const struct ds_peer *cfg;
	struct ds_pair_keys keys;              /* derived at start */
	struct ds_pair *pair;                  /* made when first needed (see pair_of) */
	struct ds_addr path[2], path_local[2]; /* per family: where it was last heard from */
	int64_t path_rx_ns[2];                 /* monotonic, 0 = never confirmed */
	bool path_punched[2];                  /* opened by a coordinated punch (ds-ctl USE) */
	int use_fam;                           /* family of the last race's winner, -1 none */
	/* a coordinated punch in progress (ds-wire(7) punch hint): IPv4 targets */
	struct ds_timer punch_t;
	struct ds_wire_punch punch;
	unsigned punch_round;
	int64_t punch_started_ns; /* 0 = none running */
	int64_t punch_hint_ns;    /* last hint taken from the peer (one per PUNCH_HINT_GAP) */
	uint32_t punch_hint_id;   /* and its id: the wire and rendezvous copies are one hint */
	int64_t confirmed_rt_ns[2];            /* realtime, for paths.csv */
	struct ds_cand *cands; /* DS_CAND_MAX, allocated when the peer publishes any */
	size_t ncands;
	int64_t cand_mtime;
	int64_t last_rx_ns;
	uint64_t rx, tx;
	int64_t backoff_ns;
	int64_t cand_punch_ns; /* last keepalives sent to fresh candidates */
	uint32_t probe_seq;    /* the agent's own echo requests (run 0) */
	int64_t rtt_ns;        /* of the last one answered; 0 = none */
	struct ds_timer ka;
	/* the relay path (see libds/agentrelay.h): used only while no direct path works */
	struct ds_addr relay_path, relay_local; /* relay_local marked: through our allocation */
	int64_t relay_rx_ns;                    /* monotonic, 0 = never heard through it */
};

struct bucket {
	uint64_t key;
	double tokens;
	int64_t last_ns;
};

struct run {
	uint64_t key; /* peer index + 1 << 32 | run id; 0 = free */
	const char *test;
	int64_t first_ns, last_ns;
	uint64_t bytes, packets;
	uint32_t rx_count;
	bool refused;
};

struct pair_job {
	bool busy;
	struct apeer *p;
	int fd;
	struct ds_addr dst, local;
	uint32_t run_id;
	struct ds_wire_pair_request req;
	uint16_t next;
	struct ds_timer t;
	struct ds_agent *a;
};

struct outq {
	int fd;
	size_t n;
	struct ds_udp_msg m[OUT_MAX];
	uint8_t buf[OUT_MAX][DS_WIRE_MAX_PACKET + DS_TURN_SEND_OVERHEAD]; /* room to wrap */
};

struct ds_agent {
	struct ds_agent_config cfg;
	struct ds_loop *loop;
	struct ds_udp *udp;
	struct ds_ctl_server *ctl;
	struct apeer *peers;
	size_t npeers;
	/* pair id -> peer, and name -> peer: open addressing, index + 1, 0 = empty */
	uint64_t *id_keys;
	uint32_t *id_vals;
	uint32_t *name_vals;
	size_t map_size;
	uint64_t my_session;
	struct bucket *buckets;
	struct run runs[RUN_SLOTS];
	unsigned nruns;
	struct pair_job jobs[PAIR_JOBS];
	bool mesh_off, fleet_off;
	uint64_t drops[DS_DROP_COUNT];
	uint64_t answered, refused, rx_total;
	int audit_fd;
	bool paths_dirty;
	int64_t started_ns;
	/* STUN */
	struct ds_stun_client *stun;
	struct ds_stun_retrans stun_retrans;
	struct ds_addr srflx[2];
	struct ds_cand published[DS_CAND_MAX];
	size_t npublished;
	struct ds_udp_net nets[DS_CAND_MAX]; /* our own subnets: on-link peers are same-LAN */
	size_t nnets;
	bool no_source[2]; /* per family: no address but loopback and link-local */
	bool publish_failed;
	int64_t last_refresh_ns;
	int64_t status_ns; /* when the status file was last written */
	int inotify_fd;
	/* timers */
	struct ds_timer t_refresh, t_stun_tick, t_second, t_sweep, t_reannounce;
	/* TURN: our allocation, its timer, and the datagram it unwrapped */
	struct ds_arelay *relay[2]; /* per family, NULL = none */
	struct ds_timer t_relay;
	struct ds_udp_msg relay_rx;
	/* receive and send scratch */
	struct ds_udp_msg rx[DS_UDP_BATCH];
	uint8_t rxbuf[DS_UDP_BATCH][DS_WIRE_MAX_PACKET + 64];
	uint8_t body[DS_WIRE_MAX_PACKET];
	struct outq out;
};

/* ---- small helpers ---- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
	return mix64(h);
}

static uint64_t addr_key(const struct ds_addr *a)
{
	uint64_t h = (uint64_t)ds_addr_port(a) << 8 | (uint64_t)a->sa.sa_family;

	if (a->sa.sa_family == AF_INET) {
		h ^= (uint64_t)a->sin.sin_addr.s_addr << 24;
	} else if (a->sa.sa_family == AF_INET6) {
		uint64_t w[2];

		memcpy(w, &a->sin6.sin6_addr, 16);
		h ^= mix64(w[0]) ^ (w[1] * 0x9e3779b97f4a7c15ULL);
	}
	return mix64(h) | 1;
}

static int64_t rand_between(int64_t lo, int64_t hi)
{
	uint64_t r = 0;

	if (hi <= lo)
		return lo;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint64_t)ds_clock_ns();
	return lo + (int64_t)(r % (uint64_t)(hi - lo));
}

static struct apeer *peer_by_id(const struct ds_agent *a, uint64_t id)
{
	size_t mask = a->map_size - 1;

	for (size_t i = mix64(id) & mask, n = 0; n < a->map_size; i = (i + 1) & mask, n++) {
		if (!a->id_vals[i])
			return NULL;
		if (a->id_keys[i] == id)
			return &a->peers[a->id_vals[i] - 1];
	}
	return NULL;
}

static struct apeer *peer_by_name(const struct ds_agent *a, const char *name)
{
	size_t mask = a->map_size - 1;

	for (size_t i = name_hash(name) & mask, n = 0; n < a->map_size; i = (i + 1) & mask, n++) {
		struct apeer *p;

		if (!a->name_vals[i])
			return NULL;
		p = &a->peers[a->name_vals[i] - 1];
		if (strcmp(p->cfg->name, name) == 0)
			return p;
	}
	return NULL;
}

static bool rate_ok(struct ds_agent *a, const struct ds_addr *src, double cost, int64_t now)
{
	uint64_t key;
	struct bucket *b;
	double burst;

	if (a->cfg.rate_pps <= 0)
		return true;
	burst = a->cfg.rate_burst > 0 ? a->cfg.rate_burst : 2 * a->cfg.rate_pps;
	key = addr_key(src);
	b = &a->buckets[key & (RATE_BUCKETS - 1)];
	if (b->key != key) {
		b->key = key;
		b->tokens = burst;
		b->last_ns = now;
	} else {
		b->tokens += (double)(now - b->last_ns) * a->cfg.rate_pps / 1e9;
		if (b->tokens > burst)
			b->tokens = burst;
		b->last_ns = now;
	}
	if (b->tokens < cost)
		return false;
	b->tokens -= cost;
	return true;
}

/* The session state of a peer is made when the peer first matters: a packet with its pair
 * id arrives, or there is somewhere to send it a keepalive. Its cipher contexts are most of
 * what a peer costs, and a large peers file is mostly peers that are never heard from.
 * At most one per configured peer, so a packet that only claims a pair id can make the
 * agent allocate once per peer at the most. */
static struct ds_pair *pair_of(struct ds_agent *a, struct apeer *p)
{
	if (!p->pair && ds_pair_new(&p->keys, a->my_session, &p->pair) < 0)
		p->pair = NULL;
	return p->pair;
}

static bool established(const struct apeer *p)
{
	return p->pair && ds_pair_established(p->pair);
}

static int cands_room(struct apeer *p)
{
	if (!p->cands)
		p->cands = calloc(DS_CAND_MAX, sizeof(*p->cands));
	return p->cands ? 0 : -ENOMEM;
}

/* ---- sending ---- */

static void out_flush(struct ds_agent *a)
{
	size_t done = 0;

	while (done < a->out.n) {
		int r = ds_udp_send(a->out.fd, a->out.m + done, a->out.n - done, 0);

		if (r == 0 || r == -EAGAIN || r == -ENOBUFS)
			break; /* socket buffer full: UDP, the peer retries */
		/* An error belongs to the first datagram (an unroutable candidate): skip it,
		 * send the rest. */
		done += r < 0 ? 1 : (size_t)r;
	}
	a->out.n = 0;
}

/* A slot in the send batch for fd (flushing when full or for another socket). */
static struct ds_udp_msg *out_slot(struct ds_agent *a, int fd, uint8_t **buf)
{
	struct ds_udp_msg *m;

	if (a->out.n && (a->out.fd != fd || a->out.n == OUT_MAX))
		out_flush(a);
	a->out.fd = fd;
	m = &a->out.m[a->out.n];
	*buf = a->out.buf[a->out.n];
	memset(m, 0, sizeof(*m));
	m->buf = *buf;
	m->tos = -1;
	return m;
}

static bool relay_commit(struct ds_agent *a, struct ds_udp_msg *m, size_t len,
			 const struct ds_addr *dst);

static void out_commit(struct ds_agent *a, struct ds_udp_msg *m, size_t len,
		       const struct ds_addr *dst, const struct ds_addr *local)
{
	if (ds_arelay_is_marked(local)) {
		if (relay_commit(a, m, len, dst))
			a->out.n++;
		return;
	}
	m->len = len;
	m->peer = *dst;
	if (local)
		m->local = *local;
	a->out.n++;
}

static int fd_for(const struct ds_agent *a, const struct ds_addr *dst)
{
	int family = ds_addr_family(dst);

	/* A host without an address of the family (an IPv4-only home: IPv6 link-local only,
	 * perhaps a default route from a router advertisement) sends nothing of it: it would
	 * leave from a link-local source and never be answered. */
	if (a->no_source[FAM_IDX(family)] && !ds_addr_is_loopback(dst) &&
	    !ds_addr_is_link_local(dst))
		return -1;
	return ds_udp_fd(a->udp, family);
}

/* Seal and queue one packet for a peer. */
static int send_sealed(struct ds_agent *a, struct apeer *p, uint8_t type, uint32_t run_id,
		       const uint8_t *body, size_t body_len, const struct ds_addr *dst,
		       const struct ds_addr *local)
{
	int fd = fd_for(a, dst), len;
	struct ds_udp_msg *m;
	uint8_t *buf;

	if (fd < 0)
		return -EAFNOSUPPORT;
	m = out_slot(a, fd, &buf);
	if (!pair_of(a, p))
		return -ENOMEM;
	len = ds_pair_seal(p->pair, type, run_id, body, body_len, buf, DS_WIRE_MAX_PACKET);
	if (len < 0)
		return len;
	out_commit(a, m, (size_t)len, dst, local);
	p->tx++;
	return len;
}

static int send_keepalive(struct ds_agent *a, struct apeer *p, const struct ds_addr *dst,
			  const struct ds_addr *local, int64_t now)
{
	int fd = fd_for(a, dst), len;
	struct ds_udp_msg *m;
	uint8_t *buf;

	if (fd < 0)
		return -EAFNOSUPPORT;
	m = out_slot(a, fd, &buf);
	if (!pair_of(a, p))
		return -ENOMEM;
	len = ds_pair_keepalive(p->pair, now, buf, DS_WIRE_MAX_PACKET);
	if (len < 0)
		return len;
	out_commit(a, m, (size_t)len, dst, local);
	p->tx++;
	return len;
}

/* ---- runs (responder side, for the audit log) ---- */

static void run_flush(struct ds_agent *a, struct run *r)
{
	size_t idx = (size_t)(r->key >> 32) - 1;

	if (a->audit_fd >= 0)
		ds_audit_append(a->audit_fd, (uint32_t)r->key, a->peers[idx].cfg->name, a->cfg.name,
				r->test, r->bytes, r->refused ? "refused" : "ok");
	r->key = 0;
	a->nruns--;
}

static struct run *run_get(struct ds_agent *a, struct apeer *p, uint32_t run_id, const char *test,
			   int64_t now)
{
	uint64_t key = ((uint64_t)(p - a->peers) + 1) << 32 | run_id;
	size_t mask = RUN_SLOTS - 1, i = mix64(key) & mask;
	struct run *free_slot = NULL;

	for (size_t n = 0; n < RUN_SLOTS; n++, i = (i + 1) & mask) {
		struct run *r = &a->runs[i];

		if (r->key == key)
			return r;
		if (!r->key) {
			free_slot = r;
			break;
		}
	}
	if (!free_slot || a->nruns >= RUN_SLOTS / 2)
		return NULL; /* table full: answered, but not itemised until entries age out */
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->key = key;
	free_slot->test = test;
	free_slot->first_ns = now;
	a->nruns++;
	return free_slot;
}

static void runs_sweep(struct ds_agent *a, int64_t now, bool all)
{
	/* Open addressing without tombstones: rebuild after flushing. */
	struct run keep[RUN_SLOTS];
	size_t nkeep = 0;
	bool flushed = false;

	for (size_t i = 0; i < RUN_SLOTS; i++) {
		struct run *r = &a->runs[i];

		if (!r->key)
			continue;
		if (all || now - r->last_ns > RUN_IDLE_NS) {
			run_flush(a, r);
			flushed = true;
		} else {
			keep[nkeep++] = *r;
		}
	}
	if (!flushed)
		return;
	memset(a->runs, 0, sizeof(a->runs));
	a->nruns = 0;
	for (size_t k = 0; k < nkeep; k++) {
		size_t i = mix64(keep[k].key) & (RUN_SLOTS - 1);

		while (a->runs[i].key)
			i = (i + 1) & (RUN_SLOTS - 1);
		a->runs[i] = keep[k];
		a->nruns++;
	}
}

/* ---- paths ---- */

static void punch_stop(struct ds_agent *a, struct apeer *p);
static void peer_read_cands(struct ds_agent *a, struct apeer *p);
static void refresh(struct ds_loop *l, void *arg);

/* A path stays fresh while heard from within the longest keepalive interval and a half
 * (one keepalive may be late; two missing ones mean it broke). */
static int64_t stale_ns(const struct ds_agent *a)
{
	int64_t hi = a->cfg.refresh_max_ns ? a->cfg.refresh_max_ns : DS_AGENT_REFRESH_MAX_NS;

	return hi + hi / 2;
}

static bool path_fresh(const struct ds_agent *a, const struct apeer *p, int f, int64_t now)
{
	return p->path[f].len && p->path_rx_ns[f] && now - p->path_rx_ns[f] < stale_ns(a);
}

/* How cheap a path to the peer is: 3 on one of our own links or this host (same LAN: no NAT crossed),
 * 1 through a TURN relay (the peer's published relayed address), 2 anything else. */
static int path_rank(const struct ds_agent *a, const struct apeer *p, const struct ds_addr *addr)
{
	if (ds_addr_is_loopback(addr) || ds_udp_on_link(a->nets, a->nnets, addr))
		return 3;
	for (size_t i = 0; i < p->ncands; i++)
		if (p->cands[i].kind == DS_CANDK_RELAY && ds_addr_equal(&p->cands[i].addr, addr))
			return 1;
	return 2;
}

/* Take the packet's source as the peer's path for its family? Yes, unless a cheaper path
 * of that family is still fresh: a same-LAN pair also hears itself through the NAT's
 * hairpin, and that must not pull the pair off the LAN. */
static bool learn_path(struct ds_agent *a, struct apeer *p, const struct ds_udp_msg *m)
{
	int f = FAM_IDX(ds_addr_family(&m->peer));
	bool changed = !ds_addr_equal(&p->path[f], &m->peer) || !p->path_rx_ns[f];

	if (!ds_addr_equal(&p->path[f], &m->peer) && path_fresh(a, p, f, m->rx_ns) &&
	    path_rank(a, p, &m->peer) < path_rank(a, p, &p->path[f])) {
		p->last_rx_ns = m->rx_ns;
		return false;
	}
	/* Bidirectional learning: an authenticated packet from a proven session tells where
	 * the peer is reachable now (after a NAT rebinding too). */
	if (!ds_addr_equal(&p->path[f], &m->peer))
		p->path_punched[f] = false;
	/* The first answer of a coordinated punch locks the path it came on. */
	if (p->punch_started_ns && f == 0 && m->rx_ns >= p->punch_started_ns) {
		ds_verbose("punch with %s: locked on the first packet during the burst, round %u",
			   p->cfg->name, p->punch_round);
		p->path_punched[0] = true;
		p->use_fam = 0;
		punch_stop(a, p);
	}
	p->path[f] = m->peer;
	p->path_local[f] = m->local;
	p->path_rx_ns[f] = m->rx_ns;
	p->confirmed_rt_ns[f] = ds_clock_realtime_ns();
	p->last_rx_ns = m->rx_ns;
	if (changed)
		a->paths_dirty = true;
	return true;
}

/* The path to use: through the relay while no direct path works (see use_relay); when
 * both families' paths are fresh, the cheaper (same LAN first), then IPv6 (no NAT on it);
 * otherwise the most recently heard-from family; else the static endpoint. */
static bool use_relay(const struct ds_agent *a, const struct apeer *p, int64_t now);
static bool direct_fresh(const struct ds_agent *a, const struct apeer *p, int64_t now);

static const struct ds_addr *best_path(const struct ds_agent *a, const struct apeer *p,
				       const struct ds_addr **local)
{
	int64_t now = ds_clock_ns();
	int f = p->path_rx_ns[1] > p->path_rx_ns[0] ? 1 : 0;

	if (use_relay(a, p, now)) {
		*local = &p->relay_local;
		return &p->relay_path;
	}
	if (path_fresh(a, p, 0, now) && path_fresh(a, p, 1, now)) {
		int r4 = path_rank(a, p, &p->path[0]), r6 = path_rank(a, p, &p->path[1]);

		f = p->use_fam >= 0 ? p->use_fam : r6 >= r4 ? 1 : 0;
	}

	if (p->path[f].len && fd_for(a, &p->path[f]) >= 0) {
		*local = &p->path_local[f];
		return &p->path[f];
	}
	if (p->path[!f].len && fd_for(a, &p->path[!f]) >= 0) {
		*local = &p->path_local[!f];
		return &p->path[!f];
	}
	*local = NULL;
	if (p->cfg->endpoint.len && fd_for(a, &p->cfg->endpoint) >= 0)
		return &p->cfg->endpoint;
	return NULL;
}

static void paths_write(struct ds_agent *a)
{
	struct ds_path_rec *recs;
	size_t n = 0, cap = 256 + a->npeers * 2 * 200;
	char *buf;
	int len;

	recs = calloc(a->npeers * 2 + 1, sizeof(*recs));
	buf = malloc(cap);
	if (recs && buf) {
		for (size_t i = 0; i < a->npeers; i++) {
			for (int f = 0; f < 2; f++) {
				struct apeer *p = &a->peers[i];

				if (!p->path[f].len)
					continue;
				snprintf(recs[n].peer, sizeof(recs[n].peer), "%s", p->cfg->name);
				recs[n].remote = p->path[f];
				recs[n].local = p->path_local[f];
				recs[n].confirmed_ns = p->confirmed_rt_ns[f];
				n++;
			}
		}
		len = ds_paths_format(recs, n, buf, cap);
		if (len >= 0 && ds_state_write_atomic(a->cfg.state_dir, "paths.csv", buf,
						      (size_t)len, 0640) == 0)
			a->paths_dirty = false;
	}
	free(recs);
	free(buf);
}

static void path_loaded(void *arg, const struct ds_path_rec *r)
{
	struct ds_agent *a = arg;
	struct apeer *p = peer_by_name(a, r->peer);
	int f;

	if (!p)
		return;
	f = FAM_IDX(ds_addr_family(&r->remote));
	/* Known from the last run, not yet confirmed in this one (path_rx_ns stays 0). */
	p->path[f] = r->remote;
	p->path_local[f] = r->local;
	if (p->path_local[f].len)
		ds_addr_set_port(&p->path_local[f], ds_udp_port(a->udp));
	p->confirmed_rt_ns[f] = r->confirmed_ns;
}

/* ---- answering ---- */

static void refuse(struct ds_agent *a, struct apeer *p, const struct ds_wire_hdr *h, uint32_t seq,
		   const struct ds_udp_msg *m)
{
	struct ds_wire_refusal r = {
	    .reason = a->fleet_off ? DS_REFUSE_FLEET_OFF : DS_REFUSE_MESH_OFF,
	    .refused_type = h->type,
	    .refused_seq = seq,
	};
	uint8_t body[DS_WIRE_REFUSAL_LEN];

	if (ds_wire_refusal_encode(&r, body, sizeof(body)) < 0)
		return;
	if (send_sealed(a, p, DS_WIRE_REFUSAL, h->run_id, body, sizeof(body), &m->peer, &m->local) >
	    0)
		a->refused++;
}

static void answer_echo(struct ds_agent *a, struct apeer *p, const struct ds_wire_hdr *h,
			const uint8_t *body, size_t blen, const struct ds_udp_msg *m)
{
	struct ds_wire_echo e;
	struct run *r;
	size_t plen, rblen;
	int len;

	if (ds_wire_echo_decode(body, blen, &e) < 0) {
		a->drops[DS_DROP_MALFORMED]++;
		return;
	}
	/* Run 0 is the peer agent's own liveness probe, not a test: not audited. */
	r = h->run_id ? run_get(a, p, h->run_id, "echo", m->rx_ns) : NULL;
	if (r) {
		r->last_ns = m->rx_ns;
		r->bytes += m->len;
		r->packets++;
	}
	if (a->mesh_off && h->run_id) {
		if (r)
			r->refused = true;
		refuse(a, p, h, e.seq, m);
		return;
	}
	if (r)
		e.rx_count = ++r->rx_count;
	e.responder_rx_ns = (uint64_t)m->rx_ns;
	/* Never larger than the request (ds_wire_echo_reply_len clamps). */
	plen = ds_wire_echo_reply_len(&e, m->len);
	rblen = plen - DS_WIRE_OVERHEAD;
	e.responder_tx_ns = (uint64_t)ds_clock_ns();
	if (ds_wire_echo_encode(&e, a->body, rblen) < 0)
		return;
	len = send_sealed(a, p, DS_WIRE_ECHO_REPLY, h->run_id, a->body, rblen, &m->peer, &m->local);
	if (len > 0) {
		a->answered++;
		if (r)
			r->bytes += (uint64_t)len;
	}
}

static void pair_send_one(struct ds_agent *a, struct pair_job *j)
{
	for (int member = 0; member < 2; member++) {
		struct ds_wire_pair_data d = {
		    .seq = j->req.seq,
		    .index = j->next,
		    .member = (uint8_t)member,
		    .size = j->req.size,
		    .count = j->req.count,
		    .sender_tx_ns = j->req.sender_tx_ns,
		    .responder_tx_ns = (uint64_t)ds_clock_ns(),
		};
		size_t blen = j->req.size - DS_WIRE_OVERHEAD;
		struct run *r;
		int len;

		if (ds_wire_pair_data_encode(&d, a->body, blen) < 0)
			return;
		len = send_sealed(a, j->p, DS_WIRE_PAIR_DATA, j->run_id, a->body, blen, &j->dst,
				  &j->local);
		r = run_get(a, j->p, j->run_id, "pair", ds_clock_ns());
		if (len > 0 && r)
			r->bytes += (uint64_t)len;
	}
	j->next++;
}

static void pair_job_tick(struct ds_loop *l, void *arg)
{
	struct pair_job *j = arg;
	struct ds_agent *a = j->a;

	pair_send_one(a, j);
	out_flush(a);
	if (j->next < j->req.count)
		ds_loop_timer_arm_in(l, &j->t, (int64_t)j->req.gap_us * DS_NSEC_PER_USEC);
	else
		j->busy = false;
}

static void answer_pair(struct ds_agent *a, struct apeer *p, const struct ds_wire_hdr *h,
			const uint8_t *body, size_t blen, const struct ds_udp_msg *m, int fd)
{
	struct ds_wire_pair_request req;
	struct pair_job *j = NULL, tmp;
	struct run *r;

	if (ds_wire_pair_request_decode(body, blen, &req) < 0) {
		a->drops[DS_DROP_MALFORMED]++;
		return;
	}
	r = run_get(a, p, h->run_id, "pair", m->rx_ns);
	if (r) {
		r->last_ns = m->rx_ns;
		r->bytes += m->len;
		r->packets++;
	}
	if (a->mesh_off) {
		if (r)
			r->refused = true;
		refuse(a, p, h, req.seq, m);
		return;
	}
	/* What one request may cost: count x 2 x size, bounded by the decoder (32 x 2 x 1472
	 * bytes); the token bucket charges it too, so a peer cannot turn requests into a
	 * flood. */
	if (!rate_ok(a, &m->peer, 2.0 * req.count, m->rx_ns)) {
		a->drops[DS_DROP_RATE_LIMITED]++;
		return;
	}
	if (req.gap_us == 0 || req.count == 1) {
		memset(&tmp, 0, sizeof(tmp));
		j = &tmp;
	} else {
		for (int i = 0; i < PAIR_JOBS && !j; i++)
			if (!a->jobs[i].busy)
				j = &a->jobs[i];
		if (!j) {
			struct ds_wire_refusal rf = {.reason = DS_REFUSE_BUSY,
						     .refused_type = h->type,
						     .refused_seq = req.seq};
			uint8_t rb[DS_WIRE_REFUSAL_LEN];

			if (ds_wire_refusal_encode(&rf, rb, sizeof(rb)) >= 0)
				send_sealed(a, p, DS_WIRE_REFUSAL, h->run_id, rb, sizeof(rb),
					    &m->peer, &m->local);
			return;
		}
	}
	j->a = a;
	j->p = p;
	j->fd = fd;
	j->dst = m->peer;
	j->local = m->local;
	j->run_id = h->run_id;
	j->req = req;
	j->next = 0;
	a->answered++;
	if (j == &tmp) {
		while (j->next < req.count)
			pair_send_one(a, j);
		return;
	}
	j->busy = true;
	ds_timer_init(&j->t, pair_job_tick, j);
	pair_send_one(a, j);
	ds_loop_timer_arm_in(a->loop, &j->t, (int64_t)req.gap_us * DS_NSEC_PER_USEC);
}

static void forward_packet(struct ds_agent *a, struct apeer *p, const struct ds_wire_hdr *h,
			   const uint8_t *body, size_t blen, const struct ds_udp_msg *m)
{
	struct ds_ctl_msg f = {.type = DS_CTL_PACKET, .run_id = h->run_id};
	int r;

	if (!a->ctl || !ds_ctl_server_has_run(a->ctl, h->run_id)) {
		a->drops[DS_DROP_NO_RUN]++;
		return;
	}
	snprintf(f.packet.peer, sizeof(f.packet.peer), "%s", p->cfg->name);
	f.packet.src = m->peer;
	f.packet.local = m->local;
	f.packet.rx_ns = m->rx_ns;
	f.packet.rx_kernel = m->rx_kernel;
	f.packet.wire_type = h->type;
	f.packet.session = h->session;
	f.packet.counter = h->counter;
	f.packet.body = body;
	f.packet.body_len = blen;
	r = ds_ctl_server_forward(a->ctl, &f);
	if (r == -ENOENT)
		a->drops[DS_DROP_NO_RUN]++;
	else if (r < 0)
		a->drops[DS_DROP_CTL_BACKLOG]++;
}

/* ---- coordinated punch ---- */

/* What a hint may ask of this agent (a peer's hint is authenticated, but it must not turn
 * the agent into a packet cannon): at most 8 bursts of 64 port deltas, 20 ms apart, within
 * 2 s, and one hint per peer per PUNCH_HINT_GAP (at most 8 x 8 x (64 + 8) keepalives of
 * 88 bytes a second). */
#define PUNCH_MAX_ATTEMPTS 8
#define PUNCH_MAX_DELTAS   64
#define PUNCH_MIN_INTERVAL 20
#define PUNCH_MAX_START    2000
#define PUNCH_HINT_GAP     DS_NSEC_PER_SEC
#define PUNCH_BELOW        8 /* ports below a reflected port tried with the deltas */

static void cand_addr(const struct ds_wire_cand *c, struct ds_addr *to)
{
	memset(to, 0, sizeof(*to));
	if (c->family == 4) {
		to->sin.sin_family = AF_INET;
		memcpy(&to->sin.sin_addr, c->addr, 4);
		to->len = sizeof(to->sin);
	} else if (c->family == 6) {
		to->sin6.sin6_family = AF_INET6;
		memcpy(&to->sin6.sin6_addr, c->addr, 16);
		to->len = sizeof(to->sin6);
	}
	if (to->len)
		ds_addr_set_port(to, c->port);
}

static void wire_cand(const struct ds_addr *addr, int kind, struct ds_wire_cand *c)
{
	memset(c, 0, sizeof(*c));
	c->kind = (uint8_t)kind;
	c->port = ds_addr_port(addr);
	if (ds_addr_family(addr) == AF_INET) {
		c->family = 4;
		memcpy(c->addr, &addr->sin.sin_addr, 4);
	} else {
		c->family = 6;
		memcpy(c->addr, &addr->sin6.sin6_addr, 16);
	}
}

/* Take a hint from the peer? Not a second copy of one taken (wire and rendezvous), and not
 * more than one per PUNCH_HINT_GAP. */
static bool punch_hint_take(struct apeer *p, uint32_t id, int64_t now)
{
	if (p->punch_hint_ns && (id == p->punch_hint_id || now - p->punch_hint_ns < PUNCH_HINT_GAP)) {
		ds_verbose("punch hint %08x from %s ignored (%s)", id, p->cfg->name,
			   id == p->punch_hint_id ? "a copy of one taken" : "less than 1 s after one");
		return false;
	}
	ds_verbose("punch hint %08x from %s taken", id, p->cfg->name);
	p->punch_hint_ns = now;
	p->punch_hint_id = id;
	return true;
}

static void punch_stop(struct ds_agent *a, struct apeer *p)
{
	ds_loop_timer_disarm(a->loop, &p->punch_t);
	p->punch_started_ns = 0;
}

/* One burst: a keepalive (it carries the handshake, so it also proves a session that is
 * not established yet) to every IPv4 target, and to each server-reflexive one at the
 * port_deltas ports above it too (an endpoint-dependent NAT with sequential ports gives
 * the next mapping a port just above the one STUN saw). */
static void punch_burst(struct ds_loop *l, void *arg)
{
	struct apeer *p = arg;
	struct ds_agent *a = p->a;
	int64_t now = ds_clock_ns();
	struct ds_wire_cand t[DS_WIRE_PUNCH_MAX_CANDIDATES + DS_CAND_MAX + 1];
	unsigned nt = 0;

	/* the hint's candidates, what the peer publishes now (its agent refreshes its STUN
	 * mapping when the punch starts: a fresher reflected port is a better base) and its
	 * static endpoint */
	for (unsigned i = 0; i < p->punch.ncand; i++)
		t[nt++] = p->punch.cand[i];
	peer_read_cands(a, p);
	for (size_t i = 0; i < p->ncands; i++) {
		struct ds_wire_cand w;
		bool dup = false;

		if (ds_addr_family(&p->cands[i].addr) != AF_INET || p->cands[i].kind == DS_CANDK_RELAY)
			continue;
		wire_cand(&p->cands[i].addr, p->cands[i].kind, &w);
		for (unsigned k = 0; k < nt && !dup; k++)
			dup = t[k].port == w.port && memcmp(t[k].addr, w.addr, 4) == 0;
		if (!dup)
			t[nt++] = w;
	}
	if (p->cfg->endpoint.len && ds_addr_family(&p->cfg->endpoint) == AF_INET)
		wire_cand(&p->cfg->endpoint, DS_CAND_HOST, &t[nt++]);
	for (unsigned i = 0; i < nt; i++) {
		const struct ds_wire_cand *c = &t[i];
		unsigned deltas = c->kind == DS_CAND_SRFLX ? p->punch.port_deltas : 0;
		struct ds_addr to;

		cand_addr(c, &to);
		if (ds_addr_family(&to) != AF_INET || ds_addr_is_any(&to))
			continue;
		/* d = 0 first, then the deltas above, then a few below: a flow the NAT mapped
		 * just before the STUN binding that reported the port sits under it */
		for (int k = 0; k < (int)deltas + (deltas ? PUNCH_BELOW : 0) || k == 0; k++) {
			int d = k < (int)(deltas ? deltas : 1) ? k : (int)deltas - 1 - k;
			int port = (int)c->port + d;

			if (port < 1 || port > 65535)
				continue;
			ds_addr_set_port(&to, (uint16_t)port);
			send_keepalive(a, p, &to, NULL, now);
		}
	}
	out_flush(a);
	if (++p->punch_round < p->punch.attempts)
		ds_loop_timer_arm_in(l, &p->punch_t,
				     (int64_t)p->punch.interval_ms * DS_NSEC_PER_MSEC);
	else {
		ds_verbose("punch with %s: %u bursts sent, no answer during them", p->cfg->name,
			   p->punch_round);
		p->punch_started_ns = 0;
	}
}

/* Start bursting at the candidates of h, its limits clamped, in h->start_in_ms. */
static void punch_start(struct ds_agent *a, struct apeer *p, const struct ds_wire_punch *h)
{
	int64_t now = ds_clock_ns();

	if (p->punch_started_ns)
		punch_stop(a, p);
	p->punch = *h;
	if (p->punch.attempts < 1)
		p->punch.attempts = 1;
	if (p->punch.attempts > PUNCH_MAX_ATTEMPTS)
		p->punch.attempts = PUNCH_MAX_ATTEMPTS;
	if (p->punch.port_deltas > PUNCH_MAX_DELTAS)
		p->punch.port_deltas = PUNCH_MAX_DELTAS;
	if (p->punch.interval_ms < PUNCH_MIN_INTERVAL)
		p->punch.interval_ms = PUNCH_MIN_INTERVAL;
	if (p->punch.start_in_ms > PUNCH_MAX_START)
		p->punch.start_in_ms = PUNCH_MAX_START;
	p->punch_round = 0;
	p->punch_started_ns = now;
	/* a fresh reflected port for the peer to aim at (published when it changed) */
	if (a->cfg.nstun && now - a->last_refresh_ns > DS_NSEC_PER_SEC) {
		ds_loop_timer_disarm(a->loop, &a->t_refresh);
		refresh(a->loop, a);
	}
	ds_timer_init(&p->punch_t, punch_burst, p);
	ds_loop_timer_arm_in(a->loop, &p->punch_t, (int64_t)p->punch.start_in_ms * DS_NSEC_PER_MSEC);
}

/* A tool sends a punch hint: fill in this agent's own IPv4 candidates when it gave none
 * (server-reflexive first), and start this side's burst at the peer's IPv4 candidates
 * with the same timing. The burst starts even when the hint cannot be sent. */
static size_t punch_local(struct ds_agent *a, struct apeer *p, const uint8_t *body, size_t blen,
			  uint8_t *out, size_t cap)
{
	struct ds_wire_punch h, mine;
	size_t n = 0, len;

	if (ds_wire_punch_decode(body, blen, &h) < 0)
		return 0;
	mine = h;
	if (!h.ncand) {
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < a->npublished && n < DS_WIRE_PUNCH_MAX_CANDIDATES; i++)
				if (ds_addr_family(&a->published[i].addr) == AF_INET &&
				    (a->published[i].kind == DS_CANDK_SRFLX) == (pass == 0))
					wire_cand(&a->published[i].addr, a->published[i].kind,
						  &mine.cand[n++]);
		mine.ncand = (uint8_t)n;
	}
	/* this side's targets are the peer's own candidates, which every burst reads */
	h.ncand = 0;
	punch_start(a, p, &h);
	len = ds_wire_punch_len(&mine);
	if (len < blen)
		len = blen;
	if (len > cap || ds_wire_punch_encode(&mine, out, len) < 0)
		return 0;
	return len;
}

/* The hint in the rendezvous directory as RDV/punch-PEER.from-ME, a line
 * "hint_id,attempts,port_deltas,interval_ms,start_realtime_ms" that the peer's agent,
 * watching the directory, takes; both sides then burst at the same wall-clock moment. */
static int punch_file_write(struct ds_agent *a, const struct apeer *p, const uint8_t *body,
			    size_t blen)
{
	struct ds_wire_punch h;
	char name[160], line[96];
	int len;

	if (ds_wire_punch_decode(body, blen, &h) < 0)
		return -EINVAL;
	if (snprintf(name, sizeof(name), "punch-%s.from-%s", p->cfg->name, a->cfg.name) >=
	    (int)sizeof(name))
		return -ENAMETOOLONG;
	len = snprintf(line, sizeof(line), "%u,%u,%u,%u,%lld\n", h.hint_id, h.attempts,
		       h.port_deltas, h.interval_ms,
		       (long long)(ds_clock_realtime_ns() / DS_NSEC_PER_MSEC + h.start_in_ms));
	return ds_state_write_atomic(a->cfg.rdv_dir, name, line, (size_t)len, 0644);
}

/* RDV/punch-ME.from-PEER appeared: burst at the peer's IPv4 candidates when it says. */
static void punch_file_read(struct ds_agent *a, const char *from)
{
	struct apeer *p = peer_by_name(a, from);
	char path[4096], line[96];
	unsigned id, att, del, ivl;
	long long at_ms;
	struct ds_wire_punch h = {0};
	int64_t now_ms, now = ds_clock_ns();
	FILE *f;
	int ok;

	if (!p || snprintf(path, sizeof(path), "%s/punch-%s.from-%s", a->cfg.rdv_dir, a->cfg.name,
			   from) >= (int)sizeof(path))
		return;
	f = fopen(path, "re");
	if (!f)
		return;
	ok = fgets(line, sizeof(line), f) &&
	     sscanf(line, "%u,%u,%u,%u,%lld", &id, &att, &del, &ivl, &at_ms) == 5;
	fclose(f);
	unlink(path);
	if (!ok || att > 255 || del > 255 || ivl > 65535 || !punch_hint_take(p, id, now))
		return;
	now_ms = ds_clock_realtime_ns() / DS_NSEC_PER_MSEC;
	h.attempts = (uint8_t)att;
	h.port_deltas = (uint8_t)del;
	h.interval_ms = (uint16_t)ivl;
	h.start_in_ms = at_ms > now_ms ? (uint16_t)(at_ms - now_ms < 65535 ? at_ms - now_ms : 65535) : 0;
	punch_start(a, p, &h); /* at the peer's candidates, which every burst reads */
}

static void punch_hint(struct ds_agent *a, struct apeer *p, const struct ds_wire_hdr *h,
		       const uint8_t *body, size_t blen, const struct ds_udp_msg *m)
{
	struct ds_wire_punch ph;

	if (a->ctl && ds_ctl_server_has_run(a->ctl, h->run_id)) {
		forward_packet(a, p, h, body, blen, m);
		return;
	}
	if (ds_wire_punch_decode(body, blen, &ph) < 0) {
		a->drops[DS_DROP_MALFORMED]++;
		return;
	}
	/* No local tool runs this punch: remember the candidates, and burst at them when the
	 * hint says, within this agent's limits (one hint per peer per 5 s). */
	for (unsigned i = 0; i < ph.ncand && i < DS_WIRE_PUNCH_MAX_CANDIDATES; i++) {
		struct ds_addr to;
		bool known = false;

		cand_addr(&ph.cand[i], &to);
		if (!to.len || ds_addr_port(&to) == 0 || ds_addr_is_any(&to))
			continue;
		for (size_t k = 0; k < p->ncands && !known; k++)
			known = ds_addr_equal(&p->cands[k].addr, &to);
		if (!known && p->ncands < DS_CAND_MAX && cands_room(p) == 0) {
			p->cands[p->ncands].kind = ph.cand[i].kind;
			p->cands[p->ncands++].addr = to;
		}
	}
	if (punch_hint_take(p, ph.hint_id, m->rx_ns))
		punch_start(a, p, &ph);
}

static void handle_stun(struct ds_agent *a, int fd, struct ds_udp_msg *m);
static bool relay_input(struct ds_agent *a, int fd, struct ds_udp_msg *m);
static bool relay_learn(struct ds_agent *a, struct apeer *p, const struct ds_udp_msg *m);

static void handle_datagram(struct ds_agent *a, int fd, struct ds_udp_msg *m)
{
	struct ds_wire_hdr h;
	struct apeer *p;
	size_t blen;
	int r;

	a->rx_total++;
	if (m->truncated || m->len == 0) {
		a->drops[DS_DROP_TRUNCATED]++;
		return;
	}
	switch (ds_wire_demux(m->buf, m->len)) {
	case DS_DEMUX_DATASTUN:
		break;
	case DS_DEMUX_STUN:
		if (relay_input(a, fd, m))
			return;
		handle_stun(a, fd, m);
		return;
	case DS_DEMUX_TURN_CHANNEL:
		if (relay_input(a, fd, m))
			return;
		a->drops[DS_DROP_NOT_OURS]++;
		return;
	default:
		a->drops[DS_DROP_NOT_OURS]++;
		return;
	}
	if (!rate_ok(a, &m->peer, 1.0, m->rx_ns)) {
		a->drops[DS_DROP_RATE_LIMITED]++;
		return;
	}
	r = ds_wire_parse_hdr(m->buf, m->len, &h);
	if (r == -EBADMSG) {
		a->drops[DS_DROP_TRUNCATED]++;
		return;
	} else if (r == -EPROTONOSUPPORT) {
		a->drops[DS_DROP_BAD_VERSION]++;
		return;
	} else if (r < 0) {
		a->drops[DS_DROP_BAD_TYPE]++;
		return;
	}
	p = peer_by_id(a, h.pair_id);
	if (!p) {
		a->drops[DS_DROP_UNKNOWN_KEY]++;
		return;
	}
	if (!pair_of(a, p)) {
		a->drops[DS_DROP_UNEXPECTED]++;
		return;
	}
	r = ds_pair_open(p->pair, &h, m->buf, m->len, m->rx_ns, a->body, sizeof(a->body), &blen);
	switch (r) {
	case 0:
		break;
	case -ENOTCONN:
		/* Authentic, session not proven: answer with the handshake only (a keepalive
		 * is no larger than any request), never with what was asked. */
		a->drops[DS_DROP_UNPROVEN]++;
		/* The packet may be a replay sent from a forged source: answer only when the
		 * keepalive is no larger than it (a packet-pair request or punch hint is
		 * smaller; its sender's own handshake keepalive gets the answer instead). */
		if (m->len >= DS_WIRE_OVERHEAD + DS_WIRE_KEEPALIVE_LEN &&
		    ds_pair_keepalive_due(p->pair, m->rx_ns))
			send_keepalive(a, p, &m->peer, &m->local, m->rx_ns);
		return;
	case -EALREADY:
		a->drops[DS_DROP_REPLAY]++;
		return;
	case -ESTALE:
		a->drops[DS_DROP_STALE]++;
		return;
	case -EPROTO:
		a->drops[DS_DROP_MALFORMED]++;
		return;
	case -EBUSY:
		/* A flood of packets each naming a new session: past the pair's budget of key
		 * derivations they are dropped unchecked, so not known to be forged. */
		a->drops[DS_DROP_LIMIT]++;
		return;
	default:
		a->drops[DS_DROP_BAD_TAG]++;
		return;
	}
	p->rx++;
	if (!relay_learn(a, p, m)) {
		int f = FAM_IDX(ds_addr_family(&m->peer));
		int64_t quiet =
		    a->cfg.refresh_min_ns ? a->cfg.refresh_min_ns : DS_AGENT_REFRESH_MIN_NS;
		/* Heard again after a silence, or from a new address (a rebinding): answer
		 * with a keepalive at once, so the peer hears from us without waiting for our
		 * next round and its NAT and ours both have the pinhole again. */
		bool welcome = !p->path_rx_ns[f] || m->rx_ns - p->path_rx_ns[f] > quiet ||
			       !ds_addr_equal(&p->path[f], &m->peer);

		if (learn_path(a, p, m)) {
			if (welcome || ds_pair_keepalive_due(p->pair, m->rx_ns))
				send_keepalive(a, p, &m->peer, &m->local, m->rx_ns);
			/* A new path and none fresh of the other family: open our side toward
			 * the peer's candidates of that family too, so it can be raced. */
			if (welcome && !path_fresh(a, p, !f, m->rx_ns))
				for (size_t i = 0; i < p->ncands; i++)
					if (FAM_IDX(ds_addr_family(&p->cands[i].addr)) == !f &&
					    p->cands[i].kind != DS_CANDK_RELAY)
						send_keepalive(a, p, &p->cands[i].addr, NULL, m->rx_ns);
		} else if (ds_pair_keepalive_due(p->pair, m->rx_ns)) {
			/* heard on a costlier path than the one kept: answer on the kept one */
			send_keepalive(a, p, &p->path[f], &p->path_local[f], m->rx_ns);
		}
	}
	switch (h.type) {
	case DS_WIRE_ECHO_REQUEST:
		answer_echo(a, p, &h, a->body, blen, m);
		break;
	case DS_WIRE_PAIR_REQUEST:
		answer_pair(a, p, &h, a->body, blen, m, fd);
		break;
	case DS_WIRE_ECHO_REPLY:
		if (h.run_id == 0) {
			struct ds_wire_echo e;

			/* The answer to our own probe: the path works both ways. */
			if (ds_wire_echo_decode(a->body, blen, &e) == 0 && e.sender_tx_ns)
				p->rtt_ns = m->rx_ns - (int64_t)e.sender_tx_ns;
			break;
		}
		forward_packet(a, p, &h, a->body, blen, m);
		break;
	case DS_WIRE_PAIR_DATA:
	case DS_WIRE_REFUSAL:
		forward_packet(a, p, &h, a->body, blen, m);
		break;
	case DS_WIRE_PUNCH_HINT:
		punch_hint(a, p, &h, a->body, blen, m);
		break;
	case DS_WIRE_KEEPALIVE:
		break; /* the handshake is the pair's; the path was learnt above */
	default:
		a->drops[DS_DROP_UNEXPECTED]++;
		break;
	}
}

/* Transmit stamps of packets tools asked for: back to the run that sent them. */
static void drain_txstamps(struct ds_agent *a, int fd)
{
	struct ds_udp_txstamp ts[16];
	int n;

	while ((n = ds_udp_read_txstamps(fd, ts, 16)) > 0) {
		for (int i = 0; i < n; i++) {
			struct ds_ctl_msg f = {.type = DS_CTL_TXSTAMP};
			const uint8_t *b = ts[i].head;

			if (ds_turn_is_channel_data(b, ts[i].head_len) &&
			    ts[i].head_len >= DS_TURN_CHANNEL_HDR_LEN + DS_WIRE_HDR_LEN) {
				b += DS_TURN_CHANNEL_HDR_LEN; /* relayed (libds/agentrelay.h) */
				ts[i].head_len -= DS_TURN_CHANNEL_HDR_LEN;
			}
			if (ts[i].head_len < DS_WIRE_HDR_LEN || b[0] < DS_WIRE_TYPE_MIN ||
			    b[0] > DS_WIRE_TYPE_MAX || !a->ctl)
				continue;
			f.run_id = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 |
				   (uint32_t)b[6] << 8 | b[7];
			f.txstamp.counter = 0;
			for (int k = 24; k < 32; k++)
				f.txstamp.counter = f.txstamp.counter << 8 | b[k];
			f.txstamp.tx_ns = ts[i].tx_ns;
			ds_ctl_server_forward(a->ctl, &f);
		}
		if (n < 16)
			break;
	}
}

static void on_udp(struct ds_loop *l, int fd, uint32_t events, void *arg)
{
	struct ds_agent *a = arg;

	if (events & EPOLLERR)
		drain_txstamps(a, fd);
	/* A bounded number of batches per wake-up keeps the control socket and timers
	 * responsive under a flood. */
	for (int round = 0; round < 16; round++) {
		int n = ds_udp_recv(a->udp, fd, a->rx, DS_UDP_BATCH);

		if (n < 0) {
			/* IP_RECVERR turns an ICMP error into one failed receive: go on. */
			drain_txstamps(a, fd);
			continue;
		}
		if (n == 0)
			break;
		for (int i = 0; i < n; i++)
			handle_datagram(a, fd, &a->rx[i]);
		out_flush(a);
		if (n < DS_UDP_BATCH)
			break;
	}
	(void)l;
}

/* ---- STUN: our own mapping refresh, and forwarding for tools ---- */

static void publish_candidates(struct ds_agent *a, bool force)
{
	struct ds_cand c[DS_CAND_MAX];
	size_t n = 0;
	uint16_t port = ds_udp_port(a->udp);
	int nn = ds_udp_local_nets(a->nets, DS_CAND_MAX);

	a->nnets = nn > 0 ? (size_t)nn : 0;

	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET;
		struct ds_addr host[6];
		int k;

		if (ds_udp_fd(a->udp, family) < 0)
			continue;
		k = ds_udp_local_addrs(family, port, host, 6);
		a->no_source[f] = k == 0;
		for (int i = 0; i < k && n < DS_CAND_MAX - 2; i++) {
			c[n].kind = DS_CANDK_HOST;
			c[n++].addr = host[i];
		}
		if (a->srflx[f].len) {
			c[n].kind = DS_CANDK_SRFLX;
			c[n++].addr = a->srflx[f];
		}
	}
	for (int f = 0; f < 2; f++)
		if (a->relay[f] && n < DS_CAND_MAX && ds_arelay_relayed(a->relay[f], &c[n].addr) == 0)
			c[n++].kind = DS_CANDK_RELAY;
	if (!force && n == a->npublished && memcmp(c, a->published, n * sizeof(c[0])) == 0)
		return;
	if (ds_cand_publish(a->cfg.rdv_dir, a->cfg.name, c, n) == 0) {
		memcpy(a->published, c, n * sizeof(c[0]));
		a->npublished = n;
		a->publish_failed = false;
	} else {
		a->publish_failed = true;
	}
}

/* A keepalive on every known path of every peer. */
static void reannounce(struct ds_loop *l, void *arg)
{
	struct ds_agent *a = arg;
	int64_t now = ds_clock_ns();

	for (size_t i = 0; i < a->npeers; i++) {
		struct apeer *p = &a->peers[i];

		for (int f = 0; f < 2; f++)
			if (p->path[f].len)
				send_keepalive(a, p, &p->path[f], &p->path_local[f], now);
	}
	out_flush(a);
	(void)l;
}

static void stun_tick(struct ds_loop *l, void *arg)
{
	struct ds_agent *a = arg;
	int64_t now = ds_clock_ns();
	int64_t next = ds_stun_client_tick(a->stun, now);

	if (next >= 0) {
		ds_loop_timer_arm_in(l, &a->t_stun_tick, next);
		return;
	}
	/* Every request ended. A family still without a mapping (the server was not up yet,
	 * or the answers were lost) is asked again in 2 s, not at the next refresh. */
	for (size_t i = 0; i < a->cfg.nstun; i++) {
		int f = FAM_IDX(ds_addr_family(&a->cfg.stun[i]));

		if (!a->srflx[f].len && fd_for(a, &a->cfg.stun[i]) >= 0 &&
		    a->t_refresh.deadline_ns > now + 2 * DS_NSEC_PER_SEC) {
			ds_loop_timer_arm_in(l, &a->t_refresh, 2 * DS_NSEC_PER_SEC);
			break;
		}
	}
}

static void handle_stun(struct ds_agent *a, int fd, struct ds_udp_msg *m)
{
	struct ds_ctl_msg f = {.type = DS_CTL_STUN};
	struct ds_stun_msg sm;
	int id;

	id = a->stun ? ds_stun_client_input(a->stun, fd, m->buf, m->len, &m->peer, m->rx_ns)
		     : -ENOENT;
	if (id >= 0) {
		struct ds_addr mapped;
		int fam;

		if (ds_stun_client_response(a->stun, id, &sm) == 0 && sm.cls == DS_STUN_SUCCESS &&
		    ds_stun_get_addr(&sm, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped) == 0) {
			fam = FAM_IDX(ds_addr_family(&mapped));
			if (!ds_addr_equal(&a->srflx[fam], &mapped)) {
				bool rebound = a->srflx[fam].len != 0;

				a->srflx[fam] = mapped;
				publish_candidates(a, false);
				/* Our NAT gave us a new mapping: tell every peer from it now (that
				 * opens our NAT toward them) and again once they have read the new
				 * candidate and opened theirs toward it. */
				if (rebound) {
					reannounce(a->loop, a);
					ds_loop_timer_arm_in(a->loop, &a->t_reannounce,
							     2 * DS_NSEC_PER_SEC);
				}
			}
		}
		return;
	}
	if (id != -ENOENT || m->len < DS_STUN_HDR_LEN || !a->ctl) {
		a->drops[DS_DROP_STUN]++;
		return;
	}
	f.stun.src = m->peer;
	f.stun.local = m->local;
	f.stun.rx_ns = m->rx_ns;
	f.stun.rx_kernel = m->rx_kernel;
	f.stun.data = m->buf;
	f.stun.len = m->len;
	if (ds_ctl_server_forward_stun(a->ctl, m->buf + 8, &f) < 0)
		a->drops[DS_DROP_STUN]++;
}

static void refresh(struct ds_loop *l, void *arg)
{
	struct ds_agent *a = arg;
	int64_t lo = a->cfg.refresh_min_ns ? a->cfg.refresh_min_ns : DS_AGENT_REFRESH_MIN_NS;
	int64_t hi = a->cfg.refresh_max_ns ? a->cfg.refresh_max_ns : DS_AGENT_REFRESH_MAX_NS;

	bool failed = false;

	for (size_t i = 0; i < a->cfg.nstun && a->stun; i++) {
		uint8_t req[64];
		struct ds_stun_enc e;
		size_t len;
		int fd = fd_for(a, &a->cfg.stun[i]);

		if (fd < 0)
			continue;
		ds_stun_enc_init(&e, req, sizeof(req),
				 ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST), NULL);
		ds_stun_enc_fingerprint(&e);
		if (ds_stun_enc_finish(&e, &len) < 0)
			continue;
		/* Four transmissions over 3.5 s, then give up: a missing answer is asked
		 * for again in 2 s (stun_tick), not at the next refresh. */
		if (ds_stun_client_start(a->stun, fd, &a->cfg.stun[i], NULL, req, len,
					 5 * DS_NSEC_PER_SEC) < 0)
			failed = true;
	}
	if (a->stun && ds_stun_client_pending(a->stun))
		stun_tick(l, a);
	publish_candidates(a, false);
	a->last_refresh_ns = ds_clock_ns();
	/* A request that could not even be sent (no route yet) is tried again soon. */
	ds_loop_timer_arm_in(l, &a->t_refresh,
			     failed ? 2 * DS_NSEC_PER_SEC : rand_between(lo, hi));
}

/* ---- keepalives and handshakes ---- */

static void relay_permit(struct ds_agent *a, struct apeer *p);

static void peer_read_cands(struct ds_agent *a, struct apeer *p)
{
	int64_t mt;

	if (ds_cand_mtime(a->cfg.rdv_dir, p->cfg->name, &mt) != 0 || mt == p->cand_mtime ||
	    cands_room(p) < 0)
		return;
	if (ds_cand_read(a->cfg.rdv_dir, p->cfg->name, p->cands, DS_CAND_MAX, &p->ncands, NULL) ==
	    0) {
		p->cand_mtime = mt;
		relay_permit(a, p);
	}
}

static void keepalive(struct ds_loop *l, void *arg)
{
	struct apeer *p = arg;
	struct ds_agent *a = p->a;
	int64_t now = ds_clock_ns();
	int64_t lo = a->cfg.refresh_min_ns ? a->cfg.refresh_min_ns : DS_AGENT_REFRESH_MIN_NS;
	int64_t hi = a->cfg.refresh_max_ns ? a->cfg.refresh_max_ns : DS_AGENT_REFRESH_MAX_NS;
	bool est = established(p), sent = false;
	/* Heard from within the last interval and a half: one keepalive may be late, two
	 * missing ones mean the path broke (a NAT rebinding on either side). */
	bool fresh = p->last_rx_ns && now - p->last_rx_ns < hi + hi / 2;
	/* Relayed only: keep trying the direct candidates too, to switch back to direct. */
	bool relayed = p->relay_path.len && !direct_fresh(a, p, now), relay_sent = false;

	peer_read_cands(a, p);
	/* An established peer gone quiet: maybe our own mapping changed; ask STUN now rather
	 * than at the next scheduled refresh. */
	if (est && !fresh && a->cfg.nstun && now - a->last_refresh_ns > 5 * DS_NSEC_PER_SEC) {
		ds_loop_timer_disarm(l, &a->t_refresh);
		refresh(l, a);
	}
	/* Warm every known path. With an established peer the round is an echo of our own
	 * (run 0), which the peer answers at once, rather than a keepalive it only notes:
	 * when our NAT lost its state (a conntrack flush, a reboot), the peer's packets die
	 * there unanswered and unseen (no conntrack entry is made for them) until ours
	 * re-create the mapping, and only an answer at once brings the peer back to us
	 * within this one interval instead of at the peer's next round (measured: up to 39 s
	 * when the answer waited). A keepalive goes too while a handshake needs one. */
	for (int f = 0; f < 2; f++) {
		struct ds_wire_echo e = {.seq = p->probe_seq + 1, .sender_tx_ns = (uint64_t)now};
		uint8_t body[DS_WIRE_ECHO_LEN];

		if (!p->path[f].len)
			continue;
		if (est && ds_wire_echo_encode(&e, body, sizeof(body)) >= 0 &&
		    send_sealed(a, p, DS_WIRE_ECHO_REQUEST, 0, body, sizeof(body), &p->path[f],
				&p->path_local[f]) > 0) {
			p->probe_seq = e.seq;
			sent = true;
			if (!ds_pair_keepalive_due(p->pair, now))
				continue;
		}
		if (send_keepalive(a, p, &p->path[f], &p->path_local[f], now) > 0)
			sent = true;
	}
	/* A family with no fresh path: offer the peer's candidates of it one keepalive each,
	 * so that family's pinholes (an IPv6 stateful firewall too) are open on our side when
	 * the peer races it. And a pair that found each other through the NAT (hairpin) may
	 * share a LAN: offer the on-link host candidates, so the pair moves to the LAN. */
	for (size_t i = 0; est && fresh && i < p->ncands; i++) {
		const struct ds_addr *c = &p->cands[i].addr;
		int f = FAM_IDX(ds_addr_family(c));

		if (p->cands[i].kind == DS_CANDK_RELAY)
			continue;
		if (!path_fresh(a, p, f, now) ||
		    (p->cands[i].kind == DS_CANDK_HOST && ds_udp_on_link(a->nets, a->nnets, c) &&
		     path_rank(a, p, &p->path[f]) < 3))
			send_keepalive(a, p, c, NULL, now);
	}
	/* Relayed (no direct path works): the same round on the relay path. */
	if (relayed) {
		struct ds_wire_echo e = {.seq = p->probe_seq + 1, .sender_tx_ns = (uint64_t)now};
		uint8_t body[DS_WIRE_ECHO_LEN];

		relay_sent = est && ds_wire_echo_encode(&e, body, sizeof(body)) >= 0 &&
			     send_sealed(a, p, DS_WIRE_ECHO_REQUEST, 0, body, sizeof(body),
					 &p->relay_path, &p->relay_local) > 0;
		if (relay_sent)
			p->probe_seq = e.seq;
		if ((!relay_sent || ds_pair_keepalive_due(p->pair, now)) &&
		    send_keepalive(a, p, &p->relay_path, &p->relay_local, now) > 0)
			relay_sent = true;
		sent |= relay_sent;
	}
	/* When the peer has gone quiet or is not established, or is relayed, also its static
	 * endpoint and every candidate it published (that re-opens our side of the pinhole
	 * after the peer's NAT rebinding, and tries the direct paths again). */
	if (!est || !fresh || relayed) {
		if (p->cfg->endpoint.len && send_keepalive(a, p, &p->cfg->endpoint, NULL, now) > 0)
			sent = true;
		for (size_t i = 0; i < p->ncands; i++) {
			bool dup = false;

			for (int f = 0; f < 2; f++)
				dup |= ds_addr_equal(&p->path[f], &p->cands[i].addr);
			dup |= relay_sent && !ds_arelay_is_marked(&p->relay_local) &&
			       ds_addr_equal(&p->relay_path, &p->cands[i].addr);
			if (!dup && send_keepalive(a, p, &p->cands[i].addr, NULL, now) > 0)
				sent = true;
		}
	}
	out_flush(a);
	if (est && fresh) {
		p->backoff_ns = 0;
		ds_loop_timer_arm_in(l, &p->ka, rand_between(lo, hi));
		return;
	}
	/* Not established: retry with a doubling gap, from 1 s up to the refresh interval. */
	p->backoff_ns = p->backoff_ns ? p->backoff_ns * 2 : DS_NSEC_PER_SEC;
	/* Nothing known about the peer at all: a candidate file that appears is seen at once
	 * through inotify, so only without inotify is it worth looking again soon. */
	if (p->backoff_ns > lo || (!sent && !p->ncands && a->inotify_fd >= 0))
		p->backoff_ns = lo;
	ds_loop_timer_arm_in(l, &p->ka, rand_between(p->backoff_ns, p->backoff_ns * 5 / 4));
}

/* Read a peer's candidate file again and send one keepalive to every candidate that was
 * not in it before: bounded by the file's 16 candidates per change. */
static void punch_new_cands(struct ds_agent *a, struct apeer *p, int64_t now)
{
	struct ds_cand old[DS_CAND_MAX];
	size_t nold = p->ncands;
	bool punched = false;

	if (nold)
		memcpy(old, p->cands, nold * sizeof(old[0]));
	peer_read_cands(a, p);
	for (size_t i = 0; i < p->ncands; i++) {
		bool known = false;

		for (size_t k = 0; k < nold && !known; k++)
			known = ds_addr_equal(&old[k].addr, &p->cands[i].addr);
		if (!known && !ds_addr_is_loopback(&p->cands[i].addr)) {
			send_keepalive(a, p, &p->cands[i].addr, NULL, now);
			punched = true;
		}
	}
	p->cand_punch_ns = now;
	/* Both sides may punch at the same instant and each packet reach the other NAT
	 * before its pinhole opens: try again soon, on the backoff schedule from 1 s. */
	if (punched && !established(p)) {
		p->backoff_ns = 0;
		ds_loop_timer_arm_in(a->loop, &p->ka, DS_NSEC_PER_SEC);
	}
}

/* A peer published new candidates (RDV/cand-NAME.csv renamed into place): read them and
 * send one keepalive to each at once, which opens our NAT toward them without waiting for
 * the next keepalive round (the peer's NAT may just have rebound). */
static void on_rdv_change(struct ds_loop *l, int fd, uint32_t events, void *arg)
{
	struct ds_agent *a = arg;
	union {
		char b[4096];
		struct inotify_event align;
	} buf;
	ssize_t n;

	while ((n = read(fd, buf.b, sizeof(buf.b))) > 0) {
		for (char *q = buf.b; q < buf.b + n;) {
			struct inotify_event *ev = (struct inotify_event *)q;
			size_t nl;
			struct apeer *p;
			int64_t now = ds_clock_ns();

			q += sizeof(*ev) + ev->len;
			if (ev->len && strncmp(ev->name, "punch-", 6) == 0) {
				size_t ml = strlen(a->cfg.name);

				if (strncmp(ev->name + 6, a->cfg.name, ml) == 0 &&
				    strncmp(ev->name + 6 + ml, ".from-", 6) == 0)
					punch_file_read(a, ev->name + 6 + ml + 6);
				continue;
			}
			if (!ev->len || strncmp(ev->name, "cand-", 5) != 0)
				continue;
			nl = strlen(ev->name);
			if (nl < 10 || strcmp(ev->name + nl - 4, ".csv") != 0)
				continue;
			ev->name[nl - 4] = '\0';
			p = peer_by_name(a, ev->name + 5);
			if (!p)
				continue;
			punch_new_cands(a, p, now);
		}
	}
	out_flush(a);
	(void)l;
	(void)events;
}

/* Every second: the mesh switch (flag files), and paths to save. */
static void every_second(struct ds_loop *l, void *arg)
{
	struct ds_agent *a = arg;

	a->fleet_off = ds_state_mesh_off(a->cfg.rdv_dir);
	a->mesh_off = a->cfg.mesh_off || a->fleet_off || ds_state_mesh_off(a->cfg.state_dir);
	if (a->paths_dirty)
		paths_write(a);
	ds_loop_timer_arm_in(l, &a->t_second, DS_NSEC_PER_SEC);
}

static void sweep(struct ds_loop *l, void *arg)
{
	struct ds_agent *a = arg;

	int64_t now = ds_clock_ns();

	runs_sweep(a, now, false);
	/* The status file is written on request (ds-agent --status); the periodic copy is
	 * for when the agent no longer answers, and need not be fresher than a minute. */
	if (now - a->status_ns >= 60 * DS_NSEC_PER_SEC)
		ds_agent_write_status(a);
	ds_loop_timer_arm_in(l, &a->t_sweep, 5 * DS_NSEC_PER_SEC);
}

/* ---- TURN relay (libds/agentrelay.h) ---- */

static struct ds_arelay *relay_of(const struct ds_agent *a, const struct ds_addr *x)
{
	return a->relay[FAM_IDX(ds_addr_family(x))];
}

/* A direct path heard from within an interval and a half (one keepalive may be late); a
 * tool may have made a peer's relay candidate the path (ds-ctl(7), USE): not direct. */
static bool direct_fresh(const struct ds_agent *a, const struct apeer *p, int64_t now)
{
	for (int f = 0; f < 2; f++)
		if (path_fresh(a, p, f, now) && path_rank(a, p, &p->path[f]) != 1)
			return true;
	return false;
}

/* The relay only when it was heard through and nothing direct works (or was heard from
 * more recently): a direct path, once confirmed, always wins. */
static bool use_relay(const struct ds_agent *a, const struct apeer *p, int64_t now)
{
	int64_t direct = p->path_rx_ns[0] > p->path_rx_ns[1] ? p->path_rx_ns[0] : p->path_rx_ns[1];

	if (!p->relay_path.len || !p->relay_rx_ns || direct_fresh(a, p, now))
		return false;
	if (ds_arelay_is_marked(&p->relay_local) &&
	    (!relay_of(a, &p->relay_path) ||
	     ds_arelay_relayed(relay_of(a, &p->relay_path), &(struct ds_addr){0}) < 0))
		return false; /* our allocation is gone */
	return p->relay_rx_ns > direct;
}

static bool is_relay_cand(const struct apeer *p, const struct ds_addr *x)
{
	for (size_t i = 0; i < p->ncands; i++)
		if (p->cands[i].kind == DS_CANDK_RELAY && ds_addr_equal(&p->cands[i].addr, x))
			return true;
	return false;
}

/* An authenticated packet that came through a relay (ours, or to the peer's relay
 * candidate) teaches the relay path, never a direct one. false: not relayed. */
static bool relay_learn(struct ds_agent *a, struct apeer *p, const struct ds_udp_msg *m)
{
	int64_t quiet = a->cfg.refresh_min_ns ? a->cfg.refresh_min_ns : DS_AGENT_REFRESH_MIN_NS;
	bool welcome;

	if (!ds_arelay_is_marked(&m->local) && !is_relay_cand(p, &m->peer))
		return false;
	welcome = !p->relay_rx_ns || m->rx_ns - p->relay_rx_ns > quiet ||
		  !ds_addr_equal(&p->relay_path, &m->peer) ||
		  ds_arelay_is_marked(&p->relay_local) != ds_arelay_is_marked(&m->local);
	p->relay_path = m->peer;
	p->relay_local = m->local;
	p->relay_rx_ns = m->rx_ns;
	p->last_rx_ns = m->rx_ns;
	if (welcome || ds_pair_keepalive_due(p->pair, m->rx_ns))
		send_keepalive(a, p, &m->peer, &m->local, m->rx_ns);
	return true;
}

/* Permit the addresses a peer's packets may come from to our relayed address: its host
 * and server-reflexive candidates (an endpoint-dependent NAT maps toward the relay from
 * the same public IP; permissions are per IP, RFC 8656 §9). */
static void relay_permit(struct ds_agent *a, struct apeer *p)
{
	int64_t now = ds_clock_ns();

	if (!a->relay[0] && !a->relay[1])
		return;
	for (size_t i = 0; i < p->ncands; i++) {
		struct ds_arelay *r = relay_of(a, &p->cands[i].addr);

		if (r && p->cands[i].kind != DS_CANDK_RELAY &&
		    !ds_addr_is_loopback(&p->cands[i].addr))
			ds_arelay_permit(r, &p->cands[i].addr, now);
	}
	ds_loop_timer_arm_in(a->loop, &a->t_relay, 0);
}

/* Wrap m (a sealed packet for m->peer) for our allocation, to the server. */
static int relay_wrap_msg(struct ds_agent *a, struct ds_udp_msg *m, int64_t now)
{
	struct ds_arelay *relay = relay_of(a, &m->peer);
	uint8_t inner[DS_WIRE_MAX_PACKET];
	size_t olen;
	int r;

	if (!relay)
		return -ENOTCONN;
	if (m->len > sizeof(inner))
		return -EMSGSIZE;
	memcpy(inner, m->buf, m->len);
	r = ds_arelay_wrap(relay, &m->peer, inner, m->len, (void *)m->buf,
			   DS_WIRE_MAX_PACKET + DS_TURN_SEND_OVERHEAD, &olen, now);
	if (r < 0)
		return r;
	m->len = olen;
	m->peer = *ds_arelay_server(relay);
	memset(&m->local, 0, sizeof(m->local));
	/* a ChannelBind may be queued */
	ds_loop_timer_arm_in(a->loop, &a->t_relay, 0);
	return 0;
}

/* out_commit for a packet through our allocation (m->buf is an out-queue buffer). */
static bool relay_commit(struct ds_agent *a, struct ds_udp_msg *m, size_t len,
			 const struct ds_addr *dst)
{
	m->len = len;
	m->peer = *dst;
	return relay_wrap_msg(a, m, ds_clock_ns()) == 0;
}

static void relay_timer(struct ds_loop *l, void *arg)
{
	struct ds_agent *a = arg;
	int64_t now = ds_clock_ns(), next = -1;
	uint8_t buf[DS_TURN_REQ_MAX];
	bool changed = false;
	size_t len;
	struct ds_addr dst;

	for (int f = 0; f < 2; f++) {
		int64_t t;

		if (!a->relay[f])
			continue;
		t = ds_arelay_tick(a->relay[f], now);
		next = next < 0 || t < next ? t : next;
		while (ds_arelay_pull(a->relay[f], buf, sizeof(buf), &len, &dst) == 1) {
			struct ds_udp_msg um = {.buf = buf, .len = len, .peer = dst, .tos = -1};
			int fd = fd_for(a, &dst);

			if (fd >= 0)
				ds_udp_send(fd, &um, 1, 0);
		}
		changed |= ds_arelay_changed(a->relay[f]);
	}
	if (changed) {
		/* A new relayed address (or none): publish it, and permit every peer's
		 * candidates on the new allocation. */
		publish_candidates(a, false);
		for (size_t i = 0; i < a->npeers; i++)
			relay_permit(a, &a->peers[i]);
		next = 0;
	}
	ds_loop_timer_arm_in(l, &a->t_relay, next);
}

/* A STUN or ChannelData datagram: the server's answers, and peer data it relayed, which
 * goes through the same authentication as any packet (from the peer address the server
 * reports, marked as through our relay). false: not ours, for the next handler. */
static bool relay_input(struct ds_agent *a, int fd, struct ds_udp_msg *m)
{
	struct ds_arelay *relay = relay_of(a, &m->peer);
	struct ds_turn_data d;
	int r;

	if (ds_arelay_is_marked(&m->local)) {
		a->drops[DS_DROP_NOT_OURS]++; /* no STUN or TURN inside the relay */
		return true;
	}
	if (!relay || !ds_addr_equal(&m->peer, ds_arelay_server(relay)))
		return false;
	r = ds_arelay_input(relay, m->buf, m->len, &m->peer, m->rx_ns, &d);
	if (r == -ENOENT)
		return false;
	if (r == DS_TURN_IN_DATA) {
		struct ds_udp_msg *in = &a->relay_rx;

		*in = *m;
		in->buf = (uint8_t *)d.data;
		in->len = d.len;
		in->cap = d.len;
		in->peer = d.peer;
		ds_arelay_mark(&in->local);
		a->rx_total--; /* counted once, as the inner packet */
		handle_datagram(a, fd, in);
		return true;
	}
	if (r < 0)
		a->drops[DS_DROP_STUN]++;
	ds_loop_timer_arm_in(a->loop, &a->t_relay, 0);
	return true;
}

/* ---- control socket callbacks ---- */

static void ctl_hello(void *arg, struct ds_ctl_msg *ans, int *fds, size_t *nfds)
{
	struct ds_agent *a = arg;
	int fd4 = ds_udp_fd(a->udp, AF_INET), fd6 = ds_udp_fd(a->udp, AF_INET6);

	ans->hello_ok.port = ds_udp_port(a->udp);
	ans->hello_ok.caps = (uint8_t)ds_udp_caps(a->udp);
	snprintf(ans->hello_ok.agent, sizeof(ans->hello_ok.agent), "%s", a->cfg.name);
	*nfds = 0;
	if (fd4 >= 0) {
		ans->hello_ok.families |= 1;
		fds[(*nfds)++] = fd4;
	}
	if (fd6 >= 0) {
		ans->hello_ok.families |= 2;
		fds[(*nfds)++] = fd6;
	}
}

static int ctl_send(void *arg, struct ds_ctl_client_ref *c, const struct ds_ctl_msg *m,
		    struct ds_ctl_msg *ans)
{
	struct ds_agent *a = arg;
	struct apeer *p = peer_by_name(a, m->send.peer);
	const struct ds_addr *dst, *local = NULL;
	struct ds_udp_msg um = {.tos = m->send.tos};
	uint8_t pkt[DS_WIRE_MAX_PACKET + DS_TURN_SEND_OVERHEAD], hint[DS_WIRE_BODY_MAX];
	const uint8_t *body = m->send.body;
	size_t blen = m->send.body_len;
	uint64_t counter = 0;
	int fd, len, min, r;
	int64_t now = ds_clock_ns();

	(void)c;
	if (!p)
		return -ENOENT;
	switch (m->send.wire_type) {
	case DS_WIRE_ECHO_REQUEST:
	case DS_WIRE_PAIR_REQUEST:
	case DS_WIRE_PUNCH_HINT:
		break;
	default:
		return -EINVAL; /* tools send requests; replies and handshakes are the agent's */
	}
	min = ds_wire_body_min(m->send.wire_type);
	if (min < 0 || m->send.body_len < (size_t)min)
		return -EINVAL;
	if (m->send.wire_type == DS_WIRE_PUNCH_HINT) {
		blen = punch_local(a, p, m->send.body, m->send.body_len, hint, sizeof(hint));
		if (!blen)
			return -EINVAL;
		body = hint;
	}
	dst = m->send.dst.len ? &m->send.dst : best_path(a, p, &local);
	/* A hint goes through the rendezvous directory too: the pair's path may be dead
	 * without either agent knowing yet (a NAT rebinding is what a punch repairs). The
	 * peer takes the first copy (one hint per peer per 5 s). SENT with length 0: only
	 * the rendezvous directory had it. */
	if (m->send.wire_type == DS_WIRE_PUNCH_HINT && m->send.dst.len == 0) {
		r = punch_file_write(a, p, body, blen);
		if (!dst || !p->pair || !ds_pair_established(p->pair)) {
			if (r < 0)
				return r;
			ans->type = DS_CTL_SENT;
			ans->sent.tx_ns = now;
			return 0;
		}
	}
	if (!dst)
		return -EHOSTUNREACH;
	if (!pair_of(a, p))
		return -ENOMEM;
	if (!ds_pair_established(p->pair)) {
		/* Kick the handshake; the tool retries once PEER says established. */
		if (ds_pair_keepalive_due(p->pair, now)) {
			send_keepalive(a, p, dst, local, now);
			out_flush(a);
		}
		return -ENOTCONN;
	}
	fd = fd_for(a, dst);
	if (fd < 0)
		return -EAFNOSUPPORT;
	/* Before a burst on a path not heard from in the last 2 s, re-open our side of the
	 * pinhole with a keepalive first (the tool confirms the path end to end with an echo,
	 * see ds-ctl(7), PEER). */
	if (m->send.wire_type == DS_WIRE_PAIR_REQUEST &&
	    (!p->last_rx_ns || now - p->last_rx_ns > 2 * DS_NSEC_PER_SEC)) {
		send_keepalive(a, p, dst, local, now);
		out_flush(a);
	}
	len = ds_pair_seal(p->pair, m->send.wire_type, m->run_id, body, blen, pkt,
			   DS_WIRE_MAX_PACKET);
	if (len < 0)
		return len;
	um.buf = pkt;
	um.len = (size_t)len;
	um.peer = *dst;
	if (local && m->send.dst.len == 0)
		um.local = *local;
	for (int k = 24; k < 32; k++)
		counter = counter << 8 | pkt[k];
	if (ds_arelay_is_marked(local) && m->send.dst.len == 0) {
		r = relay_wrap_msg(a, &um, now);
		if (r < 0)
			return r;
	}
	ans->type = DS_CTL_SENT;
	ans->sent.tx_ns = ds_clock_ns();
	r = ds_udp_send(fd, &um, 1,
			(m->send.send_flags & DS_CTL_SEND_TX_STAMP) ? DS_UDP_SEND_TX_STAMP : 0);
	if (r < 0)
		return r;
	if (r == 0)
		return -EAGAIN;
	p->tx++;
	ans->sent.len = (size_t)len;
	ans->sent.counter = counter;
	return 0;
}

/* What kind of path this is, as PEER_INFO flags (see ds-ctl(7)). */
static uint32_t path_flags(const struct ds_agent *a, const struct apeer *p,
			   const struct ds_addr *path)
{
	int f = FAM_IDX(ds_addr_family(path));
	int rank = path_rank(a, p, path);
	uint32_t fl = 0;

	if (path == &p->relay_path)
		return DS_CTL_PEER_RELAYED; /* through our allocation or to the peer's */
	if (rank == 3)
		fl |= DS_CTL_PEER_LAN;
	else if (rank == 1)
		fl |= DS_CTL_PEER_RELAYED;
	if (path == &p->path[f] && p->path_punched[f])
		fl |= DS_CTL_PEER_PUNCHED;
	return fl;
}

/* A tool (ds-race, ds-punch) proved an address answers: make it the peer's path. */
static int ctl_use(void *arg, const struct ds_ctl_msg *m)
{
	struct ds_agent *a = arg;
	struct apeer *p = peer_by_name(a, m->use.peer);
	int f;

	if (!p)
		return -ENOENT;
	if (fd_for(a, &m->use.addr) < 0)
		return -EAFNOSUPPORT;
	f = FAM_IDX(ds_addr_family(&m->use.addr));
	if (!ds_addr_equal(&p->path[f], &m->use.addr)) {
		p->path[f] = m->use.addr;
		p->path_local[f].len = 0;
		a->paths_dirty = true;
	}
	p->path_punched[f] = (m->use.use_flags & DS_CTL_USE_PUNCHED) != 0;
	p->path_rx_ns[f] = ds_clock_ns();
	p->use_fam = f; /* the race chose the family too */
	return 0;
}

static int ctl_peer(void *arg, const struct ds_ctl_msg *m, struct ds_ctl_msg *ans)
{
	struct ds_agent *a = arg;
	struct apeer *p = peer_by_name(a, m->peer.peer);
	const struct ds_addr *path, *local = NULL;

	if (!p)
		return -ENOENT;
	ans->type = DS_CTL_PEER_INFO;
	snprintf(ans->peer_info.peer, sizeof(ans->peer_info.peer), "%s", p->cfg->name);
	ans->peer_info.peer_flags = DS_CTL_PEER_KNOWN;
	if (established(p))
		ans->peer_info.peer_flags |= DS_CTL_PEER_ESTABLISHED;
	path = best_path(a, p, &local);
	if (path) {
		ans->peer_info.peer_flags |= DS_CTL_PEER_PATH;
		ans->peer_info.path = *path;
		if (local)
			ans->peer_info.local = *local;
		if ((path == &p->path[0] && p->path_rx_ns[0]) ||
		    (path == &p->path[1] && p->path_rx_ns[1]))
			ans->peer_info.peer_flags |= DS_CTL_PEER_CONFIRMED;
		if (path == &p->relay_path)
			ans->peer_info.peer_flags |= DS_CTL_PEER_CONFIRMED;
		ans->peer_info.peer_flags |= path_flags(a, p, path);
	}
	peer_read_cands(a, p);
	for (size_t i = 0; i < p->ncands && ans->peer_info.ncands < DS_CTL_MAX_CANDS; i++) {
		ans->peer_info.cands[ans->peer_info.ncands].kind = (uint8_t)p->cands[i].kind;
		ans->peer_info.cands[ans->peer_info.ncands++].addr = p->cands[i].addr;
	}
	if (p->cfg->endpoint.len && ans->peer_info.ncands < DS_CTL_MAX_CANDS) {
		ans->peer_info.cands[ans->peer_info.ncands].kind = 4;
		ans->peer_info.cands[ans->peer_info.ncands++].addr = p->cfg->endpoint;
	}
	ans->peer_info.last_rx_age_ms =
	    p->last_rx_ns ? (ds_clock_ns() - p->last_rx_ns) / DS_NSEC_PER_MSEC : -1;
	ans->peer_info.rx_packets = p->rx;
	ans->peer_info.tx_packets = p->tx;
	return 0;
}

static int ctl_status(void *arg)
{
	return ds_agent_write_status(arg);
}

static void ctl_run_end(void *arg, uint32_t run_id, const char *tool, const char *test,
			const char *peer, uint64_t bytes, const char *outcome)
{
	struct ds_agent *a = arg;

	if (a->audit_fd >= 0)
		ds_audit_append(a->audit_fd, run_id, a->cfg.name, peer, test[0] ? test : tool,
				bytes, outcome);
}

/* ---- lifetime ---- */

__attribute__((format(printf, 4, 5))) static int set_err(char *err, size_t len, int ret,
							 const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int ds_agent_new(const struct ds_agent_config *cfg, struct ds_loop *loop, struct ds_agent **out,
		 char *err, size_t errlen)
{
	struct ds_udp_config ucfg = {.port = cfg->port,
				     .families = cfg->families,
				     .tos = -1,
				     .family_optional = cfg->families == 0};
	struct ds_ctl_ops ops = {0};
	struct ds_agent *a;
	uint8_t my_pub[DS_KEY_LEN];
	size_t used = 0;
	int ret;

	a = calloc(1, sizeof(*a));
	if (!a)
		return set_err(err, errlen, -ENOMEM, "%s", "out of memory");
	a->cfg = *cfg;
	a->loop = loop;
	a->audit_fd = -1;
	a->inotify_fd = -1;
	a->started_ns = ds_clock_ns();
	for (int i = 0; i < DS_UDP_BATCH; i++) {
		a->rx[i].buf = a->rxbuf[i];
		a->rx[i].cap = sizeof(a->rxbuf[i]);
	}
	a->npeers = ds_peers_count(cfg->peers);
	a->buckets = calloc(RATE_BUCKETS, sizeof(*a->buckets));
	for (a->map_size = 16; a->map_size < a->npeers * 2 + 2; a->map_size *= 2)
		;
	a->id_keys = calloc(a->map_size, sizeof(*a->id_keys));
	a->id_vals = calloc(a->map_size, sizeof(*a->id_vals));
	a->name_vals = calloc(a->map_size, sizeof(*a->name_vals));
	a->peers = calloc(a->npeers ? a->npeers : 1, sizeof(*a->peers));
	if (!a->buckets || !a->id_keys || !a->id_vals || !a->name_vals || !a->peers) {
		ret = set_err(err, errlen, -ENOMEM, "%s", "out of memory");
		goto fail;
	}
	ret = ds_pair_new_session_id(&a->my_session);
	if (ret) {
		set_err(err, errlen, ret, "%s", "no random numbers for the session id");
		goto fail;
	}
	ret = ds_key_public(cfg->priv, my_pub);
	if (ret) {
		set_err(err, errlen, ret, "%s", "the private key is not usable");
		goto fail;
	}
	for (size_t j = 0, n = a->npeers; j < n; j++) {
		const struct ds_peer *pc = ds_peers_get(cfg->peers, j);
		size_t i = used, mask = a->map_size - 1, k;
		struct apeer *p = &a->peers[i];

		/* A fleet-wide peers file lists this agent too: skip itself. */
		if (strcmp(pc->name, cfg->name) == 0 || memcmp(pc->pubkey, my_pub, DS_KEY_LEN) == 0)
			continue;
		used++;
		p->a = a;
		p->use_fam = -1;
		p->cfg = pc;
		ret = ds_key_pair_derive(cfg->priv, p->cfg->pubkey, &p->keys);
		if (ret) {
			set_err(err, errlen, ret, "peer '%s': cannot derive a pair key (own key?)",
				p->cfg->name);
			goto fail;
		}
		for (k = mix64(p->keys.rx_id) & mask; a->id_vals[k]; k = (k + 1) & mask)
			;
		a->id_keys[k] = p->keys.rx_id;
		a->id_vals[k] = (uint32_t)i + 1;
		for (k = name_hash(p->cfg->name) & mask; a->name_vals[k]; k = (k + 1) & mask)
			;
		a->name_vals[k] = (uint32_t)i + 1;
		ds_timer_init(&p->ka, keepalive, p);
	}
	a->npeers = used;
	ret = ds_udp_open(&ucfg, &a->udp);
	if (ret) {
		char port[8];

		snprintf(port, sizeof(port), "%u", cfg->port);
		set_err(err, errlen, ret, "cannot bind UDP port %s", port);
		goto fail;
	}
	for (int f = 0; f < 2; f++) {
		int fd = ds_udp_fd(a->udp, f ? AF_INET6 : AF_INET);

		if (fd >= 0 && (ret = ds_loop_add_fd(loop, fd, EPOLLIN, on_udp, a)) < 0) {
			set_err(err, errlen, ret, "%s", "event loop");
			goto fail;
		}
	}
	ops.arg = a;
	ops.hello = ctl_hello;
	ops.send = ctl_send;
	ops.peer = ctl_peer;
	ops.use = ctl_use;
	ops.status = ctl_status;
	ops.run_end = ctl_run_end;
	ret = ds_ctl_server_new(loop, cfg->state_dir, &ops, &a->ctl);
	if (ret) {
		if (ret == -EADDRINUSE)
			set_err(err, errlen, ret, "another agent is running on %s/agent.sock",
				cfg->state_dir);
		else
			set_err(err, errlen, ret, "cannot create the control socket in %s",
				cfg->state_dir);
		goto fail;
	}
	a->audit_fd = ds_audit_open(cfg->state_dir);
	if (a->audit_fd < 0) {
		ret = a->audit_fd;
		set_err(err, errlen, ret, "cannot open %s/audit.csv", cfg->state_dir);
		goto fail;
	}
	ds_paths_load(cfg->state_dir, path_loaded, a);
	if (cfg->nstun) {
		ds_stun_retrans_default(&a->stun_retrans);
		a->stun_retrans.rc = 4;
		ret = ds_stun_client_new(&a->stun_retrans, &a->stun);
		if (ret) {
			set_err(err, errlen, ret, "%s", "STUN client");
			goto fail;
		}
	}
	for (size_t i = 0; i < cfg->nturn && i < 2; i++) {
		struct ds_arelay_config rc = {.server = cfg->turn[i],
					      .user = cfg->turn_user,
					      .pass = cfg->turn_pass,
					      .secret = cfg->turn_secret,
					      .name = cfg->name,
					      .lifetime_s = cfg->turn_lifetime_s};
		int f = FAM_IDX(ds_addr_family(&cfg->turn[i]));

		if (fd_for(a, &cfg->turn[i]) < 0 || a->relay[f]) {
			ret = set_err(err, errlen, -EAFNOSUPPORT, "%s",
				      a->relay[f] ? "two TURN servers of one address family"
						  : "no socket of the TURN server's address family");
			goto fail;
		}
		ret = ds_arelay_new(&rc, &a->relay[f]);
		if (ret) {
			set_err(err, errlen, ret, "%s", "TURN client");
			goto fail;
		}
	}
	ds_timer_init(&a->t_relay, relay_timer, a);
	ds_timer_init(&a->t_refresh, refresh, a);
	ds_timer_init(&a->t_stun_tick, stun_tick, a);
	ds_timer_init(&a->t_second, every_second, a);
	ds_timer_init(&a->t_sweep, sweep, a);
	ds_timer_init(&a->t_reannounce, reannounce, a);
	a->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->inotify_fd >= 0 &&
	    (inotify_add_watch(a->inotify_fd, cfg->rdv_dir, IN_MOVED_TO | IN_CLOSE_WRITE) < 0 ||
	     ds_loop_add_fd(loop, a->inotify_fd, EPOLLIN, on_rdv_change, a) < 0)) {
		close(a->inotify_fd); /* polling on the keepalive schedule still works */
		a->inotify_fd = -1;
	}
	every_second(loop, a);
	publish_candidates(a, true);
	ds_loop_timer_arm_in(loop, &a->t_refresh, cfg->nstun ? 0 : DS_AGENT_REFRESH_MIN_NS);
	ds_loop_timer_arm_in(loop, &a->t_sweep, 5 * DS_NSEC_PER_SEC);
	if (a->relay[0] || a->relay[1])
		ds_loop_timer_arm_in(loop, &a->t_relay, 0);
	/* Handshake with every peer we can reach at once (spread over the first 200 ms so a
	 * large peers file is not one burst), the rest on their keepalive schedule. */
	for (size_t i = 0; i < a->npeers; i++)
		ds_loop_timer_arm_in(loop, &a->peers[i].ka,
				     rand_between(0, 200 * DS_NSEC_PER_MSEC + (int64_t)i * 100000));
	*out = a;
	return 0;
fail:
	ds_agent_free(a);
	return ret;
}

void ds_agent_free(struct ds_agent *a)
{
	if (!a)
		return;
	if (a->peers && a->udp) {
		runs_sweep(a, 0, true);
		paths_write(a);
		ds_agent_write_status(a);
	}
	ds_ctl_server_free(a->ctl);
	for (size_t i = 0; a->peers && i < a->npeers; i++) {
		ds_loop_timer_disarm(a->loop, &a->peers[i].ka);
		ds_pair_free(a->peers[i].pair);
		ds_key_pair_wipe(&a->peers[i].keys);
		free(a->peers[i].cands);
	}
	for (int i = 0; i < PAIR_JOBS; i++)
		ds_loop_timer_disarm(a->loop, &a->jobs[i].t);
	ds_loop_timer_disarm(a->loop, &a->t_refresh);
	ds_loop_timer_disarm(a->loop, &a->t_stun_tick);
	ds_loop_timer_disarm(a->loop, &a->t_second);
	ds_loop_timer_disarm(a->loop, &a->t_sweep);
	ds_loop_timer_disarm(a->loop, &a->t_reannounce);
	ds_loop_timer_disarm(a->loop, &a->t_relay);
	for (int f = 0; f < 2; f++) {
		/* Give the allocation back (Refresh LIFETIME 0), once, without waiting. */
		uint8_t buf[DS_TURN_REQ_MAX];
		size_t len;
		struct ds_addr dst;

		if (!a->relay[f])
			continue;
		ds_arelay_release(a->relay[f], ds_clock_ns());
		while (a->udp && ds_arelay_pull(a->relay[f], buf, sizeof(buf), &len, &dst) == 1) {
			struct ds_udp_msg um = {.buf = buf, .len = len, .peer = dst, .tos = -1};

			if (fd_for(a, &dst) >= 0)
				ds_udp_send(fd_for(a, &dst), &um, 1, 0);
		}
		ds_arelay_free(a->relay[f]);
	}
	if (a->inotify_fd >= 0) {
		ds_loop_del_fd(a->loop, a->inotify_fd);
		close(a->inotify_fd);
	}
	if (a->udp) {
		for (int f = 0; f < 2; f++) {
			int fd = ds_udp_fd(a->udp, f ? AF_INET6 : AF_INET);

			if (fd >= 0)
				ds_loop_del_fd(a->loop, fd);
		}
		ds_udp_free(a->udp);
	}
	ds_stun_client_free(a->stun);
	if (a->audit_fd >= 0)
		close(a->audit_fd);
	free(a->peers);
	free(a->buckets);
	free(a->id_keys);
	free(a->id_vals);
	free(a->name_vals);
	ds_key_wipe(a->cfg.priv, sizeof(a->cfg.priv));
	free(a);
}

uint16_t ds_agent_port(const struct ds_agent *a)
{
	return ds_udp_port(a->udp);
}

uint64_t ds_agent_drops(const struct ds_agent *a, int reason)
{
	return reason >= 0 && reason < DS_DROP_COUNT ? a->drops[reason] : 0;
}

uint64_t ds_agent_answered(const struct ds_agent *a)
{
	return a->answered;
}

static const char *fmt_addr(const struct ds_addr *x, char *buf, size_t len)
{
	/* a path through our relay has no local address of its own */
	return x->len && !ds_arelay_is_marked(x) && ds_addr_format(x, true, buf, len) ? buf : "-";
}

void ds_agent_status(struct ds_agent *a, FILE *f)
{
	int64_t now = ds_clock_ns();
	unsigned caps = ds_udp_caps(a->udp);
	size_t nestablished = 0;
	char b1[DS_ADDR_STRLEN], b2[DS_ADDR_STRLEN], ts[DS_ISO8601_LEN];

	for (size_t i = 0; i < a->npeers; i++)
		nestablished += established(&a->peers[i]);
	fprintf(f, "agent %s\n", a->cfg.name);
	fprintf(f, "written %s\n", ds_time_now_iso8601(ts, sizeof(ts)));
	fprintf(f, "pid %d\n", (int)getpid());
	fprintf(f, "port %u%s%s\n", ds_udp_port(a->udp),
		ds_udp_fd(a->udp, AF_INET) >= 0 ? " ipv4" : "",
		ds_udp_fd(a->udp, AF_INET6) >= 0 ? " ipv6" : "");
	fprintf(f, "timestamps rx=%s tx=%s\n",
		caps & (DS_UDP_CAP_RX_KERNEL_TS | DS_UDP_CAP_RX_TSNS) ? "kernel" : "user",
		caps & DS_UDP_CAP_TX_KERNEL_TS ? "kernel" : "user");
	fprintf(f, "mesh %s\n", !a->mesh_off ? "on" : a->fleet_off ? "off (fleet)" : "off");
	fprintf(f, "uptime_s %lld\n", (long long)((now - a->started_ns) / DS_NSEC_PER_SEC));
	fprintf(f, "srflx_ipv4 %s\n", fmt_addr(&a->srflx[0], b1, sizeof(b1)));
	fprintf(f, "srflx_ipv6 %s\n", fmt_addr(&a->srflx[1], b1, sizeof(b1)));
	fprintf(f, "candidates %s\n", a->publish_failed ? "not published" : "published");
	for (int k = 0; k < 2; k++)
		if (a->relay[k])
			ds_arelay_status(a->relay[k], now, f);
	fprintf(f, "received %llu\n", (unsigned long long)a->rx_total);
	fprintf(f, "answered %llu\n", (unsigned long long)a->answered);
	fprintf(f, "refused %llu\n", (unsigned long long)a->refused);
	for (int r = 0; r < DS_DROP_COUNT; r++)
		fprintf(f, "drop %s %llu\n", drop_names[r], (unsigned long long)a->drops[r]);
	fprintf(f, "ctl clients %u runs %u backlog_drops %llu\n",
		a->ctl ? ds_ctl_server_clients(a->ctl) : 0, a->ctl ? ds_ctl_server_runs(a->ctl) : 0,
		a->ctl ? (unsigned long long)ds_ctl_server_backlog_drops(a->ctl) : 0ULL);
	fprintf(f, "peers %zu established %zu\n", a->npeers, nestablished);
	for (size_t i = 0; i < a->npeers; i++) {
		struct apeer *p = &a->peers[i];
		const struct ds_addr *local = NULL, *path = best_path(a, p, &local);
		char age[32] = "-";

		if (p->last_rx_ns)
			snprintf(age, sizeof(age), "%.1f",
				 (double)(now - p->last_rx_ns) / DS_NSEC_PER_SEC);
		char rtt[32] = "-";

		if (p->rtt_ns > 0)
			snprintf(rtt, sizeof(rtt), "%.3f", (double)p->rtt_ns / DS_NSEC_PER_MSEC);
		fprintf(f,
			"peer %s established %s path %s local %s last_rx_s %s rx %llu tx %llu "
			"probe_rtt_ms %s via %s\n",
			p->cfg->name, established(p) ? "yes" : "no",
			path ? fmt_addr(path, b1, sizeof(b1)) : "-",
			local ? fmt_addr(local, b2, sizeof(b2)) : "-", age,
			(unsigned long long)p->rx, (unsigned long long)p->tx, rtt,
			path ? ds_ctl_path_kind(path_flags(a, p, path), path) : "-");
	}
}

int ds_agent_write_status(struct ds_agent *a)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret;

	if (!f)
		return -ENOMEM;
	ds_agent_status(a, f);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	ret = ds_state_write_atomic(a->cfg.state_dir, "status", buf, len, 0640);
	free(buf);
	a->status_ns = ds_clock_ns();
	return ret;
}
