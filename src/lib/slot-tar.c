/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "slot-tar-private.h"

#include <otabundle/text.h>

#include <archive.h>
#include <archive_entry.h>
#include <gio/gio.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "install-private.h"

#define TAR_BLOCK (64 * 1024)

typedef struct archive Archive;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Archive, archive_free)

gboolean slot_tar_empty_directory(const char *path, GError **error)
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
		    !slot_tar_empty_directory(child_path, error))
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

/* Whether @path names the directory extracted into: "." or "./", which a
 * tar of a root filesystem has for its mode. */
static gboolean names_top(const char *path)
{
	g_auto(GStrv) parts = g_strsplit(path, "/", -1);

	for (char **p = parts; *p != NULL; p++) {
		if (**p != '\0' && !g_str_equal(*p, "."))
			return FALSE;
	}
	return TRUE;
}

/* Why @entry may not go into a FAT file system, or NULL. A hard link
 * stands for a regular file: it can only name one extracted before it, and
 * a symlink or special file is never extracted. */
static const char *fat_unsupported_type(struct archive_entry *entry)
{
	if (archive_entry_hardlink(entry) != NULL)
		return NULL;
	switch (archive_entry_filetype(entry)) {
	case AE_IFREG:
	case AE_IFDIR:
		return NULL;
	case AE_IFLNK:
		return "a symbolic link";
	case AE_IFCHR:
	case AE_IFBLK:
		return "a device node";
	case AE_IFIFO:
		return "a FIFO";
	case AE_IFSOCK:
		return "a socket";
	default:
		return "of an unknown file type";
	}
}

/* Why @name can't be a FAT long name as it is, or NULL: mcopy refuses it
 * without a word, or changes it (a trailing space is dropped). */
static const char *fat_bad_name(const char *name)
{
	glong units = 0;
	g_autofree gunichar2 *utf16 = NULL;

	if (!g_utf8_validate(name, -1, NULL) ||
	    (utf16 = g_utf8_to_utf16(name, -1, NULL, &units, NULL)) == NULL)
		return "is not UTF-8";
	if (units > 255)
		return "is longer than 255 characters";
	for (const char *c = name; *c != '\0'; c++) {
		if ((guchar)*c < 0x20 || *c == 0x7f || strchr("\"*:<>?\\|", *c) != NULL)
			return "holds a character FAT does not allow in names";
	}
	if (g_str_has_suffix(name, ".") || g_str_has_suffix(name, " "))
		return "ends in '.' or ' ', which FAT drops";
	return NULL;
}

/* @path's components, and each directory on the way, must be FAT names
 * that no other entry's name equals but for case: FAT would take them for
 * one. @seen maps the case-folded path of every name so far to the name. */
static gboolean check_fat_path(GHashTable *seen, const char *path, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(path, "/", -1);
	g_autoptr(GString) prefix = g_string_new(NULL);
	const char *why;

	for (char **p = parts; *p != NULL; p++) {
		g_autofree char *folded = NULL;
		const char *known;

		if (**p == '\0' || g_str_equal(*p, "."))
			continue;
		if ((why = fat_bad_name(*p)) != NULL)
			return install_fail(error, OTA_INSTALL_ERROR_WRITE, "name %s %s", *p, why);
		if (prefix->len > 0)
			g_string_append_c(prefix, '/');
		g_string_append(prefix, *p);
		folded = g_utf8_casefold(prefix->str, -1);
		known = g_hash_table_lookup(seen, folded);
		if (known == NULL)
			g_hash_table_insert(seen, g_steal_pointer(&folded), g_strdup(prefix->str));
		else if (!g_str_equal(known, prefix->str))
			return install_fail(error, OTA_INSTALL_ERROR_WRITE,
			                    "%s differs from %s only in case, which FAT can't tell "
			                    "apart",
			                    prefix->str, known);
	}
	return TRUE;
}

/* What one extraction needs to know about the entries before. */
typedef struct {
	const char *dir;
	SlotTarFlags flags;
	GHashTable *fat_names; /* for SLOT_TAR_FOR_FAT: check_fat_path()'s @seen */
} Extraction;

