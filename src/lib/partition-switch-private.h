/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libotabundle; not installed.
 *
 * The partition table side of RAUC's boot-mbr-switch and boot-gpt-switch
 * slot types. A region of the disk holds two equal halves; the first entry
 * of the partition table (MBR or GPT) points at one of them, which is the
 * bootloader the ROM or firmware runs, and nothing points at the other.
 * An update writes the free half and then points the entry at it, one
 * sector write per table copy: at any moment one complete bootloader is
 * the one the table names.
 *
 * Nothing read from the disk is trusted: signatures, CRCs, header and
 * entry sizes, entry counts and every LBA are checked against each other
 * and against the device before a single decision rests on them, and the
 * region must be what RAUC expects (aligned as RAUC requires, overlapping
 * no other partition, the first entry starting exactly at one half and
 * ending inside it). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define OTA_PARTITION_ERROR ota_partition_error_quark()
GQuark ota_partition_error_quark(void);

typedef enum {
	OTA_PARTITION_ERROR_IO,      /* reading, writing or syncing the device failed */
	OTA_PARTITION_ERROR_CORRUPT, /* no valid table: signature, CRC, size or LBA wrong */
	OTA_PARTITION_ERROR_REGION,  /* the region does not fit the device or the table */
	OTA_PARTITION_ERROR_CHANGED, /* the table changed between reading and switching */
} OtaPartitionError;

typedef enum {
	OTA_PARTITION_TABLE_MBR, /* boot-mbr-switch */
	OTA_PARTITION_TABLE_GPT, /* boot-gpt-switch */
} OtaPartitionTableKind;

/* RAUC aligns a GPT region to libfdisk's default grain, 1 MiB (its start,
 * and its size to twice that); an MBR region to the sector. */
#define OTA_PARTITION_GPT_GRAIN G_GUINT64_CONSTANT(1048576)

typedef struct {
	guint64 size;     /* bytes */
	guint sector_size; /* logical: the unit of every LBA in the table */
	guint heads;      /* CHS geometry for MBR entries */
	guint sectors;    /* (per track) */
} OtaPartitionDevice;

typedef struct {
	OtaPartitionTableKind kind;
	guint64 start; /* bytes from the start of the device */
	guint64 size;  /* bytes, both halves */
	guint64 grain; /* alignment; 0: RAUC's for the kind */
} OtaPartitionRegion;

typedef struct OtaPartitionSwitch OtaPartitionSwitch;

/* The size and sector size of the device open on @fd: a block device's as
 * the kernel reports them; a regular file (a disk image) has 512-byte
 * sectors and, like sfdisk gives it, a 255-head, 63-sector geometry. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_partition_device_probe(int fd, OtaPartitionDevice *device, GError **error);

/* Reads and checks the table on @fd and finds the inactive half of
 * @region. Errors are one line, without the device's name. */
OtaPartitionSwitch *ota_partition_switch_read(int fd, const OtaPartitionDevice *device,
                                              const OtaPartitionRegion *region, GError **error);

/* 0: the first half is the inactive one (the one to write), 1: the second. */
guint ota_partition_switch_get_inactive_half(const OtaPartitionSwitch *s);
/* Where the inactive half starts on the device, in bytes. */
guint64 ota_partition_switch_get_inactive_offset(const OtaPartitionSwitch *s);
guint64 ota_partition_switch_get_half_size(const OtaPartitionSwitch *s);
const OtaPartitionDevice *ota_partition_switch_get_device(const OtaPartitionSwitch *s);

/* Points the first entry at the inactive half, with the start and size
 * RAUC gives it (the whole half). The table is read again first and must
 * be byte for byte what @s was read from (else OTA_PARTITION_ERROR_CHANGED,
 * nothing written); the device is synced before the switch, after each
 * table copy (GPT: the backup copy first, so that one valid copy always
 * remains) and the result is read back. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_partition_switch_commit(const OtaPartitionSwitch *s, int fd, GError **error);

void ota_partition_switch_free(OtaPartitionSwitch *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaPartitionSwitch, ota_partition_switch_free)

/* The CRC-32 of GPT headers and entry arrays (IEEE 802.3, zlib's crc32()). */
guint32 ota_partition_crc32(const guint8 *data, gsize length);

G_END_DECLS
