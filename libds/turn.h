/* SPDX-License-Identifier: MIT */
/*
 * TURN client over UDP (RFC 8656), built on the STUN codec (stun.h).
 *
 * Sans I/O: a ds_turn owns no socket. The caller feeds it the datagrams that arrive from
 * the server (ds_turn_input) and the passing of time (ds_turn_tick), and sends what it
 * hands out (ds_turn_pull) to ds_turn_server(). That lets the agent hold the allocation on
 * its warm socket, next to its own traffic; ds_turn_drive() is a small blocking loop over
 * one socket for tools and tests.
 *
 * What it does:
 *   - Allocate (§7.1) with long-term credentials (RFC 8489 §9.2): an unauthenticated
 *     request, the 401 with REALM and NONCE (and PASSWORD-ALGORITHMS: SHA-256 preferred),
 *     the authenticated retry; 438 Stale Nonce retried with the new nonce; 300 Try
 *     Alternate follows ALTERNATE-SERVER; other errors end it (ds_turn_error_text).
 *   - coturn's REST credentials (ds_turn_rest_credentials) are long-term credentials too.
 *   - Refresh (§7.3) before the lifetime runs out, and Refresh with LIFETIME 0 to release.
 *   - Permissions (§9) refreshed before their 300 s expire, channels (§11) 0x4000-0x4FFF
 *     refreshed before their 600 s expire.
 *   - Data to a peer as ChannelData (§12.4) once a channel is bound, else as a Send
 *     indication (§10); data from peers out of ChannelData or Data indications.
 *
 * Every request is retransmitted on the RFC 8489 §6.2.1 schedule (struct ds_stun_retrans)
 * and an answer counts only when it comes from the server address with the transaction id
 * of a pending request; success responses must carry a valid MESSAGE-INTEGRITY(-SHA256).
 */
#ifndef DS_TURN_H
#define DS_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "stun.h"
#include "stunclient.h"

#define DS_TURN_PORT                  3478
#define DS_TURN_CHANNEL_MIN           0x4000 /* RFC 8656 §12 */
#define DS_TURN_CHANNEL_MAX           0x4FFF
#define DS_TURN_CHANNEL_HDR_LEN       4
#define DS_TURN_PERMISSION_LIFETIME_S 300 /* §9, fixed by the RFC */
#define DS_TURN_CHANNEL_LIFETIME_S    600 /* §12 */
#define DS_TURN_DEFAULT_LIFETIME_S    600 /* §7.2: what a server grants by default */
/* Refresh this long before an allocation, permission or channel would expire (RFC 8656
 * §7.3, §9.1 and §12.1 all suggest one minute). */
#define DS_TURN_REFRESH_MARGIN_S 60
#define DS_TURN_MAX_PEERS        32 /* permissions (and channels) one client holds */
#define DS_TURN_MAX_REDIRECTS    3  /* 300 Try Alternate followed at most this often */
#define DS_TURN_MAX_STALE        3  /* 438 Stale Nonce retries in a row per request */
/* Largest request we build (USERNAME, REALM, NONCE, SOFTWARE at their RFC maxima fit):
 * a ds_turn_pull buffer this big never gets -ENOSPC. */
#define DS_TURN_REQ_MAX 3072
/* Bytes ds_turn_wrap adds at most: a Send indication to an IPv6 peer with FINGERPRINT
 * (20 + 24 + 4 + 3 padding + 8); ChannelData adds 4. */
#define DS_TURN_SEND_OVERHEAD 60

/*
 * ChannelData (RFC 8656 §12.4):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Channel Number        |            Length             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                                                               |
 *   /                       Application Data                        /
 *   /                                                               /
 *   |                                                               |
 *   |                               +-------------------------------+
 *   |                               |
 *   +-------------------------------+
 *
 * The first byte is 0x40-0x4F (64-79), which tells ChannelData from STUN (0-3) and from the
 * toolkit's own packets on a shared port (RFC 7983). Over UDP the padding to a multiple of 4
 * is optional: both forms are accepted, and we send without it.
 */
/* Could this datagram be ChannelData? (first byte 64-79 and at least the header) */
bool ds_turn_is_channel_data(const void *buf, size_t len);
/* Encode: 0 with *out_len, -EINVAL (channel out of range, len > 65535), -ENOSPC. */
int ds_turn_channel_data_encode(uint16_t channel, const void *data, size_t len, void *buf,
				size_t cap, size_t *out_len);
/* Decode: 0 with *channel, *data pointing into buf, *data_len; -EBADMSG when the header is
 * bad or the length does not fit the datagram (up to 3 padding bytes may follow). */
int ds_turn_channel_data_decode(const void *buf, size_t len, uint16_t *channel,
				const uint8_t **data, size_t *data_len);

