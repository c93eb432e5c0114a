/* SPDX-License-Identifier: MIT */
/*
 * Captured frames down to the UDP datagram (or the ICMP error about one): the link layers
 * libpcap gives on Linux (Ethernet, Linux cooked v1 and v2 for "any", raw IP, loopback
 * NULL), IPv4 and IPv6 (extension headers skipped), UDP, ICMP and ICMPv6 errors with the
 * datagram they quote. Every length is checked before it is read; fragments other than
 * the first carry no UDP header and are reported as such.
 */
#ifndef DS_PKT_H
#define DS_PKT_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum ds_pkt_proto {
	DS_PKT_OTHER = 0,
	DS_PKT_UDP,
	DS_PKT_ICMP_ERROR, /* ICMP/ICMPv6 error quoting a UDP datagram */
	DS_PKT_ICMP_OTHER, /* echo, neighbour discovery, ... */
	DS_PKT_FRAGMENT,   /* a non-first fragment: no transport header */
};

struct ds_pkt {
	enum ds_pkt_proto proto;
	struct ds_addr src, dst;  /* with UDP ports for DS_PKT_UDP */
	const uint8_t *payload;   /* UDP payload (captured part) */
	size_t payload_len;       /* captured bytes of it */
	size_t udp_len;           /* UDP length from the header (payload + 8) */
	/* DS_PKT_ICMP_ERROR: the error and the quoted datagram's addresses and ports. */
	int icmp_type, icmp_code, icmp_v6;
	struct ds_addr inner_src, inner_dst;
};

/* Link-layer types (DLT_ values as libpcap reports them). */
#define DS_DLT_NULL      0
#define DS_DLT_EN10MB    1
#define DS_DLT_RAW       12
#define DS_DLT_RAW_ALT   101
#define DS_DLT_LINUX_SLL 113
#define DS_DLT_IPV4      228
#define DS_DLT_IPV6      229
#define DS_DLT_LINUX_SLL2 276

/* 0, -EPROTONOSUPPORT (a link type or protocol we do not read: proto OTHER), or -EBADMSG
 * (truncated or inconsistent). */
int ds_pkt_parse(int dlt, const uint8_t *frame, size_t caplen, struct ds_pkt *out);

#endif
