/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "reader-private.h"

#include <fcntl.h>
#include <unistd.h>

#include "pki.h"

typedef struct {
	char *dir;
	int fd;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
	g_autofree char *path = NULL;

	f->dir = test_tmpdir_new();
	path = g_build_filename(f->dir, "data", NULL);
	g_assert_true(g_file_set_contents(path, "0123456789", 10, NULL));
	f->fd = open(path, O_RDONLY);
	g_assert_cmpint(f->fd, >=, 0);
}

static void teardown(Fixture *f, gconstpointer data)
{
	close(f->fd);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
}

static void test_reads_within_the_window(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = ota_reader_new_fd(f->fd, 2, 5, &error);
	char buf[3];

	g_assert_no_error(error);
	g_assert_true(ota_reader_read_at(r, 1, buf, 3, &error));
	g_assert_cmpmem(buf, 3, "345", 3);
}

static void test_read_past_the_window_is_out_of_bounds(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = ota_reader_new_fd(f->fd, 2, 5, &error);
	char buf[8];

	g_assert_false(ota_reader_read_at(r, 3, buf, 3, &error));
	g_assert_error(error, OTA_READER_ERROR, OTA_READER_ERROR_OUT_OF_BOUNDS);
}

static void test_offset_overflow_is_out_of_bounds(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = ota_reader_new_fd(f->fd, 0, 10, &error);
	char buf[8];

	g_assert_false(ota_reader_read_at(r, G_MAXUINT64 - 2, buf, 8, &error));
	g_assert_error(error, OTA_READER_ERROR, OTA_READER_ERROR_OUT_OF_BOUNDS);
}

static void test_window_beyond_file_end_is_truncated(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = ota_reader_new_fd(f->fd, 8, 100, &error);
	char buf[4];

	g_assert_false(ota_reader_read_at(r, 0, buf, 4, &error));
	g_assert_error(error, OTA_READER_ERROR, OTA_READER_ERROR_TRUNCATED);
}

static void test_reader_keeps_its_own_descriptor(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = ota_reader_new_fd(f->fd, 0, 10, &error);
	int saved = dup(f->fd);
	char buf[2];

	close(f->fd);
	g_assert_true(ota_reader_read_at(r, 0, buf, 2, &error));
	g_assert_cmpmem(buf, 2, "01", 2);
	f->fd = saved;
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/reader/" name, Fixture, NULL, setup, fn, teardown)
	ADD("reads-within-the-window", test_reads_within_the_window);
	ADD("read-past-the-window-is-out-of-bounds", test_read_past_the_window_is_out_of_bounds);
	ADD("offset-overflow-is-out-of-bounds", test_offset_overflow_is_out_of_bounds);
	ADD("window-beyond-file-end-is-truncated", test_window_beyond_file_end_is_truncated);
	ADD("reader-keeps-its-own-descriptor", test_reader_keeps_its_own_descriptor);
	return g_test_run();
}
