/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "subprocess-private.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cancel-private.h"

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

static GSubprocessLauncher *launcher_new(GSubprocessFlags flags, const char *const *env,
                                         const char *const *unset_env)
{
	GSubprocessLauncher *launcher = g_subprocess_launcher_new(flags);

	for (const char *const *u = unset_env; u && *u; u++)
		g_subprocess_launcher_unsetenv(launcher, *u);
	for (const char *const *e = env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		g_autofree char *name = NULL;

		g_return_val_if_fail(eq != NULL && eq != *e, launcher);
		name = g_strndup(*e, (gsize)(eq - *e));
		g_subprocess_launcher_setenv(launcher, name, eq + 1, TRUE);
	}
	return launcher;
}

/* Runs in the child before exec: only async-signal-safe calls. */
static void child_setup(gpointer data)
{
	pid_t parent = (pid_t)GPOINTER_TO_INT(data);

	/* A process group of its own, so that cancelling kills whatever it
	 * started too (mksquashfs runs the commands of pseudo files). */
	(void)setpgid(0, 0);
	/* Killed with the thread that waits for it if that is killed
	 * outright (SIGKILL), instead of writing on into an unnamed file. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
}

typedef struct {
	GSubprocess *proc;
	GCancellable *cancellable;
	GAsyncResult *result;
} Communication;

static gboolean on_cancel(gpointer data)
{
	Communication *c = data;
	const char *pid = g_subprocess_get_identifier(c->proc);

	/* Its PID is the group's ID, which is not reused while the leader is
	 * unreaped or the group has members; once reaped, it has none. */
	if (pid != NULL)
		(void)kill(-(pid_t)atoi(pid), SIGKILL);
	g_subprocess_force_exit(c->proc);
	/* Stops waiting for its output too, which a straggler outside the
	 * group could hold open. */
	g_cancellable_cancel(c->cancellable);
	return G_SOURCE_REMOVE;
}

static void on_communicated(GObject *source, GAsyncResult *result, gpointer data)
{
	Communication *c = data;

	c->result = g_object_ref(result);
}

/* g_subprocess_communicate_utf8(), but a signal's cancellation
 * (cancel-private.h) kills @proc's process group, reaps @proc and fails
 * with G_IO_ERROR_CANCELLED. */
static gboolean communicate(GSubprocess *proc, char **out, char **err, GError **error)
{
	g_autoptr(GMainContext) context = g_main_context_new();
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GError) ierror = NULL;
	Communication c = {proc, cancellable, NULL};
	GSource *watch = ota_cancel_source_new(on_cancel, &c);
	gboolean ok;

	g_main_context_push_thread_default(context);
	if (watch != NULL)
		g_source_attach(watch, context);
	g_subprocess_communicate_utf8_async(proc, NULL, cancellable, on_communicated, &c);
	while (c.result == NULL)
		g_main_context_iteration(context, TRUE);
	ok = g_subprocess_communicate_utf8_finish(proc, c.result, out, err, &ierror);
	g_object_unref(c.result);
	if (watch != NULL) {
		g_source_destroy(watch);
		g_source_unref(watch);
	}
	g_main_context_pop_thread_default(context);
	if (!g_cancellable_is_cancelled(cancellable)) {
		if (!ok)
			g_propagate_error(error, g_steal_pointer(&ierror));
		return ok;
	}
	/* Reaped before the caller removes the scratch files it used. */
	(void)g_subprocess_wait(proc, NULL, NULL);
	return ota_cancel_check(error);
}

gboolean ota_subprocess_run(const char *const *argv, const OtaSubprocessOptions *options,
                            char **stdout_out, GError **error)
{
	static const OtaSubprocessOptions defaults = {0};
	/* Released last: after the child is reaped. */
	g_auto(OtaCancelHold) hold = OTA_CANCEL_HOLD_INIT;
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
	if (stdout_out != NULL)
		flags |= G_SUBPROCESS_FLAGS_STDOUT_PIPE;
	else if (options->stdout_fd <= 0)
		flags |= G_SUBPROCESS_FLAGS_STDOUT_SILENCE;

	if (!ota_cancel_hold(&hold, error))
		return FALSE;
	launcher = launcher_new(flags, options->env, options->unset_env);
	if (stdout_out == NULL && options->stdout_fd > 0) {
		int fd = fcntl(options->stdout_fd, F_DUPFD_CLOEXEC, 3);

		if (fd < 0) {
			g_set_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_SPAWN,
			            "cannot run %s: %s", label, g_strerror(errno));
			return FALSE;
		}
		g_subprocess_launcher_take_stdout_fd(launcher, fd);
	}
	g_subprocess_launcher_set_child_setup(launcher, child_setup, GINT_TO_POINTER(getpid()), NULL);
	proc = g_subprocess_launcher_spawnv(launcher, argv, &ierror);
	if (proc != NULL && options->started != NULL)
		options->started(proc, options->user_data);
	if (proc == NULL || !communicate(proc, stdout_out ? &out : NULL, &err, &ierror)) {
		if (g_error_matches(ierror, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
			g_propagate_error(error, g_steal_pointer(&ierror));
			return FALSE;
		}
		g_set_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_SPAWN, "cannot run %s: %s",
		            label, ierror->message);
		if (options->reason_out != NULL)
			*options->reason_out = g_strdup(ierror->message);
		return FALSE;
	}
	/* It may have failed because of the cancellation (killed before the
	 * wait noticed): the cancellation is the story. */
	if (!g_subprocess_get_successful(proc) && !ota_cancel_check(error))
		return FALSE;
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
