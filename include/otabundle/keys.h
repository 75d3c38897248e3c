/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/openssl.h>

G_BEGIN_DECLS

#define OTA_KEYS_ERROR ota_keys_error_quark()
GQuark ota_keys_error_quark(void);

typedef enum {
	OTA_KEYS_ERROR_LOAD,        /* unreadable file or not PEM */
	OTA_KEYS_ERROR_ENCRYPTED,   /* passphrase-protected key */
	OTA_KEYS_ERROR_UNSUPPORTED, /* key type or size we refuse to sign with */
	OTA_KEYS_ERROR_MISMATCH,    /* key does not belong to the certificate */
	OTA_KEYS_ERROR_EXPIRED,     /* certificate not valid now */
} OtaKeysError;

/* Where keys and certificates come from is this module's business alone:
 * callers get OpenSSL objects. Every error names the file. */
X509 *ota_keys_load_certificate(const char *path, GError **error);
/* All certificates in a PEM file; an empty file is an error. */
OtaX509Stack *ota_keys_load_certificates(const char *path, GError **error);
EVP_PKEY *ota_keys_load_private_key(const char *path, GError **error);

/* A signing key and its certificate, checked to belong together, of a type
 * CMS can sign with (RSA >= 2048 bits, ECDSA P-256/P-384), and, when
 * @check_time, with a certificate valid now. */
typedef struct {
	char *cert_uri;
	char *key_uri;
	X509 *cert;
	EVP_PKEY *key;
} OtaSigner;

OtaSigner *ota_signer_load(const char *cert_uri, const char *key_uri, gboolean check_time,
                           GError **error);
void ota_signer_free(OtaSigner *signer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaSigner, ota_signer_free)

G_END_DECLS
