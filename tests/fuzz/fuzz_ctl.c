// SPDX-License-Identifier: MIT
/* libFuzzer harness for the control protocol decoder (ds-ctl(7)): every message a local
 * tool or the agent could send. A message that decodes must encode back to the same bytes'
 * meaning: decode(encode(decode(x))) equals decode(x). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[DS_CTL_MSG_MAX];
	struct ds_ctl_msg m, m2;
	uint8_t *copy;
	int len;

	/* An exact-size heap copy so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (ds_ctl_decode(copy, size, &m) == 0) {
		len = ds_ctl_encode(&m, again, sizeof(again));
		if (len < 0 || ds_ctl_decode(again, (size_t)len, &m2) != 0 || m2.type != m.type ||
		    m2.run_id != m.run_id || m2.req_id != m.req_id)
			abort();
		if (m.type == DS_CTL_PEER_INFO &&
		    (m2.peer_info.ncands != m.peer_info.ncands ||
		     (m.peer_info.ncands &&
		      !ds_addr_equal(&m2.peer_info.cands[m.peer_info.ncands - 1].addr,
				     &m.peer_info.cands[m.peer_info.ncands - 1].addr))))
			abort();
		if (m.type == DS_CTL_USE && (!ds_addr_equal(&m2.use.addr, &m.use.addr) ||
					     m2.use.use_flags != m.use.use_flags))
			abort();
		if (m.type == DS_CTL_SEND &&
		    (m2.send.body_len != m.send.body_len ||
		     memcmp(m2.send.body, m.send.body, m.send.body_len) != 0 ||
		     strcmp(m2.send.peer, m.send.peer) != 0))
			abort();
	}
	free(copy);
	return 0;
}
