/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/bundle.h>
#include <otabundle/audit.h>
#include <otabundle/output.h>
#include <otabundle/progress.h>
#include <otabundle/verity.h>

#include <openssl/rand.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(ota-bundle-error-quark, ota_bundle_error)

/* --- layout --------------------------------------------------------------- */

gboolean ota_bundle_layout_parse(guint64 file_size, const guint8 trailer[OTA_BUNDLE_TRAILER_SIZE],
                                 OtaBundleLayout *layout, GError **error)
{
	guint64 sig_size = 0;

	for (int i = 0; i < OTA_BUNDLE_TRAILER_SIZE; i++)
		sig_size = sig_size << 8 | trailer[i];

	if (sig_size == 0) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		                    "signature size is 0");
		return FALSE;
	}
	if (sig_size > OTA_BUNDLE_MAX_SIGNATURE_SIZE) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "signature size %" G_GUINT64_FORMAT " exceeds the %d-byte maximum", sig_size,
		            OTA_BUNDLE_MAX_SIGNATURE_SIZE);
		return FALSE;
	}
	/* sig_size is small here, so the sum cannot overflow. */
	if (sig_size + OTA_BUNDLE_TRAILER_SIZE >= file_size) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "signature size %" G_GUINT64_FORMAT " leaves no payload in a %"
		            G_GUINT64_FORMAT "-byte file", sig_size, file_size);
		return FALSE;
	}
	layout->file_size = file_size;
	layout->signature_size = sig_size;
	layout->payload_size = file_size - OTA_BUNDLE_TRAILER_SIZE - sig_size;
	layout->signature_offset = layout->payload_size;
	if (layout->payload_size % OTA_BUNDLE_PAYLOAD_ALIGNMENT != 0) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "payload size %" G_GUINT64_FORMAT " is not a multiple of %d (truncated or "
		            "padded bundle?)", layout->payload_size, OTA_BUNDLE_PAYLOAD_ALIGNMENT);
		return FALSE;
	}
	return TRUE;
}

void ota_bundle_trailer_encode(guint64 signature_size, guint8 trailer[OTA_BUNDLE_TRAILER_SIZE])
{
	for (int i = OTA_BUNDLE_TRAILER_SIZE - 1; i >= 0; i--) {
		trailer[i] = (guint8)(signature_size & 0xff);
		signature_size >>= 8;
	}
}

/* --- scratch directories ----------------------------------------------------- */

/* A private directory that we fill with flat files only; removed with its
 * contents unless kept. */
typedef struct {
	char *path;
} ScratchDir;

static void scratch_dir_free(ScratchDir *dir)
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
	g_free(dir->path);
	g_free(dir);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScratchDir, scratch_dir_free)

static ScratchDir *scratch_dir_new(const char *template_path, GError **error)
{
	g_autoptr(ScratchDir) dir = g_new0(ScratchDir, 1);
	char *path = g_strdup(template_path);

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

/* --- create ------------------------------------------------------------------- */

/* The images are hashed on their own threads while mksquashfs packs them:
 * both read the same pages from the cache, and the manifest (which needs
 * the hashes) is added to the image afterwards. */
typedef struct {
	GPtrArray *paths;
	OtaChecksum *sums;
	GError *error;
	GThread *thread;
} ImageHashing;

static gpointer image_hashing_run(gpointer data)
{
	ImageHashing *h = data;

	/* h->error tells the result. */
	(void)!ota_checksum_files((const char *const *)h->paths->pdata, h->paths->len, h->sums,
	                          &h->error);
	return NULL;
}

static ImageHashing *image_hashing_start(const char *inputdir, const OtaManifest *m)
{
	ImageHashing *h = g_new0(ImageHashing, 1);

	h->paths = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);
		g_ptr_array_add(h->paths, g_build_filename(inputdir, image->filename, NULL));
	}
	h->sums = g_new0(OtaChecksum, m->images->len);
	h->thread = g_thread_new("ota-image-hashing", image_hashing_run, h);
	return h;
}

static void image_hashing_free(ImageHashing *h)
{
	if (h == NULL)
		return;
	if (h->thread != NULL)
		g_thread_join(h->thread);
	g_ptr_array_unref(h->paths);
	g_free(h->sums);
	g_clear_error(&h->error);
	g_free(h);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImageHashing, image_hashing_free)

/* Waits for the hashes and fills in each image's size and sha256. */
static gboolean image_hashing_finish(ImageHashing *h, OtaManifest *m, GError **error)
{
	guint n = m->images->len;
	GPtrArray *paths = h->paths;
	OtaChecksum *sums = h->sums;

	g_thread_join(g_steal_pointer(&h->thread));
	if (h->error != NULL) {
		g_propagate_error(error, g_steal_pointer(&h->error));
		return FALSE;
	}
	for (guint i = 0; i < n; i++) {
		OtaImage *image = g_ptr_array_index(m->images, i);
		char hex[OTA_SHA256_HEX_LEN + 1];

		ota_checksum_to_hex(sums[i].sha256, hex);
		/* A size or hash already in the input manifest is a claim about
		 * the image: if it is wrong, the wrong image is probably here. */
		if ((image->has_size && image->size != sums[i].size) ||
		    (image->sha256 != NULL && strcmp(image->sha256, hex) != 0)) {
			g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
			            "%s: %s in the manifest does not match the file",
			            (char *)g_ptr_array_index(paths, i),
			            image->has_size && image->size != sums[i].size ? "size" : "sha256");
			return FALSE;
		}
		image->has_size = TRUE;
		image->size = sums[i].size;
		g_free(image->sha256);
		image->sha256 = g_strdup(hex);
	}
	return TRUE;
}

static gboolean check_input_file(const char *inputdir, const char *filename, GError **error)
{
	g_autofree char *path = g_build_filename(inputdir, filename, NULL);
	struct stat st;

	if (lstat(path, &st) < 0) {
		int saved = errno;
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT, "%s: %s", path,
		            g_strerror(saved));
		return FALSE;
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "%s: not a regular file", path);
		return FALSE;
	}
	return TRUE;
}

