/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writing images into slots: a raw image onto the slot's device, a tar
 * image extracted into the slot's directory. */
#include "install-private.h"

#include <otabundle/text.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progress-private.h"

#define TAR_BLOCK (64 * 1024)

typedef struct archive Archive;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Archive, archive_free)

static gboolean write_raw(OtaBundle *b, const OtaInstallStep *step, GError **error)
{
	struct stat st;
	gboolean block = stat(step->slot->device, &st) == 0 && S_ISBLK(st.st_mode);
	/* Never O_CREAT: a mistyped device must fail, not fill a new file. */
	int fd = open(step->slot->device, O_WRONLY | O_CLOEXEC | (block ? 0 : O_TRUNC));
	gboolean ok;

	if (fd < 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", step->slot->device,
		                    g_strerror(errno));
	ok = bundle_write_image_to(b, step->image, fd, step->slot->device, error);
	if (ok && fsync(fd) < 0)
		ok = install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: fsync failed: %s",
		                  step->slot->device, g_strerror(errno));
	close(fd);
	return ok;
}

static gboolean empty_directory(const char *path, GError **error)
{
	g_autoptr(GFile) dir = g_file_new_for_path(path);
	g_autoptr(GFileEnumerator) children = g_file_enumerate_children(
		dir, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
		G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, error);

	if (children == NULL)
		return FALSE;
	for (;;) {
		g_autoptr(GFileInfo) info = g_file_enumerator_next_file(children, NULL, error);
		g_autoptr(GFile) child = NULL;
		g_autofree char *child_path = NULL;

		if (info == NULL)
			break;
		child = g_file_get_child(dir, g_file_info_get_name(info));
		child_path = g_file_get_path(child);
		if (g_file_info_get_file_type(info) == G_FILE_TYPE_DIRECTORY &&
		    !empty_directory(child_path, error))
			return FALSE;
		if (!g_file_delete(child, NULL, error))
			return FALSE;
	}
	return error == NULL || *error == NULL;
}

/* Why the archive's name @path may not be extracted, or NULL. */
static const char *unsafe_path(const char *path)
{
	g_auto(GStrv) parts = NULL;

	if (path == NULL || *path == '\0')
		return "is empty or unreadable";
	if (g_path_is_absolute(path))
		return "is absolute";
	parts = g_strsplit(path, "/", -1);
	if (g_strv_contains((const char *const *)parts, ".."))
		return "contains '..'";
	return NULL;
}

/* libarchive extracts relative to the working directory, which a library
 * must not change, so each entry gets its absolute path below @dir instead.
 * libarchive's own check for absolute paths can't apply to that, so the
 * archive's names are checked here, before they are rewritten; its ".."
 * and symlink checks still run on the result. */
static gboolean place_entry(struct archive_entry *entry, const char *dir, GError **error)
{
	const char *name = archive_entry_pathname(entry);
	const char *link = archive_entry_hardlink(entry);
	const char *why = unsafe_path(name);
	g_autofree char *path = NULL;
	g_autofree char *target = NULL;

	if (why != NULL)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "path %s", why);
	if (link != NULL && (why = unsafe_path(link)) != NULL)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "hard link target %s %s", link,
		                    why);
	path = g_build_filename(dir, name, NULL);
	/* Beyond PATH_MAX, libarchive would chdir() its way down to it. */
	if (strlen(path) >= PATH_MAX)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE,
		                    "path is too long (%d bytes at most in the slot)", PATH_MAX - 1);
	if (link != NULL)
		target = g_build_filename(dir, link, NULL);
	archive_entry_copy_pathname(entry, path);
	if (target != NULL)
		archive_entry_copy_hardlink(entry, target);
	return TRUE;
}

static gboolean copy_entry_data(struct archive *in, struct archive *out, GError **error)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;

	while ((r = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK) {
		if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_OK)
			return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s",
			                    archive_error_string(out));
	}
	if (r != ARCHIVE_EOF)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s", archive_error_string(in));
	return TRUE;
}

static gboolean extract_entry(struct archive *in, struct archive *out,
                              struct archive_entry *entry, GError **error)
{
	if (archive_write_header(out, entry) != ARCHIVE_OK)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s", archive_error_string(out));
	if (archive_entry_size(entry) > 0 && !copy_entry_data(in, out, error))
		return FALSE;
	if (archive_write_finish_entry(out) != ARCHIVE_OK)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s", archive_error_string(out));
	return TRUE;
}

