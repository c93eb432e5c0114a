// SPDX-License-Identifier: MIT
/* STUN codec: RFC 5769 and RFC 8489 B.1 vectors byte-exact both ways, and bad input. */
#define UNIT_NAME "test_stun"
#include "unit.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "stun.h"

/* RFC 5769 §2.1 Sample Request (padding bytes are 0x20 in the RFC). */
static const uint8_t req_2_1[] = {
    0x00, 0x01, 0x00, 0x58, /* Request type and message length */
    0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
    0xb7, 0xe7, 0xa7, 0x01, /* } */
    0xbc, 0x34, 0xd6, 0x86, /* }  Transaction ID */
    0xfa, 0x87, 0xdf, 0xae, /* } */
    0x80, 0x22, 0x00, 0x10, /* SOFTWARE attribute header */
    0x53, 0x54, 0x55, 0x4e, /* } */
    0x20, 0x74, 0x65, 0x73, /* }  User-agent... */
    0x74, 0x20, 0x63, 0x6c, /* }  ...name */
    0x69, 0x65, 0x6e, 0x74, /* } */
    0x00, 0x24, 0x00, 0x04, /* PRIORITY attribute header */
    0x6e, 0x00, 0x01, 0xff, /* ICE priority value */
    0x80, 0x29, 0x00, 0x08, /* ICE-CONTROLLED attribute header */
    0x93, 0x2f, 0xf9, 0xb1, /* }  Pseudo-random tie breaker... */
    0x51, 0x26, 0x3b, 0x36, /* }   ...for ICE control */
    0x00, 0x06, 0x00, 0x09, /* USERNAME attribute header */
    0x65, 0x76, 0x74, 0x6a, /* } */
    0x3a, 0x68, 0x36, 0x76, /* }  Username (9 bytes) and padding (3 bytes) */
    0x59, 0x20, 0x20, 0x20, /* } */
    0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY attribute header */
    0x9a, 0xea, 0xa7, 0x0c, /* } */
    0xbf, 0xd8, 0xcb, 0x56, /* } */
    0x78, 0x1e, 0xf2, 0xb5, /* }  HMAC-SHA1 fingerprint */
    0xb2, 0xd3, 0xf2, 0x49, /* } */
    0xc1, 0xb5, 0x71, 0xa2, /* } */
    0x80, 0x28, 0x00, 0x04, /* FINGERPRINT attribute header */
    0xe5, 0x7a, 0x3b, 0xcf, /* CRC32 fingerprint */
};

/* RFC 5769 §2.2 Sample IPv4 Response (padding byte 0x20). */
static const uint8_t resp_2_2[] = {
    0x01, 0x01, 0x00, 0x3c, /* Response type and message length */
    0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
    0xb7, 0xe7, 0xa7, 0x01, /* } */
    0xbc, 0x34, 0xd6, 0x86, /* }  Transaction ID */
    0xfa, 0x87, 0xdf, 0xae, /* } */
    0x80, 0x22, 0x00, 0x0b, /* SOFTWARE attribute header */
    0x74, 0x65, 0x73, 0x74, /* } */
    0x20, 0x76, 0x65, 0x63, /* }  UTF-8 server name */
    0x74, 0x6f, 0x72, 0x20, /* } */
    0x00, 0x20, 0x00, 0x08, /* XOR-MAPPED-ADDRESS attribute header */
    0x00, 0x01, 0xa1, 0x47, /* Address family (IPv4) and xor'd mapped port number */
    0xe1, 0x12, 0xa6, 0x43, /* Xor'd mapped IPv4 address */
    0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY attribute header */
    0x2b, 0x91, 0xf5, 0x99, /* } */
    0xfd, 0x9e, 0x90, 0xc3, /* } */
    0x8c, 0x74, 0x89, 0xf9, /* }  HMAC-SHA1 fingerprint */
    0x2a, 0xf9, 0xba, 0x53, /* } */
    0xf0, 0x6b, 0xe7, 0xd7, /* } */
    0x80, 0x28, 0x00, 0x04, /* FINGERPRINT attribute header */
    0xc0, 0x7d, 0x4c, 0x96, /* CRC32 fingerprint */
};

/* RFC 5769 §2.3 Sample IPv6 Response. */
static const uint8_t resp_2_3[] = {
    0x01, 0x01, 0x00, 0x48, /* Response type and message length */
    0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
    0xb7, 0xe7, 0xa7, 0x01, /* } */
    0xbc, 0x34, 0xd6, 0x86, /* }  Transaction ID */
    0xfa, 0x87, 0xdf, 0xae, /* } */
    0x80, 0x22, 0x00, 0x0b, /* SOFTWARE attribute header */
    0x74, 0x65, 0x73, 0x74, /* } */
    0x20, 0x76, 0x65, 0x63, /* }  UTF-8 server name */
    0x74, 0x6f, 0x72, 0x20, /* } */
    0x00, 0x20, 0x00, 0x14, /* XOR-MAPPED-ADDRESS attribute header */
    0x00, 0x02, 0xa1, 0x47, /* Address family (IPv6) and xor'd mapped port number */
    0x01, 0x13, 0xa9, 0xfa, /* } */
    0xa5, 0xd3, 0xf1, 0x79, /* }  Xor'd mapped IPv6 address */
    0xbc, 0x25, 0xf4, 0xb5, /* } */
    0xbe, 0xd2, 0xb9, 0xd9, /* } */
    0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY attribute header */
    0xa3, 0x82, 0x95, 0x4e, /* } */
    0x4b, 0xe6, 0x7b, 0xf1, /* } */
    0x17, 0x84, 0xc9, 0x7c, /* }  HMAC-SHA1 fingerprint */
    0x82, 0x92, 0xc2, 0x75, /* } */
    0xbf, 0xe3, 0xed, 0x41, /* } */
    0x80, 0x28, 0x00, 0x04, /* FINGERPRINT attribute header */
    0xc8, 0xfb, 0x0b, 0x4c, /* CRC32 fingerprint */
};

