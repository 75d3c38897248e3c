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

/* Whether @key is an Ed25519 token key loaded through @p11: libp11 can't
 * use those, so it stands for the token object with its public half, and
 * signs only through ota_pkcs11_sign_eddsa(). */
gboolean ota_pkcs11_is_eddsa_key(OtaPkcs11 *p11, EVP_PKEY *key);
/* The token's CKM_EDDSA signature of @data by such a key, into @signature
 * (64 bytes for Ed25519). */
gboolean ota_pkcs11_sign_eddsa(OtaPkcs11 *p11, EVP_PKEY *key, const guint8 *data, gsize length,
                               guint8 *signature, gsize signature_len, GError **error);
