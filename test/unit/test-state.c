/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "state-private.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

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
	r->image_sha256 = g_strdup("cd");
	r->image_size = 12345;
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
	g_assert_cmpstr(back->image_sha256, ==, "cd");
	g_assert_cmpuint(back->image_size, ==, 12345);
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

/* What ota_state_save() appends, computed here so that a test can write a
 * well-sealed file with whatever content it needs. */
static void write_sealed(Fixture *f, const char *body)
{
	g_autofree char *path = g_build_filename(f->dir, "state", NULL);
	g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, body, -1);
	g_autofree char *text = g_strdup_printf("%s\n[integrity]\nsha256=%s\n", body, sum);

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void write_state(Fixture *f, const char *text, gssize length)
{
	g_autofree char *path = g_build_filename(f->dir, "state", NULL);

	g_assert_true(g_file_set_contents(path, text, length, NULL));
}

/* The text ota_state_save() writes for a device whose floor is @floor. */
static char *saved_text(Fixture *f, guint64 floor)
{
	g_autofree char *path = g_build_filename(f->dir, "state", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->dir, &error);
	char *text = NULL;

	g_assert_no_error(error);
	s->security_floor = floor;
	g_assert_true(ota_state_save(s, &error));
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	return text;
}

static void assert_refused_as_corrupted(Fixture *f, const char *reason)
{
	g_autofree char *path = g_build_filename(f->dir, "state", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->dir, &error);

	g_assert_null(s);
	g_assert_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_CORRUPTED);
	g_assert_true(g_str_has_prefix(error->message, path));
	if (reason != NULL && strstr(error->message, reason) == NULL)
		g_error("'%s' not in: %s", reason, error->message);
}

#define TRUST_SHA256 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static void test_trust_version_round_trips(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->dir, &error);
	g_autoptr(OtaState) again = NULL;

	s->trust_version = 3;
	s->trust_sha256 = g_strdup(TRUST_SHA256);
	g_assert_true(ota_state_save(s, &error));
	again = ota_state_load(f->dir, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(again->trust_version, ==, 3);
	g_assert_cmpstr(again->trust_sha256, ==, TRUST_SHA256);
}

/* Before any trust update: the shipped list, and nothing in the file. */
static void test_no_trust_version_is_the_shipped_list(Fixture *f, gconstpointer data)
{
	g_autofree char *text = saved_text(f, 1);
	g_autoptr(OtaState) s = NULL;

	g_assert_null(strstr(text, "trust-"));
	s = ota_state_load(f->dir, NULL);
	g_assert_cmpuint(s->trust_version, ==, 0);
	g_assert_null(s->trust_sha256);
}

static void test_half_a_trust_record_is_corrupted(Fixture *f, gconstpointer data)
{
	write_sealed(f, "[system]\nsecurity-floor=0\ntrust-version=3\n");
	assert_refused_as_corrupted(f, "trust-version and trust-sha256 go together");
}

static void test_trust_version_0_is_corrupted(Fixture *f, gconstpointer data)
{
	write_sealed(f, "[system]\nsecurity-floor=0\ntrust-version=0\ntrust-sha256=" TRUST_SHA256
	                "\n");
	assert_refused_as_corrupted(f, "bad trust-version");
}

static void test_a_trust_sha256_that_is_not_one_is_corrupted(Fixture *f, gconstpointer data)
{
	write_sealed(f, "[system]\nsecurity-floor=0\ntrust-version=2\ntrust-sha256=ABC\n");
	assert_refused_as_corrupted(f, "bad trust-sha256");
}

static void test_garbage_state_is_an_error_naming_it(Fixture *f, gconstpointer data)
{
	write_sealed(f, "[system]\nsecurity-floor=lots\n");
	assert_refused_as_corrupted(f, "bad security-floor");
}

static void test_saved_state_ends_with_its_integrity_line(Fixture *f, gconstpointer data)
{
	g_autofree char *text = saved_text(f, 12);
	const char *seal = g_strrstr(text, "\n[integrity]\nsha256=");
	g_autofree char *body = NULL;
	g_autofree char *sum = NULL;

	g_assert_nonnull(seal);
	body = g_strndup(text, (gsize)(seal - text));
	sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, body, -1);
	g_assert_true(g_str_has_prefix(seal + strlen("\n[integrity]\nsha256="), sum));
	g_assert_cmpstr(seal + strlen("\n[integrity]\nsha256=") + strlen(sum), ==, "\n");
}

static void test_state_without_security_floor_is_corrupted(Fixture *f, gconstpointer data)
{
	write_sealed(f, "[system]\ninstalled-version=2.0\n");
	assert_refused_as_corrupted(f, "no security-floor");
}

