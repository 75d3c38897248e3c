/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Progress phases as a handler sees them. Phases are begun through the
 * library's private header, as the library's own modules do. */
#include "../../src/lib/progress-private.h"

typedef struct {
	OtaProgressKind kind;
	char *phase;
	guint64 done;
	guint64 total;
	gint64 elapsed_us;
} Seen;

static void seen_clear(gpointer data)
{
	g_free(((Seen *)data)->phase);
}

/* Calls never overlap (the library serializes them), so no lock here. */
static void record(const OtaProgressEvent *event, gpointer user_data)
{
	Seen seen = {event->kind, g_strdup(event->phase), event->done, event->total,
	             event->elapsed_us};

	g_array_append_val((GArray *)user_data, seen);
}

static GArray *recorder_new(void)
{
	GArray *events = g_array_new(FALSE, TRUE, sizeof(Seen));

	g_array_set_clear_func(events, seen_clear);
	ota_progress_set_handler(record, events);
	return events;
}

static void recorder_free(GArray *events)
{
	ota_progress_set_handler(NULL, NULL);
	g_array_unref(events);
}
typedef GArray Recorder;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Recorder, recorder_free)

static const Seen *nth(GArray *events, guint i)
{
	g_assert_cmpuint(i, <, events->len);
	return &g_array_index(events, Seen, i);
}

static void assert_event(GArray *events, guint i, OtaProgressKind kind, const char *phase,
                         guint64 done, guint64 total)
{
	const Seen *e = nth(events, i);

	g_assert_cmpint(e->kind, ==, kind);
	g_assert_cmpstr(e->phase, ==, phase);
	g_assert_cmpuint(e->done, ==, done);
	g_assert_cmpuint(e->total, ==, total);
}

/* Longer than the library's update interval (a quarter second). */
static void wait_for_next_update(void)
{
	g_usleep(G_USEC_PER_SEC / 4 + G_USEC_PER_SEC / 20);
}

static void test_a_phase_reports_begin_updates_and_done_in_order(void)
{
	g_autoptr(Recorder) events = recorder_new();
	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("verify", 1000);

	g_assert_nonnull(phase);
	g_assert_true(ota_progress_reporting());
	ota_progress_add(100); /* too soon after the begin: no update */
	wait_for_next_update();
	ota_progress_add(300);
	ota_progress_set(200); /* never lowers what is done */
	wait_for_next_update();
	ota_progress_set(700);
	ota_progress_add(5000); /* more than the total: shown as the total */
	ota_progress_phase_done(phase);
	g_assert_false(ota_progress_reporting());
	g_clear_pointer(&phase, ota_progress_phase_free); /* done: nothing more */

	g_assert_cmpuint(events->len, ==, 4);
	assert_event(events, 0, OTA_PROGRESS_BEGIN, "verify", 0, 1000);
	assert_event(events, 1, OTA_PROGRESS_UPDATE, "verify", 400, 1000);
	assert_event(events, 2, OTA_PROGRESS_UPDATE, "verify", 700, 1000);
	assert_event(events, 3, OTA_PROGRESS_DONE, "verify", 1000, 1000);
	g_assert_cmpint(nth(events, 0)->elapsed_us, ==, 0);
	g_assert_cmpint(nth(events, 1)->elapsed_us, >=, G_USEC_PER_SEC / 4);
	g_assert_cmpint(nth(events, 2)->elapsed_us - nth(events, 1)->elapsed_us, >=,
	                G_USEC_PER_SEC / 4);
	g_assert_cmpint(nth(events, 3)->elapsed_us, >=, nth(events, 2)->elapsed_us);
}

static void test_updates_come_at_most_a_few_times_a_second(void)
{
	g_autoptr(Recorder) events = recorder_new();
	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("hash", 1000000);

	for (int i = 0; i < 100000; i++)
		ota_progress_add(10);
	ota_progress_phase_done(phase);

	assert_event(events, 0, OTA_PROGRESS_BEGIN, "hash", 0, 1000000);
	assert_event(events, events->len - 1, OTA_PROGRESS_DONE, "hash", 1000000, 1000000);
	/* 100000 adds, yet a report at most every quarter second. */
	for (guint i = 1; i + 1 < events->len; i++) {
		g_assert_cmpint(nth(events, i)->kind, ==, OTA_PROGRESS_UPDATE);
		g_assert_cmpint(nth(events, i)->elapsed_us - nth(events, i - 1)->elapsed_us, >=,
		                G_USEC_PER_SEC / 4);
	}
}

static void test_a_nested_phase_is_part_of_the_outer_one_and_reports_nothing(void)
{
	g_autoptr(Recorder) events = recorder_new();
	g_autoptr(OtaProgressPhase) outer = ota_progress_begin("copy", 300);

	{
		g_autoptr(OtaProgressPhase) inner = ota_progress_begin("verify", 100);

		g_assert_null(inner);
		ota_progress_add(100);
		ota_progress_phase_done(inner);
	}
	{
		/* An inner phase left by an error fails nothing. */
		g_autoptr(OtaProgressPhase) inner = ota_progress_begin("verify", 100);

		ota_progress_add(50);
	}
	g_assert_true(ota_progress_reporting());
	ota_progress_add(150);
	ota_progress_phase_done(outer);

	g_assert_cmpuint(events->len, ==, 2);
	assert_event(events, 0, OTA_PROGRESS_BEGIN, "copy", 0, 300);
	assert_event(events, 1, OTA_PROGRESS_DONE, "copy", 300, 300);
}

