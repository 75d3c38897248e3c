/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The subprocess runner is private to the library: no public header. GLib
 * skips test paths starting with /subprocess, hence /ota-subprocess. */
#include "../../src/lib/subprocess-private.h"

#include <glib/gstdio.h>
#include <string.h>

static void test_stdout_is_returned(void)
{
	const char *argv[] = {"sh", "-c", "echo hello; echo world", NULL};
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;

	g_assert_true(ota_subprocess_run(argv, NULL, &out, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(out, ==, "hello\nworld\n");
}

static void test_stdout_is_discarded_when_not_asked_for(void)
{
	const char *argv[] = {"sh", "-c", "echo ignored", NULL};
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_subprocess_run(argv, NULL, NULL, &error));
	g_assert_no_error(error);
}

static void test_failure_names_label_status_and_last_stderr_line(void)
{
	const char *argv[] = {"sh", "-c", "echo first >&2; echo; echo 'the cause' >&2; exit 3", NULL};
	OtaSubprocessOptions options = {.label = "tool --flag"};
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;

	g_assert_false(ota_subprocess_run(argv, &options, &out, &error));
	g_assert_null(out);
	g_assert_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_FAILED);
	g_assert_cmpstr(error->message, ==, "tool --flag failed with exit status 3: the cause");
}

static void test_all_lines_mode_joins_every_stderr_line(void)
{
	const char *argv[] = {"sh", "-c", "echo ' cause ' >&2; echo >&2; echo consequence >&2; exit 1",
	                      NULL};
	OtaSubprocessOptions options = {.stderr_lines = OTA_SUBPROCESS_STDERR_ALL_LINES};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_subprocess_run(argv, &options, NULL, &error));
	g_assert_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_FAILED);
	g_assert_cmpstr(error->message, ==, "sh failed with exit status 1: cause; consequence");
}

static void test_silent_failure_says_so(void)
{
	const char *argv[] = {"false", NULL};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_subprocess_run(argv, NULL, NULL, &error));
	g_assert_cmpstr(error->message, ==, "false failed with exit status 1: no error output");
}

static void test_killed_program_names_the_signal(void)
{
	const char *argv[] = {"sh", "-c", "echo dying >&2; kill -TERM $$", NULL};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_subprocess_run(argv, NULL, NULL, &error));
	g_assert_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_FAILED);
	g_assert_cmpstr(error->message, ==, "sh was killed by signal 15: dying");
}

static void test_missing_program_is_a_spawn_error(void)
{
	const char *argv[] = {"/nonexistent/tool", "arg", NULL};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_subprocess_run(argv, NULL, NULL, &error));
	g_assert_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_SPAWN);
	g_assert_true(g_str_has_prefix(error->message, "cannot run /nonexistent/tool: "));
	g_assert_null(strchr(error->message, '\n'));
}

/* The output is handed on as text, so bytes that aren't are an error. */
static void test_stdout_that_is_not_utf8_is_an_error(void)
{
	const char *argv[] = {"printf", "\\377\\n", NULL};
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;

	g_assert_false(ota_subprocess_run(argv, NULL, &out, &error));
	g_assert_null(out);
	g_assert_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_SPAWN);
}

static void test_env_adds_to_the_inherited_environment(void)
{
	const char *argv[] = {"sh", "-c", "echo \"$OTA_TEST_ADDED|$OTA_TEST_REPLACED|$OTA_TEST_KEPT\"",
	                      NULL};
	const char *env[] = {"OTA_TEST_ADDED=a=b c", "OTA_TEST_REPLACED=new", NULL};
	OtaSubprocessOptions options = {.env = env};
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;

	g_setenv("OTA_TEST_REPLACED", "old", TRUE);
	g_setenv("OTA_TEST_KEPT", "kept", TRUE);
	g_assert_true(ota_subprocess_run(argv, &options, &out, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(out, ==, "a=b c|new|kept\n");
	/* The caller's own environment is left alone. */
	g_assert_cmpstr(g_getenv("OTA_TEST_REPLACED"), ==, "old");
	g_assert_null(g_getenv("OTA_TEST_ADDED"));
}

typedef struct {
	char *pid;
	char *go; /* a file the program waits for, so it still runs when asked */
} Started;

static void record_pid(GSubprocess *proc, gpointer user_data)
{
	Started *s = user_data;

	s->pid = g_strdup(g_subprocess_get_identifier(proc));
	if (s->go != NULL)
		g_assert_true(g_file_set_contents(s->go, "", 0, NULL));
}

/* The callback sees the running program, so /proc/<pid> is its own. */
static void test_started_callback_receives_the_running_program(void)
{
	g_autofree char *dir = g_dir_make_tmp("ota-subprocess-XXXXXX", NULL);
	g_autofree char *go = g_build_filename(dir, "go", NULL);
	g_autofree char *script =
		g_strdup_printf("while [ ! -e '%s' ]; do sleep 0.01; done; echo $$", go);
	const char *argv[] = {"sh", "-c", script, NULL};
	Started started = {.go = go};
	OtaSubprocessOptions options = {.started = record_pid, .user_data = &started};
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;

	g_assert_true(ota_subprocess_run(argv, &options, &out, &error));
	g_assert_no_error(error);
	g_assert_nonnull(started.pid);
	g_assert_cmpstr(g_strstrip(out), ==, started.pid);
	g_free(started.pid);
	g_unlink(go);
	g_rmdir(dir);
}

static void test_started_callback_is_not_called_when_nothing_started(void)
{
	const char *argv[] = {"/nonexistent/tool", NULL};
	Started started = {0};
	OtaSubprocessOptions options = {.started = record_pid, .user_data = &started};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_subprocess_run(argv, &options, NULL, &error));
	g_assert_null(started.pid);
}

static void test_first_error_line_mode_skips_usage_text(void)
{
	const char *argv[] = {"sh", "-c",
	                      "echo 'Parallel mksquashfs' >&2; echo ' FATAL ERROR: disk full ' >&2; "
	                      "echo 'usage: see --help (an invalid option?)' >&2; exit 1",
	                      NULL};
	g_autofree char *reason = NULL;
	OtaSubprocessOptions options = {.stderr_lines = OTA_SUBPROCESS_STDERR_FIRST_ERROR_LINE,
	                                .reason_out = &reason};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_subprocess_run(argv, &options, NULL, &error));
	g_assert_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_FAILED);
	g_assert_cmpstr(reason, ==, "FATAL ERROR: disk full");
	g_assert_cmpstr(error->message, ==, "sh failed with exit status 1: FATAL ERROR: disk full");
}

