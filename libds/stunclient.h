/* SPDX-License-Identifier: MIT */
/*
 * STUN client transactions over UDP (RFC 8489 §6.2.1, §6.3).
 *
 * A ds_stun_client holds any number of transactions, on one or more sockets the caller owns
 * (its own, or later the agent's warm socket). Each request is retransmitted at RTO, 3 RTO,
 * 7 RTO, ... (the interval doubles) until Rc transmissions have been sent, then waited for
 * Rm x RTO more; the first answer ends it. An answer counts only when its transaction id
 * matches, it comes to the socket the request left from, and from the address the request
 * was sent to (or the address a CHANGE-REQUEST asked for); answers from elsewhere,
 * duplicates and late answers are counted and dropped.
 *
 * An ended transaction stays readable (ds_stun_client_info, _response) until its
 * retransmission schedule would have ended too (ds_stun_retrans_timeout_ns after its first
 * transmission: answers to it until then count as late) and a later ds_stun_client_start()
 * comes; that start forgets it and its handle. So a long-lived client holds at most the
 * transactions started within one schedule, however long it runs.
 *
 * Two ways to drive it: ds_stun_client_run() polls the sockets itself until every
 * transaction has ended; or an event loop calls ds_stun_client_input() for each datagram
 * and ds_stun_client_tick() when the deadline it returned has come.
 */
#ifndef DS_STUNCLIENT_H
#define DS_STUNCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "stun.h"

/* RFC 8489 §6.2.1 defaults. */
#define DS_STUN_RTO_DEFAULT_NS (500 * 1000000LL)
#define DS_STUN_RC_DEFAULT     7
#define DS_STUN_RM_DEFAULT     16
/* Largest answer kept (a STUN answer over UDP fits a path MTU; RFC 8489 §6.1 says 576). */
#define DS_STUN_CLIENT_RESP_MAX 2048

struct ds_stun_retrans {
	int64_t rto_ns; /* initial retransmission timeout */
	unsigned rc;    /* transmissions in all (1 = no retransmission) */
	unsigned rm;    /* after the last one, wait rm x rto_ns */
};

void ds_stun_retrans_default(struct ds_stun_retrans *p);
/* How long a transaction lasts before it times out: 39.5 s with the defaults. */
int64_t ds_stun_retrans_timeout_ns(const struct ds_stun_retrans *p);

enum ds_stun_txn_state {
	DS_STUN_TXN_PENDING,
	DS_STUN_TXN_DONE,    /* answered: success or error response */
	DS_STUN_TXN_TIMEOUT, /* no acceptable answer in time */
	DS_STUN_TXN_FAILED,  /* send error, or an answer §6.3 says fails the transaction */
	DS_STUN_TXN_CANCELLED,
};

struct ds_stun_txn_info {
	enum ds_stun_txn_state state;
	int error; /* -errno for FAILED: -EPROTO unknown attributes, ... */
	int fd;
	struct ds_addr dst;  /* where the request went */
	struct ds_addr from; /* where the answer came from (DONE) */
	uint8_t tid[DS_STUN_TID_LEN];
	unsigned transmissions; /* requests sent, retransmissions included */
	int64_t first_sent_ns, last_sent_ns, answered_ns;
	int64_t rtt_ns;        /* answer - latest transmission before it (Karn: ambiguous
				* when transmissions > 1) */
	unsigned wrong_source; /* answers with our id from another address or socket */
	unsigned duplicates;   /* answers after the first one */
	unsigned malformed;    /* answers with our id that failed checks */
	size_t resp_len;
};

struct ds_stun_client;

/* p NULL = RFC defaults. 0 or -ENOMEM / -EINVAL. */
int ds_stun_client_new(const struct ds_stun_retrans *p, struct ds_stun_client **out);
void ds_stun_client_free(struct ds_stun_client *c);

/*
 * Send a request (a finished message) to dst on fd and start its transaction.
 * expect_from: the address the answer must come from; NULL = dst.
 * max_wait_ns: give up after this long even if the schedule goes on (0 = the schedule).
 * Returns a transaction handle >= 0, or -errno (the first sendto failed; -EMSGSIZE).
 */
int ds_stun_client_start(struct ds_stun_client *c, int fd, const struct ds_addr *dst,
			 const struct ds_addr *expect_from, const void *req, size_t len,
			 int64_t max_wait_ns);
/* Stop a pending transaction (no more retransmissions; later answers count as late). */
void ds_stun_client_cancel(struct ds_stun_client *c, int id);

/*
 * One datagram that arrived on fd from `from` at monotonic time now_ns.
 * Returns the handle of the transaction it answered (>= 0); -ENOENT when it is no answer
 * to ours (not STUN, a request or indication, unknown id: the caller may have other use for
 * it); -EPERM wrong source or socket; -EALREADY duplicate or late; -EBADMSG malformed.
 */
int ds_stun_client_input(struct ds_stun_client *c, int fd, const void *pkt, size_t len,
			 const struct ds_addr *from, int64_t now_ns);
/* Retransmit what is due and time out what has expired. Returns the nanoseconds until the
 * next deadline, or -1 when nothing is pending. */
int64_t ds_stun_client_tick(struct ds_stun_client *c, int64_t now_ns);
/* Transactions still pending. */
unsigned ds_stun_client_pending(const struct ds_stun_client *c);
/* Transactions held: pending, and ended but not yet forgotten. */
size_t ds_stun_client_count(const struct ds_stun_client *c);

/* Called by ds_stun_client_run for every datagram that is no answer of ours. */
typedef void (*ds_stun_client_other_fn)(void *arg, int fd, const uint8_t *pkt, size_t len,
					const struct ds_addr *from);
void ds_stun_client_on_other(struct ds_stun_client *c, ds_stun_client_other_fn fn, void *arg);
/* Also read this socket while running (e.g. to see a hairpinned request arrive). */
int ds_stun_client_watch(struct ds_stun_client *c, int fd);
/*
 * A borrowed socket whose reads belong to someone else (the agent's warm socket: the agent
 * reads it and forwards the STUN messages whose transaction ids a tool registered).
 * Requests still leave on send_fd; before each one, track() asks for its answers; while
 * running, poll_fd is polled instead of send_fd, and read() hands whatever arrived to
 * ds_stun_client_feed (it is also called once per turn, for messages already queued).
 */
struct ds_stun_redirect {
	int send_fd;
	int poll_fd;
	void *arg;
	int (*track)(void *arg, const uint8_t tid[DS_STUN_TID_LEN]);
	int (*read)(void *arg, struct ds_stun_client *c);
};
#define DS_STUN_CLIENT_REDIRECTS 2
int ds_stun_client_redirect(struct ds_stun_client *c, const struct ds_stun_redirect *r);
/* ds_stun_client_input, and a datagram that is no answer of ours goes to the on_other
 * function: what ds_stun_client_run does with each datagram it reads. */
int ds_stun_client_feed(struct ds_stun_client *c, int fd, const void *pkt, size_t len,
			const struct ds_addr *from, int64_t now_ns);
/* Poll the sockets until no transaction is pending. 0 or -errno (poll/recv failure). */
int ds_stun_client_run(struct ds_stun_client *c);

/* State and figures of a transaction; NULL for a bad or forgotten handle. */
const struct ds_stun_txn_info *ds_stun_client_info(const struct ds_stun_client *c, int id);
/* The answer of a DONE transaction, parsed (points into the client: valid until _free). */
int ds_stun_client_response(const struct ds_stun_client *c, int id, struct ds_stun_msg *m);

#endif
