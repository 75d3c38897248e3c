/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cancellation by signals (otabundle/cancel.h): what a signal does with and
 * without temporaries held, a second signal, ignored signals, ending the
 * process by the signal, and a child process killed with what it started.
 * Signal dispositions are process-wide and cancellation is for good, so
 * every case runs in a child process of its own. */
#include <otabundle/cancel.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/lib/cancel-private.h"
#include "../../src/lib/subprocess-private.h"

/* Runs @body in a child process; returns its wait status. */
static int in_child(void (*body)(void))
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		/* From their defaults, whatever this test was started with (a
		 * shell's background job has SIGINT ignored). */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		body();
		_exit(0);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	return status;
}

static void assert_killed_by(int status, int signo)
{
	g_assert_true(WIFSIGNALED(status));
	g_assert_cmpint(WTERMSIG(status), ==, signo);
}

static void assert_exited_normally(int status)
{
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

static void install_handlers(void)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_cancel_on_signals(&error));
	g_assert_no_error(error);
}

static void signal_without_temporaries(void)
{
	install_handlers();
	raise(SIGTERM);
	_exit(3); /* not reached */
}

static void test_signal_without_temporaries_ends_the_process_at_once(void)
{
	assert_killed_by(in_child(signal_without_temporaries), SIGTERM);
}

static void signal_while_holding(void)
{
	g_auto(OtaCancelHold) hold = OTA_CANCEL_HOLD_INIT;
	OtaCancelHold another = OTA_CANCEL_HOLD_INIT;
	g_autoptr(GError) error = NULL;

	install_handlers();
	g_assert_true(ota_cancel_hold(&hold, &error));
	g_assert_true(ota_cancel_check(&error));
	raise(SIGINT);
	/* Still running: the operation unwinds through its error paths. */
	g_assert_cmpint(ota_cancel_get_signal(), ==, SIGINT);
	g_assert_false(ota_cancel_check(&error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_cmpstr(error->message, ==, "interrupted by SIGINT");
	g_clear_error(&error);
	/* No new temporary once cancelled. */
	g_assert_false(ota_cancel_hold(&another, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	ota_cancel_release(&hold);
	ota_cancel_exit();
	_exit(3); /* not reached */
}

static void test_signal_while_holding_cancels_and_exit_raises_it_again(void)
{
	assert_killed_by(in_child(signal_while_holding), SIGINT);
}

static void second_signal_while_cleaning_up(void)
{
	g_auto(OtaCancelHold) hold = OTA_CANCEL_HOLD_INIT;

	install_handlers();
	g_assert_true(ota_cancel_hold(&hold, NULL));
	raise(SIGINT);
	raise(SIGTERM);
	raise(SIGINT);
	/* The first one is the one that ends the process. */
	g_assert_cmpint(ota_cancel_get_signal(), ==, SIGINT);
	ota_cancel_release(&hold);
	ota_cancel_exit();
}

static void test_second_signal_does_not_cut_the_cleanup_short(void)
{
	assert_killed_by(in_child(second_signal_while_cleaning_up), SIGINT);
}

static void signal_after_cleanup(void)
{
	g_auto(OtaCancelHold) hold = OTA_CANCEL_HOLD_INIT;

	install_handlers();
	g_assert_true(ota_cancel_hold(&hold, NULL));
	raise(SIGINT);
	ota_cancel_release(&hold);
	/* Nothing is held any more: nothing to wait for. */
	raise(SIGTERM);
	_exit(3); /* not reached */
}

static void test_signal_after_the_cleanup_ends_the_process_at_once(void)
{
	assert_killed_by(in_child(signal_after_cleanup), SIGTERM);
}

static void ignored_signal(void)
{
	g_auto(OtaCancelHold) hold = OTA_CANCEL_HOLD_INIT;

	signal(SIGHUP, SIG_IGN);
	install_handlers();
	raise(SIGHUP);
	g_assert_true(ota_cancel_hold(&hold, NULL));
	raise(SIGHUP);
	g_assert_cmpint(ota_cancel_get_signal(), ==, 0);
}

static void test_ignored_signal_stays_ignored(void)
{
	assert_exited_normally(in_child(ignored_signal));
}

static void exit_without_signal(void)
{
	install_handlers();
	ota_cancel_exit();
}

static void test_exit_without_a_signal_returns(void)
{
	assert_exited_normally(in_child(exit_without_signal));
}

/* The program signals its parent (this process) once it runs, and starts
 * a grandchild that would hold its stderr pipe open for ever. */
static void child_cancelled(void)
{
	g_autofree char *dir = g_dir_make_tmp("test-cancel-XXXXXX", NULL);
	g_autofree char *pidfile = g_build_filename(dir, "pid", NULL);
	g_autofree char *script = g_strdup_printf(
		"sleep 100000 & echo $! > %s; kill -INT $PPID; wait", pidfile);
	const char *argv[] = {"sh", "-c", script, NULL};
	g_autoptr(GError) error = NULL;
	g_autofree char *pid_text = NULL;
	int status = 0;
	pid_t grandchild;

	/* The grandchild comes to this process when its parent dies. */
	g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 1), ==, 0);
	install_handlers();
	g_assert_false(ota_subprocess_run(argv, NULL, NULL, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_true(g_file_get_contents(pidfile, &pid_text, NULL, NULL));
	grandchild = (pid_t)g_ascii_strtoll(pid_text, NULL, 10);
	/* Killed with its group, not left to sleep. */
	g_assert_cmpint(waitpid(grandchild, &status, 0), ==, grandchild);
	assert_killed_by(status, SIGKILL);
	g_unlink(pidfile);
	g_rmdir(dir);
	ota_cancel_exit();
}

static void test_cancel_kills_the_child_with_what_it_started(void)
{
	assert_killed_by(in_child(child_cancelled), SIGINT);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cancel/signal-without-temporaries-ends-the-process-at-once",
	                test_signal_without_temporaries_ends_the_process_at_once);
	g_test_add_func("/cancel/signal-while-holding-cancels-and-exit-raises-it-again",
	                test_signal_while_holding_cancels_and_exit_raises_it_again);
	g_test_add_func("/cancel/second-signal-does-not-cut-the-cleanup-short",
	                test_second_signal_does_not_cut_the_cleanup_short);
	g_test_add_func("/cancel/signal-after-the-cleanup-ends-the-process-at-once",
	                test_signal_after_the_cleanup_ends_the_process_at_once);
	g_test_add_func("/cancel/ignored-signal-stays-ignored", test_ignored_signal_stays_ignored);
	g_test_add_func("/cancel/exit-without-a-signal-returns", test_exit_without_a_signal_returns);
	g_test_add_func("/cancel/cancel-kills-the-child-with-what-it-started",
	                test_cancel_kills_the_child_with_what_it_started);
	return g_test_run();
}
