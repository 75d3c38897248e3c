/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "subprocess-private.h"

#include <gio/gio.h>

G_DEFINE_QUARK(ota-subprocess-error-quark, ota_subprocess_error)

/* The last non-empty line of @text, or every one of them joined with "; ". */
static char *stderr_summary(const char *text, OtaSubprocessStderr which)
{
	g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
	g_autoptr(GPtrArray) kept = g_ptr_array_new();

	for (char **l = lines; *l; l++) {
		if (*g_strstrip(*l) != '\0')
			g_ptr_array_add(kept, *l);
	}
	if (kept->len == 0)
		return g_strdup("no error output");
	if (which == OTA_SUBPROCESS_STDERR_LAST_LINE)
		return g_strdup(kept->pdata[kept->len - 1]);
	g_ptr_array_add(kept, NULL);
	return g_strjoinv("; ", (char **)kept->pdata);
}

static void set_failure(GError **error, GSubprocess *proc, const char *label,
                        const char *stderr_text, OtaSubprocessStderr which)
{
	g_autofree char *reason = stderr_summary(stderr_text, which);

	if (g_subprocess_get_if_signaled(proc))
		g_set_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_FAILED,
		            "%s was killed by signal %d: %s", label, g_subprocess_get_term_sig(proc),
		            reason);
	else
		g_set_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_FAILED,
		            "%s failed with exit status %d: %s", label, g_subprocess_get_exit_status(proc),
		            reason);
}

gboolean ota_subprocess_run(const char *const *argv, const OtaSubprocessOptions *options,
                            char **stdout_out, GError **error)
{
	static const OtaSubprocessOptions defaults = {0};
	GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDERR_PIPE;
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;
	const char *label;

	g_return_val_if_fail(argv != NULL && argv[0] != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (options == NULL)
		options = &defaults;
	label = options->label ? options->label : argv[0];
	flags |= stdout_out ? G_SUBPROCESS_FLAGS_STDOUT_PIPE : G_SUBPROCESS_FLAGS_STDOUT_SILENCE;

	proc = g_subprocess_newv(argv, flags, &ierror);
	if (proc == NULL ||
	    !g_subprocess_communicate_utf8(proc, NULL, NULL, stdout_out ? &out : NULL, &err, &ierror)) {
		g_set_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_SPAWN, "cannot run %s: %s",
		            label, ierror->message);
		return FALSE;
	}
	if (!g_subprocess_get_successful(proc)) {
		set_failure(error, proc, label, err, options->stderr_lines);
		return FALSE;
	}
	if (stdout_out != NULL)
		*stdout_out = g_steal_pointer(&out);
	return TRUE;
}
