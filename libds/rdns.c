// SPDX-License-Identifier: MIT
#include "rdns.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define RDNS_CACHE 64

struct cache_entry {
	struct ds_addr addr;
	char name[256];
	int found;
};

struct ds_rdns {
	ldns_resolver *res;
	struct cache_entry cache[RDNS_CACHE];
	int ncache, next;
};

int ds_rdns_new(const char *resolv_conf, int64_t timeout_ns, struct ds_rdns **out)
{
	struct ds_rdns *r = calloc(1, sizeof(*r));
	struct timeval tv = { .tv_sec = timeout_ns / DS_NSEC_PER_SEC,
			      .tv_usec = (timeout_ns % DS_NSEC_PER_SEC) / 1000 };

	if (!r)
		return -ENOMEM;
	if (ldns_resolver_new_frm_file(&r->res, resolv_conf) != LDNS_STATUS_OK) {
		free(r);
		return -ENOENT;
	}
	ldns_resolver_set_timeout(r->res, tv);
	ldns_resolver_set_retry(r->res, 1);
	ldns_resolver_set_retrans(r->res, 1);
	*out = r;
	return 0;
}

void ds_rdns_free(struct ds_rdns *r)
{
	if (!r)
		return;
	ldns_resolver_deep_free(r->res);
	free(r);
}

int ds_rdns_lookup(struct ds_rdns *r, const struct ds_addr *a, char *name, size_t len)
{
	char host[DS_ADDR_STRLEN];
	ldns_rdf *addr = NULL;
	ldns_rr_list *names = NULL;
	struct cache_entry *c;
	int i, found = 0;

	if (len)
		name[0] = '\0';
	for (i = 0; i < r->ncache; i++) {
		if (ds_addr_equal_host(&r->cache[i].addr, a)) {
			if (r->cache[i].found)
				snprintf(name, len, "%s", r->cache[i].name);
			return r->cache[i].found;
		}
	}
	ds_addr_format(a, false, host, sizeof(host));
	host[strcspn(host, "%")] = '\0';
	addr = ldns_rdf_new_frm_str(ds_addr_family(a) == AF_INET ? LDNS_RDF_TYPE_A
								  : LDNS_RDF_TYPE_AAAA, host);
	if (!addr)
		return -EINVAL;
	names = ldns_get_rr_list_name_by_addr(r->res, addr, LDNS_RR_CLASS_IN, LDNS_RD);
	c = &r->cache[r->next];
	r->next = (r->next + 1) % RDNS_CACHE;
	if (r->ncache < RDNS_CACHE)
		r->ncache++;
	memset(c, 0, sizeof(*c));
	c->addr = *a;
	if (names && ldns_rr_list_rr_count(names) > 0) {
		ldns_rdf *target = ldns_rr_rdf(ldns_rr_list_rr(names, 0), 0);
		char *s = target ? ldns_rdf2str(target) : NULL;

		if (s) {
			size_t n = strlen(s);

			if (n && s[n - 1] == '.')
				s[n - 1] = '\0';
			snprintf(c->name, sizeof(c->name), "%s", s);
			free(s);
			c->found = found = 1;
			snprintf(name, len, "%s", c->name);
		}
	}
	ldns_rr_list_deep_free(names);
	ldns_rdf_deep_free(addr);
	return found;
}
