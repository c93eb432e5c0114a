// SPDX-License-Identifier: MIT
/*
 * ds-stun — ask a STUN server (RFC 8489) for this host's reflexive address, per address
 * family; with --nat, find the NAT's mapping, filtering and hairpinning behaviour
 * (RFC 5780); with --count, repeat and report RTT statistics and mapping changes.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "csv.h"
#include "ctl.h"
#include "msg.h"
#include "nat.h"
#include "num.h"
#include "resolve.h"
#include "stats.h"
#include "stunclient.h"
#include "version.h"

#define DEFAULT_PORT 41878
#define STUN_PORT    3478
#define CSV_COLUMNS                                                                                \
	"ts,tool,server,family,local,mapped,rtt_ms,seq,transmissions,mapping_changed,sent,"        \
	"answered,rtt_min_ms,rtt_median_ms,rtt_p95_ms,rtt_max_ms"
#define CSV_NAT_COLUMNS ",mapping,filtering,hairpin,other"

enum {
	OPT_CSV = 256,
	OPT_NO_HEADER,
	OPT_NAT,
	OPT_COUNT,
	OPT_INTERVAL,
	OPT_RTO,
	OPT_RC,
	OPT_RM,
	OPT_WAIT,
	OPT_SRV,
	OPT_NO_SRV,
	OPT_DNS,
	OPT_STATE,
};

static const struct option long_options[] = {
    {"ipv4", no_argument, NULL, '4'},
    {"ipv6", no_argument, NULL, '6'},
    {"port", required_argument, NULL, 'p'},
    {"csv", no_argument, NULL, OPT_CSV},
    {"no-header", no_argument, NULL, OPT_NO_HEADER},
    {"nat", no_argument, NULL, OPT_NAT},
    {"count", required_argument, NULL, OPT_COUNT},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"rto", required_argument, NULL, OPT_RTO},
    {"rc", required_argument, NULL, OPT_RC},
    {"rm", required_argument, NULL, OPT_RM},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"srv", no_argument, NULL, OPT_SRV},
    {"no-srv", no_argument, NULL, OPT_NO_SRV},
    {"dns", required_argument, NULL, OPT_DNS},
    {"state", required_argument, NULL, OPT_STATE},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(void)
{
	printf(
	    "usage: ds-stun [-4|-6] [-p PORT] [--csv] [--no-header] [--nat]\n"
	    "               [--count N] [--interval DUR] SERVER[:PORT]\n"
	    "\n"
	    "Ask a STUN server for this host's reflexive (public) address, per address family.\n"
	    "SERVER is an IP address, a host name, a stun: URI (RFC 7064), or a domain whose\n"
	    "_stun._udp SRV records name the servers (tried first for a name without a port).\n"
	    "\n"
	    "Options:\n"
	    "  -4, --ipv4          IPv4 only\n"
	    "  -6, --ipv6          IPv6 only\n"
	    "  -p, --port PORT     local UDP port (default %d; 0 = any free port)\n"
	    "      --state DIR     use the agent's warm socket through DIR/agent.sock\n"
	    "      --nat           RFC 5780 NAT behaviour discovery: mapping, filtering, hairpin\n"
	    "      --count N       send N Binding requests per family (default 1)\n"
	    "      --interval DUR  time between requests with --count (default 1000ms)\n"
	    "      --rto DUR       initial retransmission timeout (default 500ms; e.g. 100ms)\n"
	    "      --rc N          transmissions per request, retransmissions included (7)\n"
	    "      --rm N          wait N x RTO after the last transmission (default 16)\n"
	    "      --wait DUR      --nat: wait this long for answers that may not come (1s)\n"
	    "      --srv           look the name up through DNS SRV only\n"
	    "      --no-srv        never use DNS SRV, only A/AAAA\n"
	    "      --dns ADDR      DNS server for SRV lookups (default: /etc/resolv.conf)\n"
	    "      --csv           CSV output with a header row\n"
	    "      --no-header     CSV without the header row (for appending)\n"
	    "  -q, --quiet         no messages, only results\n"
	    "  -v, --verbose       say more on stderr\n"
	    "  -h, --help          this help\n"
	    "  -V, --version       version and compiled-in features\n"
	    "\n"
	    "DUR is a number of milliseconds or has a unit: 100ms, 2s.\n"
	    "Exit status: 0 a server answered, 1 no server answered, 2 usage error.\n",
	    DEFAULT_PORT);
}

struct opts {
	int family;
	uint16_t port;
	bool csv, header, nat;
	long long count;
	int64_t interval_ns;
	struct ds_stun_retrans retrans;
	int64_t wait_ns;
	enum ds_resolve_srv_mode srv;
	struct ds_addr dns;
	bool have_dns;
	const char *state_dir;
	const char *server;
};

/* Everything one family's run needs to print its rows. */
struct run {
	const struct opts *o;
	const char *family;
	struct ds_addr server, local;
	double *rtts, *scratch; /* scratch: sorted copies for the statistics */
	size_t n_rtt;
	long long sent, answered;
	struct ds_addr last_mapped;
	unsigned changes;
};

