/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading keys and certificates for the library's other modules, from PEM
 * files or pkcs11: URIs alike. Not installed. */
#pragma once

#include <otabundle/keys.h>

G_BEGIN_DECLS

/* The private key at @uri: a PEM file, or a pkcs11: URI (then @store is
 * required and keeps the key usable). Errors name the URI without a PIN. */
EVP_PKEY *ota_key_store_load_private_key(OtaKeyStore *store, const char *uri, GError **error);
/* The certificate at @uri, likewise. */
X509 *ota_key_store_load_certificate(OtaKeyStore *store, const char *uri, GError **error);
/* Every certificate in the PEM file @uri, or the one a pkcs11: URI names. */
OtaX509Stack *ota_key_store_load_certificates(OtaKeyStore *store, const char *uri,
                                              GError **error);

#define OTA_ED25519_SIGNATURE_LEN 64

/* @signer's Ed25519 signature (PureEdDSA, RFC 8032) of @data: by OpenSSL
 * for a PEM key, by the token's CKM_EDDSA for a token key (which libp11
 * can't use). Errors name the key URI, never a PIN. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_signer_sign_ed25519(const OtaSigner *signer, const guint8 *data, gsize length,
                                 guint8 signature[OTA_ED25519_SIGNATURE_LEN], GError **error);

G_END_DECLS
