/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* otabundle create: pack an input directory into a signed bundle. */
#include "bundle-private.h"

#include <otabundle/text.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block-hash-index-private.h"
#include "crypt-private.h"
#include "error-private.h"
#include "manifest-private.h"
#include "openssl-private.h"
#include "output-private.h"
#include "progress-private.h"
#include "verity-private.h"

/* The images are hashed on their own threads while mksquashfs packs them:
 * both read the same pages from the cache, and the manifest (which needs
 * the hashes) is added to the image afterwards. Hash and pack read each
 * image separately, so an image must not change until both are done. */
typedef struct {
	GPtrArray *paths;
	struct stat *before; /* of each image, before either read it */
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
	h->before = g_new0(struct stat, m->images->len);
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);
		char *path = g_build_filename(inputdir, image->filename, NULL);

		/* A failure leaves zeros, which no later lstat() matches. */
		(void)lstat(path, &h->before[i]);
		g_ptr_array_add(h->paths, path);
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
	g_free(h->before);
	g_free(h->sums);
	g_clear_error(&h->error);
	g_free(h);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImageHashing, image_hashing_free)

static gboolean same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Waits for the hashes and fills in each image's size and sha256; call
 * it when the images have been packed too. */
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
		struct stat after;

		/* Else the packed image and its manifest hash may differ. */
		if (lstat(g_ptr_array_index(paths, i), &after) < 0 ||
		    !same_file_state(&h->before[i], &after)) {
			g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
			            "%s: changed while it was being packed",
			            (char *)g_ptr_array_index(paths, i));
			return FALSE;
		}
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
		return ota_set_io_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT, path, NULL,
		                        errno);
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "%s: not a regular file", path);
		return FALSE;
	}
	return TRUE;
}

/* The payload key of a crypt bundle, wiped when it goes out of scope. */
typedef struct {
	guint8 key[OTA_CRYPT_KEY_LEN];
	gboolean set;
} CryptKey;

static void crypt_key_clear(CryptKey *crypt)
{
	OPENSSL_cleanse(crypt, sizeof(*crypt));
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CryptKey, crypt_key_clear)

static gboolean reproducible_time(const OtaCreateOptions *options, gboolean *reproducible,
                                  guint32 *time, GError **error);

/* Where a crypt bundle's key comes from. A random key (the default) would
 * make a reproducible build differ each time, and a derived key is
 * predictable to whoever holds the plaintext: a reproducible build must say
 * which key it wants, it never gets one silently. */
static gboolean check_crypt_key_options(const OtaCreateOptions *options, OtaBundleFormat format,
                                        GError **error)
{
	gboolean reproducible;
	guint32 time;

	if (options->crypt_key_file != NULL && options->derive_crypt_key) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		                    "--crypt-key-file and --derive-crypt-key exclude each other");
		return FALSE;
	}
	if (format != OTA_BUNDLE_FORMAT_CRYPT) {
		if (options->crypt_key_file == NULL && !options->derive_crypt_key)
			return TRUE;
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "%s is for crypt bundles, not %s ones",
		            options->derive_crypt_key ? "--derive-crypt-key" : "--crypt-key-file",
		            ota_bundle_format_to_string(format));
		return FALSE;
	}
	/* rauc bundle (whose drop-in sets rauc_defaults) takes a random key
	 * whatever SOURCE_DATE_EPOCH says, and build systems set that always. */
	if (options->crypt_key_file != NULL || options->derive_crypt_key || options->rauc_defaults)
		return TRUE;
	if (!reproducible_time(options, &reproducible, &time, error))
		return FALSE;
	if (!reproducible)
		return TRUE;
	g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
	                    "a reproducible crypt bundle (SOURCE_DATE_EPOCH or --reproducible) needs "
	                    "--crypt-key-file FILE or --derive-crypt-key: a random key would change "
	                    "it on every build");
	return FALSE;
}

/* adaptive=: RAUC knows one method; like `rauc bundle`, create refuses any
 * other (a device that doesn't know a method installs the image whole,
 * which would silently lose what the method was asked for), and an image
 * an index can't describe. */
