/* SPDX-License-Identifier: MIT */
/*
 * The agent's TURN allocation (ds-agent(1) --turn): a ds_turn (libds/turn.h) held on the
 * agent's warm socket, started again after a failure, refreshed by the TURN client itself,
 * with the permissions the agent asks for kept across a new allocation.
 *
 * Sans I/O like ds_turn: the agent feeds it what arrives from the server and the time, and
 * sends what ds_arelay_pull hands out. The policy (which peer goes through the relay, and
 * when) is the agent's; this module keeps the allocation and its counters.
 *
 * A relay path to a peer is one of:
 *   - through our allocation: our packets go to the server wrapped (ChannelData, or a Send
 *     indication until the channel is bound) for the peer address the server reported,
 *     theirs arrive as ChannelData or Data indications;
 *   - to the peer's relay candidate: a plain datagram to the relayed address the peer
 *     published, which its allocation forwards (it installed a permission for our
 *     addresses when it read our candidates).
 * The agent marks the first kind by a local address that is no address
 * (ds_arelay_mark): replies to a relayed packet then go back the way it came.
 */
#ifndef DS_AGENTRELAY_H
#define DS_AGENTRELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "turn.h"

/* After a failed Allocate or Refresh, start again after 2 s, doubling up to a minute. */
#define DS_ARELAY_RETRY_MIN_NS (2LL * 1000000000LL)
#define DS_ARELAY_RETRY_MAX_NS (60LL * 1000000000LL)
/* REST credentials (--turn-secret) are made valid for this long; a new allocation after
 * they ran out makes new ones. */
#define DS_ARELAY_REST_VALID_S (24 * 3600)

struct ds_arelay_config {
	struct ds_addr server;
	const char *user, *pass; /* long-term credentials, or */
	const char *secret;      /* coturn's REST shared secret (user name: `name`) */
	const char *name;        /* the agent's name, in REST user names and SOFTWARE */
	uint32_t lifetime_s;     /* LIFETIME asked for; 0 = the server's default */
};

struct ds_arelay;

/* Copies the strings. 0, -EINVAL (no credentials), -ENOMEM. Nothing is sent before the
 * first ds_arelay_tick. */
int ds_arelay_new(const struct ds_arelay_config *cfg, struct ds_arelay **out);
void ds_arelay_free(struct ds_arelay *r);

/* Start (or start again) what is due, retransmit, refresh. Returns the nanoseconds until
 * it wants to be called again (0: now). */
int64_t ds_arelay_tick(struct ds_arelay *r, int64_t now_ns);
/* Next datagram for the server: 1 with *len and *dst, 0 when none. */
int ds_arelay_pull(struct ds_arelay *r, void *buf, size_t cap, size_t *len, struct ds_addr *dst);
/* A datagram from `from`: as ds_turn_input (DS_TURN_IN_CONSUMED, DS_TURN_IN_DATA with *d,
 * -ENOENT not ours, other -errno malformed). Call ds_arelay_tick after it. */
int ds_arelay_input(struct ds_arelay *r, const void *pkt, size_t len, const struct ds_addr *from,
		    int64_t now_ns, struct ds_turn_data *d);
/* Give the allocation back (queues a Refresh with LIFETIME 0 for ds_arelay_pull). */
void ds_arelay_release(struct ds_arelay *r, int64_t now_ns);
/* Did the relayed address appear, change or go away since the last call? */
bool ds_arelay_changed(struct ds_arelay *r);

/* Permit peer's IP address (kept across new allocations). 0, -EAFNOSUPPORT (another
 * family than the server's), -ENOSPC. */
int ds_arelay_permit(struct ds_arelay *r, const struct ds_addr *peer, int64_t now_ns);
/* Wrap data for peer (binding a channel to it on first use; a Send indication until the
 * server confirmed it). 0 with *out_len, -ENOTCONN (no allocation), -ENOSPC, -EMSGSIZE. */
int ds_arelay_wrap(struct ds_arelay *r, const struct ds_addr *peer, const void *data, size_t len,
		   void *buf, size_t cap, size_t *out_len, int64_t now_ns);

/* The relayed address: 0, or -ENOTCONN. */
int ds_arelay_relayed(const struct ds_arelay *r, struct ds_addr *out);
const struct ds_addr *ds_arelay_server(const struct ds_arelay *r);
int ds_arelay_family(const struct ds_arelay *r);
/* One status line: "turn SERVER state S relayed ADDR lifetime_s N allocations N ...". */
void ds_arelay_status(const struct ds_arelay *r, int64_t now_ns, FILE *f);

/* The local address that marks "through our allocation" (see above). */
void ds_arelay_mark(struct ds_addr *local);
bool ds_arelay_is_marked(const struct ds_addr *local);

#endif
