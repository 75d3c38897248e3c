/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The insides of a parsed signature, for the library (signature.c, the
 * bundle modules) and its tests; not installed. */
#pragma once

#include <otabundle/signature.h>

#include "checksum-private.h"

G_BEGIN_DECLS

struct OtaSignerInfo {
	char *subject;
	char *issuer;
	char *cert_sha256; /* SHA-256 of the certificate DER, lower-case hex */
	char *spki_sha256; /* SHA-256 of the SubjectPublicKeyInfo DER */
	char *key_id;      /* ota_keys_public_key_id(): what is counted once, or NULL */
	char *not_before;  /* RFC 3339 UTC */
	char *not_after;
	OtaSignerStatus status;
	char *reason;    /* why not counted, or NULL */
	char *missing_issuer; /* the issuer its chain stopped at, not found, or NULL */
	gboolean nested; /* carried inside the primary SignerInfo */

	/* Where this signer lives (owned by the OtaSignature). */
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
};

struct OtaSignature {
	CMS_ContentInfo *cms;
	gboolean detached;
	GPtrArray *signers; /* OtaSignerInfo*: the SignerInfos, then nested signers */
	GPtrArray *nested;  /* CMS_ContentInfo* of nested signatures */
	guint counted;      /* distinct trusted signer keys after verify */
};

/* ota_signature_verify() without the content: every signer's signature
 * over its signed attributes, and enough trusted signers for @policy. A
 * detached signature's content can be large; this says whether reading it
 * is worth it at all. Not a verification: the content may still differ. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_signature_check_signers(OtaSignature *sig, const OtaPolicy *policy, GError **error);

/* Only the cryptographic half of ota_signature_verify(): every signer's
 * signature and message digest, nested ones included. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_signature_check_crypto(OtaSignature *sig, const guint8 *detached_sha256,
                                    GError **error);

/* ota_signature_check_crypto() but for the message digest: every signer's
 * signature over its signed attributes, whatever content they name. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_signature_check_attributes(OtaSignature *sig, GError **error);

/* Whether every signer of @sig, nested ones included, names @sha256 as the
 * digest of the content it signed (its messageDigest attribute). Says
 * nothing about the signatures themselves. */
gboolean ota_signature_signs_digest(const OtaSignature *sig, const guint8 sha256[OTA_SHA256_LEN]);

/* Refuses (OTA_SIGNATURE_ERROR_UNSUPPORTED) a signer among @signers whose
 * key already signs @sig, compared as keys: it would add a signature that
 * counts once. Checked before signing, so no token signs in vain. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_signature_check_new_signers(const OtaSignature *sig, OtaSigner *const *signers,
                                         gsize n_signers, GError **error);

/* @signature with the signers of each detached partial signature added,
 * refusing a signer whose key already signs it (or another partial),
 * after checking that every partial signs content with digest @sha256. */
GBytes *ota_signature_merge(GBytes *signature, GBytes *const *partials, gsize n_partials,
                            const guint8 sha256[OTA_SHA256_LEN], OtaSignatureEncoding encoding,
                            GError **error);

/* A CMS SignedData, one SignerInfo per signer, embedding signer
 * certificates and @intermediates, with the signed attributes RAUC writes
 * (contentType, signingTime, messageDigest = @sha256). With @content NULL
 * the signature is detached (plain bundles) and @sha256 is the caller's
 * digest of the content; otherwise @content is embedded (verity bundles)
 * and @sha256 must be its digest. */
GBytes *ota_signature_sign(OtaSigner *const *signers, gsize n_signers,
                           OtaX509Stack *intermediates, const guint8 sha256[OTA_SHA256_LEN],
                           GBytes *content, GError **error);

G_END_DECLS
