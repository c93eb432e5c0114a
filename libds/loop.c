// SPDX-License-Identifier: MIT
/* ds_loop: epoll + one timerfd armed at the top of a binary heap of timers + a signalfd. */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "clock.h"

#define MAX_EVENTS 64

struct watch {
	ds_loop_fd_fn fn;
	void *arg;
	uint32_t gen; /* bumped on every add, so a stale event of a reused fd is ignored */
	bool active;
};

struct ds_loop {
	int epfd;
	int timerfd;
	int sigfd;
	int64_t timerfd_deadline; /* what timerfd is armed for; 0 = disarmed */
	struct watch *watches;    /* indexed by fd */
	size_t nwatches;
	struct ds_timer **heap;
	size_t nheap, capheap;
	sigset_t sigset;
	ds_loop_signal_fn sig_fn;
	void *sig_arg;
	bool stop;
};

void ds_timer_init(struct ds_timer *t, ds_loop_timer_fn fn, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->fn = fn;
	t->arg = arg;
}

/* The timerfd and signalfd are watched with a reserved "gen" of 0 in the top half, which a
 * user watch never has (user generations start at 1). */
#define TAG_TIMER  ((uint64_t)1 << 63)
#define TAG_SIGNAL ((uint64_t)1 << 62)

int ds_loop_new(struct ds_loop **out)
{
	struct ds_loop *l = calloc(1, sizeof(*l));
	struct epoll_event ev = {.events = EPOLLIN};
	int err;

	if (!l)
		return -ENOMEM;
	l->sigfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->epfd < 0 || l->timerfd < 0)
		goto fail;
	ev.data.u64 = TAG_TIMER;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->timerfd, &ev) < 0)
		goto fail;
	*out = l;
	return 0;
fail:
	err = -errno;
	ds_loop_free(l);
	return err;
}

void ds_loop_free(struct ds_loop *l)
{
	if (!l)
		return;
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->timerfd >= 0)
		close(l->timerfd);
	if (l->sigfd >= 0)
		close(l->sigfd);
	for (size_t i = 0; i < l->nheap; i++)
		l->heap[i]->heap_index = 0;
	free(l->heap);
	free(l->watches);
	free(l);
}

static int watch_grow(struct ds_loop *l, int fd)
{
	size_t n = l->nwatches ? l->nwatches : 16;
	struct watch *w;

	while (n <= (size_t)fd)
		n *= 2;
	if (n == l->nwatches)
		return 0;
	w = realloc(l->watches, n * sizeof(*w));
	if (!w)
		return -ENOMEM;
	memset(w + l->nwatches, 0, (n - l->nwatches) * sizeof(*w));
	l->watches = w;
	l->nwatches = n;
	return 0;
}

int ds_loop_add_fd(struct ds_loop *l, int fd, uint32_t events, ds_loop_fd_fn fn, void *arg)
{
	struct epoll_event ev = {.events = events};
	struct watch *w;
	int err;

	if (fd < 0 || !fn)
		return -EINVAL;
	err = watch_grow(l, fd);
	if (err)
		return err;
	w = &l->watches[fd];
	if (w->active)
		return -EEXIST;
	w->gen++;
	if (w->gen == 0)
		w->gen = 1;
	ev.data.u64 = (uint64_t)w->gen << 32 | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	w->fn = fn;
	w->arg = arg;
	w->active = true;
	return 0;
}

int ds_loop_mod_fd(struct ds_loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events};

	if (fd < 0 || (size_t)fd >= l->nwatches || !l->watches[fd].active)
		return -ENOENT;
	ev.data.u64 = (uint64_t)l->watches[fd].gen << 32 | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int ds_loop_del_fd(struct ds_loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nwatches || !l->watches[fd].active)
		return -ENOENT;
	l->watches[fd].active = false;
	l->watches[fd].fn = NULL;
	/* The fd may already be closed by a careless caller; the entry is gone either way. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	return 0;
}

/* ---- timer heap (min-heap on deadline_ns; heap_index is 1-based, 0 = not in it) ---- */

static void heap_set(struct ds_loop *l, size_t i, struct ds_timer *t)
{
	l->heap[i] = t;
	t->heap_index = i + 1;
}

static void heap_up(struct ds_loop *l, size_t i)
{
	struct ds_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (l->heap[parent]->deadline_ns <= t->deadline_ns)
			break;
		heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	heap_set(l, i, t);
}

static void heap_down(struct ds_loop *l, size_t i)
{
	struct ds_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && l->heap[c + 1]->deadline_ns < l->heap[c]->deadline_ns)
			c++;
		if (t->deadline_ns <= l->heap[c]->deadline_ns)
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

static void heap_remove(struct ds_loop *l, struct ds_timer *t)
{
	size_t i = t->heap_index - 1;
	struct ds_timer *last = l->heap[--l->nheap];

	t->heap_index = 0;
	if (last == t)
		return;
	heap_set(l, i, last);
	heap_up(l, i);
	heap_down(l, last->heap_index - 1);
}