static OtaManifest *prepare_manifest(const char *inputdir, const OtaCreateOptions *options,
                                     GError **error)
{
	g_autofree char *path = g_build_filename(inputdir, OTA_MANIFEST_FILENAME, NULL);
	g_autoptr(OtaManifest) m = ota_manifest_load(path, error);

	if (m == NULL)
		return NULL;
	if (m->verity_hash || m->verity_salt || m->verity_size || m->crypt_key) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "%s: [bundle] verity and crypt keys are computed by create; remove them",
		            path);
		return NULL;
	}
	if (m->images->len == 0) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "%s: manifest names no image", path);
		return NULL;
	}
	if (options->format_set)
		m->format = options->format;
	else if (!m->has_format)
		m->format = OTA_BUNDLE_DEFAULT_FORMAT;
	if (m->format == OTA_BUNDLE_FORMAT_CRYPT) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_UNSUPPORTED,
		            "%s: the crypt format is not implemented yet", path);
		return NULL;
	}
	m->has_format = m->format != OTA_BUNDLE_FORMAT_PLAIN;

	if (m->hook_filename && !check_input_file(inputdir, m->hook_filename, error))
		return NULL;
	if (m->handler_filename && !check_input_file(inputdir, m->handler_filename, error))
		return NULL;
	/* Hashing runs beside mksquashfs; a missing image must not wait
	 * for the whole pack to be reported. */
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);

		if (!check_input_file(inputdir, image->filename, error))
			return NULL;
	}
	return g_steal_pointer(&m);
}

/* Every top-level entry of @inputdir except its manifest, sorted so that
 * the same input always gives the same image, and their total size.
 * mksquashfs places each source at the image root. */
static GPtrArray *squashfs_sources(const char *inputdir, guint64 *input_bytes, GError **error)
{
	g_autoptr(GPtrArray) sources = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GDir) dir = g_dir_open(inputdir, 0, error);
	const char *name;

	if (dir == NULL)
		return NULL;
	*input_bytes = 0;
	while ((name = g_dir_read_name(dir)) != NULL) {
		char *path;
		struct stat st;

		if (strcmp(name, OTA_MANIFEST_FILENAME) == 0)
			continue;
		path = g_build_filename(inputdir, name, NULL);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			*input_bytes += (guint64)st.st_size;
		g_ptr_array_add(sources, path);
	}
	g_ptr_array_sort(sources, (GCompareFunc)g_strcmp0);
	g_ptr_array_add(sources, NULL);
	return g_steal_pointer(&sources);
}

static gboolean write_file(const char *path, const void *data, gsize length, GError **error)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	gboolean ok;

	if (fd < 0) {
		int saved = errno;
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, "%s: %s", path,
		            g_strerror(saved));
		return FALSE;
	}
	ok = ota_write_all(fd, data, length, error) && fsync(fd) == 0;
	close(fd);
	return ok;
}

static gboolean set_io_error(GError **error, const char *path, int err)
{
	g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, "%s: %s", path, g_strerror(err));
	return FALSE;
}

static gboolean append_signature(int fd, guint64 offset, GBytes *signature, GError **error)
{
	guint8 trailer[OTA_BUNDLE_TRAILER_SIZE];
	gsize sig_len = g_bytes_get_size(signature);

	if (sig_len > OTA_BUNDLE_MAX_SIGNATURE_SIZE) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "signature of %" G_GSIZE_FORMAT " bytes exceeds the %d-byte maximum RAUC "
		            "accepts", sig_len, OTA_BUNDLE_MAX_SIGNATURE_SIZE);
		return FALSE;
	}
	ota_bundle_trailer_encode(sig_len, trailer);
	if (lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		int saved = errno;
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, "seek failed: %s",
		            g_strerror(saved));
		return FALSE;
	}
	return ota_write_all(fd, g_bytes_get_data(signature, NULL), sig_len, error) &&
	       ota_write_all(fd, trailer, sizeof(trailer), error);
}

/* A key given twice adds nothing but a SignerInfo that counts once. */
static gboolean check_distinct_signers(const OtaCreateOptions *options, GError **error)
{
	for (gsize i = 0; i < options->n_signers; i++) {
		for (gsize j = i + 1; j < options->n_signers; j++) {
			if (EVP_PKEY_eq(options->signers[i]->key, options->signers[j]->key) != 1)
				continue;
			g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
			            "%s: same key as signer %s", options->signers[j]->key_uri,
			            options->signers[i]->key_uri);
			return FALSE;
		}
	}
	return TRUE;
}

/* The bundle must be readable by the library that will verify it: refuse,
 * say, an lzo image (libsquashfs is built without lzo) at create time. */
static gboolean check_payload_readable(OtaOutput *out, guint64 size, GError **error)
{
	g_autoptr(OtaReader) reader = ota_reader_new_fd(ota_output_get_fd(out), 0, size, error);
	g_autoptr(OtaSquashfs) squashfs = NULL;
	guint64 manifest_size = 0;

	if (reader == NULL)
		return FALSE;
	squashfs = ota_squashfs_open(reader, error);
	return squashfs != NULL &&
	       ota_squashfs_stat_file(squashfs, OTA_MANIFEST_FILENAME, &manifest_size, error);
}

/* One signature by every signer over content with digest @sha256 (@content
 * embedded, or NULL for detached). Nested: the first signer signs, every
 * other signer's detached signature is nested in it. */
static GBytes *sign_content(OtaSigner *const *signers, gsize n, OtaX509Stack *intermediates,
                            OtaSignatureEncoding encoding, const guint8 sha256[OTA_SHA256_LEN],
                            GBytes *content, GError **error)
{
	g_autoptr(GBytes) primary = NULL;
	g_autoptr(GPtrArray) partials = NULL;

	if (encoding == OTA_SIGNATURE_ENCODING_SIGNER_INFOS || n == 1)
		return ota_signature_sign(signers, n, intermediates, sha256, content, error);

	primary = ota_signature_sign(signers, 1, intermediates, sha256, content, error);
	if (primary == NULL)
		return NULL;
	partials = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	for (gsize i = 1; i < n; i++) {
		GBytes *partial = ota_signature_sign(&signers[i], 1, intermediates, sha256, NULL, error);

		if (partial == NULL)
			return NULL;
		g_ptr_array_add(partials, partial);
	}
	return ota_signature_merge(primary, (GBytes *const *)partials->pdata, partials->len, sha256,
	                           OTA_SIGNATURE_ENCODING_NESTED, error);
}

/* Before the bundle is committed: a signature that can't be logged must
 * not come into existence. */
static gboolean log_signatures(const char *audit_log, const char *operation,
                               OtaSigner *const *signers, gsize n_signers,
                               const char *bundle_path, const char *format,
                               const guint8 digest[OTA_SHA256_LEN], const char *verity_root,
                               GError **error)
{
	OtaAuditEvent event = {operation, bundle_path, format, digest, verity_root};

	if (audit_log == NULL)
		return TRUE;
	return ota_audit_append(audit_log, &event, signers, n_signers, error);
}

