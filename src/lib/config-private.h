/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* system.conf as the library reads it: the parsed configuration, and the
 * rules the bootloader module applies again to a config it is handed, one
 * definition each, here, where the config is parsed. Not installed. */
#pragma once

#include <otabundle/config.h>
#include <otabundle/policy.h>

G_BEGIN_DECLS

typedef enum {
	OTA_BOOTLOADER_FILE,   /* a plain state file in the data directory */
	OTA_BOOTLOADER_CUSTOM, /* a script: [handlers] bootloader-custom-backend */
	OTA_BOOTLOADER_UBOOT,  /* fw_printenv / fw_setenv */
	OTA_BOOTLOADER_GRUB,   /* grub-editenv on [system] grubenv */
	OTA_BOOTLOADER_BAREBOX, /* barebox-state (bootchooser) */
	OTA_BOOTLOADER_EFI,     /* efibootmgr: BootNext, BootOrder */
	OTA_BOOTLOADER_NOOP,    /* switches nothing */
} OtaBootloaderKind;

/* Every slot type RAUC 1.8-1.15 documents, and otabundle's tar; which of
 * them are implemented is one table in config.c. */
typedef enum {
	OTA_SLOT_RAW, /* the image is written to the device as is */
	OTA_SLOT_TAR, /* a tar image is extracted into the directory 'device' */
	OTA_SLOT_EXT4,
	OTA_SLOT_EXT2, /* otabundle's, as ext4: mkfs.ext2 for a tar image */
	OTA_SLOT_EXT3, /* otabundle's, as ext4: mkfs.ext3 for a tar image */
	OTA_SLOT_VFAT,
	OTA_SLOT_UBIFS,
	OTA_SLOT_UBIVOL,
	OTA_SLOT_NAND,
	OTA_SLOT_NOR,
	OTA_SLOT_JFFS2,
	OTA_SLOT_BOOT_EMMC,
	OTA_SLOT_BOOT_MBR_SWITCH,
	OTA_SLOT_BOOT_GPT_SWITCH,
	OTA_SLOT_BOOT_RAW_FALLBACK,
} OtaSlotType;

/* "raw", "ext4", ...: the name system.conf uses (a static string). */
const char *config_slot_type_to_string(OtaSlotType type);

/* A trust policy by name: [keyring] is "default", [policy.<name>] others. */
typedef struct {
	char *name;
	char *keyring;   /* path=: a PEM file, or NULL with only directory= */
	char *directory; /* directory=: hashed certificates ([keyring] only), or NULL */
	char *crl;
	guint threshold;
	OtaPurpose purpose;
	OtaCheckTime check_time; /* check-time, or use-bundle-signing-time=true */
	char *tsa_keyring;       /* tsa-keyring=, or NULL */
} OtaPolicyConfig;

typedef struct OtaSlotConfig OtaSlotConfig;
struct OtaSlotConfig {
	char *name; /* "<class>.<index>", e.g. "rootfs.0" */
	char *slotclass;
	guint index;
	char *device;
	OtaSlotType type;
	char *bootname;   /* slots the bootloader can boot have one */
	char *policy;     /* NULL: the default policy */
	char *description;
	char *parent_name;           /* parent= as written, or NULL */
	const OtaSlotConfig *parent; /* the root of parent= links (RAUC follows them), or NULL */
	gboolean readonly;           /* never an install target */
	gboolean install_same;       /* FALSE: skip a slot that holds the image already */
	gboolean resize;             /* grow an ext4 image to the slot */
	gboolean allow_mounted;
	char **extra_mkfs_opts; /* extra-mkfs-opts split as a shell would, or NULL */
	guint64 region_start;   /* boot-mbr-switch, boot-gpt-switch, boot-raw-fallback */
	guint64 region_size;
	guint64 size_limit;     /* boot-emmc; 0: none */
};

/* [system] variant-name, variant-file, variant-dtb: where the device's
 * variant comes from (at most one of them). */
typedef enum {
	OTA_VARIANT_NONE,
	OTA_VARIANT_NAME, /* variant is the name */
	OTA_VARIANT_FILE, /* variant is the file that holds the name */
	OTA_VARIANT_DTB,  /* the first compatible of the running device tree */
} OtaVariantSource;

