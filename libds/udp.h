/* SPDX-License-Identifier: MIT */
/*
 * The warm UDP port: one IPv4 socket and one IPv6 socket (IPV6_V6ONLY) bound to the same
 * port, with kernel receive timestamps, kernel transmit timestamps where the kernel gives
 * them, the local address each datagram arrived on (IP_PKTINFO / IPV6_RECVPKTINFO) so a
 * reply leaves from the address its request came to, DSCP (IP_TOS / IPV6_TCLASS) and
 * batched I/O (recvmmsg / sendmmsg).
 *
 * Why two sockets and not one dual-stack socket: -4/-6 and hosts without IPv6 simply leave
 * one out; IPv4 peers keep plain IPv4 addresses (no ::ffff: mapping to undo in every table);
 * IP_TOS and IP_PKTINFO apply to IPv4 without the mapped-address corner cases; and a tool
 * that borrows the port (ds-ctl(7)) gets the descriptor of the family it dials.
 *
 * SO_REUSEADDR is not set by default: UDP has no TIME_WAIT, so a restart does not need it,
 * and on Linux it would let a second agent bind the same port and silently take part of
 * the traffic. A second agent on a port in use fails with -EADDRINUSE instead.
 *
 * All timestamps handed out are CLOCK_MONOTONIC nanoseconds (ds_clock_ns): the kernel's
 * CLOCK_REALTIME stamps are converted with the offset between the two clocks read at
 * receive time, so they compare with every other time in the toolkit.
 */
#ifndef DS_UDP_H
#define DS_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define DS_UDP_BATCH 64 /* datagrams per recvmmsg/sendmmsg call at most */

enum ds_udp_family_flags {
	DS_UDP_IPV4 = 1,
	DS_UDP_IPV6 = 2,
};

struct ds_udp_config {
	uint16_t port;               /* 0 = any free port (the same for both families) */
	int families;                /* DS_UDP_IPV4 | DS_UDP_IPV6; 0 = both */
	const struct ds_addr *bind4; /* NULL = 0.0.0.0 */
	const struct ds_addr *bind6; /* NULL = :: */
	int tos;                     /* DS field (DSCP << 2) for every datagram; -1 = leave */
	bool reuseaddr;              /* see above: off unless asked for */
	bool family_optional;        /* a family that cannot be opened (no IPv6) is skipped */
	int bufsize;                 /* SO_RCVBUF/SO_SNDBUF wanted; 0 = 4 MiB (capped by sysctl) */
};

/* What the sockets can do, learnt when they were opened. */
enum ds_udp_caps {
	DS_UDP_CAP_RX_KERNEL_TS = 1, /* SO_TIMESTAMPING software receive stamps */
	DS_UDP_CAP_TX_KERNEL_TS = 2, /* SO_TIMESTAMPING software transmit stamps */
	DS_UDP_CAP_RX_TSNS = 4,      /* fallback: SO_TIMESTAMPNS */
};

struct ds_udp;

/* 0, -EADDRINUSE, -EAFNOSUPPORT (no family could be opened), -ENOMEM, -errno. */
int ds_udp_open(const struct ds_udp_config *cfg, struct ds_udp **out);
void ds_udp_free(struct ds_udp *u);
/* Descriptor of a family (AF_INET / AF_INET6), or -1 when that family is not open. */
int ds_udp_fd(const struct ds_udp *u, int family);
uint16_t ds_udp_port(const struct ds_udp *u);
unsigned ds_udp_caps(const struct ds_udp *u);

/* One datagram, received or to send. Caller-owned buffer. */
struct ds_udp_msg {
	uint8_t *buf;
	size_t cap;           /* receive: room in buf */
	size_t len;           /* received / to send */
	struct ds_addr peer;  /* receive: source; send: destination */
	struct ds_addr local; /* receive: address it arrived on; send: source (len 0 = any) */
	int ifindex;          /* receive: interface it arrived on; send: 0 = any */
	int64_t rx_ns;        /* receive: monotonic ns (kernel stamp when rx_kernel) */
	bool rx_kernel;       /* the stamp is the kernel's */
	bool truncated;       /* longer than cap: do not parse */
	int tos;              /* send: DS field for this datagram, -1 = socket default */
};

/* Receive up to n datagrams without blocking. Returns how many (0 = none waiting), or
 * -errno. n is capped at DS_UDP_BATCH. */
int ds_udp_recv(struct ds_udp *u, int fd, struct ds_udp_msg *m, size_t n);

enum ds_udp_send_flags {
	DS_UDP_SEND_TX_STAMP = 1, /* ask the kernel for a transmit timestamp (error queue) */
};
/* Send n datagrams on fd (n capped at DS_UDP_BATCH) without blocking. Returns how many
 * went out (fewer when the socket buffer filled), or -errno for the first one. */
int ds_udp_send(int fd, struct ds_udp_msg *m, size_t n, unsigned flags);

/* A kernel transmit timestamp read back from the error queue. */
struct ds_udp_txstamp {
	int64_t tx_ns;    /* monotonic ns */
	uint8_t head[64]; /* first bytes of the UDP payload it belongs to */
	size_t head_len;
	size_t payload_len; /* length of that UDP payload, 0 when the kernel gave none */
};
/* Drain up to n transmit timestamps from fd's error queue. Returns how many, or -errno.
 * Other error-queue entries (ICMP errors) are consumed and not returned. */
int ds_udp_read_txstamps(int fd, struct ds_udp_txstamp *out, size_t n);

/* DS field for a socket (IP_TOS or IPV6_TCLASS by family). 0 or -errno. */
int ds_udp_set_tos(int fd, int family, int tos);

/* Host addresses of this machine usable as candidates (up, not loopback, not link-local
 * IPv6), with the port set. Returns how many were written (at most max), or -errno. */
int ds_udp_local_addrs(int family, uint16_t port, struct ds_addr *out, size_t max);

/* A subnet this host is on: an interface address and its prefix length. */
struct ds_udp_net {
	struct ds_addr addr;
	uint8_t plen;
};
/* The subnets of the up, non-loopback interfaces, both families, link-local ones skipped
 * (at most max). Count or -errno. */
int ds_udp_local_nets(struct ds_udp_net *out, size_t max);
/* Is a (either family) inside one of the n subnets: reachable on a link of this host,
 * without a router, so without crossing any NAT? */
bool ds_udp_on_link(const struct ds_udp_net *nets, size_t n, const struct ds_addr *a);

#endif
