// SPDX-License-Identifier: MIT
/*
 * ds-punch — the connect ladder to a peer: same LAN, then IPv6, then public IPv4 as it is,
 * then a coordinated IPv4 hole punch (a punch hint to the peer, both agents bursting at the
 * same moment at each other's reflected port and the ports above it), then the TURN relay,
 * labelled as such. Each rung is a race (libds/race) or the agents' burst; the first
 * authenticated answer locks the path into the agent.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "csv.h"
#include "ctl.h"
#include "msg.h"
#include "num.h"
#include "peers.h"
#include "race.h"
#include "udp.h"
#include "version.h"
#include "wire.h"

static const char usage_text[] =
    "Usage: ds-punch --state DIR [options] PEER\n"
    "Reach PEER by the cheapest path that works: same LAN, IPv6, public IPv4, a coordinated\n"
    "IPv4 hole punch, and only then the TURN relay (labelled relay).\n"
    "\n"
    "      --state DIR        the agent's state directory (DIR/agent.sock); required\n"
    "      --attempts N       punch bursts per side, 1-8 (default 5)\n"
    "      --deltas N         ports tried above the peer's reflected port, 0-64 (default 64)\n"
    "      --interval D       between bursts, at least 20ms (default 100ms)\n"
    "      --start-in D       both sides burst this long after the hint, 0-2s (default 200ms)\n"
    "  -w, --timeout D        time for each race rung (default 1s)\n"
    "      --no-relay         stop before the relay rung\n"
    "  -4, --ipv4             IPv4 rungs only (no IPv6 rung)\n"
    "      --csv              CSV with a header row: a row per rung, then the result\n"
    "      --no-header        CSV without the header row (to append)\n"
    "  -q, --quiet            no messages, only results\n"
    "  -v, --verbose          more messages\n"
    "  -h, --help             this help\n"
    "  -V, --version          version and compiled-in features\n"
    "\n"
    "Exit status: 0 when a path was found, 1 when none was (or no agent), 2 on a usage\n"
    "error.\n";

enum {
	OPT_STATE = 256,
	OPT_ATTEMPTS,
	OPT_DELTAS,
	OPT_INTERVAL,
	OPT_START_IN,
	OPT_NO_RELAY,
	OPT_CSV,
	OPT_NO_HEADER,
};

static const struct option long_options[] = {
    {"state", required_argument, NULL, OPT_STATE},
    {"attempts", required_argument, NULL, OPT_ATTEMPTS},
    {"deltas", required_argument, NULL, OPT_DELTAS},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"start-in", required_argument, NULL, OPT_START_IN},
    {"timeout", required_argument, NULL, 'w'},
    {"no-relay", no_argument, NULL, OPT_NO_RELAY},
    {"ipv4", no_argument, NULL, '4'},
    {"csv", no_argument, NULL, OPT_CSV},
    {"no-header", no_argument, NULL, OPT_NO_HEADER},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static const char csv_columns[] =
    "ts,tool,run_id,src,dst,path,remote,time_to_path_ms,outcome,rung,detail,bytes";

struct config {
	const char *state_dir;
	const char *peer;
	unsigned attempts, deltas;
	int64_t interval_ns, start_in_ns, timeout_ns;
	bool no_relay, only4, csv, header;
};

static void parse_args(int argc, char **argv, struct config *c)
{
	int ch;

	memset(c, 0, sizeof(*c));
	c->attempts = 5;
	c->deltas = 64;
	c->interval_ns = 100 * DS_NSEC_PER_MSEC;
	c->start_in_ns = 200 * DS_NSEC_PER_MSEC;
	c->timeout_ns = DS_NSEC_PER_SEC;
	c->header = true;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":w:4qvhV", long_options, NULL)) != -1) {
		switch (ch) {
		case OPT_STATE:
			c->state_dir = optarg;
			break;
		case OPT_ATTEMPTS:
			c->attempts = (unsigned)ds_opt_long("--attempts", optarg, 1, 8);
			break;
		case OPT_DELTAS:
			c->deltas = (unsigned)ds_opt_long("--deltas", optarg, 0, 64);
			break;
		case OPT_INTERVAL:
			c->interval_ns = ds_opt_duration_ns("--interval", optarg,
							    20 * DS_NSEC_PER_MSEC, 10 * DS_NSEC_PER_SEC);
			break;
		case OPT_START_IN:
			c->start_in_ns =
			    ds_opt_duration_ns("--start-in", optarg, 0, 2 * DS_NSEC_PER_SEC);
			break;
		case 'w':
			c->timeout_ns = ds_opt_duration_ns("--timeout", optarg,
							   10 * DS_NSEC_PER_MSEC, 60 * DS_NSEC_PER_SEC);
			break;
		case OPT_NO_RELAY:
			c->no_relay = true;
			break;
		case '4':
			c->only4 = true;
			break;
		case OPT_CSV:
			c->csv = true;
			break;
		case OPT_NO_HEADER:
			c->csv = true;
			c->header = false;
			break;
		default:
			ds_opt_common(ch, argv, usage_text, "ds-punch");
		}
	}
	c->peer = ds_opt_peer(argc, argv);
	if (!c->state_dir)
		ds_usage_error("--state DIR is required (ds-punch works through the agent)");
}

/* One rung's result, for the output. */
struct rung {
	const char *name; /* lan, v6, direct, punch, relay */
	const char *outcome;
	char detail[160];
	const char *path;
	struct ds_addr remote;
	int64_t at_ns; /* when it succeeded, 0 = not */
	uint64_t bytes;
};

