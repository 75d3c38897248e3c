/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ed25519 signers (RFC 8419), made and checked around OpenSSL 3.0's CMS. */
#include <otabundle/signature.h>

#include "signature-eddsa-private.h"
#include "signature-private.h"

#include <openssl/err.h>
#include <string.h>

#include "pki.h"

static const char content[] = "the manifest of a bundle";

typedef struct {
	char *dir;
	TestIdentity *root;    /* ECDSA */
	TestIdentity *ed_root; /* Ed25519 */
	char *keyring;         /* both roots */
	OtaChecksum digest;    /* of content: SHA-256 and SHA-512 */
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) blob = g_bytes_new_static(content, strlen(content));
	g_autofree char *a = NULL, *b = NULL, *key = NULL, *pem_a = NULL, *pem_b = NULL;
	g_autofree char *both = NULL;

	f->dir = test_tmpdir_new();
	f->root = test_pki_identity("ec", "Root", NULL, 0, 365);
	f->ed_root = test_pki_identity("ed25519", "Ed Root", NULL, 0, 365);
	test_pki_write(f->root, f->dir, "root", &a, &key);
	g_clear_pointer(&key, g_free);
	test_pki_write(f->ed_root, f->dir, "ed-root", &b, &key);
	g_assert_true(g_file_get_contents(a, &pem_a, NULL, NULL));
	g_assert_true(g_file_get_contents(b, &pem_b, NULL, NULL));
	f->keyring = g_build_filename(f->dir, "keyring.pem", NULL);
	both = g_strconcat(pem_a, pem_b, NULL);
	g_assert_true(g_file_set_contents(f->keyring, both, -1, NULL));
	g_assert_true(ota_checksum_bytes_all(blob, &f->digest, NULL));
}

static void teardown(Fixture *f, gconstpointer data)
{
	test_identity_free(f->root);
	test_identity_free(f->ed_root);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->keyring);
}

/* A signature by @ids over content, embedded (@embed) or detached. */
static GBytes *sign_with(Fixture *f, gboolean embed, guint n, TestIdentity **ids)
{
	g_autoptr(GPtrArray) signers = g_ptr_array_new_with_free_func((GDestroyNotify)ota_signer_free);
	g_autoptr(GBytes) blob = g_bytes_new_static(content, strlen(content));
	g_autoptr(GError) error = NULL;
	GBytes *der;

	for (guint i = 0; i < n; i++)
		g_ptr_array_add(signers, test_identity_signer(ids[i]));
	der = ota_signature_sign((OtaSigner *const *)signers->pdata, n, NULL, &f->digest,
	                         embed ? blob : NULL, &error);
	g_assert_no_error(error);
	return der;
}

static OtaSignature *parse_bytes(const guint8 *der, gsize len)
{
	g_autoptr(GError) error = NULL;
	OtaSignature *sig = ota_signature_parse(der, len, &error);

	g_assert_no_error(error);
	return sig;
}

static OtaSignature *parse(GBytes *der)
{
	return parse_bytes(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
}

static OtaPolicy *trust(Fixture *f, guint threshold)
{
	g_autoptr(GError) error = NULL;
	OtaPolicy *t = ota_policy_new(f->keyring, NULL, OTA_PURPOSE_ANY, TRUE, threshold, &error);

	g_assert_no_error(error);
	return t;
}

static CMS_SignerInfo *first_signer_info(OtaSignature *sig)
{
	return sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(sig->cms), 0);
}

static gint compare_der(gconstpointer a, gconstpointer b)
{
	GBytes *x = *(GBytes *const *)a, *y = *(GBytes *const *)b;
	gsize xn, yn;
	const guint8 *xd = g_bytes_get_data(x, &xn), *yd = g_bytes_get_data(y, &yn);
	int cmp = memcmp(xd, yd, MIN(xn, yn));

	return cmp != 0 ? cmp : (xn > yn) - (xn < yn);
}

/* RFC 5652 5.4 by hand, without the library's ASN.1 templates: the signed
 * attributes' DER, sorted, in a SET. */
