/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to libotabundle: keys.c is the only user. PKCS#11 through libp11,
 * addressed by RFC 7512 URIs. */
#pragma once

#include <otabundle/keys.h>

typedef struct OtaPkcs11 OtaPkcs11;

OtaPkcs11 *ota_pkcs11_new(const OtaKeyStoreOptions *options);
void ota_pkcs11_free(OtaPkcs11 *p11);

/* Find the one private key / certificate the URI names, logging in to its
 * token when needed. The returned key stays usable while @p11 lives. */
EVP_PKEY *ota_pkcs11_load_private_key(OtaPkcs11 *p11, const char *uri, GError **error);
X509 *ota_pkcs11_load_certificate(OtaPkcs11 *p11, const char *uri, GError **error);
