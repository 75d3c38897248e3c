/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The partition table side of boot-mbr-switch and boot-gpt-switch, on disks
 * held in memfds. The tables are built here field by field at the offsets
 * the MBR and UEFI specifications give, which pins the layouts the module
 * reads; test/cli/test_boot_switch.py checks the same against sfdisk. */
#include "partition-switch-private.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SECTOR 512
#define MIB (1024 * 1024)
#define DISK_SECTORS 16384 /* 8 MiB */
/* The region: 1 MiB..5 MiB, halves at sectors 2048 and 6144. */
#define REGION_START (1 * MIB)
#define REGION_SIZE (4 * MIB)
#define HALF_SECTORS 4096
#define GPT_ENTRIES 128

static void put_le32(guint8 *p, guint32 v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (guint8)(v >> (8 * i));
}

static void put_le64(guint8 *p, guint64 v)
{
	put_le32(p, (guint32)v);
	put_le32(p + 4, (guint32)(v >> 32));
}

static guint32 get_le32(const guint8 *p)
{
	return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

static guint64 get_le64(const guint8 *p)
{
	guint64 v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int disk_new(void)
{
	int fd = memfd_create("disk", MFD_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(ftruncate(fd, (off_t)DISK_SECTORS * SECTOR), ==, 0);
	return fd;
}

static guint8 *disk_read(int fd)
{
	guint8 *buf = g_malloc((gsize)DISK_SECTORS * SECTOR);

	g_assert_cmpint(pread(fd, buf, (gsize)DISK_SECTORS * SECTOR, 0), ==,
	                (gssize)DISK_SECTORS * SECTOR);
	return buf;
}

static void disk_write(int fd, guint64 offset, const void *data, gsize len)
{
	g_assert_cmpint(pwrite(fd, data, len, (off_t)offset), ==, (gssize)len);
}

static void mbr_set_entry(guint8 *mbr, guint i, guint8 type, guint32 first, guint32 count)
{
	guint8 *e = mbr + 446 + 16 * i;

	e[4] = type;
	put_le32(e + 8, first);
	put_le32(e + 12, count);
}

/* An MBR: partition 1 (FAT32) at @boot_first, @boot_count sectors;
 * partition 2 (Linux) after the region. */
static void write_mbr(int fd, guint32 boot_first, guint32 boot_count)
{
	guint8 mbr[SECTOR] = {0};

	mbr_set_entry(mbr, 0, 0x0c, boot_first, boot_count);
	mbr_set_entry(mbr, 1, 0x83, 10240, 4096);
	mbr[510] = 0x55;
	mbr[511] = 0xAA;
	disk_write(fd, 0, mbr, sizeof(mbr));
}

typedef struct {
	guint64 first_usable, last_usable;
	guint32 n_entries;
} GptLayout;

static const GptLayout default_gpt = {2048, DISK_SECTORS - 34, GPT_ENTRIES};

static void gpt_header(guint8 *h, const GptLayout *l, guint64 my_lba, guint64 alternate,
                       guint64 entries_lba, guint32 entries_crc)
{
	memset(h, 0, SECTOR);
	memcpy(h, "EFI PART", 8);
	put_le32(h + 8, 0x00010000);
	put_le32(h + 12, 92);
	put_le64(h + 24, my_lba);
	put_le64(h + 32, alternate);
	put_le64(h + 40, l->first_usable);
	put_le64(h + 48, l->last_usable);
	memset(h + 56, 0x5a, 16); /* disk GUID */
	put_le64(h + 72, entries_lba);
	put_le32(h + 80, l->n_entries);
	put_le32(h + 84, 128);
	put_le32(h + 88, entries_crc);
	put_le32(h + 16, ota_partition_crc32(h, 92));
}

/* A GPT as sfdisk makes it: protective MBR, primary header and 128
 * entries, partition 1 (ESP) at @boot_first..@boot_last, partition 2
 * after the region, backup entries and header at the end. */
static void write_gpt_layout(int fd, guint64 boot_first, guint64 boot_last, const GptLayout *l)
{
	guint8 mbr[SECTOR] = {0};
	/* An absurd count is written into the headers only. */
	gsize entries_len = (gsize)MIN(l->n_entries, GPT_ENTRIES) * 128;
	g_autofree guint8 *entries = g_malloc0(MAX(entries_len, SECTOR));
	guint8 header[SECTOR];
	guint64 entry_sectors = (entries_len + SECTOR - 1) / SECTOR;
	guint32 crc;

	mbr_set_entry(mbr, 0, 0xEE, 1, DISK_SECTORS - 1);
	mbr[510] = 0x55;
	mbr[511] = 0xAA;
	disk_write(fd, 0, mbr, sizeof(mbr));
	memset(entries, 0x11, 16); /* type */
	memset(entries + 16, 0x22, 16);
	put_le64(entries + 32, boot_first);
	put_le64(entries + 40, boot_last);
	if (l->n_entries > 1) {
		memset(entries + 128, 0x33, 16);
		put_le64(entries + 128 + 32, 10240);
		put_le64(entries + 128 + 40, 14335);
	}
	crc = ota_partition_crc32(entries, entries_len);
	disk_write(fd, 2 * SECTOR, entries, entries_len);
	gpt_header(header, l, 1, DISK_SECTORS - 1, 2, crc);
	disk_write(fd, SECTOR, header, SECTOR);
	disk_write(fd, (DISK_SECTORS - 1 - entry_sectors) * SECTOR, entries, entries_len);
	gpt_header(header, l, DISK_SECTORS - 1, 1, DISK_SECTORS - 1 - entry_sectors, crc);
	disk_write(fd, (guint64)(DISK_SECTORS - 1) * SECTOR, header, SECTOR);
}

static void write_gpt(int fd, guint64 boot_first, guint64 boot_last)
{
	write_gpt_layout(fd, boot_first, boot_last, &default_gpt);
}

static OtaPartitionSwitch *read_table(int fd, OtaPartitionTableKind kind, guint64 start,
                                      guint64 size, GError **error)
{
	OtaPartitionDevice device;
	OtaPartitionRegion region = {kind, start, size, 0};

	g_assert_true(ota_partition_device_probe(fd, &device, NULL));
	g_assert_cmpuint(device.sector_size, ==, SECTOR);
	return ota_partition_switch_read(fd, &device, &region, error);
}

static OtaPartitionSwitch *read_ok(int fd, OtaPartitionTableKind kind)
{
	g_autoptr(GError) error = NULL;
	OtaPartitionSwitch *s = read_table(fd, kind, REGION_START, REGION_SIZE, &error);

	g_assert_no_error(error);
	return s;
}

static void assert_refused(int fd, OtaPartitionTableKind kind, guint64 start, guint64 size,
                           OtaPartitionError code, const char *words)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaPartitionSwitch) s = read_table(fd, kind, start, size, &error);

	g_assert_null(s);
	g_assert_error(error, OTA_PARTITION_ERROR, (gint)code);
	g_assert_null(strchr(error->message, '\n'));
	if (strstr(error->message, words) == NULL)
		g_error("'%s' not in '%s'", words, error->message);
}

/* Every byte of @before and @after equal outside [@from, @from + @len)
 * ranges listed in @ranges (pairs, terminated by a 0 length). */
static void assert_only_changed(const guint8 *before, const guint8 *after, const gsize *ranges)
{
	gsize total = (gsize)DISK_SECTORS * SECTOR;

	for (gsize i = 0; i < total; i++) {
		gboolean allowed = FALSE;

		for (const gsize *r = ranges; r[1] != 0; r += 2)
			allowed = allowed || (i >= r[0] && i < r[0] + r[1]);
		if (!allowed && before[i] != after[i])
			g_error("byte %" G_GSIZE_FORMAT " changed", i);
	}
}

static void test_crc32_is_ieee(void)
{
	g_assert_cmphex(ota_partition_crc32((const guint8 *)"123456789", 9), ==, 0xCBF43926);
	g_assert_cmphex(ota_partition_crc32(NULL, 0), ==, 0);
}

static void test_mbr_first_half_active_means_second_inactive(void)
{
	int fd = disk_new();
	g_autoptr(OtaPartitionSwitch) s = NULL;

	write_mbr(fd, 2048, HALF_SECTORS);
	s = read_ok(fd, OTA_PARTITION_TABLE_MBR);
	g_assert_cmpuint(ota_partition_switch_get_inactive_half(s), ==, 1);
	g_assert_cmpuint(ota_partition_switch_get_inactive_offset(s), ==, REGION_START + 2 * MIB);
	g_assert_cmpuint(ota_partition_switch_get_half_size(s), ==, 2 * MIB);
	close(fd);
}

static void test_mbr_switch_changes_only_the_first_entry(void)
{
	int fd = disk_new();
	g_autoptr(OtaPartitionSwitch) s = NULL;
	g_autoptr(OtaPartitionSwitch) after = NULL;
	g_autofree guint8 *before = NULL;
	g_autofree guint8 *now = NULL;
	g_autoptr(GError) error = NULL;
	const gsize entry1[] = {446, 16, 0, 0};

	write_mbr(fd, 2048, HALF_SECTORS);
	before = disk_read(fd);
	s = read_ok(fd, OTA_PARTITION_TABLE_MBR);
	g_assert_true(ota_partition_switch_commit(s, fd, &error));
	g_assert_no_error(error);
	now = disk_read(fd);
	assert_only_changed(before, now, entry1);
	g_assert_cmpuint(now[446 + 4], ==, 0x0c); /* the type stays */
	g_assert_cmpuint(get_le32(now + 446 + 8), ==, 6144);
	g_assert_cmpuint(get_le32(now + 446 + 12), ==, HALF_SECTORS);
	after = read_ok(fd, OTA_PARTITION_TABLE_MBR);
	g_assert_cmpuint(ota_partition_switch_get_inactive_half(after), ==, 0);
	close(fd);
}

static void test_mbr_partition_reaching_into_the_other_half_is_refused(void)
{
	int fd = disk_new();

	/* Writing the "free" half would overwrite the running bootloader. */
	write_mbr(fd, 2048, HALF_SECTORS + 1);
	assert_refused(fd, OTA_PARTITION_TABLE_MBR, REGION_START, REGION_SIZE,
	               OTA_PARTITION_ERROR_REGION, "reaches beyond the first half");
	close(fd);
}

static void test_mbr_partition_at_neither_half_is_refused(void)
{
	int fd = disk_new();

	write_mbr(fd, 2049, 100);
	assert_refused(fd, OTA_PARTITION_TABLE_MBR, REGION_START, REGION_SIZE,
	               OTA_PARTITION_ERROR_REGION, "at neither half");
	close(fd);
}

static void test_mbr_region_overlapping_another_partition_is_refused(void)
{
	int fd = disk_new();

	write_mbr(fd, 2048, HALF_SECTORS);
	/* 1 MiB..5.5 MiB reaches into partition 2 at sector 10240. */
	assert_refused(fd, OTA_PARTITION_TABLE_MBR, REGION_START, REGION_SIZE + MIB,
	               OTA_PARTITION_ERROR_REGION, "partition 2");
	close(fd);
}

static void test_mbr_region_not_sector_aligned_is_refused(void)
{
	int fd = disk_new();

	write_mbr(fd, 2048, HALF_SECTORS);
	assert_refused(fd, OTA_PARTITION_TABLE_MBR, REGION_START + 100, REGION_SIZE,
	               OTA_PARTITION_ERROR_REGION, "region-start");
	assert_refused(fd, OTA_PARTITION_TABLE_MBR, REGION_START, REGION_SIZE + SECTOR,
	               OTA_PARTITION_ERROR_REGION, "region-size");
	close(fd);
}

static void test_mbr_region_beyond_the_device_is_refused(void)
{
	int fd = disk_new();

	write_mbr(fd, 2048, HALF_SECTORS);
	assert_refused(fd, OTA_PARTITION_TABLE_MBR, 6 * MIB, 4 * MIB, OTA_PARTITION_ERROR_REGION,
	               "beyond the device");
	assert_refused(fd, OTA_PARTITION_TABLE_MBR, G_MAXUINT64 - 511, 1024,
	               OTA_PARTITION_ERROR_REGION, "beyond the device");
	close(fd);
}

static void test_mbr_without_signature_is_corrupt(void)
{
	int fd = disk_new();

	write_mbr(fd, 2048, HALF_SECTORS);
	disk_write(fd, 511, "\0", 1);
	assert_refused(fd, OTA_PARTITION_TABLE_MBR, REGION_START, REGION_SIZE,
	               OTA_PARTITION_ERROR_CORRUPT, "signature");
	close(fd);
}

static void test_mbr_partition_beyond_the_device_is_corrupt(void)
{
	int fd = disk_new();
	guint8 mbr[SECTOR];

	write_mbr(fd, 2048, HALF_SECTORS);
	g_assert_cmpint(pread(fd, mbr, SECTOR, 0), ==, SECTOR);
	mbr_set_entry(mbr, 2, 0x83, 0xFFFFFF00u, 0x1000);
	disk_write(fd, 0, mbr, SECTOR);
	assert_refused(fd, OTA_PARTITION_TABLE_MBR, REGION_START, REGION_SIZE,
	               OTA_PARTITION_ERROR_CORRUPT, "partition 3");
	close(fd);
}

static void test_mbr_switch_on_a_gpt_disk_is_refused(void)
{
	int fd = disk_new();

	write_gpt(fd, 2048, 2048 + HALF_SECTORS - 1);
	assert_refused(fd, OTA_PARTITION_TABLE_MBR, REGION_START, REGION_SIZE,
	               OTA_PARTITION_ERROR_REGION, "boot-gpt-switch");
	close(fd);
}

static void test_gpt_second_half_active_means_first_inactive(void)
{
	int fd = disk_new();
	g_autoptr(OtaPartitionSwitch) s = NULL;

	write_gpt(fd, 6144, 6144 + HALF_SECTORS - 1);
	s = read_ok(fd, OTA_PARTITION_TABLE_GPT);
	g_assert_cmpuint(ota_partition_switch_get_inactive_half(s), ==, 0);
	g_assert_cmpuint(ota_partition_switch_get_inactive_offset(s), ==, REGION_START);
	close(fd);
}

static void test_gpt_switch_rewrites_entry_and_both_headers_only(void)
{
	int fd = disk_new();
	g_autoptr(OtaPartitionSwitch) s = NULL;
	g_autoptr(OtaPartitionSwitch) after = NULL;
	g_autofree guint8 *before = NULL;
	g_autofree guint8 *now = NULL;
	g_autoptr(GError) error = NULL;
	const gsize backup_entries = (DISK_SECTORS - 33) * SECTOR;
	const gsize changed[] = {
		SECTOR + 16, 4, SECTOR + 88, 4,           /* primary header CRCs */
		2 * SECTOR + 32, 16,                      /* primary entry 1: first, last LBA */
		backup_entries + 32, 16,                  /* backup entry 1 */
		(DISK_SECTORS - 1) * SECTOR + 16, 4,      /* backup header CRCs */
		(DISK_SECTORS - 1) * SECTOR + 88, 4, 0, 0};

	write_gpt(fd, 2048, 2048 + HALF_SECTORS - 1);
	before = disk_read(fd);
	s = read_ok(fd, OTA_PARTITION_TABLE_GPT);
	g_assert_true(ota_partition_switch_commit(s, fd, &error));
	g_assert_no_error(error);
	now = disk_read(fd);
	assert_only_changed(before, now, changed);
	g_assert_cmpuint(get_le64(now + 2 * SECTOR + 32), ==, 6144);
	g_assert_cmpuint(get_le64(now + 2 * SECTOR + 40), ==, 6144 + HALF_SECTORS - 1);
	g_assert_cmpmem(now + 2 * SECTOR, 128, now + backup_entries, 128);
	/* Both copies valid again, pointing at the second half. */
	after = read_ok(fd, OTA_PARTITION_TABLE_GPT);
	g_assert_cmpuint(ota_partition_switch_get_inactive_half(after), ==, 0);
	close(fd);
}

static void test_gpt_switch_back_restores_the_original_bytes(void)
{
	int fd = disk_new();
	g_autofree guint8 *before = NULL;
	g_autofree guint8 *now = NULL;

	write_gpt(fd, 2048, 2048 + HALF_SECTORS - 1);
	before = disk_read(fd);
	for (int i = 0; i < 2; i++) {
		g_autoptr(OtaPartitionSwitch) s = read_ok(fd, OTA_PARTITION_TABLE_GPT);

		g_assert_true(ota_partition_switch_commit(s, fd, NULL));
	}
	now = disk_read(fd);
	g_assert_cmpmem(before, (gsize)DISK_SECTORS * SECTOR, now, (gsize)DISK_SECTORS * SECTOR);
	close(fd);
}

static void test_gpt_header_crc_mismatch_is_corrupt(void)
{
	int fd = disk_new();

	write_gpt(fd, 2048, 2048 + HALF_SECTORS - 1);
	disk_write(fd, SECTOR + 40, "\x01", 1); /* first usable LBA, CRC not updated */
	assert_refused(fd, OTA_PARTITION_TABLE_GPT, REGION_START, REGION_SIZE,
	               OTA_PARTITION_ERROR_CORRUPT, "primary GPT header (sector 1): header CRC");
	close(fd);
}

static void test_gpt_entries_crc_mismatch_is_corrupt(void)
{
	int fd = disk_new();

	write_gpt(fd, 2048, 2048 + HALF_SECTORS - 1);
	disk_write(fd, (DISK_SECTORS - 33) * SECTOR + 32, "\x01", 1);
	assert_refused(fd, OTA_PARTITION_TABLE_GPT, REGION_START, REGION_SIZE,
	               OTA_PARTITION_ERROR_CORRUPT, "backup GPT partition entries: CRC");
	close(fd);
}

static void test_gpt_copies_that_differ_are_corrupt(void)
{
	int fd = disk_new();
	int other = disk_new();
	guint8 buf[33 * SECTOR];

	/* Each copy valid on its own, but they disagree on partition 1. */
	write_gpt(fd, 2048, 2048 + HALF_SECTORS - 1);
	write_gpt(other, 6144, 6144 + HALF_SECTORS - 1);
	g_assert_cmpint(pread(other, buf, sizeof(buf), (DISK_SECTORS - 33) * SECTOR), ==,
	                (gssize)sizeof(buf));
	disk_write(fd, (DISK_SECTORS - 33) * SECTOR, buf, sizeof(buf));
	assert_refused(fd, OTA_PARTITION_TABLE_GPT, REGION_START, REGION_SIZE,
	               OTA_PARTITION_ERROR_CORRUPT, "primary and backup GPT differ");
	close(other);
	close(fd);
}

static void test_gpt_backup_not_at_the_end_is_refused_with_a_hint(void)
{
	int fd = disk_new();
	guint8 h[SECTOR];

	write_gpt(fd, 2048, 2048 + HALF_SECTORS - 1);
	/* As after dd onto a larger disk: the primary names an earlier sector. */
	g_assert_cmpint(pread(fd, h, SECTOR, SECTOR), ==, SECTOR);
	put_le64(h + 32, DISK_SECTORS - 2);
	put_le32(h + 16, 0);
	put_le32(h + 16, ota_partition_crc32(h, 92));
	disk_write(fd, SECTOR, h, SECTOR);
	assert_refused(fd, OTA_PARTITION_TABLE_GPT, REGION_START, REGION_SIZE,
	               OTA_PARTITION_ERROR_CORRUPT, "sfdisk --relocate gpt-bak-std");
	close(fd);
}

static void test_gpt_huge_entry_count_is_refused_before_reading(void)
{
	int fd = disk_new();
	GptLayout l = default_gpt;

	l.n_entries = G_MAXUINT32;
	write_gpt_layout(fd, 2048, 2048 + HALF_SECTORS - 1, &l);
	assert_refused(fd, OTA_PARTITION_TABLE_GPT, REGION_START, REGION_SIZE,
	               OTA_PARTITION_ERROR_CORRUPT, "partition entries");
	close(fd);
}

static void test_gpt_without_protective_mbr_is_refused(void)
{
	int fd = disk_new();

	write_mbr(fd, 2048, HALF_SECTORS);
	assert_refused(fd, OTA_PARTITION_TABLE_GPT, REGION_START, REGION_SIZE,
	               OTA_PARTITION_ERROR_CORRUPT, "boot-mbr-switch");
	close(fd);
}

static void test_gpt_hybrid_mbr_is_refused(void)
{
	int fd = disk_new();
	guint8 mbr[SECTOR];

	write_gpt(fd, 2048, 2048 + HALF_SECTORS - 1);
	g_assert_cmpint(pread(fd, mbr, SECTOR, 0), ==, SECTOR);
	mbr_set_entry(mbr, 1, 0x0c, 2048, HALF_SECTORS);
	disk_write(fd, 0, mbr, SECTOR);
	assert_refused(fd, OTA_PARTITION_TABLE_GPT, REGION_START, REGION_SIZE,
	               OTA_PARTITION_ERROR_CORRUPT, "hybrid");
	close(fd);
}

static void test_gpt_region_not_on_the_1mib_grain_is_refused(void)
{
	int fd = disk_new();

	write_gpt(fd, 2048, 2048 + HALF_SECTORS - 1);
	assert_refused(fd, OTA_PARTITION_TABLE_GPT, REGION_START + SECTOR, REGION_SIZE,
	               OTA_PARTITION_ERROR_REGION, "1 MiB");
	assert_refused(fd, OTA_PARTITION_TABLE_GPT, REGION_START, 3 * MIB,
	               OTA_PARTITION_ERROR_REGION, "region-size");
	close(fd);
}

static void test_gpt_region_outside_the_usable_sectors_is_refused(void)
{
	int fd = disk_new();
	GptLayout l = default_gpt;

	l.first_usable = 4096;
	write_gpt_layout(fd, 4096, 4096 + 2047, &l);
	assert_refused(fd, OTA_PARTITION_TABLE_GPT, REGION_START, 4 * MIB,
	               OTA_PARTITION_ERROR_REGION, "usable sectors");
	close(fd);
}

static void test_commit_refuses_a_table_that_changed_and_writes_nothing(void)
{
	int fd = disk_new();
	g_autoptr(OtaPartitionSwitch) s = NULL;
	g_autofree guint8 *before = NULL;
	g_autofree guint8 *now = NULL;
	g_autoptr(GError) error = NULL;
	guint8 mbr[SECTOR];

	write_mbr(fd, 2048, HALF_SECTORS);
	s = read_ok(fd, OTA_PARTITION_TABLE_MBR);
	/* Someone else changes partition 2 between planning and switching. */
	g_assert_cmpint(pread(fd, mbr, SECTOR, 0), ==, SECTOR);
	mbr_set_entry(mbr, 1, 0x83, 10240, 2048);
	disk_write(fd, 0, mbr, SECTOR);
	before = disk_read(fd);
	g_assert_false(ota_partition_switch_commit(s, fd, &error));
	g_assert_error(error, OTA_PARTITION_ERROR, OTA_PARTITION_ERROR_CHANGED);
	now = disk_read(fd);
	g_assert_cmpmem(before, (gsize)DISK_SECTORS * SECTOR, now, (gsize)DISK_SECTORS * SECTOR);
	close(fd);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add_func("/partition-switch/" name, fn)
	ADD("crc32-is-ieee", test_crc32_is_ieee);
	ADD("mbr/first-half-active-means-second-inactive",
	    test_mbr_first_half_active_means_second_inactive);
	ADD("mbr/switch-changes-only-the-first-entry", test_mbr_switch_changes_only_the_first_entry);
	ADD("mbr/partition-reaching-into-the-other-half-is-refused",
	    test_mbr_partition_reaching_into_the_other_half_is_refused);
	ADD("mbr/partition-at-neither-half-is-refused", test_mbr_partition_at_neither_half_is_refused);
	ADD("mbr/region-overlapping-another-partition-is-refused",
	    test_mbr_region_overlapping_another_partition_is_refused);
	ADD("mbr/region-not-sector-aligned-is-refused", test_mbr_region_not_sector_aligned_is_refused);
	ADD("mbr/region-beyond-the-device-is-refused", test_mbr_region_beyond_the_device_is_refused);
	ADD("mbr/without-signature-is-corrupt", test_mbr_without_signature_is_corrupt);
	ADD("mbr/partition-beyond-the-device-is-corrupt",
	    test_mbr_partition_beyond_the_device_is_corrupt);
	ADD("mbr/switch-on-a-gpt-disk-is-refused", test_mbr_switch_on_a_gpt_disk_is_refused);
	ADD("gpt/second-half-active-means-first-inactive",
	    test_gpt_second_half_active_means_first_inactive);
	ADD("gpt/switch-rewrites-entry-and-both-headers-only",
	    test_gpt_switch_rewrites_entry_and_both_headers_only);
	ADD("gpt/switch-back-restores-the-original-bytes",
	    test_gpt_switch_back_restores_the_original_bytes);
	ADD("gpt/header-crc-mismatch-is-corrupt", test_gpt_header_crc_mismatch_is_corrupt);
	ADD("gpt/entries-crc-mismatch-is-corrupt", test_gpt_entries_crc_mismatch_is_corrupt);
	ADD("gpt/copies-that-differ-are-corrupt", test_gpt_copies_that_differ_are_corrupt);
	ADD("gpt/backup-not-at-the-end-is-refused-with-a-hint",
	    test_gpt_backup_not_at_the_end_is_refused_with_a_hint);
	ADD("gpt/huge-entry-count-is-refused-before-reading",
	    test_gpt_huge_entry_count_is_refused_before_reading);
	ADD("gpt/without-protective-mbr-is-refused", test_gpt_without_protective_mbr_is_refused);
	ADD("gpt/hybrid-mbr-is-refused", test_gpt_hybrid_mbr_is_refused);
	ADD("gpt/region-not-on-the-1mib-grain-is-refused",
	    test_gpt_region_not_on_the_1mib_grain_is_refused);
	ADD("gpt/region-outside-the-usable-sectors-is-refused",
	    test_gpt_region_outside_the_usable_sectors_is_refused);
	ADD("commit-refuses-a-table-that-changed-and-writes-nothing",
	    test_commit_refuses_a_table_that_changed_and_writes_nothing);
	return g_test_run();
}
