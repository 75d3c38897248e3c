/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A device's trust lists on disk: the shipped one, and each version a
 * trust update installed, in a directory outside the A/B slots. */
#include "trust-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "error-private.h"
#include "output-private.h"
#include "reader-private.h"

char *trust_store_path(const OtaSystemConfig *config, guint64 version)
{
	g_autofree char *name = g_strdup_printf("trust-%" G_GUINT64_FORMAT, version);

	return g_build_filename(config->trust_directory, name, NULL);
}

static gboolean io_failed(GError **error, const char *path, int saved_errno)
{
	return ota_set_io_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_IO, path, NULL, saved_errno);
}

OtaTrust *trust_store_load_current(const OtaSystemConfig *config, const OtaState *state,
                                   GError **error)
{
	g_autofree char *path = NULL;
	g_autofree char *data = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autoptr(OtaTrust) trust = NULL;
	gsize length = 0;

	g_return_val_if_fail(config->trust_initial != NULL, NULL);
	if (state->trust_version == 0)
		return ota_trust_load(config->trust_initial, error);
	path = trust_store_path(config, state->trust_version);
	if (!g_file_get_contents(path, &data, &length, &ierror)) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_IO,
		            "%s: trust list version %" G_GUINT64_FORMAT " is in effect (%s), but "
		            "can't be read: %s",
		            path, state->trust_version, state->path, ierror->message);
		return NULL;
	}
	trust = ota_trust_parse((const guint8 *)data, length, path, error);
	if (trust == NULL)
		return NULL;
	/* The state is the commit point: a file that is not the one it
	 * recorded was changed behind our back, and is trusted for nothing. */
	if (ota_trust_get_version(trust) != state->trust_version ||
	    g_strcmp0(ota_trust_get_document_sha256(trust), state->trust_sha256) != 0) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED,
		            "%s: is not trust list version %" G_GUINT64_FORMAT " as %s recorded it "
		            "(document SHA-256 %s)",
		            path, state->trust_version, state->path, state->trust_sha256);
		return NULL;
	}
	return g_steal_pointer(&trust);
}

/* A directory made here must itself survive a power cut before the state
 * names a file in it: its entry in the parent is synced too. */
static gboolean make_directory(const char *dir, GError **error)
{
	g_autofree char *parent = g_path_get_dirname(dir);
	int fd;

	if (g_file_test(dir, G_FILE_TEST_IS_DIR))
		return TRUE;
	if (g_mkdir_with_parents(dir, 0700) < 0)
		return io_failed(error, dir, errno);
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return io_failed(error, parent, errno);
	if (fsync(fd) < 0) {
		int saved = errno;

		close(fd);
		return io_failed(error, parent, saved);
	}
	close(fd);
	return TRUE;
}

gboolean trust_store_write(const OtaSystemConfig *config, guint64 version, GBytes *data,
                           GError **error)
{
	g_autofree char *path = trust_store_path(config, version);
	g_autoptr(OtaOutput) out = NULL;
	gsize length = 0;
	const char *bytes = g_bytes_get_data(data, &length);

	if (!make_directory(config->trust_directory, error))
		return FALSE;
	/* Temp file, fsync, rename over any leftover, fsync of the directory. */
	out = ota_output_new(path, TRUE, error);
	return out != NULL && ota_write_all(ota_output_get_fd(out), bytes, length, error) &&
	       ota_output_commit(out, error);
}
