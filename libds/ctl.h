/* SPDX-License-Identifier: MIT */
/*
 * The agent's control socket, STATE/agent.sock (ds-ctl(7) is the reference).
 *
 * A local tool connects (AF_UNIX, SOCK_SEQPACKET: one message per datagram, so a message
 * is never split or merged), says HELLO and gets the warm sockets' descriptors (SCM_RIGHTS)
 * for raw sending (STUN, punching, traceroute probes). It registers the run ids it works
 * under; from then on the agent forwards it every authenticated packet of those run ids
 * (replies, packet-pair data, refusals), decrypted, with the kernel receive timestamp and
 * the source address, and every STUN message whose transaction id it registered. Toolkit
 * packets are sealed by the agent (SEND): the private key and the session counter never
 * leave it. A tool that exits or dies leaves nothing behind: the agent notices the closed
 * connection and drops its registrations (an audit line says "aborted").
 *
 * Every message starts with the same 16-byte header; integers are big-endian:
 *
 *   0        1        2                 4                                 8
 *  +--------+--------+-----------------+---------------------------------+
 *  |  type  | version|     flags       |        length (whole message)   |
 *  +--------+--------+-----------------+---------------------------------+
 *  |              run id             |        request id (echoed)      |
 *  +---------------------------------+---------------------------------+ 16
 *  |  body (layout per type, below)                                     ...
 *
 * Addresses in bodies take 24 bytes: family u8 (4, 6, 0 = none) | 0 u8 | port u16 |
 * scope id u32 | address 16 bytes (IPv4 in the first 4).
 *
 * The decoder (ds_ctl_decode) is the only code that reads these bytes; it checks every
 * length and field and is fuzzed (tests/fuzz/fuzz_ctl.c). The agent trusts a local tool no
 * more than the file mode of the socket (0660) says.
 */
#ifndef DS_CTL_H
#define DS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "wire.h"

#define DS_CTL_VERSION             1
#define DS_CTL_HDR_LEN             16
#define DS_CTL_ADDR_LEN            24
#define DS_CTL_NAME_MAX            63 /* peer and agent names (as DS_PEER_NAME_MAX) */
#define DS_CTL_LABEL_MAX           15 /* tool, test and outcome labels */
#define DS_CTL_MSG_MAX             (DS_CTL_HDR_LEN + 160 + DS_WIRE_MAX_PACKET)
#define DS_CTL_SOCK_NAME           "agent.sock"
#define DS_CTL_MAX_RUNS_PER_CLIENT 64

enum ds_ctl_type {
	/* tool -> agent */
	DS_CTL_HELLO = 1,         /* tool label; answered by HELLO_OK + descriptors */
	DS_CTL_REGISTER = 2,      /* header run id; test label, peer name (audit) */
	DS_CTL_UNREGISTER = 3,    /* header run id; bytes, outcome (audit) */
	DS_CTL_STUN_REGISTER = 4, /* transaction id */
	DS_CTL_STUN_UNREGISTER = 5,
	DS_CTL_SEND = 6,   /* seal a toolkit packet for a peer and send it */
	DS_CTL_PEER = 7,   /* ask about one peer */
	DS_CTL_STATUS = 8, /* write the status file now */
	DS_CTL_USE = 9,    /* use this address as the peer's path (a race's winner) */
	/* agent -> tool */
	DS_CTL_HELLO_OK = 129,
	DS_CTL_OK = 130,
	DS_CTL_ERR = 131,     /* errno, reason */
	DS_CTL_PACKET = 132,  /* a toolkit packet of a registered run, decrypted */
	DS_CTL_STUN = 133,    /* a STUN message of a registered transaction */
	DS_CTL_SENT = 134,    /* answer to SEND: counter, send time */
	DS_CTL_TXSTAMP = 135, /* kernel transmit stamp of a packet SEND asked one for */
	DS_CTL_PEER_INFO = 136,
};

enum ds_ctl_send_flags {
	DS_CTL_SEND_TX_STAMP = 1, /* forward the kernel transmit timestamp (TXSTAMP) */
};

