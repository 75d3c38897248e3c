/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>

OTA_BEGIN_DECLS

/* Encrypted bundles, as RAUC makes them: a crypt bundle's signature (the
 * CMS SignedData that embeds the manifest, and with it the payload key) is
 * wrapped in a CMS EnvelopedData, its content encrypted with AES-256-CBC
 * under a random content-encryption key, which is wrapped for each
 * recipient: RSA key transport (PKCS#1 v1.5) or ECDH key agreement, each
 * recipient named by the issuer and serial number of its certificate. See
 * ota_bundle_decrypt() and ota_bundle_encrypt() in <otabundle/bundle.h>. */

/* The error domain of this module's GErrors; the codes are below. */
#define OTA_ENVELOPE_ERROR ota_envelope_error_quark()
GQuark ota_envelope_error_quark(void);

typedef enum {
	OTA_ENVELOPE_ERROR_DAMAGED,       /* not an EnvelopedData we can read, or its content
	                                   * does not decrypt to a signature */
	OTA_ENVELOPE_ERROR_UNSUPPORTED,   /* well-formed, but a content cipher we don't know */
	OTA_ENVELOPE_ERROR_NOT_RECIPIENT, /* the key (or certificate) is none of the recipients */
	OTA_ENVELOPE_ERROR_KEY_TYPE,      /* a key of a type no recipient has, or that can't decrypt */
	OTA_ENVELOPE_ERROR_RECIPIENT,     /* encrypting: a certificate that can't be a recipient */
	OTA_ENVELOPE_ERROR_TOO_LARGE,     /* encrypting: more recipients than the limit allows */
	OTA_ENVELOPE_ERROR_CRYPTO,        /* OpenSSL failed while encrypting */
} OtaEnvelopeError;

/* One recipient of an EnvelopedData, as it names itself (no key or
 * certificate is needed to list them). Opaque; owned by its bundle.
 * Strings are owned by the recipient. */
typedef struct OtaRecipient OtaRecipient;

/* The issuer (RFC 2253) and serial number (hex, as `openssl x509 -serial`
 * prints it) of the recipient's certificate; NULL for a recipient named by
 * its subject key identifier instead. */
const char *ota_recipient_get_issuer(const OtaRecipient *recipient);
const char *ota_recipient_get_serial(const OtaRecipient *recipient);
/* The subject key identifier (lower-case hex) naming it, or NULL. */
const char *ota_recipient_get_subject_key_id(const OtaRecipient *recipient);
/* "rsa" (key transport), "ec" (key agreement) or "other" (a kind of
 * recipient no private key can decrypt for: KEK or password). */
const char *ota_recipient_get_key_type(const OtaRecipient *recipient);
/* How the content-encryption key is wrapped for it, as OpenSSL names the
 * algorithm: "rsaEncryption", "dhSinglePass-stdDH-sha1kdf-scheme", ... */
const char *ota_recipient_get_algorithm(const OtaRecipient *recipient);

OTA_END_DECLS