static gboolean sign_plain(OtaOutput *out, guint64 size, const OtaCreateOptions *options,
                           const char *bundle_path, GError **error)
{
	g_autoptr(GBytes) signature = NULL;
	OtaChecksum payload;

	ota_progress_begin("hash", size);
	if (!ota_checksum_fd(ota_output_get_fd(out), 0, size, &payload, error))
		return FALSE;
	ota_progress_end();
	signature = sign_content(options->signers, options->n_signers, options->intermediates,
	                         options->encoding, payload.sha256, NULL, error);
	return signature != NULL &&
	       append_signature(ota_output_get_fd(out), size, signature, error) &&
	       log_signatures(options->audit_log, "create", options->signers, options->n_signers,
	                      bundle_path, "plain", payload.sha256, NULL, error);
}

/* Appends the hash tree, completes the manifest with its root, salt and
 * size, and signs that manifest as the CMS content. */
static gboolean sign_verity(OtaOutput *out, guint64 size, OtaManifest *m,
                            const OtaCreateOptions *options, const char *bundle_path,
                            GError **error)
{
	int fd = ota_output_get_fd(out);
	OtaVerityParams params = {0};
	g_autofree char *manifest_data = NULL;
	g_autoptr(GBytes) manifest = NULL;
	g_autoptr(GBytes) signature = NULL;
	guint8 digest[OTA_SHA256_LEN];
	gsize manifest_len = 0;

	/* RAUC wants more than one block of verity data; a tiny squashfs
	 * gets a zero block after it, which squashfs ignores. */
	if (size < 2 * OTA_VERITY_BLOCK_SIZE) {
		if (ftruncate(fd, 2 * OTA_VERITY_BLOCK_SIZE) < 0)
			return set_io_error(error, "cannot pad payload", errno);
		size = 2 * OTA_VERITY_BLOCK_SIZE;
	}
	params.data_size = size;
	if (RAND_bytes(params.salt, sizeof(params.salt)) != 1) {
		ota_set_openssl_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO,
		                      "cannot generate verity salt");
		return FALSE;
	}
	ota_progress_begin("hash tree", size);
	if (!ota_verity_tree_build(fd, size, &params, error))
		return FALSE;
	ota_progress_end();

	g_free(m->verity_hash);
	g_free(m->verity_salt);
	m->verity_hash = g_malloc(OTA_SHA256_HEX_LEN + 1);
	m->verity_salt = g_malloc(OTA_SHA256_HEX_LEN + 1);
	ota_checksum_to_hex(params.root, m->verity_hash);
	ota_checksum_to_hex(params.salt, m->verity_salt);
	m->verity_size = params.tree_size;
	manifest_data = ota_manifest_to_data(m, &manifest_len);
	manifest = g_bytes_new_take(g_steal_pointer(&manifest_data), manifest_len);
	if (!ota_checksum_bytes(manifest, digest, error))
		return FALSE;
	signature = sign_content(options->signers, options->n_signers, options->intermediates,
	                         options->encoding, digest, manifest, error);
	return signature != NULL &&
	       append_signature(fd, size + params.tree_size, signature, error) &&
	       log_signatures(options->audit_log, "create", options->signers, options->n_signers,
	                      bundle_path, "verity", digest, m->verity_hash, error);
}

static gboolean sign_payload(OtaOutput *out, OtaManifest *m, const OtaCreateOptions *options,
                             const char *bundle_path, GError **error)
{
	struct stat st;

	if (fstat(ota_output_get_fd(out), &st) < 0 || st.st_size <= 0) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO,
		                    "mksquashfs wrote no image");
		return FALSE;
	}
	if ((guint64)st.st_size % OTA_BUNDLE_PAYLOAD_ALIGNMENT != 0) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "squashfs image is not padded to %d bytes (do not pass -nopad)",
		            OTA_BUNDLE_PAYLOAD_ALIGNMENT);
		return FALSE;
	}
	if (!check_payload_readable(out, (guint64)st.st_size, error))
		return FALSE;
	if (m->format == OTA_BUNDLE_FORMAT_VERITY)
		return sign_verity(out, (guint64)st.st_size, m, options, bundle_path, error);
	return sign_plain(out, (guint64)st.st_size, options, bundle_path, error);
}

/* Packs the images while they are hashed, then adds the manifest that
 * holds the hashes. */
static gboolean pack(const char *inputdir, OtaManifest *m, const char *const *mksquashfs_args,
                     OtaOutput *out, const char *bundle_path, GError **error)
{
	g_autoptr(ImageHashing) hashing = NULL;
	g_autoptr(GPtrArray) sources = NULL;
	g_autoptr(ScratchDir) scratch = NULL;
	g_autoptr(GError) pack_error = NULL;
	g_autofree char *template_path = NULL;
	g_autofree char *manifest_path = NULL;
	g_autofree char *manifest_data = NULL;
	gsize manifest_len = 0;
	guint64 input_bytes = 0;
	gboolean packed;

	sources = squashfs_sources(inputdir, &input_bytes, error);
	if (sources == NULL)
		return FALSE;
	template_path = g_build_filename(g_get_tmp_dir(), "otabundle-XXXXXX", NULL);
	scratch = scratch_dir_new(template_path, error);
	if (scratch == NULL)
		return FALSE;

	ota_progress_begin("pack", input_bytes);
	hashing = image_hashing_start(inputdir, m);
	packed = ota_squashfs_create((const char *const *)sources->pdata,
	                             ota_output_get_proc_path(out), mksquashfs_args, &pack_error);
	/* An input that can't be hashed is the clearer report. */
	if (!image_hashing_finish(hashing, m, error))
		return FALSE;
	if (!packed) {
		g_propagate_prefixed_error(error, g_steal_pointer(&pack_error), "%s: ", bundle_path);
		return FALSE;
	}
	ota_progress_end();

	manifest_path = g_build_filename(scratch->path, OTA_MANIFEST_FILENAME, NULL);
	manifest_data = ota_manifest_to_data(m, &manifest_len);
	if (!write_file(manifest_path, manifest_data, manifest_len, error) ||
	    !ota_squashfs_append((const char *const[]){manifest_path, NULL},
	                         ota_output_get_proc_path(out), error)) {
		g_prefix_error(error, "%s: ", bundle_path);
		return FALSE;
	}
	return TRUE;
}

gboolean ota_bundle_create(const char *inputdir, const char *bundle_path,
                           const OtaCreateOptions *options, GError **error)
{
	g_autoptr(OtaManifest) m = NULL;
	g_autoptr(OtaOutput) out = NULL;
	g_auto(GStrv) mksquashfs_args = NULL;

	g_return_val_if_fail(options->n_signers > 0, FALSE);

	if (!check_distinct_signers(options, error))
		return FALSE;
	mksquashfs_args = ota_squashfs_build_args(options->compression, options->mksquashfs_args,
	                                          error);
	if (mksquashfs_args == NULL)
		return FALSE;
	if (!g_file_test(inputdir, G_FILE_TEST_IS_DIR)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "%s: not a directory", inputdir);
		return FALSE;
	}
	/* Fail on an existing output before doing any expensive work. */
	out = ota_output_new(bundle_path, options->force, error);
	if (out == NULL)
		return FALSE;

	m = prepare_manifest(inputdir, options, error);
	if (m == NULL)
		return FALSE;
	if (!pack(inputdir, m, (const char *const *)mksquashfs_args, out, bundle_path, error))
		return FALSE;
	if (!sign_payload(out, m, options, bundle_path, error)) {
		g_prefix_error(error, "%s: ", bundle_path);
		return FALSE;
	}
	return ota_output_commit(out, error);
}

