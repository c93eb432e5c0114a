// SPDX-License-Identifier: MIT
/* STUN client transactions: matching by id and source, retransmission schedule, bad answers. */
#define UNIT_NAME "test_stunclient"
#include "unit.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "stun.h"
#include "stunclient.h"

/* A client socket and a "server" socket on 127.0.0.1, both on free ports. */
struct pair {
	int cfd, sfd;
	struct ds_addr caddr, saddr;
};

static int bound_socket(struct ds_addr *a)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	socklen_t sl = sizeof(a->ss);

	CHECK(ds_addr_parse("127.0.0.1:0", 0, DS_ADDR_PORT_REQUIRED, a) == 0);
	CHECK(bind(fd, &a->sa, a->len) == 0);
	CHECK(getsockname(fd, &a->sa, &sl) == 0);
	a->len = sl;
	return fd;
}

static void pair_open(struct pair *p)
{
	p->cfd = bound_socket(&p->caddr);
	p->sfd = bound_socket(&p->saddr);
}

static void pair_close(struct pair *p)
{
	close(p->cfd);
	close(p->sfd);
}

static size_t binding_request(uint8_t *buf, size_t cap)
{
	struct ds_stun_enc e;
	size_t len = 0;

	ds_stun_enc_init(&e, buf, cap, ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST), NULL);
	ds_stun_enc_fingerprint(&e);
	CHECK(ds_stun_enc_finish(&e, &len) == 0);
	return len;
}

/* A Binding success answer to tid reporting `mapped`, with an optional extra attribute. */
static size_t binding_answer(uint8_t *buf, size_t cap, const uint8_t *tid,
			     const struct ds_addr *mapped, enum ds_stun_class cls, uint16_t extra)
{
	struct ds_stun_enc e;
	size_t len = 0;

	ds_stun_enc_init(&e, buf, cap, ds_stun_type(DS_STUN_BINDING, cls), tid);
	ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, mapped);
	if (extra)
		ds_stun_enc_u32(&e, extra, 0);
	ds_stun_enc_fingerprint(&e);
	CHECK(ds_stun_enc_finish(&e, &len) == 0);
	return len;
}

static int count_received(int fd, int64_t wait_ns)
{
	uint8_t buf[1500];
	int n = 0;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	while (poll(&pfd, 1, (int)(wait_ns / DS_NSEC_PER_MSEC)) > 0)
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			n++;
	return n;
}

static void answer_from_the_server_completes_and_duplicates_are_ignored(void)
{
	struct ds_stun_client *c = NULL;
	struct pair p;
	uint8_t req[64], ans[128];
	size_t rl, al;
	struct ds_stun_msg m;
	struct ds_addr got;
	const struct ds_stun_txn_info *info;
	int id;

	pair_open(&p);
	CHECK_INT(ds_stun_client_new(NULL, &c), 0);
	rl = binding_request(req, sizeof(req));
	id = ds_stun_client_start(c, p.cfd, &p.saddr, NULL, req, rl, 0);
	CHECK(id >= 0);
	CHECK_INT(ds_stun_client_pending(c), 1);
	al = binding_answer(ans, sizeof(ans), req + 8, &p.caddr, DS_STUN_SUCCESS, 0);
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &p.saddr, ds_clock_ns()), id);
	CHECK_INT(ds_stun_client_pending(c), 0);
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &p.saddr, ds_clock_ns()), -EALREADY);
	info = ds_stun_client_info(c, id);
	CHECK(info && info->state == DS_STUN_TXN_DONE);
	CHECK_INT(info->duplicates, 1);
	CHECK_INT(info->transmissions, 1);
	CHECK(info->rtt_ns >= 0);
	CHECK_INT(ds_stun_client_response(c, id, &m), 0);
	CHECK_INT(ds_stun_get_addr(&m, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, &got), 0);
	CHECK(ds_addr_equal(&got, &p.caddr));
	CHECK_INT(ds_stun_client_tick(c, ds_clock_ns()), -1);
	ds_stun_client_free(c);
	pair_close(&p);
}

