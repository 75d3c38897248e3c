/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* casync images into slots (slot-casync-private.h). */
#include "slot-casync-private.h"

#include <otabundle/text.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "casync-private.h"
#include "slot-fs-private.h"
#include "slot-private.h"

/* [casync] storepath, else beside the bundle (RAUC's default: for a URL
 * the same URL with .castr for .raucb). */
static char *store_for(OtaTarget *t, OtaBundle *b)
{
	if (t->config->casync_store_path != NULL)
		return g_strdup(t->config->casync_store_path);
	return ota_casync_default_store(ota_bundle_get_path(b));
}

/* RAUC's seed: the active slot of the image's class, if it is a file or
 * block device (not a UBI character device); chunks casync finds there
 * are not fetched from the store. */
static const char *seed_for(OtaTarget *t, const OtaInstallStep *step)
{
	for (guint i = 0; i < t->config->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(t->config->slots, i);
		struct stat st;

		if (s == step->slot || !g_str_equal(s->slotclass, step->slot->slotclass) ||
		    !ota_slot_is_active(t->config, t->booted, s))
			continue;
		if (stat(s->device, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
			return s->device;
	}
	return NULL;
}

gboolean slot_casync_plan(OtaTarget *t, OtaInstallPlan *plan, const OtaInstallStep *step,
                          GError **error)
{
	OtaImageCasync kind = ota_image_get_casync(step->image);
	g_autofree char *filename = NULL;
	g_autofree char *store = NULL;

	if (kind == OTA_IMAGE_CASYNC_NONE)
		return TRUE;
	if (!bundle_casync_check_rebuildable(step->image, error))
		return FALSE;
	filename = ota_text_escape(step->image->filename);
	if (step->slot->type != OTA_SLOT_RAW && !slot_fs_type_is_filesystem(step->slot->type)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_UNSUPPORTED,
		            "image '%s': casync images are rebuilt into raw and filesystem slots only, "
		            "and slot %s is type=%s",
		            filename, step->slot->name, config_slot_type_to_string(step->slot->type));
		return FALSE;
	}
	store = store_for(t, plan->bundle);
	if (strstr(store, "://") == NULL && !g_file_test(store, G_FILE_TEST_IS_DIR)) {
		g_autofree char *escaped = ota_text_escape(store);

		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO,
		            "image '%s': casync chunk store %s is not a directory (set [casync] "
		            "storepath, or put the .castr store beside the bundle)",
		            filename, escaped);
		return FALSE;
	}
	return TRUE;
}

gboolean slot_casync_write_fd(OtaTarget *t, OtaInstallPlan *plan, const OtaInstallStep *step,
                              int fd, GError **error)
{
	g_autofree char *store = store_for(t, plan->bundle);
	OtaCasyncOptions opts = {
		.store = store,
		.seed = seed_for(t, step),
		.tmpdir = t->config->casync_tmp_path,
		.extra_args = t->config->casync_install_args,
	};

	return bundle_casync_rebuild(plan->bundle, step->image, &opts, fd, step->slot->device,
	                             error);
}

gboolean slot_casync_write(OtaTarget *t, OtaInstallPlan *plan, const OtaInstallStep *step,
                           GError **error)
{
	const char *device = step->slot->device;
	struct stat st;
	gboolean block = stat(device, &st) == 0 && S_ISBLK(st.st_mode);
	/* Readable: what casync wrote is read back and hashed. Never
	 * O_CREAT: a mistyped device must fail, not fill a new file. */
	int fd = open(device, O_RDWR | O_CLOEXEC | (block ? 0 : O_TRUNC));
	gboolean ok;

	if (fd < 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", device,
		                    g_strerror(errno));
	ok = slot_casync_write_fd(t, plan, step, fd, error);
	if (ok && fsync(fd) < 0)
		ok = install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: fsync failed: %s", device,
		                  g_strerror(errno));
	close(fd);
	return ok;
}
