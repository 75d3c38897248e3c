/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the install modules share (target.c: the device and mark-good/bad;
 * install-plan.c: the checks and the slot choice; slot-write.c; install-hooks.c;
 * install.c: running a plan); not installed. */
#pragma once

#include <otabundle/install.h>

#include "bootloader-private.h"
#include "bundle-private.h"
#include "config-private.h"
#include "event-log-private.h"
#include "partition-switch-private.h"
#include "state-private.h"
#include "trust-store-private.h"

G_BEGIN_DECLS

struct OtaTarget {
	OtaSystemConfig *config;
	OtaBootloader *bootloader;
	OtaState *state;
	const OtaSlotConfig *booted;
	char *install_summary; /* of the last successful ota_install() */
	OtaEventLog *events;   /* [log.<name>] */
	/* With [trust]: the trust list in effect as last read (target-trust.c),
	 * for the state's trust_version and trust_sha256 it was read for. */
	OtaTrust *trust;
	guint64 trust_version;
	char *trust_sha256;
	char *trust_summary; /* of the last successful ota_target_update_trust() */
	/* Of the last ota_install(), as ota_target_get_install_bytes() tells. */
	guint64 install_downloaded;
	guint64 install_reused;
	/* ota_target_set_url_options()'s copy, or NULL */
	struct TargetUrlOptions *url_options;
	/* The event log's ID of the install running (RAUC-Transaction-ID), or
	 * NULL. */
	const char *transaction;
};

typedef struct TargetUrlOptions TargetUrlOptions;
void target_url_options_free(TargetUrlOptions *options);

/* Now, as far as this device can tell: its clock, unless that is behind
 * the newest trusted timestamp installed here (state-private.h), which has
 * certainly passed. A clock set back can't make an expired certificate or
 * bundle valid again, nor one revoked since. */
gint64 target_now(OtaTarget *target);

/* The policy @name (seconds: target_now()): system.conf's [keyring]
 * ("default") or [policy.<name>]; with [trust], the tier of that name of
 * the trust list in effect (OTA_TRUST_ERROR_NO_TIER if it has none). */
OtaPolicy *target_policy(OtaTarget *target, const char *name, GError **error);

/* The names of every policy the device has, "default" first
 * (NULL-terminated; g_strfreev()). */
char **target_policy_names(OtaTarget *target, GError **error);

/* The trust members of @status (none without [trust]). */
void target_trust_status(OtaTarget *target, OtaStatus *status);

/* Under the lock, before a command changes anything: the first such
 * command after a boot (another boot ID, or another booted slot) logs
 * RAUC's boot event and records the boot in the state (saved with the
 * command's own changes). */
void target_note_boot(OtaTarget *target);

typedef struct {
	const OtaImage *image;
	const OtaSlotConfig *slot;
	/* install-same=false and the slot holds this image already, as the
	 * state records it: not written, its hooks not run. */
	gboolean skip;
	/* boot-mbr-switch, boot-gpt-switch: the table as planned, or NULL
	 * (slot-boot-switch-private.h). */
	OtaPartitionSwitch *boot_switch;
} OtaInstallStep;

void install_step_free(OtaInstallStep *step);

struct OtaInstallPlan {
	OtaBundle *bundle;
	GPtrArray *steps;                 /* OtaInstallStep*, in manifest order */
	const OtaSlotConfig *boot_target; /* the bootable slot to try next */
	/* FALSE: the plan writes only slots outside the A/B groups, and
	 * boot_target serves only to pick them. */
	gboolean switches_boot;
	guint64 security_version;
	GPtrArray *policies_used; /* char*: names of the policies that had to pass */
	/* Counted while the plan runs: bytes of the bundle fetched from a
	 * server (streaming), and image bytes taken from a slot on this device
	 * instead of the bundle (adaptive updates). */
	guint64 downloaded_bytes;
	guint64 reused_bytes;
};

/* Sets an OTA_INSTALL_ERROR with the message escaped to one line (it may
 * quote manifest values); returns FALSE. */
gboolean install_fail(GError **error, OtaInstallError code, const char *format, ...)
	G_GNUC_PRINTF(3, 4);

/* Writes @step's image into its slot, hash-checked against the manifest and
 * on disk before it returns: a raw slot's device, or a tar slot's directory,
 * emptied and filled with the extracted image. Never the booted slot. */
gboolean slot_write(OtaTarget *target, OtaInstallPlan *plan, const OtaInstallStep *step,
                    GError **error);

/* What makes a written slot the one in use, after its post-install hook:
 * for boot-*-switch slots the partition table switch (RAUC's order);
 * nothing for other slot types, which the bootloader switch activates. */
gboolean slot_activate(const OtaInstallStep *step, GError **error);

/* The bundle's hook script for one install, taken from the verified payload
 * into a private directory, which install_hooks_clear() removes. */
typedef struct {
	OtaTarget *target;
	OtaBundle *bundle;
	char *dir;
	char *path;
	OtaCancelHold hold; /* while the directory exists (cancel-private.h) */
} InstallHooks;

/* Nothing to do (TRUE) for a bundle without hooks. */
gboolean install_hooks_prepare(InstallHooks *hooks, OtaTarget *target, OtaBundle *bundle,
                               GError **error);
void install_hooks_clear(InstallHooks *hooks);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(InstallHooks, install_hooks_clear)

/* Runs hook @name as the manifest declares it: "install-check" for the
 * bundle (@step NULL), "pre-install" or "post-install" for @step's image.
 * TRUE without running anything when the manifest does not list it. */
gboolean install_hooks_run(const InstallHooks *hooks, const char *name,
                           const OtaInstallStep *step, GError **error);

G_END_DECLS
