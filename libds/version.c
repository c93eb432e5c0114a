// SPDX-License-Identifier: MIT
#include "version.h"

#include <stdio.h>
#include <string.h>

#ifndef DS_VERSION
#define DS_VERSION "0.0.0"
#endif
#ifndef DS_DEPVERS
#define DS_DEPVERS ""
#endif

const char *ds_version(void)
{
	return DS_VERSION;
}

/* The libraries' versions as they were at build time (see the Makefile): asking the
 * libraries themselves would link every one of them into every tool. */
const char *ds_version_features(void)
{
	return DS_DEPVERS " ipv4 ipv6 kernel-timestamps";
}

void ds_version_print(FILE *f, const char *progname)
{
	fprintf(f, "%s %s\nfeatures: %s\n", progname, ds_version(), ds_version_features());
}
