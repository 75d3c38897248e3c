/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "state-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checksum-private.h"
#include "error-private.h"
#include "output-private.h"
#include "reader-private.h"

G_DEFINE_QUARK(ota-state-error-quark, ota_state_error)

#define STATE_FILE "state"
#define LOCK_FILE "lock"
/* How every saved state ends: a last group holding the SHA-256 (hex) of
 * everything before this suffix. */
#define SEAL_PREFIX "\n[integrity]\nsha256="
#define SEAL_LENGTH (strlen(SEAL_PREFIX) + OTA_SHA256_HEX_LEN + 1)

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
	g_free(r->image_sha256);
	g_free(r);
}

void ota_state_free(OtaState *s)
{
	if (s == NULL)
		return;
	g_free(s->path);
	g_free(s->installed_version);
	g_free(s->pending_slot);
	g_free(s->last_boot);
	g_free(s->trust_sha256);
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

static gboolean io_failed(GError **error, const char *path, int saved_errno)
{
	return ota_set_io_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_IO, path, NULL, saved_errno);
}

static gboolean make_directory(const char *dir, GError **error)
{
	if (g_mkdir_with_parents(dir, 0700) < 0)
		return io_failed(error, dir, errno);
	return TRUE;
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
	r->image_sha256 = g_key_file_get_string(kf, group, "image-sha256", NULL);
	if (r->image_sha256 != NULL) {
		r->image_size = g_key_file_get_uint64(kf, group, "image-size", &ierror);
		if (ierror != NULL)
			return corrupted(error, s->path, "bad image-size in a slot record");
	}
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
	/* Absent in results recorded before they were counted: 0. */
	r->downloaded_bytes = g_key_file_get_uint64(kf, group, "downloaded-bytes", NULL);
	r->reused_bytes = g_key_file_get_uint64(kf, group, "reused-bytes", NULL);
	g_ptr_array_add(s->results, r);
}

static gboolean read_not_before(GKeyFile *kf, OtaState *s, GError **error)
{
	g_autofree char *value = g_key_file_get_value(kf, "system", "not-before", NULL);
	g_autoptr(GDateTime) when = NULL;

	if (value == NULL)
		return TRUE;
	when = g_date_time_new_from_iso8601(value, NULL);
	if (when == NULL || g_date_time_to_unix(when) <= 0)
		return corrupted(error, s->path, "bad not-before");
	s->not_before = g_date_time_to_unix(when);
	return TRUE;
}

static gboolean is_sha256_hex(const char *s)
{
	if (strlen(s) != OTA_SHA256_HEX_LEN)
		return FALSE;
	for (; *s; s++) {
		if (!g_ascii_isdigit(*s) && !(*s >= 'a' && *s <= 'f'))
			return FALSE;
	}
	return TRUE;
}

/* The trust list installed: a version (at least 1) and its document's
 * SHA-256, both or neither. */
static gboolean read_trust(GKeyFile *kf, OtaState *s, GError **error)
{
	g_autofree char *version = g_key_file_get_value(kf, "system", "trust-version", NULL);
	g_autofree char *sha256 = g_key_file_get_value(kf, "system", "trust-sha256", NULL);

	if (version == NULL && sha256 == NULL)
		return TRUE;
	if (version == NULL || sha256 == NULL)
		return corrupted(error, s->path, "incomplete: trust-version and trust-sha256 go together");
	if (!g_ascii_string_to_unsigned(version, 10, 1, G_MAXUINT64, &s->trust_version, NULL))
		return corrupted(error, s->path, "bad trust-version");
	if (!is_sha256_hex(sha256))
		return corrupted(error, s->path, "bad trust-sha256");
	s->trust_sha256 = g_steal_pointer(&sha256);
	return TRUE;
}

/* The floor is what anti-rollback stands on: a state without it is not a
 * device with floor 0, it is a broken one. */
