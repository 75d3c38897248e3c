/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RAUC's event log files. A record is RAUC's structured log message: its
 * fields in the order RAUC's g_log_structured() calls produce them (GLib
 * puts MESSAGE, PRIORITY and GLIB_DOMAIN first), with RAUC's message IDs, so
 * that the JSON formats match RAUC's member for member; the readable ones
 * print the message and RAUC's known fields. */
#include "event-log-private.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader-private.h"

/* RAUC's message IDs (src/install.c, src/mark.c, src/main.c). */
#define MESSAGE_ID_INSTALLATION_STARTED "b05410e8a93345389cd061aab1e9516d"
#define MESSAGE_ID_INSTALLATION_SUCCEEDED "0163db5468ac4237b090d28490c301ed"
#define MESSAGE_ID_INSTALLATION_FAILED "c48141f7fd49443aafff862b4809168f"
#define MESSAGE_ID_INSTALLATION_REJECTED "60bea7e4fea549ccad68af457308b13a"
#define MESSAGE_ID_MARKED_ACTIVE "8b5e7435e1054d86858278e7544fe6da"
#define MESSAGE_ID_MARKED_GOOD "3304e15a7a9a447885eb208ba7ae3a05"
#define MESSAGE_ID_MARKED_BAD "ccb0e584a47043d7a5316994bce77ae5"
#define MESSAGE_ID_BOOTED "e60e0addd3454cb8b796eae0d497af96"
/* otabundle's own, for its event type "trust". */
#define MESSAGE_ID_TRUST_UPDATED "95c42c5958164f0d9545d2156c2d657d"
#define MESSAGE_ID_TRUST_REJECTED "1887108c918644de8d69318f76978f15"

#define DOMAIN "rauc-event"
/* G_LOG_LEVEL_MESSAGE as a syslog priority (LOG_NOTICE), as RAUC logs events. */
#define PRIORITY "5"

typedef struct {
	const char *key;
	const char *value;
} Field;

typedef struct {
	const OtaLogConfig *config;
	gboolean broken;
} Logger;

struct OtaEventLog {
	GArray *loggers; /* Logger */
	char *error;
};

OtaEventLog *event_log_new(const GPtrArray *loggers)
{
	OtaEventLog *log = g_new0(OtaEventLog, 1);

	log->loggers = g_array_new(FALSE, TRUE, sizeof(Logger));
	for (guint i = 0; loggers != NULL && i < loggers->len; i++) {
		Logger l = {g_ptr_array_index(loggers, i), FALSE};

		g_array_append_val(log->loggers, l);
	}
	return log;
}

void event_log_free(OtaEventLog *log)
{
	if (log == NULL)
		return;
	g_array_unref(log->loggers);
	g_free(log->error);
	g_free(log);
}

const char *event_log_get_error(const OtaEventLog *log)
{
	return log->error;
}

char *event_log_new_transaction(void)
{
	return g_uuid_string_random();
}

/* --- formats ------------------------------------------------------------- */

static char *format_json(const char *now, const Field *fields, gsize n, gboolean pretty)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "TS");
	json_builder_add_string_value(b, now);
	for (gsize i = 0; i < n; i++) {
		json_builder_set_member_name(b, fields[i].key);
		json_builder_add_string_value(b, fields[i].value);
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	json_generator_set_pretty(gen, pretty);
	return json_generator_to_data(gen, NULL);
}

/* RAUC's labels of the fields its readable format shows, in the order the
 * record has them. */
static const char *readable_label(const char *key)
{
	static const char *const labels[][2] = {
		{"TRANSACTION_ID", "transaction ID"}, {"BOOT_ID", "boot ID"},
		{"BUNDLE_HASH", "bundle hash"},       {"BUNDLE_VERSION", "bundle version"},
		{"SLOT_NAME", "slot"},                {"SLOT_BOOTNAME", "bootname"},
		{"TRUST_VERSION", "trust list version"}, {"TRUST_SHA256", "trust list SHA-256"},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(labels); i++) {
		if (g_str_equal(key, labels[i][0]))
			return labels[i][1];
	}
	return NULL;
}

static char *format_readable(const char *now, const Field *fields, gsize n, gboolean verbose)
{
	GString *s = g_string_new(NULL);

	g_string_append_printf(s, "%s: ", now);
	for (gsize i = 0; i < n; i++) {
		if (g_str_equal(fields[i].key, "MESSAGE")) {
			g_string_append(s, fields[i].value);
			break;
		}
	}
	for (gsize i = 0; verbose && i < n; i++) {
		const char *label = readable_label(fields[i].key);

		if (label != NULL)
			g_string_append_printf(s, "\n                      %s: %s", label, fields[i].value);
	}
	return g_string_free(s, FALSE);
}

