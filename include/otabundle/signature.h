/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <otabundle/keys.h>
#include <otabundle/openssl.h>
#include <otabundle/policy.h>

OTA_BEGIN_DECLS

/* The error domain of this module's GErrors; the codes are below. */
#define OTA_SIGNATURE_ERROR ota_signature_error_quark()
GQuark ota_signature_error_quark(void);

typedef enum {
	OTA_SIGNATURE_ERROR_PARSE,       /* not a CMS SignedData we understand */
	OTA_SIGNATURE_ERROR_UNSUPPORTED, /* well-formed, but a digest/layout we refuse */
	OTA_SIGNATURE_ERROR_INVALID,     /* cryptography failed: tampering */
	OTA_SIGNATURE_ERROR_CRYPTO,      /* OpenSSL failed while signing */
} OtaSignatureError;

/* One signer of a signature: who, with which certificate, and (after
 * ota_signature_verify()) whether it counted. Opaque; owned by its
 * OtaSignature. Strings are owned by the signer; NULL where unknown. */
typedef struct OtaSignerInfo OtaSignerInfo;

/* RFC 2253 subject and issuer of the signer certificate ("?" without one). */
const char *ota_signer_info_get_subject(const OtaSignerInfo *info);
const char *ota_signer_info_get_issuer(const OtaSignerInfo *info);
/* SHA-256 (lower-case hex) of the certificate's DER, and of its
 * SubjectPublicKeyInfo DER. */
const char *ota_signer_info_get_certificate_sha256(const OtaSignerInfo *info);
const char *ota_signer_info_get_spki_sha256(const OtaSignerInfo *info);
/* The certificate's validity, RFC 3339 UTC. */
const char *ota_signer_info_get_not_before(const OtaSignerInfo *info);
const char *ota_signer_info_get_not_after(const OtaSignerInfo *info);
/* What verification decided (OTA_SIGNER_UNCHECKED before), and why a
 * signer was not counted (NULL when it was). */
OtaSignerStatus ota_signer_info_get_status(const OtaSignerInfo *info);
const char *ota_signer_info_get_reason(const OtaSignerInfo *info);
/* Whether it rides in the first SignerInfo (OTA_SIGNATURE_ENCODING_NESTED). */
gboolean ota_signer_info_is_nested(const OtaSignerInfo *info);
/* The signer's certificate as the signature carries it (owned by the
 * signature), or NULL when it carries none. */
X509 *ota_signer_info_get_certificate(const OtaSignerInfo *info);

/* The signer's RFC 3161 timestamp (<otabundle/timestamp.h>), if it carries
 * one: FALSE without; else its time (the token's genTime, whole seconds
 * since the epoch, UTC) in *@unix_time. */
gboolean ota_signer_info_get_timestamp_time(const OtaSignerInfo *info, gint64 *unix_time);
/* The same time, RFC 3339 UTC, and the TSA certificate's RFC 2253 subject
 * ("?" if the token carries none); NULL without a token. */
const char *ota_signer_info_get_timestamp_time_string(const OtaSignerInfo *info);
const char *ota_signer_info_get_timestamp_tsa(const OtaSignerInfo *info);
/* Whether verification found the token trusted (its TSA in the policy's
 * TSA keyring, its imprint that of this signer's signature), and why not
 * (NULL when trusted or without a token). */
gboolean ota_signer_info_timestamp_is_trusted(const OtaSignerInfo *info);
const char *ota_signer_info_get_timestamp_reason(const OtaSignerInfo *info);

/* How several signers are encoded.
 *
 * SIGNER_INFOS: one SignedData with one SignerInfo per signer, as RFC 5652
 * intends. RAUC (1.8 to today) rejects more than one SignerInfo.
 *
 * NESTED: the first signer is the only SignerInfo; every further signer's
 * complete detached SignedData over the same content rides in an unsigned
 * attribute of it (OID OTA_SIGNATURE_NESTED_OID). RAUC verifies the one
 * SignerInfo and ignores unsigned attributes, so it accepts the bundle;
 * otabundle verifies and counts every nested signer too. Unsigned
 * attributes aren't covered by the first signature, but each nested
 * signature stands on its own: removing one can only lower the count, and
 * none can be forged. */
typedef enum {
	OTA_SIGNATURE_ENCODING_NESTED,
	OTA_SIGNATURE_ENCODING_SIGNER_INFOS,
} OtaSignatureEncoding;

/* An OID under ITU-T X.667's 2.25 arc (a UUID as an integer), which needs
 * no registration. */
#define OTA_SIGNATURE_NESTED_OID "2.25.77578983787829562783207146552732846084"

/* "nested" or "signer-infos" into *@encoding; FALSE for any other name. */
gboolean ota_signature_encoding_from_string(const char *name, OtaSignatureEncoding *encoding);

/* Whether a RAUC device with OpenSSL older than 3.5 (RAUC 1.8 on Debian 12,
 * for one) would refuse a bundle signed by @signers: the signer it
 * verifies, the first (RAUC checks the one SignerInfo with OpenSSL's CMS
 * and ignores nested signatures; it refuses several SignerInfos anyway),
 * has an Ed25519 key, which that CMS cannot verify (RFC 8419). */
gboolean ota_signers_rauc_cannot_verify(OtaSigner *const *signers, gsize n_signers);

/* A parsed CMS SignedData and its signers. Opaque. */
typedef struct OtaSignature OtaSignature;

/* The SignerInfos, then the nested signers; @index below
 * ota_signature_get_n_signers(). Owned by @sig. */
guint ota_signature_get_n_signers(const OtaSignature *sig);
const OtaSignerInfo *ota_signature_get_signer(const OtaSignature *sig, guint index);
/* Distinct trusted signer keys found by the last ota_signature_verify(). */
guint ota_signature_get_counted(const OtaSignature *sig);
/* After ota_signature_verify(): the newest trusted timestamp time among the
 * counted signers into *@unix_time (what a device may take as a time that
 * has certainly passed); FALSE if no counted signer has one. */
gboolean ota_signature_get_newest_trusted_time(const OtaSignature *sig, gint64 *unix_time);
/* Detached (plain bundles) or embedding its content (verity: the manifest). */
gboolean ota_signature_is_detached(const OtaSignature *sig);

/* Parses DER without judging trust: exactly one SignedData over id-data,
 * at least one signer, no trailing bytes; nested signatures likewise, each
 * detached, none nesting further. */
OtaSignature *ota_signature_parse(const guint8 *der, gsize length, GError **error);

/* Verifies the signature. For a detached one, @detached_sha256 is the
 * digest the caller computed over the content; for one that embeds its
 * content, pass NULL. Any signer whose signature or message digest fails
 * rejects the whole signature (OTA_SIGNATURE_ERROR_INVALID). Then @policy
 * decides each signer's status, counting distinct public keys; fewer than
 * the policy's threshold counted fails with OTA_POLICY_ERROR_THRESHOLD. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_signature_verify(OtaSignature *sig, const guint8 *detached_sha256,
                              const OtaPolicy *policy, GError **error);

/* The embedded content (verity bundles: the manifest), or NULL for a
 * detached signature. Unverified until ota_signature_verify() succeeds. */
GBytes *ota_signature_get_content(const OtaSignature *sig);

/* Frees @sig and its signers; NULL is ignored. */
void ota_signature_free(OtaSignature *sig);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaSignature, ota_signature_free)

OTA_END_DECLS
