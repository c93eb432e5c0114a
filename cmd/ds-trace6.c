// SPDX-License-Identifier: MIT
/*
 * ds-trace6 — traceroute (IPv6 and IPv4) along the path a pair actually uses: UDP probes
 * from the warm port to the peer's port, silent hops shown, per-hop RTT and delta, rDNS,
 * ASN and geolocation.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "csv.h"
#include "geo.h"
#include "msg.h"
#include "num.h"
#include "rdns.h"
#include "stats.h"
#include "trace.h"
#include "version.h"

#define DEFAULT_PORT 41878

static const char usage_text[] =
    "Usage: ds-trace6 [options] TARGET[:PORT]\n"
    "Traceroute along the path a pair uses: UDP from the warm port to the peer's port.\n"
    "\n"
    "  -4, -6                 only IPv4 / only IPv6 when TARGET is a name\n"
    "  -p, --port PORT        local (warm) port to probe from (default 41878; 0 = any)\n"
    "      --dport PORT       destination port when TARGET has none (default 41878)\n"
    "      --state DIR        use the agent's warm socket in DIR (falls back to a cold\n"
    "                         socket of our own when no agent is running there)\n"
    "  -f, --first-hop N      first TTL / hop limit (default 1)\n"
    "  -m, --max-hops N       last TTL / hop limit (default 30)\n"
    "      --probes N         probes per hop, 1-10 (default 1); RTT is their median\n"
    "  -w, --wait D           how long a hop may stay silent (default 900ms)\n"
    "      --inflight N       hops probed at once (default 8; 1 = one at a time)\n"
    "      --interval D       gap between two hops' probes (default 5ms)\n"
    "      --size BYTES       UDP payload size, 8-1400 (default 32)\n"
    "  -n, --no-dns           no reverse DNS\n"
    "      --resolv-conf FILE resolver configuration for reverse DNS (default /etc/resolv.conf)\n"
    "      --mmdb FILE        MaxMind DB for ASN / country / city (repeat for several)\n"
    "      --csv              CSV with a header row\n"
    "      --no-header        CSV without the header row (to append)\n"
    "  -q, --quiet            no messages, only results\n"
    "  -v, --verbose          more messages\n"
    "  -h, --help             this help\n"
    "  -V, --version          version and compiled-in features\n"
    "\n"
    "Exit status: 0 when any hop or the destination answered, 1 when nothing did,\n"
    "2 on a usage error.\n";

static const struct option long_options[] = {
    {"port", required_argument, NULL, 'p'},     {"dport", required_argument, NULL, 'D'},
    {"state", required_argument, NULL, 'S'},    {"first-hop", required_argument, NULL, 'f'},
    {"max-hops", required_argument, NULL, 'm'}, {"probes", required_argument, NULL, 'P'},
    {"wait", required_argument, NULL, 'w'},     {"inflight", required_argument, NULL, 'I'},
    {"interval", required_argument, NULL, 'i'}, {"size", required_argument, NULL, 's'},
    {"no-dns", no_argument, NULL, 'n'},         {"resolv-conf", required_argument, NULL, 'R'},
    {"mmdb", required_argument, NULL, 'M'},     {"csv", no_argument, NULL, 'c'},
    {"no-header", no_argument, NULL, 'H'},      {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},        {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},        {NULL, 0, NULL, 0},
};

struct config {
	int family;
	uint16_t local_port, dst_port;
	const char *state_dir;
	const char *target;
	struct ds_trace_opts trace;
	int no_dns;
	const char *resolv_conf;
	const char *mmdb[4];
	int nmmdb;
	int csv, header;
};

static void parse_args(int argc, char **argv, struct config *c)
{
	int ch;

	memset(c, 0, sizeof(*c));
	c->family = AF_UNSPEC;
	c->local_port = DEFAULT_PORT;
	c->dst_port = DEFAULT_PORT;
	c->header = 1;
	ds_trace_opts_default(&c->trace);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":46p:f:m:w:nqvhV", long_options, NULL)) != -1) {
		switch (ch) {
		case '4':
			c->family = AF_INET;
			break;
		case '6':
			c->family = AF_INET6;
			break;
		case 'p':
			c->local_port = ds_opt_port("-p", optarg);
			break;
		case 'D':
			c->dst_port = ds_opt_port("--dport", optarg);
			break;
		case 'S':
			c->state_dir = optarg;
			break;
		case 'f':
			c->trace.first_ttl = (int)ds_opt_long("-f", optarg, 1, 255);
			break;
		case 'm':
			c->trace.max_ttl = (int)ds_opt_long("-m", optarg, 1, 255);
			break;
		case 'P':
			c->trace.probes_per_hop =
			    (int)ds_opt_long("--probes", optarg, 1, DS_TRACE_MAX_PROBES);
			break;
		case 'w':
			c->trace.wait_ns = ds_opt_duration_ns("-w", optarg, DS_NSEC_PER_MSEC,
							      60 * DS_NSEC_PER_SEC);
			break;
		case 'I':
			c->trace.max_inflight = (int)ds_opt_long("--inflight", optarg, 1, 64);
			break;
		case 'i':
			c->trace.send_interval_ns =
			    ds_opt_duration_ns("--interval", optarg, 0, 10 * DS_NSEC_PER_SEC);
			break;
		case 's':
			c->trace.size = (int)ds_opt_long("--size", optarg, DS_TRACE_MIN_SIZE, 1400);
			break;
		case 'n':
			c->no_dns = 1;
			break;
		case 'R':
			c->resolv_conf = optarg;
			break;
		case 'M':
			if (c->nmmdb == 4)
				ds_usage_error("at most 4 --mmdb files");
			c->mmdb[c->nmmdb++] = optarg;
			break;
		case 'c':
			c->csv = 1;
			break;
		case 'H':
			c->header = 0;
			break;
		case 'q':
			ds_msg_set_verbosity(-1);
			break;
		case 'v':
			ds_msg_set_verbosity(ds_msg_verbosity() + 1);
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			ds_version_print(stdout, "ds-trace6");
			exit(0);
		case ':':
			ds_usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			ds_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		ds_usage_error(optind >= argc ? "missing TARGET" : "one TARGET only, not '%s'",
			       argv[optind + (optind < argc)]);
	c->target = argv[optind];
	if (c->trace.max_ttl < c->trace.first_ttl)
		ds_usage_error("--max-hops %d is below --first-hop %d", c->trace.max_ttl,
			       c->trace.first_ttl);
	if (c->trace.max_ttl - c->trace.first_ttl + 1 > DS_TRACE_MAX_HOPS)
		ds_usage_error("at most %d hops in one trace", DS_TRACE_MAX_HOPS);
}

/* An address literal, or a name through the system resolver. */
static int resolve_target(const struct config *c, struct ds_addr *out)
{
	struct addrinfo hints = {.ai_family = c->family, .ai_socktype = SOCK_DGRAM}, *ai;
	char host[256];
	const char *colon;
	uint16_t p = c->dst_port;

	if (ds_addr_parse(c->target, c->dst_port, 0, out) == 0) {
		if (c->family != AF_UNSPEC && ds_addr_family(out) != c->family)
			ds_usage_error("TARGET '%s' is not an %s address", c->target,
				       c->family == AF_INET ? "IPv4" : "IPv6");
		return 0;
	}
	snprintf(host, sizeof(host), "%s", c->target);
	colon = strrchr(c->target, ':');
	if (colon && !strchr(c->target, '[') && colon == strchr(c->target, ':')) {
		host[colon - c->target] = '\0';
		p = ds_opt_port("TARGET", colon + 1);
	}
	if (getaddrinfo(host, NULL, &hints, &ai) != 0)
		return -ENOENT;
	ds_addr_from_sockaddr(out, ai->ai_addr, ai->ai_addrlen);
	ds_addr_set_port(out, p);
	freeaddrinfo(ai);
	return 0;
}

