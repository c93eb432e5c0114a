// SPDX-License-Identifier: MIT
/*
 * ds-link — a user-space link emulator for the lab (the kernel here has no netem).
 *
 * It serves one netfilter queue: every queued packet is held and accepted when a link of the
 * given rate would have finished serializing it, plus a delay and jitter, in order
 * (libds/linkem.h has the schedule). Timing: a timerfd wakes us a little before the next
 * release and we spin the last stretch on the monotonic clock; consecutive due packets are
 * released with one batch verdict.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "clock.h"
#include "linkem.h"
#include "msg.h"
#include "num.h"
#include "version.h"

/* Packets we can hold at once; the kernel queue is set to the same length and drops beyond. */
#define HELD_MAX       131072 /* > DS_LINKEM_LIMIT_MAX: room for packets in propagation */
/* Enough of each packet to see its IP header; the length itself comes from NFQA_CAP_LEN. */
#define COPY_RANGE     64
#define RCVBUF_BYTES   (16 * 1024 * 1024)
#define RECV_BURST     256
/* Wake this long before a release and spin the rest (the timer's wake-up latency here). */
#define SPIN_NS_MIN    (30 * DS_NSEC_PER_USEC)
#define SPIN_NS_MAX    (400 * DS_NSEC_PER_USEC)
/* A sleep shorter than this on top of the spin is not worth the risk of waking late. */
#define SLEEP_NS_MIN   (100 * DS_NSEC_PER_USEC)
/* Within the spin window, short naps (the CPU is awake: they end on time) until this close. */
#define NAP_GUARD_NS   (40 * DS_NSEC_PER_USEC)
#define NAP_MAX_NS     (20 * DS_NSEC_PER_USEC)
#define PARAMS_MAX     65536
#define NL_RECV_BYTES  (0xffff + 8192)
#define NL_SEND_BYTES  8192

struct held_packet {
	uint32_t id;
	int64_t release_ns;
};

struct link {
	uint16_t queue_num;
	const char *params_path;
	const char *pidfile;
	struct ds_linkem_params cli_params;
	struct ds_linkem *em;

	struct mnl_socket *nl;
	unsigned portid;
	int epoll_fd, timer_fd, signal_fd;
	int64_t timer_armed_ns; /* absolute deadline the timerfd is set to, 0 none */
	int64_t spin_ns;        /* adapted to observed timer lateness */

	struct held_packet *held;
	uint32_t head, count;

	int timestamp_fd;       /* a socket asking for rx timestamps, so packets carry one */
	int64_t realtime_offset; /* CLOCK_REALTIME - CLOCK_MONOTONIC, refreshed per read */
	int64_t last_arrival;

	unsigned acks_pending;
	int config_error;
	uint64_t n_accepted, n_dropped, n_lost, n_verdict_errors;
	/* For -v: how long packets waited for us to read them, how late releases went out. */
	int64_t read_lag_sum, read_lag_max, release_late_sum, release_late_max;
	uint64_t n_stamped, n_releases;
	int quit, reload;
	char buf[NL_RECV_BYTES];
};

