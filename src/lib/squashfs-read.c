/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "squashfs-private.h"

#include <otabundle/text.h>

#include <string.h>

#include <sqfs/block.h>
#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>

G_DEFINE_QUARK(ota-squashfs-error-quark, ota_squashfs_error)

/* libsquashfs reads through this, so every byte it sees comes from our
 * reader, bounds-checked (and, for verity, hash-checked) there. */
typedef struct {
	sqfs_file_t base;
	OtaReader *reader;
	GError *error; /* the first read error, for a precise message */
	/* Bytes read ahead for ota_squashfs_file_read_at(): libsquashfs's
	 * reads inside them are served from here. */
	guint8 *ahead;
	guint64 ahead_offset;
	gsize ahead_size;
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

	if (f->ahead != NULL && offset >= f->ahead_offset &&
	    offset - f->ahead_offset <= f->ahead_size &&
	    size <= f->ahead_size - (offset - f->ahead_offset)) {
		memcpy(buffer, f->ahead + (offset - f->ahead_offset), size);
		return 0;
	}
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
	g_free(f->ahead);
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

struct OtaSquashfsFile {
	OtaSquashfs *squashfs;
	sqfs_inode_generic_t *inode;
	char *name;
	guint64 size;
	gboolean have_last;
	guint64 last_block; /* the data block the previous read ended in */
};

/* The read-ahead for one ota_squashfs_file_read_at(): pieces of at most
 * this much, aligned to it, and no more than AHEAD_MAX in all. */
#define AHEAD_PIECE (1024 * 1024)
#define AHEAD_MAX (16 * 1024 * 1024)

/* Reads the compressed data blocks that hold [offset, offset + size) of
 * @f in one go, before libsquashfs asks for them one block at a time: a
 * reader that reads ahead on sequential reads (the verity reader, for
 * streaming) would otherwise fetch up to twice what a scattered read uses.
 * The pieces are read last first, so no piece continues the one before.
 * The block the previous read ended in is libsquashfs's cached block and
 * is not read again. Best effort: on any failure libsquashfs reads the
 * blocks itself (and reports what fails). */
static void read_ahead(OtaSquashfsFile *f, guint64 offset, gsize size)
{
	ReaderFile *rf = f->squashfs->file;
	const sqfs_u32 *sizes = (const sqfs_u32 *)f->inode->extra;
	guint64 n_blocks = sqfs_inode_get_file_block_count(f->inode);
	guint64 block_size = f->squashfs->super.block_size;
	guint64 first = offset / block_size, last = (offset + size - 1) / block_size;
	sqfs_u64 start = 0;
	guint64 from, end;

	g_clear_pointer(&rf->ahead, g_free);
	if (size == 0 || sqfs_inode_get_file_block_start(f->inode, &start) != 0 ||
	    first >= n_blocks)
		return;
	if (f->have_last && first == f->last_block)
		first++;
	last = MIN(last, n_blocks - 1);
	if (first > last)
		return;
	from = start;
	for (guint64 i = 0; i < first; i++)
		from += SQFS_ON_DISK_BLOCK_SIZE(sizes[i]);
	end = from;
	for (guint64 i = first; i <= last; i++)
		end += SQFS_ON_DISK_BLOCK_SIZE(sizes[i]);
	if (end == from || end - from > AHEAD_MAX || end > rf->reader->size)
		return;
	rf->ahead = g_malloc(end - from);
	for (guint64 piece = (end - 1) / AHEAD_PIECE + 1; piece-- > from / AHEAD_PIECE;) {
		guint64 a = MAX(from, piece * AHEAD_PIECE), b = MIN(end, (piece + 1) * AHEAD_PIECE);

		if (!ota_reader_read_at(rf->reader, a, rf->ahead + (a - from), b - a, NULL)) {
			g_clear_pointer(&rf->ahead, g_free);
			return;
		}
	}
	rf->ahead_offset = from;
	rf->ahead_size = end - from;
}

OtaSquashfsFile *ota_squashfs_file_open(OtaSquashfs *sq, const char *name, GError **error)
{
	guint64 size = 0;
	sqfs_inode_generic_t *inode = lookup_file(sq, name, &size, error);
	OtaSquashfsFile *f;

	if (inode == NULL)
		return NULL;
	f = g_new0(OtaSquashfsFile, 1);
	f->squashfs = sq;
	f->inode = inode;
	f->name = g_strdup(name);
	f->size = size;
	return f;
}

guint64 ota_squashfs_file_get_size(const OtaSquashfsFile *f)
{
	return f->size;
}

gboolean ota_squashfs_file_read_at(OtaSquashfsFile *f, guint64 offset, void *buffer, gsize size,
                                   GError **error)
{
	guint8 *out = buffer;

	if (offset > f->size || size > f->size - offset) {
		g_autofree char *what = ota_text_escape(f->name);

		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CORRUPTED,
		            "%s: read of %" G_GSIZE_FORMAT " bytes at %" G_GUINT64_FORMAT
		            " is past its end (%" G_GUINT64_FORMAT " bytes)",
		            what, size, offset, f->size);
		return FALSE;
	}
	if (size > 0) {
		read_ahead(f, offset, size);
		f->have_last = TRUE;
		f->last_block = (offset + size - 1) / f->squashfs->super.block_size;
	}
	while (size > 0) {
		sqfs_u32 want = (sqfs_u32)MIN(size, (gsize)G_MAXINT32);
		sqfs_s32 got = sqfs_data_reader_read(f->squashfs->data_reader, f->inode, offset, out,
		                                     want);

		if (got <= 0) {
			g_clear_pointer(&f->squashfs->file->ahead, g_free);
			return set_sqfs_error(f->squashfs, got < 0 ? got : SQFS_ERROR_CORRUPTED, error,
			                      f->name);
		}
		out += got;
		offset += (guint64)got;
		size -= (gsize)got;
	}
	g_clear_pointer(&f->squashfs->file->ahead, g_free);
	return TRUE;
}

void ota_squashfs_file_free(OtaSquashfsFile *f)
{
	if (f == NULL)
		return;
	sqfs_free(f->inode);
	g_free(f->name);
	g_free(f);
}
