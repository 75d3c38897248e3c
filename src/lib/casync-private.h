/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* casync bundles, RAUC's older delta format: an image is stored as a casync
 * chunk index (.caibx for a block image, .caidx for a directory tree), and
 * the manifest's size and sha256 describe the image that the index and a
 * chunk store rebuild. casync-index.c reads the index (bundle layer: it is
 * a file inside bundles), casync-extract.c rebuilds an image with Debian's
 * casync tool. Not installed. */
#pragma once

#include <otabundle/manifest.h>

#include "bundle-private.h"

G_BEGIN_DECLS

/* casync's own limits (caformat.h): a chunk is 1 byte to 128 MiB. */
#define OTA_CASYNC_CHUNK_SIZE_MAX (128 * 1024 * 1024)
/* The index a bundle may hold: 40 bytes a chunk, so 64 MiB indexes about
 * 1.6 million chunks, 100 GiB at casync's default 64 KiB average. It is
 * read into memory, checked as a whole, before casync sees it. */
#define OTA_CASYNC_INDEX_MAX_SIZE (64 * 1024 * 1024)

/* On-disk layout (little-endian u64s), pinned by test-casync-index.c. */
#define OTA_CASYNC_INDEX_HEADER_SIZE 48 /* size, type, flags, chunk min, avg, max */
#define OTA_CASYNC_TABLE_HEADER_SIZE 16 /* size (all ones), type */
#define OTA_CASYNC_TABLE_ITEM_SIZE 40   /* end offset, 32-byte chunk ID */
#define OTA_CASYNC_TABLE_TAIL_SIZE 40   /* 0, 0, index offset, table size, marker */
#define OTA_CASYNC_FORMAT_INDEX G_GUINT64_CONSTANT(0x96824d9c7b129ff9)
#define OTA_CASYNC_FORMAT_TABLE G_GUINT64_CONSTANT(0xe75b9e112f17417d)
#define OTA_CASYNC_FORMAT_TABLE_TAIL_MARKER G_GUINT64_CONSTANT(0x4b4f050e5549ecd1)

typedef struct {
	guint64 feature_flags;
	guint64 chunk_size_min, chunk_size_avg, chunk_size_max;
	guint64 n_chunks;
	guint64 total_size; /* bytes the chunks add up to: the blob (.caibx), the catar (.caidx) */
} OtaCasyncIndex;

/* Parses a whole casync index strictly: every length and offset is checked
 * against the data's own size, chunk offsets increase and each chunk is
 * within the header's maximum, and nothing follows the tail. Errors:
 * OTA_BUNDLE_ERROR_MALFORMED, the message starting "casync index: ". */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_casync_index_parse(const guint8 *data, gsize length, OtaCasyncIndex *index,
                                GError **error);

/* The index of @image (a .caibx or .caidx), read through the verified
 * payload (at most OTA_CASYNC_INDEX_MAX_SIZE bytes) and parsed; a .caibx
 * must rebuild exactly the manifest's size. @data_out (optional) gets
 * the bytes. Errors name the image, not the bundle. */
G_GNUC_WARN_UNUSED_RESULT
gboolean bundle_casync_check_index(OtaBundle *b, const OtaImage *image, OtaCasyncIndex *index,
                                   GBytes **data_out, GError **error);

/* How to rebuild: the chunk store (a directory or an http(s):// URL), a
 * seed (a file or block device with an older image: chunks found there
 * are not fetched; may be NULL), casync's TMPDIR (may be NULL), and extra
 * arguments ([casync] install-args, split like a shell; may be NULL). */
typedef struct {
	const char *store;
	const char *seed;
	const char *tmpdir;
	const char *extra_args;
} OtaCasyncOptions;

/* The default store of a bundle at @bundle_path, as RAUC derives it:
 * "x.raucb" -> "x.castr", anything else -> "<path>.castr". */
char *ota_casync_default_store(const char *bundle_path);

/* Whether @image can be rebuilt: a .caibx can; a .caidx is refused
 * (OTA_BUNDLE_ERROR_UNSUPPORTED): its sha256 is that of a tar archive,
 * which a tree rebuilt by casync can't be checked against. */
G_GNUC_WARN_UNUSED_RESULT
gboolean bundle_casync_check_rebuildable(const OtaImage *image, GError **error);

/* Rebuilds the .caibx @image of verified bundle @b into @out_fd (a regular
 * file, emptied by the caller, or a block device) with `casync extract`:
 * the index is copied from the verified payload into a private file
 * first. Then reads back what casync wrote and checks its size and sha256
 * against the manifest; @out_path names @out_fd in errors. A .caidx is
 * refused (bundle_casync_check_rebuildable()). */
G_GNUC_WARN_UNUSED_RESULT
gboolean bundle_casync_rebuild(OtaBundle *b, const OtaImage *image, const OtaCasyncOptions *opts,
                               int out_fd, const char *out_path, GError **error);

G_END_DECLS
