/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the bundle modules (bundle.c: layout, open, verify, contents;
 * bundle-create.c; bundle-extract.c; bundle-sign.c) share; not installed. */
#pragma once

#include <otabundle/bundle.h>

G_BEGIN_DECLS

/* A private directory that we fill with flat files only; removed with its
 * contents unless kept (path set to NULL). */
typedef struct {
	char *path;
} ScratchDir;

ScratchDir *bundle_scratch_dir_new(const char *template_path, GError **error);
void bundle_scratch_dir_free(ScratchDir *dir);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScratchDir, bundle_scratch_dir_free)

/* Sets OTA_BUNDLE_ERROR_IO "PATH: strerror(err)"; returns FALSE. */
gboolean bundle_io_error(GError **error, const char *path, int err);

/* Parses the manifest the verity signature embeds into b->manifest. */
gboolean bundle_load_verity_manifest(OtaBundle *b, GError **error);

/* Streams one image out of the squashfs into @out_fd (or nowhere: -1),
 * with OTA_HASH_PIPE_HASH checking it against the manifest's sha256. */
gboolean bundle_stream_image(OtaBundle *b, const OtaImage *image, int out_fd,
                             OtaHashPipeFlags flags, GError **error);
/* The sum of the manifest's image sizes. */
guint64 bundle_images_size(const OtaManifest *m);

/* Writes @signature and the trailer at @offset of @fd. */
gboolean bundle_append_signature(int fd, guint64 offset, GBytes *signature, GError **error);
/* One signature by every signer over content with digest @sha256 (@content
 * embedded, or NULL for detached). */
GBytes *bundle_sign_content(OtaSigner *const *signers, gsize n, OtaX509Stack *intermediates,
                            OtaSignatureEncoding encoding, const guint8 sha256[OTA_SHA256_LEN],
                            GBytes *content, GError **error);
/* Appends one audit line per signer to @audit_log (nothing if NULL). */
gboolean bundle_log_signatures(const char *audit_log, const char *operation,
                               OtaSigner *const *signers, gsize n_signers,
                               const char *bundle_path, const char *format,
                               const guint8 digest[OTA_SHA256_LEN], const char *verity_root,
                               GError **error);

G_END_DECLS
