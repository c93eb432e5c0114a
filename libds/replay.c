// SPDX-License-Identifier: MIT
/* RFC 6479 sliding window: a ring of 64-bit words indexed by counter / 64. */
#include "replay.h"

#include <errno.h>
#include <string.h>

#define RING_BITS ((uint64_t)DS_REPLAY_WORDS * 64)

void ds_replay_init(struct ds_replay *w)
{
	memset(w, 0, sizeof(*w));
}

void ds_replay_init_floor(struct ds_replay *w, uint64_t floor)
{
	/* All bits set: every counter still inside the window counts as seen; everything
	 * below it is too old anyway. */
	w->top = floor;
	memset(w->ring, 0xff, sizeof(w->ring));
}

int ds_replay_check(const struct ds_replay *w, uint64_t counter)
{
	if (counter == 0)
		return -EINVAL;
	if (counter > w->top)
		return 0;
	if (w->top - counter >= DS_REPLAY_WINDOW)
		return -ESTALE;
	if (w->ring[(counter / 64) % DS_REPLAY_WORDS] & (UINT64_C(1) << (counter % 64)))
		return -EALREADY;
	return 0;
}

int ds_replay_accept(struct ds_replay *w, uint64_t counter)
{
	int ret = ds_replay_check(w, counter);

	if (ret)
		return ret;
	if (counter > w->top) {
		uint64_t cur = w->top / 64, next = counter / 64, words = next - cur;

		/* Clear the words the top moves past; after a jump of a whole ring, all. */
		if (words > DS_REPLAY_WORDS)
			words = DS_REPLAY_WORDS;
		for (uint64_t i = 1; i <= words; i++)
			w->ring[(cur + i) % DS_REPLAY_WORDS] = 0;
		w->top = counter;
	}
	w->ring[(counter / 64) % DS_REPLAY_WORDS] |= UINT64_C(1) << (counter % 64);
	return 0;
}