static gboolean read_system(GKeyFile *kf, OtaState *s, GError **error)
{
	g_autofree char *floor = g_key_file_get_value(kf, "system", "security-floor", NULL);

	if (!g_key_file_has_group(kf, "system"))
		return corrupted(error, s->path, "incomplete: no [system] group");
	if (floor == NULL)
		return corrupted(error, s->path, "incomplete: no security-floor");
	if (!g_ascii_string_to_unsigned(floor, 10, 0, G_MAXUINT64, &s->security_floor, NULL))
		return corrupted(error, s->path, "bad security-floor");
	s->installed_version = g_key_file_get_string(kf, "system", "installed-version", NULL);
	s->pending_slot = g_key_file_get_string(kf, "system", "pending-slot", NULL);
	s->last_boot = g_key_file_get_string(kf, "system", "last-boot", NULL);
	return read_not_before(kf, s, error) && read_trust(kf, s, error);
}

/* The state is only ever replaced whole and atomically, so a file whose
 * seal is missing or wrong was cut short or changed behind our back. Every
 * key parses either way: without the seal, security-floor=12 cut to =1
 * would read as a valid, lower floor. */
static gboolean check_seal(const char *path, const char *data, gsize length, gsize *body_length,
                           GError **error)
{
	g_autofree char *sum = NULL;

	if (length < SEAL_LENGTH ||
	    memcmp(data + length - SEAL_LENGTH, SEAL_PREFIX, strlen(SEAL_PREFIX)) != 0 ||
	    data[length - 1] != '\n')
		return corrupted(error, path,
		                 "incomplete: no [integrity] line at its end (cut short; or written by "
		                 "a pre-release otabundle-install: then delete it, the floor restarts at 0)");
	*body_length = length - SEAL_LENGTH;
	sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, *body_length);
	if (memcmp(sum, data + *body_length + strlen(SEAL_PREFIX), OTA_SHA256_HEX_LEN) != 0)
		return corrupted(error, path, "integrity check failed: changed since it was saved");
	return TRUE;
}

static gboolean parse(OtaState *s, const char *data, gsize length, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) ierror = NULL;
	g_auto(GStrv) groups = NULL;

	if (!g_key_file_load_from_data(kf, data, length, G_KEY_FILE_NONE, &ierror))
		return corrupted(error, s->path, ierror->message);
	if (!read_system(kf, s, error))
		return FALSE;
	groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g; g++) {
		if (g_str_has_prefix(*g, "slot.") && !read_slot(kf, *g, s, error))
			return FALSE;
		if (g_str_has_prefix(*g, "result."))
			read_result(kf, *g, s);
	}
	return TRUE;
}

OtaState *ota_state_load(const char *data_directory, GError **error)
{
	g_autoptr(OtaState) s = state_new(data_directory);
	g_autoptr(GError) ierror = NULL;
	g_autofree char *data = NULL;
	gsize length = 0;

	if (!g_file_get_contents(s->path, &data, &length, &ierror)) {
		if (g_error_matches(ierror, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return g_steal_pointer(&s);
		g_set_error_literal(error, OTA_STATE_ERROR, OTA_STATE_ERROR_IO, ierror->message);
		return NULL;
	}
	return ota_state_parse(data_directory, data, length, error);
}

OtaState *ota_state_parse(const char *data_directory, const char *data, gsize length,
                          GError **error)
{
	g_autoptr(OtaState) s = state_new(data_directory);
	gsize body_length = 0;

	if (!check_seal(s->path, data, length, &body_length, error) ||
	    !parse(s, data, body_length, error))
		return NULL;
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
	set_string(kf, "system", "last-boot", s->last_boot);
	if (s->not_before > 0) {
		g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(s->not_before);
		g_autofree char *text = when ? g_date_time_format_iso8601(when) : NULL;

		set_string(kf, "system", "not-before", text);
	}
	if (s->trust_version > 0) {
		g_key_file_set_uint64(kf, "system", "trust-version", s->trust_version);
		set_string(kf, "system", "trust-sha256", s->trust_sha256);
	}
	for (guint i = 0; i < s->slots->len; i++) {
		const OtaSlotRecord *r = g_ptr_array_index(s->slots, i);
		g_autofree char *group = g_strdup_printf("slot.%s", r->slot);

		set_string(kf, group, "version", r->version);
		set_string(kf, group, "bundle-sha256", r->bundle_sha256);
		g_key_file_set_uint64(kf, group, "security-version", r->security_version);
		set_string(kf, group, "installed", r->installed);
		set_string(kf, group, "image-sha256", r->image_sha256);
		if (r->image_sha256 != NULL)
			g_key_file_set_uint64(kf, group, "image-size", r->image_size);
	}
	for (guint i = 0; i < s->results->len; i++) {
		const OtaResult *r = g_ptr_array_index(s->results, i);
		g_autofree char *group = g_strdup_printf("result.%02u", i);

		set_string(kf, group, "time", r->time);
		set_string(kf, group, "operation", r->operation);
		set_string(kf, group, "bundle", r->bundle);
		g_key_file_set_boolean(kf, group, "ok", r->ok);
		set_string(kf, group, "reason", r->reason);
		if (g_strcmp0(r->operation, "install") != 0)
			continue;
		g_key_file_set_uint64(kf, group, "downloaded-bytes", r->downloaded_bytes);
		g_key_file_set_uint64(kf, group, "reused-bytes", r->reused_bytes);
	}
	return g_key_file_to_data(kf, length, NULL);
}

char *ota_state_to_data(OtaState *s, gsize *length)
{
	gsize body_length = 0;
	g_autofree char *body = to_data(s, &body_length);
	g_autofree char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)body,
	                                                   body_length);
	char *data = g_strconcat(body, SEAL_PREFIX, sum, "\n", NULL);

	*length = body_length + SEAL_LENGTH;
	return data;
}