/* RFC 5769 §2.4 Sample Request with Long-Term Authentication. */
static const uint8_t req_2_4[] = {
    0x00, 0x01, 0x00, 0x60, /* Request type and message length */
    0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
    0x78, 0xad, 0x34, 0x33, /* } */
    0xc6, 0xad, 0x72, 0xc0, /* }  Transaction ID */
    0x29, 0xda, 0x41, 0x2e, /* } */
    0x00, 0x06, 0x00, 0x12, /* USERNAME attribute header */
    0xe3, 0x83, 0x9e, 0xe3, /* } */
    0x83, 0x88, 0xe3, 0x83, /* } */
    0xaa, 0xe3, 0x83, 0x83, /* }  Username value (18 bytes) and padding (2 bytes) */
    0xe3, 0x82, 0xaf, 0xe3, /* } */
    0x82, 0xb9, 0x00, 0x00, /* } */
    0x00, 0x15, 0x00, 0x1c, /* NONCE attribute header */
    0x66, 0x2f, 0x2f, 0x34, /* } */
    0x39, 0x39, 0x6b, 0x39, /* } */
    0x35, 0x34, 0x64, 0x36, /* } */
    0x4f, 0x4c, 0x33, 0x34, /* }  Nonce value */
    0x6f, 0x4c, 0x39, 0x46, /* } */
    0x53, 0x54, 0x76, 0x79, /* } */
    0x36, 0x34, 0x73, 0x41, /* } */
    0x00, 0x14, 0x00, 0x0b, /* REALM attribute header */
    0x65, 0x78, 0x61, 0x6d, /* } */
    0x70, 0x6c, 0x65, 0x2e, /* }  Realm value (11 bytes) and padding (1 byte) */
    0x6f, 0x72, 0x67, 0x00, /* } */
    0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY attribute header */
    0xf6, 0x70, 0x24, 0x65, /* } */
    0x6d, 0xd6, 0x4a, 0x3e, /* } */
    0x02, 0xb8, 0xe0, 0x71, /* }  HMAC-SHA1 fingerprint */
    0x2e, 0x85, 0xc9, 0xa2, /* } */
    0x8c, 0xa8, 0x96, 0x66, /* } */
};

/* RFC 8489 Appendix B.1 as corrected by erratum 6268 (length 0x90, PASSWORD-ALGORITHM). */
static const uint8_t req_b_1[] = {
    0x00, 0x01, 0x00, 0x90, /* Request type and message length */
    0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
    0x78, 0xad, 0x34, 0x33, /* } */
    0xc6, 0xad, 0x72, 0xc0, /* }  Transaction ID */
    0x29, 0xda, 0x41, 0x2e, /* } */
    0x00, 0x1e, 0x00, 0x20, /* USERHASH attribute header */
    0x4a, 0x3c, 0xf3, 0x8f, /* } */
    0xef, 0x69, 0x92, 0xbd, /* } */
    0xa9, 0x52, 0xc6, 0x78, /* } */
    0x04, 0x17, 0xda, 0x0f, /* }  Userhash value (32 bytes) */
    0x24, 0x81, 0x94, 0x15, /* } */
    0x56, 0x9e, 0x60, 0xb2, /* } */
    0x05, 0xc4, 0x6e, 0x41, /* } */
    0x40, 0x7f, 0x17, 0x04, /* } */
    0x00, 0x15, 0x00, 0x29, /* NONCE attribute header */
    0x6f, 0x62, 0x4d, 0x61, /* } */
    0x74, 0x4a, 0x6f, 0x73, /* } */
    0x32, 0x41, 0x41, 0x41, /* } */
    0x43, 0x66, 0x2f, 0x2f, /* } */
    0x34, 0x39, 0x39, 0x6b, /* }  Nonce value and padding (3 bytes) */
    0x39, 0x35, 0x34, 0x64, /* } */
    0x36, 0x4f, 0x4c, 0x33, /* } */
    0x34, 0x6f, 0x4c, 0x39, /* } */
    0x46, 0x53, 0x54, 0x76, /* } */
    0x79, 0x36, 0x34, 0x73, /* } */
    0x41, 0x00, 0x00, 0x00, /* } */
    0x00, 0x14, 0x00, 0x0b, /* REALM attribute header */
    0x65, 0x78, 0x61, 0x6d, /* } */
    0x70, 0x6c, 0x65, 0x2e, /* }  Realm value (11 bytes) and padding (1 byte) */
    0x6f, 0x72, 0x67, 0x00, /* } */
    0x00, 0x1d, 0x00, 0x04, /* PASSWORD-ALGORITHM attribute header */
    0x00, 0x02, 0x00, 0x00, /* SHA-256, no parameters */
    0x00, 0x1c, 0x00, 0x20, /* MESSAGE-INTEGRITY-SHA256 attribute header */
    0xb5, 0xc7, 0xbf, 0x00, /* } */
    0x5b, 0x6c, 0x52, 0xa2, /* } */
    0x1c, 0x51, 0xc5, 0xe8, /* } */
    0x92, 0xf8, 0x19, 0x24, /* }  HMAC-SHA256 value */
    0x13, 0x62, 0x96, 0xcb, /* } */
    0x92, 0x7c, 0x43, 0x14, /* } */
    0x93, 0x09, 0x27, 0x8c, /* } */
    0xc6, 0x51, 0x8e, 0x65, /* } */
};

