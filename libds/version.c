// SPDX-License-Identifier: MIT
#include "version.h"

#include <csv.h>
#include <ldns/ldns.h>
#include <libnet.h>
#include <maxminddb.h>
#include <openssl/crypto.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#ifndef DS_VERSION
#define DS_VERSION "0.0.0"
#endif

const char *ds_version(void)
{
	return DS_VERSION;
}

const char *ds_version_features(void)
{
	static char buf[512];
	const char *pcap = pcap_lib_version();
	const char *pv = strstr(pcap, "version ");
	char pcapver[32];

	if (buf[0])
		return buf;
	snprintf(pcapver, sizeof(pcapver), "%s", pv ? pv + 8 : pcap);
	pcapver[strcspn(pcapver, " (")] = '\0';
	snprintf(buf, sizeof(buf),
		 "openssl=%s libpcap=%s ldns=%s maxminddb=%s libcsv=%d.%d.%d libnet=%s "
		 "ipv6 kernel-timestamps",
		 OpenSSL_version(OPENSSL_VERSION_STRING), pcapver, ldns_version(),
		 MMDB_lib_version(), CSV_MAJOR, CSV_MINOR, CSV_RELEASE, libnet_version());
	return buf;
}

void ds_version_print(FILE *f, const char *progname)
{
	fprintf(f, "%s %s\nfeatures: %s\n", progname, ds_version(), ds_version_features());
}
