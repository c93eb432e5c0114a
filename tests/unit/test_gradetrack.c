// SPDX-License-Identifier: MIT
#define UNIT_NAME "gradetrack"
#include "unit.h"

#include <stdlib.h>

#include "gradetrack.h"

static struct ds_tcp_session sock(uint64_t cookie, uint32_t inode)
{
	struct ds_tcp_session k;

	memset(&k, 0, sizeof(k));
	k.cookie = cookie;
	k.inode = inode;
	k.state = 1; /* established */
	k.has_info = true;
	return k;
}

static void inserts_finds_and_removes_against_a_reference(void)
{
	struct ds_gradetrack *t;
	static unsigned char present[20000];
	size_t i, n, expect = 0;
	unsigned seed = 12345;
	int bad = 0;

	CHECK_INT(ds_gradetrack_new(&t), 0);
	/* 100,000 random inserts and removes over 20,000 cookies (some colliding in the
	 * index), checked against a plain presence array. */
	for (i = 0; i < 100000; i++) {
		uint64_t c;
		struct ds_gradesess *s;

		seed = seed * 1103515245u + 12345u;
		c = (seed >> 8) % 20000;
		s = ds_gradetrack_find(t, c * 0x100000001ULL, false);
		if ((s != NULL) != present[c])
			bad++;
		if (s && (seed & 1)) {
			ds_gradetrack_remove(t, s);
			present[c] = 0;
			expect--;
		} else if (!s) {
			s = ds_gradetrack_find(t, c * 0x100000001ULL, true);
			if (!s || s->k.cookie != c * 0x100000001ULL)
				bad++;
			present[c] = 1;
			expect++;
		}
	}
	CHECK_INT(bad, 0);
	ds_gradetrack_all(t, &n);
	CHECK_INT(n, expect);
	for (i = 0; i < 20000; i++)
		if ((ds_gradetrack_find(t, i * 0x100000001ULL, false) != NULL) != present[i])
			bad++;
	CHECK_INT(bad, 0);
	ds_gradetrack_free(t);
}

static void merge_counts_missing_and_keeps_first_seen(void)
{
	struct ds_gradetrack *t;
	struct ds_tcp_session a[2] = {sock(1, 100), sock(2, 200)};
	struct ds_gradesess *s;
	size_t n;

	CHECK_INT(ds_gradetrack_new(&t), 0);
	CHECK_INT(ds_gradetrack_merge(t, a, 2, 1000), 0);
	a[0].segs_out = 50;
	CHECK_INT(ds_gradetrack_merge(t, a, 1, 2000), 0); /* 2 is gone */
	ds_gradetrack_all(t, &n);
	CHECK_INT(n, 2);
	s = ds_gradetrack_find(t, 1, false);
	CHECK(s->first_seen_ns == 1000 && s->last_seen_ns == 2000);
	CHECK_INT(s->missing, 0);
	CHECK_INT(s->k.segs_out, 50);
	s = ds_gradetrack_find(t, 2, false);
	CHECK_INT(s->missing, 1);
	CHECK(s->last_seen_ns == 1000);
	ds_gradetrack_free(t);
}

static void orphaned_socket_keeps_its_owner(void)
{
	struct ds_gradetrack *t;
	struct ds_tcp_session k = sock(7, 700);
	struct ds_gradesess *s;

	CHECK_INT(ds_gradetrack_new(&t), 0);
	ds_gradetrack_merge(t, &k, 1, 1);
	s = ds_gradetrack_find(t, 7, false);
	s->have_proc = true;
	s->pid = 42;
	k.inode = 0; /* the program closed it; FIN_WAIT */
	k.state = 4;
	ds_gradetrack_merge(t, &k, 1, 2);
	s = ds_gradetrack_find(t, 7, false);
	CHECK(s->have_proc);
	CHECK_INT(s->k.inode, 700);
	CHECK_INT(s->k.state, 4);
	k.inode = 701; /* a different file: a different owner */
	ds_gradetrack_merge(t, &k, 1, 3);
	s = ds_gradetrack_find(t, 7, false);
	CHECK(!s->have_proc);
	ds_gradetrack_free(t);
}

static void age_is_the_longer_of_seen_and_proven(void)
{
	struct ds_gradesess s;

	memset(&s, 0, sizeof(s));
	s.k = sock(1, 1);
	s.first_seen_ns = 10LL * 1000000000;
	CHECK(ds_gradetrack_age_s(&s, 12LL * 1000000000) == 2.0);
	s.k.last_data_recv_ms = 5000; /* received nothing for 5 s: at least 5 s old */
	CHECK(ds_gradetrack_age_s(&s, 12LL * 1000000000) == 5.0);
	s.k.busy_time_us = 7000000; /* busy sending for 7 s */
	CHECK(ds_gradetrack_age_floor_s(&s.k) == 7.0);
	s.k.state = 2; /* SYN_SENT: the stamps mean nothing yet */
	CHECK(ds_gradetrack_age_floor_s(&s.k) == 0);
	s.k.state = 1;
	s.k.has_info = false;
	CHECK(ds_gradetrack_age_floor_s(&s.k) == 0);
}

int main(void)
{
	UNIT_RUN(inserts_finds_and_removes_against_a_reference);
	UNIT_RUN(merge_counts_missing_and_keeps_first_seen);
	UNIT_RUN(orphaned_socket_keeps_its_owner);
	UNIT_RUN(age_is_the_longer_of_seen_and_proven);
	UNIT_EXIT();
}
