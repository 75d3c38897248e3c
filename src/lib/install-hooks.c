/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bundle's hook script: taken from the verified payload into a private
 * directory, so that what runs is exactly what was signed, never the bundle
 * file on disk; run with RAUC's arguments and environment. */
#include "install-private.h"

#include <errno.h>
#include <gio/gio.h>
#include <unistd.h>

#define HOOK_MAX_SIZE (16 * 1024 * 1024)

gboolean install_hooks_prepare(InstallHooks *h, OtaTarget *t, OtaBundle *b, GError **error)
{
	g_autoptr(GBytes) script = NULL;
	g_autofree char *template_path = NULL;

	h->target = t;
	h->bundle = b;
	if (b->manifest->hook_filename == NULL)
		return TRUE;
	script = ota_bundle_read_file(b, b->manifest->hook_filename, HOOK_MAX_SIZE, error);
	if (script == NULL)
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
	g_clear_pointer(&h->path, g_free);
	g_clear_pointer(&h->dir, g_free);
}

static void set_slot_environment(GSubprocessLauncher *launcher, const OtaInstallStep *step)
{
	g_subprocess_launcher_setenv(launcher, "RAUC_SLOT_NAME", step->slot->name, TRUE);
	g_subprocess_launcher_setenv(launcher, "RAUC_SLOT_CLASS", step->slot->slotclass, TRUE);
	g_subprocess_launcher_setenv(launcher, "RAUC_SLOT_DEVICE", step->slot->device, TRUE);
	g_subprocess_launcher_setenv(launcher, "RAUC_IMAGE_NAME", step->image->filename, TRUE);
	g_subprocess_launcher_setenv(launcher, "RAUC_IMAGE_CLASS", step->image->slotclass, TRUE);
	if (step->slot->bootname != NULL)
		g_subprocess_launcher_setenv(launcher, "RAUC_SLOT_BOOTNAME", step->slot->bootname, TRUE);
}

/* RAUC's environment, so that hook scripts written for RAUC work unchanged. */
static GSubprocessLauncher *hook_launcher(const InstallHooks *h, const OtaInstallStep *step)
{
	const OtaManifest *m = h->bundle->manifest;
	GSubprocessLauncher *launcher = g_subprocess_launcher_new(
		G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);

	g_subprocess_launcher_setenv(launcher, "RAUC_SYSTEM_COMPATIBLE",
	                             h->target->config->compatible, TRUE);
	g_subprocess_launcher_setenv(launcher, "RAUC_MF_COMPATIBLE", m->compatible, TRUE);
	if (m->version != NULL)
		g_subprocess_launcher_setenv(launcher, "RAUC_MF_VERSION", m->version, TRUE);
	if (step != NULL)
		set_slot_environment(launcher, step);
	return launcher;
}

/* Runs the script with RAUC's @argument; a refusal reports the last line
 * the hook wrote to stderr. */
static gboolean hook_spawn(const InstallHooks *h, const char *argument, const OtaInstallStep *step,
                           GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher = hook_launcher(h, step);
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *err = NULL;
	g_auto(GStrv) lines = NULL;
	const char *last;

	proc = g_subprocess_launcher_spawn(launcher, &ierror, h->path, argument, NULL);
	if (proc == NULL || !g_subprocess_communicate_utf8(proc, NULL, NULL, NULL, &err, &ierror))
		return install_fail(error, OTA_INSTALL_ERROR_HOOK, "hook %s: %s", argument,
		                    ierror->message);
	if (g_subprocess_get_successful(proc))
		return TRUE;
	lines = g_strsplit(err != NULL ? g_strstrip(err) : "", "\n", -1);
	last = lines[0] ? lines[g_strv_length(lines) - 1] : "";
	return install_fail(error, OTA_INSTALL_ERROR_HOOK, "hook %s refused the install%s%s",
	                    argument, *last ? ": " : "", last);
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
