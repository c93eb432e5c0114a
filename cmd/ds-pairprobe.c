// SPDX-License-Identifier: MIT
/*
 * ds-pairprobe — the measurement between two agents, both directions in one run: echo RTT
 * (and its EWMA across runs), jitter, loss, one-way delay variation and packet-pair
 * bandwidth per direction, and the bytes it cost. Rides the agent's warm port through its
 * control socket; the engine is libds/probe.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
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
#include "probe.h"
#include "stats.h"
#include "version.h"

static const char usage_text[] =
    "Usage: ds-pairprobe --state DIR [options] PEER\n"
    "Measure the path to PEER both ways through the agent's warm port: RTT, jitter, loss,\n"
    "one-way delay variation and packet-pair bandwidth per direction, in a few kilobytes.\n"
    "\n"
    "      --state DIR        the agent's state directory (DIR/agent.sock); required\n"
    "  -c, --count N          echoes (default 10)\n"
    "  -i, --interval D       between echoes (default 20ms)\n"
    "  -d, --duration D       send echoes for D instead of --count (at --interval)\n"
    "  -s, --size BYTES       echo packet size, UDP payload, 88-1472 (default 88)\n"
    "      --pairs N          packet pairs per direction, 0-32 (default 5)\n"
    "      --pair-size BYTES  larger pair packet size (default 1472 IPv4, 1452 IPv6)\n"
    "      --train N          packets per direction in a train after the pairs, to see a\n"
    "                         token-bucket shaper (0-64, default 0 = none)\n"
    "      --dscp N           DSCP of every packet sent, 0-63 (default: the socket's)\n"
    "  -w, --wait D           a reply later than D is late and counts as lost (default 1s)\n"
    "      --clock-synced     the two agents' clocks agree: report absolute one-way delay\n"
    "      --raw              per-packet rows (CSV) for gnuplot instead of the summary\n"
    "      --csv              CSV with a header row\n"
    "      --no-header        CSV without the header row (to append)\n"
    "  -q, --quiet            no messages, only results\n"
    "  -v, --verbose          more messages\n"
    "  -h, --help             this help\n"
    "  -V, --version          version and compiled-in features\n"
    "\n"
    "Exit status: 0 when the peer answered, 1 when it did not (or refused, or no agent),\n"
    "2 on a usage error.\n";

enum {
	OPT_STATE = 256,
	OPT_PAIRS,
	OPT_PAIR_SIZE,
	OPT_TRAIN,
	OPT_DSCP,
	OPT_CLOCK_SYNCED,
	OPT_RAW,
	OPT_CSV,
	OPT_NO_HEADER,
};

static const struct option long_options[] = {
    {"state", required_argument, NULL, OPT_STATE},
    {"count", required_argument, NULL, 'c'},
    {"interval", required_argument, NULL, 'i'},
    {"duration", required_argument, NULL, 'd'},
    {"size", required_argument, NULL, 's'},
    {"pairs", required_argument, NULL, OPT_PAIRS},
    {"pair-size", required_argument, NULL, OPT_PAIR_SIZE},
    {"train", required_argument, NULL, OPT_TRAIN},
    {"dscp", required_argument, NULL, OPT_DSCP},
    {"wait", required_argument, NULL, 'w'},
    {"clock-synced", no_argument, NULL, OPT_CLOCK_SYNCED},
    {"raw", no_argument, NULL, OPT_RAW},
    {"csv", no_argument, NULL, OPT_CSV},
    {"no-header", no_argument, NULL, OPT_NO_HEADER},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static const char csv_columns[] =
    "ts,tool,run_id,src,dst,path,rtt_ms,rtt_min_ms,rtt_ewma_ms,jitter_ms,loss_fwd_pct,"
    "loss_rev_pct,bw_fwd_mbps,bw_rev_mbps,bytes,rtt_p95_ms,rtt_max_ms,echoes,replies,"
    "jitter_fwd_ms,jitter_rev_ms,owd_var_fwd_ms,owd_var_rev_ms,owd_var_fwd_max_ms,"
    "owd_var_rev_max_ms,owd_fwd_ms,owd_rev_ms,reorder_fwd,reorder_rev,duplicates,late,bad,"
    "bw_converged,bw_fwd_converged,bw_rev_converged,bw_fwd_lower_bound_mbps,"
    "bw_rev_lower_bound_mbps,bw_fwd_pair_mbps,bw_rev_pair_mbps,pairs_fwd,pairs_rev,"
    "dispersion_fwd_us,dispersion_rev_us,coalescing_fwd,coalescing_rev,shaper_fwd,shaper_rev,"
    "bw_fwd_train_mbps,bw_rev_train_mbps,shaper_fwd_burst_bytes,shaper_rev_burst_bytes,"
    "bytes_fwd,bytes_rev,remote";

static const char raw_columns[] =
    "ts,tool,run_id,kind,seq,size,sent_ms,recv_ms,rtt_ms,owd_fwd_ms,owd_rev_ms,gap_us,status";

struct config {
	const char *state_dir;
	const char *peer;
	struct ds_probe_opts probe;
	bool pair_size_set, count_set;
	int64_t duration_ns;
	bool raw, csv, header;
};

static void parse_args(int argc, char **argv, struct config *c)
{
	int ch;

	memset(c, 0, sizeof(*c));
	ds_probe_opts_default(&c->probe);
	c->header = true;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:i:d:s:w:qvhV", long_options, NULL)) != -1) {
		switch (ch) {
		case OPT_STATE:
			c->state_dir = optarg;
			break;
		case 'c':
			c->probe.count =
			    (uint32_t)ds_opt_long("--count", optarg, 1, DS_PROBE_MAX_COUNT);
			c->count_set = true;
			break;
		case 'i':
			c->probe.interval_ns =
			    ds_opt_duration_ns("--interval", optarg, 0, 60 * DS_NSEC_PER_SEC);
			break;
		case 'd':
			c->duration_ns = ds_opt_duration_ns("--duration", optarg, DS_NSEC_PER_MSEC,
							    24 * 3600 * DS_NSEC_PER_SEC);
			break;
		case 's':
			c->probe.size = (uint16_t)ds_opt_long("--size", optarg,
							      DS_WIRE_OVERHEAD + DS_WIRE_ECHO_LEN,
							      DS_WIRE_MAX_PACKET);
			break;
		case OPT_PAIRS:
			c->probe.pairs =
			    (uint32_t)ds_opt_long("--pairs", optarg, 0, DS_PROBE_MAX_PAIRS);
			break;
		case OPT_PAIR_SIZE:
			c->probe.pair_size = (uint16_t)ds_opt_long(
			    "--pair-size", optarg, DS_WIRE_OVERHEAD + DS_WIRE_ECHO_LEN,
			    DS_WIRE_MAX_PACKET);
			c->pair_size_set = true;
			break;
		case OPT_TRAIN:
			c->probe.train =
			    (uint32_t)ds_opt_long("--train", optarg, 0, DS_PROBE_MAX_TRAIN);
			if (c->probe.train == 1)
				ds_usage_error(
				    "--train wants 0 (none) or at least 2 packets, not '1'");
			break;
		case OPT_DSCP:
			c->probe.tos = (int)ds_opt_long("--dscp", optarg, 0, 63) << 2;
			break;
		case 'w':
			c->probe.wait_ns = ds_opt_duration_ns("--wait", optarg, DS_NSEC_PER_MSEC,
							      60 * DS_NSEC_PER_SEC);
			break;
		case OPT_CLOCK_SYNCED:
			c->probe.clock_synced = true;
			break;
		case OPT_RAW:
			c->raw = true;
			break;
		case OPT_CSV:
			c->csv = true;
			break;
		case OPT_NO_HEADER:
			c->csv = true;
			c->header = false;
			break;
		default:
			ds_opt_common(ch, argv, usage_text, "ds-pairprobe");
		}
	}
	c->peer = ds_opt_peer(argc, argv);
	if (!c->state_dir)
		ds_usage_error(
		    "--state DIR is required (ds-pairprobe rides the agent's warm port)");
	if (c->duration_ns) {
		if (c->count_set)
			ds_usage_error("--count and --duration exclude each other");
		if (c->probe.interval_ns == 0)
			ds_usage_error("--duration needs an --interval above 0");
		c->probe.count =
		    (uint32_t)((c->duration_ns + c->probe.interval_ns - 1) / c->probe.interval_ns);
		if (c->probe.count > DS_PROBE_MAX_COUNT)
			ds_usage_error("--duration / --interval gives more than %u echoes",
				       DS_PROBE_MAX_COUNT);
	}
	if (c->probe.pair_size_small > c->probe.pair_size || c->pair_size_set)
		c->probe.pair_size_small =
		    (uint16_t)(c->probe.pair_size / 2 >= DS_WIRE_OVERHEAD + DS_WIRE_ECHO_LEN
				   ? c->probe.pair_size / 2
				   : c->probe.pair_size);
}

/* The agent's label of the path (ds-ctl(7), PEER_INFO). */
static const char *path_label(const struct ds_ctl_msg *info)
{
	if (!(info->peer_info.peer_flags & DS_CTL_PEER_PATH))
		return "";
	return ds_ctl_path_kind(info->peer_info.peer_flags, &info->peer_info.path);
}

