// SPDX-License-Identifier: MIT
/* ds-agent: the long-running agent that owns the warm UDP port (ds-agent(1)). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "agentstate.h"
#include "clock.h"
#include "ctl.h"
#include "key.h"
#include "loop.h"
#include "msg.h"
#include "num.h"
#include "peers.h"
#include "udp.h"
#include "version.h"
#include "wire.h"

static const char help[] =
	"usage: ds-agent -k KEYFILE -n NAME --peers FILE --state DIR [options]\n"
	"       ds-agent --status --state DIR\n"
	"\n"
	"Own the warm UDP port, answer authenticated probes from peers, keep paths and NAT\n"
	"pinholes warm, publish candidates, lend the port to other tools through\n"
	"DIR/agent.sock. Runs in the foreground until SIGTERM.\n"
	"\n"
	"  -k, --key FILE          private key (ds-key genkey), not group/other readable\n"
	"  -n, --name NAME         this agent's name, as in the peers file\n"
	"      --peers FILE        peers file: CSV name,pubkey[,endpoint]\n"
	"      --state DIR         state directory (control socket, paths, audit, status)\n"
	"  -p, --port PORT         warm UDP port (default 41878; 0 = any free port)\n"
	"      --stun SERVER       STUN server addr[:port] (port 3478); repeat per family\n"
	"      --turn SERVER       TURN server addr[:port] (port 3478): hold a relay\n"
	"                          allocation, used only for peers no direct path reaches;\n"
	"                          repeat for the other family\n"
	"      --turn-user USER    TURN long-term credential user name\n"
	"      --turn-pass PASS    TURN long-term credential password\n"
	"      --turn-secret SECRET  TURN REST shared secret (instead of user/pass)\n"
	"      --turn-lifetime SECONDS  allocation lifetime to ask for (default: the\n"
	"                          server's, 600 s); refreshed a minute (or half) before\n"
	"      --rendezvous DIR    candidate exchange directory (default DIR/rendezvous)\n"
	"      --mesh on|off       answer probes (on) or refuse them (off); also the flag\n"
	"                          files DIR/mesh-off (this agent) and RDV/mesh-off (fleet)\n"
	"      --rate-limit PPS    packets per second accepted per source (default 2000;\n"
	"                          0 = no limit)\n"
	"      --status            print the running agent's status (peers, paths, drops)\n"
	"  -4, -6                  IPv4 or IPv6 only (default: both)\n"
	"  -q, --quiet             only errors\n"
	"  -v, --verbose           more detail on stderr\n"
	"  -h, --help              this help\n"
	"  -V, --version           version and features\n";

enum {
	OPT_PEERS = 256,
	OPT_STATE,
	OPT_STUN,
	OPT_TURN,
	OPT_TURN_USER,
	OPT_TURN_PASS,
	OPT_TURN_SECRET,
	OPT_TURN_LIFETIME,
	OPT_RDV,
	OPT_MESH,
	OPT_STATUS,
	OPT_RATE,
};

static const struct option long_opts[] = {
	{ "key", required_argument, NULL, 'k' },
	{ "name", required_argument, NULL, 'n' },
	{ "peers", required_argument, NULL, OPT_PEERS },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "port", required_argument, NULL, 'p' },
	{ "stun", required_argument, NULL, OPT_STUN },
	{ "turn", required_argument, NULL, OPT_TURN },
	{ "turn-user", required_argument, NULL, OPT_TURN_USER },
	{ "turn-pass", required_argument, NULL, OPT_TURN_PASS },
	{ "turn-secret", required_argument, NULL, OPT_TURN_SECRET },
	{ "turn-lifetime", required_argument, NULL, OPT_TURN_LIFETIME },
	{ "rendezvous", required_argument, NULL, OPT_RDV },
	{ "mesh", required_argument, NULL, OPT_MESH },
	{ "rate-limit", required_argument, NULL, OPT_RATE },
	{ "status", no_argument, NULL, OPT_STATUS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void on_signal(struct ds_loop *l, int signo, void *arg)
{
	(void)arg;
	if (signo == SIGTERM || signo == SIGINT)
		ds_loop_stop(l);
}

/* Ask the running agent to write its status file, then print it. */
static int show_status(const char *state)
{
	struct ds_ctl_client *c;
	char path[4096], line[1024];
	FILE *f;
	int err, rc = DS_EXIT_OK;

	err = ds_ctl_connect(state, "ds-agent", 0, NULL, NULL, &c);
	if (!err) {
		err = ds_ctl_status(c);
		ds_ctl_close(c);
	}
	if (err) {
		ds_warnc(err, "no running agent on %s/%s; last status written by it", state,
			 DS_CTL_SOCK_NAME);
		rc = DS_EXIT_FAILURE;
	}
	snprintf(path, sizeof(path), "%s/status", state);
	f = fopen(path, "r");
	if (!f) {
		ds_warnc(errno, "cannot read %s", path);
		return DS_EXIT_FAILURE;
	}
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
	return rc;
}