/* --- open and verify ----------------------------------------------------------- */

void ota_bundle_free(OtaBundle *b)
{
	if (b == NULL)
		return;
	ota_manifest_free(b->manifest);
	if (b->manifest_data != NULL)
		g_bytes_unref(b->manifest_data);
	ota_squashfs_free(b->squashfs);
	ota_reader_free(b->payload);
	ota_signature_free(b->signature);
	if (b->signature_der != NULL)
		g_bytes_unref(b->signature_der);
	if (b->fd >= 0)
		close(b->fd);
	g_free(b->path);
	g_free(b);
}

static gboolean read_layout_and_signature(OtaBundle *b, GError **error)
{
	guint8 trailer[OTA_BUNDLE_TRAILER_SIZE];
	g_autofree guint8 *der = NULL;
	struct stat st;

	if (fstat(b->fd, &st) < 0)
		return set_io_error(error, b->path, errno);
	b->opened = st;
	if (!S_ISREG(st.st_mode)) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		                    "not a regular file");
		return FALSE;
	}
	if ((guint64)st.st_size < OTA_BUNDLE_TRAILER_SIZE) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "file of %" G_GUINT64_FORMAT " bytes is too short to be a bundle",
		            (guint64)st.st_size);
		return FALSE;
	}
	if (!ota_pread_all(b->fd, trailer, sizeof(trailer),
	                   (guint64)st.st_size - OTA_BUNDLE_TRAILER_SIZE, error) ||
	    !ota_bundle_layout_parse((guint64)st.st_size, trailer, &b->layout, error))
		return FALSE;

	der = g_malloc(b->layout.signature_size);
	if (!ota_pread_all(b->fd, der, b->layout.signature_size, b->layout.signature_offset, error))
		return FALSE;
	b->signature = ota_signature_parse(der, b->layout.signature_size, error);
	if (b->signature == NULL)
		return FALSE;
	b->signature_der = g_bytes_new_take(g_steal_pointer(&der), b->layout.signature_size);

	/* The CMS says which format this is: plain bundles sign the payload
	 * detached; verity (and crypt) bundles sign the manifest inside the
	 * CMS, which tells them apart once it is trusted. */
	b->format = b->signature->detached ? OTA_BUNDLE_FORMAT_PLAIN : OTA_BUNDLE_FORMAT_VERITY;
	return TRUE;
}

OtaBundle *ota_bundle_open(const char *path, GError **error)
{
	g_autoptr(OtaBundle) b = g_new0(OtaBundle, 1);
	g_autoptr(GError) ierror = NULL;

	b->path = g_strdup(path);
	b->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (b->fd < 0) {
		set_io_error(error, path, errno);
		return NULL;
	}
	if (!read_layout_and_signature(b, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", path);
		return NULL;
	}
	return g_steal_pointer(&b);
}

/* A write to the file moves its mtime and ctime; so does truncation. Only
 * plain bundles read in place need this: verity reads check every block,
 * and a private copy can't change. */
static gboolean check_unchanged(OtaBundle *b, GError **error)
{
	struct stat now;

	if (b->private_copy || b->format != OTA_BUNDLE_FORMAT_PLAIN)
		return TRUE;
	if (fstat(b->fd, &now) < 0)
		return set_io_error(error, b->path, errno);
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
	if (b->squashfs == NULL)
		b->squashfs = ota_squashfs_open(b->payload, error);
	return b->squashfs != NULL;
}

static gboolean parse_manifest(OtaBundle *b, GError **error)
{
	b->manifest = ota_manifest_parse(g_bytes_get_data(b->manifest_data, NULL),
	                                 g_bytes_get_size(b->manifest_data), error);
	if (b->manifest == NULL || !ota_manifest_check_complete(b->manifest, error)) {
		g_prefix_error(error, "%s: ", OTA_MANIFEST_FILENAME);
		return FALSE;
	}
	if (b->manifest->format == OTA_BUNDLE_FORMAT_CRYPT) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_UNSUPPORTED,
		                    "bundle is in the crypt format, which this version does not read");
		return FALSE;
	}
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
static gboolean load_verity_manifest(OtaBundle *b, GError **error)
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
	return TRUE;
}

/* An unnamed file in @dir, gone when closed (or when the process dies). */
static int open_private_file(const char *dir, GError **error)
{
	g_autofree char *template_path = NULL;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) {
		if (fd < 0)
			set_io_error(error, dir, errno);
		return fd;
	}
	template_path = g_build_filename(dir, ".otabundle-payload-XXXXXX", NULL);
	fd = g_mkstemp_full(template_path, O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		set_io_error(error, dir, errno);
	else
		unlink(template_path);
	return fd;
}

static gboolean hash_plain_payload(OtaBundle *b, const char *private_copy_dir, GError **error)
{
	int src = b->fd;
	int copy_fd = -1;
	gboolean ok;

	if (private_copy_dir != NULL) {
		b->private_copy = TRUE;
		copy_fd = open_private_file(private_copy_dir, error);
		if (copy_fd < 0)
			return FALSE;
		ok = ota_checksum_copy_fd(b->fd, 0, b->layout.payload_size, copy_fd,
		                          &b->payload_checksum, error);
		src = copy_fd;
	} else {
		ok = ota_checksum_fd(b->fd, 0, b->layout.payload_size, &b->payload_checksum, error);
	}
	if (ok)
		b->payload = ota_reader_new_fd(src, 0, b->layout.payload_size, error);
	if (copy_fd >= 0)
		close(copy_fd);
	return ok && b->payload != NULL;
}

static gboolean verify_plain(OtaBundle *b, const OtaPolicy *policy, const char *private_copy_dir,
                             GError **error)
{
	ota_progress_begin("verify", b->layout.payload_size);
	if (!hash_plain_payload(b, private_copy_dir, error))
		return FALSE;
	ota_progress_end();
	if (!ota_signature_verify(b->signature, b->payload_checksum.sha256, policy, error)) {
		g_prefix_error(error, "signature: ");
		return FALSE;
	}
	return load_plain_manifest(b, error);
}

