/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writing images into slots: a raw image onto the slot's device, a tar
 * image extracted into the slot's directory; filesystem slots in
 * slot-fs.c. */
#include "install-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progress-private.h"
#include "slot-adaptive-private.h"
#include "slot-boot-switch-private.h"
#include "slot-casync-private.h"
#include "slot-fs-private.h"
#include "slot-private.h"
#include "slot-tar-private.h"

static gboolean write_raw(OtaTarget *t, OtaInstallPlan *plan, const OtaInstallStep *step,
                          GError **error)
{
	struct stat st;
	gboolean block = stat(step->slot->device, &st) == 0 && S_ISBLK(st.st_mode);
	gboolean adaptive = slot_adaptive_applies(plan->bundle, step);
	/* Never O_CREAT: a mistyped device must fail, not fill a new file.
	 * Adaptive: the old contents are read before they are overwritten,
	 * and a file is cut to size only at the end. */
	int fd = open(step->slot->device,
	              (adaptive ? O_RDWR : O_WRONLY) | O_CLOEXEC | (block || adaptive ? 0 : O_TRUNC));
	gboolean ok;

	if (fd < 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", step->slot->device,
		                    g_strerror(errno));
	if (adaptive)
		ok = slot_adaptive_write(t, plan, step, fd, TRUE, error);
	else
		ok = bundle_write_image_to(plan->bundle, step->image, fd, step->slot->device, error);
	if (ok && fsync(fd) < 0)
		ok = install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: fsync failed: %s",
		                  step->slot->device, g_strerror(errno));
	close(fd);
	return ok;
}

/* The slot directory with symlinks resolved: one configured through a
 * symlink keeps working, while libarchive, which refuses any entry with a
 * symlink anywhere in its path, then finds none but those the image made. */
static char *slot_directory(const OtaSlotConfig *slot, GError **error)
{
	char *dir = realpath(slot->device, NULL);

	if (dir == NULL)
		install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", slot->device, g_strerror(errno));
	return dir;
}

static gboolean extract_into_slot(int tar_fd, const OtaSlotConfig *slot, GError **error)
{
	g_autofree char *dir = NULL;

	if (lseek(tar_fd, 0, SEEK_SET) != 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "tar image: %s", g_strerror(errno));
	dir = slot_directory(slot, error);
	return dir != NULL && slot_tar_empty_directory(dir, error) &&
	       slot_tar_extract(tar_fd, dir, SLOT_TAR_ANY_ENTRY, error);
}

/* The image goes through a private unlinked file first: it is hash-checked
 * completely before libarchive parses a byte of it. */
static gboolean write_tar(OtaTarget *t, OtaBundle *b, const OtaInstallStep *step, GError **error)
{
	int fd = open(t->config->data_directory, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	gboolean ok;

	if (fd < 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s",
		                    t->config->data_directory, g_strerror(errno));
	/* Unlinked: a failed write names the directory it is in. */
	ok = bundle_write_image_to(b, step->image, fd, t->config->data_directory, error);
	if (ok && !extract_into_slot(fd, step->slot, error)) {
		g_prefix_error(error, "%s: ", b->path);
		ok = FALSE;
	}
	close(fd);
	if (ok)
		sync(); /* the extracted tree, before the slot may be booted */
	return ok;
}

gboolean slot_write(OtaTarget *t, OtaInstallPlan *plan, const OtaInstallStep *step, GError **error)
{
	OtaBundle *b = plan->bundle;
	g_autofree char *what = g_strdup_printf("install %s", step->slot->name);
	gboolean ok;

	/* Belt and braces: planning never picks it, and writing never will.
	 * A slot of a class of one (a boot-*-switch slot, a shared partition)
	 * is not A/B: it is never active (slot-private.h). */
	if (ota_slot_is_active(t->config, t->booted, step->slot))
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "refusing to write %s: it is booted",
		                    step->slot->name);
	g_autoptr(OtaProgressPhase) phase = ota_progress_begin(what, step->image->size);
	if (ota_image_get_casync(step->image) != OTA_IMAGE_CASYNC_NONE &&
	    !slot_fs_type_is_filesystem(step->slot->type))
		ok = slot_casync_write(t, plan, step, error);
	else if (step->slot->type == OTA_SLOT_TAR)
		ok = write_tar(t, b, step, error);
	else if (slot_fs_type_is_filesystem(step->slot->type))
		ok = slot_fs_write(t, plan, step, error);
	else if (slot_boot_switch_type(step->slot->type))
		ok = slot_boot_switch_write(b, step, error);
	else
		ok = write_raw(t, plan, step, error);
	if (ok)
		ota_progress_phase_done(phase);
	return ok;
}

gboolean slot_activate(const OtaInstallStep *step, GError **error)
{
	return step->boot_switch == NULL || slot_boot_switch_activate(step, error);
}
