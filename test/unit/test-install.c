/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The install decisions (ota_install_plan: slot choice, compatible,
 * anti-rollback, expiry, tiers), and the target's state-changing commands
 * against each other: each holds the data directory's lock and saves only
 * the state it read under it. Two OtaTargets on one system.conf stand for
 * two otabundle-install processes, interleaved exactly where a race would
 * put them. */
#include <otabundle/install.h>
#include "slot-private.h"

#include "install-private.h"

#include <string.h>
#include <sys/stat.h>

#include "pki.h"

typedef struct {
	char *dir;
	char *data;
	char *conf;
	char *slot_b;
	char *input;
	char *keyring;
	OtaSigner *signer;
	OtaSigner *boot_signer; /* with use_boot_tier() */
	OtaTarget *target;      /* of the last plan */
	guint n_bundles;
} Fixture;

#define UPDATE(version) "[update]\ncompatible=test-device\nversion=" version "\n"
#define ROOTFS "[image.rootfs]\nfilename=rootfs.img\n"
#define APPFS "[image.appfs]\nfilename=appfs.img\n"
#define BOOTLOADER "[image.bootloader]\nfilename=boot.img\n"
#define HOOKS "[hooks]\nfilename=hook.sh\nhooks=install-check\n"
#define SECURITY(n) "[meta.otabundle]\nsecurity-version=" n "\n"
/* A slot pair bound to [policy.boot], a stricter tier. */
#define BOOT_TIER "[slot.bootloader.0]\ndevice=@bootloader.0\npolicy=boot\n\n" \
                  "[slot.bootloader.1]\ndevice=@bootloader.1\npolicy=boot\n\n" \
                  "[policy.boot]\npath=@boot.pem\n"
#define APPFS_SLOTS "[slot.appfs.0]\ndevice=@appfs.0\n\n[slot.appfs.1]\ndevice=@appfs.1\n"

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

/* Slot devices are files in the test directory holding "old <slot>". */
static void make_slot_device(Fixture *f, const char *slot)
{
	g_autofree char *old = g_strdup_printf("old %s", slot);

	write_in(f->dir, slot, old, -1);
}

/* A/B rootfs (rootfs.0 boots as A, rootfs.1 as B) trusting f->keyring, plus
 * @system in [system] and the groups @more, where "@NAME" is the path of
 * NAME in the test directory. */
static void write_device(Fixture *f, const char *system, const char *more)
{
	static const char *const slots[] = {"rootfs.0", "rootfs.1",     "appfs.0",
	                                    "appfs.1",  "bootloader.0", "bootloader.1"};
	g_autofree char *prefix = g_strconcat(f->dir, "/", NULL);
	g_auto(GStrv) parts = g_strsplit(more, "@", -1);
	g_autofree char *groups = g_strjoinv(prefix, parts);
	g_autofree char *text = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(slots); i++)
		make_slot_device(f, slots[i]);
	text = g_strdup_printf("[system]\ncompatible=test-device\nbootloader=file\n"
	                       "data-directory=%s\n%s\n[keyring]\npath=%s\n\n"
	                       "[slot.rootfs.0]\ndevice=%s/rootfs.0\nbootname=A\n\n"
	                       "[slot.rootfs.1]\ndevice=%s/rootfs.1\nbootname=B\n\n%s",
	                       f->data, system, f->keyring, f->dir, f->dir, groups);
	write_in(f->dir, "system.conf", text, -1);
}