static int make_dir(const char *dir, mode_t mode)
{
	struct stat st;

	if (mkdir(dir, mode) == 0 || errno == EEXIST)
		return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	return -errno;
}

int main(int argc, char **argv)
{
	struct ds_agent_config cfg = { 0 };
	const char *key = NULL, *name = NULL, *peers_path = NULL, *state = NULL, *rdv = NULL;
	const char *turn = NULL, *turn_user = NULL, *turn_pass = NULL, *turn_secret = NULL;
	char rdv_buf[4096], err[512];
	struct ds_peers *peers = NULL;
	struct ds_agent *agent = NULL;
	struct ds_loop *loop = NULL;
	bool status = false;
	int fam = 0, verbosity = 0, opt, ret, rc = DS_EXIT_FAILURE;
	int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	long long ll;
	mode_t mode;

	ds_msg_init(argv[0]);
	cfg.port = DS_WIRE_DEFAULT_PORT;
	cfg.rate_pps = 2000;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":k:n:p:46qvhV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			key = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case OPT_PEERS:
			peers_path = optarg;
			break;
		case OPT_STATE:
			state = optarg;
			break;
		case 'p':
			if (ds_parse_port(optarg, &cfg.port) != 0)
				ds_usage_error("bad port '%s'", optarg);
			break;
		case OPT_STUN:
			if (cfg.nstun == DS_AGENT_MAX_STUN)
				ds_usage_error("at most %d --stun servers", DS_AGENT_MAX_STUN);
			if (ds_addr_parse(optarg, 3478, DS_ADDR_PORT_OPTIONAL,
					  &cfg.stun[cfg.nstun]) != 0 ||
			    ds_addr_is_any(&cfg.stun[cfg.nstun]) ||
			    ds_addr_port(&cfg.stun[cfg.nstun]) == 0)
				ds_usage_error("bad STUN server '%s' (want a numeric addr[:port])",
					       optarg);
			cfg.nstun++;
			break;
		case OPT_TURN:
			if (cfg.nturn == 2)
				ds_usage_error("at most 2 --turn servers (one per family)");
			turn = optarg;
			if (ds_addr_parse(turn, 3478, DS_ADDR_PORT_OPTIONAL,
					  &cfg.turn[cfg.nturn]) != 0 ||
			    ds_addr_is_any(&cfg.turn[cfg.nturn]) ||
			    ds_addr_port(&cfg.turn[cfg.nturn]) == 0)
				ds_usage_error("bad TURN server '%s' (want a numeric addr[:port])",
					       turn);
			if (cfg.nturn == 1 && ds_addr_family(&cfg.turn[0]) ==
						  ds_addr_family(&cfg.turn[1]))
				ds_usage_error("TURN server '%s': one --turn per address family",
					       turn);
			cfg.nturn++;
			break;
		case OPT_TURN_USER:
			turn_user = optarg;
			break;
		case OPT_TURN_PASS:
			turn_pass = optarg;
			break;
		case OPT_TURN_SECRET:
			turn_secret = optarg;
			break;
		case OPT_TURN_LIFETIME:
			if (ds_parse_long(optarg, 1, 86400, &ll) != 0)
				ds_usage_error("bad --turn-lifetime '%s' (seconds, 1..86400)",
					       optarg);
			cfg.turn_lifetime_s = (uint32_t)ll;
			break;
		case OPT_RDV:
			rdv = optarg;
			break;
		case OPT_MESH:
			if (strcmp(optarg, "on") == 0)
				cfg.mesh_off = false;
			else if (strcmp(optarg, "off") == 0)
				cfg.mesh_off = true;
			else
				ds_usage_error("bad --mesh '%s' (want on or off)", optarg);
			break;
		case OPT_RATE:
			if (ds_parse_long(optarg, 0, 100000000, &ll) != 0)
				ds_usage_error("bad --rate-limit '%s' (packets/s, 0 = none)",
					       optarg);
			cfg.rate_pps = (double)ll;
			break;
		case OPT_STATUS:
			status = true;
			break;
		case '4':
			fam = fam == DS_UDP_IPV6 ? -1 : DS_UDP_IPV4;
			break;
		case '6':
			fam = fam == DS_UDP_IPV4 ? -1 : DS_UDP_IPV6;
			break;
		case 'q':
			verbosity = -1;
			break;
		case 'v':
			verbosity++;
			break;
		case 'h':
			fputs(help, stdout);
			return DS_EXIT_OK;
		case 'V':
			ds_version_print(stdout, "ds-agent");
			return DS_EXIT_OK;
		case ':':
			ds_usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			ds_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	ds_msg_set_verbosity(verbosity);
	if (optind < argc)
		ds_usage_error("unexpected argument '%s'", argv[optind]);
	if (fam < 0)
		ds_usage_error("-4 and -6 exclude each other");
	if (!state)
		ds_usage_error("--state DIR is required");
	if (status)
		return show_status(state);
	if (!key)
		ds_usage_error("-k KEYFILE is required");
	if (!name)
		ds_usage_error("-n NAME is required");
	if (!ds_peers_name_ok(name))
		ds_usage_error("bad name '%s' (1..63 characters of A-Z a-z 0-9 . _ -)", name);
	if (!peers_path)
		ds_usage_error("--peers FILE is required");
	for (size_t i = 0; i < cfg.nturn; i++)
		if ((fam == DS_UDP_IPV4 && ds_addr_family(&cfg.turn[i]) != AF_INET) ||
		    (fam == DS_UDP_IPV6 && ds_addr_family(&cfg.turn[i]) != AF_INET6))
			ds_usage_error("TURN server of a family the agent does not use (-4/-6)");
	if ((turn_user || turn_pass || turn_secret || cfg.turn_lifetime_s) && !turn)
		ds_usage_error("TURN credentials given without --turn SERVER");
	if (turn) {
		if (turn_secret && (turn_user || turn_pass))
			ds_usage_error("--turn-secret excludes --turn-user/--turn-pass");
		if (!turn_secret && (!turn_user || !turn_pass))
			ds_usage_error("--turn needs --turn-user and --turn-pass, or "
				       "--turn-secret");
	}
	cfg.families = fam;
	cfg.name = name;
	cfg.state_dir = state;

	ret = ds_key_load_private(key, cfg.priv, &mode);
	if (ret == -EPERM)
		ds_errx(DS_EXIT_FAILURE, "%s: private key readable by group or others (mode %04o); "
			"chmod 600 it", key, (unsigned)(mode & 07777));
	if (ret)
		ds_errc(DS_EXIT_FAILURE, ret, "cannot read private key %s", key);
	ret = ds_peers_load(peers_path, &peers, err, sizeof(err));
	if (ret)
		ds_errx(DS_EXIT_FAILURE, "%s", err);
	cfg.peers = peers;
	ret = make_dir(state, 0750);
	if (ret)
		ds_errc(DS_EXIT_FAILURE, ret, "state directory %s", state);
	if (!rdv) {
		snprintf(rdv_buf, sizeof(rdv_buf), "%s/rendezvous", state);
		rdv = rdv_buf;
	}
	ret = make_dir(rdv, 0755);
	if (ret)
		ds_errc(DS_EXIT_FAILURE, ret, "rendezvous directory %s", rdv);
	cfg.rdv_dir = rdv;
	cfg.turn_user = turn_user;
	cfg.turn_pass = turn_pass;
	cfg.turn_secret = turn_secret;

	signal(SIGPIPE, SIG_IGN);
	ret = ds_loop_new(&loop);
	if (ret)
		ds_errc(DS_EXIT_FAILURE, ret, "event loop");
	ret = ds_loop_signals(loop, sigs, sizeof(sigs) / sizeof(sigs[0]), on_signal, NULL);
	if (ret)
		ds_errc(DS_EXIT_FAILURE, ret, "signals");
	ret = ds_agent_new(&cfg, loop, &agent, err, sizeof(err));
	ds_key_wipe(cfg.priv, sizeof(cfg.priv));
	if (ret) {
		ds_warnc(ret, "%s", err);
		goto out;
	}
	ds_verbose("agent %s on UDP port %u, %zu peers, control socket %s/%s", name,
		   ds_agent_port(agent), ds_peers_count(peers), state, DS_CTL_SOCK_NAME);
	ret = ds_loop_run(loop);
	if (ret) {
		ds_warnc(ret, "event loop");
		goto out;
	}
	rc = DS_EXIT_OK;
out:
	ds_agent_free(agent);
	ds_loop_free(loop);
	ds_peers_free(peers);
	return rc;
}