enum ds_ctl_peer_flags {
	DS_CTL_PEER_KNOWN = 1,       /* in the agent's peers file */
	DS_CTL_PEER_ESTABLISHED = 2, /* the peer's session is proven live */
	DS_CTL_PEER_PATH = 4,        /* a path (address) is known */
	DS_CTL_PEER_CONFIRMED = 8,   /* that path carried an authenticated packet */
	DS_CTL_PEER_RELAYED = 16,    /* that path goes through a TURN relay */
	DS_CTL_PEER_LAN = 32,        /* that path's address is on one of the agent's own links */
	DS_CTL_PEER_PUNCHED = 64,    /* that path was opened by a coordinated punch */
};

/* USE flags */
enum ds_ctl_use_flags {
	DS_CTL_USE_PUNCHED = 1, /* the address was reached by a coordinated punch */
};

#define DS_CTL_MAX_CANDS 16 /* candidates in PEER_INFO (as DS_CAND_MAX) */
#define DS_CTL_CAND_LEN  28 /* kind u8, 3 zero bytes, address */

/* One decoded message. Strings are NUL-terminated copies; data points into the buffer. */
struct ds_ctl_msg {
	uint8_t type;
	uint16_t flags;
	uint32_t run_id;
	uint32_t req_id;
	union {
		struct { /* HELLO */
			char tool[DS_CTL_LABEL_MAX + 1];
		} hello;
		struct { /* HELLO_OK; fds arrive as SCM_RIGHTS, v4 first, in `families` order */
			uint16_t port;
			uint8_t families; /* DS_UDP_IPV4 | DS_UDP_IPV6 */
			uint8_t caps;     /* ds_udp_caps */
			char agent[DS_CTL_NAME_MAX + 1];
		} hello_ok;
		struct { /* REGISTER */
			char test[DS_CTL_LABEL_MAX + 1];
			char peer[DS_CTL_NAME_MAX + 1];
		} reg;
		struct { /* UNREGISTER */
			uint64_t bytes;
			char outcome[DS_CTL_LABEL_MAX + 1];
		} unreg;
		struct { /* STUN_REGISTER, STUN_UNREGISTER */
			uint8_t tid[12];
		} stun_reg;
		struct { /* SEND */
			char peer[DS_CTL_NAME_MAX + 1];
			uint8_t wire_type;
			uint8_t send_flags;
			int16_t tos;         /* -1 = socket default */
			struct ds_addr dst;  /* len 0 = the peer's current path */
			const uint8_t *body; /* plaintext body */
			size_t body_len;
		} send;
		struct { /* PEER */
			char peer[DS_CTL_NAME_MAX + 1];
		} peer;
		struct { /* USE */
			char peer[DS_CTL_NAME_MAX + 1];
			uint32_t use_flags; /* ds_ctl_use_flags */
			struct ds_addr addr;
		} use;
		struct {             /* ERR */
			int32_t err; /* positive errno */
			char reason[64];
		} err;
		struct { /* PACKET */
			char peer[DS_CTL_NAME_MAX + 1];
			struct ds_addr src;   /* where it came from */
			struct ds_addr local; /* where it arrived */
			int64_t rx_ns;        /* monotonic ns */
			uint8_t rx_kernel;    /* rx_ns is the kernel's stamp */
			uint8_t wire_type;
			uint64_t session;
			uint64_t counter;
			const uint8_t *body;
			size_t body_len;
		} packet;
		struct { /* STUN */
			struct ds_addr src;
			struct ds_addr local;
			int64_t rx_ns;
			uint8_t rx_kernel;
			const uint8_t *data;
			size_t len;
		} stun;
		struct { /* SENT */
			uint64_t counter;
			int64_t tx_ns; /* monotonic, just before the send call */
			size_t len;    /* packet length on the wire (UDP payload) */
		} sent;
		struct { /* TXSTAMP */
			uint64_t counter;
			int64_t tx_ns; /* kernel stamp, monotonic */
		} txstamp;
		struct { /* PEER_INFO */
			char peer[DS_CTL_NAME_MAX + 1];
			uint32_t peer_flags; /* ds_ctl_peer_flags */
			struct ds_addr path;
			struct ds_addr local;
			int64_t last_rx_age_ms; /* -1 = never */
			uint64_t rx_packets, tx_packets;
			/* what the peer published, and its static endpoint (kind 4) */
			uint8_t ncands;
			struct {
				uint8_t kind; /* 1 host, 2 srflx, 3 relay, 4 static endpoint */
				struct ds_addr addr;
			} cands[DS_CTL_MAX_CANDS];
		} peer_info;
	};
};

