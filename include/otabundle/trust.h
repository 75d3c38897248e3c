/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Trust lists: who may sign updates, as a versioned, signed document that
 * a device keeps outside its A/B slots and that signed trust updates
 * change (otabundle-trust(5)). A trust list holds tiers ("default", the
 * role of system.conf's [keyring], and stricter ones such as
 * "bootloader", the role of [policy.<name>]); each tier has its trust
 * anchors (CA certificates, each optionally valid only within a window),
 * a threshold, a purpose, a time check and revoked keys and certificates.
 *
 * A trust list file is a CMS SignedData (the same signatures, encodings,
 * thresholds and PKCS#11 keys as bundles, <otabundle/signature.h>) whose
 * embedded content is the trust document, a key file (GKeyFile) with
 * [trust] version=N and one [tier.<name>] group per tier. Version N+1 is
 * accepted over version N (ota_trust_check_update()) only if, for every
 * tier it changes (anchors, windows, threshold, purpose, time check or
 * revocations, or a tier added or removed), it is signed by that tier's
 * threshold under the CURRENT list and by its threshold under the NEW
 * list: tiers rotate independently, and neither the old keys alone nor the
 * new ones alone can change a tier (TUF's root rotation rule). */
#pragma once

#include <otabundle/api.h>
#include <otabundle/bundle.h>
#include <otabundle/keys.h>
#include <otabundle/policy.h>
#include <otabundle/signature.h>

OTA_BEGIN_DECLS

/* The error domain of this module's GErrors; the codes are below. */
#define OTA_TRUST_ERROR ota_trust_error_quark()
GQuark ota_trust_error_quark(void);

typedef enum {
	OTA_TRUST_ERROR_MALFORMED, /* not a trust list: CMS, document or a value in it */
	OTA_TRUST_ERROR_VERSION,   /* not exactly the current version + 1 (replay, skip) */
	OTA_TRUST_ERROR_UNSIGNED,  /* a changed tier lacks its old or its new threshold */
	OTA_TRUST_ERROR_NO_TIER,   /* a tier asked for that the list does not have */
	OTA_TRUST_ERROR_IO,
	OTA_TRUST_ERROR_UNCHANGED, /* an update that changes no tier (it would only burn a version) */
} OtaTrustError;

/* A parsed trust list (document and, if it came from a signed file, its
 * signature). Opaque. */
typedef struct OtaTrust OtaTrust;

/* A trust list from a signed file (DER CMS, as `otabundle trust sign`
 * writes it) or, for one shipped in an image, a bare document; its
 * signatures are NOT checked here (see ota_trust_check_update()). */
OtaTrust *ota_trust_load(const char *path, GError **error);
OtaTrust *ota_trust_parse(const guint8 *data, gsize length, const char *name, GError **error);
void ota_trust_free(OtaTrust *trust);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaTrust, ota_trust_free)

/* The version N of [trust] version=N (1 to 2^63-1). */
guint64 ota_trust_get_version(const OtaTrust *trust);
/* The tier names, "default" first; NULL-terminated, owned by @trust. */
const char *const *ota_trust_get_tiers(const OtaTrust *trust);
/* The SHA-256 (hex) of the document, which names this version in logs. */
const char *ota_trust_get_document_sha256(const OtaTrust *trust);
/* The signature of a signed trust list, or NULL for a bare document. */
const OtaSignature *ota_trust_get_signature(const OtaTrust *trust);

/* The policy tier @tier of @trust stands for, judged at @now (seconds
 * since the epoch; 0: the clock): its anchors valid at @now (an anchor
 * outside its window is left out), threshold, purpose and time check; and
 * its revoked keys (by SubjectPublicKeyInfo SHA-256) and certificates (by
 * certificate SHA-256, an intermediate's too), a signer whose chain holds
 * one is not counted, with the reason "revoked by trust list version N".
 * OTA_TRUST_ERROR_NO_TIER if @trust has no such tier. */
OtaPolicy *ota_trust_policy_new(const OtaTrust *trust, const char *tier, gint64 now,
                                GError **error);

/* Whether @update may replace @current: version exactly current + 1, and
 * each tier it changes signed by that tier's threshold under @current and
 * under @update (verified at @now; 0: the clock); a tier added needs its
 * new threshold and the current "default" one, a tier removed its current
 * threshold and the new "default" one. An update that changes no tier is
 * refused (OTA_TRUST_ERROR_UNCHANGED), and so is a bare document
 * (OTA_TRUST_ERROR_UNSIGNED). Errors name the tier and say which side's
 * threshold is missing. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_trust_check_update(const OtaTrust *current, const OtaTrust *update, gint64 now,
                                GError **error);

/* --- making trust lists (host) --- */

/* One anchor of a tier, for ota_trust_document_new(). */
typedef struct {
	const char *tier;        /* "default", "bootloader", ... */
	const char *certificate; /* PEM file (each certificate in it is an anchor) */
	const char *not_before;  /* RFC 3339, or NULL */
	const char *not_after;   /* RFC 3339, or NULL */
} OtaTrustAnchor;

/* One tier's settings; tiers not listed but named by an anchor get the
 * defaults (threshold 1, purpose smimesign, check-time device). */
typedef struct {
	const char *name;
	guint threshold;
	OtaPurpose purpose;
	OtaCheckTime check_time;
} OtaTrustTier;

/* A revocation: @what is a PEM certificate file (its certificate and its
 * key are revoked) in tier @tier (NULL: every tier). */
typedef struct {
	const char *tier;
	const char *what;
} OtaTrustRevocation;

/* The document of version @version (bytes, as stored in a signed list). */
GBytes *ota_trust_document_new(guint64 version, const OtaTrustTier *tiers, gsize n_tiers,
                               const OtaTrustAnchor *anchors, gsize n_anchors,
                               const OtaTrustRevocation *revocations, gsize n_revocations,
                               GError **error);

/* --- signing trust lists and checking bundles against them (host) --- */

/* How trust files are signed: as bundles are (OtaSignOptions in
 * <otabundle/bundle.h>), with PEM or PKCS#11 signers. */
typedef struct {
	OtaSigner *const *signers;
	gsize n_signers;
	OtaX509Stack *intermediates; /* embedded, so an anchor may be a root */
	OtaSignatureEncoding encoding; /* with several signers; default nested */
	gboolean force;                /* replace an existing output */
	const char *audit_log;         /* one JSON line per signature (format "trust"), or NULL */
	const OtaTimestampOptions *timestamp; /* each new signer's RFC 3161 token, or NULL */
} OtaTrustSignOptions;

/* Writes @out_path atomically: @document (ota_trust_document_new()) signed
 * by the options' signers into a trust file, or without signers (@options
 * NULL or none) as a bare document, the initial trust list an image
 * ships. What is written must read back as a trust list embedding the
 * same document, every signature intact; else nothing is written. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_trust_write(GBytes *document, const char *out_path,
                         const OtaTrustSignOptions *options, GError **error);

/* Writes @out_path: the trust list @in_path (a bare document, or a signed
 * trust file whose signatures must be intact) signed by the options'
 * signers as well. A signer whose key already signs it is refused. Whether
 * the signers are the right ones is for ota_trust_check_update(). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_trust_add_signers(const char *in_path, const char *out_path,
                               const OtaTrustSignOptions *options, GError **error);

/* Writes a partial signature to @sig_path: the options' signers' detached
 * CMS over the document of @in_path (bare or signed), for
 * ota_trust_merge(); @in_path is unchanged. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_trust_sign_detached(const char *in_path, const char *sig_path,
                                 const OtaTrustSignOptions *options, GError **error);

/* Writes @out_path: @in_path with the signers of each partial signature
 * (@n_sigs at least 1) added, each checked to sign exactly this document;
 * for a bare @in_path the first partial becomes the signature that embeds
 * the document. Only encoding, force and timestamp of @options apply. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_trust_merge(const char *in_path, const char *out_path,
                         const char *const *sig_paths, gsize n_sigs,
                         const OtaTrustSignOptions *options, GError **error);

/* What a trust list says, for showing it (otabundle trust show). */

/* The settings of tier @tier into *@settings (its name owned by @trust);
 * FALSE if @trust has no such tier. */
gboolean ota_trust_get_tier_settings(const OtaTrust *trust, const char *tier,
                                     OtaTrustTier *settings);

/* One anchor of a tier, as ota_trust_get_anchor() tells it; strings and
 * certificate owned by the trust list. */
typedef struct {
	X509 *certificate;
	const char *subject;            /* RFC 2253 */
	const char *certificate_sha256; /* lower-case hex */
	gboolean has_not_before;        /* its window: valid from not_before */
	gint64 not_before;              /* seconds since the epoch, UTC */
	gboolean has_not_after;         /* until not_after, inclusive */
	gint64 not_after;
} OtaTrustAnchorInfo;

/* The number of anchors of tier @tier (0 if @trust has no such tier). */
guint ota_trust_get_n_anchors(const OtaTrust *trust, const char *tier);
/* Anchor @index (below ota_trust_get_n_anchors()) of tier @tier into
 * *@info; FALSE if there is no such anchor. */
gboolean ota_trust_get_anchor(const OtaTrust *trust, const char *tier, guint index,
                              OtaTrustAnchorInfo *info);
/* The revoked keys (SubjectPublicKeyInfo SHA-256) and certificates
 * (certificate SHA-256) of tier @tier, lower-case hex, sorted;
 * NULL-terminated (empty for no such tier), free with g_strfreev(). */
char **ota_trust_get_revoked_keys(const OtaTrust *trust, const char *tier);
char **ota_trust_get_revoked_certificates(const OtaTrust *trust, const char *tier);

/* Verifies @bundle (ota_bundle_verify() with @flags) as a device holding
 * @trust would at @now (0: the clock): against its "default" tier, and
 * then against each tier in @tiers (NULL-terminated, or NULL), those a
 * device binds to the slots the bundle writes, and every tier if the
 * bundle has hooks (ota_trust_policy_new(): anchors outside their window
 * left out, revoked keys not counted).
 * OTA_TRUST_ERROR_NO_TIER for a tier @trust does not have. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_trust_verify_bundle(OtaBundle *bundle, const OtaTrust *trust,
                                 const char *const *tiers, gint64 now,
                                 OtaBundleVerifyFlags flags, GError **error);

OTA_END_DECLS
