/* SPDX-License-Identifier: MIT */
/*
 * The toolkit's own packets on the warm UDP port (ds-wire(7) is the reference).
 *
 * One packet = 32-byte header in the clear, authenticated as AEAD associated data, then the
 * body sealed with ChaCha20-Poly1305 (RFC 8439) under the sender's session key, then the
 * 16-byte tag. All integers are big-endian.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------+---------------+-------------------------------+
 *  |  type (4..15) |  version (1)  |        flags (0)              |  0
 *  +---------------+---------------+-------------------------------+
 *  |                            run id                             |  4
 *  +---------------------------------------------------------------+
 *  |                pair id (receiver's id of this direction)      |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                  sender session id (random)                   | 16
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |             counter (1, 2, 3 ... per sender session)          | 24
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                 sealed body (0..DS_WIRE_BODY_MAX)             | 32
 *  +---------------------------------------------------------------+
 *  |                  Poly1305 tag (16 bytes)                      |
 *  +---------------------------------------------------------------+
 *
 * The first byte is the message type and lies in 4..15, the only range that neither
 * RFC 7983 section 7 nor its update RFC 9443 gives to anybody (0-3 STUN, 16-19 ZRTP, 20-63
 * DTLS, 64-79 TURN ChannelData, 64-127 QUIC short header, 128-191 RTP/RTCP, 192-255 QUIC
 * long header). So STUN, TURN and our packets share one port and are told apart by one byte.
 *
 * Nonce (96 bits) = 4 zero bytes || counter. The key is unique per sender session (derived
 * from the session id, ds_key_session_derive) and the counter never repeats in a session,
 * so no (key, nonce) pair is ever used twice, not even after a restart.
 */
#ifndef DS_WIRE_H
#define DS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "key.h"

#define DS_WIRE_VERSION      1
#define DS_WIRE_DEFAULT_PORT 41878
#define DS_WIRE_HDR_LEN      32
#define DS_WIRE_TAG_LEN      16
#define DS_WIRE_OVERHEAD     (DS_WIRE_HDR_LEN + DS_WIRE_TAG_LEN)
/* Largest packet we send or accept: a full 1500-byte IPv4 frame's UDP payload. */
#define DS_WIRE_MAX_PACKET   1472
#define DS_WIRE_BODY_MAX     (DS_WIRE_MAX_PACKET - DS_WIRE_OVERHEAD)

enum ds_wire_type {
	DS_WIRE_ECHO_REQUEST = 4,
	DS_WIRE_ECHO_REPLY = 5,
	DS_WIRE_PAIR_REQUEST = 6, /* packet-pair request */
	DS_WIRE_PAIR_DATA = 7,    /* packet-pair data, the only reply larger than its request */
	DS_WIRE_PUNCH_HINT = 8,
	DS_WIRE_KEEPALIVE = 9, /* also carries the session handshake (challenge/response) */
	DS_WIRE_REFUSAL = 10,
	/* 11..15 reserved: rejected as unknown */
	DS_WIRE_TYPE_MIN = 4,
	DS_WIRE_TYPE_MAX = 15,
};

/* What the first byte of a datagram on the warm port says (RFC 7983 / RFC 9443). */
enum ds_wire_demux {
	DS_DEMUX_EMPTY,
	DS_DEMUX_STUN,         /* 0..3 */
	DS_DEMUX_DATASTUN,     /* 4..15: ours */
	DS_DEMUX_ZRTP,         /* 16..19 */
	DS_DEMUX_DTLS,         /* 20..63 */
	DS_DEMUX_TURN_CHANNEL, /* 64..79 */
	DS_DEMUX_QUIC,         /* 80..127, 192..255 */
	DS_DEMUX_RTP,          /* 128..191 */
};
enum ds_wire_demux ds_wire_demux(const uint8_t *pkt, size_t len);
/* "echo-request", ... or NULL for a value that is not a type. */
const char *ds_wire_type_name(int type);

struct ds_wire_hdr {
	uint8_t type;
	uint8_t version;
	uint16_t flags; /* 0 in version 1; authenticated, ignored on receipt */
	uint32_t run_id;
	uint64_t pair_id;
	uint64_t session;
	uint64_t counter;
};

/* Parse the clear header. Checks length, range and version only; nothing is authentic yet.
 * 0, -EBADMSG (shorter than header + tag, or longer than DS_WIRE_MAX_PACKET),
 * -EPROTO (first byte not ours, or a reserved type), -EPROTONOSUPPORT (other version). */
int ds_wire_parse_hdr(const uint8_t *pkt, size_t len, struct ds_wire_hdr *h);
void ds_wire_put_hdr(const struct ds_wire_hdr *h, uint8_t out[DS_WIRE_HDR_LEN]);

/* One direction of one sender session: a keyed AEAD context, ready to seal (my session)
 * or to open (the peer's session). Opaque: it owns an OpenSSL context. */
