/* SPDX-License-Identifier: MIT */
/*
 * One epoll event loop: file descriptor callbacks, one-shot timers and signals.
 *
 * Timers are caller-owned structs (embed a struct ds_timer in the object it belongs to) kept
 * in a binary heap; one timerfd is armed at the earliest deadline, so timers fire with
 * nanosecond resolution on CLOCK_MONOTONIC and an idle loop makes no wake-ups at all.
 * Signals arrive through a signalfd: they are blocked in the process and handled as events,
 * never in an async handler.
 *
 * Callbacks may add and remove descriptors and timers, including their own, at any time;
 * an event already fetched for a descriptor removed in the same round is not delivered.
 */
#ifndef DS_LOOP_H
#define DS_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct ds_loop;

typedef void (*ds_loop_fd_fn)(struct ds_loop *l, int fd, uint32_t events, void *arg);
typedef void (*ds_loop_timer_fn)(struct ds_loop *l, void *arg);
typedef void (*ds_loop_signal_fn)(struct ds_loop *l, int signo, void *arg);

/* A timer: zero-initialise (or ds_timer_init), then ds_loop_timer_arm. */
struct ds_timer {
	int64_t deadline_ns; /* CLOCK_MONOTONIC, ds_clock_ns() */
	ds_loop_timer_fn fn;
	void *arg;
	size_t heap_index; /* position in the heap + 1; 0 = not armed */
};

void ds_timer_init(struct ds_timer *t, ds_loop_timer_fn fn, void *arg);
static inline bool ds_timer_armed(const struct ds_timer *t)
{
	return t->heap_index != 0;
}

/* 0, -ENOMEM or -errno from epoll_create1/timerfd_create. */
int ds_loop_new(struct ds_loop **out);
/* Frees the loop (not the caller's descriptors; signals stay blocked). NULL is fine. */
void ds_loop_free(struct ds_loop *l);

/* Watch fd for events (EPOLLIN, EPOLLOUT, ...; level-triggered unless EPOLLET is given).
 * -EEXIST when fd is watched already, -ENOMEM, -errno from epoll_ctl. */
int ds_loop_add_fd(struct ds_loop *l, int fd, uint32_t events, ds_loop_fd_fn fn, void *arg);
int ds_loop_mod_fd(struct ds_loop *l, int fd, uint32_t events);
/* Stop watching fd (before closing it). -ENOENT when not watched. */
int ds_loop_del_fd(struct ds_loop *l, int fd);

/* Arm (or re-arm) t at an absolute monotonic deadline; fires once. 0 or -ENOMEM. */
int ds_loop_timer_arm(struct ds_loop *l, struct ds_timer *t, int64_t deadline_ns);
/* The same, relative to now. */
int ds_loop_timer_arm_in(struct ds_loop *l, struct ds_timer *t, int64_t delay_ns);
/* Disarm; fine on a timer that is not armed. */
void ds_loop_timer_disarm(struct ds_loop *l, struct ds_timer *t);
/* Number of armed timers. */
size_t ds_loop_timers(const struct ds_loop *l);

/* Block the signals (sigprocmask) and deliver them through fn. Replaces an earlier set.
 * 0 or -errno. */
int ds_loop_signals(struct ds_loop *l, const int *signals, size_t n, ds_loop_signal_fn fn,
		    void *arg);

/* Wait once for events (at most max_wait_ns; -1 = until something happens) and dispatch
 * them and every expired timer. Returns the number of callbacks run, or -errno. */
int ds_loop_run_once(struct ds_loop *l, int64_t max_wait_ns);
/* Run until ds_loop_stop. 0, or -errno on an epoll failure. */
int ds_loop_run(struct ds_loop *l);
/* Make ds_loop_run return after the current round (callable from any callback). */
void ds_loop_stop(struct ds_loop *l);

#endif
