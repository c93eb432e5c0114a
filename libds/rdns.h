/* SPDX-License-Identifier: MIT */
/* Reverse DNS (PTR) through ldns, with a short timeout and a cache: a traceroute must not
 * stall on a slow resolver. */
#ifndef DS_RDNS_H
#define DS_RDNS_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct ds_rdns;

/* Resolver from resolv_conf (NULL = /etc/resolv.conf); timeout per query. 0 or -errno. */
int ds_rdns_new(const char *resolv_conf, int64_t timeout_ns, struct ds_rdns **out);
void ds_rdns_free(struct ds_rdns *r);
/* The PTR name without the trailing dot. 1 found, 0 no name, -errno on failure. */
int ds_rdns_lookup(struct ds_rdns *r, const struct ds_addr *a, char *name, size_t len);

#endif
