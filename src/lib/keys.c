/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/keys.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "keys-private.h"
#include "openssl-private.h"
#include "pkcs11.h"

G_DEFINE_QUARK(ota-keys-error-quark, ota_keys_error)

struct OtaKeyStore {
	gint refs;
	OtaPkcs11 *pkcs11;
};

OtaKeyStore *ota_key_store_new(const OtaKeyStoreOptions *options)
{
	OtaKeyStore *store = g_new0(OtaKeyStore, 1);

	store->refs = 1;
	store->pkcs11 = ota_pkcs11_new(options);
	return store;
}

OtaKeyStore *ota_key_store_ref(OtaKeyStore *store)
{
	g_atomic_int_inc(&store->refs);
	return store;
}

void ota_key_store_unref(OtaKeyStore *store)
{
	if (store == NULL || !g_atomic_int_dec_and_test(&store->refs))
		return;
	ota_pkcs11_free(store->pkcs11);
	g_free(store);
}

/* Without a callback OpenSSL would prompt on the terminal for a PEM
 * passphrase; we never prompt for a file key, we refuse it. */
static int refuse_passphrase(char *buf, int size, int rwflag, void *userdata)
{
	*(gboolean *)userdata = TRUE;
	return -1;
}

static BIO *open_pem(const char *path, GError **error)
{
	BIO *bio = BIO_new_file(path, "r");

	if (bio == NULL)
		ota_set_openssl_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_LOAD, "%s: cannot open",
		                      path);
	return bio;
}

OtaX509Stack *ota_keys_load_certificates(const char *path, GError **error)
{
	g_autoptr(BIO) bio = open_pem(path, error);
	g_autoptr(OtaX509Stack) certs = sk_X509_new_null();
	X509 *cert;

	if (bio == NULL)
		return NULL;
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		sk_X509_push(certs, cert);

	/* Reading stops with "no start line" at the end of the file: expected
	 * once at least one certificate was read. */
	if (ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE &&
	    sk_X509_num(certs) > 0)
		ERR_clear_error();
	if (ERR_peek_error() != 0 || sk_X509_num(certs) == 0) {
		ota_set_openssl_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_LOAD,
		                      "%s: no PEM certificate could be read", path);
		return NULL;
	}
	return g_steal_pointer(&certs);
}

X509 *ota_keys_load_certificate(const char *path, GError **error)
{
	g_autoptr(BIO) bio = open_pem(path, error);
	X509 *cert;

	if (bio == NULL)
		return NULL;
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (cert == NULL)
		ota_set_openssl_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_LOAD,
		                      "%s: not a PEM certificate", path);
	return cert;
}

EVP_PKEY *ota_keys_load_private_key(const char *path, GError **error)
{
	g_autoptr(BIO) bio = open_pem(path, error);
	gboolean wanted_passphrase = FALSE;
	EVP_PKEY *key;

	if (bio == NULL)
		return NULL;
	key = PEM_read_bio_PrivateKey(bio, NULL, refuse_passphrase, &wanted_passphrase);
	if (key == NULL && wanted_passphrase) {
		ERR_clear_error();
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_ENCRYPTED,
		            "%s: key is passphrase-protected; otabundle does not prompt for PEM "
		            "passphrases (keep protected keys in an HSM)",
		            path);
		return NULL;
	}
	if (key == NULL)
		ota_set_openssl_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_LOAD,
		                      "%s: not a PEM private key", path);
	return key;
}

/* --- key identity ------------------------------------------------------------------ */

static gboolean append_bn_param(GString *out, EVP_PKEY *key, const char *name)
{
	BIGNUM *bn = NULL;
	char *hex;

	if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
		return FALSE;
	hex = BN_bn2hex(bn);
	BN_free(bn);
	if (hex == NULL)
		return FALSE;
	g_string_append_printf(out, ":%s", hex);
	OPENSSL_free(hex);
	return TRUE;
}

static gboolean append_raw_public_key(GString *out, EVP_PKEY *key)
{
	guint8 raw[128];
	size_t len = sizeof(raw);

	if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1)
		return FALSE;
	g_string_append_c(out, ':');
	for (size_t i = 0; i < len; i++)
		g_string_append_printf(out, "%02x", raw[i]);
	return TRUE;
}