/* Encode m into buf; returns the length or -EMSGSIZE / -EINVAL (unknown type, field too
 * long). */
int ds_ctl_encode(const struct ds_ctl_msg *m, uint8_t *buf, size_t cap);
/* Decode one message. 0, -EBADMSG (short, length mismatch, bad field), -EPROTO (unknown
 * type), -EPROTONOSUPPORT (version). Pointers in m point into buf. */
int ds_ctl_decode(const uint8_t *buf, size_t len, struct ds_ctl_msg *m);
const char *ds_ctl_type_name(int type);
/* The path label of SPEC (relay, lan, v6, punch, direct) from PEER_INFO flags and the
 * path's address; "" without an address. A relayed path is never called anything else. */
const char *ds_ctl_path_kind(uint32_t peer_flags, const struct ds_addr *path);

/* Path of the socket in a state directory; -ENAMETOOLONG when it does not fit sun_path. */
int ds_ctl_sock_path(const char *state_dir, char *buf, size_t len);

/* ---- server side (the agent) ---- */

struct ds_ctl_server;
struct ds_loop;
struct ds_ctl_client_ref; /* one connected tool, as the agent sees it */

struct ds_ctl_ops {
	void *arg;
	/* HELLO: fill in the answer's body; the descriptors to pass. */
	void (*hello)(void *arg, struct ds_ctl_msg *answer, int *fds, size_t *nfds);
	/* SEND, PEER, STATUS: fill *answer (SENT, PEER_INFO, OK) or return -errno (ERR). */
	int (*send)(void *arg, struct ds_ctl_client_ref *c, const struct ds_ctl_msg *m,
		    struct ds_ctl_msg *answer);
	int (*peer)(void *arg, const struct ds_ctl_msg *m, struct ds_ctl_msg *answer);
	/* USE: 0 or -errno. */
	int (*use)(void *arg, const struct ds_ctl_msg *m);
	int (*status)(void *arg);
	/* A run ended: by UNREGISTER (outcome from the tool) or because the tool went away
	 * (outcome "aborted"). For the audit log. */
	void (*run_end)(void *arg, uint32_t run_id, const char *tool, const char *test,
			const char *peer, uint64_t bytes, const char *outcome);
};

/* Listen on STATE/agent.sock (mode 0660). A stale socket file left by a dead agent is
 * replaced; a live agent there gives -EADDRINUSE. */
int ds_ctl_server_new(struct ds_loop *loop, const char *state_dir, const struct ds_ctl_ops *ops,
		      struct ds_ctl_server **out);
/* Closes every connection and removes the socket file. */
void ds_ctl_server_free(struct ds_ctl_server *s);

/* Forward to the tool that registered run_id. 0, -ENOENT (no such run: the caller counts
 * the packet as dropped), -EAGAIN (the tool is not reading: dropped and counted). */
int ds_ctl_server_forward(struct ds_ctl_server *s, const struct ds_ctl_msg *m);
/* Forward a STUN message to the tool that registered its transaction id. */
int ds_ctl_server_forward_stun(struct ds_ctl_server *s, const uint8_t tid[12],
			       const struct ds_ctl_msg *m);
