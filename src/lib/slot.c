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

/* Whether @slot runs with @booted: the booted slot itself; a slot whose
 * parent= (followed to its root) is the booted slot, as in RAUC; and,
 * where a class has several slots and no parent= says which goes with
 * which, the one of the booted index (otabundle's convention: appfs.0 runs
 * with rootfs.0). RAUC has no such convention and would take either of
 * them, possibly the one the running system uses. */
gboolean ota_slot_is_active(const OtaSystemConfig *c, const OtaSlotConfig *booted,
                            const OtaSlotConfig *slot)
{
	guint members = 0;

	if (slot == booted || slot->parent == booted)
		return TRUE;
	if (slot->parent != NULL || g_str_equal(slot->slotclass, booted->slotclass))
		return FALSE;
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		if (s->parent == NULL && g_str_equal(s->slotclass, slot->slotclass))
			members++;
	}
	return members > 1 && slot->index == booted->index;
}

/* RAUC's choice among the inactive members of a class: one never
 * installed (no record) first, else the one installed longest ago; the
 * first in system.conf among equals. */
static gboolean installed_earlier(OtaState *state, const OtaSlotConfig *a,
                                  const OtaSlotConfig *b)
{
	const OtaSlotRecord *ra = state ? ota_state_get_slot(state, a->name) : NULL;
	const OtaSlotRecord *rb = state ? ota_state_get_slot(state, b->name) : NULL;

	if (ra == NULL || ra->installed == NULL)
		return rb != NULL && rb->installed != NULL;
	if (rb == NULL || rb->installed == NULL)
		return FALSE;
	/* RFC 3339 UTC times of one format order as strings */
	return strcmp(ra->installed, rb->installed) < 0;
}

const OtaSlotConfig *ota_slot_boot_target(const OtaSystemConfig *c, const OtaSlotConfig *booted,
                                          OtaState *state, GError **error)
{
	const OtaSlotConfig *best = NULL;

	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		if (s->parent != NULL || !g_str_equal(s->slotclass, booted->slotclass) ||
		    ota_slot_is_active(c, booted, s))
			continue;
		if (best == NULL || installed_earlier(state, s, best))
			best = s;
	}
	if (best == NULL)
		g_set_error(error, OTA_SLOT_ERROR, OTA_SLOT_ERROR_NOT_FOUND,
		            "no inactive slot of class %s besides the booted %s", booted->slotclass,
		            booted->name);
	return best;
}

/* The root slot (no parent=) of @slotclass to write along with
 * @boot_target: the one slot of a class that has one (a bootloader, a
 * shared partition), else the slot of the boot target's index. */
static const OtaSlotConfig *root_for_class(const OtaSystemConfig *c, const OtaSlotConfig *booted,
                                           const OtaSlotConfig *boot_target,
                                           const char *slotclass)
{
	const OtaSlotConfig *only = NULL;
	guint members = 0;

	if (g_str_equal(slotclass, booted->slotclass))
		return boot_target;
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		if (s->parent != NULL || !g_str_equal(s->slotclass, slotclass))
			continue;
		members++;
		if (s->index == boot_target->index && !ota_slot_is_active(c, booted, s))
			return s;
		only = s;
	}
	return members == 1 && !ota_slot_is_active(c, booted, only) ? only : NULL;
}

gboolean ota_slot_is_standalone(const OtaSystemConfig *c, const OtaSlotConfig *booted,
                                const OtaSlotConfig *slot)
{
	guint members = 0;

	while (slot->parent != NULL)
		slot = slot->parent;
	if (g_str_equal(slot->slotclass, booted->slotclass))
		return FALSE;
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		if (s->parent == NULL && g_str_equal(s->slotclass, slot->slotclass))
			members++;
	}
	return members == 1;
}

const OtaSlotConfig *ota_slot_for_class(const OtaSystemConfig *c, const OtaSlotConfig *booted,
                                        const OtaSlotConfig *boot_target, const char *slotclass,
                                        GError **error)
{
	const OtaSlotConfig *child = NULL;
	gboolean has_children = FALSE;

	/* A class of child slots goes with the parent that is installed: the
	 * child of the boot target, or of the root slot picked for the
	 * parent's class. */
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		if (s->parent == NULL || !g_str_equal(s->slotclass, slotclass))
			continue;
		has_children = TRUE;
		if (s->parent == root_for_class(c, booted, boot_target, s->parent->slotclass))
			child = s;
	}
	if (child != NULL)
		return child;
	if (!has_children) {
		const OtaSlotConfig *root = root_for_class(c, booted, boot_target, slotclass);

		if (root != NULL)
			return root;
	}
	g_set_error(error, OTA_SLOT_ERROR, OTA_SLOT_ERROR_NOT_FOUND,
	            "the bundle has an image for slot class '%s', but this system has no slot of "
	            "that class to go with %s",
	            slotclass, boot_target->name);
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

		if (ota_slot_is_active(c, booted, s) && device_identity(s->device, &bdev, &bino) &&
		    bdev == dev && bino == ino) {
			g_set_error(error, OTA_SLOT_ERROR, OTA_SLOT_ERROR_BOOTED,
			            "slot %s: device %s is the booted slot %s's device", target->name,
			            target->device, s->name);
			return FALSE;
		}
	}
	return TRUE;
}
