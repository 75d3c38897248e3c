/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RAUC's boot-mbr-switch and boot-gpt-switch slots: a bootloader written
 * into the free half of a disk region, which the partition table's first
 * entry is then pointed at (partition-switch-private.h). Such a slot is
 * never booted and never A/B: it is switched in place, whatever runs.
 * Not installed. */
#pragma once

#include "install-private.h"

G_BEGIN_DECLS

/* boot-mbr-switch or boot-gpt-switch. */
gboolean slot_boot_switch_type(OtaSlotType type);

/* For planning, before anything is written: reads and checks the slot's
 * partition table (read-only), finds the free half, and refuses an image
 * that is no raw (*.img) or vfat image (GPT: or ext4), as RAUC does, or
 * that does not fit in the half. Sets @step->boot_switch. */
G_GNUC_WARN_UNUSED_RESULT
gboolean slot_boot_switch_plan(OtaInstallStep *step, GError **error);

/* Writes @step's image into the free half, zeroes the rest of the half,
 * syncs, and checks the half's SHA-256 against the manifest. The table is
 * not touched. */
G_GNUC_WARN_UNUSED_RESULT
gboolean slot_boot_switch_write(OtaBundle *bundle, const OtaInstallStep *step, GError **error);

/* The switch: the first entry now points at the written half. Refused if
 * the table is not exactly what was planned with. After the post-install
 * hook, as in RAUC. */
G_GNUC_WARN_UNUSED_RESULT
gboolean slot_boot_switch_activate(const OtaInstallStep *step, GError **error);

/* RAUC's hook variables for @step (RAUC_BOOT_PARTITION_ACTIVATING, _START,
 * _SIZE), added to @env as "NAME=value" strings. */
void slot_boot_switch_add_hook_env(const OtaInstallStep *step, GPtrArray *env);

G_END_DECLS