static void field_ms(struct ds_csv_rec *r, double v)
{
	if (isnan(v))
		ds_csv_field(r, "");
	else
		ds_csv_field_double(r, v, 3);
}

static void field_yesno(struct ds_csv_rec *r, int v)
{
	ds_csv_field(r, v < 0 ? "" : v ? "yes" : "no");
}

static void field_u(struct ds_csv_rec *r, double v, bool have)
{
	if (!have || isnan(v))
		ds_csv_field(r, "");
	else
		ds_csv_field_long(r, (long long)llround(v));
}

static int print_csv(const struct config *c, uint32_t run_id, const char *src, const char *path,
		     const char *remote, const struct ds_probe_result *res, double ewma)
{
	char buf[4096], ts[DS_ISO8601_LEN];
	struct ds_csv_rec r;
	bool have_fwd = res->fwd.valid_pairs > 0, have_rev = res->rev.valid_pairs > 0;

	ds_csv_rec_init(&r, buf, sizeof(buf));
	ds_csv_field(&r, ds_time_now_iso8601(ts, sizeof(ts)));
	ds_csv_field(&r, "ds-pairprobe");
	ds_csv_fieldf(&r, "%08x", run_id);
	ds_csv_field(&r, src);
	ds_csv_field(&r, c->peer);
	ds_csv_field(&r, path);
	field_ms(&r, res->rtt.median);
	field_ms(&r, res->rtt.min);
	field_ms(&r, ewma);
	field_ms(&r, res->rtt_jitter_ms);
	field_ms(&r, res->fwd.loss_pct);
	field_ms(&r, res->rev.loss_pct);
	field_ms(&r, res->fwd.bw_mbps);
	field_ms(&r, res->rev.bw_mbps);
	ds_csv_field_long(&r, (long long)(res->bytes_sent + res->bytes_peer));
	field_ms(&r, res->rtt.p95);
	field_ms(&r, res->rtt.max);
	ds_csv_field_long(&r, res->echoes_sent);
	ds_csv_field_long(&r, res->echoes_answered);
	field_ms(&r, res->fwd.jitter_ms);
	field_ms(&r, res->rev.jitter_ms);
	field_ms(&r, res->fwd.pdv_p95_ms);
	field_ms(&r, res->rev.pdv_p95_ms);
	field_ms(&r, res->fwd.pdv_max_ms);
	field_ms(&r, res->rev.pdv_max_ms);
	field_ms(&r, res->fwd.owd_ms);
	field_ms(&r, res->rev.owd_ms);
	ds_csv_field_long(&r, res->fwd.reordered);
	ds_csv_field_long(&r, res->rev.reordered);
	ds_csv_field_long(&r, res->duplicates);
	ds_csv_field_long(&r, res->late);
	ds_csv_field_long(&r, res->bad);
	field_yesno(&r, have_fwd || have_rev ? res->fwd.converged && res->rev.converged : -1);
	field_yesno(&r, have_fwd ? res->fwd.converged : -1);
	field_yesno(&r, have_rev ? res->rev.converged : -1);
	field_ms(&r, res->fwd.bw_lower_bound_mbps);
	field_ms(&r, res->rev.bw_lower_bound_mbps);
	field_ms(&r, res->fwd.bw_pair_mbps);
	field_ms(&r, res->rev.bw_pair_mbps);
	ds_csv_field_long(&r, res->fwd.valid_pairs);
	ds_csv_field_long(&r, res->rev.valid_pairs);
	field_ms(&r, res->fwd.dispersion_us);
	field_ms(&r, res->rev.dispersion_us);
	field_yesno(&r, have_fwd ? res->fwd.coalescing : -1);
	field_yesno(&r, have_rev ? res->rev.coalescing : -1);
	field_yesno(&r, res->fwd.shaper);
	field_yesno(&r, res->rev.shaper);
	field_ms(&r, res->fwd.train_tail_mbps);
	field_ms(&r, res->rev.train_tail_mbps);
	field_u(&r, res->fwd.shaper_burst_bytes, res->fwd.shaper == 1);
	field_u(&r, res->rev.shaper_burst_bytes, res->rev.shaper == 1);
	ds_csv_field_long(&r, (long long)res->bytes_sent);
	ds_csv_field_long(&r, (long long)res->bytes_peer);
	ds_csv_field(&r, remote);
	if (ds_csv_rec_end(&r) < 0)
		return -EMSGSIZE;
	if (c->header && ds_csv_header(stdout, csv_columns) < 0)
		return -EIO;
	return ds_csv_write_file(stdout, &r);
}

