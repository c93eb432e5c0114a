/* SPDX-License-Identifier: MIT */
/*
 * Finding a STUN/TURN server from what a user types:
 *   192.0.2.1   192.0.2.1:3478   2001:db8::1   [2001:db8::1]:3478
 *   stun.example.net   stun.example.net:3478
 *   stun:stun.example.net   stun:[2001:db8::1]:3478      (RFC 7064 URIs; "turn:" too)
 * A name without a port is looked up as DNS SRV "_stun._udp.NAME" (RFC 8489 §8.1; "_turn"
 * for turn:) through ldns first, and by A/AAAA on the default port when there is no SRV
 * record; a name with a port is looked up by A/AAAA only.
 */
#ifndef DS_RESOLVE_H
#define DS_RESOLVE_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define DS_RESOLVE_MAX      16
#define DS_RESOLVE_HOST_MAX 256

enum ds_resolve_srv_mode {
	DS_RESOLVE_SRV_AUTO,   /* SRV for names without a port, then A/AAAA */
	DS_RESOLVE_SRV_ALWAYS, /* SRV only: no record is an error */
	DS_RESOLVE_SRV_NEVER,  /* A/AAAA only */
};

struct ds_resolve_opts {
	uint16_t default_port; /* 3478 */
	int family;            /* AF_UNSPEC, AF_INET or AF_INET6 */
	enum ds_resolve_srv_mode srv;
	const char *service;       /* "stun" (default) or "turn" */
	const struct ds_addr *dns; /* DNS server for SRV; NULL = /etc/resolv.conf */
	int64_t dns_timeout_ns;    /* per query; 0 = 2 s */
};

struct ds_resolved {
	char host[DS_RESOLVE_HOST_MAX]; /* the name or literal as given, without brackets */
	uint16_t port;                  /* the port given, or the default */
	bool port_given;
	bool numeric; /* host was an IP literal */
	bool via_srv; /* addresses came from SRV records */
	bool tls;     /* "stuns:"/"turns:" URI */
	size_t n;
	struct ds_addr addr[DS_RESOLVE_MAX]; /* in preference order */
};

/* Syntax only (no DNS): 0 or -EINVAL with a reason in *why. */
int ds_resolve_parse(const char *spec, uint16_t default_port, struct ds_resolved *out,
		     const char **why);
/*
 * Parse and resolve. 0 with out->n >= 1; -EINVAL bad syntax (*why says what);
 * -ENOENT no such name / no address of the family asked; -EAGAIN DNS did not answer.
 */
int ds_resolve_server(const char *spec, const struct ds_resolve_opts *o, struct ds_resolved *out,
		      const char **why);

#endif
