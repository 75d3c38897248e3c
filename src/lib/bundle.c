/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bundles: layout, opening, verification and reading the contents. Creating
 * is in bundle-create.c, extracting in bundle-extract.c, signatures in
 * bundle-sign.c; bundle-private.h holds what they share. */
#include "bundle-private.h"

#include <otabundle/text.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "block-hash-index-private.h"
#include "casync-private.h"
#include "crypt-private.h"
#include "error-private.h"
#include "http-private.h"
#include "progress-private.h"
#include "read-record.h"
#include "verity-private.h"

G_DEFINE_QUARK(ota-bundle-error-quark, ota_bundle_error)

/* --- layout --------------------------------------------------------------- */

/* RAUC writes payloads in whole 4 KiB blocks, and verity and crypt need
 * them; a plain bundle made by RAUC 1.4 or older may end anywhere (RAUC
 * 1.8 says so and accepts it), so bundles are held to it only once their
 * CMS tells the format (layout_parse() with @aligned FALSE). */
static gboolean check_payload_aligned(const OtaBundleLayout *layout, GError **error)
{
	if (layout->payload_size % OTA_BUNDLE_PAYLOAD_ALIGNMENT != 0) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "payload size %" G_GUINT64_FORMAT " is not a multiple of %d (truncated or "
		            "padded bundle?)", layout->payload_size, OTA_BUNDLE_PAYLOAD_ALIGNMENT);
		return FALSE;
	}
	return TRUE;
}

static gboolean layout_parse(guint64 file_size, const guint8 trailer[OTA_BUNDLE_TRAILER_SIZE],
                             guint64 max_signature_size, gboolean aligned,
                             OtaBundleLayout *layout, GError **error)
{
	guint64 sig_size = 0;

	for (int i = 0; i < OTA_BUNDLE_TRAILER_SIZE; i++)
		sig_size = sig_size << 8 | trailer[i];

	/* The last 8 bytes of a file that is no bundle (text, an ELF, a bare
	 * squashfs, random data) read as 0 or as a huge number: say what the
	 * file is, and don't report its bytes as a size. */
	if (sig_size == 0) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		                    "not a bundle (the signature size in its last 8 bytes is 0)");
		return FALSE;
	}
	if (sig_size > max_signature_size) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "not a bundle (the signature size in its last 8 bytes exceeds the %"
		            G_GUINT64_FORMAT "-byte maximum)",
		            max_signature_size);
		return FALSE;
	}
	/* sig_size is small here, so the sum cannot overflow. */
	if (sig_size + OTA_BUNDLE_TRAILER_SIZE >= file_size) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "not a bundle (the signature size in its last 8 bytes, %" G_GUINT64_FORMAT
		            ", leaves no payload in a %" G_GUINT64_FORMAT "-byte file)",
		            sig_size, file_size);
		return FALSE;
	}
	layout->file_size = file_size;
	layout->signature_size = sig_size;
	layout->payload_size = file_size - OTA_BUNDLE_TRAILER_SIZE - sig_size;
	layout->signature_offset = layout->payload_size;
	return !aligned || check_payload_aligned(layout, error);
}

gboolean ota_bundle_layout_parse(guint64 file_size, const guint8 trailer[OTA_BUNDLE_TRAILER_SIZE],
                                 OtaBundleLayout *layout, GError **error)
{
	return layout_parse(file_size, trailer, OTA_BUNDLE_MAX_SIGNATURE_SIZE, TRUE, layout, error);
}

void ota_bundle_trailer_encode(guint64 signature_size, guint8 trailer[OTA_BUNDLE_TRAILER_SIZE])
{
	for (int i = OTA_BUNDLE_TRAILER_SIZE - 1; i >= 0; i--) {
		trailer[i] = (guint8)(signature_size & 0xff);
		signature_size >>= 8;
	}
}

/* --- shared helpers ------------------------------------------------------------ */

/* A transfer's error names the URL (for readers used on their own); the
 * bundle's messages start with it, once, so it goes from inside. */
static void drop_url(const OtaBundle *b, GError *e)
{
	g_autofree char *named = g_strdup_printf("%s: ", b->path);
	char *at;

	if (!b->remote || e->domain != OTA_HTTP_ERROR || (at = strstr(e->message, named)) == NULL)
		return;
	memmove(at, at + strlen(named), strlen(at + strlen(named)) + 1);
}

/* @src into @dest, prefixed with the bundle's path or URL. */
static void bundle_propagate_error(const OtaBundle *b, GError **dest, GError *src)
{
	drop_url(b, src);
	g_propagate_prefixed_error(dest, src, "%s: ", b->path);
}

gboolean bundle_io_error(GError **error, const char *path, int err)
{
	return ota_set_io_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, path, NULL, err);
}

void bundle_scratch_dir_free(ScratchDir *dir)
{
	g_autoptr(GDir) d = NULL;
	const char *name;

	if (dir == NULL)
		return;
	if (dir->path != NULL && (d = g_dir_open(dir->path, 0, NULL)) != NULL) {
		while ((name = g_dir_read_name(d)) != NULL) {
			g_autofree char *p = g_build_filename(dir->path, name, NULL);
			unlink(p);
		}
		rmdir(dir->path);
	}
	ota_cancel_release(&dir->hold);
	g_free(dir->path);
	g_free(dir);
}

ScratchDir *bundle_scratch_dir_new(const char *template_path, GError **error)
{
	g_autoptr(ScratchDir) dir = g_new0(ScratchDir, 1);
	char *path;

	if (!ota_cancel_hold(&dir->hold, error))
		return NULL;
	path = g_strdup(template_path);
	if (g_mkdtemp_full(path, 0700) == NULL) {
		int saved = errno;
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO,
		            "%s: cannot create directory: %s", template_path, g_strerror(saved));
		g_free(path);
		return NULL;
	}
	dir->path = path;
	return g_steal_pointer(&dir);
}

