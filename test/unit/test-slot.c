/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "slot-private.h"

#include <string.h>
#include <unistd.h>

#include "pki.h"

typedef struct {
	char *dir;
	OtaSystemConfig *config;
	const OtaSlotConfig *a, *b;
} Fixture;

static char *path_in(Fixture *f, const char *name)
{
	return g_build_filename(f->dir, name, NULL);
}

static void setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = NULL;

	f->dir = test_tmpdir_new();
	for (const char *const *n = (const char *const[]){"r0", "r1", "a0", "a1", NULL}; *n; n++) {
		g_autofree char *p = path_in(f, *n);
		g_assert_true(g_file_set_contents(p, "", 0, NULL));
	}
	text = g_strdup_printf("[system]\ncompatible=c\nbootloader=file\n[keyring]\npath=/k\n"
	                       "[slot.rootfs.0]\ndevice=%1$s/r0\nbootname=A\n"
	                       "[slot.rootfs.1]\ndevice=%1$s/r1\nbootname=B\n"
	                       "[slot.appfs.0]\ndevice=%1$s/a0\n"
	                       "[slot.appfs.1]\ndevice=%1$s/a1\n",
	                       f->dir);
	f->config = ota_system_config_parse(text, strlen(text), "system.conf", &error);
	g_assert_no_error(error);
	f->a = ota_slot_find(f->config, "A");
	f->b = ota_slot_find(f->config, "rootfs.1");
}

static void teardown(Fixture *f, gconstpointer data)
{
	ota_system_config_free(f->config);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
}

static void test_finds_slots_by_name_or_bootname(Fixture *f, gconstpointer data)
{
	g_assert_cmpstr(f->a->name, ==, "rootfs.0");
	g_assert_cmpstr(f->b->bootname, ==, "B");
	g_assert_null(ota_slot_find(f->config, "C"));
}

static void test_boot_target_is_the_other_bootable_slot(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_slot_boot_target(f->config, f->a, NULL, &error) == f->b);
	g_assert_true(ota_slot_boot_target(f->config, f->b, NULL, &error) == f->a);
}

static void test_other_classes_follow_the_boot_target_by_index(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	const OtaSlotConfig *app = ota_slot_for_class(f->config, f->a, f->b, "appfs", &error);

	g_assert_no_error(error);
	g_assert_cmpstr(app->name, ==, "appfs.1");
}

static void test_missing_class_is_an_error(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_null(ota_slot_for_class(f->config, f->a, f->b, "bootloader", &error));
	g_assert_error(error, OTA_SLOT_ERROR, OTA_SLOT_ERROR_NOT_FOUND);
}

static void test_another_name_for_the_booted_device_is_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *booted = path_in(f, "r0");
	g_autofree char *alias = path_in(f, "alias");
	OtaSlotConfig *app1 = (OtaSlotConfig *)ota_slot_find(f->config, "appfs.1");
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(symlink(booted, alias), ==, 0);
	g_free(app1->device);
	app1->device = g_strdup(alias);
	g_assert_false(ota_slot_check_not_booted(f->config, f->a, app1, &error));
	g_assert_error(error, OTA_SLOT_ERROR, OTA_SLOT_ERROR_BOOTED);
}

static void test_missing_device_is_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *r1 = path_in(f, "r1");
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_slot_check_not_booted(f->config, f->a, f->b, &error));
	g_assert_cmpint(unlink(r1), ==, 0);
	g_assert_false(ota_slot_check_not_booted(f->config, f->a, f->b, &error));
	g_assert_error(error, OTA_SLOT_ERROR, OTA_SLOT_ERROR_NOT_FOUND);
}

