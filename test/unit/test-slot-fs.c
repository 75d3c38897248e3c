/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "slot-fs-private.h"

/* RAUC's rule (ext_type_map in its update_handler.c): the first pattern
 * that matches the filename wins, so *.tar* beats a later suffix. */
static void test_image_type_follows_raucs_filename_rule(void)
{
	static const struct {
		const char *filename;
		const char *type;
	} cases[] = {
		{"rootfs.tar", "tar"},         {"rootfs.tar.gz", "tar"},
		{"rootfs.tar.zst", "tar"},     {"rootfs.tgz", "tar"},
		{"rootfs.tar.ext4", "tar"},    {"rootfs.ext4", "ext4"},
		{"boot.vfat", "vfat"},         {"rootfs.img", "raw"},
		{"rootfs.squashfs", "squashfs"}, {"rootfs.squashfs-lz4", "squashfs"},
		{"rootfs.ubifs", "ubifs"},     {"rootfs.ext4.caibx", "casync"},
		{"rootfs.caidx", "casync"},    {"rootfs.ext2", "ext2"},
		{"rootfs.ext3", "ext3"},       {"rootfs.bin", NULL},
		{"rootfs", NULL},              {"rootfs.EXT4", NULL},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_cmpstr(slot_image_type(cases[i].filename), ==, cases[i].type);
}

static void test_filesystem_types_are_ext_and_vfat(void)
{
	g_assert_true(slot_fs_type_is_filesystem(OTA_SLOT_EXT4));
	g_assert_true(slot_fs_type_is_filesystem(OTA_SLOT_EXT3));
	g_assert_true(slot_fs_type_is_filesystem(OTA_SLOT_EXT2));
	g_assert_true(slot_fs_type_is_filesystem(OTA_SLOT_VFAT));
	g_assert_false(slot_fs_type_is_filesystem(OTA_SLOT_RAW));
	g_assert_false(slot_fs_type_is_filesystem(OTA_SLOT_TAR));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/slot-fs/image-type-follows-raucs-filename-rule",
	                test_image_type_follows_raucs_filename_rule);
	g_test_add_func("/slot-fs/filesystem-types-are-ext-and-vfat",
	                test_filesystem_types_are_ext_and_vfat);
	return g_test_run();
}
