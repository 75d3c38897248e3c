/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "subprocess-private.h"

#include <string.h>

G_DEFINE_QUARK(ota-subprocess-error-quark, ota_subprocess_error)

static gboolean reads_like_an_error(const char *line)
{
	static const char *const words[] = {"FATAL", "rror", "nvalid", "nrecognised", "nknown"};

	for (gsize i = 0; i < G_N_ELEMENTS(words); i++) {
		if (strstr(line, words[i]) != NULL)
			return TRUE;
	}
	return FALSE;
}

/* The line(s) of @text that @which picks, stripped; NULL if it has none. */
static char *stderr_summary(const char *text, OtaSubprocessStderr which)
{
	g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
	g_autoptr(GPtrArray) kept = g_ptr_array_new();

	for (char **l = lines; *l; l++) {
		if (*g_strstrip(*l) == '\0')
			continue;
		if (which == OTA_SUBPROCESS_STDERR_FIRST_ERROR_LINE && reads_like_an_error(*l))
			return g_strdup(*l);
		g_ptr_array_add(kept, *l);
	}
	if (kept->len == 0)
		return NULL;
	if (which == OTA_SUBPROCESS_STDERR_FIRST_ERROR_LINE)
		return g_strdup(kept->pdata[0]);
	if (which == OTA_SUBPROCESS_STDERR_LAST_LINE)
		return g_strdup(kept->pdata[kept->len - 1]);
	g_ptr_array_add(kept, NULL);
	return g_strjoinv("; ", (char **)kept->pdata);
}

static void set_failure(GError **error, GSubprocess *proc, const char *label, const char *reason)
{
	if (reason == NULL)
		reason = "no error output";
	if (g_subprocess_get_if_signaled(proc))
		g_set_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_FAILED,
		            "%s was killed by signal %d: %s", label, g_subprocess_get_term_sig(proc),
		            reason);
	else
		g_set_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_FAILED,
		            "%s failed with exit status %d: %s", label, g_subprocess_get_exit_status(proc),
		            reason);
}

static GSubprocessLauncher *launcher_new(GSubprocessFlags flags, const char *const *env)
{
	GSubprocessLauncher *launcher = g_subprocess_launcher_new(flags);

	for (const char *const *e = env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		g_autofree char *name = NULL;

		g_return_val_if_fail(eq != NULL && eq != *e, launcher);
		name = g_strndup(*e, (gsize)(eq - *e));
		g_subprocess_launcher_setenv(launcher, name, eq + 1, TRUE);
	}
	return launcher;
}

gboolean ota_subprocess_run(const char *const *argv, const OtaSubprocessOptions *options,
                            char **stdout_out, GError **error)
{
	static const OtaSubprocessOptions defaults = {0};
	GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDERR_PIPE;
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;
	g_autofree char *reason = NULL;
	const char *label;

	g_return_val_if_fail(argv != NULL && argv[0] != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (options == NULL)
		options = &defaults;
	label = options->label ? options->label : argv[0];
	flags |= stdout_out ? G_SUBPROCESS_FLAGS_STDOUT_PIPE : G_SUBPROCESS_FLAGS_STDOUT_SILENCE;

	launcher = launcher_new(flags, options->env);
	proc = g_subprocess_launcher_spawnv(launcher, argv, &ierror);
	if (proc != NULL && options->started != NULL)
		options->started(proc, options->user_data);
	if (proc == NULL ||
	    !g_subprocess_communicate_utf8(proc, NULL, NULL, stdout_out ? &out : NULL, &err, &ierror)) {
		g_set_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_SPAWN, "cannot run %s: %s",
		            label, ierror->message);
		if (options->reason_out != NULL)
			*options->reason_out = g_strdup(ierror->message);
		return FALSE;
	}
	if (!g_subprocess_get_successful(proc)) {
		reason = stderr_summary(err, options->stderr_lines);
		set_failure(error, proc, label, reason);
		if (options->reason_out != NULL)
			*options->reason_out = g_steal_pointer(&reason);
		return FALSE;
	}
	if (stdout_out != NULL)
		*stdout_out = g_steal_pointer(&out);
	return TRUE;
}
