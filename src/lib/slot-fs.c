/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Filesystem slots. RAUC mounts the slot to unpack a tar image into it;
 * otabundle-install mounts nothing: the tree is unpacked into a private
 * directory and the filesystem made from it by the tools that make it
 * (mkfs.ext4 -d, mkfs.vfat and mcopy). No mount means no kernel parsing of
 * the slot, no mount namespace to leak into and no root needed in tests. */
#include "slot-fs-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cancel-private.h"
#include "slot-adaptive-private.h"
#include "slot-casync-private.h"
#include "slot-tar-private.h"
#include "subprocess-private.h"

/* The private trees live next to the bundle's private copy. */
#define SCRATCH_PREFIX "slot-fs-"
#define DRAIN_BLOCK (64 * 1024)

gboolean slot_fs_type_is_filesystem(OtaSlotType type)
{
	return type == OTA_SLOT_EXT2 || type == OTA_SLOT_EXT3 || type == OTA_SLOT_EXT4 ||
	       type == OTA_SLOT_VFAT;
}

static gboolean is_ext(OtaSlotType type)
{
	return type == OTA_SLOT_EXT2 || type == OTA_SLOT_EXT3 || type == OTA_SLOT_EXT4;
}

/* --- which image goes into which slot -------------------------------------- */

typedef enum {
	IMAGE_FILESYSTEM, /* written as is */
	IMAGE_TAR,        /* a tree to make a filesystem from */
} ImageKind;

/* RAUC's rule (ext_type_map in its update_handler.c): the first pattern
 * that matches the image's filename gives its type. *.ext2 and *.ext3 are
 * otabundle's, for its ext2 and ext3 slots. */
static const struct {
	const char *pattern;
	const char *type;
} image_types[] = {
	{"*.caibx", "casync"},       {"*.caidx", "casync"},   {"*.catar", "casync"},
	{"*.tar*", "tar"},           {"*.tgz", "tar"},        {"*.ext4", "ext4"},
	{"*.vfat", "vfat"},          {"*.img", "raw"},        {"*.squashfs-*", "squashfs"},
	{"*.squashfs", "squashfs"},  {"*.ubifs", "ubifs"},    {"*.ext2", "ext2"},
	{"*.ext3", "ext3"},
};

const char *slot_image_type(const char *filename)
{
	for (gsize i = 0; i < G_N_ELEMENTS(image_types); i++) {
		if (g_pattern_match_simple(image_types[i].pattern, filename))
			return image_types[i].type;
	}
	return NULL;
}

static gboolean image_kind(const OtaSlotConfig *slot, const OtaImage *image, ImageKind *kind,
                           GError **error)
{
	const char *slot_type = config_slot_type_to_string(slot->type);
	/* A casync blob index is typed by the image it rebuilds, as RAUC's
	 * ext4-caibx and raw-caibx: rootfs.ext4.caibx is an ext4 image (a tar
	 * one never is one: rauc convert makes a .caidx of a tar image). */
	g_autofree char *rebuilt =
		ota_image_get_casync(image) == OTA_IMAGE_CASYNC_BLOB
			? g_strndup(image->filename, strlen(image->filename) - strlen(".caibx"))
			: NULL;
	const char *type = slot_image_type(rebuilt ? rebuilt : image->filename);

	if (g_strcmp0(type, "tar") == 0 && rebuilt == NULL) {
		*kind = IMAGE_TAR;
		return TRUE;
	}
	if (g_strcmp0(type, "raw") == 0 || g_strcmp0(type, slot_type) == 0) {
		*kind = IMAGE_FILESYSTEM;
		return TRUE;
	}
	if (type == NULL)
		return install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
		                    "image %s: slot %s (type=%s) takes *.%s, *.img or *.tar* images "
		                    "(RAUC's rule on the filename)",
		                    image->filename, slot->name, slot_type, slot_type);
	return install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
	                    "image %s (of type %s, by RAUC's rule on the filename) can't go "
	                    "into slot %s (type=%s)",
	                    image->filename, type, slot->name, slot_type);
}

/* A block device's size, or a regular file's (standing in for one). */
static gboolean device_size(const char *path, guint64 *size, GError **error)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t end;
	int saved;

	if (fd < 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", path, g_strerror(errno));
	end = lseek(fd, 0, SEEK_END);
	saved = errno;
	close(fd);
	if (end < 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: cannot tell its size: %s",
		                    path, g_strerror(saved));
	*size = (guint64)end;
	return TRUE;
}

