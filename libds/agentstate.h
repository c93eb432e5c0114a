/* SPDX-License-Identifier: MIT */
/*
 * What the agent keeps on disk (ds-agent(1), FILES):
 *
 *   STATE/paths.csv      last-known-good path per peer: peer,remote,local,confirmed
 *   STATE/status         what `ds-agent --status` prints (peers, paths, drop counters)
 *   STATE/audit.csv      ts,run_id,initiator,responder,test,bytes,outcome (appended)
 *   STATE/mesh-off       flag file: this agent refuses probes
 *   RDV/cand-NAME.csv    the candidates agent NAME publishes: name,kind,addr,ts
 *   RDV/mesh-off         flag file: every agent sharing RDV refuses probes
 *
 * Files that are replaced are written to a temporary file in the same directory, fsync'd
 * and renamed over the old one (then the directory is fsync'd), so a reader or a crash sees
 * the old file or the new one, never half of one. Appended records are whole lines written
 * with one write(2) (libds/csv.h).
 */
#ifndef DS_AGENTSTATE_H
#define DS_AGENTSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

#define DS_CAND_MAX 16

enum ds_cand_kind_name { DS_CANDK_HOST = 1, DS_CANDK_SRFLX = 2, DS_CANDK_RELAY = 3 };

struct ds_cand {
	int kind; /* enum ds_cand_kind_name */
	struct ds_addr addr;
};

/* Replace dir/name atomically with data (mode for the new file). 0 or -errno. */
int ds_state_write_atomic(const char *dir, const char *name, const void *data, size_t len,
			  mode_t mode);
/* Does dir/mesh-off exist? */
bool ds_state_mesh_off(const char *dir);

/* "host", "srflx", "relay"; NULL for anything else. And back: 0 for an unknown name. */
const char *ds_cand_kind_str(int kind);
int ds_cand_kind_parse(const char *s);

/* The candidate file of agent `name`: header + one row per candidate. Returns the length
 * or -ENOSPC. */
int ds_cand_format(const char *name, const struct ds_cand *c, size_t n, int64_t realtime_ns,
		   char *buf, size_t cap);
/* Parse a candidate file. Rows of another name than `name` (NULL = any), unknown kinds and
 * bad addresses are skipped; at most max candidates are kept. 0 with *n set, or -EBADMSG
 * (no header with the needed columns). */
int ds_cand_parse(const char *data, size_t len, const char *name, struct ds_cand *out, size_t max,
		  size_t *n);
/* RDV/cand-NAME.csv: write (atomic) and read. Read gives -ENOENT when there is none;
 * *mtime_ns (may be NULL) a stamp of the file's modification time and inode for cheap
 * change checks: it changes whenever the file is replaced, even twice in one clock tick. */
int ds_cand_publish(const char *rdv_dir, const char *name, const struct ds_cand *c, size_t n);
int ds_cand_read(const char *rdv_dir, const char *name, struct ds_cand *out, size_t max, size_t *n,
		 int64_t *mtime_ns);
int ds_cand_mtime(const char *rdv_dir, const char *name, int64_t *mtime_ns);

/* Last-known-good paths. */
struct ds_path_rec {
	char peer[64];
	struct ds_addr remote;
	struct ds_addr local; /* len 0 = unknown */
	int64_t confirmed_ns; /* CLOCK_REALTIME ns of the last authenticated packet */
};
int ds_paths_format(const struct ds_path_rec *p, size_t n, char *buf, size_t cap);
/* Calls fn for each well-formed row; malformed rows are skipped. 0 or -EBADMSG/-errno. */
int ds_paths_parse(const char *data, size_t len, void (*fn)(void *arg, const struct ds_path_rec *p),
		   void *arg);
int ds_paths_load(const char *state_dir, void (*fn)(void *arg, const struct ds_path_rec *p),
		  void *arg);

/* The audit log: open for appending (header row written when the file is new or empty). */
int ds_audit_open(const char *state_dir);
int ds_audit_append(int fd, uint32_t run_id, const char *initiator, const char *responder,
		    const char *test, uint64_t bytes, const char *outcome);

#endif
