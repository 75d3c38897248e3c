/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the bundle modules (bundle.c: layout, open, verify, contents;
 * bundle-create.c; bundle-extract.c; bundle-sign.c) share; not installed. */
#pragma once

#include <otabundle/bundle.h>
#include "cancel-private.h"
#include "checksum-private.h"
#include "output-private.h"
#include "reader-private.h"
#include "squashfs-private.h"
#include "verity-private.h"

#include "envelope-private.h"
#include "signature-private.h"

#include <sys/stat.h>

G_BEGIN_DECLS

struct OtaBundle {
	char *path; /* a URL without credentials (ota_http_url_for_display()) */
	int fd;     /* -1 for a URL */
	/* The whole file: layout, envelope, CMS and (verity, crypt) the
	 * payload are read through it; over a URL an HTTP reader. */
	OtaReader *file;
	gboolean remote;
	/* Crypt over a URL: whether the crypt-key decrypts the payload to a
	 * squashfs is checked at the first payload read, not at verification,
	 * so that nothing of the payload is fetched before the plan's checks. */
	gboolean crypt_check_pending;
	struct stat opened; /* to notice the file changing under us */
	gboolean private_copy;
	gboolean payload_recorded; /* plain, verified in place: b->payload serves
	                            * only the metadata bytes that were hashed */
	OtaBundleLayout layout;
	OtaBundleFormat format;
	OtaSignature *signature;     /* encrypted: NULL until ota_bundle_decrypt() */
	GBytes *signature_der;
	OtaEnvelope *envelope;       /* encrypted bundles: the EnvelopedData (the CMS in
	                              * the file), which wraps signature_der */
	gboolean verified;
	OtaBundleChecked checked;
	OtaChecksum payload_checksum; /* plain: digest of the verified payload */
	gboolean payload_sha512_wanted; /* plain: a new Ed25519 signer will sign it */
	OtaVerityParams verity;       /* verity: from the manifest */
	OtaReader *payload;           /* after verify or load: what parsers read */
	OtaSquashfs *squashfs;
	GBytes *manifest_data; /* the signed bytes, verbatim */
	OtaManifest *manifest;
	char *casync_store; /* ota_bundle_set_casync_store(), or NULL */
};

/* ota_bundle_open() of the file open as @fd (duplicated, not taken), named
 * @path in messages. */
OtaBundle *bundle_open_fd(int fd, const char *path, GError **error);

/* ota_bundle_open_url() that sends @info_headers (RAUC's send-headers,
 * "Name: value", NULL-terminated or NULL) with the first request only. */
OtaBundle *bundle_open_url(const char *url, const OtaBundleUrlOptions *options,
                           const char *const *info_headers, GError **error);

/* Validates the trailer of a @file_size-byte bundle before any of its other
 * bytes are trusted. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_layout_parse(guint64 file_size, const guint8 trailer[OTA_BUNDLE_TRAILER_SIZE],
                                 OtaBundleLayout *layout, GError **error);
void ota_bundle_trailer_encode(guint64 signature_size, guint8 trailer[OTA_BUNDLE_TRAILER_SIZE]);

/* A plain bundle verified in place (without a private copy) keeps the
 * squashfs metadata and manifest it read, at most this much, to serve them
 * from the hashed bytes after verification. */
#define OTA_BUNDLE_IN_PLACE_METADATA_MAX (4 * 1024 * 1024)

/* After ota_bundle_verify(): a small file from the payload (a hook). */
GBytes *ota_bundle_read_file(OtaBundle *bundle, const char *name, gsize max_size,
                             GError **error);

/* Hook and handler scripts, programs the installer runs, are small: a
 * larger one is refused rather than held in memory. */
#define BUNDLE_SCRIPT_MAX_SIZE (16 * 1024 * 1024)

/* A private directory that we fill with flat files only; removed with its
 * contents unless kept (path set to NULL). Creating one fails with
 * G_IO_ERROR_CANCELLED once a signal has cancelled (cancel-private.h). */
typedef struct {
	char *path;
	OtaCancelHold hold;
} ScratchDir;

ScratchDir *bundle_scratch_dir_new(const char *template_path, GError **error);
void bundle_scratch_dir_free(ScratchDir *dir);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScratchDir, bundle_scratch_dir_free)

/* The one home of RAUC's plain payload limit (OTA_BUNDLE_PLAIN_MAX_PAYLOAD),
 * for create and for readers. */
gboolean bundle_plain_payload_too_large(guint64 payload_size);

/* Sets OTA_BUNDLE_ERROR_IO "PATH: strerror(err)"; returns FALSE. */
gboolean bundle_io_error(GError **error, const char *path, int err);
/* Whether hashing a plain payload must give its SHA-512 too: for an
 * Ed25519 signer, of the bundle or wanted. */