static int print_raw(const struct config *c, uint32_t run_id, const struct ds_probe *p)
{
	char buf[1024], ts[DS_ISO8601_LEN];
	struct ds_probe_raw row;

	if (c->header && ds_csv_header(stdout, raw_columns) < 0)
		return -EIO;
	ds_time_now_iso8601(ts, sizeof(ts));
	for (size_t i = 0; ds_probe_raw_row(p, i, &row) == 0; i++) {
		struct ds_csv_rec r;

		ds_csv_rec_init(&r, buf, sizeof(buf));
		ds_csv_field(&r, ts);
		ds_csv_field(&r, "ds-pairprobe");
		ds_csv_fieldf(&r, "%08x", run_id);
		ds_csv_field(&r, row.kind);
		ds_csv_fieldf(&r, "%u", row.seq);
		ds_csv_field_long(&r, row.size);
		field_ms(&r, row.sent_ms);
		field_ms(&r, row.recv_ms);
		field_ms(&r, row.rtt_ms);
		field_ms(&r, row.owd_fwd_ms);
		field_ms(&r, row.owd_rev_ms);
		field_ms(&r, row.gap_us);
		ds_csv_field(&r, row.status);
		if (ds_csv_rec_end(&r) < 0 || ds_csv_write_file(stdout, &r) < 0)
			return -EIO;
	}
	return 0;
}

