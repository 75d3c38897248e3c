/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The read record (read-record.h): what a parser read is kept, merged and
 * compared with a later pass, including reads of nothing at all (a parser
 * of a damaged squashfs asks for zero-length tables). */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "read-record.h"

#define CONTENT "0123456789abcdef"

/* A reader of CONTENT in a temporary file (unlinked at once). */
static OtaReader *content_reader(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	OtaReader *reader;
	int fd = g_file_open_tmp("test-read-record-XXXXXX", &path, &error);

	g_assert_no_error(error);
	g_assert_cmpint(write(fd, CONTENT, strlen(CONTENT)), ==, (int)strlen(CONTENT));
	g_unlink(path);
	reader = ota_reader_new_fd(fd, 0, strlen(CONTENT), &error); /* dups @fd */
	g_assert_no_error(error);
	close(fd);
	return reader;
}

static void read_ok(OtaReader *reader, guint64 offset, gsize size)
{
	g_autoptr(GError) error = NULL;
	guint8 buffer[16];

	g_assert_true(ota_reader_read_at(reader, offset, buffer, size, &error));
	g_assert_no_error(error);
}

static void test_overlapping_and_empty_reads_seal_and_match(void)
{
	g_autoptr(OtaReader) inner = content_reader();
	g_autoptr(OtaReadRecord) record = ota_read_record_new(1024);
	g_autoptr(OtaReader) recording = ota_read_record_reader_new(record, inner);

	read_ok(recording, 4, 0);
	read_ok(recording, 0, 6);
	read_ok(recording, 4, 0);
	read_ok(recording, 3, 5);
	read_ok(recording, 16, 0);
	g_assert_true(ota_read_record_seal(record));
	g_assert_true(ota_read_record_matches(record, 0, (const guint8 *)CONTENT, 10));
	g_assert_true(ota_read_record_matches(record, 10, (const guint8 *)CONTENT + 10, 6));
	g_assert_true(ota_read_record_all_matched(record));
}

static void test_a_changed_byte_does_not_match(void)
{
	g_autoptr(OtaReader) inner = content_reader();
	g_autoptr(OtaReadRecord) record = ota_read_record_new(1024);
	g_autoptr(OtaReader) recording = ota_read_record_reader_new(record, inner);
	guint8 changed[16];

	read_ok(recording, 2, 4);
	g_assert_true(ota_read_record_seal(record));
	memcpy(changed, CONTENT, sizeof(changed));
	changed[3] ^= 1;
	g_assert_false(ota_read_record_matches(record, 0, changed, sizeof(changed)));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/read-record/overlapping-and-empty-reads-seal-and-match",
	                test_overlapping_and_empty_reads_seal_and_match);
	g_test_add_func("/read-record/a-changed-byte-does-not-match",
	                test_a_changed_byte_does_not_match);
	return g_test_run();
}
