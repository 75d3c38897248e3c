/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "read-record.h"

#include <string.h>

typedef struct {
	guint64 offset;
	GByteArray *data;
} Range;

struct OtaReadRecord {
	GArray *ranges; /* of Range; sorted and disjoint once sealed */
	gsize max_bytes;
	gsize total;
	gboolean overflowed;
	gboolean sealed;
	guint next; /* the first range not yet wholly compared */
};

static void range_clear(gpointer data)
{
	Range *r = data;

	if (r->data != NULL)
		g_byte_array_unref(r->data);
}

static guint64 range_end(const Range *r)
{
	return r->offset + r->data->len;
}

OtaReadRecord *ota_read_record_new(gsize max_bytes)
{
	OtaReadRecord *record = g_new0(OtaReadRecord, 1);

	record->ranges = g_array_new(FALSE, FALSE, sizeof(Range));
	g_array_set_clear_func(record->ranges, range_clear);
	record->max_bytes = max_bytes;
	return record;
}

void ota_read_record_free(OtaReadRecord *record)
{
	if (record == NULL)
		return;
	g_array_unref(record->ranges);
	g_free(record);
}

/* --- recording ----------------------------------------------------------------- */

typedef struct {
	OtaReader base;
	OtaReadRecord *record;
	OtaReader *inner;
} RecordingReader;

static gboolean recording_read_at(OtaReader *self, guint64 offset, void *buffer, gsize size,
                                  GError **error)
{
	RecordingReader *r = (RecordingReader *)self;
	OtaReadRecord *record = r->record;
	Range range = {offset, NULL};

	g_return_val_if_fail(!record->sealed, FALSE);
	if (size > record->max_bytes - record->total) {
		record->overflowed = TRUE;
		g_set_error(error, OTA_READER_ERROR, OTA_READER_ERROR_TOO_LARGE,
		            "more than %" G_GSIZE_FORMAT " bytes of metadata", record->max_bytes);
		return FALSE;
	}
	if (!ota_reader_read_at(r->inner, offset, buffer, size, error))
		return FALSE;
	if (size == 0)
		return TRUE; /* nothing read, nothing to replay */
	range.data = g_byte_array_sized_new((guint)size);
	g_byte_array_append(range.data, buffer, (guint)size);
	g_array_append_val(record->ranges, range);
	record->total += size;
	return TRUE;
}

static void recording_free(OtaReader *self)
{
	g_free(self);
}

OtaReader *ota_read_record_reader_new(OtaReadRecord *record, OtaReader *inner)
{
	RecordingReader *r = g_new0(RecordingReader, 1);

	r->base.read_at = recording_read_at;
	r->base.free = recording_free;
	r->base.size = inner->size;
	r->record = record;
	r->inner = inner;
	return &r->base;
}

static gint compare_offsets(gconstpointer a, gconstpointer b)
{
	guint64 x = ((const Range *)a)->offset, y = ((const Range *)b)->offset;

	return x < y ? -1 : x > y;
}

/* Appends @r to @last, which it overlaps or touches; FALSE if the bytes
 * they share differ. */
static gboolean merge_into(Range *last, const Range *r)
{
	guint64 shared_end = MIN(range_end(last), range_end(r));

	/* An empty range has no buffer at all (data NULL): nothing to compare. */
	if (shared_end > r->offset &&
	    memcmp(last->data->data + (r->offset - last->offset), r->data->data,
	           shared_end - r->offset) != 0)
		return FALSE;
	if (range_end(r) > range_end(last))
		g_byte_array_append(last->data, r->data->data + (range_end(last) - r->offset),
		                    (guint)(range_end(r) - range_end(last)));
	return TRUE;
}

gboolean ota_read_record_seal(OtaReadRecord *record)
{
	g_autoptr(GArray) merged = g_array_new(FALSE, FALSE, sizeof(Range));

	g_return_val_if_fail(!record->sealed, FALSE);
	record->sealed = TRUE;
	g_array_set_clear_func(merged, range_clear);
	g_array_sort(record->ranges, compare_offsets);
	for (guint i = 0; i < record->ranges->len; i++) {
		Range *r = &g_array_index(record->ranges, Range, i);
		Range *last = merged->len ? &g_array_index(merged, Range, merged->len - 1) : NULL;

		if (last != NULL && r->offset <= range_end(last)) {
			if (!merge_into(last, r))
				return FALSE;
			continue;
		}
		g_array_append_val(merged, *r);
		r->data = NULL; /* moved */
	}
	g_array_unref(record->ranges);
	record->ranges = g_steal_pointer(&merged);
	return TRUE;
}

/* --- comparing ----------------------------------------------------------------- */

gboolean ota_read_record_matches(OtaReadRecord *record, guint64 offset, const guint8 *data,
                                 gsize length)
{
	guint64 end = offset + length;

	g_return_val_if_fail(record->sealed, FALSE);
	for (guint i = record->next; i < record->ranges->len; i++) {
		const Range *r = &g_array_index(record->ranges, Range, i);
		guint64 from = MAX(r->offset, offset);
		guint64 to = MIN(range_end(r), end);

		if (r->offset >= end)
			break;
		if (from < to &&
		    memcmp(r->data->data + (from - r->offset), data + (from - offset), to - from) != 0)
			return FALSE;
		if (range_end(r) <= end)
			record->next = i + 1;
	}
	return TRUE;
}

gboolean ota_read_record_all_matched(const OtaReadRecord *record)
{
	return record->sealed && record->next == record->ranges->len;
}

/* --- replaying ----------------------------------------------------------------- */

typedef struct {
	OtaReader base;
	OtaReadRecord *record;
} ReplayReader;

static const Range *find_covering(const OtaReadRecord *record, guint64 offset, gsize size)
{
	guint lo = 0, hi = record->ranges->len;
	const Range *r;

	/* The last range starting at or before @offset: ranges are disjoint. */
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;

		if (g_array_index(record->ranges, Range, mid).offset <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	r = &g_array_index(record->ranges, Range, lo - 1);
	return offset + size <= range_end(r) ? r : NULL;
}

static gboolean replay_read_at(OtaReader *self, guint64 offset, void *buffer, gsize size,
                               GError **error)
{
	const OtaReadRecord *record = ((ReplayReader *)self)->record;
	const Range *r = size > 0 ? find_covering(record, offset, size) : NULL;

	if (size == 0)
		return TRUE;
	if (r != NULL) {
		memcpy(buffer, r->data->data + (offset - r->offset), size);
		return TRUE;
	}
	if (record->overflowed)
		g_set_error(error, OTA_READER_ERROR, OTA_READER_ERROR_NOT_RECORDED,
		            "the squashfs metadata is larger than the %" G_GSIZE_FORMAT
		            " bytes that can be checked without a copy", record->max_bytes);
	else
		g_set_error(error, OTA_READER_ERROR, OTA_READER_ERROR_NOT_RECORDED,
		            "read of %" G_GSIZE_FORMAT " bytes at offset %" G_GUINT64_FORMAT
		            " is outside the bytes checked during verification", size, offset);
	return FALSE;
}

static void replay_free(OtaReader *self)
{
	ota_read_record_free(((ReplayReader *)self)->record);
	g_free(self);
}

OtaReader *ota_read_record_replay_new(OtaReadRecord *record, guint64 size)
{
	ReplayReader *r = g_new0(ReplayReader, 1);

	g_return_val_if_fail(record->sealed, NULL);
	r->base.read_at = replay_read_at;
	r->base.free = replay_free;
	r->base.size = size;
	r->record = record;
	return &r->base;
}
