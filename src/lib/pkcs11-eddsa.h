/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to libotabundle: pkcs11.c is the only user. Ed25519 keys on
 * PKCS#11 tokens, which libp11 0.4 can't use (nor even list a token that
 * holds one): found and signed with through the module's own C API, in a
 * session of the module instance libp11 loaded and logged in. */
#pragma once

#include <glib.h>
#include <openssl/evp.h>

typedef struct OtaPkcs11Eddsa OtaPkcs11Eddsa;

/* Closes every key's session; before libp11 unloads the modules. */
void ota_pkcs11_eddsa_free(OtaPkcs11Eddsa *eddsa);

/* The one Ed25519 private key named by @label and/or @id on slot @slot_id
 * of the module at @module_path (loaded, initialised and logged in
 * already), as an EVP_PKEY holding its public half that stands for it in
 * *@eddsa (made when NULL). None matching: OTA_KEYS_ERROR_LOAD, saying
 * that libp11 could not list the token's other keys unless @listed. */
EVP_PKEY *ota_pkcs11_eddsa_load(OtaPkcs11Eddsa **eddsa, const char *module_path,
                                unsigned long slot_id, const char *label, GBytes *id,
                                gboolean listed, const char *display, GError **error);

/* Whether @key came from ota_pkcs11_eddsa_load() on @eddsa (may be NULL). */
gboolean ota_pkcs11_eddsa_owns(const OtaPkcs11Eddsa *eddsa, EVP_PKEY *key);

/* CKM_EDDSA (PureEdDSA) by the token key @key stands for. */
gboolean ota_pkcs11_eddsa_sign(OtaPkcs11Eddsa *eddsa, EVP_PKEY *key, const guint8 *data,
                               gsize length, guint8 *signature, gsize signature_len,
                               GError **error);
