// SPDX-License-Identifier: MIT
/* The agent's TURN allocation: kept, started again, its permissions remembered. */
#include "agentrelay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct ds_arelay {
	struct ds_addr server;
	char *user, *pass, *secret, *name;
	uint32_t lifetime_s;
	struct ds_turn *turn;
	struct ds_addr relayed; /* what was last reported by ds_arelay_changed */
	bool changed;
	int64_t retry_ns; /* when a FAILED client is started again */
	int64_t backoff_ns;
	struct ds_addr permits[DS_TURN_MAX_PEERS]; /* by IP; re-applied to a new allocation */
	size_t npermits;
	uint64_t allocations, refreshes, failures, perm_failures;
	uint64_t rx_data, tx_data;
	char error[160];
};

static int make_turn(struct ds_arelay *r)
{
	char user[160], pass[DS_TURN_REST_PASSWORD_LEN + 1];
	struct ds_turn_config tc = {
	    .server = r->server,
	    .username = r->user,
	    .password = r->pass,
	    .software = "datastun ds-agent",
	    .lifetime_s = r->lifetime_s,
	    /* relayed addresses of the server's family: IPv4 is the default (RFC 8656 §7.1),
	     * IPv6 must be asked for */
	    .family = ds_addr_family(&r->server) == AF_INET6 ? AF_INET6 : 0,
	};
	int ret;

	if (r->secret) {
		int64_t expiry = ds_clock_realtime_ns() / DS_NSEC_PER_SEC + DS_ARELAY_REST_VALID_S;

		ret = ds_turn_rest_credentials(r->secret, r->name, expiry, user, sizeof(user), pass,
					       sizeof(pass));
		if (ret < 0)
			return ret;
		tc.username = user;
		tc.password = pass;
	}
	ds_turn_free(r->turn);
	r->turn = NULL;
	ret = ds_turn_new(&tc, &r->turn);
	memset(pass, 0, sizeof(pass));
	return ret;
}

