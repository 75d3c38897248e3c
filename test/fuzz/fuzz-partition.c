/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the MBR and GPT reader behind boot-mbr-switch and
 * boot-gpt-switch (partition-switch.c), which reads a disk an attacker may
 * have written (a removable medium, a compromised running system).
 *
 * Input: 9 bytes of parameters, then the disk image (put in a memfd):
 *   byte 0      bit 0: GPT (else MBR); bit 1: RAUC's alignment (1 MiB for
 *               GPT), else the sector, so that tiny disks reach the table
 *               checks
 *   bytes 1-4   region start, in 512-byte sectors (little-endian)
 *   bytes 5-8   region size, in sectors
 *
 * Whatever the reader accepts must be a region inside the device whose
 * inactive half it names; the switch must then succeed, flip the inactive
 * half (as a second read says), and leave every byte of the region as it
 * was: tables lie outside it. */
#include "partition-switch-private.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PARAMS 9

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static guint32 le32(const uint8_t *p)
{
	return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

static void check_error(const GError *error)
{
	if (error == NULL || error->domain != OTA_PARTITION_ERROR ||
	    strchr(error->message, '\n') != NULL) {
		fprintf(stderr, "fuzz-partition: a refusal must be one OTA_PARTITION_ERROR line\n");
		abort();
	}
}

static guint8 *read_back(int fd, guint64 offset, guint64 length)
{
	guint8 *buf = g_malloc(length ? length : 1);

	if (pread(fd, buf, length, (off_t)offset) != (ssize_t)length)
		abort();
	return buf;
}

static void check_switch(int fd, const OtaPartitionDevice *device,
                         const OtaPartitionRegion *region, OtaPartitionSwitch *s)
{
	guint half = ota_partition_switch_get_inactive_half(s);
	guint64 offset = ota_partition_switch_get_inactive_offset(s);
	guint64 half_size = ota_partition_switch_get_half_size(s);
	g_autofree guint8 *before = NULL;
	g_autofree guint8 *after = NULL;
	g_autoptr(OtaPartitionSwitch) again = NULL;
	g_autoptr(GError) error = NULL;

	if (half > 1 || half_size * 2 != region->size ||
	    offset != region->start + half * half_size || region->start + region->size > device->size) {
		fprintf(stderr, "fuzz-partition: the inactive half is not a half of the region\n");
		abort();
	}
	before = read_back(fd, region->start, region->size);
	if (!ota_partition_switch_commit(s, fd, &error)) {
		fprintf(stderr, "fuzz-partition: switching an accepted table failed: %s\n",
		        error->message);
		abort();
	}
	after = read_back(fd, region->start, region->size);
	if (memcmp(before, after, region->size) != 0) {
		fprintf(stderr, "fuzz-partition: the switch wrote into the region\n");
		abort();
	}
	again = ota_partition_switch_read(fd, device, region, &error);
	if (again == NULL || ota_partition_switch_get_inactive_half(again) == half) {
		fprintf(stderr, "fuzz-partition: the switched table does not read as switched\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	OtaPartitionDevice device;
	OtaPartitionRegion region;
	g_autoptr(OtaPartitionSwitch) s = NULL;
	g_autoptr(GError) error = NULL;
	int fd;

	if (size < PARAMS)
		return 0;
	region.kind = (data[0] & 1) ? OTA_PARTITION_TABLE_GPT : OTA_PARTITION_TABLE_MBR;
	region.grain = (data[0] & 2) ? 0 : 512;
	region.start = (guint64)le32(data + 1) * 512;
	region.size = (guint64)le32(data + 5) * 512;
	fd = memfd_create("disk", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data + PARAMS, size - PARAMS) != (ssize_t)(size - PARAMS))
		abort();
	if (!ota_partition_device_probe(fd, &device, &error))
		abort();
	s = ota_partition_switch_read(fd, &device, &region, &error);
	if (s == NULL)
		check_error(error);
	else
		check_switch(fd, &device, &region, s);
	close(fd);
	return 0;
}
