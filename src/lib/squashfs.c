/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "squashfs-private.h"
#include "progress-private.h"
#include <otabundle/text.h>

#include "subprocess-private.h"

#include <gio/gio.h>
#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>
#include <string.h>

G_DEFINE_QUARK(ota-squashfs-error-quark, ota_squashfs_error)

/* --- creating ------------------------------------------------------------ */

static const char *mksquashfs_binary(void)
{
	const char *env = g_getenv("OTABUNDLE_MKSQUASHFS");

	return env && *env ? env : "mksquashfs";
}

/* Flags by which --mksquashfs-args may already choose the compression. */
static gboolean args_choose_compression(char *const *args)
{
	static const char *const flags[] = {"-comp", "-noI", "-noD", "-noF", "-noX",
	                                    "-noInode-compression", "-noData-compression",
	                                    "-noFragment-compression", "-noXattr-compression", NULL};

	for (char *const *a = args; a && *a; a++) {
		if (g_strv_contains(flags, *a))
			return TRUE;
	}
	return FALSE;
}

static gboolean parse_level(const char *spec, const char *level, guint64 max, guint64 *out,
                            GError **error)
{
	if (g_ascii_string_to_unsigned(level, 10, 1, max, out, NULL))
		return TRUE;
	g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_ARGS,
	            "compression '%s': level must be 1 to %" G_GUINT64_FORMAT, spec, max);
	return FALSE;
}

/* Appends the mksquashfs arguments for @spec to @args. */
static gboolean add_compression_args(GPtrArray *args, const char *spec, GError **error)
{
	g_autofree char *name = g_strdup(spec);
	char *level = strchr(name, ':');
	guint64 value;

	if (level != NULL)
		*level++ = '\0';
	if (strcmp(name, "gzip") == 0 || strcmp(name, "zstd") == 0) {
		gboolean gzip = name[0] == 'g';

		/* gzip: level 9, as mksquashfs and RAUC use it. zstd: level 3,
		 * zstd's own default; mksquashfs's 15 is many times slower. */
		value = gzip ? 9 : 3;
		if (level != NULL && !parse_level(spec, level, gzip ? 9 : 22, &value, error))
			return FALSE;
		g_ptr_array_add(args, g_strdup("-comp"));
		g_ptr_array_add(args, g_strdup(name));
		g_ptr_array_add(args, g_strdup("-Xcompression-level"));
		g_ptr_array_add(args, g_strdup_printf("%" G_GUINT64_FORMAT, value));
		return TRUE;
	}
	if (level == NULL && (strcmp(name, "xz") == 0 || strcmp(name, "lz4") == 0)) {
		g_ptr_array_add(args, g_strdup("-comp"));
		g_ptr_array_add(args, g_strdup(name));
		return TRUE;
	}
	if (level == NULL && strcmp(name, "none") == 0) {
		for (const char *const *f = (const char *const[]){"-noI", "-noD", "-noF", "-noX", NULL};
		     *f; f++)
			g_ptr_array_add(args, g_strdup(*f));
		return TRUE;
	}
	g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_ARGS,
	            "unknown compression '%s' (gzip[:LEVEL], xz, zstd[:LEVEL], lz4 or none)", spec);
	return FALSE;
}

