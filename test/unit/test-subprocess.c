/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The subprocess runner is private to the library: no public header. GLib
 * skips test paths starting with /subprocess, hence /ota-subprocess. */
#include "../../src/lib/subprocess-private.h"

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
	return g_test_run();
}
