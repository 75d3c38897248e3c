/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <otabundle/openssl.h>

OTA_BEGIN_DECLS

/* The error domain of this module's GErrors; the codes are below. */
#define OTA_POLICY_ERROR ota_policy_error_quark()
GQuark ota_policy_error_quark(void);

typedef enum {
	OTA_POLICY_ERROR_KEYRING,   /* keyring or CRL unusable */
	OTA_POLICY_ERROR_THRESHOLD, /* fewer trusted signer keys than required */
	OTA_POLICY_ERROR_INVALID,   /* a threshold of 0 */
} OtaPolicyError;

/* Which certificate purpose a signer must have. smimesign is RAUC's
 * default (with or without a system.conf) and ours: a certificate meant
 * for TLS or encryption only must not sign updates. codesign asks for the
 * codeSigning extended key usage, as RAUC's check-purpose=codesign does;
 * any is the explicit opt-out. */
typedef enum {
	OTA_PURPOSE_ANY,
	OTA_PURPOSE_SMIMESIGN,
	OTA_PURPOSE_CODESIGN,
} OtaPurpose;

#define OTA_PURPOSE_DEFAULT OTA_PURPOSE_SMIMESIGN

/* "any", "smimesign" or "codesign" into *@purpose (FALSE for another
 * name), and back (a static string). */
gboolean ota_purpose_from_string(const char *name, OtaPurpose *purpose);
const char *ota_purpose_to_string(OtaPurpose purpose);

typedef enum {
	OTA_SIGNER_UNCHECKED,     /* not evaluated (info --no-verify) */
	OTA_SIGNER_COUNTED,       /* valid signature, trusted key: counts */
	OTA_SIGNER_UNTRUSTED,     /* valid signature, no acceptable chain */
	OTA_SIGNER_EXPIRED,       /* valid signature, certificate outside its validity */
	OTA_SIGNER_REVOKED,       /* valid signature, certificate revoked by a CRL */
	OTA_SIGNER_DUPLICATE_KEY, /* same public key as a counted signer: counts once */
} OtaSignerStatus;

/* "counted", "untrusted", ...: a static string, as JSON output shows it. */
const char *ota_signer_status_to_string(OtaSignerStatus status);

/* Which signatures count: trust anchors from a keyring (roots, or pinned
 * intermediates), optional CRLs, purpose and time checks, and how many
 * distinct trusted signer keys a bundle needs. */
typedef struct OtaPolicy OtaPolicy;

/* A policy trusting the certificates of every keyring in @keyring_paths
 * (NULL-terminated, at least one; each adds its anchors), with the CRLs in
 * @crl_path (NULL: none), signers of @purpose, certificate times checked
 * unless !@check_time, and @threshold (at least 1) distinct trusted signer
 * keys required. A keyring is a PEM file of certificates, or a directory
 * hashed by `openssl rehash` (as RAUC's [keyring] directory): certificates
 * are looked up there by subject hash when a chain is built, and its CRL
 * links (HASH.rN) are used too when CRLs are checked. A directory without
 * a single hashed certificate link is refused, since it could trust
 * nothing. Returns a new policy (ota_policy_free()), or NULL with
 * OTA_POLICY_ERROR (KEYRING, INVALID) naming the file. */
OtaPolicy *ota_policy_new_from_keyrings(const char *const *keyring_paths, const char *crl_path,
                                        OtaPurpose purpose, gboolean check_time,
                                        guint threshold, GError **error);
/* ota_policy_new_from_keyrings() with the one keyring @keyring_path. */
OtaPolicy *ota_policy_new(const char *keyring_path, const char *crl_path, OtaPurpose purpose,
                          gboolean check_time, guint threshold, GError **error);
/* Frees @policy; NULL is ignored. */
void ota_policy_free(OtaPolicy *policy);

/* The N of N-of-M. */
guint ota_policy_get_threshold(const OtaPolicy *policy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaPolicy, ota_policy_free)