/* --- open and verify ----------------------------------------------------------- */

const char *ota_bundle_get_path(const OtaBundle *b)
{
	return b->path;
}

OtaBundleFormat ota_bundle_get_format(const OtaBundle *b)
{
	return b->format;
}

const OtaBundleLayout *ota_bundle_get_layout(const OtaBundle *b)
{
	return &b->layout;
}

const OtaSignature *ota_bundle_get_signature(const OtaBundle *b)
{
	return b->signature;
}

const OtaManifest *ota_bundle_get_manifest(const OtaBundle *b)
{
	return b->manifest;
}

char *ota_bundle_get_manifest_sha256(const OtaBundle *b)
{
	if (b->manifest == NULL || b->manifest_data == NULL)
		return NULL;
	return g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, b->manifest_data);
}

gboolean ota_bundle_is_verified(const OtaBundle *b)
{
	return b->verified;
}

gboolean bundle_plain_payload_too_large(guint64 payload_size)
{
	return payload_size > OTA_BUNDLE_PLAIN_MAX_PAYLOAD;
}

gboolean ota_bundle_exceeds_plain_limit(const OtaBundle *b)
{
	return b->format == OTA_BUNDLE_FORMAT_PLAIN &&
	       bundle_plain_payload_too_large(b->layout.payload_size);
}

OtaBundleChecked ota_bundle_get_checked(const OtaBundle *b)
{
	return b->checked;
}

gboolean ota_bundle_check_for_info(OtaBundle *b, const OtaPolicy *policy, GError **error)
{
	return policy != NULL ? ota_bundle_verify(b, policy, 0, NULL, error)
	                      : ota_bundle_load_unverified(b, error);
}

OtaBundle *ota_bundle_open_for_info(const char *path, const OtaPolicy *policy, GError **error)
{
	g_autoptr(OtaBundle) b = ota_bundle_open(path, error);

	if (b == NULL || !ota_bundle_check_for_info(b, policy, error))
		return NULL;
	return g_steal_pointer(&b);
}

gboolean ota_bundle_get_verity_sizes(const OtaBundle *b, guint64 *data_size, guint64 *tree_size)
{
	if (b->format == OTA_BUNDLE_FORMAT_PLAIN || b->manifest == NULL)
		return FALSE;
	*data_size = b->verity.data_size;
	*tree_size = b->verity.tree_size;
	return TRUE;
}

void ota_bundle_free(OtaBundle *b)
{
	if (b == NULL)
		return;
	ota_manifest_free(b->manifest);
	if (b->manifest_data != NULL)
		g_bytes_unref(b->manifest_data);
	ota_squashfs_free(b->squashfs);
	ota_reader_free(b->payload);
	ota_reader_free(b->file); /* after the readers that borrow it */
	ota_signature_free(b->signature);
	if (b->signature_der != NULL)
		g_bytes_unref(b->signature_der);
	ota_envelope_free(b->envelope);
	if (b->fd >= 0)
		close(b->fd);
	g_free(b->path);
	g_free(b->casync_store);
	g_free(b);
}

/* A trailer over RAUC's OTA_BUNDLE_MAX_SIGNATURE_SIZE is accepted only
 * where it points at an EnvelopedData (encrypt --allow-large-envelope,
 * for many recipients), up to OTA_BUNDLE_MAX_ENVELOPE_SIZE; anything else
 * is refused as before. */
static gboolean read_layout(OtaBundle *b, guint64 file_size,
                            const guint8 trailer[OTA_BUNDLE_TRAILER_SIZE], GError **error)
{
	g_autoptr(GError) strict_error = NULL;
	guint8 head[32];

	/* Alignment is checked once the CMS tells the format. */
	if (layout_parse(file_size, trailer, OTA_BUNDLE_MAX_SIGNATURE_SIZE, FALSE, &b->layout,
	                 &strict_error))
		return TRUE;
	if (layout_parse(file_size, trailer, OTA_BUNDLE_MAX_ENVELOPE_SIZE, FALSE, &b->layout, NULL) &&
	    b->layout.signature_size > OTA_BUNDLE_MAX_SIGNATURE_SIZE &&
	    ota_reader_read_at(b->file, b->layout.signature_offset, head, sizeof(head), NULL) &&
	    ota_envelope_der_is_enveloped(head, sizeof(head)))
		return TRUE;
	g_propagate_error(error, g_steal_pointer(&strict_error));
	return FALSE;
}

/* b->file of the file open as b->fd. */
static gboolean open_file_reader(OtaBundle *b, GError **error)
{
	struct stat st;

	if (fstat(b->fd, &st) < 0)
		return bundle_io_error(error, b->path, errno);
	b->opened = st;
	if (!S_ISREG(st.st_mode)) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		                    "not a regular file");
		return FALSE;
	}
	b->file = ota_reader_new_fd(b->fd, 0, (guint64)st.st_size, error);
	return b->file != NULL;
}

/* Trailer, layout and CMS, through b->file: over a URL, the first requests
 * and everything fetched before the signature is checked. */
