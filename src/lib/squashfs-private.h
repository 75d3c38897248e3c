/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libotabundle; not installed. */
#pragma once

#include "reader-private.h"

G_BEGIN_DECLS

#define OTA_SQUASHFS_ERROR ota_squashfs_error_quark()
GQuark ota_squashfs_error_quark(void);

typedef enum {
	OTA_SQUASHFS_ERROR_CREATE,      /* mksquashfs failed */
	OTA_SQUASHFS_ERROR_CORRUPTED,   /* the image is malformed */
	OTA_SQUASHFS_ERROR_NOT_FOUND,   /* no such entry */
	OTA_SQUASHFS_ERROR_NOT_REGULAR, /* entry is not a regular file */
	OTA_SQUASHFS_ERROR_TOO_LARGE,   /* larger than the caller allows */
	OTA_SQUASHFS_ERROR_UNSUPPORTED, /* e.g. a compressor libsquashfs lacks */
	OTA_SQUASHFS_ERROR_ARGS,        /* bad --compression or --mksquashfs-args */
} OtaSquashfsError;

/* --- creating (squashfs-create.c) -------------------------------------- */

/* zstd (level 3) packs about as fast as no compression at all and many
 * times faster than gzip; Linux mounts it since 4.14 (CONFIG_SQUASHFS_ZSTD),
 * unsquashfs reads it since squashfs-tools 4.4. See otabundle(1). */
#define OTA_SQUASHFS_DEFAULT_COMPRESSION "zstd"
/* mksquashfs's cache bound: with it, mksquashfs peaks at ~70 MiB RSS
 * instead of buffering input up to a quarter of the machine's RAM. */
#define OTA_SQUASHFS_MKSQUASHFS_MEM "128M"

/* mksquashfs arguments: those for @compression ("gzip[:LEVEL]", "xz",
 * "zstd[:LEVEL]", "lz4" or "none"; NULL: the default, unless @extra_args
 * choose a compression themselves), the cache bound, then @extra_args, split
 * as a shell would but never run through one. */
GStrv ota_squashfs_build_args(const char *compression, const char *extra_args, GError **error);
/* Whether @extra_args (as for ota_squashfs_build_args()) choose the
 * compression themselves; FALSE for NULL or arguments that don't parse. */
gboolean ota_squashfs_extra_args_choose_compression(const char *extra_args);

/* An image that depends on the sources' names, contents, hard links and
 * execute bits only (reproducible bundles): every timestamp (the
 * superblock's too) is @time; every file and directory gets mode 0755 if it
 * is a directory or has any execute bit, else 0644 (as git keeps modes), so
 * neither mtimes nor the umask of a checkout show. Owners are root and
 * xattrs dropped in any case. mksquashfs's own SOURCE_DATE_EPOCH handling
 * (which only clamps later times) is never used: the environment variable
 * is removed for it. */
typedef struct {
	guint32 time;
	const char *scratch_dir; /* a private directory for the list of modes */
} OtaSquashfsReproducible;

/* Runs mksquashfs (or $OTABUNDLE_MKSQUASHFS) with each of @sources placed
 * at the image root, writing a new image to @output with @args (from
 * ota_squashfs_build_args()); reproducibly with @repro (else NULL). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_squashfs_create(const char *const *sources, const char *output,
                             const char *const *args, const OtaSquashfsReproducible *repro,
                             GError **error);

/* Adds @sources to the root of the image @output, with its compression. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_squashfs_append(const char *const *sources, const char *output,
                             const OtaSquashfsReproducible *repro, GError **error);

/* --- reading (squashfs-read.c) ----------------------------------------- */

/* A bundle holds a handful of files; far more fragments than this means a
 * forged superblock (each entry costs 16 bytes of memory when loaded). */
#define OTA_SQUASHFS_MAX_FRAGMENTS 65536

/* Reads a squashfs image through @reader (borrowed; must outlive the
 * returned object). Only the root directory's entries are reachable: a
 * bundle keeps everything there, and nothing here follows a path. */
typedef struct OtaSquashfs OtaSquashfs;
OtaSquashfs *ota_squashfs_open(OtaReader *reader, GError **error);
void ota_squashfs_free(OtaSquashfs *squashfs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaSquashfs, ota_squashfs_free)

/* Size of the regular file @name in the root directory. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_squashfs_stat_file(OtaSquashfs *squashfs, const char *name, guint64 *size,
                                GError **error);

typedef gboolean (*OtaSquashfsSink)(const guint8 *data, gsize length, gpointer user_data,
                                    GError **error);
/* Streams the regular file @name through @sink, one block at a time. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_squashfs_read_file(OtaSquashfs *squashfs, const char *name, OtaSquashfsSink sink,
                                gpointer user_data, GError **error);
/* The whole of a small file, refused if larger than @max_size. */
GBytes *ota_squashfs_read_small_file(OtaSquashfs *squashfs, const char *name, gsize max_size,
                                     GError **error);

/* Random access to the regular file @name (adaptive updates read only the
 * blocks they could not find on the device). libsquashfs keeps the last
 * data block it decompressed, so reads that stay inside one block
 * decompress it once. Borrows @squashfs. */
typedef struct OtaSquashfsFile OtaSquashfsFile;
OtaSquashfsFile *ota_squashfs_file_open(OtaSquashfs *squashfs, const char *name, GError **error);
guint64 ota_squashfs_file_get_size(const OtaSquashfsFile *file);
/* Exactly @size bytes from @offset; a range past the end is an error. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_squashfs_file_read_at(OtaSquashfsFile *file, guint64 offset, void *buffer,
                                   gsize size, GError **error);
void ota_squashfs_file_free(OtaSquashfsFile *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaSquashfsFile, ota_squashfs_file_free)

G_END_DECLS