static const char software[] = "ds-stun " DS_VERSION;

static void parse_args(int argc, char **argv, struct opts *o)
{
	long long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->family = AF_UNSPEC;
	o->port = DEFAULT_PORT;
	o->header = true;
	o->count = 1;
	o->interval_ns = 1000 * DS_NSEC_PER_MSEC;
	ds_stun_retrans_default(&o->retrans);
	o->wait_ns = 1000 * DS_NSEC_PER_MSEC;
	o->srv = DS_RESOLVE_SRV_AUTO;

	while ((c = getopt_long(argc, argv, ":46p:qvhV", long_options, NULL)) != -1) {
		switch (c) {
		case '4':
			if (o->family == AF_INET6)
				ds_usage_error("-4 and -6 exclude each other");
			o->family = AF_INET;
			break;
		case '6':
			if (o->family == AF_INET)
				ds_usage_error("-4 and -6 exclude each other");
			o->family = AF_INET6;
			break;
		case 'p':
			if (ds_parse_port(optarg, &o->port) < 0)
				ds_usage_error("bad port '%s'", optarg);
			break;
		case OPT_CSV:
			o->csv = true;
			break;
		case OPT_NO_HEADER:
			o->csv = true;
			o->header = false;
			break;
		case OPT_NAT:
			o->nat = true;
			break;
		case OPT_COUNT:
			if (ds_parse_long(optarg, 1, 1000000, &o->count) < 0)
				ds_usage_error("bad --count '%s' (1..1000000)", optarg);
			break;
		case OPT_INTERVAL:
			if (ds_parse_duration_ns(optarg, 0, 3600 * DS_NSEC_PER_SEC,
						 &o->interval_ns) < 0)
				ds_usage_error("bad --interval '%s' (0..1h)", optarg);
			break;
		case OPT_RTO:
			if (ds_parse_duration_ns(optarg, DS_NSEC_PER_MSEC, 60 * DS_NSEC_PER_SEC,
						 &o->retrans.rto_ns) < 0)
				ds_usage_error("bad --rto '%s' (1ms..60s)", optarg);
			break;
		case OPT_RC:
			if (ds_parse_long(optarg, 1, 32, &v) < 0)
				ds_usage_error("bad --rc '%s' (1..32)", optarg);
			o->retrans.rc = (unsigned)v;
			break;
		case OPT_RM:
			if (ds_parse_long(optarg, 1, 1000, &v) < 0)
				ds_usage_error("bad --rm '%s' (1..1000)", optarg);
			o->retrans.rm = (unsigned)v;
			break;
		case OPT_WAIT:
			if (ds_parse_duration_ns(optarg, DS_NSEC_PER_MSEC, 600 * DS_NSEC_PER_SEC,
						 &o->wait_ns) < 0)
				ds_usage_error("bad --wait '%s' (1ms..10m)", optarg);
			break;
		case OPT_SRV:
			o->srv = DS_RESOLVE_SRV_ALWAYS;
			break;
		case OPT_NO_SRV:
			o->srv = DS_RESOLVE_SRV_NEVER;
			break;
		case OPT_DNS:
			if (ds_addr_parse(optarg, 53, DS_ADDR_PORT_OPTIONAL, &o->dns) < 0)
				ds_usage_error("bad --dns address '%s'", optarg);
			o->have_dns = true;
			break;
		case OPT_STATE:
			o->state_dir = optarg;
			break;
		case 'q':
			ds_msg_set_verbosity(-1);
			break;
		case 'v':
			ds_msg_set_verbosity(ds_msg_verbosity() + 1);
			break;
		case 'h':
			usage();
			exit(0);
		case 'V':
			ds_version_print(stdout, "ds-stun");
			exit(0);
		case ':':
			ds_usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt)
				ds_usage_error("unknown option '-%c'", optopt);
			ds_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind == argc)
		ds_usage_error("no SERVER given");
	if (argc - optind > 1)
		ds_usage_error("one SERVER only, got also '%s'", argv[optind + 1]);
	o->server = argv[optind];
	if (o->nat && o->count > 1)
		ds_usage_error("--nat and --count cannot be combined");
}