static gboolean check_adaptive(const char *inputdir, const OtaImage *image, GError **error)
{
	g_auto(GStrv) methods = ota_image_get_adaptive_methods(image);
	g_autofree char *path = g_build_filename(inputdir, image->filename, NULL);
	struct stat st;

	for (char **method = methods; *method; method++) {
		if (strcmp(*method, OTA_BLOCK_HASH_INDEX_METHOD) != 0) {
			g_autofree char *escaped = ota_text_escape(*method);

			g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
			            "%s: unsupported adaptive method '%s' (known: %s)", path, escaped,
			            OTA_BLOCK_HASH_INDEX_METHOD);
			return FALSE;
		}
	}
	if (methods[0] == NULL)
		return TRUE;
	if (lstat(path, &st) < 0)
		return ota_set_io_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT, path, NULL,
		                        errno);
	if (!ota_block_hash_index_check_image_size((guint64)st.st_size, error)) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	return TRUE;
}

static OtaManifest *prepare_manifest(const char *inputdir, const OtaCreateOptions *options,
                                     GError **error)
{
	g_autofree char *path = g_build_filename(inputdir, OTA_MANIFEST_FILENAME, NULL);
	g_autoptr(OtaManifest) m = ota_manifest_load_with_settings(path, options->settings, error);

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
		m->format = options->rauc_defaults ? OTA_BUNDLE_FORMAT_PLAIN : OTA_BUNDLE_DEFAULT_FORMAT;
	if (!check_crypt_key_options(options, m->format, error)) {
		g_prefix_error(error, "%s: ", path);
		return NULL;
	}
	m->has_format = m->format != OTA_BUNDLE_FORMAT_PLAIN;
	if (m->format == OTA_BUNDLE_FORMAT_PLAIN && options->verity_salt != NULL) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "%s: a verity salt is given, but the bundle format is plain", path);
		return NULL;
	}

	if (m->hook_filename && !check_input_file(inputdir, m->hook_filename, error))
		return NULL;
	if (m->handler_filename && !check_input_file(inputdir, m->handler_filename, error))
		return NULL;
	/* Hashing runs beside mksquashfs; a missing image must not wait
	 * for the whole pack to be reported. */
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);

		if (!check_input_file(inputdir, image->filename, error) ||
		    !check_adaptive(inputdir, image, error))
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

	if (fd < 0)
		return bundle_io_error(error, path, errno);
	/* The packed manifest's mode must not depend on the umask. */
	ok = fchmod(fd, 0644) == 0 && ota_write_all(fd, data, length, error) && fsync(fd) == 0;
	close(fd);
	return ok;
}

/* Whether the bundle is made reproducibly, and the one timestamp it then
 * carries: $SOURCE_DATE_EPOCH (reproducible-builds.org's convention; set
 * but empty counts as unset, as CI systems leave it), else 0 with
 * options->reproducible. */
static gboolean reproducible_time(const OtaCreateOptions *options, gboolean *reproducible,
                                  guint32 *time, GError **error)
{
	const char *epoch = g_getenv("SOURCE_DATE_EPOCH");
	guint64 value = 0;

	*reproducible = options->reproducible;
	*time = 0;
	if (epoch == NULL || *epoch == '\0')
		return TRUE;
	/* squashfs keeps 32-bit times. */
	if (!g_ascii_string_to_unsigned(epoch, 10, 0, G_MAXUINT32, &value, NULL)) {
		g_autofree char *escaped = ota_text_escape(epoch);

		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "SOURCE_DATE_EPOCH '%s': expected seconds since 1970, from 0 to %u",
		            escaped, G_MAXUINT32);
		return FALSE;
	}
	*reproducible = TRUE;
	*time = (guint32)value;
	return TRUE;
}

static gboolean parse_verity_salt(const char *hex, guint8 salt[OTA_VERITY_SALT_LEN],
                                  GError **error)
{
	if (ota_checksum_from_hex(hex, salt))
		return TRUE;
	g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
	            "--verity-salt: expected %d hex digits", OTA_VERITY_SALT_LEN * 2);
	return FALSE;
}

/* The given salt, one derived from the payload (reproducible), or a random one. */
static gboolean choose_verity_salt(int fd, guint64 size, const OtaCreateOptions *options,
                                   guint8 salt[OTA_VERITY_SALT_LEN], GError **error)
{
	gboolean reproducible;
	guint32 time;

	if (options->verity_salt != NULL)
		return parse_verity_salt(options->verity_salt, salt, error);
	if (!reproducible_time(options, &reproducible, &time, error))
		return FALSE;
	if (reproducible) {
		g_autoptr(OtaProgressPhase) phase = ota_progress_begin("derive salt", size);

		if (!ota_verity_salt_from_data(fd, size, salt, error))
			return FALSE;
		ota_progress_phase_done(phase);
		return TRUE;
	}
	if (RAND_bytes(salt, OTA_VERITY_SALT_LEN) != 1) {
		ota_set_openssl_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO,
		                      "cannot generate verity salt");
		return FALSE;
	}
	return TRUE;
}