/* Send a message to one client (e.g. TXSTAMP to the sender of a packet). */
int ds_ctl_server_send_to_run(struct ds_ctl_server *s, uint32_t run_id, const struct ds_ctl_msg *m);
bool ds_ctl_server_has_run(const struct ds_ctl_server *s, uint32_t run_id);
unsigned ds_ctl_server_clients(const struct ds_ctl_server *s);
unsigned ds_ctl_server_runs(const struct ds_ctl_server *s);
uint64_t ds_ctl_server_backlog_drops(const struct ds_ctl_server *s);

/* ---- client side (ds-stun, ds-pairprobe, ds-race, ds-punch, ds-trace6 ...) ---- */

struct ds_ctl_client;

/* Connect to STATE/agent.sock, say HELLO as `tool` and receive the warm descriptors; with
 * run_id != 0 also register that run (test label `test`, peer `peer`, both may be NULL).
 * 0, -ENOENT / -ECONNREFUSED (no agent: the tool goes cold, on its own socket),
 * -EACCES, -EPROTO, -ETIMEDOUT (agent did not answer in 2 s). */
int ds_ctl_connect(const char *state_dir, const char *tool, uint32_t run_id, const char *test,
		   const char *peer, struct ds_ctl_client **out);
/* Close: registrations end ("aborted" unless ds_ctl_unregister said otherwise). */
void ds_ctl_close(struct ds_ctl_client *c);

/* A fresh random, non-zero run id. */
uint32_t ds_ctl_run_id_random(void);
int ds_ctl_register(struct ds_ctl_client *c, uint32_t run_id, const char *test, const char *peer);
int ds_ctl_unregister(struct ds_ctl_client *c, uint32_t run_id, uint64_t bytes,
		      const char *outcome);
int ds_ctl_stun_register(struct ds_ctl_client *c, const uint8_t tid[12]);

/* The warm socket of a family (AF_INET / AF_INET6), or -1; the agent's port. Send raw
 * datagrams on it; never read from it (the agent reads and forwards). */
int ds_ctl_sockfd(const struct ds_ctl_client *c, int family);
uint16_t ds_ctl_port(const struct ds_ctl_client *c);
const char *ds_ctl_agent_name(const struct ds_ctl_client *c);
/* The control connection, for poll(2) (POLLIN = a message is waiting). */
int ds_ctl_fd(const struct ds_ctl_client *c);

/* Ask the agent to seal and send a toolkit packet of `wire_type` with `body` to `peer`
 * under run_id (dst NULL = the peer's current path; flags DS_CTL_SEND_TX_STAMP).
 * Waits for the answer: 0 and *sent filled (may be NULL), or -errno from the agent
 * (-ENOENT unknown peer, -ENOTCONN peer session not established, -EHOSTUNREACH no path).
 * PACKET messages arriving meanwhile are queued for ds_ctl_recv. */
int ds_ctl_send(struct ds_ctl_client *c, uint32_t run_id, const char *peer, uint8_t wire_type,
		const void *body, size_t body_len, const struct ds_addr *dst, unsigned flags,
		struct ds_ctl_msg *sent);
/* Ask about a peer. 0 and *info (a PEER_INFO message), or -errno. */
int ds_ctl_peer(struct ds_ctl_client *c, const char *peer, struct ds_ctl_msg *info);
/* Make addr the peer's path (flags: ds_ctl_use_flags). 0 or -errno (ENOENT unknown peer,
 * EAFNOSUPPORT no socket of that family). */
int ds_ctl_use(struct ds_ctl_client *c, const char *peer, const struct ds_addr *addr,
	       uint32_t flags);
/* Have the agent write its status file now. */
int ds_ctl_status(struct ds_ctl_client *c);

/* Next forwarded message (PACKET, STUN, TXSTAMP), waiting up to timeout_ms (-1 = forever,
 * 0 = poll). m's pointers point into buf (cap >= DS_CTL_MSG_MAX). 0, -ETIMEDOUT,
 * -ECONNRESET (the agent went away), -errno. */
int ds_ctl_recv(struct ds_ctl_client *c, struct ds_ctl_msg *m, uint8_t *buf, size_t cap,
		int timeout_ms);

#endif