static void print_bw(const char *dir, const struct ds_probe_dir *d)
{
	printf("%s: loss %.1f%% (%u/%u)  jitter %.3f ms  owd-var p95 %.3f ms", dir,
	       isnan(d->loss_pct) ? 0.0 : d->loss_pct, d->lost, d->sent, d->jitter_ms,
	       d->pdv_p95_ms);
	if (!isnan(d->owd_ms))
		printf("  owd %.3f ms", d->owd_ms);
	if (d->shaper == 1)
		printf("  bw %.2f Mbit/s sustained (shaper: bursts of ~%.0f bytes pass at %.2f)",
		       d->bw_mbps, d->shaper_burst_bytes, d->bw_pair_mbps);
	else if (!isnan(d->bw_mbps))
		printf("  bw %.2f Mbit/s (%d pairs%s%s)", d->bw_mbps, d->valid_pairs,
		       d->converged ? ", converged" : ", not converged",
		       d->coalescing ? ", coalescing" : "");
	else if (d->jitter_bound)
		printf("  bw withheld (the one-way delay varies more than a pair is spread)");
	else if (!isnan(d->bw_lower_bound_mbps))
		printf("  bw > %.2f Mbit/s (faster than the pairs can time)",
		       d->bw_lower_bound_mbps);
	else
		printf("  bw unknown");
	if (d->shaper == 0)
		printf("  no shaper within the train");
	else if (d->shaper < 0 && (!isnan(d->bw_mbps) || !isnan(d->bw_lower_bound_mbps)))
		printf("  shaper not tested (--train)");
	if (d->reordered)
		printf("  reordered %u", d->reordered);
	putchar('\n');
}

