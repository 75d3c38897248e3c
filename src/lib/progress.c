/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "progress-private.h"

/* Updates per second at most: enough to look alive, cheap to produce. */
#define UPDATE_INTERVAL_US (G_USEC_PER_SEC / 4)

struct _OtaProgressPhase {
	char *what;
	guint64 total;
	gint64 started;
	/* The handler installed at its begin gets every report of it. */
	OtaProgressFunc func;
	gpointer user_data;
};

/* Process-wide, like a log handler: the work is counted from whatever
 * thread does it, and those threads don't know the phase they work for.
 * Fields read without the lock use GCC/clang __atomic builtins (GLib has no
 * 64-bit or function-pointer atomics). */
static struct {
	GMutex lock; /* the fields below but done, and every call of a handler */
	OtaProgressFunc func;
	gpointer user_data;
	OtaProgressPhase *open; /* the outermost phase, NULL when none */
	gint64 last_reported;
	guint64 done;
} progress;

void ota_progress_set_handler(OtaProgressFunc func, gpointer user_data)
{
	g_mutex_lock(&progress.lock);
	progress.user_data = user_data;
	__atomic_store_n(&progress.func, func, __ATOMIC_RELEASE);
	g_mutex_unlock(&progress.lock);
}

/* Called with the lock held. */
static void report(const OtaProgressPhase *phase, OtaProgressKind kind, gint64 now)
{
	OtaProgressEvent event = {
		.kind = kind,
		.phase = phase->what,
		.done = MIN(__atomic_load_n(&progress.done, __ATOMIC_RELAXED), phase->total),
		.total = phase->total,
		.elapsed_us = now - phase->started,
	};

	phase->func(&event, phase->user_data);
	progress.last_reported = now;
}

OtaProgressPhase *ota_progress_begin(const char *what, guint64 total)
{
	OtaProgressPhase *phase;

	if (__atomic_load_n(&progress.func, __ATOMIC_ACQUIRE) == NULL)
		return NULL;
	g_mutex_lock(&progress.lock);
	if (progress.func == NULL || progress.open != NULL) {
		g_mutex_unlock(&progress.lock);
		return NULL;
	}
	phase = g_new0(OtaProgressPhase, 1);
	phase->what = g_strdup(what);
	phase->total = total;
	phase->started = g_get_monotonic_time();
	phase->func = progress.func;
	phase->user_data = progress.user_data;
	__atomic_store_n(&progress.done, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&progress.open, phase, __ATOMIC_RELEASE);
	report(phase, OTA_PROGRESS_BEGIN, phase->started);
	g_mutex_unlock(&progress.lock);
	return phase;
}

static void end(OtaProgressPhase *phase, OtaProgressKind kind)
{
	g_mutex_lock(&progress.lock);
	if (progress.open == phase) {
		report(phase, kind, g_get_monotonic_time());
		__atomic_store_n(&progress.open, NULL, __ATOMIC_RELEASE);
	}
	g_mutex_unlock(&progress.lock);
}

void ota_progress_phase_done(OtaProgressPhase *phase)
{
	if (phase != NULL)
		end(phase, OTA_PROGRESS_DONE);
}

void ota_progress_phase_free(OtaProgressPhase *phase)
{
	if (phase == NULL)
		return;
	end(phase, OTA_PROGRESS_FAILED);
	g_free(phase->what);
	g_free(phase);
}

gboolean ota_progress_reporting(void)
{
	return __atomic_load_n(&progress.open, __ATOMIC_ACQUIRE) != NULL;
}

static void maybe_update(void)
{
	gint64 now;

	/* A worker that finds another one reporting just goes on working. */
	if (!g_mutex_trylock(&progress.lock))
		return;
	now = g_get_monotonic_time();
	if (progress.open != NULL && now - progress.last_reported >= UPDATE_INTERVAL_US)
		report(progress.open, OTA_PROGRESS_UPDATE, now);
	g_mutex_unlock(&progress.lock);
}

void ota_progress_add(guint64 bytes)
{
	if (!ota_progress_reporting())
		return;
	__atomic_fetch_add(&progress.done, bytes, __ATOMIC_RELAXED);
	maybe_update();
}

void ota_progress_set(guint64 done)
{
	guint64 seen;

	if (!ota_progress_reporting())
		return;
	seen = __atomic_load_n(&progress.done, __ATOMIC_RELAXED);
	while (seen < done &&
	       !__atomic_compare_exchange_n(&progress.done, &seen, done, TRUE, __ATOMIC_RELAXED,
	                                    __ATOMIC_RELAXED))
		;
	maybe_update();
}