static void answers_from_the_wrong_source_or_socket_are_rejected(void)
{
	struct ds_stun_client *c = NULL;
	struct pair p;
	uint8_t req[64], ans[128];
	struct ds_addr rogue;
	size_t rl, al;
	int id;

	pair_open(&p);
	ds_stun_client_new(NULL, &c);
	rl = binding_request(req, sizeof(req));
	id = ds_stun_client_start(c, p.cfd, &p.saddr, NULL, req, rl, 0);
	al = binding_answer(ans, sizeof(ans), req + 8, &p.caddr, DS_STUN_SUCCESS, 0);
	rogue = p.saddr;
	ds_addr_set_port(&rogue, (uint16_t)(ds_addr_port(&p.saddr) + 1));
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &rogue, ds_clock_ns()), -EPERM);
	CHECK_INT(ds_stun_client_input(c, p.sfd, ans, al, &p.saddr, ds_clock_ns()), -EPERM);
	CHECK_INT(ds_stun_client_pending(c), 1);
	CHECK_INT(ds_stun_client_info(c, id)->wrong_source, 2);
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &p.saddr, ds_clock_ns()), id);
	ds_stun_client_free(c);
	pair_close(&p);
}

static void change_request_answers_must_come_from_the_expected_address(void)
{
	struct ds_stun_client *c = NULL;
	struct pair p;
	uint8_t req[64], ans[128];
	struct ds_addr other;
	size_t rl, al;
	int id;

	pair_open(&p);
	ds_stun_client_new(NULL, &c);
	rl = binding_request(req, sizeof(req));
	ds_addr_parse("127.0.0.2:3479", 0, DS_ADDR_PORT_REQUIRED, &other);
	id = ds_stun_client_start(c, p.cfd, &p.saddr, &other, req, rl, 0);
	al = binding_answer(ans, sizeof(ans), req + 8, &p.caddr, DS_STUN_SUCCESS, 0);
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &p.saddr, ds_clock_ns()), -EPERM);
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &other, ds_clock_ns()), id);
	ds_stun_client_free(c);
	pair_close(&p);
}

static void unknown_ids_requests_and_garbage_are_not_ours(void)
{
	struct ds_stun_client *c = NULL;
	struct pair p;
	uint8_t req[64], ans[128], tid[12] = {1};
	size_t rl, al;
	int id;

	pair_open(&p);
	ds_stun_client_new(NULL, &c);
	rl = binding_request(req, sizeof(req));
	id = ds_stun_client_start(c, p.cfd, &p.saddr, NULL, req, rl, 0);
	CHECK(id >= 0);
	al = binding_answer(ans, sizeof(ans), tid, &p.caddr, DS_STUN_SUCCESS, 0);
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &p.saddr, 0), -ENOENT);
	CHECK_INT(ds_stun_client_input(c, p.cfd, req, rl, &p.saddr, 0), -ENOENT); /* a request */
	CHECK_INT(ds_stun_client_input(c, p.cfd, "hello", 5, &p.saddr, 0), -ENOENT);
	/* our id but a broken FINGERPRINT */
	al = binding_answer(ans, sizeof(ans), req + 8, &p.caddr, DS_STUN_SUCCESS, 0);
	ans[al - 1] ^= 1;
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &p.saddr, 0), -EBADMSG);
	/* truncated: no longer STUN-shaped */
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al - 4, &p.saddr, 0), -ENOENT);
	CHECK_INT(ds_stun_client_pending(c), 1);
	CHECK_INT(ds_stun_client_info(c, id)->malformed, 1);
	ds_stun_client_free(c);
	pair_close(&p);
}

