/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libotabundle; not installed. */
#pragma once

#include "config-private.h"
#include "state-private.h"

G_BEGIN_DECLS

#define OTA_SLOT_ERROR ota_slot_error_quark()
GQuark ota_slot_error_quark(void);

typedef enum {
	OTA_SLOT_ERROR_NOT_FOUND, /* no such slot, or no slot where one is needed */
	OTA_SLOT_ERROR_BOOTED,    /* would touch the running system */
} OtaSlotError;

/* Which slot runs, and which slots an install writes, as RAUC decides:
 * the booted slot and its children (parent=) are active; the install
 * target is an inactive slot of the booted slot's class; a child class
 * follows its parent, a class of one slot (a bootloader, a shared
 * partition) is that slot, and a class of several slots without parent=
 * follows the target by index (appfs.1 goes with rootfs.1). Nothing
 * active is ever a target. */

/* By name ("rootfs.1") or bootname ("B"). */
const OtaSlotConfig *ota_slot_find(const OtaSystemConfig *config, const char *name);

/* The value of otabundle.slot= (ours) or rauc.slot= (what RAUC systems
 * already pass) on the kernel command line in @cmdline_path, or NULL. */
char *ota_slot_booted_from_cmdline(const char *cmdline_path);

/* Whether @slot runs with @booted (see above); the slots an install must
 * never write. */
gboolean ota_slot_is_active(const OtaSystemConfig *config, const OtaSlotConfig *booted,
                            const OtaSlotConfig *slot);

/* The inactive slot of the booted slot's class to install into: as RAUC
 * picks it, one never installed (no record in @state, which may be NULL)
 * first, else the one installed longest ago, else the first in
 * system.conf. */
const OtaSlotConfig *ota_slot_boot_target(const OtaSystemConfig *config,
                                          const OtaSlotConfig *booted, OtaState *state,
                                          GError **error);

/* Whether @slot stays out of the A/B switch: its root slot (itself, or
 * its parent's root) is the only one of a class other than the booted
 * slot's, such as a bootloader or a boot-*-switch slot. */
gboolean ota_slot_is_standalone(const OtaSystemConfig *config, const OtaSlotConfig *booted,
                                const OtaSlotConfig *slot);

/* The slot of @slotclass that goes with @boot_target. */
const OtaSlotConfig *ota_slot_for_class(const OtaSystemConfig *config,
                                        const OtaSlotConfig *booted,
                                        const OtaSlotConfig *boot_target, const char *slotclass,
                                        GError **error);

/* @target's device exists and is not, under any name, the device of a
 * slot that is active (a block device by number, a file by inode). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_slot_check_not_booted(const OtaSystemConfig *config, const OtaSlotConfig *booted,
                                   const OtaSlotConfig *target, GError **error);

G_END_DECLS