static gboolean verify_verity(OtaBundle *b, const OtaPolicy *policy, OtaBundleVerifyFlags flags,
                              GError **error)
{
	if (!ota_signature_verify(b->signature, NULL, policy, error)) {
		g_prefix_error(error, "signature: ");
		return FALSE;
	}
	if (!load_verity_manifest(b, error))
		return FALSE;
	if (flags & OTA_BUNDLE_VERIFY_PAYLOAD) {
		ota_progress_begin("verify", b->verity.data_size);
		if (!ota_verity_tree_check(b->fd, b->verity.data_size, &b->verity, error))
			return FALSE;
		ota_progress_end();
	}
	b->payload = ota_verity_reader_new(b->fd, b->verity.data_size, &b->verity, error);
	return b->payload != NULL;
}

gboolean ota_bundle_verify(OtaBundle *b, const OtaPolicy *policy, OtaBundleVerifyFlags flags,
                           const char *private_copy_dir, GError **error)
{
	g_autoptr(GError) ierror = NULL;
	gboolean ok;

	g_return_val_if_fail(b->payload == NULL, FALSE);

	if (b->format == OTA_BUNDLE_FORMAT_PLAIN)
		ok = verify_plain(b, policy, private_copy_dir, &ierror);
	else
		ok = verify_verity(b, policy, flags, &ierror);
	if (!ok) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", b->path);
		return FALSE;
	}
	if (!check_unchanged(b, error))
		return FALSE;
	b->verified = TRUE;
	return TRUE;
}

gboolean ota_bundle_load_unverified(OtaBundle *b, GError **error)
{
	g_autoptr(GError) ierror = NULL;
	gboolean ok;

	g_return_val_if_fail(b->payload == NULL, FALSE);

	if (b->format == OTA_BUNDLE_FORMAT_PLAIN) {
		b->payload = ota_reader_new_fd(b->fd, 0, b->layout.payload_size, &ierror);
		ok = b->payload != NULL && load_plain_manifest(b, &ierror);
	} else {
		ok = load_verity_manifest(b, &ierror);
	}
	if (!ok) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", b->path);
		return FALSE;
	}
	return TRUE;
}

/* --- contents -------------------------------------------------------------------- */

static gboolean image_sink_push(const guint8 *data, gsize length, gpointer user_data,
                                GError **error)
{
	return ota_hash_pipe_push(user_data, data, length, error);
}

/* Streams one image out of the squashfs into @out_fd (or nowhere: -1),
 * with OTA_HASH_PIPE_HASH checking it against the manifest's sha256.
 * Reading (and, for verity, checking each block) and decompressing run
 * here, hashing and writing on a second core. */
static gboolean stream_image(OtaBundle *b, const OtaImage *image, int out_fd,
                             OtaHashPipeFlags flags, GError **error)
{
	g_autoptr(OtaHashPipe) pipe = ota_hash_pipe_new(out_fd, flags | OTA_HASH_PIPE_PROGRESS, error);
	guint8 digest[OTA_SHA256_LEN];
	char hex[OTA_SHA256_HEX_LEN + 1];

	if (pipe == NULL ||
	    !ota_squashfs_read_file(b->squashfs, image->filename, image_sink_push, pipe, error) ||
	    !ota_hash_pipe_finish(pipe, digest, error))
		return FALSE;
	if (!(flags & OTA_HASH_PIPE_HASH))
		return TRUE;
	ota_checksum_to_hex(digest, hex);
	if (strcmp(hex, image->sha256) != 0) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
		            "image '%s': sha256 %s does not match the manifest's %s", image->filename,
		            hex, image->sha256);
		return FALSE;
	}
	return TRUE;
}

static gboolean check_image_entry(OtaBundle *b, const OtaImage *image, GError **error)
{
	guint64 size = 0;

	if (!ota_squashfs_stat_file(b->squashfs, image->filename, &size, error)) {
		g_prefix_error(error, "image [image.%s]: ", image->slotclass);
		return FALSE;
	}
	if (size != image->size) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
		            "image '%s': %" G_GUINT64_FORMAT " bytes in the bundle, manifest says %"
		            G_GUINT64_FORMAT, image->filename, size, image->size);
		return FALSE;
	}
	return TRUE;
}

static guint64 images_size(const OtaManifest *m)
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
		if (!check_image_entry(b, g_ptr_array_index(m->images, i), error))
			return FALSE;
	}
	if (m->hook_filename && !ota_squashfs_stat_file(b->squashfs, m->hook_filename, &size, error))
		return FALSE;
	if (m->handler_filename &&
	    !ota_squashfs_stat_file(b->squashfs, m->handler_filename, &size, error))
		return FALSE;
	if (!check_images)
		return TRUE;
	ota_progress_begin("check images", images_size(m));
	for (guint i = 0; i < m->images->len; i++) {
		if (!stream_image(b, g_ptr_array_index(m->images, i), -1, OTA_HASH_PIPE_HASH, error))
			return FALSE;
	}
	ota_progress_end();
	return TRUE;
}

gboolean ota_bundle_check_contents(OtaBundle *b, gboolean check_images, GError **error)
{
	g_autoptr(GError) ierror = NULL;

	g_return_val_if_fail(b->verified, FALSE);

	if (!check_contents(b, check_images, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", b->path);
		return FALSE;
	}
	return check_unchanged(b, error);
}

gboolean ota_bundle_write_image(OtaBundle *b, const OtaImage *image, int fd, GError **error)
{
	g_return_val_if_fail(b->verified, FALSE);

	if (!ensure_squashfs(b, error))
		return FALSE;
	/* Writeback as the slot fills, so that the final fsync() is short. */
	if (!stream_image(b, image, fd, OTA_HASH_PIPE_HASH | OTA_HASH_PIPE_WRITEBACK, error)) {
		g_prefix_error(error, "%s: ", b->path);
		return FALSE;
	}
	return TRUE;
}

GBytes *ota_bundle_read_file(OtaBundle *b, const char *name, gsize max_size, GError **error)
{
	g_return_val_if_fail(b->verified, NULL);

	if (!ensure_squashfs(b, error))
		return NULL;
	return ota_squashfs_read_small_file(b->squashfs, name, max_size, error);
}

/* --- extract --------------------------------------------------------------------- */

static int create_in(int dirfd, const char *dir, const char *name, mode_t mode, GError **error)
{
	/* Names were checked by the manifest parser to hold no '/'; O_EXCL and
	 * O_NOFOLLOW make sure nothing but a new file in @dirfd is written. */
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0)
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, "%s/%s: %s", dir, name,
		            g_strerror(errno));
	return fd;
}

static gboolean finish_file(int fd, const char *name, gboolean ok, GError **error)
{
	if (ok && fsync(fd) < 0) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, "%s: fsync failed: %s", name,
		            g_strerror(errno));
		ok = FALSE;
	}
	close(fd);
	return ok;
}

