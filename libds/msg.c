// SPDX-License-Identifier: MIT
#include "msg.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"
#include "peers.h"
#include "version.h"

static const char *progname = "ds";
static int verbosity;

void ds_msg_init(const char *argv0)
{
	const char *slash;

	if (!argv0 || !*argv0)
		return;
	slash = strrchr(argv0, '/');
	progname = slash ? slash + 1 : argv0;
}

void ds_msg_set_verbosity(int level)
{
	verbosity = level;
}

int ds_msg_verbosity(void)
{
	return verbosity;
}

const char *ds_msg_progname(void)
{
	return progname;
}

static void vmsg(int errnum, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		line[0] = '\0';
	if (errnum)
		fprintf(stderr, "%s: %s: %s\n", progname, line, strerror(abs(errnum)));
	else
		fprintf(stderr, "%s: %s\n", progname, line);
}

void ds_warnx(const char *fmt, ...)
{
	va_list ap;

	if (verbosity < 0)
		return;
	va_start(ap, fmt);
	vmsg(0, fmt, ap);
	va_end(ap);
}

void ds_warnc(int errnum, const char *fmt, ...)
{
	va_list ap;

	if (verbosity < 0)
		return;
	va_start(ap, fmt);
	vmsg(errnum, fmt, ap);
	va_end(ap);
}

void ds_verbose(const char *fmt, ...)
{
	va_list ap;

	if (verbosity < 1)
		return;
	va_start(ap, fmt);
	vmsg(0, fmt, ap);
	va_end(ap);
}

/* Errors that end the program are printed even with -q: the exit code alone hides why. */
void ds_errx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(0, fmt, ap);
	va_end(ap);
	exit(status);
}

void ds_errc(int status, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(errnum, fmt, ap);
	va_end(ap);
	exit(status);
}

void ds_usage_error(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s (try '%s -h')\n", progname, line, progname);
	exit(DS_EXIT_USAGE);
}

long long ds_opt_long(const char *opt, const char *value, long long min, long long max)
{
	long long v;

	if (ds_parse_long(value, min, max, &v) < 0)
		ds_usage_error("%s wants a number from %lld to %lld, not '%s'", opt, min, max,
			       value);
	return v;
}

int64_t ds_opt_duration_ns(const char *opt, const char *value, int64_t min_ns, int64_t max_ns)
{
	int64_t v;

	if (ds_parse_duration_ns(value, min_ns, max_ns, &v) < 0)
		ds_usage_error("%s wants a duration such as 20ms or 1s, not '%s'", opt, value);
	return v;
}

uint16_t ds_opt_port(const char *opt, const char *value)
{
	uint16_t p;

	if (ds_parse_port(value, &p) < 0)
		ds_usage_error("%s wants a port 0-65535, not '%s'", opt, value);
	return p;
}

bool ds_opt_common(int ch, char **argv, const char *usage, const char *tool)
{
	switch (ch) {
	case 'q':
		ds_msg_set_verbosity(-1);
		return true;
	case 'v':
		ds_msg_set_verbosity(ds_msg_verbosity() + 1);
		return true;
	case 'h':
		fputs(usage, stdout);
		exit(0);
	case 'V':
		ds_version_print(stdout, tool);
		exit(0);
	case ':':
		ds_usage_error("option '%s' needs a value", argv[optind - 1]);
	case '?':
		if (optopt)
			ds_usage_error("unknown option '-%c'", optopt);
		ds_usage_error("unknown option '%s'", argv[optind - 1]);
	default:
		return false;
	}
}

const char *ds_opt_peer(int argc, char **argv)
{
	if (optind >= argc)
		ds_usage_error("missing PEER");
	if (optind != argc - 1)
		ds_usage_error("one PEER only, not '%s'", argv[optind + 1]);
	if (!ds_peers_name_ok(argv[optind]))
		ds_usage_error("bad peer name '%s' (1-63 characters of A-Z a-z 0-9 . _ -)",
			       argv[optind]);
	return argv[optind];
}
