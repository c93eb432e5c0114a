// SPDX-License-Identifier: MIT
#include "geo.h"

#include <errno.h>
#include <maxminddb.h>
#include <stdlib.h>
#include <string.h>

#define GEO_MAX_DBS 4

struct ds_geo {
	MMDB_s db[GEO_MAX_DBS];
	int n;
};

int ds_geo_open(const char *const *paths, int n, struct ds_geo **out, const char **bad)
{
	struct ds_geo *g;
	int i;

	if (n < 1 || n > GEO_MAX_DBS)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		int r = MMDB_open(paths[i], MMDB_MODE_MMAP, &g->db[i]);

		if (r != MMDB_SUCCESS) {
			if (bad)
				*bad = paths[i];
			ds_geo_free(g);
			if (r == MMDB_FILE_OPEN_ERROR)
				return -ENOENT;
			if (r == MMDB_IO_ERROR)
				return -EIO;
			return -EBADMSG;
		}
		g->n++;
	}
	*out = g;
	return 0;
}

void ds_geo_free(struct ds_geo *g)
{
	int i;

	if (!g)
		return;
	for (i = 0; i < g->n; i++)
		MMDB_close(&g->db[i]);
	free(g);
}

static void get_string(MMDB_entry_s *e, char *out, size_t len, const char *const *path)
{
	MMDB_entry_data_s d;

	if (out[0] || MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data ||
	    d.type != MMDB_DATA_TYPE_UTF8_STRING)
		return;
	if (d.data_size >= len)
		return;
	memcpy(out, d.utf8_string, d.data_size);
	out[d.data_size] = '\0';
}

int ds_geo_lookup(struct ds_geo *g, const struct ds_addr *a, struct ds_geo_info *info)
{
	static const char *const asn_path[] = { "autonomous_system_number", NULL };
	static const char *const org_path[] = { "autonomous_system_organization", NULL };
	static const char *const country_path[] = { "country", "iso_code", NULL };
	static const char *const city_path[] = { "city", "names", "en", NULL };
	int i, found = 0;

	memset(info, 0, sizeof(*info));
	for (i = 0; i < g->n; i++) {
		MMDB_lookup_result_s res;
		MMDB_entry_data_s d;
		int err = 0;

		res = MMDB_lookup_sockaddr(&g->db[i], &a->sa, &err);
		if (err != MMDB_SUCCESS)
			continue; /* e.g. an IPv6 address in an IPv4-only database */
		if (!res.found_entry)
			continue;
		found = 1;
		if (!info->asn && MMDB_aget_value(&res.entry, &d, asn_path) == MMDB_SUCCESS &&
		    d.has_data && d.type == MMDB_DATA_TYPE_UINT32)
			info->asn = d.uint32;
		get_string(&res.entry, info->as_org, sizeof(info->as_org), org_path);
		get_string(&res.entry, info->country, sizeof(info->country), country_path);
		get_string(&res.entry, info->city, sizeof(info->city), city_path);
	}
	return found;
}