static char *format_record(OtaLogFormat format, const Field *fields, gsize n)
{
	g_autoptr(GDateTime) utc = g_date_time_new_now_utc();
	g_autofree char *now = g_date_time_format(utc, "%Y-%m-%dT%H:%M:%SZ");
	g_autofree char *text = NULL;

	switch (format) {
	case OTA_LOG_FORMAT_SHORT:
		text = format_readable(now, fields, n, FALSE);
		break;
	case OTA_LOG_FORMAT_JSON:
	case OTA_LOG_FORMAT_JSON_PRETTY:
		text = format_json(now, fields, n, format == OTA_LOG_FORMAT_JSON_PRETTY);
		break;
	case OTA_LOG_FORMAT_READABLE:
	default:
		text = format_readable(now, fields, n, TRUE);
		break;
	}
	return g_strconcat(text, "\n", NULL);
}

/* --- files --------------------------------------------------------------- */

static gboolean io_error(GError **error, const char *path, int saved_errno)
{
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved_errno), "%s: %s", path,
	            g_strerror(saved_errno));
	return FALSE;
}

/* RAUC's rotation: FILE.N-2 becomes FILE.N-1, ..., FILE becomes FILE.1, and
 * the oldest is dropped, so that max-files files remain, the current one
 * included (with max-files=1 the old records are dropped). */
static gboolean rotate(const OtaLogConfig *c, GError **error)
{
	g_autofree char *first = g_strdup_printf("%s.1", c->filename);

	for (guint n = c->max_files; n > 2; n--) {
		g_autofree char *from = g_strdup_printf("%s.%u", c->filename, n - 2);
		g_autofree char *to = g_strdup_printf("%s.%u", c->filename, n - 1);

		if (rename(from, to) < 0 && errno != ENOENT)
			return io_error(error, from, errno);
	}
	if (c->max_files < 2) {
		if (unlink(c->filename) < 0 && errno != ENOENT)
			return io_error(error, c->filename, errno);
		return TRUE;
	}
	if (rename(c->filename, first) < 0 && errno != ENOENT)
		return io_error(error, c->filename, errno);
	return TRUE;
}

static int open_log(const char *path, GError **error)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);

	if (fd < 0)
		io_error(error, path, errno);
	return fd;
}

/* Appends @record, rotating first when it would take the file past
 * max-size (a file holding nothing yet is never rotated). */
static gboolean append(const OtaLogConfig *c, const char *record, GError **error)
{
	gsize len = strlen(record);
	struct stat st;
	int fd = open_log(c->filename, error);
	gboolean ok;

	if (fd < 0)
		return FALSE;
	if (fstat(fd, &st) < 0) {
		int saved = errno;

		close(fd);
		return io_error(error, c->filename, saved);
	}
	if (c->max_size > 0 && st.st_size > 0 && (guint64)st.st_size + len > c->max_size) {
		close(fd);
		if (!rotate(c, error))
			return FALSE;
		fd = open_log(c->filename, error);
		if (fd < 0)
			return FALSE;
	}
	/* One write: O_APPEND puts the whole record at the end. */
	ok = ota_write_all(fd, record, len, error);
	if (close(fd) < 0 && ok)
		return io_error(error, c->filename, errno);
	return ok;
}

static void emit(OtaEventLog *log, OtaLogEvent type, const Field *fields, gsize n)
{
	for (guint i = 0; i < log->loggers->len; i++) {
		Logger *l = &g_array_index(log->loggers, Logger, i);
		g_autoptr(GError) error = NULL;
		g_autofree char *record = NULL;

		if (l->broken || !(l->config->events & type))
			continue;
		record = format_record(l->config->format, fields, n);
		if (append(l->config, record, &error))
			continue;
		l->broken = TRUE;
		if (log->error == NULL)
			log->error = g_strdup_printf("event log '%s': %s", l->config->name, error->message);
	}
}

/* --- events -------------------------------------------------------------- */

void event_log_install_started(OtaEventLog *log, const char *transaction)
{
	g_autofree char *message = g_strdup_printf("Installation %.8s started", transaction);
	const Field fields[] = {
		{"MESSAGE", message},
		{"PRIORITY", PRIORITY},
		{"GLIB_DOMAIN", DOMAIN},
		{"RAUC_EVENT_TYPE", "install"},
		{"MESSAGE_ID", MESSAGE_ID_INSTALLATION_STARTED},
		{"TRANSACTION_ID", transaction},
	};

	emit(log, OTA_LOG_EVENT_INSTALL, fields, G_N_ELEMENTS(fields));
}

void event_log_install_done(OtaEventLog *log, const char *transaction, const char *bundle_hash,
                            const char *description, const char *version, const GError *error,
                            gboolean rejected)
{
	g_autofree char *message = NULL;
	const char *id = MESSAGE_ID_INSTALLATION_SUCCEEDED;

	if (error == NULL) {
		message = g_strdup_printf("Installation %.8s succeeded", transaction);
	} else {
		/* One line, as every record is (a message may have detail lines). */
		g_autofree char *first = g_strndup(error->message, strcspn(error->message, "\n"));

		message = g_strdup_printf("Installation %.8s %s: %s", transaction,
		                          rejected ? "rejected" : "failed", first);
		id = rejected ? MESSAGE_ID_INSTALLATION_REJECTED : MESSAGE_ID_INSTALLATION_FAILED;
	}
	{
		const Field fields[] = {
			{"MESSAGE", message},
			{"MESSAGE_ID", id},
			{"PRIORITY", PRIORITY},
			{"GLIB_DOMAIN", DOMAIN},
			{"RAUC_EVENT_TYPE", "install"},
			{"BUNDLE_HASH", bundle_hash ? bundle_hash : ""},
			{"BUNDLE_DESCRIPTION", description ? description : ""},
			{"BUNDLE_VERSION", version ? version : ""},
			{"TRANSACTION_ID", transaction},
		};

		emit(log, OTA_LOG_EVENT_INSTALL, fields, G_N_ELEMENTS(fields));
	}
}

