/* SPDX-License-Identifier: MIT */
/*
 * The agent engine behind ds-agent(1): owns the warm port (libds/udp.h), answers
 * authenticated echo and packet-pair requests, keeps each peer's session (libds/pair.h),
 * path and NAT pinhole warm, refreshes its STUN mapping, publishes and reads candidates,
 * lends the port to local tools over the control socket (libds/ctl.h) and writes the
 * audit log, the last-known-good paths and the status file (libds/agentstate.h).
 *
 * Receive path, cheapest check first, nothing allocated before a packet authenticates:
 *   first byte (RFC 7983) -> per-source token bucket -> clear header -> pair id lookup ->
 *   replay window -> AEAD tag (ds_pair_open) -> act. Every drop is counted by reason.
 */
#ifndef DS_AGENT_H
#define DS_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "key.h"
#include "loop.h"
#include "peers.h"

#define DS_AGENT_MAX_STUN 4
/* NAT bindings for UDP last 30 s or more on most NATs (RFC 4787 REQ-5 asks >= 2 min);
 * 20-26 s keeps even short ones open, randomised so fleets do not synchronise. */
#define DS_AGENT_REFRESH_MIN_NS (20LL * 1000000000LL)
#define DS_AGENT_REFRESH_MAX_NS (26LL * 1000000000LL)

struct ds_agent_config {
	const char *name;
	uint8_t priv[DS_KEY_LEN];
	const struct ds_peers *peers;
	const char *state_dir;
	const char *rdv_dir;
	uint16_t port;
	int families; /* DS_UDP_IPV4 | DS_UDP_IPV6; 0 = both (a missing IPv6 is skipped) */
	bool mesh_off;
	struct ds_addr stun[DS_AGENT_MAX_STUN];
	size_t nstun;
	double rate_pps;                        /* per source address; 0 = unlimited */
	double rate_burst;                      /* bucket size; 0 = 2 x rate_pps */
	int64_t refresh_min_ns, refresh_max_ns; /* 0 = the defaults above */
	/* TURN (libds/agentrelay.h): one server per family at most, the same credentials:
	 * turn_secret or turn_user/pass */
	struct ds_addr turn[2];
	size_t nturn;
	const char *turn_user, *turn_pass, *turn_secret;
	uint32_t turn_lifetime_s; /* LIFETIME asked for; 0 = the server's default */
};

/* Why a datagram was dropped. */
enum ds_agent_drop {
	DS_DROP_TRUNCATED, /* shorter than a header + tag, too long, or cut by the buffer */
	DS_DROP_NOT_OURS,  /* first byte of another protocol (DTLS, RTP, QUIC, ChannelData) */
	DS_DROP_BAD_TYPE,  /* our range but a reserved type */
	DS_DROP_BAD_VERSION,
	DS_DROP_RATE_LIMITED, /* the source's token bucket was empty */
	DS_DROP_UNKNOWN_KEY,  /* pair id of no configured peer */
	DS_DROP_BAD_TAG,      /* forged, tampered, truncated or sealed with another key */
	DS_DROP_LIMIT, /* names an unknown session over the pair's budget: not even checked */
	DS_DROP_REPLAY,       /* counter seen before in the session */
	DS_DROP_STALE,        /* counter below the replay window */
	DS_DROP_UNPROVEN,     /* authentic, but its session has not answered our challenge */
	DS_DROP_MALFORMED,    /* authentic, body malformed for its type */
	DS_DROP_NO_RUN,       /* a reply for a run no local tool registered */
	DS_DROP_CTL_BACKLOG,  /* the tool that owns the run is not reading */
	DS_DROP_STUN,         /* STUN that answers nothing of ours or of a tool's */
	DS_DROP_UNEXPECTED,   /* authentic, but nothing to do with it */
	DS_DROP_COUNT
};
const char *ds_agent_drop_name(int reason);

struct ds_agent;

/* Open the port and the control socket, read the last-known-good paths, publish the
 * candidates and start the timers on loop. 0, or -errno with a reason in err. */
int ds_agent_new(const struct ds_agent_config *cfg, struct ds_loop *loop, struct ds_agent **out,
		 char *err, size_t errlen);
/* Flush the audit log and the paths, write the status file, close everything. */
void ds_agent_free(struct ds_agent *a);

uint16_t ds_agent_port(const struct ds_agent *a);
uint64_t ds_agent_drops(const struct ds_agent *a, int reason);
uint64_t ds_agent_answered(const struct ds_agent *a);
/* Write STATE/status now. 0 or -errno. */
int ds_agent_write_status(struct ds_agent *a);
/* The status text (what --status prints) into f. */
void ds_agent_status(struct ds_agent *a, FILE *f);

#endif