gboolean slot_fs_check_image(const OtaSlotConfig *slot, const OtaImage *image, GError **error)
{
	ImageKind kind;
	guint64 size = 0;

	if (!image_kind(slot, image, &kind, error))
		return FALSE;
	if (kind == IMAGE_TAR)
		return TRUE; /* mkfs says whether the tree fits */
	if (!device_size(slot->device, &size, error))
		return FALSE;
	if (image->size > size)
		return install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
		                    "image %s (%" G_GUINT64_FORMAT " bytes) is larger than slot %s "
		                    "(%s: %" G_GUINT64_FORMAT " bytes)",
		                    image->filename, image->size, slot->name, slot->device, size);
	return TRUE;
}

/* --- running the filesystem tools --------------------------------------- */

static gboolean run_tool(GPtrArray *argv, const char *const *env, const OtaSlotConfig *slot,
                         GError **error)
{
	const OtaSubprocessOptions options = {.env = env};
	g_autoptr(GError) ierror = NULL;

	g_ptr_array_add(argv, NULL);
	if (ota_subprocess_run((const char *const *)argv->pdata, &options, NULL, &ierror))
		return TRUE;
	g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", slot->device);
	return FALSE;
}

static void add_args(GPtrArray *argv, ...) G_GNUC_NULL_TERMINATED;
static void add_args(GPtrArray *argv, ...)
{
	va_list args;
	const char *arg;

	va_start(args, argv);
	while ((arg = va_arg(args, const char *)) != NULL)
		g_ptr_array_add(argv, g_strdup(arg));
	va_end(args);
}

/* The slot's extra-mkfs-opts come after our defaults, so that they can
 * override them (a label), as in RAUC. */
static void add_extra_mkfs_opts(GPtrArray *argv, const OtaSlotConfig *slot)
{
	for (char **o = slot->extra_mkfs_opts; o != NULL && *o != NULL; o++)
		g_ptr_array_add(argv, g_strdup(*o));
}

/* What mkfs and mcopy wrote must be on the device before the slot can be
 * made bootable. */
static gboolean sync_device(const OtaSlotConfig *slot, GError **error)
{
	int fd = open(slot->device, O_RDONLY | O_CLOEXEC);
	int saved;

	if (fd < 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", slot->device,
		                    g_strerror(errno));
	if (fsync(fd) == 0) {
		close(fd);
		return TRUE;
	}
	saved = errno;
	close(fd);
	return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: fsync failed: %s", slot->device,
	                    g_strerror(saved));
}

/* RAUC's defaults: the slot's name as the label where it fits, 256-byte
 * inodes (dates beyond 2038). */
static gboolean make_ext(const OtaSlotConfig *slot, const char *tree, GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);

	g_ptr_array_add(argv, g_strconcat("mkfs.", config_slot_type_to_string(slot->type), NULL));
	add_args(argv, "-F", NULL);
	if (strlen(slot->name) <= 16)
		add_args(argv, "-L", slot->name, NULL);
	add_args(argv, "-I256", NULL);
	add_extra_mkfs_opts(argv, slot);
	add_args(argv, "-d", tree, slot->device, NULL);
	return run_tool(argv, NULL, slot, error);
}

/* RAUC's vfat label from the slot's name: at most 11 characters, upper
 * case, those mkfs.vfat refuses replaced by '_'. */
static char *vfat_label(const char *name)
{
	char *label = g_ascii_strup(name, MIN(strlen(name), 11));

	for (char *c = label; *c != '\0'; c++) {
		if (strchr("*?.,;:/\\|+=<>[]\"", *c) != NULL)
			*c = '_';
	}
	return label;
}

/* mcopy -s copies the top level entries it is given, and what is below
 * them; -p keeps the read-only attribute, -m the times, -Q stops at the
 * first failure. The tree holds nothing mcopy would follow or hang on
 * (SLOT_TAR_FOR_FAT). */