static const struct option long_options[] = {
	{"queue", required_argument, NULL, 'Q'},
	{"rate", required_argument, NULL, 'r'},
	{"delay", required_argument, NULL, 'd'},
	{"jitter", required_argument, NULL, 'j'},
	{"limit", required_argument, NULL, 'l'},
	{"overhead", required_argument, NULL, 'o'},
	{"params", required_argument, NULL, 'P'},
	{"pidfile", required_argument, NULL, 'p'},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void usage(void)
{
	printf("Usage: %s -Q QUEUE_NUM [options]\n"
	       "Emulate a link on a netfilter queue: hold each packet until a link of RATE would\n"
	       "have serialized it, add DELAY and JITTER, never reorder, drop beyond LIMIT.\n"
	       "\n"
	       "  -Q, --queue NUM      netfilter queue number to serve (0..65535), required\n"
	       "      --rate RATE      serialization rate: 10mbit, 2.5M, 500kbit, bare bit/s;\n"
	       "                       0 or absent = unlimited\n"
	       "      --delay D        one-way delay: 20ms, 500us, bare = ms (default 0)\n"
	       "      --jitter D       delay varies uniformly in [D-J, D+J], never reordering\n"
	       "      --limit PKTS     packets queued for serialization before tail drop (%d)\n"
	       "      --overhead BYTES added to each IP packet's length for serialization (0)\n"
	       "      --params FILE    'key value' lines (rate, delay, jitter, limit, overhead),\n"
	       "                       read at start and again on SIGHUP; they override options\n"
	       "      --pidfile FILE   write our pid there once the queue is bound\n"
	       "  -v, --verbose        report parameters and counters\n"
	       "  -q, --quiet          no warnings\n"
	       "  -h, --help           this help\n"
	       "  -V, --version        version and features\n"
	       "\n"
	       "Queue the direction where it arrives (raw PREROUTING, NFQUEUE target, IPv4 and\n"
	       "IPv6; ds-link(1) has the rules). SIGHUP re-reads --params; SIGTERM/SIGINT accept\n"
	       "held packets and exit 0.\n",
	       ds_msg_progname(), DS_LINKEM_LIMIT_DEFAULT);
}

/* Netlink */

static int nl_send(struct link *lk, struct nlmsghdr *nlh)
{
	if (mnl_socket_sendto(lk->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

static void send_verdict(struct link *lk, int type, uint32_t id, int verdict)
{
	char buf[NL_SEND_BYTES];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, type, lk->queue_num);
	int r;

	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	r = nl_send(lk, nlh);
	if (r < 0) {
		lk->n_verdict_errors++;
		ds_verbose("verdict for packet %" PRIu32 ": %s", id, strerror(-r));
	}
}

/* Accept every held packet due by now, oldest first, with one batch verdict. */
static void release_due(struct link *lk, int64_t now)
{
	uint32_t n = 0, last_id = 0;
	int64_t first_release = lk->count > 0 ? lk->held[lk->head].release_ns : 0;

	while (lk->count > 0 && lk->held[lk->head].release_ns <= now) {
		last_id = lk->held[lk->head].id;
		lk->head = (lk->head + 1) % HELD_MAX;
		lk->count--;
		n++;
	}
	if (n == 0)
		return;
	/* Packet ids grow in arrival order and release is in order: "all ids up to". */
	send_verdict(lk, NFQNL_MSG_VERDICT_BATCH, last_id, NF_ACCEPT);
	lk->n_accepted += n;
	if (now != INT64_MAX) {
		int64_t late = now - first_release;

		lk->n_releases++;
		lk->release_late_sum += late;
		if (ds_msg_verbosity() >= 2)
			ds_verbose("released %" PRIu32 " packets up to %" PRIu32 ", %.1f us late",
				   n, last_id, (double)late / 1e3);
		if (late > lk->release_late_max)
			lk->release_late_max = late;
	}
}

static void release_all(struct link *lk)
{
	release_due(lk, INT64_MAX);
}

static void on_packet(struct link *lk, const struct nlmsghdr *nlh, int64_t now)
{
	struct nlattr *attr[NFQA_MAX + 1] = {0};
	struct nfqnl_msg_packet_hdr *ph;
	uint32_t id, len;
	int64_t release;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);
	/* CAP_LEN is the whole packet's length when the copy was cut short. */
	if (attr[NFQA_CAP_LEN])
		len = ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]));
	else if (attr[NFQA_PAYLOAD])
		len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	else
		len = 0;
	/*
	 * The packet arrived when the kernel stamped it (we keep rx timestamps switched on), not
	 * when we got around to reading it: waking up costs tens of microseconds.
	 */
	if (attr[NFQA_TIMESTAMP] && mnl_attr_get_payload_len(attr[NFQA_TIMESTAMP]) >=
					    sizeof(struct nfqnl_msg_packet_timestamp)) {
		/* Netlink aligns attributes to 4 bytes only: copy the 64-bit fields out. */
		struct nfqnl_msg_packet_timestamp ts;
		int64_t stamped, lag;

		memcpy(&ts, mnl_attr_get_payload(attr[NFQA_TIMESTAMP]), sizeof(ts));
		stamped = (int64_t)be64toh(ts.sec) * DS_NSEC_PER_SEC +
			  (int64_t)be64toh(ts.usec) * DS_NSEC_PER_USEC - lk->realtime_offset;
		lag = now - stamped;

		/* Anything else is not a receive time (a TCP departure time, a clock step). */
		if (lag >= 0 && lag < 100 * DS_NSEC_PER_MSEC) {
			now = stamped > lk->last_arrival ? stamped : lk->last_arrival;
			lk->n_stamped++;
			lk->read_lag_sum += lag;
			if (lag > lk->read_lag_max)
				lk->read_lag_max = lag;
		}
	}

	lk->last_arrival = now;
	if (lk->count >= HELD_MAX || ds_linkem_enqueue(lk->em, now, len, &release) < 0) {
		send_verdict(lk, NFQNL_MSG_VERDICT, id, NF_DROP);
		lk->n_dropped++;
		return;
	}
	lk->held[(lk->head + lk->count) % HELD_MAX] = (struct held_packet){id, release};
	lk->count++;
}

