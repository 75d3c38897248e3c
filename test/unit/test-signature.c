/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/signature.h>

#include "signature-private.h"

#include <openssl/err.h>
#include <string.h>

#include "pki.h"

static const char content[] = "the payload of a bundle";

typedef struct {
	char *dir;
	TestIdentity *root;
	TestIdentity *other_root;
	char *keyring;
	char *other_keyring;
	guint8 digest[OTA_SHA256_LEN]; /* of content: what ota_signature_verify() takes */
	OtaChecksum content;           /* its digests, SHA-512 too: what the library passes */
} Fixture;

static char *write_cert(Fixture *f, const TestIdentity *id, const char *name)
{
	char *cert = NULL, *key = NULL;

	test_pki_write(id, f->dir, name, &cert, &key);
	g_free(key);
	return cert;
}

static void setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) blob = g_bytes_new_static(content, strlen(content));

	f->dir = test_tmpdir_new();
	f->root = test_pki_identity("ec", "Root", NULL, 0, 365);
	f->other_root = test_pki_identity("ec", "Other Root", NULL, 0, 365);
	f->keyring = write_cert(f, f->root, "root");
	f->other_keyring = write_cert(f, f->other_root, "other");
	g_assert_true(ota_checksum_bytes_all(blob, &f->content, NULL));
	memcpy(f->digest, f->content.sha256, OTA_SHA256_LEN);
}

static void teardown(Fixture *f, gconstpointer data)
{
	test_identity_free(f->root);
	test_identity_free(f->other_root);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->keyring);
	g_free(f->other_keyring);
}

static GBytes *sign_with(Fixture *f, const OtaChecksum *digest, guint n, TestIdentity **ids)
{
	g_autoptr(GPtrArray) signers = g_ptr_array_new_with_free_func((GDestroyNotify)ota_signer_free);
	g_autoptr(GError) error = NULL;
	GBytes *der;

	for (guint i = 0; i < n; i++)
		g_ptr_array_add(signers, test_identity_signer(ids[i]));
	der = ota_signature_sign((OtaSigner *const *)signers->pdata, n, NULL, digest, NULL, &error);
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

static OtaPolicy *trust_n(const char *keyring, OtaPurpose purpose, gboolean check_time,
                          guint threshold)
{
	g_autoptr(GError) error = NULL;
	OtaPolicy *t = ota_policy_new(keyring, NULL, purpose, check_time, threshold, &error);

	g_assert_no_error(error);
	return t;
}

static OtaPolicy *trust(const char *keyring, OtaPurpose purpose, gboolean check_time)
{
	return trust_n(keyring, purpose, check_time, 1);
}

/* Signs @content with one fresh leaf under f->root and verifies it. */
static gboolean sign_and_verify(Fixture *f, TestIdentity *leaf, OtaPolicy *t, GError **error)
{
	g_autoptr(GBytes) der = sign_with(f, &f->content, 1, &leaf);
	g_autoptr(OtaSignature) sig = parse(der);

	return ota_signature_verify(sig, f->digest, t, error);
}

static void test_signature_verifies_against_its_root(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", f->root, 0, 30);
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_ANY, TRUE);
	g_autoptr(GBytes) der = sign_with(f, &f->content, 1, (TestIdentity *[]){leaf});
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(GError) error = NULL;
	OtaSignerInfo *info;

	g_assert_true(sig->detached);
	g_assert_true(ota_signature_verify(sig, f->digest, t, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(sig->counted, ==, 1);
	info = g_ptr_array_index(sig->signers, 0);
	g_assert_cmpstr(info->subject, ==, "CN=Signer");
	g_assert_cmpstr(info->issuer, ==, "CN=Root");
	g_assert_cmpint(info->status, ==, OTA_SIGNER_COUNTED);
	g_assert_cmpuint(strlen(info->cert_sha256), ==, 64);
	g_assert_true(g_str_has_suffix(info->not_after, "Z"));
}

/* Our signatures must be ordinary CMS, not just something we can read. */
static void test_signature_verifies_with_openssl_cms_verify(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, &f->content, 1, (TestIdentity *[]){leaf});
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(X509_STORE) store = X509_STORE_new();
	g_autoptr(BIO) in = BIO_new_mem_buf(content, (int)strlen(content));

	X509_STORE_add_cert(store, f->root->cert);
	g_assert_cmpint(CMS_verify(sig->cms, NULL, store, in, NULL, CMS_BINARY | CMS_DETACHED), ==, 1);
}

static void test_signed_attributes_are_those_rauc_writes(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, &f->content, 1, (TestIdentity *[]){leaf});
	g_autoptr(OtaSignature) sig = parse(der);
	CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(sig->cms), 0);

	g_assert_cmpint(CMS_signed_get_attr_count(si), ==, 3);
	g_assert_cmpint(CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1), >=, 0);
	g_assert_cmpint(CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1), >=, 0);
	g_assert_cmpint(CMS_signed_get_attr_by_NID(si, NID_pkcs9_messageDigest, -1), >=, 0);
}

