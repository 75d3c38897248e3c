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
} OtaBootloaderKind;

typedef enum {
	OTA_SLOT_RAW, /* the image is written to the device as is */
	OTA_SLOT_TAR, /* a tar image is extracted into the directory 'device' */
} OtaSlotType;

/* A trust policy by name: [keyring] is "default", [policy.<name>] others. */
typedef struct {
	char *name;
	char *keyring;
	char *crl;
	guint threshold;
	OtaPurpose purpose;
} OtaPolicyConfig;

typedef struct {
	char *name; /* "<class>.<index>", e.g. "rootfs.0" */
	char *slotclass;
	guint index;
	char *device;
	OtaSlotType type;
	char *bootname;   /* slots the bootloader can boot have one */
	char *policy;     /* NULL: the default policy */
} OtaSlotConfig;

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
	GPtrArray *policies;    /* OtaPolicyConfig*, "default" first */
	GPtrArray *slots;       /* OtaSlotConfig*, in file order */
} OtaSystemConfig;

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

G_END_DECLS
