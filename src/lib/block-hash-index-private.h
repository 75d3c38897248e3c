/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RAUC's block hash index (adaptive=block-hash-index): the SHA-256 of each
 * 4 KiB block of an image, concatenated, no header, stored in the bundle as
 * <image>.block-hash-index; and lookup tables that find a block by its hash
 * in a slot's current contents. Internal to libotabundle; not installed. */
#pragma once

#include <glib.h>

#include "checksum-private.h"

G_BEGIN_DECLS

#define OTA_BLOCK_HASH_INDEX_ERROR ota_block_hash_index_error_quark()
GQuark ota_block_hash_index_error_quark(void);

typedef enum {
	OTA_BLOCK_HASH_INDEX_ERROR_IMAGE_SIZE, /* an image RAUC can't index */
	OTA_BLOCK_HASH_INDEX_ERROR_INDEX_SIZE, /* an index whose length doesn't fit its image */
	OTA_BLOCK_HASH_INDEX_ERROR_IO,
	OTA_BLOCK_HASH_INDEX_ERROR_CRYPTO,
} OtaBlockHashIndexError;

/* The method name in a manifest's adaptive= and the index file's suffix. */
#define OTA_BLOCK_HASH_INDEX_METHOD "block-hash-index"
#define OTA_BLOCK_HASH_INDEX_SUFFIX ".block-hash-index"
/* RAUC hard-codes the block ("chunk") size. */
#define OTA_BLOCK_SIZE 4096

/* RAUC's rule for an image that gets an index, with its wording: not
 * empty, a multiple of 4096 bytes, fewer than 2^32 blocks. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_block_hash_index_check_image_size(guint64 image_size, GError **error);

/* The index of a @image_size-byte image is exactly 32 bytes per block; RAUC
 * uses what it can of an index that is too short or too long, we refuse it
 * (OTA_BLOCK_HASH_INDEX_ERROR_INDEX_SIZE; the caller names the file). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_block_hash_index_check_size(guint64 image_size, guint64 index_size, GError **error);

/* Writes the index of the @size bytes of @fd from offset 0 to @out_fd, as
 * `rauc bundle` writes it (byte for byte). @size must pass
 * ota_block_hash_index_check_image_size(); a file that ends early is an
 * error. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_block_hash_index_write(int fd, guint64 size, int out_fd, GError **error);

/* SHA-256 of 4 KiB blocks with one reused digest context. */
typedef struct OtaBlockHasher OtaBlockHasher;
OtaBlockHasher *ota_block_hasher_new(GError **error);
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_block_hasher_hash(OtaBlockHasher *hasher, const guint8 block[OTA_BLOCK_SIZE],
                               guint8 hash[OTA_SHA256_LEN], GError **error);
void ota_block_hasher_free(OtaBlockHasher *hasher);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaBlockHasher, ota_block_hasher_free)

/* Whether @hash is that of a block of zeros. */
gboolean ota_block_hash_is_zero(const guint8 hash[OTA_SHA256_LEN]);

/* Block numbers by hash: 12 bytes a block (a 64-bit prefix of the hash and
 * the block number), sorted by prefix, then block. A prefix match is only
 * a candidate: whoever uses the block re-hashes what it reads, which also
 * catches a source that changed since it was hashed. */
typedef struct OtaBlockTable OtaBlockTable;
/* From an index in memory (@count hashes of 32 bytes). Either constructor
 * fails (OTA_BLOCK_HASH_INDEX_ERROR_IO) where the table doesn't fit in
 * memory. */
OtaBlockTable *ota_block_table_new_from_index(const guint8 *hashes, guint32 count,
                                              GError **error);
/* Hashes every whole block of the first @size bytes of @fd (a trailing
 * partial block is left out), checking for cancellation as it goes. */
OtaBlockTable *ota_block_table_new_from_fd(int fd, guint64 size, GError **error);
void ota_block_table_free(OtaBlockTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaBlockTable, ota_block_table_free)

/* The number of blocks the table covers. */
guint32 ota_block_table_get_count(const OtaBlockTable *table);

/* Candidates for @hash whose block number lies in [@lo, @hi), ascending:
 * fills @blocks with at most @max of them and returns how many. Each lookup
 * costs O(log n), however many blocks share the hash. */
guint ota_block_table_find(const OtaBlockTable *table, const guint8 hash[OTA_SHA256_LEN],
                           guint32 lo, guint32 hi, guint32 *blocks, guint max);

G_END_DECLS
