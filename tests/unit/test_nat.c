// SPDX-License-Identifier: MIT
/* libds/nat: Binding against scripted fake servers (errors, Try Alternate, wrong source,
 * duplicates), local-address checks and the SPEC's behaviour words. */
#define UNIT_NAME "test_nat"
#include "unit.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "nat.h"
#include "stun.h"
#include "stunclient.h"

enum script {
	ANSWER_OK,             /* a success with XOR-MAPPED-ADDRESS */
	ANSWER_401,            /* an error response */
	ANSWER_TRY_ALTERNATE,  /* 300 pointing at the second socket, which answers */
	ANSWER_FROM_ELSEWHERE, /* only from the second socket: must not be accepted */
	ANSWER_TWICE_WRONG_ID, /* a stray answer with another id, then the real one twice */
};

static int udp_socket(struct ds_addr *a)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t sl = sizeof(a->ss);

	ds_addr_parse("127.0.0.1:0", 0, DS_ADDR_PORT_REQUIRED, a);
	bind(fd, &a->sa, a->len);
	getsockname(fd, &a->sa, &sl);
	a->len = sl;
	return fd;
}

static void reply(int fd, const uint8_t *tid, const struct ds_addr *to, int code,
		  const struct ds_addr *alt)
{
	uint8_t buf[256];
	struct ds_stun_enc e;
	size_t len = 0;

	ds_stun_enc_init(&e, buf, sizeof(buf),
			 ds_stun_type(DS_STUN_BINDING, code ? DS_STUN_ERROR : DS_STUN_SUCCESS),
			 tid);
	if (code)
		ds_stun_enc_error(&e, code, code == 300 ? "Try Alternate" : "Unauthorized");
	else
		ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, to);
	if (alt)
		ds_stun_enc_addr(&e, DS_STUN_ATTR_ALTERNATE_SERVER, alt);
	ds_stun_enc_fingerprint(&e);
	ds_stun_enc_finish(&e, &len);
	sendto(fd, buf, len, 0, &to->sa, to->len);
}