/* A root CA written to @name.pem and a signer it issued. */
static OtaSigner *new_signer(Fixture *f, const char *name, char **keyring)
{
	g_autoptr(TestIdentity) root = test_pki_identity("ec", "Root", NULL, 0, 365);
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Signer", root, 0, 30);
	g_autofree char *leaf_name = g_strconcat(name, "-leaf", NULL);
	g_autofree char *root_key = NULL, *cert = NULL, *key = NULL;
	g_autoptr(GError) error = NULL;
	OtaSigner *signer;

	test_pki_write(root, f->dir, name, keyring, &root_key);
	test_pki_write(leaf, f->dir, leaf_name, &cert, &key);
	signer = ota_signer_load(NULL, cert, key, TRUE, &error);
	g_assert_no_error(error);
	return signer;
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
	f->dir = test_tmpdir_new();
	f->data = g_build_filename(f->dir, "data", NULL);
	f->conf = g_build_filename(f->dir, "system.conf", NULL);
	f->slot_b = g_build_filename(f->dir, "rootfs.1", NULL);
	f->signer = new_signer(f, "root", &f->keyring);
	write_device(f, "", "");
	write_pending_install(f);

	f->input = g_build_filename(f->dir, "input", NULL);
	g_assert_cmpint(mkdir(f->input, 0755), ==, 0);
	write_in(f->input, "rootfs.img", "system 3.0", -1);
	write_in(f->input, "appfs.img", "apps 3.0", -1);
	write_in(f->input, "boot.img", "boot 3.0", -1);
	write_in(f->input, "hook.sh", "#!/bin/sh\n", -1);
}

static void teardown(Fixture *f, gconstpointer data)
{
	ota_target_free(f->target);
	ota_signer_free(f->signer);
	ota_signer_free(f->boot_signer);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->data);
	g_free(f->conf);
	g_free(f->slot_b);
	g_free(f->input);
	g_free(f->keyring);
}

/* A bundle with @manifest, signed by each of @signers. */
static char *bundle_signed(Fixture *f, const char *manifest, OtaSigner *const *signers,
                           gsize n_signers)
{
	g_autofree char *name = g_strdup_printf("bundle-%u.raucb", f->n_bundles++);
	g_autofree char *path = g_build_filename(f->dir, name, NULL);
	g_autoptr(GError) error = NULL;
	OtaCreateOptions options = {.signers = signers, .n_signers = n_signers};

	write_in(f->input, "manifest.raucm", manifest, -1);
	g_assert_true(ota_bundle_create(f->input, path, &options, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&path);
}

static char *bundle_of(Fixture *f, const char *manifest)
{
	return bundle_signed(f, manifest, &f->signer, 1);
}

/* Version 3.0 of rootfs with security version 5 and [meta.otabundle] @key=@value. */
static char *bundle_with_meta(Fixture *f, const char *key, const char *value)
{
	g_autofree char *manifest =
		g_strdup_printf(UPDATE("3.0") ROOTFS SECURITY("5") "%s=%s\n", key, value);

	return bundle_of(f, manifest);
}

static char *make_bundle(Fixture *f)
{
	return bundle_of(f, UPDATE("3.0") ROOTFS SECURITY("5"));
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

/* --- planning ------------------------------------------------------------------ */

static OtaInstallPlan *try_plan(Fixture *f, const char *booted, const char *bundle,
                                GError **error)
{
	g_clear_pointer(&f->target, ota_target_free);
	f->target = open_target(f, booted);
	return ota_install_plan(f->target, bundle, error);
}

static OtaInstallPlan *plan_ok(Fixture *f, const char *booted, const char *bundle)
{
	g_autoptr(GError) error = NULL;
	OtaInstallPlan *p = try_plan(f, booted, bundle, &error);

	g_assert_no_error(error);
	g_assert_nonnull(p);
	return p;
}

/* Refused with @domain and @code, the message naming the bundle and @words. */
static void assert_refused(Fixture *f, const char *bundle, GQuark domain, gint code,
                           const char *words)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaInstallPlan) p = try_plan(f, "A", bundle, &error);

	g_assert_null(p);
	g_assert_error(error, domain, code);
	g_assert_true(g_str_has_prefix(error->message, bundle));
	g_assert_nonnull(strstr(error->message, words));
}

static const char *step_slot_name(gconstpointer step)
{
	return ((const OtaInstallStep *)step)->slot->name;
}

static const char *policy_name(gconstpointer name)
{
	return name;
}

