/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CMS EnvelopedData: what wraps the signature of an encrypted bundle. Parsing
 * and listing recipients, decrypting with a private key, encrypting to
 * certificates, and encrypting new content for the recipients of an
 * EnvelopedData already decrypted. Knows nothing of bundles. Not
 * installed. */
#pragma once

#include <otabundle/envelope.h>
#include <otabundle/openssl.h>

G_BEGIN_DECLS

/* A parsed EnvelopedData. Opaque. */
typedef struct OtaEnvelope OtaEnvelope;

/* Whether @der starts as a CMS ContentInfo of type envelopedData does: a
 * look at the first bytes, to tell an encrypted bundle's CMS from a
 * signature before either is parsed. */
gboolean ota_envelope_der_is_enveloped(const guint8 *der, gsize length);

/* Parses an EnvelopedData (DER, nothing after it) and its recipients;
 * OTA_ENVELOPE_ERROR_DAMAGED (or _UNSUPPORTED for a content cipher other
 * than AES-CBC) otherwise. Judges nothing about the content. */
OtaEnvelope *ota_envelope_parse(const guint8 *der, gsize length, GError **error);
void ota_envelope_free(OtaEnvelope *env);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaEnvelope, ota_envelope_free)

guint ota_envelope_get_n_recipients(const OtaEnvelope *env);
const OtaRecipient *ota_envelope_get_recipient(const OtaEnvelope *env, guint index);
/* The content cipher, as OpenSSL names it ("AES-256-CBC"). */
const char *ota_envelope_get_cipher_name(const OtaEnvelope *env);

/* Decrypts the content with @key (RSA: key transport; EC: key agreement),
 * which @key_name names in messages. With @cert (named @cert_name), only
 * the recipient with its issuer and serial is tried, and the key must
 * belong to it; without, every recipient of the key's type is (as RAUC
 * and OpenSSL do). The content must be a CMS SignedData. Errors:
 * OTA_ENVELOPE_ERROR_KEY_TYPE, _NOT_RECIPIENT, _DAMAGED (the content does
 * not decrypt, or not to a SignedData: one message for every such case),
 * OTA_KEYS_ERROR_MISMATCH (key and certificate differ). Afterwards the
 * envelope keeps the content-encryption key, for
 * ota_envelope_encrypt_again(). */
GBytes *ota_envelope_decrypt(OtaEnvelope *env, EVP_PKEY *key, const char *key_name, X509 *cert,
                             const char *cert_name, GError **error);

/* Decrypts @env, an EnvelopedData for the same recipients as @decrypted
 * (byte-identical RecipientInfos), with the content-encryption key that
 * ota_envelope_decrypt() found for @decrypted. */
GBytes *ota_envelope_decrypt_like(OtaEnvelope *env, const OtaEnvelope *decrypted,
                                  GError **error);

/* After ota_envelope_decrypt(): an EnvelopedData of @content for the same
 * recipients, with the same content-encryption key (so the same
 * RecipientInfos, byte for byte) and a fresh IV. */
GBytes *ota_envelope_encrypt_again(const OtaEnvelope *env, GBytes *content, GError **error);

/* Refuses (OTA_ENVELOPE_ERROR_RECIPIENT), naming @name, a certificate that
 * can't be a recipient: a key other than RSA >= 2048 bits or EC P-256,
 * P-384 or P-521, a key usage without keyEncipherment (RSA) or
 * keyAgreement (EC), or with @check_time a validity period that does not
 * include now. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_envelope_check_recipient(X509 *cert, const char *name, gboolean check_time,
                                      GError **error);

/* An EnvelopedData of @content for @recipients (checked with
 * ota_envelope_check_recipient() by the caller): AES-256-CBC, RSA
 * PKCS#1 v1.5 key transport or ECDH key agreement, as `rauc encrypt`
 * writes it. A certificate given twice is a recipient once. */
GBytes *ota_envelope_encrypt(GBytes *content, OtaX509Stack *recipients, GError **error);

G_END_DECLS