/* What makes two keys the same key, whatever their SubjectPublicKeyInfo
 * says about point compression, curve parameters or NULL parameters: a CA
 * issuing three certificates for one key in three encodings must not make
 * one signer count three times. */
static gboolean canonical_public_key(EVP_PKEY *key, GString *out)
{
	char group[64] = "";

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		g_string_append(out, "rsa");
		return append_bn_param(out, key, OSSL_PKEY_PARAM_RSA_N) &&
		       append_bn_param(out, key, OSSL_PKEY_PARAM_RSA_E);
	case EVP_PKEY_EC:
		/* Explicit parameters of a named curve decode to that name; any
		 * other explicit curve has no identity. */
		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof(group), NULL) != 1 || group[0] == '\0')
			return FALSE;
		g_string_append_printf(out, "ec:%s", group);
		return append_bn_param(out, key, OSSL_PKEY_PARAM_EC_PUB_X) &&
		       append_bn_param(out, key, OSSL_PKEY_PARAM_EC_PUB_Y);
	case EVP_PKEY_ED25519:
		g_string_append(out, "ed25519");
		return append_raw_public_key(out, key);
	case EVP_PKEY_ED448:
		g_string_append(out, "ed448");
		return append_raw_public_key(out, key);
	default:
		return FALSE;
	}
}

char *ota_keys_public_key_id(EVP_PKEY *key)
{
	g_autoptr(GString) canonical = g_string_new(NULL);

	if (key == NULL || !canonical_public_key(key, canonical)) {
		ERR_clear_error();
		return NULL;
	}
	return g_compute_checksum_for_string(G_CHECKSUM_SHA256, canonical->str, canonical->len);
}

gboolean ota_keys_same_public_key(EVP_PKEY *a, EVP_PKEY *b)
{
	g_autofree char *id_a = ota_keys_public_key_id(a);
	g_autofree char *id_b = ota_keys_public_key_id(b);

	if (id_a != NULL || id_b != NULL)
		return g_strcmp0(id_a, id_b) == 0;
	if (EVP_PKEY_eq(a, b) == 1)
		return TRUE;
	ERR_clear_error();
	return FALSE;
}

/* Checked on the certificate's public key (matched to the private key
 * separately): a token key may not answer OpenSSL's parameter queries. */
static gboolean check_signing_key(EVP_PKEY *key, const char *key_uri, GError **error)
{
	char group[64] = "";

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(key) >= 2048)
			return TRUE;
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_UNSUPPORTED,
		            "%s: RSA key of %d bits is too weak (2048 at least)", key_uri,
		            EVP_PKEY_get_bits(key));
		return FALSE;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof(group), NULL) == 1 &&
		    (g_str_equal(group, "prime256v1") || g_str_equal(group, "secp384r1")))
			return TRUE;
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_UNSUPPORTED,
		            "%s: EC curve '%s' is not supported (use P-256 or P-384)", key_uri,
		            group[0] ? group : "unknown");
		return FALSE;
	case EVP_PKEY_ED25519:
		/* RFC 8419 signers, built around OpenSSL 3.0's CMS
		 * (signature-eddsa.c). */
		return TRUE;
	default:
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_UNSUPPORTED,
		            "%s: unsupported key type %s", key_uri, EVP_PKEY_get0_type_name(key));
		return FALSE;
	}
}

static gboolean check_certificate_time(X509 *cert, const char *cert_uri, GError **error)
{
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_EXPIRED,
		            "%s: certificate is not yet valid", cert_uri);
		return FALSE;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_EXPIRED,
		            "%s: certificate has expired", cert_uri);
		return FALSE;
	}
	return TRUE;
}

void ota_signer_free(OtaSigner *signer)
{
	if (signer == NULL)
		return;
	g_free(signer->cert_uri);
	g_free(signer->key_uri);
	X509_free(signer->cert);
	/* The key before the store: a token key needs its module loaded. */
	EVP_PKEY_free(signer->key);
	ota_key_store_unref(signer->store);
	g_free(signer);
}

static gboolean need_store(OtaKeyStore *store, const char *display, GError **error)
{
	if (store != NULL)
		return TRUE;
	g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_URI,
	            "%s: PKCS#11 URIs are not supported here", display);
	return FALSE;
}