/* RAUC's [keyring] use-bundle-signing-time, for devices without a
 * trustworthy clock: with @use TRUE, each signer's certificate chain is
 * checked for validity at that signer's own signingTime (a signed CMS
 * attribute) instead of now, and a signer without one is not counted.
 * Revocation is checked as without it, with CRLs judged at the current
 * time. The risk: certificate expiry then no longer limits how long a
 * stolen key can sign, since its holder chooses the signingTime; only a
 * CRL revoking it does. Without time checks (!check_time) it changes
 * nothing. Default FALSE. */
void ota_policy_set_use_signing_time(OtaPolicy *policy, gboolean use);
/* Whether certificates are checked at signing times: set by
 * ota_policy_set_use_signing_time(), on a policy that checks times. */
gboolean ota_policy_get_use_signing_time(const OtaPolicy *policy);

/* Trusts the Time-Stamping Authorities of @path (a PEM file of
 * certificates or a hashed directory, as a keyring; replacing any given
 * before): a signer's RFC 3161 token whose TSA chains to them (checked at
 * the token's time, with the timeStamping purpose), and whose imprint is
 * that of exactly this signer's signature value, gives the signer a
 * trusted signing time. Its certificate chain is then checked for validity
 * at that time, and for revocation with the CRLs judged now, where an
 * entry counts only if the certificate was revoked (or, by its
 * invalidityDate, compromised) at or before that time, or if it was
 * revoked for a key or CA compromise without an invalidityDate. Without
 * a TSA keyring, tokens are shown and never trusted. FALSE with
 * OTA_POLICY_ERROR_KEYRING naming the file. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_policy_set_tsa_keyring(OtaPolicy *policy, const char *path, GError **error);

/* When certificate validity is checked, for devices with and without a
 * clock (otabundle-system.conf(5), [keyring] check-time). In every mode
 * but NONE, a signer with a trusted timestamp (ota_policy_set_tsa_keyring())
 * is checked at its time; the modes differ for the others:
 * DEVICE: at "now" (ota_policy_set_now()); the default.
 * TIMESTAMP: not counted ("no trusted timestamp").
 * SIGNING_TIME: at the signer's own signingTime, as
 *   ota_policy_set_use_signing_time(TRUE) (with its risk).
 * NONE: certificate times are not checked at all, as a policy made with
 *   !check_time; revocation still is. */
typedef enum {
	OTA_CHECK_TIME_DEVICE,
	OTA_CHECK_TIME_TIMESTAMP,
	OTA_CHECK_TIME_SIGNING_TIME,
	OTA_CHECK_TIME_NONE,
} OtaCheckTime;

/* Sets the mode (see OtaCheckTime), replacing what the constructor's
 * check_time and ota_policy_set_use_signing_time() said. */
void ota_policy_set_check_time(OtaPolicy *policy, OtaCheckTime mode);
/* The mode in effect. */
OtaCheckTime ota_policy_get_check_time(const OtaPolicy *policy);
/* "device", "timestamp", "signing-time" or "none" into *@mode (FALSE for
 * another name), and back (a static string). */
gboolean ota_check_time_from_string(const char *name, OtaCheckTime *mode);
const char *ota_check_time_to_string(OtaCheckTime mode);

/* What "now" is for certificate and CRL checks, in seconds since the
 * epoch (UTC); by default the clock's time at each check. A device whose
 * clock may be behind passes max(clock, a time it knows has passed). */
void ota_policy_set_now(OtaPolicy *policy, gint64 unix_time);

/* Whether @cert chains to the policy's anchors (using @untrusted as
 * intermediates) and passes purpose, time and CRL checks. Returns
 * OTA_SIGNER_COUNTED, or another status with *reason set. There is no
 * signature here, so no signingTime: times are checked at the current
 * time whatever ota_policy_set_use_signing_time() says. */
OtaSignerStatus ota_policy_check_signer(const OtaPolicy *policy, X509 *cert,
                                        OtaX509Stack *untrusted, char **reason);

OTA_END_DECLS