static GByteArray *signed_attributes_set(CMS_SignerInfo *si)
{
	g_autoptr(GPtrArray) members = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_autoptr(GByteArray) body = g_byte_array_new();
	GByteArray *set = g_byte_array_new();
	guint8 header[3] = {0x31};

	for (int i = 0; i < CMS_signed_get_attr_count(si); i++) {
		unsigned char *der = NULL;
		int len = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &der);

		g_assert_cmpint(len, >, 0);
		g_ptr_array_add(members, g_bytes_new(der, (gsize)len));
		OPENSSL_free(der);
	}
	g_ptr_array_sort(members, compare_der);
	for (guint i = 0; i < members->len; i++) {
		gsize n;
		const guint8 *d = g_bytes_get_data(g_ptr_array_index(members, i), &n);

		g_byte_array_append(body, d, (guint)n);
	}
	g_assert_cmpuint(body->len, <, 256);
	if (body->len < 128) {
		header[1] = (guint8)body->len;
		g_byte_array_append(set, header, 2);
	} else {
		header[1] = 0x81;
		header[2] = (guint8)body->len;
		g_byte_array_append(set, header, 3);
	}
	g_byte_array_append(set, body->data, body->len);
	return set;
}

/* @si's signed attributes signed again by @key (after they were changed). */
static void resign_attributes(CMS_SignerInfo *si, EVP_PKEY *key)
{
	g_autoptr(GByteArray) set = signed_attributes_set(si);
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	guint8 sig[64];
	size_t len = sizeof(sig);

	g_assert_cmpint(EVP_DigestSignInit(ctx, NULL, NULL, NULL, key), ==, 1);
	g_assert_cmpint(EVP_DigestSign(ctx, sig, &len, set->data, set->len), ==, 1);
	g_assert_cmpint(ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)len), ==, 1);
}

static GBytes *encode(CMS_ContentInfo *cms)
{
	unsigned char *der = NULL;
	int len = i2d_CMS_ContentInfo(cms, &der);
	GBytes *out;

	g_assert_cmpint(len, >, 0);
	out = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return out;
}

static void assert_algorithm(const X509_ALGOR *alg, const char *oid)
{
	const ASN1_OBJECT *obj = NULL;
	int param_type = 0;
	char text[64];

	X509_ALGOR_get0(&obj, &param_type, NULL, alg);
	g_assert_cmpint(OBJ_obj2txt(text, sizeof(text), obj, 1), >, 0);
	g_assert_cmpstr(text, ==, oid);
	g_assert_cmpint(param_type, ==, V_ASN1_UNDEF);
}

/* --- what is written ----------------------------------------------------------- */

static void test_signer_uses_sha512_and_id_ed25519(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, FALSE, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	X509_ALGOR *digest_alg = NULL, *signature_alg = NULL;

	CMS_SignerInfo_get0_algs(first_signer_info(sig), NULL, NULL, &digest_alg, &signature_alg);
	assert_algorithm(digest_alg, "2.16.840.1.101.3.4.2.3");
	assert_algorithm(signature_alg, "1.3.101.112");
	g_assert_cmpint(ASN1_STRING_length(CMS_SignerInfo_get0_signature(first_signer_info(sig))),
	                ==, 64);
}

static void test_message_digest_is_the_contents_sha512(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, FALSE, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	CMS_SignerInfo *si = first_signer_info(sig);
	ASN1_OCTET_STRING *md = CMS_signed_get0_data_by_OBJ(
		si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING);
	guint8 expected[OTA_SHA512_LEN];

	g_assert_cmpint(EVP_Digest(content, strlen(content), expected, NULL, EVP_sha512(), NULL), ==,
	                1);
	g_assert_nonnull(md);
	g_assert_cmpmem(ASN1_STRING_get0_data(md), ASN1_STRING_length(md), expected,
	                sizeof(expected));
	g_assert_cmpint(CMS_signed_get_attr_count(si), ==, 3);
	g_assert_cmpint(CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1), >=, 0);
	g_assert_cmpint(CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1), >=, 0);
}

/* Checked with a SET built by hand and OpenSSL's one-shot EdDSA, not with
 * the code that made it. */
static void test_signature_is_pure_eddsa_over_the_signed_attributes(Fixture *f,
                                                                     gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, FALSE, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	CMS_SignerInfo *si = first_signer_info(sig);
	g_autoptr(GByteArray) set = signed_attributes_set(si);
	ASN1_OCTET_STRING *signature = CMS_SignerInfo_get0_signature(si);
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();

	g_assert_cmpint(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, X509_get0_pubkey(leaf->cert)),
	                ==, 1);
	g_assert_cmpint(EVP_DigestVerify(ctx, ASN1_STRING_get0_data(signature),
	                                 (size_t)ASN1_STRING_length(signature), set->data, set->len),
	                ==, 1);
}

