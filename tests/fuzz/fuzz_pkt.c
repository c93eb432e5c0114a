// SPDX-License-Identifier: MIT
/* Captured frames from the network through ds-capture's whole path: link layer, IP, UDP or
 * ICMP error, the warm-port demultiplexer and decoders, and the capture summary. The first
 * byte picks the link type. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "decode.h"
#include "pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int dlts[] = { DS_DLT_EN10MB, DS_DLT_LINUX_SLL, DS_DLT_LINUX_SLL2, DS_DLT_RAW,
				    DS_DLT_NULL, DS_DLT_IPV4, DS_DLT_IPV6, 999 };
	struct ds_capsum *sum;
	struct ds_decoded d;
	struct ds_pkt pkt;
	char out[4096];

	if (size < 1)
		return 0;
	if (ds_capsum_new(41878, &sum) < 0)
		return 0;
	/* Twice, so the summary also matches answers to requests. */
	for (int i = 0; i < 2; i++) {
		if (ds_pkt_parse(dlts[data[0] & 7], data + 1, size - 1, &pkt) == 0) {
			ds_decode_packet(&pkt, &d);
			ds_capsum_add(sum, i, &pkt, &d);
		}
	}
	ds_decode_datagram(data + 1, size - 1, &d);
	ds_capsum_format(sum, out, sizeof(out));
	ds_capsum_free(sum);
	return 0;
}