/* The names of @items, space-separated. */
static char *join_names(const GPtrArray *items, const char *(*name)(gconstpointer))
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < items->len; i++)
		g_string_append_printf(s, "%s%s", i ? " " : "", name(g_ptr_array_index(items, i)));
	return g_string_free(s, FALSE);
}

/* Where the plan's images go, in manifest order. */
static char *plan_slots(const OtaInstallPlan *p)
{
	return join_names(p->steps, step_slot_name);
}

static char *plan_policies(const OtaInstallPlan *p)
{
	return join_names(p->policies_used, policy_name);
}

static void set_installed(Fixture *f, const char *version, guint64 floor)
{
	g_autoptr(OtaState) s = reload(f);
	g_autoptr(GError) error = NULL;

	g_free(s->installed_version);
	s->installed_version = g_strdup(version);
	s->security_floor = floor;
	g_assert_true(ota_state_save(s, &error));
	g_assert_no_error(error);
}

/* An RFC 3339 UTC time @days from now. */
static char *days_from_now(int days)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autoptr(GDateTime) then = g_date_time_add_days(now, days);

	return g_date_time_format(then, "%Y-%m-%dT%H:%M:%SZ");
}

/* The bootloader slots are bound to [policy.boot], whose CA issued
 * f->boot_signer; the application key is the default policy's. */
static void use_boot_tier(Fixture *f)
{
	g_autofree char *keyring = NULL;

	f->boot_signer = new_signer(f, "boot", &keyring);
	write_device(f, "", BOOT_TIER);
}

static char *bundle_signed_by_both(Fixture *f, const char *manifest)
{
	OtaSigner *both[] = {f->signer, f->boot_signer};

	return bundle_signed(f, manifest, both, G_N_ELEMENTS(both));
}

/* On a device with appfs slots too, booted from @booted, @manifest is planned
 * into @slots (in manifest order), and @boot_target boots next. */
static void assert_plan_slots(Fixture *f, const char *booted, const char *manifest,
                              const char *slots, const char *boot_target)
{
	g_autofree char *bundle = NULL;
	g_autoptr(OtaInstallPlan) p = NULL;
	g_autofree char *planned = NULL;

	write_device(f, "", APPFS_SLOTS);
	bundle = bundle_of(f, manifest);
	p = plan_ok(f, booted, bundle);
	planned = plan_slots(p);
	g_assert_cmpstr(planned, ==, slots);
	g_assert_cmpstr(p->boot_target->name, ==, boot_target);
}

static void test_plan_booted_from_a_writes_every_class_at_index_1(Fixture *f, gconstpointer data)
{
	assert_plan_slots(f, "A", UPDATE("3.0") ROOTFS APPFS SECURITY("5"), "rootfs.1 appfs.1",
	                  "rootfs.1");
}

static void test_plan_booted_from_b_writes_every_class_at_index_0(Fixture *f, gconstpointer data)
{
	assert_plan_slots(f, "B", UPDATE("3.0") APPFS ROOTFS SECURITY("5"), "appfs.0 rootfs.0",
	                  "rootfs.0");
}

static void test_bundle_without_an_image_for_the_boot_class_is_refused(Fixture *f,
                                                                      gconstpointer data)
{
	g_autofree char *bundle = NULL;

	write_device(f, "", APPFS_SLOTS);
	bundle = bundle_of(f, UPDATE("3.0") APPFS SECURITY("5"));
	assert_refused(f, bundle, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_NO_SLOT,
	               "no image for the boot slot class 'rootfs'");
}

static void test_image_for_a_class_the_system_lacks_is_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = bundle_of(f, UPDATE("3.0") ROOTFS APPFS SECURITY("5"));

	assert_refused(f, bundle, OTA_SLOT_ERROR, OTA_SLOT_ERROR_NOT_FOUND,
	               "image for slot class 'appfs'");
}

static void test_bundle_for_another_compatible_is_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *bundle =
		bundle_of(f, "[update]\ncompatible=other-device\nversion=3.0\n" ROOTFS);

	assert_refused(f, bundle, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_INCOMPATIBLE,
	               "'other-device'");
}