static void test_modified_content_is_invalid(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", f->root, 0, 30);
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_ANY, TRUE);
	g_autoptr(GBytes) der = sign_with(f, &f->content, 1, (TestIdentity *[]){leaf});
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(GError) error = NULL;
	guint8 other[OTA_SHA256_LEN];

	memcpy(other, f->digest, sizeof(other));
	other[31] ^= 1;
	g_assert_false(ota_signature_verify(sig, other, t, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "modified"));
}

static void test_flipped_signature_byte_is_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("rsa2048", "Signer", f->root, 0, 30);
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_ANY, TRUE);
	g_autoptr(GBytes) der = sign_with(f, &f->content, 1, (TestIdentity *[]){leaf});
	gsize len = g_bytes_get_size(der);
	g_autofree guint8 *bad = g_memdup2(g_bytes_get_data(der, NULL), len);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSignature) sig = NULL;

	/* The RSA signature value is the last element of the SignerInfo. */
	bad[len - 10] ^= 0x40;
	sig = ota_signature_parse(bad, len, &error);
	g_assert_no_error(error);
	g_assert_false(ota_signature_verify(sig, f->digest, t, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID);
}

static void test_signer_from_another_ca_is_untrusted(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Stranger", f->other_root, 0, 30);
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_ANY, TRUE);
	g_autoptr(GError) error = NULL;

	g_assert_false(sign_and_verify(f, leaf, t, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	g_assert_nonnull(strstr(error->message, "CN=Stranger"));
}

static void test_expired_signer_is_untrusted(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Old", f->root, -30, -1);
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_ANY, TRUE);
	g_autoptr(GError) error = NULL;

	g_assert_false(sign_and_verify(f, leaf, t, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	g_assert_nonnull(strstr(error->message, "expired"));
}

static void test_expired_signer_passes_without_time_check(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Old", f->root, -30, -1);
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_ANY, FALSE);
	g_autoptr(GError) error = NULL;

	g_assert_true(sign_and_verify(f, leaf, t, &error));
	g_assert_no_error(error);
}

static void test_codesign_purpose_needs_code_signing_usage(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) plain = test_pki_identity("ec", "Plain", f->root, 0, 30);
	g_autoptr(TestIdentity) coder =
		test_pki_identity_eku("ec", "Coder", f->root, 0, 30, "codeSigning");
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_CODESIGN, TRUE);
	g_autoptr(GError) error = NULL;

	g_assert_false(sign_and_verify(f, plain, t, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	g_assert_nonnull(strstr(error->message, "codeSigning"));
	g_clear_error(&error);
	g_assert_true(sign_and_verify(f, coder, t, &error));
	g_assert_no_error(error);
}

static void test_smimesign_purpose_rejects_code_signing_only_leaf(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) coder =
		test_pki_identity_eku("ec", "Coder", f->root, 0, 30, "codeSigning");
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_SMIMESIGN, TRUE);
	g_autoptr(GError) error = NULL;

	g_assert_false(sign_and_verify(f, coder, t, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
}

/* N of M: two distinct trusted keys meet a threshold of 2 even when a
 * third signer does not chain (it is reported, not counted). */
static void test_untrusted_signer_does_not_spoil_a_met_threshold(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, 0, 30);
	g_autoptr(TestIdentity) b = test_pki_identity("ec", "B", f->root, 0, 30);
	g_autoptr(TestIdentity) c = test_pki_identity("ec", "C", f->other_root, 0, 30);
	g_autoptr(OtaPolicy) t = trust_n(f->keyring, OTA_PURPOSE_ANY, TRUE, 2);
	g_autoptr(GBytes) der = sign_with(f, &f->content, 3, (TestIdentity *[]){a, c, b});
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_signature_verify(sig, f->digest, t, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(sig->counted, ==, 2);
	/* SignerInfos is a DER SET OF: encoding sorts it, so find C by name. */
	for (guint i = 0; i < sig->signers->len; i++) {
		const OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);

		g_assert_cmpint(info->status, ==,
		                g_str_equal(info->subject, "CN=C") ? OTA_SIGNER_UNTRUSTED
		                                                   : OTA_SIGNER_COUNTED);
	}
}