static void test_first_error_line_mode_falls_back_to_the_first_line(void)
{
	const char *argv[] = {"sh", "-c", "echo >&2; echo first >&2; echo second >&2; exit 2", NULL};
	g_autofree char *reason = NULL;
	OtaSubprocessOptions options = {.stderr_lines = OTA_SUBPROCESS_STDERR_FIRST_ERROR_LINE,
	                                .reason_out = &reason};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_subprocess_run(argv, &options, NULL, &error));
	g_assert_cmpstr(reason, ==, "first");
}

static void test_reason_is_the_chosen_line_or_null_without_stderr(void)
{
	const char *says[] = {"sh", "-c", "echo one >&2; echo ' the cause ' >&2; exit 1", NULL};
	const char *silent[] = {"false", NULL};
	g_autofree char *reason = NULL;
	g_autofree char *silent_reason = g_strdup("untouched");
	OtaSubprocessOptions options = {.reason_out = &reason};
	OtaSubprocessOptions silent_options = {.reason_out = &silent_reason};
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) silent_error = NULL;

	g_assert_false(ota_subprocess_run(says, &options, NULL, &error));
	g_assert_cmpstr(reason, ==, "the cause");
	g_clear_pointer(&silent_reason, g_free);
	g_assert_false(ota_subprocess_run(silent, &silent_options, NULL, &silent_error));
	g_assert_null(silent_reason);
	g_assert_cmpstr(silent_error->message, ==, "false failed with exit status 1: no error output");
}

static void test_reason_of_a_spawn_failure_is_glibs_message(void)
{
	const char *argv[] = {"/nonexistent/tool", NULL};
	g_autofree char *reason = NULL;
	OtaSubprocessOptions options = {.reason_out = &reason};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_subprocess_run(argv, &options, NULL, &error));
	g_assert_error(error, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_SPAWN);
	g_assert_nonnull(reason);
	g_assert_cmpstr(error->message + strlen("cannot run /nonexistent/tool: "), ==, reason);
}

static void test_reason_is_left_alone_on_success(void)
{
	const char *argv[] = {"true", NULL};
	g_autofree char *reason = NULL;
	OtaSubprocessOptions options = {.reason_out = &reason};
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_subprocess_run(argv, &options, NULL, &error));
	g_assert_null(reason);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/ota-subprocess/stdout-is-returned", test_stdout_is_returned);
	g_test_add_func("/ota-subprocess/stdout-is-discarded-when-not-asked-for",
	                test_stdout_is_discarded_when_not_asked_for);
	g_test_add_func("/ota-subprocess/failure-names-label-status-and-last-stderr-line",
	                test_failure_names_label_status_and_last_stderr_line);
	g_test_add_func("/ota-subprocess/all-lines-mode-joins-every-stderr-line",
	                test_all_lines_mode_joins_every_stderr_line);
	g_test_add_func("/ota-subprocess/silent-failure-says-so", test_silent_failure_says_so);
	g_test_add_func("/ota-subprocess/killed-program-names-the-signal",
	                test_killed_program_names_the_signal);
	g_test_add_func("/ota-subprocess/missing-program-is-a-spawn-error",
	                test_missing_program_is_a_spawn_error);
	g_test_add_func("/ota-subprocess/stdout-that-is-not-utf8-is-an-error",
	                test_stdout_that_is_not_utf8_is_an_error);
	g_test_add_func("/ota-subprocess/env-adds-to-the-inherited-environment",
	                test_env_adds_to_the_inherited_environment);
	g_test_add_func("/ota-subprocess/started-callback-receives-the-running-program",
	                test_started_callback_receives_the_running_program);
	g_test_add_func("/ota-subprocess/started-callback-is-not-called-when-nothing-started",
	                test_started_callback_is_not_called_when_nothing_started);
	g_test_add_func("/ota-subprocess/first-error-line-mode-skips-usage-text",
	                test_first_error_line_mode_skips_usage_text);
	g_test_add_func("/ota-subprocess/first-error-line-mode-falls-back-to-the-first-line",
	                test_first_error_line_mode_falls_back_to_the_first_line);
	g_test_add_func("/ota-subprocess/reason-is-the-chosen-line-or-null-without-stderr",
	                test_reason_is_the_chosen_line_or_null_without_stderr);
	g_test_add_func("/ota-subprocess/reason-of-a-spawn-failure-is-glibs-message",
	                test_reason_of_a_spawn_failure_is_glibs_message);
	g_test_add_func("/ota-subprocess/reason-is-left-alone-on-success",
	                test_reason_is_left_alone_on_success);
	return g_test_run();
}
