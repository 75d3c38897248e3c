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

G_END_DECLS