static gboolean copy_out_file(OtaBundle *b, int dirfd, const char *dir, const char *name,
                              GError **error)
{
	g_autoptr(GBytes) data = NULL;
	int fd;

	/* Hook and handler scripts are small; a huge one is refused rather
	 * than held in memory. */
	data = ota_squashfs_read_small_file(b->squashfs, name, 16 * 1024 * 1024, error);
	if (data == NULL)
		return FALSE;
	/* Hook and handler files are programs the installer runs. */
	fd = create_in(dirfd, dir, name, 0755, error);
	if (fd < 0)
		return FALSE;
	return finish_file(fd, name,
	                   ota_write_all(fd, g_bytes_get_data(data, NULL), g_bytes_get_size(data),
	                                 error),
	                   error);
}

#define EXTRACT_FLAGS (OTA_HASH_PIPE_SPARSE | OTA_HASH_PIPE_DIRECT)

static gboolean extract_into(OtaBundle *b, const char *dir, GError **error)
{
	const OtaManifest *m = b->manifest;
	g_autoptr(GHashTable) written = g_hash_table_new(g_str_hash, g_str_equal);
	gboolean ok = TRUE;
	int dirfd, fd;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return set_io_error(error, dir, errno);

	fd = create_in(dirfd, dir, OTA_MANIFEST_FILENAME, 0644, error);
	ok = fd >= 0 &&
	     finish_file(fd, OTA_MANIFEST_FILENAME,
	                 ota_write_all(fd, g_bytes_get_data(b->manifest_data, NULL),
	                               g_bytes_get_size(b->manifest_data), error),
	                 error);
	g_hash_table_add(written, (gpointer)OTA_MANIFEST_FILENAME);

	ota_progress_begin("extract", images_size(m));
	for (guint i = 0; ok && i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);

		if (!g_hash_table_add(written, image->filename))
			continue;
		fd = create_in(dirfd, dir, image->filename, 0644, error);
		/* Not hashed again: every byte read here was authenticated already
		 * (verity: each block against the signed root; plain: the private
		 * copy whose digest the signature covers). Zeros become holes, as
		 * unsquashfs makes them. O_DIRECT: the files are fsynced anyway,
		 * and so skip a copy through the page cache. */
		ok = fd >= 0 && finish_file(fd, image->filename,
		                            stream_image(b, image, fd, EXTRACT_FLAGS, error),
		                            error);
	}
	if (ok)
		ota_progress_end();
	if (ok && m->hook_filename && g_hash_table_add(written, m->hook_filename))
		ok = copy_out_file(b, dirfd, dir, m->hook_filename, error);
	if (ok && m->handler_filename && g_hash_table_add(written, m->handler_filename))
		ok = copy_out_file(b, dirfd, dir, m->handler_filename, error);
	if (ok && fsync(dirfd) < 0)
		ok = set_io_error(error, dir, errno);
	close(dirfd);
	return ok;
}

static gboolean check_outdir_usable(const char *outdir, GError **error)
{
	g_autoptr(GDir) dir = NULL;
	struct stat st;

	if (lstat(outdir, &st) < 0)
		return errno == ENOENT ? TRUE : set_io_error(error, outdir, errno);
	if (!S_ISDIR(st.st_mode)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_EXISTS,
		            "%s: exists and is not a directory", outdir);
		return FALSE;
	}
	dir = g_dir_open(outdir, 0, NULL);
	if (dir == NULL || g_dir_read_name(dir) != NULL) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_EXISTS,
		            "%s: output directory is not empty", outdir);
		return FALSE;
	}
	return TRUE;
}

gboolean ota_bundle_extract(const char *bundle_path, const OtaPolicy *policy, const char *outdir,
                            GError **error)
{
	g_autoptr(OtaBundle) b = NULL;
	g_autoptr(ScratchDir) staging = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *clean = g_canonicalize_filename(outdir, NULL);
	g_autofree char *parent = g_path_get_dirname(clean);
	g_autofree char *base = g_path_get_basename(clean);
	g_autofree char *template_path = NULL;

	if (!check_outdir_usable(outdir, error))
		return FALSE;
	if (!g_file_test(parent, G_FILE_TEST_IS_DIR)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO,
		            "%s: parent directory does not exist", outdir);
		return FALSE;
	}
	b = ota_bundle_open(bundle_path, error);
	if (b == NULL)
		return FALSE;

	/* Staged beside OUTDIR, so the final rename is atomic and a failure
	 * leaves OUTDIR untouched. The private payload copy lives there too. */
	template_path = g_strdup_printf("%s/.%s.XXXXXX", parent, base);
	staging = scratch_dir_new(template_path, error);
	if (staging == NULL)
		return FALSE;
	/* Verity needs no copy and no full tree pass here: every block
	 * extraction reads is checked against the signed root as it is read. */
	if (!ota_bundle_verify(b, policy, 0, staging->path, error) ||
	    !ota_bundle_check_contents(b, FALSE, error))
		return FALSE;
	if (!extract_into(b, staging->path, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", bundle_path);
		return FALSE;
	}
	/* Staged 0700 so nobody reads a half-written image; published 0755. */
	if (chmod(staging->path, 0755) < 0 || rename(staging->path, clean) < 0)
		return set_io_error(error, outdir, errno);
	g_clear_pointer(&staging->path, g_free);
	return TRUE;
}

/* --- signing existing bundles ------------------------------------------------- */

/* The kernel copies where it can (reflink or server-side copy); user space
 * only where copy_file_range() can't cross these two files. Chunked so that
 * progress shows and a cancelled copy stops soon. */
#define COPY_CHUNK ((guint64)64 * 1024 * 1024)

static gboolean copy_range(int in_fd, int out_fd, guint64 length, const gint *cancelled,
                           GError **error)
{
	g_autofree guint8 *buf = NULL;
	loff_t in_off = 0, out_off = 0;

	while ((guint64)in_off < length && !g_atomic_int_get(cancelled)) {
		ssize_t n = copy_file_range(in_fd, &in_off, out_fd, &out_off,
		                            (size_t)MIN(length - (guint64)in_off, COPY_CHUNK), 0);

		if (n > 0) {
			ota_progress_add((guint64)n);
			continue;
		}
		if (n == 0) {
			g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO,
			                    "bundle ended early while copying");
			return FALSE;
		}
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL)
			return set_io_error(error, "copy failed", errno);
		break;
	}
	buf = g_malloc(1024 * 1024);
	while ((guint64)in_off < length && !g_atomic_int_get(cancelled)) {
		gsize chunk = (gsize)MIN(length - (guint64)in_off, (guint64)1024 * 1024);

		if (!ota_pread_all(in_fd, buf, chunk, (guint64)in_off, error) ||
		    lseek(out_fd, out_off, SEEK_SET) < 0 || !ota_write_all(out_fd, buf, chunk, error))
			return FALSE;
		in_off += (loff_t)chunk;
		out_off += (loff_t)chunk;
		ota_progress_add(chunk);
	}
	return TRUE;
}

