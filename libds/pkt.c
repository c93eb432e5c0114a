// SPDX-License-Identifier: MIT
#include "pkt.h"

#include "bytes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_VLAN 0x8100
#define ETH_P_QINQ 0x88a8

static void set_v4(struct ds_addr *a, const uint8_t *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sin.sin_family = AF_INET;
	memcpy(&a->sin.sin_addr, ip, 4);
	a->sin.sin_port = htons(port);
	a->len = sizeof(a->sin);
}

static void set_v6(struct ds_addr *a, const uint8_t *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sin6.sin6_family = AF_INET6;
	memcpy(&a->sin6.sin6_addr, ip, 16);
	a->sin6.sin6_port = htons(port);
	a->len = sizeof(a->sin6);
}

struct l3 {
	int family;
	const uint8_t *src, *dst;
	int proto;	      /* next header after extension headers */
	const uint8_t *l4;    /* transport header */
	size_t l4_len;	      /* captured bytes from l4 on, bounded by the IP length */
	int fragment;	      /* non-first fragment */
};

/* IPv4 or IPv6 header at p; fills l3. */
static int parse_ip(const uint8_t *p, size_t len, struct l3 *o)
{
	memset(o, 0, sizeof(*o));
	if (len < 1)
		return -EBADMSG;
	if ((p[0] >> 4) == 4) {
		size_t ihl = (size_t)(p[0] & 0x0f) * 4, total;

		if (len < 20 || ihl < 20 || ihl > len)
			return -EBADMSG;
		total = ds_get16(p + 2);
		if (total < ihl)
			return -EBADMSG;
		if (total < len)
			len = total; /* Ethernet padding */
		o->family = AF_INET;
		o->src = p + 12;
		o->dst = p + 16;
		o->proto = p[9];
		o->fragment = (ds_get16(p + 6) & 0x1fff) != 0;
		o->l4 = p + ihl;
		o->l4_len = len - ihl;
		return 0;
	}
	if ((p[0] >> 4) == 6) {
		size_t off = 40, plen;
		int nh, hops;

		if (len < 40)
			return -EBADMSG;
		plen = ds_get16(p + 4);
		if (plen + 40 < len)
			len = plen + 40;
		o->family = AF_INET6;
		o->src = p + 8;
		o->dst = p + 24;
		nh = p[6];
		/* Hop-by-hop 0, routing 43, fragment 44, destination options 60. */
		for (hops = 0; hops < 8 && (nh == 0 || nh == 43 || nh == 44 || nh == 60); hops++) {
			size_t ext;

			if (off + 8 > len)
				return -EBADMSG;
			if (nh == 44) {
				if ((ds_get16(p + off + 2) & 0xfff8) != 0)
					o->fragment = 1;
				ext = 8;
			} else {
				ext = ((size_t)p[off + 1] + 1) * 8;
			}
			nh = p[off];
			off += ext;
			if (off > len)
				return -EBADMSG;
		}
		o->proto = nh;
		o->l4 = p + off;
		o->l4_len = len - off;
		return 0;
	}
	return -EPROTONOSUPPORT;
}

static void addrs(const struct l3 *l, struct ds_addr *src, struct ds_addr *dst, uint16_t sport,
		  uint16_t dport)
{
	if (l->family == AF_INET) {
		set_v4(src, l->src, sport);
		set_v4(dst, l->dst, dport);
	} else {
		set_v6(src, l->src, sport);
		set_v6(dst, l->dst, dport);
	}
}

static int parse_l3(const uint8_t *p, size_t len, struct ds_pkt *out)
{
	struct l3 l;
	int r = parse_ip(p, len, &l);

	if (r < 0)
		return r;
	addrs(&l, &out->src, &out->dst, 0, 0);
	if (l.fragment) {
		out->proto = DS_PKT_FRAGMENT;
		return 0;
	}
	if (l.proto == 17) {
		size_t ulen;

		if (l.l4_len < 8)
			return -EBADMSG;
		ulen = ds_get16(l.l4 + 4);
		if (ulen < 8)
			return -EBADMSG;
		addrs(&l, &out->src, &out->dst, ds_get16(l.l4), ds_get16(l.l4 + 2));
		out->proto = DS_PKT_UDP;
		out->udp_len = ulen;
		out->payload = l.l4 + 8;
		out->payload_len = l.l4_len - 8;
		if (out->payload_len > ulen - 8)
			out->payload_len = ulen - 8;
		return 0;
	}
	if ((l.proto == 1 && l.family == AF_INET) || (l.proto == 58 && l.family == AF_INET6)) {
		int v6 = l.proto == 58;
		int type, err;
		struct l3 in;

		if (l.l4_len < 8)
			return -EBADMSG;
		type = l.l4[0];
		/* Errors: v4 dest unreachable 3, time exceeded 11, parameter problem 12;
		 * v6 destination unreachable 1, packet too big 2, time exceeded 3, param 4. */
		err = v6 ? (type >= 1 && type <= 4) : (type == 3 || type == 11 || type == 12);
		out->icmp_type = type;
		out->icmp_code = l.l4[1];
		out->icmp_v6 = v6;
		if (!err) {
			out->proto = DS_PKT_ICMP_OTHER;
			return 0;
		}
		out->proto = DS_PKT_ICMP_ERROR;
		if (parse_ip(l.l4 + 8, l.l4_len - 8, &in) < 0 || in.proto != 17 || in.l4_len < 4)
			return 0; /* an error about something else, or quoted too little */
		addrs(&in, &out->inner_src, &out->inner_dst, ds_get16(in.l4), ds_get16(in.l4 + 2));
		return 0;
	}
	out->proto = DS_PKT_OTHER;
	return 0;
}

static int l3_of_ethertype(uint16_t type, const uint8_t *p, size_t len, struct ds_pkt *out)
{
	if (type == ETH_P_IPV4 || type == ETH_P_IPV6)
		return parse_l3(p, len, out);
	return -EPROTONOSUPPORT;
}

int ds_pkt_parse(int dlt, const uint8_t *f, size_t len, struct ds_pkt *out)
{
	uint16_t type;
	size_t off;

	memset(out, 0, sizeof(*out));
	switch (dlt) {
	case DS_DLT_EN10MB:
		if (len < 14)
			return -EBADMSG;
		type = ds_get16(f + 12);
		off = 14;
		while (type == ETH_P_VLAN || type == ETH_P_QINQ) {
			if (len < off + 4)
				return -EBADMSG;
			type = ds_get16(f + off + 2);
			off += 4;
		}
		return l3_of_ethertype(type, f + off, len - off, out);
	case DS_DLT_LINUX_SLL:
		if (len < 16)
			return -EBADMSG;
		return l3_of_ethertype(ds_get16(f + 14), f + 16, len - 16, out);
	case DS_DLT_LINUX_SLL2:
		if (len < 20)
			return -EBADMSG;
		return l3_of_ethertype(ds_get16(f), f + 20, len - 20, out);
	case DS_DLT_NULL:
		/* BSD loopback: 4-byte address family in host order. */
		if (len < 4)
			return -EBADMSG;
		return parse_l3(f + 4, len - 4, out);
	case DS_DLT_RAW:
	case DS_DLT_RAW_ALT:
	case DS_DLT_IPV4:
	case DS_DLT_IPV6:
		return parse_l3(f, len, out);
	default:
		return -EPROTONOSUPPORT;
	}
}