static void fmt_ms(struct ds_csv_rec *r, double ms)
{
	ds_csv_field_double(r, ms, 3);
}

/* One row: a Binding answer (mapped non-NULL) or a lost request (mapped NULL). */
static void print_row(struct run *run, long long seq, const struct ds_addr *mapped, int64_t rtt_ns,
		      unsigned transmissions, bool changed, const struct ds_nat_result *nat)
{
	char srv[DS_ADDR_STRLEN], loc[DS_ADDR_STRLEN], map[DS_ADDR_STRLEN], ts[DS_ISO8601_LEN];
	struct ds_stats_summary s;

	ds_addr_format(&run->server, true, srv, sizeof(srv));
	ds_addr_format(&run->local, true, loc, sizeof(loc));
	if (mapped)
		ds_addr_format(mapped, true, map, sizeof(map));
	memcpy(run->scratch, run->rtts, run->n_rtt * sizeof(double));
	ds_stats_summarize(run->scratch, run->n_rtt, &s);

	if (run->o->csv) {
		char buf[2048];
		struct ds_csv_rec r;

		ds_csv_rec_init(&r, buf, sizeof(buf));
		ds_csv_field(&r, ds_time_now_iso8601(ts, sizeof(ts)));
		ds_csv_field(&r, "ds-stun");
		ds_csv_field(&r, srv);
		ds_csv_field(&r, run->family);
		ds_csv_field(&r, loc);
		ds_csv_field(&r, mapped ? map : NULL);
		fmt_ms(&r, mapped ? (double)rtt_ns / 1e6 : NAN);
		ds_csv_field_long(&r, seq);
		ds_csv_field_long(&r, transmissions);
		ds_csv_field(&r, mapped ? (changed ? "yes" : "no") : NULL);
		ds_csv_field_long(&r, run->sent);
		ds_csv_field_long(&r, run->answered);
		fmt_ms(&r, s.min);
		fmt_ms(&r, s.median);
		fmt_ms(&r, s.p95);
		fmt_ms(&r, s.max);
		if (run->o->nat) {
			char oth[DS_ADDR_STRLEN];

			ds_csv_field(&r, nat ? ds_nat_mapping_name(nat->mapping) : "unknown");
			ds_csv_field(&r, nat ? ds_nat_filtering_name(nat->filtering) : "unknown");
			ds_csv_field(&r, nat ? ds_nat_hairpin_name(nat->hairpin) : "unknown");
			ds_csv_field(&r, nat && nat->rfc5780
					     ? ds_addr_format(&nat->other, true, oth, sizeof(oth))
					     : NULL);
		}
		if (ds_csv_rec_end(&r) == 0)
			ds_csv_write_file(stdout, &r);
		fflush(stdout);
		return;
	}
	if (run->o->count > 1 && mapped)
		printf("%s %s seq %lld local %s mapped %s rtt %.3f ms%s%s\n", run->family, srv, seq,
		       loc, map, (double)rtt_ns / 1e6, transmissions > 1 ? " (retransmitted)" : "",
		       changed ? " MAPPING CHANGED" : "");
	else if (run->o->count > 1)
		printf("%s %s seq %lld no answer\n", run->family, srv, seq);
	else if (mapped)
		printf("%s %s local %s mapped %s rtt %.3f ms\n", run->family, srv, loc, map,
		       (double)rtt_ns / 1e6);
	if (nat)
		printf("%s %s mapping %s filtering %s hairpin %s\n", run->family, srv,
		       ds_nat_mapping_name(nat->mapping), ds_nat_filtering_name(nat->filtering),
		       ds_nat_hairpin_name(nat->hairpin));
	fflush(stdout);
}

static void print_summary(struct run *run)
{
	char srv[DS_ADDR_STRLEN];
	struct ds_stats_summary s;

	if (run->o->csv || run->o->count < 2)
		return;
	memcpy(run->scratch, run->rtts, run->n_rtt * sizeof(double));
	ds_stats_summarize(run->scratch, run->n_rtt, &s);
	ds_addr_format(&run->server, true, srv, sizeof(srv));
	printf("%s %s %lld sent, %lld answered, rtt min/median/p95/max %.3f/%.3f/%.3f/%.3f ms, "
	       "mapping %s\n",
	       run->family, srv, run->sent, run->answered, s.min, s.median, s.p95, s.max,
	       run->changes ? "changed" : "stable");
}

/* The agent's warm sockets, borrowed through STATE/agent.sock (ds-ctl(7)). */
struct warm {
	struct ds_ctl_client *ctl;
	struct ds_stun_redirect redirect[2]; /* IPv4, IPv6 */
};