static const char short_pass[] = "VOkJxbRl1RmTxUk/WvJxBt";
/* U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9, unchanged by SASLprep / OpaqueString. */
static const char lt_user[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf"
			      "\xe3\x82\xb9";
static const char lt_pass[] = "TheMatrIX"; /* "The<U+00AD>M<U+00AA>tr<U+2168>" prepared */
static const char lt_realm[] = "example.org";

static struct ds_addr addr(const char *s)
{
	struct ds_addr a;

	memset(&a, 0, sizeof(a));
	CHECK(ds_addr_parse(s, 0, DS_ADDR_PORT_REQUIRED, &a) == 0);
	return a;
}

static void rfc5769_sample_request_encodes_byte_exact(void)
{
	uint8_t buf[256], tid[12];
	struct ds_stun_enc e;
	size_t len = 0;

	memcpy(tid, req_2_1 + 8, 12);
	ds_stun_enc_init(&e, buf, sizeof(buf), ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST), tid);
	e.pad_byte = 0x20;
	ds_stun_enc_str(&e, DS_STUN_ATTR_SOFTWARE, "STUN test client");
	ds_stun_enc_u32(&e, DS_STUN_ATTR_PRIORITY, 0x6e0001ff);
	ds_stun_enc_u64(&e, DS_STUN_ATTR_ICE_CONTROLLED, 0x932ff9b151263b36ull);
	ds_stun_enc_str(&e, DS_STUN_ATTR_USERNAME, "evtj:h6vY");
	ds_stun_enc_integrity(&e, short_pass, strlen(short_pass));
	ds_stun_enc_fingerprint(&e);
	CHECK_INT(ds_stun_enc_finish(&e, &len), 0);
	CHECK_INT(len, sizeof(req_2_1));
	CHECK(memcmp(buf, req_2_1, sizeof(req_2_1)) == 0);
}

static void rfc5769_sample_request_decodes(void)
{
	struct ds_stun_msg m;
	struct ds_stun_attr a;
	char s[64];
	uint32_t prio;
	uint64_t tie;

	CHECK_INT(ds_stun_parse(req_2_1, sizeof(req_2_1), &m, NULL), 0);
	CHECK_INT(m.method, DS_STUN_BINDING);
	CHECK_INT(m.cls, DS_STUN_REQUEST);
	CHECK_INT(m.n_unknown, 0);
	CHECK_INT(m.n_attrs, 6);
	CHECK(m.fingerprint_off == sizeof(req_2_1) - 8);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_SOFTWARE, &a), 0);
	CHECK_INT(ds_stun_attr_str(&a, s, sizeof(s)), 0);
	CHECK_STR(s, "STUN test client");
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_USERNAME, &a), 0);
	CHECK_INT(ds_stun_attr_str(&a, s, sizeof(s)), 0);
	CHECK_STR(s, "evtj:h6vY");
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_PRIORITY, &a), 0);
	CHECK_INT(ds_stun_attr_u32(&a, &prio), 0);
	CHECK(prio == 0x6e0001ff);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_ICE_CONTROLLED, &a), 0);
	CHECK_INT(ds_stun_attr_u64(&a, &tie), 0);
	CHECK(tie == 0x932ff9b151263b36ull);
	CHECK_INT(ds_stun_check_integrity(&m, short_pass, strlen(short_pass)), 0);
	CHECK_INT(ds_stun_check_integrity(&m, "wrong", 5), -EACCES);
	CHECK_INT(ds_stun_check_integrity_sha256(&m, short_pass, strlen(short_pass)), -ENOENT);
}

