/* SPDX-License-Identifier: MIT */
/* ASN and geolocation of an address from MaxMind DB files (GeoLite2/GeoIP2 ASN and City
 * or Country layouts, or any file with the same keys), through libmaxminddb. */
#ifndef DS_GEO_H
#define DS_GEO_H

#include <stdint.h>

#include "addr.h"

struct ds_geo;

struct ds_geo_info {
	uint32_t asn;		/* 0 when unknown */
	char as_org[128];
	char country[8];	/* ISO 3166-1 alpha-2 */
	char city[96];
};

/* Open one or more .mmdb files; lookups merge what each knows. 0, -errno, or -EBADMSG
 * (not a MaxMind DB); *bad names the file that failed. */
int ds_geo_open(const char *const *paths, int n, struct ds_geo **out, const char **bad);
void ds_geo_free(struct ds_geo *g);
/* 1 when anything was found, 0 when nothing, -errno on a database error. */
int ds_geo_lookup(struct ds_geo *g, const struct ds_addr *a, struct ds_geo_info *info);

#endif
