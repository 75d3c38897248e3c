/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The target's state-changing commands against each other: each holds the
 * data directory's lock and saves only the state it read under it. Two
 * OtaTargets on one system.conf stand for two otabundle-install processes,
 * interleaved exactly where a race would put them. */
#include <otabundle/install.h>

#include <string.h>
#include <sys/stat.h>

#include "pki.h"

typedef struct {
	char *dir;
	char *data;
	char *conf;
	char *slot_b;
	char *input;
	OtaSigner *signer;
} Fixture;

static void write_in(const char *dir, const char *name, const char *content, gssize len)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);

	g_assert_true(g_file_set_contents(path, content, len, NULL));
}

static char *read_in(const char *dir, const char *name)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	char *text = NULL;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	return text;
}

static void write_config(Fixture *f, const char *keyring)
{
	g_autofree char *slot_a = g_build_filename(f->dir, "slot-a", NULL);
	g_autofree char *text = NULL;

	f->slot_b = g_build_filename(f->dir, "slot-b", NULL);
	g_assert_true(g_file_set_contents(slot_a, "system A", -1, NULL));
	g_assert_true(g_file_set_contents(f->slot_b, "system B", -1, NULL));
	text = g_strdup_printf("[system]\ncompatible=test-device\nbootloader=file\n"
	                       "data-directory=%s\n\n[keyring]\npath=%s\n\n"
	                       "[slot.rootfs.0]\ndevice=%s\nbootname=A\n\n"
	                       "[slot.rootfs.1]\ndevice=%s\nbootname=B\n",
	                       f->data, keyring, slot_a, f->slot_b);
	f->conf = g_build_filename(f->dir, "system.conf", NULL);
	g_assert_true(g_file_set_contents(f->conf, text, -1, NULL));
}

/* Version 2.0 with security version 5 was installed into rootfs.1 (B) and
 * waits there for mark-good, which raises the floor from 0 to 5. */
static void write_pending_install(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) s = ota_state_load(f->data, &error);
	OtaSlotRecord *r = g_new0(OtaSlotRecord, 1);

	g_assert_no_error(error);
	r->slot = g_strdup("rootfs.1");
	r->version = g_strdup("2.0");
	r->security_version = 5;
	ota_state_set_slot(s, r);
	s->pending_slot = g_strdup("rootfs.1");
	g_assert_true(ota_state_save(s, &error));
}

static void setup(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) root = test_pki_identity("ec", "Root", NULL, 0, 365);
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", root, 0, 30);
	g_autofree char *keyring = NULL, *root_key = NULL, *cert = NULL, *key = NULL;
	g_autoptr(GError) error = NULL;

	f->dir = test_tmpdir_new();
	f->data = g_build_filename(f->dir, "data", NULL);
	test_pki_write(root, f->dir, "root", &keyring, &root_key);
	test_pki_write(leaf, f->dir, "leaf", &cert, &key);
	f->signer = ota_signer_load(NULL, cert, key, TRUE, &error);
	g_assert_no_error(error);
	write_config(f, keyring);
	write_pending_install(f);

	f->input = g_build_filename(f->dir, "input", NULL);
	g_assert_cmpint(mkdir(f->input, 0755), ==, 0);
	write_in(f->input, "manifest.raucm",
	         "[update]\ncompatible=test-device\nversion=3.0\n"
	         "[image.rootfs]\nfilename=rootfs.img\n"
	         "[meta.otabundle]\nsecurity-version=5\n",
	         -1);
	write_in(f->input, "rootfs.img", "system 3.0", -1);
}

static void teardown(Fixture *f, gconstpointer data)
{
	ota_signer_free(f->signer);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->data);
	g_free(f->conf);
	g_free(f->slot_b);
	g_free(f->input);
}