static void on_message(struct link *lk, const struct nlmsghdr *nlh, int64_t now)
{
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_seq != 0 && lk->acks_pending > 0) {
			lk->acks_pending--;
			if (e->error != 0 && lk->config_error == 0)
				lk->config_error = e->error;
		} else if (e->error != 0) {
			lk->n_verdict_errors++;
			ds_verbose("netlink: %s", strerror(-e->error));
		}
		return;
	}
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFQNL_MSG_PACKET)
		on_packet(lk, nlh, now);
}

/* Read what the socket holds, without blocking: 1 if anything was read, 0 if not, <0 error. */
static int receive(struct link *lk)
{
	int fd = mnl_socket_get_fd(lk->nl), got = 0;

	for (int i = 0; i < RECV_BURST; i++) {
		ssize_t n = recv(fd, lk->buf, sizeof(lk->buf), MSG_DONTWAIT);
		int64_t now = ds_clock_ns();

		lk->realtime_offset = ds_clock_realtime_ns() - now;
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)lk->buf;
		int left = (int)n;

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* The kernel dropped packets it could not hand us; go on. */
				lk->n_lost++;
				ds_verbose("receive buffer overrun: packets lost");
				continue;
			}
			return -errno;
		}
		got = 1;
		while (mnl_nlmsg_ok(nlh, left)) {
			on_message(lk, nlh, now);
			nlh = mnl_nlmsg_next(nlh, &left);
		}
	}
	return got;
}

static struct nlmsghdr *config_msg(char *buf, uint16_t queue_num, uint32_t seq)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue_num);

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	return nlh;
}

