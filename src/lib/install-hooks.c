/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bundle's hook script: taken from the verified payload into a private
 * directory, so that what runs is exactly what was signed, never the bundle
 * file on disk; run with RAUC's arguments and environment. */
#include "install-private.h"

#include <errno.h>
#include <unistd.h>

#include "cancel-private.h"
#include "slot-boot-switch-private.h"
#include "subprocess-private.h"

gboolean install_hooks_prepare(InstallHooks *h, OtaTarget *t, OtaBundle *b, GError **error)
{
	g_autoptr(GBytes) script = NULL;
	g_autofree char *template_path = NULL;

	h->target = t;
	h->bundle = b;
	if (b->manifest->hook_filename == NULL)
		return TRUE;
	script = ota_bundle_read_file(b, b->manifest->hook_filename, BUNDLE_SCRIPT_MAX_SIZE, error);
	if (script == NULL)
		return FALSE;
	if (!ota_cancel_hold(&h->hold, error))
		return FALSE;
	template_path = g_build_filename(t->config->data_directory, "hook-XXXXXX", NULL);
	h->dir = g_mkdtemp_full(g_steal_pointer(&template_path), 0700);
	if (h->dir == NULL)
		return install_fail(error, OTA_INSTALL_ERROR_HOOK,
		                    "cannot create a directory for the hook: %s", g_strerror(errno));
	h->path = g_build_filename(h->dir, "hook", NULL);
	return g_file_set_contents_full(h->path, g_bytes_get_data(script, NULL),
	                                (gssize)g_bytes_get_size(script),
	                                G_FILE_SET_CONTENTS_CONSISTENT, 0700, error);
}

void install_hooks_clear(InstallHooks *h)
{
	if (h->path != NULL)
		unlink(h->path);
	if (h->dir != NULL)
		rmdir(h->dir);
	ota_cancel_release(&h->hold);
	g_clear_pointer(&h->path, g_free);
	g_clear_pointer(&h->dir, g_free);
}

static void add_env(GPtrArray *env, const char *name, const char *value)
{
	if (value != NULL)
		g_ptr_array_add(env, g_strconcat(name, "=", value, NULL));
}

/* RAUC's environment, so that hook scripts written for RAUC work unchanged:
 * "NAME=value" entries for ota_subprocess_run. */
static GStrv hook_environment(const InstallHooks *h, const OtaInstallStep *step)
{
	const OtaManifest *m = h->bundle->manifest;
	GPtrArray *env = g_ptr_array_new();

	add_env(env, "RAUC_SYSTEM_COMPATIBLE", h->target->config->compatible);
	add_env(env, "RAUC_MF_COMPATIBLE", m->compatible);
	add_env(env, "RAUC_MF_VERSION", m->version);
	if (step != NULL) {
		add_env(env, "RAUC_SLOT_NAME", step->slot->name);
		add_env(env, "RAUC_SLOT_CLASS", step->slot->slotclass);
		add_env(env, "RAUC_SLOT_DEVICE", step->slot->device);
		add_env(env, "RAUC_IMAGE_NAME", step->image->filename);
		add_env(env, "RAUC_IMAGE_CLASS", step->image->slotclass);
		add_env(env, "RAUC_SLOT_BOOTNAME", step->slot->bootname);
		slot_boot_switch_add_hook_env(step, env);
	}
	g_ptr_array_add(env, NULL);
	return (GStrv)g_ptr_array_free(env, FALSE);
}

/* Runs the script with RAUC's @argument; a refusal reports the last line
 * the hook wrote to stderr. */
static gboolean hook_spawn(const InstallHooks *h, const char *argument, const OtaInstallStep *step,
                           GError **error)
{
	const char *argv[] = {h->path, argument, NULL};
	g_auto(GStrv) env = hook_environment(h, step);
	g_autoptr(GError) ierror = NULL;
	g_autofree char *reason = NULL;
	const OtaSubprocessOptions options = {.env = (const char *const *)env,
	                                      .reason_out = &reason};

	if (ota_subprocess_run(argv, &options, NULL, &ierror))
		return TRUE;
	if (!g_error_matches(ierror, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_FAILED))
		return install_fail(error, OTA_INSTALL_ERROR_HOOK, "hook %s: %s", argument, reason);
	return install_fail(error, OTA_INSTALL_ERROR_HOOK, "hook %s refused the install%s%s",
	                    argument, reason ? ": " : "", reason ? reason : "");
}

gboolean install_hooks_run(const InstallHooks *h, const char *name, const OtaInstallStep *step,
                           GError **error)
{
	char **declared = step != NULL ? step->image->hooks : h->bundle->manifest->hooks;
	g_autofree char *argument = NULL;

	if (declared == NULL || !g_strv_contains((const char *const *)declared, name))
		return TRUE;
	/* RAUC calls an image's hooks slot-pre-install and slot-post-install. */
	argument = step != NULL ? g_strconcat("slot-", name, NULL) : g_strdup(name);
	return hook_spawn(h, argument, step, error);
}