static char *make_bundle(Fixture *f)
{
	g_autofree char *path = g_build_filename(f->dir, "3.0.raucb", NULL);
	g_autoptr(GError) error = NULL;
	OtaCreateOptions options = {.signers = &f->signer, .n_signers = 1};

	g_assert_true(ota_bundle_create(f->input, path, &options, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&path);
}

static OtaTarget *open_target(Fixture *f, const char *booted)
{
	g_autoptr(GError) error = NULL;
	OtaTarget *t = ota_target_open(f->conf, booted, "/nonexistent", &error);

	g_assert_no_error(error);
	return t;
}

static OtaState *reload(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	OtaState *s = ota_state_load(f->data, &error);

	g_assert_no_error(error);
	return s;
}

/* The install opened the device (and read floor 0) before mark-good ran in
 * booted B; its own save must not undo that commit. */
static void mark_good_between_open_and_install(Fixture *f, const char *bundle, gboolean expect_ok)
{
	g_autoptr(OtaTarget) installer = open_target(f, "A");
	g_autoptr(OtaTarget) marker = open_target(f, "B");
	g_autoptr(OtaState) after = NULL;
	g_autoptr(GError) error = NULL;
	const OtaResult *last;

	g_assert_cmpuint(installer->state->security_floor, ==, 0);
	g_assert_true(ota_target_mark(marker, TRUE, &error));
	g_assert_no_error(error);

	g_assert_cmpint(ota_install(installer, bundle, &error), ==, expect_ok);
	g_clear_error(&error);

	after = reload(f);
	g_assert_cmpuint(after->security_floor, ==, 5);
	g_assert_cmpstr(after->installed_version, ==, "2.0");
	g_assert_cmpuint(after->results->len, ==, 2);
	g_assert_cmpstr(((OtaResult *)g_ptr_array_index(after->results, 0))->operation, ==,
	                "mark-good");
	last = g_ptr_array_index(after->results, 1);
	g_assert_cmpstr(last->operation, ==, "install");
	g_assert_cmpint(last->ok, ==, expect_ok);
}

static void test_rejected_install_keeps_a_floor_raised_after_it_opened(Fixture *f,
                                                                      gconstpointer data)
{
	g_autofree char *bundle = g_build_filename(f->dir, "not-a-bundle.raucb", NULL);

	g_assert_true(g_file_set_contents(bundle, "not a bundle", -1, NULL));
	mark_good_between_open_and_install(f, bundle, FALSE);
}

static void test_successful_install_keeps_a_floor_raised_after_it_opened(Fixture *f,
                                                                        gconstpointer data)
{
	g_autofree char *bundle = make_bundle(f);
	g_autofree char *written = NULL;

	mark_good_between_open_and_install(f, bundle, TRUE);
	g_assert_true(g_file_get_contents(f->slot_b, &written, NULL, NULL));
	g_assert_cmpstr(written, ==, "system 3.0");
}

/* The floor checked is the one read under the lock: a bundle below a floor
 * raised after the install opened the device is refused. */
static void test_install_checks_the_floor_raised_after_it_opened(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaTarget) installer = open_target(f, "A");
	g_autoptr(OtaTarget) marker = open_target(f, "B");
	g_autoptr(GError) error = NULL;
	g_autofree char *bundle = NULL;

	write_in(f->input, "manifest.raucm",
	         "[update]\ncompatible=test-device\nversion=3.0\n"
	         "[image.rootfs]\nfilename=rootfs.img\n"
	         "[meta.otabundle]\nsecurity-version=4\n",
	         -1);
	bundle = make_bundle(f);
	g_assert_true(ota_target_mark(marker, TRUE, &error));
	g_assert_false(ota_install(installer, bundle, &error));
	g_assert_error(error, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_ROLLBACK);
}

static void test_install_while_locked_is_busy_and_writes_nothing(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaTarget) installer = open_target(f, "A");
	g_autoptr(OtaState) holder = reload(f);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaStateLock) lock = ota_state_lock(holder, &error);
	g_autofree char *bundle = make_bundle(f);
	g_autofree char *state_before = read_in(f->data, "state");
	g_autofree char *state_after = NULL;
	g_autofree char *written = NULL;
	g_autofree char *bootloader = g_build_filename(f->data, "bootloader.state", NULL);

	g_assert_no_error(error);
	g_assert_false(ota_install(installer, bundle, &error));
	g_assert_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_BUSY);
	state_after = read_in(f->data, "state");
	g_assert_cmpstr(state_after, ==, state_before);
	g_assert_true(g_file_get_contents(f->slot_b, &written, NULL, NULL));
	g_assert_cmpstr(written, ==, "system B");
	g_assert_false(g_file_test(bootloader, G_FILE_TEST_EXISTS));
}

static void test_mark_while_locked_is_busy_and_writes_nothing(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaTarget) marker = open_target(f, "B");
	g_autoptr(OtaState) holder = reload(f);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaStateLock) lock = ota_state_lock(holder, &error);
	g_autofree char *state_before = read_in(f->data, "state");
	g_autofree char *state_after = NULL;
	g_autofree char *bootloader = g_build_filename(f->data, "bootloader.state", NULL);

	g_assert_no_error(error);
	for (int good = 0; good <= 1; good++) {
		g_assert_false(ota_target_mark(marker, good, &error));
		g_assert_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_BUSY);
		g_clear_error(&error);
	}
	state_after = read_in(f->data, "state");
	g_assert_cmpstr(state_after, ==, state_before);
	g_assert_false(g_file_test(bootloader, G_FILE_TEST_EXISTS));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/install/" name, Fixture, NULL, setup, fn, teardown)
	ADD("rejected-install-keeps-a-floor-raised-after-it-opened",
	    test_rejected_install_keeps_a_floor_raised_after_it_opened);
	ADD("successful-install-keeps-a-floor-raised-after-it-opened",
	    test_successful_install_keeps_a_floor_raised_after_it_opened);
	ADD("install-checks-the-floor-raised-after-it-opened",
	    test_install_checks_the_floor_raised_after_it_opened);
	ADD("install-while-locked-is-busy-and-writes-nothing",
	    test_install_while_locked_is_busy_and_writes_nothing);
	ADD("mark-while-locked-is-busy-and-writes-nothing",
	    test_mark_while_locked_is_busy_and_writes_nothing);
	return g_test_run();
}