static gboolean read_layout_and_signature(OtaBundle *b, GError **error)
{
	guint8 trailer[OTA_BUNDLE_TRAILER_SIZE];
	g_autofree guint8 *der = NULL;
	guint64 size = b->file->size;

	if (size < OTA_BUNDLE_TRAILER_SIZE) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "not a bundle (%" G_GUINT64_FORMAT " bytes, shorter than a trailer)", size);
		return FALSE;
	}
	if (!ota_reader_read_at(b->file, size - OTA_BUNDLE_TRAILER_SIZE, trailer, sizeof(trailer),
	                        error) ||
	    !read_layout(b, size, trailer, error))
		return FALSE;

	der = g_malloc(b->layout.signature_size);
	if (!ota_reader_read_at(b->file, b->layout.signature_offset, der, b->layout.signature_size,
	                        error))
		return FALSE;
	/* Encrypted: the signature is inside, for ota_bundle_decrypt(). RAUC
	 * encrypts crypt bundles only; the manifest, once decrypted, must say
	 * crypt as well. */
	if (ota_envelope_der_is_enveloped(der, b->layout.signature_size)) {
		b->envelope = ota_envelope_parse(der, b->layout.signature_size, error);
		b->format = OTA_BUNDLE_FORMAT_CRYPT;
		return b->envelope != NULL && check_payload_aligned(&b->layout, error);
	}
	b->signature = ota_signature_parse(der, b->layout.signature_size, error);
	if (b->signature == NULL)
		return FALSE;
	b->signature_der = g_bytes_new_take(g_steal_pointer(&der), b->layout.signature_size);
	/* RAUC refuses them too ("not supported in streaming mode"); a private
	 * download could be checked only once all of it is on the device, so
	 * compatible, rollback and expiry too, and it needs the storage that
	 * streaming is there to save. */
	if (b->remote && b->signature->detached) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_UNSUPPORTED,
		                    "plain bundles can't be streamed: their signature covers the whole "
		                    "file, so nothing in it can be checked before all of it is "
		                    "downloaded; make it with --format=verity or download it and "
		                    "install the file");
		return FALSE;
	}

	/* The CMS says which format this is: plain bundles sign the payload
	 * detached; verity (and crypt) bundles sign the manifest inside the
	 * CMS, which tells them apart once it is trusted. */
	b->format = b->signature->detached ? OTA_BUNDLE_FORMAT_PLAIN : OTA_BUNDLE_FORMAT_VERITY;
	return b->format == OTA_BUNDLE_FORMAT_PLAIN || check_payload_aligned(&b->layout, error);
}

/* Takes @fd. */
static OtaBundle *open_fd(int fd, const char *path, GError **error)
{
	g_autoptr(OtaBundle) b = g_new0(OtaBundle, 1);
	g_autoptr(GError) ierror = NULL;

	b->path = g_strdup(path);
	b->fd = fd;
	if (b->fd < 0) {
		bundle_io_error(error, path, errno);
		return NULL;
	}
	if (!open_file_reader(b, &ierror) || !read_layout_and_signature(b, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", path);
		return NULL;
	}
	return g_steal_pointer(&b);
}

OtaBundle *ota_bundle_open(const char *path, GError **error)
{
	return open_fd(open(path, O_RDONLY | O_CLOEXEC), path, error);
}

OtaBundle *bundle_open_fd(int fd, const char *path, GError **error)
{
	return open_fd(fcntl(fd, F_DUPFD_CLOEXEC, 0), path, error);
}

gboolean ota_bundle_is_url(const char *location)
{
	return ota_http_is_url(location);
}

char *ota_bundle_location_for_display(const char *location)
{
	return ota_http_is_url(location) ? ota_http_url_for_display(location) : g_strdup(location);
}

gboolean ota_bundle_check_url_options(const OtaBundleUrlOptions *o, GError **error)
{
	if (o->timeout > OTA_HTTP_MAX_TIMEOUT) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "a timeout of %u s is more than the %u s allowed", o->timeout,
		            OTA_HTTP_MAX_TIMEOUT);
		return FALSE;
	}
	if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		                    "a TLS client certificate and its key go together");
		return FALSE;
	}
	return TRUE;
}

gboolean ota_bundle_check_location(const char *location, GError **error)
{
	g_autofree char *scheme = g_uri_parse_scheme(location);

	/* "scheme://": a name like "a:b.raucb" stays a file. */
	if (scheme == NULL || ota_http_is_url(location) ||
	    !g_str_has_prefix(location + strlen(scheme), "://"))
		return TRUE;
	/* Shown as URLs are everywhere: without a user, password or query. */
	g_autofree char *shown = ota_http_url_for_display(location);
	g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_UNSUPPORTED,
	            "%s: unsupported URL scheme (http:// and https:// only)", shown);
	return FALSE;
}

/* The header lines: @file's, then @headers, one of which replaces a
 * file's header of the same name. */
static char **merge_headers(const char *file, const char *const *headers, GError **error)
{
	g_auto(GStrv) from_file = NULL;
	g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func(g_free);

	if (file != NULL && (from_file = ota_http_read_header_file(file, error)) == NULL)
		return NULL;
	for (char **h = from_file; h != NULL && *h != NULL; h++) {
		gsize name_len = strcspn(*h, ":");
		gboolean replaced = FALSE;

		for (const char *const *c = headers; c != NULL && *c != NULL && !replaced; c++)
			replaced = strcspn(*c, ":") == name_len &&
			           g_ascii_strncasecmp(*c, *h, name_len) == 0;
		if (!replaced)
			g_ptr_array_add(all, g_strdup(*h));
	}
	for (const char *const *c = headers; c != NULL && *c != NULL; c++)
		g_ptr_array_add(all, g_strdup(*c));
	g_ptr_array_add(all, NULL);
	return (char **)g_ptr_array_free(g_steal_pointer(&all), FALSE);
}

