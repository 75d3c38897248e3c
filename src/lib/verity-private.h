/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libotabundle; not installed. */
#pragma once

#include "checksum-private.h"
#include "reader-private.h"

G_BEGIN_DECLS

#define OTA_VERITY_ERROR ota_verity_error_quark()
GQuark ota_verity_error_quark(void);

typedef enum {
	OTA_VERITY_ERROR_INVALID,  /* parameters or layout that can't be right */
	OTA_VERITY_ERROR_MISMATCH, /* a data or hash block does not match the root */
	OTA_VERITY_ERROR_IO,
	OTA_VERITY_ERROR_CRYPTO,
} OtaVerityError;

/* The dm-verity layout RAUC uses and `veritysetup format --no-superblock`
 * writes: SHA-256, 4 KiB data and hash blocks, format version 1 (each
 * digest is SHA-256(salt || block)), 32-byte salt, hash levels stored from
 * the top (one block) down to level 0 (one digest per data block), each
 * level's last block zero-padded. */
#define OTA_VERITY_BLOCK_SIZE 4096
#define OTA_VERITY_SALT_LEN 32
#define OTA_VERITY_DIGESTS_PER_BLOCK (OTA_VERITY_BLOCK_SIZE / OTA_SHA256_LEN)
/* bundle.c hex-codes salt and root alike. */
G_STATIC_ASSERT(OTA_VERITY_SALT_LEN == OTA_SHA256_LEN);

typedef struct {
	guint64 data_size; /* bytes of data, a multiple of the block size */
	guint64 tree_size; /* bytes of hash tree */
	guint8 salt[OTA_VERITY_SALT_LEN];
	guint8 root[OTA_SHA256_LEN];
} OtaVerityParams;

/* --- the hash tree: size, build, check (verity-tree.c) -------------------- */

/* Size of the hash tree for @data_size bytes of data; 0 if the size is
 * not a multiple of the block size of at least two blocks (RAUC's rule). */
guint64 ota_verity_tree_size(guint64 data_size);

/* Hashes @data_size bytes of @fd from offset 0 on all cores, writes the
 * tree at @tree_offset, and fills params->root (and sizes). The salt must
 * be set by the caller. Memory: a few buffers per core plus 32 bytes per
 * 512 KiB of data. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_verity_tree_build(int fd, guint64 tree_offset, OtaVerityParams *params,
                               GError **error);

/* A salt that depends on the data alone, for reproducible bundles:
 * HMAC-SHA256 keyed with OTA_VERITY_DERIVED_SALT_KEY over the SHA-256 of the
 * @data_size bytes of @fd from offset 0. Another payload gets another salt;
 * the key keeps the salt from equalling any other digest of the data. */
#define OTA_VERITY_DERIVED_SALT_KEY "otabundle verity salt v1"
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_verity_salt_from_data(int fd, guint64 data_size, guint8 salt[OTA_VERITY_SALT_LEN],
                                   GError **error);

/* Checks every data block and every byte of the tree at @tree_offset
 * against params->root, on all cores. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_verity_tree_check(int fd, guint64 tree_offset, const OtaVerityParams *params,
                               GError **error);

/* --- the verified reader (verity-reader.c) ------------------------------- */

/* A reader over the data, bytes [0, data_size) of @file, that hands out
 * bytes only after checking each 4 KiB block they come from against the
 * root, through the tree at @tree_offset of @file (hash blocks are verified
 * up to the root before they are trusted, and a bounded number of verified
 * ones are cached). A block changed in @file at any time is caught when it
 * is read. A read that continues the previous one reads ahead in windows
 * growing to 1 MiB; any other read loads only the 4 KiB blocks it covers
 * (and the hash blocks they need), so scattered reads over a network fetch
 * no more than they use. @file is borrowed: it must outlive the reader. */
OtaReader *ota_verity_reader_new_for(OtaReader *file, guint64 tree_offset,
                                     const OtaVerityParams *params, GError **error);
/* ota_verity_reader_new_for() over the file open as @fd (duplicated). */
OtaReader *ota_verity_reader_new(int fd, guint64 tree_offset, const OtaVerityParams *params,
                                 GError **error);

G_END_DECLS