struct ctx {
	struct config c;
	struct ds_ctl_client *cl;
	uint32_t run_id;
	char src[DS_CTL_NAME_MAX + 1];
	int64_t t0;
	struct ds_race_cand plan[DS_RACE_MAX];
	size_t nplan;
	struct rung rungs[5];
	size_t nrungs;
};

static struct rung *rung_new(struct ctx *x, const char *name)
{
	struct rung *r = &x->rungs[x->nrungs++];

	memset(r, 0, sizeof(*r));
	r->name = name;
	r->outcome = "failed";
	r->path = "";
	return r;
}

/* Race the planned candidates whose label is `label` (and kind is not relay unless the
 * label is relay). 1 won, 0 none answered or none to race. */
static int race_rung(struct ctx *x, struct rung *r, const char *label)
{
	struct ds_race_cand c[DS_RACE_MAX];
	struct ds_race_opts o;
	size_t n = 0, w;
	uint64_t bytes;
	int64_t t0;
	int err;

	for (size_t i = 0; i < x->nplan; i++)
		if (strcmp(x->plan[i].label, label) == 0)
			c[n++] = x->plan[i];
	if (!n) {
		r->outcome = "skipped";
		snprintf(r->detail, sizeof(r->detail), "no %s candidate", label);
		return 0;
	}
	ds_race_opts_default(&o);
	o.timeout_ns = x->c.timeout_ns;
	err = ds_race_run(x->cl, x->run_id, x->c.peer, &o, c, n, &w, &bytes, &t0);
	r->bytes = bytes;
	if (err) {
		snprintf(r->detail, sizeof(r->detail), "%zu candidate%s, no answer in %lld ms", n,
			 n == 1 ? "" : "s", (long long)(x->c.timeout_ns / DS_NSEC_PER_MSEC));
		return 0;
	}
	r->outcome = "ok";
	r->at_ns = c[w].answered_ns;
	r->remote = c[w].remote.len ? c[w].remote : c[w].addr;
	r->path = label;
	snprintf(r->detail, sizeof(r->detail), "%s candidate answered, rtt %.3f ms",
		 ds_race_kind_str(c[w].kind), c[w].rtt_ms);
	if (ds_ctl_use(x->cl, x->c.peer, &r->remote, 0) == 0) {
		struct ds_ctl_msg info;

		if (ds_ctl_peer(x->cl, x->c.peer, &info) == 0 &&
		    (info.peer_info.peer_flags & DS_CTL_PEER_PATH))
			r->path = ds_ctl_path_kind(info.peer_info.peer_flags, &info.peer_info.path);
	}
	return 1;
}

/* The coordinated punch: the hint (the agent fills in its own IPv4 candidates and starts
 * its own burst at the peer's), then wait for the agent to lock a punched path. */