OtaBundle *bundle_open_url(const char *url, const OtaBundleUrlOptions *options,
                           const char *const *info_headers, GError **error)
{
	static const OtaBundleUrlOptions no_options = {0};
	g_autoptr(OtaBundle) b = g_new0(OtaBundle, 1);
	g_autoptr(GError) ierror = NULL;
	g_auto(GStrv) headers = NULL;
	const OtaBundleUrlOptions *o = options ? options : &no_options;
	OtaHttpOptions http = {0};

	b->path = ota_http_url_for_display(url);
	b->fd = -1;
	b->remote = TRUE;
	if (!ota_bundle_check_url_options(o, &ierror)) {
		bundle_propagate_error(b, error, g_steal_pointer(&ierror));
		return NULL;
	}
	headers = merge_headers(o->header_file, o->headers, &ierror);
	if (headers == NULL) {
		bundle_propagate_error(b, error, g_steal_pointer(&ierror));
		return NULL;
	}
	http = (OtaHttpOptions){
		.tls_ca = o->tls_ca,
		.tls_cert = o->tls_cert,
		.tls_key = o->tls_key,
		.key_store = o->key_store,
		.tls_no_verify = o->tls_no_verify,
		.headers = (const char *const *)headers,
		.info_headers = info_headers,
		.timeout = o->timeout,
		.max_size = o->max_size,
	};
	b->file = ota_http_reader_new(url, &http, &ierror);
	if (b->file == NULL || !read_layout_and_signature(b, &ierror)) {
		bundle_propagate_error(b, error, g_steal_pointer(&ierror));
		return NULL;
	}
	return g_steal_pointer(&b);
}

OtaBundle *ota_bundle_open_url(const char *url, const OtaBundleUrlOptions *options,
                               GError **error)
{
	return bundle_open_url(url, options, NULL, error);
}

OtaBundle *ota_bundle_open_location(const char *location, const OtaBundleUrlOptions *options,
                                    GError **error)
{
	if (!ota_bundle_check_location(location, error))
		return NULL;
	return ota_bundle_is_url(location) ? ota_bundle_open_url(location, options, error)
	                                   : ota_bundle_open(location, error);
}

guint64 ota_bundle_get_downloaded(const OtaBundle *b)
{
	return b->remote ? ota_http_reader_get_downloaded(b->file) : 0;
}

/* A write to the file moves its mtime and ctime; so does truncation. Only
 * plain bundles read in place need this: verity reads check every block,
 * and a private copy can't change. */
static gboolean check_unchanged(OtaBundle *b, GError **error)
{
	struct stat now;

	if (b->private_copy || b->remote || b->format != OTA_BUNDLE_FORMAT_PLAIN)
		return TRUE;
	if (fstat(b->fd, &now) < 0)
		return bundle_io_error(error, b->path, errno);
	if (now.st_size == b->opened.st_size &&
	    now.st_mtim.tv_sec == b->opened.st_mtim.tv_sec &&
	    now.st_mtim.tv_nsec == b->opened.st_mtim.tv_nsec &&
	    now.st_ctim.tv_sec == b->opened.st_ctim.tv_sec &&
	    now.st_ctim.tv_nsec == b->opened.st_ctim.tv_nsec)
		return TRUE;
	g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MODIFIED,
	            "%s: bundle was modified while it was being verified", b->path);
	return FALSE;
}

static gboolean ensure_squashfs(OtaBundle *b, GError **error)
{
	if (b->crypt_check_pending) {
		if (!ota_crypt_check_decrypts_to_squashfs(b->payload, error))
			return FALSE;
		b->crypt_check_pending = FALSE;
	}
	if (b->squashfs == NULL)
		b->squashfs = ota_squashfs_open(b->payload, error);
	return b->squashfs != NULL;
}

OtaSquashfs *bundle_squashfs(OtaBundle *b, GError **error)
{
	g_return_val_if_fail(b->verified, NULL);

	if (b->payload_recorded) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_UNSUPPORTED,
		                    "a plain bundle verified in place has no random access to images");
		return NULL;
	}
	return ensure_squashfs(b, error) ? b->squashfs : NULL;
}

static gboolean parse_manifest(OtaBundle *b, GError **error)
{
	b->manifest = ota_manifest_parse(g_bytes_get_data(b->manifest_data, NULL),
	                                 g_bytes_get_size(b->manifest_data), error);
	if (b->manifest == NULL || !ota_manifest_check_complete(b->manifest, error)) {
		g_prefix_error(error, "%s: ", OTA_MANIFEST_FILENAME);
		return FALSE;
	}
	/* The CMS tells plain from the rest; the signed manifest tells crypt
	 * from verity. */
	if (b->manifest->format == OTA_BUNDLE_FORMAT_CRYPT && b->format == OTA_BUNDLE_FORMAT_VERITY)
		b->format = OTA_BUNDLE_FORMAT_CRYPT;
	if (b->manifest->format != b->format) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
		            "manifest declares format '%s' but the bundle is '%s'",
		            ota_bundle_format_to_string(b->manifest->format),
		            ota_bundle_format_to_string(b->format));
		return FALSE;
	}
	return TRUE;
}

/* Plain: the manifest is a file in the squashfs, read through b->payload. */
static gboolean load_plain_manifest(OtaBundle *b, GError **error)
{
	if (!ensure_squashfs(b, error))
		return FALSE;
	b->manifest_data = ota_squashfs_read_small_file(b->squashfs, OTA_MANIFEST_FILENAME,
	                                                OTA_MANIFEST_MAX_SIZE, error);
	return b->manifest_data != NULL && parse_manifest(b, error);
}

/* Verity: the manifest is the CMS content and carries the tree's root,
 * salt and size; the squashfs is what precedes the tree. */
