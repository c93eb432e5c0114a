// SPDX-License-Identifier: MIT
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

/* "fe80::1%eth0" or "fe80::1%2": resolve the zone to an interface index. */
static int parse_v6(const char *host, struct sockaddr_in6 *sin6)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char *zone;

	if (strlen(host) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, host);
	zone = strchr(buf, '%');
	if (zone)
		*zone++ = '\0';
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
		return -EINVAL;
	if (zone) {
		long long idx;
		unsigned int ifindex;

		if (!*zone)
			return -EINVAL;
		if (ds_parse_long(zone, 1, 0xffffffffLL, &idx) == 0)
			ifindex = (unsigned int)idx;
		else if (!(ifindex = if_nametoindex(zone)))
			return -EINVAL;
		sin6->sin6_scope_id = ifindex;
	}
	return 0;
}

int ds_addr_parse(const char *s, uint16_t default_port, int flags, struct ds_addr *out)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char *port = NULL;
	const char *colon;
	uint16_t p = default_port;
	struct ds_addr a;
	size_t hlen;
	int r;

	if (!s || !*s)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return -EINVAL;
		hlen = (size_t)(close - s - 1);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -EINVAL;
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (!strchr(host, ':'))
			return -EINVAL;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':')) {
			/* Two or more colons: a bare IPv6 address, never with a port. */
			hlen = strlen(s);
		} else {
			hlen = colon ? (size_t)(colon - s) : strlen(s);
			if (colon)
				port = colon + 1;
		}
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hlen);
		host[hlen] = '\0';
	}
	if (port) {
		if (flags & DS_ADDR_PORT_FORBIDDEN)
			return -EINVAL;
		if ((r = ds_parse_port(port, &p)) < 0)
			return r;
	} else if (flags & DS_ADDR_PORT_REQUIRED) {
		return -EINVAL;
	}

	if (inet_pton(AF_INET, host, &a.sin.sin_addr) == 1) {
		a.sin.sin_family = AF_INET;
		a.sin.sin_port = htons(p);
		a.len = sizeof(a.sin);
	} else if (strchr(host, ':') && parse_v6(host, &a.sin6) == 0) {
		a.sin6.sin6_family = AF_INET6;
		a.sin6.sin6_port = htons(p);
		a.len = sizeof(a.sin6);
	} else {
		return -EINVAL;
	}
	*out = a;
	return 0;
}

char *ds_addr_format(const struct ds_addr *a, bool with_port, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	char zone[IF_NAMESIZE + 2] = "";

	if (!len)
		return buf;
	buf[0] = '\0';
	switch (ds_addr_family(a)) {
	case AF_INET:
		inet_ntop(AF_INET, &a->sin.sin_addr, host, sizeof(host));
		if (with_port)
			snprintf(buf, len, "%s:%u", host, ntohs(a->sin.sin_port));
		else
			snprintf(buf, len, "%s", host);
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &a->sin6.sin6_addr, host, sizeof(host));
		if (a->sin6.sin6_scope_id) {
			char ifname[IF_NAMESIZE];

			if (if_indextoname(a->sin6.sin6_scope_id, ifname))
				snprintf(zone, sizeof(zone), "%%%s", ifname);
			else
				snprintf(zone, sizeof(zone), "%%%u", a->sin6.sin6_scope_id);
		}
		if (with_port)
			snprintf(buf, len, "[%s%s]:%u", host, zone, ntohs(a->sin6.sin6_port));
		else
			snprintf(buf, len, "%s%s", host, zone);
		break;
	default:
		break;
	}
	return buf;
}