GStrv ota_squashfs_build_args(const char *compression, const char *extra_args, GError **error)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) ierror = NULL;
	g_auto(GStrv) extra = NULL;

	if (extra_args != NULL && !g_shell_parse_argv(extra_args, NULL, &extra, &ierror) &&
	    !g_error_matches(ierror, G_SHELL_ERROR, G_SHELL_ERROR_EMPTY_STRING)) {
		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_ARGS,
		            "invalid --mksquashfs-args: %s", ierror->message);
		return NULL;
	}
	if (compression != NULL && args_choose_compression(extra)) {
		g_set_error_literal(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_ARGS,
		                    "--compression and a compression flag in --mksquashfs-args "
		                    "contradict each other; give one");
		return NULL;
	}
	if (!args_choose_compression(extra) &&
	    !add_compression_args(args, compression ? compression : OTA_SQUASHFS_DEFAULT_COMPRESSION,
	                          error))
		return NULL;
	/* mksquashfs would size its caches by RAM (a quarter of it); the
	 * compressors stay just as busy with this. A later -mem wins. */
	g_ptr_array_add(args, g_strdup("-mem"));
	g_ptr_array_add(args, g_strdup(OTA_SQUASHFS_MKSQUASHFS_MEM));
	for (char **a = extra; a && *a; a++)
		g_ptr_array_add(args, g_strdup(*a));
	g_ptr_array_add(args, NULL);
	return (GStrv)g_ptr_array_free(g_steal_pointer(&args), FALSE);
}

/* mksquashfs reads every input byte once, so the bytes its threads have
 * read (rchar in /proc/PID/io) measure its progress; polled from a thread
 * while the caller waits for it. */
typedef struct {
	char *io_path;
	gint stop;
	GThread *thread;
} ReadPoller;

static guint64 read_rchar(const char *io_path)
{
	g_autofree char *text = NULL;
	const char *line;

	if (!g_file_get_contents(io_path, &text, NULL, NULL))
		return 0;
	line = strstr(text, "rchar: ");
	return line ? g_ascii_strtoull(line + strlen("rchar: "), NULL, 10) : 0;
}

static gpointer read_poller_run(gpointer data)
{
	ReadPoller *p = data;

	while (!g_atomic_int_get(&p->stop)) {
		ota_progress_set(read_rchar(p->io_path));
		g_usleep(G_USEC_PER_SEC / 10);
	}
	return NULL;
}

/* ota_subprocess_run's started callback: @data is where the poller goes. */
static void read_poller_start(GSubprocess *proc, gpointer data)
{
	ReadPoller **out = data;
	ReadPoller *p;

	if (!ota_progress_reporting() || g_subprocess_get_identifier(proc) == NULL)
		return;
	p = g_new0(ReadPoller, 1);
	p->io_path = g_strdup_printf("/proc/%s/io", g_subprocess_get_identifier(proc));
	p->thread = g_thread_new("ota-mksquashfs-progress", read_poller_run, p);
	*out = p;
}

static void read_poller_stop(ReadPoller *p)
{
	if (p == NULL)
		return;
	g_atomic_int_set(&p->stop, 1);
	g_thread_join(p->thread);
	g_free(p->io_path);
	g_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ReadPoller, read_poller_stop)

static gboolean run_mksquashfs(const char *const *sources, const char *output,
                               const char *const *fixed_args, const char *const *args,
                               GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) ierror = NULL;
	g_autofree char *reason = NULL;
	g_autoptr(ReadPoller) poller = NULL;
	const OtaSubprocessOptions options = {
		.stderr_lines = OTA_SUBPROCESS_STDERR_FIRST_ERROR_LINE,
		.started = read_poller_start,
		.user_data = &poller,
		.reason_out = &reason,
	};

	g_ptr_array_add(argv, (gpointer)mksquashfs_binary());
	for (const char *const *s = sources; *s; s++)
		g_ptr_array_add(argv, (gpointer)*s);
	g_ptr_array_add(argv, (gpointer)output);
	for (const char *const *a = fixed_args; *a; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	for (const char *const *a = args; a && *a; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	g_ptr_array_add(argv, NULL);

	if (ota_subprocess_run((const char *const *)argv->pdata, &options, NULL, &ierror))
		return TRUE;
	/* The exit status would only repeat what the line says. */
	if (g_error_matches(ierror, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_FAILED))
		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CREATE, "%s failed: %s",
		            mksquashfs_binary(), reason ? reason : "no error output");
	else
		g_set_error_literal(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CREATE,
		                    ierror->message);
	return FALSE;
}