/* A re-signed bundle: the old payload (and verity tree) copied into a new
 * output on a thread while the caller checks and makes the signature, then
 * the new signature appended. Until finished, nothing is at @path. */
typedef struct {
	OtaBundle *bundle; /* borrowed */
	char *path;
	OtaOutput *out;
	GThread *copier;
	gint cancelled;
	GError *copy_error;
} Resigned;

static gpointer resigned_copy_run(gpointer data)
{
	Resigned *r = data;

	(void)!copy_range(r->bundle->fd, ota_output_get_fd(r->out), r->bundle->layout.signature_offset,
	                  &r->cancelled, &r->copy_error);
	return NULL;
}

static void resigned_free(Resigned *r)
{
	if (r == NULL)
		return;
	if (r->copier != NULL) {
		g_atomic_int_set(&r->cancelled, 1);
		g_thread_join(r->copier);
	}
	ota_output_free(r->out);
	g_clear_error(&r->copy_error);
	g_free(r->path);
	g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Resigned, resigned_free)

static Resigned *resigned_start(OtaBundle *b, const char *path, gboolean force, GError **error)
{
	g_autoptr(Resigned) r = g_new0(Resigned, 1);
	guint64 hashed = b->format == OTA_BUNDLE_FORMAT_PLAIN ? b->layout.payload_size : 0;

	r->bundle = b;
	r->path = g_strdup(path);
	r->out = ota_output_new(path, force, error);
	if (r->out == NULL)
		return NULL;
	/* Plain: the old signature's check hashes the payload meanwhile. */
	ota_progress_begin("copy", b->layout.signature_offset + hashed);
	r->copier = g_thread_new("ota-copy", resigned_copy_run, r);
	return g_steal_pointer(&r);
}

static gboolean resigned_finish(Resigned *r, GBytes *signature, GError **error)
{
	int fd = ota_output_get_fd(r->out);

	g_thread_join(g_steal_pointer(&r->copier));
	if (r->copy_error != NULL) {
		g_propagate_prefixed_error(error, g_steal_pointer(&r->copy_error), "%s: ", r->path);
		return FALSE;
	}
	ota_progress_end();
	if (!append_signature(fd, r->bundle->layout.signature_offset, signature, error)) {
		g_prefix_error(error, "%s: ", r->path);
		return FALSE;
	}
	return ota_output_commit(r->out, error);
}

/* The digest every signature of @b signs (plain: the payload's, in one
 * streamed pass; verity: the manifest's), with the existing signatures
 * checked: against @policy when given, else cryptographically. */
static gboolean signed_digest(OtaBundle *b, const OtaPolicy *policy,
                              guint8 digest[OTA_SHA256_LEN], GError **error)
{
	g_autoptr(GBytes) content = NULL;
	const guint8 *detached = NULL;
	g_autoptr(GError) ierror = NULL;

	if (policy != NULL) {
		if (!ota_bundle_verify(b, policy, 0, NULL, error))
			return FALSE;
	} else if (b->format == OTA_BUNDLE_FORMAT_PLAIN &&
	           !ota_checksum_fd(b->fd, 0, b->layout.payload_size, &b->payload_checksum, error)) {
		g_prefix_error(error, "%s: ", b->path);
		return FALSE;
	}
	if (b->format == OTA_BUNDLE_FORMAT_PLAIN) {
		memcpy(digest, b->payload_checksum.sha256, OTA_SHA256_LEN);
		detached = digest;
	} else {
		content = ota_signature_get_content(b->signature);
		if (content == NULL) {
			g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
			            "%s: signature embeds no manifest", b->path);
			return FALSE;
		}
		if (!ota_checksum_bytes(content, digest, error))
			return FALSE;
	}
	if (policy == NULL && !ota_signature_check_crypto(b->signature, detached, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: signature: ", b->path);
		return FALSE;
	}
	/* The verity manifest (for the audit log's root hash), now that its
	 * signatures are known to be intact. */
	if (b->manifest == NULL && b->format == OTA_BUNDLE_FORMAT_VERITY &&
	    !load_verity_manifest(b, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", b->path);
		return FALSE;
	}
	return TRUE;
}

static const char *verity_root_of(OtaBundle *b)
{
	return b->manifest != NULL ? b->manifest->verity_hash : NULL;
}

static GBytes *read_partial(const char *path, GError **error)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) ierror = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &data, &len, &ierror)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, "%s", ierror->message);
		return NULL;
	}
	if (len == 0 || len > OTA_BUNDLE_MAX_SIGNATURE_SIZE) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "%s: a signature must be 1 to %d bytes", path, OTA_BUNDLE_MAX_SIGNATURE_SIZE);
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&data), len);
}

gboolean ota_bundle_add_signers(const char *in_path, const char *out_path,
                                const OtaSignOptions *options, GError **error)
{
	g_autoptr(OtaBundle) b = ota_bundle_open(in_path, error);
	g_autoptr(Resigned) r = NULL;
	g_autoptr(GBytes) partial = NULL;
	g_autoptr(GBytes) signature = NULL;
	guint8 digest[OTA_SHA256_LEN];

	g_return_val_if_fail(options->n_signers > 0, FALSE);

	if (b == NULL)
		return FALSE;
	r = resigned_start(b, out_path, options->force, error);
	if (r == NULL || !signed_digest(b, options->policy, digest, error))
		return FALSE;
	/* The new signers' own detached signature, merged like any partial. */
	partial = sign_content(options->signers, options->n_signers, options->intermediates,
	                       OTA_SIGNATURE_ENCODING_SIGNER_INFOS, digest, NULL, error);
	if (partial == NULL)
		return FALSE;
	signature = ota_signature_merge(b->signature_der, &partial, 1, digest, options->encoding,
	                                error);
	return signature != NULL &&
	       log_signatures(options->audit_log, "sign", options->signers, options->n_signers,
	                      out_path, ota_bundle_format_to_string(b->format), digest,
	                      verity_root_of(b), error) &&
	       resigned_finish(r, signature, error);
}

