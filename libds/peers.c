// SPDX-License-Identifier: MIT
/* Peers file: name,pubkey[,endpoint] CSV through the libds CSV reader. */
#include "peers.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "wire.h"

struct ds_peers {
	struct ds_peer *v;
	size_t n, cap;
	size_t *by_name; /* indexes sorted by name */
	size_t *by_key;  /* indexes sorted by public key */
};

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t errlen,
							 const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

bool ds_peers_name_ok(const char *name)
{
	size_t n = 0;

	for (const char *c = name; *c; c++, n++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
			return false;
	}
	return n >= 1 && n <= DS_PEER_NAME_MAX;
}

/* A field shown in a message: at most 40 bytes, control characters as '?'. */
static const char *shown(const char *s, char *buf, size_t len)
{
	size_t i, max = len - 4 < 40 ? len - 4 : 40;

	for (i = 0; s[i] && i < max; i++)
		buf[i] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (s[i])
		memcpy(buf + i, "...", 3), i += 3;
	buf[i] = '\0';
	return buf;
}

static int cmp_index(size_t a, size_t b)
{
	return (a > b) - (a < b);
}

static int cmp_name(const void *a, const void *b, void *ctx)
{
	const struct ds_peer *v = ctx;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(v[i].name, v[j].name);

	return c ? c : cmp_index(i, j);
}

static int cmp_key(const void *a, const void *b, void *ctx)
{
	const struct ds_peer *v = ctx;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = memcmp(v[i].pubkey, v[j].pubkey, DS_KEY_LEN);

	return c ? c : cmp_index(i, j);
}

/* Sort the indexes; a duplicate is reported at its second definition. */
static int index_and_check(struct ds_peers *ps, const char *label, char *err, size_t errlen)
{
	char b[64];

	ps->by_name = calloc(ps->n ? ps->n : 1, sizeof(size_t));
	ps->by_key = calloc(ps->n ? ps->n : 1, sizeof(size_t));
	if (!ps->by_name || !ps->by_key) {
		seterr(err, errlen, "%s: out of memory", label);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ps->n; i++)
		ps->by_name[i] = ps->by_key[i] = i;
	qsort_r(ps->by_name, ps->n, sizeof(size_t), cmp_name, ps->v);
	qsort_r(ps->by_key, ps->n, sizeof(size_t), cmp_key, ps->v);
	for (size_t i = 1; i < ps->n; i++) {
		const struct ds_peer *a = &ps->v[ps->by_name[i - 1]], *c = &ps->v[ps->by_name[i]];

		if (strcmp(a->name, c->name) == 0) {
			seterr(err, errlen, "%s:%ld: duplicate name '%s' (first at line %ld)", label,
			       c->line, shown(c->name, b, sizeof(b)), a->line);
			return -EEXIST;
		}
	}
	for (size_t i = 1; i < ps->n; i++) {
		const struct ds_peer *a = &ps->v[ps->by_key[i - 1]], *c = &ps->v[ps->by_key[i]];

		if (memcmp(a->pubkey, c->pubkey, DS_KEY_LEN) == 0) {
			seterr(err, errlen,
			       "%s:%ld: duplicate pubkey of '%s' (already '%s' at line %ld)", label,
			       c->line, c->name, a->name, a->line);
			return -EEXIST;
		}
	}
	return 0;
}