gboolean bundle_payload_needs_sha512(const OtaBundle *b);

/* Parses the manifest the verity signature embeds into b->manifest. */
gboolean bundle_load_verity_manifest(OtaBundle *b, GError **error);

/* Streams one image out of the squashfs into @out_fd (or nowhere: -1),
 * with OTA_HASH_PIPE_HASH checking it against the manifest's sha256. */
gboolean bundle_stream_image(OtaBundle *b, const OtaImage *image, int out_fd,
                             OtaHashPipeFlags flags, GError **error);
/* ota_bundle_write_image() into @fd, which is @fd_path: a failed write
 * names @fd_path, a failed read the bundle. */
gboolean bundle_write_image_to(OtaBundle *b, const OtaImage *image, int fd, const char *fd_path,
                               GError **error);
/* The sum of the manifest's image sizes. */
guint64 bundle_images_size(const OtaManifest *m);
/* After verification: the payload's squashfs, for random access to an
 * image (adaptive updates); OTA_BUNDLE_ERROR_UNSUPPORTED for a plain
 * bundle verified in place, whose payload reader serves only metadata. */
OtaSquashfs *bundle_squashfs(OtaBundle *b, GError **error);

/* Encrypted bundles (bundle-encrypt.c). */
/* FALSE with OTA_BUNDLE_ERROR_ENCRYPTED while @b is encrypted and not
 * decrypted: its signature is unknown. */
gboolean bundle_check_decrypted(OtaBundle *b, GError **error);
/* Refuses an EnvelopedData of @size bytes for @n_recipients that RAUC 1.8
 * would not read, unless @allow_large (then up to
 * OTA_BUNDLE_MAX_ENVELOPE_SIZE). */
gboolean bundle_check_envelope_size(gsize size, guint n_recipients, gboolean allow_large,
                                    GError **error);
/* sign, merge, resign of a decrypted bundle @b: @signature encrypted for
 * the same recipients, as ota_envelope_encrypt_again() does. */
GBytes *bundle_encrypt_again(OtaBundle *b, GBytes *signature, GError **error);
/* Decrypts @b, a result encrypted for the same recipients as @source (which
 * was decrypted), with @source's content-encryption key. */
gboolean bundle_decrypt_like(OtaBundle *b, const OtaBundle *source, GError **error);

/* The CMS file @path (a partial signature, a replacement), 1 to
 * @max_size bytes, whole: OTA_BUNDLE_ERROR naming @path otherwise. */
GBytes *bundle_read_signature_file(const char *path, gsize max_size, GError **error);
/* Writes @signature and the trailer at @offset of @fd. */
gboolean bundle_append_signature(int fd, guint64 offset, GBytes *signature, GError **error);
/* One signature by every signer over content with digests @digest
 * (@content embedded, or NULL for detached; SHA-512 needed for Ed25519
 * signers). */
GBytes *bundle_sign_content(OtaSigner *const *signers, gsize n, OtaX509Stack *intermediates,
                            OtaSignatureEncoding encoding, const OtaChecksum *digest,
                            GBytes *content, const OtaTimestampOptions *timestamp,
                            GError **error);
/* The last step of every command that writes a bundle (create, sign,
 * merge, resign, replace-signature): with @result_policy, the finished
 * bundle in @out is read back and must verify against it (a plain
 * bundle's signatures over @signed_digest, the payload's digest; ignored
 * for verity), else nothing appears at @path; then @out is committed. */
G_GNUC_WARN_UNUSED_RESULT
gboolean bundle_commit_checked(OtaOutput *out, const char *path, const OtaPolicy *result_policy,
                               const OtaChecksum *signed_digest, GError **error);
/* Appends one audit line per signer to @audit_log (nothing if NULL),
 * with the timestamp each carries in @signature, the CMS made. */
gboolean bundle_log_signatures(const char *audit_log, const char *operation,
                               OtaSigner *const *signers, gsize n_signers,
                               const char *bundle_path, const char *format,
                               const guint8 digest[OTA_SHA256_LEN], const char *verity_root,
                               GBytes *signature, GError **error);
/* Writes @out_path: @in_path with its signature replaced by @der, which
 * must sign exactly what IN's signature signs and be intact (as
 * ota_bundle_replace_signature(); errors about @der name @der_name). */
gboolean bundle_replace_signature_der(const char *in_path, GBytes *der, const char *der_name,
                                      const char *out_path, const OtaPolicy *input_policy,
                                      const OtaPolicy *result_policy, gboolean force,
                                      GError **error);

G_END_DECLS
