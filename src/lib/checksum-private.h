/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libotabundle; not installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define OTA_CHECKSUM_ERROR ota_checksum_error_quark()
GQuark ota_checksum_error_quark(void);

typedef enum {
	OTA_CHECKSUM_ERROR_IO,
	OTA_CHECKSUM_ERROR_CRYPTO,
	OTA_CHECKSUM_ERROR_NOT_REGULAR,
} OtaChecksumError;

#define OTA_SHA256_LEN 32
#define OTA_SHA256_HEX_LEN 64
#define OTA_SHA512_LEN 64

typedef struct {
	guint64 size;
	guint8 sha256[OTA_SHA256_LEN];
	/* Only where asked for (an Ed25519 signer signs the SHA-512 of the
	 * content, RFC 8419); has_sha512 says whether sha512 holds it. */
	gboolean has_sha512;
	guint8 sha512[OTA_SHA512_LEN];
} OtaChecksum;

/* SHA-256 of @length bytes of @fd from @offset, streamed with 64-bit sizes
 * so every byte of a file of any size is covered. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_checksum_fd(int fd, guint64 offset, guint64 length, OtaChecksum *out,
                         GError **error);

/* Sees each chunk of a stream right after it was hashed, in order: @data is
 * exactly what went into the digest. FALSE (with @error set) stops hashing. */
typedef gboolean (*OtaChecksumObserver)(guint64 offset, const guint8 *data, gsize length,
                                        gpointer user_data, GError **error);

/* Like ota_checksum_fd(), calling @observer (if not NULL) with every chunk
 * it hashed, and with @with_sha512 the SHA-512 too, in the same pass. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_checksum_fd_observed(int fd, guint64 offset, guint64 length,
                                  OtaChecksumObserver observer, gpointer user_data,
                                  gboolean with_sha512, OtaChecksum *out, GError **error);

/* Like ota_checksum_fd(), also writing the bytes to @out_fd: one read of
 * the source yields both the copy and the digest of exactly what was copied
 * (with @with_sha512, both digests). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_checksum_copy_fd(int in_fd, guint64 offset, guint64 length, int out_fd,
                              gboolean with_sha512, OtaChecksum *out, GError **error);

/* Size and SHA-256 of a regular file (symlinks are refused). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_checksum_file(const char *path, OtaChecksum *out, GError **error);

/* ota_checksum_file() for @n files, hashed in parallel on all cores. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_checksum_files(const char *const *paths, gsize n, OtaChecksum *out,
                            GError **error);

/* SHA-256 of data held in memory (a manifest, a signature's content). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_checksum_bytes(GBytes *data, guint8 out[OTA_SHA256_LEN], GError **error);

/* Size, SHA-256 and SHA-512 of data held in memory: every digest a signer
 * of a manifest may sign. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_checksum_bytes_all(GBytes *data, OtaChecksum *out, GError **error);

/* A stream hashed with SHA-256 and/or written to @out_fd (-1: none) on a
 * worker thread while the caller produces the next bytes: decompressing and
 * hashing or writing then use two cores. Memory is bounded (2 MiB of
 * buffers); pushed data is copied. */
typedef enum {
	OTA_HASH_PIPE_HASH = 1 << 0,   /* compute the digest */
	OTA_HASH_PIPE_SPARSE = 1 << 1, /* seek over zero chunks of a new regular file */
	OTA_HASH_PIPE_PROGRESS = 1 << 2, /* count the bytes in the open progress phase */
	OTA_HASH_PIPE_DIRECT = 1 << 3,   /* write with O_DIRECT where the file allows */
	OTA_HASH_PIPE_WRITEBACK = 1 << 4, /* start writeback as the output grows */
} OtaHashPipeFlags;
typedef struct OtaHashPipe OtaHashPipe;
OtaHashPipe *ota_hash_pipe_new(int out_fd, OtaHashPipeFlags flags, GError **error);
/* Fails once the worker failed (e.g. a write error), with its message. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_hash_pipe_push(OtaHashPipe *pipe, const guint8 *data, gsize length,
                            GError **error);
/* Waits until everything is hashed and written; the digest of it all
 * (zeros without OTA_HASH_PIPE_HASH; @digest may then be NULL). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_hash_pipe_finish(OtaHashPipe *pipe, guint8 digest[OTA_SHA256_LEN], GError **error);
void ota_hash_pipe_free(OtaHashPipe *pipe);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaHashPipe, ota_hash_pipe_free)

void ota_checksum_to_hex(const guint8 digest[OTA_SHA256_LEN], char hex[OTA_SHA256_HEX_LEN + 1]);
/* Accepts exactly 64 hex digits, either case. */
gboolean ota_checksum_from_hex(const char *hex, guint8 digest[OTA_SHA256_LEN]);

G_END_DECLS
