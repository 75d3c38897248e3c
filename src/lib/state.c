/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/state.h>
#include <otabundle/output.h>
#include <otabundle/reader.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

G_DEFINE_QUARK(ota-state-error-quark, ota_state_error)

#define STATE_FILE "state"

static void result_free(OtaResult *r)
{
	g_free(r->time);
	g_free(r->operation);
	g_free(r->bundle);
	g_free(r->reason);
	g_free(r);
}

void ota_slot_record_free(OtaSlotRecord *r)
{
	if (r == NULL)
		return;
	g_free(r->slot);
	g_free(r->version);
	g_free(r->bundle_sha256);
	g_free(r->installed);
	g_free(r);
}

void ota_state_free(OtaState *s)
{
	if (s == NULL)
		return;
	g_free(s->path);
	g_free(s->installed_version);
	g_free(s->pending_slot);
	g_ptr_array_unref(s->slots);
	g_ptr_array_unref(s->results);
	g_free(s);
}

static OtaState *state_new(const char *data_directory)
{
	OtaState *s = g_new0(OtaState, 1);

	s->path = g_build_filename(data_directory, STATE_FILE, NULL);
	s->slots = g_ptr_array_new_with_free_func((GDestroyNotify)ota_slot_record_free);
	s->results = g_ptr_array_new_with_free_func((GDestroyNotify)result_free);
	return s;
}

static gboolean corrupted(GError **error, const char *path, const char *what)
{
	g_set_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_CORRUPTED, "%s: %s", path, what);
	return FALSE;
}

static gboolean read_slot(GKeyFile *kf, const char *group, OtaState *s, GError **error)
{
	g_autoptr(OtaSlotRecord) r = g_new0(OtaSlotRecord, 1);
	g_autoptr(GError) ierror = NULL;

	r->slot = g_strdup(group + strlen("slot."));
	r->version = g_key_file_get_string(kf, group, "version", NULL);
	r->bundle_sha256 = g_key_file_get_string(kf, group, "bundle-sha256", NULL);
	r->installed = g_key_file_get_string(kf, group, "installed", NULL);
	r->security_version = g_key_file_get_uint64(kf, group, "security-version", &ierror);
	if (ierror != NULL)
		return corrupted(error, s->path, "bad security-version in a slot record");
	g_ptr_array_add(s->slots, g_steal_pointer(&r));
	return TRUE;
}

static void read_result(GKeyFile *kf, const char *group, OtaState *s)
{
	OtaResult *r = g_new0(OtaResult, 1);

	r->time = g_key_file_get_string(kf, group, "time", NULL);
	r->operation = g_key_file_get_string(kf, group, "operation", NULL);
	r->bundle = g_key_file_get_string(kf, group, "bundle", NULL);
	r->ok = g_key_file_get_boolean(kf, group, "ok", NULL);
	r->reason = g_key_file_get_string(kf, group, "reason", NULL);
	g_ptr_array_add(s->results, r);
}

OtaState *ota_state_load(const char *data_directory, GError **error)
{
	g_autoptr(OtaState) s = state_new(data_directory);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) ierror = NULL;
	g_auto(GStrv) groups = NULL;

	if (!g_key_file_load_from_file(kf, s->path, G_KEY_FILE_NONE, &ierror)) {
		if (g_error_matches(ierror, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return g_steal_pointer(&s);
		g_set_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_CORRUPTED, "%s: %s", s->path,
		            ierror->message);
		return NULL;
	}
	s->installed_version = g_key_file_get_string(kf, "system", "installed-version", NULL);
	s->pending_slot = g_key_file_get_string(kf, "system", "pending-slot", NULL);
	s->security_floor = g_key_file_get_uint64(kf, "system", "security-floor", &ierror);
	if (ierror != NULL && !g_error_matches(ierror, G_KEY_FILE_ERROR,
	                                       G_KEY_FILE_ERROR_KEY_NOT_FOUND)) {
		corrupted(error, s->path, "bad security-floor");
		return NULL;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g; g++) {
		if (g_str_has_prefix(*g, "slot.") && !read_slot(kf, *g, s, error))
			return NULL;
		if (g_str_has_prefix(*g, "result."))
			read_result(kf, *g, s);
	}
	return g_steal_pointer(&s);
}

static void set_string(GKeyFile *kf, const char *group, const char *key, const char *value)
{
	if (value != NULL)
		g_key_file_set_string(kf, group, key, value);
}

static char *to_data(OtaState *s, gsize *length)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();

	set_string(kf, "system", "installed-version", s->installed_version);
	g_key_file_set_uint64(kf, "system", "security-floor", s->security_floor);
	set_string(kf, "system", "pending-slot", s->pending_slot);
	for (guint i = 0; i < s->slots->len; i++) {
		const OtaSlotRecord *r = g_ptr_array_index(s->slots, i);
		g_autofree char *group = g_strdup_printf("slot.%s", r->slot);

		set_string(kf, group, "version", r->version);
		set_string(kf, group, "bundle-sha256", r->bundle_sha256);
		g_key_file_set_uint64(kf, group, "security-version", r->security_version);
		set_string(kf, group, "installed", r->installed);
	}
	for (guint i = 0; i < s->results->len; i++) {
		const OtaResult *r = g_ptr_array_index(s->results, i);
		g_autofree char *group = g_strdup_printf("result.%02u", i);

		set_string(kf, group, "time", r->time);
		set_string(kf, group, "operation", r->operation);
		set_string(kf, group, "bundle", r->bundle);
		g_key_file_set_boolean(kf, group, "ok", r->ok);
		set_string(kf, group, "reason", r->reason);
	}
	return g_key_file_to_data(kf, length, NULL);
}

gboolean ota_state_save(OtaState *s, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(s->path);
	g_autofree char *data = NULL;
	g_autoptr(OtaOutput) out = NULL;
	gsize length = 0;

	if (g_mkdir_with_parents(dir, 0700) < 0) {
		int saved = errno;
		g_set_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_IO, "%s: %s", dir, g_strerror(saved));
		return FALSE;
	}
	data = to_data(s, &length);
	/* Temp file, fsync, rename, fsync of the directory. */
	out = ota_output_new(s->path, TRUE, error);
	return out != NULL &&
	       ota_write_all(ota_output_get_fd(out), data, length, error) &&
	       ota_output_commit(out, error);
}

OtaSlotRecord *ota_state_get_slot(OtaState *s, const char *slot)
{
	for (guint i = 0; i < s->slots->len; i++) {
		OtaSlotRecord *r = g_ptr_array_index(s->slots, i);

		if (g_str_equal(r->slot, slot))
			return r;
	}
	return NULL;
}

void ota_state_set_slot(OtaState *s, OtaSlotRecord *record)
{
	for (guint i = 0; i < s->slots->len; i++) {
		OtaSlotRecord *r = g_ptr_array_index(s->slots, i);

		if (g_str_equal(r->slot, record->slot)) {
			g_ptr_array_remove_index(s->slots, i);
			break;
		}
	}
	g_ptr_array_add(s->slots, record);
}

void ota_state_add_result(OtaState *s, const char *operation, const char *bundle, gboolean ok,
                          const char *reason)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	OtaResult *r = g_new0(OtaResult, 1);

	r->time = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
	r->operation = g_strdup(operation);
	r->bundle = g_strdup(bundle);
	r->ok = ok;
	r->reason = g_strdup(reason);
	g_ptr_array_add(s->results, r);
	while (s->results->len > OTA_STATE_MAX_RESULTS)
		g_ptr_array_remove_index(s->results, 0);
}