static void test_threshold_above_the_signer_count_fails(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, 0, 30);
	g_autoptr(OtaPolicy) t = trust_n(f->keyring, OTA_PURPOSE_ANY, TRUE, 2);
	g_autoptr(GBytes) der = sign_with(f, &f->content, 1, (TestIdentity *[]){a});
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_signature_verify(sig, f->digest, t, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	g_assert_nonnull(strstr(error->message, "1 of 2"));
}

static void test_two_keys_count_twice(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, 0, 30);
	g_autoptr(TestIdentity) b = test_pki_identity("rsa2048", "B", f->root, 0, 30);
	g_autoptr(OtaPolicy) t = trust_n(f->keyring, OTA_PURPOSE_ANY, TRUE, 2);
	g_autoptr(GBytes) der = sign_with(f, &f->content, 2, (TestIdentity *[]){a, b});
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_signature_verify(sig, f->digest, t, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(sig->counted, ==, 2);
}

static void test_one_key_with_two_certificates_counts_once(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, 0, 30);
	g_autoptr(TestIdentity) a2 = test_pki_reissue(a, "A again", f->root);
	g_autoptr(OtaPolicy) t = trust_n(f->keyring, OTA_PURPOSE_ANY, TRUE, 2);
	g_autoptr(GBytes) der = sign_with(f, &f->content, 2, (TestIdentity *[]){a, a2});
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_signature_verify(sig, f->digest, t, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	g_assert_cmpuint(sig->counted, ==, 1);
	g_assert_cmpint(((OtaSignerInfo *)g_ptr_array_index(sig->signers, 1))->status, ==,
	                OTA_SIGNER_DUPLICATE_KEY);
}

static GBytes *sign_embedded(Fixture *f, TestIdentity *leaf)
{
	g_autoptr(GBytes) blob = g_bytes_new_static(content, strlen(content));
	g_autoptr(OtaSigner) signer = test_identity_signer(leaf);
	g_autoptr(GError) error = NULL;
	GBytes *der = ota_signature_sign(&signer, 1, NULL, &f->content, blob, &error);

	g_assert_no_error(error);
	return der;
}

static void test_embedded_signature_verifies_and_returns_content(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", f->root, 0, 30);
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_ANY, TRUE);
	g_autoptr(GBytes) der = sign_embedded(f, leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(GBytes) got = ota_signature_get_content(sig);
	g_autoptr(GError) error = NULL;

	g_assert_false(sig->detached);
	g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got), content, strlen(content));
	g_assert_true(ota_signature_verify(sig, NULL, t, &error));
	g_assert_no_error(error);
}

static void test_embedded_signature_verifies_with_openssl_cms_verify(Fixture *f,
                                                                     gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_embedded(f, leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(X509_STORE) store = X509_STORE_new();
	g_autoptr(BIO) out = BIO_new(BIO_s_mem());
	char *data_out = NULL;
	long len;

	X509_STORE_add_cert(store, f->root->cert);
	g_assert_cmpint(CMS_verify(sig->cms, NULL, store, NULL, out, CMS_BINARY), ==, 1);
	len = BIO_get_mem_data(out, &data_out);
	g_assert_cmpmem(data_out, len, content, strlen(content));
}

static void test_modified_embedded_content_is_invalid(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", f->root, 0, 30);
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_ANY, TRUE);
	g_autoptr(GBytes) der = sign_embedded(f, leaf);
	gsize len = g_bytes_get_size(der);
	g_autofree guint8 *bad = g_memdup2(g_bytes_get_data(der, NULL), len);
	guint8 *hit = memmem(bad, len, "payload", 7);
	g_autoptr(OtaSignature) sig = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_nonnull(hit);
	hit[0] = 'P';
	sig = parse_bytes(bad, len);
	g_assert_false(ota_signature_verify(sig, NULL, t, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID);
}

static void test_detached_digest_for_embedded_signature_is_refused(Fixture *f,
                                                                   gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", f->root, 0, 30);
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_ANY, TRUE);
	g_autoptr(GBytes) der = sign_embedded(f, leaf);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_signature_verify(sig, f->digest, t, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED);
}