/* [log.<name>]: an event log, as RAUC writes it. */
typedef enum {
	OTA_LOG_EVENT_INSTALL = 1 << 0,
	OTA_LOG_EVENT_BOOT = 1 << 1,
	OTA_LOG_EVENT_MARK = 1 << 2,
	OTA_LOG_EVENT_SERVICE = 1 << 3,   /* accepted as RAUC does; otabundle-install has no service */
	OTA_LOG_EVENT_WRITESLOT = 1 << 4, /* each slot an install writes */
	OTA_LOG_EVENT_TRUST = 1 << 5,     /* otabundle's: trust updates, applied or refused */
} OtaLogEvent;
#define OTA_LOG_EVENT_ALL                                                                     \
	(OTA_LOG_EVENT_INSTALL | OTA_LOG_EVENT_BOOT | OTA_LOG_EVENT_MARK | OTA_LOG_EVENT_SERVICE | \
	 OTA_LOG_EVENT_WRITESLOT | OTA_LOG_EVENT_TRUST)

typedef enum {
	OTA_LOG_FORMAT_READABLE,
	OTA_LOG_FORMAT_SHORT,
	OTA_LOG_FORMAT_JSON,
	OTA_LOG_FORMAT_JSON_PRETTY,
} OtaLogFormat;

typedef struct {
	char *name;
	char *filename;   /* absolute: a relative one is resolved against data-directory */
	guint events;     /* OtaLogEvent bits */
	OtaLogFormat format;
	guint64 max_size; /* rotate before the file reaches it; 0: never */
	guint max_files;  /* files kept on rotation, the current one included */
} OtaLogConfig;

/* [streaming] send-headers (RAUC's names), sent as RAUC-* headers with the
 * first request of a streamed install. */
typedef enum {
	OTA_SEND_HEADER_BOOT_ID = 1 << 0,
	OTA_SEND_HEADER_MACHINE_ID = 1 << 1,
	OTA_SEND_HEADER_SYSTEM_VERSION = 1 << 2, /* RAUC: from a system-info handler */
	OTA_SEND_HEADER_SERIAL = 1 << 3,         /* RAUC: from a system-info handler */
	OTA_SEND_HEADER_VARIANT = 1 << 4,
	OTA_SEND_HEADER_TRANSACTION_ID = 1 << 5,
	OTA_SEND_HEADER_UPTIME = 1 << 6,
} OtaSendHeader;

/* [streaming]: installing from an http:// or https:// URL. */
typedef struct {
	char *tls_ca;      /* a PEM file, or NULL: the system's CAs */
	char *tls_cert;    /* a PEM file or a pkcs11: URI, or NULL */
	char *tls_key;     /* a PEM file or a pkcs11: URI, or NULL */
	char *header_file; /* "Name: value" lines, or NULL (otabundle's own key) */
	char *sandbox_user; /* RAUC's helper user: accepted, no effect */
	guint timeout;     /* seconds without progress (otabundle's own key) */
	guint send_headers; /* OtaSendHeader bits */
} OtaStreamingConfig;