int ds_arelay_new(const struct ds_arelay_config *cfg, struct ds_arelay **out)
{
	struct ds_arelay *r;
	int ret;

	*out = NULL;
	if (!cfg->server.len || !cfg->name || (!cfg->secret && (!cfg->user || !cfg->pass)))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->server = cfg->server;
	r->lifetime_s = cfg->lifetime_s;
	r->name = strdup(cfg->name);
	if (cfg->secret)
		r->secret = strdup(cfg->secret);
	else {
		r->user = strdup(cfg->user);
		r->pass = strdup(cfg->pass);
	}
	if (!r->name || (cfg->secret ? !r->secret : !r->user || !r->pass)) {
		ds_arelay_free(r);
		return -ENOMEM;
	}
	ret = make_turn(r);
	if (ret < 0) {
		ds_arelay_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

static void wipe_free(char *s)
{
	if (s)
		memset(s, 0, strlen(s));
	free(s);
}

void ds_arelay_free(struct ds_arelay *r)
{
	if (!r)
		return;
	ds_turn_free(r->turn);
	free(r->user);
	wipe_free(r->pass);
	wipe_free(r->secret);
	free(r->name);
	free(r);
}

static void note_relayed(struct ds_arelay *r)
{
	struct ds_addr now;

	if (ds_turn_relayed(r->turn, &now) < 0)
		memset(&now, 0, sizeof(now));
	if (!ds_addr_equal(&now, &r->relayed) && (now.len || r->relayed.len)) {
		r->relayed = now;
		r->changed = true;
	}
}

static void drain_events(struct ds_arelay *r, int64_t now_ns)
{
	struct ds_turn_event ev;

	while (ds_turn_event(r->turn, &ev) == 1) {
		switch (ev.type) {
		case DS_TURN_EV_ALLOCATED:
			r->allocations++;
			r->backoff_ns = 0;
			r->error[0] = '\0';
			break;
		case DS_TURN_EV_REFRESHED:
			r->refreshes++;
			break;
		case DS_TURN_EV_FAILED:
			if (ev.method != DS_STUN_ALLOCATE && ev.method != DS_STUN_REFRESH) {
				r->perm_failures++;
				break;
			}
			r->failures++;
			/* the STUN code and reason, or what went wrong (no answer) */
			if (ev.code)
				snprintf(r->error, sizeof(r->error), "%d %s", ev.code,
					 ev.reason[0] ? ev.reason : ds_turn_error_text(ev.code));
			else
				snprintf(r->error, sizeof(r->error), "%s", strerror(-ev.error));
			r->backoff_ns = r->backoff_ns ? r->backoff_ns * 2 : DS_ARELAY_RETRY_MIN_NS;
			if (r->backoff_ns > DS_ARELAY_RETRY_MAX_NS)
				r->backoff_ns = DS_ARELAY_RETRY_MAX_NS;
			r->retry_ns = now_ns + r->backoff_ns;
			break;
		default:
			break;
		}
	}
	note_relayed(r);
}

int64_t ds_arelay_tick(struct ds_arelay *r, int64_t now_ns)
{
	enum ds_turn_state st = ds_turn_state(r->turn);
	int64_t next;

	if (st == DS_TURN_FAILED || st == DS_TURN_RELEASED) {
		if (now_ns < r->retry_ns)
			return r->retry_ns - now_ns;
		/* A fresh client: new credentials (REST ones expire), no stale nonce. */
		if (make_turn(r) < 0) {
			r->retry_ns = now_ns + DS_ARELAY_RETRY_MAX_NS;
			return DS_ARELAY_RETRY_MAX_NS;
		}
		st = DS_TURN_IDLE;
	}
	if (st == DS_TURN_IDLE) {
		ds_turn_allocate(r->turn, now_ns);
		for (size_t i = 0; i < r->npermits; i++)
			ds_turn_permit(r->turn, &r->permits[i], now_ns);
	}
	next = ds_turn_tick(r->turn, now_ns);
	drain_events(r, now_ns);
	if (ds_turn_state(r->turn) == DS_TURN_FAILED)
		return r->retry_ns > now_ns ? r->retry_ns - now_ns : 0;
	return next < 0 ? DS_ARELAY_RETRY_MAX_NS : next;
}

int ds_arelay_pull(struct ds_arelay *r, void *buf, size_t cap, size_t *len, struct ds_addr *dst)
{
	return ds_turn_pull(r->turn, buf, cap, len, dst);
}

int ds_arelay_input(struct ds_arelay *r, const void *pkt, size_t len, const struct ds_addr *from,
		    int64_t now_ns, struct ds_turn_data *d)
{
	int ret = ds_turn_input(r->turn, pkt, len, from, now_ns, d);

	if (ret == DS_TURN_IN_DATA)
		r->rx_data++;
	if (ret == DS_TURN_IN_CONSUMED)
		drain_events(r, now_ns);
	return ret;
}

void ds_arelay_release(struct ds_arelay *r, int64_t now_ns)
{
	ds_turn_release(r->turn, now_ns);
	ds_turn_tick(r->turn, now_ns);
}

bool ds_arelay_changed(struct ds_arelay *r)
{
	bool c = r->changed;

	r->changed = false;
	return c;
}

int ds_arelay_family(const struct ds_arelay *r)
{
	return ds_addr_family(&r->server);
}

int ds_arelay_permit(struct ds_arelay *r, const struct ds_addr *peer, int64_t now_ns)
{
	int ret;

	if (ds_addr_family(peer) != ds_arelay_family(r))
		return -EAFNOSUPPORT;
	for (size_t i = 0; i < r->npermits; i++)
		if (ds_addr_equal_host(&r->permits[i], peer))
			return 0;
	if (r->npermits == DS_TURN_MAX_PEERS)
		return -ENOSPC;
	ret = ds_turn_permit(r->turn, peer, now_ns);
	if (ret == 0)
		r->permits[r->npermits++] = *peer;
	return ret;
}

int ds_arelay_wrap(struct ds_arelay *r, const struct ds_addr *peer, const void *data, size_t len,
		   void *buf, size_t cap, size_t *out_len, int64_t now_ns)
{
	int ret;

	if (ds_turn_state(r->turn) != DS_TURN_ALLOCATED)
		return -ENOTCONN;
	/* Bind on first use (ds_turn_bind keeps a bound channel, and refreshes it). */
	if (!ds_turn_channel(r->turn, peer))
		ds_turn_bind(r->turn, peer, now_ns, NULL);
	ret = ds_turn_wrap(r->turn, peer, data, len, buf, cap, out_len);
	if (ret == 0)
		r->tx_data++;
	return ret;
}

int ds_arelay_relayed(const struct ds_arelay *r, struct ds_addr *out)
{
	return ds_turn_relayed(r->turn, out);
}

const struct ds_addr *ds_arelay_server(const struct ds_arelay *r)
{
	return ds_turn_server(r->turn);
}

void ds_arelay_status(const struct ds_arelay *r, int64_t now_ns, FILE *f)
{
	char srv[DS_ADDR_STRLEN], rel[DS_ADDR_STRLEN] = "-";
	struct ds_addr ra;
	int64_t left = ds_turn_expires_ns(r->turn) - now_ns;

	if (!ds_addr_format(ds_turn_server(r->turn), true, srv, sizeof(srv)))
		snprintf(srv, sizeof(srv), "-");
	if (ds_turn_relayed(r->turn, &ra) == 0 && !ds_addr_format(&ra, true, rel, sizeof(rel)))
		snprintf(rel, sizeof(rel), "-");
	fprintf(f,
		"turn %s state %s relayed %s lifetime_s %u expires_in_s %lld allocations %llu "
		"refreshes %llu failures %llu permissions %zu relayed_rx %llu relayed_tx %llu",
		srv, ds_turn_state_name(ds_turn_state(r->turn)), rel, ds_turn_lifetime(r->turn),
		ds_turn_state(r->turn) == DS_TURN_ALLOCATED && left > 0
		    ? (long long)(left / DS_NSEC_PER_SEC)
		    : -1LL,
		(unsigned long long)r->allocations, (unsigned long long)r->refreshes,
		(unsigned long long)r->failures, r->npermits, (unsigned long long)r->rx_data,
		(unsigned long long)r->tx_data);
	if (r->error[0])
		fprintf(f, " error %s", r->error);
	fputc('\n', f);
}

/* No address family uses length 1: a local address that can never be a real one. */
void ds_arelay_mark(struct ds_addr *local)
{
	memset(local, 0, sizeof(*local));
	local->sa.sa_family = AF_UNSPEC;
	local->len = 1;
}

bool ds_arelay_is_marked(const struct ds_addr *local)
{
	return local && local->len == 1 && local->sa.sa_family == AF_UNSPEC;
}
