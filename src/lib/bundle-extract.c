/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* otabundle extract: a verified bundle's manifest and images into a
 * directory, all or nothing. */
#include "bundle-private.h"

#include <otabundle/text.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "casync-private.h"
#include "error-private.h"
#include "progress-private.h"

static int create_in(int dirfd, const char *dir, const char *name, mode_t mode, GError **error)
{
	/* Names were checked by the manifest parser to hold no '/'; O_EXCL and
	 * O_NOFOLLOW make sure nothing but a new file in @dirfd is written. */
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0) {
		int saved = errno;
		g_autofree char *path = g_build_filename(dir, name, NULL);

		ota_set_io_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, path, NULL, saved);
	}
	return fd;
}

static gboolean finish_file(int fd, const char *name, gboolean ok, GError **error)
{
	if (ok && fsync(fd) < 0)
		ok = ota_set_io_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, name, "fsync failed",
		                      errno);
	close(fd);
	return ok;
}

static gboolean copy_out_file(OtaBundle *b, int dirfd, const char *dir, const char *name,
                              GError **error)
{
	g_autoptr(GBytes) data = NULL;
	int fd;

	data = ota_squashfs_read_small_file(b->squashfs, name, BUNDLE_SCRIPT_MAX_SIZE, error);
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

void ota_bundle_set_casync_store(OtaBundle *b, const char *store)
{
	g_free(b->casync_store);
	b->casync_store = g_strdup(store);
}

/* A casync image: its index as the bundle holds it (what `rauc extract`
 * writes), and beside it the image rebuilt from the chunk store, named
 * without ".caibx" and checked against the manifest. */
static gboolean extract_casync(OtaBundle *b, const OtaImage *image, int dirfd, const char *dir,
                               GHashTable *written, GError **error)
{
	g_autofree char *store = b->casync_store ? g_strdup(b->casync_store)
	                                         : ota_casync_default_store(b->path);
	g_autofree char *name = NULL;
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = NULL;
	OtaCasyncOptions opts = {.store = store};
	OtaCasyncIndex index;
	gsize length = 0;
	const guint8 *bytes;
	int fd;

	if (!bundle_casync_check_rebuildable(image, error) ||
	    !bundle_casync_check_index(b, image, &index, &data, error))
		return FALSE;
	fd = create_in(dirfd, dir, image->filename, 0644, error);
	bytes = g_bytes_get_data(data, &length);
	if (fd < 0 || !finish_file(fd, image->filename, ota_write_all(fd, bytes, length, error), error))
		return FALSE;
	name = g_strndup(image->filename, strlen(image->filename) - strlen(".caibx"));
	path = g_build_filename(dir, name, NULL);
	if (!ota_manifest_filename_is_safe(name) || !g_hash_table_add(written, g_strdup(name))) {
		g_autofree char *escaped = ota_text_escape(image->filename);

		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "image '%s': the name of its rebuilt image is another file of the bundle",
		            escaped);
		return FALSE;
	}
	/* Readable: what casync wrote is read back and hashed. */
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return bundle_io_error(error, path, errno);
	return finish_file(fd, name, bundle_casync_rebuild(b, image, &opts, fd, path, error), error);
}

