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
 * check-purpose other than any, smimesign or codesign; allowed-signer-cns;
 * check-crl=true with only a directory). path= and directory= are resolved against the directory of
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
/* use-bundle-signing-time=: certificates checked at each signer's
 * signingTime (ota_policy_set_use_signing_time()); FALSE when absent. */
gboolean ota_keyring_config_get_use_signing_time(const OtaKeyringConfig *config);

/* Frees @config; NULL is ignored. */
void ota_keyring_config_free(OtaKeyringConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaKeyringConfig, ota_keyring_config_free)

/* --- a device's system.conf, checked (otabundle-install check-config) --- */

/* One slot; strings owned by its OtaConfigReport. */
typedef struct {
	char *name;      /* "<class>.<index>" */
	char *slotclass;
	char *device;
	char *type;      /* "raw", "ext4", ... as in system.conf */
	char *bootname;  /* NULL: the bootloader does not boot it */
	char *parent;    /* the root slot it goes with (parent=, followed), or NULL */
	char *policy;    /* the [policy.<name>] it needs besides the default, or NULL */
	gboolean readonly;
} OtaConfigSlot;

/* One trust policy: [keyring] ("default") or [policy.<name>]. */
typedef struct {
	char *name;
	char **keyrings;   /* path= and directory=, resolved; NULL-terminated */
	gboolean present;  /* every keyring exists here (each that exists was loaded) */
	char *crl;         /* or NULL */
	guint threshold;
	char *purpose;     /* "any", "smimesign" or "codesign" */
	char *check_time;  /* "device", "timestamp", "signing-time" or "none" */
	char *tsa_keyring; /* tsa-keyring=, resolved, or NULL */
} OtaConfigPolicy;

/* One slot an install writes, and the image class it takes. */
typedef struct {
	char *slotclass;
	char *slot;
} OtaConfigWrite;

/* What an install does on a device that booted one bootable slot. */
typedef struct {
	char *booted;      /* slot name */
	char *bootname;
	char *boot_target; /* the slot it writes and boots next, or NULL (see error) */
	GPtrArray *writes; /* OtaConfigWrite*: the slot of each class it would write */
	char *error;       /* why no install is possible from there, or NULL */
} OtaConfigBoot;

/* A system.conf as otabundle-install reads it. */
typedef struct {
	char *path;
	char *compatible;
	char *bootloader;     /* "uboot", "grub", ... */
	char *data_directory; /* where the state is kept */
	char **bundle_formats; /* allowed, NULL-terminated: "plain", "verity", "crypt" */
	char *variant_source; /* "none", "name", "file" or "dtb" */
	char *variant;        /* the name, or the file holding it; NULL otherwise */
	/* [encryption] key and cert, as they may be shown (a pkcs11: URI
	 * without its PIN), or NULL */
	char *encryption_key;
	char *encryption_cert;
	/* [streaming], as it may be shown: the CA file, the client certificate
	 * and key (pkcs11: URIs without PIN) and the header file (its path:
	 * its contents are secrets), each NULL if not set; send-headers'
	 * values (NULL-terminated, empty if none); the stall timeout in
	 * seconds; and the largest bundle streamed (max-bundle-download-size,
	 * 0: not given, no limit). */
	char *streaming_tls_ca;
	char *streaming_tls_cert;
	char *streaming_tls_key;
	char *streaming_header_file;
	char **streaming_send_headers;
	guint streaming_timeout;
	guint64 streaming_max_size;
	GPtrArray *policies;  /* OtaConfigPolicy*, "default" first; empty with [trust] */
	GPtrArray *slots;     /* OtaConfigSlot*, in file order */
	GPtrArray *boots;     /* OtaConfigBoot*, one per bootable slot, in file order */
	/* [trust] (the policies are then the trust list's tiers): the trust
	 * list shipped in the image (initial=) and the directory of those
	 * trust updates install (directory=), resolved; NULL without [trust].
	 * When the shipped list is present here: its version and tiers
	 * ("default" first, NULL-terminated); else 0 and NULL. */
	char *trust_initial;
	char *trust_directory;
	guint64 trust_initial_version;
	char **trust_tiers;
	/* [casync], each NULL if not set: the chunk store (a directory or an
	 * http(s):// URL; unset: beside the bundle, <bundle>.castr), casync's
	 * temporary directory (tmppath=) and extra `casync extract`
	 * arguments (install-args=). */
	char *casync_store_path;
	char *casync_tmp_path;
	char *casync_install_args;
} OtaConfigReport;

/* Loads and validates the system.conf @path as otabundle-install does,
 * without touching the device: no slot device, bootloader or state is
 * opened, so it runs where an image is built. Files it names need not
 * exist here; a keyring that exists must load (as a policy), and its
 * certificates must reach a root unless allow-partial-chain=true. Returns
 * the report (ota_config_report_free()), or NULL with an error naming
 * @path, the group and key, and why (OTA_CONFIG_ERROR; OTA_POLICY_ERROR for
 * a keyring that does not load). */
OtaConfigReport *ota_config_check(const char *path, GError **error);
/* (With [trust], the shipped trust list, when it is present here, must
 * load: OTA_TRUST_ERROR otherwise. Its signature is not checked: it is
 * trusted as shipped.) */
/* Frees @report; NULL is ignored. */
void ota_config_report_free(OtaConfigReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaConfigReport, ota_config_report_free)

OTA_END_DECLS
