/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/keys.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <string.h>

#include "keys-private.h"
#include "pki.h"

typedef struct {
	char *dir;
	TestIdentity *root;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
	f->dir = test_tmpdir_new();
	f->root = test_pki_identity("ec", "Test Root", NULL, 0, 365);
}

static void teardown(Fixture *f, gconstpointer data)
{
	test_identity_free(f->root);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
}

static OtaSigner *load_leaf(Fixture *f, const char *type, int from, int to, GError **error)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity(type, "Leaf", f->root, from, to);
	g_autofree char *cert = NULL, *key = NULL;

	test_pki_write(leaf, f->dir, type, &cert, &key);
	return ota_signer_load(NULL, cert, key, TRUE, error);
}

static void assert_refused(Fixture *f, const char *type, OtaKeysError code, const char *needle)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSigner) s = load_leaf(f, type, 0, 30, &error);

	g_assert_null(s);
	g_assert_error(error, OTA_KEYS_ERROR, (gint)code);
	if (strstr(error->message, needle) == NULL)
		g_error("'%s' does not mention '%s'", error->message, needle);
}

static void test_accepts_ecdsa_p256(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSigner) s = load_leaf(f, "ec", 0, 30, &error);

	g_assert_no_error(error);
	g_assert_nonnull(s->cert);
	g_assert_nonnull(s->key);
}

static void test_accepts_ecdsa_p384(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSigner) s = load_leaf(f, "ec384", 0, 30, &error);

	g_assert_no_error(error);
	g_assert_nonnull(s);
}

static void test_accepts_rsa_2048(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSigner) s = load_leaf(f, "rsa2048", 0, 30, &error);

	g_assert_no_error(error);
	g_assert_nonnull(s);
}

static void test_refuses_rsa_1024(Fixture *f, gconstpointer data)
{
	assert_refused(f, "rsa1024", OTA_KEYS_ERROR_UNSUPPORTED, "1024 bits");
}

static void test_accepts_ed25519(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSigner) s = load_leaf(f, "ed25519", 0, 30, &error);

	g_assert_no_error(error);
	g_assert_nonnull(s);
}

static void test_refuses_ed448_with_reason(Fixture *f, gconstpointer data)
{
	assert_refused(f, "ed448", OTA_KEYS_ERROR_UNSUPPORTED, "ED448");
}

/* PureEdDSA over the data itself (RFC 8032), which the certificate's key
 * verifies: what an RFC 8419 SignerInfo carries. */
static void test_ed25519_signer_signs_pure_eddsa(Fixture *f, gconstpointer data)
{
	static const char message[] = "signed attributes";
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSigner) s = load_leaf(f, "ed25519", 0, 30, &error);
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	guint8 sig[OTA_ED25519_SIGNATURE_LEN];

	g_assert_no_error(error);
	g_assert_true(ota_signer_sign_ed25519(s, (const guint8 *)message, strlen(message), sig,
	                                      &error));
	g_assert_no_error(error);
	g_assert_cmpint(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, X509_get0_pubkey(s->cert)), ==,
	                1);
	g_assert_cmpint(EVP_DigestVerify(ctx, sig, sizeof(sig), (const guint8 *)message,
	                                 strlen(message)),
	                ==, 1);
}

static void test_refuses_expired_certificate(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSigner) s = load_leaf(f, "ec", -30, -1, &error);

	g_assert_null(s);
	g_assert_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_EXPIRED);
	g_assert_nonnull(strstr(error->message, "expired"));
}

static void test_refuses_not_yet_valid_certificate(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSigner) s = load_leaf(f, "ec", 2, 30, &error);

	g_assert_null(s);
	g_assert_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_EXPIRED);
}

static void test_refuses_key_of_another_certificate(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, 0, 30);
	g_autoptr(TestIdentity) b = test_pki_identity("ec", "B", f->root, 0, 30);
	g_autofree char *cert_a = NULL, *key_a = NULL, *cert_b = NULL, *key_b = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSigner) s = NULL;

	test_pki_write(a, f->dir, "a", &cert_a, &key_a);
	test_pki_write(b, f->dir, "b", &cert_b, &key_b);
	s = ota_signer_load(NULL, cert_a, key_b, TRUE, &error);
	g_assert_null(s);
	g_assert_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_MISMATCH);
	g_assert_nonnull(strstr(error->message, key_b));
	g_assert_nonnull(strstr(error->message, cert_a));
}

static void test_refuses_passphrase_protected_key_without_prompting(Fixture *f,
                                                                    gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->dir, "enc.key", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	BIO *bio = BIO_new_file(path, "w");

	g_assert_cmpint(PEM_write_bio_PrivateKey(bio, f->root->key, EVP_aes_256_cbc(),
	                                         (unsigned char *)"secret", 6, NULL, NULL), ==, 1);
	BIO_free(bio);
	key = ota_keys_load_private_key(path, &error);
	g_assert_null(key);
	g_assert_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_ENCRYPTED);
	g_assert_null(strstr(error->message, "secret"));
}

