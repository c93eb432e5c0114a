// SPDX-License-Identifier: MIT
#define UNIT_NAME "test_ctl"
#include "unit.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "clock.h"
#include "ctl.h"
#include "loop.h"

/* ---- codec ---- */

static void every_message_type_round_trips(void)
{
	uint8_t buf[DS_CTL_MSG_MAX], body[100];
	int types[] = {DS_CTL_HELLO, DS_CTL_REGISTER, DS_CTL_UNREGISTER, DS_CTL_STUN_REGISTER,
		       DS_CTL_SEND,  DS_CTL_PEER,     DS_CTL_STATUS,     DS_CTL_HELLO_OK,
		       DS_CTL_OK,    DS_CTL_ERR,      DS_CTL_PACKET,     DS_CTL_STUN,
		       DS_CTL_SENT,  DS_CTL_TXSTAMP,  DS_CTL_PEER_INFO,  DS_CTL_USE};

	memset(body, 0x42, sizeof(body));
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct ds_ctl_msg m = {.type = (uint8_t)types[i], .run_id = 7, .req_id = 9}, d;
		int len;

		if (m.type == DS_CTL_ERR)
			m.err.err = EPERM;
		if (m.type == DS_CTL_SEND) {
			snprintf(m.send.peer, sizeof(m.send.peer), "hq");
			m.send.wire_type = 4;
			m.send.tos = -1;
			ds_addr_parse("[2001:db8::1]:41878", 0, 0, &m.send.dst);
			m.send.body = body;
			m.send.body_len = sizeof(body);
		}
		if (m.type == DS_CTL_PACKET) {
			snprintf(m.packet.peer, sizeof(m.packet.peer), "laptop");
			ds_addr_parse("192.0.2.1:5", 0, 0, &m.packet.src);
			m.packet.rx_ns = 123456789;
			m.packet.counter = 77;
			m.packet.body = body;
			m.packet.body_len = 40;
		}
		if (m.type == DS_CTL_USE) {
			snprintf(m.use.peer, sizeof(m.use.peer), "hq");
			m.use.use_flags = DS_CTL_USE_PUNCHED;
			ds_addr_parse("198.51.100.7:40000", 0, 0, &m.use.addr);
		}
		if (m.type == DS_CTL_PEER_INFO) {
			snprintf(m.peer_info.peer, sizeof(m.peer_info.peer), "hq");
			m.peer_info.ncands = 3;
			for (int k = 0; k < 3; k++) {
				m.peer_info.cands[k].kind = (uint8_t)(k + 1);
				ds_addr_parse(k == 2 ? "[2001:db8::9]:3" : "192.0.2.9:3", 0, 0,
					      &m.peer_info.cands[k].addr);
			}
		}
		len = ds_ctl_encode(&m, buf, sizeof(buf));
		CHECK(len >= DS_CTL_HDR_LEN);
		CHECK_INT(ds_ctl_decode(buf, (size_t)len, &d), 0);
		if (m.type == DS_CTL_USE) {
			CHECK_STR(d.use.peer, "hq");
			CHECK_INT(d.use.use_flags, DS_CTL_USE_PUNCHED);
			CHECK(ds_addr_equal(&d.use.addr, &m.use.addr));
		}
		if (m.type == DS_CTL_PEER_INFO) {
			CHECK_INT(d.peer_info.ncands, 3);
			CHECK_INT(d.peer_info.cands[2].kind, 3);
			CHECK(ds_addr_equal(&d.peer_info.cands[2].addr, &m.peer_info.cands[2].addr));
			/* a candidate count over the maximum, or an unknown kind: refused */
			buf[len - DS_CTL_MAX_CANDS * DS_CTL_CAND_LEN - 4] = DS_CTL_MAX_CANDS + 1;
			CHECK_INT(ds_ctl_decode(buf, (size_t)len, &d), -EBADMSG);
			buf[len - DS_CTL_MAX_CANDS * DS_CTL_CAND_LEN - 4] = 3;
			buf[len - DS_CTL_MAX_CANDS * DS_CTL_CAND_LEN] = 9;
			CHECK_INT(ds_ctl_decode(buf, (size_t)len, &d), -EBADMSG);
			buf[len - DS_CTL_MAX_CANDS * DS_CTL_CAND_LEN] = 1;
		}
		CHECK_INT(d.type, m.type);
		CHECK_INT(d.run_id, 7);
		CHECK_INT(d.req_id, 9);
		if (m.type == DS_CTL_SEND) {
			char s[DS_ADDR_STRLEN];

			CHECK_STR(d.send.peer, "hq");
			CHECK_INT(d.send.tos, -1);
			CHECK_INT(d.send.body_len, sizeof(body));
			CHECK_STR(ds_addr_format(&d.send.dst, true, s, sizeof(s)),
				  "[2001:db8::1]:41878");
		}
		if (m.type == DS_CTL_PACKET) {
			CHECK_STR(d.packet.peer, "laptop");
			CHECK_INT(d.packet.rx_ns, 123456789);
			CHECK_INT(d.packet.counter, 77);
			CHECK_INT(d.packet.body_len, 40);
		}
		/* One byte short, or one extra where none belongs: rejected. */
		CHECK(ds_ctl_decode(buf, (size_t)len - 1, &d) < 0);
	}
}

