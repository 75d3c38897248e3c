/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to libotabundle: the bytes a parser read, kept so that they can be
 * compared with a later pass over the same file and then served again from
 * memory. bundle.c uses it to verify plain bundles in place. */
#pragma once

#include "reader-private.h"

typedef struct OtaReadRecord OtaReadRecord;

/* Keeps at most @max_bytes; a read beyond that fails (OTA_READER_ERROR_TOO_LARGE). */
OtaReadRecord *ota_read_record_new(gsize max_bytes);
void ota_read_record_free(OtaReadRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaReadRecord, ota_read_record_free)

/* A reader that reads through @inner and keeps a copy of every byte it
 * returns in @record; both are borrowed and must outlive it. */
OtaReader *ota_read_record_reader_new(OtaReadRecord *record, OtaReader *inner);

/* Ends recording: sorts and merges the ranges read. FALSE if two reads of
 * the same offset returned different bytes (the file changed meanwhile). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_read_record_seal(OtaReadRecord *record);

/* After sealing, for consecutive chunks of one pass over the whole window
 * (offsets increasing, no gaps): FALSE if a recorded byte in [@offset,
 * @offset + @length) differs from @data. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_read_record_matches(OtaReadRecord *record, guint64 offset, const guint8 *data,
                                 gsize length);
/* Whether every recorded byte has been compared by ota_read_record_matches(). */
gboolean ota_read_record_all_matched(const OtaReadRecord *record);

/* A reader of a @size-byte window that serves the recorded bytes only and
 * fails any other read (OTA_READER_ERROR_NOT_RECORDED); takes @record. */
OtaReader *ota_read_record_replay_new(OtaReadRecord *record, guint64 size);