static void unknown_comprehension_required_attribute_fails_the_transaction(void)
{
	struct ds_stun_client *c = NULL;
	struct pair p;
	uint8_t req[64], ans[128];
	size_t rl, al;
	int id;

	pair_open(&p);
	ds_stun_client_new(NULL, &c);
	rl = binding_request(req, sizeof(req));
	id = ds_stun_client_start(c, p.cfd, &p.saddr, NULL, req, rl, 0);
	al = binding_answer(ans, sizeof(ans), req + 8, &p.caddr, DS_STUN_SUCCESS, 0x7ABC);
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &p.saddr, 0), -EBADMSG);
	CHECK_INT(ds_stun_client_info(c, id)->state, DS_STUN_TXN_FAILED);
	CHECK_INT(ds_stun_client_info(c, id)->error, -EPROTO);
	/* an error response without ERROR-CODE fails it too (§6.3.4) */
	rl = binding_request(req, sizeof(req));
	id = ds_stun_client_start(c, p.cfd, &p.saddr, NULL, req, rl, 0);
	al = binding_answer(ans, sizeof(ans), req + 8, &p.caddr, DS_STUN_ERROR, 0);
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &p.saddr, 0), -EBADMSG);
	CHECK_INT(ds_stun_client_info(c, id)->state, DS_STUN_TXN_FAILED);
	/* an optional unknown attribute is fine */
	rl = binding_request(req, sizeof(req));
	id = ds_stun_client_start(c, p.cfd, &p.saddr, NULL, req, rl, 0);
	al = binding_answer(ans, sizeof(ans), req + 8, &p.caddr, DS_STUN_SUCCESS, 0xCABC);
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &p.saddr, 0), id);
	ds_stun_client_free(c);
	pair_close(&p);
}

static void retransmits_per_rfc8489_schedule_then_times_out_and_late_answers_are_ignored(void)
{
	struct ds_stun_retrans rp = {.rto_ns = 20 * DS_NSEC_PER_MSEC, .rc = 4, .rm = 3};
	struct ds_stun_client *c = NULL;
	struct pair p;
	uint8_t req[64], ans[128];
	size_t rl, al;
	int64_t t0, took;
	const struct ds_stun_txn_info *info;
	int id;

	/* sends at 0, 20, 60, 140 ms; times out 3 x 20 ms after the last: 200 ms */
	CHECK_INT(ds_stun_retrans_timeout_ns(&rp), 200 * DS_NSEC_PER_MSEC);
	pair_open(&p);
	ds_stun_client_new(&rp, &c);
	rl = binding_request(req, sizeof(req));
	t0 = ds_clock_ns();
	id = ds_stun_client_start(c, p.cfd, &p.saddr, NULL, req, rl, 0);
	CHECK_INT(ds_stun_client_run(c), 0);
	took = ds_clock_ns() - t0;
	info = ds_stun_client_info(c, id);
	CHECK_INT(info->state, DS_STUN_TXN_TIMEOUT);
	CHECK_INT(info->transmissions, 4);
	CHECK(took >= 195 * DS_NSEC_PER_MSEC && took < 400 * DS_NSEC_PER_MSEC);
	CHECK(info->last_sent_ns - info->first_sent_ns >= 135 * DS_NSEC_PER_MSEC);
	CHECK_INT(count_received(p.sfd, 10 * DS_NSEC_PER_MSEC), 4);
	al = binding_answer(ans, sizeof(ans), req + 8, &p.caddr, DS_STUN_SUCCESS, 0);
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &p.saddr, ds_clock_ns()), -EALREADY);
	CHECK_INT(
	    ds_stun_retrans_timeout_ns(&(struct ds_stun_retrans){500 * DS_NSEC_PER_MSEC, 7, 16}),
	    39500 * DS_NSEC_PER_MSEC);
	ds_stun_client_free(c);
	pair_close(&p);
}

/* A long-lived client (the agent's: one refresh every 20 s for months) must not keep every
 * transaction it ever ran: an ended one is forgotten once its schedule is over. */
