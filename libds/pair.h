/* SPDX-License-Identifier: MIT */
/*
 * The state one agent keeps for one peer (ds-wire(7), "Sessions and restarts"):
 *   - my sending session: its key and the packet counter;
 *   - the peer's current session, once proven live: its key and replay window;
 *   - the session handshake, carried in keepalives.
 *
 * A peer session is accepted only after it answered a fresh random challenge of ours,
 * sealed under that session's key. A packet from any other session of the peer
 * authenticates (ds_pair_open returns -ENOTCONN) but is never served: that is how a packet
 * captured before either side restarted is refused afterwards. The handshake costs one
 * round trip and a half, and it is the same whether the peer, we, or both restarted:
 *
 *     A                                       B
 *     keepalive {challenge a}      ----->     (A's session unproven: answer, challenge)
 *                                  <-----     keepalive {response a, challenge b}
 *     (B proven: a answered)
 *     keepalive {response b}       ----->     (A proven: b answered)
 *
 * The caller (the agent) looks the pair up by the header's pair id, calls ds_pair_open,
 * and sends ds_pair_keepalive when ds_pair_keepalive_due says a handshake step is
 * waiting. Time comes from the caller (monotonic ns) so tests can drive it.
 */
#ifndef DS_PAIR_H
#define DS_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "replay.h"
#include "wire.h"

/* A challenge stays valid this long; a new one is drawn after it (or once answered). */
#define DS_PAIR_CHALLENGE_TTL_NS (10LL * 1000000000LL)
/* Handshake keepalives toward one peer: at most one per this interval (the answer to a
 * challenge is an answer to a possibly replayed packet; this bounds what replays cost). */
#define DS_PAIR_HANDSHAKE_GAP_NS (200LL * 1000000LL)

/* Packets naming a session we hold no key for, whose tag we check per second per pair;
 * beyond that they are dropped unchecked (-EBUSY). A flood of forgeries that copies a pair
 * id off the wire costs this much crypto and nothing more; a restarting peer needs one. */
#define DS_PAIR_UNKNOWN_SESSIONS_PER_SEC 20

struct ds_pair;

/* A random, non-zero 64-bit session id for this agent start (OpenSSL RNG). */
int ds_pair_new_session_id(uint64_t *out);

/* keys from ds_key_pair_derive (copied; the caller may wipe its copy); my_session from
 * ds_pair_new_session_id, the same for every peer of this agent start. */
int ds_pair_new(const struct ds_pair_keys *keys, uint64_t my_session, struct ds_pair **out);
void ds_pair_free(struct ds_pair *p);

uint64_t ds_pair_rx_id(const struct ds_pair *p); /* pair id in packets from the peer */
uint64_t ds_pair_tx_id(const struct ds_pair *p);
/* The peer's session is proven live: requests may be served, replies accepted. */
bool ds_pair_established(const struct ds_pair *p);
uint64_t ds_pair_peer_session(const struct ds_pair *p); /* 0 while none proven */

/* Seal body as a packet of `type` for the peer; assigns the next counter. Returns the
 * packet length or -errno (see ds_wire_seal; -EOVERFLOW when the counter is spent). */
int ds_pair_seal(struct ds_pair *p, uint8_t type, uint32_t run_id, const void *body,
		 size_t body_len, uint8_t *out, size_t out_cap);

/* Open a packet whose header h parsed and whose h->pair_id is ds_pair_rx_id(p).
 *   0          authentic, fresh, from the peer's proven session: act on it. A keepalive
 *              that completed the handshake also returns 0 (and now established).
 *   -ENOTCONN  authentic but from a session not proven live (a peer that restarted, or
 *              a replay of a dead session): do not act on it. If ds_pair_keepalive_due
 *              then says so, send ds_pair_keepalive to the source.
 *   -EBADMSG   not authentic (forged, tampered, truncated, wrong key)
 *   -EALREADY  replayed (seen before in the current session)
 *   -ESTALE    too old for the replay window
 *   -EPROTO    authentic but its body is malformed for its type
 *   -EBUSY     names an unknown session, over DS_PAIR_UNKNOWN_SESSIONS_PER_SEC: unchecked
 *   -ENOMEM
 * The body is decrypted into body_out (body_cap >= DS_WIRE_BODY_MAX is always enough). */
int ds_pair_open(struct ds_pair *p, const struct ds_wire_hdr *h, const uint8_t *pkt,
		 size_t len, int64_t now_ns, uint8_t *body_out, size_t body_cap,
		 size_t *body_len);

/* A handshake keepalive should go to the peer now: we owe it an answer to its challenge,
 * or its session is unproven and we have a challenge to send; rate-limited by
 * DS_PAIR_HANDSHAKE_GAP_NS. */
bool ds_pair_keepalive_due(const struct ds_pair *p, int64_t now_ns);
/* Build the next keepalive (handshake fields as needed; plain keepalive otherwise).
 * Returns the packet length (DS_WIRE_OVERHEAD + DS_WIRE_KEEPALIVE_LEN) or -errno. */
int ds_pair_keepalive(struct ds_pair *p, int64_t now_ns, uint8_t *out, size_t out_cap);
/* Forget the peer's session (e.g. silent for too long); the next packet needs a handshake. */
void ds_pair_reset_peer(struct ds_pair *p);

#endif
