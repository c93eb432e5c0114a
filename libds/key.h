/* SPDX-License-Identifier: MIT */
/*
 * Agent keys: X25519 key pairs (RFC 7748) through OpenSSL EVP, written as WireGuard writes
 * them (32 raw bytes, 44 characters of base64), private key files that refuse to be read
 * when group or others may read them (as ssh does), and the per-pair keys every packet of
 * the wire protocol is sealed with (ds-wire(7)).
 *
 * Pair key derivation (both sides compute the same secret; the public keys are put in a
 * canonical order, lower one first, so the order of the arguments does not matter):
 *
 *   shared = X25519(my_private, peer_public)                     RFC 7748 section 6.1
 *   pair   = HKDF-SHA256(salt = "datastun wire v1",
 *                        ikm  = shared || pub_low || pub_high,
 *                        info = "pair", 32)                       RFC 5869
 *   then, HKDF-Expand(pair, label) for each direction (low->high, high->low):
 *     key  = 32 bytes, "key lo>hi" / "key hi>lo"  base key of that direction
 *     id   =  8 bytes, "id lo>hi"  / "id hi>lo"   pair id carried in the clear header
 *
 * A sender never seals with the base key itself: every agent start draws a fresh random
 * session id and seals with HKDF-Expand(base key, "session" || session id), so the two
 * directions never share a key and no (key, nonce) pair repeats across restarts.
 */
#ifndef DS_KEY_H
#define DS_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DS_KEY_LEN     32
#define DS_KEY_B64_LEN 44 /* base64 of 32 bytes, with one "=" of padding; no NUL */

/* Fresh private key from the OpenSSL RNG, clamped as RFC 7748 section 5 (and wg) do. */
int ds_key_generate(uint8_t priv[DS_KEY_LEN]);
/* Public key of a private key. 0, -EINVAL (OpenSSL refused the key) or -ENOMEM. */
int ds_key_public(const uint8_t priv[DS_KEY_LEN], uint8_t pub[DS_KEY_LEN]);
/* X25519 shared secret. -EINVAL for a low-order peer key (all-zero result, RFC 7748 sec. 6.1). */
int ds_key_shared(const uint8_t priv[DS_KEY_LEN], const uint8_t peer_pub[DS_KEY_LEN],
		  uint8_t shared[DS_KEY_LEN]);

/* Base64 (RFC 4648, with padding) of 32 bytes into out[DS_KEY_B64_LEN + 1] (NUL-terminated). */
void ds_key_to_base64(const uint8_t key[DS_KEY_LEN], char out[DS_KEY_B64_LEN + 1]);
/* Exactly 44 characters of canonical base64 of 32 bytes (nothing before or after).
 * 0 or -EINVAL. */
int ds_key_from_base64(const char *s, uint8_t key[DS_KEY_LEN]);
/* The same for a buffer holding one key and optionally trailing white space (a key file,
 * stdin): "KEY\n". 0 or -EINVAL. */
int ds_key_from_text(const char *text, size_t len, uint8_t key[DS_KEY_LEN]);

/* Read a private key file. The file must not be accessible to group or others (any bit
 * of 077): -EPERM, and *mode_out tells the mode found. Other results: 0, -errno from
 * open/read, -EINVAL (the content is not one key). mode_out may be NULL. */
int ds_key_load_private(const char *path, uint8_t priv[DS_KEY_LEN], mode_t *mode_out);

/* Keys of one pair of agents, as seen from one side ("tx" = what I seal, "rx" = what the
 * peer seals). Plain data; wipe with ds_key_pair_wipe when done. */
struct ds_pair_keys {
	uint8_t tx_key[DS_KEY_LEN]; /* base key of the direction me -> peer */
	uint8_t rx_key[DS_KEY_LEN]; /* base key of the direction peer -> me */
	uint64_t tx_id;             /* pair id in the headers I send */
	uint64_t rx_id;             /* pair id in the headers the peer sends me */
};

/* Derive the pair keys from my private key and the peer's public key (see above).
 * -EINVAL when the peer key is my own public key or of low order. */
int ds_key_pair_derive(const uint8_t my_priv[DS_KEY_LEN], const uint8_t peer_pub[DS_KEY_LEN],
		       struct ds_pair_keys *out);
/* Session key of one direction: HKDF-Expand(base, "session" || session id, 32). */
int ds_key_session_derive(const uint8_t base[DS_KEY_LEN], uint64_t session,
			  uint8_t out[DS_KEY_LEN]);
/* The same derivation for many session ids of one base key, as a receiver needs when a
 * packet names a session it has not seen: HKDF-Expand with L = 32 is the single block
 * T(1) = HMAC-SHA256(base, info || 0x01) (RFC 5869 section 2.3), computed on an HMAC
 * context keyed once. Opaque; the result equals ds_key_session_derive. */
struct ds_key_deriver;
int ds_key_deriver_new(const uint8_t base[DS_KEY_LEN], struct ds_key_deriver **out);
void ds_key_deriver_free(struct ds_key_deriver *d);
int ds_key_deriver_session(struct ds_key_deriver *d, uint64_t session, uint8_t out[DS_KEY_LEN]);

/* Overwrite secrets with zeros in a way the compiler keeps (OPENSSL_cleanse). */
void ds_key_wipe(void *p, size_t len);
void ds_key_pair_wipe(struct ds_pair_keys *k);

#endif
