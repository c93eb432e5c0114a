/* SPDX-License-Identifier: MIT */
/*
 * Traceroute along the path a pair actually uses: UDP probes from the pair's own socket
 * (the warm port) to the peer's own port, so NATs, firewalls and per-flow load balancers
 * treat the probes exactly like the measurement traffic (the five-tuple never changes;
 * only the TTL / hop limit does, as in Paris traceroute).
 *
 * No raw socket and no privilege: ICMP time-exceeded and destination-unreachable errors
 * come back on the UDP socket's error queue (IP_RECVERR / IPV6_RECVERR) with the router's
 * address (SO_EE_OFFENDER) and the quoted payload, which carries the probe id.
 *
 * Probe payload (8 bytes, then zero padding up to the probe size):
 *
 *   +--------+--------+--------+--------+--------+--------+--------+--------+
 *   |  'd'   |  'T'   |  'R'   | 0x06   |           probe id (be32)         |
 *   +--------+--------+--------+--------+--------+--------+--------+--------+
 *
 * The first byte 'd' (100) falls in the range RFC 9443 gives to QUIC, which the warm port
 * does not speak: an agent that receives a probe drops it unanswered, like any packet that
 * is neither STUN, TURN ChannelData nor the toolkit's own (4-15, see ds-wire(7)).
 */
#ifndef DS_TRACE_H
#define DS_TRACE_H

#include <stdint.h>

#include "addr.h"

#define DS_TRACE_MAX_HOPS   64
#define DS_TRACE_MAX_PROBES 10
#define DS_TRACE_MIN_SIZE   8

enum ds_trace_reply {
	DS_TRACE_SILENT = 0,	     /* no answer within the wait */
	DS_TRACE_TIME_EXCEEDED,	     /* a router on the way */
	DS_TRACE_DESTINATION,	     /* the target itself answered (port unreachable or UDP) */
	DS_TRACE_UNREACHABLE,	     /* a router refused: net/host unreachable, prohibited */
};

struct ds_trace_opts {
	int first_ttl;		/* 1 */
	int max_ttl;		/* 30 */
	int probes_per_hop;	/* 1..DS_TRACE_MAX_PROBES */
	int max_inflight;	/* hops probed at once (8); 1 = one hop at a time */
	int64_t wait_ns;	/* how long a probe may go unanswered (900 ms) */
	int64_t send_interval_ns; /* between two hops' probes (5 ms) */
	int size;		/* UDP payload bytes, >= DS_TRACE_MIN_SIZE */
};

struct ds_trace_hop {
	int ttl;
	struct ds_addr addr;	/* the first address that answered; empty when silent */
	int sent, answered;
	int other_addrs;	/* answers from an address other than addr (route change) */
	double rtt_ms[DS_TRACE_MAX_PROBES]; /* answered probes only, in arrival order */
	enum ds_trace_reply reply;
	int icmp_type, icmp_code; /* of the first answer */
};

struct ds_trace_result {
	struct ds_trace_hop hops[DS_TRACE_MAX_HOPS];
	int nhops;		/* hops reported: up to the destination, or max_ttl */
	int reached;		/* the destination answered */
	int unmatched;		/* errors whose quote was too short to carry the probe id */
	int kernel_timestamps;	/* RTTs come from kernel receive timestamps */
};

void ds_trace_opts_default(struct ds_trace_opts *o);
/* "time-exceeded", "destination", "unreachable", "silent" */
const char *ds_trace_reply_name(enum ds_trace_reply r);

/* Trace to target from the UDP socket fd (bound, of target's family; the caller's warm
 * socket or its own). Enables IP_RECVERR/IPV6_RECVERR and receive timestamps on fd, and
 * restores the TTL/hop limit it found. 0, or -errno (-EINVAL for bad options). */
int ds_trace_run(int fd, const struct ds_addr *target, const struct ds_trace_opts *o,
		 struct ds_trace_result *res);

#endif
