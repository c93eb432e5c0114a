// SPDX-License-Identifier: MIT
/*
 * ds-capture — capture a pair's traffic on the warm port with libpcap, write it as pcapng
 * for the ISP ticket, and say in plain text what happened.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "csv.h"
#include "decode.h"
#include "msg.h"
#include "num.h"
#include "pcapng.h"
#include "pkt.h"
#include "version.h"

static const char usage_text[] =
	"Usage: ds-capture [options]\n"
	"Capture the warm port's traffic (pcapng) and decode what happened, in plain text.\n"
	"\n"
	"  -i, --interface IFACE  where to capture (default any)\n"
	"  -p, --port PORT        the warm port (default 41878)\n"
	"      --peer ADDR        only traffic to and from this host\n"
	"  -4, -6                 only IPv4 / only IPv6\n"
	"  -w, --write FILE       also write the packets to FILE as pcapng\n"
	"  -r, --read FILE        decode a saved capture (pcap or pcapng) instead\n"
	"  -c, --count N          stop after N packets\n"
	"      --duration D       stop after D (e.g. 30s); otherwise at SIGINT/SIGTERM\n"
	"  -s, --snaplen BYTES    bytes kept of each packet (default 2048)\n"
	"      --user USER        user to drop to after opening the capture (default nobody)\n"
	"      --comment TEXT     comment stored in the pcapng file (ticket number...)\n"
	"      --no-packets       only the summary, no line per packet\n"
	"      --csv              one CSV row per packet (summary on stderr)\n"
	"      --no-header        CSV without the header row (to append)\n"
	"  -q, --quiet            no messages and no summary\n"
	"  -v, --verbose          more messages\n"
	"  -h, --help             this help\n"
	"  -V, --version          version and compiled-in features\n"
	"\n"
	"Capturing needs CAP_NET_RAW: run as root, or give the binary the capability with\n"
	"setcap cap_net_raw+ep (never setuid). Privileges are dropped once capture is open.\n";

static const struct option long_options[] = {
	{ "interface", required_argument, NULL, 'i' },
	{ "port", required_argument, NULL, 'p' },
	{ "peer", required_argument, NULL, 'P' },
	{ "write", required_argument, NULL, 'w' },
	{ "read", required_argument, NULL, 'r' },
	{ "count", required_argument, NULL, 'c' },
	{ "duration", required_argument, NULL, 'd' },
	{ "snaplen", required_argument, NULL, 's' },
	{ "user", required_argument, NULL, 'u' },
	{ "comment", required_argument, NULL, 'C' },
	{ "no-packets", no_argument, NULL, 'N' },
	{ "csv", no_argument, NULL, 'x' },
	{ "no-header", no_argument, NULL, 'H' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct config {
	const char *iface, *write, *read, *user, *comment;
	uint16_t port;
	struct ds_addr peer;
	int family;
	long long count;
	int64_t duration_ns;
	long long snaplen;
	int no_packets, csv, header;
};

struct state {
	const struct config *c;
	int dlt;
	struct ds_pcapng *out;
	struct ds_capsum *sum;
	long long seen;
	int write_error;
};

static volatile sig_atomic_t stop_requested;
static pcap_t *handle;

static void on_signal(int sig)
{
	stop_requested = 1;
	if (handle)
		pcap_breakloop(handle);
}

static void parse_args(int argc, char **argv, struct config *c)
{
	int ch;

	memset(c, 0, sizeof(*c));
	c->iface = "any";
	c->port = 41878;
	c->snaplen = 2048;
	c->user = "nobody";
	c->header = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":i:p:46w:r:c:s:qvhV", long_options, NULL)) != -1) {
		switch (ch) {
		case 'i': c->iface = optarg; break;
		case 'p':
			if (ds_parse_port(optarg, &c->port) < 0 || c->port == 0)
				ds_usage_error("-p wants a port 1-65535, not '%s'", optarg);
			break;
		case 'P':
			if (ds_addr_parse(optarg, 0, DS_ADDR_PORT_FORBIDDEN, &c->peer) < 0)
				ds_usage_error("--peer wants an IPv4 or IPv6 address, not '%s'", optarg);
			break;
		case '4': c->family = AF_INET; break;
		case '6': c->family = AF_INET6; break;
		case 'w': c->write = optarg; break;
		case 'r': c->read = optarg; break;
		case 'c':
			if (ds_parse_long(optarg, 1, 1LL << 40, &c->count) < 0)
				ds_usage_error("-c wants a count of packets, not '%s'", optarg);
			break;
		case 'd':
			if (ds_parse_duration_ns(optarg, DS_NSEC_PER_MSEC, 365LL * 86400 * DS_NSEC_PER_SEC,
						 &c->duration_ns) < 0)
				ds_usage_error("--duration wants a duration such as 30s, not '%s'", optarg);
			break;
		case 's':
			if (ds_parse_long(optarg, 64, 262144, &c->snaplen) < 0)
				ds_usage_error("-s wants 64-262144 bytes, not '%s'", optarg);
			break;
		case 'u': c->user = optarg; break;
		case 'C': c->comment = optarg; break;
		case 'N': c->no_packets = 1; break;
		case 'x': c->csv = 1; break;
		case 'H': c->header = 0; break;
		case 'q': ds_msg_set_verbosity(-1); break;
		case 'v': ds_msg_set_verbosity(ds_msg_verbosity() + 1); break;
		case 'h': fputs(usage_text, stdout); exit(0);
		case 'V': ds_version_print(stdout, "ds-capture"); exit(0);
		case ':': ds_usage_error("option '%s' needs a value", argv[optind - 1]);
		default: ds_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		ds_usage_error("unexpected argument '%s'", argv[optind]);
	if (c->read && (c->duration_ns || strcmp(c->iface, "any") != 0))
		ds_usage_error("--read decodes a file: no --interface or --duration with it");
	if (c->peer.len && c->family && ds_addr_family(&c->peer) != c->family)
		ds_usage_error("--peer is not an %s address", c->family == AF_INET ? "IPv4" : "IPv6");
}

/* Open first, then give up root and every capability: whatever parses packets from the
 * network from here on runs without privilege. The drop is checked, not assumed. */
