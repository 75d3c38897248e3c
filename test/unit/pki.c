/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pki.h"

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <unistd.h>

EVP_PKEY *test_pki_key(const char *type)
{
	EVP_PKEY *key = NULL;

	if (g_str_equal(type, "ec"))
		key = EVP_EC_gen("P-256");
	else if (g_str_equal(type, "ec384"))
		key = EVP_EC_gen("P-384");
	else if (g_str_equal(type, "rsa2048"))
		key = EVP_RSA_gen(2048);
	else if (g_str_equal(type, "rsa1024"))
		key = EVP_RSA_gen(1024);
	else if (g_str_equal(type, "ed25519"))
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (g_str_equal(type, "ed448"))
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	g_assert_nonnull(key);
	return key;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	g_assert_nonnull(ext);
	g_assert_cmpint(X509_add_ext(cert, ext, -1), ==, 1);
	X509_EXTENSION_free(ext);
}

static TestIdentity *make_identity_as(EVP_PKEY *key, const char *cn, const TestIdentity *issuer,
                                      int days_from, int days_to, const char *eku, gboolean ca)
{
	TestIdentity *id = g_new0(TestIdentity, 1);
	X509 *signer_cert;
	EVP_PKEY *signer_key;

	id->key = key;
	id->cert = X509_new();
	g_assert_nonnull(id->cert);
	X509_set_version(id->cert, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(id->cert), (long)g_random_int_range(1, G_MAXINT32));
	X509_time_adj_ex(X509_getm_notBefore(id->cert), days_from, 0, NULL);
	X509_time_adj_ex(X509_getm_notAfter(id->cert), days_to, 0, NULL);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(id->cert), "CN", MBSTRING_UTF8,
	                           (const unsigned char *)cn, -1, -1, 0);
	X509_set_pubkey(id->cert, id->key);

	signer_cert = issuer ? issuer->cert : id->cert;
	signer_key = issuer ? issuer->key : id->key;
	X509_set_issuer_name(id->cert, X509_get_subject_name(signer_cert));
	if (issuer == NULL || ca) {
		add_ext(id->cert, signer_cert, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(id->cert, signer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(id->cert, signer_cert, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(id->cert, signer_cert, NID_key_usage, "critical,digitalSignature");
		if (eku != NULL)
			add_ext(id->cert, signer_cert, NID_ext_key_usage, eku);
	}
	g_assert_cmpint(X509_sign(id->cert, signer_key,
	                          EVP_PKEY_get_base_id(signer_key) == EVP_PKEY_ED25519 ||
	                                          EVP_PKEY_get_base_id(signer_key) == EVP_PKEY_ED448
	                                  ? NULL
	                                  : EVP_sha256()),
	                >, 0);
	return id;
}

static TestIdentity *make_identity(EVP_PKEY *key, const char *cn, const TestIdentity *issuer,
                                   int days_from, int days_to, const char *eku)
{
	return make_identity_as(key, cn, issuer, days_from, days_to, eku, FALSE);
}

TestIdentity *test_pki_intermediate(const char *type, const char *cn, const TestIdentity *issuer,
                                    int days_from, int days_to)
{
	return make_identity_as(test_pki_key(type), cn, issuer, days_from, days_to, NULL, TRUE);
}

TestIdentity *test_pki_identity(const char *type, const char *cn, const TestIdentity *issuer,
                                int days_from, int days_to)
{
	return make_identity(test_pki_key(type), cn, issuer, days_from, days_to, NULL);
}

TestIdentity *test_pki_identity_eku(const char *type, const char *cn, const TestIdentity *issuer,
                                    int days_from, int days_to, const char *eku)
{
	return make_identity(test_pki_key(type), cn, issuer, days_from, days_to, eku);
}

TestIdentity *test_pki_reissue(const TestIdentity *id, const char *cn, const TestIdentity *issuer)
{
	EVP_PKEY_up_ref(id->key);
	return make_identity(id->key, cn, issuer, 0, 30, NULL);
}

void test_identity_free(TestIdentity *id)
{
	if (id == NULL)
		return;
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
	g_free(id);
}

void test_pki_write(const TestIdentity *id, const char *dir, const char *name, char **cert_path,
                    char **key_path)
{
	g_autofree char *cert_name = g_strdup_printf("%s.pem", name);
	g_autofree char *key_name = g_strdup_printf("%s.key", name);
	BIO *bio;

	*cert_path = g_build_filename(dir, cert_name, NULL);
	*key_path = g_build_filename(dir, key_name, NULL);
	bio = BIO_new_file(*cert_path, "w");
	g_assert_nonnull(bio);
	g_assert_cmpint(PEM_write_bio_X509(bio, id->cert), ==, 1);
	BIO_free(bio);
	bio = BIO_new_file(*key_path, "w");
	g_assert_nonnull(bio);
	g_assert_cmpint(PEM_write_bio_PrivateKey(bio, id->key, NULL, NULL, 0, NULL, NULL), ==, 1);
	BIO_free(bio);
}

char *test_tmpdir_new(void)
{
	g_autoptr(GError) error = NULL;
	char *dir = g_dir_make_tmp("otabundle-test-XXXXXX", &error);

	g_assert_no_error(error);
	return dir;
}

void test_tmpdir_remove(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);

		if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK))
			test_tmpdir_remove(path);
		else
			unlink(path);
	}
	rmdir(dir);
}

OtaSigner *test_identity_signer(const TestIdentity *id)
{
	OtaSigner *s = g_new0(OtaSigner, 1);

	s->cert_uri = g_strdup("test.pem");
	s->key_uri = g_strdup("test.key");
	s->cert = X509_dup(id->cert);
	EVP_PKEY_up_ref(id->key);
	s->key = id->key;
	return s;
}
