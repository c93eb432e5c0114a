// SPDX-License-Identifier: MIT
#include "num.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"

int ds_parse_long(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 0);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Split "2.5mbit" into 2.5 and "mbit". */
static int number_and_unit(const char *s, double *v, const char **unit)
{
	char *end;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*v = strtod(s, &end);
	if (end == s || errno == ERANGE || !isfinite(*v))
		return -EINVAL;
	*unit = end;
	return 0;
}

int ds_parse_double(const char *s, double min, double max, double *out)
{
	const char *unit;
	double v;

	if (number_and_unit(s, &v, &unit) < 0 || *unit)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int ds_parse_port(const char *s, uint16_t *out)
{
	long long v;
	int r;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	r = ds_parse_long(s, 0, 65535, &v);
	if (r == 0)
		*out = (uint16_t)v;
	return r;
}

int ds_parse_duration_ns(const char *s, int64_t min_ns, int64_t max_ns, int64_t *out)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {
		{ "", 1e6 },	  { "ns", 1 },	     { "us", 1e3 },	 { "ms", 1e6 },
		{ "s", 1e9 },	  { "m", 60e9 },     { "min", 60e9 },	 { "h", 3600e9 },
	};
	const char *unit;
	double v;
	size_t i;

	if (number_and_unit(s, &v, &unit) < 0 || v < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			double ns = v * units[i].ns;

			if (ns < (double)min_ns || ns > (double)max_ns)
				return -ERANGE;
			*out = (int64_t)llround(ns);
			return 0;
		}
	}
	return -EINVAL;
}

int ds_parse_rate_bps(const char *s, double min, double max, double *out)
{
	const char *unit;
	double v, mult = 1;

	if (number_and_unit(s, &v, &unit) < 0 || v < 0)
		return -EINVAL;
	switch (*unit) {
	case 'k': case 'K': mult = 1e3; unit++; break;
	case 'm': case 'M': mult = 1e6; unit++; break;
	case 'g': case 'G': mult = 1e9; unit++; break;
	default: break;
	}
	if (*unit && strcasecmp(unit, "bit") != 0 && strcasecmp(unit, "bps") != 0 &&
	    strcasecmp(unit, "bit/s") != 0)
		return -EINVAL;
	v *= mult;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int ds_parse_percent(const char *s, double *out)
{
	const char *unit;
	double v;

	if (number_and_unit(s, &v, &unit) < 0)
		return -EINVAL;
	if (*unit && strcmp(unit, "%") != 0)
		return -EINVAL;
	if (v < 0 || v > 100)
		return -ERANGE;
	*out = v;
	return 0;
}

int ds_parse_size(const char *s, long long min, long long max, long long *out)
{
	const char *unit;
	double v, mult = 1;

	if (number_and_unit(s, &v, &unit) < 0 || v < 0)
		return -EINVAL;
	switch (*unit) {
	case 'k': case 'K': mult = 1024; unit++; break;
	case 'm': case 'M': mult = 1024 * 1024; unit++; break;
	case 'g': case 'G': mult = 1024.0 * 1024 * 1024; unit++; break;
	default: break;
	}
	if (*unit == 'b' || *unit == 'B')
		unit++;
	if (*unit)
		return -EINVAL;
	v *= mult;
	if (v != floor(v))
		return -EINVAL;
	if (v < (double)min || v > (double)max)
		return -ERANGE;
	*out = (long long)v;
	return 0;
}
