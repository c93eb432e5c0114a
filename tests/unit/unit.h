/* SPDX-License-Identifier: MIT */
/*
 * A very small unit-test harness. Each test is a function; UNIT_RUN runs it and prints
 * "PASS: file/name" or "FAIL: file/name", which tests/run counts. A failed check prints
 * where and what to stderr and marks the current test failed; the test goes on.
 */
#ifndef DS_UNIT_H
#define DS_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failed_now;
static int unit_failures;

#define CHECK(cond)                                                                        \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,    \
				#cond);                                                     \
			unit_failed_now = 1;                                                \
		}                                                                           \
	} while (0)

#define CHECK_STR(got, want)                                                               \
	do {                                                                                \
		const char *g_ = (got), *w_ = (want);                                       \
		if (!g_ || strcmp(g_, w_) != 0) {                                           \
			fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n", __FILE__,     \
				__LINE__, #got, g_ ? g_ : "(null)", w_);                    \
			unit_failed_now = 1;                                                \
		}                                                                           \
	} while (0)

#define CHECK_INT(got, want)                                                               \
	do {                                                                                \
		long long g_ = (long long)(got), w_ = (long long)(want);                    \
		if (g_ != w_) {                                                             \
			fprintf(stderr, "%s:%d: %s is %lld, want %lld\n", __FILE__,          \
				__LINE__, #got, g_, w_);                                    \
			unit_failed_now = 1;                                                \
		}                                                                           \
	} while (0)

#define UNIT_RUN(fn)                                                                       \
	do {                                                                                \
		unit_failed_now = 0;                                                        \
		fn();                                                                       \
		printf("%s: %s/%s\n", unit_failed_now ? "FAIL" : "PASS", UNIT_NAME, #fn);   \
		fflush(stdout);                                                             \
		unit_failures += unit_failed_now;                                           \
	} while (0)

#define UNIT_EXIT() return unit_failures ? 1 : 0

#endif