/* Child: serve one script on s1 (primary) and s2 (alternate), then exit. */
static void serve(enum script sc, int s1, int s2, const struct ds_addr *a2)
{
	uint8_t buf[1500], tid[12];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct ds_addr from;
	ssize_t n = recvfrom(s1, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);

	if (n < 20)
		_exit(1);
	ds_addr_from_sockaddr(&from, (struct sockaddr *)&ss, sl);
	memcpy(tid, buf + 8, 12);
	switch (sc) {
	case ANSWER_OK:
		reply(s1, tid, &from, 0, NULL);
		break;
	case ANSWER_401:
		reply(s1, tid, &from, 401, NULL);
		break;
	case ANSWER_TRY_ALTERNATE:
		reply(s1, tid, &from, 300, a2);
		sl = sizeof(ss);
		n = recvfrom(s2, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
		if (n >= 20)
			reply(s2, buf + 8, &from, 0, NULL);
		break;
	case ANSWER_FROM_ELSEWHERE:
		reply(s2, tid, &from, 0, NULL);
		break;
	case ANSWER_TWICE_WRONG_ID: {
		uint8_t other[12];

		memcpy(other, tid, 12);
		other[0] ^= 0xFF;
		reply(s1, other, &from, 0, NULL);
		reply(s1, tid, &from, 0, NULL);
		reply(s1, tid, &from, 0, NULL);
		break;
	}
	}
	_exit(0);
}

static int run_script(enum script sc, struct ds_nat_binding *b, struct ds_addr *client)
{
	struct ds_nat_params np = {.retrans = {.rto_ns = 50 * DS_NSEC_PER_MSEC, .rc = 2, .rm = 2},
				   .software = "test"};
	struct ds_addr a1, a2;
	int s1 = udp_socket(&a1), s2 = udp_socket(&a2), fd = udp_socket(client), r, st;
	pid_t pid = fork();

	if (pid == 0)
		serve(sc, s1, s2, &a2);
	r = ds_nat_binding(fd, &a1, &np, b);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	close(s1);
	close(s2);
	close(fd);
	return r;
}

static void binding_returns_the_mapped_address(void)
{
	struct ds_nat_binding b;
	struct ds_addr me;

	CHECK_INT(run_script(ANSWER_OK, &b, &me), 0);
	CHECK(ds_addr_equal(&b.mapped, &me));
	CHECK_INT(b.transmissions, 1);
	CHECK_INT(b.error_code, 0);
}

static void error_response_reports_code_and_reason(void)
{
	struct ds_nat_binding b;
	struct ds_addr me;

	CHECK_INT(run_script(ANSWER_401, &b, &me), -EPROTO);
	CHECK_INT(b.error_code, 401);
	CHECK_STR(b.reason, "Unauthorized");
}

static void try_alternate_is_followed_once(void)
{
	struct ds_nat_binding b;
	struct ds_addr me;

	CHECK_INT(run_script(ANSWER_TRY_ALTERNATE, &b, &me), 0);
	CHECK(ds_addr_equal(&b.mapped, &me));
}

static void answer_from_another_address_is_not_accepted(void)
{
	struct ds_nat_binding b;
	struct ds_addr me;

	CHECK_INT(run_script(ANSWER_FROM_ELSEWHERE, &b, &me), -ETIMEDOUT);
	CHECK_INT(b.transmissions, 2);
}

static void stray_and_duplicate_answers_do_not_confuse(void)
{
	struct ds_nat_binding b;
	struct ds_addr me;

	CHECK_INT(run_script(ANSWER_TWICE_WRONG_ID, &b, &me), 0);
	CHECK(ds_addr_equal(&b.mapped, &me));
}

static void local_addresses_are_recognised(void)
{
	struct ds_addr a;

	ds_addr_parse("127.0.0.1:9", 0, DS_ADDR_PORT_REQUIRED, &a);
	CHECK(ds_nat_addr_is_local(&a));
	ds_addr_parse("192.0.2.254:9", 0, DS_ADDR_PORT_REQUIRED, &a);
	CHECK(!ds_nat_addr_is_local(&a));
}

static void socket_for_binds_the_route_source_address(void)
{
	struct ds_addr server, local;
	char buf[DS_ADDR_STRLEN];
	int fd;

	ds_addr_parse("127.0.0.2:3478", 0, DS_ADDR_PORT_REQUIRED, &server);
	fd = ds_nat_socket_for(&server, 0, &local);
	CHECK(fd >= 0);
	ds_addr_format(&local, false, buf, sizeof(buf));
	CHECK_STR(buf, "127.0.0.1");
	CHECK(ds_addr_port(&local) != 0);
	if (fd >= 0)
		close(fd);
}

static void behaviour_words_are_the_specs(void)
{
	CHECK_STR(ds_nat_mapping_name(DS_NAT_MAPPING_NONE), "no-nat");
	CHECK_STR(ds_nat_mapping_name(DS_NAT_MAPPING_ENDPOINT_INDEPENDENT), "endpoint-independent");
	CHECK_STR(ds_nat_mapping_name(DS_NAT_MAPPING_ADDRESS_DEPENDENT), "address-dependent");
	CHECK_STR(ds_nat_mapping_name(DS_NAT_MAPPING_ADDRESS_AND_PORT_DEPENDENT),
		  "address-and-port-dependent");
	CHECK_STR(ds_nat_mapping_name(DS_NAT_MAPPING_UNKNOWN), "unknown");
	CHECK_STR(ds_nat_filtering_name(DS_NAT_FILTERING_UNKNOWN), "unknown");
	CHECK_STR(ds_nat_filtering_name(DS_NAT_FILTERING_ADDRESS_DEPENDENT), "address-dependent");
	CHECK_STR(ds_nat_hairpin_name(DS_NAT_HAIRPIN_YES), "yes");
	CHECK_STR(ds_nat_hairpin_name(DS_NAT_HAIRPIN_NO), "no");
	CHECK_STR(ds_nat_hairpin_name(DS_NAT_HAIRPIN_UNKNOWN), "unknown");
}

int main(void)
{
	UNIT_RUN(binding_returns_the_mapped_address);
	UNIT_RUN(error_response_reports_code_and_reason);
	UNIT_RUN(try_alternate_is_followed_once);
	UNIT_RUN(answer_from_another_address_is_not_accepted);
	UNIT_RUN(stray_and_duplicate_answers_do_not_confuse);
	UNIT_RUN(local_addresses_are_recognised);
	UNIT_RUN(socket_for_binds_the_route_source_address);
	UNIT_RUN(behaviour_words_are_the_specs);
	UNIT_EXIT();
}