static void test_state_without_system_group_is_corrupted(Fixture *f, gconstpointer data)
{
	write_sealed(f, "[result.00]\noperation=install\nok=true\n");
	assert_refused_as_corrupted(f, "no [system] group");
}

/* security-floor=12 cut to =1 parses as a valid, lower floor: only the
 * integrity line tells. */
static void test_floor_number_cut_short_is_corrupted(Fixture *f, gconstpointer data)
{
	g_autofree char *text = saved_text(f, 12);
	const char *floor = strstr(text, "security-floor=12\n");

	g_assert_nonnull(floor);
	write_state(f, text, floor + strlen("security-floor=1") - text);
	assert_refused_as_corrupted(f, "no [integrity] line");
}

static void test_state_cut_at_any_length_is_corrupted(Fixture *f, gconstpointer data)
{
	g_autofree char *text = saved_text(f, 12);
	gsize length = strlen(text);

	for (gsize cut = 0; cut < length; cut++) {
		write_state(f, text, (gssize)cut);
		assert_refused_as_corrupted(f, NULL);
	}
}

static void test_flipped_floor_digit_is_corrupted(Fixture *f, gconstpointer data)
{
	g_autofree char *text = saved_text(f, 12);
	char *digit = strstr(text, "security-floor=12\n") + strlen("security-floor=1");

	*digit = '3';
	write_state(f, text, -1);
	assert_refused_as_corrupted(f, "integrity check failed");
}

static void test_flipped_digit_of_the_integrity_line_is_corrupted(Fixture *f, gconstpointer data)
{
	g_autofree char *text = saved_text(f, 12);
	char *last = text + strlen(text) - 2;

	*last = *last == '0' ? '1' : '0';
	write_state(f, text, -1);
	assert_refused_as_corrupted(f, "integrity check failed");
}

static void test_text_after_the_integrity_line_is_corrupted(Fixture *f, gconstpointer data)
{
	g_autofree char *text = saved_text(f, 12);
	g_autofree char *longer = g_strconcat(text, "[system]\nsecurity-floor=0\n", NULL);

	write_state(f, longer, -1);
	assert_refused_as_corrupted(f, NULL);
}

/* Decision: a state file of the pre-release format (no integrity line) is
 * refused like a truncated one, and the message says what to do. */
static void test_unsealed_state_of_a_pre_release_is_refused_saying_what_to_do(
	Fixture *f, gconstpointer data)
{
	write_state(f, "[system]\ninstalled-version=2.0\nsecurity-floor=3\n", -1);
	assert_refused_as_corrupted(f, "pre-release otabundle-install: then delete it");
}

static void test_escaped_text_round_trips_through_the_seal(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->dir, &error);
	g_autoptr(OtaState) again = NULL;

	s->security_floor = G_MAXUINT64;
	ota_state_add_result(s, "install", "/b\\x y.raucb", FALSE,
	                     "line one\nline two\t\xc3\xa9 [integrity]\nsha256=0");
	g_assert_true(ota_state_save(s, &error));
	again = ota_state_load(f->dir, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(again->security_floor, ==, G_MAXUINT64);
	g_assert_cmpstr(((OtaResult *)g_ptr_array_index(again->results, 0))->reason, ==,
	                "line one\nline two\t\xc3\xa9 [integrity]\nsha256=0");
	g_assert_cmpstr(((OtaResult *)g_ptr_array_index(again->results, 0))->bundle, ==,
	                "/b\\x y.raucb");
}

/* --- the lock ----------------------------------------------------------------------- */

static void test_second_lock_is_busy_until_the_first_is_freed(Fixture *f, gconstpointer data)
{
	g_autofree char *lock_path = g_build_filename(f->dir, "lock", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->dir, &error);
	g_autoptr(OtaStateLock) first = ota_state_lock(s, &error);
	g_autoptr(OtaStateLock) second = NULL;
	g_autoptr(OtaStateLock) third = NULL;

	g_assert_no_error(error);
	g_assert_nonnull(first);
	second = ota_state_lock(s, &error);
	g_assert_null(second);
	g_assert_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_BUSY);
	g_assert_true(g_str_has_prefix(error->message, lock_path));
	g_assert_nonnull(strstr(error->message, "another otabundle-install is running"));
	g_clear_error(&error);

	g_clear_pointer(&first, ota_state_lock_free);
	third = ota_state_lock(s, &error);
	g_assert_no_error(error);
	g_assert_nonnull(third);
}

static void test_lock_reloads_the_state_saved_since_it_was_loaded(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) stale = ota_state_load(f->dir, &error);
	g_autoptr(OtaState) other = ota_state_load(f->dir, &error);
	g_autoptr(OtaStateLock) lock = NULL;

	other->security_floor = 12;
	g_assert_true(ota_state_save(other, &error));
	g_assert_cmpuint(stale->security_floor, ==, 0);

	lock = ota_state_lock(stale, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(stale->security_floor, ==, 12);
}