static void test_bundle_for_other_hardware_revisions_is_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = NULL;

	write_device(f, "hardware-revision=rev-b\n", "");
	bundle = bundle_with_meta(f, "hardware-revisions", "rev-a, rev-c");
	assert_refused(f, bundle, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_INCOMPATIBLE,
	               "this device is rev-b");
}

static void test_bundle_listing_the_hardware_revision_is_planned(Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = NULL;
	g_autoptr(OtaInstallPlan) p = NULL;

	write_device(f, "hardware-revision=rev-b\n", "");
	bundle = bundle_with_meta(f, "hardware-revisions", "rev-a, rev-b");
	p = plan_ok(f, "A", bundle);
}

static void test_bundle_with_hardware_revisions_is_refused_by_a_device_without_one(
	Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = bundle_with_meta(f, "hardware-revisions", "rev-a");

	assert_refused(f, bundle, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_INCOMPATIBLE,
	               "this device is unknown");
}

static void test_security_version_below_the_floor_is_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = make_bundle(f);

	set_installed(f, "2.0", 6);
	assert_refused(f, bundle, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_ROLLBACK, "floor 6");
}

static void test_plan_carries_the_security_version(Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = make_bundle(f);
	g_autoptr(OtaInstallPlan) p = NULL;

	set_installed(f, "2.0", 5);
	p = plan_ok(f, "A", bundle);
	g_assert_cmpuint(p->security_version, ==, 5);
}

static void test_security_version_that_is_not_a_number_is_refused(Fixture *f,
                                                                  gconstpointer data)
{
	g_autofree char *bundle = bundle_of(f, UPDATE("3.0") ROOTFS SECURITY("5a"));

	assert_refused(f, bundle, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_INVALID, "'5a'");
}

static void test_older_version_is_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = make_bundle(f);

	set_installed(f, "4.0", 0);
	assert_refused(f, bundle, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_ROLLBACK,
	               "older than the installed 4.0");
}

static void test_older_version_is_planned_with_allow_downgrade(Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = make_bundle(f);
	g_autoptr(OtaInstallPlan) p = NULL;

	write_device(f, "allow-downgrade=true\n", "");
	set_installed(f, "4.0", 0);
	p = plan_ok(f, "A", bundle);
}

static void test_allow_downgrade_still_refuses_a_security_version_below_the_floor(
	Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = make_bundle(f);

	write_device(f, "allow-downgrade=true\n", "");
	set_installed(f, "2.0", 6);
	assert_refused(f, bundle, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_ROLLBACK, "floor 6");
}

static void test_versions_compare_by_number_not_as_text(Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = bundle_of(f, UPDATE("1.10") ROOTFS SECURITY("5"));
	g_autoptr(OtaInstallPlan) p = NULL;

	set_installed(f, "1.9", 0);
	p = plan_ok(f, "A", bundle);
}

/* strverscmp called a release older than its own release candidate. */
static void test_a_release_is_planned_over_its_release_candidate(Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = bundle_of(f, UPDATE("2024.07.0") ROOTFS);
	g_autoptr(OtaInstallPlan) p = NULL;

	set_installed(f, "2024.07.0-rc1", 0);
	p = plan_ok(f, "A", bundle);
}

static void test_a_release_candidate_of_the_installed_release_is_a_downgrade(Fixture *f,
                                                                           gconstpointer data)
{
	g_autofree char *bundle = bundle_of(f, UPDATE("2024.07.0-rc1") ROOTFS);

	set_installed(f, "2024.07.0", 0);
	assert_refused(f, bundle, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_ROLLBACK,
	               "version 2024.07.0-rc1 is older than the installed 2024.07.0");
}

/* strverscmp ranked "v1.0" above "5.0". */
static void test_a_version_without_an_order_is_refused_naming_it(Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = bundle_of(f, UPDATE("v1.0") ROOTFS);

	set_installed(f, "5.0", 0);
	assert_refused(f, bundle, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_ROLLBACK,
	               "bundle version 'v1.0' is not a semantic version");
}