struct ds_wire_key;

/* key = the 32-byte session key (ds_key_session_derive). -ENOMEM, -EINVAL. */
int ds_wire_key_new(const uint8_t key[DS_KEY_LEN], bool seal, struct ds_wire_key **out);
void ds_wire_key_free(struct ds_wire_key *k);
/* Re-key an existing context (no allocation): 0 or -EINVAL. */
int ds_wire_key_set(struct ds_wire_key *k, const uint8_t key[DS_KEY_LEN]);

/* Seal: header h (as AAD) + body -> out. Returns the packet length, -EMSGSIZE (would
 * exceed out_cap or DS_WIRE_MAX_PACKET), -EINVAL (bad header values, key not for sealing),
 * -EIO (OpenSSL failed). */
int ds_wire_seal(struct ds_wire_key *k, const struct ds_wire_hdr *h, const void *body,
		 size_t body_len, uint8_t *out, size_t out_cap);
/* Open a packet whose header parsed: authenticate header and body, decrypt the body into
 * body_out. 0, -EBADMSG (tag mismatch: forged, tampered, truncated, wrong key; body_out is
 * wiped), -EMSGSIZE (body_cap too small), -EINVAL. The tag check is OpenSSL's, in constant
 * time. */
int ds_wire_open(struct ds_wire_key *k, const uint8_t *pkt, size_t len, uint8_t *body_out,
		 size_t body_cap, size_t *body_len);

/* ---- bodies: every decoder checks every length; every encoder zero-fills its padding ----
 * Encoders take the body length wanted (>= the type's minimum; the rest is padding) and
 * return it, or -EMSGSIZE / -EINVAL. Decoders accept any padding. */

#define DS_WIRE_ECHO_LEN 40
/* Echo request and reply share one layout, so a reply can be exactly as large as the
 *  request. The responder fills rx_count, responder_rx_ns and responder_tx_ns.
 *    0 seq u32 | 4 rx_count u32 | 8 reply_len u16 | 10 flags u16 | 12 reserved u32
 *   16 sender_tx_ns u64 | 24 responder_rx_ns u64 | 32 responder_tx_ns u64 | 40 padding */
struct ds_wire_echo {
	uint32_t seq;
	uint32_t rx_count;  /* reply: requests of this run received so far (per-direction loss) */
	uint16_t reply_len; /* request: wanted reply packet length, 0 = same as request */
	uint16_t flags;
	uint64_t sender_tx_ns;    /* sender's clock, echoed back untouched */
	uint64_t responder_rx_ns; /* responder's clock (kernel receive timestamp) */
	uint64_t responder_tx_ns; /* responder's clock, just before sending */
};
int ds_wire_echo_encode(const struct ds_wire_echo *e, uint8_t *out, size_t body_len);
int ds_wire_echo_decode(const uint8_t *body, size_t len, struct ds_wire_echo *e);
/* Packet length of the reply to an echo request of req_packet_len bytes: reply_len clamped
 * to [DS_WIRE_OVERHEAD + DS_WIRE_ECHO_LEN, req_packet_len]; never larger than the request. */
size_t ds_wire_echo_reply_len(const struct ds_wire_echo *req, size_t req_packet_len);

#define DS_WIRE_PAIR_MAX_COUNT 32 /* pairs per request */
#define DS_WIRE_PAIR_REQUEST_LEN 24
/* Packet-pair request: "send me `count` back-to-back pairs of `size`-byte packets, `gap_us`
 *  between pairs". count * 2 * size is what one request can cost the responder.
 *    0 seq u32 | 4 count u16 | 6 size u16 | 8 gap_us u32 | 12 reserved u32
 *   16 sender_tx_ns u64 | 24 padding */
struct ds_wire_pair_request {
	uint32_t seq;
	uint16_t count;  /* 1..DS_WIRE_PAIR_MAX_COUNT */
	uint16_t size;   /* packet length of each data packet, DS_WIRE_OVERHEAD +
			    DS_WIRE_PAIR_DATA_LEN .. DS_WIRE_MAX_PACKET */
	uint32_t gap_us; /* pause between pairs, at most 1 s */
	uint64_t sender_tx_ns;
};
int ds_wire_pair_request_encode(const struct ds_wire_pair_request *r, uint8_t *out,
				size_t body_len);
int ds_wire_pair_request_decode(const uint8_t *body, size_t len, struct ds_wire_pair_request *r);

#define DS_WIRE_PAIR_DATA_LEN 32
/* Packet-pair data: one packet of a pair.
 *    0 seq u32 (the request's) | 4 index u16 (pair) | 6 member u8 (0, 1) | 7 flags u8
 *    8 size u16 (this packet's length) | 10 count u16 | 12 reserved u32
 *   16 sender_tx_ns u64 (the request's, echoed) | 24 responder_tx_ns u64 | 32 padding */
