/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "partition-switch-private.h"

#include <errno.h>
#include <linux/fs.h>
#include <linux/hdreg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(ota-partition-error-quark, ota_partition_error)

/* --- on-disk layouts (little-endian, offsets in bytes) ----------------------- */

#define MBR_ENTRIES 446 /* four 16-byte entries */
#define MBR_ENTRY_SIZE 16
#define MBR_N_ENTRIES 4
#define MBR_SIGNATURE 510 /* 0x55 0xAA */
#define MBR_SIZE 512
#define MBR_E_BOOT 0
#define MBR_E_CHS_FIRST 1
#define MBR_E_TYPE 4
#define MBR_E_CHS_LAST 5
#define MBR_E_START 8
#define MBR_E_COUNT 12
#define MBR_TYPE_GPT 0xEE

#define GPT_H_SIGNATURE 0 /* "EFI PART" */
#define GPT_H_HEADER_SIZE 12
#define GPT_H_HEADER_CRC 16
#define GPT_H_MY_LBA 24
#define GPT_H_ALTERNATE_LBA 32
#define GPT_H_FIRST_USABLE 40
#define GPT_H_LAST_USABLE 48
#define GPT_H_DISK_GUID 56
#define GPT_H_ENTRIES_LBA 72
#define GPT_H_N_ENTRIES 80
#define GPT_H_ENTRY_SIZE 84
#define GPT_H_ENTRIES_CRC 88
#define GPT_HEADER_MIN 92

#define GPT_E_TYPE 0 /* 16 bytes; all zero: unused */
#define GPT_E_FIRST 32
#define GPT_E_LAST 40 /* inclusive */
#define GPT_ENTRY_SIZE 128
/* The kernel and libfdisk read entries of 128 bytes only; 4096 of them
 * (512 KiB) is far beyond any real table and bounds what is read. */
#define GPT_MAX_ENTRIES 4096

enum { PRIMARY, BACKUP };

struct OtaPartitionSwitch {
	OtaPartitionDevice device;
	OtaPartitionRegion region;
	guint64 n_sectors;
	guint64 half_lba[2];
	guint64 half_sectors;
	guint inactive;
	/* What the decision rests on, as read: compared with the disk again
	 * right before the switch. */
	guint8 *sector0;    /* the MBR, or the GPT's protective MBR */
	guint8 *header[2];  /* GPT: the primary and backup header sectors */
	guint64 header_lba[2];
	guint64 entries_lba[2];
	guint32 header_size;
	guint8 *entries; /* GPT: the entry array (both copies are equal) */
	gsize entries_len;
};

void ota_partition_switch_free(OtaPartitionSwitch *s)
{
	if (s == NULL)
		return;
	g_free(s->sector0);
	g_free(s->header[PRIMARY]);
	g_free(s->header[BACKUP]);
	g_free(s->entries);
	g_free(s);
}

static gboolean fail(GError **error, OtaPartitionError code, const char *format, ...)
	G_GNUC_PRINTF(3, 4);
static gboolean fail(GError **error, OtaPartitionError code, const char *format, ...)
{
	va_list args;
	g_autofree char *msg = NULL;

	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error_literal(error, OTA_PARTITION_ERROR, code, msg);
	return FALSE;
}

#define corrupt(error, ...) fail((error), OTA_PARTITION_ERROR_CORRUPT, __VA_ARGS__)
#define region_error(error, ...) fail((error), OTA_PARTITION_ERROR_REGION, __VA_ARGS__)

