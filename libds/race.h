/* SPDX-License-Identifier: MIT */
/*
 * Racing a peer's candidate paths, Happy Eyeballs style (RFC 8305 adapted to UDP echoes):
 * the cheapest candidate first, the others started one stagger apart, each retried on its
 * own schedule; the first authenticated echo reply wins and the rest are cancelled. A dead
 * candidate costs a few small packets and never delays the others.
 *
 * The packets go through the agent (ds-ctl(7) SEND with a destination), so they are sealed
 * under the pair's session and leave from the warm port; the winner is handed back to the
 * agent with USE. Used by ds-race and by ds-punch's ladder.
 */
#ifndef DS_RACE_H
#define DS_RACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "clock.h"
#include "ctl.h"
#include "udp.h"

#define DS_RACE_MAX                (DS_CTL_MAX_CANDS + 1) /* the peer's candidates + its path */
#define DS_RACE_STAGGER_MIN_NS     (10 * DS_NSEC_PER_MSEC) /* RFC 8305 §5: never below 10 ms */
#define DS_RACE_STAGGER_DEFAULT_NS (50 * DS_NSEC_PER_MSEC)
#define DS_RACE_TIMEOUT_DEFAULT_NS (2 * DS_NSEC_PER_SEC)

enum ds_race_kind {
	DS_RACE_HOST = 1,
	DS_RACE_SRFLX = 2,
	DS_RACE_RELAY = 3,
	DS_RACE_ENDPOINT = 4, /* the peers file's static endpoint */
	DS_RACE_KNOWN = 5,    /* the agent's current path, when no candidate has its address */
};

enum ds_race_outcome {
	DS_RACE_PENDING = 0,
	DS_RACE_WON,
	DS_RACE_LOST,      /* answered, after the winner */
	DS_RACE_CANCELLED, /* not answered (or not started) when the winner came */
	DS_RACE_TIMEOUT,   /* no answer within the timeout */
};

struct ds_race_cand {
	struct ds_addr addr;
	int kind;          /* enum ds_race_kind */
	const char *label; /* the path it would be: lan, v6, direct, relay */
	int pref;          /* lower races first */
	int64_t started_ns, answered_ns; /* monotonic; 0 = not started / not answered */
	struct ds_addr remote;           /* where the answer came from */
	double rtt_ms;                   /* of the first answer, the peer's hold time taken out */
	unsigned sends;
	int outcome;
	/* internal */
	int64_t next_ns;
};

struct ds_race_opts {
	int64_t stagger_ns; /* >= DS_RACE_STAGGER_MIN_NS */
	int64_t timeout_ns; /* per candidate, from its start */
	bool sequential;    /* start a candidate only when the one before timed out */
};

void ds_race_opts_default(struct ds_race_opts *o);

const char *ds_race_kind_str(int kind);
const char *ds_race_outcome_str(int outcome);

/* The race order for a peer: its candidates and current path from PEER_INFO, only of the
 * families this side has (have4/have6: the agent's sockets), duplicates dropped, labelled
 * and sorted: on one of our links (lan) first, then IPv6, then public IPv4 (server-reflexive,
 * static endpoint, the agent's path), then IPv4 host addresses of another network, then
 * relays. Returns the count. */
size_t ds_race_plan(const struct ds_ctl_msg *info, bool have4, bool have6,
		    const struct ds_udp_net *nets, size_t nnets, struct ds_race_cand *out);

/* ds_race_plan for this host and its agent: a family is raced when the agent has its
 * socket, this host an address of it (an IPv6 socket on a host with no IPv6 address never
 * dials IPv6) and the caller allows it; the on-link check uses this host's subnets. */
size_t ds_race_plan_here(const struct ds_ctl_msg *info, const struct ds_ctl_client *cl,
			 bool allow4, bool allow6, struct ds_race_cand *out);

/* Run the race under run_id (registered by the caller). 0 with *winner set (index into c),
 * -ETIMEDOUT when no candidate answered, or -errno from the agent. *bytes: what both sides
 * sent. c[].outcome is set for every candidate. */
int ds_race_run(struct ds_ctl_client *cl, uint32_t run_id, const char *peer,
		const struct ds_race_opts *o, struct ds_race_cand *c, size_t n, size_t *winner,
		uint64_t *bytes, int64_t *t0_ns);

#endif
