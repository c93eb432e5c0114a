/* SPDX-License-Identifier: MIT */
/*
 * Every TCP socket of the current network namespace, read through netlink sock_diag
 * (NETLINK_SOCK_DIAG, inet_diag_req_v2, INET_DIAG_INFO -> struct tcp_info), IPv4 and IPv6,
 * and the sockets the kernel destroys, from the SKNLGRP_INET_TCP_DESTROY and
 * SKNLGRP_INET6_TCP_DESTROY multicast groups (final counters, keyed by the socket cookie;
 * open to any user on current kernels, CAP_NET_ADMIN on kernels that restrict them).
 *
 * The parser (ds_sockdiag_parse) takes the raw bytes of one netlink datagram and checks
 * every length before it reads; it is fuzzed (tests/fuzz/fuzz_sockdiag.c).
 */
#ifndef DS_SOCKDIAG_H
#define DS_SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* One TCP socket as the kernel reports it. Counters are cumulative over the socket's life. */
struct ds_tcp_session {
	struct ds_addr local;
	struct ds_addr remote;
	uint64_t cookie; /* socket cookie: unique for the socket's life, never reused */
	uint32_t inode;  /* 0 once the socket has no file (orphaned or destroyed) */
	uint32_t uid;
	uint8_t state;           /* TCP_ESTABLISHED ... (netinet/tcp.h numbering) */
	bool has_info;           /* INET_DIAG_INFO was present */
	uint32_t rtt_us;         /* tcpi_rtt: smoothed RTT */
	uint32_t rttvar_us;      /* tcpi_rttvar */
	uint32_t min_rtt_us;     /* tcpi_min_rtt */
	uint32_t total_retrans;  /* tcpi_total_retrans: segments retransmitted over the life */
	uint32_t segs_out;       /* tcpi_segs_out: segments sent, retransmissions included */
	uint32_t segs_in;        /* tcpi_segs_in */
	uint32_t data_segs_out;  /* tcpi_data_segs_out */
	uint64_t bytes_acked;    /* tcpi_bytes_acked */
	uint64_t bytes_received; /* tcpi_bytes_received */
	uint64_t bytes_sent;     /* tcpi_bytes_sent (0 on kernels before 4.19) */
	uint64_t bytes_retrans;  /* tcpi_bytes_retrans */
	uint64_t busy_time_us;   /* tcpi_busy_time */
	uint32_t last_data_sent_ms, last_data_recv_ms, last_ack_recv_ms;
	uint32_t snd_cwnd;
};

/* TCP states as bits for ds_sockdiag_dump (1 << TCP_ESTABLISHED, ...). */
/* All but LISTEN (10), TIME_WAIT (6) and NEW_SYN_RECV (12): sockets that carry a session. */
#define DS_SOCKDIAG_STATES_CONNECTED 0x0bbeu

/* Called once per socket; a negative return stops the walk and is passed back. */
typedef int (*ds_sockdiag_cb)(const struct ds_tcp_session *s, void *arg);

/*
 * Parse one netlink datagram (a chain of nlmsghdr) holding SOCK_DIAG_BY_FAMILY messages.
 * Calls cb for each socket. *done is set when NLMSG_DONE is seen (may be NULL).
 * Returns the number of sockets seen, a callback's negative return, -EBADMSG for bytes
 * that do not add up, or the kernel's error from an NLMSG_ERROR message.
 */
int ds_sockdiag_parse(const void *buf, size_t len, ds_sockdiag_cb cb, void *arg, bool *done);

struct ds_sockdiag;

/* Open a NETLINK_SOCK_DIAG socket. 0 or -errno. */
int ds_sockdiag_new(struct ds_sockdiag **out);
void ds_sockdiag_free(struct ds_sockdiag *d);

/*
 * Dump the TCP sockets of one family (AF_INET or AF_INET6) in the given states with
 * tcp_info. Returns the number of sockets, a callback's negative return, or -errno.
 */
int ds_sockdiag_dump(struct ds_sockdiag *d, int family, uint32_t states, ds_sockdiag_cb cb,
		     void *arg);

/*
 * Join the TCP destroy groups (IPv4 and IPv6); -EPERM where the kernel restricts them.
 * Returns a non-blocking descriptor to poll for POLLIN, or -errno.
 */
int ds_sockdiag_destroy_open(struct ds_sockdiag *d);
/*
 * Read every pending destroy notification without blocking. Returns the number of
 * sockets reported, or -errno. *lost counts overruns (ENOBUFS: notifications the kernel
 * dropped because the receive buffer was full); may be NULL.
 */
int ds_sockdiag_destroy_read(struct ds_sockdiag *d, ds_sockdiag_cb cb, void *arg, unsigned *lost);

#endif