gboolean bundle_load_verity_manifest(OtaBundle *b, GError **error)
{
	const OtaManifest *m;
	OtaVerityParams *v = &b->verity;

	b->manifest_data = ota_signature_get_content(b->signature);
	if (b->manifest_data == NULL) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		                    "signature embeds no manifest");
		return FALSE;
	}
	if (!parse_manifest(b, error))
		return FALSE;
	m = b->manifest;
	/* Root and salt are both 32 bytes: SHA-256 sized, as RAUC writes them. */
	if (!ota_checksum_from_hex(m->verity_hash, v->root) ||
	    !ota_checksum_from_hex(m->verity_salt, v->salt) || m->verity_size == 0) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		                    "manifest lacks a valid verity-hash, verity-salt or verity-size");
		return FALSE;
	}
	v->tree_size = m->verity_size;
	if (v->tree_size >= b->layout.payload_size ||
	    ota_verity_tree_size(b->layout.payload_size - v->tree_size) != v->tree_size) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "verity-size %" G_GUINT64_FORMAT " does not fit a %" G_GUINT64_FORMAT
		            "-byte payload (truncated or padded bundle?)",
		            v->tree_size, b->layout.payload_size);
		return FALSE;
	}
	v->data_size = b->layout.payload_size - v->tree_size;
	if (m->format == OTA_BUNDLE_FORMAT_CRYPT && m->crypt_key == NULL) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		                    "manifest of a crypt bundle lacks its crypt-key");
		return FALSE;
	}
	return TRUE;
}

/* An unnamed file in @dir, gone when closed (or when the process dies). */
static int open_private_file(const char *dir, GError **error)
{
	g_autofree char *template_path = NULL;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) {
		if (fd < 0)
			bundle_io_error(error, dir, errno);
		return fd;
	}
	template_path = g_build_filename(dir, ".otabundle-payload-XXXXXX", NULL);
	fd = g_mkstemp_full(template_path, O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		bundle_io_error(error, dir, errno);
	else
		unlink(template_path);
	return fd;
}

/* Extract and install: everything after verification reads the copy that
 * was hashed, which nobody else can write. */
static gboolean copy_and_hash_payload(OtaBundle *b, const char *private_copy_dir,
                                      GError **error)
{
	gboolean ok;
	int copy_fd = open_private_file(private_copy_dir, error);

	if (copy_fd < 0)
		return FALSE;
	b->private_copy = TRUE;
	ok = ota_checksum_copy_fd(b->fd, 0, b->layout.payload_size, copy_fd,
	                          bundle_payload_needs_sha512(b), &b->payload_checksum, error);
	if (ok)
		b->payload = ota_reader_new_fd(copy_fd, 0, b->layout.payload_size, error);
	close(copy_fd);
	return ok && b->payload != NULL;
}

gboolean bundle_payload_needs_sha512(const OtaBundle *b)
{
	return b->payload_sha512_wanted ||
	       (b->signature != NULL && ota_signature_has_ed25519_signer(b->signature));
}

static gboolean check_payload_signature(OtaBundle *b, const OtaPolicy *policy, GError **error)
{
	if (ota_signature_verify_content(b->signature, &b->payload_checksum, policy, error))
		return TRUE;
	g_prefix_error(error, "signature: ");
	return FALSE;
}

/* Reads @name's entry, if there is a name; whether that works is for the
 * verified parse to say. */
static void stat_if_named(OtaSquashfs *squashfs, const char *name)
{
	guint64 size;

	if (name != NULL)
		(void)!ota_squashfs_stat_file(squashfs, name, &size, NULL);
}

/* What verification and ota_bundle_check_contents() will read: superblock,
 * tables, the manifest, and the entries of the files it names. Parsed
 * before the signature is checked, so nothing is decided from it (a failure
 * is ignored too: the same bytes fail the same way when they are parsed
 * again after verification, and must not pre-empt the signature's verdict);
 * it only finds out which bytes to keep. */
static void read_plain_metadata(OtaReader *reader)
{
	g_autoptr(OtaSquashfs) squashfs = ota_squashfs_open(reader, NULL);
	g_autoptr(GBytes) data = NULL;
	g_autoptr(OtaManifest) m = NULL;

	if (squashfs != NULL)
		data = ota_squashfs_read_small_file(squashfs, OTA_MANIFEST_FILENAME,
		                                    OTA_MANIFEST_MAX_SIZE, NULL);
	if (data != NULL)
		m = ota_manifest_parse(g_bytes_get_data(data, NULL), g_bytes_get_size(data), NULL);
	if (m == NULL)
		return;
	for (guint i = 0; i < m->images->len; i++)
		stat_if_named(squashfs, ((const OtaImage *)g_ptr_array_index(m->images, i))->filename);
	stat_if_named(squashfs, m->hook_filename);
	stat_if_named(squashfs, m->handler_filename);
}

static gboolean set_modified_error(GError **error)
{
	g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MODIFIED,
	                    "bundle was modified while it was being verified");
	return FALSE;
}

static OtaReadRecord *record_plain_metadata(OtaBundle *b, GError **error)
{
	g_autoptr(OtaReadRecord) record = ota_read_record_new(OTA_BUNDLE_IN_PLACE_METADATA_MAX);
	g_autoptr(OtaReader) file = ota_reader_new_fd(b->fd, 0, b->layout.payload_size, error);
	g_autoptr(OtaReader) recording = NULL;

	if (file == NULL)
		return NULL;
	recording = ota_read_record_reader_new(record, file);
	read_plain_metadata(recording);
	if (!ota_read_record_seal(record)) {
		set_modified_error(error);
		return NULL;
	}
	return g_steal_pointer(&record);
}

static gboolean compare_with_record(guint64 offset, const guint8 *data, gsize length,
                                    gpointer user_data, GError **error)
{
	return ota_read_record_matches(user_data, offset, data, length) || set_modified_error(error);
}

