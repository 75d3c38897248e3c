/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "progress-line.h"

#include <otabundle/progress.h>

#include <stdio.h>

/* The handler's calls never overlap, but progress_line_erase() may come
 * from another thread than the one reporting. */
static GMutex lock;
static gboolean unfinished; /* a running line is on the terminal */

static char *format_bytes(double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	guint u = 0;

	while (bytes >= 1024 && u + 1 < G_N_ELEMENTS(units)) {
		bytes /= 1024;
		u++;
	}
	return u == 0 ? g_strdup_printf("%.0f B", bytes) : g_strdup_printf("%.1f %s", bytes, units[u]);
}

static char *format_duration(double seconds)
{
	guint64 s = (guint64)(seconds + 0.5);

	if (s >= 3600)
		return g_strdup_printf("%" G_GUINT64_FORMAT ":%02u:%02u", s / 3600,
		                       (guint)(s / 60 % 60), (guint)(s % 60));
	return g_strdup_printf("%u:%02u", (guint)(s / 60), (guint)(s % 60));
}

static void draw(const OtaProgressEvent *event, gboolean final)
{
	double elapsed = (double)event->elapsed_us / G_USEC_PER_SEC;
	double rate = elapsed > 0 ? (double)event->done / elapsed : 0;
	g_autofree char *done_s = format_bytes((double)event->done);
	g_autofree char *total_s = format_bytes((double)event->total);
	g_autofree char *rate_s = format_bytes(rate);
	g_autofree char *tail = NULL;

	if (final) {
		g_autofree char *took = format_duration(elapsed);
		tail = g_strdup_printf("%s in %s, %s/s", total_s, took, rate_s);
	} else {
		g_autofree char *eta =
			rate > 0 ? format_duration((double)(event->total - event->done) / rate)
			         : g_strdup("?");
		guint percent = event->total ? (guint)(event->done * 100 / event->total) : 100;
		tail = g_strdup_printf("%s of %s (%u%%), %s/s, %s left", done_s, total_s, percent,
		                       rate_s, eta);
	}
	/* \r and erase-to-end-of-line: a shorter line leaves no remnants. */
	fprintf(stderr, "\r\033[K%s: %s%s", event->phase, tail, final ? "\n" : "");
	fflush(stderr);
	unfinished = !final;
}

static void erase_locked(void)
{
	if (!unfinished)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	unfinished = FALSE;
}

static void on_progress(const OtaProgressEvent *event, gpointer user_data)
{
	g_mutex_lock(&lock);
	switch (event->kind) {
	case OTA_PROGRESS_BEGIN:
	case OTA_PROGRESS_UPDATE:
		draw(event, FALSE);
		break;
	case OTA_PROGRESS_DONE:
		draw(event, TRUE);
		break;
	case OTA_PROGRESS_FAILED:
		/* The error that follows takes the line. */
		erase_locked();
		break;
	}
	g_mutex_unlock(&lock);
}

void progress_line_enable(gboolean enable)
{
	ota_progress_set_handler(enable ? on_progress : NULL, NULL);
}

void progress_line_erase(void)
{
	g_mutex_lock(&lock);
	erase_locked();
	g_mutex_unlock(&lock);
}