guint32 ota_partition_crc32(const guint8 *data, gsize length)
{
	guint32 crc = 0xFFFFFFFFu;

	for (gsize i = 0; i < length; i++) {
		crc ^= data[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static guint32 get_le32(const guint8 *p)
{
	return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

static guint64 get_le64(const guint8 *p)
{
	return (guint64)get_le32(p) | (guint64)get_le32(p + 4) << 32;
}

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

static gboolean is_zero(const guint8 *p, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		if (p[i] != 0)
			return FALSE;
	}
	return TRUE;
}

/* --- device I/O --------------------------------------------------------------- */

gboolean ota_partition_device_probe(int fd, OtaPartitionDevice *device, GError **error)
{
	struct stat st;
	struct hd_geometry geometry = {0};
	guint64 size = 0;
	int sector_size = 0;

	if (fstat(fd, &st) < 0)
		return fail(error, OTA_PARTITION_ERROR_IO, "%s", g_strerror(errno));
	/* sfdisk's geometry for a device without one (and what RAUC falls
	 * back to): the largest that CHS can express. */
	device->heads = 255;
	device->sectors = 63;
	if (S_ISREG(st.st_mode)) {
		device->size = (guint64)st.st_size;
		device->sector_size = 512;
		return TRUE;
	}
	if (!S_ISBLK(st.st_mode))
		return fail(error, OTA_PARTITION_ERROR_IO, "not a block device or a disk image file");
	if (ioctl(fd, BLKGETSIZE64, &size) < 0 || ioctl(fd, BLKSSZGET, &sector_size) < 0)
		return fail(error, OTA_PARTITION_ERROR_IO, "cannot read the device's size: %s",
		            g_strerror(errno));
	device->size = size;
	device->sector_size = (guint)sector_size;
	if (ioctl(fd, HDIO_GETGEO, &geometry) == 0 && geometry.heads > 0 && geometry.sectors > 0) {
		device->heads = geometry.heads;
		device->sectors = geometry.sectors;
	}
	return TRUE;
}

static gboolean read_at(int fd, guint64 offset, guint8 *buf, gsize len, GError **error)
{
	gsize done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(error, OTA_PARTITION_ERROR_IO, "read failed at byte %" G_GUINT64_FORMAT
			            ": %s", offset + done, g_strerror(errno));
		if (n == 0)
			return fail(error, OTA_PARTITION_ERROR_IO,
			            "read failed at byte %" G_GUINT64_FORMAT ": end of device",
			            offset + done);
		done += (gsize)n;
	}
	return TRUE;
}

static gboolean write_at(int fd, guint64 offset, const guint8 *buf, gsize len, GError **error)
{
	gsize done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, buf + done, len - done, (off_t)(offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail(error, OTA_PARTITION_ERROR_IO,
			            "writing the partition table failed at byte %" G_GUINT64_FORMAT ": %s",
			            offset + done, n < 0 ? g_strerror(errno) : "nothing written");
		done += (gsize)n;
	}
	return TRUE;
}

static gboolean sync_device(int fd, GError **error)
{
	if (fsync(fd) < 0)
		return fail(error, OTA_PARTITION_ERROR_IO, "fsync failed: %s", g_strerror(errno));
	return TRUE;
}

static guint8 *read_sectors(OtaPartitionSwitch *s, int fd, guint64 lba, guint64 count,
                            GError **error)
{
	gsize len = (gsize)(count * s->device.sector_size);
	g_autofree guint8 *buf = g_malloc(len);

	/* Callers checked lba + count <= n_sectors, so this can't overflow. */
	if (!read_at(fd, lba * s->device.sector_size, buf, len, error))
		return NULL;
	return g_steal_pointer(&buf);
}

/* --- the region ----------------------------------------------------------------- */

static const char *kind_name(OtaPartitionTableKind kind)
{
	return kind == OTA_PARTITION_TABLE_MBR ? "MBR" : "GPT";
}

/* RAUC's rules for the region as such: inside the device, not at sector
 * 0, aligned so that both halves start on a grain (MBR: the sector; GPT:
 * 1 MiB) and are whole sectors. */
static gboolean check_region(OtaPartitionSwitch *s, GError **error)
{
	const OtaPartitionRegion *r = &s->region;
	guint ss = s->device.sector_size;
	guint64 grain = r->grain;

	if (ss < 512 || ss > 65536 || (ss & (ss - 1)) != 0)
		return fail(error, OTA_PARTITION_ERROR_IO, "unusable sector size %u", ss);
	if (grain == 0)
		grain = r->kind == OTA_PARTITION_TABLE_GPT ? OTA_PARTITION_GPT_GRAIN : ss;
	g_return_val_if_fail(grain % ss == 0, FALSE);
	s->n_sectors = s->device.size / ss;
	if (r->size == 0 || r->start == 0)
		return region_error(error, "region-start and region-size must not be 0");
	if (r->start % grain != 0)
		return region_error(error,
		                    "region-start %" G_GUINT64_FORMAT " is not a multiple of %"
		                    G_GUINT64_FORMAT " (for a %s switch, RAUC aligns it to %s)",
		                    r->start, grain, kind_name(r->kind),
		                    r->kind == OTA_PARTITION_TABLE_GPT ? "the 1 MiB grain"
		                                                       : "the sector size");
	if (r->size % (2 * grain) != 0)
		return region_error(error,
		                    "region-size %" G_GUINT64_FORMAT " is not a multiple of %"
		                    G_GUINT64_FORMAT " (twice the alignment, so that both halves are "
		                    "aligned)",
		                    r->size, 2 * grain);
	if (r->start > s->n_sectors * ss || r->size > s->n_sectors * ss - r->start)
		return region_error(error,
		                    "the region (bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
		                    ") ends beyond the device (%" G_GUINT64_FORMAT " bytes)",
		                    r->start, r->start + r->size - 1, s->n_sectors * ss);
	s->half_sectors = r->size / 2 / ss;
	s->half_lba[0] = r->start / ss;
	s->half_lba[1] = s->half_lba[0] + s->half_sectors;
	return TRUE;
}

/* The first entry (sectors @first..@last) must start exactly at one half
 * and end inside it: then the other half is free to write, and RAUC agrees
 * which one that is. */
static gboolean find_inactive_half(OtaPartitionSwitch *s, guint64 first, guint64 last,
                                   GError **error)
{
	for (guint h = 0; h < 2; h++) {
		guint64 half_last = s->half_lba[h] + s->half_sectors - 1;

		if (first != s->half_lba[h])
			continue;
		if (last > half_last)
			return region_error(error,
			                    "partition 1 (sectors %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
			                    ") reaches beyond the %s half of the region (sectors %"
			                    G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT ")",
			                    first, last, h == 0 ? "first" : "second", s->half_lba[h],
			                    half_last);
		s->inactive = 1 - h;
		return TRUE;
	}
	return region_error(error,
	                    "partition 1 starts at sector %" G_GUINT64_FORMAT ", at neither half of "
	                    "the region (sector %" G_GUINT64_FORMAT " or %" G_GUINT64_FORMAT ")",
	                    first, s->half_lba[0], s->half_lba[1]);
}

static gboolean check_no_overlap(const OtaPartitionSwitch *s, guint number, guint64 first,
                                 guint64 last, GError **error)
{
	guint64 region_last = s->half_lba[1] + s->half_sectors - 1;

	if (first > region_last || last < s->half_lba[0])
		return TRUE;
	return region_error(error,
	                    "partition %u (sectors %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
	                    ") overlaps the region (sectors %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
	                    ")",
	                    number, first, last, s->half_lba[0], region_last);
}

/* --- MBR ------------------------------------------------------------------------- */

typedef struct {
	guint8 type;
	guint64 first;
	guint64 count; /* 0: unused (as the kernel and RAUC read it) */
} MbrEntry;

static gboolean mbr_parse(const guint8 *sector, MbrEntry entries[MBR_N_ENTRIES],
                          GError **error)
{
	if (sector[MBR_SIGNATURE] != 0x55 || sector[MBR_SIGNATURE + 1] != 0xAA)
		return corrupt(error, "no partition table (no MBR signature 55 AA in sector 0)");
	for (guint i = 0; i < MBR_N_ENTRIES; i++) {
		const guint8 *e = sector + MBR_ENTRIES + i * MBR_ENTRY_SIZE;

		/* The kernel takes anything else for a boot sector, not a table. */
		if (e[MBR_E_BOOT] != 0x00 && e[MBR_E_BOOT] != 0x80)
			return corrupt(error, "MBR entry %u has an invalid boot flag 0x%02x", i + 1,
			               e[MBR_E_BOOT]);
		entries[i].type = e[MBR_E_TYPE];
		entries[i].first = get_le32(e + MBR_E_START);
		entries[i].count = get_le32(e + MBR_E_COUNT);
	}
	return TRUE;
}

static gboolean mbr_is_extended(guint8 type)
{
	return type == 0x05 || type == 0x0F || type == 0x85;
}

static gboolean mbr_read(OtaPartitionSwitch *s, GError **error)
{
	MbrEntry e[MBR_N_ENTRIES];

	if (!mbr_parse(s->sector0, e, error))
		return FALSE;
	for (guint i = 0; i < MBR_N_ENTRIES; i++) {
		if (e[i].type == MBR_TYPE_GPT)
			return region_error(error, "the disk has a GPT (its MBR is protective): use "
			                           "type=boot-gpt-switch");
	}
	for (guint i = 0; i < MBR_N_ENTRIES; i++) {
		if (e[i].count == 0)
			continue;
		if (e[i].first == 0 || e[i].first + e[i].count > s->n_sectors)
			return corrupt(error,
			               "MBR partition %u (sectors %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
			               ") does not lie inside the device (%" G_GUINT64_FORMAT " sectors)",
			               i + 1, e[i].first, e[i].first + e[i].count - 1, s->n_sectors);
	}
	/* An MBR entry holds 32-bit sector numbers. */
	if (s->half_lba[1] + s->half_sectors > G_MAXUINT32)
		return region_error(error, "the region ends beyond sector 2^32, which an MBR cannot "
		                           "address");
	if (e[0].count == 0)
		return region_error(error, "MBR partition 1, the boot partition, is empty");
	if (mbr_is_extended(e[0].type))
		return region_error(error, "MBR partition 1 is an extended partition, not a boot "
		                           "partition");
	for (guint i = 1; i < MBR_N_ENTRIES; i++) {
		/* An extended partition holds the logical ones: covering it
		 * covers them. */
		if (e[i].count != 0 &&
		    !check_no_overlap(s, i + 1, e[i].first, e[i].first + e[i].count - 1, error))
			return FALSE;
	}
	return find_inactive_half(s, e[0].first, e[0].first + e[0].count - 1, error);
}

/* As libfdisk writes it: sectors beyond cylinder 1023 get the largest
 * address CHS has. */
static void mbr_put_chs(guint8 *p, guint64 lba, guint heads, guint sectors)
{
	guint64 limit = (guint64)heads * sectors * 1024 - 1;
	guint64 cylinder;
	guint head, sector;

	if (lba > limit)
		lba = limit;
	cylinder = lba / ((guint64)heads * sectors);
	head = (guint)(lba / sectors % heads);
	sector = (guint)(lba % sectors) + 1;
	p[0] = (guint8)head;
	p[1] = (guint8)(sector | ((cylinder >> 2) & 0xC0));
	p[2] = (guint8)(cylinder & 0xFF);
}

/* --- GPT ------------------------------------------------------------------------- */

/* A GPT is found through its protective MBR, as the kernel and libfdisk
 * find it; a hybrid MBR (other partitions in it too) is refused, as RAUC
 * refuses it: its entries would go on pointing at the old half. */
static gboolean gpt_check_protective_mbr(const OtaPartitionSwitch *s, GError **error)
{
	MbrEntry e[MBR_N_ENTRIES];
	gboolean protective = FALSE;

	if (!mbr_parse(s->sector0, e, error)) {
		g_prefix_error(error, "no GPT: ");
		return FALSE;
	}
	for (guint i = 0; i < MBR_N_ENTRIES; i++) {
		if (e[i].type == MBR_TYPE_GPT && e[i].first == 1)
			protective = TRUE;
	}
	if (!protective)
		return corrupt(error, "no GPT (sector 0 is not a protective MBR): use "
		                      "type=boot-mbr-switch for an MBR");
	for (guint i = 0; i < MBR_N_ENTRIES; i++) {
		if (e[i].type != 0 && e[i].type != MBR_TYPE_GPT)
			return corrupt(error, "the GPT has a hybrid MBR, which is not supported (RAUC "
			                      "refuses it too): use a protective MBR");
	}
	return TRUE;
}

typedef struct {
	guint64 alternate_lba, first_usable, last_usable, entries_lba;
	guint32 header_size, n_entries, entries_crc;
	guint64 entries_sectors;
} GptHeader;

static gboolean gpt_header_parse(const OtaPartitionSwitch *s, const guint8 *sector,
                                 guint64 lba, GptHeader *h, GError **error)
{
	guint ss = s->device.sector_size;
	g_autofree guint8 *copy = NULL;
	guint32 crc;

	if (memcmp(sector + GPT_H_SIGNATURE, "EFI PART", 8) != 0)
		return corrupt(error, "no GPT header signature");
	h->header_size = get_le32(sector + GPT_H_HEADER_SIZE);
	if (h->header_size < GPT_HEADER_MIN || h->header_size > ss)
		return corrupt(error, "header size %" G_GUINT32_FORMAT " is not between %d and %u",
		               h->header_size, GPT_HEADER_MIN, ss);
	copy = g_memdup2(sector, h->header_size);
	put_le32(copy + GPT_H_HEADER_CRC, 0);
	crc = ota_partition_crc32(copy, h->header_size);
	if (crc != get_le32(sector + GPT_H_HEADER_CRC))
		return corrupt(error, "header CRC mismatch");
	if (get_le64(sector + GPT_H_MY_LBA) != lba)
		return corrupt(error, "the header says it is at sector %" G_GUINT64_FORMAT,
		               get_le64(sector + GPT_H_MY_LBA));
	h->alternate_lba = get_le64(sector + GPT_H_ALTERNATE_LBA);
	h->first_usable = get_le64(sector + GPT_H_FIRST_USABLE);
	h->last_usable = get_le64(sector + GPT_H_LAST_USABLE);
	h->entries_lba = get_le64(sector + GPT_H_ENTRIES_LBA);
	h->n_entries = get_le32(sector + GPT_H_N_ENTRIES);
	h->entries_crc = get_le32(sector + GPT_H_ENTRIES_CRC);
	if (get_le32(sector + GPT_H_ENTRY_SIZE) != GPT_ENTRY_SIZE)
		return corrupt(error, "partition entries of %" G_GUINT32_FORMAT " bytes (only %d "
		                      "are supported, as by Linux)",
		               get_le32(sector + GPT_H_ENTRY_SIZE), GPT_ENTRY_SIZE);
	if (h->n_entries < 1 || h->n_entries > GPT_MAX_ENTRIES)
		return corrupt(error, "%" G_GUINT32_FORMAT " partition entries (1 to %d supported)",
		               h->n_entries, GPT_MAX_ENTRIES);
	h->entries_sectors = ((guint64)h->n_entries * GPT_ENTRY_SIZE + ss - 1) / ss;
	if (h->first_usable > h->last_usable || h->last_usable >= s->n_sectors)
		return corrupt(error, "usable sectors %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
		                      " do not lie inside the device (%" G_GUINT64_FORMAT " sectors)",
		               h->first_usable, h->last_usable, s->n_sectors);
	if (h->entries_lba >= s->n_sectors || h->entries_sectors > s->n_sectors - h->entries_lba)
		return corrupt(error, "the partition entries (sector %" G_GUINT64_FORMAT
		                      ") do not lie inside the device",
		               h->entries_lba);
	return TRUE;
}

/* Where the two headers and entry arrays lie, as the UEFI specification
 * puts them: primary header at sector 1, its entries before the usable
 * area; the backup's entries after it, the backup header in the last
 * sector. Each header names the other. */
static gboolean gpt_check_layout(const OtaPartitionSwitch *s, const GptHeader *h, guint which,
                                 GError **error)
{
	guint64 last = s->n_sectors - 1;

	if (which == PRIMARY) {
		if (h->alternate_lba != last)
			return corrupt(error,
			               "it puts the backup header at sector %" G_GUINT64_FORMAT
			               ", not in the device's last sector %" G_GUINT64_FORMAT
			               " (was the disk enlarged? `sfdisk --relocate gpt-bak-std` moves "
			               "it)",
			               h->alternate_lba, last);
		if (h->entries_lba < 2 || h->entries_lba + h->entries_sectors > h->first_usable)
			return corrupt(error, "its partition entries (sector %" G_GUINT64_FORMAT
			                      ") overlap the header or the usable sectors",
			               h->entries_lba);
		return TRUE;
	}
	if (h->alternate_lba != 1)
		return corrupt(error, "it puts the primary header at sector %" G_GUINT64_FORMAT,
		               h->alternate_lba);
	if (h->entries_lba <= h->last_usable || h->entries_lba + h->entries_sectors > last)
		return corrupt(error, "its partition entries (sector %" G_GUINT64_FORMAT
		                      ") overlap the usable sectors or the header",
		               h->entries_lba);
	return TRUE;
}

static gboolean gpt_read_copy(OtaPartitionSwitch *s, int fd, guint which, GptHeader *h,
                              guint8 **entries, GError **error)
{
	const char *name = which == PRIMARY ? "primary" : "backup";
	guint64 lba = which == PRIMARY ? 1 : s->n_sectors - 1;
	g_autoptr(GError) ierror = NULL;

	s->header_lba[which] = lba;
	s->header[which] = read_sectors(s, fd, lba, 1, error);
	if (s->header[which] == NULL)
		return FALSE;
	if (!gpt_header_parse(s, s->header[which], lba, h, &ierror) ||
	    !gpt_check_layout(s, h, which, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror),
		                           "%s GPT header (sector %" G_GUINT64_FORMAT "): ", name,
		                           lba);
		return FALSE;
	}
	s->entries_lba[which] = h->entries_lba;
	*entries = read_sectors(s, fd, h->entries_lba, h->entries_sectors, error);
	if (*entries == NULL)
		return FALSE;
	if (ota_partition_crc32(*entries, (gsize)h->n_entries * GPT_ENTRY_SIZE) != h->entries_crc)
		return corrupt(error, "%s GPT partition entries: CRC mismatch", name);
	return TRUE;
}

/* Both copies must say the same: the switch rewrites both, and a firmware
 * that finds the primary damaged boots from the backup. */
static gboolean gpt_check_copies_agree(const OtaPartitionSwitch *s, const GptHeader h[2],
                                       guint8 *const entries[2], GError **error)
{
	const guint8 *p = s->header[PRIMARY], *b = s->header[BACKUP];

	if (memcmp(p + GPT_H_DISK_GUID, b + GPT_H_DISK_GUID, 16) != 0 ||
	    h[PRIMARY].header_size != h[BACKUP].header_size ||
	    h[PRIMARY].first_usable != h[BACKUP].first_usable ||
	    h[PRIMARY].last_usable != h[BACKUP].last_usable ||
	    h[PRIMARY].n_entries != h[BACKUP].n_entries ||
	    memcmp(entries[PRIMARY], entries[BACKUP],
	           (gsize)h[PRIMARY].n_entries * GPT_ENTRY_SIZE) != 0)
		return corrupt(error, "the primary and backup GPT differ (repair the table, e.g. "
		                      "with `sgdisk -v` and its advice)");
	return TRUE;
}

static gboolean gpt_check_entries(OtaPartitionSwitch *s, const GptHeader *h, GError **error)
{
	guint64 region_last = s->half_lba[1] + s->half_sectors - 1;
	const guint8 *boot = s->entries;

	if (s->half_lba[0] < h->first_usable || region_last > h->last_usable)
		return region_error(error,
		                    "the region (sectors %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
		                    ") is not inside the GPT's usable sectors (%" G_GUINT64_FORMAT
		                    "-%" G_GUINT64_FORMAT ")",
		                    s->half_lba[0], region_last, h->first_usable, h->last_usable);
	for (guint i = 0; i < h->n_entries; i++) {
		const guint8 *e = s->entries + (gsize)i * GPT_ENTRY_SIZE;
		guint64 first = get_le64(e + GPT_E_FIRST), last = get_le64(e + GPT_E_LAST);

		if (is_zero(e + GPT_E_TYPE, 16))
			continue;
		if (first > last || first < h->first_usable || last > h->last_usable)
			return corrupt(error,
			               "GPT partition %u (sectors %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
			               ") does not lie inside the usable sectors (%" G_GUINT64_FORMAT
			               "-%" G_GUINT64_FORMAT ")",
			               i + 1, first, last, h->first_usable, h->last_usable);
		if (i > 0 && !check_no_overlap(s, i + 1, first, last, error))
			return FALSE;
	}
	if (is_zero(boot + GPT_E_TYPE, 16))
		return region_error(error, "GPT partition 1, the boot partition, is empty");
	return find_inactive_half(s, get_le64(boot + GPT_E_FIRST), get_le64(boot + GPT_E_LAST),
	                          error);
}

static gboolean gpt_read(OtaPartitionSwitch *s, int fd, GError **error)
{
	GptHeader h[2];
	g_autofree guint8 *backup_entries = NULL;
	guint8 *entries[2];

	/* The smallest GPT: MBR, two headers, two entry sectors. */
	if (s->n_sectors < 5)
		return corrupt(error, "the device is too small for a GPT");
	if (!gpt_check_protective_mbr(s, error) ||
	    !gpt_read_copy(s, fd, PRIMARY, &h[PRIMARY], &s->entries, error) ||
	    !gpt_read_copy(s, fd, BACKUP, &h[BACKUP], &backup_entries, error))
		return FALSE;
	entries[PRIMARY] = s->entries;
	entries[BACKUP] = backup_entries;
	s->entries_len = (gsize)h[PRIMARY].n_entries * GPT_ENTRY_SIZE;
	s->header_size = h[PRIMARY].header_size;
	return gpt_check_copies_agree(s, h, entries, error) &&
	       gpt_check_entries(s, &h[PRIMARY], error);
}

/* --- reading, switching ----------------------------------------------------------- */

OtaPartitionSwitch *ota_partition_switch_read(int fd, const OtaPartitionDevice *device,
                                              const OtaPartitionRegion *region, GError **error)
{
	g_autoptr(OtaPartitionSwitch) s = g_new0(OtaPartitionSwitch, 1);

	s->device = *device;
	s->region = *region;
	if (!check_region(s, error))
		return NULL;
	if (s->n_sectors * s->device.sector_size < MBR_SIZE) {
		corrupt(error, "the device is too small for a partition table");
		return NULL;
	}
	s->sector0 = read_sectors(s, fd, 0, 1, error);
	if (s->sector0 == NULL)
		return NULL;
	if (!(region->kind == OTA_PARTITION_TABLE_MBR ? mbr_read(s, error) : gpt_read(s, fd, error)))
		return NULL;
	return g_steal_pointer(&s);
}

guint ota_partition_switch_get_inactive_half(const OtaPartitionSwitch *s)
{
	return s->inactive;
}

guint64 ota_partition_switch_get_inactive_offset(const OtaPartitionSwitch *s)
{
	return s->half_lba[s->inactive] * s->device.sector_size;
}

guint64 ota_partition_switch_get_half_size(const OtaPartitionSwitch *s)
{
	return s->half_sectors * s->device.sector_size;
}

const OtaPartitionDevice *ota_partition_switch_get_device(const OtaPartitionSwitch *s)
{
	return &s->device;
}

static gboolean same_bytes(const guint8 *a, const guint8 *b, gsize len)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && memcmp(a, b, len) == 0);
}