/* As RAUC does: reproducible ownership, no xattrs (a device must not take
 * them from a bundle). */
#define COMMON_ARGS "-all-root", "-no-progress", "-no-xattrs", "-quiet"

gboolean ota_squashfs_create(const char *const *sources, const char *output,
                             const char *const *args, GError **error)
{
	static const char *const fixed_args[] = {COMMON_ARGS, "-noappend", NULL};

	return run_mksquashfs(sources, output, fixed_args, args, error);
}

gboolean ota_squashfs_append(const char *const *sources, const char *output, GError **error)
{
	/* Compression and block size come from the image's superblock; the
	 * recovery file mksquashfs would leave in $HOME protects nothing that
	 * an unfinished (never committed) output needs. */
	static const char *const fixed_args[] = {COMMON_ARGS, "-no-recovery", "-mem",
	                                         OTA_SQUASHFS_MKSQUASHFS_MEM, NULL};

	return run_mksquashfs(sources, output, fixed_args, NULL, error);
}

/* --- reading ------------------------------------------------------------- */

/* libsquashfs reads through this, so every byte it sees comes from our
 * reader, bounds-checked (and, for verity, hash-checked) there. */
typedef struct {
	sqfs_file_t base;
	OtaReader *reader;
	GError *error; /* the first read error, for a precise message */
} ReaderFile;

struct OtaSquashfs {
	ReaderFile *file;
	sqfs_super_t super;
	sqfs_compressor_t *compressor;
	sqfs_dir_reader_t *dir_reader;
	sqfs_data_reader_t *data_reader;
	sqfs_inode_generic_t *root;
};

static int reader_file_read_at(sqfs_file_t *base, sqfs_u64 offset, void *buffer, size_t size)
{
	ReaderFile *f = (ReaderFile *)base;
	GError *ierror = NULL;

	if (ota_reader_read_at(f->reader, offset, buffer, size, &ierror))
		return 0;
	if (f->error == NULL)
		f->error = ierror;
	else
		g_error_free(ierror);
	return SQFS_ERROR_IO;
}

static int reader_file_write_at(sqfs_file_t *base, sqfs_u64 offset, const void *buffer,
                                size_t size)
{
	return SQFS_ERROR_UNSUPPORTED;
}

static sqfs_u64 reader_file_get_size(const sqfs_file_t *base)
{
	return ((const ReaderFile *)base)->reader->size;
}

static int reader_file_truncate(sqfs_file_t *base, sqfs_u64 size)
{
	return SQFS_ERROR_UNSUPPORTED;
}

static void reader_file_destroy(sqfs_object_t *base)
{
	ReaderFile *f = (ReaderFile *)base;

	g_clear_error(&f->error);
	g_free(f);
}

static ReaderFile *reader_file_new(OtaReader *reader)
{
	ReaderFile *f = g_new0(ReaderFile, 1);

	f->base.base.destroy = reader_file_destroy;
	f->base.read_at = reader_file_read_at;
	f->base.write_at = reader_file_write_at;
	f->base.get_size = reader_file_get_size;
	f->base.truncate = reader_file_truncate;
	f->reader = reader;
	return f;
}

/* A libsquashfs error code as one of ours, preferring the reader's own
 * message when the failure was a read. */
static gboolean set_sqfs_error(OtaSquashfs *sq, int code, GError **error, const char *subject)
{
	/* A file name comes from the manifest and may hold control characters. */
	g_autofree char *what = ota_text_escape(subject);

	if (sq->file->error != NULL) {
		/* The reader knows best: out of bounds, truncated, or a block
		 * that fails verification. */
		g_propagate_prefixed_error(error, g_steal_pointer(&sq->file->error), "%s: ", what);
	} else if (code == SQFS_ERROR_UNSUPPORTED) {
		const char *name =
			sqfs_compressor_name_from_id((SQFS_COMPRESSOR)sq->super.compression_id);

		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_UNSUPPORTED,
		            "%s: squashfs compressor '%s' is not supported by this build", what,
		            name ? name : "unknown");
	} else if (code == SQFS_ERROR_NO_ENTRY) {
		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_NOT_FOUND, "%s: not found",
		            what);
	} else {
		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CORRUPTED,
		            "%s: squashfs image is corrupted (libsquashfs error %d)", what, code);
	}
	return FALSE;
}

