/* SPDX-License-Identifier: MIT */
/*
 * STUN messages (RFC 8489), with the RFC 5780 NAT-behaviour attributes and the attribute
 * numbers TURN (RFC 8656) and ICE (RFC 8445) use, so those can be built on this codec.
 *
 * RFC 8489 §5, the header:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |0 0|     STUN Message Type     |         Message Length        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                         Magic Cookie                          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                     Transaction ID (96 bits)                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * followed by attributes (§14), each padded to a multiple of 4 bytes:
 *
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Type                  |            Length             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                         Value (variable)                ....
 *
 * Encoding appends into a caller buffer (struct ds_stun_enc); decoding (ds_stun_parse)
 * checks the header, every attribute length, the place of MESSAGE-INTEGRITY(-SHA256) and
 * FINGERPRINT and the FINGERPRINT value, then hands out attributes through an iterator and
 * typed getters that check each value's length again. Nothing is copied or allocated.
 */
#ifndef DS_STUN_H
#define DS_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define DS_STUN_MAGIC           0x2112A442u
#define DS_STUN_HDR_LEN         20
#define DS_STUN_TID_LEN         12
#define DS_STUN_ATTR_HDR_LEN    4
#define DS_STUN_FINGERPRINT_XOR 0x5354554Eu
#define DS_STUN_MAX_MSG         (DS_STUN_HDR_LEN + 0xFFFC)
/* Attribute limits from RFC 8489 §14 (in bytes of UTF-8). */
#define DS_STUN_MAX_USERNAME 513
#define DS_STUN_MAX_REALM    763
#define DS_STUN_MAX_NONCE    763
#define DS_STUN_MAX_SOFTWARE 763
#define DS_STUN_MAX_REASON   763
#define DS_STUN_MAX_UNKNOWN  16 /* comprehension-required unknowns remembered per message */

/* Message classes (§5: the C1 C0 bits). */
enum ds_stun_class {
	DS_STUN_REQUEST = 0,
	DS_STUN_INDICATION = 1,
	DS_STUN_SUCCESS = 2,
	DS_STUN_ERROR = 3,
};

/* Methods: STUN (RFC 8489 §18.2) and TURN (RFC 8656 §17). */
enum ds_stun_method {
	DS_STUN_BINDING = 0x001,
	DS_STUN_ALLOCATE = 0x003,
	DS_STUN_REFRESH = 0x004,
	DS_STUN_SEND = 0x006,
	DS_STUN_DATA = 0x007,
	DS_STUN_CREATE_PERMISSION = 0x008,
	DS_STUN_CHANNEL_BIND = 0x009,
};

/* Attribute types. 0x0000-0x7FFF are comprehension-required, 0x8000-0xFFFF optional. */
enum ds_stun_attr_type {
	DS_STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	DS_STUN_ATTR_CHANGE_REQUEST = 0x0003, /* RFC 5780 */
	DS_STUN_ATTR_USERNAME = 0x0006,
	DS_STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	DS_STUN_ATTR_ERROR_CODE = 0x0009,
	DS_STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
	DS_STUN_ATTR_CHANNEL_NUMBER = 0x000C, /* RFC 8656 */
	DS_STUN_ATTR_LIFETIME = 0x000D,
	DS_STUN_ATTR_XOR_PEER_ADDRESS = 0x0012,
	DS_STUN_ATTR_DATA = 0x0013,
	DS_STUN_ATTR_REALM = 0x0014,
	DS_STUN_ATTR_NONCE = 0x0015,
	DS_STUN_ATTR_XOR_RELAYED_ADDRESS = 0x0016,
	DS_STUN_ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017,
	DS_STUN_ATTR_EVEN_PORT = 0x0018,
	DS_STUN_ATTR_REQUESTED_TRANSPORT = 0x0019,
	DS_STUN_ATTR_DONT_FRAGMENT = 0x001A,
	DS_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
	DS_STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
	DS_STUN_ATTR_USERHASH = 0x001E,
	DS_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	DS_STUN_ATTR_RESERVATION_TOKEN = 0x0022,
	DS_STUN_ATTR_PRIORITY = 0x0024, /* RFC 8445 */
	DS_STUN_ATTR_USE_CANDIDATE = 0x0025,
	DS_STUN_ATTR_PADDING = 0x0026,       /* RFC 5780 */
	DS_STUN_ATTR_RESPONSE_PORT = 0x0027, /* RFC 5780 */
	DS_STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY = 0x8000,
	DS_STUN_ATTR_ADDRESS_ERROR_CODE = 0x8001,
	DS_STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
	DS_STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
	DS_STUN_ATTR_ICMP = 0x8004,
	DS_STUN_ATTR_SOFTWARE = 0x8022,
	DS_STUN_ATTR_ALTERNATE_SERVER = 0x8023,
	DS_STUN_ATTR_FINGERPRINT = 0x8028,
	DS_STUN_ATTR_ICE_CONTROLLED = 0x8029,
	DS_STUN_ATTR_ICE_CONTROLLING = 0x802A,
	DS_STUN_ATTR_RESPONSE_ORIGIN = 0x802B, /* RFC 5780 */
	DS_STUN_ATTR_OTHER_ADDRESS = 0x802C,   /* RFC 5780 */
};

