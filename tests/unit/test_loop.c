// SPDX-License-Identifier: MIT
#define UNIT_NAME "test_loop"
#include "unit.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/socket.h>

#include "clock.h"
#include "loop.h"

struct order {
	int seen[16];
	int n;
	struct ds_loop *loop;
	struct ds_timer *cancel_me;
};

struct tctx {
	struct order *o;
	int id;
};

static void note(struct ds_loop *l, void *arg)
{
	struct tctx *c = arg;

	if (c->o->n < 16)
		c->o->seen[c->o->n++] = c->id;
	if (c->o->cancel_me)
		ds_loop_timer_disarm(l, c->o->cancel_me);
}

static void timers_fire_in_deadline_order(void)
{
	struct ds_loop *l;
	struct order o = {0};
	struct tctx ctx[5];
	struct ds_timer t[5];
	int64_t base = ds_clock_ns();
	int delays_ms[5] = {30, 10, 50, 20, 40};

	CHECK_INT(ds_loop_new(&l), 0);
	for (int i = 0; i < 5; i++) {
		ctx[i] = (struct tctx){&o, i};
		ds_timer_init(&t[i], note, &ctx[i]);
		CHECK_INT(ds_loop_timer_arm(l, &t[i], base + delays_ms[i] * DS_NSEC_PER_MSEC), 0);
	}
	CHECK_INT(ds_loop_timers(l), 5);
	while (o.n < 5 && ds_clock_ns() - base < DS_NSEC_PER_SEC)
		ds_loop_run_once(l, 100 * DS_NSEC_PER_MSEC);
	CHECK_INT(o.n, 5);
	CHECK_INT(o.seen[0], 1);
	CHECK_INT(o.seen[1], 3);
	CHECK_INT(o.seen[2], 0);
	CHECK_INT(o.seen[3], 4);
	CHECK_INT(o.seen[4], 2);
	CHECK(ds_clock_ns() - base >= 50 * DS_NSEC_PER_MSEC);
	CHECK_INT(ds_loop_timers(l), 0);
	ds_loop_free(l);
}

static void disarmed_timer_never_fires_and_rearm_moves_it(void)
{
	struct ds_loop *l;
	struct order o = {0};
	struct tctx a = {&o, 1}, b = {&o, 2}, c = {&o, 3};
	struct ds_timer ta, tb, tc;
	int64_t base = ds_clock_ns();

	CHECK_INT(ds_loop_new(&l), 0);
	ds_timer_init(&ta, note, &a);
	ds_timer_init(&tb, note, &b);
	ds_timer_init(&tc, note, &c);
	ds_loop_timer_arm(l, &ta, base + 10 * DS_NSEC_PER_MSEC);
	ds_loop_timer_arm(l, &tb, base + 20 * DS_NSEC_PER_MSEC);
	ds_loop_timer_arm(l, &tc, base + 30 * DS_NSEC_PER_MSEC);
	ds_loop_timer_disarm(l, &tb);
	ds_loop_timer_disarm(l, &tb); /* twice is fine */
	CHECK(!ds_timer_armed(&tb));
	ds_loop_timer_arm(l, &ta, base + 40 * DS_NSEC_PER_MSEC); /* moved after c */
	while (ds_loop_timers(l) && ds_clock_ns() - base < DS_NSEC_PER_SEC)
		ds_loop_run_once(l, 100 * DS_NSEC_PER_MSEC);
	CHECK_INT(o.n, 2);
	CHECK_INT(o.seen[0], 3);
	CHECK_INT(o.seen[1], 1);
	ds_loop_free(l);
}

static void callback_can_disarm_a_timer_due_in_the_same_round(void)
{
	struct ds_loop *l;
	struct order o = {0};
	struct tctx a = {&o, 1}, b = {&o, 2};
	struct ds_timer ta, tb;
	int64_t base = ds_clock_ns();

	CHECK_INT(ds_loop_new(&l), 0);
	ds_timer_init(&ta, note, &a);
	ds_timer_init(&tb, note, &b);
	ds_loop_timer_arm(l, &ta, base + 1 * DS_NSEC_PER_MSEC);
	ds_loop_timer_arm(l, &tb, base + 2 * DS_NSEC_PER_MSEC);
	o.cancel_me = &tb;
	usleep(5000); /* both due when the round starts */
	ds_loop_run_once(l, 0);
	CHECK_INT(o.n, 1);
	CHECK_INT(o.seen[0], 1);
	CHECK_INT(ds_loop_timers(l), 0);
	ds_loop_free(l);
}