/* Arm the timerfd for the earliest deadline (or disarm it) when that changed. */
static void timerfd_sync(struct ds_loop *l)
{
	int64_t want = l->nheap ? l->heap[0]->deadline_ns : 0;
	struct itimerspec its = {0};

	if (want == l->timerfd_deadline)
		return;
	if (want > 0)
		its.it_value = ds_ns_timespec(want);
	timerfd_settime(l->timerfd, want > 0 ? TFD_TIMER_ABSTIME : 0, &its, NULL);
	l->timerfd_deadline = want;
}

int ds_loop_timer_arm(struct ds_loop *l, struct ds_timer *t, int64_t deadline_ns)
{
	if (deadline_ns < 1)
		deadline_ns = 1;
	if (t->heap_index) {
		t->deadline_ns = deadline_ns;
		heap_up(l, t->heap_index - 1);
		heap_down(l, t->heap_index - 1);
		timerfd_sync(l);
		return 0;
	}
	if (l->nheap == l->capheap) {
		size_t n = l->capheap ? l->capheap * 2 : 64;
		struct ds_timer **h = realloc(l->heap, n * sizeof(*h));

		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->capheap = n;
	}
	t->deadline_ns = deadline_ns;
	heap_set(l, l->nheap++, t);
	heap_up(l, l->nheap - 1);
	timerfd_sync(l);
	return 0;
}

int ds_loop_timer_arm_in(struct ds_loop *l, struct ds_timer *t, int64_t delay_ns)
{
	return ds_loop_timer_arm(l, t, ds_clock_ns() + (delay_ns > 0 ? delay_ns : 0));
}

void ds_loop_timer_disarm(struct ds_loop *l, struct ds_timer *t)
{
	if (!t->heap_index)
		return;
	heap_remove(l, t);
	timerfd_sync(l);
}

size_t ds_loop_timers(const struct ds_loop *l)
{
	return l->nheap;
}

int ds_loop_signals(struct ds_loop *l, const int *signals, size_t n, ds_loop_signal_fn fn,
		    void *arg)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_SIGNAL};
	sigset_t set;
	int fd;

	sigemptyset(&set);
	for (size_t i = 0; i < n; i++)
		sigaddset(&set, signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(l->sigfd, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sigfd < 0 && epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	l->sigfd = fd;
	l->sigset = set;
	l->sig_fn = fn;
	l->sig_arg = arg;
	return 0;
}

static int run_timers(struct ds_loop *l)
{
	int64_t now = ds_clock_ns();
	int ran = 0;
	uint64_t expirations;

	/* Drain the timerfd; whether it fired or not, the heap is the truth. */
	while (read(l->timerfd, &expirations, sizeof(expirations)) > 0)
		;
	l->timerfd_deadline = 0;
	/* A timer re-armed for "now" by its own callback runs in the next round, not in a
	 * loop here: only timers due at the start of the round run. */
	while (l->nheap && l->heap[0]->deadline_ns <= now) {
		struct ds_timer *t = l->heap[0];

		heap_remove(l, t);
		t->fn(l, t->arg);
		ran++;
		if (l->stop)
			break;
	}
	timerfd_sync(l);
	return ran;
}

static int run_signals(struct ds_loop *l)
{
	struct signalfd_siginfo si;
	int ran = 0;

	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (l->sig_fn)
			l->sig_fn(l, (int)si.ssi_signo, l->sig_arg);
		ran++;
	}
	return ran;
}

int ds_loop_run_once(struct ds_loop *l, int64_t max_wait_ns)
{
	struct epoll_event ev[MAX_EVENTS];
	int timeout_ms = -1, n, ran = 0;
	bool timers_due = false;

	if (max_wait_ns >= 0)
		timeout_ms = (int)((max_wait_ns + DS_NSEC_PER_MSEC - 1) / DS_NSEC_PER_MSEC);
	if (l->nheap && l->heap[0]->deadline_ns <= ds_clock_ns())
		timeout_ms = 0;
	n = epoll_wait(l->epfd, ev, MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;
		int fd = (int)(uint32_t)tag;
		uint32_t gen = (uint32_t)(tag >> 32);
		struct watch *w;

		if (tag == TAG_TIMER) {
			timers_due = true;
			continue;
		}
		if (tag == TAG_SIGNAL) {
			ran += run_signals(l);
			continue;
		}
		if ((size_t)fd >= l->nwatches)
			continue;
		w = &l->watches[fd];
		if (!w->active || w->gen != gen)
			continue; /* removed (or replaced) by an earlier callback of this round */
		w->fn(l, fd, ev[i].events, w->arg);
		ran++;
		if (l->stop)
			return ran;
	}
	if (timers_due || (l->nheap && l->heap[0]->deadline_ns <= ds_clock_ns()))
		ran += run_timers(l);
	return ran;
}

int ds_loop_run(struct ds_loop *l)
{
	l->stop = false;
	while (!l->stop) {
		int r = ds_loop_run_once(l, -1);

		if (r < 0)
			return r;
	}
	return 0;
}

void ds_loop_stop(struct ds_loop *l)
{
	l->stop = true;
}