static void path_kind_never_hides_a_relay(void)
{
	struct ds_addr v4, v6;

	ds_addr_parse("198.51.100.7:1", 0, 0, &v4);
	ds_addr_parse("[2001:db8::7]:1", 0, 0, &v6);
	CHECK_STR(ds_ctl_path_kind(0, &v4), "direct");
	CHECK_STR(ds_ctl_path_kind(DS_CTL_PEER_PUNCHED, &v4), "punch");
	CHECK_STR(ds_ctl_path_kind(0, &v6), "v6");
	CHECK_STR(ds_ctl_path_kind(DS_CTL_PEER_LAN, &v6), "lan");
	CHECK_STR(ds_ctl_path_kind(DS_CTL_PEER_LAN | DS_CTL_PEER_RELAYED, &v4), "relay");
	CHECK_STR(ds_ctl_path_kind(DS_CTL_PEER_RELAYED | DS_CTL_PEER_PUNCHED, &v6), "relay");
	CHECK_STR(ds_ctl_path_kind(0, NULL), "");
}

static void decoder_rejects_bad_length_version_type_and_strings(void)
{
	struct ds_ctl_msg m = {.type = DS_CTL_PEER}, d;
	uint8_t buf[DS_CTL_MSG_MAX];
	int len;

	snprintf(m.peer.peer, sizeof(m.peer.peer), "hq");
	len = ds_ctl_encode(&m, buf, sizeof(buf));
	buf[7]++; /* length field lies */
	CHECK_INT(ds_ctl_decode(buf, (size_t)len, &d), -EBADMSG);
	buf[7]--;
	buf[1] = 2;
	CHECK_INT(ds_ctl_decode(buf, (size_t)len, &d), -EPROTONOSUPPORT);
	buf[1] = DS_CTL_VERSION;
	buf[0] = 99;
	CHECK_INT(ds_ctl_decode(buf, (size_t)len, &d), -EPROTO);
	buf[0] = DS_CTL_PEER;
	memset(buf + DS_CTL_HDR_LEN, 'a', DS_CTL_NAME_MAX + 1); /* no NUL in the field */
	CHECK_INT(ds_ctl_decode(buf, (size_t)len, &d), -EBADMSG);
	buf[DS_CTL_HDR_LEN] = '\n';
	buf[DS_CTL_HDR_LEN + 1] = 0;
	CHECK_INT(ds_ctl_decode(buf, (size_t)len, &d), -EBADMSG); /* control character */
	CHECK_INT(ds_ctl_decode(buf, 3, &d), -EBADMSG);
	/* REGISTER of run 0 is refused: 0 means "no run". */
	m = (struct ds_ctl_msg){.type = DS_CTL_REGISTER};
	len = ds_ctl_encode(&m, buf, sizeof(buf));
	CHECK_INT(ds_ctl_decode(buf, (size_t)len, &d), -EBADMSG);
	/* A body larger than a toolkit packet's is refused by the encoder. */
	m = (struct ds_ctl_msg){.type = DS_CTL_SEND};
	m.send.body = buf;
	m.send.body_len = DS_WIRE_BODY_MAX + 1;
	CHECK_INT(ds_ctl_encode(&m, buf, sizeof(buf)), -EMSGSIZE);
}

