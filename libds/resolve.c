// SPDX-License-Identifier: MIT
/* STUN server names: literals, stun: URIs (RFC 7064), A/AAAA and DNS SRV through ldns. */
#include "resolve.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <ldns/ldns.h>

#include "num.h"

static int fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EINVAL;
}

/* RFC 1123 host name: letters, digits, '-', '.', and '_' (seen in SRV-style names). */
static bool valid_hostname(const char *h)
{
	size_t n = strlen(h), label = 0;

	if (!n || n > 253)
		return false;
	for (const char *p = h; *p; p++) {
		if (*p == '.') {
			if (!label || p[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
		if (*p == '-' && (!label || !p[1] || p[1] == '.'))
			return false; /* a label neither starts nor ends with '-' */
		if (++label > 63)
			return false;
	}
	return true;
}

int ds_resolve_parse(const char *spec, uint16_t default_port, struct ds_resolved *out,
		     const char **why)
{
	const char *s = spec, *colon;
	struct ds_addr a;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (why)
		*why = NULL;
	if (!s || !*s)
		return fail(why, "empty server");
	if (!strncasecmp(s, "stuns:", 6) || !strncasecmp(s, "turns:", 6)) {
		out->tls = true;
		s += 6;
	} else if (!strncasecmp(s, "stun:", 5) || !strncasecmp(s, "turn:", 5)) {
		s += 5;
	}
	if (!strncmp(s, "//", 2)) /* not in RFC 7064, but common: accept it */
		s += 2;
	if (strchr(s, '?') || strchr(s, '/') || strchr(s, '@'))
		return fail(why, "not a host[:port] or stun: URI");
	out->port = default_port;

	/* IP literals, with or without port */
	if (ds_addr_parse(s, default_port, DS_ADDR_PORT_OPTIONAL, &a) == 0) {
		out->numeric = true;
		out->port = ds_addr_port(&a);
		if (s[0] == '[')
			out->port_given = strstr(s, "]:") != NULL;
		else /* "192.0.2.1:3478" has one colon; a bare IPv6 address has more */
			out->port_given = strchr(s, ':') && strchr(s, ':') == strrchr(s, ':');
		out->addr[0] = a;
		out->n = 1;
		ds_addr_format(&a, false, out->host, sizeof(out->host));
		return 0;
	}
	if (s[0] == '[' || (strchr(s, ':') && strchr(s, ':') != strrchr(s, ':')))
		return fail(why, "not an IPv6 address");

	colon = strchr(s, ':');
	hlen = colon ? (size_t)(colon - s) : strlen(s);
	if (hlen >= sizeof(out->host))
		return fail(why, "host name too long");
	memcpy(out->host, s, hlen);
	out->host[hlen] = 0;
	if (hlen && out->host[hlen - 1] == '.' && hlen > 1)
		out->host[hlen - 1] = 0; /* a fully qualified "name." */
	if (!valid_hostname(out->host))
		return fail(why, "not a host name");
	if (colon) {
		if (ds_parse_port(colon + 1, &out->port) < 0 || out->port == 0)
			return fail(why, "bad port");
		out->port_given = true;
	}
	return 0;
}

static void add_addr(struct ds_resolved *out, const struct ds_addr *a, int family)
{
	if (out->n >= DS_RESOLVE_MAX)
		return;
	if (family != AF_UNSPEC && ds_addr_family(a) != family)
		return;
	for (size_t i = 0; i < out->n; i++)
		if (ds_addr_equal(&out->addr[i], a))
			return;
	out->addr[out->n++] = *a;
}

static int gai(const char *host, uint16_t port, int family, struct ds_resolved *out)
{
	struct addrinfo hints, *res, *ai;
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_ADDRCONFIG;
	r = getaddrinfo(host, NULL, &hints, &res);
	if (r == EAI_AGAIN)
		return -EAGAIN;
	if (r)
		return -ENOENT;
	for (ai = res; ai; ai = ai->ai_next) {
		struct ds_addr a;

		if (ds_addr_from_sockaddr(&a, ai->ai_addr, ai->ai_addrlen) < 0)
			continue;
		ds_addr_set_port(&a, port);
		add_addr(out, &a, family);
	}
	freeaddrinfo(res);
	return out->n ? 0 : -ENOENT;
}

static ldns_resolver *make_resolver(const struct ds_resolve_opts *o)
{
	ldns_resolver *res = NULL;
	int64_t to = o->dns_timeout_ns > 0 ? o->dns_timeout_ns : 2000000000LL;
	struct timeval tv = {.tv_sec = to / 1000000000LL, .tv_usec = to % 1000000000LL / 1000};

	if (o->dns) {
		char ip[DS_ADDR_STRLEN];
		ldns_rdf *ns;

		res = ldns_resolver_new();
		if (!res)
			return NULL;
		ds_addr_format(o->dns, false, ip, sizeof(ip));
		ns = ldns_rdf_new_frm_str(
		    ds_addr_family(o->dns) == AF_INET6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, ip);
		if (!ns || ldns_resolver_push_nameserver(res, ns) != LDNS_STATUS_OK) {
			ldns_rdf_deep_free(ns);
			ldns_resolver_deep_free(res);
			return NULL;
		}
		ldns_rdf_deep_free(ns);
		ldns_resolver_set_port(res, ds_addr_port(o->dns) ? ds_addr_port(o->dns) : 53);
		ldns_resolver_set_recursive(res, true);
	} else if (ldns_resolver_new_frm_file(&res, NULL) != LDNS_STATUS_OK) {
		return NULL;
	}
	ldns_resolver_set_timeout(res, tv);
	ldns_resolver_set_retry(res, 1);
	ldns_resolver_set_dnssec(res, false);
	return res;
}

/* A/AAAA of an SRV target through the same resolver (so a --dns server is honoured). */
static void ldns_addresses(ldns_resolver *res, const ldns_rdf *target, uint16_t port, int family,
			   struct ds_resolved *out)
{
	static const ldns_rr_type types[2] = {LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_A};

	for (int t = 0; t < 2; t++) {
		int fam = types[t] == LDNS_RR_TYPE_A ? AF_INET : AF_INET6;
		ldns_pkt *pkt;
		ldns_rr_list *rrs;

		if (family != AF_UNSPEC && family != fam)
			continue;
		pkt = ldns_resolver_query(res, target, types[t], LDNS_RR_CLASS_IN, LDNS_RD);
		if (!pkt)
			continue;
		rrs = ldns_pkt_rr_list_by_type(pkt, types[t], LDNS_SECTION_ANSWER);
		for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs); i++) {
			const ldns_rdf *rd = ldns_rr_rdf(ldns_rr_list_rr(rrs, i), 0);
			struct ds_addr a;

			memset(&a, 0, sizeof(a));
			if (fam == AF_INET && rd && ldns_rdf_size(rd) == 4) {
				a.sin.sin_family = AF_INET;
				memcpy(&a.sin.sin_addr, ldns_rdf_data(rd), 4);
				a.len = sizeof(a.sin);
			} else if (fam == AF_INET6 && rd && ldns_rdf_size(rd) == 16) {
				a.sin6.sin6_family = AF_INET6;
				memcpy(&a.sin6.sin6_addr, ldns_rdf_data(rd), 16);
				a.len = sizeof(a.sin6);
			} else {
				continue;
			}
			ds_addr_set_port(&a, port);
			add_addr(out, &a, family);
		}
		ldns_rr_list_deep_free(rrs);
		ldns_pkt_free(pkt);
	}
}

struct srv {
	uint16_t prio, weight, port;
	const ldns_rdf *target;
};

static int srv_cmp(const void *a, const void *b)
{
	const struct srv *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x->weight > y->weight ? -1 : x->weight < y->weight;
}

/* 0 with addresses, -ENOENT no SRV record (or only "."), -EAGAIN no DNS answer. */
static int srv_lookup(const char *host, const struct ds_resolve_opts *o, struct ds_resolved *out)
{
	char qname[DS_RESOLVE_HOST_MAX + 32];
	ldns_resolver *res;
	ldns_rdf *name = NULL;
	ldns_pkt *pkt = NULL;
	ldns_rr_list *rrs = NULL;
	struct srv srv[DS_RESOLVE_MAX];
	size_t nsrv = 0;
	int ret = -ENOENT;

	snprintf(qname, sizeof(qname), "_%s._udp.%s.", o->service ? o->service : "stun", host);
	res = make_resolver(o);
	if (!res)
		return -EAGAIN;
	name = ldns_dname_new_frm_str(qname);
	if (!name)
		goto out;
	pkt = ldns_resolver_query(res, name, LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, LDNS_RD);
	if (!pkt) {
		ret = -EAGAIN;
		goto out;
	}
	rrs = ldns_pkt_rr_list_by_type(pkt, LDNS_RR_TYPE_SRV, LDNS_SECTION_ANSWER);
	for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs) && nsrv < DS_RESOLVE_MAX; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);

		if (ldns_rr_rd_count(rr) != 4)
			continue;
		srv[nsrv].prio = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
		srv[nsrv].weight = ldns_rdf2native_int16(ldns_rr_rdf(rr, 1));
		srv[nsrv].port = ldns_rdf2native_int16(ldns_rr_rdf(rr, 2));
		srv[nsrv].target = ldns_rr_rdf(rr, 3);
		/* RFC 2782: a target of "." means the service is decidedly not here */
		if (ldns_rdf_size(srv[nsrv].target) <= 1 || srv[nsrv].port == 0)
			continue;
		nsrv++;
	}
	qsort(srv, nsrv, sizeof(srv[0]), srv_cmp);
	for (size_t i = 0; i < nsrv; i++) {
		size_t before = out->n;
		char *t;

		ldns_addresses(res, srv[i].target, srv[i].port, o->family, out);
		if (out->n > before)
			continue;
		t = ldns_rdf2str(srv[i].target);
		if (t) {
			size_t n = strlen(t);
			if (n > 1 && t[n - 1] == '.')
				t[n - 1] = 0;
			gai(t, srv[i].port, o->family, out);
			free(t);
		}
	}
	if (out->n) {
		out->via_srv = true;
		ret = 0;
	}