/* CHANGE-REQUEST flags (RFC 5780 §7.2). */
#define DS_STUN_CHANGE_IP   0x4u
#define DS_STUN_CHANGE_PORT 0x2u

/* PASSWORD-ALGORITHM values (RFC 8489 §18.5). */
enum ds_stun_password_alg {
	DS_STUN_PASSWORD_MD5 = 0x0001,
	DS_STUN_PASSWORD_SHA256 = 0x0002,
};

/* Error codes used by this toolkit (RFC 8489 §14.8, RFC 8656 §18). */
enum ds_stun_error_code {
	DS_STUN_ERR_TRY_ALTERNATE = 300,
	DS_STUN_ERR_BAD_REQUEST = 400,
	DS_STUN_ERR_UNAUTHORIZED = 401,
	DS_STUN_ERR_FORBIDDEN = 403,
	DS_STUN_ERR_UNKNOWN_ATTRIBUTE = 420,
	DS_STUN_ERR_ALLOCATION_MISMATCH = 437,
	DS_STUN_ERR_STALE_NONCE = 438,
	DS_STUN_ERR_ADDRESS_FAMILY = 440,
	DS_STUN_ERR_WRONG_CREDENTIALS = 441,
	DS_STUN_ERR_UNSUPPORTED_TRANSPORT = 442,
	DS_STUN_ERR_ALLOCATION_QUOTA = 486,
	DS_STUN_ERR_SERVER_ERROR = 500,
	DS_STUN_ERR_INSUFFICIENT_CAPACITY = 508,
};

/* ---- message type ---- */

/* §5: M11..M0 and C1 C0 interleaved into the 14-bit type. */
uint16_t ds_stun_type(uint16_t method, enum ds_stun_class cls);
uint16_t ds_stun_type_method(uint16_t type);
enum ds_stun_class ds_stun_type_class(uint16_t type);
/* "Binding", "Allocate", ... or NULL. */
const char *ds_stun_method_name(uint16_t method);
/* "MAPPED-ADDRESS", ... or NULL for an attribute this codec does not know. */
const char *ds_stun_attr_name(uint16_t type);
/* True for attributes this codec understands (the comprehension check of §6.3.1). */
bool ds_stun_attr_known(uint16_t type);

/* Quick demultiplexing test (RFC 7983 first byte 0..3, §5 cookie, length): could this be
 * STUN? Does not validate attributes. */
bool ds_stun_is_stun(const void *buf, size_t len);

/* A fresh transaction id from the kernel CSPRNG, getrandom(2) (§5: uniformly random).
 * 0 or -EIO. */
int ds_stun_tid_random(uint8_t tid[DS_STUN_TID_LEN]);

/* ---- encoding ---- */

struct ds_stun_enc {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;          /* first error (sticky): -ENOSPC, -EINVAL */
	uint8_t pad_byte; /* value of padding bytes; 0 unless a test vector needs 0x20 */
	bool has_fingerprint;
};

/* Start a message of type `type` in buf. tid NULL = random. Returns 0 or -errno (also
 * kept in e->err: later calls then do nothing and return it). */
int ds_stun_enc_init(struct ds_stun_enc *e, void *buf, size_t cap, uint16_t type,
		     const uint8_t tid[DS_STUN_TID_LEN]);