static void test_signed_data_lists_sha512(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, FALSE, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	BIO *chain = CMS_dataInit(sig->cms, BIO_new(BIO_s_null()));
	gboolean found = FALSE;

	g_assert_nonnull(chain);
	for (BIO *b = chain; b != NULL; b = BIO_next(b)) {
		const EVP_MD *md = NULL;

		if (BIO_method_type(b) == BIO_TYPE_MD && BIO_get_md(b, &md) > 0)
			found |= EVP_MD_get_type(md) == NID_sha512;
	}
	BIO_free_all(chain);
	g_assert_true(found);
}

/* --- verification ---------------------------------------------------------------- */

static void test_detached_signature_counts(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, FALSE, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(OtaPolicy) t = trust(f, 1);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_signature_verify_content(sig, &f->digest, t, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(sig->counted, ==, 1);
}

static void test_embedded_signature_counts(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, TRUE, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(OtaPolicy) t = trust(f, 1);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_signature_verify_content(sig, NULL, t, &error));
	g_assert_no_error(error);
}

/* Root, leaf and signature all Ed25519. */
static void test_ed25519_ca_chain_counts(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed leaf", f->ed_root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, TRUE, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(OtaPolicy) t = trust(f, 1);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_signature_verify_content(sig, NULL, t, &error));
	g_assert_no_error(error);
}

/* The chain rules are those of every signer: another CA's leaf is reported
 * and not counted, an expired one likewise. */
static void test_untrusted_or_expired_ed25519_signer_is_not_counted(Fixture *f,
                                                                     gconstpointer data)
{
	g_autoptr(TestIdentity) stranger_root = test_pki_identity("ed25519", "Stranger", NULL, 0, 30);
	g_autoptr(TestIdentity) stranger = test_pki_identity("ed25519", "S", stranger_root, 0, 30);
	g_autoptr(TestIdentity) old = test_pki_identity("ed25519", "Old", f->ed_root, -30, -1);
	g_autoptr(OtaPolicy) t = trust(f, 1);
	TestIdentity *leaves[] = {stranger, old};
	const char *reasons[] = {"unable to get local issuer", "expired"};

	for (gsize i = 0; i < G_N_ELEMENTS(leaves); i++) {
		g_autoptr(GBytes) der = sign_with(f, TRUE, 1, &leaves[i]);
		g_autoptr(OtaSignature) sig = parse(der);
		g_autoptr(GError) error = NULL;

		g_assert_false(ota_signature_verify_content(sig, NULL, t, &error));
		g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
		g_assert_nonnull(strstr(error->message, reasons[i]));
	}
}

static void test_flipped_signature_byte_is_invalid(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, TRUE, 1, &leaf);
	gsize len = g_bytes_get_size(der);
	g_autofree guint8 *bad = g_memdup2(g_bytes_get_data(der, NULL), len);
	g_autoptr(OtaPolicy) t = trust(f, 1);
	g_autoptr(OtaSignature) sig = NULL;
	g_autoptr(GError) error = NULL;

	/* The 64-byte signature value ends the SignerInfo, and the CMS. */
	bad[len - 5] ^= 0x01;
	sig = parse_bytes(bad, len);
	g_assert_false(ota_signature_verify_content(sig, NULL, t, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "signature is invalid"));
}

static void test_modified_content_is_invalid(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, FALSE, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(OtaPolicy) t = trust(f, 1);
	g_autoptr(GError) error = NULL;
	OtaChecksum other = f->digest;

	other.sha512[0] ^= 1;
	g_assert_false(ota_signature_verify_content(sig, &other, t, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "modified"));
}

/* The public API takes only a SHA-256 for detached content: an Ed25519
 * signer then can't be checked, and says so, rather than pass. */
static void test_detached_sha256_alone_cannot_check_an_ed25519_signer(Fixture *f,
                                                                      gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, FALSE, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(OtaPolicy) t = trust(f, 1);
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_signature_verify(sig, f->digest.sha256, t, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED);
	g_assert_nonnull(strstr(error->message, "SHA-512"));
}

/* The digest algorithm is not signed: only our check stops a SignerInfo
 * that claims SHA-256 for an Ed25519 key. */
static void test_digest_algorithm_other_than_sha512_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, TRUE, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(OtaPolicy) t = trust(f, 1);
	g_autoptr(GError) error = NULL;
	X509_ALGOR *digest_alg = NULL;

	CMS_SignerInfo_get0_algs(first_signer_info(sig), NULL, NULL, &digest_alg, NULL);
	X509_ALGOR_set_md(digest_alg, EVP_sha256());
	g_assert_false(ota_signature_verify_content(sig, NULL, t, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED);
	g_assert_nonnull(strstr(error->message, "SHA-512"));
}

