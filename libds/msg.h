/* SPDX-License-Identifier: MIT */
/*
 * err(3)-like messages for the programs in cmd/: "ds-stun: cannot parse server 'x'".
 * This is the one libds module that writes to stderr or exits, and only cmd/ calls it;
 * the rest of libds returns negative errno values and leaves the wording to the caller.
 */
#ifndef DS_MSG_H
#define DS_MSG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#define DS_EXIT_OK      0
#define DS_EXIT_FAILURE 1 /* runtime failure: no answer, no path */
#define DS_EXIT_USAGE   2 /* bad command line */

/* Set the program name (basename of argv[0]); verbosity: -1 quiet, 0 normal, 1+ verbose. */
void ds_msg_init(const char *argv0);
void ds_msg_set_verbosity(int level);
int ds_msg_verbosity(void);
const char *ds_msg_progname(void);

__attribute__((format(printf, 1, 2))) void ds_warnx(const char *fmt, ...);
/* Appends ": strerror(errnum)" (errnum positive or negative). */
__attribute__((format(printf, 2, 3))) void ds_warnc(int errnum, const char *fmt, ...);
/* Only with -v. */
__attribute__((format(printf, 1, 2))) void ds_verbose(const char *fmt, ...);
__attribute__((noreturn, format(printf, 2, 3))) void ds_errx(int status, const char *fmt, ...);
__attribute__((noreturn, format(printf, 3, 4))) void ds_errc(int status, int errnum,
							     const char *fmt, ...);
/* One-line usage error and exit 2: "ds-x: MESSAGE (try -h)". */
__attribute__((noreturn, format(printf, 1, 2))) void ds_usage_error(const char *fmt, ...);

/* Option values for cmd/: parsed through libds/num.h, or a one-line usage error naming the
 * option and echoing the value ("ds-x: -m wants a number from 1 to 255, not '0'"), exit 2. */
long long ds_opt_long(const char *opt, const char *value, long long min, long long max);
int64_t ds_opt_duration_ns(const char *opt, const char *value, int64_t min_ns, int64_t max_ns);
uint16_t ds_opt_port(const char *opt, const char *value);

/* In a getopt_long loop with opterr = 0 and ':' leading the short options: the options
 * every tool shares. -q, -v; -h prints usage and exits 0; -V prints the version of `tool`
 * and exits 0; a missing value or an unknown option is a usage error. True when ch was
 * one of these (the others return having handled it or exit). */
bool ds_opt_common(int ch, char **argv, const char *usage, const char *tool);
/* The one PEER operand after the options (argv[optind]): a valid peer name, else a usage
 * error ("missing PEER", "one PEER only", "bad peer name"). */
const char *ds_opt_peer(int argc, char **argv);

#endif
