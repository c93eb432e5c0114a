/* SPDX-License-Identifier: MIT */
/*
 * What happened on the warm port, in plain text: each datagram named (STUN and TURN
 * messages with their addresses and errors, TURN ChannelData, the toolkit's own packets
 * by their clear header — type, run id, session, counter — and anything else by its
 * RFC 7983 / RFC 9443 first-byte range), and a capture summarised: STUN transactions
 * answered, retransmitted and unanswered with their RTTs, mapped addresses and whether
 * they changed, each run's packets per direction and the counter gaps of each sender
 * session, ICMP errors about the port, and the peers seen.
 */
#ifndef DS_DECODE_H
#define DS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "pkt.h"

enum ds_decode_kind {
	DS_KIND_STUN,
	DS_KIND_TURN_CHANNEL,
	DS_KIND_DATASTUN,
	DS_KIND_ICMP_ERROR,
	DS_KIND_OTHER,
};

struct ds_decoded {
	enum ds_decode_kind kind;
	char name[48];	  /* "stun-binding-request", "echo-request", "turn-channel-data"... */
	char detail[320]; /* the rest of the line */
	/* STUN */
	uint8_t tid[12];
	uint16_t stun_method;
	int stun_class;
	int stun_error; /* ERROR-CODE of an error response, else 0 */
	struct ds_addr mapped; /* XOR-MAPPED-ADDRESS of a success response, when present */
	/* datastun */
	uint32_t run_id;
	uint64_t session, counter;
	int wire_type;
	/* TURN ChannelData */
	uint16_t channel;
};

/* Describe one UDP payload. Never fails: what it cannot read it calls "unknown" or
 * "malformed" and says why. */
void ds_decode_datagram(const uint8_t *p, size_t len, struct ds_decoded *d);
/* A whole captured packet (after ds_pkt_parse): UDP through ds_decode_datagram, ICMP
 * errors about a UDP datagram described with what they quote. */
void ds_decode_packet(const struct ds_pkt *pkt, struct ds_decoded *d);

/* ---- a capture's summary ---- */

struct ds_capsum;

/* port: the warm port, so that "out" and "in" mean from and to it (0 = no direction). */
int ds_capsum_new(uint16_t port, struct ds_capsum **out);
void ds_capsum_free(struct ds_capsum *s);
void ds_capsum_add(struct ds_capsum *s, int64_t ts_ns, const struct ds_pkt *pkt,
		   const struct ds_decoded *d);
/* The summary as lines of text into buf (NUL-terminated, cut at len). Returns the length
 * it needed. */
size_t ds_capsum_format(const struct ds_capsum *s, char *buf, size_t len);

#endif
