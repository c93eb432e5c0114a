/* SPDX-License-Identifier: MIT */
/* One monotonic nanosecond clock for every measurement, and UTC timestamps for records. */
#ifndef DS_CLOCK_H
#define DS_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DS_NSEC_PER_SEC  1000000000LL
#define DS_NSEC_PER_MSEC 1000000LL
#define DS_NSEC_PER_USEC 1000LL

/* CLOCK_MONOTONIC in nanoseconds: for intervals, deadlines and RTTs. */
int64_t ds_clock_ns(void);
/* CLOCK_REALTIME in nanoseconds since the Unix epoch: for record timestamps only. */
int64_t ds_clock_realtime_ns(void);
int64_t ds_timespec_ns(const struct timespec *ts);
struct timespec ds_ns_timespec(int64_t ns);
/* Sleep until the monotonic deadline (absolute); restarts after signals. */
void ds_clock_sleep_until(int64_t deadline_ns);

/* "2026-11-23T12:00:00.123Z" (24 chars + NUL). Returns buf. */
#define DS_ISO8601_LEN 25
char *ds_time_iso8601(char *buf, size_t len, int64_t realtime_ns);
/* The same for now. */
char *ds_time_now_iso8601(char *buf, size_t len);
/* Parse the format above (also without milliseconds); 0, -EINVAL, or -ERANGE outside the
 * years 1970..2261. */
int ds_time_parse_iso8601(const char *s, int64_t *realtime_ns);

#endif