gboolean ota_state_save(OtaState *s, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(s->path);
	g_autofree char *data = NULL;
	g_autoptr(OtaOutput) out = NULL;
	gsize length = 0;

	if (!make_directory(dir, error))
		return FALSE;
	data = ota_state_to_data(s, &length);
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

OtaResult *ota_state_add_result(OtaState *s, const char *operation, const char *bundle,
                                gboolean ok, const char *reason)
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
	return r;
}

/* --- one state-changing command at a time ------------------------------------------- */

struct _OtaStateLock {
	int fd;
};

void ota_state_lock_free(OtaStateLock *lock)
{
	if (lock == NULL)
		return;
	if (lock->fd >= 0)
		close(lock->fd); /* and with it the flock */
	g_free(lock);
}

/* flock, not fcntl: it belongs to the open file, so a second open in this
 * very process is refused too, and the kernel drops it with the process. */
static OtaStateLock *lock_file(const char *path, GError **error)
{
	g_autoptr(OtaStateLock) lock = g_new0(OtaStateLock, 1);

	/* O_CLOEXEC: a program we run (hook, bootloader backend) that outlives
	 * us must not keep the device locked. O_NOFOLLOW: nothing of ours is a
	 * symlink here, so one is not ours to follow. */
	lock->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock->fd < 0 && errno == ELOOP) {
		g_set_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_IO,
		            "%s: is a symbolic link, not our lock file", path);
		return NULL;
	}
	if (lock->fd < 0) {
		io_failed(error, path, errno);
		return NULL;
	}
	if (flock(lock->fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;

		if (saved == EWOULDBLOCK)
			g_set_error(error, OTA_STATE_ERROR, OTA_STATE_ERROR_BUSY,
			            "%s: another otabundle-install is running", path);
		else
			io_failed(error, path, saved);
		return NULL;
	}
	return g_steal_pointer(&lock);
}

static void state_swap(OtaState *a, OtaState *b)
{
	OtaState tmp = *a;

	*a = *b;
	*b = tmp;
}

OtaStateLock *ota_state_lock(OtaState *s, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(s->path);
	g_autofree char *path = g_build_filename(dir, LOCK_FILE, NULL);
	g_autoptr(OtaStateLock) lock = NULL;
	g_autoptr(OtaState) fresh = NULL;

	if (!make_directory(dir, error))
		return NULL;
	lock = lock_file(path, error);
	if (lock == NULL)
		return NULL;
	fresh = ota_state_load(dir, error);
	if (fresh == NULL)
		return NULL;
	state_swap(s, fresh);
	return g_steal_pointer(&lock);
}
