/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Filesystem slots: type=ext4 (and otabundle's ext2, ext3) and vfat,
 * written as RAUC writes them but without mounting anything. Not
 * installed. */
#pragma once

#include "install-private.h"

G_BEGIN_DECLS

/* An image's type by RAUC's rule on its filename (the first of its
 * patterns that matches: *.tar* and *.tgz "tar", *.ext4 "ext4", *.vfat
 * "vfat", *.img "raw", *.squashfs "squashfs", ...; otabundle adds *.ext2
 * and *.ext3), or NULL. A static string. */
const char *slot_image_type(const char *filename);

/* ext2, ext3, ext4 or vfat. */
gboolean slot_fs_type_is_filesystem(OtaSlotType type);

/* Whether @image may go into the filesystem slot @slot, by RAUC's rule on
 * its filename: a filesystem image (*.ext4 for ext4, *.vfat for vfat,
 * *.img) is written as is and must fit the slot's device; a tar image
 * (*.tar*, *.tgz) becomes a new filesystem; anything else is refused.
 * For planning: it reads the device's size, writes nothing. */
G_GNUC_WARN_UNUSED_RESULT
gboolean slot_fs_check_image(const OtaSlotConfig *slot, const OtaImage *image, GError **error);

/* Writes @step's image into its filesystem slot, hash-checked against the
 * manifest: a filesystem image onto the device (adaptively where the
 * manifest asks for it, slot-adaptive-private.h), grown to it with resize2fs
 * when the slot says resize=true (ext only); a tar image extracted into a
 * private tree in the data directory while its hash is checked, and only
 * once that matched, a new filesystem on the device made from the tree
 * (mkfs.ext4 -d; mkfs.vfat and mcopy), with the slot's extra-mkfs-opts. */
G_GNUC_WARN_UNUSED_RESULT
gboolean slot_fs_write(OtaTarget *target, OtaInstallPlan *plan, const OtaInstallStep *step,
                       GError **error);

G_END_DECLS