static void test_reads_the_booted_slot_from_the_kernel_command_line(Fixture *f, gconstpointer data)
{
	g_autofree char *ours = path_in(f, "cmdline-ours");
	g_autofree char *rauc = path_in(f, "cmdline-rauc");
	g_autofree char *none = path_in(f, "cmdline-none");
	g_autofree char *a = NULL, *b = NULL, *c = NULL;

	g_assert_true(g_file_set_contents(ours, "quiet otabundle.slot=B root=/dev/x\n", -1, NULL));
	g_assert_true(g_file_set_contents(rauc, "rauc.slot=A quiet\n", -1, NULL));
	g_assert_true(g_file_set_contents(none, "quiet\n", -1, NULL));
	a = ota_slot_booted_from_cmdline(ours);
	b = ota_slot_booted_from_cmdline(rauc);
	c = ota_slot_booted_from_cmdline(none);
	g_assert_cmpstr(a, ==, "B");
	g_assert_cmpstr(b, ==, "A");
	g_assert_null(c);
}

/* --- RAUC's parent= rule ----------------------------------------------------------------- */

static OtaSystemConfig *parse_slots(const char *slots)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = g_strdup_printf("[system]\ncompatible=c\nbootloader=file\n"
	                                        "data-directory=/d\n[keyring]\npath=/k\n%s",
	                                        slots);
	OtaSystemConfig *config = ota_system_config_parse(text, strlen(text), "system.conf", &error);

	g_assert_no_error(error);
	return config;
}

static const char *target_of(const OtaSystemConfig *config, const char *booted,
                             const char *slotclass)
{
	g_autoptr(GError) error = NULL;
	const OtaSlotConfig *b = ota_slot_find(config, booted);
	const OtaSlotConfig *target = ota_slot_boot_target(config, b, NULL, &error);
	const OtaSlotConfig *s;

	g_assert_no_error(error);
	s = ota_slot_for_class(config, b, target, slotclass, &error);
	g_assert_no_error(error);
	return s->name;
}

static void test_a_child_follows_its_parent_whatever_its_index(void)
{
	g_autoptr(OtaSystemConfig) c = parse_slots("[slot.rootfs.0]\ndevice=/r0\nbootname=A\n"
	                                           "[slot.rootfs.1]\ndevice=/r1\nbootname=B\n"
	                                           "[slot.appfs.7]\ndevice=/a7\nparent=rootfs.1\n"
	                                           "[slot.appfs.3]\ndevice=/a3\nparent=rootfs.0\n");

	g_assert_cmpstr(target_of(c, "A", "appfs"), ==, "appfs.7");
	g_assert_cmpstr(target_of(c, "B", "appfs"), ==, "appfs.3");
}

static void test_a_grandchild_follows_the_root_of_its_parents(void)
{
	g_autoptr(OtaSystemConfig) c = parse_slots("[slot.rootfs.0]\ndevice=/r0\nbootname=A\n"
	                                           "[slot.rootfs.1]\ndevice=/r1\nbootname=B\n"
	                                           "[slot.appfs.0]\ndevice=/a0\nparent=rootfs.0\n"
	                                           "[slot.appfs.1]\ndevice=/a1\nparent=rootfs.1\n"
	                                           "[slot.data.0]\ndevice=/d0\nparent=appfs.1\n"
	                                           "[slot.data.1]\ndevice=/d1\nparent=appfs.0\n");
	const OtaSlotConfig *d0 = ota_slot_find(c, "data.0");

	g_assert_cmpstr(d0->parent->name, ==, "rootfs.1");
	g_assert_cmpstr(target_of(c, "A", "data"), ==, "data.0");
	g_assert_cmpstr(target_of(c, "B", "data"), ==, "data.1");
}

static void test_a_child_of_the_booted_slot_is_active(void)
{
	g_autoptr(OtaSystemConfig) c = parse_slots("[slot.kernel.0]\ndevice=/k0\nbootname=A\n"
	                                           "[slot.kernel.1]\ndevice=/k1\nbootname=B\n"
	                                           "[slot.rootfs.0]\ndevice=/r0\nparent=kernel.0\n"
	                                           "[slot.rootfs.1]\ndevice=/r1\nparent=kernel.1\n");
	const OtaSlotConfig *a = ota_slot_find(c, "A");

	g_assert_true(ota_slot_is_active(c, a, ota_slot_find(c, "rootfs.0")));
	g_assert_false(ota_slot_is_active(c, a, ota_slot_find(c, "rootfs.1")));
}

