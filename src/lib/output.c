/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "output-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cancel-private.h"
#include "error-private.h"

G_DEFINE_QUARK(ota-output-error-quark, ota_output_error)

struct OtaOutput {
	char *path;
	char *dir;
	char *named_tmp; /* only when O_TMPFILE is unsupported */
	char *proc_path;
	int fd;
	gboolean force;
	gboolean committed;
	OtaCancelHold hold; /* released when freed: the file is gone or in place */
};

static gboolean set_errno_error(GError **error, const char *path, const char *what, int err)
{
	return ota_set_io_error(error, OTA_OUTPUT_ERROR,
	                        err == EEXIST ? OTA_OUTPUT_ERROR_EXISTS : OTA_OUTPUT_ERROR_IO, path, what,
	                        err);
}

OtaOutput *ota_output_new(const char *path, gboolean force, GError **error)
{
	g_autoptr(OtaOutput) out = g_new0(OtaOutput, 1);
	struct stat st;

	out->fd = -1;
	out->path = g_strdup(path);
	out->dir = g_path_get_dirname(path);
	out->force = force;

	if (!force && lstat(path, &st) == 0) {
		g_set_error(error, OTA_OUTPUT_ERROR, OTA_OUTPUT_ERROR_EXISTS,
		            "%s: already exists (use --force to overwrite)", path);
		return NULL;
	}
	if (!ota_cancel_hold(&out->hold, error))
		return NULL;

	out->fd = open(out->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (out->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		g_autofree char *base = g_path_get_basename(path);

		out->named_tmp = g_strdup_printf("%s/.%s.XXXXXX", out->dir, base);
		out->fd = g_mkstemp_full(out->named_tmp, O_RDWR | O_CLOEXEC, 0644);
		if (out->fd < 0)
			g_clear_pointer(&out->named_tmp, g_free);
	}
	if (out->fd < 0) {
		set_errno_error(error, path, "cannot create output", errno);
		return NULL;
	}
	out->proc_path = g_strdup_printf("/proc/%d/fd/%d", (int)getpid(), out->fd);
	return g_steal_pointer(&out);
}

int ota_output_get_fd(OtaOutput *output)
{
	return output->fd;
}

const char *ota_output_get_proc_path(OtaOutput *output)
{
	return output->proc_path;
}

static gboolean fsync_dir(const char *dir, GError **error)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return set_errno_error(error, dir, "cannot open directory", errno);
	if (fsync(fd) < 0) {
		int saved = errno;
		close(fd);
		return set_errno_error(error, dir, "fsync failed", saved);
	}
	close(fd);
	return TRUE;
}

/* Gives the unnamed file a name. linkat() never replaces, so with --force
 * we link to a temporary name and rename() that over the target. */
static gboolean link_tmpfile(OtaOutput *out, GError **error)
{
	g_autofree char *self = g_strdup_printf("/proc/self/fd/%d", out->fd);
	g_autofree char *base = NULL;
	g_autofree char *tmp = NULL;

	if (!out->force) {
		if (linkat(AT_FDCWD, self, AT_FDCWD, out->path, AT_SYMLINK_FOLLOW) < 0)
			return set_errno_error(error, out->path, "cannot create", errno);
		return TRUE;
	}

	base = g_path_get_basename(out->path);
	for (int attempt = 0; attempt < 100; attempt++) {
		g_free(tmp);
		tmp = g_strdup_printf("%s/.%s.%08x", out->dir, base, g_random_int());
		if (linkat(AT_FDCWD, self, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0)
			break;
		if (errno != EEXIST)
			return set_errno_error(error, out->path, "cannot create", errno);
	}
	if (rename(tmp, out->path) < 0) {
		int saved = errno;
		unlink(tmp);
		return set_errno_error(error, out->path, "cannot rename into place", saved);
	}
	return TRUE;
}

static gboolean rename_named_tmp(OtaOutput *out, GError **error)
{
	unsigned flags = out->force ? 0 : RENAME_NOREPLACE;

	if (renameat2(AT_FDCWD, out->named_tmp, AT_FDCWD, out->path, flags) < 0)
		return set_errno_error(error, out->path, "cannot rename into place", errno);
	g_clear_pointer(&out->named_tmp, g_free);
	return TRUE;
}

gboolean ota_output_commit(OtaOutput *out, GError **error)
{
	g_return_val_if_fail(!out->committed, FALSE);

	/* The last moment a signal can still stop the output from appearing:
	 * once linked into place, it is complete and stays. */
	if (!ota_cancel_check(error))
		return FALSE;
	if (fsync(out->fd) < 0)
		return set_errno_error(error, out->path, "fsync failed", errno);
	if (!(out->named_tmp ? rename_named_tmp(out, error) : link_tmpfile(out, error)))
		return FALSE;
	out->committed = TRUE;
	return fsync_dir(out->dir, error);
}

void ota_output_free(OtaOutput *out)
{
	if (out == NULL)
		return;
	if (out->fd >= 0)
		close(out->fd);
	if (out->named_tmp != NULL)
		unlink(out->named_tmp);
	ota_cancel_release(&out->hold);
	g_free(out->named_tmp);
	g_free(out->proc_path);
	g_free(out->dir);
	g_free(out->path);
	g_free(out);
}
