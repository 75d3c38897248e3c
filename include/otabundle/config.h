/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <otabundle/policy.h>

OTA_BEGIN_DECLS

/* The error domain of system.conf parsing; the codes are below. */
#define OTA_CONFIG_ERROR ota_config_error_quark()
GQuark ota_config_error_quark(void);

typedef enum {
	OTA_CONFIG_ERROR_PARSE,         /* not an INI file */
	OTA_CONFIG_ERROR_UNKNOWN_FIELD, /* a key or group we don't know */
	OTA_CONFIG_ERROR_MISSING,       /* a required key is absent */
	OTA_CONFIG_ERROR_INVALID,       /* a value is malformed or inconsistent */
	OTA_CONFIG_ERROR_UNSUPPORTED,   /* a documented RAUC setting otabundle does not implement */
} OtaConfigError;

/* The [keyring] group of a RAUC system.conf, as a host tool reads it for
 * `rauc -c system.conf bundle|resign|info|...`: which keyrings to trust,
 * and how. Opaque; read it through the getters below. */
typedef struct OtaKeyringConfig OtaKeyringConfig;

/* Reads only the [keyring] group of the system.conf @path; every other
 * group is left unread, as a build host has no slots. Strict, as RAUC is: a
 * key RAUC does not know is an error (OTA_CONFIG_ERROR_UNKNOWN_FIELD), and
 * so is a key RAUC documents that would change what is trusted but that
 * otabundle does not implement (OTA_CONFIG_ERROR_UNSUPPORTED: a
 * check-purpose other than any, smimesign or codesign;
 * use-bundle-signing-time=true; allowed-signer-cns; check-crl=true with only
 * a directory). path= and directory= are resolved against the directory of
 * @path, as RAUC resolves them; at least one is required. Without
 * allow-partial-chain=true the path= file must hold root CAs, or
 * certificates that chain to one in it: otabundle trusts every keyring
 * certificate as an anchor, which RAUC does only with that setting, so
 * anything else is refused rather than trusted more than a RAUC device
 * would (a directory's certificates are looked up by hash as chains are
 * built, so they can't be listed for this check). otabundle's own
 * [keyring] keys, threshold= and crl=, are read too.
 * Returns a new config (ota_keyring_config_free()), or NULL with
 * OTA_CONFIG_ERROR set, the message naming @path. */
OtaKeyringConfig *ota_keyring_config_load(const char *path, GError **error);

/* path= (a PEM file) and directory= (hashed by `openssl rehash`), each
 * resolved, or NULL where not given (at least one is). Owned by @config. */
const char *ota_keyring_config_get_path(const OtaKeyringConfig *config);
const char *ota_keyring_config_get_directory(const OtaKeyringConfig *config);
/* check-purpose= into *@purpose; FALSE (and *@purpose untouched) when the
 * group does not set one. */
gboolean ota_keyring_config_get_purpose(const OtaKeyringConfig *config, OtaPurpose *purpose);
/* The PEM file of CRLs to check, or NULL: with check-crl=true the keyring
 * file itself (RAUC keeps CRLs beside the CAs), or otabundle's crl=. Owned
 * by @config. */
const char *ota_keyring_config_get_crl(const OtaKeyringConfig *config);
/* otabundle's threshold=; 1 when absent. */
guint ota_keyring_config_get_threshold(const OtaKeyringConfig *config);

/* Frees @config; NULL is ignored. */
void ota_keyring_config_free(OtaKeyringConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaKeyringConfig, ota_keyring_config_free)

OTA_END_DECLS