/* info and verify read a plain bundle where it lies, without a copy of
 * gigabytes, and must report as verified only bytes that were hashed. A
 * writer through a shared mapping changes bytes without moving size, mtime
 * or ctime, so check_unchanged() can't see it. Hence: (1) the metadata is
 * read once before hashing, and every byte read is recorded (a few MiB at
 * most); (2) the one hash pass compares each recorded byte with the byte it
 * hashes; (3) only once the signature verifies are squashfs and manifest
 * parsed, again, from a reader that serves the recorded bytes and nothing
 * else. So the manifest reported as verified is made of signed bytes,
 * whatever happens to the file afterwards, and nothing is trusted from a
 * parse before the signature checks. Image data is not recorded:
 * bundle_stream_image() reads it from the file and hashes it against the
 * verified sha256. */
static gboolean verify_plain_in_place(OtaBundle *b, const OtaPolicy *policy, GError **error)
{
	g_autoptr(OtaReadRecord) record = record_plain_metadata(b, error);

	if (record == NULL)
		return FALSE;
	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("verify", b->layout.payload_size);
	if (!ota_checksum_fd_observed(b->fd, 0, b->layout.payload_size, compare_with_record, record,
	                              bundle_payload_needs_sha512(b), &b->payload_checksum, error))
		return FALSE;
	ota_progress_phase_done(phase);
	/* Cannot fail after a pass over the whole payload; checked anyway, as
	 * everything below relies on it. */
	if (!ota_read_record_all_matched(record))
		return set_modified_error(error);
	if (!check_payload_signature(b, policy, error))
		return FALSE;
	b->payload = ota_read_record_replay_new(g_steal_pointer(&record), b->layout.payload_size);
	b->payload_recorded = TRUE;
	return load_plain_manifest(b, error);
}

/* A plain bundle's payload is copied before its digest is known. Before
 * that copy may fill @dir: enough trusted signers must have signed
 * *something* (a bundle no key we trust signed is not worth a byte of the
 * device's storage), and the copy must fit. A genuine signature taken from
 * another bundle passes the first check, so the second is no formality. */
static gboolean check_before_staging(OtaBundle *b, const OtaPolicy *policy, const char *dir,
                                     GError **error)
{
	struct statvfs fs;
	guint64 available;

	if (!ota_signature_check_signers(b->signature, policy, error)) {
		g_prefix_error(error, "signature: ");
		return FALSE;
	}
	if (statvfs(dir, &fs) < 0)
		return bundle_io_error(error, dir, errno);
	available = (guint64)fs.f_bavail * fs.f_frsize;
	if (available < b->layout.payload_size) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO,
		            "%s: %" G_GUINT64_FORMAT " bytes free, too few for a private copy of the %"
		            G_GUINT64_FORMAT "-byte payload",
		            dir, available, b->layout.payload_size);
		return FALSE;
	}
	return TRUE;
}

static gboolean verify_plain(OtaBundle *b, const OtaPolicy *policy, const char *private_copy_dir,
                             GError **error)
{
	if (private_copy_dir == NULL)
		return verify_plain_in_place(b, policy, error);
	if (!check_before_staging(b, policy, private_copy_dir, error))
		return FALSE;
	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("verify", b->layout.payload_size);
	if (!copy_and_hash_payload(b, private_copy_dir, error))
		return FALSE;
	ota_progress_phase_done(phase);
	return check_payload_signature(b, policy, error) && load_plain_manifest(b, error);
}

/* Crypt: the squashfs is the plaintext of the verified ciphertext, each
 * block decrypted only after the verity reader below has checked it, in
 * memory: no plaintext is written anywhere but where the caller puts it. */
static gboolean decrypt_payload(OtaBundle *b, GError **error)
{
	guint8 key[OTA_CRYPT_KEY_LEN];

	/* The manifest parser checked the key's form. */
	if (!ota_crypt_key_from_hex(b->manifest->crypt_key, key))
		g_return_val_if_reached(FALSE);
	b->payload = ota_crypt_reader_new(g_steal_pointer(&b->payload), key, error);
	OPENSSL_cleanse(key, sizeof(key));
	if (b->payload == NULL)
		return FALSE;
	/* Over a URL that would be the first payload fetch: deferred to the
	 * first read of the squashfs, after the install's checks. */
	if (b->remote) {
		b->crypt_check_pending = TRUE;
		return TRUE;
	}
	return ota_crypt_check_decrypts_to_squashfs(b->payload, error);
}

/* As the verity reader's full windows. */
#define VERIFY_READ_SIZE (1024 * 1024)

/* Every data block through @reader (which checks each against the tree):
 * over a URL, where there is no file to hand ota_verity_tree_check(). */
static gboolean read_all_blocks(OtaReader *reader, GError **error)
{
	g_autofree guint8 *buffer = g_malloc(VERIFY_READ_SIZE);

	for (guint64 pos = 0; pos < reader->size; pos += VERIFY_READ_SIZE) {
		gsize n = (gsize)MIN((guint64)VERIFY_READ_SIZE, reader->size - pos);

		if (!ota_reader_read_at(reader, pos, buffer, n, error))
			return FALSE;
		ota_progress_add(n);
	}
	return TRUE;
}

