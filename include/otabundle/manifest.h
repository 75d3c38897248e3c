/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <glib.h>

OTA_BEGIN_DECLS

/* The error domain of this module's GErrors; the codes are below. */
#define OTA_MANIFEST_ERROR ota_manifest_error_quark()
GQuark ota_manifest_error_quark(void);

typedef enum {
	OTA_MANIFEST_ERROR_PARSE,         /* not an INI file */
	OTA_MANIFEST_ERROR_UNKNOWN_FIELD, /* a key or group RAUC would reject */
	OTA_MANIFEST_ERROR_MISSING,       /* a required key is absent */
	OTA_MANIFEST_ERROR_INVALID,       /* a value is malformed */
} OtaManifestError;

/* The name every bundle stores its manifest under. */
#define OTA_MANIFEST_FILENAME "manifest.raucm"
/* Manifests are small; anything larger is refused before parsing. */
#define OTA_MANIFEST_MAX_SIZE (1024 * 1024)

typedef enum {
	OTA_BUNDLE_FORMAT_PLAIN,
	OTA_BUNDLE_FORMAT_VERITY,
	OTA_BUNDLE_FORMAT_CRYPT,
} OtaBundleFormat;

typedef struct {
	char *slotclass;
	char *variant; /* [image.<class>.<variant>], or NULL */
	char *filename;
	gboolean has_size;
	guint64 size;
	char *sha256; /* 64 lower-case hex digits, or NULL before create */
	char **hooks; /* subset of pre-install, install, post-install */
	char *adaptive; /* RAUC's adaptive-update methods, verbatim (see below) */
} OtaImage;

typedef struct {
	char *compatible;
	char *version;
	char *description;
	char *build;

	gboolean has_format; /* [bundle] format= was given */
	OtaBundleFormat format;
	char *verity_hash;
	char *verity_salt;
	guint64 verity_size;
	char *crypt_key;

	char *hook_filename;
	char **hooks; /* bundle hooks: install-check */

	char *handler_filename;
	char *handler_args;

	GPtrArray *images; /* OtaImage*, in file order */
	GKeyFile *meta;    /* only the [meta.<label>] groups, verbatim */
} OtaManifest;

/* Strict parse: an unknown group or key is an error, except inside
 * [meta.<label>] groups. Sizes and digests may be absent (create fills them
 * in); use ota_manifest_check_complete() for a manifest from a bundle. */
OtaManifest *ota_manifest_parse(const char *data, gsize length, GError **error);
/* Reads at most OTA_MANIFEST_MAX_SIZE bytes; errors name @path. */
OtaManifest *ota_manifest_load(const char *path, GError **error);
/* Every image has a size and a sha256, and there is at least one image. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_manifest_check_complete(const OtaManifest *manifest, GError **error);
/* Serialises in a fixed group order; round-trips through ota_manifest_parse(). */
char *ota_manifest_to_data(const OtaManifest *manifest, gsize *length);

/* A value from [meta.<label>], or NULL. */
char *ota_manifest_get_meta(const OtaManifest *manifest, const char *label, const char *key);
const char *ota_bundle_format_to_string(OtaBundleFormat format);
gboolean ota_bundle_format_from_string(const char *name, OtaBundleFormat *format);
/* A bundle-relative filename: no '/', not empty, '.' or '..'. */
gboolean ota_manifest_filename_is_safe(const char *filename);
/* The adaptive-update methods @image's adaptive= lists (RAUC's
 * ';'-separated list; surrounding spaces and empty entries dropped), in
 * order; an empty list without adaptive=. Free with g_strfreev(). */
char **ota_image_get_adaptive_methods(const OtaImage *image);
/* Whether @image's adaptive= lists @method, such as "block-hash-index". */
gboolean ota_image_has_adaptive_method(const OtaImage *image, const char *method);

/* Whether @image is a casync chunk index, as RAUC's casync bundles (made
 * by `rauc convert`) store images: by its filename, ".caibx" for a block
 * image, ".caidx" for a directory tree. The bundle then holds the index,
 * and the manifest's size and sha256 describe the image it rebuilds. */
typedef enum {
	OTA_IMAGE_CASYNC_NONE,
	OTA_IMAGE_CASYNC_BLOB, /* .caibx */
	OTA_IMAGE_CASYNC_TREE, /* .caidx */
} OtaImageCasync;
OtaImageCasync ota_image_get_casync(const OtaImage *image);

/* Frees @manifest; NULL is ignored. */
void ota_manifest_free(OtaManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaManifest, ota_manifest_free)

OTA_END_DECLS