static int open_socket(const struct config *c, int family, struct ds_addr *local)
{
	struct ds_addr any = {0};
	socklen_t len = sizeof(local->ss);
	int fd;

	if (c->state_dir) {
		char sock[4096];
		struct stat st;

		snprintf(sock, sizeof(sock), "%s/agent.sock", c->state_dir);
		if (stat(sock, &st) < 0)
			ds_warnx("no agent at %s: binding port %u myself (cold path)", c->state_dir,
				 c->local_port);
		else
			ds_warnx(
			    "borrowing the agent's warm socket is not built yet: binding port %u "
			    "myself (cold path)",
			    c->local_port);
	} else if (c->local_port) {
		ds_verbose("no agent (--state not given): binding port %u myself (cold path)",
			   c->local_port);
	}
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		ds_errc(DS_EXIT_FAILURE, errno, "cannot open a UDP socket");
	if (family == AF_INET) {
		any.sin.sin_family = AF_INET;
		any.len = sizeof(any.sin);
	} else {
		int on = 1;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		any.sin6.sin6_family = AF_INET6;
		any.len = sizeof(any.sin6);
	}
	ds_addr_set_port(&any, c->local_port);
	if (bind(fd, &any.sa, any.len) < 0)
		ds_errc(DS_EXIT_FAILURE, errno,
			"cannot bind UDP port %u (in use by an agent? "
			"give --state DIR, or -p 0 for any port)",
			c->local_port);
	getsockname(fd, &local->sa, &len);
	local->len = len;
	return fd;
}

static double hop_rtt(const struct ds_trace_hop *h)
{
	double v[DS_TRACE_MAX_PROBES];
	int n = h->answered < DS_TRACE_MAX_PROBES ? h->answered : DS_TRACE_MAX_PROBES;

	memcpy(v, h->rtt_ms, (size_t)n * sizeof(v[0]));
	return ds_stats_median(v, (size_t)n);
}

static void print_csv_header(void)
{
	ds_csv_header(stdout, "ts,tool,target,hop,addr,rtt_ms,delta_ms,reply,probes_sent,"
			      "probes_answered,rdns,asn,as_org,country,city");
}