static void ended_transactions_expire_so_the_table_stays_bounded(void)
{
	/* schedule: sends at 0 and 1 ms, gives up 2 ms after the last: 3 ms in all */
	struct ds_stun_retrans rp = {.rto_ns = DS_NSEC_PER_MSEC, .rc = 2, .rm = 2};
	struct ds_stun_client *c = NULL;
	struct pair p;
	uint8_t req[64], ans[128], first_tid[DS_STUN_TID_LEN];
	size_t rl, al, most = 0;
	int id, first = -1;

	pair_open(&p);
	CHECK_INT(ds_stun_client_new(&rp, &c), 0);
	for (int i = 0; i < 2000; i++) {
		rl = binding_request(req, sizeof(req));
		id = ds_stun_client_start(c, p.cfd, &p.saddr, NULL, req, rl, 0);
		CHECK(id >= 0);
		if (i == 0) {
			first = id;
			memcpy(first_tid, req + 8, DS_STUN_TID_LEN);
		}
		if (i % 2) { /* half answered at once, half left to time out */
			al = binding_answer(ans, sizeof(ans), req + 8, &p.caddr, DS_STUN_SUCCESS,
					    0);
			CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &p.saddr, ds_clock_ns()),
				  id);
		}
		ds_stun_client_tick(c, ds_clock_ns());
		if (ds_stun_client_count(c) > most)
			most = ds_stun_client_count(c);
		while (recv(p.sfd, ans, sizeof(ans), MSG_DONTWAIT) > 0)
			;
		nanosleep(&(struct timespec){0, 50000}, NULL);
	}
	/* At least 50 us apart, so one 3 ms schedule holds at most about 60 of them (timers
	 * only ever make the sleeps longer, which holds fewer). */
	CHECK(most <= 100);
	/* A forgotten transaction: no handle, and a late answer to it is no longer ours. */
	CHECK(ds_stun_client_info(c, first) == NULL);
	CHECK_INT(ds_stun_client_response(c, first, &(struct ds_stun_msg){0}), -EINVAL);
	al = binding_answer(ans, sizeof(ans), first_tid, &p.caddr, DS_STUN_SUCCESS, 0);
	CHECK_INT(ds_stun_client_input(c, p.cfd, ans, al, &p.saddr, ds_clock_ns()), -ENOENT);
	/* The latest one is still readable, and handles were never reused. */
	CHECK(ds_stun_client_info(c, id) != NULL);
	CHECK_INT(id, 1999 + first);
	ds_stun_client_free(c);
	pair_close(&p);
}

static void max_wait_cuts_the_schedule_short(void)
{
	struct ds_stun_client *c = NULL;
	struct pair p;
	uint8_t req[64];
	size_t rl;
	int64_t t0, took;
	int id;

	pair_open(&p);
	ds_stun_client_new(NULL, &c);
	rl = binding_request(req, sizeof(req));
	t0 = ds_clock_ns();
	id = ds_stun_client_start(c, p.cfd, &p.saddr, NULL, req, rl, 50 * DS_NSEC_PER_MSEC);
	CHECK_INT(ds_stun_client_run(c), 0);
	took = ds_clock_ns() - t0;
	CHECK_INT(ds_stun_client_info(c, id)->state, DS_STUN_TXN_TIMEOUT);
	CHECK_INT(ds_stun_client_info(c, id)->transmissions, 1);
	CHECK(took >= 45 * DS_NSEC_PER_MSEC && took < 300 * DS_NSEC_PER_MSEC);
	ds_stun_client_free(c);
	pair_close(&p);
}

/* The server socket answers once the first retransmission arrives: run() matches it. */
static void run_matches_a_real_answer_over_the_socket(void)
{
	struct ds_stun_retrans rp = {.rto_ns = 30 * DS_NSEC_PER_MSEC, .rc = 3, .rm = 2};
	struct ds_stun_client *c = NULL;
	struct pair p;
	uint8_t req[64], ans[128];
	size_t rl, al;
	int id;

	pair_open(&p);
	ds_stun_client_new(&rp, &c);
	rl = binding_request(req, sizeof(req));
	/* answer in advance: it waits in the client's socket buffer */
	al = binding_answer(ans, sizeof(ans), req + 8, &p.caddr, DS_STUN_SUCCESS, 0);
	id = ds_stun_client_start(c, p.cfd, &p.saddr, NULL, req, rl, 0);
	CHECK(sendto(p.sfd, ans, al, 0, &p.caddr.sa, p.caddr.len) == (ssize_t)al);
	CHECK(sendto(p.sfd, ans, al, 0, &p.caddr.sa, p.caddr.len) == (ssize_t)al);
	CHECK_INT(ds_stun_client_run(c), 0);
	CHECK_INT(ds_stun_client_info(c, id)->state, DS_STUN_TXN_DONE);
	CHECK_INT(ds_stun_client_info(c, id)->duplicates, 1);
	ds_stun_client_free(c);
	pair_close(&p);
}

