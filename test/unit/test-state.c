/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/state.h>

#include <string.h>

#include "pki.h"

typedef struct {
	char *dir;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
	f->dir = test_tmpdir_new();
}

static void teardown(Fixture *f, gconstpointer data)
{
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
}

static void test_missing_file_is_a_fresh_device(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->dir, &error);

	g_assert_no_error(error);
	g_assert_null(s->installed_version);
	g_assert_cmpuint(s->security_floor, ==, 0);
	g_assert_null(s->pending_slot);
	g_assert_cmpuint(s->slots->len, ==, 0);
}

static void test_round_trips_everything(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->dir, &error);
	g_autoptr(OtaState) again = NULL;
	OtaSlotRecord *r = g_new0(OtaSlotRecord, 1);
	OtaSlotRecord *back;

	s->installed_version = g_strdup("2.0");
	s->security_floor = 7;
	s->pending_slot = g_strdup("rootfs.1");
	r->slot = g_strdup("rootfs.1");
	r->version = g_strdup("2.1");
	r->bundle_sha256 = g_strdup("ab");
	r->security_version = 8;
	r->installed = g_strdup("2026-01-01T00:00:00Z");
	ota_state_set_slot(s, r);
	ota_state_add_result(s, "install", "b.raucb", FALSE, "compatible mismatch");
	g_assert_true(ota_state_save(s, &error));
	g_assert_no_error(error);

	again = ota_state_load(f->dir, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(again->installed_version, ==, "2.0");
	g_assert_cmpuint(again->security_floor, ==, 7);
	g_assert_cmpstr(again->pending_slot, ==, "rootfs.1");
	back = ota_state_get_slot(again, "rootfs.1");
	g_assert_nonnull(back);
	g_assert_cmpstr(back->version, ==, "2.1");
	g_assert_cmpuint(back->security_version, ==, 8);
	g_assert_cmpuint(again->results->len, ==, 1);
	g_assert_false(((OtaResult *)g_ptr_array_index(again->results, 0))->ok);
	g_assert_cmpstr(((OtaResult *)g_ptr_array_index(again->results, 0))->reason, ==,
	                "compatible mismatch");
}

static void test_setting_a_slot_replaces_its_record(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->dir, &error);

	for (int i = 0; i < 3; i++) {
		OtaSlotRecord *r = g_new0(OtaSlotRecord, 1);

		r->slot = g_strdup("rootfs.0");
		r->version = g_strdup_printf("%d", i);
		ota_state_set_slot(s, r);
	}
	g_assert_cmpuint(s->slots->len, ==, 1);
	g_assert_cmpstr(ota_state_get_slot(s, "rootfs.0")->version, ==, "2");
}

static void test_keeps_only_the_latest_results(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->dir, &error);

	for (int i = 0; i < OTA_STATE_MAX_RESULTS + 5; i++) {
		g_autofree char *reason = g_strdup_printf("%d", i);
		ota_state_add_result(s, "install", NULL, TRUE, reason);
	}
	g_assert_cmpuint(s->results->len, ==, OTA_STATE_MAX_RESULTS);
	g_assert_cmpstr(((OtaResult *)g_ptr_array_index(s->results, 0))->reason, ==, "5");
}

/* The atomic write: only the state file, complete, and no temporary left. */
static void test_save_leaves_exactly_one_complete_file(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->dir, &error);
	g_autoptr(GDir) d = NULL;
	const char *name;
	guint n = 0;

	s->security_floor = 3;
	g_assert_true(ota_state_save(s, &error));
	s->security_floor = 4;
	g_assert_true(ota_state_save(s, &error));
	d = g_dir_open(f->dir, 0, NULL);
	while ((name = g_dir_read_name(d)) != NULL) {
		g_assert_cmpstr(name, ==, "state");
		n++;
	}
	g_assert_cmpuint(n, ==, 1);
}

static void test_garbage_state_is_an_error_naming_it(Fixture *f, gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->dir, "state", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = NULL;

	g_assert_true(g_file_set_contents(path, "[system]\nsecurity-floor=lots\n", -1, NULL));
	s = ota_state_load(f->dir, &error);
	g_assert_null(s);
	g_assert_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_CORRUPTED);
	g_assert_true(g_str_has_prefix(error->message, path));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/state/" name, Fixture, NULL, setup, fn, teardown)
	ADD("missing-file-is-a-fresh-device", test_missing_file_is_a_fresh_device);
	ADD("round-trips-everything", test_round_trips_everything);
	ADD("setting-a-slot-replaces-its-record", test_setting_a_slot_replaces_its_record);
	ADD("keeps-only-the-latest-results", test_keeps_only_the_latest_results);
	ADD("save-leaves-exactly-one-complete-file", test_save_leaves_exactly_one_complete_file);
	ADD("garbage-state-is-an-error-naming-it", test_garbage_state_is_an_error_naming_it);
	return g_test_run();
}
