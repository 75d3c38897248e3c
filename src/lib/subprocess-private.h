/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library's one way to run a program: no shell, stdout captured or
 * discarded, a failure told in one line that names the program and quotes
 * what it said on stderr. Not installed. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define OTA_SUBPROCESS_ERROR ota_subprocess_error_quark()
GQuark ota_subprocess_error_quark(void);

typedef enum {
	OTA_SUBPROCESS_ERROR_SPAWN,  /* it could not be started, or its output not read */
	OTA_SUBPROCESS_ERROR_FAILED, /* it ran and exited non-zero or was killed */
} OtaSubprocessError;

typedef enum {
	OTA_SUBPROCESS_STDERR_LAST_LINE, /* where most programs put the cause */
	OTA_SUBPROCESS_STDERR_ALL_LINES, /* for programs that print a consequence last */
	/* The first line that reads like an error, else the first line: for
	 * programs that follow their complaint with usage text or a URL
	 * (mksquashfs). */
	OTA_SUBPROCESS_STDERR_FIRST_ERROR_LINE,
} OtaSubprocessStderr;

typedef struct {
	/* Names the command in errors instead of argv[0]: the arguments worth
	 * showing, and none that must not be shown. */
	const char *label;
	OtaSubprocessStderr stderr_lines;
	/* "NAME=value" entries added to (or replacing in) the inherited
	 * environment; NULL-terminated, may be NULL. */
	const char *const *env;
	/* Names removed from the inherited environment; NULL-terminated, may
	 * be NULL. */
	const char *const *unset_env;
	/* Called once the program runs, before it is waited for: a progress
	 * poller can watch it (/proc/<pid>/io) until ota_subprocess_run
	 * returns. */
	void (*started)(GSubprocess *proc, gpointer user_data);
	gpointer user_data;
	/* For a caller that words its own message: on failure, set to the
	 * reason the error quotes, GLib's for OTA_SUBPROCESS_ERROR_SPAWN, the
	 * stderr line(s) chosen by @stderr_lines for OTA_SUBPROCESS_ERROR_FAILED
	 * (NULL if the program wrote none). Free with g_free(). */
	char **reason_out;
	/* > 0 (and no @stdout_out): the program's stdout is a duplicate of
	 * this descriptor, for a program that writes into a file or device
	 * the caller opened (casync extract ... -). */
	int stdout_fd;
} OtaSubprocessOptions;

/* Runs @argv (argv[0] searched in PATH) and waits for it. With @stdout_out
 * its stdout, which must be UTF-8, is returned there; without, it goes to
 * /dev/null. @options may be NULL. The program runs in a process group of
 * its own and dies with the calling thread; a signal's cancellation
 * (cancel-private.h) kills the group, reaps the program and fails with
 * G_IO_ERROR_CANCELLED. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_subprocess_run(const char *const *argv, const OtaSubprocessOptions *options,
                            char **stdout_out, GError **error);

G_END_DECLS
