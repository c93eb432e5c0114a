// SPDX-License-Identifier: MIT
/*
 * ds-ctlstun: what ds-stun --state will do. Borrows the agent's warm IPv4 socket (the
 * descriptor comes over the control socket with SCM_RIGHTS), registers a STUN transaction
 * id, sends a Binding request from the warm port and gets the answer forwarded by the agent.
 *   ds-ctlstun --state DIR SERVER:PORT
 * Prints "mapped ADDR:PORT via agent port N" and exits 0, or 1 when no answer came.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ctl.h"
#include "stun.h"

int main(int argc, char **argv)
{
	struct ds_ctl_client *c;
	struct ds_ctl_msg m;
	struct ds_stun_enc e;
	struct ds_stun_msg sm;
	struct ds_addr server, mapped;
	uint8_t req[64], tid[DS_STUN_TID_LEN], buf[DS_CTL_MSG_MAX];
	char s[DS_ADDR_STRLEN];
	size_t len;
	int fd, err;

	if (argc != 4 || strcmp(argv[1], "--state") != 0 ||
	    ds_addr_parse(argv[3], 3478, DS_ADDR_PORT_OPTIONAL, &server) != 0)
		return 2;
	err = ds_ctl_connect(argv[2], "ds-ctlstun", 0, NULL, NULL, &c);
	if (err) {
		fprintf(stderr, "ds-ctlstun: connect: %s\n", strerror(-err));
		return 1;
	}
	fd = ds_ctl_sockfd(c, AF_INET);
	if (fd < 0 || ds_stun_tid_random(tid) != 0)
		return 1;
	ds_stun_enc_init(&e, req, sizeof(req), ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST), tid);
	ds_stun_enc_fingerprint(&e);
	if (ds_stun_enc_finish(&e, &len) != 0 || ds_ctl_stun_register(c, tid) != 0)
		return 1;
	if (sendto(fd, req, len, 0, &server.sa, server.len) != (ssize_t)len)
		return 1;
	for (int i = 0; i < 20; i++) {
		if (ds_ctl_recv(c, &m, buf, sizeof(buf), 100) != 0 || m.type != DS_CTL_STUN)
			continue;
		if (ds_stun_parse(m.stun.data, m.stun.len, &sm, NULL) != 0 ||
		    memcmp(sm.tid, tid, sizeof(tid)) != 0 ||
		    ds_stun_get_addr(&sm, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped) != 0)
			continue;
		printf("mapped %s via agent port %u kernel_stamp %d\n",
		       ds_addr_format(&mapped, true, s, sizeof(s)), ds_ctl_port(c),
		       m.stun.rx_kernel);
		ds_ctl_close(c);
		return 0;
	}
	ds_ctl_close(c);
	printf("no answer\n");
	return 1;
}