static void test_signature_algorithm_with_parameters_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, TRUE, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(OtaPolicy) t = trust(f, 1);
	g_autoptr(GError) error = NULL;
	X509_ALGOR *signature_alg = NULL;

	CMS_SignerInfo_get0_algs(first_signer_info(sig), NULL, NULL, NULL, &signature_alg);
	g_assert_cmpint(X509_ALGOR_set0(signature_alg, OBJ_nid2obj(NID_ED25519), V_ASN1_NULL, NULL),
	                ==, 1);
	g_assert_false(ota_signature_verify_content(sig, NULL, t, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED);
	g_assert_nonnull(strstr(error->message, "id-Ed25519"));
}

/* Two contentType attributes, validly signed: as CMS_SignerInfo_verify()
 * refuses it for other signers, so for this one. */
static void test_repeated_signed_attribute_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, TRUE, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(OtaSignature) again = NULL;
	g_autoptr(GBytes) tampered = NULL;
	g_autoptr(OtaPolicy) t = trust(f, 1);
	g_autoptr(GError) error = NULL;
	CMS_SignerInfo *si = first_signer_info(sig);

	g_assert_cmpint(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
	                                            OBJ_nid2obj(NID_pkcs7_signed), -1), ==, 1);
	resign_attributes(si, leaf->key);
	tampered = encode(sig->cms);
	again = parse(tampered);
	g_assert_false(ota_signature_verify_content(again, NULL, t, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "malformed"));
}

/* --- sets with other signers ---------------------------------------------------- */

static void test_mixed_signer_infos_count_three_keys(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) ec = test_pki_identity("ec", "EC", f->root, 0, 30);
	g_autoptr(TestIdentity) rsa = test_pki_identity("rsa2048", "RSA", f->root, 0, 30);
	g_autoptr(TestIdentity) ed = test_pki_identity("ed25519", "Ed", f->ed_root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, TRUE, 3, (TestIdentity *[]){ec, ed, rsa});
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(OtaPolicy) t = trust(f, 3);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(sig->cms)), ==, 3);
	g_assert_true(ota_signature_verify_content(sig, NULL, t, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(sig->counted, ==, 3);
}

static GBytes *merge(Fixture *f, TestIdentity *primary, TestIdentity *other,
                     OtaSignatureEncoding encoding)
{
	g_autoptr(GBytes) base = sign_with(f, TRUE, 1, &primary);
	g_autoptr(GBytes) part = sign_with(f, FALSE, 1, &other);
	g_autoptr(GError) error = NULL;
	GBytes *out = ota_signature_merge(base, &part, 1, &f->digest, encoding, &error);

	g_assert_no_error(error);
	return out;
}

static void test_nested_sets_count_both_ways_round(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) ec = test_pki_identity("ec", "EC", f->root, 0, 30);
	g_autoptr(TestIdentity) ed = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	TestIdentity *order[][2] = {{ec, ed}, {ed, ec}};

	for (gsize i = 0; i < G_N_ELEMENTS(order); i++) {
		g_autoptr(GBytes) der =
			merge(f, order[i][0], order[i][1], OTA_SIGNATURE_ENCODING_NESTED);
		g_autoptr(OtaSignature) sig = parse(der);
		g_autoptr(OtaPolicy) t = trust(f, 2);
		g_autoptr(GError) error = NULL;

		g_assert_cmpuint(sig->nested->len, ==, 1);
		g_assert_true(ota_signature_verify_content(sig, NULL, t, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(sig->counted, ==, 2);
	}
}

/* What a RAUC device checks: OpenSSL's CMS_verify() of the outer signer.
 * An Ed25519 signer nested inside must not disturb it. */
static void test_outer_ecdsa_signer_still_verifies_with_cms_verify(Fixture *f,
                                                                    gconstpointer data)
{
	g_autoptr(TestIdentity) ec = test_pki_identity("ec", "EC", f->root, 0, 30);
	g_autoptr(TestIdentity) ed = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = merge(f, ec, ed, OTA_SIGNATURE_ENCODING_NESTED);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(X509_STORE) store = X509_STORE_new();

	X509_STORE_add_cert(store, f->root->cert);
	g_assert_cmpint(CMS_verify(sig->cms, NULL, store, NULL, NULL, CMS_BINARY), ==, 1);
}

/* SignerInfos merged into one SignedData: its digestAlgorithms must come
 * to list SHA-512 (verifiers digest with those alone), and SHA-256 when
 * an ECDSA signer joins an Ed25519 one. */
static void test_signer_infos_merge_lists_both_digests(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) ec = test_pki_identity("ec", "EC", f->root, 0, 30);
	g_autoptr(TestIdentity) ed = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	TestIdentity *order[][2] = {{ec, ed}, {ed, ec}};

	for (gsize i = 0; i < G_N_ELEMENTS(order); i++) {
		g_autoptr(GBytes) der =
			merge(f, order[i][0], order[i][1], OTA_SIGNATURE_ENCODING_SIGNER_INFOS);
		g_autoptr(OtaSignature) sig = parse(der);
		g_autoptr(OtaPolicy) t = trust(f, 2);
		g_autoptr(GError) error = NULL;

		g_assert_cmpint(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(sig->cms)), ==, 2);
		g_assert_true(ota_signature_verify_content(sig, NULL, t, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(sig->counted, ==, 2);
	}
}

static void test_signs_digest_compares_the_sha512(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) ed = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, FALSE, 1, &ed);
	g_autoptr(OtaSignature) sig = parse(der);
	OtaChecksum other = f->digest;
	OtaChecksum sha256_only = f->digest;

	g_assert_true(ota_signature_signs_digest(sig, &f->digest));
	other.sha512[63] ^= 1;
	g_assert_false(ota_signature_signs_digest(sig, &other));
	sha256_only.has_sha512 = FALSE;
	g_assert_false(ota_signature_signs_digest(sig, &sha256_only));
	g_assert_true(ota_signature_has_ed25519_signer(sig));
}