static void print_human(const struct config *c, uint32_t run_id, const char *src, const char *path,
			const char *remote, const struct ds_probe_result *res, double ewma)
{
	printf("%s -> %s  path %s %s  run %08x\n", src, c->peer, path[0] ? path : "?", remote,
	       run_id);
	printf("rtt min/median/p95/max %.3f/%.3f/%.3f/%.3f ms  ewma %.3f ms  jitter %.3f ms"
	       "  (%u/%u echoes)\n",
	       res->rtt.min, res->rtt.median, res->rtt.p95, res->rtt.max, ewma, res->rtt_jitter_ms,
	       res->echoes_answered, res->echoes_sent);
	print_bw("fwd", &res->fwd);
	print_bw("rev", &res->rev);
	printf("bytes %llu (sent %llu, peer %llu)",
	       (unsigned long long)(res->bytes_sent + res->bytes_peer),
	       (unsigned long long)res->bytes_sent, (unsigned long long)res->bytes_peer);
	if (res->duplicates || res->late || res->bad)
		printf("  duplicates %u late %u bad %u", res->duplicates, res->late, res->bad);
	putchar('\n');
}

/* Wait for the agent's session with the peer (a handshake after either side started). */
static int peer_ready(struct ds_ctl_client *cl, const char *peer, struct ds_ctl_msg *info)
{
	int64_t deadline = ds_clock_ns() + 5 * DS_NSEC_PER_SEC;
	int err;

	while ((err = ds_ctl_peer(cl, peer, info)) == 0 &&
	       !(info->peer_info.peer_flags & DS_CTL_PEER_ESTABLISHED) && ds_clock_ns() < deadline)
		usleep(50000);
	if (err)
		return err;
	return info->peer_info.peer_flags & DS_CTL_PEER_ESTABLISHED ? 0 : -ENOTCONN;
}