void ota_squashfs_free(OtaSquashfs *sq)
{
	if (sq == NULL)
		return;
	sqfs_free(sq->root);
	sqfs_destroy(sq->data_reader);
	sqfs_destroy(sq->dir_reader);
	sqfs_destroy(sq->compressor);
	sqfs_destroy(sq->file);
	g_free(sq);
}

/* libsquashfs sizes its allocations from superblock fields. Before it sees
 * them, every table must lie inside the image and the fragment count must
 * be plausible: a forged superblock must not make us allocate gigabytes. */
static gboolean check_superblock(const sqfs_super_t *super, guint64 available, GError **error)
{
	const guint64 tables[] = {super->inode_table_start, super->directory_table_start,
	                          super->fragment_table_start, super->id_table_start,
	                          super->export_table_start, super->xattr_id_table_start};
	const char *problem = NULL;

	if (super->bytes_used > available)
		problem = "it is larger than the payload";
	else if (super->block_size < 4096 || super->block_size > 1024 * 1024)
		problem = "its block size is out of range";
	else if (super->inode_table_start >= super->directory_table_start)
		problem = "its inode table does not precede its directory table";
	else if (super->fragment_entry_count > OTA_SQUASHFS_MAX_FRAGMENTS ||
	         super->fragment_entry_count > super->inode_table_start)
		problem = "its fragment count is implausible";
	for (gsize i = 0; problem == NULL && i < G_N_ELEMENTS(tables); i++) {
		if (tables[i] != G_MAXUINT64 && tables[i] >= super->bytes_used)
			problem = "a table lies outside the image";
	}
	if (problem == NULL)
		return TRUE;
	g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CORRUPTED,
	            "squashfs superblock is corrupted: %s", problem);
	return FALSE;
}

OtaSquashfs *ota_squashfs_open(OtaReader *reader, GError **error)
{
	g_autoptr(OtaSquashfs) sq = g_new0(OtaSquashfs, 1);
	sqfs_compressor_config_t cfg;
	int ret;

	sq->file = reader_file_new(reader);
	ret = sqfs_super_read(&sq->super, &sq->file->base);
	if (ret != 0) {
		set_sqfs_error(sq, ret, error, "superblock");
		return NULL;
	}
	if (!check_superblock(&sq->super, reader->size, error))
		return NULL;
	ret = sqfs_compressor_config_init(&cfg, (SQFS_COMPRESSOR)sq->super.compression_id,
	                                  sq->super.block_size, SQFS_COMP_FLAG_UNCOMPRESS);
	if (ret == 0)
		ret = sqfs_compressor_create(&cfg, &sq->compressor);
	if (ret == 0 && (sq->super.flags & SQFS_FLAG_COMPRESSOR_OPTIONS))
		ret = sq->compressor->read_options(sq->compressor, &sq->file->base);
	if (ret != 0) {
		set_sqfs_error(sq, ret, error, "compressor");
		return NULL;
	}

	sq->dir_reader = sqfs_dir_reader_create(&sq->super, sq->compressor, &sq->file->base, 0);
	sq->data_reader = sqfs_data_reader_create(&sq->file->base, sq->super.block_size,
	                                          sq->compressor, 0);
	if (sq->dir_reader == NULL || sq->data_reader == NULL) {
		g_set_error_literal(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CORRUPTED,
		                    "cannot create squashfs readers");
		return NULL;
	}
	ret = sqfs_data_reader_load_fragment_table(sq->data_reader, &sq->super);
	if (ret != 0) {
		set_sqfs_error(sq, ret, error, "fragment table");
		return NULL;
	}
	ret = sqfs_dir_reader_get_root_inode(sq->dir_reader, &sq->root);
	if (ret != 0) {
		set_sqfs_error(sq, ret, error, "root directory");
		return NULL;
	}
	return g_steal_pointer(&sq);
}