static X509 *load_certificate_from(OtaKeyStore *store, const char *uri, const char *display,
                                   GError **error)
{
	if (!ota_keys_is_pkcs11_uri(uri))
		return ota_keys_load_certificate(uri, error);
	return need_store(store, display, error)
		       ? ota_pkcs11_load_certificate(store->pkcs11, uri, error)
		       : NULL;
}

static EVP_PKEY *load_key_from(OtaKeyStore *store, const char *uri, const char *display,
                               GError **error)
{
	if (!ota_keys_is_pkcs11_uri(uri))
		return ota_keys_load_private_key(uri, error);
	return need_store(store, display, error)
		       ? ota_pkcs11_load_private_key(store->pkcs11, uri, error)
		       : NULL;
}

OtaSigner *ota_signer_load(OtaKeyStore *store, const char *cert_uri, const char *key_uri,
                           gboolean check_time, GError **error)
{
	g_autoptr(OtaSigner) signer = g_new0(OtaSigner, 1);

	signer->store = store ? ota_key_store_ref(store) : NULL;
	signer->cert_uri = ota_keys_uri_for_display(cert_uri);
	signer->key_uri = ota_keys_uri_for_display(key_uri);
	signer->cert = load_certificate_from(store, cert_uri, signer->cert_uri, error);
	if (signer->cert == NULL)
		return NULL;
	/* Named after the key: it is what gets refused, whichever file or
	 * token object holds it. */
	if (!check_signing_key(X509_get0_pubkey(signer->cert), signer->key_uri, error))
		return NULL;
	signer->key = load_key_from(store, key_uri, signer->key_uri, error);
	if (signer->key == NULL)
		return NULL;
	if (X509_check_private_key(signer->cert, signer->key) != 1) {
		ERR_clear_error();
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_MISMATCH,
		            "%s: key does not match certificate %s", signer->key_uri,
		            signer->cert_uri);
		return NULL;
	}
	if (check_time && !check_certificate_time(signer->cert, signer->cert_uri, error))
		return NULL;
	return g_steal_pointer(&signer);
}

/* --- for the library's other modules (keys-private.h) ----------------------------- */

gboolean ota_signer_sign_ed25519(const OtaSigner *signer, const guint8 *data, gsize length,
                                 guint8 signature[OTA_ED25519_SIGNATURE_LEN], GError **error)
{
	g_autoptr(EVP_MD_CTX) ctx = NULL;
	size_t len = OTA_ED25519_SIGNATURE_LEN;

	if (signer->store != NULL && ota_pkcs11_is_eddsa_key(signer->store->pkcs11, signer->key))
		return ota_pkcs11_sign_eddsa(signer->store->pkcs11, signer->key, data, length, signature,
		                             OTA_ED25519_SIGNATURE_LEN, error);
	/* PureEdDSA: no digest, one shot. */
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
	    EVP_DigestSignInit_ex(ctx, NULL, NULL, NULL, NULL, signer->key, NULL) != 1 ||
	    EVP_DigestSign(ctx, signature, &len, data, length) != 1 ||
	    len != OTA_ED25519_SIGNATURE_LEN) {
		ota_set_openssl_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_UNSUPPORTED,
		                      "%s: Ed25519 signing failed", signer->key_uri);
		return FALSE;
	}
	return TRUE;
}

EVP_PKEY *ota_key_store_load_private_key(OtaKeyStore *store, const char *uri, GError **error)
{
	g_autofree char *display = ota_keys_uri_for_display(uri);

	return load_key_from(store, uri, display, error);
}

X509 *ota_key_store_load_certificate(OtaKeyStore *store, const char *uri, GError **error)
{
	g_autofree char *display = ota_keys_uri_for_display(uri);

	return load_certificate_from(store, uri, display, error);
}

OtaX509Stack *ota_key_store_load_certificates(OtaKeyStore *store, const char *uri,
                                              GError **error)
{
	g_autoptr(OtaX509Stack) certs = NULL;
	X509 *cert;

	if (!ota_keys_is_pkcs11_uri(uri))
		return ota_keys_load_certificates(uri, error);
	cert = ota_key_store_load_certificate(store, uri, error);
	if (cert == NULL)
		return NULL;
	certs = sk_X509_new_null();
	sk_X509_push(certs, cert);
	return g_steal_pointer(&certs);
}