static void check_response(const uint8_t *vec, size_t veclen, const char *mapped)
{
	uint8_t buf[256], tid[12];
	struct ds_stun_enc e;
	struct ds_stun_msg m;
	struct ds_stun_attr a;
	struct ds_addr want = addr(mapped), got;
	char s[64];
	size_t len = 0;

	/* decode */
	CHECK_INT(ds_stun_parse(vec, veclen, &m, NULL), 0);
	CHECK_INT(m.cls, DS_STUN_SUCCESS);
	CHECK_INT(m.method, DS_STUN_BINDING);
	CHECK_INT(ds_stun_get_addr(&m, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, &got), 0);
	CHECK(ds_addr_equal(&got, &want));
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_SOFTWARE, &a), 0);
	CHECK_INT(ds_stun_attr_str(&a, s, sizeof(s)), 0);
	CHECK_STR(s, "test vector");
	CHECK_INT(ds_stun_check_integrity(&m, short_pass, strlen(short_pass)), 0);
	CHECK_INT(ds_stun_check_integrity(&m, "VOkJxbRl1RmTxUk/WvJxBT", 22), -EACCES);

	/* encode */
	memcpy(tid, vec + 8, 12);
	ds_stun_enc_init(&e, buf, sizeof(buf), ds_stun_type(DS_STUN_BINDING, DS_STUN_SUCCESS), tid);
	e.pad_byte = 0x20;
	ds_stun_enc_str(&e, DS_STUN_ATTR_SOFTWARE, "test vector");
	ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, &want);
	ds_stun_enc_integrity(&e, short_pass, strlen(short_pass));
	ds_stun_enc_fingerprint(&e);
	CHECK_INT(ds_stun_enc_finish(&e, &len), 0);
	CHECK_INT(len, veclen);
	CHECK(memcmp(buf, vec, veclen) == 0);
}

static void rfc5769_ipv4_response_both_ways(void)
{
	check_response(resp_2_2, sizeof(resp_2_2), "192.0.2.1:32853");
}

static void rfc5769_ipv6_response_both_ways(void)
{
	check_response(resp_2_3, sizeof(resp_2_3), "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
}

static void rfc5769_long_term_request_both_ways(void)
{
	uint8_t key[DS_STUN_KEY_MAX], buf[256], tid[12];
	size_t keylen = 0, len = 0;
	struct ds_stun_enc e;
	struct ds_stun_msg m;
	struct ds_stun_attr a;
	char s[64];

	CHECK_INT(
	    ds_stun_key_long_term(DS_STUN_PASSWORD_MD5, lt_user, lt_realm, lt_pass, key, &keylen),
	    0);
	CHECK_INT(keylen, 16);

	CHECK_INT(ds_stun_parse(req_2_4, sizeof(req_2_4), &m, NULL), 0);
	CHECK_INT(m.fingerprint_off, 0);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_USERNAME, &a), 0);
	CHECK_INT(ds_stun_attr_str(&a, s, sizeof(s)), 0);
	CHECK_STR(s, lt_user);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_NONCE, &a), 0);
	CHECK_INT(ds_stun_attr_str(&a, s, sizeof(s)), 0);
	CHECK_STR(s, "f//499k954d6OL34oL9FSTvy64sA");
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_REALM, &a), 0);
	CHECK_INT(ds_stun_attr_str(&a, s, sizeof(s)), 0);
	CHECK_STR(s, lt_realm);
	CHECK_INT(ds_stun_check_integrity(&m, key, keylen), 0);

	memcpy(tid, req_2_4 + 8, 12);
	ds_stun_enc_init(&e, buf, sizeof(buf), ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST), tid);
	ds_stun_enc_str(&e, DS_STUN_ATTR_USERNAME, lt_user);
	ds_stun_enc_str(&e, DS_STUN_ATTR_NONCE, "f//499k954d6OL34oL9FSTvy64sA");
	ds_stun_enc_str(&e, DS_STUN_ATTR_REALM, lt_realm);
	ds_stun_enc_integrity(&e, key, keylen);
	CHECK_INT(ds_stun_enc_finish(&e, &len), 0);
	CHECK_INT(len, sizeof(req_2_4));
	CHECK(memcmp(buf, req_2_4, sizeof(req_2_4)) == 0);
}

static void rfc8489_b1_sha256_request_both_ways(void)
{
	static const char nonce[] = "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA";
	uint8_t key[DS_STUN_KEY_MAX], hash[32], buf[256], tid[12];
	size_t keylen = 0, len = 0;
	struct ds_stun_enc e;
	struct ds_stun_msg m;
	struct ds_stun_attr a;
	uint16_t alg = 0;

	CHECK_INT(ds_stun_key_long_term(DS_STUN_PASSWORD_SHA256, lt_user, lt_realm, lt_pass, key,
					&keylen),
		  0);
	CHECK_INT(keylen, 32);
	CHECK_INT(ds_stun_userhash(lt_user, lt_realm, hash), 0);
	CHECK(memcmp(hash, req_b_1 + 24, 32) == 0);

	CHECK_INT(ds_stun_parse(req_b_1, sizeof(req_b_1), &m, NULL), 0);
	CHECK_INT(m.n_unknown, 0);
	CHECK_INT(m.integrity_sha256_len, 32);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_PASSWORD_ALGORITHM, &a), 0);
	CHECK_INT(ds_stun_attr_password_algorithm(&a, &alg), 0);
	CHECK_INT(alg, DS_STUN_PASSWORD_SHA256);
	CHECK_INT(ds_stun_check_integrity_sha256(&m, key, keylen), 0);
	key[0] ^= 1;
	CHECK_INT(ds_stun_check_integrity_sha256(&m, key, keylen), -EACCES);
	key[0] ^= 1;

	memcpy(tid, req_b_1 + 8, 12);
	ds_stun_enc_init(&e, buf, sizeof(buf), ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST), tid);
	ds_stun_enc_attr(&e, DS_STUN_ATTR_USERHASH, hash, sizeof(hash));
	ds_stun_enc_str(&e, DS_STUN_ATTR_NONCE, nonce);
	ds_stun_enc_str(&e, DS_STUN_ATTR_REALM, lt_realm);
	ds_stun_enc_password_algorithm(&e, DS_STUN_PASSWORD_SHA256);
	ds_stun_enc_integrity_sha256(&e, key, keylen);
	CHECK_INT(ds_stun_enc_finish(&e, &len), 0);
	CHECK_INT(len, sizeof(req_b_1));
	CHECK(memcmp(buf, req_b_1, sizeof(req_b_1)) == 0);
}