static void drop_privileges(const char *user)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (geteuid() == 0 || getuid() == 0) {
		struct passwd *pw = getpwnam(user);

		if (!pw)
			ds_errx(DS_EXIT_FAILURE, "no user '%s' to drop privileges to (--user)", user);
		if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
			ds_errc(DS_EXIT_FAILURE, errno, "cannot drop privileges to '%s'", user);
		if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
			ds_errx(DS_EXIT_FAILURE, "privileges were not dropped: could regain root");
	}
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		ds_errc(DS_EXIT_FAILURE, errno, "cannot clear capabilities");
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static void build_filter(const struct config *c, char *buf, size_t len)
{
	char host[DS_ADDR_STRLEN];
	const char *ip = c->family == AF_INET ? "ip and " : c->family == AF_INET6 ? "ip6 and " : "";

	/* ICMP errors quote our datagrams: keep them too (they say why nothing came back). */
	if (c->peer.len)
		snprintf(buf, len, "%shost %s and (udp port %u or icmp or icmp6)", ip,
			 ds_addr_format(&c->peer, false, host, sizeof(host)), c->port);
	else
		snprintf(buf, len, "%s(udp port %u or icmp or icmp6)", ip, c->port);
}

static void print_csv_header(void)
{
	ds_csv_header(stdout, "ts,tool,src,dst,bytes,kind,run_id,detail");
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct state *st = (struct state *)user;
	const struct config *c = st->c;
	int64_t ts = (int64_t)h->ts.tv_sec * DS_NSEC_PER_SEC + (int64_t)h->ts.tv_usec * 1000;
	struct ds_pkt pkt;
	struct ds_decoded d;
	char src[DS_ADDR_STRLEN], dst[DS_ADDR_STRLEN];

	if (st->out && ds_pcapng_write(st->out, ts, bytes, h->caplen, h->len) < 0)
		st->write_error = 1;
	if (ds_pkt_parse(st->dlt, bytes, h->caplen, &pkt) < 0)
		return;
	if (pkt.proto == DS_PKT_ICMP_OTHER || pkt.proto == DS_PKT_OTHER)
		return; /* neighbour discovery, pings: not about the warm port */
	if (pkt.proto == DS_PKT_ICMP_ERROR && pkt.inner_src.len &&
	    ds_addr_port(&pkt.inner_src) != c->port && ds_addr_port(&pkt.inner_dst) != c->port)
		return; /* an ICMP error about somebody else's datagram */
	ds_decode_packet(&pkt, &d);
	ds_capsum_add(st->sum, ts, &pkt, &d);
	st->seen++;
	ds_addr_format(&pkt.src, pkt.proto == DS_PKT_UDP, src, sizeof(src));
	ds_addr_format(&pkt.dst, pkt.proto == DS_PKT_UDP, dst, sizeof(dst));
	if (c->csv) {
		char line[1024], tsbuf[DS_ISO8601_LEN];
		struct ds_csv_rec rec;

		ds_csv_rec_init(&rec, line, sizeof(line));
		ds_csv_field(&rec, ds_time_iso8601(tsbuf, sizeof(tsbuf), ts));
		ds_csv_field(&rec, "ds-capture");
		ds_csv_field(&rec, src);
		ds_csv_field(&rec, dst);
		ds_csv_field_long(&rec, (long long)(pkt.udp_len ? pkt.udp_len - 8 : 0));
		ds_csv_field(&rec, d.name);
		if (d.session)
			ds_csv_fieldf(&rec, "%08x", d.run_id);
		else
			ds_csv_field(&rec, NULL);
		ds_csv_field(&rec, d.detail);
		if (ds_csv_rec_end(&rec) == 0)
			ds_csv_write_file(stdout, &rec);
	} else if (!c->no_packets) {
		time_t sec = h->ts.tv_sec;
		struct tm tm;

		gmtime_r(&sec, &tm);
		printf("%02d:%02d:%02d.%06ld %s -> %s %s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		       (long)h->ts.tv_usec, src, dst, d.name, d.detail);
	}
	if (c->count && st->seen >= c->count)
		pcap_breakloop(handle);
}

static pcap_t *open_live(const struct config *c)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_create(c->iface, err);
	int r;

	if (!p)
		ds_errx(DS_EXIT_FAILURE, "cannot capture on '%s': %s", c->iface, err);
	pcap_set_snaplen(p, (int)c->snaplen);
	pcap_set_promisc(p, 0);
	pcap_set_timeout(p, 100);
	pcap_set_immediate_mode(p, 1);
	pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO);
	r = pcap_activate(p);
	if (r < 0) {
		if (r == PCAP_ERROR_PERM_DENIED)
			ds_errx(DS_EXIT_FAILURE, "capturing on '%s' needs CAP_NET_RAW (run as root or "
				"setcap cap_net_raw+ep ds-capture)", c->iface);
		ds_errx(DS_EXIT_FAILURE, "cannot capture on '%s': %s", c->iface, pcap_geterr(p));
	}
	return p;
}