static gboolean copy_tree_to_vfat(const OtaSlotConfig *slot, const char *tree, GError **error)
{
	static const char *const env[] = {"MTOOLS_SKIP_CHECK=1", NULL};
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) ierror = NULL;
	g_autoptr(GDir) dir = g_dir_open(tree, 0, &ierror);
	const char *name;
	guint fixed;

	if (dir == NULL)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s", ierror->message);
	add_args(argv, "mcopy", "-i", slot->device, "-s", "-p", "-m", "-Q", NULL);
	fixed = argv->len;
	while ((name = g_dir_read_name(dir)) != NULL)
		g_ptr_array_add(argv, g_build_filename(tree, name, NULL));
	if (argv->len == fixed)
		return TRUE; /* an empty tree: the empty filesystem is all */
	add_args(argv, "::/", NULL);
	return run_tool(argv, env, slot, error);
}

static gboolean make_vfat(const OtaSlotConfig *slot, const char *tree, GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);

	add_args(argv, "mkfs.vfat", "-n", NULL);
	g_ptr_array_add(argv, vfat_label(slot->name));
	add_extra_mkfs_opts(argv, slot);
	add_args(argv, slot->device, NULL);
	return run_tool(argv, NULL, slot, error) && copy_tree_to_vfat(slot, tree, error);
}

/* --- a filesystem image --------------------------------------------------- */

/* As RAUC: resize2fs grows the file system to the device (its checks
 * refuse a file system that was mounted since its last fsck). */
static gboolean grow_to_device(const OtaSlotConfig *slot, GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);

	add_args(argv, "resize2fs", slot->device, NULL);
	return run_tool(argv, NULL, slot, error) && sync_device(slot, error);
}

/* Never O_CREAT (a mistyped device must fail, not fill a new file), and
 * never O_TRUNC: a file standing in for a block device keeps its size,
 * which is the size resize grows the filesystem to. */
static gboolean write_image(OtaTarget *t, OtaInstallPlan *plan, const OtaInstallStep *step,
                            GError **error)
{
	const OtaSlotConfig *slot = step->slot;
	gboolean adaptive = slot_adaptive_applies(plan->bundle, step);
	gboolean casync = ota_image_get_casync(step->image) != OTA_IMAGE_CASYNC_NONE;
	/* Readable for adaptive and casync: they read the slot back. */
	int fd = open(slot->device, (adaptive || casync ? O_RDWR : O_WRONLY) | O_CLOEXEC);
	gboolean ok;

	if (fd < 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", slot->device,
		                    g_strerror(errno));
	if (casync)
		ok = slot_casync_write_fd(t, plan, step, fd, error);
	else if (adaptive)
		ok = slot_adaptive_write(t, plan, step, fd, FALSE, error);
	else
		ok = bundle_write_image_to(plan->bundle, step->image, fd, slot->device, error);
	if (ok && fsync(fd) < 0)
		ok = install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: fsync failed: %s", slot->device,
		                  g_strerror(errno));
	close(fd);
	if (!ok || !slot->resize || !is_ext(slot->type))
		return ok;
	return grow_to_device(slot, error);
}

/* --- a tar image ---------------------------------------------------------- */

/* A private directory in the data directory, holding "tree"; removed with
 * everything in it. */
typedef struct {
	char *path;
	char *tree;
	OtaCancelHold hold;
} Scratch;

static void scratch_free(Scratch *s)
{
	if (s->path != NULL && slot_tar_empty_directory(s->path, NULL))
		(void)rmdir(s->path);
	ota_cancel_release(&s->hold);
	g_free(s->path);
	g_free(s->tree);
	g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Scratch, scratch_free)

/* A tree left behind by a power cut would hold the data directory's space
 * for good. Only one install runs at a time (the data directory's lock),
 * so any tree found here is a leftover. */
static void remove_leftover_trees(const char *data_directory)
{
	g_autoptr(GDir) dir = g_dir_open(data_directory, 0, NULL);
	const char *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *path = g_build_filename(data_directory, name, NULL);
		struct stat st;

		if (g_str_has_prefix(name, SCRATCH_PREFIX) && lstat(path, &st) == 0 &&
		    S_ISDIR(st.st_mode) && slot_tar_empty_directory(path, NULL))
			(void)rmdir(path);
	}
}

/* libarchive refuses to extract through a symlink anywhere in a path, ours
 * included, so the tree is named by its real path. */