static gboolean extract_into(OtaBundle *b, const char *dir, GError **error)
{
	const OtaManifest *m = b->manifest;
	g_autoptr(GHashTable) written = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	gboolean ok = TRUE;
	int dirfd, fd;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return bundle_io_error(error, dir, errno);

	fd = create_in(dirfd, dir, OTA_MANIFEST_FILENAME, 0644, error);
	ok = fd >= 0 &&
	     finish_file(fd, OTA_MANIFEST_FILENAME,
	                 ota_write_all(fd, g_bytes_get_data(b->manifest_data, NULL),
	                               g_bytes_get_size(b->manifest_data), error),
	                 error);
	g_hash_table_add(written, g_strdup(OTA_MANIFEST_FILENAME));

	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("extract", bundle_images_size(m));
	for (guint i = 0; ok && i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);

		if (!g_hash_table_add(written, g_strdup(image->filename)))
			continue;
		if (ota_image_get_casync(image) != OTA_IMAGE_CASYNC_NONE) {
			ok = extract_casync(b, image, dirfd, dir, written, error);
			continue;
		}
		fd = create_in(dirfd, dir, image->filename, 0644, error);
		/* Not hashed again: every byte read here was authenticated already
		 * (verity: each block against the signed root; plain: the private
		 * copy whose digest the signature covers). Zeros become holes, as
		 * unsquashfs makes them. O_DIRECT: the files are fsynced anyway,
		 * and so skip a copy through the page cache. */
		ok = fd >= 0 && finish_file(fd, image->filename,
		                            bundle_stream_image(b, image, fd, EXTRACT_FLAGS, error),
		                            error);
	}
	if (ok)
		ota_progress_phase_done(phase);
	if (ok && m->hook_filename && g_hash_table_add(written, g_strdup(m->hook_filename)))
		ok = copy_out_file(b, dirfd, dir, m->hook_filename, error);
	if (ok && m->handler_filename && g_hash_table_add(written, g_strdup(m->handler_filename)))
		ok = copy_out_file(b, dirfd, dir, m->handler_filename, error);
	if (ok && fsync(dirfd) < 0)
		ok = bundle_io_error(error, dir, errno);
	close(dirfd);
	return ok;
}

static gboolean check_outdir_usable(const char *outdir, GError **error)
{
	g_autoptr(GDir) dir = NULL;
	struct stat st;

	if (lstat(outdir, &st) < 0)
		return errno == ENOENT ? TRUE : bundle_io_error(error, outdir, errno);
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

/* OUTDIR is new or empty, and its parent exists. */
static gboolean check_outdir(const char *outdir, const char *parent, GError **error)
{
	if (!check_outdir_usable(outdir, error))
		return FALSE;
	if (!g_file_test(parent, G_FILE_TEST_IS_DIR)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO,
		            "%s: parent directory does not exist", outdir);
		return FALSE;
	}
	return TRUE;
}

static gboolean extract_bundle(OtaBundle *b, const OtaPolicy *policy, const char *outdir,
                               const char *clean, const char *parent, GError **error)
{
	g_autoptr(ScratchDir) staging = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *base = g_path_get_basename(clean);
	g_autofree char *template_path = NULL;

	/* Staged beside OUTDIR, so the final rename is atomic and a failure
	 * leaves OUTDIR untouched. The private payload copy lives there too. */
	template_path = g_strdup_printf("%s/.%s.XXXXXX", parent, base);
	staging = bundle_scratch_dir_new(template_path, error);
	if (staging == NULL)
		return FALSE;
	/* Verity needs no copy and no full tree pass here: every block
	 * extraction reads is checked against the signed root as it is read. */
	if (!ota_bundle_verify(b, policy, 0, staging->path, error) ||
	    !ota_bundle_check_contents(b, FALSE, error))
		return FALSE;
	if (!extract_into(b, staging->path, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", b->path);
		return FALSE;
	}
	/* The last moment a signal can stop it: once renamed, OUTDIR is
	 * complete and stays. */
	if (!ota_cancel_check(error))
		return FALSE;
	/* Staged 0700 so nobody reads a half-written image; published 0755. */
	if (chmod(staging->path, 0755) < 0 || rename(staging->path, clean) < 0)
		return bundle_io_error(error, outdir, errno);
	g_clear_pointer(&staging->path, g_free);
	return TRUE;
}

gboolean ota_bundle_extract(const char *bundle_path, const OtaPolicy *policy, const char *outdir,
                            GError **error)
{
	g_autoptr(OtaBundle) b = NULL;
	g_autofree char *clean = g_canonicalize_filename(outdir, NULL);
	g_autofree char *parent = g_path_get_dirname(clean);

	if (!check_outdir(outdir, parent, error))
		return FALSE;
	b = ota_bundle_open(bundle_path, error);
	return b != NULL && extract_bundle(b, policy, outdir, clean, parent, error);
}

gboolean ota_bundle_extract_to(OtaBundle *b, const OtaPolicy *policy, const char *outdir,
                               GError **error)
{
	g_autofree char *clean = g_canonicalize_filename(outdir, NULL);
	g_autofree char *parent = g_path_get_dirname(clean);

	return check_outdir(outdir, parent, error) &&
	       extract_bundle(b, policy, outdir, clean, parent, error);
}