static gboolean check_for_fat(Extraction *x, struct archive_entry *entry, GError **error)
{
	const char *why = fat_unsupported_type(entry);

	if (why != NULL)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE,
		                    "is %s: only directories and files can go into a FAT file system",
		                    why);
	return check_fat_path(x->fat_names, archive_entry_pathname(entry), error);
}

/* libarchive extracts relative to the working directory, which a library
 * must not change, so each entry gets its absolute path below the
 * directory instead. libarchive's own check for absolute paths can't apply
 * to that, so the archive's names are checked here, before they are
 * rewritten; its ".." and symlink checks still run on the result. */
static gboolean place_entry(Extraction *x, struct archive_entry *entry, GError **error)
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
	/* libarchive would refuse too; the directory must stay one, or what
	 * is made from it (mkfs -d) would follow whatever replaced it. */
	if (names_top(name) && (link != NULL || archive_entry_filetype(entry) != AE_IFDIR))
		return install_fail(error, OTA_INSTALL_ERROR_WRITE,
		                    "names the top directory, as something other than a directory");
	if ((x->flags & SLOT_TAR_FOR_FAT) && !check_for_fat(x, entry, error))
		return FALSE;
	path = g_build_filename(x->dir, name, NULL);
	/* Beyond PATH_MAX, libarchive would chdir() its way down to it. */
	if (strlen(path) >= PATH_MAX)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE,
		                    "path is too long (%d bytes at most in the slot)", PATH_MAX - 1);
	if (link != NULL)
		target = g_build_filename(x->dir, link, NULL);
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

static gboolean extract_entries(struct archive *in, struct archive *out, Extraction *x,
                                GError **error)
{
	struct archive_entry *entry;
	int r;

	while ((r = archive_read_next_header(in, &entry)) == ARCHIVE_OK) {
		g_autofree char *name = ota_text_escape_controls(archive_entry_pathname(entry));

		if (!place_entry(x, entry, error) || !extract_entry(in, out, entry, error)) {
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

/* The compressions RAUC's tar suffixes name, each decoded by libarchive
 * itself: never a filter it would hand to an external program. */
static gboolean support_filters(struct archive *in, GError **error)
{
	static int (*const filters[])(struct archive *) = {
		archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
		archive_read_support_filter_compress, archive_read_support_filter_xz,
		archive_read_support_filter_lzma, archive_read_support_filter_lzip,
		archive_read_support_filter_zstd, archive_read_support_filter_lz4,
	};

	for (gsize i = 0; i < G_N_ELEMENTS(filters); i++) {
		if (filters[i](in) != ARCHIVE_OK)
			return install_fail(error, OTA_INSTALL_ERROR_WRITE, "tar image: %s",
			                    archive_error_string(in));
	}
	return TRUE;
}

/* libarchive with its hostile-archive protections: no "..", and no writing
 * through a symlink anywhere in an entry's path, the directory's own path
 * included (so it is given as the real path). */
gboolean slot_tar_extract(int fd, const char *dir, SlotTarFlags flags, GError **error)
{
	g_autoptr(Archive) in = archive_read_new();
	g_autoptr(Archive) out = archive_write_disk_new();
	g_autoptr(GHashTable) fat_names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                                        g_free);
	Extraction x = {.dir = dir, .flags = flags, .fat_names = fat_names};

	if (in == NULL || out == NULL)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "tar image: out of memory");
	archive_read_support_format_tar(in);
	if (!support_filters(in, error))
		return FALSE;
	/* Owners too when we may set them (as root, installing a root
	 * filesystem); as another user libarchive could only fail at it. */
	archive_write_disk_set_options(out, (geteuid() == 0 ? ARCHIVE_EXTRACT_OWNER : 0) |
	                                            ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
	                                            ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	                                            ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	if (archive_read_open_fd(in, fd, TAR_BLOCK) != ARCHIVE_OK)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "tar image: %s",
		                    archive_error_string(in));
	return extract_entries(in, out, &x, error);
}
