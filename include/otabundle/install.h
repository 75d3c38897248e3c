/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <otabundle/bootloader.h>
#include <otabundle/bundle.h>
#include <otabundle/config.h>
#include <otabundle/state.h>

OTA_BEGIN_DECLS

#define OTA_INSTALL_ERROR ota_install_error_quark()
GQuark ota_install_error_quark(void);

typedef enum {
	OTA_INSTALL_ERROR_BOOTED,       /* can't tell which slot runs */
	OTA_INSTALL_ERROR_INCOMPATIBLE, /* compatible, hardware revision */
	OTA_INSTALL_ERROR_ROLLBACK,     /* below the security floor, or a downgrade */
	OTA_INSTALL_ERROR_EXPIRED,      /* past its expiry time */
	OTA_INSTALL_ERROR_NO_SLOT,      /* no (inactive) slot for an image */
	OTA_INSTALL_ERROR_WRITE,        /* writing a slot failed */
	OTA_INSTALL_ERROR_HOOK,         /* a hook refused or failed */
	OTA_INSTALL_ERROR_STATE,        /* nothing to mark, or the state disagrees */
	OTA_INSTALL_ERROR_INVALID,      /* a [meta.otabundle] field is malformed */
} OtaInstallError;

/* The device: its configuration, boot selection, persistent state and the
 * slot that runs now (the only one that may never be written). */
typedef struct {
	OtaSystemConfig *config;
	OtaBootloader *bootloader;
	OtaState *state;
	const OtaSlotConfig *booted;
} OtaTarget;

/* The booted slot comes from @override_boot_slot (a bootname or slot
 * name), else the bootloader, else otabundle.slot= or rauc.slot= on the
 * kernel command line (@cmdline_path: /proc/cmdline). */
OtaTarget *ota_target_open(const char *conf_path, const char *override_boot_slot,
                           const char *cmdline_path, GError **error);
void ota_target_free(OtaTarget *target);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaTarget, ota_target_free)

typedef struct {
	const OtaImage *image;
	const OtaSlotConfig *slot;
} OtaInstallStep;

/* What an install would do, decided with every check passed. */
typedef struct {
	OtaBundle *bundle;
	GPtrArray *steps;        /* OtaInstallStep*, in manifest order */
	const OtaSlotConfig *boot_target; /* the bootable slot to try next */
	guint64 security_version;
	GPtrArray *policies_used; /* char*: names of the policies that had to pass */
} OtaInstallPlan;

/* Verifies @bundle_path against the device's policies (the default one,
 * and every stricter tier bound to a slot it would write), then checks
 * compatible, hardware revision, the anti-rollback floor, downgrade,
 * expiry and minimum installed version, and picks the inactive slot for
 * each image. Writes nothing but a private, unlinked copy of a plain
 * bundle's payload (the defence against it being changed afterwards). */
OtaInstallPlan *ota_install_plan(OtaTarget *target, const char *bundle_path, GError **error);
void ota_install_plan_free(OtaInstallPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaInstallPlan, ota_install_plan_free)

/* Plans, then writes each image into its slot while hashing it, fsyncs,
 * compares with the manifest, and only then makes the boot target primary
 * (once) and records the install as pending. Any failure leaves the old
 * system primary. The outcome is recorded in the state either way. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_install(OtaTarget *target, const char *bundle_path, GError **error);

/* mark-good: commits the booted slot (bootloader state good; its version
 * becomes the installed version and the floor rises to its security
 * version). mark-bad: marks it bad so the bootloader falls back. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_target_mark(OtaTarget *target, gboolean good, GError **error);

OTA_END_DECLS