out:
	ldns_rr_list_deep_free(rrs);
	ldns_pkt_free(pkt);
	ldns_rdf_deep_free(name);
	ldns_resolver_deep_free(res);
	return ret;
}

static bool is_localhost(const char *h)
{
	size_t n = strlen(h);

	/* RFC 6761 §6.3: never sent to DNS */
	return !strcasecmp(h, "localhost") || (n > 10 && !strcasecmp(h + n - 10, ".localhost"));
}

int ds_resolve_server(const char *spec, const struct ds_resolve_opts *o, struct ds_resolved *out,
		      const char **why)
{
	int r = ds_resolve_parse(spec, o->default_port, out, why);
	size_t i, j;

	if (r < 0)
		return r;
	if (out->numeric) {
		for (i = j = 0; i < out->n; i++)
			if (o->family == AF_UNSPEC || ds_addr_family(&out->addr[i]) == o->family)
				out->addr[j++] = out->addr[i];
		out->n = j;
		return out->n ? 0 : -ENOENT;
	}
	if (o->srv == DS_RESOLVE_SRV_ALWAYS ||
	    (o->srv == DS_RESOLVE_SRV_AUTO && !out->port_given && !is_localhost(out->host))) {
		r = srv_lookup(out->host, o, out);
		if (r == 0 || o->srv == DS_RESOLVE_SRV_ALWAYS)
			return r;
	}
	return gai(out->host, out->port, o->family, out);
}
