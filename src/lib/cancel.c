/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/cancel.h>

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "cancel-private.h"

/* Holds taken; DYING once a signal found none and is ending the process. */
#define DYING G_MININT

static const int cancelling_signals[] = {SIGINT, SIGTERM, SIGHUP};

/* Process-wide, as signal dispositions are. Only atomics and write() are
 * touched by the handler, which may run on any thread. */
static gint holds;
static gint cancel_signal;
/* Readable once a signal has cancelled (never drained): wakes waits in a
 * main loop, whichever thread runs them. */
static int wake_fds[2] = {-1, -1};

static void on_signal(int signo)
{
	int saved_errno = errno;

	for (;;) {
		gint n = g_atomic_int_get(&holds);

		if (n < 0)
			break;
		if (n == 0) {
			struct sigaction dfl = {.sa_handler = SIG_DFL};

			if (!g_atomic_int_compare_and_exchange(&holds, 0, DYING))
				continue;
			/* Nothing to clean up: the default effect. The signal is
			 * blocked while its handler runs, so it is delivered, and
			 * ends the process, when this returns. */
			sigemptyset(&dfl.sa_mask);
			sigaction(signo, &dfl, NULL);
			raise(signo);
			break;
		}
		/* The first signal cancels; a later one leaves the cleanup to
		 * finish (SIGQUIT and SIGKILL don't). */
		if (g_atomic_int_compare_and_exchange(&cancel_signal, 0, signo))
			(void)!write(wake_fds[1], "", 1);
		break;
	}
	errno = saved_errno;
}

gboolean ota_cancel_on_signals(GError **error)
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};

	if (wake_fds[0] < 0 && pipe2(wake_fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		int saved = errno;

		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
		            "cannot set up signal handling: %s", g_strerror(saved));
		return FALSE;
	}
	sigemptyset(&sa.sa_mask);
	for (gsize i = 0; i < G_N_ELEMENTS(cancelling_signals); i++)
		sigaddset(&sa.sa_mask, cancelling_signals[i]);
	for (gsize i = 0; i < G_N_ELEMENTS(cancelling_signals); i++) {
		struct sigaction old;

		/* An ignored signal stays ignored (nohup, `cmd &` in a script),
		 * as a program is expected to leave it. */
		if (sigaction(cancelling_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaction(cancelling_signals[i], &sa, NULL);
	}
	return TRUE;
}

int ota_cancel_get_signal(void)
{
	return g_atomic_int_get(&cancel_signal);
}

void ota_cancel_exit(void)
{
	int signo = g_atomic_int_get(&cancel_signal);
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t set;

	if (signo == 0)
		return;
	fflush(NULL);
	sigemptyset(&dfl.sa_mask);
	sigaction(signo, &dfl, NULL);
	sigemptyset(&set);
	sigaddset(&set, signo);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(signo);
	_exit(128 + signo); /* not reached: the default effect of all three ends the process */
}

static gboolean set_cancelled(GError **error)
{
	switch (g_atomic_int_get(&cancel_signal)) {
	case SIGINT:
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "interrupted by SIGINT");
		break;
	case SIGTERM:
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "interrupted by SIGTERM");
		break;
	case SIGHUP:
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "interrupted by SIGHUP");
		break;
	default: /* the process is being ended by a signal */
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "interrupted");
	}
	return FALSE;
}

gboolean ota_cancel_hold(OtaCancelHold *hold, GError **error)
{
	g_return_val_if_fail(!hold->held, FALSE);

	for (;;) {
		gint n = g_atomic_int_get(&holds);

		if (n < 0 || g_atomic_int_get(&cancel_signal) != 0)
			return set_cancelled(error);
		if (g_atomic_int_compare_and_exchange(&holds, n, n + 1))
			break;
	}
	hold->held = TRUE;
	return TRUE;
}

void ota_cancel_release(OtaCancelHold *hold)
{
	if (!hold->held)
		return;
	hold->held = FALSE;
	(void)g_atomic_int_dec_and_test(&holds);
}

gboolean ota_cancel_check(GError **error)
{
	if (G_LIKELY(g_atomic_int_get(&cancel_signal) == 0))
		return TRUE;
	return set_cancelled(error);
}

typedef struct {
	GSourceFunc func;
	gpointer data;
} CancelCallback;

static gboolean dispatch_cancel(gint fd, GIOCondition condition, gpointer user_data)
{
	CancelCallback *c = user_data;

	return c->func(c->data);
}

GSource *ota_cancel_source_new(GSourceFunc func, gpointer data)
{
	CancelCallback *c;
	GSource *source;

	if (wake_fds[0] < 0)
		return NULL;
	source = g_unix_fd_source_new(wake_fds[0], G_IO_IN);
	c = g_new(CancelCallback, 1);
	c->func = func;
	c->data = data;
	g_source_set_callback(source, G_SOURCE_FUNC(dispatch_cancel), c, g_free);
	return source;
}