static GBytes *merged(Fixture *f, TestIdentity *primary, TestIdentity *const *others, guint n,
                      OtaSignatureEncoding encoding)
{
	g_autoptr(GBytes) base = sign_with(f, &f->content, 1, (TestIdentity *[]){primary});
	g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_autoptr(GError) error = NULL;
	GBytes *out;

	for (guint i = 0; i < n; i++)
		g_ptr_array_add(parts, sign_with(f, &f->content, 1, (TestIdentity *[]){others[i]}));
	out = ota_signature_merge(base, (GBytes *const *)parts->pdata, n, &f->content, encoding,
	                          &error);
	g_assert_no_error(error);
	return out;
}

static void test_nested_signers_count_toward_the_threshold(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, 0, 30);
	g_autoptr(TestIdentity) b = test_pki_identity("rsa2048", "B", f->root, 0, 30);
	g_autoptr(TestIdentity) c = test_pki_identity("ec", "C", f->root, 0, 30);
	g_autoptr(GBytes) der = merged(f, a, (TestIdentity *[]){b, c}, 2, OTA_SIGNATURE_ENCODING_NESTED);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(OtaPolicy) t = trust_n(f->keyring, OTA_PURPOSE_ANY, TRUE, 3);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(sig->cms)), ==, 1);
	g_assert_cmpuint(sig->signers->len, ==, 3);
	g_assert_true(((OtaSignerInfo *)g_ptr_array_index(sig->signers, 2))->nested);
	g_assert_true(ota_signature_verify(sig, f->digest, t, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(sig->counted, ==, 3);
}

/* What RAUC does: OpenSSL's CMS_verify over the one SignerInfo. Nesting
 * must leave that signature intact. */
static void test_nested_signature_still_verifies_with_cms_verify(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, 0, 30);
	g_autoptr(TestIdentity) b = test_pki_identity("ec", "B", f->root, 0, 30);
	g_autoptr(GBytes) der = merged(f, a, (TestIdentity *[]){b}, 1, OTA_SIGNATURE_ENCODING_NESTED);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(X509_STORE) store = X509_STORE_new();
	g_autoptr(BIO) in = BIO_new_mem_buf(content, (int)strlen(content));

	X509_STORE_add_cert(store, f->root->cert);
	g_assert_cmpint(CMS_verify(sig->cms, NULL, store, in, NULL, CMS_BINARY | CMS_DETACHED), ==, 1);
}

static void test_signer_infos_merge_adds_signer_infos(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, 0, 30);
	g_autoptr(TestIdentity) b = test_pki_identity("ec", "B", f->root, 0, 30);
	g_autoptr(GBytes) der =
		merged(f, a, (TestIdentity *[]){b}, 1, OTA_SIGNATURE_ENCODING_SIGNER_INFOS);
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(OtaPolicy) t = trust_n(f->keyring, OTA_PURPOSE_ANY, TRUE, 2);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(sig->cms)), ==, 2);
	g_assert_cmpuint(sig->nested->len, ==, 0);
	g_assert_true(ota_signature_verify(sig, f->digest, t, &error));
	g_assert_no_error(error);
}

static void test_partial_over_other_content_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, 0, 30);
	g_autoptr(TestIdentity) b = test_pki_identity("ec", "B", f->root, 0, 30);
	OtaChecksum other = {0};
	g_autoptr(GBytes) base = sign_with(f, &f->content, 1, (TestIdentity *[]){a});
	g_autoptr(GBytes) part = sign_with(f, &other, 1, (TestIdentity *[]){b});
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) out = ota_signature_merge(base, &part, 1, &f->content,
	                                            OTA_SIGNATURE_ENCODING_NESTED, &error);

	g_assert_null(out);
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID);
}

/* What tells "signs another bundle" from "modified after signing": the
 * signers' own signatures hold, and the digest they name is another. */
static void test_signature_over_other_content_names_its_digest(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, 0, 30);
	OtaChecksum other = {0};
	g_autoptr(GBytes) der = sign_with(f, &other, 1, (TestIdentity *[]){a});
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_signature_check_attributes(sig, &error));
	g_assert_no_error(error);
	g_assert_true(ota_signature_signs_digest(sig, &other));
	g_assert_false(ota_signature_signs_digest(sig, &f->content));
}