static int warm_track(void *arg, const uint8_t tid[DS_STUN_TID_LEN])
{
	struct warm *w = arg;

	return ds_ctl_stun_register(w->ctl, tid);
}

/* The agent forwards the STUN messages of our transaction ids; hand them to the client. */
static int warm_read(void *arg, struct ds_stun_client *c)
{
	struct warm *w = arg;
	static uint8_t buf[DS_CTL_MSG_MAX];

	for (;;) {
		struct ds_ctl_msg m;
		struct ds_addr src;
		int r = ds_ctl_recv(w->ctl, &m, buf, sizeof(buf), 0), fd;

		if (r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			return r;
		if (m.type != DS_CTL_STUN)
			continue;
		src = m.stun.src;
		ds_addr_unmap_v4(&src);
		fd = ds_ctl_sockfd(w->ctl, ds_addr_family(&src));
		if (fd >= 0)
			ds_stun_client_feed(c, fd, m.stun.data, m.stun.len, &src, m.stun.rx_ns);
	}
}

/* Borrow the agent's warm sockets, or say that the path is cold (SPEC). */
static void connect_agent(const struct opts *o, struct warm *w)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	int r;

	memset(w, 0, sizeof(*w));
	if (!o->state_dir) {
		ds_verbose("no agent (no --state), binding port %u itself (cold path)", o->port);
		return;
	}
	r = ds_ctl_connect(o->state_dir, "ds-stun", 0, NULL, NULL, &w->ctl);
	if (r == -ENOENT || r == -ECONNREFUSED) {
		ds_warnx("no agent at %s, binding port %u itself (cold path)", o->state_dir,
			 o->port);
		return;
	}
	if (r < 0) {
		ds_warnc(r, "agent at %s unusable, binding port %u itself (cold path)",
			 o->state_dir, o->port);
		w->ctl = NULL;
		return;
	}
	for (int i = 0; i < 2; i++) {
		w->redirect[i].send_fd = ds_ctl_sockfd(w->ctl, fams[i]);
		w->redirect[i].poll_fd = ds_ctl_fd(w->ctl);
		w->redirect[i].arg = w;
		w->redirect[i].track = warm_track;
		w->redirect[i].read = warm_read;
	}
	ds_verbose("using the warm socket of agent %s at %s (port %u)", ds_ctl_agent_name(w->ctl),
		   o->state_dir, ds_ctl_port(w->ctl));
}

/* 0 when the family got an answer, 1 when not, -1 when the family is not usable here
 * (no server address of the family, or no route). */
static int run_family(const struct opts *o, const struct ds_resolved *res, int family,
		      struct warm *w)
{
	const struct ds_stun_redirect *rd = NULL;
	struct run run;
	int ret = -1;

	memset(&run, 0, sizeof(run));
	run.o = o;
	run.family = family == AF_INET ? "ipv4" : "ipv6";
	run.rtts = calloc((size_t)o->count, sizeof(double));
	run.scratch = calloc((size_t)o->count, sizeof(double));
	if (!run.rtts || !run.scratch)
		ds_errx(1, "out of memory");

