// SPDX-License-Identifier: MIT
/* Sessions tracked across sweeps: see gradetrack.h. */
#include "gradetrack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ds_gradetrack {
	struct ds_gradesess *v;
	size_t n, cap;
	uint32_t *idx; /* index + 1; 0 = empty */
	size_t nidx;   /* power of two, >= 2 * n */
};

/* TCP states (include/net/tcp_states.h). */
enum { STATE_SYN_SENT = 2, STATE_SYN_RECV = 3 };

static size_t cookie_hash(uint64_t c, size_t mask)
{
	c ^= c >> 33;
	c *= 0xff51afd7ed558ccdULL;
	c ^= c >> 33;
	return (size_t)c & mask;
}

static size_t idx_slot(const struct ds_gradetrack *t, uint64_t cookie)
{
	size_t mask = t->nidx - 1, i;

	for (i = cookie_hash(cookie, mask); t->idx[i]; i = (i + 1) & mask)
		if (t->v[t->idx[i] - 1].k.cookie == cookie)
			break;
	return i;
}

static int reindex(struct ds_gradetrack *t, size_t nidx)
{
	uint32_t *idx = calloc(nidx, sizeof(*idx));
	size_t j;

	if (!idx)
		return -ENOMEM;
	free(t->idx);
	t->idx = idx;
	t->nidx = nidx;
	for (j = 0; j < t->n; j++)
		t->idx[idx_slot(t, t->v[j].k.cookie)] = (uint32_t)(j + 1);
	return 0;
}

int ds_gradetrack_new(struct ds_gradetrack **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void ds_gradetrack_free(struct ds_gradetrack *t)
{
	if (!t)
		return;
	free(t->v);
	free(t->idx);
	free(t);
}

struct ds_gradesess *ds_gradetrack_find(struct ds_gradetrack *t, uint64_t cookie, bool insert)
{
	size_t i;

	if (insert && t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct ds_gradesess *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	if (insert && (t->n + 1) * 2 > t->nidx && reindex(t, t->nidx ? t->nidx * 2 : 512) < 0)
		return NULL;
	if (!t->nidx)
		return NULL;
	i = idx_slot(t, cookie);
	if (t->idx[i])
		return &t->v[t->idx[i] - 1];
	if (!insert)
		return NULL;
	memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
	t->v[t->n].k.cookie = cookie;
	t->idx[i] = (uint32_t)++t->n;
	return &t->v[t->n - 1];
}

void ds_gradetrack_remove(struct ds_gradetrack *t, struct ds_gradesess *s)
{
	size_t mask = t->nidx - 1, pos = (size_t)(s - t->v), i, j;

	i = idx_slot(t, s->k.cookie);
	t->idx[i] = 0;
	/* Backward-shift deletion keeps probe chains intact without tombstones: an entry
	 * moves into the hole unless its home slot lies cyclically in (hole, entry]. */
	for (j = (i + 1) & mask; t->idx[j]; j = (j + 1) & mask) {
		size_t home = cookie_hash(t->v[t->idx[j] - 1].k.cookie, mask);

		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			t->idx[i] = t->idx[j];
			t->idx[j] = 0;
			i = j;
		}
	}
	if (pos != t->n - 1) {
		t->v[pos] = t->v[t->n - 1];
		t->idx[idx_slot(t, t->v[pos].k.cookie)] = (uint32_t)(pos + 1);
	}
	t->n--;
}

struct ds_gradesess *ds_gradetrack_all(struct ds_gradetrack *t, size_t *n)
{
	*n = t->n;
	return t->v;
}

int ds_gradetrack_merge(struct ds_gradetrack *t, const struct ds_tcp_session *v, size_t n,
			int64_t now_ns)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		t->v[i].missing++;
	for (i = 0; i < n; i++) {
		struct ds_gradesess *s = ds_gradetrack_find(t, v[i].cookie, true);

		if (!s)
			return -ENOMEM;
		if (!s->first_seen_ns)
			s->first_seen_ns = now_ns;
		/* A different inode would be a different owner; inode 0 is the same socket
		 * orphaned by its program's close. */
		if (v[i].inode && s->k.inode != v[i].inode)
			s->have_proc = false;
		if (!v[i].inode && s->k.inode) {
			uint32_t keep = s->k.inode;

			s->k = v[i];
			s->k.inode = keep;
		} else {
			s->k = v[i];
		}
		s->last_seen_ns = now_ns;
		s->missing = 0;
	}
	return 0;
}

double ds_gradetrack_age_floor_s(const struct ds_tcp_session *k)
{
	double f = (double)k->busy_time_us / 1e6;
	uint32_t last = k->last_data_sent_ms;

	/* Before the handshake completes the stamps are not set yet. */
	if (k->state == STATE_SYN_SENT || k->state == STATE_SYN_RECV || !k->has_info)
		return 0;
	if (k->last_data_recv_ms > last)
		last = k->last_data_recv_ms;
	if (k->last_ack_recv_ms > last)
		last = k->last_ack_recv_ms;
	if ((double)last / 1e3 > f)
		f = (double)last / 1e3;
	return f;
}

double ds_gradetrack_age_s(const struct ds_gradesess *s, int64_t now_ns)
{
	double seen = (double)(now_ns - s->first_seen_ns) / 1e9;
	double floor_s = ds_gradetrack_age_floor_s(&s->k);

	return seen > floor_s ? seen : floor_s;
}
