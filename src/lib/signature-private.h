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
	struct OtaTimestamp *timestamp; /* its RFC 3161 token (timestamp-private.h), or NULL */

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

/* ota_signature_verify() for the library: a detached content's digests in
 * @detached (NULL for embedded content), SHA-512 among them where an
 * Ed25519 signer signs it (RFC 8419). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_signature_verify_content(OtaSignature *sig, const OtaChecksum *detached,
                                      const OtaPolicy *policy, GError **error);

/* Only the cryptographic half of ota_signature_verify_content(): every
 * signer's signature and message digest, nested ones included. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_signature_check_crypto(OtaSignature *sig, const OtaChecksum *detached,
                                    GError **error);

/* ota_signature_check_crypto() but for the message digest: every signer's
 * signature over its signed attributes, whatever content they name. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_signature_check_attributes(OtaSignature *sig, GError **error);

/* Whether every signer of @sig, nested ones included, names @content's
 * digest as that of the content it signed (its messageDigest attribute:
 * SHA-256, or SHA-512 for an Ed25519 signer). Says nothing about the
 * signatures themselves. */
gboolean ota_signature_signs_digest(const OtaSignature *sig, const OtaChecksum *content);

/* Whether a signer of @sig, or one of @signers, has an Ed25519 key: then
 * detached content needs its SHA-512 as well. */
gboolean ota_signature_has_ed25519_signer(const OtaSignature *sig);
gboolean ota_signers_have_ed25519(OtaSigner *const *signers, gsize n_signers);

/* Refuses (OTA_SIGNATURE_ERROR_UNSUPPORTED) a signer among @signers whose
 * key already signs @sig, compared as keys: it would add a signature that
 * counts once. Checked before signing, so no token signs in vain. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_signature_check_new_signers(const OtaSignature *sig, OtaSigner *const *signers,
                                         gsize n_signers, GError **error);

/* @signature with the signers of each detached partial signature added,
 * refusing a signer whose key already signs it (or another partial),
 * after checking that every partial signs content with digests @content. */
GBytes *ota_signature_merge(GBytes *signature, GBytes *const *partials, gsize n_partials,
                            const OtaChecksum *content, OtaSignatureEncoding encoding,
                            GError **error);

/* A CMS SignedData, one SignerInfo per signer, embedding signer
 * certificates and @intermediates, with the signed attributes RAUC writes
 * (contentType, signingTime, messageDigest = @digest's SHA-256, or its
 * SHA-512 for an Ed25519 signer, which must then be there). With @content
 * NULL the signature is detached (plain bundles) and @digest is the
 * caller's of the content; otherwise @content is embedded (verity bundles)
 * and @digest must be its. */
GBytes *ota_signature_sign(OtaSigner *const *signers, gsize n_signers,
                           OtaX509Stack *intermediates, const OtaChecksum *digest,
                           GBytes *content, GError **error);

/* The DER of @cms (OTA_SIGNATURE_ERROR_CRYPTO if OpenSSL can't). */
GBytes *ota_signature_encode_cms(CMS_ContentInfo *cms, GError **error);

G_END_DECLS
