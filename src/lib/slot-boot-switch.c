/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* boot-mbr-switch and boot-gpt-switch slots, as RAUC installs them: the
 * image into the half of the region that the partition table does not
 * point at, then (after the post-install hook) the table's first entry
 * pointed at that half. Until that one switch, the bootloader in use is
 * never touched; after it, the new one is complete and synced. */
#include "slot-boot-switch-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "checksum-private.h"
#include "partition-switch-private.h"
#include "slot-fs-private.h"

#define ZERO_CHUNK (1024 * 1024)

gboolean slot_boot_switch_type(OtaSlotType type)
{
	return type == OTA_SLOT_BOOT_MBR_SWITCH || type == OTA_SLOT_BOOT_GPT_SWITCH;
}

static OtaPartitionTableKind table_kind(const OtaSlotConfig *slot)
{
	return slot->type == OTA_SLOT_BOOT_MBR_SWITCH ? OTA_PARTITION_TABLE_MBR
	                                               : OTA_PARTITION_TABLE_GPT;
}

/* An OTA_PARTITION_ERROR as the install reports it, naming the slot and its
 * device: a table or region that doesn't fit means there is no slot to
 * write; I/O and a table that changed under us mean the write failed. */
static gboolean slot_fail(GError **error, const OtaSlotConfig *slot, const GError *ierror)
{
	OtaInstallError code = ierror->domain == OTA_PARTITION_ERROR &&
	                                       (ierror->code == OTA_PARTITION_ERROR_CORRUPT ||
	                                        ierror->code == OTA_PARTITION_ERROR_REGION)
	                               ? OTA_INSTALL_ERROR_NO_SLOT
	                               : OTA_INSTALL_ERROR_WRITE;

	return install_fail(error, code, "slot %s (%s, %s): %s", slot->name,
	                    config_slot_type_to_string(slot->type), slot->device, ierror->message);
}

/* RAUC's image types for these slots (its image_type_map): raw and vfat,
 * and for GPT ext4 too. A tar or other archive can't be a bootloader. */
static gboolean check_image_type(const OtaSlotConfig *slot, const OtaImage *image,
                                 GError **error)
{
	const char *type = slot_image_type(image->filename);

	if (g_strcmp0(type, "raw") == 0 || g_strcmp0(type, "vfat") == 0 ||
	    (g_strcmp0(type, "ext4") == 0 && slot->type == OTA_SLOT_BOOT_GPT_SWITCH))
		return TRUE;
	return install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
	                    "image %s: a %s slot (%s) takes *.img or *.vfat images%s, by RAUC's "
	                    "rule on the filename",
	                    image->filename, config_slot_type_to_string(slot->type), slot->name,
	                    slot->type == OTA_SLOT_BOOT_GPT_SWITCH ? " (or *.ext4)" : "");
}

static int open_device(const OtaSlotConfig *slot, int flags, GError **error)
{
	/* Never O_CREAT: a mistyped device must fail, not become a file. */
	int fd = open(slot->device, flags | O_CLOEXEC);

	if (fd < 0)
		install_fail(error, OTA_INSTALL_ERROR_WRITE, "slot %s: %s: %s", slot->name, slot->device,
		             g_strerror(errno));
	return fd;
}

static OtaPartitionSwitch *read_table(const OtaSlotConfig *slot, int fd, GError **error)
{
	OtaPartitionRegion region = {table_kind(slot), slot->region_start, slot->region_size, 0};
	OtaPartitionDevice device;
	g_autoptr(GError) ierror = NULL;
	OtaPartitionSwitch *table;

	if (!ota_partition_device_probe(fd, &device, &ierror)) {
		slot_fail(error, slot, ierror);
		return NULL;
	}
	table = ota_partition_switch_read(fd, &device, &region, &ierror);
	if (table == NULL)
		slot_fail(error, slot, ierror);
	return table;
}

gboolean slot_boot_switch_plan(OtaInstallStep *step, GError **error)
{
	const OtaSlotConfig *slot = step->slot;
	g_autoptr(OtaPartitionSwitch) table = NULL;
	guint64 half;
	int fd;

	if (!check_image_type(slot, step->image, error))
		return FALSE;
	fd = open_device(slot, O_RDONLY, error);
	if (fd < 0)
		return FALSE;
	table = read_table(slot, fd, error);
	close(fd);
	if (table == NULL)
		return FALSE;
	half = ota_partition_switch_get_half_size(table);
	if (step->image->size > half)
		return install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
		                    "image %s (%" G_GUINT64_FORMAT " bytes) does not fit in half the "
		                    "region of slot %s (%" G_GUINT64_FORMAT " bytes)",
		                    step->image->filename, step->image->size, slot->name, half);
	step->boot_switch = g_steal_pointer(&table);
	return TRUE;
}