struct fdctx {
	int calls;
	int other_fd;
	struct ds_loop *l;
	char got;
};

static void on_readable(struct ds_loop *l, int fd, uint32_t events, void *arg)
{
	struct fdctx *c = arg;

	c->calls++;
	if (events & EPOLLIN)
		(void)!read(fd, &c->got, 1);
	if (c->other_fd >= 0)
		ds_loop_del_fd(l, c->other_fd); /* removes the sibling's pending event */
}

static void fd_events_dispatch_and_removed_fd_gets_no_stale_event(void)
{
	struct ds_loop *l;
	int a[2], b[2];
	struct fdctx ca = {0}, cb = {0};

	CHECK_INT(ds_loop_new(&l), 0);
	CHECK_INT(socketpair(AF_UNIX, SOCK_DGRAM, 0, a), 0);
	CHECK_INT(socketpair(AF_UNIX, SOCK_DGRAM, 0, b), 0);
	ca.other_fd = b[0];
	cb.other_fd = a[0];
	CHECK_INT(ds_loop_add_fd(l, a[0], EPOLLIN, on_readable, &ca), 0);
	CHECK_INT(ds_loop_add_fd(l, b[0], EPOLLIN, on_readable, &cb), 0);
	CHECK_INT(ds_loop_add_fd(l, a[0], EPOLLIN, on_readable, &ca), -EEXIST);
	(void)!write(a[1], "x", 1);
	(void)!write(b[1], "y", 1);
	ds_loop_run_once(l, 100 * DS_NSEC_PER_MSEC);
	/* Whichever ran first removed the other: exactly one callback. */
	CHECK_INT(ca.calls + cb.calls, 1);
	CHECK_INT(ds_loop_del_fd(l, a[0]) == 0 || ds_loop_del_fd(l, b[0]) == 0, 1);
	CHECK_INT(ds_loop_del_fd(l, 12345), -ENOENT);
	close(a[0]), close(a[1]), close(b[0]), close(b[1]);
	ds_loop_free(l);
}

static int got_signal;
static void on_signal(struct ds_loop *l, int signo, void *arg)
{
	got_signal = signo;
	ds_loop_stop(l);
}

static void sigterm_arrives_as_an_event_and_stops_the_loop(void)
{
	struct ds_loop *l;
	int sigs[] = {SIGTERM, SIGINT};

	CHECK_INT(ds_loop_new(&l), 0);
	CHECK_INT(ds_loop_signals(l, sigs, 2, on_signal, NULL), 0);
	kill(getpid(), SIGTERM);
	CHECK_INT(ds_loop_run(l), 0);
	CHECK_INT(got_signal, SIGTERM);
	ds_loop_free(l);
}

static void idle_loop_with_a_far_timer_waits_without_spinning(void)
{
	struct ds_loop *l;
	struct order o = {0};
	struct tctx a = {&o, 1};
	struct ds_timer ta;
	int64_t base = ds_clock_ns();
	int rounds = 0;

	CHECK_INT(ds_loop_new(&l), 0);
	ds_timer_init(&ta, note, &a);
	ds_loop_timer_arm_in(l, &ta, 60 * DS_NSEC_PER_SEC);
	while (ds_clock_ns() - base < 50 * DS_NSEC_PER_MSEC) {
		ds_loop_run_once(l, 50 * DS_NSEC_PER_MSEC);
		rounds++;
	}
	CHECK(rounds <= 2);
	CHECK_INT(o.n, 0);
	ds_loop_free(l);
}

int main(void)
{
	UNIT_RUN(timers_fire_in_deadline_order);
	UNIT_RUN(disarmed_timer_never_fires_and_rearm_moves_it);
	UNIT_RUN(callback_can_disarm_a_timer_due_in_the_same_round);
	UNIT_RUN(fd_events_dispatch_and_removed_fd_gets_no_stale_event);
	UNIT_RUN(sigterm_arrives_as_an_event_and_stops_the_loop);
	UNIT_RUN(idle_loop_with_a_far_timer_waits_without_spinning);
	UNIT_EXIT();
}
