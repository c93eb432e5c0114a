// SPDX-License-Identifier: MIT
/*
 * Test driver for libds/turn: allocate on a TURN server (long-term or REST credentials),
 * permit a peer, relay datagrams to it with Send indications, bind a channel and relay
 * with ChannelData, check each one comes back (the peer echoes), hold the allocation
 * through refreshes, release. One "key=value" line per step on stdout; exit 0 when every
 * step worked, 1 otherwise, 2 on a usage error.
 *
 *   ds-turnrelay -s SERVER (-u USER -p PASS | -S SECRET [-n NAME]) [-P PEER] [-c COUNT]
 *                [-l LIFETIME] [-H HOLD_S] [-R REFRESH_S] [-b LOCAL_PORT] [-k] [-4|-6]
 *
 * -R asks for a refresh every REFRESH_S seconds while holding (coturn never grants less than
 * 600 s, so a test cannot wait for the scheduled one). -k keeps the allocation (no release); -b
 * binds the client socket to a port (a second run from the same port then meets 437 Allocation
 * Mismatch if the first was kept).
 *
 * Built by tests/cli/test_turn.sh and tests/lab/test_turn.sh against build/libds.a.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "turn.h"

struct echo_state {
	char want[64];
	unsigned got;
	uint16_t channel_seen;
	unsigned via_indication, via_channel;
};

static void on_data(void *arg, const struct ds_turn_data *d)
{
	struct echo_state *e = arg;

	if (d->len == strlen(e->want) && !memcmp(d->data, e->want, d->len)) {
		e->got++;
		if (d->channel) {
			e->via_channel++;
			e->channel_seen = d->channel;
		} else {
			e->via_indication++;
		}
	}
}

static const char *fmt(const struct ds_addr *a, char *buf)
{
	return ds_addr_format(a, true, buf, DS_ADDR_STRLEN);
}

/* Drive until an event of type `want` (1), a failure (0) or the timeout (0). */
static int wait_event(struct ds_turn *t, int fd, enum ds_turn_event_type want, int64_t timeout_ns,
		      struct echo_state *echo, struct ds_turn_event *out)
{
	int64_t deadline = ds_clock_ns() + timeout_ns;
	struct ds_turn_event ev;
	char a[DS_ADDR_STRLEN];
	int r;

	for (;;) {
		r = ds_turn_drive(t, fd, deadline, on_data, echo);
		if (r < 0) {
			printf("error=%s\n", strerror(-r));
			return 0;
		}
		if (r == 0) {
			printf("timeout waiting state=%s\n", ds_turn_state_name(ds_turn_state(t)));
			return 0;
		}
		while (ds_turn_event(t, &ev) == 1) {
			if (ev.type == DS_TURN_EV_FAILED) {
				printf("failed method=%s error=%s code=%d reason=\"%s\" peer=%s\n",
				       ds_stun_method_name(ev.method), strerror(-ev.error), ev.code,
				       ev.reason, ev.peer.len ? fmt(&ev.peer, a) : "-");
				return 0;
			}
			if (ev.type == DS_TURN_EV_REDIRECTED)
				printf("redirected server=%s\n", fmt(&ev.peer, a));
			if (ev.type == DS_TURN_EV_REFRESHED)
				printf("refreshed lifetime=%u\n", ev.lifetime_s);
			if (ev.type == want) {
				*out = ev;
				return 1;
			}
		}
	}
}

