/* SPDX-License-Identifier: MIT */
/*
 * The ds-pairprobe measurement engine: what was sent, what came back, and the figures
 * (ds-pairprobe(1) describes them for users). The bookkeeping and the arithmetic need no
 * I/O, so the unit tests feed them synthetic timestamps; ds_probe_run drives one run
 * through the agent's control socket (ctl.h).
 *
 * One run, in order, all under one run id:
 *   echoes      seq 1..count, echo requests of `size` bytes, replies as large
 *   fwd pairs   two echo requests back to back (large, small reply): the responder's
 *               kernel receive stamps give the dispersion of this side's pairs
 *   rev pairs   packet-pair requests: the peer sends pairs, our kernel stamps them
 *   warm-ups    a small echo right before each pair, in the same batch, so that neither
 *               packet of the pair takes the kernel's cold path after an idle spell
 *   trains      optional: a back-to-back train each way after the pairs, so that a token
 *               bucket that lets pairs through at line rate shows its sustained rate
 *   closers     small echo requests until one is answered: its rx_count says how many
 *               of the run's requests reached the responder, so loss is split by direction
 *               even when the last replies were lost
 *
 * Loss per direction comes from the responder's rx_count (ds-wire(7)): between two answered
 * requests j < k, the responder received rx_count(k) - rx_count(j) - 1 of the k - j - 1
 * requests sent between them; the others were lost on the way out, the rest of the
 * unanswered ones on the way back.
 */
#ifndef DS_PROBE_H
#define DS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "wire.h"

struct ds_ctl_client;

/* Sequence number spaces of one run (echo requests and pair requests share the u32). */
#define DS_PROBE_SEQ_ECHO      0x00000001u /* 1..count */
#define DS_PROBE_SEQ_FWD_PAIR  0x40000000u /* + 2 * pair + member */
#define DS_PROBE_SEQ_WARM      0x48000000u /* + 2 * pair (+ 1 before a reverse pair) */
#define DS_PROBE_SEQ_FWD_TRAIN 0x50000000u /* + index */
#define DS_PROBE_SEQ_CLOSE     0x60000000u /* + index */
#define DS_PROBE_SEQ_REV_PAIR  0x70000000u /* pair request + pair */
#define DS_PROBE_SEQ_REV_TRAIN 0x78000000u /* the train request */

#define DS_PROBE_MAX_COUNT   1000000u
#define DS_PROBE_MAX_PAIRS   DS_WIRE_PAIR_MAX_COUNT
#define DS_PROBE_MAX_TRAIN   64u /* packets per direction */
#define DS_PROBE_MAX_CLOSERS 4u

struct ds_probe_opts {
	uint32_t count;      /* echoes, 1..DS_PROBE_MAX_COUNT */
	int64_t interval_ns; /* between echoes */
	uint16_t size;       /* echo request (and reply) packet length, UDP payload */
	uint32_t pairs;      /* per direction, 0..DS_PROBE_MAX_PAIRS */
	uint16_t pair_size;  /* large pair packets; small ones are half as large */
	uint16_t pair_size_small;
	int64_t pair_gap_ns;  /* between two pairs */
	uint32_t train;       /* packets per direction in the shaper train, 0 = none */
	int64_t wait_ns;      /* a reply later than this after its request is late (lost) */
	uint16_t ip_overhead; /* IP + UDP header bytes: 28 (IPv4) or 48 (IPv6) */
	int tos;              /* -1 = socket default, else the TOS / traffic class byte */
	bool clock_synced;    /* the two sides' clocks agree: absolute one-way delay */
};
/* The standard small test: 10 echoes 20 ms apart, 5 pairs each way, no train. */
void ds_probe_opts_default(struct ds_probe_opts *o);

/* One direction's figures. Any figure that could not be measured is NAN. */
struct ds_probe_dir {
	uint32_t sent; /* requests (fwd) or replies the responder sent (rev) */
	uint32_t lost;
	double loss_pct;
	uint32_t reordered; /* RFC 4737: arrived after a later-sent packet */
	double jitter_ms;   /* RFC 3550 interarrival jitter */
	double pdv_p95_ms;  /* RFC 5481 PDV: one-way delay minus its minimum, p95 */
	double pdv_max_ms;
	double owd_ms; /* median one-way delay, only with clock_synced */
	/* Packet pairs (CapProbe). */
	double bw_mbps;             /* the capacity reported: pairs, or the train's sustained rate
				     * when a shaper was found */
	double bw_pair_mbps;        /* what the pairs say (the bottleneck's line rate) */
	double bw_lower_bound_mbps; /* pairs spread less than we can time: at least this */
	double dispersion_us;
	int valid_pairs;
	bool converged;  /* CapProbe agreement, and the two sizes agree */
	bool jitter_bound; /* figure withheld: one-way delay variation above the dispersion */
	bool coalescing; /* both sizes gave the same dispersion: interrupt coalescing */
	/* Train. */
	double train_head_mbps, train_tail_mbps;
	int shaper; /* -1 not tested, 0 no, 1 yes */
	double shaper_burst_bytes;
};

struct ds_probe_result {
	struct ds_stats_summary rtt; /* ms, echoes only, turnaround removed */
	double rtt_jitter_ms;        /* RFC 3550 over consecutive round trips */
	uint32_t echoes_sent, echoes_answered;
	struct ds_probe_dir fwd, rev;
	uint32_t duplicates; /* second answers to one request */
	uint32_t late;       /* answers after wait_ns: counted as lost */
	uint32_t bad;        /* undecodable, unknown, or inconsistent answers: ignored */
	uint32_t refused;    /* refusals received */
	uint64_t bytes_sent, bytes_peer; /* UDP payload bytes each side sent for the run */
};