/* Append one attribute with a raw value (padded). */
int ds_stun_enc_attr(struct ds_stun_enc *e, uint16_t type, const void *val, size_t len);
int ds_stun_enc_u32(struct ds_stun_enc *e, uint16_t type, uint32_t v);
int ds_stun_enc_u64(struct ds_stun_enc *e, uint16_t type, uint64_t v);
/* USERNAME, REALM, NONCE, SOFTWARE...: a NUL-terminated UTF-8 string. */
int ds_stun_enc_str(struct ds_stun_enc *e, uint16_t type, const char *s);
/* MAPPED-ADDRESS, ALTERNATE-SERVER, RESPONSE-ORIGIN, OTHER-ADDRESS (§14.1). */
int ds_stun_enc_addr(struct ds_stun_enc *e, uint16_t type, const struct ds_addr *a);
/* XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS (§14.2). */
int ds_stun_enc_xor_addr(struct ds_stun_enc *e, uint16_t type, const struct ds_addr *a);
/* ERROR-CODE (§14.8): code 300..699 and a reason phrase (may be NULL). */
int ds_stun_enc_error(struct ds_stun_enc *e, int code, const char *reason);
/* UNKNOWN-ATTRIBUTES (§14.9). */
int ds_stun_enc_unknown(struct ds_stun_enc *e, const uint16_t *types, size_t n);
/* CHANGE-REQUEST (RFC 5780 §7.2): flags DS_STUN_CHANGE_IP | DS_STUN_CHANGE_PORT. */
int ds_stun_enc_change_request(struct ds_stun_enc *e, uint32_t flags);
/* RESPONSE-PORT (RFC 5780 §7.5). */
int ds_stun_enc_response_port(struct ds_stun_enc *e, uint16_t port);
/* PASSWORD-ALGORITHM (§14.11, no parameters) and PASSWORD-ALGORITHMS (§14.12). */
int ds_stun_enc_password_algorithm(struct ds_stun_enc *e, uint16_t alg);
int ds_stun_enc_password_algorithms(struct ds_stun_enc *e, const uint16_t *algs, size_t n);
/* MESSAGE-INTEGRITY (HMAC-SHA1, §14.5) and MESSAGE-INTEGRITY-SHA256 (§14.6, full 32
 * bytes) over everything appended so far, with key from ds_stun_key_*. */
int ds_stun_enc_integrity(struct ds_stun_enc *e, const void *key, size_t keylen);
int ds_stun_enc_integrity_sha256(struct ds_stun_enc *e, const void *key, size_t keylen);
/* FINGERPRINT (§14.7): must be the last attribute. */
int ds_stun_enc_fingerprint(struct ds_stun_enc *e);
/* Length of the finished message, or the sticky error. */
int ds_stun_enc_finish(const struct ds_stun_enc *e, size_t *len);

/* ---- decoding ---- */

struct ds_stun_attr {
	uint16_t type;
	uint16_t len;       /* value length without padding */
	const uint8_t *val; /* points into the message */
	size_t off;         /* offset of the attribute header in the message */
};

struct ds_stun_msg {
	const uint8_t *buf;
	size_t len; /* whole message: 20 + header length */
	uint16_t type;
	uint16_t method;
	enum ds_stun_class cls;
	uint8_t tid[DS_STUN_TID_LEN];
	/* Offsets of the integrity and fingerprint attributes' headers, 0 when absent. */
	size_t integrity_off;
	size_t integrity_sha256_off;
	uint16_t integrity_sha256_len;
	size_t fingerprint_off;
	/* Comprehension-required attributes this codec does not know (§6.3.1: a request
	 * gets a 420 listing them; a response with any is discarded). */
	uint16_t unknown[DS_STUN_MAX_UNKNOWN];
	size_t n_unknown;
	bool unknown_overflow; /* more than DS_STUN_MAX_UNKNOWN of them */
	unsigned n_attrs;      /* attributes the iterator will return */
};

/*
 * Validate and index one datagram. Checks: at least 20 bytes, top two bits zero, magic
 * cookie, length a multiple of 4 and equal to the datagram's (trailing bytes are not
 * tolerated on UDP), every attribute's length within the message, FINGERPRINT last and
 * correct (a wrong one means "not STUN", §7.3), MESSAGE-INTEGRITY(-SHA256) of the right
 * size and place. Attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256
 * and FINGERPRINT are ignored, as §14.5 says.
 * 0, or -EBADMSG (malformed, with a short reason in *why when why != NULL).
 */
