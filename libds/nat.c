// SPDX-License-Identifier: MIT
/* NAT mapping, filtering and hairpinning discovery (RFC 5780 §4.3-§4.5). */
#include "nat.h"

#include <errno.h>
#include <ifaddrs.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "stun.h"

const char *ds_nat_mapping_name(enum ds_nat_mapping m)
{
	switch (m) {
	case DS_NAT_MAPPING_NONE:
		return "no-nat";
	case DS_NAT_MAPPING_ENDPOINT_INDEPENDENT:
		return "endpoint-independent";
	case DS_NAT_MAPPING_ADDRESS_DEPENDENT:
		return "address-dependent";
	case DS_NAT_MAPPING_ADDRESS_AND_PORT_DEPENDENT:
		return "address-and-port-dependent";
	case DS_NAT_MAPPING_UNKNOWN:
		break;
	}
	return "unknown";
}

const char *ds_nat_filtering_name(enum ds_nat_filtering f)
{
	switch (f) {
	case DS_NAT_FILTERING_ENDPOINT_INDEPENDENT:
		return "endpoint-independent";
	case DS_NAT_FILTERING_ADDRESS_DEPENDENT:
		return "address-dependent";
	case DS_NAT_FILTERING_ADDRESS_AND_PORT_DEPENDENT:
		return "address-and-port-dependent";
	case DS_NAT_FILTERING_UNKNOWN:
		break;
	}
	return "unknown";
}

const char *ds_nat_hairpin_name(enum ds_nat_hairpin h)
{
	switch (h) {
	case DS_NAT_HAIRPIN_YES:
		return "yes";
	case DS_NAT_HAIRPIN_NO:
		return "no";
	case DS_NAT_HAIRPIN_UNKNOWN:
		break;
	}
	return "unknown";
}

bool ds_nat_addr_is_local(const struct ds_addr *a)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		struct ds_addr x;

		if (!i->ifa_addr ||
		    (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		if (ds_addr_from_sockaddr(&x, i->ifa_addr,
					  i->ifa_addr->sa_family == AF_INET
					      ? sizeof(struct sockaddr_in)
					      : sizeof(struct sockaddr_in6)) < 0)
			continue;
		found = ds_addr_equal_host(&x, a);
	}
	freeifaddrs(ifa);
	return found;
}

int ds_nat_route_source(const struct ds_addr *server, struct ds_addr *local)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fam = ds_addr_family(server), probe, e = 0;

	if (fam != AF_INET && fam != AF_INET6)
		return -EAFNOSUPPORT;
	/* connect() on a UDP socket sends nothing: it only asks the kernel for the route */
	probe = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -errno;
	if (connect(probe, &server->sa, server->len) < 0 ||
	    getsockname(probe, (struct sockaddr *)&ss, &sl) < 0)
		e = -errno;
	close(probe);
	if (e)
		return e;
	if (ds_addr_from_sockaddr(local, (struct sockaddr *)&ss, sl) < 0)
		return -EAFNOSUPPORT;
	ds_addr_set_port(local, 0);
	return 0;
}

int ds_nat_socket_for(const struct ds_addr *server, uint16_t port, struct ds_addr *local)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fam = ds_addr_family(server), fd, on = 1, e;

	e = ds_nat_route_source(server, local);
	if (e < 0)
		return e;
	ds_addr_set_port(local, port);
	fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, &local->sa, local->len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	ds_addr_from_sockaddr(local, (struct sockaddr *)&ss, sl);
	return fd;
}

static int build_binding(uint8_t *buf, size_t cap, uint32_t change, const char *software,
			 size_t *len)
{
	struct ds_stun_enc e;

	ds_stun_enc_init(&e, buf, cap, ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST), NULL);
	if (software)
		ds_stun_enc_str(&e, DS_STUN_ATTR_SOFTWARE, software);
	if (change)
		ds_stun_enc_change_request(&e, change);
	ds_stun_enc_fingerprint(&e);
	return ds_stun_enc_finish(&e, len);
}