static void test_garbage_key_file_error_names_it(Fixture *f, gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->dir, "garbage.key", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = NULL;

	g_assert_true(g_file_set_contents(path, "not a key\n", -1, NULL));
	key = ota_keys_load_private_key(path, &error);
	g_assert_null(key);
	g_assert_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_LOAD);
	g_assert_true(g_str_has_prefix(error->message, path));
}

static void test_missing_certificate_error_names_it(Fixture *f, gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->dir, "missing.pem", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) cert = ota_keys_load_certificate(path, &error);

	g_assert_null(cert);
	g_assert_true(g_str_has_prefix(error->message, path));
}

static void test_loads_every_certificate_of_a_bundle_file(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) other = test_pki_identity("ec", "Other", NULL, 0, 30);
	g_autofree char *c1 = NULL, *k1 = NULL, *c2 = NULL, *k2 = NULL, *a = NULL, *b = NULL;
	g_autofree char *both = NULL, *joined = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaX509Stack) certs = NULL;

	test_pki_write(f->root, f->dir, "r", &c1, &k1);
	test_pki_write(other, f->dir, "o", &c2, &k2);
	g_assert_true(g_file_get_contents(c1, &a, NULL, NULL));
	g_assert_true(g_file_get_contents(c2, &b, NULL, NULL));
	joined = g_strconcat(a, b, NULL);
	both = g_build_filename(f->dir, "both.pem", NULL);
	g_assert_true(g_file_set_contents(both, joined, -1, NULL));
	certs = ota_keys_load_certificates(both, &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(certs), ==, 2);
}

static void test_certificate_file_without_certificates_is_an_error(Fixture *f,
                                                                   gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->dir, "empty.pem", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaX509Stack) certs = NULL;

	g_assert_true(g_file_set_contents(path, "", 0, NULL));
	certs = ota_keys_load_certificates(path, &error);
	g_assert_null(certs);
	g_assert_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_LOAD);
}

static void test_display_uri_drops_pin_value(void)
{
	g_autofree char *a = ota_keys_uri_for_display("pkcs11:token=t;object=k?pin-value=1234");
	g_autofree char *b = ota_keys_uri_for_display(
		"pkcs11:token=t?module-path=/m.so&pin-value=1234&pin-source=file:/p");
	g_autofree char *c = ota_keys_uri_for_display("keys/release.key");
	g_autofree char *d = ota_keys_uri_for_display("pkcs11:token=t;pin-value=1234;object=k");

	g_assert_cmpstr(a, ==, "pkcs11:token=t;object=k");
	g_assert_cmpstr(b, ==, "pkcs11:token=t?module-path=/m.so&pin-source=file:/p");
	g_assert_cmpstr(c, ==, "keys/release.key");
	g_assert_cmpstr(d, ==, "pkcs11:token=t;object=k");
}

static void test_recognises_pkcs11_uris(void)
{
	g_assert_true(ota_keys_is_pkcs11_uri("pkcs11:object=k"));
	g_assert_false(ota_keys_is_pkcs11_uri("pkcs11.pem"));
	g_assert_false(ota_keys_is_pkcs11_uri(NULL));
}

/* @key's public half re-encoded with OpenSSL parameter @name set to @value
 * (an EC point form or parameter encoding) and decoded again. */
static EVP_PKEY *reencoded_public_key(EVP_PKEY *key, const char *name, const char *value)
{
	g_autoptr(EVP_PKEY) copy = EVP_PKEY_dup(key);
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *decoded;
	int len;

	g_assert_nonnull(copy);
	g_assert_cmpint(EVP_PKEY_set_utf8_string_param(copy, name, value), ==, 1);
	len = i2d_PUBKEY(copy, &der);
	g_assert_cmpint(len, >, 0);
	p = der;
	decoded = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	g_assert_nonnull(decoded);
	return decoded;
}

static void test_one_ec_key_has_one_identity_in_every_point_form_and_curve_encoding(void)
{
	g_autoptr(EVP_PKEY) key = test_pki_key("ec");
	g_autofree char *id = ota_keys_public_key_id(key);
	const char *forms[][2] = {
		{OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"},
		{OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "hybrid"},
		{OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed"},
		{OSSL_PKEY_PARAM_EC_ENCODING, "explicit"},
	};

	g_assert_nonnull(id);
	for (gsize i = 0; i < G_N_ELEMENTS(forms); i++) {
		g_autoptr(EVP_PKEY) other = reencoded_public_key(key, forms[i][0], forms[i][1]);
		g_autofree char *other_id = ota_keys_public_key_id(other);

		g_assert_cmpstr(other_id, ==, id);
		g_assert_true(ota_keys_same_public_key(key, other));
	}
}

static void test_different_keys_have_different_identities(void)
{
	const char *types[] = {"ec", "rsa1024", "ed25519"};

	for (gsize i = 0; i < G_N_ELEMENTS(types); i++) {
		g_autoptr(EVP_PKEY) a = test_pki_key(types[i]);
		g_autoptr(EVP_PKEY) b = test_pki_key(types[i]);
		g_autofree char *id_a = ota_keys_public_key_id(a);
		g_autofree char *id_b = ota_keys_public_key_id(b);

		g_assert_nonnull(id_a);
		g_assert_cmpstr(id_a, !=, id_b);
		g_assert_false(ota_keys_same_public_key(a, b));
	}
}

/* Loads a signer whose key is @key_uri (a PEM cert) and expects a URI error
 * that mentions @needle but never the PIN. */
static void assert_uri_refused(Fixture *f, const char *key_uri, const char *needle)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Leaf", f->root, 0, 30);
	g_autofree char *cert = NULL, *key = NULL;
	g_autoptr(OtaKeyStore) store = ota_key_store_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSigner) s = NULL;

	test_pki_write(leaf, f->dir, "leaf", &cert, &key);
	s = ota_signer_load(store, cert, key_uri, TRUE, &error);
	g_assert_null(s);
	g_assert_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_URI);
	if (strstr(error->message, needle) == NULL)
		g_error("'%s' does not mention '%s'", error->message, needle);
	g_assert_null(strstr(error->message, "4321"));
}

