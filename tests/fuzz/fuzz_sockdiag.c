// SPDX-License-Identifier: MIT
/*
 * The sock_diag parser reads bytes the kernel sends (dump replies and destroy
 * notifications): chains of nlmsghdr, inet_diag_msg and rtattrs with tcp_info of any
 * kernel's length. Whatever the bytes, it must not read past them, and every socket it
 * reports must have addresses we can print.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockdiag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(const struct ds_tcp_session *s, void *arg)
{
	char a[DS_ADDR_STRLEN], b[DS_ADDR_STRLEN];
	int fam = ds_addr_family(&s->local);

	if (fam != ds_addr_family(&s->remote))
		__builtin_trap();
	if (!ds_addr_format(&s->local, true, a, sizeof(a)) ||
	    !ds_addr_format(&s->remote, true, b, sizeof(b)))
		__builtin_trap();
	(*(int *)arg)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy so ASan sees any read past the end. */
	uint8_t *copy = malloc(size ? size : 1);
	bool done;
	int calls = 0, r;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	r = ds_sockdiag_parse(copy, size, check, &calls, &done);
	if (r >= 0 && r != calls)
		__builtin_trap();
	free(copy);
	return 0;
}