/* A borrowed socket: answers arrive on another descriptor, through the redirect's read(). */
struct fwd {
	int send_fd, poll_fd;
	unsigned tracked, reads;
};

static int fwd_track(void *arg, const uint8_t tid[DS_STUN_TID_LEN])
{
	((struct fwd *)arg)->tracked++;
	return 0;
}

static int fwd_read(void *arg, struct ds_stun_client *c)
{
	struct fwd *f = arg;
	uint8_t buf[1500];
	struct ds_addr from;
	socklen_t sl = sizeof(from.ss);
	ssize_t n;

	f->reads++;
	while ((n = recvfrom(f->poll_fd, buf, sizeof(buf), MSG_DONTWAIT, &from.sa, &sl)) > 0) {
		from.len = sl;
		ds_stun_client_feed(c, f->send_fd, buf, (size_t)n, &from, ds_clock_ns());
		sl = sizeof(from.ss);
	}
	return 0;
}

static void redirected_socket_gets_answers_through_its_reader(void)
{
	struct ds_stun_retrans rp = {.rto_ns = 30 * DS_NSEC_PER_MSEC, .rc = 3, .rm = 2};
	struct ds_stun_client *c = NULL;
	struct pair p;
	struct ds_addr other;
	uint8_t req[64], ans[128];
	size_t rl, al;
	int ofd = bound_socket(&other), id;
	struct fwd f;
	struct ds_stun_redirect rd;

	pair_open(&p);
	f = (struct fwd){.send_fd = p.cfd, .poll_fd = ofd};
	rd = (struct ds_stun_redirect){
	    .send_fd = p.cfd, .poll_fd = ofd, .arg = &f, .track = fwd_track, .read = fwd_read};
	ds_stun_client_new(&rp, &c);
	CHECK_INT(ds_stun_client_redirect(c, &rd), 0);
	rl = binding_request(req, sizeof(req));
	id = ds_stun_client_start(c, p.cfd, &p.saddr, NULL, req, rl, 0);
	CHECK_INT(f.tracked, 1);
	/* the "agent" forwards the answer to the other socket; one left on cfd is not read */
	al = binding_answer(ans, sizeof(ans), req + 8, &p.caddr, DS_STUN_SUCCESS, 0);
	CHECK(sendto(p.sfd, ans, al, 0, &other.sa, other.len) == (ssize_t)al);
	CHECK_INT(ds_stun_client_run(c), 0);
	CHECK_INT(ds_stun_client_info(c, id)->state, DS_STUN_TXN_DONE);
	CHECK(f.reads >= 1);
	ds_stun_client_free(c);
	close(ofd);
	pair_close(&p);
}

int main(void)
{
	UNIT_RUN(answer_from_the_server_completes_and_duplicates_are_ignored);
	UNIT_RUN(answers_from_the_wrong_source_or_socket_are_rejected);
	UNIT_RUN(change_request_answers_must_come_from_the_expected_address);
	UNIT_RUN(unknown_ids_requests_and_garbage_are_not_ours);
	UNIT_RUN(unknown_comprehension_required_attribute_fails_the_transaction);
	UNIT_RUN(retransmits_per_rfc8489_schedule_then_times_out_and_late_answers_are_ignored);
	UNIT_RUN(max_wait_cuts_the_schedule_short);
	UNIT_RUN(ended_transactions_expire_so_the_table_stays_bounded);
	UNIT_RUN(run_matches_a_real_answer_over_the_socket);
	UNIT_RUN(redirected_socket_gets_answers_through_its_reader);
	UNIT_EXIT();
}
