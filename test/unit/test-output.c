/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "output-private.h"
#include "reader-private.h"

#include <string.h>

#include "pki.h"

typedef struct {
	char *dir;
	char *path;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
	f->dir = test_tmpdir_new();
	f->path = g_build_filename(f->dir, "out.bin", NULL);
}

static void teardown(Fixture *f, gconstpointer data)
{
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

static guint count_entries(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	guint n = 0;

	while (g_dir_read_name(d) != NULL)
		n++;
	return n;
}

static void test_uncommitted_output_leaves_nothing(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	OtaOutput *out = ota_output_new(f->path, FALSE, &error);

	g_assert_no_error(error);
	g_assert_true(ota_write_all(ota_output_get_fd(out), "partial", 7, &error));
	ota_output_free(out);
	g_assert_cmpuint(count_entries(f->dir), ==, 0);
}

static void test_commit_makes_the_file_appear(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaOutput) out = ota_output_new(f->path, FALSE, &error);
	g_autofree char *content = NULL;

	g_assert_true(ota_write_all(ota_output_get_fd(out), "whole", 5, &error));
	g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
	g_assert_true(ota_output_commit(out, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(f->path, &content, NULL, NULL));
	g_assert_cmpstr(content, ==, "whole");
	g_assert_cmpuint(count_entries(f->dir), ==, 1);
}

static void test_existing_file_is_refused_without_force(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaOutput) out = NULL;
	g_autofree char *content = NULL;

	g_assert_true(g_file_set_contents(f->path, "old", 3, NULL));
	out = ota_output_new(f->path, FALSE, &error);
	g_assert_null(out);
	g_assert_error(error, OTA_OUTPUT_ERROR, OTA_OUTPUT_ERROR_EXISTS);
	g_assert_true(g_file_get_contents(f->path, &content, NULL, NULL));
	g_assert_cmpstr(content, ==, "old");
}

static void test_force_replaces_existing_file(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaOutput) out = NULL;
	g_autofree char *content = NULL;

	g_assert_true(g_file_set_contents(f->path, "old", 3, NULL));
	out = ota_output_new(f->path, TRUE, &error);
	g_assert_true(ota_write_all(ota_output_get_fd(out), "new", 3, &error));
	g_assert_true(ota_output_commit(out, &error));
	g_assert_true(g_file_get_contents(f->path, &content, NULL, NULL));
	g_assert_cmpstr(content, ==, "new");
	g_assert_cmpuint(count_entries(f->dir), ==, 1);
}

static void test_file_created_meanwhile_is_not_clobbered(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaOutput) out = ota_output_new(f->path, FALSE, &error);
	g_autofree char *content = NULL;

	g_assert_true(g_file_set_contents(f->path, "theirs", 6, NULL));
	g_assert_true(ota_write_all(ota_output_get_fd(out), "ours", 4, &error));
	g_assert_false(ota_output_commit(out, &error));
	g_assert_error(error, OTA_OUTPUT_ERROR, OTA_OUTPUT_ERROR_EXISTS);
	g_assert_true(g_file_get_contents(f->path, &content, NULL, NULL));
	g_assert_cmpstr(content, ==, "theirs");
}

static void test_missing_directory_names_the_path(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = g_build_filename(f->dir, "nodir", "out.bin", NULL);
	g_autoptr(OtaOutput) out = ota_output_new(path, FALSE, &error);

	g_assert_null(out);
	g_assert_nonnull(strstr(error->message, path));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/output/" name, Fixture, NULL, setup, fn, teardown)
	ADD("uncommitted-output-leaves-nothing", test_uncommitted_output_leaves_nothing);
	ADD("commit-makes-the-file-appear", test_commit_makes_the_file_appear);
	ADD("existing-file-is-refused-without-force", test_existing_file_is_refused_without_force);
	ADD("force-replaces-existing-file", test_force_replaces_existing_file);
	ADD("file-created-meanwhile-is-not-clobbered", test_file_created_meanwhile_is_not_clobbered);
	ADD("missing-directory-names-the-path", test_missing_directory_names_the_path);
	return g_test_run();
}