static int punch_rung(struct ctx *x, struct rung *r)
{
	struct ds_wire_punch h = {0};
	uint8_t body[DS_WIRE_BODY_MAX];
	struct ds_ctl_msg info, sent;
	size_t len;
	int64_t until, start = ds_clock_ns();
	int err;
	const char *via;
	bool have4 = false;

	for (size_t i = 0; i < x->nplan; i++)
		have4 |= ds_addr_family(&x->plan[i].addr) == AF_INET &&
			 x->plan[i].kind != DS_RACE_RELAY;
	if (!have4) {
		r->outcome = "skipped";
		snprintf(r->detail, sizeof(r->detail), "no IPv4 candidate of the peer");
		return 0;
	}
	if (ds_ctl_sockfd(x->cl, AF_INET) < 0) {
		r->outcome = "skipped";
		snprintf(r->detail, sizeof(r->detail), "this agent has no IPv4 socket");
		return 0;
	}
	h.hint_id = x->run_id;
	h.attempts = (uint8_t)x->c.attempts;
	h.port_deltas = (uint8_t)x->c.deltas;
	h.interval_ms = (uint16_t)(x->c.interval_ns / DS_NSEC_PER_MSEC);
	h.start_in_ms = (uint16_t)(x->c.start_in_ns / DS_NSEC_PER_MSEC);
	h.ncand = 0; /* the agent puts in its own */
	len = ds_wire_punch_len(&h);
	if (ds_wire_punch_encode(&h, body, len) < 0)
		return 0;
	err = ds_ctl_send(x->cl, x->run_id, x->c.peer, DS_WIRE_PUNCH_HINT, body, len, NULL, 0,
			  &sent);
	if (!err)
		r->bytes += sent.sent.len;
	/* SENT of length 0: no path carried it, the agent left it in the rendezvous dir */
	via = err ? "not sent" : sent.sent.len ? "sent" : "left in the rendezvous directory";
	/* Our burst runs either way; without the hint the peer bursts only on its own
	 * keepalive schedule. */
	until = start + x->c.start_in_ns + (int64_t)x->c.attempts * x->c.interval_ns +
		x->c.timeout_ns;
	while (ds_clock_ns() < until) {
		if (ds_ctl_peer(x->cl, x->c.peer, &info) == 0 &&
		    (info.peer_info.peer_flags & DS_CTL_PEER_PUNCHED) &&
		    (info.peer_info.peer_flags & DS_CTL_PEER_ESTABLISHED)) {
			r->outcome = "ok";
			r->at_ns = ds_clock_ns();
			r->remote = info.peer_info.path;
			r->path = ds_ctl_path_kind(info.peer_info.peer_flags, &info.peer_info.path);
			snprintf(r->detail, sizeof(r->detail),
				 "hint %s; %u bursts x %u ports; the peer answered", via,
				 x->c.attempts, x->c.deltas);
			return 1;
		}
		usleep(20000);
	}
	if (err)
		snprintf(r->detail, sizeof(r->detail),
			 "hint not sent (%s); %u bursts x %u ports from this side, no answer",
			 strerror(-err), x->c.attempts, x->c.deltas);
	else
		snprintf(r->detail, sizeof(r->detail),
			 "hint %s; %u bursts x %u ports each side, no answer (as an "
			 "endpoint-dependent NAT with random ports on either side gives)",
			 via, x->c.attempts, x->c.deltas);
	return 0;
}

/* The relay: the agent relays a peer no direct path reaches (ds-agent --turn), or the
 * peer's relayed address answers a race. */
static int relay_rung(struct ctx *x, struct rung *r)
{
	struct ds_ctl_msg info;
	int64_t until = ds_clock_ns() + 3 * DS_NSEC_PER_SEC;

	do {
		if (ds_ctl_peer(x->cl, x->c.peer, &info) == 0 &&
		    (info.peer_info.peer_flags & DS_CTL_PEER_RELAYED) &&
		    (info.peer_info.peer_flags & DS_CTL_PEER_ESTABLISHED)) {
			struct ds_race_cand c = {.addr = info.peer_info.path, .kind = DS_RACE_KNOWN,
						 .label = "relay"};
			struct ds_race_opts o;
			size_t w;
			int64_t t0;

			/* confirm it end to end with an echo on the agent's path */
			ds_race_opts_default(&o);
			o.timeout_ns = x->c.timeout_ns;
			if (ds_race_run(x->cl, x->run_id, x->c.peer, &o, &c, 1, &w, &r->bytes, &t0) ==
			    0) {
				r->outcome = "ok";
				r->at_ns = c.answered_ns;
				r->remote = c.remote;
				r->path = "relay";
				snprintf(r->detail, sizeof(r->detail),
					 "through the agent's TURN allocation, rtt %.3f ms", c.rtt_ms);
				return 1;
			}
		}
		usleep(50000);
	} while (ds_clock_ns() < until);
	if (race_rung(x, r, "relay")) {
		r->path = "relay"; /* a relayed address is a relay, whatever else it is */
		return 1;
	}
	if (!strcmp(r->outcome, "skipped"))
		snprintf(r->detail, sizeof(r->detail),
			 "no relay: neither agent holds a TURN allocation (ds-agent --turn)");
	return 0;
}