static void test_flipped_signature_byte_fails_the_attribute_check(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, &f->content, 1, (TestIdentity *[]){a});
	g_autofree guint8 *bytes = g_memdup2(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
	g_autoptr(OtaSignature) sig = NULL;
	g_autoptr(GError) error = NULL;

	/* The signature value is the last field of the last SignerInfo. */
	bytes[g_bytes_get_size(der) - 10] ^= 0x01;
	sig = parse_bytes(bytes, g_bytes_get_size(der));
	g_assert_false(ota_signature_check_attributes(sig, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID);
}

/* A nested signature whose bytes were altered is tampering, not merely an
 * uncounted signer. */
static void test_tampered_nested_signature_rejects_everything(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, 0, 30);
	g_autoptr(TestIdentity) b = test_pki_identity("rsa2048", "B", f->root, 0, 30);
	g_autoptr(GBytes) der = merged(f, a, (TestIdentity *[]){b}, 1, OTA_SIGNATURE_ENCODING_NESTED);
	gsize len = g_bytes_get_size(der);
	g_autofree guint8 *bad = g_memdup2(g_bytes_get_data(der, NULL), len);
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_ANY, TRUE);
	g_autoptr(OtaSignature) sig = NULL;
	g_autoptr(GError) error = NULL;

	/* The nested RSA signature value ends the whole encoding. */
	bad[len - 20] ^= 0x01;
	sig = parse_bytes(bad, len);
	g_assert_false(ota_signature_verify(sig, f->digest, t, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID);
}

static void test_garbage_is_not_cms(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSignature) sig = ota_signature_parse((const guint8 *)"garbage", 7, &error);

	g_assert_null(sig);
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_PARSE);
}

static void test_trailing_bytes_after_cms_are_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, &f->content, 1, (TestIdentity *[]){leaf});
	gsize len = g_bytes_get_size(der);
	g_autofree guint8 *longer = g_malloc0(len + 4);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSignature) sig = NULL;

	memcpy(longer, g_bytes_get_data(der, NULL), len);
	sig = ota_signature_parse(longer, len + 4, &error);
	g_assert_null(sig);
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_PARSE);
}

static void test_every_truncation_is_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", f->root, 0, 30);
	g_autoptr(GBytes) der = sign_with(f, &f->content, 1, (TestIdentity *[]){leaf});
	const guint8 *p = g_bytes_get_data(der, NULL);

	for (gsize len = 0; len < g_bytes_get_size(der); len++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(OtaSignature) sig = ota_signature_parse(p, len, &error);

		g_assert_null(sig);
		g_assert_nonnull(error);
	}
}

static void test_keyring_without_certificates_is_an_error(Fixture *f, gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->dir, "empty.pem", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaPolicy) t = NULL;

	g_assert_true(g_file_set_contents(path, "", 0, NULL));
	t = ota_policy_new(path, NULL, OTA_PURPOSE_ANY, TRUE, 1, &error);
	g_assert_null(t);
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING);
	g_assert_nonnull(strstr(error->message, path));
}

/* --- use-bundle-signing-time ---------------------------------------------- */

#define DAY (24 * 60 * 60)

G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_TIME, ASN1_TIME_free)

/* The signed attributes of @si as DER (a SET OF, its members sorted as DER
 * wants them), signed again with @key: what CMS_SignerInfo_sign() does,
 * which would add a signingTime of its own. */
static gint compare_der(gconstpointer a, gconstpointer b)
{
	GBytes *x = *(GBytes *const *)a, *y = *(GBytes *const *)b;
	gsize xn, yn;
	const guint8 *xd = g_bytes_get_data(x, &xn), *yd = g_bytes_get_data(y, &yn);
	int cmp = memcmp(xd, yd, MIN(xn, yn));

	return cmp != 0 ? cmp : (xn > yn) - (xn < yn);
}

static void sign_attributes(CMS_SignerInfo *si, EVP_PKEY *key)
{
	g_autoptr(GPtrArray) members = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_autoptr(GByteArray) body = g_byte_array_new();
	g_autoptr(GByteArray) set = g_byte_array_new();
	g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();
	guint8 header[4] = {0x31};
	guint8 sig[512];
	gsize siglen = sizeof(sig);
	guint header_len;

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
	g_assert_cmpuint(body->len, <, 65536);
	if (body->len < 128) {
		header[1] = (guint8)body->len;
		header_len = 2;
	} else if (body->len < 256) {
		header[1] = 0x81;
		header[2] = (guint8)body->len;
		header_len = 3;
	} else {
		header[1] = 0x82;
		header[2] = (guint8)(body->len >> 8);
		header[3] = (guint8)body->len;
		header_len = 4;
	}
	g_byte_array_append(set, header, header_len);
	g_byte_array_append(set, body->data, body->len);
	g_assert_cmpint(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), ==, 1);
	g_assert_cmpint(EVP_DigestSign(md, sig, &siglen, set->data, set->len), ==, 1);
	g_assert_cmpint(ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)siglen), ==, 1);
}

