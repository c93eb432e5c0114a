// SPDX-License-Identifier: MIT
/* libFuzzer harness for the STUN decoder: ds_stun_parse, the iterator and every getter. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use_attr(const struct ds_stun_msg *m, const struct ds_stun_attr *a)
{
	struct ds_addr addr;
	char s[DS_STUN_MAX_SOFTWARE + 1];
	uint16_t types[8];
	uint32_t u32;
	uint64_t u64;
	uint16_t u16;
	size_t n;
	int code;

	/* every getter on every attribute: each must check the length itself */
	ds_stun_attr_u32(a, &u32);
	ds_stun_attr_u64(a, &u64);
	ds_stun_attr_str(a, s, sizeof(s));
	ds_stun_attr_str(a, s, 4);
	ds_stun_attr_addr(a, &addr);
	ds_stun_attr_xor_addr(m, a, &addr);
	ds_stun_attr_error(a, &code, s, sizeof(s));
	ds_stun_attr_error(a, &code, s, 2);
	ds_stun_attr_unknown(a, types, 8, &n);
	ds_stun_attr_change_request(a, &u32);
	ds_stun_attr_response_port(a, &u16);
	ds_stun_attr_password_algorithm(a, &u16);
	ds_stun_attr_password_algorithms(a, types, 8, &n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DS_STUN_MAX_MSG];
	struct ds_stun_msg m, m2;
	struct ds_stun_iter it;
	struct ds_stun_attr a;
	struct ds_stun_enc e;
	struct ds_addr addr;
	unsigned count = 0;
	size_t len;

	ds_stun_is_stun(data, size);
	if (ds_stun_parse(data, size, &m, NULL) < 0)
		return 0;
	ds_stun_get_addr(&m, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, &addr);
	ds_stun_get_addr(&m, DS_STUN_ATTR_OTHER_ADDRESS, &addr);
	ds_stun_check_integrity(&m, "key", 3);
	ds_stun_check_integrity_sha256(&m, "key", 3);
	/* answer it as a server would; the answer must parse */
	memset(&addr, 0, sizeof(addr));
	addr.sin.sin_family = AF_INET;
	addr.len = sizeof(addr.sin);
	if (ds_stun_answer_binding(&m, &addr, "fuzz", out, 512, &len) == 0 &&
	    ds_stun_parse(out, len, &m2, NULL) < 0)
		__builtin_trap();

	/* Re-encode what the iterator yields; the copy must parse again. */
	ds_stun_enc_init(&e, out, sizeof(out), m.type & 0x3FFF, m.tid);
	ds_stun_iter_init(&it, &m);
	while (ds_stun_iter_next(&it, &a)) {
		use_attr(&m, &a);
		count++;
		if (a.type != DS_STUN_ATTR_FINGERPRINT &&
		    a.type != DS_STUN_ATTR_MESSAGE_INTEGRITY &&
		    a.type != DS_STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
			ds_stun_enc_attr(&e, a.type, a.val, a.len);
	}
	if (count != m.n_attrs)
		__builtin_trap();
	ds_stun_enc_integrity(&e, "key", 3);
	ds_stun_enc_fingerprint(&e);
	if (ds_stun_enc_finish(&e, &len) == 0) {
		if (ds_stun_parse(out, len, &m2, NULL) < 0 ||
		    ds_stun_check_integrity(&m2, "key", 3))
			__builtin_trap();
	}
	return 0;
}