static gboolean write_that_fails(GError **error)
{
	g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_NOSPC, "disk full");
	return FALSE;
}

/* Written as the library's modules are: done on success only. */
static gboolean step_that_fails(GError **error)
{
	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("extract", 100);

	ota_progress_add(40);
	if (!write_that_fails(error))
		return FALSE;
	ota_progress_phase_done(phase);
	return TRUE;
}

static void test_a_phase_left_by_an_error_ends_as_failed(void)
{
	g_autoptr(Recorder) events = recorder_new();
	g_autoptr(GError) error = NULL;

	g_assert_false(step_that_fails(&error));
	g_assert_false(ota_progress_reporting());
	g_assert_cmpuint(events->len, ==, 2);
	assert_event(events, 0, OTA_PROGRESS_BEGIN, "extract", 0, 100);
	assert_event(events, 1, OTA_PROGRESS_FAILED, "extract", 40, 100);

	/* The next phase is a phase of its own, not nested in the failed one. */
	{
		g_autoptr(OtaProgressPhase) next = ota_progress_begin("verify", 10);

		g_assert_nonnull(next);
		ota_progress_phase_done(next);
	}
	g_assert_cmpuint(events->len, ==, 4);
	assert_event(events, 2, OTA_PROGRESS_BEGIN, "verify", 0, 10);
	assert_event(events, 3, OTA_PROGRESS_DONE, "verify", 0, 10);
}

static void test_without_a_handler_nothing_happens(void)
{
	g_autoptr(Recorder) events = recorder_new();
	g_autoptr(OtaProgressPhase) phase = NULL;

	ota_progress_set_handler(NULL, NULL);
	phase = ota_progress_begin("verify", 100);
	g_assert_null(phase);
	g_assert_false(ota_progress_reporting());
	ota_progress_add(10);
	ota_progress_set(50);
	ota_progress_phase_done(phase);
	ota_progress_phase_free(NULL);
	g_assert_cmpuint(events->len, ==, 0);
}

static void test_a_phase_reports_to_the_handler_that_saw_it_begin(void)
{
	g_autoptr(Recorder) first = recorder_new();
	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("pack", 10);
	g_autoptr(GArray) second = g_array_new(FALSE, TRUE, sizeof(Seen));

	g_array_set_clear_func(second, seen_clear);
	ota_progress_set_handler(record, second);
	ota_progress_add(10);
	ota_progress_phase_done(phase);
	g_assert_cmpuint(first->len, ==, 2);
	assert_event(first, 1, OTA_PROGRESS_DONE, "pack", 10, 10);
	g_assert_cmpuint(second->len, ==, 0);
}

#define N_THREADS 8
#define ADDS_PER_THREAD 20000
#define BYTES_PER_ADD 4096

static gpointer add_from_thread(gpointer data)
{
	for (int i = 0; i < ADDS_PER_THREAD; i++)
		ota_progress_add(BYTES_PER_ADD);
	return NULL;
}

static void test_updates_from_several_threads_add_up(void)
{
	const guint64 total = (guint64)N_THREADS * ADDS_PER_THREAD * BYTES_PER_ADD;
	g_autoptr(Recorder) events = recorder_new();
	g_autoptr(OtaProgressPhase) phase = ota_progress_begin("hash tree", total);
	GThread *threads[N_THREADS];

	for (int i = 0; i < N_THREADS; i++)
		threads[i] = g_thread_new("adder", add_from_thread, NULL);
	for (int i = 0; i < N_THREADS; i++)
		g_thread_join(threads[i]);
	ota_progress_phase_done(phase);

	assert_event(events, 0, OTA_PROGRESS_BEGIN, "hash tree", 0, total);
	assert_event(events, events->len - 1, OTA_PROGRESS_DONE, "hash tree", total, total);
	for (guint i = 1; i + 1 < events->len; i++) {
		g_assert_cmpint(nth(events, i)->kind, ==, OTA_PROGRESS_UPDATE);
		g_assert_cmpuint(nth(events, i)->done, >=, nth(events, i - 1)->done);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/progress/a-phase-reports-begin-updates-and-done-in-order",
	                test_a_phase_reports_begin_updates_and_done_in_order);
	g_test_add_func("/progress/updates-come-at-most-a-few-times-a-second",
	                test_updates_come_at_most_a_few_times_a_second);
	g_test_add_func("/progress/a-nested-phase-is-part-of-the-outer-one-and-reports-nothing",
	                test_a_nested_phase_is_part_of_the_outer_one_and_reports_nothing);
	g_test_add_func("/progress/a-phase-left-by-an-error-ends-as-failed",
	                test_a_phase_left_by_an_error_ends_as_failed);
	g_test_add_func("/progress/without-a-handler-nothing-happens",
	                test_without_a_handler_nothing_happens);
	g_test_add_func("/progress/a-phase-reports-to-the-handler-that-saw-it-begin",
	                test_a_phase_reports_to_the_handler_that_saw_it_begin);
	g_test_add_func("/progress/updates-from-several-threads-add-up",
	                test_updates_from_several_threads_add_up);
	return g_test_run();
}
