/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <otabundle/openssl.h>

OTA_BEGIN_DECLS

/* The error domain of this module's GErrors; the codes are below. */
#define OTA_KEYS_ERROR ota_keys_error_quark()
GQuark ota_keys_error_quark(void);

typedef enum {
	OTA_KEYS_ERROR_LOAD,        /* unreadable file, not PEM, or no such token object */
	OTA_KEYS_ERROR_ENCRYPTED,   /* passphrase-protected key */
	OTA_KEYS_ERROR_UNSUPPORTED, /* key type or size we refuse to sign with */
	OTA_KEYS_ERROR_MISMATCH,    /* key does not belong to the certificate */
	OTA_KEYS_ERROR_EXPIRED,     /* certificate not valid now */
	OTA_KEYS_ERROR_URI,         /* malformed or unsupported pkcs11: URI */
	OTA_KEYS_ERROR_TOKEN,       /* module, token or login failure */
	OTA_KEYS_ERROR_PIN,         /* no PIN, wrong PIN, PIN locked */
} OtaKeysError;

/* Where keys and certificates come from is this module's business alone:
 * callers get OpenSSL objects, from PEM files or from PKCS#11 tokens named
 * by RFC 7512 URIs. Every error names the file or the URI (without any
 * PIN). */

/* Asked for a token's user PIN when no other source has one; returns a
 * g_malloc'd string (wiped and freed by the caller) or NULL. */
typedef char *(*OtaPinPrompt)(const char *token_label, gpointer user_data);
/* Told about things the user should know (e.g. a PIN in a URI). */
typedef void (*OtaKeyWarning)(const char *message, gpointer user_data);

typedef struct {
	/* PKCS#11 module when the URI has no module-path; NULL: the
	 * OTABUNDLE_PKCS11_MODULE environment variable, then p11-kit's proxy. */
	const char *pkcs11_module;
	OtaPinPrompt pin_prompt; /* NULL: never prompt */
	gpointer pin_prompt_data;
	OtaKeyWarning warning; /* NULL: g_warning() */
	gpointer warning_data;
} OtaKeyStoreOptions;

/* Keeps PKCS#11 modules loaded and tokens logged in for as long as any
 * signer loaded through it lives (signers hold a reference). */
typedef struct OtaKeyStore OtaKeyStore;
OtaKeyStore *ota_key_store_new(const OtaKeyStoreOptions *options);
OtaKeyStore *ota_key_store_ref(OtaKeyStore *store);
void ota_key_store_unref(OtaKeyStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaKeyStore, ota_key_store_unref)

/* Whether @uri names a token object ("pkcs11:...") rather than a file. */
gboolean ota_keys_is_pkcs11_uri(const char *uri);
/* @uri as it may be shown or logged: a pkcs11: URI loses any pin-value. */
char *ota_keys_uri_for_display(const char *uri);
X509 *ota_keys_load_certificate(const char *path, GError **error);
/* All certificates in a PEM file; an empty file is an error. */
OtaX509Stack *ota_keys_load_certificates(const char *path, GError **error);
EVP_PKEY *ota_keys_load_private_key(const char *path, GError **error);

/* The identity of a public key as a key, not as an encoding: SHA-256 (hex)
 * of a canonical form (RSA and RSA-PSS: modulus and exponent; EC: named
 * curve and affine point; Ed25519/Ed448: the raw key), so that one key
 * certified with a compressed, hybrid or uncompressed point, named or
 * explicit curve parameters, or RSA parameters absent or NULL has one
 * identity. NULL for a key without one (another type, or an explicit
 * curve that is no named curve): such a key must never be counted. */
char *ota_keys_public_key_id(EVP_PKEY *key);
/* Whether @a and @b are the same public key (see ota_keys_public_key_id();
 * two keys without an identity are the same when OpenSSL says so). */
gboolean ota_keys_same_public_key(EVP_PKEY *a, EVP_PKEY *b);

/* A signing key and its certificate, checked to belong together, of a type
 * otabundle signs CMS with (RSA >= 2048 bits, ECDSA P-256/P-384, Ed25519 as
 * RFC 8419 has it), and, when @check_time, with a certificate valid now.
 * Each of @cert_uri and @key_uri is a PEM file or a pkcs11: URI (then
 * @store is required). */
typedef struct {
	char *cert_uri; /* for display: no PIN */
	char *key_uri;  /* for display: no PIN */
	X509 *cert;
	EVP_PKEY *key;
	OtaKeyStore *store; /* keeps a token key usable */
} OtaSigner;

/* Loads and checks a signer as described above. Returns a new signer
 * (ota_signer_free()), or NULL with OTA_KEYS_ERROR set, naming the file or
 * URI (never a PIN). */
OtaSigner *ota_signer_load(OtaKeyStore *store, const char *cert_uri, const char *key_uri,
                           gboolean check_time, GError **error);
/* Frees @signer (and its reference on the key store); NULL is ignored. */
void ota_signer_free(OtaSigner *signer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaSigner, ota_signer_free)

OTA_END_DECLS