/* Is the table on disk still what @s was read from? */
static gboolean check_unchanged(const OtaPartitionSwitch *s, int fd, GError **error)
{
	g_autoptr(OtaPartitionSwitch) now = NULL;
	g_autoptr(GError) ierror = NULL;
	guint ss = s->device.sector_size;

	now = ota_partition_switch_read(fd, &s->device, &s->region, &ierror);
	if (now == NULL) {
		if (ierror->code != OTA_PARTITION_ERROR_IO)
			ierror->code = OTA_PARTITION_ERROR_CHANGED;
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror),
		                           "the partition table changed during the install: ");
		return FALSE;
	}
	if (!same_bytes(s->sector0, now->sector0, ss) ||
	    !same_bytes(s->header[PRIMARY], now->header[PRIMARY], ss) ||
	    !same_bytes(s->header[BACKUP], now->header[BACKUP], ss) ||
	    s->entries_len != now->entries_len ||
	    !same_bytes(s->entries, now->entries, s->entries_len) || s->inactive != now->inactive)
		return fail(error, OTA_PARTITION_ERROR_CHANGED,
		            "the partition table changed during the install");
	return TRUE;
}

static gboolean commit_mbr(const OtaPartitionSwitch *s, int fd, GError **error)
{
	g_autofree guint8 *sector = g_memdup2(s->sector0, s->device.sector_size);
	guint8 *e = sector + MBR_ENTRIES;
	guint64 first = s->half_lba[s->inactive];

	/* Only where the partition is changes: its boot flag and type stay. */
	put_le32(e + MBR_E_START, (guint32)first);
	put_le32(e + MBR_E_COUNT, (guint32)s->half_sectors);
	mbr_put_chs(e + MBR_E_CHS_FIRST, first, s->device.heads, s->device.sectors);
	mbr_put_chs(e + MBR_E_CHS_LAST, first + s->half_sectors - 1, s->device.heads,
	            s->device.sectors);
	/* One sector, one write: the MBR is old or new, never half of each. */
	return write_at(fd, 0, sector, s->device.sector_size, error) && sync_device(fd, error);
}