/* Verity and crypt: the signature embeds the manifest. */
static gboolean verify_verity(OtaBundle *b, const OtaPolicy *policy, OtaBundleVerifyFlags flags,
                              GError **error)
{
	if (!ota_signature_verify_content(b->signature, NULL, policy, error)) {
		g_prefix_error(error, "signature: ");
		return FALSE;
	}
	if (!bundle_load_verity_manifest(b, error))
		return FALSE;
	if ((flags & OTA_BUNDLE_VERIFY_PAYLOAD) && !b->remote) {
		g_autoptr(OtaProgressPhase) phase = ota_progress_begin("verify", b->verity.data_size);
		if (!ota_verity_tree_check(b->fd, b->verity.data_size, &b->verity, error))
			return FALSE;
		ota_progress_phase_done(phase);
	}
	b->payload = ota_verity_reader_new_for(b->file, b->verity.data_size, &b->verity, error);
	if (b->payload == NULL)
		return FALSE;
	if ((flags & OTA_BUNDLE_VERIFY_PAYLOAD) && b->remote) {
		g_autoptr(OtaProgressPhase) phase = ota_progress_begin("verify", b->verity.data_size);
		if (!read_all_blocks(b->payload, error))
			return FALSE;
		ota_progress_phase_done(phase);
	}
	return b->format != OTA_BUNDLE_FORMAT_CRYPT || decrypt_payload(b, error);
}

gboolean ota_bundle_verify(OtaBundle *b, const OtaPolicy *policy, OtaBundleVerifyFlags flags,
                           const char *private_copy_dir, GError **error)
{
	g_autoptr(GError) ierror = NULL;
	gboolean ok;

	g_return_val_if_fail(b->payload == NULL, FALSE);

	if (!bundle_check_decrypted(b, error))
		return FALSE;
	if (b->format == OTA_BUNDLE_FORMAT_PLAIN)
		ok = verify_plain(b, policy, private_copy_dir, &ierror);
	else
		ok = verify_verity(b, policy, flags, &ierror);
	if (!ok) {
		bundle_propagate_error(b, error, g_steal_pointer(&ierror));
		return FALSE;
	}
	if (!check_unchanged(b, error))
		return FALSE;
	b->verified = TRUE;
	/* Plain: the signature covers every byte, and every byte was hashed. */
	b->checked = b->format != OTA_BUNDLE_FORMAT_PLAIN && !(flags & OTA_BUNDLE_VERIFY_PAYLOAD)
	                     ? OTA_BUNDLE_CHECKED_SIGNATURE
	                     : OTA_BUNDLE_CHECKED_PAYLOAD;
	return TRUE;
}

gboolean ota_bundle_load_unverified(OtaBundle *b, GError **error)
{
	g_autoptr(GError) ierror = NULL;
	gboolean ok;

	g_return_val_if_fail(b->payload == NULL, FALSE);

	if (!bundle_check_decrypted(b, error))
		return FALSE;
	if (b->format == OTA_BUNDLE_FORMAT_PLAIN) {
		b->payload = ota_reader_new_fd(b->fd, 0, b->layout.payload_size, &ierror);
		ok = b->payload != NULL && load_plain_manifest(b, &ierror);
	} else {
		ok = bundle_load_verity_manifest(b, &ierror);
	}
	if (!ok) {
		bundle_propagate_error(b, error, g_steal_pointer(&ierror));
		return FALSE;
	}
	return TRUE;
}

/* --- contents -------------------------------------------------------------------- */

typedef struct {
	OtaHashPipe *pipe;
	gboolean failed; /* hashing or writing, rather than reading the bundle */
} ImageSink;

static gboolean image_sink_push(const guint8 *data, gsize length, gpointer user_data,
                                GError **error)
{
	ImageSink *sink = user_data;

	sink->failed = !ota_hash_pipe_push(sink->pipe, data, length, error);
	return !sink->failed;
}

/* Streams one image out of the squashfs into @out_fd (or nowhere: -1),
 * with OTA_HASH_PIPE_HASH checking it against the manifest's sha256.
 * Reading (and, for verity, checking each block) and decompressing run
 * here, hashing and writing on a second core. @output_failed tells a
 * failure to hash or write from one to read the bundle. */
static gboolean stream_image(OtaBundle *b, const OtaImage *image, int out_fd,
                             OtaHashPipeFlags flags, gboolean *output_failed, GError **error)
{
	ImageSink sink = {0};
	g_autoptr(OtaReader) file = NULL;
	g_autoptr(OtaSquashfs) file_squashfs = NULL;
	g_autoptr(OtaHashPipe) pipe = NULL;
	OtaSquashfs *source = b->squashfs;
	guint8 digest[OTA_SHA256_LEN];
	char hex[OTA_SHA256_HEX_LEN + 1];

	if (b->payload_recorded) {
		/* Verified in place, b->payload holds the metadata only: the
		 * image comes from the file, which is safe only because every
		 * byte of it is hashed against the verified sha256 below. */
		g_return_val_if_fail(flags & OTA_HASH_PIPE_HASH, FALSE);
		file = ota_reader_new_fd(b->fd, 0, b->layout.payload_size, error);
		if (file == NULL || (file_squashfs = ota_squashfs_open(file, error)) == NULL)
			return FALSE;
		source = file_squashfs;
	}
	pipe = ota_hash_pipe_new(out_fd, flags | OTA_HASH_PIPE_PROGRESS, error);
	if (pipe == NULL)
		return FALSE;
	sink.pipe = pipe;
	if (!ota_squashfs_read_file(source, image->filename, image_sink_push, &sink, error)) {
		*output_failed = sink.failed;
		return FALSE;
	}
	if (!ota_hash_pipe_finish(pipe, digest, error)) {
		*output_failed = TRUE;
		return FALSE;
	}
	if (!(flags & OTA_HASH_PIPE_HASH))
		return TRUE;
	ota_checksum_to_hex(digest, hex);
	if (strcmp(hex, image->sha256) != 0) {
		g_autofree char *filename = ota_text_escape(image->filename);

		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
		            "image '%s': sha256 %s does not match the manifest's %s", filename,
		            hex, image->sha256);
		return FALSE;
	}
	return TRUE;
}