int main(int argc, char **argv)
{
	struct config c;
	struct ds_ctl_client *cl = NULL;
	struct ds_probe *p = NULL;
	struct ds_probe_result res;
	struct ds_ctl_msg info;
	char remote[DS_ADDR_STRLEN] = "", src[DS_CTL_NAME_MAX + 1];
	const char *path;
	uint32_t run_id = ds_ctl_run_id_random();
	double ewma = NAN;
	uint64_t runs = 0;
	int err, ret = 1;

	ds_msg_init(argv[0]);
	parse_args(argc, argv, &c);

	err = ds_ctl_connect(c.state_dir, "ds-pairprobe", run_id, "pairprobe", c.peer, &cl);
	if (err == -ENOENT || err == -ECONNREFUSED)
		ds_errx(1,
			"no agent at %s (ds-pairprobe rides the agent's warm port: start "
			"ds-agent --state %s)",
			c.state_dir, c.state_dir);
	if (err)
		ds_errc(1, -err, "cannot talk to the agent at %s", c.state_dir);
	snprintf(src, sizeof(src), "%s", ds_ctl_agent_name(cl));
	err = peer_ready(cl, c.peer, &info);
	if (err == -ENOENT) {
		ds_warnx("%s is not in the agent's peers file", c.peer);
		goto out;
	}
	if (err) {
		ds_warnx("no session with %s (%s)", c.peer,
			 err == -ENOTCONN
			     ? "no handshake in 5 s: is its agent running and reachable?"
			     : strerror(-err));
		goto out;
	}
	path = path_label(&info);
	if (info.peer_info.path.len)
		ds_addr_format(&info.peer_info.path, true, remote, sizeof(remote));
	if (!c.pair_size_set && ds_addr_family(&info.peer_info.path) == AF_INET6) {
		/* 1500-byte MTU: 1452 bytes of UDP payload over IPv6. */
		c.probe.pair_size = 1452;
		c.probe.pair_size_small = 1452 / 2;
	}
	c.probe.ip_overhead = ds_addr_family(&info.peer_info.path) == AF_INET6 ? 48 : 28;
	if (c.probe.size > c.probe.pair_size && ds_addr_family(&info.peer_info.path) == AF_INET6)
		ds_warnx("--size %u is above the IPv6 path's 1452 bytes: it will fragment",
			 c.probe.size);
	err = ds_probe_new(&c.probe, &p);
	if (err)
		ds_errc(1, -err, "cannot set up the run");
	ds_verbose("run %08x to %s (%s %s): %u echoes, %u pairs each way", run_id, c.peer, path,
		   remote, c.probe.count, c.probe.pairs);
	err = ds_probe_run(p, cl, run_id, c.peer);
	if (err && err != -EINTR) {
		if (err == -ECONNREFUSED)
			ds_warnx("%s refused the measurement (mesh testing is off there)", c.peer);
		else if (err == -EBUSY)
			ds_warnx("%s is busy (rate limit or too many runs); try again later",
				 c.peer);
		else
			ds_warnc(-err, "run %08x to %s", run_id, c.peer);
		ds_probe_result(p, &res);
		ds_ctl_unregister(cl, run_id, res.bytes_sent + res.bytes_peer,
				  err == -ECONNREFUSED ? "refused" : "error");
		goto out;
	}
	err = ds_probe_result(p, &res);
	if (err)
		ds_errc(1, -err, "figures");
	if (res.echoes_answered == 0 && isnan(res.fwd.loss_pct)) {
		ds_warnx("%s did not answer any of %u echoes", c.peer, res.echoes_sent);
		ds_ctl_unregister(cl, run_id, res.bytes_sent + res.bytes_peer, "down");
		goto out;
	}
	/* The EWMA of the median RTT, per peer, across runs. */
	if (!isnan(res.rtt.median)) {
		bool was_bad;

		err = ds_probe_ewma_update(c.state_dir, c.peer, res.rtt.median, &ewma, &runs,
					   &was_bad);
		if (was_bad)
			ds_warnx("EWMA state for %s unreadable, starting over", c.peer);
		if (err) {
			ds_warnc(-err, "cannot keep the EWMA state in %s", c.state_dir);
			ewma = ds_stats_ewma(NAN, res.rtt.median, DS_EWMA_ALPHA_RTT);
		}
	}
	ds_ctl_unregister(cl, run_id, res.bytes_sent + res.bytes_peer, "ok");
	if (c.raw)
		err = print_raw(&c, run_id, p);
	else if (c.csv)
		err = print_csv(&c, run_id, src, path, remote, &res, ewma);
	else
		print_human(&c, run_id, src, path, remote, &res, ewma), err = 0;
	if (err || fflush(stdout) == EOF)
		ds_errx(1, "cannot write the results");
	ret = res.echoes_answered ? 0 : 1;
out:
	ds_probe_free(p);
	ds_ctl_close(cl);
	return ret;
}