struct ds_wire_pair_data {
	uint32_t seq;
	uint16_t index;
	uint8_t member;
	uint8_t flags;
	uint16_t size;
	uint16_t count;
	uint64_t sender_tx_ns;
	uint64_t responder_tx_ns;
};
int ds_wire_pair_data_encode(const struct ds_wire_pair_data *d, uint8_t *out, size_t body_len);
int ds_wire_pair_data_decode(const uint8_t *body, size_t len, struct ds_wire_pair_data *d);

#define DS_WIRE_PUNCH_MAX_CANDIDATES 8
#define DS_WIRE_PUNCH_LEN            16
#define DS_WIRE_PUNCH_CAND_LEN       20
enum ds_wire_cand_kind { DS_CAND_HOST = 1, DS_CAND_SRFLX = 2, DS_CAND_RELAY = 3 };
struct ds_wire_cand {
	uint8_t family; /* 4 or 6 */
	uint8_t kind;   /* enum ds_wire_cand_kind */
	uint16_t port;
	uint8_t addr[16]; /* IPv4 in the first 4 bytes, the rest zero */
};
/* Punch hint: "I start punching toward you in start_in_ms; fire `attempts` bursts of
 *  `port_deltas` packets, interval_ms apart, at these candidates of mine".
 *    0 hint_id u32 | 4 attempts u8 | 5 port_deltas u8 | 6 interval_ms u16
 *    8 start_in_ms u16 | 10 ncand u8 | 11 reserved u8 | 12 reserved u32
 *   16 ncand x { family u8 | kind u8 | port u16 | addr 16 bytes } | padding */
struct ds_wire_punch {
	uint32_t hint_id;
	uint8_t attempts;    /* 1..16 */
	uint8_t port_deltas; /* 0..128 */
	uint16_t interval_ms;
	uint16_t start_in_ms;
	uint8_t ncand; /* 0..DS_WIRE_PUNCH_MAX_CANDIDATES */
	struct ds_wire_cand cand[DS_WIRE_PUNCH_MAX_CANDIDATES];
};
int ds_wire_punch_encode(const struct ds_wire_punch *p, uint8_t *out, size_t body_len);
int ds_wire_punch_decode(const uint8_t *body, size_t len, struct ds_wire_punch *p);
/* Smallest body for p (header part + its candidates). */
size_t ds_wire_punch_len(const struct ds_wire_punch *p);

#define DS_WIRE_CHALLENGE_LEN 16
#define DS_WIRE_KEEPALIVE_LEN 40
enum { DS_KA_CHALLENGE = 1, DS_KA_RESPONSE = 2 };
/* Keepalive: keeps the NAT pinhole open and carries the session handshake.
 *    0 flags u16 (1 = challenge present, 2 = response present) | 2 reserved u16
 *    4 reserved u32 | 8 challenge 16 bytes | 24 response 16 bytes | 40 padding */
struct ds_wire_keepalive {
	uint16_t flags;
	uint8_t challenge[DS_WIRE_CHALLENGE_LEN];
	uint8_t response[DS_WIRE_CHALLENGE_LEN];
};
int ds_wire_keepalive_encode(const struct ds_wire_keepalive *k, uint8_t *out, size_t body_len);
int ds_wire_keepalive_decode(const uint8_t *body, size_t len, struct ds_wire_keepalive *k);

#define DS_WIRE_REFUSAL_LEN 8
enum ds_wire_refusal_reason {
	DS_REFUSE_MESH_OFF = 1,   /* mesh testing switched off on this agent */
	DS_REFUSE_FLEET_OFF = 2,  /* switched off fleet-wide */
	DS_REFUSE_BUSY = 3,       /* rate limit or too many runs */
	DS_REFUSE_UNSUPPORTED = 4 /* request understood but not offered */
};
/* Refusal: the authenticated "no" that lets a peer report `refused` instead of `down`.
 *    0 reason u16 | 2 refused_type u8 | 3 reserved u8 | 4 refused_seq u32 | 8 padding */
struct ds_wire_refusal {
	uint16_t reason;
	uint8_t refused_type;
	uint32_t refused_seq;
};
int ds_wire_refusal_encode(const struct ds_wire_refusal *r, uint8_t *out, size_t body_len);
int ds_wire_refusal_decode(const uint8_t *body, size_t len, struct ds_wire_refusal *r);
const char *ds_wire_refusal_name(int reason);

/* The counter name for a receive result (ds-wire(7), DROPPED PACKETS): -EBADMSG from
 * ds_wire_parse_hdr is "length", from an open "auth"; so the caller says which step failed.
 * step: 0 = header, 1 = pair lookup (any error = "pair"), 2 = open. "ok" for 0. */
const char *ds_wire_drop_reason(int step, int err);

/* Minimum body length of a type, or -EPROTO for an unknown type. */
int ds_wire_body_min(int type);

#endif