static void message_type_bits_interleave_per_rfc8489_s5(void)
{
	CHECK_INT(ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST), 0x0001);
	CHECK_INT(ds_stun_type(DS_STUN_BINDING, DS_STUN_INDICATION), 0x0011);
	CHECK_INT(ds_stun_type(DS_STUN_BINDING, DS_STUN_SUCCESS), 0x0101);
	CHECK_INT(ds_stun_type(DS_STUN_BINDING, DS_STUN_ERROR), 0x0111);
	CHECK_INT(ds_stun_type(DS_STUN_ALLOCATE, DS_STUN_ERROR), 0x0113);
	CHECK_INT(ds_stun_type(DS_STUN_SEND, DS_STUN_INDICATION), 0x0016);
	CHECK_INT(ds_stun_type(DS_STUN_DATA, DS_STUN_INDICATION), 0x0017);
	CHECK_INT(ds_stun_type(DS_STUN_CHANNEL_BIND, DS_STUN_SUCCESS), 0x0109);
	for (unsigned mth = 0; mth < 0x1000; mth += 7)
		for (int c = 0; c < 4; c++) {
			uint16_t t = ds_stun_type((uint16_t)mth, (enum ds_stun_class)c);
			CHECK(ds_stun_type_method(t) == mth);
			CHECK(ds_stun_type_class(t) == (enum ds_stun_class)c);
		}
}

static int parse_copy(const uint8_t *v, size_t len, const char **why)
{
	struct ds_stun_msg m;

	return ds_stun_parse(v, len, &m, why);
}

static void truncated_and_oversized_messages_are_rejected(void)
{
	uint8_t big[sizeof(req_2_1) + 4];
	const char *why = NULL;

	for (size_t n = 0; n < sizeof(req_2_1); n++)
		CHECK_INT(parse_copy(req_2_1, n, NULL), -EBADMSG);
	memcpy(big, req_2_1, sizeof(req_2_1));
	memset(big + sizeof(req_2_1), 0, 4);
	CHECK_INT(parse_copy(big, sizeof(big), &why), -EBADMSG);
	CHECK(why != NULL);
	CHECK_INT(parse_copy(NULL, 0, NULL), -EBADMSG);
}

static void wrong_cookie_and_top_bits_are_rejected(void)
{
	uint8_t v[sizeof(resp_2_2)];

	memcpy(v, resp_2_2, sizeof(v));
	v[4] ^= 0x01;
	CHECK_INT(parse_copy(v, sizeof(v), NULL), -EBADMSG);
	CHECK(!ds_stun_is_stun(v, sizeof(v)));
	memcpy(v, resp_2_2, sizeof(v));
	v[0] |= 0x80;
	CHECK_INT(parse_copy(v, sizeof(v), NULL), -EBADMSG);
	CHECK(ds_stun_is_stun(resp_2_2, sizeof(resp_2_2)));
}

static void bad_fingerprint_is_rejected(void)
{
	uint8_t v[sizeof(resp_2_2)];
	const char *why = NULL;

	memcpy(v, resp_2_2, sizeof(v));
	v[sizeof(v) - 1] ^= 0x01;
	CHECK_INT(parse_copy(v, sizeof(v), &why), -EBADMSG);
	CHECK_STR(why, "wrong FINGERPRINT");
	/* a flipped bit in the body also breaks the CRC */
	memcpy(v, resp_2_2, sizeof(v));
	v[30] ^= 0x40;
	CHECK_INT(parse_copy(v, sizeof(v), NULL), -EBADMSG);
}

static void bad_integrity_is_detected(void)
{
	uint8_t buf[128];
	struct ds_stun_enc e;
	struct ds_stun_msg m;
	size_t len = 0;

	/* a changed byte covered by the HMAC, with a re-computed FINGERPRINT */
	ds_stun_enc_init(&e, buf, sizeof(buf), ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST),
			 NULL);
	ds_stun_enc_str(&e, DS_STUN_ATTR_USERNAME, "alice");
	ds_stun_enc_integrity(&e, "key", 3);
	CHECK_INT(ds_stun_enc_finish(&e, &len), 0);
	buf[24] = 'A';
	CHECK_INT(ds_stun_parse(buf, len, &m, NULL), 0);
	CHECK_INT(ds_stun_check_integrity(&m, "key", 3), -EACCES);
	buf[24] = 'a';
	CHECK_INT(ds_stun_parse(buf, len, &m, NULL), 0);
	CHECK_INT(ds_stun_check_integrity(&m, "key", 3), 0);
	/* MESSAGE-INTEGRITY of the wrong length is malformed */
	buf[len - 20 - 4 + 3] = 16;
	CHECK_INT(ds_stun_parse(buf, len, &m, NULL), -EBADMSG);
}