static int start_binding(struct ds_stun_client *c, int fd, const struct ds_addr *dst,
			 const struct ds_addr *expect, uint32_t change, const char *software,
			 int64_t max_wait_ns)
{
	uint8_t buf[256];
	size_t len;
	int r = build_binding(buf, sizeof(buf), change, software, &len);

	if (r < 0)
		return r;
	return ds_stun_client_start(c, fd, dst, expect, buf, len, max_wait_ns);
}

/* The XOR-MAPPED-ADDRESS (or, from an RFC 3489 server, MAPPED-ADDRESS) of a success. */
static int answer_mapped(struct ds_stun_client *c, int id, struct ds_stun_msg *m,
			 struct ds_addr *mapped)
{
	const struct ds_stun_txn_info *info = ds_stun_client_info(c, id);

	if (!info || info->state == DS_STUN_TXN_TIMEOUT || info->state == DS_STUN_TXN_CANCELLED)
		return -ETIMEDOUT;
	if (info->state == DS_STUN_TXN_FAILED)
		return info->error ? info->error : -EPROTO;
	if (ds_stun_client_response(c, id, m) < 0 || m->cls != DS_STUN_SUCCESS)
		return -EPROTO;
	if (ds_stun_get_addr(m, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, mapped) < 0 &&
	    ds_stun_get_addr(m, DS_STUN_ATTR_MAPPED_ADDRESS, mapped) < 0)
		return -EPROTO;
	return 0;
}

static int binding_once(int fd, const struct ds_addr *server, const struct ds_nat_params *p,
			struct ds_nat_binding *b)
{
	struct ds_stun_client *c = NULL;
	struct ds_stun_msg m;
	struct ds_stun_attr a;
	const struct ds_stun_txn_info *info;
	int id, r;

	r = ds_stun_client_new(&p->retrans, &c);
	if (r < 0)
		return r;
	if (p->redirect && (r = ds_stun_client_redirect(c, p->redirect)) < 0)
		goto out;
	id = start_binding(c, fd, server, NULL, 0, p->software, 0);
	if (id < 0) {
		r = id;
		goto out;
	}
	r = ds_stun_client_run(c);
	if (r < 0)
		goto out;
	info = ds_stun_client_info(c, id);
	b->transmissions = info->transmissions;
	b->rtt_ns = info->rtt_ns;
	r = answer_mapped(c, id, &m, &b->mapped);
	if (r == -EPROTO && ds_stun_client_response(c, id, &m) == 0 && m.cls == DS_STUN_ERROR &&
	    ds_stun_find(&m, DS_STUN_ATTR_ERROR_CODE, &a) == 0) {
		ds_stun_attr_error(&a, &b->error_code, b->reason, sizeof(b->reason));
		if (b->error_code == DS_STUN_ERR_TRY_ALTERNATE)
			ds_stun_get_addr(&m, DS_STUN_ATTR_ALTERNATE_SERVER, &b->alternate);
	}
out:
	ds_stun_client_free(c);
	return r;
}

int ds_nat_binding(int fd, const struct ds_addr *server, const struct ds_nat_params *p,
		   struct ds_nat_binding *b)
{
	int r;

	memset(b, 0, sizeof(*b));
	r = binding_once(fd, server, p, b);
	if (r == -EPROTO && b->alternate.len &&
	    ds_addr_family(&b->alternate) == ds_addr_family(server) &&
	    !ds_addr_equal(&b->alternate, server)) {
		struct ds_addr alt = b->alternate;

		memset(b, 0, sizeof(*b));
		r = binding_once(fd, &alt, p, b);
	}
	return r;
}

