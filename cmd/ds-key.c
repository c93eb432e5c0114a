// SPDX-License-Identifier: MIT
/*
 * ds-key — an agent's X25519 key pair, written as wg writes them.
 *
 *   ds-key genkey > key; ds-key pubkey < key
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key.h"
#include "msg.h"
#include "version.h"

static const struct option long_options[] = {
	{"key", required_argument, NULL, 'k'},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void usage(void)
{
	printf("Usage: %s genkey [-k FILE]\n"
	       "       %s pubkey [-k FILE]\n"
	       "Make an agent's X25519 key pair, base64 as wg(8) writes it.\n"
	       "\n"
	       "  genkey             print a new private key (a stdout file that group or others\n"
	       "                     could read is first restricted to its owner)\n"
	       "  pubkey             read a private key on stdin, print its public key\n"
	       "  -k, --key FILE     genkey: create FILE (mode 0600, never overwritten) instead\n"
	       "                     of printing; pubkey: read FILE instead of stdin, refusing a\n"
	       "                     file that group or others can read\n"
	       "  -v, --verbose      say what was done\n"
	       "  -q, --quiet        no warnings\n"
	       "  -h, --help         this help\n"
	       "  -V, --version      version and features\n"
	       "\n"
	       "Exit status: 0 done, 1 bad key or file, 2 usage error.\n"
	       "Example: umask 077; ds-key genkey > agent.key; ds-key pubkey < agent.key\n",
	       ds_msg_progname(), ds_msg_progname());
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* `ds-key genkey > key` gets a file the shell created with the umask (often 0644); a key in
 * it would then be refused by every tool. Restrict it before the key is written; if that is
 * not possible, warn as wg does. */
static void protect_stdout(void)
{
	struct stat st;

	if (fstat(STDOUT_FILENO, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 077))
		return;
	if (fchmod(STDOUT_FILENO, st.st_mode & 0700) == 0) {
		ds_verbose("output file was mode %04o; now %04o", (unsigned)(st.st_mode & 07777),
			   (unsigned)(st.st_mode & 0700));
		return;
	}
	ds_warnx("warning: writing a private key to a file that group or others can read "
		 "(mode %04o); set umask 077 and try again",
		 (unsigned)(st.st_mode & 07777));
}

static int genkey(const char *keyfile)
{
	uint8_t priv[DS_KEY_LEN];
	char line[DS_KEY_B64_LEN + 2];
	int ret, fd = STDOUT_FILENO;

	if (ds_key_generate(priv) != 0)
		ds_errx(DS_EXIT_FAILURE, "cannot draw random bytes for a key");
	ds_key_to_base64(priv, line);
	ds_key_wipe(priv, sizeof(priv));
	line[DS_KEY_B64_LEN] = '\n';
	line[DS_KEY_B64_LEN + 1] = '\0';
	if (keyfile) {
		fd = open(keyfile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST)
			ds_errx(DS_EXIT_FAILURE, "%s: exists; a key file is never overwritten", keyfile);
		if (fd < 0)
			ds_errc(DS_EXIT_FAILURE, errno, "%s", keyfile);
	} else {
		protect_stdout();
	}
	ret = write_all(fd, line, DS_KEY_B64_LEN + 1);
	if (!ret && keyfile && fsync(fd) < 0)
		ret = -errno;
	ds_key_wipe(line, sizeof(line));
	if (keyfile && close(fd) < 0 && !ret)
		ret = -errno;
	if (ret)
		ds_errc(DS_EXIT_FAILURE, ret, "%s", keyfile ? keyfile : "stdout");
	if (keyfile)
		ds_verbose("wrote a new private key to %s (mode 0600)", keyfile);
	return DS_EXIT_OK;
}

static int pubkey(const char *keyfile)
{
	uint8_t priv[DS_KEY_LEN], pub[DS_KEY_LEN];
	char buf[DS_KEY_B64_LEN + 64], out[DS_KEY_B64_LEN + 1];
	size_t len = 0;
	mode_t mode = 0;
	int ret;

	if (keyfile) {
		ret = ds_key_load_private(keyfile, priv, &mode);
		if (ret == -EPERM)
			ds_errx(DS_EXIT_FAILURE,
				"%s: mode %04o lets group or others read the private key; "
				"chmod 600 it",
				keyfile, (unsigned)mode);
		if (ret == -EINVAL)
			ds_errx(DS_EXIT_FAILURE, "%s: not a private key (want one line of 44 "
						 "characters of base64, as genkey writes)",
				keyfile);
		if (ret)
			ds_errc(DS_EXIT_FAILURE, ret, "%s", keyfile);
	} else {
		while (len < sizeof(buf)) {
			ssize_t n = read(STDIN_FILENO, buf + len, sizeof(buf) - len);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				ds_errc(DS_EXIT_FAILURE, errno, "stdin");
			if (n == 0)
				break;
			len += (size_t)n;
		}
		ret = len < sizeof(buf) ? ds_key_from_text(buf, len, priv) : -EINVAL;
		ds_key_wipe(buf, sizeof(buf));
		if (ret)
			ds_errx(DS_EXIT_FAILURE, "stdin: not a private key (want one line of 44 "
						 "characters of base64, as genkey writes)");
	}
	ret = ds_key_public(priv, pub);
	ds_key_wipe(priv, sizeof(priv));
	if (ret)
		ds_errc(DS_EXIT_FAILURE, ret, "cannot compute the public key");
	ds_key_to_base64(pub, out);
	if (printf("%s\n", out) < 0 || fflush(stdout) != 0)
		ds_errc(DS_EXIT_FAILURE, errno, "stdout");
	return DS_EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *keyfile = NULL, *cmd;
	int c, verbosity = 0;

	ds_msg_init(argv[0]);
	opterr = 0; /* one line of our own, not getopt's */
	while ((c = getopt_long(argc, argv, ":k:vqhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (!*optarg)
				ds_usage_error("-k needs a file name");
			keyfile = optarg;
			break;
		case 'v':
			verbosity = 1;
			break;
		case 'q':
			verbosity = -1;
			break;
		case 'h':
			usage();
			return DS_EXIT_OK;
		case 'V':
			ds_version_print(stdout, ds_msg_progname());
			return DS_EXIT_OK;
		case ':':
			ds_usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt)
				ds_usage_error("unknown option '-%c'", optopt);
			ds_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	ds_msg_set_verbosity(verbosity);
	if (optind >= argc)
		ds_usage_error("a command is needed: genkey or pubkey");
	cmd = argv[optind];
	if (optind + 1 < argc)
		ds_usage_error("unexpected argument '%s'", argv[optind + 1]);
	if (strcmp(cmd, "genkey") == 0)
		return genkey(keyfile);
	if (strcmp(cmd, "pubkey") == 0)
		return pubkey(keyfile);
	ds_usage_error("unknown command '%s' (genkey or pubkey)", cmd);
}