/* A detached signature over f->digest by @leaf, as otabundle writes one,
 * but with the signingTime @when, or (@when 0) none at all. */
static GBytes *sign_at(Fixture *f, const TestIdentity *leaf, time_t when)
{
	g_autoptr(CMS_ContentInfo) cms =
		CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY | CMS_DETACHED);
	g_autoptr(ASN1_TIME) t = ASN1_TIME_set(NULL, when ? when : time(NULL));
	unsigned char *der = NULL;
	CMS_SignerInfo *si;
	GBytes *out;
	int len;

	g_assert_nonnull(cms);
	si = CMS_add1_signer(cms, leaf->cert, leaf->key, EVP_sha256(),
	                     CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP);
	g_assert_nonnull(si);
	g_assert_cmpint(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
	                                            OBJ_nid2obj(NID_pkcs7_data), -1), ==, 1);
	g_assert_cmpint(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest,
	                                            V_ASN1_OCTET_STRING, f->digest, OTA_SHA256_LEN),
	                ==, 1);
	g_assert_cmpint(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, ASN1_STRING_type(t),
	                                            t, -1), ==, 1);
	g_assert_cmpint(CMS_SignerInfo_sign(si), ==, 1);
	if (when == 0) {
		X509_ATTRIBUTE_free(CMS_signed_delete_attr(
			si, CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1)));
		sign_attributes(si, leaf->key);
	}
	len = i2d_CMS_ContentInfo(cms, &der);
	g_assert_cmpint(len, >, 0);
	out = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return out;
}

typedef struct {
	OtaSignerStatus status;
	char *reason;
} Verdict;

/* The one signer of @der as @t sees it. */
static Verdict verdict(GBytes *der, const guint8 *digest, OtaPolicy *t)
{
	g_autoptr(OtaSignature) sig = parse(der);
	g_autoptr(GError) error = NULL;
	const OtaSignerInfo *info;
	gboolean ok = ota_signature_verify(sig, digest, t, &error);

	g_assert_true(ok == (error == NULL));
	if (error != NULL)
		g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	info = g_ptr_array_index(sig->signers, 0);
	return (Verdict){info->status, g_strdup(info->reason)};
}

/* A root valid for ten years around now, and a leaf of it whose validity
 * (400 to 30 days ago) is over. */
typedef struct {
	TestIdentity *root;
	TestIdentity *leaf;
	char *keyring;
} PastPki;

static void past_pki(Fixture *f, PastPki *p)
{
	p->root = test_pki_identity("ec", "Long Root", NULL, -3650, 3650);
	p->leaf = test_pki_identity("ec", "Expired Signer", p->root, -400, -30);
	p->keyring = write_cert(f, p->root, "long-root");
}

static void past_pki_clear(PastPki *p)
{
	test_identity_free(p->root);
	test_identity_free(p->leaf);
	g_free(p->keyring);
}

static OtaPolicy *trust_at_signing_time(const char *keyring)
{
	OtaPolicy *t = trust(keyring, OTA_PURPOSE_ANY, TRUE);

	ota_policy_set_use_signing_time(t, TRUE);
	return t;
}

static void test_expired_signer_counts_at_a_signing_time_it_was_valid(Fixture *f,
                                                                      gconstpointer data)
{
	PastPki p;
	g_autoptr(GBytes) der = NULL;
	g_autoptr(OtaPolicy) now = NULL;
	g_autoptr(OtaPolicy) then = NULL;
	Verdict v;

	past_pki(f, &p);
	der = sign_at(f, p.leaf, time(NULL) - 200 * DAY);
	now = trust(p.keyring, OTA_PURPOSE_ANY, TRUE);
	then = trust_at_signing_time(p.keyring);
	v = verdict(der, f->digest, now);
	g_assert_cmpint(v.status, ==, OTA_SIGNER_EXPIRED);
	g_free(v.reason);
	v = verdict(der, f->digest, then);
	g_assert_cmpint(v.status, ==, OTA_SIGNER_COUNTED);
	g_free(v.reason);
	past_pki_clear(&p);
}