static void test_unknown_uri_attribute_is_refused(Fixture *f, gconstpointer data)
{
	assert_uri_refused(f, "pkcs11:token=t;colour=red;object=k?pin-value=4321", "colour");
}

static void test_repeated_uri_attribute_is_refused(Fixture *f, gconstpointer data)
{
	assert_uri_refused(f, "pkcs11:object=a;object=b", "object");
}

static void test_uri_naming_no_object_is_refused(Fixture *f, gconstpointer data)
{
	assert_uri_refused(f, "pkcs11:token=t?pin-value=4321", "names no object");
}

static void test_certificate_type_for_a_key_is_refused(Fixture *f, gconstpointer data)
{
	assert_uri_refused(f, "pkcs11:object=k;type=cert", "type=cert");
}

static void test_bad_percent_encoding_is_refused(Fixture *f, gconstpointer data)
{
	assert_uri_refused(f, "pkcs11:object=k%zz", "object");
}

static void test_pkcs11_uri_without_key_store_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Leaf", f->root, 0, 30);
	g_autofree char *cert = NULL, *key = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSigner) s = NULL;

	test_pki_write(leaf, f->dir, "leaf", &cert, &key);
	s = ota_signer_load(NULL, cert, "pkcs11:object=k", TRUE, &error);
	g_assert_null(s);
	g_assert_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_URI);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/keys/" name, Fixture, NULL, setup, fn, teardown)
	ADD("accepts-ecdsa-p256", test_accepts_ecdsa_p256);
	ADD("accepts-ecdsa-p384", test_accepts_ecdsa_p384);
	ADD("accepts-rsa-2048", test_accepts_rsa_2048);
	ADD("refuses-rsa-1024", test_refuses_rsa_1024);
	ADD("accepts-ed25519", test_accepts_ed25519);
	ADD("refuses-ed448-with-reason", test_refuses_ed448_with_reason);
	ADD("ed25519-signer-signs-pure-eddsa", test_ed25519_signer_signs_pure_eddsa);
	ADD("refuses-expired-certificate", test_refuses_expired_certificate);
	ADD("refuses-not-yet-valid-certificate", test_refuses_not_yet_valid_certificate);
	ADD("refuses-key-of-another-certificate", test_refuses_key_of_another_certificate);
	ADD("refuses-passphrase-protected-key-without-prompting",
	    test_refuses_passphrase_protected_key_without_prompting);
	ADD("garbage-key-file-error-names-it", test_garbage_key_file_error_names_it);
	ADD("missing-certificate-error-names-it", test_missing_certificate_error_names_it);
	ADD("loads-every-certificate-of-a-bundle-file", test_loads_every_certificate_of_a_bundle_file);
	ADD("certificate-file-without-certificates-is-an-error",
	    test_certificate_file_without_certificates_is_an_error);
	ADD("unknown-uri-attribute-is-refused", test_unknown_uri_attribute_is_refused);
	ADD("repeated-uri-attribute-is-refused", test_repeated_uri_attribute_is_refused);
	ADD("uri-naming-no-object-is-refused", test_uri_naming_no_object_is_refused);
	ADD("certificate-type-for-a-key-is-refused", test_certificate_type_for_a_key_is_refused);
	ADD("bad-percent-encoding-is-refused", test_bad_percent_encoding_is_refused);
	ADD("pkcs11-uri-without-key-store-is-refused", test_pkcs11_uri_without_key_store_is_refused);
	g_test_add_func("/keys/display-uri-drops-pin-value", test_display_uri_drops_pin_value);
	g_test_add_func("/keys/recognises-pkcs11-uris", test_recognises_pkcs11_uris);
	g_test_add_func("/keys/one-ec-key-has-one-identity-in-every-encoding",
	                test_one_ec_key_has_one_identity_in_every_point_form_and_curve_encoding);
	g_test_add_func("/keys/different-keys-have-different-identities",
	                test_different_keys_have_different_identities);
	return g_test_run();
}
