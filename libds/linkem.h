/* SPDX-License-Identifier: MIT */
/*
 * The release-time schedule of an emulated link (ds-link): a FIFO bottleneck of a given rate
 * with a tail-drop queue, followed by a propagation delay with random jitter. Packets never
 * overtake each other. Pure arithmetic on caller-given times, so it can be tested without a
 * network; the program in cmd/ds-link.c holds the packets and releases them on time.
 *
 *   arrival ──> [ queue ≤ limit ] ──> serialize at rate ──> delay ± jitter ──> release
 *
 *   tx_end   = max(arrival, previous tx_end) + (len + overhead) * 8 / rate
 *   release  = max(tx_end + delay + U(-jitter, +jitter) (not before tx_end), previous release)
 */
#ifndef DS_LINKEM_H
#define DS_LINKEM_H

#include <stddef.h>
#include <stdint.h>

#define DS_LINKEM_LIMIT_DEFAULT  1000
#define DS_LINKEM_LIMIT_MAX      100000
#define DS_LINKEM_OVERHEAD_MAX   1024
#define DS_LINKEM_DELAY_MAX_NS   (3600LL * 1000000000LL)
#define DS_LINKEM_RATE_MAX_BPS   1e12

struct ds_linkem_params {
	double rate_bps;   /* 0: unlimited (no serialization delay) */
	int64_t delay_ns;  /* one-way propagation delay */
	int64_t jitter_ns; /* uniform in [-jitter, +jitter] around delay */
	uint32_t limit;    /* packets waiting for or in serialization; more are tail-dropped */
	uint32_t overhead; /* bytes added to each packet's length for serialization (L2 framing) */
};

/* rate 0, delay 0, jitter 0, limit DS_LINKEM_LIMIT_DEFAULT, overhead 0. */
void ds_linkem_params_default(struct ds_linkem_params *p);

/*
 * Set one parameter by name from text, as the command line and the params file give it:
 * rate ("10mbit", "2.5M", bare bit/s; "0" unlimited), delay and jitter ("20ms", "500us", bare
 * ms), limit (packets, 1..DS_LINKEM_LIMIT_MAX), overhead (bytes). 0, -ENOENT for an unknown
 * key, -EINVAL or -ERANGE for a bad value.
 */
int ds_linkem_param_set(struct ds_linkem_params *p, const char *key, const char *value);

/*
 * Parse a params file's text: one "key value" per line, '#' starts a comment, blank lines
 * ignored. Keys not given keep their value in *p. On error *p is unchanged, *line_no is the
 * 1-based line and the result is -ENOENT (unknown key), -EINVAL, -ERANGE or -E2BIG (line too
 * long); *line_no may be NULL.
 */
int ds_linkem_params_parse(const char *text, size_t len, struct ds_linkem_params *p,
			   unsigned *line_no);

struct ds_linkem;

/* seed makes the jitter sequence reproducible. NULL on allocation failure. */
struct ds_linkem *ds_linkem_new(const struct ds_linkem_params *p, uint64_t seed);
void ds_linkem_free(struct ds_linkem *l);
/* New parameters apply to packets enqueued from now on; scheduled ones keep their times. */
void ds_linkem_set_params(struct ds_linkem *l, const struct ds_linkem_params *p);
void ds_linkem_get_params(const struct ds_linkem *l, struct ds_linkem_params *p);

/*
 * A packet of len bytes (IP packet length) arrives at now_ns (monotonic, non-decreasing from
 * call to call). 0 and its release time in *release_ns, or -ENOBUFS when the queue is full and
 * the packet is to be dropped.
 */
int ds_linkem_enqueue(struct ds_linkem *l, int64_t now_ns, uint32_t len, int64_t *release_ns);

/* Packets waiting for or in serialization at now_ns. */
uint32_t ds_linkem_backlog(struct ds_linkem *l, int64_t now_ns);

/* Serialization time of len bytes at the current rate (0 when unlimited). */
int64_t ds_linkem_tx_ns(const struct ds_linkem *l, uint32_t len);

#endif