static void lying_attribute_lengths_are_rejected(void)
{
	uint8_t v[sizeof(req_2_4)];
	struct ds_stun_msg m;

	memcpy(v, req_2_4, sizeof(v));
	v[23] = 0xFF; /* USERNAME claims 255 bytes */
	CHECK_INT(ds_stun_parse(v, sizeof(v), &m, NULL), -EBADMSG);
	memcpy(v, req_2_4, sizeof(v));
	v[3] = 0x64; /* header length past the datagram */
	CHECK_INT(ds_stun_parse(v, sizeof(v), &m, NULL), -EBADMSG);
	memcpy(v, req_2_4, sizeof(v));
	v[3] = 0x5e; /* not a multiple of 4 */
	CHECK_INT(ds_stun_parse(v, sizeof(v), &m, NULL), -EBADMSG);
	memcpy(v, req_2_4, sizeof(v));
	v[3] = 0x5c; /* shorter than the datagram: trailing bytes */
	CHECK_INT(ds_stun_parse(v, sizeof(v), &m, NULL), -EBADMSG);
}

static void typed_getters_check_value_lengths(void)
{
	uint8_t buf[128], v[3] = {0, 1, 0};
	struct ds_stun_enc e;
	struct ds_stun_msg m;
	struct ds_stun_attr a;
	struct ds_addr out;
	uint32_t u;
	int code;
	size_t len = 0;

	ds_stun_enc_init(&e, buf, sizeof(buf), ds_stun_type(DS_STUN_BINDING, DS_STUN_SUCCESS),
			 NULL);
	ds_stun_enc_attr(&e, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, v, sizeof(v));
	ds_stun_enc_attr(&e, DS_STUN_ATTR_ERROR_CODE, v, sizeof(v));
	ds_stun_enc_attr(&e, DS_STUN_ATTR_CHANGE_REQUEST, v, sizeof(v));
	CHECK_INT(ds_stun_enc_finish(&e, &len), 0);
	CHECK_INT(ds_stun_parse(buf, len, &m, NULL), 0);
	CHECK_INT(ds_stun_get_addr(&m, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, &out), -EBADMSG);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_ERROR_CODE, &a), 0);
	CHECK_INT(ds_stun_attr_error(&a, &code, NULL, 0), -EBADMSG);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_CHANGE_REQUEST, &a), 0);
	CHECK_INT(ds_stun_attr_u32(&a, &u), -EBADMSG);
	CHECK_INT(ds_stun_get_addr(&m, DS_STUN_ATTR_OTHER_ADDRESS, &out), -ENOENT);
}

static void unknown_comprehension_required_attributes_are_listed(void)
{
	uint8_t buf[128];
	struct ds_stun_enc e;
	struct ds_stun_msg m;
	struct ds_stun_attr a;
	uint16_t types[4];
	size_t len = 0, n = 0;

	ds_stun_enc_init(&e, buf, sizeof(buf), ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST),
			 NULL);
	ds_stun_enc_u32(&e, 0x7F01, 1); /* unknown, comprehension-required */
	ds_stun_enc_u32(&e, 0xC001, 1); /* unknown, comprehension-optional: ignored */
	ds_stun_enc_u32(&e, 0x7F01, 2); /* listed once */
	ds_stun_enc_u32(&e, 0x0002, 0); /* RFC 3489 RESPONSE-ADDRESS: reserved now */
	ds_stun_enc_fingerprint(&e);
	CHECK_INT(ds_stun_enc_finish(&e, &len), 0);
	CHECK_INT(ds_stun_parse(buf, len, &m, NULL), 0);
	CHECK_INT(m.n_unknown, 2);
	CHECK_INT(m.unknown[0], 0x7F01);
	CHECK_INT(m.unknown[1], 0x0002);

	/* the 420 answer lists them */
	ds_stun_enc_init(&e, buf, sizeof(buf), ds_stun_type(DS_STUN_BINDING, DS_STUN_ERROR), m.tid);
	ds_stun_enc_error(&e, DS_STUN_ERR_UNKNOWN_ATTRIBUTE, "Unknown Attribute");
	ds_stun_enc_unknown(&e, m.unknown, m.n_unknown);
	CHECK_INT(ds_stun_enc_finish(&e, &len), 0);
	CHECK_INT(ds_stun_parse(buf, len, &m, NULL), 0);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_UNKNOWN_ATTRIBUTES, &a), 0);
	CHECK_INT(ds_stun_attr_unknown(&a, types, 4, &n), 0);
	CHECK_INT(n, 2);
	CHECK_INT(types[0], 0x7F01);
	CHECK_INT(types[1], 0x0002);
}

