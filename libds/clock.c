// SPDX-License-Identifier: MIT
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int64_t clock_read(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ds_timespec_ns(&ts);
}

int64_t ds_clock_ns(void)
{
	return clock_read(CLOCK_MONOTONIC);
}

int64_t ds_clock_realtime_ns(void)
{
	return clock_read(CLOCK_REALTIME);
}

int64_t ds_timespec_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * DS_NSEC_PER_SEC + ts->tv_nsec;
}

struct timespec ds_ns_timespec(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / DS_NSEC_PER_SEC, .tv_nsec = ns % DS_NSEC_PER_SEC };

	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += DS_NSEC_PER_SEC;
	}
	return ts;
}

void ds_clock_sleep_until(int64_t deadline_ns)
{
	struct timespec ts = ds_ns_timespec(deadline_ns);

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

char *ds_time_iso8601(char *buf, size_t len, int64_t realtime_ns)
{
	int64_t sec = realtime_ns / DS_NSEC_PER_SEC;
	int64_t ms = (realtime_ns % DS_NSEC_PER_SEC) / DS_NSEC_PER_MSEC;
	time_t t;
	struct tm tm;
	char date[32];

	if (ms < 0) {
		sec--;
		ms += 1000;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || !strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm)) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	snprintf(buf, len, "%s.%03dZ", date, (int)ms);
	return buf;
}

char *ds_time_now_iso8601(char *buf, size_t len)
{
	return ds_time_iso8601(buf, len, ds_clock_realtime_ns());
}

int ds_time_parse_iso8601(const char *s, int64_t *realtime_ns)
{
	struct tm tm;
	const char *p;
	int64_t ms = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		int digits = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		if (digits == 0)
			return -EINVAL;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return -EINVAL;
	/* int64 nanoseconds reach from 1678 to 2262; records are from this era. */
	if (tm.tm_year < 70 || tm.tm_year > 361)
		return -ERANGE;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*realtime_ns = (int64_t)t * DS_NSEC_PER_SEC + ms * DS_NSEC_PER_MSEC;
	return 0;
}