typedef struct {
	char *path; /* the file this was read from */
	char *compatible;
	OtaBootloaderKind bootloader;
	char *data_directory;
	gboolean allow_downgrade;
	char *hardware_revision; /* [system] hardware-revision, or NULL */
	char *custom_backend;   /* [handlers] bootloader-custom-backend */
	char *grubenv;          /* [system] grubenv, for bootloader=grub */
	char *uboot_config;     /* [system] fw-env-config, for bootloader=uboot (optional) */
	char *barebox_statename; /* for bootloader=barebox, or NULL: barebox-state's default */
	char *barebox_dtbpath;   /* for bootloader=barebox, or NULL */
	gboolean efi_use_bootnext; /* for bootloader=efi (default TRUE) */
	guint boot_attempts;         /* set on mark-good; 0: the backend's default (3) */
	guint boot_attempts_primary; /* set when made primary; 0: the backend's default (3) */
	gboolean activate_installed; /* make an installed slot primary (default TRUE) */
	gboolean prevent_late_fallback; /* mark-good also marks the other slots bad */
	guint bundle_formats;        /* allowed formats, bits 1 << OtaBundleFormat */
	char *min_bundle_version;    /* [system] min-bundle-version, or NULL */
	guint64 max_bundle_download_size;
	/* Whether max-bundle-download-size was given: only then does it cap a
	 * streamed bundle (RAUC: no effect on streaming). */
	gboolean max_bundle_download_size_set;
	guint64 max_bundle_signature_size;
	OtaVariantSource variant_source;
	char *variant;          /* the variant name (NAME), or the file that holds it (FILE) */
	char *encryption_key;   /* [encryption] key: a PEM file or a pkcs11: URI, or NULL */
	char *encryption_cert;  /* [encryption] cert: the key's certificate, or NULL */
	OtaStreamingConfig streaming;
	/* [trust]: the trust list shipped in the image (initial=), and the
	 * directory outside the A/B slots where installed versions are kept
	 * (directory=, default <data-directory>/trust); both NULL without
	 * [trust]. With [trust] the policies come from the trust list's tiers
	 * (trust-store-private.h), and @policies is empty. */
	char *trust_initial;
	char *trust_directory;
	char *trust_tsa_keyring; /* [trust] tsa-keyring=, or NULL */
	/* [casync] (RAUC's keys; use-desync=true is refused): the chunk store
	 * (a directory or an http(s):// URL; NULL: beside the bundle), casync's
	 * TMPDIR, and extra `casync extract` arguments, each NULL if unset. */
	char *casync_store_path;
	char *casync_tmp_path;
	char *casync_install_args;
	GPtrArray *policies;    /* OtaPolicyConfig*, "default" first; empty with [trust] */
	GPtrArray *slots;       /* OtaSlotConfig*, in file order */
	GPtrArray *loggers;     /* OtaLogConfig*, in file order */
} OtaSystemConfig;

/* RAUC's name of a send-headers value ("boot-id"), or NULL. */
const char *config_send_header_name(OtaSendHeader bit);

/* Strict like the manifest parser: unknown groups and keys are errors. */
OtaSystemConfig *ota_system_config_load(const char *path, GError **error);
OtaSystemConfig *ota_system_config_parse(const char *data, gsize length, const char *path,
                                         GError **error);
const OtaPolicyConfig *ota_system_config_get_policy(const OtaSystemConfig *config,
                                                    const char *name);
void ota_system_config_free(OtaSystemConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaSystemConfig, ota_system_config_free)

/* ota_keyring_config_load() on @data, as if read from @path (which names
 * it in errors and anchors relative keyring paths). */
OtaKeyringConfig *ota_keyring_config_parse(const char *data, gsize length, const char *path,
                                           GError **error);


/* Bootnames become parts of variable names in U-Boot and GRUB scripts
 * (BOOT_A_LEFT, A_OK) and arguments of the custom backend script, so they
 * are held to what all of them accept: letters, digits and '_'. */
gboolean config_bootname_is_valid(const char *name);

/* The setting that bootloader=@config->bootloader needs and @config lacks,
 * as "[group] key", or NULL if it has what it needs. */
const char *config_bootloader_missing_setting(const OtaSystemConfig *config);

/* The policy @policy_config describes: its keyrings (path= and
 * directory=), CRLs, purpose, threshold, time check and TSA keyring; with
 * @now (not 0, seconds since the epoch) what "now" is for its checks. */
OtaPolicy *config_policy_new(const OtaPolicyConfig *policy_config, gint64 now, GError **error);

/* "uboot", "grub", ...: the name system.conf uses (a static string). */
const char *config_bootloader_to_string(OtaBootloaderKind kind);

/* The device's variant: variant-name, the content of variant-file, or the
 * first compatible of the running device tree (variant-dtb), without
 * surrounding white space; NULL without error when the config sets none.
 * One that can't be read is an error (OTA_CONFIG_ERROR_INVALID): it would
 * select other images. */
char *config_read_variant(const OtaSystemConfig *config, GError **error);

G_END_DECLS