/* The signer names the time, but it can't name one its certificate was
 * not valid at: signed after expiry, or before the certificate began. */
static void test_signing_time_outside_the_validity_is_expired(Fixture *f, gconstpointer data)
{
	const struct {
		int days_ago;
		const char *reason;
	} cases[] = {
		{10, "certificate has expired at the signing time "},
		{500, "certificate is not yet valid at the signing time "},
	};
	g_autoptr(OtaPolicy) t = NULL;
	PastPki p;

	past_pki(f, &p);
	t = trust_at_signing_time(p.keyring);
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GBytes) der = sign_at(f, p.leaf, time(NULL) - cases[i].days_ago * DAY);
		Verdict v = verdict(der, f->digest, t);

		g_assert_cmpint(v.status, ==, OTA_SIGNER_EXPIRED);
		g_assert_true(g_str_has_prefix(v.reason, cases[i].reason));
		g_free(v.reason);
	}
	past_pki_clear(&p);
}

/* A CA's validity is checked at the signing time too. */
static void test_ca_not_yet_valid_at_the_signing_time_is_expired(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) young_root = test_pki_identity("ec", "Young Root", NULL, -10, 3650);
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", young_root, -400, 30);
	g_autofree char *keyring = write_cert(f, young_root, "young-root");
	g_autoptr(OtaPolicy) t = trust_at_signing_time(keyring);
	g_autoptr(GBytes) der = sign_at(f, leaf, time(NULL) - 100 * DAY);
	Verdict v = verdict(der, f->digest, t);

	g_assert_cmpint(v.status, ==, OTA_SIGNER_EXPIRED);
	g_free(v.reason);
}

/* As RAUC: without a signingTime there is no time to check at. The same
 * signer counts when certificates are checked now. */
static void test_signer_without_signing_time_is_not_counted(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Timeless", f->root, 0, 30);
	g_autoptr(OtaPolicy) then = trust_at_signing_time(f->keyring);
	g_autoptr(OtaPolicy) now = trust(f->keyring, OTA_PURPOSE_ANY, TRUE);
	g_autoptr(GBytes) der = sign_at(f, leaf, 0);
	Verdict v = verdict(der, f->digest, then);

	g_assert_cmpint(v.status, ==, OTA_SIGNER_UNTRUSTED);
	g_assert_nonnull(strstr(v.reason, "no signingTime"));
	g_free(v.reason);
	v = verdict(der, f->digest, now);
	g_assert_cmpint(v.status, ==, OTA_SIGNER_COUNTED);
	g_free(v.reason);
}

/* Each signer at its own signingTime: one signed while its certificate
 * was valid counts, the other, signed after its own expiry, does not. */