static int socket_like(const struct ds_addr *local)
{
	struct ds_addr a = *local;
	int fd = socket(ds_addr_family(local), SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (ds_addr_family(local) == AF_INET6) {
		int on = 1;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	}
	ds_addr_set_port(&a, 0);
	if (bind(fd, &a.sa, a.len) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

struct hairpin_watch {
	int fd;
	uint8_t tid[DS_STUN_TID_LEN];
	bool seen;
	struct ds_stun_client *c;
	int id;
};

static void on_other(void *arg, int fd, const uint8_t *pkt, size_t len, const struct ds_addr *from)
{
	struct hairpin_watch *h = arg;
	struct ds_stun_msg m;

	if (fd != h->fd || ds_stun_parse(pkt, len, &m, NULL) < 0 || m.cls != DS_STUN_REQUEST ||
	    memcmp(m.tid, h->tid, DS_STUN_TID_LEN) != 0)
		return;
	h->seen = true;
	ds_stun_client_cancel(h->c, h->id);
}

static unsigned count_requests(struct ds_stun_client *c, const int *ids, size_t n)
{
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++) {
		const struct ds_stun_txn_info *info =
		    ids[i] >= 0 ? ds_stun_client_info(c, ids[i]) : NULL;
		if (info)
			sum += info->transmissions;
	}
	return sum;
}

int ds_nat_discover(int fd, const struct ds_addr *local, const struct ds_addr *server,
		    const struct ds_nat_params *p, struct ds_nat_result *r)
{
	struct ds_stun_client *c = NULL;
	struct ds_stun_msg m;
	struct hairpin_watch hw;
	struct ds_addr alt_ip_p_port, alt_port, other;
	const struct ds_stun_txn_info *info;
	int ids[6] = {-1, -1, -1, -1, -1, -1};
	int ffd = -1, hfd = -1, ret;
	bool same_host;
	int64_t t0 = ds_clock_ns();

	memset(r, 0, sizeof(*r));
	memset(&hw, 0, sizeof(hw));
	r->local = *local;
	r->server = *server;
	ret = ds_stun_client_new(&p->retrans, &c);
	if (ret < 0)
		return ret;
	if (p->redirect && (ret = ds_stun_client_redirect(c, p->redirect)) < 0)
		goto out;

	/* round 1: test I */
	ids[0] = start_binding(c, fd, server, NULL, 0, p->software, 0);
	if (ids[0] < 0) {
		ret = ids[0];
		goto out;
	}
	ret = ds_stun_client_run(c);
	if (ret < 0)
		goto out;
	r->rounds = 1;
	info = ds_stun_client_info(c, ids[0]);
	r->rtt_ns = info->rtt_ns;
	r->transmissions = info->transmissions;
	ret = answer_mapped(c, ids[0], &m, &r->mapped);
	if (ret < 0)
		goto out;
	ds_stun_get_addr(&m, DS_STUN_ATTR_RESPONSE_ORIGIN, &r->origin);
	if (ds_stun_get_addr(&m, DS_STUN_ATTR_OTHER_ADDRESS, &other) == 0 &&
	    ds_addr_family(&other) == ds_addr_family(server) && !ds_addr_equal(&other, server)) {
		r->other = other;
		r->rfc5780 = true;
	}

	if (ds_addr_equal(&r->mapped, local) ||
	    (ds_addr_port(&r->mapped) == ds_addr_port(local) && ds_nat_addr_is_local(&r->mapped)))
		r->mapping = DS_NAT_MAPPING_NONE;

	/* round 2: everything else at once */
	same_host = r->rfc5780 && ds_addr_equal_host(&r->other, server);
	if (r->rfc5780) {
		alt_ip_p_port = other;
		ds_addr_set_port(&alt_ip_p_port, ds_addr_port(server));
		alt_port = *server;
		ds_addr_set_port(&alt_port, ds_addr_port(&other));
		if (r->mapping != DS_NAT_MAPPING_NONE) {
			if (!same_host)
				ids[1] =
				    start_binding(c, fd, &alt_ip_p_port, NULL, 0, p->software, 0);
			ids[2] = start_binding(c, fd, &other, NULL, 0, p->software, 0);
		}
		ffd = socket_like(local);
		if (ffd >= 0) {
			if (!same_host)
				ids[3] = start_binding(c, ffd, server, &other,
						       DS_STUN_CHANGE_IP | DS_STUN_CHANGE_PORT,
						       p->software, p->silence_wait_ns);
			ids[4] = start_binding(c, ffd, server, &alt_port, DS_STUN_CHANGE_PORT,
					       p->software, p->silence_wait_ns);
		}
	}
	hfd = socket_like(local);
	if (hfd >= 0) {
		uint8_t buf[256];
		size_t len;

		/* a borrowed first socket is read by its owner: ask it for the probe too */
		if (build_binding(buf, sizeof(buf), 0, p->software, &len) == 0 &&
		    (!p->redirect || p->redirect->send_fd != fd || !p->redirect->track ||
		     p->redirect->track(p->redirect->arg, buf + 8) == 0)) {
			memcpy(hw.tid, buf + 8, DS_STUN_TID_LEN);
			hw.fd = fd;
			hw.c = c;
			/* nobody answers this request: it ends by being seen or by the wait */
			ids[5] = ds_stun_client_start(c, hfd, &r->mapped, NULL, buf, len,
						      p->silence_wait_ns);
			hw.id = ids[5];
			ds_stun_client_on_other(c, on_other, &hw);
			ds_stun_client_watch(c, fd);
		}
	}
	ret = ds_stun_client_run(c);
	if (ret < 0)
		goto out;
	r->rounds = 2;

	if (r->mapping != DS_NAT_MAPPING_NONE && r->rfc5780 && same_host) {
		/* One server address (usual for IPv6): only port dependence can be seen. */
		struct ds_stun_msg m3;

		if (answer_mapped(c, ids[2], &m3, &r->mapped3) < 0)
			r->note = "mapping test not answered";
		else if (ds_addr_equal(&r->mapped3, &r->mapped))
			r->mapping = DS_NAT_MAPPING_ENDPOINT_INDEPENDENT;
		else
			r->mapping = DS_NAT_MAPPING_ADDRESS_AND_PORT_DEPENDENT;
	} else if (r->mapping != DS_NAT_MAPPING_NONE && r->rfc5780) {
		struct ds_stun_msg m2;
		bool have2, have3;

		have2 = answer_mapped(c, ids[1], &m2, &r->mapped2) == 0;
		have3 = answer_mapped(c, ids[2], &m2, &r->mapped3) == 0;
		if (have2 && ds_addr_equal(&r->mapped2, &r->mapped))
			r->mapping = DS_NAT_MAPPING_ENDPOINT_INDEPENDENT;
		else if (have2 && have3 && ds_addr_equal(&r->mapped3, &r->mapped2))
			r->mapping = DS_NAT_MAPPING_ADDRESS_DEPENDENT;
		else if (have2 && have3)
			r->mapping = DS_NAT_MAPPING_ADDRESS_AND_PORT_DEPENDENT;
		else
			r->note = "mapping tests not answered";
	} else if (!r->rfc5780) {
		r->note = "server gave no OTHER-ADDRESS (no RFC 5780 support)";
	}

	if (r->rfc5780 && ids[4] >= 0) {
		const struct ds_stun_txn_info *i2 =
		    ids[3] >= 0 ? ds_stun_client_info(c, ids[3]) : NULL;
		const struct ds_stun_txn_info *i3 = ds_stun_client_info(c, ids[4]);

		if (i2 && i2->state == DS_STUN_TXN_DONE)
			r->filtering = DS_NAT_FILTERING_ENDPOINT_INDEPENDENT;
		else if (i3->state == DS_STUN_TXN_DONE && !same_host)
			r->filtering = DS_NAT_FILTERING_ADDRESS_DEPENDENT;
		else if (i3->state == DS_STUN_TXN_DONE)
			/* endpoint-independent or address-dependent: no second address to tell */
			r->note = "one server address: address filtering untested";
		else if ((i2 && i2->wrong_source) || i3->wrong_source)
			/* the server answered from its primary address: it ignores CHANGE-REQUEST,
			 * so silence from the others says nothing about the NAT */
			r->note = "server ignores CHANGE-REQUEST";
		else
			r->filtering = DS_NAT_FILTERING_ADDRESS_AND_PORT_DEPENDENT;
	}
	if (ids[5] >= 0)
		r->hairpin = hw.seen ? DS_NAT_HAIRPIN_YES : DS_NAT_HAIRPIN_NO;
	ret = 0;
out:
	r->requests = count_requests(c, ids, 6);
	r->elapsed_ns = ds_clock_ns() - t0;
	ds_stun_client_free(c);
	if (ffd >= 0)
		close(ffd);
	if (hfd >= 0)
		close(hfd);
	return ret;
}
