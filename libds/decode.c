// SPDX-License-Identifier: MIT
#include "decode.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "stun.h"
#include "wire.h"

static void add(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static const char *class_name(int cls)
{
	static const char *const names[] = { "request", "indication", "success", "error" };

	return cls >= 0 && cls < 4 ? names[cls] : "?";
}

static void lower_dash(char *out, size_t len, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		out[i] = s[i] == ' ' || s[i] == '_' ? '-' : (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

static void stun_addr_attr(const struct ds_stun_msg *m, uint16_t type, const char *label,
			   struct ds_decoded *d, struct ds_addr *keep)
{
	char buf[DS_ADDR_STRLEN];
	struct ds_addr a;

	if (ds_stun_get_addr(m, type, &a) < 0)
		return;
	add(d->detail, sizeof(d->detail), " %s=%s", label, ds_addr_format(&a, true, buf, sizeof(buf)));
	if (keep)
		*keep = a;
}

static void stun_str_attr(const struct ds_stun_msg *m, uint16_t type, const char *label,
			  struct ds_decoded *d)
{
	struct ds_stun_attr a;
	char s[96];
	size_t i;

	if (ds_stun_find(m, type, &a) < 0)
		return;
	if (ds_stun_attr_str(&a, s, sizeof(s)) < 0) {
		add(d->detail, sizeof(d->detail), " %s=(%u bytes)", label, a.len);
		return;
	}
	for (i = 0; s[i]; i++)
		if (!isprint((unsigned char)s[i]) || s[i] == '"')
			s[i] = '?';
	add(d->detail, sizeof(d->detail), " %s=\"%s\"", label, s);
}

static void decode_stun(const uint8_t *p, size_t len, struct ds_decoded *d)
{
	struct ds_stun_msg m;
	struct ds_stun_attr a;
	const char *why = NULL, *method;
	char mname[24];
	uint32_t u;
	int i;

	if (ds_stun_parse(p, len, &m, &why) < 0) {
		d->kind = DS_KIND_OTHER;
		snprintf(d->name, sizeof(d->name), "malformed-stun");
		snprintf(d->detail, sizeof(d->detail), "%zu bytes: %s", len, why ? why : "invalid");
		return;
	}
	d->kind = DS_KIND_STUN;
	d->stun_method = m.method;
	d->stun_class = m.cls;
	memcpy(d->tid, m.tid, sizeof(d->tid));
	method = ds_stun_method_name(m.method);
	if (method)
		lower_dash(mname, sizeof(mname), method);
	else
		snprintf(mname, sizeof(mname), "method-0x%03x", m.method);
	snprintf(d->name, sizeof(d->name), "stun-%s-%s", mname, class_name(m.cls));
	snprintf(d->detail, sizeof(d->detail), "tid=");
	for (i = 0; i < 6; i++)
		add(d->detail, sizeof(d->detail), "%02x", m.tid[i]);
	add(d->detail, sizeof(d->detail), "..");
	stun_addr_attr(&m, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, "mapped", d, &d->mapped);
	if (!d->mapped.len)
		stun_addr_attr(&m, DS_STUN_ATTR_MAPPED_ADDRESS, "mapped(plain)", d, &d->mapped);
	stun_addr_attr(&m, DS_STUN_ATTR_XOR_RELAYED_ADDRESS, "relayed", d, NULL);
	stun_addr_attr(&m, DS_STUN_ATTR_XOR_PEER_ADDRESS, "peer", d, NULL);
	stun_addr_attr(&m, DS_STUN_ATTR_RESPONSE_ORIGIN, "origin", d, NULL);
	stun_addr_attr(&m, DS_STUN_ATTR_OTHER_ADDRESS, "other", d, NULL);
	stun_addr_attr(&m, DS_STUN_ATTR_ALTERNATE_SERVER, "alternate", d, NULL);
	if (ds_stun_find(&m, DS_STUN_ATTR_CHANGE_REQUEST, &a) == 0 &&
	    ds_stun_attr_change_request(&a, &u) == 0)
		add(d->detail, sizeof(d->detail), " change=%s%s%s", u & DS_STUN_CHANGE_IP ? "ip" : "",
		    (u & DS_STUN_CHANGE_IP) && (u & DS_STUN_CHANGE_PORT) ? "+" : "",
		    u & DS_STUN_CHANGE_PORT ? "port" : (u ? "" : "none"));
	if (ds_stun_find(&m, DS_STUN_ATTR_ERROR_CODE, &a) == 0) {
		char reason[80] = "";
		int code = 0;

		if (ds_stun_attr_error(&a, &code, reason, sizeof(reason)) == 0) {
			d->stun_error = code;
			for (i = 0; reason[i]; i++)
				if (!isprint((unsigned char)reason[i]))
					reason[i] = '?';
			add(d->detail, sizeof(d->detail), " error=%d \"%s\"", code, reason);
		}
	}
	if (ds_stun_find(&m, DS_STUN_ATTR_LIFETIME, &a) == 0 && ds_stun_attr_u32(&a, &u) == 0)
		add(d->detail, sizeof(d->detail), " lifetime=%us", u);
	if (ds_stun_find(&m, DS_STUN_ATTR_CHANNEL_NUMBER, &a) == 0 && ds_stun_attr_u32(&a, &u) == 0)
		add(d->detail, sizeof(d->detail), " channel=0x%04x", u >> 16);
	stun_str_attr(&m, DS_STUN_ATTR_USERNAME, "user", d);
	stun_str_attr(&m, DS_STUN_ATTR_REALM, "realm", d);
	stun_str_attr(&m, DS_STUN_ATTR_SOFTWARE, "software", d);
	if (m.integrity_off || m.integrity_sha256_off)
		add(d->detail, sizeof(d->detail), " integrity%s", m.integrity_sha256_off ? "-sha256" : "");
	if (m.fingerprint_off)
		add(d->detail, sizeof(d->detail), " fingerprint-ok");
	if (m.n_unknown)
		add(d->detail, sizeof(d->detail), " unknown-required-attrs=%zu", m.n_unknown);
}

static void decode_ours(const uint8_t *p, size_t len, struct ds_decoded *d)
{
	struct ds_wire_hdr h;
	const char *name;

	if (ds_wire_parse_hdr(p, len, &h) < 0) {
		d->kind = DS_KIND_OTHER;
		snprintf(d->name, sizeof(d->name), "malformed-datastun");
		snprintf(d->detail, sizeof(d->detail), "%zu bytes, type %u: header does not parse",
			 len, p[0]);
		return;
	}
	d->kind = DS_KIND_DATASTUN;
	d->run_id = h.run_id;
	d->session = h.session;
	d->counter = h.counter;
	d->wire_type = h.type;
	name = ds_wire_type_name(h.type);
	lower_dash(d->name, sizeof(d->name), name ? name : "datastun-unknown-type");
	snprintf(d->detail, sizeof(d->detail),
		 "v%u run=%08x session=%016llx counter=%llu sealed=%zu bytes", h.version, h.run_id,
		 (unsigned long long)h.session, (unsigned long long)h.counter,
		 len > DS_WIRE_HDR_LEN ? len - DS_WIRE_HDR_LEN : 0);
}

void ds_decode_datagram(const uint8_t *p, size_t len, struct ds_decoded *d)
{
	memset(d, 0, sizeof(*d));
	switch (ds_wire_demux(p, len)) {
	case DS_DEMUX_STUN:
		decode_stun(p, len, d);
		return;
	case DS_DEMUX_DATASTUN:
		decode_ours(p, len, d);
		return;
	case DS_DEMUX_TURN_CHANNEL:
		if (len >= 4) {
			struct ds_decoded inner;
			size_t dlen = (size_t)(p[2] << 8 | p[3]);

			d->kind = DS_KIND_TURN_CHANNEL;
			d->channel = (uint16_t)(p[0] << 8 | p[1]);
			snprintf(d->name, sizeof(d->name), "turn-channel-data");
			snprintf(d->detail, sizeof(d->detail), "channel=0x%04x data=%zu bytes",
				 d->channel, dlen);
			if (dlen > len - 4) {
				add(d->detail, sizeof(d->detail), " (truncated: %zu captured)", len - 4);
				dlen = len - 4;
			}
			if (dlen && ds_wire_demux(p + 4, dlen) == DS_DEMUX_DATASTUN) {
				decode_ours(p + 4, dlen, &inner);
				if (inner.kind == DS_KIND_DATASTUN) {
					add(d->detail, sizeof(d->detail), " carrying %s %s", inner.name,
					    inner.detail);
					d->run_id = inner.run_id;
					d->session = inner.session;
					d->counter = inner.counter;
					d->wire_type = inner.wire_type;
				}
			}
			return;
		}
		break;
	case DS_DEMUX_EMPTY:
		snprintf(d->name, sizeof(d->name), "empty");
		d->kind = DS_KIND_OTHER;
		return;
	default:
		break;
	}
	d->kind = DS_KIND_OTHER;
	snprintf(d->name, sizeof(d->name), "unknown");
	{
		static const char *const ranges[] = {
			[DS_DEMUX_ZRTP] = "ZRTP range", [DS_DEMUX_DTLS] = "DTLS range",
			[DS_DEMUX_TURN_CHANNEL] = "TURN channel range",
			[DS_DEMUX_QUIC] = "QUIC range", [DS_DEMUX_RTP] = "RTP/RTCP range",
		};
		enum ds_wire_demux dm = ds_wire_demux(p, len);
		const char *r = (size_t)dm < sizeof(ranges) / sizeof(ranges[0]) && ranges[dm]
					? ranges[dm] : "unassigned";

		snprintf(d->detail, sizeof(d->detail), "%zu bytes, first byte %u (%s)", len,
			 len ? p[0] : 0, r);
	}
}

static const char *icmp_name(const struct ds_pkt *p)
{
	if (!p->icmp_v6) {
		if (p->icmp_type == 11)
			return "time-exceeded";
		if (p->icmp_type == 3)
			return p->icmp_code == 3 ? "port-unreachable" :
			       p->icmp_code == 4 ? "fragmentation-needed" :
			       p->icmp_code == 1 ? "host-unreachable" :
			       p->icmp_code == 0 ? "net-unreachable" :
			       p->icmp_code == 13 ? "administratively-prohibited" : "unreachable";
		return "parameter-problem";
	}
	switch (p->icmp_type) {
	case 1:
		return p->icmp_code == 4 ? "port-unreachable" :
		       p->icmp_code == 1 ? "administratively-prohibited" :
		       p->icmp_code == 3 ? "address-unreachable" : "unreachable";
	case 2:
		return "packet-too-big";
	case 3:
		return "time-exceeded";
	default:
		return "parameter-problem";
	}
}

void ds_decode_packet(const struct ds_pkt *pkt, struct ds_decoded *d)
{
	char a[DS_ADDR_STRLEN], b[DS_ADDR_STRLEN];

	if (pkt->proto == DS_PKT_UDP) {
		ds_decode_datagram(pkt->payload, pkt->payload_len, d);
		if (pkt->payload_len + 8 < pkt->udp_len)
			add(d->detail, sizeof(d->detail), " (captured %zu of %zu bytes)",
			    pkt->payload_len, pkt->udp_len - 8);
		return;
	}
	memset(d, 0, sizeof(*d));
	if (pkt->proto == DS_PKT_ICMP_ERROR) {
		d->kind = DS_KIND_ICMP_ERROR;
		snprintf(d->name, sizeof(d->name), "icmp%s-%s", pkt->icmp_v6 ? "6" : "",
			 icmp_name(pkt));
		if (pkt->inner_dst.len)
			snprintf(d->detail, sizeof(d->detail), "about %s -> %s",
				 ds_addr_format(&pkt->inner_src, true, a, sizeof(a)),
				 ds_addr_format(&pkt->inner_dst, true, b, sizeof(b)));
		else
			snprintf(d->detail, sizeof(d->detail), "type %d code %d, quote unreadable",
				 pkt->icmp_type, pkt->icmp_code);
		return;
	}
	d->kind = DS_KIND_OTHER;
	snprintf(d->name, sizeof(d->name), "%s", pkt->proto == DS_PKT_FRAGMENT ? "ip-fragment" :
						 pkt->proto == DS_PKT_ICMP_OTHER ? "icmp" : "other");
}

/* ---- summary ---- */

struct transaction {
	uint8_t tid[12];
	uint16_t method;
	struct ds_addr server, client;
	int64_t first_ns, answer_ns;
	int requests, answers, error;
	struct ds_addr mapped;
};

struct run_stats {
	uint32_t run_id;
	unsigned out[16], in[16];
	uint64_t bytes_out, bytes_in;
};

struct session_stats {
	uint64_t session;
	uint32_t run_id;
	uint64_t min, max, count;
};

struct peer_stats {
	struct ds_addr addr;
	unsigned out, in;
};

struct icmp_stats {
	char name[48];
	struct ds_addr from, about;
	unsigned count;
};

struct ds_capsum {
	uint16_t port;
	int64_t first_ns, last_ns;
	unsigned packets, out, in;
	uint64_t bytes_out, bytes_in;
	unsigned stun, channel, ours, other, icmp;
	struct transaction *tx;
	size_t ntx, captx;
	struct run_stats *runs;
	size_t nruns, capruns;
	struct session_stats *sessions;
	size_t nsessions, capsessions;
	struct peer_stats *peers;
	size_t npeers, cappeers;
	struct icmp_stats *icmps;
	size_t nicmps, capicmps;
	bool overflow;
};

#define SUM_MAX_ENTRIES 4096

/* Grow an array by one element; NULL when full or out of memory. */
static void *grow(void **arr, size_t *n, size_t *cap, size_t elem, bool *overflow)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void *p;

		if (ncap > SUM_MAX_ENTRIES || !(p = realloc(*arr, ncap * elem))) {
			*overflow = true;
			return NULL;
		}
		*arr = p;
		*cap = ncap;
	}
	memset((char *)*arr + *n * elem, 0, elem);
	return (char *)*arr + (*n)++ * elem;
}

int ds_capsum_new(uint16_t port, struct ds_capsum **out)
{
	struct ds_capsum *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->port = port;
	*out = s;
	return 0;
}

void ds_capsum_free(struct ds_capsum *s)
{
	if (!s)
		return;
	free(s->tx);
	free(s->runs);
	free(s->sessions);
	free(s->peers);
	free(s->icmps);
	free(s);
}

static struct peer_stats *peer(struct ds_capsum *s, const struct ds_addr *a)
{
	struct peer_stats *p;
	size_t i;

	for (i = 0; i < s->npeers; i++)
		if (ds_addr_equal(&s->peers[i].addr, a))
			return &s->peers[i];
	p = grow((void **)&s->peers, &s->npeers, &s->cappeers, sizeof(*p), &s->overflow);
	if (p)
		p->addr = *a;
	return p;
}

static void add_stun(struct ds_capsum *s, int64_t ts, const struct ds_pkt *pkt,
		     const struct ds_decoded *d)
{
	struct transaction *t = NULL;
	size_t i;

	for (i = 0; i < s->ntx; i++)
		if (memcmp(s->tx[i].tid, d->tid, 12) == 0) {
			t = &s->tx[i];
			break;
		}
	if (d->stun_class == DS_STUN_REQUEST) {
		if (!t) {
			t = grow((void **)&s->tx, &s->ntx, &s->captx, sizeof(*t), &s->overflow);
			if (!t)
				return;
			memcpy(t->tid, d->tid, 12);
			t->method = d->stun_method;
			t->server = pkt->dst;
			t->client = pkt->src;
			t->first_ns = ts;
		}
		t->requests++;
	} else if ((d->stun_class == DS_STUN_SUCCESS || d->stun_class == DS_STUN_ERROR) && t) {
		if (!t->answers++) {
			t->answer_ns = ts;
			t->error = d->stun_error;
			t->mapped = d->mapped;
		}
	}
}

static void add_ours(struct ds_capsum *s, bool outgoing, size_t bytes, const struct ds_decoded *d)
{
	struct run_stats *r = NULL;
	struct session_stats *ss = NULL;
	size_t i;

	for (i = 0; i < s->nruns; i++)
		if (s->runs[i].run_id == d->run_id)
			r = &s->runs[i];
	if (!r && (r = grow((void **)&s->runs, &s->nruns, &s->capruns, sizeof(*r), &s->overflow)))
		r->run_id = d->run_id;
	if (r) {
		if (outgoing) {
			r->out[d->wire_type & 15]++;
			r->bytes_out += bytes;
		} else {
			r->in[d->wire_type & 15]++;
			r->bytes_in += bytes;
		}
	}
	for (i = 0; i < s->nsessions; i++)
		if (s->sessions[i].session == d->session)
			ss = &s->sessions[i];
	if (!ss && (ss = grow((void **)&s->sessions, &s->nsessions, &s->capsessions, sizeof(*ss),
			      &s->overflow))) {
		ss->session = d->session;
		ss->run_id = d->run_id;
		ss->min = ss->max = d->counter;
	}
	if (ss) {
		ss->count++;
		if (d->counter < ss->min)
			ss->min = d->counter;
		if (d->counter > ss->max)
			ss->max = d->counter;
	}
}

void ds_capsum_add(struct ds_capsum *s, int64_t ts, const struct ds_pkt *pkt,
		   const struct ds_decoded *d)
{
	bool outgoing = s->port && ds_addr_port(&pkt->src) == s->port;
	const struct ds_addr *remote = outgoing ? &pkt->dst : &pkt->src;
	size_t bytes = pkt->udp_len ? pkt->udp_len - 8 : pkt->payload_len;
	struct peer_stats *p;

	if (!s->packets++)
		s->first_ns = ts;
	s->last_ns = ts;
	if (d->kind == DS_KIND_ICMP_ERROR) {
		struct icmp_stats *ic = NULL;
		size_t i;

		s->icmp++;
		for (i = 0; i < s->nicmps; i++)
			if (!strcmp(s->icmps[i].name, d->name) &&
			    ds_addr_equal(&s->icmps[i].from, &pkt->src) &&
			    ds_addr_equal(&s->icmps[i].about, &pkt->inner_dst))
				ic = &s->icmps[i];
		if (!ic && (ic = grow((void **)&s->icmps, &s->nicmps, &s->capicmps, sizeof(*ic),
				      &s->overflow))) {
			snprintf(ic->name, sizeof(ic->name), "%s", d->name);
			ic->from = pkt->src;
			ic->about = pkt->inner_dst;
		}
		if (ic)
			ic->count++;
		return;
	}
	if (pkt->proto != DS_PKT_UDP) {
		s->other++;
		return;
	}
	if (outgoing) {
		s->out++;
		s->bytes_out += bytes;
	} else {
		s->in++;
		s->bytes_in += bytes;
	}
	if ((p = peer(s, remote))) {
		if (outgoing)
			p->out++;
		else
			p->in++;
	}
	switch (d->kind) {
	case DS_KIND_STUN:
		s->stun++;
		add_stun(s, ts, pkt, d);
		break;
	case DS_KIND_TURN_CHANNEL:
		s->channel++;
		if (d->session)
			add_ours(s, outgoing, bytes, d);
		break;
	case DS_KIND_DATASTUN:
		s->ours++;
		add_ours(s, outgoing, bytes, d);
		break;
	default:
		s->other++;
		break;
	}
}

size_t ds_capsum_format(const struct ds_capsum *s, char *buf, size_t len)
{
	char a[DS_ADDR_STRLEN], b[DS_ADDR_STRLEN], c[DS_ADDR_STRLEN], d[DS_ADDR_STRLEN];
	char *tmp = malloc(65536);
	double *rtts = s->ntx ? malloc(s->ntx * sizeof(double)) : NULL;
	size_t i, nrtt = 0, answered = 0, retrans = 0, need;

	if (!tmp || (s->ntx && !rtts)) {
		free(tmp);
		free(rtts);
		if (len)
			snprintf(buf, len, "summary: out of memory\n");
		return 0;
	}
	tmp[0] = '\0';
#define OUT(...) add(tmp, 65536, __VA_ARGS__)
	OUT("summary: %u packets in %.3f s", s->packets,
	    s->packets ? (double)(s->last_ns - s->first_ns) / 1e9 : 0.0);
	if (s->port)
		OUT(", %u out (%llu bytes) and %u in (%llu bytes) on port %u", s->out,
		    (unsigned long long)s->bytes_out, s->in, (unsigned long long)s->bytes_in, s->port);
	OUT("\n  kinds: %u STUN/TURN, %u datastun, %u TURN channel data, %u ICMP errors, %u other\n",
	    s->stun, s->ours, s->channel, s->icmp, s->other);
	for (i = 0; i < s->ntx; i++) {
		const struct transaction *t = &s->tx[i];

		retrans += (size_t)(t->requests - 1);
		if (t->answers) {
			answered++;
			rtts[nrtt++] = (double)(t->answer_ns - t->first_ns) / 1e6;
		}
	}
	if (s->ntx) {
		struct ds_stats_summary sum;

		ds_stats_summarize(rtts, nrtt, &sum);
		OUT("  STUN: %zu transactions, %zu answered, %zu unanswered, %zu retransmissions",
		    s->ntx, answered, s->ntx - answered, retrans);
		if (nrtt)
			OUT("; RTT min %.3f / median %.3f / max %.3f ms", sum.min, sum.median, sum.max);
		OUT("\n");
		for (i = 0; i < s->ntx; i++) {
			const struct transaction *t = &s->tx[i];
			const char *m = ds_stun_method_name(t->method);

			if (!t->answers)
				OUT("    unanswered: %s request to %s (%d sent)\n", m ? m : "?",
				    ds_addr_format(&t->server, true, a, sizeof(a)), t->requests);
			else if (t->error)
				OUT("    %s to %s: error %d\n", m ? m : "?",
				    ds_addr_format(&t->server, true, a, sizeof(a)), t->error);
		}
		/* Mapped addresses per server: a change means the NAT rebound. */
		for (i = 0; i < s->ntx; i++) {
			const struct transaction *t = &s->tx[i], *prev = NULL;
			size_t j;

			if (!t->mapped.len)
				continue;
			for (j = 0; j < i; j++)
				if (s->tx[j].mapped.len && ds_addr_equal(&s->tx[j].server, &t->server) &&
				    ds_addr_equal(&s->tx[j].client, &t->client))
					prev = &s->tx[j];
			if (!prev)
				OUT("    %s sees %s as %s\n", ds_addr_format(&t->server, true, a, sizeof(a)),
				    ds_addr_format(&t->client, true, c, sizeof(c)),
				    ds_addr_format(&t->mapped, true, b, sizeof(b)));
			else if (!ds_addr_equal(&prev->mapped, &t->mapped))
				OUT("    mapping changed: %s now sees %s as %s (was %s)\n",
				    ds_addr_format(&t->server, true, a, sizeof(a)),
				    ds_addr_format(&t->client, true, d, sizeof(d)),
				    ds_addr_format(&t->mapped, true, b, sizeof(b)),
				    ds_addr_format(&prev->mapped, true, c, sizeof(c)));
		}
	}
	for (i = 0; i < s->nruns; i++) {
		const struct run_stats *r = &s->runs[i];
		int t;

		OUT("  run %08x: out", r->run_id);
		for (t = 4; t < 16; t++)
			if (r->out[t])
				OUT(" %u %s", r->out[t], ds_wire_type_name(t) ? ds_wire_type_name(t) : "?");
		OUT(" (%llu bytes); in", (unsigned long long)r->bytes_out);
		for (t = 4; t < 16; t++)
			if (r->in[t])
				OUT(" %u %s", r->in[t], ds_wire_type_name(t) ? ds_wire_type_name(t) : "?");
		OUT(" (%llu bytes)\n", (unsigned long long)r->bytes_in);
	}
	for (i = 0; i < s->nsessions; i++) {
		const struct session_stats *ss = &s->sessions[i];
		uint64_t span = ss->max - ss->min + 1;

		OUT("  session %016llx: counters %llu..%llu, %llu seen",
		    (unsigned long long)ss->session, (unsigned long long)ss->min,
		    (unsigned long long)ss->max, (unsigned long long)ss->count);
		if (span > ss->count)
			OUT(", %llu missing here", (unsigned long long)(span - ss->count));
		else if (span < ss->count)
			OUT(", %llu repeated (replayed or duplicated)",
			    (unsigned long long)(ss->count - span));
		OUT("\n");
	}
	for (i = 0; i < s->nicmps; i++) {
		const struct icmp_stats *ic = &s->icmps[i];

		OUT("  %u %s from %s about datagrams to %s%s\n", ic->count, ic->name,
		    ds_addr_format(&ic->from, false, a, sizeof(a)),
		    ds_addr_format(&ic->about, true, b, sizeof(b)),
		    strstr(ic->name, "port-unreachable") ? ": nothing listens there" : "");
	}
	for (i = 0; i < s->npeers; i++)
		OUT("  peer %s: %u out, %u in%s\n",
		    ds_addr_format(&s->peers[i].addr, true, a, sizeof(a)), s->peers[i].out,
		    s->peers[i].in, s->port && s->peers[i].out && !s->peers[i].in ? " (never answered)" : "");
	if (s->overflow)
		OUT("  (more than %d entries of a kind: the rest are counted only in the totals)\n",
		    SUM_MAX_ENTRIES);
#undef OUT
	need = strlen(tmp) + 1;
	if (len)
		snprintf(buf, len, "%s", tmp);
	free(tmp);
	free(rtts);
	return need;
}
