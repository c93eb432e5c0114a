/* SPDX-License-Identifier: MIT */
/*
 * Sliding-window replay protection for one sender session (RFC 6479 bitmap, the scheme of
 * IPsec ESP and WireGuard). Counters are the 64-bit packet counters of ds-wire(7); they
 * start at 1 and strictly increase per sender session. The window accepts every counter at
 * most once, in any order, as long as it is no more than DS_REPLAY_WINDOW below the highest
 * counter accepted so far.
 *
 * Check before authenticating (cheap drop), mark only after the packet authenticated: a
 * forged packet must never move the window (RFC 6479 section 2).
 *
 * The ring has one word more than the window so that advancing the top clears whole words
 * instead of shifting the bitmap (RFC 6479 section 2, figure 3).
 */
#ifndef DS_REPLAY_H
#define DS_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define DS_REPLAY_WINDOW 2048
#define DS_REPLAY_WORDS  (DS_REPLAY_WINDOW / 64 + 1)

struct ds_replay {
	uint64_t top; /* highest counter accepted; 0 = none yet */
	uint64_t ring[DS_REPLAY_WORDS];
};

/* Empty window: every counter >= 1 is acceptable once. */
void ds_replay_init(struct ds_replay *w);
/* Window that has "seen" every counter <= floor: used when a session is proven live at
 * counter `floor`, so nothing it sent before the proof is ever accepted. */
void ds_replay_init_floor(struct ds_replay *w, uint64_t floor);
/* 0 = acceptable, -EALREADY = seen before (replay), -ESTALE = too old (below the window),
 * -EINVAL = counter 0. Does not change the window. */
int ds_replay_check(const struct ds_replay *w, uint64_t counter);
/* Check and mark as seen. Same results; only 0 changes the window. */
int ds_replay_accept(struct ds_replay *w, uint64_t counter);

#endif