void event_log_slot_written(OtaEventLog *log, const char *slot)
{
	g_autofree char *message = g_strdup_printf("Updating slot %s", slot);
	const Field fields[] = {
		{"MESSAGE", message},
		{"PRIORITY", PRIORITY},
		{"GLIB_DOMAIN", DOMAIN},
		{"RAUC_EVENT_TYPE", "writeslot"},
	};

	emit(log, OTA_LOG_EVENT_WRITESLOT, fields, G_N_ELEMENTS(fields));
}

void event_log_marked(OtaEventLog *log, EventLogMark mark, const char *slot, const char *bootname,
                      const char *bundle_hash)
{
	static const char *const ids[] = {
		[EVENT_LOG_MARKED_GOOD] = MESSAGE_ID_MARKED_GOOD,
		[EVENT_LOG_MARKED_BAD] = MESSAGE_ID_MARKED_BAD,
		[EVENT_LOG_MARKED_ACTIVE] = MESSAGE_ID_MARKED_ACTIVE,
	};
	static const char *const names[] = {
		[EVENT_LOG_MARKED_GOOD] = "good",
		[EVENT_LOG_MARKED_BAD] = "bad",
		[EVENT_LOG_MARKED_ACTIVE] = "active",
	};
	g_autofree char *message = g_strdup_printf("Marked slot %s as %s", slot, names[mark]);
	const Field fields[] = {
		{"MESSAGE", message},
		{"PRIORITY", PRIORITY},
		{"GLIB_DOMAIN", DOMAIN},
		{"RAUC_EVENT_TYPE", "mark"},
		{"MESSAGE_ID", ids[mark]},
		{"SLOT_NAME", slot},
		{"SLOT_BOOTNAME", bootname ? bootname : ""},
		{"BUNDLE_HASH", bundle_hash ? bundle_hash : ""},
	};

	/* RAUC names the bundle only when it activates a slot. */
	emit(log, OTA_LOG_EVENT_MARK, fields,
	     G_N_ELEMENTS(fields) - (mark == EVENT_LOG_MARKED_ACTIVE ? 0 : 1));
}

void event_log_booted(OtaEventLog *log, const char *slot, const char *bootname,
                      const char *boot_id, const char *bundle_hash)
{
	g_autofree char *message = g_strdup_printf("Booted into %s (%s)", slot,
	                                           bootname ? bootname : "");
	const Field fields[] = {
		{"MESSAGE", message},
		{"MESSAGE_ID", MESSAGE_ID_BOOTED},
		{"PRIORITY", PRIORITY},
		{"GLIB_DOMAIN", DOMAIN},
		{"RAUC_EVENT_TYPE", "boot"},
		{"SLOT_NAME", slot},
		{"SLOT_BOOTNAME", bootname ? bootname : ""},
		{"BOOT_ID", boot_id ? boot_id : ""},
		{"BUNDLE_HASH", bundle_hash ? bundle_hash : "unknown"},
	};

	emit(log, OTA_LOG_EVENT_BOOT, fields, G_N_ELEMENTS(fields));
}

void event_log_trust_updated(OtaEventLog *log, guint64 from, guint64 to, const char *sha256,
                             const GError *error)
{
	g_autofree char *message = NULL;
	g_autofree char *previous = g_strdup_printf("%" G_GUINT64_FORMAT, from);
	g_autofree char *version = to ? g_strdup_printf("%" G_GUINT64_FORMAT, to) : g_strdup("");

	if (error == NULL) {
		message = g_strdup_printf("Trust list updated from version %" G_GUINT64_FORMAT
		                          " to %" G_GUINT64_FORMAT,
		                          from, to);
	} else {
		g_autofree char *first = g_strndup(error->message, strcspn(error->message, "\n"));

		message = g_strdup_printf("Trust update rejected: %s", first);
	}
	{
		const Field fields[] = {
			{"MESSAGE", message},
			{"MESSAGE_ID", error ? MESSAGE_ID_TRUST_REJECTED : MESSAGE_ID_TRUST_UPDATED},
			{"PRIORITY", PRIORITY},
			{"GLIB_DOMAIN", DOMAIN},
			{"RAUC_EVENT_TYPE", "trust"},
			{"TRUST_PREVIOUS_VERSION", previous},
			{"TRUST_VERSION", version},
			{"TRUST_SHA256", sha256 ? sha256 : ""},
		};

		emit(log, OTA_LOG_EVENT_TRUST, fields, G_N_ELEMENTS(fields));
	}
}