static int echo_round(struct ds_turn *t, int fd, const struct ds_addr *peer, unsigned count,
		      const char *via, struct echo_state *echo)
{
	unsigned sent = 0, got = 0;

	for (unsigned i = 0; i < count; i++) {
		uint8_t pkt[256];
		size_t len;
		int64_t deadline;

		snprintf(echo->want, sizeof(echo->want), "ds-turnrelay %s %u", via, i);
		echo->got = 0;
		if (ds_turn_wrap(t, peer, echo->want, strlen(echo->want), pkt, sizeof(pkt), &len) <
		    0)
			break;
		if (sendto(fd, pkt, len, 0, &ds_turn_server(t)->sa, ds_turn_server(t)->len) < 0)
			break;
		sent++;
		deadline = ds_clock_ns() + 2 * DS_NSEC_PER_SEC;
		while (!echo->got && ds_clock_ns() < deadline)
			if (ds_turn_drive(t, fd, deadline, on_data, echo) == 1) {
				struct ds_turn_event ev;

				while (ds_turn_event(t, &ev) == 1)
					if (ev.type == DS_TURN_EV_REFRESHED)
						printf("refreshed lifetime=%u\n", ev.lifetime_s);
			}
		got += echo->got ? 1 : 0;
	}
	printf("echo via=%s sent=%u received=%u indications=%u channeldata=%u\n", via, sent, got,
	       echo->via_indication, echo->via_channel);
	return sent == count && got == count;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ds-turnrelay -s SERVER (-u USER -p PASS | -S SECRET [-n NAME]) "
		"[-P PEER] [-c COUNT] [-l LIFETIME] [-H HOLD_S] [-R S] [-b PORT] [-k] [-4|-6]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *server_s = NULL, *user = NULL, *pass = NULL, *secret = NULL, *name = "ds";
	const char *peer_s = NULL;
	char rest_user[128], rest_pass[64], a[DS_ADDR_STRLEN], b[DS_ADDR_STRLEN];
	unsigned count = 3, lifetime = 0, hold = 0, bind_port = 0, every = 0;
	bool keep = false, ok = true;
	int opt, fd, family = 0, r;
	struct ds_turn_config cfg;
	struct ds_addr server, peer, relayed, mapped, local;
	struct ds_turn_event ev;
	struct echo_state echo;
	struct ds_turn *t;

	while ((opt = getopt(argc, argv, "s:u:p:S:n:P:c:l:H:R:b:k46")) != -1) {
		switch (opt) {
		case 's':
			server_s = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'p':
			pass = optarg;
			break;
		case 'S':
			secret = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'P':
			peer_s = optarg;
			break;
		case 'c':
			count = (unsigned)atoi(optarg);
			break;
		case 'l':
			lifetime = (unsigned)atoi(optarg);
			break;
		case 'H':
			hold = (unsigned)atoi(optarg);
			break;
		case 'R':
			every = (unsigned)atoi(optarg);
			break;
		case 'b':
			bind_port = (unsigned)atoi(optarg);
			break;
		case 'k':
			keep = true;
			break;
		case '4':
			family = AF_INET;
			break;
		case '6':
			family = AF_INET6;
			break;
		default:
			usage();
		}
	}
	if (!server_s || ds_addr_parse(server_s, DS_TURN_PORT, 0, &server) < 0 ||
	    (!secret && (!user || !pass)))
		usage();
	if (peer_s && ds_addr_parse(peer_s, 0, DS_ADDR_PORT_REQUIRED, &peer) < 0)
		usage();
	if (secret) {
		/* valid for an hour from now (coturn checks the timestamp against its clock) */
		r = ds_turn_rest_credentials(secret, name, (int64_t)time(NULL) + 3600, rest_user,
					     sizeof(rest_user), rest_pass, sizeof(rest_pass));
		if (r < 0)
			return 1;
		user = rest_user;
		pass = rest_pass;
		printf("rest username=%s\n", user);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.server = server;
	cfg.username = user;
	cfg.password = pass;
	cfg.software = "datastun ds-turnrelay";
	cfg.lifetime_s = lifetime;
	cfg.family = family;
	cfg.retrans.rto_ns = 250 * DS_NSEC_PER_MSEC;
	cfg.retrans.rc = 5;
	cfg.retrans.rm = 8;
	if (ds_turn_new(&cfg, &t) < 0)
		return 1;
	fd = socket(ds_addr_family(&server), SOCK_DGRAM, 0);
	if (fd < 0) {
		ds_turn_free(t);
		return 1;
	}
	if (bind_port) {
		struct ds_addr b;

		memset(&b, 0, sizeof(b));
		b.ss.ss_family = (sa_family_t)ds_addr_family(&server);
		b.len = ds_addr_family(&server) == AF_INET6 ? sizeof(b.sin6) : sizeof(b.sin);
		ds_addr_set_port(&b, (uint16_t)bind_port);
		if (bind(fd, &b.sa, b.len) < 0) {
			printf("error=bind %s\n", strerror(errno));
			ok = false;
			goto out;
		}
	}
	memset(&echo, 0, sizeof(echo));

	ds_turn_allocate(t, ds_clock_ns());
	if (!wait_event(t, fd, DS_TURN_EV_ALLOCATED, 15 * DS_NSEC_PER_SEC, &echo, &ev)) {
		int code;
		char reason[128];
		int err = ds_turn_failure(t, &code, reason, sizeof(reason));

		printf("allocate failed error=%s code=%d text=\"%s\"\n", strerror(-err), code,
		       reason);
		ok = false;
		goto out;
	}
	ds_turn_relayed(t, &relayed);
	ds_turn_mapped(t, &mapped);
	{
		socklen_t sl = sizeof(local.ss);

		memset(&local, 0, sizeof(local));
		getsockname(fd, &local.sa, &sl);
		local.len = sl;
	}
	printf("allocated relayed=%s mapped=%s lifetime=%u alg=%s local_port=%u\n",
	       fmt(&relayed, a), fmt(&mapped, b), ds_turn_lifetime(t),
	       ds_turn_password_algorithm(t) == DS_STUN_PASSWORD_SHA256 ? "sha256" : "md5",
	       ds_addr_port(&local));
	fflush(stdout);

	if (peer_s) {
		ds_turn_permit(t, &peer, ds_clock_ns());
		if (!wait_event(t, fd, DS_TURN_EV_PERMISSION, 10 * DS_NSEC_PER_SEC, &echo, &ev)) {
			ok = false;
			goto out;
		}
		printf("permission peer=%s\n", fmt(&ev.peer, a));
		ok &= echo_round(t, fd, &peer, count, "send", &echo);
		memset(&echo, 0, sizeof(echo));
		ds_turn_bind(t, &peer, ds_clock_ns(), NULL);
		if (!wait_event(t, fd, DS_TURN_EV_CHANNEL, 10 * DS_NSEC_PER_SEC, &echo, &ev)) {
			ok = false;
			goto out;
		}
		printf("channel peer=%s channel=0x%04x\n", fmt(&ev.peer, a), ev.channel);
		ok &= echo_round(t, fd, &peer, count, "channel", &echo);
		fflush(stdout);
	}
	if (hold) {
		int64_t end = ds_clock_ns() + (int64_t)hold * DS_NSEC_PER_SEC;
		unsigned refreshed = 0, perms = 0, chans = 0;
		int64_t next_refresh = ds_clock_ns() + (int64_t)every * DS_NSEC_PER_SEC;

		while (ds_clock_ns() < end) {
			int64_t until = every && next_refresh < end ? next_refresh : end;

			if (every && ds_clock_ns() >= next_refresh) {
				ds_turn_refresh(t, ds_clock_ns());
				next_refresh += (int64_t)every * DS_NSEC_PER_SEC;
				continue;
			}
			r = ds_turn_drive(t, fd, until, on_data, &echo);
			if (r < 0)
				break;
			while (ds_turn_event(t, &ev) == 1) {
				if (ev.type == DS_TURN_EV_REFRESHED)
					refreshed++;
				else if (ev.type == DS_TURN_EV_PERMISSION)
					perms++;
				else if (ev.type == DS_TURN_EV_CHANNEL)
					chans++;
				else if (ev.type == DS_TURN_EV_FAILED) {
					printf("failed method=%s code=%d reason=\"%s\"\n",
					       ds_stun_method_name(ev.method), ev.code, ev.reason);
					ok = false;
				}
			}
		}
		printf("held seconds=%u refreshes=%u state=%s\n", hold, refreshed,
		       ds_turn_state_name(ds_turn_state(t)));
		if (peer_s) {
			memset(&echo, 0, sizeof(echo));
			ok &= echo_round(t, fd, &peer, count, "after-hold", &echo);
		}
		ok &= ds_turn_state(t) == DS_TURN_ALLOCATED && refreshed > 0;
	}
	if (!keep) {
		ds_turn_release(t, ds_clock_ns());
		if (wait_event(t, fd, DS_TURN_EV_RELEASED, 10 * DS_NSEC_PER_SEC, &echo, &ev) &&
		    !ev.error)
			printf("released\n");
		else
			ok = false;
	}
out:
	close(fd);
	ds_turn_free(t);
	return ok ? 0 : 1;
}
