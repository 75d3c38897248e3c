/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* casync chunk indexes (.caibx, .caidx) as RAUC's casync bundles hold
 * them: read strictly, trusting no length in them, before casync ever
 * sees one. The format (casync's caformat.h): a 48-byte index header, a
 * table header whose size is all ones (casync streams it), one 40-byte
 * item per chunk (the chunk's end offset in the blob, its SHA-512/256 or
 * SHA-256 ID), and a 40-byte tail that repeats the table's position and
 * size. */
#include "casync-private.h"

#include <otabundle/text.h>

#include <string.h>

static guint64 le64_at(const guint8 *p)
{
	guint64 v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static gboolean malformed(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

static gboolean malformed(GError **error, const char *format, ...)
{
	g_autofree char *message = NULL;
	va_list args;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED, "casync index: %s", message);
	return FALSE;
}

static gboolean parse_header(const guint8 *data, gsize length, OtaCasyncIndex *index,
                             GError **error)
{
	if (length < OTA_CASYNC_INDEX_HEADER_SIZE + OTA_CASYNC_TABLE_HEADER_SIZE +
	                 OTA_CASYNC_TABLE_TAIL_SIZE)
		return malformed(error, "%" G_GSIZE_FORMAT " bytes, shorter than an empty index",
		                 length);
	if (le64_at(data + 8) != OTA_CASYNC_FORMAT_INDEX)
		return malformed(error, "no index header (not a .caibx or .caidx file)");
	if (le64_at(data) != OTA_CASYNC_INDEX_HEADER_SIZE)
		return malformed(error, "index header size %" G_GUINT64_FORMAT ", expected %d",
		                 le64_at(data), OTA_CASYNC_INDEX_HEADER_SIZE);
	index->feature_flags = le64_at(data + 16);
	index->chunk_size_min = le64_at(data + 24);
	index->chunk_size_avg = le64_at(data + 32);
	index->chunk_size_max = le64_at(data + 40);
	if (index->chunk_size_min < 1 || index->chunk_size_min > index->chunk_size_avg ||
	    index->chunk_size_avg > index->chunk_size_max ||
	    index->chunk_size_max > OTA_CASYNC_CHUNK_SIZE_MAX)
		return malformed(error,
		                 "chunk sizes min %" G_GUINT64_FORMAT ", avg %" G_GUINT64_FORMAT
		                 ", max %" G_GUINT64_FORMAT " are not 1 <= min <= avg <= max <= %d",
		                 index->chunk_size_min, index->chunk_size_avg, index->chunk_size_max,
		                 OTA_CASYNC_CHUNK_SIZE_MAX);
	return TRUE;
}

static gboolean parse_tail(const guint8 *data, gsize length, guint64 n_chunks, GError **error)
{
	const guint8 *tail = data + length - OTA_CASYNC_TABLE_TAIL_SIZE;
	/* n_chunks is at most length / 40, so this can't overflow. */
	guint64 table_size = OTA_CASYNC_TABLE_HEADER_SIZE + n_chunks * OTA_CASYNC_TABLE_ITEM_SIZE +
	                     OTA_CASYNC_TABLE_TAIL_SIZE;

	if (le64_at(tail + 32) != OTA_CASYNC_FORMAT_TABLE_TAIL_MARKER)
		return malformed(error, "no table tail marker at the end (truncated?)");
	if (le64_at(tail) != 0 || le64_at(tail + 8) != 0)
		return malformed(error, "the table tail's padding is not zero");
	if (le64_at(tail + 16) != OTA_CASYNC_INDEX_HEADER_SIZE)
		return malformed(error, "the table tail puts the table at %" G_GUINT64_FORMAT
		                 ", not at %d", le64_at(tail + 16), OTA_CASYNC_INDEX_HEADER_SIZE);
	if (le64_at(tail + 24) != table_size)
		return malformed(error, "the table tail says %" G_GUINT64_FORMAT
		                 " table bytes, the file has %" G_GUINT64_FORMAT,
		                 le64_at(tail + 24), table_size);
	return TRUE;
}

gboolean ota_casync_index_parse(const guint8 *data, gsize length, OtaCasyncIndex *index,
                                GError **error)
{
	const guint8 *table = data + OTA_CASYNC_INDEX_HEADER_SIZE;
	const guint8 *item = table + OTA_CASYNC_TABLE_HEADER_SIZE;
	gsize items_size;
	guint64 end = 0;

	memset(index, 0, sizeof(*index));
	if (!parse_header(data, length, index, error))
		return FALSE;
	if (le64_at(table) != G_MAXUINT64 || le64_at(table + 8) != OTA_CASYNC_FORMAT_TABLE)
		return malformed(error, "no chunk table after the index header");
	items_size = length - OTA_CASYNC_INDEX_HEADER_SIZE - OTA_CASYNC_TABLE_HEADER_SIZE -
	             OTA_CASYNC_TABLE_TAIL_SIZE;
	if (items_size % OTA_CASYNC_TABLE_ITEM_SIZE != 0)
		return malformed(error, "%" G_GSIZE_FORMAT " bytes of chunk table items, not a "
		                 "multiple of %d", items_size, OTA_CASYNC_TABLE_ITEM_SIZE);
	index->n_chunks = items_size / OTA_CASYNC_TABLE_ITEM_SIZE;
	for (guint64 i = 0; i < index->n_chunks; i++, item += OTA_CASYNC_TABLE_ITEM_SIZE) {
		guint64 next = le64_at(item);

		/* Each chunk ends after the one before, and is no larger than the
		 * header allows (only the last may be smaller than its minimum). */
		if (next <= end || next - end > index->chunk_size_max)
			return malformed(error, "chunk %" G_GUINT64_FORMAT " ends at %" G_GUINT64_FORMAT
			                 " after %" G_GUINT64_FORMAT ": not 1 to %" G_GUINT64_FORMAT
			                 " bytes", i, next, end, index->chunk_size_max);
		end = next;
	}
	if (!parse_tail(data, length, index->n_chunks, error))
		return FALSE;
	index->total_size = end;
	return TRUE;
}

gboolean bundle_casync_check_index(OtaBundle *b, const OtaImage *image, OtaCasyncIndex *index,
                                   GBytes **data_out, GError **error)
{
	g_autoptr(GBytes) data = NULL;
	g_autofree char *filename = ota_text_escape(image->filename);
	gsize length = 0;
	const guint8 *bytes;

	data = ota_bundle_read_file(b, image->filename, OTA_CASYNC_INDEX_MAX_SIZE, error);
	if (data == NULL) {
		g_prefix_error(error, "image '%s': ", filename);
		return FALSE;
	}
	bytes = g_bytes_get_data(data, &length);
	if (!ota_casync_index_parse(bytes, length, index, error)) {
		g_prefix_error(error, "image '%s': ", filename);
		return FALSE;
	}
	/* A blob index describes the image byte for byte; a directory tree
	 * index describes a catar stream, not the tar file the manifest's
	 * size is of. */
	if (ota_image_get_casync(image) == OTA_IMAGE_CASYNC_BLOB && index->total_size != image->size) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
		            "image '%s': casync index rebuilds %" G_GUINT64_FORMAT
		            " bytes, manifest says %" G_GUINT64_FORMAT,
		            filename, index->total_size, image->size);
		return FALSE;
	}
	if (data_out != NULL)
		*data_out = g_steal_pointer(&data);
	return TRUE;
}