/* A key given twice adds nothing but a SignerInfo that counts once. The
 * certificates' keys are compared (a token's private key may not show its
 * parameters), as keys: two certificates of one key in two encodings are
 * one signer. */
static gboolean check_distinct_signers(const OtaCreateOptions *options, GError **error)
{
	for (gsize i = 0; i < options->n_signers; i++) {
		for (gsize j = i + 1; j < options->n_signers; j++) {
			if (!ota_keys_same_public_key(X509_get0_pubkey(options->signers[i]->cert),
			                              X509_get0_pubkey(options->signers[j]->cert)))
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

/* Signs the payload; *@signed_digest is its digest, what the signature
 * signs (its SHA-512 too when an Ed25519 signer signs that). */
static gboolean sign_plain(OtaOutput *out, guint64 size, const OtaCreateOptions *options,
                           const char *bundle_path, OtaChecksum *signed_digest, GError **error)
{
	g_autoptr(GBytes) signature = NULL;

	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("hash", size);
	if (!ota_checksum_fd_observed(ota_output_get_fd(out), 0, size, NULL, NULL,
	                              ota_signers_have_ed25519(options->signers, options->n_signers),
	                              signed_digest, error))
		return FALSE;
	ota_progress_phase_done(phase);
	signature = bundle_sign_content(options->signers, options->n_signers, options->intermediates,
	                                options->encoding, signed_digest, NULL, options->timestamp,
	                                error);
	return signature != NULL &&
	       bundle_append_signature(ota_output_get_fd(out), size, signature, error) &&
	       bundle_log_signatures(options->audit_log, "create", options->signers, options->n_signers,
	                             bundle_path, "plain", signed_digest->sha256, NULL, signature,
	                             error);
}

/* Crypt: encrypts the @size bytes of padded squashfs in place with the
 * key chosen (a key file's, read before packing), derived from the
 * plaintext, or random, and puts that key in the manifest to be signed.
 * The squashfs keeps its own manifest without the key, as RAUC's does. */
static gboolean encrypt_payload(int fd, guint64 size, OtaManifest *m,
                                const OtaCreateOptions *options, CryptKey *crypt,
                                GError **error)
{
	char hex[OTA_CRYPT_KEY_HEX_LEN + 1];

	if (!crypt->set && options->derive_crypt_key) {
		g_autoptr(OtaProgressPhase) phase = ota_progress_begin("derive key", size);

		if (!ota_crypt_key_derive(fd, size, crypt->key, error))
			return FALSE;
		ota_progress_phase_done(phase);
	} else if (!crypt->set && !ota_crypt_key_generate(crypt->key, error)) {
		return FALSE;
	}
	crypt->set = TRUE;
	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("encrypt", size);
	if (!ota_crypt_encrypt_fd(fd, size, crypt->key, error))
		return FALSE;
	ota_progress_phase_done(phase);
	ota_crypt_key_to_hex(crypt->key, hex);
	g_free(m->crypt_key);
	m->crypt_key = g_strdup(hex);
	OPENSSL_cleanse(hex, sizeof(hex));
	return TRUE;
}

/* Appends the hash tree, completes the manifest with its root, salt and
 * size, and signs that manifest as the CMS content. */
static gboolean sign_verity(OtaOutput *out, guint64 size, OtaManifest *m,
                            const OtaCreateOptions *options, const char *bundle_path,
                            CryptKey *crypt, GError **error)
{
	int fd = ota_output_get_fd(out);
	OtaVerityParams params = {0};
	g_autofree char *manifest_data = NULL;
	g_autoptr(GBytes) manifest = NULL;
	g_autoptr(GBytes) signature = NULL;
	OtaChecksum digest = {0};
	gsize manifest_len = 0;

	/* RAUC wants more than one block of verity data; a tiny squashfs
	 * gets a zero block after it, which squashfs ignores. */
	if (size < 2 * OTA_VERITY_BLOCK_SIZE) {
		if (ftruncate(fd, 2 * OTA_VERITY_BLOCK_SIZE) < 0)
			return bundle_io_error(error, "cannot pad payload", errno);
		size = 2 * OTA_VERITY_BLOCK_SIZE;
	}
	/* Crypt: the tree (and a derived salt) covers the ciphertext. */
	if (m->format == OTA_BUNDLE_FORMAT_CRYPT && !encrypt_payload(fd, size, m, options, crypt, error))
		return FALSE;
	params.data_size = size;
	if (!choose_verity_salt(fd, size, options, params.salt, error))
		return FALSE;
	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("hash tree", size);
	if (!ota_verity_tree_build(fd, size, &params, error))
		return FALSE;
	ota_progress_phase_done(phase);

	g_free(m->verity_hash);
	g_free(m->verity_salt);
	m->verity_hash = g_malloc(OTA_SHA256_HEX_LEN + 1);
	m->verity_salt = g_malloc(OTA_SHA256_HEX_LEN + 1);
	ota_checksum_to_hex(params.root, m->verity_hash);
	ota_checksum_to_hex(params.salt, m->verity_salt);
	m->verity_size = params.tree_size;
	manifest_data = ota_manifest_to_data(m, &manifest_len);
	manifest = g_bytes_new_take(g_steal_pointer(&manifest_data), manifest_len);
	if (!ota_checksum_bytes_all(manifest, &digest, error))
		return FALSE;
	signature = bundle_sign_content(options->signers, options->n_signers, options->intermediates,
	                                options->encoding, &digest, manifest, options->timestamp,
	                                error);
	return signature != NULL &&
	       bundle_append_signature(fd, size + params.tree_size, signature, error) &&
	       bundle_log_signatures(options->audit_log, "create", options->signers, options->n_signers,
	                             bundle_path, ota_bundle_format_to_string(m->format),
	                             digest.sha256, m->verity_hash, signature, error);
}

/* *@signed_digest: what the signature signs (plain: the payload's digest). */
static gboolean sign_payload(OtaOutput *out, OtaManifest *m, const OtaCreateOptions *options,
                             const char *bundle_path, CryptKey *crypt,
                             OtaChecksum *signed_digest, GError **error)
{
	struct stat st;

	if (fstat(ota_output_get_fd(out), &st) < 0 || st.st_size <= 0) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO,
		                    "mksquashfs wrote no image");
		return FALSE;
	}
	if ((guint64)st.st_size % OTA_BUNDLE_PAYLOAD_ALIGNMENT != 0) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "squashfs image is not padded to %d bytes", OTA_BUNDLE_PAYLOAD_ALIGNMENT);
		return FALSE;
	}
	if (m->format == OTA_BUNDLE_FORMAT_PLAIN && !options->allow_large_plain &&
	    bundle_plain_payload_too_large((guint64)st.st_size)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "plain payload of %" G_GUINT64_FORMAT " bytes is over 2 GiB: RAUC 1.15.2 "
		            "and later refuse it, earlier RAUC verifies only its start "
		            "(CVE-2026-34155); use --format=verity (or --allow-large-plain)",
		            (guint64)st.st_size);
		return FALSE;
	}
	if (!check_payload_readable(out, (guint64)st.st_size, error))
		return FALSE;
	if (m->format != OTA_BUNDLE_FORMAT_PLAIN)
		return sign_verity(out, (guint64)st.st_size, m, options, bundle_path, crypt, error);
	return sign_plain(out, (guint64)st.st_size, options, bundle_path, signed_digest, error);
}

