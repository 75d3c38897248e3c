/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rebuilding a casync bundle's image with Debian's casync tool, as RAUC
 * does (`casync extract --seed=<active slot> --store=<store> index -`),
 * then checking what it wrote against the signed manifest: casync checks
 * chunks against the index, the index against nothing, so the sha256 over
 * the result is what makes the image trusted. */
#include "casync-private.h"

#include <otabundle/text.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checksum-private.h"
#include "error-private.h"
#include "subprocess-private.h"

char *ota_casync_default_store(const char *bundle_path)
{
	if (g_str_has_suffix(bundle_path, ".raucb"))
		return g_strdup_printf("%.*s.castr", (int)(strlen(bundle_path) - strlen(".raucb")),
		                       bundle_path);
	return g_strconcat(bundle_path, ".castr", NULL);
}

/* The index, from the verified payload, into a new file of its own in a
 * private directory: casync reads a path, and nothing else may change it
 * between our check and casync's read. */
static char *write_private_index(ScratchDir *dir, GBytes *data, GError **error)
{
	g_autofree char *path = g_build_filename(dir->path, "image.caibx", NULL);
	gsize length = 0;
	const guint8 *bytes = g_bytes_get_data(data, &length);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	gboolean ok;

	if (fd < 0)
		return bundle_io_error(error, path, errno), NULL;
	ok = ota_write_all(fd, bytes, length, error);
	close(fd);
	return ok ? g_steal_pointer(&path) : NULL;
}

static gboolean run_casync(const OtaCasyncOptions *opts, const char *index_path, int out_fd,
                           GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) extra = NULL;
	g_autofree char *tmpdir_env = NULL;
	const char *env[2] = {NULL, NULL};
	OtaSubprocessOptions run = {
		.label = "casync extract",
		.stderr_lines = OTA_SUBPROCESS_STDERR_LAST_LINE,
		.stdout_fd = out_fd,
	};
	g_autoptr(GError) ierror = NULL;

	if (opts->extra_args != NULL && *opts->extra_args != '\0' &&
	    !g_shell_parse_argv(opts->extra_args, NULL, &extra, &ierror)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "[casync] install-args: %s", ierror->message);
		return FALSE;
	}
	g_ptr_array_add(argv, g_strdup("casync"));
	g_ptr_array_add(argv, g_strdup("extract"));
	g_ptr_array_add(argv, g_strdup_printf("--store=%s", opts->store));
	if (opts->seed != NULL)
		g_ptr_array_add(argv, g_strdup_printf("--seed=%s", opts->seed));
	/* RAUC's choice: the slot being written is no seed for itself. */
	g_ptr_array_add(argv, g_strdup("--seed-output=no"));
	for (char **e = extra; e && *e; e++)
		g_ptr_array_add(argv, g_strdup(*e));
	g_ptr_array_add(argv, g_strdup(index_path));
	g_ptr_array_add(argv, g_strdup("-"));
	g_ptr_array_add(argv, NULL);
	if (opts->tmpdir != NULL) {
		tmpdir_env = g_strconcat("TMPDIR=", opts->tmpdir, NULL);
		env[0] = tmpdir_env;
		run.env = env;
	}
	return ota_subprocess_run((const char *const *)argv->pdata, &run, NULL, error);
}

/* What casync wrote, against the manifest: its first size bytes. A raw
 * slot's file was emptied and extract's is new, so they end there (the
 * index adds up to the size); a file standing in for a filesystem slot's
 * device keeps its size, as a device does. */
static gboolean check_result(const OtaImage *image, int fd, const char *out_path, GError **error)
{
	g_autofree char *filename = ota_text_escape(image->filename);
	char hex[OTA_SHA256_HEX_LEN + 1];
	OtaChecksum cs;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return bundle_io_error(error, out_path, errno);
	if (S_ISREG(st.st_mode) && (guint64)st.st_size < image->size) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
		            "image '%s': casync rebuilt %" G_GUINT64_FORMAT
		            " bytes, manifest says %" G_GUINT64_FORMAT,
		            filename, (guint64)st.st_size, image->size);
		return FALSE;
	}
	if (!ota_checksum_fd(fd, 0, image->size, &cs, error)) {
		g_prefix_error(error, "%s: ", out_path);
		return FALSE;
	}
	ota_checksum_to_hex(cs.sha256, hex);
	if (strcmp(hex, image->sha256) != 0) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
		            "image '%s': the image casync rebuilt has sha256 %s, the manifest says %s "
		            "(wrong or damaged chunk store?)",
		            filename, hex, image->sha256);
		return FALSE;
	}
	return TRUE;
}

gboolean bundle_casync_check_rebuildable(const OtaImage *image, GError **error)
{
	g_autofree char *filename = NULL;

	if (ota_image_get_casync(image) == OTA_IMAGE_CASYNC_BLOB)
		return TRUE;
	filename = ota_text_escape(image->filename);
	g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_UNSUPPORTED,
	            "image '%s': casync directory-tree indexes (.caidx) are not supported: the "
	            "manifest's sha256 is that of a tar archive, which a tree rebuilt by casync "
	            "can't be checked against",
	            filename);
	return FALSE;
}

gboolean bundle_casync_rebuild(OtaBundle *b, const OtaImage *image, const OtaCasyncOptions *opts,
                               int out_fd, const char *out_path, GError **error)
{
	g_autofree char *filename = ota_text_escape(image->filename);
	g_autofree char *template_path = NULL;
	g_autofree char *index_path = NULL;
	g_autoptr(ScratchDir) dir = NULL;
	g_autoptr(GBytes) data = NULL;
	OtaCasyncIndex index;

	g_return_val_if_fail(b->verified, FALSE);

	if (!bundle_casync_check_rebuildable(image, error) ||
	    !bundle_casync_check_index(b, image, &index, &data, error))
		return FALSE;
	template_path = g_build_filename(opts->tmpdir ? opts->tmpdir : g_get_tmp_dir(),
	                                 "otabundle-casync-XXXXXX", NULL);
	dir = bundle_scratch_dir_new(template_path, error);
	if (dir == NULL || (index_path = write_private_index(dir, data, error)) == NULL)
		return FALSE;
	if (!run_casync(opts, index_path, out_fd, error)) {
		g_prefix_error(error, "image '%s': ", filename);
		return FALSE;
	}
	return check_result(image, out_fd, out_path, error);
}
