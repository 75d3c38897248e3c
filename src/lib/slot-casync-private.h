/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Installing the images of casync bundles (casync-private.h): rebuilt
 * with casync into a raw slot, seeded from the active slot of the class,
 * as RAUC does. Not installed. */
#pragma once

#include "install-private.h"

G_BEGIN_DECLS

/* For planning, before anything is written: whether @step's image (if it
 * is a casync index) can be rebuilt into its slot: a .caibx into a raw
 * slot, or into a filesystem slot that takes the image it rebuilds
 * (slot_fs_check_image() decides that: rootfs.ext4.caibx into ext4), from
 * a chunk store that is an http(s):// URL or an existing directory. TRUE
 * for other images. */
G_GNUC_WARN_UNUSED_RESULT
gboolean slot_casync_plan(OtaTarget *target, OtaInstallPlan *plan, const OtaInstallStep *step,
                          GError **error);

/* Rebuilds @step's .caibx image into its raw slot's device (emptied first
 * if it is a regular file) and checks it against the manifest. */
G_GNUC_WARN_UNUSED_RESULT
gboolean slot_casync_write(OtaTarget *target, OtaInstallPlan *plan, const OtaInstallStep *step,
                           GError **error);

/* The same into @fd, the slot's device open for reading and writing
 * (slot-fs.c opens filesystem slots: never truncated, then resized). */
G_GNUC_WARN_UNUSED_RESULT
gboolean slot_casync_write_fd(OtaTarget *target, OtaInstallPlan *plan,
                              const OtaInstallStep *step, int fd, GError **error);

G_END_DECLS