gboolean bundle_stream_image(OtaBundle *b, const OtaImage *image, int out_fd,
                             OtaHashPipeFlags flags, GError **error)
{
	gboolean output_failed = FALSE;

	return stream_image(b, image, out_fd, flags, &output_failed, error);
}

static gboolean check_image_entry(OtaBundle *b, const OtaImage *image, GError **error)
{
	guint64 size = 0;
	OtaCasyncIndex index;

	if (!ota_squashfs_stat_file(b->squashfs, image->filename, &size, error)) {
		g_prefix_error(error, "image [image.%s]: ", image->slotclass);
		return FALSE;
	}
	/* A casync index is what the bundle holds, the manifest's size and
	 * sha256 describe what it rebuilds: the index itself must parse. */
	if (ota_image_get_casync(image) != OTA_IMAGE_CASYNC_NONE)
		return bundle_casync_check_index(b, image, &index, NULL, error);
	if (size != image->size) {
		g_autofree char *filename = ota_text_escape(image->filename);

		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
		            "image '%s': %" G_GUINT64_FORMAT " bytes in the bundle, manifest says %"
		            G_GUINT64_FORMAT, filename, size, image->size);
		return FALSE;
	}
	return TRUE;
}

/* adaptive=block-hash-index: the index must be there and exactly as long
 * as the image needs (RAUC would quietly use a short one or build one from
 * the image, reading all of it; a bundle made by rauc always has it). */
static gboolean check_block_hash_index(OtaBundle *b, const OtaImage *image, GError **error)
{
	g_autofree char *name = NULL;
	guint64 size = 0;

	if (!ota_image_has_adaptive_method(image, OTA_BLOCK_HASH_INDEX_METHOD))
		return TRUE;
	name = g_strconcat(image->filename, OTA_BLOCK_HASH_INDEX_SUFFIX, NULL);
	if (!ota_squashfs_stat_file(b->squashfs, name, &size, error))
		return FALSE;
	if (ota_block_hash_index_check_size(image->size, size, error))
		return TRUE;
	g_autofree char *escaped = ota_text_escape(name);
	g_prefix_error(error, "%s: ", escaped);
	return FALSE;
}

guint64 bundle_images_size(const OtaManifest *m)
{
	guint64 total = 0;

	for (guint i = 0; i < m->images->len; i++)
		total += ((const OtaImage *)g_ptr_array_index(m->images, i))->size;
	return total;
}

static gboolean check_contents(OtaBundle *b, gboolean check_images, GError **error)
{
	const OtaManifest *m = b->manifest;
	guint64 size = 0;

	if (!ensure_squashfs(b, error))
		return FALSE;
	for (guint i = 0; i < m->images->len; i++) {
		if (!check_image_entry(b, g_ptr_array_index(m->images, i), error) ||
		    !check_block_hash_index(b, g_ptr_array_index(m->images, i), error))
			return FALSE;
	}
	if (m->hook_filename && !ota_squashfs_stat_file(b->squashfs, m->hook_filename, &size, error))
		return FALSE;
	if (m->handler_filename &&
	    !ota_squashfs_stat_file(b->squashfs, m->handler_filename, &size, error))
		return FALSE;
	if (!check_images)
		return TRUE;
	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("check images", bundle_images_size(m));
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);

		/* casync: the index was checked above; the image is not here. */
		if (ota_image_get_casync(image) == OTA_IMAGE_CASYNC_NONE &&
		    !bundle_stream_image(b, image, -1, OTA_HASH_PIPE_HASH, error))
			return FALSE;
	}
	ota_progress_phase_done(phase);
	return TRUE;
}

gboolean ota_bundle_check_contents(OtaBundle *b, gboolean check_images, GError **error)
{
	g_autoptr(GError) ierror = NULL;

	g_return_val_if_fail(b->verified, FALSE);

	if (!check_contents(b, check_images, &ierror)) {
		bundle_propagate_error(b, error, g_steal_pointer(&ierror));
		return FALSE;
	}
	if (!check_unchanged(b, error))
		return FALSE;
	if (check_images)
		b->checked = OTA_BUNDLE_CHECKED_IMAGES;
	return TRUE;
}

gboolean bundle_write_image_to(OtaBundle *b, const OtaImage *image, int fd, const char *fd_path,
                               GError **error)
{
	gboolean output_failed = FALSE;

	g_return_val_if_fail(b->verified, FALSE);

	/* The bundle holds only its index: writing that would fail the sha256
	 * check at the end, after the slot was overwritten. */
	if (ota_image_get_casync(image) != OTA_IMAGE_CASYNC_NONE) {
		g_autofree char *filename = ota_text_escape(image->filename);

		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_UNSUPPORTED,
		            "%s: image '%s' is a casync index: it can only be rebuilt with casync "
		            "into a raw slot",
		            b->path, filename);
		return FALSE;
	}
	if (!ensure_squashfs(b, error))
		return FALSE;
	/* Writeback as the slot fills, so that the final fsync() is short. */
	if (!stream_image(b, image, fd, OTA_HASH_PIPE_HASH | OTA_HASH_PIPE_WRITEBACK, &output_failed,
	                  error)) {
		if (!output_failed)
			drop_url(b, *error);
		g_prefix_error(error, "%s: ", output_failed && fd_path ? fd_path : b->path);
		return FALSE;
	}
	return TRUE;
}

gboolean ota_bundle_write_image(OtaBundle *b, const OtaImage *image, int fd, GError **error)
{
	return bundle_write_image_to(b, image, fd, NULL, error);
}

GBytes *ota_bundle_read_file(OtaBundle *b, const char *name, gsize max_size, GError **error)
{
	g_return_val_if_fail(b->verified, NULL);

	if (!ensure_squashfs(b, error))
		return NULL;
	return ota_squashfs_read_small_file(b->squashfs, name, max_size, error);
}