/*
 * coturn's TURN REST credentials ("use-auth-secret"): username "EXPIRY:USER" with EXPIRY
 * the Unix time the credentials stop working, password base64(HMAC-SHA1(secret, username)).
 * user may be NULL or "" (username is then just the timestamp). 0, -ENOSPC, -EIO.
 */
#define DS_TURN_REST_PASSWORD_LEN 28 /* base64 of 20 bytes */
int ds_turn_rest_credentials(const char *secret, const char *user, int64_t expiry_unix,
			     char *username, size_t username_len, char *password,
			     size_t password_len);

struct ds_turn_config {
	struct ds_addr server;
	const char *username; /* long-term, or from ds_turn_rest_credentials */
	const char *password;
	const char *software;           /* SOFTWARE in requests, NULL = none */
	uint32_t lifetime_s;            /* LIFETIME asked for, 0 = the server's default */
	int family;                     /* REQUESTED-ADDRESS-FAMILY: 0 = the server's (same as
					 * server's address), AF_INET or AF_INET6 */
	bool no_fingerprint;            /* leave FINGERPRINT out of what we send */
	struct ds_stun_retrans retrans; /* rto_ns 0 = RFC 8489 defaults */
};

enum ds_turn_state {
	DS_TURN_IDLE,       /* nothing asked yet */
	DS_TURN_ALLOCATING, /* Allocate in flight (challenge, retries, redirects) */
	DS_TURN_ALLOCATED,  /* relayed address held and refreshed */
	DS_TURN_RELEASING,  /* Refresh LIFETIME=0 in flight */
	DS_TURN_RELEASED,   /* the server has no allocation of ours any more */
	DS_TURN_FAILED,     /* see ds_turn_failure */
};

enum ds_turn_event_type {
	DS_TURN_EV_ALLOCATED,  /* relayed, mapped, lifetime_s */
	DS_TURN_EV_REDIRECTED, /* 300: peer = the new server; send there from now on */
	DS_TURN_EV_REFRESHED,  /* lifetime_s */
	DS_TURN_EV_PERMISSION, /* peer: installed or refreshed */
	DS_TURN_EV_CHANNEL,    /* peer, channel: bound or refreshed */
	DS_TURN_EV_RELEASED,
	DS_TURN_EV_FAILED, /* a request failed: method says which; error/code why.
			    * For Allocate and Refresh the client is then FAILED. */
};

struct ds_turn_event {
	enum ds_turn_event_type type;
	uint16_t method;     /* DS_STUN_ALLOCATE, ... (the request the event is about) */
	int error;           /* -errno: -ETIMEDOUT, -EPROTO (error response: see code),
			      * -EACCES (401 to an authenticated request), -ELOOP (too many
			      * redirects or stale nonces) */
	int code;            /* STUN error code, 0 when none */
	char reason[128];    /* reason phrase of the error response, may be empty */
	struct ds_addr peer; /* permission / channel peer, or the new server for 300 */
	uint16_t channel;
	struct ds_addr relayed, mapped;
	uint32_t lifetime_s;
};

/* What ds_turn_input found in a datagram. */
enum ds_turn_input_kind {
	DS_TURN_IN_CONSUMED = 1, /* a response to one of our requests (or an ignored
				  * indication from the server) */
	DS_TURN_IN_DATA = 2,     /* data from a peer: see struct ds_turn_data */
};

struct ds_turn_data {
	struct ds_addr peer;
	const uint8_t *data; /* points into the datagram given to ds_turn_input */
	size_t len;
	uint16_t channel; /* 0 when it came in a Data indication */
};

struct ds_turn;

/* Checks the config (server address, username and password present). The strings are
 * copied. 0, -EINVAL, -ENOMEM. */
int ds_turn_new(const struct ds_turn_config *cfg, struct ds_turn **out);
void ds_turn_free(struct ds_turn *t);

/* Start allocating (IDLE, RELEASED or FAILED: a fresh start). 0, -EALREADY. */
int ds_turn_allocate(struct ds_turn *t, int64_t now_ns);
/* Refresh now rather than a minute before expiry (e.g. after the NAT may have rebound).
 * 0, -ENOTCONN (not ALLOCATED), -EALREADY (a refresh is in flight). */
int ds_turn_refresh(struct ds_turn *t, int64_t now_ns);
/* Release: Refresh with LIFETIME 0 (ALLOCATED), else just forget. 0. */
int ds_turn_release(struct ds_turn *t, int64_t now_ns);

/*
 * Ask for a permission for peer's IP address (the port is ignored, §9), kept refreshed until
 * ds_turn_forget. Before the allocation exists it waits for it. 0, -ENOSPC (table full),
 * -EAFNOSUPPORT (family differs from the relayed address's).
 */
