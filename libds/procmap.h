/* SPDX-License-Identifier: MIT */
/*
 * Which process owns a socket: socket inode -> pid, program name (comm) and executable,
 * found by walking /proc/PID/fd/ for "socket:[INODE]" links. The walk is the expensive
 * part, so answers are cached between sweeps and a walk stops as soon as every inode asked
 * for has been found.
 */
#ifndef DS_PROCMAP_H
#define DS_PROCMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DS_PROC_COMM_LEN 64
#define DS_PROC_EXE_LEN  512

struct ds_procinfo {
	pid_t pid;
	char comm[DS_PROC_COMM_LEN]; /* /proc/PID/comm, "" if unreadable */
	char exe[DS_PROC_EXE_LEN];   /* /proc/PID/exe target, "" if unreadable (kernel threads,
					 other users' processes without privilege) */
};

struct ds_procmap;

/* proc_root is "/proc" (tests pass a fake tree). 0 or -errno. */
int ds_procmap_new(const char *proc_root, struct ds_procmap **out);
void ds_procmap_free(struct ds_procmap *m);

/* Cached owner of a socket inode: 0 (filled), -ENOENT (not known yet). */
int ds_procmap_lookup(const struct ds_procmap *m, uint32_t inode, struct ds_procinfo *out);
/*
 * Walk /proc for the inodes in want[] (those not cached). Stops when all are found.
 * Returns how many were found (some sockets have no process: orphaned, or in another
 * pid namespace) or -errno if /proc cannot be read.
 */
int ds_procmap_resolve(struct ds_procmap *m, const uint32_t *want, size_t n);
/*
 * Drop cache entries for inodes not in live[] (sockets that are gone). live need not be
 * sorted; it is not modified.
 */
void ds_procmap_expire(struct ds_procmap *m, const uint32_t *live, size_t n);
/* Number of cached entries; number of /proc walks so far (for tests and -v). */
size_t ds_procmap_size(const struct ds_procmap *m);
unsigned ds_procmap_walks(const struct ds_procmap *m);

#endif
