/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tar images unpacked into a directory: a tar slot's own directory
 * (slot-write.c), or the private tree a filesystem slot is made from
 * (slot-fs.c). The image comes from a verified bundle, its names are still
 * never trusted. Not installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	SLOT_TAR_ANY_ENTRY = 0,
	/* What a FAT file system can hold, as mcopy would otherwise fail
	 * without a word, or follow a symlink: directories and regular files
	 * (hard links among them) only, names valid in FAT long names, none
	 * that differs from another only in case. Anything else is refused
	 * before anything is made for it. */
	SLOT_TAR_FOR_FAT = 1 << 0,
} SlotTarFlags;

/* Extracts the tar stream on @fd (uncompressed, or compressed with gzip,
 * bzip2, compress, xz, lzma, lzip, zstd or lz4, read in process) into @dir,
 * which must be given without symlinks in it (realpath()). Refused, with
 * OTA_INSTALL_ERROR_WRITE naming the entry: an absolute name, a '..'
 * component, a name beyond PATH_MAX, a write or a hard link through a
 * symlink. Owners are set only as root. On failure @dir holds what was
 * extracted so far. */
G_GNUC_WARN_UNUSED_RESULT
gboolean slot_tar_extract(int fd, const char *dir, SlotTarFlags flags, GError **error);

/* Removes everything inside @dir, never following a symlink. */
G_GNUC_WARN_UNUSED_RESULT
gboolean slot_tar_empty_directory(const char *dir, GError **error);

G_END_DECLS