static void test_signing_without_the_sha512_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) ed = test_pki_identity("ed25519", "Ed", f->root, 0, 30);
	g_autoptr(OtaSigner) signer = test_identity_signer(ed);
	g_autoptr(GError) error = NULL;
	OtaChecksum sha256_only = f->digest;
	g_autoptr(GBytes) der = NULL;

	sha256_only.has_sha512 = FALSE;
	der = ota_signature_sign(&signer, 1, NULL, &sha256_only, NULL, &error);
	g_assert_null(der);
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/signature-eddsa/" name, Fixture, NULL, setup, fn, teardown)
	ADD("signer-uses-sha512-and-id-ed25519", test_signer_uses_sha512_and_id_ed25519);
	ADD("message-digest-is-the-contents-sha512", test_message_digest_is_the_contents_sha512);
	ADD("signature-is-pure-eddsa-over-the-signed-attributes",
	    test_signature_is_pure_eddsa_over_the_signed_attributes);
	ADD("signed-data-lists-sha512", test_signed_data_lists_sha512);
	ADD("detached-signature-counts", test_detached_signature_counts);
	ADD("embedded-signature-counts", test_embedded_signature_counts);
	ADD("ed25519-ca-chain-counts", test_ed25519_ca_chain_counts);
	ADD("untrusted-or-expired-signer-is-not-counted",
	    test_untrusted_or_expired_ed25519_signer_is_not_counted);
	ADD("flipped-signature-byte-is-invalid", test_flipped_signature_byte_is_invalid);
	ADD("modified-content-is-invalid", test_modified_content_is_invalid);
	ADD("detached-sha256-alone-cannot-check-an-ed25519-signer",
	    test_detached_sha256_alone_cannot_check_an_ed25519_signer);
	ADD("digest-algorithm-other-than-sha512-is-refused",
	    test_digest_algorithm_other_than_sha512_is_refused);
	ADD("signature-algorithm-with-parameters-is-refused",
	    test_signature_algorithm_with_parameters_is_refused);
	ADD("repeated-signed-attribute-is-refused", test_repeated_signed_attribute_is_refused);
	ADD("mixed-signer-infos-count-three-keys", test_mixed_signer_infos_count_three_keys);
	ADD("nested-sets-count-both-ways-round", test_nested_sets_count_both_ways_round);
	ADD("outer-ecdsa-signer-still-verifies-with-cms-verify",
	    test_outer_ecdsa_signer_still_verifies_with_cms_verify);
	ADD("signer-infos-merge-lists-both-digests", test_signer_infos_merge_lists_both_digests);
	ADD("signs-digest-compares-the-sha512", test_signs_digest_compares_the_sha512);
	ADD("signing-without-the-sha512-is-refused", test_signing_without_the_sha512_is_refused);
	return g_test_run();
}
