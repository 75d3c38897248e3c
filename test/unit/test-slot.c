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

	g_assert_true(ota_slot_boot_target(f->config, f->a, &error) == f->b);
	g_assert_true(ota_slot_boot_target(f->config, f->b, &error) == f->a);
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
	return g_test_run();
}