static gboolean write_block_hash_index(const char *image_path, const char *index_path,
                                       GError **error)
{
	int fd = open(image_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int out = -1;
	struct stat st;
	gboolean ok;

	if (fd < 0 || fstat(fd, &st) < 0)
		return bundle_io_error(error, image_path, errno);
	out = open(index_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (out < 0) {
		close(fd);
		return bundle_io_error(error, index_path, errno);
	}
	/* The size was checked in prepare_manifest(); an image that changed
	 * since fails here or in image_hashing_finish(). */
	ok = ota_block_hash_index_check_image_size((guint64)st.st_size, error) &&
	     ota_block_hash_index_write(fd, (guint64)st.st_size, out, error);
	if (!ok)
		g_prefix_error(error, "%s: ", image_path);
	else if (fchmod(out, 0644) < 0 || fsync(out) < 0)
		ok = bundle_io_error(error, index_path, errno);
	close(out);
	close(fd);
	return ok;
}

/* adaptive=block-hash-index: `rauc bundle` writes <image>.block-hash-index
 * into its input directory; create writes it into @scratch_dir and packs it
 * from there, in place of any such file the input holds (one that rauc
 * left behind, say), so the input is never changed. @sources is
 * NULL-terminated, and stays so. */
static gboolean add_block_hash_indexes(const char *inputdir, const OtaManifest *m,
                                       const char *scratch_dir, GPtrArray *sources,
                                       GError **error)
{
	g_ptr_array_set_size(sources, sources->len - 1); /* the NULL */
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);
		g_autofree char *name = NULL;
		g_autofree char *image_path = NULL;
		g_autofree char *input_copy = NULL;
		char *index_path;
		guint at;

		if (!ota_image_has_adaptive_method(image, OTA_BLOCK_HASH_INDEX_METHOD))
			continue;
		name = g_strconcat(image->filename, OTA_BLOCK_HASH_INDEX_SUFFIX, NULL);
		image_path = g_build_filename(inputdir, image->filename, NULL);
		input_copy = g_build_filename(inputdir, name, NULL);
		index_path = g_build_filename(scratch_dir, name, NULL);
		if (!write_block_hash_index(image_path, index_path, error)) {
			g_free(index_path);
			return FALSE;
		}
		if (g_ptr_array_find_with_equal_func(sources, input_copy, g_str_equal, &at))
			g_ptr_array_remove_index(sources, at);
		g_ptr_array_add(sources, index_path);
	}
	g_ptr_array_add(sources, NULL);
	return TRUE;
}