static void test_min_bundle_version_holds_even_with_allow_downgrade(Fixture *f,
                                                                  gconstpointer data)
{
	g_autofree char *rc = bundle_of(f, UPDATE("2.0.0-rc.1") ROOTFS);
	g_autofree char *release = bundle_of(f, UPDATE("2.0.0") ROOTFS);
	g_autoptr(OtaInstallPlan) p = NULL;

	write_device(f, "allow-downgrade=true\nmin-bundle-version=2.0.0\n", "");
	assert_refused(f, rc, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_ROLLBACK,
	               "version 2.0.0-rc.1 is below this system's min-bundle-version 2.0.0");
	p = plan_ok(f, "A", release);
}

static void test_expired_bundle_is_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *yesterday = days_from_now(-1);
	g_autofree char *bundle = bundle_with_meta(f, "expires", yesterday);

	assert_refused(f, bundle, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_EXPIRED, yesterday);
}

static void test_bundle_expiring_tomorrow_is_planned(Fixture *f, gconstpointer data)
{
	g_autofree char *tomorrow = days_from_now(1);
	g_autofree char *bundle = bundle_with_meta(f, "expires", tomorrow);
	g_autoptr(OtaInstallPlan) p = plan_ok(f, "A", bundle);
}

static void test_expires_that_is_not_a_time_is_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *bundle = bundle_with_meta(f, "expires", "next tuesday");

	assert_refused(f, bundle, OTA_INSTALL_ERROR, OTA_INSTALL_ERROR_INVALID, "RFC 3339");
}

/* With the boot tier, @manifest signed by the application key alone is
 * refused, for @why. */
static void assert_tier_refuses(Fixture *f, const char *manifest, const char *why)
{
	g_autofree char *bundle = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaInstallPlan) p = NULL;

	use_boot_tier(f);
	bundle = bundle_of(f, manifest);
	p = try_plan(f, "A", bundle, &error);
	g_assert_null(p);
	g_assert_nonnull(strstr(error->message, why));
}

/* With the boot tier, @manifest signed by the application key (and with
 * @both, the boot key too) is planned, having passed @policies. */
static void assert_tier_plans(Fixture *f, const char *manifest, gboolean both,
                              const char *policies)
{
	g_autofree char *bundle = NULL;
	g_autoptr(OtaInstallPlan) p = NULL;
	g_autofree char *passed = NULL;

	use_boot_tier(f);
	bundle = both ? bundle_signed_by_both(f, manifest) : bundle_of(f, manifest);
	p = plan_ok(f, "A", bundle);
	passed = plan_policies(p);
	g_assert_cmpstr(passed, ==, policies);
}

static void test_application_key_alone_is_refused_for_a_tier_bound_slot(Fixture *f,
                                                                       gconstpointer data)
{
	assert_tier_refuses(f, UPDATE("3.0") ROOTFS BOOTLOADER SECURITY("5"),
	                    "policy 'boot' of slot bootloader.1");
}

static void test_application_and_tier_keys_together_are_planned_for_a_tier_bound_slot(
	Fixture *f, gconstpointer data)
{
	assert_tier_plans(f, UPDATE("3.0") ROOTFS BOOTLOADER SECURITY("5"), TRUE, "default boot");
}

static void test_tier_is_not_asked_of_a_bundle_that_leaves_its_slots_alone(Fixture *f,
                                                                          gconstpointer data)
{
	assert_tier_plans(f, UPDATE("3.0") ROOTFS SECURITY("5"), FALSE, "default");
}

static void test_bundle_with_hooks_must_pass_every_policy(Fixture *f, gconstpointer data)
{
	assert_tier_refuses(f, UPDATE("3.0") ROOTFS HOOKS SECURITY("5"),
	                    "policy 'boot' of a bundle with hooks");
}