static void attributes_after_integrity_are_ignored_and_after_fingerprint_rejected(void)
{
	uint8_t buf[160];
	struct ds_stun_enc e;
	struct ds_stun_msg m;
	struct ds_stun_attr a;
	size_t len = 0, fp;

	ds_stun_enc_init(&e, buf, sizeof(buf), ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST),
			 NULL);
	ds_stun_enc_str(&e, DS_STUN_ATTR_USERNAME, "u");
	ds_stun_enc_integrity(&e, "k", 1);
	ds_stun_enc_str(&e, DS_STUN_ATTR_SOFTWARE, "after");
	ds_stun_enc_u32(&e, 0x7F02, 0); /* unknown but ignored: after MESSAGE-INTEGRITY */
	ds_stun_enc_integrity_sha256(&e, "k", 1);
	ds_stun_enc_fingerprint(&e);
	CHECK_INT(ds_stun_enc_finish(&e, &len), 0);
	CHECK_INT(ds_stun_parse(buf, len, &m, NULL), 0);
	CHECK_INT(m.n_unknown, 0);
	CHECK_INT(m.n_attrs, 4);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_SOFTWARE, &a), -ENOENT);
	CHECK_INT(ds_stun_check_integrity(&m, "k", 1), 0);
	CHECK_INT(ds_stun_check_integrity_sha256(&m, "k", 1), 0);

	/* nothing may follow FINGERPRINT, neither in the encoder nor in the decoder */
	CHECK_INT(ds_stun_enc_u32(&e, DS_STUN_ATTR_PRIORITY, 1), -EINVAL);
	fp = len;
	memcpy(buf + fp, "\x80\x22\x00\x00", 4); /* empty SOFTWARE after FINGERPRINT */
	buf[3] = (uint8_t)(len + 4 - 20);
	CHECK_INT(ds_stun_parse(buf, len + 4, &m, NULL), -EBADMSG);
}

static void encoder_reports_a_full_buffer(void)
{
	uint8_t buf[32];
	struct ds_stun_enc e;
	size_t len = 0;

	CHECK_INT(ds_stun_enc_init(&e, buf, 10, 0x0001, NULL), -ENOSPC);
	ds_stun_enc_init(&e, buf, sizeof(buf), 0x0001, NULL);
	CHECK_INT(ds_stun_enc_str(&e, DS_STUN_ATTR_SOFTWARE, "twelve chars"), -ENOSPC);
	CHECK_INT(ds_stun_enc_fingerprint(&e), -ENOSPC);
	CHECK_INT(ds_stun_enc_finish(&e, &len), -ENOSPC);
	CHECK_INT(ds_stun_enc_error(&e, 200, "x"), -ENOSPC); /* sticky first error */
}

static void rfc5780_attributes_round_trip(void)
{
	uint8_t buf[256];
	struct ds_stun_enc e;
	struct ds_stun_msg m;
	struct ds_stun_attr a;
	struct ds_addr o = addr("192.0.2.7:3479"), r = addr("[2001:db8::7]:3478"), got;
	uint32_t flags = 0;
	uint16_t port = 0, algs[4];
	static const uint16_t want_algs[2] = {DS_STUN_PASSWORD_MD5, DS_STUN_PASSWORD_SHA256};
	size_t len = 0, n = 0;
	int code = 0;
	char reason[32];

	ds_stun_enc_init(&e, buf, sizeof(buf), ds_stun_type(DS_STUN_BINDING, DS_STUN_ERROR), NULL);
	ds_stun_enc_change_request(&e, DS_STUN_CHANGE_IP | DS_STUN_CHANGE_PORT);
	ds_stun_enc_response_port(&e, 4242);
	ds_stun_enc_addr(&e, DS_STUN_ATTR_OTHER_ADDRESS, &o);
	ds_stun_enc_addr(&e, DS_STUN_ATTR_RESPONSE_ORIGIN, &r);
	ds_stun_enc_attr(&e, DS_STUN_ATTR_PADDING, "\0\0\0\0\0\0\0", 7);
	ds_stun_enc_password_algorithms(&e, want_algs, 2);
	ds_stun_enc_error(&e, 438, "Stale Nonce");
	ds_stun_enc_fingerprint(&e);
	CHECK_INT(ds_stun_enc_finish(&e, &len), 0);
	CHECK_INT(ds_stun_parse(buf, len, &m, NULL), 0);
	CHECK_INT(m.cls, DS_STUN_ERROR);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_CHANGE_REQUEST, &a), 0);
	CHECK_INT(ds_stun_attr_change_request(&a, &flags), 0);
	CHECK_INT(flags, DS_STUN_CHANGE_IP | DS_STUN_CHANGE_PORT);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_RESPONSE_PORT, &a), 0);
	CHECK_INT(ds_stun_attr_response_port(&a, &port), 0);
	CHECK_INT(port, 4242);
	CHECK_INT(ds_stun_get_addr(&m, DS_STUN_ATTR_OTHER_ADDRESS, &got), 0);
	CHECK(ds_addr_equal(&got, &o));
	CHECK_INT(ds_stun_get_addr(&m, DS_STUN_ATTR_RESPONSE_ORIGIN, &got), 0);
	CHECK(ds_addr_equal(&got, &r));
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_PASSWORD_ALGORITHMS, &a), 0);
	CHECK_INT(ds_stun_attr_password_algorithms(&a, algs, 4, &n), 0);
	CHECK_INT(n, 2);
	CHECK_INT(algs[0], DS_STUN_PASSWORD_MD5);
	CHECK_INT(algs[1], DS_STUN_PASSWORD_SHA256);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_ERROR_CODE, &a), 0);
	CHECK_INT(ds_stun_attr_error(&a, &code, reason, sizeof(reason)), 0);
	CHECK_INT(code, 438);
	CHECK_STR(reason, "Stale Nonce");
	CHECK_INT(m.n_unknown, 0);
}

