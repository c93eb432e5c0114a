/* SPDX-License-Identifier: MIT */
/* Range-checked number parsing: every number a user or a file gives goes through here. */
#ifndef DS_NUM_H
#define DS_NUM_H

#include <stdint.h>

/* Whole string must be a number in [min, max]: 0, -EINVAL (not a number) or -ERANGE. */
int ds_parse_long(const char *s, long long min, long long max, long long *out);
int ds_parse_double(const char *s, double min, double max, double *out);
/* A UDP/TCP port 0..65535. */
int ds_parse_port(const char *s, uint16_t *out);
/* A duration: bare number = milliseconds, or with unit ns, us, ms, s, m, h. Result in ns. */
int ds_parse_duration_ns(const char *s, int64_t min_ns, int64_t max_ns, int64_t *out);
/* A rate in bit/s: bare number = bit/s; suffix k/K, m/M, g/G (x1000) optionally followed by
 * "bit" or "bps" (tc style: "10mbit", "2.5M", "100kbit"). */
int ds_parse_rate_bps(const char *s, double min, double max, double *out);
/* A percentage "5", "5%", "0.5%" in [0, 100]. */
int ds_parse_percent(const char *s, double *out);
/* A size in bytes: bare number, or k/K (1024), m/M, g/G. */
int ds_parse_size(const char *s, long long min, long long max, long long *out);

#endif
