/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/checksum.h>
#include <otabundle/keys.h>
#include <otabundle/openssl.h>

G_BEGIN_DECLS

#define OTA_SIGNATURE_ERROR ota_signature_error_quark()
GQuark ota_signature_error_quark(void);

typedef enum {
	OTA_SIGNATURE_ERROR_PARSE,       /* not a CMS SignedData we understand */
	OTA_SIGNATURE_ERROR_UNSUPPORTED, /* well-formed, but a digest/layout we refuse */
	OTA_SIGNATURE_ERROR_INVALID,     /* cryptography failed: tampering */
	OTA_SIGNATURE_ERROR_UNTRUSTED,   /* valid, but too few signers chain to the keyring */
	OTA_SIGNATURE_ERROR_KEYRING,     /* keyring or CRL unusable */
	OTA_SIGNATURE_ERROR_CRYPTO,      /* OpenSSL failed while signing */
} OtaSignatureError;

/* Which certificate purpose the signer must have. RAUC's default (with no
 * system.conf) is smimesign; check-purpose=codesign asks for the
 * codeSigning extended key usage. */
typedef enum {
	OTA_PURPOSE_ANY,
	OTA_PURPOSE_SMIMESIGN,
	OTA_PURPOSE_CODESIGN,
} OtaPurpose;

gboolean ota_purpose_from_string(const char *name, OtaPurpose *purpose);
const char *ota_purpose_to_string(OtaPurpose purpose);

/* What a device (or a release engineer) trusts: roots (or pinned
 * intermediates) from a keyring, optional CRLs, purpose and time checks. */
typedef struct {
	char *keyring_path;
	X509_STORE *store;
	OtaPurpose purpose;
	gboolean check_time;
	gboolean check_crl;
} OtaTrust;

OtaTrust *ota_trust_new(const char *keyring_path, const char *crl_path, OtaPurpose purpose,
                        gboolean check_time, GError **error);
void ota_trust_free(OtaTrust *trust);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaTrust, ota_trust_free)

typedef enum {
	OTA_SIGNER_UNCHECKED,     /* not verified (info --no-verify) */
	OTA_SIGNER_COUNTED,       /* valid signature, chains to the keyring */
	OTA_SIGNER_UNTRUSTED,     /* valid signature, but no acceptable chain */
	OTA_SIGNER_DUPLICATE_KEY, /* same public key as an earlier counted signer */
} OtaSignerStatus;

const char *ota_signer_status_to_string(OtaSignerStatus status);

typedef struct {
	char *subject;
	char *issuer;
	char *cert_sha256; /* SHA-256 of the certificate DER, lower-case hex */
	char *spki_sha256; /* SHA-256 of the SubjectPublicKeyInfo DER */
	char *not_before;  /* RFC 3339 UTC */
	char *not_after;
	OtaSignerStatus status;
	char *reason; /* why not counted, or NULL */
} OtaSignerInfo;

typedef struct {
	CMS_ContentInfo *cms;
	gboolean detached;
	GPtrArray *signers; /* OtaSignerInfo*, one per SignerInfo, in order */
	guint counted;      /* distinct trusted signer keys after verify */
} OtaSignature;

/* Parses DER without judging trust: exactly one SignedData over id-data,
 * at least one signer, no trailing bytes. */
OtaSignature *ota_signature_parse(const guint8 *der, gsize length, GError **error);

/* Verifies the signature. For a detached one, @detached_sha256 is the
 * digest the caller computed over the content; for one that embeds its
 * content, pass NULL. Any signer whose signature or message digest fails
 * rejects the whole signature (OTA_SIGNATURE_ERROR_INVALID); signers that
 * don't chain are marked and not counted. Fails with
 * OTA_SIGNATURE_ERROR_UNTRUSTED when fewer than @threshold distinct keys
 * count. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_signature_verify(OtaSignature *sig, const guint8 *detached_sha256,
                              const OtaTrust *trust, guint threshold, GError **error);

/* The embedded content (verity bundles: the manifest), or NULL for a
 * detached signature. Unverified until ota_signature_verify() succeeds. */
GBytes *ota_signature_get_content(const OtaSignature *sig);

/* A CMS SignedData, one SignerInfo per signer, embedding signer
 * certificates and @intermediates, with the signed attributes RAUC writes
 * (contentType, signingTime, messageDigest = @sha256). With @content NULL
 * the signature is detached (plain bundles) and @sha256 is the caller's
 * digest of the content; otherwise @content is embedded (verity bundles)
 * and @sha256 must be its digest. */
GBytes *ota_signature_sign(OtaSigner *const *signers, gsize n_signers,
                           OtaX509Stack *intermediates, const guint8 sha256[OTA_SHA256_LEN],
                           GBytes *content, GError **error);

void ota_signature_free(OtaSignature *sig);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaSignature, ota_signature_free)

G_END_DECLS
