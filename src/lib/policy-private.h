/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the library needs from a policy beyond its API; not installed. */
#pragma once

#include <otabundle/policy.h>

#include <time.h>

G_BEGIN_DECLS

/* ota_policy_check_signer(), with certificate times checked at *@at
 * (@at NULL: now; see ota_policy_set_use_signing_time()), also telling
 * (in *@missing_issuer_name, else NULL) the issuer of @cert when the chain
 * stopped right there, because no certificate of that issuer was embedded
 * or in the keyring: the usual sign of a forgotten intermediate. */
OtaSignerStatus ota_policy_check_signer_chain(const OtaPolicy *policy, X509 *cert,
                                              OtaX509Stack *untrusted, const time_t *at,
                                              char **reason, char **missing_issuer_name);

/* ota_policy_check_signer_chain() for a signer with a trusted timestamp
 * at @at: certificate times checked then, and a revocation in the CRLs
 * (judged now) counted only if it took effect by then (see
 * ota_policy_set_tsa_keyring()). */
OtaSignerStatus ota_policy_check_signer_at_timestamp(const OtaPolicy *policy, X509 *cert,
                                                     OtaX509Stack *untrusted, time_t at,
                                                     char **reason, char **missing_issuer_name);

/* The TSA keyring (ota_policy_set_tsa_keyring()), or NULL. */
X509_STORE *ota_policy_get_tsa_store(const OtaPolicy *policy);

/* A store of the certificates of @path, a keyring file or hashed
 * directory (as ota_policy_new() reads one); NULL with
 * OTA_POLICY_ERROR_KEYRING. */
X509_STORE *ota_policy_load_store(const char *path, GError **error);

/* A policy trusting exactly the certificates of @anchors (an empty stack:
 * nothing), otherwise as ota_policy_new_from_keyrings() without CRLs: for
 * trust lists (trust.c), whose anchors come from a document, not files. */
OtaPolicy *ota_policy_new_from_anchors(OtaX509Stack *anchors, OtaPurpose purpose,
                                       gboolean check_time, guint threshold, GError **error);

/* A trust list's revocations: a signer whose own certificate, or any
 * certificate of its chain (intermediates and anchor too), has its
 * certificate SHA-256 in @certificate_sha256 or its SubjectPublicKeyInfo
 * SHA-256 in @spki_sha256 (hex, NULL-terminated; either may be NULL) is
 * OTA_SIGNER_REVOKED with @reason, whatever times or timestamps say.
 * Replaces the lists given before. */
void ota_policy_set_revoked(OtaPolicy *policy, const char *const *spki_sha256,
                            const char *const *certificate_sha256, const char *reason);

G_END_DECLS