int ds_addr_from_sockaddr(struct ds_addr *a, const struct sockaddr *sa, socklen_t len)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		memcpy(&a->sin, sa, sizeof(a->sin));
		a->len = sizeof(a->sin);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		memcpy(&a->sin6, sa, sizeof(a->sin6));
		a->len = sizeof(a->sin6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

int ds_addr_family(const struct ds_addr *a)
{
	if (!a || !a->len)
		return AF_UNSPEC;
	return a->sa.sa_family;
}

uint16_t ds_addr_port(const struct ds_addr *a)
{
	switch (ds_addr_family(a)) {
	case AF_INET:
		return ntohs(a->sin.sin_port);
	case AF_INET6:
		return ntohs(a->sin6.sin6_port);
	default:
		return 0;
	}
}

void ds_addr_set_port(struct ds_addr *a, uint16_t port)
{
	if (ds_addr_family(a) == AF_INET)
		a->sin.sin_port = htons(port);
	else if (ds_addr_family(a) == AF_INET6)
		a->sin6.sin6_port = htons(port);
}

bool ds_addr_equal_host(const struct ds_addr *a, const struct ds_addr *b)
{
	int fa = ds_addr_family(a);

	if (fa != ds_addr_family(b))
		return false;
	if (fa == AF_INET)
		return a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
	if (fa == AF_INET6)
		return memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr, 16) == 0 &&
		       (!IN6_IS_ADDR_LINKLOCAL(&a->sin6.sin6_addr) ||
			a->sin6.sin6_scope_id == b->sin6.sin6_scope_id);
	return fa == AF_UNSPEC;
}

bool ds_addr_equal(const struct ds_addr *a, const struct ds_addr *b)
{
	return ds_addr_equal_host(a, b) && ds_addr_port(a) == ds_addr_port(b);
}

void ds_addr_unmap_v4(struct ds_addr *a)
{
	struct sockaddr_in sin;

	if (ds_addr_family(a) != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a->sin6.sin6_addr))
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = a->sin6.sin6_port;
	memcpy(&sin.sin_addr, &a->sin6.sin6_addr.s6_addr[12], 4);
	memset(a, 0, sizeof(*a));
	a->sin = sin;
	a->len = sizeof(sin);
}

bool ds_addr_is_loopback(const struct ds_addr *a)
{
	if (ds_addr_family(a) == AF_INET)
		return (ntohl(a->sin.sin_addr.s_addr) >> 24) == 127;
	if (ds_addr_family(a) == AF_INET6) {
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6.sin6_addr))
			return a->sin6.sin6_addr.s6_addr[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(&a->sin6.sin6_addr);
	}
	return false;
}

bool ds_addr_is_link_local(const struct ds_addr *a)
{
	if (ds_addr_family(a) == AF_INET)
		return (ntohl(a->sin.sin_addr.s_addr) >> 16) == 0xa9fe; /* 169.254/16 */
	if (ds_addr_family(a) == AF_INET6)
		return IN6_IS_ADDR_LINKLOCAL(&a->sin6.sin6_addr);
	return false;
}

static bool v4_private(uint32_t h)
{
	return (h >> 24) == 10 ||		  /* 10/8 */
	       (h >> 20) == 0xac1 ||		  /* 172.16/12 */
	       (h >> 16) == 0xc0a8 ||		  /* 192.168/16 */
	       (h >> 22) == (100u << 2 | 1) ||	  /* 100.64/10, RFC 6598 shared space */
	       (h >> 16) == 0xa9fe;		  /* 169.254/16 */
}

bool ds_addr_is_private(const struct ds_addr *a)
{
	if (ds_addr_family(a) == AF_INET)
		return v4_private(ntohl(a->sin.sin_addr.s_addr));
	if (ds_addr_family(a) == AF_INET6) {
		const uint8_t *b = a->sin6.sin6_addr.s6_addr;

		if (IN6_IS_ADDR_V4MAPPED(&a->sin6.sin6_addr))
			return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
					  (uint32_t)b[14] << 8 | b[15]);
		return (b[0] & 0xfe) == 0xfc || IN6_IS_ADDR_LINKLOCAL(&a->sin6.sin6_addr);
	}
	return false;
}

bool ds_addr_is_any(const struct ds_addr *a)
{
	if (ds_addr_family(a) == AF_INET)
		return a->sin.sin_addr.s_addr == htonl(INADDR_ANY);
	if (ds_addr_family(a) == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&a->sin6.sin6_addr);
	return false;
}

const char *ds_addr_family_name(const struct ds_addr *a)
{
	switch (ds_addr_family(a)) {
	case AF_INET:
		return "ipv4";
	case AF_INET6:
		return "ipv6";
	default:
		return "";
	}
}