static int print_row(const struct ctx *x, const struct rung *r, const char *rung,
		     const char *outcome, const char *detail, uint64_t bytes)
{
	struct ds_csv_rec rec;
	char ts[DS_ISO8601_LEN], a[DS_ADDR_STRLEN], buf[1024];

	ds_csv_rec_init(&rec, buf, sizeof(buf));
	ds_csv_field(&rec, ds_time_now_iso8601(ts, sizeof(ts)));
	ds_csv_field(&rec, "ds-punch");
	ds_csv_fieldf(&rec, "%08x", x->run_id);
	ds_csv_field(&rec, x->src);
	ds_csv_field(&rec, x->c.peer);
	ds_csv_field(&rec, r && r->at_ns ? r->path : "");
	ds_csv_field(&rec, r && r->at_ns ? ds_addr_format(&r->remote, true, a, sizeof(a)) : "");
	if (r && r->at_ns)
		ds_csv_field_double(&rec, (double)(r->at_ns - x->t0) / DS_NSEC_PER_MSEC, 3);
	else
		ds_csv_field(&rec, "");
	ds_csv_field(&rec, outcome);
	ds_csv_field(&rec, rung);
	ds_csv_field(&rec, detail);
	ds_csv_field_long(&rec, (long long)bytes);
	if (ds_csv_rec_end(&rec) < 0)
		return -ENOSPC;
	return ds_csv_write_file(stdout, &rec);
}

int main(int argc, char **argv)
{
	struct ctx x;
	struct ds_ctl_msg info;
	struct rung *win = NULL;
	uint64_t bytes = 0;
	char why[400] = "";
	int err, ret = 1;

	memset(&x, 0, sizeof(x));
	ds_msg_init(argv[0]);
	parse_args(argc, argv, &x.c);
	x.run_id = ds_ctl_run_id_random();
	err = ds_ctl_connect(x.c.state_dir, "ds-punch", x.run_id, "punch", x.c.peer, &x.cl);
	if (err == -ENOENT || err == -ECONNREFUSED)
		ds_errx(1, "no agent at %s (ds-punch works through the agent: start ds-agent --state %s)",
			x.c.state_dir, x.c.state_dir);
	if (err)
		ds_errc(1, -err, "cannot talk to the agent at %s", x.c.state_dir);
	snprintf(x.src, sizeof(x.src), "%s", ds_ctl_agent_name(x.cl));
	x.t0 = ds_clock_ns();
	err = ds_ctl_peer(x.cl, x.c.peer, &info);
	if (err) {
		ds_warnx(err == -ENOENT ? "%s is not in the agent's peers file" : "%s: %s",
			 x.c.peer, strerror(-err));
		goto out;
	}
	x.nplan = ds_race_plan_here(&info, x.cl, true, !x.c.only4, x.plan);

	/* the ladder, cheapest first */
	if (race_rung(&x, rung_new(&x, "lan"), "lan") ||
	    (!x.c.only4 && race_rung(&x, rung_new(&x, "v6"), "v6")) ||
	    race_rung(&x, rung_new(&x, "direct"), "direct") ||
	    punch_rung(&x, rung_new(&x, "punch")) ||
	    (!x.c.no_relay && relay_rung(&x, rung_new(&x, "relay"))))
		win = &x.rungs[x.nrungs - 1];
	for (size_t i = 0; i < x.nrungs; i++) {
		bytes += x.rungs[i].bytes;
		if (&x.rungs[i] != win && strcmp(x.rungs[i].outcome, "skipped") != 0) {
			size_t l = strlen(why);

			snprintf(why + l, sizeof(why) - l, "%s%s: %s", l ? "; " : "",
				 x.rungs[i].name, x.rungs[i].detail);
		}
	}
	if (x.c.csv) {
		if (x.c.header)
			ds_csv_header(stdout, csv_columns);
		for (size_t i = 0; i < x.nrungs; i++)
			print_row(&x, &x.rungs[i], x.rungs[i].name, x.rungs[i].outcome,
				  x.rungs[i].detail, x.rungs[i].bytes);
		print_row(&x, win, "result", win ? "ok" : "down",
			  win ? (why[0] ? why : "the first rung answered") : why, bytes);
	} else {
		char a[DS_ADDR_STRLEN];

		for (size_t i = 0; i < x.nrungs; i++)
			printf("%-7s %-8s %s\n", x.rungs[i].name, x.rungs[i].outcome,
			       x.rungs[i].detail);
		if (win)
			printf("path %s %s in %.1f ms\n", win->path,
			       ds_addr_format(&win->remote, true, a, sizeof(a)),
			       (double)(win->at_ns - x.t0) / DS_NSEC_PER_MSEC);
		else
			printf("no path\n");
	}
	fflush(stdout);
	ret = win ? 0 : 1;
	ds_ctl_unregister(x.cl, x.run_id, bytes, win ? "ok" : "down");
out:
	ds_ctl_close(x.cl);
	return ret;
}
