// SPDX-License-Identifier: MIT
#define UNIT_NAME "replay"
#include "unit.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "replay.h"

static void in_order_counters_accepted_once(void)
{
	struct ds_replay w;

	ds_replay_init(&w);
	for (uint64_t c = 1; c <= 5000; c++)
		CHECK_INT(ds_replay_accept(&w, c), 0);
	for (uint64_t c = 4990; c <= 5000; c++)
		CHECK_INT(ds_replay_accept(&w, c), -EALREADY);
	CHECK_INT(ds_replay_accept(&w, 0), -EINVAL);
}

static void reordered_within_window_accepted_once(void)
{
	struct ds_replay w;

	ds_replay_init(&w);
	CHECK_INT(ds_replay_accept(&w, 100), 0);
	CHECK_INT(ds_replay_accept(&w, 98), 0);
	CHECK_INT(ds_replay_accept(&w, 99), 0);
	CHECK_INT(ds_replay_accept(&w, 99), -EALREADY);
	CHECK_INT(ds_replay_accept(&w, 1), 0); /* still inside the window */
	CHECK_INT(ds_replay_accept(&w, 1), -EALREADY);
	CHECK_INT(ds_replay_accept(&w, 3000), 0);
	/* exactly the window: top - c < DS_REPLAY_WINDOW */
	CHECK_INT(ds_replay_check(&w, 3000 - DS_REPLAY_WINDOW + 1), 0);
	CHECK_INT(ds_replay_check(&w, 3000 - DS_REPLAY_WINDOW), -ESTALE);
	CHECK_INT(ds_replay_accept(&w, 100), -ESTALE);
	CHECK_INT(ds_replay_accept(&w, 2999), 0);
}

static void check_does_not_mark(void)
{
	struct ds_replay w;

	ds_replay_init(&w);
	CHECK_INT(ds_replay_check(&w, 7), 0);
	CHECK_INT(ds_replay_check(&w, 7), 0);
	CHECK_INT(ds_replay_accept(&w, 7), 0);
	CHECK_INT(ds_replay_check(&w, 7), -EALREADY);
}

static void big_jump_clears_ring(void)
{
	struct ds_replay w;

	ds_replay_init(&w);
	for (uint64_t c = 1; c <= 2100; c++)
		ds_replay_accept(&w, c);
	CHECK_INT(ds_replay_accept(&w, 1000000), 0);
	/* counters that alias old bits in the ring are fresh, not "seen" */
	for (uint64_t c = 1000000 - DS_REPLAY_WINDOW + 1; c < 1000000; c++)
		if (ds_replay_check(&w, c) != 0) {
			CHECK_INT(ds_replay_check(&w, c), 0);
			break;
		}
	CHECK_INT(ds_replay_accept(&w, UINT64_MAX), 0);
	CHECK_INT(ds_replay_accept(&w, UINT64_MAX), -EALREADY);
	CHECK_INT(ds_replay_accept(&w, UINT64_MAX - 1), 0);
}

static void floor_marks_everything_before(void)
{
	struct ds_replay w;

	ds_replay_init_floor(&w, 500);
	CHECK_INT(ds_replay_check(&w, 500), -EALREADY);
	CHECK_INT(ds_replay_check(&w, 499), -EALREADY);
	CHECK_INT(ds_replay_check(&w, 1), -EALREADY);
	CHECK_INT(ds_replay_accept(&w, 501), 0);
	CHECK_INT(ds_replay_accept(&w, 700), 0);
	CHECK_INT(ds_replay_accept(&w, 600), 0); /* between: was never marked by the floor */
	CHECK_INT(ds_replay_accept(&w, 450), -EALREADY);
}

/* Against a plain set of seen counters: random arrival order within and outside the
 * window gives the same verdicts. */
static void matches_reference_model(void)
{
	enum { N = 20000 };
	static uint8_t seen[N + 1];
	struct ds_replay w;
	uint64_t top = 0;
	int bad = 0;

	srand(7);
	ds_replay_init(&w);
	for (int i = 0; i < 200000; i++) {
		uint64_t c;
		int want, got;

		if (top < 10 || rand() % 4 == 0)
			c = top + 1 + (uint64_t)(rand() % 40);
		else
			c = top - (uint64_t)(rand() % (DS_REPLAY_WINDOW + 200));
		if (c == 0 || c > N)
			continue;
		if (c + DS_REPLAY_WINDOW <= top)
			want = -ESTALE;
		else if (seen[c])
			want = -EALREADY;
		else
			want = 0;
		got = ds_replay_accept(&w, c);
		if (got != want && !bad++)
			fprintf(stderr, "counter %llu top %llu: got %d want %d\n",
				(unsigned long long)c, (unsigned long long)top, got, want);
		if (want == 0) {
			seen[c] = 1;
			if (c > top)
				top = c;
		}
	}
	CHECK_INT(bad, 0);
}

int main(void)
{
	UNIT_RUN(in_order_counters_accepted_once);
	UNIT_RUN(reordered_within_window_accepted_once);
	UNIT_RUN(check_does_not_mark);
	UNIT_RUN(big_jump_clears_ring);
	UNIT_RUN(floor_marks_everything_before);
	UNIT_RUN(matches_reference_model);
	UNIT_EXIT();
}