static gboolean write_zeros(int fd, guint64 offset, guint64 length, GError **error)
{
	g_autofree guint8 *zeros = g_malloc0(ZERO_CHUNK);

	while (length > 0) {
		gsize n = (gsize)MIN(length, (guint64)ZERO_CHUNK);
		ssize_t done = pwrite(fd, zeros, n, (off_t)offset);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0) {
			g_set_error(error, OTA_PARTITION_ERROR, OTA_PARTITION_ERROR_IO,
			            "clearing the rest of the half failed: %s",
			            done < 0 ? g_strerror(errno) : "nothing written");
			return FALSE;
		}
		offset += (guint64)done;
		length -= (guint64)done;
	}
	return TRUE;
}

/* What the device holds now in the half, hashed after the sync: the
 * switch only ever points at the manifest's image. */
static gboolean check_written(int fd, guint64 offset, const OtaImage *image, GError **error)
{
	OtaChecksum sum;
	char hex[OTA_SHA256_HEX_LEN + 1];

	/* Read the device, not what the page cache kept of the write. */
	posix_fadvise(fd, (off_t)offset, (off_t)image->size, POSIX_FADV_DONTNEED);
	if (!ota_checksum_fd(fd, offset, image->size, &sum, error))
		return FALSE;
	ota_checksum_to_hex(sum.sha256, hex);
	if (strcmp(hex, image->sha256) != 0) {
		g_set_error(error, OTA_PARTITION_ERROR, OTA_PARTITION_ERROR_IO,
		            "the written half reads back with sha256 %s, not the image's %s", hex,
		            image->sha256);
		return FALSE;
	}
	return TRUE;
}

static gboolean write_half(OtaBundle *b, const OtaInstallStep *step, int fd, GError **error)
{
	const OtaPartitionSwitch *table = step->boot_switch;
	const OtaPartitionDevice *planned = ota_partition_switch_get_device(table);
	guint64 offset = ota_partition_switch_get_inactive_offset(table);
	guint64 half = ota_partition_switch_get_half_size(table);
	guint64 size = step->image->size;
	OtaPartitionDevice device;
	g_autoptr(GError) ierror = NULL;

	if (!ota_partition_device_probe(fd, &device, &ierror))
		return slot_fail(error, step->slot, ierror);
	if (device.size != planned->size || device.sector_size != planned->sector_size)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE,
		                    "slot %s: %s changed its size during the install", step->slot->name,
		                    step->slot->device);
	g_return_val_if_fail(size <= half, FALSE);
	if (lseek(fd, (off_t)offset, SEEK_SET) != (off_t)offset)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "slot %s: %s: seek failed: %s",
		                    step->slot->name, step->slot->device, g_strerror(errno));
	if (!bundle_write_image_to(b, step->image, fd, step->slot->device, error))
		return FALSE;
	/* The whole half, as RAUC clears it: nothing of an older bootloader
	 * remains behind a smaller one. */
	if (!write_zeros(fd, offset + size, half - size, &ierror))
		return slot_fail(error, step->slot, ierror);
	if (fsync(fd) < 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "slot %s: %s: fsync failed: %s",
		                    step->slot->name, step->slot->device, g_strerror(errno));
	if (!check_written(fd, offset, step->image, &ierror))
		return slot_fail(error, step->slot, ierror);
	return TRUE;
}

gboolean slot_boot_switch_write(OtaBundle *b, const OtaInstallStep *step, GError **error)
{
	int fd = open_device(step->slot, O_RDWR, error);
	gboolean ok;

	if (fd < 0)
		return FALSE;
	ok = write_half(b, step, fd, error);
	close(fd);
	return ok;
}

gboolean slot_boot_switch_activate(const OtaInstallStep *step, GError **error)
{
	g_autoptr(GError) ierror = NULL;
	int fd = open_device(step->slot, O_RDWR, error);
	gboolean ok;

	if (fd < 0)
		return FALSE;
	ok = ota_partition_switch_commit(step->boot_switch, fd, &ierror);
	close(fd);
	return ok || slot_fail(error, step->slot, ierror);
}

void slot_boot_switch_add_hook_env(const OtaInstallStep *step, GPtrArray *env)
{
	const OtaPartitionSwitch *table = step->boot_switch;

	if (table == NULL)
		return;
	g_ptr_array_add(env, g_strdup_printf("RAUC_BOOT_PARTITION_ACTIVATING=%u",
	                                     ota_partition_switch_get_inactive_half(table)));
	g_ptr_array_add(env, g_strdup_printf("RAUC_BOOT_PARTITION_START=%" G_GUINT64_FORMAT,
	                                     ota_partition_switch_get_inactive_offset(table)));
	g_ptr_array_add(env, g_strdup_printf("RAUC_BOOT_PARTITION_SIZE=%" G_GUINT64_FORMAT,
	                                     ota_partition_switch_get_half_size(table)));
}