static void test_a_class_of_one_slot_is_always_the_target(void)
{
	g_autoptr(OtaSystemConfig) c = parse_slots("[slot.boot.0]\ndevice=/b0\n"
	                                           "[slot.kernel.0]\ndevice=/k0\nbootname=A\n"
	                                           "[slot.kernel.1]\ndevice=/k1\nbootname=B\n");

	g_assert_cmpstr(target_of(c, "A", "boot"), ==, "boot.0");
	g_assert_cmpstr(target_of(c, "B", "boot"), ==, "boot.0");
	g_assert_false(ota_slot_is_active(c, ota_slot_find(c, "A"), ota_slot_find(c, "boot.0")));
}

static void test_the_target_is_a_slot_never_installed_else_the_oldest(void)
{
	g_autoptr(OtaSystemConfig) c = parse_slots("[slot.rootfs.0]\ndevice=/r0\nbootname=A\n"
	                                           "[slot.rootfs.1]\ndevice=/r1\nbootname=B\n"
	                                           "[slot.rootfs.2]\ndevice=/r2\nbootname=C\n");
	g_autofree char *dir = test_tmpdir_new();
	g_autoptr(GError) error = NULL;
	OtaState *state = ota_state_load(dir, &error);
	const OtaSlotConfig *a = ota_slot_find(c, "A");
	OtaSlotRecord *r;

	g_assert_no_error(error);
	g_assert_cmpstr(ota_slot_boot_target(c, a, state, &error)->name, ==, "rootfs.1");
	r = g_new0(OtaSlotRecord, 1);
	r->slot = g_strdup("rootfs.1");
	r->installed = g_strdup("2024-05-01T00:00:00Z");
	ota_state_set_slot(state, r);
	g_assert_cmpstr(ota_slot_boot_target(c, a, state, &error)->name, ==, "rootfs.2");
	r = g_new0(OtaSlotRecord, 1);
	r->slot = g_strdup("rootfs.2");
	r->installed = g_strdup("2024-06-01T00:00:00Z");
	ota_state_set_slot(state, r);
	g_assert_cmpstr(ota_slot_boot_target(c, a, state, &error)->name, ==, "rootfs.1");
	ota_state_free(state);
	test_tmpdir_remove(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/slot/" name, Fixture, NULL, setup, fn, teardown)
	ADD("finds-slots-by-name-or-bootname", test_finds_slots_by_name_or_bootname);
	ADD("boot-target-is-the-other-bootable-slot", test_boot_target_is_the_other_bootable_slot);
	ADD("other-classes-follow-the-boot-target-by-index",
	    test_other_classes_follow_the_boot_target_by_index);
	ADD("missing-class-is-an-error", test_missing_class_is_an_error);
	ADD("another-name-for-the-booted-device-is-refused",
	    test_another_name_for_the_booted_device_is_refused);
	ADD("missing-device-is-refused", test_missing_device_is_refused);
	ADD("reads-the-booted-slot-from-the-kernel-command-line",
	    test_reads_the_booted_slot_from_the_kernel_command_line);
	g_test_add_func("/slot/a-child-follows-its-parent-whatever-its-index",
	                test_a_child_follows_its_parent_whatever_its_index);
	g_test_add_func("/slot/a-grandchild-follows-the-root-of-its-parents",
	                test_a_grandchild_follows_the_root_of_its_parents);
	g_test_add_func("/slot/a-child-of-the-booted-slot-is-active",
	                test_a_child_of_the_booted_slot_is_active);
	g_test_add_func("/slot/a-class-of-one-slot-is-always-the-target",
	                test_a_class_of_one_slot_is_always_the_target);
	g_test_add_func("/slot/the-target-is-a-slot-never-installed-else-the-oldest",
	                test_the_target_is_a_slot_never_installed_else_the_oldest);
	return g_test_run();
}
