/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/progress.h>

#include <stdio.h>

/* Redraws per second at most: enough to look alive, cheap to produce. */
#define REDRAW_INTERVAL_US (G_USEC_PER_SEC / 4)

static struct {
	gboolean enabled;
	GMutex lock; /* the phase fields and the line on stderr */
	char *what;
	guint64 total;
	gint64 started;
	gint64 last_drawn;
	gboolean open;
	guint nested; /* phases begun inside the open one: part of its work */
	guint64 done; /* GCC/clang __atomic builtins: GLib has no 64-bit ones */
} progress;

void ota_progress_enable(gboolean enable)
{
	progress.enabled = enable;
}

gboolean ota_progress_enabled(void)
{
	return progress.enabled;
}

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

/* Called with the lock held. */
static void draw(gint64 now, gboolean final)
{
	guint64 done = MIN(__atomic_load_n(&progress.done, __ATOMIC_RELAXED), progress.total);
	double elapsed = (double)(now - progress.started) / G_USEC_PER_SEC;
	double rate = elapsed > 0 ? (double)done / elapsed : 0;
	g_autofree char *done_s = format_bytes((double)done);
	g_autofree char *total_s = format_bytes((double)progress.total);
	g_autofree char *rate_s = format_bytes(rate);
	g_autofree char *tail = NULL;

	if (final) {
		g_autofree char *took = format_duration(elapsed);
		tail = g_strdup_printf("%s in %s, %s/s", total_s, took, rate_s);
	} else {
		g_autofree char *eta = rate > 0 ? format_duration((double)(progress.total - done) / rate)
		                                : g_strdup("?");
		guint percent = progress.total ? (guint)(done * 100 / progress.total) : 100;
		tail = g_strdup_printf("%s of %s (%u%%), %s/s, %s left", done_s, total_s, percent,
		                       rate_s, eta);
	}
	/* \r and erase-to-end-of-line: a shorter line leaves no remnants. */
	fprintf(stderr, "\r\033[K%s: %s%s", progress.what, tail, final ? "\n" : "");
	fflush(stderr);
	progress.last_drawn = now;
}

static void end_locked(void)
{
	if (!progress.open)
		return;
	draw(g_get_monotonic_time(), TRUE);
	progress.open = FALSE;
	g_clear_pointer(&progress.what, g_free);
}

void ota_progress_begin(const char *what, guint64 total)
{
	if (!progress.enabled)
		return;
	g_mutex_lock(&progress.lock);
	if (progress.open) {
		progress.nested++;
		g_mutex_unlock(&progress.lock);
		return;
	}
	progress.what = g_strdup(what);
	progress.total = total;
	progress.started = g_get_monotonic_time();
	__atomic_store_n(&progress.done, 0, __ATOMIC_RELAXED);
	progress.open = TRUE;
	draw(progress.started, FALSE);
	g_mutex_unlock(&progress.lock);
}

static void maybe_draw(void)
{
	gint64 now;

	/* A worker that finds another one drawing just goes on working. */
	if (!g_mutex_trylock(&progress.lock))
		return;
	now = g_get_monotonic_time();
	if (progress.open && now - progress.last_drawn >= REDRAW_INTERVAL_US)
		draw(now, FALSE);
	g_mutex_unlock(&progress.lock);
}

void ota_progress_add(guint64 bytes)
{
	if (!progress.enabled)
		return;
	__atomic_fetch_add(&progress.done, bytes, __ATOMIC_RELAXED);
	maybe_draw();
}

void ota_progress_set(guint64 done)
{
	if (!progress.enabled)
		return;
	guint64 seen = __atomic_load_n(&progress.done, __ATOMIC_RELAXED);

	while (seen < done &&
	       !__atomic_compare_exchange_n(&progress.done, &seen, done, TRUE, __ATOMIC_RELAXED,
	                                    __ATOMIC_RELAXED))
		;
	maybe_draw();
}

void ota_progress_end(void)
{
	if (!progress.enabled)
		return;
	g_mutex_lock(&progress.lock);
	if (progress.nested > 0)
		progress.nested--;
	else
		end_locked();
	g_mutex_unlock(&progress.lock);
}

void ota_progress_cancel(void)
{
	if (!progress.enabled)
		return;
	g_mutex_lock(&progress.lock);
	progress.nested = 0;
	if (progress.open) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		progress.open = FALSE;
		g_clear_pointer(&progress.what, g_free);
	}
	g_mutex_unlock(&progress.lock);
}