int ds_turn_permit(struct ds_turn *t, const struct ds_addr *peer, int64_t now_ns);
/* Bind a channel to peer (address and port), which also permits it; *channel (may be NULL)
 * gets the number chosen. 0, -ENOSPC, -EAFNOSUPPORT. */
int ds_turn_bind(struct ds_turn *t, const struct ds_addr *peer, int64_t now_ns, uint16_t *channel);
/* Stop refreshing the permission and channel of peer (they lapse on the server). */
void ds_turn_forget(struct ds_turn *t, const struct ds_addr *peer);

/*
 * A datagram received at now_ns from `from`. Returns DS_TURN_IN_CONSUMED, DS_TURN_IN_DATA
 * (with *data filled; data may be NULL to drop it), or -ENOENT (not for us: another source,
 * not STUN or ChannelData, an unknown transaction or channel: the caller may have other use
 * for it), -EBADMSG (malformed), -EACCES (a response failing its integrity check),
 * -EALREADY (a late or duplicate answer).
 */
int ds_turn_input(struct ds_turn *t, const void *pkt, size_t len, const struct ds_addr *from,
		  int64_t now_ns, struct ds_turn_data *data);
/* Retransmit what is due, time out what has expired, start the refreshes that are due.
 * Returns the nanoseconds until the next deadline (0: call again now), or -1 for none. */
int64_t ds_turn_tick(struct ds_turn *t, int64_t now_ns);
/* Next datagram to send to *dst (always the server): 1 with *len, 0 when there is none,
 * -ENOSPC when cap is too small (the datagram stays queued). */
int ds_turn_pull(struct ds_turn *t, void *buf, size_t cap, size_t *len, struct ds_addr *dst);
/* Next event: 1 with *ev, 0 when none. Events beyond 32 unread drop the oldest. */
int ds_turn_event(struct ds_turn *t, struct ds_turn_event *ev);

/*
 * Wrap data for peer: ChannelData when a channel to peer is bound, else a Send indication
 * (which the server relays only when peer has a permission). Send the result to
 * ds_turn_server(). 0 with *out_len, -ENOTCONN (not ALLOCATED), -ENOSPC, -EMSGSIZE.
 */
int ds_turn_wrap(struct ds_turn *t, const struct ds_addr *peer, const void *data, size_t len,
		 void *buf, size_t cap, size_t *out_len);

enum ds_turn_state ds_turn_state(const struct ds_turn *t);
const char *ds_turn_state_name(enum ds_turn_state s);
/* The server requests go to (changes after a 300 Try Alternate). */
const struct ds_addr *ds_turn_server(const struct ds_turn *t);
/* XOR-RELAYED-ADDRESS and XOR-MAPPED-ADDRESS of the allocation: 0, or -ENOTCONN. */
int ds_turn_relayed(const struct ds_turn *t, struct ds_addr *out);
int ds_turn_mapped(const struct ds_turn *t, struct ds_addr *out);
/* Seconds the server granted, and when (monotonic ns) the allocation expires. */
uint32_t ds_turn_lifetime(const struct ds_turn *t);
int64_t ds_turn_expires_ns(const struct ds_turn *t);
/* Why the client is FAILED: -errno and STUN code (0 if none). reason may be NULL. */
int ds_turn_failure(const struct ds_turn *t, int *code, char *reason, size_t len);
/* Channel bound to peer (0 when none or not yet confirmed). */
uint16_t ds_turn_channel(const struct ds_turn *t, const struct ds_addr *peer);
/* Whether peer's permission is installed (confirmed by the server and not expired). */
bool ds_turn_permitted(const struct ds_turn *t, const struct ds_addr *peer, int64_t now_ns);
/* Password algorithm used: DS_STUN_PASSWORD_MD5 or _SHA256 (0 before the challenge). */
uint16_t ds_turn_password_algorithm(const struct ds_turn *t);

/* A short text for a TURN error code: "Allocation Mismatch" for 437, "Allocation Quota
 * Reached" for 486, "Insufficient Capacity" for 508, ...; "" for codes not listed. */
const char *ds_turn_error_text(int code);

/*
 * Blocking driver for tools and tests: send what is queued on fd (connected or not),
 * then poll fd, feed what arrives, tick, until an event is queued (returns 1), peer data
 * was handed to on_data (returns 2; on_data may be NULL), deadline_ns (monotonic) passes
 * (returns 0), or an error (-errno). Datagrams that are not ours are dropped.
 */
typedef void (*ds_turn_data_fn)(void *arg, const struct ds_turn_data *d);
int ds_turn_drive(struct ds_turn *t, int fd, int64_t deadline_ns, ds_turn_data_fn on_data,
		  void *arg);
/* Send everything queued on fd. 0 or -errno. */
int ds_turn_flush(struct ds_turn *t, int fd);

#endif