/* Packs the images while they are hashed, then adds the manifest that
 * holds the hashes. */
static gboolean pack(const char *inputdir, OtaManifest *m, const OtaCreateOptions *options,
                     const char *const *mksquashfs_args, OtaOutput *out, const char *bundle_path,
                     GError **error)
{
	OtaSquashfsReproducible repro = {0};
	gboolean reproducible;
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
	scratch = bundle_scratch_dir_new(template_path, error);
	if (scratch == NULL ||
	    !reproducible_time(options, &reproducible, &repro.time, error))
		return FALSE;
	repro.scratch_dir = scratch->path;

	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("pack", input_bytes);
	hashing = image_hashing_start(inputdir, m);
	/* After the images' state was taken: one changed while indexed is
	 * caught with the rest. */
	if (!add_block_hash_indexes(inputdir, m, scratch->path, sources, error))
		return FALSE;
	packed = ota_squashfs_create((const char *const *)sources->pdata,
	                             ota_output_get_proc_path(out), mksquashfs_args,
	                             reproducible ? &repro : NULL, &pack_error);
	/* An input that can't be hashed is the clearer report. */
	if (!image_hashing_finish(hashing, m, error))
		return FALSE;
	if (!packed) {
		g_propagate_prefixed_error(error, g_steal_pointer(&pack_error), "%s: ", bundle_path);
		return FALSE;
	}
	ota_progress_phase_done(phase);

	manifest_path = g_build_filename(scratch->path, OTA_MANIFEST_FILENAME, NULL);
	manifest_data = ota_manifest_to_data(m, &manifest_len);
	if (!write_file(manifest_path, manifest_data, manifest_len, error) ||
	    !ota_squashfs_append((const char *const[]){manifest_path, NULL},
	                         ota_output_get_proc_path(out), reproducible ? &repro : NULL,
	                         error)) {
		g_prefix_error(error, "%s: ", bundle_path);
		return FALSE;
	}
	return TRUE;
}

/* RAUC runs mksquashfs without a compression flag, so gets its default. */
static const char *packing_compression(const OtaCreateOptions *options)
{
	if (options->compression != NULL || !options->rauc_defaults ||
	    ota_squashfs_extra_args_choose_compression(options->mksquashfs_args))
		return options->compression;
	return "gzip";
}