/* ---- server and client, in two processes ---- */

static char dir[64];
static int ended_pipe[2];
static int udp_fd;

static void srv_hello(void *arg, struct ds_ctl_msg *ans, int *fds, size_t *nfds)
{
	ans->hello_ok.port = 41878;
	ans->hello_ok.families = 1;
	snprintf(ans->hello_ok.agent, sizeof(ans->hello_ok.agent), "test-agent");
	fds[0] = udp_fd;
	*nfds = 1;
}

/* SEND here means "forward a PACKET to the run named in the body": lets the test drive the
 * server's forwarding from the client side. */
static struct ds_ctl_server *srv;
static int srv_send(void *arg, struct ds_ctl_client_ref *c, const struct ds_ctl_msg *m,
		    struct ds_ctl_msg *ans)
{
	struct ds_ctl_msg f = {.type = DS_CTL_PACKET};
	uint32_t to;

	if (m->send.body_len < 4)
		return -EINVAL;
	memcpy(&to, m->send.body, 4);
	f.run_id = to;
	snprintf(f.packet.peer, sizeof(f.packet.peer), "%s", m->send.peer);
	f.packet.body = m->send.body;
	f.packet.body_len = m->send.body_len;
	ans->type = DS_CTL_SENT;
	ans->sent.counter = (uint64_t)ds_ctl_server_forward(srv, &f) + 1000;
	return 0;
}

static void srv_run_end(void *arg, uint32_t run_id, const char *tool, const char *test,
			const char *peer, uint64_t bytes, const char *outcome)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%u %s %s %s %s\n", run_id, tool, test, peer, outcome);

	(void)!write(ended_pipe[1], line, (size_t)n);
}

static void srv_stop(struct ds_loop *l, int signo, void *arg)
{
	ds_loop_stop(l);
}

static pid_t start_server(void)
{
	pid_t pid;
	int sigs[] = {SIGTERM};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL); /* no race between fork and signalfd */
	pid = fork();
	if (pid == 0) {
		struct ds_loop *l;
		struct ds_ctl_ops ops = {
		    .hello = srv_hello, .send = srv_send, .run_end = srv_run_end};

		udp_fd = socket(AF_INET, SOCK_DGRAM, 0);
		ds_loop_new(&l);
		ds_loop_signals(l, sigs, 1, srv_stop, NULL);
		if (ds_ctl_server_new(l, dir, &ops, &srv) != 0)
			_exit(3);
		(void)!write(ended_pipe[1], "up\n", 3);
		ds_loop_run(l);
		ds_ctl_server_free(srv);
		ds_loop_free(l);
		_exit(0);
	}
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	return pid;
}

static void read_line(char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap && read(ended_pipe[0], buf + n, 1) == 1 && buf[n] != '\n')
		n++;
	buf[n] = 0;
}

