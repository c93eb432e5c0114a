/* SPDX-License-Identifier: MIT */
/*
 * Socket addresses: parsing and formatting in the one form every tool prints.
 *   IPv4 "192.0.2.1", "192.0.2.1:3478"
 *   IPv6 "2001:db8::1", "[2001:db8::1]:3478", "fe80::1%eth0", "[fe80::1%eth0]:3478"
 * Formatting with a port gives "192.0.2.1:3478" and "[2001:db8::1]:3478" (SPEC).
 */
#ifndef DS_ADDR_H
#define DS_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

struct ds_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
		struct sockaddr_storage ss;
	};
	socklen_t len; /* 0 for "no address" */
};

/* Longest formatted address: "[" v6 "%" ifname "]:" port. */
#define DS_ADDR_STRLEN (INET6_ADDRSTRLEN + 1 + 16 + 8)

enum ds_addr_flags {
	DS_ADDR_PORT_OPTIONAL = 0, /* "1.2.3.4" and "1.2.3.4:5" both accepted */
	DS_ADDR_PORT_REQUIRED = 1,
	DS_ADDR_PORT_FORBIDDEN = 2,
};

/* Parse a numeric address (no DNS). default_port is used when none is given.
 * 0, -EINVAL (not an address) or -ERANGE (port out of range). */
int ds_addr_parse(const char *s, uint16_t default_port, int flags, struct ds_addr *out);
/* "192.0.2.1:5" / "[2001:db8::1]:5" (with_port) or "192.0.2.1" / "2001:db8::1". */
char *ds_addr_format(const struct ds_addr *a, bool with_port, char *buf, size_t len);
/* Fill from a struct sockaddr of either family. 0 or -EAFNOSUPPORT. */
int ds_addr_from_sockaddr(struct ds_addr *a, const struct sockaddr *sa, socklen_t len);
/* AF_INET / AF_INET6 / AF_UNSPEC for an empty address. */
int ds_addr_family(const struct ds_addr *a);
uint16_t ds_addr_port(const struct ds_addr *a);
void ds_addr_set_port(struct ds_addr *a, uint16_t port);
/* Same family, address and port (and scope for link-local v6). */
bool ds_addr_equal(const struct ds_addr *a, const struct ds_addr *b);
/* Same family and address, port ignored. */
bool ds_addr_equal_host(const struct ds_addr *a, const struct ds_addr *b);
/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes plain IPv4; anything else unchanged. */
void ds_addr_unmap_v4(struct ds_addr *a);
/* Classification used by the ladder and the graders. */
bool ds_addr_is_loopback(const struct ds_addr *a);
bool ds_addr_is_private(const struct ds_addr *a); /* RFC 1918, 100.64/10, fc00::/7, link-local */
bool ds_addr_is_link_local(const struct ds_addr *a);
bool ds_addr_is_any(const struct ds_addr *a);
/* "ipv4" / "ipv6" / "" */
const char *ds_addr_family_name(const struct ds_addr *a);

#endif