static void test_failed_reload_keeps_the_state_and_releases_the_lock(Fixture *f,
                                                                     gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->dir, &error);
	g_autoptr(OtaStateLock) lock = NULL;
	g_autoptr(OtaStateLock) again = NULL;

	s->security_floor = 7;
	write_state(f, "[system]\nsecurity-floor=1\n", -1);
	lock = ota_state_lock(s, &error);
	g_assert_null(lock);
	g_assert_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_CORRUPTED);
	g_assert_cmpuint(s->security_floor, ==, 7);
	g_clear_error(&error);

	write_sealed(f, "[system]\nsecurity-floor=1\n");
	again = ota_state_lock(s, &error);
	g_assert_no_error(error);
	g_assert_nonnull(again);
}

static void test_lock_file_is_private_and_in_a_new_data_directory(Fixture *f, gconstpointer data)
{
	g_autofree char *dir = g_build_filename(f->dir, "new", "data", NULL);
	g_autofree char *lock_path = g_build_filename(dir, "lock", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(dir, &error);
	g_autoptr(OtaStateLock) lock = ota_state_lock(s, &error);
	GStatBuf st;

	g_assert_no_error(error);
	g_assert_cmpint(g_lstat(lock_path, &st), ==, 0);
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);
	g_assert_cmpint(g_stat(dir, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0700);
}

/* Whoever could plant the symlink would have us create or lock their file. */
static void test_lock_file_that_is_a_symlink_is_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *lock_path = g_build_filename(f->dir, "lock", NULL);
	g_autofree char *elsewhere = g_build_filename(f->dir, "elsewhere", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->dir, &error);
	g_autoptr(OtaStateLock) lock = NULL;

	g_assert_cmpint(symlink(elsewhere, lock_path), ==, 0);
	lock = ota_state_lock(s, &error);
	g_assert_null(lock);
	g_assert_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_IO);
	g_assert_true(g_str_has_prefix(error->message, lock_path));
	g_assert_nonnull(strstr(error->message, "symbolic link"));
	g_assert_false(g_file_test(elsewhere, G_FILE_TEST_EXISTS));
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
	ADD("trust/version-round-trips", test_trust_version_round_trips);
	ADD("trust/no-version-is-the-shipped-list", test_no_trust_version_is_the_shipped_list);
	ADD("trust/half-a-record-is-corrupted", test_half_a_trust_record_is_corrupted);
	ADD("trust/version-0-is-corrupted", test_trust_version_0_is_corrupted);
	ADD("trust/sha256-that-is-not-one-is-corrupted",
	    test_a_trust_sha256_that_is_not_one_is_corrupted);
	ADD("saved-state-ends-with-its-integrity-line", test_saved_state_ends_with_its_integrity_line);
	ADD("state-without-security-floor-is-corrupted",
	    test_state_without_security_floor_is_corrupted);
	ADD("state-without-system-group-is-corrupted", test_state_without_system_group_is_corrupted);
	ADD("floor-number-cut-short-is-corrupted", test_floor_number_cut_short_is_corrupted);
	ADD("state-cut-at-any-length-is-corrupted", test_state_cut_at_any_length_is_corrupted);
	ADD("flipped-floor-digit-is-corrupted", test_flipped_floor_digit_is_corrupted);
	ADD("flipped-digit-of-the-integrity-line-is-corrupted",
	    test_flipped_digit_of_the_integrity_line_is_corrupted);
	ADD("text-after-the-integrity-line-is-corrupted",
	    test_text_after_the_integrity_line_is_corrupted);
	ADD("unsealed-state-of-a-pre-release-is-refused-saying-what-to-do",
	    test_unsealed_state_of_a_pre_release_is_refused_saying_what_to_do);
	ADD("escaped-text-round-trips-through-the-seal",
	    test_escaped_text_round_trips_through_the_seal);
	ADD("lock/second-lock-is-busy-until-the-first-is-freed",
	    test_second_lock_is_busy_until_the_first_is_freed);
	ADD("lock/reloads-the-state-saved-since-it-was-loaded",
	    test_lock_reloads_the_state_saved_since_it_was_loaded);
	ADD("lock/failed-reload-keeps-the-state-and-releases-the-lock",
	    test_failed_reload_keeps_the_state_and_releases_the_lock);
	ADD("lock/file-is-private-and-in-a-new-data-directory",
	    test_lock_file_is_private_and_in_a_new_data_directory);
	ADD("lock/file-that-is-a-symlink-is-refused", test_lock_file_that_is_a_symlink_is_refused);
	return g_test_run();
}