static void binding_answers_are_420_for_unknown_attributes_else_success(void)
{
	uint8_t req[128], ans[256];
	struct ds_stun_enc e;
	struct ds_stun_msg rm, am;
	struct ds_stun_attr a;
	struct ds_addr from = addr("[2001:db8::5]:41878"), got;
	uint16_t types[4];
	size_t len = 0, alen = 0, n = 0;
	int code = 0;

	ds_stun_enc_init(&e, req, sizeof(req), ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST),
			 NULL);
	ds_stun_enc_fingerprint(&e);
	ds_stun_enc_finish(&e, &len);
	CHECK_INT(ds_stun_parse(req, len, &rm, NULL), 0);
	CHECK_INT(ds_stun_answer_binding(&rm, &from, "x", ans, sizeof(ans), &alen), 0);
	CHECK_INT(ds_stun_parse(ans, alen, &am, NULL), 0);
	CHECK_INT(am.cls, DS_STUN_SUCCESS);
	CHECK(memcmp(am.tid, rm.tid, 12) == 0);
	CHECK(am.fingerprint_off != 0);
	CHECK_INT(ds_stun_get_addr(&am, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, &got), 0);
	CHECK(ds_addr_equal(&got, &from));

	ds_stun_enc_init(&e, req, sizeof(req), ds_stun_type(DS_STUN_BINDING, DS_STUN_REQUEST),
			 NULL);
	ds_stun_enc_u32(&e, 0x7F33, 0);
	ds_stun_enc_finish(&e, &len);
	CHECK_INT(ds_stun_parse(req, len, &rm, NULL), 0);
	CHECK_INT(ds_stun_answer_binding(&rm, &from, NULL, ans, sizeof(ans), &alen), 0);
	CHECK_INT(ds_stun_parse(ans, alen, &am, NULL), 0);
	CHECK_INT(am.cls, DS_STUN_ERROR);
	CHECK_INT(am.fingerprint_off, 0);
	CHECK_INT(ds_stun_find(&am, DS_STUN_ATTR_ERROR_CODE, &a), 0);
	CHECK_INT(ds_stun_attr_error(&a, &code, NULL, 0), 0);
	CHECK_INT(code, 420);
	CHECK_INT(ds_stun_find(&am, DS_STUN_ATTR_UNKNOWN_ATTRIBUTES, &a), 0);
	CHECK_INT(ds_stun_attr_unknown(&a, types, 4, &n), 0);
	CHECK_INT(n, 1);
	CHECK_INT(types[0], 0x7F33);
	/* an answer is not a request */
	CHECK_INT(ds_stun_answer_binding(&am, &from, NULL, ans, sizeof(ans), &alen), -EINVAL);
}

static void crc32_matches_the_standard_check_value(void)
{
	CHECK(ds_stun_crc32("123456789", 9) == 0xCBF43926u);
}

int main(void)
{
	UNIT_RUN(rfc5769_sample_request_encodes_byte_exact);
	UNIT_RUN(rfc5769_sample_request_decodes);
	UNIT_RUN(rfc5769_ipv4_response_both_ways);
	UNIT_RUN(rfc5769_ipv6_response_both_ways);
	UNIT_RUN(rfc5769_long_term_request_both_ways);
	UNIT_RUN(rfc8489_b1_sha256_request_both_ways);
	UNIT_RUN(message_type_bits_interleave_per_rfc8489_s5);
	UNIT_RUN(truncated_and_oversized_messages_are_rejected);
	UNIT_RUN(wrong_cookie_and_top_bits_are_rejected);
	UNIT_RUN(bad_fingerprint_is_rejected);
	UNIT_RUN(bad_integrity_is_detected);
	UNIT_RUN(lying_attribute_lengths_are_rejected);
	UNIT_RUN(typed_getters_check_value_lengths);
	UNIT_RUN(unknown_comprehension_required_attributes_are_listed);
	UNIT_RUN(attributes_after_integrity_are_ignored_and_after_fingerprint_rejected);
	UNIT_RUN(encoder_reports_a_full_buffer);
	UNIT_RUN(rfc5780_attributes_round_trip);
	UNIT_RUN(binding_answers_are_420_for_unknown_attributes_else_success);
	UNIT_RUN(crc32_matches_the_standard_check_value);
	UNIT_EXIT();
}
