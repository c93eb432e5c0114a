// SPDX-License-Identifier: MIT
#define UNIT_NAME "key"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key.h"

static void hex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static int same_hex(const uint8_t *got, const char *want)
{
	uint8_t w[DS_KEY_LEN];

	hex(want, w, sizeof(w));
	return memcmp(got, w, sizeof(w)) == 0;
}

/* RFC 7748 section 6.1: Alice, Bob and their shared secret. */
static const char alice_priv[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char alice_pub[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char bob_priv[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char bob_pub[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char shared_k[] = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

static void rfc7748_diffie_hellman_vectors(void)
{
	uint8_t a[32], b[32], pa[32], pb[32], k1[32], k2[32];

	hex(alice_priv, a, 32);
	hex(bob_priv, b, 32);
	CHECK_INT(ds_key_public(a, pa), 0);
	CHECK(same_hex(pa, alice_pub));
	CHECK_INT(ds_key_public(b, pb), 0);
	CHECK(same_hex(pb, bob_pub));
	CHECK_INT(ds_key_shared(a, pb, k1), 0);
	CHECK_INT(ds_key_shared(b, pa, k2), 0);
	CHECK(same_hex(k1, shared_k));
	CHECK(same_hex(k2, shared_k));
}

/* RFC 7748 section 5.2: the X25519 function on a given scalar and u-coordinate. */
static void rfc7748_function_vector(void)
{
	uint8_t k[32], u[32], out[32];

	hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4", k, 32);
	hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", u, 32);
	CHECK_INT(ds_key_shared(k, u, out), 0);
	CHECK(same_hex(out, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"));
}

/* RFC 7748 section 5.2: k = u = 9, iterated: 1 and 1,000 times. */
static void rfc7748_iterated_vectors(void)
{
	uint8_t k[32] = { 9 }, u[32] = { 9 }, r[32];

	for (int i = 1; i <= 1000; i++) {
		CHECK_INT(ds_key_shared(k, u, r), 0);
		memcpy(u, k, 32);
		memcpy(k, r, 32);
		if (i == 1)
			CHECK(same_hex(k, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"));
	}
	CHECK(same_hex(k, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"));
}

static void low_order_peer_key_is_refused(void)
{
	uint8_t a[32], zero[32] = { 0 }, one[32] = { 1 }, out[32];

	hex(alice_priv, a, 32);
	CHECK_INT(ds_key_shared(a, zero, out), -EINVAL);
	CHECK_INT(ds_key_shared(a, one, out), -EINVAL);
}

static void base64_like_wg(void)
{
	uint8_t a[32], back[32];
	char s[DS_KEY_B64_LEN + 1];

	hex(alice_priv, a, 32);
	ds_key_to_base64(a, s);
	/* what `wg pubkey` reads and writes for this key */
	CHECK_STR(s, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=");
	CHECK_INT(ds_key_from_base64(s, back), 0);
	CHECK(memcmp(a, back, 32) == 0);
	CHECK_INT(ds_key_from_text("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", 45, back), 0);
	CHECK_INT(ds_key_from_text("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo= \r\n", 47, back), 0);
}

static void bad_base64_is_refused(void)
{
	uint8_t k[32];

	CHECK_INT(ds_key_from_base64("", k), -EINVAL);
	CHECK_INT(ds_key_from_base64("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo", k), -EINVAL);
	CHECK_INT(ds_key_from_base64("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo==", k), -EINVAL);
	CHECK_INT(ds_key_from_base64("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC==", k), -EINVAL);
	CHECK_INT(ds_key_from_base64("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L*o=", k), -EINVAL);
	CHECK_INT(ds_key_from_base64(" dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo", k), -EINVAL);
	/* non-canonical: "p" leaves unused bits set where "o" does not */
	CHECK_INT(ds_key_from_base64("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=", k), -EINVAL);
	CHECK_INT(ds_key_from_text("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\nx", 46, k), -EINVAL);
	CHECK_INT(ds_key_from_text("\n", 1, k), -EINVAL);
}

static void generated_keys_are_clamped_and_differ(void)
{
	uint8_t a[32], b[32], pa[32];

	CHECK_INT(ds_key_generate(a), 0);
	CHECK_INT(ds_key_generate(b), 0);
	CHECK(memcmp(a, b, 32) != 0);
	CHECK((a[0] & 7) == 0);
	CHECK((a[31] & 0xc0) == 0x40);
	CHECK_INT(ds_key_public(a, pa), 0);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd >= 0) {
		CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
		fchmod(fd, mode);
		close(fd);
	}
}

static void key_file_readable_by_others_is_refused(void)
{
	char dir[] = "/tmp/ds-test-key.XXXXXX", path[64];
	uint8_t k[32];
	mode_t mode = 0;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/key", dir);
	write_file(path, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", 0600);
	CHECK_INT(ds_key_load_private(path, k, &mode), 0);
	CHECK_INT(mode, 0600);
	CHECK(same_hex(k, alice_priv));
	chmod(path, 0400);
	CHECK_INT(ds_key_load_private(path, k, NULL), 0);
	chmod(path, 0640);
	CHECK_INT(ds_key_load_private(path, k, &mode), -EPERM);
	CHECK_INT(mode, 0640);
	chmod(path, 0604);
	CHECK_INT(ds_key_load_private(path, k, &mode), -EPERM);
	chmod(path, 0610);
	CHECK_INT(ds_key_load_private(path, k, &mode), -EPERM);
	write_file(path, "not a key\n", 0600);
	CHECK_INT(ds_key_load_private(path, k, NULL), -EINVAL);
	unlink(path);
	CHECK_INT(ds_key_load_private(path, k, NULL), -ENOENT);
	CHECK_INT(ds_key_load_private(dir, k, NULL), -EINVAL); /* not a regular file */
	rmdir(dir);
}

static void pair_keys_are_symmetric(void)
{
	uint8_t a[32], b[32], pa[32], pb[32];
	struct ds_pair_keys ka, kb, ka2;

	hex(alice_priv, a, 32);
	hex(bob_priv, b, 32);
	ds_key_public(a, pa);
	ds_key_public(b, pb);
	CHECK_INT(ds_key_pair_derive(a, pb, &ka), 0);
	CHECK_INT(ds_key_pair_derive(b, pa, &kb), 0);
	/* what A seals, B opens, and the other way round */
	CHECK(memcmp(ka.tx_key, kb.rx_key, 32) == 0);
	CHECK(memcmp(ka.rx_key, kb.tx_key, 32) == 0);
	CHECK(ka.tx_id == kb.rx_id);
	CHECK(ka.rx_id == kb.tx_id);
	/* the two directions never share a key or an id */
	CHECK(memcmp(ka.tx_key, ka.rx_key, 32) != 0);
	CHECK(ka.tx_id != ka.rx_id);
	/* deterministic */
	CHECK_INT(ds_key_pair_derive(a, pb, &ka2), 0);
	CHECK(memcmp(&ka, &ka2, sizeof(ka)) == 0);
	/* with myself: no pair */
	CHECK_INT(ds_key_pair_derive(a, pa, &ka2), -EINVAL);
}

static void pair_keys_differ_per_pair(void)
{
	uint8_t a[32], b[32], c[32], pb[32], pc[32];
	struct ds_pair_keys ab, ac;

	hex(alice_priv, a, 32);
	hex(bob_priv, b, 32);
	ds_key_generate(c);
	ds_key_public(b, pb);
	ds_key_public(c, pc);
	CHECK_INT(ds_key_pair_derive(a, pb, &ab), 0);
	CHECK_INT(ds_key_pair_derive(a, pc, &ac), 0);
	CHECK(memcmp(ab.tx_key, ac.tx_key, 32) != 0);
	CHECK(ab.tx_id != ac.tx_id);
}

static void session_keys_differ_per_session(void)
{
	uint8_t base[32] = { 1, 2, 3 }, s1[32], s2[32], s1b[32];

	CHECK_INT(ds_key_session_derive(base, 1, s1), 0);
	CHECK_INT(ds_key_session_derive(base, 2, s2), 0);
	CHECK_INT(ds_key_session_derive(base, 1, s1b), 0);
	CHECK(memcmp(s1, s2, 32) != 0);
	CHECK(memcmp(s1, s1b, 32) == 0);
	CHECK(memcmp(s1, base, 32) != 0);
}

/* The reusable deriver is HKDF-Expand too: the same bytes for every session id. */
static void deriver_matches_hkdf(void)
{
	struct ds_key_deriver *d;
	uint8_t base[32], a[32], b[32];
	int differ = 0;

	ds_key_generate(base);
	CHECK_INT(ds_key_deriver_new(base, &d), 0);
	for (uint64_t s = 0; s < 300; s++) {
		uint64_t id = s * UINT64_C(0x9e3779b97f4a7c15);

		CHECK_INT(ds_key_deriver_session(d, id, a), 0);
		CHECK_INT(ds_key_session_derive(base, id, b), 0);
		differ += memcmp(a, b, 32) != 0;
	}
	CHECK_INT(differ, 0);
	ds_key_deriver_free(d);
	ds_key_deriver_free(NULL);
}

int main(void)
{
	UNIT_RUN(rfc7748_diffie_hellman_vectors);
	UNIT_RUN(rfc7748_function_vector);
	UNIT_RUN(rfc7748_iterated_vectors);
	UNIT_RUN(low_order_peer_key_is_refused);
	UNIT_RUN(base64_like_wg);
	UNIT_RUN(bad_base64_is_refused);
	UNIT_RUN(generated_keys_are_clamped_and_differ);
	UNIT_RUN(key_file_readable_by_others_is_refused);
	UNIT_RUN(pair_keys_are_symmetric);
	UNIT_RUN(pair_keys_differ_per_pair);
	UNIT_RUN(session_keys_differ_per_session);
	UNIT_RUN(deriver_matches_hkdf);
	UNIT_EXIT();
}