static sqfs_inode_generic_t *lookup_file(OtaSquashfs *sq, const char *name, guint64 *size,
                                         GError **error)
{
	sqfs_inode_generic_t *inode = NULL;
	sqfs_u64 file_size = 0;
	int ret;

	ret = sqfs_dir_reader_open_dir(sq->dir_reader, sq->root, 0);
	if (ret == 0)
		ret = sqfs_dir_reader_find(sq->dir_reader, name);
	if (ret == 0)
		ret = sqfs_dir_reader_get_inode(sq->dir_reader, &inode);
	if (ret != 0) {
		set_sqfs_error(sq, ret, error, name);
		return NULL;
	}
	if (inode->base.type != SQFS_INODE_FILE && inode->base.type != SQFS_INODE_EXT_FILE) {
		g_autofree char *what = ota_text_escape(name);

		sqfs_free(inode);
		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_NOT_REGULAR,
		            "%s: not a regular file in the bundle", what);
		return NULL;
	}
	if (sqfs_inode_get_file_size(inode, &file_size) != 0) {
		g_autofree char *what = ota_text_escape(name);

		sqfs_free(inode);
		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CORRUPTED,
		            "%s: inode has no size", what);
		return NULL;
	}
	*size = file_size;
	return inode;
}

gboolean ota_squashfs_stat_file(OtaSquashfs *sq, const char *name, guint64 *size,
                                GError **error)
{
	sqfs_inode_generic_t *inode = lookup_file(sq, name, size, error);

	sqfs_free(inode);
	return inode != NULL;
}

gboolean ota_squashfs_read_file(OtaSquashfs *sq, const char *name, OtaSquashfsSink sink,
                                gpointer user_data, GError **error)
{
	guint64 size = 0, offset = 0;
	sqfs_inode_generic_t *inode = lookup_file(sq, name, &size, error);
	g_autofree guint8 *buf = NULL;
	gboolean ok = TRUE;

	if (inode == NULL)
		return FALSE;
	buf = g_malloc(sq->super.block_size);
	while (ok && offset < size) {
		sqfs_u32 want = (sqfs_u32)MIN((guint64)sq->super.block_size, size - offset);
		sqfs_s32 got = sqfs_data_reader_read(sq->data_reader, inode, offset, buf, want);

		if (got <= 0) {
			ok = set_sqfs_error(sq, got < 0 ? got : SQFS_ERROR_CORRUPTED, error, name);
			break;
		}
		ok = sink(buf, (gsize)got, user_data, error);
		offset += (guint64)got;
	}
	sqfs_free(inode);
	return ok;
}

static gboolean collect_small(const guint8 *data, gsize length, gpointer user_data,
                              GError **error)
{
	g_byte_array_append(user_data, data, (guint)length);
	return TRUE;
}

GBytes *ota_squashfs_read_small_file(OtaSquashfs *sq, const char *name, gsize max_size,
                                     GError **error)
{
	g_autoptr(GByteArray) data = NULL;
	guint64 size = 0;

	if (!ota_squashfs_stat_file(sq, name, &size, error))
		return NULL;
	if (size > max_size) {
		g_autofree char *what = ota_text_escape(name);

		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_TOO_LARGE,
		            "%s: %" G_GUINT64_FORMAT " bytes is larger than the %" G_GSIZE_FORMAT
		            " allowed", what, size, max_size);
		return NULL;
	}
	data = g_byte_array_sized_new((guint)size);
	if (!ota_squashfs_read_file(sq, name, collect_small, data, error))
		return NULL;
	return g_byte_array_free_to_bytes(g_steal_pointer(&data));
}