gboolean ota_bundle_check_create_options(const OtaCreateOptions *options, GError **error)
{
	g_auto(GStrv) args = ota_squashfs_build_args(packing_compression(options),
	                                             options->mksquashfs_args, error);
	guint8 salt[OTA_VERITY_SALT_LEN];
	gboolean reproducible;
	guint32 time;

	if (args == NULL || !reproducible_time(options, &reproducible, &time, error) ||
	    !ota_manifest_check_settings(options->settings, error))
		return FALSE;
	/* Without a --format, the manifest decides: prepare_manifest() checks. */
	if (options->format_set && !check_crypt_key_options(options, options->format, error))
		return FALSE;
	if (options->verity_salt == NULL)
		return TRUE;
	if (options->format_set && options->format == OTA_BUNDLE_FORMAT_PLAIN) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		                    "--verity-salt is for verity bundles, not plain ones");
		return FALSE;
	}
	return parse_verity_salt(options->verity_salt, salt, error);
}

/* Whether the directory open as @fd is @top or lies below it. Directories
 * are compared by identity (device and inode) while walking up through
 * "..", as the kernel resolves it: the answer doesn't depend on how either
 * path is spelled (".", "sub/../x", relative or absolute, a symbolic link
 * to the directory or to a parent, a bind mount). Takes @fd. */
static gboolean dir_is_within(int fd, const struct stat *top)
{
	struct stat st, up;
	gboolean within = FALSE;

	while (fd >= 0 && fstat(fd, &st) == 0) {
		int parent;

		if (st.st_dev == top->st_dev && st.st_ino == top->st_ino) {
			within = TRUE;
			break;
		}
		parent = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = parent;
		/* At the root, ".." is the root itself. */
		if (fd >= 0 && fstat(fd, &up) == 0 && up.st_dev == st.st_dev && up.st_ino == st.st_ino)
			break;
	}
	if (fd >= 0)
		close(fd);
	return within;
}

/* A bundle written inside its input directory would be packed into the
 * next bundle made from it (mksquashfs takes every entry). Where either
 * can't be opened, ota_output_new() or the packing says so. */
static gboolean check_output_outside_input(const char *inputdir, const char *bundle_path,
                                           GError **error)
{
	g_autofree char *outdir = g_path_get_dirname(bundle_path);
	struct stat input;

	if (stat(inputdir, &input) < 0 ||
	    !dir_is_within(open(outdir, O_PATH | O_DIRECTORY | O_CLOEXEC), &input))
		return TRUE;
	g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
	            "%s: is inside the input directory %s, where the next create would pack it",
	            bundle_path, inputdir);
	return FALSE;
}

gboolean ota_bundle_create(const char *inputdir, const char *bundle_path,
                           const OtaCreateOptions *options, GError **error)
{
	g_autoptr(OtaManifest) m = NULL;
	g_autoptr(OtaOutput) out = NULL;
	g_auto(GStrv) mksquashfs_args = NULL;
	g_auto(CryptKey) crypt = {0};
	OtaChecksum signed_digest = {0};

	g_return_val_if_fail(options->n_signers > 0, FALSE);

	if (!check_distinct_signers(options, error) ||
	    !ota_bundle_check_create_options(options, error))
		return FALSE;
	mksquashfs_args = ota_squashfs_build_args(packing_compression(options),
	                                          options->mksquashfs_args, error);
	if (mksquashfs_args == NULL)
		return FALSE;
	if (!g_file_test(inputdir, G_FILE_TEST_IS_DIR)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "%s: not a directory", inputdir);
		return FALSE;
	}
	if (!check_output_outside_input(inputdir, bundle_path, error))
		return FALSE;
	/* Fail on an existing output before doing any expensive work. */
	out = ota_output_new(bundle_path, options->force, error);
	if (out == NULL)
		return FALSE;

	m = prepare_manifest(inputdir, options, error);
	if (m == NULL)
		return FALSE;
	/* A key file that can't be read fails before the packing. */
	if (m->format == OTA_BUNDLE_FORMAT_CRYPT && options->crypt_key_file != NULL) {
		if (!ota_crypt_key_load(options->crypt_key_file, crypt.key, error))
			return FALSE;
		crypt.set = TRUE;
	}
	if (!pack(inputdir, m, options, (const char *const *)mksquashfs_args, out, bundle_path,
	          error))
		return FALSE;
	if (!sign_payload(out, m, options, bundle_path, &crypt, &signed_digest, error)) {
		g_prefix_error(error, "%s: ", bundle_path);
		return FALSE;
	}
	return bundle_commit_checked(out, bundle_path, options->result_policy, &signed_digest, error);
}