static void gpt_seal_header(guint8 *header, guint32 header_size, guint32 entries_crc)
{
	put_le32(header + GPT_H_ENTRIES_CRC, entries_crc);
	put_le32(header + GPT_H_HEADER_CRC, 0);
	put_le32(header + GPT_H_HEADER_CRC, ota_partition_crc32(header, header_size));
}

static gboolean commit_gpt(const OtaPartitionSwitch *s, int fd, GError **error)
{
	guint ss = s->device.sector_size;
	g_autofree guint8 *entries = g_memdup2(s->entries, s->entries_len);
	guint64 first = s->half_lba[s->inactive];
	guint32 crc;

	/* Only where the partition is changes: type, GUID, attributes and name
	 * stay, as RAUC keeps them. */
	put_le64(entries + GPT_E_FIRST, first);
	put_le64(entries + GPT_E_LAST, first + s->half_sectors - 1);
	crc = ota_partition_crc32(entries, s->entries_len);
	/* The backup first, then the primary, each synced: while one is being
	 * written, the other is complete (old or new), and the entry changes
	 * before the header whose CRC covers it. Firmware and kernel take a
	 * primary whose CRCs fail for absent and use the backup. */
	for (guint which = BACKUP;; which = PRIMARY) {
		g_autofree guint8 *header = g_memdup2(s->header[which], ss);

		gpt_seal_header(header, s->header_size, crc);
		if (!write_at(fd, s->entries_lba[which] * ss, entries, GPT_ENTRY_SIZE, error) ||
		    !write_at(fd, s->header_lba[which] * ss, header, ss, error) ||
		    !sync_device(fd, error))
			return FALSE;
		if (which == PRIMARY)
			return TRUE;
	}
}

gboolean ota_partition_switch_commit(const OtaPartitionSwitch *s, int fd, GError **error)
{
	g_autoptr(OtaPartitionSwitch) after = NULL;
	g_autoptr(GError) ierror = NULL;

	/* What the new half holds reaches the disk before anything points at
	 * it. */
	if (!sync_device(fd, error) || !check_unchanged(s, fd, error))
		return FALSE;
	if (!(s->region.kind == OTA_PARTITION_TABLE_MBR ? commit_mbr(s, fd, error)
	                                                : commit_gpt(s, fd, error)))
		return FALSE;
	after = ota_partition_switch_read(fd, &s->device, &s->region, &ierror);
	if (after == NULL)
		return fail(error, OTA_PARTITION_ERROR_IO,
		            "the switched partition table does not read back: %s", ierror->message);
	if (after->inactive == s->inactive)
		return fail(error, OTA_PARTITION_ERROR_IO,
		            "the switched partition table reads back unchanged");
	return TRUE;
}
