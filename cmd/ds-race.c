// SPDX-License-Identifier: MIT
/*
 * ds-race — race every candidate path to a peer through the agent's warm port: the
 * cheapest first, the rest a stagger apart; the first authenticated answer wins, the others
 * are cancelled, and the winner becomes the agent's path to the peer. The engine is
 * libds/race.
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

static const char usage_text[] =
    "Usage: ds-race --state DIR [options] PEER\n"
    "Race every candidate path to PEER through the agent's warm port, the cheapest first;\n"
    "the first authenticated answer wins and becomes the agent's path to PEER.\n"
    "\n"
    "      --state DIR        the agent's state directory (DIR/agent.sock); required\n"
    "      --stagger D        between the starts of two candidates, at least 10ms\n"
    "                         (default 50ms)\n"
    "  -w, --timeout D        give a candidate D to answer (default 2s)\n"
    "      --sequential       one candidate at a time, the next when it timed out\n"
    "      --no-use           report only: leave the agent's path as it is\n"
    "  -4, --ipv4             race IPv4 candidates only\n"
    "  -6, --ipv6             race IPv6 candidates only\n"
    "      --csv              CSV with a header row: a row per candidate, then the winner\n"
    "      --no-header        CSV without the header row (to append)\n"
    "  -q, --quiet            no messages, only results\n"
    "  -v, --verbose          more messages\n"
    "  -h, --help             this help\n"
    "  -V, --version          version and compiled-in features\n"
    "\n"
    "Exit status: 0 when a candidate answered, 1 when none did (or no agent), 2 on a usage\n"
    "error.\n";

enum {
	OPT_STATE = 256,
	OPT_STAGGER,
	OPT_SEQUENTIAL,
	OPT_NO_USE,
	OPT_CSV,
	OPT_NO_HEADER,
};

static const struct option long_options[] = {
    {"state", required_argument, NULL, OPT_STATE},
    {"stagger", required_argument, NULL, OPT_STAGGER},
    {"timeout", required_argument, NULL, 'w'},
    {"sequential", no_argument, NULL, OPT_SEQUENTIAL},
    {"no-use", no_argument, NULL, OPT_NO_USE},
    {"ipv4", no_argument, NULL, '4'},
    {"ipv6", no_argument, NULL, '6'},
    {"csv", no_argument, NULL, OPT_CSV},
    {"no-header", no_argument, NULL, OPT_NO_HEADER},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static const char csv_columns[] =
    "ts,tool,run_id,src,dst,path,remote,time_to_path_ms,outcome,row,candidate,kind,family,"
    "started_ms,answered_ms,rtt_ms,sends,bytes";

struct config {
	const char *state_dir;
	const char *peer;
	struct ds_race_opts race;
	bool no_use, only4, only6, csv, header;
};

static void parse_args(int argc, char **argv, struct config *c)
{
	int ch;

	memset(c, 0, sizeof(*c));
	ds_race_opts_default(&c->race);
	c->header = true;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":w:46qvhV", long_options, NULL)) != -1) {
		switch (ch) {
		case OPT_STATE:
			c->state_dir = optarg;
			break;
		case OPT_STAGGER:
			c->race.stagger_ns = ds_opt_duration_ns("--stagger", optarg,
								DS_RACE_STAGGER_MIN_NS,
								10 * DS_NSEC_PER_SEC);
			break;
		case 'w':
			c->race.timeout_ns = ds_opt_duration_ns("--timeout", optarg,
								10 * DS_NSEC_PER_MSEC,
								60 * DS_NSEC_PER_SEC);
			break;
		case OPT_SEQUENTIAL:
			c->race.sequential = true;
			break;
		case OPT_NO_USE:
			c->no_use = true;
			break;
		case '4':
			c->only4 = true;
			break;
		case '6':
			c->only6 = true;
			break;
		case OPT_CSV:
			c->csv = true;
			break;
		case OPT_NO_HEADER:
			c->csv = true;
			c->header = false;
			break;
		default:
			ds_opt_common(ch, argv, usage_text, "ds-race");
		}
	}
	c->peer = ds_opt_peer(argc, argv);
	if (!c->state_dir)
		ds_usage_error("--state DIR is required (ds-race races through the agent)");
	if (c->only4 && c->only6)
		ds_usage_error("-4 and -6 exclude each other");
}

static double ms_since(int64_t t, int64_t t0)
{
	return (double)(t - t0) / DS_NSEC_PER_MSEC;
}

static int print_row(const char *src, const struct config *c, uint32_t run_id, const char *path,
		     const struct ds_race_cand *x, int64_t t0, const char *outcome, const char *row,
		     uint64_t bytes)
{
	struct ds_csv_rec r;
	char ts[DS_ISO8601_LEN], a[DS_ADDR_STRLEN], buf[1024];

	ds_csv_rec_init(&r, buf, sizeof(buf));
	ds_csv_field(&r, ds_time_now_iso8601(ts, sizeof(ts)));
	ds_csv_field(&r, "ds-race");
	ds_csv_fieldf(&r, "%08x", run_id);
	ds_csv_field(&r, src);
	ds_csv_field(&r, c->peer);
	ds_csv_field(&r, path);
	ds_csv_field(&r, x && x->answered_ns ? ds_addr_format(&x->remote, true, a, sizeof(a)) : "");
	if (x && x->answered_ns)
		ds_csv_field_double(&r, ms_since(x->answered_ns, t0), 3);
	else
		ds_csv_field(&r, "");
	ds_csv_field(&r, outcome);
	ds_csv_field(&r, row);
	ds_csv_field(&r, x ? ds_addr_format(&x->addr, true, a, sizeof(a)) : "");
	ds_csv_field(&r, x ? ds_race_kind_str(x->kind) : "");
	ds_csv_field(&r, x ? (ds_addr_family(&x->addr) == AF_INET6 ? "ipv6" : "ipv4") : "");
	if (x && x->started_ns)
		ds_csv_field_double(&r, ms_since(x->started_ns, t0), 3);
	else
		ds_csv_field(&r, "");
	if (x && x->answered_ns) {
		ds_csv_field_double(&r, ms_since(x->answered_ns, t0), 3);
		ds_csv_field_double(&r, x->rtt_ms, 3);
	} else {
		ds_csv_field(&r, "");
		ds_csv_field(&r, "");
	}
	ds_csv_field_long(&r, x ? (long long)x->sends : 0);
	if (bytes != UINT64_MAX)
		ds_csv_field_long(&r, (long long)bytes);
	else
		ds_csv_field(&r, "");
	if (ds_csv_rec_end(&r) < 0)
		return -ENOSPC;
	return ds_csv_write_file(stdout, &r);
}

static void print_human(const struct ds_race_cand *x, size_t n, int64_t t0, size_t w,
			const char *path)
{
	char a[DS_ADDR_STRLEN], b[DS_ADDR_STRLEN];

	for (size_t i = 0; i < n; i++) {
		printf("%-9s %-8s %-46s", ds_race_outcome_str(x[i].outcome), x[i].label,
		       ds_addr_format(&x[i].addr, true, a, sizeof(a)));
		if (x[i].started_ns)
			printf(" start %7.1f ms", ms_since(x[i].started_ns, t0));
		if (x[i].answered_ns)
			printf("  answer %7.1f ms  rtt %.3f ms", ms_since(x[i].answered_ns, t0),
			       x[i].rtt_ms);
		putchar('\n');
	}
	if (w < n)
		printf("path %s %s in %.1f ms\n", path,
		       ds_addr_format(&x[w].remote, true, b, sizeof(b)),
		       ms_since(x[w].answered_ns, t0));
	else
		printf("no path: no candidate answered\n");
}

int main(int argc, char **argv)
{
	struct config c;
	struct ds_ctl_client *cl = NULL;
	struct ds_ctl_msg info;
	struct ds_race_cand cand[DS_RACE_MAX];
	char src[DS_CTL_NAME_MAX + 1];
	const char *path = "";
	uint32_t run_id = ds_ctl_run_id_random();
	uint64_t bytes = 0;
	size_t n, w = SIZE_MAX;
	int64_t t0 = 0;
	int err, ret = 1;

	ds_msg_init(argv[0]);
	parse_args(argc, argv, &c);

	err = ds_ctl_connect(c.state_dir, "ds-race", run_id, "race", c.peer, &cl);
	if (err == -ENOENT || err == -ECONNREFUSED)
		ds_errx(1, "no agent at %s (ds-race races through the agent: start ds-agent --state %s)",
			c.state_dir, c.state_dir);
	if (err)
		ds_errc(1, -err, "cannot talk to the agent at %s", c.state_dir);
	snprintf(src, sizeof(src), "%s", ds_ctl_agent_name(cl));
	err = ds_ctl_peer(cl, c.peer, &info);
	if (err) {
		ds_warnx(err == -ENOENT ? "%s is not in the agent's peers file" : "%s: %s", c.peer,
			 strerror(-err));
		goto out;
	}
	n = ds_race_plan_here(&info, cl, !c.only6, !c.only4, cand);
	if (!n) {
		ds_warnx("%s has no candidate of a family this agent has (is its agent running "
			 "and publishing?)", c.peer);
		if (c.csv) {
			if (c.header)
				ds_csv_header(stdout, csv_columns);
			print_row(src, &c, run_id, "", NULL, 0, "down", "winner", 0);
		}
		goto out;
	}
	ds_verbose("run %08x: racing %zu candidates of %s", run_id, n, c.peer);
	err = ds_race_run(cl, run_id, c.peer, &c.race, cand, n, &w, &bytes, &t0);
	if (err && err != -ETIMEDOUT)
		ds_warnx("race to %s: %s", c.peer, strerror(-err));
	if (!err) {
		uint32_t fl = 0;

		path = cand[w].label;
		if (!c.no_use) {
			struct ds_addr use = cand[w].remote.len ? cand[w].remote : cand[w].addr;

			err = ds_ctl_use(cl, c.peer, &use, 0);
			if (err)
				ds_warnx("the agent did not take the path: %s", strerror(-err));
			else if (ds_ctl_peer(cl, c.peer, &info) == 0) {
				fl = info.peer_info.peer_flags;
				path = ds_ctl_path_kind(fl, &info.peer_info.path);
			}
		}
		ret = 0;
	}
	if (c.csv) {
		if (c.header)
			ds_csv_header(stdout, csv_columns);
		for (size_t i = 0; i < n; i++)
			print_row(src, &c, run_id, cand[i].label, &cand[i], t0,
				  ds_race_outcome_str(cand[i].outcome), "candidate", UINT64_MAX);
		print_row(src, &c, run_id, path, w < n ? &cand[w] : NULL, t0, w < n ? "ok" : "down",
			  "winner", bytes);
	} else {
		print_human(cand, n, t0, w, path);
	}
	fflush(stdout);
	ds_ctl_unregister(cl, run_id, bytes, w < n ? "ok" : "down");
out:
	ds_ctl_close(cl);
	return ret;
}