struct ds_probe;

/* -EINVAL (option out of range), -ENOMEM. */
int ds_probe_new(const struct ds_probe_opts *o, struct ds_probe **out);
void ds_probe_free(struct ds_probe *p);
const struct ds_probe_opts *ds_probe_opts(const struct ds_probe *p);

/* ---- bookkeeping: what the driver (or a test) reports ---- */

/* A request left: seq, the sender_tx_ns its body carries (what a genuine reply echoes),
 * the send time (the agent's, just before the send call) and its packet length.
 * -ENOENT for a seq outside the run's plan, -EALREADY when it was sent already. */
int ds_probe_sent(struct ds_probe *p, uint32_t seq, uint64_t body_tx_ns, int64_t tx_ns,
		  size_t pkt_len);
/* A better send time for seq: the kernel's transmit stamp. */
int ds_probe_tx_stamp(struct ds_probe *p, uint32_t seq, int64_t tx_ns);
/* The echo request body for seq (sender_tx_ns = body_tx_ns); the packet is body + 48 bytes.
 * Returns the body length or -ENOENT / -EMSGSIZE. */
int ds_probe_echo_body(const struct ds_probe *p, uint32_t seq, uint64_t body_tx_ns, uint8_t *buf,
		       size_t cap);
/* The packet-pair request body for seq (a DS_PROBE_SEQ_REV_* seq). */
int ds_probe_pair_request_body(const struct ds_probe *p, uint32_t seq, uint64_t body_tx_ns,
			       uint8_t *buf, size_t cap);

enum ds_probe_verdict {
	DS_PROBE_OK = 0,
	DS_PROBE_DUPLICATE,
	DS_PROBE_LATE,
	DS_PROBE_BAD, /* unknown seq, never sent, or timestamps that cannot be */
};
/* An echo reply, decoded, with our kernel receive stamp and its packet length. */
enum ds_probe_verdict ds_probe_echo_reply(struct ds_probe *p, const struct ds_wire_echo *e,
					  int64_t rx_ns, size_t pkt_len);
/* A packet-pair data packet. */
enum ds_probe_verdict ds_probe_pair_data(struct ds_probe *p, const struct ds_wire_pair_data *d,
					 int64_t rx_ns, size_t pkt_len);
/* A packet of the run that did not decode or was of a type we never asked for. */
void ds_probe_garbage(struct ds_probe *p, size_t pkt_len);
void ds_probe_refusal(struct ds_probe *p, size_t pkt_len);

/* Is everything the plan asked for in (answered, lost late, or known lost)? */
bool ds_probe_complete(const struct ds_probe *p);
/* The closer that was answered, or 0 when none was yet. */
uint32_t ds_probe_closers_answered(const struct ds_probe *p);

/* ---- figures ---- */
int ds_probe_result(const struct ds_probe *p, struct ds_probe_result *r);

/* Per-packet rows for --raw: index 0..n-1; -ENOENT past the end. Times in ms from the
 * first send; owd_*_ms are offset-free (minus the direction's minimum) unless clock_synced. */
struct ds_probe_raw {
	const char *kind; /* echo, fwd-pair, fwd-train, close, rev-pair, rev-train */
	uint32_t seq;
	uint32_t size;
	double sent_ms; /* our clock (requests) or the peer's, shifted (reverse data) */
	double recv_ms; /* NAN when lost */
	double rtt_ms;  /* echoes: turnaround removed */
	double owd_fwd_ms, owd_rev_ms;
	double gap_us;      /* pairs and trains: arrival gap to the previous packet */
	const char *status; /* ok, lost, late, dup */
};
int ds_probe_raw_row(const struct ds_probe *p, size_t index, struct ds_probe_raw *row);

/* ---- the train and shaper test, separately testable ---- */
/* Arrival times (ns, ascending index order, lost ones skipped) and sizes in bits. head =
 * rate over the first half, tail = over the last third; shaper when the tail runs below
 * 75 % of the reference (the pairs' capacity, or the head). burst = bytes that arrived at
 * the head rate before the knee. */
void ds_probe_train(const int64_t *rx_ns, const uint32_t *bits, size_t n, double ref_mbps,
		    double *head_mbps, double *tail_mbps, int *shaper, double *burst_bytes);

/* ---- the EWMA of the median RTT carried across runs, per peer, in the state dir ----
 * File DIR/pairprobe/PEER.ewma: one line "rtt_ewma_ms runs". Replaced atomically (write a
 * temporary file, fsync, rename). load: 0, -ENOENT (first run), -EBADMSG. */
int ds_probe_ewma_load(const char *state_dir, const char *peer, double *ewma_ms, uint64_t *runs);
int ds_probe_ewma_save(const char *state_dir, const char *peer, double ewma_ms, uint64_t runs);
/* Fold one run's median RTT into the file under an flock(2) of DIR/pairprobe/PEER.lock, so
 * that runs at once never lose each other's update. A file that does not parse starts over
 * (*was_bad set). 0 and the new average and run count, or -errno. */
int ds_probe_ewma_update(const char *state_dir, const char *peer, double median_ms, double *ewma_ms,
			 uint64_t *runs, bool *was_bad);

/* ---- one run through the agent ----
 * Sends the plan to `peer` under run_id over the control client c and collects the
 * answers into p. 0, or -errno from the agent (-ENOTCONN: the peer's session is not
 * established, -EHOSTUNREACH: no path, -ECONNRESET: the agent went away). */
int ds_probe_run(struct ds_probe *p, struct ds_ctl_client *c, uint32_t run_id, const char *peer);

#endif