static void test_each_signer_is_checked_at_its_own_signing_time(Fixture *f, gconstpointer data)
{
	PastPki p;
	g_autoptr(TestIdentity) late = NULL;
	g_autoptr(GBytes) a = NULL;
	g_autoptr(GBytes) b = NULL;
	g_autoptr(GBytes) merged = NULL;
	g_autoptr(OtaPolicy) t = NULL;
	g_autoptr(OtaSignature) sig = NULL;
	g_autoptr(GError) error = NULL;

	past_pki(f, &p);
	late = test_pki_identity("ec", "Late Signer", p.root, -400, -30);
	a = sign_at(f, p.leaf, time(NULL) - 200 * DAY);
	b = sign_at(f, late, time(NULL) - 10 * DAY);
	merged = ota_signature_merge(a, &b, 1, &f->content, OTA_SIGNATURE_ENCODING_SIGNER_INFOS,
	                             &error);
	g_assert_no_error(error);
	t = trust_at_signing_time(p.keyring);
	sig = parse(merged);
	g_assert_true(ota_signature_verify(sig, f->digest, t, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(sig->counted, ==, 1);
	/* A SET OF SignerInfo: DER sorts them. */
	for (guint i = 0; i < sig->signers->len; i++) {
		const OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);

		g_assert_cmpint(info->status, ==,
		                g_str_equal(info->subject, "CN=Late Signer") ? OTA_SIGNER_EXPIRED
		                                                              : OTA_SIGNER_COUNTED);
	}
	past_pki_clear(&p);
}

/* Without time checks there is nothing to check at a signing time: a
 * signer without one still counts. */
static void test_signing_time_changes_nothing_without_time_checks(Fixture *f,
                                                                  gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Timeless", f->root, 0, 30);
	g_autoptr(OtaPolicy) t = trust(f->keyring, OTA_PURPOSE_ANY, FALSE);
	g_autoptr(GBytes) der = sign_at(f, leaf, 0);
	Verdict v;

	ota_policy_set_use_signing_time(t, TRUE);
	v = verdict(der, f->digest, t);
	g_assert_cmpint(v.status, ==, OTA_SIGNER_COUNTED);
	g_free(v.reason);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/signature/" name, Fixture, NULL, setup, fn, teardown)
	ADD("signature-verifies-against-its-root", test_signature_verifies_against_its_root);
	ADD("signature-verifies-with-openssl-cms-verify", test_signature_verifies_with_openssl_cms_verify);
	ADD("signed-attributes-are-those-rauc-writes", test_signed_attributes_are_those_rauc_writes);
	ADD("modified-content-is-invalid", test_modified_content_is_invalid);
	ADD("flipped-signature-byte-is-rejected", test_flipped_signature_byte_is_rejected);
	ADD("signer-from-another-ca-is-untrusted", test_signer_from_another_ca_is_untrusted);
	ADD("expired-signer-is-untrusted", test_expired_signer_is_untrusted);
	ADD("expired-signer-passes-without-time-check", test_expired_signer_passes_without_time_check);
	ADD("codesign-purpose-needs-code-signing-usage", test_codesign_purpose_needs_code_signing_usage);
	ADD("smimesign-purpose-rejects-code-signing-only-leaf",
	    test_smimesign_purpose_rejects_code_signing_only_leaf);
	ADD("two-keys-count-twice", test_two_keys_count_twice);
	ADD("untrusted-signer-does-not-spoil-a-met-threshold",
	    test_untrusted_signer_does_not_spoil_a_met_threshold);
	ADD("threshold-above-the-signer-count-fails", test_threshold_above_the_signer_count_fails);
	ADD("one-key-with-two-certificates-counts-once", test_one_key_with_two_certificates_counts_once);
	ADD("embedded-signature-verifies-and-returns-content",
	    test_embedded_signature_verifies_and_returns_content);
	ADD("embedded-signature-verifies-with-openssl-cms-verify",
	    test_embedded_signature_verifies_with_openssl_cms_verify);
	ADD("modified-embedded-content-is-invalid", test_modified_embedded_content_is_invalid);
	ADD("detached-digest-for-embedded-signature-is-refused",
	    test_detached_digest_for_embedded_signature_is_refused);
	ADD("nested-signers-count-toward-the-threshold",
	    test_nested_signers_count_toward_the_threshold);
	ADD("nested-signature-still-verifies-with-cms-verify",
	    test_nested_signature_still_verifies_with_cms_verify);
	ADD("signer-infos-merge-adds-signer-infos", test_signer_infos_merge_adds_signer_infos);
	ADD("partial-over-other-content-is-refused", test_partial_over_other_content_is_refused);
	ADD("signature-over-other-content-names-its-digest",
	    test_signature_over_other_content_names_its_digest);
	ADD("flipped-signature-byte-fails-the-attribute-check",
	    test_flipped_signature_byte_fails_the_attribute_check);
	ADD("tampered-nested-signature-rejects-everything",
	    test_tampered_nested_signature_rejects_everything);
	ADD("garbage-is-not-cms", test_garbage_is_not_cms);
	ADD("trailing-bytes-after-cms-are-rejected", test_trailing_bytes_after_cms_are_rejected);
	ADD("every-truncation-is-rejected", test_every_truncation_is_rejected);
	ADD("keyring-without-certificates-is-an-error", test_keyring_without_certificates_is_an_error);
	ADD("signing-time/expired-signer-counts-at-a-signing-time-it-was-valid",
	    test_expired_signer_counts_at_a_signing_time_it_was_valid);
	ADD("signing-time/outside-the-validity-is-expired",
	    test_signing_time_outside_the_validity_is_expired);
	ADD("signing-time/ca-not-yet-valid-then-is-expired",
	    test_ca_not_yet_valid_at_the_signing_time_is_expired);
	ADD("signing-time/signer-without-one-is-not-counted",
	    test_signer_without_signing_time_is_not_counted);
	ADD("signing-time/each-signer-at-its-own", test_each_signer_is_checked_at_its_own_signing_time);
	ADD("signing-time/changes-nothing-without-time-checks",
	    test_signing_time_changes_nothing_without_time_checks);
	return g_test_run();
}
