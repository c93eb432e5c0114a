// SPDX-License-Identifier: MIT
#include "linkem.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

struct ds_linkem {
	struct ds_linkem_params params;
	int64_t last_tx_end;  /* when the link finishes serializing the last accepted packet */
	int64_t last_release; /* release time of the last accepted packet: none leaves before */
	uint64_t rng;
	/* tx_end of accepted packets still in serialization, oldest first (a ring). */
	int64_t *tx_end;
	uint32_t head, count;
};

void ds_linkem_params_default(struct ds_linkem_params *p)
{
	memset(p, 0, sizeof(*p));
	p->limit = DS_LINKEM_LIMIT_DEFAULT;
}

int ds_linkem_param_set(struct ds_linkem_params *p, const char *key, const char *value)
{
	long long n;
	int64_t ns;
	double bps;
	int r;

	if (strcmp(key, "rate") == 0) {
		r = ds_parse_rate_bps(value, 0, DS_LINKEM_RATE_MAX_BPS, &bps);
		if (r == 0 && bps > 0 && bps < 1)
			r = -ERANGE; /* a packet would take longer than the clock can count */
		if (r == 0)
			p->rate_bps = bps;
	} else if (strcmp(key, "delay") == 0 || strcmp(key, "jitter") == 0) {
		r = ds_parse_duration_ns(value, 0, DS_LINKEM_DELAY_MAX_NS, &ns);
		if (r == 0 && key[0] == 'd')
			p->delay_ns = ns;
		else if (r == 0)
			p->jitter_ns = ns;
	} else if (strcmp(key, "limit") == 0) {
		r = ds_parse_long(value, 1, DS_LINKEM_LIMIT_MAX, &n);
		if (r == 0)
			p->limit = (uint32_t)n;
	} else if (strcmp(key, "overhead") == 0) {
		r = ds_parse_long(value, 0, DS_LINKEM_OVERHEAD_MAX, &n);
		if (r == 0)
			p->overhead = (uint32_t)n;
	} else {
		r = -ENOENT;
	}
	return r;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int ds_linkem_params_parse(const char *text, size_t len, struct ds_linkem_params *p,
			   unsigned *line_no)
{
	struct ds_linkem_params next = *p;
	char line[256], *key, *value, *end;
	size_t pos = 0, n;
	unsigned no = 0;
	int r;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);

		n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		no++;
		if (line_no)
			*line_no = no;
		if (n >= sizeof(line))
			return -E2BIG;
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (memchr(line, '\0', n))
			return -EINVAL;

		end = strchr(line, '#');
		if (!end)
			end = line + n;
		while (end > line && is_blank(end[-1]))
			end--;
		*end = '\0';
		key = line;
		while (is_blank(*key))
			key++;
		if (*key == '\0')
			continue;
		value = key;
		while (*value && !is_blank(*value))
			value++;
		if (*value == '\0')
			return -EINVAL;
		*value++ = '\0';
		while (is_blank(*value))
			value++;
		r = ds_linkem_param_set(&next, key, value);
		if (r < 0)
			return r;
	}
	*p = next;
	return 0;
}

struct ds_linkem *ds_linkem_new(const struct ds_linkem_params *p, uint64_t seed)
{
	struct ds_linkem *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->tx_end = calloc(DS_LINKEM_LIMIT_MAX, sizeof(*l->tx_end));
	if (!l->tx_end) {
		free(l);
		return NULL;
	}
	l->params = *p;
	l->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
	l->last_tx_end = INT64_MIN;
	l->last_release = INT64_MIN;
	return l;
}

void ds_linkem_free(struct ds_linkem *l)
{
	if (!l)
		return;
	free(l->tx_end);
	free(l);
}

void ds_linkem_set_params(struct ds_linkem *l, const struct ds_linkem_params *p)
{
	l->params = *p;
}

void ds_linkem_get_params(const struct ds_linkem *l, struct ds_linkem_params *p)
{
	*p = l->params;
}

/* splitmix64: small, fast, good enough to draw jitter. */
static uint64_t next_random(struct ds_linkem *l)
{
	uint64_t z = (l->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [-jitter, +jitter]. */
static int64_t draw_jitter(struct ds_linkem *l)
{
	double u;

	if (l->params.jitter_ns <= 0)
		return 0;
	u = (double)(next_random(l) >> 11) / (double)(1ULL << 53); /* [0, 1) */
	return llround((2.0 * u - 1.0) * (double)l->params.jitter_ns);
}

int64_t ds_linkem_tx_ns(const struct ds_linkem *l, uint32_t len)
{
	double bits = ((double)len + l->params.overhead) * 8.0;

	if (l->params.rate_bps <= 0)
		return 0;
	return llround(bits * 1e9 / l->params.rate_bps);
}

uint32_t ds_linkem_backlog(struct ds_linkem *l, int64_t now_ns)
{
	while (l->count > 0 && l->tx_end[l->head] <= now_ns) {
		l->head = (l->head + 1) % DS_LINKEM_LIMIT_MAX;
		l->count--;
	}
	return l->count;
}

int ds_linkem_enqueue(struct ds_linkem *l, int64_t now_ns, uint32_t len, int64_t *release_ns)
{
	int64_t tx_ns = ds_linkem_tx_ns(l, len), start, tx_end, release;

	if (ds_linkem_backlog(l, now_ns) >= l->params.limit)
		return -ENOBUFS;
	start = now_ns > l->last_tx_end ? now_ns : l->last_tx_end;
	tx_end = start + tx_ns;
	if (tx_end > now_ns)
		l->tx_end[(l->head + l->count++) % DS_LINKEM_LIMIT_MAX] = tx_end;
	l->last_tx_end = tx_end;

	release = tx_end + l->params.delay_ns + draw_jitter(l);
	if (release < tx_end)
		release = tx_end;
	if (release < l->last_release)
		release = l->last_release;
	l->last_release = release;
	*release_ns = release;
	return 0;
}