static void two_clients_get_only_their_own_runs_and_a_dead_one_leaves_nothing(void)
{
	struct ds_ctl_client *a = NULL, *b = NULL;
	struct ds_ctl_msg m, sent;
	uint8_t buf[DS_CTL_MSG_MAX];
	uint32_t to;
	char line[128];
	struct stat st;
	pid_t pid;
	int status;

	snprintf(dir, sizeof(dir), "/tmp/test_ctl.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	CHECK_INT(pipe(ended_pipe), 0);
	pid = start_server();
	read_line(line, sizeof(line));
	CHECK_STR(line, "up");

	snprintf((char *)buf, sizeof(buf), "%s/agent.sock", dir);
	CHECK_INT(stat((char *)buf, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0660);

	CHECK_INT(ds_ctl_connect(dir, "tool-a", 11, "echo", "hq", &a), 0);
	CHECK_INT(ds_ctl_connect(dir, "tool-b", 22, "pair", "hq", &b), 0);
	if (!a || !b)
		goto out;
	CHECK_STR(ds_ctl_agent_name(a), "test-agent");
	CHECK_INT(ds_ctl_port(a), 41878);
	CHECK(ds_ctl_sockfd(a, AF_INET) >= 0); /* the descriptor came across */
	CHECK_INT(ds_ctl_sockfd(a, AF_INET6), -1);
	/* A run id belongs to one client at a time. */
	CHECK_INT(ds_ctl_register(b, 11, "x", "hq"), -EEXIST);
	CHECK_INT(ds_ctl_register(a, 33, "x", "hq"), 0);

	/* a asks the server to forward to run 22 (b's): b gets it, a does not. */
	to = 22;
	CHECK_INT(ds_ctl_send(a, 11, "hq", 4, &to, 4, NULL, 0, &sent), 0);
	CHECK_INT(sent.sent.counter, 1000); /* forward returned 0 */
	CHECK_INT(ds_ctl_recv(b, &m, buf, sizeof(buf), 1000), 0);
	CHECK_INT(m.type, DS_CTL_PACKET);
	CHECK_INT(m.run_id, 22);
	CHECK_INT(ds_ctl_recv(a, &m, buf, sizeof(buf), 100), -ETIMEDOUT);
	/* ... and to a's second run 33: a gets it. */
	to = 33;
	CHECK_INT(ds_ctl_send(b, 22, "hq", 4, &to, 4, NULL, 0, &sent), 0);
	CHECK_INT(ds_ctl_recv(a, &m, buf, sizeof(buf), 1000), 0);
	CHECK_INT(m.run_id, 33);
	CHECK_INT(ds_ctl_recv(b, &m, buf, sizeof(buf), 100), -ETIMEDOUT);
	/* Sending under somebody else's run is refused. */
	CHECK_INT(ds_ctl_send(b, 11, "hq", 4, &to, 4, NULL, 0, &sent), -EPERM);
	/* To a run nobody holds: the server's forward says -ENOENT. */
	to = 44;
	CHECK_INT(ds_ctl_send(a, 11, "hq", 4, &to, 4, NULL, 0, &sent), 0);
	CHECK_INT((int64_t)sent.sent.counter - 1000, -ENOENT);

	/* An orderly end is audited with the tool's outcome. */
	CHECK_INT(ds_ctl_unregister(a, 33, 1234, "ok"), 0);
	read_line(line, sizeof(line));
	CHECK_STR(line, "33 tool-a x hq ok");
	/* a dies without unregistering run 11: the server drops it, audited as aborted ... */
	ds_ctl_close(a);
	a = NULL;
	read_line(line, sizeof(line));
	CHECK_STR(line, "11 tool-a echo hq aborted");
	/* ... and the run id is free again. */
	CHECK_INT(ds_ctl_register(b, 11, "x", "hq"), 0);
out:
	ds_ctl_close(a);
	ds_ctl_close(b);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The socket file goes with the server. */
	snprintf((char *)buf, sizeof(buf), "%s/agent.sock", dir);
	CHECK(access((char *)buf, F_OK) != 0);
	rmdir(dir);
}

static void connect_without_agent_says_so(void)
{
	struct ds_ctl_client *c = NULL;
	int r = ds_ctl_connect("/nonexistent-dir-for-test", "t", 0, NULL, NULL, &c);

	CHECK(r == -ENOENT || r == -ECONNREFUSED);
	CHECK(c == NULL);
}

int main(void)
{
	UNIT_RUN(every_message_type_round_trips);
	UNIT_RUN(decoder_rejects_bad_length_version_type_and_strings);
	UNIT_RUN(path_kind_never_hides_a_relay);
	UNIT_RUN(two_clients_get_only_their_own_runs_and_a_dead_one_leaves_nothing);
	UNIT_RUN(connect_without_agent_says_so);
	UNIT_EXIT();
}