int main(int argc, char **argv)
{
	struct config c;
	struct ds_addr target, local;
	struct ds_trace_result *res;
	struct ds_rdns *rdns = NULL;
	struct ds_geo *geo = NULL;
	char tbuf[DS_ADDR_STRLEN], lbuf[DS_ADDR_STRLEN], ts[DS_ISO8601_LEN];
	double prev_rtt = NAN;
	int fd, r, i, any = 0;

	ds_msg_init(argv[0]);
	parse_args(argc, argv, &c);
	if (resolve_target(&c, &target) < 0)
		ds_errx(DS_EXIT_FAILURE, "cannot resolve TARGET '%s'", c.target);
	if (c.nmmdb) {
		const char *bad = NULL;

		if ((r = ds_geo_open(c.mmdb, c.nmmdb, &geo, &bad)) < 0)
			ds_errx(DS_EXIT_FAILURE, "cannot open MaxMind DB '%s'%s", bad,
				r == -EBADMSG ? ": not a MaxMind DB file" : "");
	}
	if (!c.no_dns && ds_rdns_new(c.resolv_conf, DS_NSEC_PER_SEC, &rdns) < 0) {
		if (c.resolv_conf)
			ds_errx(DS_EXIT_FAILURE, "cannot read resolver configuration '%s'",
				c.resolv_conf);
		ds_verbose("no resolver configuration: no reverse DNS");
	}
	fd = open_socket(&c, ds_addr_family(&target), &local);
	res = calloc(1, sizeof(*res));
	if (!res)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	ds_addr_format(&target, true, tbuf, sizeof(tbuf));
	ds_addr_format(&local, true, lbuf, sizeof(lbuf));
	r = ds_trace_run(fd, &target, &c.trace, res);
	if (r < 0)
		ds_errc(DS_EXIT_FAILURE, r, "trace to %s failed", tbuf);
	if (res->unmatched)
		ds_verbose("%d answers quoted too little of the probe to match (try --inflight 1)",
			   res->unmatched);

	ds_time_now_iso8601(ts, sizeof(ts));
	if (c.csv && c.header)
		print_csv_header();
	if (!c.csv)
		printf("ds-trace6 to %s from %s, %d hops max\n", tbuf, lbuf, c.trace.max_ttl);
	for (i = 0; i < res->nhops; i++) {
		const struct ds_trace_hop *h = &res->hops[i];
		char abuf[DS_ADDR_STRLEN] = "", name[256] = "";
		struct ds_geo_info gi = {0};
		double rtt = NAN, delta = NAN;

		if (h->answered) {
			any = 1;
			ds_addr_format(&h->addr, false, abuf, sizeof(abuf));
			rtt = hop_rtt(h);
			if (!isnan(prev_rtt))
				delta = rtt - prev_rtt;
			prev_rtt = rtt;
			if (rdns)
				ds_rdns_lookup(rdns, &h->addr, name, sizeof(name));
			if (geo)
				ds_geo_lookup(geo, &h->addr, &gi);
		}
		if (c.csv) {
			char line[2048];
			struct ds_csv_rec rec;

			ds_csv_rec_init(&rec, line, sizeof(line));
			ds_csv_field(&rec, ts);
			ds_csv_field(&rec, "ds-trace6");
			ds_csv_field(&rec, tbuf);
			ds_csv_field_long(&rec, h->ttl);
			ds_csv_field(&rec, abuf);
			ds_csv_field_double(&rec, rtt, 3);
			ds_csv_field_double(&rec, delta, 3);
			ds_csv_field(&rec, ds_trace_reply_name(h->reply));
			ds_csv_field_long(&rec, h->sent);
			ds_csv_field_long(&rec, h->answered);
			ds_csv_field(&rec, name);
			if (gi.asn)
				ds_csv_field_long(&rec, gi.asn);
			else
				ds_csv_field(&rec, NULL);
			ds_csv_field(&rec, gi.as_org);
			ds_csv_field(&rec, gi.country);
			ds_csv_field(&rec, gi.city);
			if (ds_csv_rec_end(&rec) == 0)
				ds_csv_write_file(stdout, &rec);
			continue;
		}
		if (!h->answered) {
			printf("%3d  *  silent\n", h->ttl);
			continue;
		}
		printf("%3d  %s", h->ttl, abuf);
		if (name[0])
			printf(" (%s)", name);
		printf("  %.3f ms", rtt);
		if (!isnan(delta))
			printf(" %+.1f", delta);
		if (h->answered < h->sent)
			printf("  %d/%d answered", h->answered, h->sent);
		if (gi.asn)
			printf("  AS%u %s", gi.asn, gi.as_org);
		if (gi.country[0])
			printf("  %s%s%s", gi.country, gi.city[0] ? " " : "", gi.city);
		if (h->reply != DS_TRACE_TIME_EXCEEDED)
			printf("  %s", ds_trace_reply_name(h->reply));
		if (h->other_addrs)
			printf("  (route changed: %d answers from elsewhere)", h->other_addrs);
		putchar('\n');
	}
	fflush(stdout);
	ds_rdns_free(rdns);
	ds_geo_free(geo);
	free(res);
	close(fd);
	return any ? 0 : DS_EXIT_FAILURE;
}
