/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What verity-tree.c (build and check) shares with verity-reader.c: the
 * tree's geometry and the salted block hash. Internal to those two files;
 * everyone else uses verity-private.h. */
#pragma once

#include <otabundle/openssl.h>
#include "verity-private.h"

G_BEGIN_DECLS

#define BLOCK OTA_VERITY_BLOCK_SIZE
#define FANOUT OTA_VERITY_DIGESTS_PER_BLOCK
/* Enough for a tree over 2^64 bytes; a real one has 2 to 5 levels. */
#define MAX_LEVELS 12

typedef struct {
	guint n_levels;
	guint64 blocks[MAX_LEVELS]; /* hash blocks per level, level 0 = lowest */
	guint64 offset[MAX_LEVELS]; /* byte offset of each level within the tree */
	guint64 data_blocks;
	guint64 tree_size;
} VerityGeometry;

/* The layout of the tree over @data_size bytes; FALSE for a size
 * ota_verity_tree_size() refuses. */
gboolean verity_geometry_init(guint64 data_size, VerityGeometry *g);

/* SHA-256(salt || block) with the salt absorbed once into a template. */
typedef struct {
	EVP_MD_CTX *salted;
	EVP_MD_CTX *work;
} VerityHasher;

G_GNUC_WARN_UNUSED_RESULT
gboolean verity_hasher_init(VerityHasher *h, const guint8 salt[OTA_VERITY_SALT_LEN],
                            GError **error);
void verity_hasher_clear(VerityHasher *h);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VerityHasher, verity_hasher_clear)

/* The digest of one BLOCK-sized block. */
G_GNUC_WARN_UNUSED_RESULT
gboolean verity_hash_block(VerityHasher *h, const guint8 *block, guint8 out[OTA_SHA256_LEN],
                           GError **error);

/* Sets OTA_VERITY_ERROR_MISMATCH for @what number @index; returns FALSE. */
gboolean verity_mismatch(GError **error, const char *what, guint64 index);

G_END_DECLS
