/* SPDX-License-Identifier: MIT */
/*
 * TCP sessions tracked across sweeps, keyed by the kernel's socket cookie: when each was
 * first and last seen, its latest counters and its owner. A dense array (ten thousand
 * sessions cost ten thousand records) with an open-addressing index into it.
 */
#ifndef DS_GRADETRACK_H
#define DS_GRADETRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "procmap.h"
#include "sockdiag.h"

struct ds_gradesess {
	struct ds_tcp_session k; /* latest counters */
	bool have_proc;          /* owner known: */
	pid_t pid;
	char comm[DS_PROC_COMM_LEN];
	const char *exe;        /* caller-owned string (callers intern it) */
	int64_t first_seen_ns;  /* realtime */
	int64_t last_seen_ns;   /* realtime, the last sweep that saw it */
	int64_t last_sample_ns; /* for callers that sample long sessions */
	unsigned missing;       /* sweeps since it was last seen */
};

struct ds_gradetrack;

int ds_gradetrack_new(struct ds_gradetrack **out);
void ds_gradetrack_free(struct ds_gradetrack *t);
/*
 * The session with this cookie; with insert, a new zeroed one if there is none (NULL only
 * when out of memory). Pointers stay valid until the next insert or remove.
 */
struct ds_gradesess *ds_gradetrack_find(struct ds_gradetrack *t, uint64_t cookie, bool insert);
/* Remove s; the last session moves into its place (a loop over the array goes i-- then). */
void ds_gradetrack_remove(struct ds_gradetrack *t, struct ds_gradesess *s);
/* All sessions, as an array of *n. */
struct ds_gradesess *ds_gradetrack_all(struct ds_gradetrack *t, size_t *n);
/*
 * Merge one sweep seen at now_ns: every known session's missing count goes up, each
 * socket of the sweep refreshes (or adds, first seen now) its session and resets it. An
 * orphaned socket (closed by its program, still finishing: inode 0) keeps its owner.
 * 0 or -ENOMEM.
 */
int ds_gradetrack_merge(struct ds_gradetrack *t, const struct ds_tcp_session *v, size_t n,
			int64_t now_ns);

/*
 * What the kernel's counters prove about a session's age: it has been busy sending for
 * busy_time, and the last_* stamps all start at the handshake. 0 when nothing is proven.
 */
double ds_gradetrack_age_floor_s(const struct ds_tcp_session *k);
/* The longer of the time since first seen and the kernel's floor. */
double ds_gradetrack_age_s(const struct ds_gradesess *s, int64_t now_ns);

#endif
