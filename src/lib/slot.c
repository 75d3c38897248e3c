/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "slot-private.h"

#include <string.h>
#include <sys/stat.h>

G_DEFINE_QUARK(ota-slot-error-quark, ota_slot_error)

const OtaSlotConfig *ota_slot_find(const OtaSystemConfig *c, const char *name)
{
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		if (g_str_equal(s->name, name) || g_strcmp0(s->bootname, name) == 0)
			return s;
	}
	return NULL;
}

char *ota_slot_booted_from_cmdline(const char *cmdline_path)
{
	g_autofree char *cmdline = NULL;
	g_auto(GStrv) words = NULL;

	if (!g_file_get_contents(cmdline_path, &cmdline, NULL, NULL))
		return NULL;
	words = g_strsplit_set(g_strstrip(cmdline), " \t\n", -1);
	for (char **w = words; *w; w++) {
		if (g_str_has_prefix(*w, "otabundle.slot="))
			return g_strdup(*w + strlen("otabundle.slot="));
		if (g_str_has_prefix(*w, "rauc.slot="))
			return g_strdup(*w + strlen("rauc.slot="));
	}
	return NULL;
}

const OtaSlotConfig *ota_slot_boot_target(const OtaSystemConfig *c, const OtaSlotConfig *booted,
                                          GError **error)
{
	const OtaSlotConfig *best = NULL;

	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		if (s->bootname == NULL || s == booted || !g_str_equal(s->slotclass, booted->slotclass))
			continue;
		if (best == NULL || s->index < best->index)
			best = s;
	}
	if (best == NULL)
		g_set_error(error, OTA_SLOT_ERROR, OTA_SLOT_ERROR_NOT_FOUND,
		            "no inactive slot of class %s besides the booted %s", booted->slotclass,
		            booted->name);
	return best;
}

const OtaSlotConfig *ota_slot_for_class(const OtaSystemConfig *c, const OtaSlotConfig *booted,
                                        const OtaSlotConfig *boot_target, const char *slotclass,
                                        GError **error)
{
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		if (g_str_equal(s->slotclass, slotclass) && s->index == boot_target->index &&
		    s->index != booted->index)
			return s;
	}
	g_set_error(error, OTA_SLOT_ERROR, OTA_SLOT_ERROR_NOT_FOUND,
	            "the bundle has an image for slot class '%s', but this system has no %s.%u",
	            slotclass, slotclass, boot_target->index);
	return NULL;
}

/* What a device path really is: a block device by its number, a file by
 * its inode. Two names for one of them are the same slot. */
static gboolean device_identity(const char *path, dev_t *dev, ino_t *ino)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return FALSE;
	*dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
	*ino = S_ISBLK(st.st_mode) ? 0 : st.st_ino;
	return TRUE;
}

gboolean ota_slot_check_not_booted(const OtaSystemConfig *c, const OtaSlotConfig *booted,
                                   const OtaSlotConfig *target, GError **error)
{
	dev_t dev, bdev;
	ino_t ino, bino;

	if (!device_identity(target->device, &dev, &ino)) {
		g_set_error(error, OTA_SLOT_ERROR, OTA_SLOT_ERROR_NOT_FOUND,
		            "slot %s: device %s does not exist", target->name, target->device);
		return FALSE;
	}
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		if (s->index == booted->index && device_identity(s->device, &bdev, &bino) &&
		    bdev == dev && bino == ino) {
			g_set_error(error, OTA_SLOT_ERROR, OTA_SLOT_ERROR_BOOTED,
			            "slot %s: device %s is the booted slot %s's device", target->name,
			            target->device, s->name);
			return FALSE;
		}
	}
	return TRUE;
}