	for (size_t i = 0; i < res->n && ret != 0; i++) {
		char srv[DS_ADDR_STRLEN];
		int fd;

		if (ds_addr_family(&res->addr[i]) != family)
			continue;
		run.server = res->addr[i];
		ds_addr_format(&run.server, true, srv, sizeof(srv));
		if (w->ctl && w->redirect[family == AF_INET6].send_fd >= 0) {
			/* warm: the agent's socket, on the address the route picks */
			rd = &w->redirect[family == AF_INET6];
			fd = ds_nat_route_source(&run.server, &run.local);
			ds_addr_set_port(&run.local, ds_ctl_port(w->ctl));
			if (fd == 0)
				fd = rd->send_fd;
		} else {
			if (w->ctl)
				ds_warnx("%s: agent has no %s socket, binding port %u itself (cold "
					 "path)",
					 run.family, run.family, o->port);
			fd = ds_nat_socket_for(&run.server, o->port, &run.local);
		}
		if (fd == -ENETUNREACH || fd == -EHOSTUNREACH || fd == -EADDRNOTAVAIL ||
		    fd == -EAFNOSUPPORT) {
			ds_verbose("%s: no route to %s", run.family, srv);
			continue;
		}
		if (fd == -EADDRINUSE)
			ds_errx(1, "local port %u is in use (an agent? use --state DIR, or -p 0)",
				o->port);
		if (fd < 0)
			ds_errc(1, fd, "cannot open a UDP socket for %s", srv);
		ret = 1;
		run.sent = run.answered = 0;
		run.n_rtt = 0;
		run.changes = 0;

		if (o->nat) {
			struct ds_nat_params np = {.retrans = o->retrans,
						   .silence_wait_ns = o->wait_ns,
						   .software = software,
						   .redirect = rd};
			struct ds_nat_result nr;
			int r = ds_nat_discover(fd, &run.local, &run.server, &np, &nr);

			run.sent = 1;
			if (r == 0) {
				run.answered = 1;
				run.rtts[run.n_rtt++] = (double)nr.rtt_ns / 1e6;
				print_row(&run, 1, &nr.mapped, nr.rtt_ns, nr.transmissions, false,
					  &nr);
				ds_verbose("%s: %u round trips, %u requests, %.3f s%s%s",
					   run.family, nr.rounds, nr.requests,
					   (double)nr.elapsed_ns / 1e9, nr.note ? "; " : "",
					   nr.note ? nr.note : "");
				ret = 0;
			} else {
				ds_warnc(r, "%s: no answer from %s", run.family, srv);
			}
			if (!rd)
				close(fd);
			continue;
		}

		int64_t start = ds_clock_ns();
		for (long long seq = 1; seq <= o->count; seq++) {
			struct ds_nat_binding b;
			bool changed = false;
			int r;

			if (seq > 1)
				ds_clock_sleep_until(start + (seq - 1) * o->interval_ns);
			r = ds_nat_binding(fd, &run.server,
					   &(struct ds_nat_params){.retrans = o->retrans,
								   .software = software,
								   .redirect = rd},
					   &b);
			run.sent++;
			if (r < 0) {
				if (b.error_code)
					ds_warnx("%s: %s answered %d %s", run.family, srv,
						 b.error_code, b.reason);
				else
					ds_verbose("%s: request %lld to %s: %s", run.family, seq,
						   srv, strerror(-r));
				if (o->count > 1)
					print_row(&run, seq, NULL, 0, b.transmissions, false, NULL);
				continue;
			}
			run.answered++;
			run.rtts[run.n_rtt++] = (double)b.rtt_ns / 1e6;
			if (run.answered > 1 && !ds_addr_equal(&b.mapped, &run.last_mapped)) {
				changed = true;
				run.changes++;
			}
			run.last_mapped = b.mapped;
			print_row(&run, seq, &b.mapped, b.rtt_ns, b.transmissions, changed, NULL);
		}
		if (!rd)
			close(fd);
		if (run.answered) {
			print_summary(&run);
			ret = 0;
		} else {
			ds_warnx("%s: no answer from %s", run.family, srv);
		}
	}
	free(run.rtts);
	free(run.scratch);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct ds_resolved res;
	struct ds_resolve_opts ro;
	struct warm warm;
	const char *why = NULL;
	int r, answered = 0, usable = 0;
	static const int families[2] = {AF_INET, AF_INET6};

	ds_msg_init(argv[0]);
	parse_args(argc, argv, &o);

	memset(&ro, 0, sizeof(ro));
	ro.default_port = STUN_PORT;
	ro.family = o.family;
	ro.srv = o.srv;
	ro.dns = o.have_dns ? &o.dns : NULL;
	r = ds_resolve_server(o.server, &ro, &res, &why);
	if (r == -EINVAL)
		ds_usage_error("bad server '%s': %s", o.server, why ? why : "not understood");
	if (res.tls)
		ds_usage_error("bad server '%s': stuns: (STUN over TLS) is not supported",
			       o.server);
	if (r < 0)
		ds_errx(1, "cannot resolve '%s'%s: %s", o.server,
			o.family == AF_INET    ? " (IPv4)"
			: o.family == AF_INET6 ? " (IPv6)"
					       : "",
			r == -EAGAIN ? "DNS did not answer" : "no such name or no address");
	if (res.via_srv)
		ds_verbose("%s: %zu address(es) from _stun._udp SRV", res.host, res.n);

	connect_agent(&o, &warm);
	if (o.csv && o.header)
		ds_csv_header(stdout, o.nat ? CSV_COLUMNS CSV_NAT_COLUMNS : CSV_COLUMNS);

	for (int i = 0; i < 2; i++) {
		if (o.family != AF_UNSPEC && o.family != families[i])
			continue;
		r = run_family(&o, &res, families[i], &warm);
		answered += r == 0;
		usable += r >= 0;
	}
	ds_ctl_close(warm.ctl);
	if (!answered) {
		if (!usable)
			ds_errx(1, "no route to any address of '%s'", o.server);
		ds_errx(1, "no answer from '%s'", o.server);
	}
	return 0;
}