static Scratch *scratch_new(const char *data_directory, GError **error)
{
	g_autoptr(Scratch) s = g_new0(Scratch, 1);
	g_autofree char *real = realpath(data_directory, NULL);
	g_autofree char *template = NULL;

	if (real == NULL) {
		install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", data_directory,
		             g_strerror(errno));
		return NULL;
	}
	if (!ota_cancel_hold(&s->hold, error))
		return NULL;
	remove_leftover_trees(real);
	template = g_build_filename(real, SCRATCH_PREFIX "XXXXXX", NULL);
	if (g_mkdtemp_full(template, 0700) == NULL) {
		install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", real, g_strerror(errno));
		return NULL;
	}
	s->path = g_steal_pointer(&template);
	/* 0755 within the private directory: mkfs copies what it finds. */
	s->tree = g_build_filename(s->path, "tree", NULL);
	if (mkdir(s->tree, 0755) < 0) {
		install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", s->tree, g_strerror(errno));
		return NULL;
	}
	return g_steal_pointer(&s);
}

typedef struct {
	int fd; /* the pipe's read end */
	const char *tree;
	SlotTarFlags flags;
	GError *error;
} Extraction;

/* On its own thread, while the image streams into the pipe. Reads the
 * pipe to its end whatever happens: the image is hashed to its last byte,
 * and the writer never waits on a pipe nobody reads (bytes after the tar's
 * end, or after a refused entry). */
static gpointer extraction_run(gpointer data)
{
	Extraction *x = data;
	g_autofree char *rest = g_malloc(DRAIN_BLOCK);
	gboolean extracted = slot_tar_extract(x->fd, x->tree, x->flags, &x->error);
	ssize_t n;

	do {
		n = read(x->fd, rest, DRAIN_BLOCK);
	} while (n > 0 || (n < 0 && errno == EINTR));
	return GINT_TO_POINTER(extracted);
}

/* The hash of the image is checked while it is extracted, which saves a
 * copy of it in the data directory. libarchive parses only signed bytes
 * still: the image comes out of a verified bundle (a verity bundle's blocks
 * are checked as they are read, a plain bundle is read from its private,
 * hashed copy). A tree from an image whose hash does not match is thrown
 * away; the hash error, the decisive one, is reported. */
static gboolean extract_streamed(OtaBundle *b, const OtaImage *image, const char *tree,
                                 SlotTarFlags flags, GError **error)
{
	Extraction x = {.tree = tree, .flags = flags};
	g_autoptr(GError) ierror = NULL;
	g_autoptr(GError) extract_error = NULL;
	GThread *thread;
	int fds[2];
	gboolean streamed, extracted;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "cannot make a pipe: %s",
		                    g_strerror(errno));
	x.fd = fds[0];
	thread = g_thread_new("otabundle-untar", extraction_run, &x);
	streamed = bundle_stream_image(b, image, fds[1], OTA_HASH_PIPE_HASH, &ierror);
	close(fds[1]);
	extracted = GPOINTER_TO_INT(g_thread_join(thread));
	close(fds[0]);
	extract_error = x.error;
	if (!streamed) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", b->path);
		return FALSE;
	}
	if (!extracted) {
		g_propagate_prefixed_error(error, g_steal_pointer(&extract_error), "%s: ", b->path);
		return FALSE;
	}
	return TRUE;
}

static gboolean write_tar(OtaTarget *t, OtaBundle *b, const OtaInstallStep *step,
                          GError **error)
{
	const OtaSlotConfig *slot = step->slot;
	gboolean vfat = slot->type == OTA_SLOT_VFAT;
	g_autoptr(Scratch) scratch = scratch_new(t->config->data_directory, error);

	if (scratch == NULL ||
	    !extract_streamed(b, step->image, scratch->tree,
	                      vfat ? SLOT_TAR_FOR_FAT : SLOT_TAR_ANY_ENTRY, error) ||
	    !ota_cancel_check(error))
		return FALSE;
	if (vfat ? !make_vfat(slot, scratch->tree, error) : !make_ext(slot, scratch->tree, error))
		return FALSE;
	return sync_device(slot, error);
}

gboolean slot_fs_write(OtaTarget *t, OtaInstallPlan *plan, const OtaInstallStep *step,
                       GError **error)
{
	ImageKind kind;

	if (!image_kind(step->slot, step->image, &kind, error))
		return FALSE;
	return kind == IMAGE_TAR ? write_tar(t, plan->bundle, step, error)
	                         : write_image(t, plan, step, error);
}