int main(int argc, char **argv)
{
	struct config c;
	struct state st = { 0 };
	struct bpf_program prog;
	char filter[256], err[PCAP_ERRBUF_SIZE];
	FILE *wf = NULL;
	int64_t deadline = 0;
	int rc = 0;

	ds_msg_init(argv[0]);
	parse_args(argc, argv, &c);
	st.c = &c;
	if (c.read) {
		handle = pcap_open_offline(c.read, err);
		if (!handle)
			ds_errx(DS_EXIT_FAILURE, "cannot read capture '%s': %s", c.read, err);
	} else {
		handle = open_live(&c);
	}
	build_filter(&c, filter, sizeof(filter));
	if (pcap_compile(handle, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
	    pcap_setfilter(handle, &prog) < 0)
		ds_errx(DS_EXIT_FAILURE, "capture filter '%s': %s", filter, pcap_geterr(handle));
	pcap_freecode(&prog);
	if (c.write && !(wf = fopen(c.write, "wbx"))) {
		if (errno == EEXIST)
			ds_errx(DS_EXIT_FAILURE, "'%s' exists: not overwriting a capture", c.write);
		ds_errc(DS_EXIT_FAILURE, errno, "cannot create '%s'", c.write);
	}
	if (!c.read || geteuid() == 0)
		drop_privileges(c.user);

	st.dlt = pcap_datalink(handle);
	if (wf && ds_pcapng_new(wf, st.dlt, (uint32_t)c.snaplen, c.read ? NULL : c.iface,
				c.comment, &st.out) < 0)
		ds_errx(DS_EXIT_FAILURE, "cannot write '%s'", c.write);
	if (ds_capsum_new(c.port, &st.sum) < 0)
		ds_errx(DS_EXIT_FAILURE, "out of memory");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (c.csv && c.header)
		print_csv_header();
	if (c.duration_ns)
		deadline = ds_clock_ns() + c.duration_ns;
	if (!c.read)
		ds_verbose("capturing on %s with filter '%s'", c.iface, filter);
	if (!c.read && pcap_setnonblock(handle, 1, err) < 0)
		ds_errx(DS_EXIT_FAILURE, "capture: %s", err);
	while (!stop_requested) {
		int n;

		/* Wait ourselves, so --duration and signals end the capture on time even
		 * when nothing arrives. */
		if (!c.read) {
			struct pollfd pfd = { .fd = pcap_get_selectable_fd(handle), .events = POLLIN };

			if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
				break;
		}
		n = pcap_dispatch(handle, -1, on_packet, (u_char *)&st);

		if (n == PCAP_ERROR) {
			ds_warnx("capture failed: %s", pcap_geterr(handle));
			rc = DS_EXIT_FAILURE;
			break;
		}
		if (n == PCAP_ERROR_BREAK || (c.read && n == 0))
			break;
		if ((c.count && st.seen >= c.count) || (deadline && ds_clock_ns() >= deadline))
			break;
		fflush(stdout);
		if (st.out)
			ds_pcapng_flush(st.out);
	}
	fflush(stdout);
	if (ds_pcapng_free(st.out) < 0 || st.write_error || (wf && fclose(wf) != 0)) {
		ds_warnx("writing '%s' failed: the capture file is incomplete", c.write);
		rc = DS_EXIT_FAILURE;
	}
	if (ds_msg_verbosity() >= 0) {
		size_t need = ds_capsum_format(st.sum, NULL, 0);
		char *text = malloc(need + 1);

		if (text) {
			ds_capsum_format(st.sum, text, need + 1);
			fputs(text, c.csv ? stderr : stdout);
			free(text);
		}
	}
	ds_capsum_free(st.sum);
	pcap_close(handle);
	return rc;
}
