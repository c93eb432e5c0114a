/* SPDX-License-Identifier: MIT */
/*
 * A pcapng writer (draft-ietf-opsawg-pcapng): one Section Header Block, one Interface
 * Description Block with nanosecond timestamps, then Enhanced Packet Blocks. libpcap reads
 * pcapng but writes only pcap; ISP tickets and Wireshark want pcapng with the capture's
 * comment, so the toolkit writes its own.
 */
#ifndef DS_PCAPNG_H
#define DS_PCAPNG_H

#include <stdint.h>
#include <stdio.h>

struct ds_pcapng;

/* Start a file on f: SHB (with comment, may be NULL) and one IDB for linktype. */
int ds_pcapng_new(FILE *f, int linktype, uint32_t snaplen, const char *ifname,
		  const char *comment, struct ds_pcapng **out);
/* One Enhanced Packet Block; ts in ns since the Unix epoch. 0 or -EIO. */
int ds_pcapng_write(struct ds_pcapng *w, int64_t ts_ns, const void *data, uint32_t caplen,
		    uint32_t origlen);
/* Flush buffered blocks to the file. */
int ds_pcapng_flush(struct ds_pcapng *w);
/* Flush and free (does not close f). 0 or -EIO. NULL accepted. */
int ds_pcapng_free(struct ds_pcapng *w);

#endif