int ds_stun_parse(const void *buf, size_t len, struct ds_stun_msg *m, const char **why);

struct ds_stun_iter {
	const struct ds_stun_msg *m;
	size_t off;
	bool after_integrity;
};

void ds_stun_iter_init(struct ds_stun_iter *it, const struct ds_stun_msg *m);
/* 1 and *a filled, or 0 at the end. */
int ds_stun_iter_next(struct ds_stun_iter *it, struct ds_stun_attr *a);
/* First attribute of that type: 0 or -ENOENT. */
int ds_stun_find(const struct ds_stun_msg *m, uint16_t type, struct ds_stun_attr *a);

/* Typed getters: each checks the value length; 0 or -EBADMSG (or -ENOENT for _get_). */
int ds_stun_attr_u32(const struct ds_stun_attr *a, uint32_t *v);
int ds_stun_attr_u64(const struct ds_stun_attr *a, uint64_t *v);
/* Copy a string attribute NUL-terminated; -ENOSPC if it does not fit. */
int ds_stun_attr_str(const struct ds_stun_attr *a, char *buf, size_t len);
int ds_stun_attr_addr(const struct ds_stun_attr *a, struct ds_addr *out);
int ds_stun_attr_xor_addr(const struct ds_stun_msg *m, const struct ds_stun_attr *a,
			  struct ds_addr *out);
int ds_stun_attr_error(const struct ds_stun_attr *a, int *code, char *reason, size_t len);
/* Up to max types; *n gets how many there are (may be more than max). */
int ds_stun_attr_unknown(const struct ds_stun_attr *a, uint16_t *types, size_t max, size_t *n);
int ds_stun_attr_change_request(const struct ds_stun_attr *a, uint32_t *flags);
int ds_stun_attr_response_port(const struct ds_stun_attr *a, uint16_t *port);
int ds_stun_attr_password_algorithm(const struct ds_stun_attr *a, uint16_t *alg);
int ds_stun_attr_password_algorithms(const struct ds_stun_attr *a, uint16_t *algs, size_t max,
				     size_t *n);
/* Find and decode an address attribute: XOR-* types are un-xored, others read plain. */
int ds_stun_get_addr(const struct ds_stun_msg *m, uint16_t type, struct ds_addr *out);

/* MESSAGE-INTEGRITY / -SHA256 check (§14.5, §14.6), constant-time compare.
 * 0, -ENOENT (attribute absent) or -EACCES (wrong value). */
int ds_stun_check_integrity(const struct ds_stun_msg *m, const void *key, size_t keylen);
int ds_stun_check_integrity_sha256(const struct ds_stun_msg *m, const void *key, size_t keylen);

/*
 * A server's answer to a Binding request (§6.3.1), for the agent's warm port and tests:
 * a 420 error listing the request's unknown comprehension-required attributes, or else a
 * success with XOR-MAPPED-ADDRESS = from; FINGERPRINT when the request carried one.
 * software may be NULL. 0 with *len; -EINVAL when req is no Binding request; -ENOSPC.
 */
int ds_stun_answer_binding(const struct ds_stun_msg *req, const struct ds_addr *from,
			   const char *software, void *buf, size_t cap, size_t *len);

/* ---- keys (§9.1.1, §9.2.2) ---- */

#define DS_STUN_KEY_MAX 32

/* Short-term: the password itself (OpaqueString processing is the caller's: passwords are
 * used as given, which is what RFC 8265 yields for ASCII). 0 or -ENOSPC. */
int ds_stun_key_short_term(const char *password, uint8_t *key, size_t cap, size_t *keylen);
/* Long-term: MD5 or SHA-256 of "username:realm:password" through EVP.
 * alg DS_STUN_PASSWORD_MD5 (16 bytes) or DS_STUN_PASSWORD_SHA256 (32 bytes). */
int ds_stun_key_long_term(uint16_t alg, const char *username, const char *realm,
			  const char *password, uint8_t key[DS_STUN_KEY_MAX], size_t *keylen);
/* USERHASH (§14.4): SHA-256 of "username:realm". */
int ds_stun_userhash(const char *username, const char *realm, uint8_t hash[32]);

/* CRC-32 (ISO 3309, as zlib) of a buffer: the FINGERPRINT base. */
uint32_t ds_stun_crc32(const void *buf, size_t len);

#endif
