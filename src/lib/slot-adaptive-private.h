/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Adaptive updates (RAUC's adaptive=block-hash-index) for slots that take an
 * image whole (raw, and filesystem slots given a filesystem image). Not
 * installed. */
#pragma once

#include "install-private.h"

G_BEGIN_DECLS

/* Whether @step's image is written adaptively: its manifest entry lists
 * block-hash-index and the bundle's payload allows random access (not a
 * plain bundle verified in place). The caller knows the slot takes the
 * image whole. */
gboolean slot_adaptive_applies(OtaBundle *bundle, const OtaInstallStep *step);

/* Writes @step's image into @fd, the slot's device opened read-write and
 * not truncated, block by block in order, each 4 KiB block taken from:
 * the slot itself where it already holds it at that offset (not written
 * again), zeros made here, a block of the new image already written, a
 * block of the slot's old contents not yet overwritten, a block of the
 * active slot of the same class, and only failing all of these, the
 * bundle. Every block taken from a device is re-hashed against the index
 * before use; the whole result is hashed as written and must match the
 * manifest's sha256, as for a full write. Image bytes taken from devices
 * are added to plan->reused_bytes. With @truncate_file, a regular file is
 * cut to the image's size at the end (a raw slot's file, as a full write
 * truncates it). */
G_GNUC_WARN_UNUSED_RESULT
gboolean slot_adaptive_write(OtaTarget *target, OtaInstallPlan *plan, const OtaInstallStep *step,
                             int fd, gboolean truncate_file, GError **error);

G_END_DECLS
