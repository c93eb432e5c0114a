/* SPDX-License-Identifier: MIT */
/*
 * NAT behaviour discovery against one STUN server (RFC 5780 §4) from one local socket.
 *
 *   round 1  test I: Binding to the primary address P -> mapped M1, OTHER-ADDRESS A
 *   round 2  all at once:
 *            mapping test II  (same socket) to A.ip:P.port       -> M2
 *            mapping test III (same socket) to A.ip:A.port       -> M3
 *            filtering test II  (fresh socket F) to P, CHANGE-REQUEST ip+port, answer from A
 *            filtering test III (socket F) to P, CHANGE-REQUEST port, answer from P.ip:A.port
 *            hairpin (fresh socket H) Binding request to M1: does the first socket get it?
 *
 * The filtering tests run on their own fresh socket that has sent only to P, so the
 * mapping tests' packets to A cannot have opened the NAT's filter for A. Mapping is
 * "no-nat" when M1 is the socket's own address (the socket is bound to the specific
 * address the route uses, so this is exact; M1 is also compared with every interface
 * address). Two round trips plus the filtering tests' wait.
 */
#ifndef DS_NAT_H
#define DS_NAT_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "stunclient.h"

enum ds_nat_mapping {
	DS_NAT_MAPPING_UNKNOWN,
	DS_NAT_MAPPING_NONE, /* no NAT: the mapped address is our own */
	DS_NAT_MAPPING_ENDPOINT_INDEPENDENT,
	DS_NAT_MAPPING_ADDRESS_DEPENDENT,
	DS_NAT_MAPPING_ADDRESS_AND_PORT_DEPENDENT,
};

enum ds_nat_filtering {
	DS_NAT_FILTERING_UNKNOWN,
	DS_NAT_FILTERING_ENDPOINT_INDEPENDENT,
	DS_NAT_FILTERING_ADDRESS_DEPENDENT,
	DS_NAT_FILTERING_ADDRESS_AND_PORT_DEPENDENT,
};

enum ds_nat_hairpin {
	DS_NAT_HAIRPIN_UNKNOWN,
	DS_NAT_HAIRPIN_YES,
	DS_NAT_HAIRPIN_NO,
};

/* The SPEC's words: "endpoint-independent", "no-nat", "unknown", "yes", ... */
const char *ds_nat_mapping_name(enum ds_nat_mapping m);
const char *ds_nat_filtering_name(enum ds_nat_filtering f);
const char *ds_nat_hairpin_name(enum ds_nat_hairpin h);

struct ds_nat_params {
	struct ds_stun_retrans retrans; /* for every request */
	/* How long the filtering and hairpin tests wait for an answer that may never come
	 * (the answers that do come take one round trip). */
	int64_t silence_wait_ns;
	const char *software; /* SOFTWARE attribute, NULL for none */
	/* When fd is a borrowed socket (the agent's), how its answers arrive; else NULL. */
	const struct ds_stun_redirect *redirect;
};

struct ds_nat_result {
	struct ds_addr local;  /* the socket's address */
	struct ds_addr server; /* P */
	struct ds_addr mapped; /* M1: XOR-MAPPED-ADDRESS of test I */
	struct ds_addr other;  /* OTHER-ADDRESS, empty when the server gave none */
	struct ds_addr origin; /* RESPONSE-ORIGIN of test I, empty when absent */
	struct ds_addr mapped2, mapped3;
	int64_t rtt_ns;         /* test I */
	unsigned transmissions; /* test I */
	bool rfc5780;           /* OTHER-ADDRESS present and different from P */
	enum ds_nat_mapping mapping;
	enum ds_nat_filtering filtering;
	enum ds_nat_hairpin hairpin;
	unsigned requests; /* requests sent, retransmissions included */
	unsigned rounds;   /* round trips the discovery needed */
	int64_t elapsed_ns;
	const char *note; /* why something is unknown, or NULL */
};

/*
 * Run the tests from fd (a UDP socket bound to `local`, a specific address) against server.
 * Returns 0 when test I was answered (the rest of the result may still be "unknown"),
 * -ETIMEDOUT when it was not, -EPROTO when it failed (error response, unknown attributes),
 * or -errno.
 */
int ds_nat_discover(int fd, const struct ds_addr *local, const struct ds_addr *server,
		    const struct ds_nat_params *p, struct ds_nat_result *r);

/*
 * A UDP socket for talking to `server`, bound to the specific local address the route to
 * it uses (so a mapped address can be compared with it exactly) and to `port` (0 = any).
 * IPv6 sockets are V6ONLY. Returns the descriptor and *local, or -errno:
 * -ENETUNREACH (no route: the host lacks this family), -EADDRINUSE.
 */
int ds_nat_socket_for(const struct ds_addr *server, uint16_t port, struct ds_addr *local);
/* Only the route lookup of ds_nat_socket_for: the source address (port 0) the kernel picks
 * for `server`. 0 or -errno (-ENETUNREACH). */
int ds_nat_route_source(const struct ds_addr *server, struct ds_addr *local);

/* Is this address (port ignored) one of this host's interface addresses? */
bool ds_nat_addr_is_local(const struct ds_addr *a);

/* The plain "what is my address" question: one Binding transaction. */
struct ds_nat_binding {
	struct ds_addr mapped;
	int64_t rtt_ns;
	unsigned transmissions;
	int error_code;           /* an error response's ERROR-CODE, else 0 */
	char reason[128];         /* its reason phrase */
	struct ds_addr alternate; /* ALTERNATE-SERVER of a 300 answer, else empty */
};

/* 0 with b->mapped; -ETIMEDOUT; -EPROTO for an error response (b->error_code says which)
 * or an answer §6.3 rejects; or -errno. A 300 Try Alternate is followed once when the
 * alternate has the same family (RFC 8489 §10). p->silence_wait_ns is not used. */
int ds_nat_binding(int fd, const struct ds_addr *server, const struct ds_nat_params *p,
		   struct ds_nat_binding *b);

#endif