static void test_bundle_with_hooks_signed_for_every_policy_is_planned(Fixture *f,
                                                                     gconstpointer data)
{
	assert_tier_plans(f, UPDATE("3.0") ROOTFS HOOKS SECURITY("5"), TRUE, "default boot");
}

/* --- the lock ---------------------------------------------------------------------- */

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

	bundle = bundle_of(f, UPDATE("3.0") ROOTFS SECURITY("4"));
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
	g_assert_cmpstr(written, ==, "old rootfs.1");
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
	ADD("plan-booted-from-a-writes-every-class-at-index-1",
	    test_plan_booted_from_a_writes_every_class_at_index_1);
	ADD("plan-booted-from-b-writes-every-class-at-index-0",
	    test_plan_booted_from_b_writes_every_class_at_index_0);
	ADD("bundle-without-an-image-for-the-boot-class-is-refused",
	    test_bundle_without_an_image_for_the_boot_class_is_refused);
	ADD("image-for-a-class-the-system-lacks-is-refused",
	    test_image_for_a_class_the_system_lacks_is_refused);
	ADD("bundle-for-another-compatible-is-refused", test_bundle_for_another_compatible_is_refused);
	ADD("bundle-for-other-hardware-revisions-is-refused",
	    test_bundle_for_other_hardware_revisions_is_refused);
	ADD("bundle-listing-the-hardware-revision-is-planned",
	    test_bundle_listing_the_hardware_revision_is_planned);
	ADD("bundle-with-hardware-revisions-is-refused-by-a-device-without-one",
	    test_bundle_with_hardware_revisions_is_refused_by_a_device_without_one);
	ADD("security-version-below-the-floor-is-refused",
	    test_security_version_below_the_floor_is_refused);
	ADD("plan-carries-the-security-version", test_plan_carries_the_security_version);
	ADD("security-version-that-is-not-a-number-is-refused",
	    test_security_version_that_is_not_a_number_is_refused);
	ADD("older-version-is-refused", test_older_version_is_refused);
	ADD("older-version-is-planned-with-allow-downgrade",
	    test_older_version_is_planned_with_allow_downgrade);
	ADD("allow-downgrade-still-refuses-a-security-version-below-the-floor",
	    test_allow_downgrade_still_refuses_a_security_version_below_the_floor);
	ADD("a-release-is-planned-over-its-release-candidate",
	    test_a_release_is_planned_over_its_release_candidate);
	ADD("a-release-candidate-of-the-installed-release-is-a-downgrade",
	    test_a_release_candidate_of_the_installed_release_is_a_downgrade);
	ADD("a-version-without-an-order-is-refused-naming-it",
	    test_a_version_without_an_order_is_refused_naming_it);
	ADD("min-bundle-version-holds-even-with-allow-downgrade",
	    test_min_bundle_version_holds_even_with_allow_downgrade);
	ADD("versions-compare-by-number-not-as-text", test_versions_compare_by_number_not_as_text);
	ADD("expired-bundle-is-refused", test_expired_bundle_is_refused);
	ADD("bundle-expiring-tomorrow-is-planned", test_bundle_expiring_tomorrow_is_planned);
	ADD("expires-that-is-not-a-time-is-refused", test_expires_that_is_not_a_time_is_refused);
	ADD("application-key-alone-is-refused-for-a-tier-bound-slot",
	    test_application_key_alone_is_refused_for_a_tier_bound_slot);
	ADD("application-and-tier-keys-together-are-planned-for-a-tier-bound-slot",
	    test_application_and_tier_keys_together_are_planned_for_a_tier_bound_slot);
	ADD("tier-is-not-asked-of-a-bundle-that-leaves-its-slots-alone",
	    test_tier_is_not_asked_of_a_bundle_that_leaves_its_slots_alone);
	ADD("bundle-with-hooks-must-pass-every-policy", test_bundle_with_hooks_must_pass_every_policy);
	ADD("bundle-with-hooks-signed-for-every-policy-is-planned",
	    test_bundle_with_hooks_signed_for_every_policy_is_planned);
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
