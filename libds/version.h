/* SPDX-License-Identifier: MIT */
#ifndef DS_VERSION_H
#define DS_VERSION_H

#include <stdio.h>

/* "0.1.0" */
const char *ds_version(void);
/* "openssl=3.0.x libpcap=1.10.x ldns=1.8.3 maxminddb=1.7.1 libcsv=3.0.3 libnet=1.1.6 ..." */
const char *ds_version_features(void);
/* What -V prints: "ds-stun 0.1.0\nfeatures: ...\n". */
void ds_version_print(FILE *f, const char *progname);

#endif