gboolean ota_bundle_sign_detached(const char *bundle_path, const char *sig_path,
                                  const OtaSignOptions *options, GError **error)
{
	g_autoptr(OtaBundle) b = ota_bundle_open(bundle_path, error);
	g_autoptr(GBytes) partial = NULL;
	g_autoptr(OtaOutput) out = NULL;
	guint8 digest[OTA_SHA256_LEN];

	g_return_val_if_fail(options->n_signers > 0, FALSE);

	if (b == NULL)
		return FALSE;
	out = ota_output_new(sig_path, options->force, error);
	if (out == NULL || !signed_digest(b, options->policy, digest, error))
		return FALSE;
	partial = sign_content(options->signers, options->n_signers, options->intermediates,
	                       OTA_SIGNATURE_ENCODING_SIGNER_INFOS, digest, NULL, error);
	if (partial == NULL ||
	    !log_signatures(options->audit_log, "sign-detached", options->signers,
	                    options->n_signers, bundle_path, ota_bundle_format_to_string(b->format),
	                    digest, verity_root_of(b), error))
		return FALSE;
	if (!ota_write_all(ota_output_get_fd(out), g_bytes_get_data(partial, NULL),
	                   g_bytes_get_size(partial), error)) {
		g_prefix_error(error, "%s: ", sig_path);
		return FALSE;
	}
	return ota_output_commit(out, error);
}

gboolean ota_bundle_merge(const char *in_path, const char *out_path,
                          const char *const *sig_paths, gsize n_sigs,
                          const OtaSignOptions *options, GError **error)
{
	g_autoptr(OtaBundle) b = ota_bundle_open(in_path, error);
	g_autoptr(Resigned) r = NULL;
	g_autoptr(GPtrArray) partials = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_autoptr(GBytes) signature = NULL;
	guint8 digest[OTA_SHA256_LEN];

	if (b == NULL)
		return FALSE;
	r = resigned_start(b, out_path, options->force, error);
	if (r == NULL || !signed_digest(b, options->policy, digest, error))
		return FALSE;
	for (gsize i = 0; i < n_sigs; i++) {
		g_autoptr(GError) ierror = NULL;
		g_autoptr(GBytes) partial = read_partial(sig_paths[i], error);
		g_autoptr(OtaSignature) parsed = NULL;

		if (partial == NULL)
			return FALSE;
		/* Checked one by one so that an error names the file at fault. */
		parsed = ota_signature_parse(g_bytes_get_data(partial, NULL), g_bytes_get_size(partial),
		                             &ierror);
		if (parsed == NULL || !ota_signature_check_crypto(parsed, digest, &ierror)) {
			g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", sig_paths[i]);
			return FALSE;
		}
		g_ptr_array_add(partials, g_steal_pointer(&partial));
	}
	signature = ota_signature_merge(b->signature_der, (GBytes *const *)partials->pdata,
	                                partials->len, digest, options->encoding, error);
	return signature != NULL && resigned_finish(r, signature, error);
}

gboolean ota_bundle_resign(const char *in_path, const char *out_path,
                           const OtaSignOptions *options, GError **error)
{
	g_autoptr(OtaBundle) b = ota_bundle_open(in_path, error);
	g_autoptr(Resigned) r = NULL;
	g_autoptr(GBytes) content = NULL;
	g_autoptr(GBytes) signature = NULL;
	guint8 digest[OTA_SHA256_LEN];

	g_return_val_if_fail(options->n_signers > 0, FALSE);

	if (b == NULL)
		return FALSE;
	r = resigned_start(b, out_path, options->force, error);
	if (r == NULL || !signed_digest(b, options->policy, digest, error))
		return FALSE;
	/* Verity: the new CMS embeds the very manifest bytes the old one did. */
	if (b->format == OTA_BUNDLE_FORMAT_VERITY)
		content = ota_signature_get_content(b->signature);
	signature = sign_content(options->signers, options->n_signers, options->intermediates,
	                         options->encoding, digest, content, error);
	return signature != NULL &&
	       log_signatures(options->audit_log, "resign", options->signers, options->n_signers,
	                      out_path, ota_bundle_format_to_string(b->format), digest,
	                      verity_root_of(b), error) &&
	       resigned_finish(r, signature, error);
}

gboolean ota_bundle_extract_signature(const char *bundle_path, const char *sig_path,
                                      gboolean force, GError **error)
{
	g_autoptr(OtaBundle) b = ota_bundle_open(bundle_path, error);
	g_autoptr(OtaOutput) out = NULL;

	if (b == NULL)
		return FALSE;
	out = ota_output_new(sig_path, force, error);
	if (out == NULL)
		return FALSE;
	if (!ota_write_all(ota_output_get_fd(out), g_bytes_get_data(b->signature_der, NULL),
	                   g_bytes_get_size(b->signature_der), error)) {
		g_prefix_error(error, "%s: ", sig_path);
		return FALSE;
	}
	return ota_output_commit(out, error);
}

/* The replacement must sign what the bundle's signature signs: for plain
 * the payload digest, for verity the identical embedded manifest. */
static gboolean check_replacement(OtaBundle *b, OtaSignature *replacement,
                                  const guint8 digest[OTA_SHA256_LEN], const OtaPolicy *policy,
                                  GError **error)
{
	g_autoptr(GBytes) old_content = NULL;
	g_autoptr(GBytes) new_content = NULL;

	if (replacement->detached != b->signature->detached) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
		                    b->signature->detached
		                            ? "a plain bundle needs a detached signature"
		                            : "a verity bundle needs a signature embedding its manifest");
		return FALSE;
	}
	if (!replacement->detached) {
		old_content = ota_signature_get_content(b->signature);
		new_content = ota_signature_get_content(replacement);
		if (old_content == NULL || new_content == NULL ||
		    !g_bytes_equal(old_content, new_content)) {
			g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
			                    "signature embeds another manifest than this bundle's");
			return FALSE;
		}
	}
	return ota_signature_verify(replacement, replacement->detached ? digest : NULL, policy,
	                            error);
}

gboolean ota_bundle_replace_signature(const char *in_path, const char *sig_path,
                                      const char *out_path, const OtaPolicy *policy,
                                      gboolean force, GError **error)
{
	g_autoptr(OtaBundle) b = ota_bundle_open(in_path, error);
	g_autoptr(Resigned) r = NULL;
	g_autoptr(GBytes) der = NULL;
	g_autoptr(OtaSignature) replacement = NULL;
	g_autoptr(GError) ierror = NULL;
	guint8 digest[OTA_SHA256_LEN];

	if (b == NULL)
		return FALSE;
	der = read_partial(sig_path, error);
	if (der == NULL)
		return FALSE;
	r = resigned_start(b, out_path, force, error);
	if (r == NULL)
		return FALSE;
	/* The old signature need not be trusted (that is why it is being
	 * replaced), but it must be intact: it tells what content is signed. */
	if (!signed_digest(b, NULL, digest, error))
		return FALSE;
	replacement = ota_signature_parse(g_bytes_get_data(der, NULL), g_bytes_get_size(der), &ierror);
	if (replacement == NULL || !check_replacement(b, replacement, digest, policy, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", sig_path);
		return FALSE;
	}
	return resigned_finish(r, der, error);
}