static gboolean extract_entries(struct archive *in, struct archive *out, const char *dir,
                                GError **error)
{
	struct archive_entry *entry;
	int r;

	while ((r = archive_read_next_header(in, &entry)) == ARCHIVE_OK) {
		g_autofree char *name = ota_text_escape_controls(archive_entry_pathname(entry));

		if (!place_entry(entry, dir, error) || !extract_entry(in, out, entry, error)) {
			g_prefix_error(error, "tar image, %s: ", name ? name : "(unreadable name)");
			return FALSE;
		}
	}
	if (r != ARCHIVE_EOF)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "tar image: %s",
		                    archive_error_string(in));
	/* Directories get their modes and times last, once their contents are
	 * written. */
	if (archive_write_close(out) != ARCHIVE_OK)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "tar image: %s",
		                    archive_error_string(out));
	return TRUE;
}

/* libarchive with its hostile-archive protections: no "..", and no writing
 * through a symlink anywhere in an entry's path, the slot directory's own
 * path included (so it is given as the real path). */
static gboolean extract_tar(int tar_fd, const char *dir, GError **error)
{
	g_autoptr(Archive) in = archive_read_new();
	g_autoptr(Archive) out = archive_write_disk_new();

	archive_read_support_format_tar(in);
	archive_read_support_filter_all(in);
	/* Owners too when we may set them (as root, installing a root
	 * filesystem); as another user libarchive could only fail at it. */
	archive_write_disk_set_options(out, (geteuid() == 0 ? ARCHIVE_EXTRACT_OWNER : 0) |
	                                            ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
	                                            ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	                                            ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	if (archive_read_open_fd(in, tar_fd, TAR_BLOCK) != ARCHIVE_OK)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "tar image: %s",
		                    archive_error_string(in));
	return extract_entries(in, out, dir, error);
}

/* The slot directory with symlinks resolved: one configured through a
 * symlink keeps working, while libarchive, which refuses any entry with a
 * symlink anywhere in its path, then finds none but those the image made. */
static char *slot_directory(const OtaSlotConfig *slot, GError **error)
{
	char *dir = realpath(slot->device, NULL);

	if (dir == NULL)
		install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", slot->device, g_strerror(errno));
	return dir;
}

static gboolean extract_into_slot(int tar_fd, const OtaSlotConfig *slot, GError **error)
{
	g_autofree char *dir = NULL;

	if (lseek(tar_fd, 0, SEEK_SET) != 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "tar image: %s", g_strerror(errno));
	dir = slot_directory(slot, error);
	return dir != NULL && empty_directory(dir, error) && extract_tar(tar_fd, dir, error);
}

/* The image goes through a private unlinked file first: it is hash-checked
 * completely before libarchive parses a byte of it. */
static gboolean write_tar(OtaTarget *t, OtaBundle *b, const OtaInstallStep *step, GError **error)
{
	int fd = open(t->config->data_directory, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	gboolean ok;

	if (fd < 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s",
		                    t->config->data_directory, g_strerror(errno));
	/* Unlinked: a failed write names the directory it is in. */
	ok = bundle_write_image_to(b, step->image, fd, t->config->data_directory, error);
	if (ok && !extract_into_slot(fd, step->slot, error)) {
		g_prefix_error(error, "%s: ", b->path);
		ok = FALSE;
	}
	close(fd);
	if (ok)
		sync(); /* the extracted tree, before the slot may be booted */
	return ok;
}

gboolean slot_write(OtaTarget *t, OtaBundle *b, const OtaInstallStep *step, GError **error)
{
	g_autofree char *what = g_strdup_printf("install %s", step->slot->name);
	gboolean ok;

	/* Belt and braces: planning never picks it, and writing never will. */
	if (step->slot->index == t->booted->index)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "refusing to write %s: it is booted",
		                    step->slot->name);
	g_autoptr(OtaProgressPhase) phase = ota_progress_begin(what, step->image->size);
	ok = step->slot->type == OTA_SLOT_TAR ? write_tar(t, b, step, error)
	                                      : write_raw(b, step, error);
	if (ok)
		ota_progress_phase_done(phase);
	return ok;
}