/* Bind the queue: copy only the first bytes, no fail-open, kernel segments GSO packets. */
static int bind_queue(struct link *lk)
{
	char buf[NL_SEND_BYTES];
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL);
	int one = 1, size = RCVBUF_BYTES, r, fd;

	lk->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!lk->nl)
		return -errno;
	if (mnl_socket_bind(lk->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	lk->portid = mnl_socket_get_portid(lk->nl);
	fd = mnl_socket_get_fd(lk->nl);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	/* Verdict errors are reported without asking for acks; keep them small. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));

	nlh = config_msg(buf, lk->queue_num, seq);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if ((r = nl_send(lk, nlh)) < 0)
		return r;
	nlh = config_msg(buf, lk->queue_num, seq + 1);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, COPY_RANGE);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, HELD_MAX);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(0));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO));
	if ((r = nl_send(lk, nlh)) < 0)
		return r;

	lk->acks_pending = 2;
	while (lk->acks_pending > 0) {
		ssize_t n = recv(fd, lk->buf, sizeof(lk->buf), 0);
		int64_t now = ds_clock_ns();
		const struct nlmsghdr *m = (const struct nlmsghdr *)lk->buf;
		int left = (int)n;

		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			return -errno;
		}
		while (mnl_nlmsg_ok(m, left)) {
			on_message(lk, m, now);
			m = mnl_nlmsg_next(m, &left);
		}
	}
	return lk->config_error;
}

/* Parameters */

static void describe(const char *what, const struct ds_linkem_params *p)
{
	ds_verbose("%s: rate %.0f bit/s%s, delay %.3f ms, jitter %.3f ms, limit %" PRIu32
		   " packets, overhead %" PRIu32 " bytes",
		   what, p->rate_bps, p->rate_bps > 0 ? "" : " (unlimited)",
		   (double)p->delay_ns / 1e6, (double)p->jitter_ns / 1e6, p->limit, p->overhead);
}

/* The options overridden by the params file: 0, 1 when the file is absent, <0 on error with
 * a message already printed. */
static int load_params(const struct link *lk, struct ds_linkem_params *out)
{
	static char text[PARAMS_MAX];
	struct ds_linkem_params p = lk->cli_params;
	unsigned line_no = 1;
	ssize_t len;
	int fd, r;

	fd = open(lk->params_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT) {
			*out = p;
			return 1;
		}
		ds_warnc(r, "cannot open params file '%s'", lk->params_path);
		return r;
	}
	len = read(fd, text, sizeof(text));
	r = len < 0 ? -errno : 0;
	close(fd);
	if (r < 0) {
		ds_warnc(r, "cannot read params file '%s'", lk->params_path);
		return r;
	}
	if ((size_t)len == sizeof(text)) {
		ds_warnx("params file '%s' is too large", lk->params_path);
		return -EFBIG;
	}
	r = ds_linkem_params_parse(text, (size_t)len, &p, &line_no);
	if (r < 0) {
		/* Name the offending line back. */
		size_t start = 0, end;

		for (unsigned i = 1; i < line_no && start < (size_t)len; start++)
			if (text[start] == '\n')
				i++;
		for (end = start; end < (size_t)len && text[end] != '\n'; end++)
			;
		ds_warnx("%s:%u: %s: '%.*s'", lk->params_path, line_no,
			 r == -ENOENT ? "unknown key" : "bad value", (int)(end - start),
			 text + start);
		return r;
	}
	*out = p;
	return 0;
}

static void reload_params(struct link *lk)
{
	struct ds_linkem_params p;
	int r = load_params(lk, &p);

	if (r < 0) {
		ds_warnx("keeping the current parameters");
		return;
	}
	if (r == 1)
		ds_warnx("params file '%s' is gone; back to the command line's values",
			 lk->params_path);
	ds_linkem_set_params(lk->em, &p);
	describe("new parameters", &p);
}

/* Timing */

static void arm_timer(struct link *lk, int64_t deadline)
{
	struct itimerspec its = {0};

	if (deadline == lk->timer_armed_ns)
		return;
	if (deadline > 0)
		its.it_value = ds_ns_timespec(deadline);
	(void)timerfd_settime(lk->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
	lk->timer_armed_ns = deadline;
}

/* Track how late the timer wakes us and spin that long (with margin) before a release. */
static void learn_lateness(struct link *lk, int64_t late)
{
	int64_t want = late * 2 + 10 * DS_NSEC_PER_USEC;

	if (want > lk->spin_ns)
		lk->spin_ns += (want - lk->spin_ns) / 2;
	else
		lk->spin_ns -= (lk->spin_ns - want) / 64;
	if (lk->spin_ns < SPIN_NS_MIN)
		lk->spin_ns = SPIN_NS_MIN;
	if (lk->spin_ns > SPIN_NS_MAX)
		lk->spin_ns = SPIN_NS_MAX;
}

static void on_signal(struct link *lk)
{
	struct signalfd_siginfo si;

	while (read(lk->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			lk->reload = 1;
		else
			lk->quit = 1;
	}
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static int run(struct link *lk)
{
	struct epoll_event ev[4];

	for (;;) {
		int64_t now = ds_clock_ns(), next;
		int n;

		release_due(lk, now);
		if (lk->quit) {
			/* What is still unread would be dropped with our socket: take it along. */
			(void)receive(lk);
			return 0;
		}
		if (lk->reload) {
			lk->reload = 0;
			reload_params(lk);
		}
		next = lk->count > 0 ? lk->held[lk->head].release_ns : 0;
		if (next > 0 && next - now <= lk->spin_ns + SLEEP_NS_MIN) {
			/*
			 * Close to a release: wait on the clock, still taking arrivals so their
			 * time is right. Nap in short sleeps until the last stretch, so that a
			 * sender on this CPU is not starved by our real-time priority; spin that.
			 */
			while ((now = ds_clock_ns()) < next) {
				if (receive(lk) != 0)
					continue;
				if (next - now > NAP_GUARD_NS) {
					int64_t until = next - NAP_GUARD_NS;

					if (until - now > NAP_MAX_NS)
						until = now + NAP_MAX_NS;
					ds_clock_sleep_until(until);
				} else {
					cpu_relax();
				}
			}
			continue;
		}
		arm_timer(lk, next > 0 ? next - lk->spin_ns : 0);
		n = epoll_wait(lk->epoll_fd, ev, 4, -1);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == lk->signal_fd) {
				on_signal(lk);
			} else if (fd == lk->timer_fd) {
				uint64_t expirations;

				if (read(fd, &expirations, sizeof(expirations)) > 0 &&
				    lk->timer_armed_ns > 0)
					learn_lateness(lk, ds_clock_ns() - lk->timer_armed_ns);
				lk->timer_armed_ns = 0;
			} else {
				int r = receive(lk);

				if (r < 0)
					return r;
			}
		}
	}
}

/* Precise wake-ups: no timer slack, a real-time priority when allowed (else silently not). */
static void tune_scheduling(void)
{
	struct sched_param sp = {.sched_priority = 10};

	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	if (sched_setscheduler(0, SCHED_FIFO, &sp) == 0)
		ds_verbose("running with SCHED_FIFO priority %d", sp.sched_priority);
}

static int setup_fds(struct link *lk)
{
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	lk->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	lk->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	lk->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (lk->signal_fd < 0 || lk->timer_fd < 0 || lk->epoll_fd < 0)
		return -errno;
	ev.data.fd = lk->signal_fd;
	if (epoll_ctl(lk->epoll_fd, EPOLL_CTL_ADD, lk->signal_fd, &ev) < 0)
		return -errno;
	ev.data.fd = lk->timer_fd;
	if (epoll_ctl(lk->epoll_fd, EPOLL_CTL_ADD, lk->timer_fd, &ev) < 0)
		return -errno;
	return 0;
}

/* The kernel stamps received packets only while some socket asks for it; be that socket. */
static void enable_rx_timestamps(struct link *lk)
{
	int one = 1;

	lk->timestamp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (lk->timestamp_fd < 0)
		lk->timestamp_fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (lk->timestamp_fd >= 0)
		(void)setsockopt(lk->timestamp_fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
}

static int add_nl_fd(struct link *lk)
{
	struct epoll_event ev = {.events = EPOLLIN};

	ev.data.fd = mnl_socket_get_fd(lk->nl);
	if (epoll_ctl(lk->epoll_fd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
		return -errno;
	return 0;
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

static void set_option(struct link *lk, const char *key, const char *value)
{
	int r = ds_linkem_param_set(&lk->cli_params, key, value);

	if (r < 0)
		ds_usage_error("bad --%s value '%s'", key, value);
}

int main(int argc, char **argv)
{
	static struct link lk = {
		.epoll_fd = -1, .timer_fd = -1, .signal_fd = -1, .timestamp_fd = -1};
	struct ds_linkem_params params;
	long long queue = -1;
	uint64_t seed = 0;
	int c, r, verbosity = 0, ret = DS_EXIT_FAILURE;

	ds_msg_init(argv[0]);
	ds_linkem_params_default(&lk.cli_params);
	opterr = 0; /* our own one-line usage errors */
	while ((c = getopt_long(argc, argv, ":Q:vqhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'Q':
			if (ds_parse_long(optarg, 0, 65535, &queue) < 0)
				ds_usage_error("bad queue number '%s'", optarg);
			break;
		case 'r':
			set_option(&lk, "rate", optarg);
			break;
		case 'd':
			set_option(&lk, "delay", optarg);
			break;
		case 'j':
			set_option(&lk, "jitter", optarg);
			break;
		case 'l':
			set_option(&lk, "limit", optarg);
			break;
		case 'o':
			set_option(&lk, "overhead", optarg);
			break;
		case 'P':
			lk.params_path = optarg;
			break;
		case 'p':
			lk.pidfile = optarg;
			break;
		case 'v':
			verbosity++;
			break;
		case 'q':
			verbosity = -1;
			break;
		case 'h':
			usage();
			return DS_EXIT_OK;
		case 'V':
			ds_version_print(stdout, ds_msg_progname());
			return DS_EXIT_OK;
		case ':':
			ds_usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			ds_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		ds_usage_error("unexpected argument '%s'", argv[optind]);
	if (queue < 0)
		ds_usage_error("-Q QUEUE_NUM is required");
	/* -q silences warnings while running, never the reason we could not start. */
	ds_msg_set_verbosity(verbosity < 0 ? 0 : verbosity);
	lk.queue_num = (uint16_t)queue;
	lk.spin_ns = 2 * SPIN_NS_MIN;

	params = lk.cli_params;
	if (lk.params_path) {
		r = load_params(&lk, &params);
		if (r < 0)
			return r == -ENOENT || r == -EINVAL || r == -ERANGE || r == -E2BIG
				       ? DS_EXIT_USAGE
				       : DS_EXIT_FAILURE;
		if (r == 1)
			ds_verbose("params file '%s' not there yet; using the options",
				   lk.params_path);
	}
	describe("parameters", &params);

	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (uint64_t)ds_clock_ns();
	lk.em = ds_linkem_new(&params, seed);
	lk.held = calloc(HELD_MAX, sizeof(*lk.held));
	if (!lk.em || !lk.held) {
		ds_warnx("out of memory");
		goto out;
	}
	if ((r = setup_fds(&lk)) < 0) {
		ds_warnc(r, "cannot set up signals and timers");
		goto out;
	}
	enable_rx_timestamps(&lk);
	lk.realtime_offset = ds_clock_realtime_ns() - ds_clock_ns();
	if ((r = bind_queue(&lk)) < 0) {
		ds_warnc(r, "cannot bind netfilter queue %u%s", lk.queue_num,
			 r == -EPERM ? " (needs CAP_NET_ADMIN)"
				     : r == -EBUSY ? " (another program serves it)" : "");
		goto out;
	}
	if ((r = add_nl_fd(&lk)) < 0) {
		ds_warnc(r, "epoll");
		goto out;
	}
	tune_scheduling();
	if (lk.pidfile && (r = write_pidfile(lk.pidfile)) < 0) {
		ds_warnc(r, "cannot write pidfile '%s'", lk.pidfile);
		goto out;
	}
	ds_verbose("serving netfilter queue %u", lk.queue_num);
	ds_msg_set_verbosity(verbosity);

	r = run(&lk);
	if (r < 0) {
		ds_msg_set_verbosity(verbosity < 0 ? 0 : verbosity);
		ds_warnc(r, "netlink receive");
	} else {
		ret = DS_EXIT_OK;
	}
out:
	if (lk.nl) {
		release_all(&lk);
		mnl_socket_close(lk.nl);
	}
	ds_verbose("queue %u: %" PRIu64 " accepted, %" PRIu64 " dropped (queue full), %" PRIu64
		   " receive overruns, %" PRIu64 " verdict errors",
		   lk.queue_num, lk.n_accepted, lk.n_dropped, lk.n_lost, lk.n_verdict_errors);
	if (lk.n_stamped > 0 && lk.n_releases > 0)
		ds_verbose("queue %u: read %.1f us after arrival (max %.1f), released %.1f us late "
			   "(max %.1f), spin %.1f us",
			   lk.queue_num, (double)lk.read_lag_sum / (double)lk.n_stamped / 1e3,
			   (double)lk.read_lag_max / 1e3,
			   (double)lk.release_late_sum / (double)lk.n_releases / 1e3,
			   (double)lk.release_late_max / 1e3, (double)lk.spin_ns / 1e3);
	if (lk.pidfile && ret == DS_EXIT_OK)
		unlink(lk.pidfile);
	if (lk.epoll_fd >= 0)
		close(lk.epoll_fd);
	if (lk.timer_fd >= 0)
		close(lk.timer_fd);
	if (lk.signal_fd >= 0)
		close(lk.signal_fd);
	if (lk.timestamp_fd >= 0)
		close(lk.timestamp_fd);
	free(lk.held);
	ds_linkem_free(lk.em);
	return ret;
}