static int parse(struct ds_csv_reader *rd, const char *label, struct ds_peers **out, char *err,
		 size_t errlen)
{
	struct ds_peers *ps = calloc(1, sizeof(*ps));
	int col_name = ds_csv_reader_column(rd, "name");
	int col_key = ds_csv_reader_column(rd, "pubkey");
	int col_ep = ds_csv_reader_column(rd, "endpoint");
	char b[64];
	int r, ret = 0;

	if (!ps) {
		seterr(err, errlen, "%s: out of memory", label);
		return -ENOMEM;
	}
	if (col_name < 0 || col_key < 0) {
		seterr(err, errlen, "%s:1: missing column '%s' (the header must name name,pubkey "
				    "and optionally endpoint)",
		       label, col_name < 0 ? "name" : "pubkey");
		ret = -EBADMSG;
		goto out;
	}
	while ((r = ds_csv_reader_next(rd)) != 0) {
		long line = ds_csv_reader_line(rd);
		const char *name, *key, *ep;
		struct ds_peer *p;

		if (r < 0) {
			seterr(err, errlen, "%s:%ld: malformed CSV record (quoting, or not %d fields)",
			       label, line, ds_csv_reader_ncolumns(rd));
			ret = -EBADMSG;
			goto out;
		}
		name = ds_csv_reader_get(rd, col_name);
		key = ds_csv_reader_get(rd, col_key);
		ep = col_ep >= 0 ? ds_csv_reader_get(rd, col_ep) : NULL;
		if (ps->n == DS_PEERS_MAX) {
			seterr(err, errlen, "%s:%ld: more than %d peers", label, line, DS_PEERS_MAX);
			ret = -E2BIG;
			goto out;
		}
		if (ps->n == ps->cap) {
			size_t cap = ps->cap ? ps->cap * 2 : 16;
			struct ds_peer *v = realloc(ps->v, cap * sizeof(*v));

			if (!v) {
				seterr(err, errlen, "%s: out of memory", label);
				ret = -ENOMEM;
				goto out;
			}
			ps->v = v;
			ps->cap = cap;
		}
		p = &ps->v[ps->n];
		memset(p, 0, sizeof(*p));
		p->line = line;
		if (!name || !ds_peers_name_ok(name)) {
			seterr(err, errlen, "%s:%ld: bad name '%s' (1-%d characters of A-Z a-z 0-9 . _ -)",
			       label, line, shown(name ? name : "", b, sizeof(b)), DS_PEER_NAME_MAX);
			ret = -EBADMSG;
			goto out;
		}
		strcpy(p->name, name);
		if (!key || ds_key_from_base64(key, p->pubkey) != 0) {
			seterr(err, errlen, "%s:%ld: bad pubkey '%s' for '%s' (want 44 characters of "
				       "base64, as ds-key pubkey prints)",
			       label, line, shown(key ? key : "", b, sizeof(b)), p->name);
			ret = -EBADMSG;
			goto out;
		}
		if (ep && *ep &&
		    ds_addr_parse(ep, DS_WIRE_DEFAULT_PORT, DS_ADDR_PORT_OPTIONAL, &p->endpoint) != 0) {
			seterr(err, errlen, "%s:%ld: bad endpoint '%s' for '%s' (want addr:port, "
					    "[v6]:port or addr)",
			       label, line, shown(ep, b, sizeof(b)), p->name);
			ret = -EBADMSG;
			goto out;
		}
		if (ep && *ep && (ds_addr_port(&p->endpoint) == 0 || ds_addr_is_any(&p->endpoint))) {
			seterr(err, errlen, "%s:%ld: bad endpoint '%s' for '%s' (no port 0 or "
					    "unspecified address)",
			       label, line, shown(ep, b, sizeof(b)), p->name);
			ret = -EBADMSG;
			goto out;
		}
		ps->n++;
	}
	ret = index_and_check(ps, label, err, errlen);
out:
	if (ret) {
		ds_peers_free(ps);
		return ret;
	}
	*out = ps;
	return 0;
}

int ds_peers_load(const char *path, struct ds_peers **out, char *err, size_t errlen)
{
	struct ds_csv_reader *rd;
	int ret;

	*out = NULL;
	ret = ds_csv_reader_open(path, &rd);
	if (ret == -EBADMSG) {
		seterr(err, errlen, "%s:1: no header row (want name,pubkey[,endpoint])", path);
		return ret;
	}
	if (ret) {
		seterr(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = parse(rd, path, out, err, errlen);
	ds_csv_reader_free(rd);
	return ret;
}

int ds_peers_parse_mem(const char *data, size_t len, const char *label, struct ds_peers **out,
		       char *err, size_t errlen)
{
	struct ds_csv_reader *rd;
	int ret;

	*out = NULL;
	ret = ds_csv_reader_mem(data, len, &rd);
	if (ret) {
		seterr(err, errlen, "%s:1: no header row (want name,pubkey[,endpoint])", label);
		return ret == -EBADMSG ? ret : -EBADMSG;
	}
	ret = parse(rd, label, out, err, errlen);
	ds_csv_reader_free(rd);
	return ret;
}

void ds_peers_free(struct ds_peers *ps)
{
	if (!ps)
		return;
	free(ps->v);
	free(ps->by_name);
	free(ps->by_key);
	free(ps);
}

size_t ds_peers_count(const struct ds_peers *ps)
{
	return ps ? ps->n : 0;
}

const struct ds_peer *ds_peers_get(const struct ds_peers *ps, size_t i)
{
	return ps && i < ps->n ? &ps->v[i] : NULL;
}

const struct ds_peer *ds_peers_find_name(const struct ds_peers *ps, const char *name)
{
	size_t lo = 0, hi = ps ? ps->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ps->v[ps->by_name[mid]].name, name);

		if (c == 0)
			return &ps->v[ps->by_name[mid]];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct ds_peer *ds_peers_find_pubkey(const struct ds_peers *ps,
					   const uint8_t pubkey[DS_KEY_LEN])
{
	size_t lo = 0, hi = ps ? ps->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(ps->v[ps->by_key[mid]].pubkey, pubkey, DS_KEY_LEN);

		if (c == 0)
			return &ps->v[ps->by_key[mid]];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
