/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manifest-private.h"

#include <otabundle/text.h>

#include <openssl/crypto.h>
#include <string.h>

#include "checksum-private.h"
#include "crypt-private.h"
#include "keyfile.h"

G_DEFINE_QUARK(ota-manifest-error-quark, ota_manifest_error)

static const OtaKeyfileErrors errors = {ota_manifest_error_quark, OTA_MANIFEST_ERROR_MISSING,
                                        OTA_MANIFEST_ERROR_INVALID,
                                        OTA_MANIFEST_ERROR_UNKNOWN_FIELD};

static const char *const bundle_hook_names[] = {"install-check", NULL};
static const char *const image_hook_names[] = {"pre-install", "install", "post-install", NULL};

static void image_free(OtaImage *image)
{
	g_free(image->slotclass);
	g_free(image->variant);
	g_free(image->filename);
	g_free(image->sha256);
	g_strfreev(image->hooks);
	g_free(image->adaptive);
	g_free(image);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaImage, image_free)

void ota_manifest_free(OtaManifest *m)
{
	if (m == NULL)
		return;
	g_free(m->compatible);
	g_free(m->version);
	g_free(m->description);
	g_free(m->build);
	g_free(m->verity_hash);
	g_free(m->verity_salt);
	if (m->crypt_key != NULL)
		OPENSSL_cleanse(m->crypt_key, strlen(m->crypt_key));
	g_free(m->crypt_key);
	g_free(m->hook_filename);
	g_strfreev(m->hooks);
	g_free(m->handler_filename);
	g_free(m->handler_args);
	if (m->images != NULL)
		g_ptr_array_unref(m->images);
	if (m->meta != NULL)
		g_key_file_unref(m->meta);
	g_free(m);
}

const char *ota_bundle_format_to_string(OtaBundleFormat format)
{
	switch (format) {
	case OTA_BUNDLE_FORMAT_PLAIN:
		return "plain";
	case OTA_BUNDLE_FORMAT_VERITY:
		return "verity";
	case OTA_BUNDLE_FORMAT_CRYPT:
		return "crypt";
	}
	return "unknown";
}

gboolean ota_bundle_format_from_string(const char *name, OtaBundleFormat *format)
{
	static const OtaBundleFormat all[] = {OTA_BUNDLE_FORMAT_PLAIN, OTA_BUNDLE_FORMAT_VERITY,
	                                      OTA_BUNDLE_FORMAT_CRYPT};

	for (gsize i = 0; i < G_N_ELEMENTS(all); i++) {
		if (g_strcmp0(name, ota_bundle_format_to_string(all[i])) == 0) {
			*format = all[i];
			return TRUE;
		}
	}
	return FALSE;
}

gboolean ota_manifest_filename_is_safe(const char *filename)
{
	return filename != NULL && filename[0] != '\0' && strchr(filename, '/') == NULL &&
	       strcmp(filename, ".") != 0 && strcmp(filename, "..") != 0;
}

char **ota_image_get_adaptive_methods(const OtaImage *image)
{
	g_autoptr(GStrvBuilder) methods = g_strv_builder_new();
	g_auto(GStrv) parts = g_strsplit(image->adaptive ? image->adaptive : "", ";", -1);

	for (char **p = parts; *p; p++) {
		g_strstrip(*p);
		if (**p != '\0')
			g_strv_builder_add(methods, *p);
	}
	return g_strv_builder_end(methods);
}

gboolean ota_image_has_adaptive_method(const OtaImage *image, const char *method)
{
	g_auto(GStrv) methods = ota_image_get_adaptive_methods(image);

	return g_strv_contains((const char *const *)methods, method);
}

OtaImageCasync ota_image_get_casync(const OtaImage *image)
{
	if (image->filename == NULL)
		return OTA_IMAGE_CASYNC_NONE;
	if (g_str_has_suffix(image->filename, ".caibx"))
		return OTA_IMAGE_CASYNC_BLOB;
	if (g_str_has_suffix(image->filename, ".caidx"))
		return OTA_IMAGE_CASYNC_TREE;
	return OTA_IMAGE_CASYNC_NONE;
}

static gboolean take_size(GKeyFile *kf, const char *group, const char *key,
                          gboolean *present, guint64 *out, GError **error)
{
	return ota_keyfile_take_uint64(kf, group, key, 0, G_MAXUINT64, present, out, &errors, error);
}

static gboolean take_hooks(GKeyFile *kf, const char *group, const char *const *allowed,
                           char ***out, GError **error)
{
	g_autofree char *value = ota_keyfile_take_string(kf, group, "hooks");
	g_auto(GStrv) hooks = NULL;
	g_autoptr(GStrvBuilder) kept = g_strv_builder_new();

	if (value == NULL)
		return TRUE;
	hooks = g_strsplit(value, ";", -1);
	for (char **h = hooks; *h; h++) {
		g_strstrip(*h);
		if (**h == '\0')
			continue;
		if (!g_strv_contains(allowed, *h)) {
			g_autofree char *escaped = ota_text_escape(*h);

			g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
			            "unknown hook '%s' in group [%s]", escaped, group);
			return FALSE;
		}
		g_strv_builder_add(kept, *h);
	}
	*out = g_strv_builder_end(kept);
	return TRUE;
}

static gboolean check_filename(const char *group, const char *filename, GError **error)
{
	g_autofree char *escaped = NULL;

	if (g_strcmp0(filename, OTA_MANIFEST_FILENAME) == 0) {
		g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
		            "invalid filename '%s' in group [%s]: that is the manifest's own name",
		            filename, group);
		return FALSE;
	}
	if (ota_manifest_filename_is_safe(filename))
		return TRUE;
	escaped = ota_text_escape(filename);
	g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
	            "invalid filename '%s' in group [%s]: must be a plain name without '/'",
	            escaped, group);
	return FALSE;
}

static gboolean parse_update(GKeyFile *kf, OtaManifest *m, GError **error)
{
	if (!ota_keyfile_take_required(kf, "update", "compatible", &m->compatible, &errors, error))
		return FALSE;
	m->version = ota_keyfile_take_string(kf, "update", "version");
	m->description = ota_keyfile_take_string(kf, "update", "description");
	m->build = ota_keyfile_take_string(kf, "update", "build");
	return TRUE;
}

/* RAUC reads crypt-key only in crypt manifests (elsewhere it is an unknown
 * key) and decodes exactly 32 bytes of hex. */
static gboolean check_crypt_key(const OtaManifest *m, GError **error)
{
	guint8 key[OTA_CRYPT_KEY_LEN];
	gboolean valid;

	if (m->crypt_key == NULL)
		return TRUE;
	if (m->format != OTA_BUNDLE_FORMAT_CRYPT) {
		g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_UNKNOWN_FIELD,
		            "crypt-key in group [bundle] of a %s manifest (only crypt bundles have one)",
		            ota_bundle_format_to_string(m->format));
		return FALSE;
	}
	valid = ota_crypt_key_from_hex(m->crypt_key, key);
	OPENSSL_cleanse(key, sizeof(key));
	if (valid)
		return TRUE;
	/* Not quoted: it is key material, even when malformed. */
	g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
	            "invalid crypt-key in group [bundle]: expected %d hex digits",
	            OTA_CRYPT_KEY_HEX_LEN);
	return FALSE;
}

static gboolean parse_bundle(GKeyFile *kf, OtaManifest *m, GError **error)
{
	g_autofree char *format = ota_keyfile_take_string(kf, "bundle", "format");
	gboolean has_verity_size;

	if (format != NULL) {
		if (!ota_bundle_format_from_string(format, &m->format)) {
			g_autofree char *escaped = ota_text_escape(format);

			g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
			            "unknown bundle format '%s' in group [bundle]", escaped);
			return FALSE;
		}
		m->has_format = TRUE;
	}
	m->verity_hash = ota_keyfile_take_string(kf, "bundle", "verity-hash");
	m->verity_salt = ota_keyfile_take_string(kf, "bundle", "verity-salt");
	m->crypt_key = ota_keyfile_take_string(kf, "bundle", "crypt-key");
	if (!take_size(kf, "bundle", "verity-size", &has_verity_size, &m->verity_size, error))
		return FALSE;
	return check_crypt_key(m, error);
}

static gboolean parse_hooks(GKeyFile *kf, OtaManifest *m, GError **error)
{
	m->hook_filename = ota_keyfile_take_string(kf, "hooks", "filename");
	if (m->hook_filename != NULL && !check_filename("hooks", m->hook_filename, error))
		return FALSE;
	return take_hooks(kf, "hooks", bundle_hook_names, &m->hooks, error);
}

static gboolean parse_handler(GKeyFile *kf, OtaManifest *m, GError **error)
{
	m->handler_filename = ota_keyfile_take_string(kf, "handler", "filename");
	if (m->handler_filename != NULL && !check_filename("handler", m->handler_filename, error))
		return FALSE;
	m->handler_args = ota_keyfile_take_string(kf, "handler", "args");
	return TRUE;
}

static OtaImage *parse_image(GKeyFile *kf, const char *group, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(group + strlen("image."), ".", -1);
	g_autoptr(OtaImage) image = g_new0(OtaImage, 1);
	guint n = g_strv_length(parts);

	if (n < 1 || n > 2 || !ota_keyfile_name_is_valid(parts[0]) ||
	    (n == 2 && !ota_keyfile_name_is_valid(parts[1]))) {
		g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
		            "invalid image group [%s]: expected [image.<slotclass>] or "
		            "[image.<slotclass>.<variant>] with names of letters, digits, '_' and '-'",
		            group);
		return NULL;
	}
	image->slotclass = g_strdup(parts[0]);
	image->variant = n == 2 ? g_strdup(parts[1]) : NULL;

	if (!ota_keyfile_take_required(kf, group, "filename", &image->filename, &errors, error) ||
	    !check_filename(group, image->filename, error))
		return NULL;
	if (!take_size(kf, group, "size", &image->has_size, &image->size, error))
		return NULL;

	image->sha256 = ota_keyfile_take_string(kf, group, "sha256");
	if (image->sha256 != NULL) {
		guint8 digest[OTA_SHA256_LEN];

		if (!ota_checksum_from_hex(image->sha256, digest)) {
			g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
			            "invalid sha256 in group [%s]: expected 64 hex digits", group);
			return NULL;
		}
		g_free(image->sha256);
		image->sha256 = g_malloc(OTA_SHA256_HEX_LEN + 1);
		ota_checksum_to_hex(digest, image->sha256);
	}
	if (!take_hooks(kf, group, image_hook_names, &image->hooks, error))
		return NULL;
	image->adaptive = ota_keyfile_take_string(kf, group, "adaptive");
	return g_steal_pointer(&image);
}

static gboolean is_known_group(const char *group)
{
	static const char *const fixed[] = {"update", "bundle", "hooks", "handler", NULL};

	return g_strv_contains(fixed, group) || g_str_has_prefix(group, "image.");
}

/* Meta keys are plain names: GKeyFile gives '[' (locales), '=' and
 * leading or trailing blanks special meanings that wouldn't survive
 * writing the manifest back. */
static gboolean meta_key_is_valid(const char *key)
{
	if (*key == '\0')
		return FALSE;
	for (const char *p = key; *p; p++) {
		if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-' && *p != '.')
			return FALSE;
	}
	return TRUE;
}

/* Values go through GKeyFile's own unescaping and escaping (not copied
 * raw), so a signed manifest written back and read again means exactly the
 * same; values that are not UTF-8 are refused, as for every other field. */
static gboolean move_meta_groups(GKeyFile *kf, GKeyFile *meta, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

	for (char **g = groups; *g; g++) {
		g_auto(GStrv) keys = NULL;

		if (!g_str_has_prefix(*g, "meta."))
			continue;
		if (!ota_keyfile_name_is_valid(*g + strlen("meta."))) {
			g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
			            "invalid group [%s]: label must be letters, digits, '_' and '-'", *g);
			return FALSE;
		}
		keys = g_key_file_get_keys(kf, *g, NULL, NULL);
		for (char **k = keys; k && *k; k++) {
			g_autofree char *value = NULL;

			if (!meta_key_is_valid(*k)) {
				g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
				            "invalid key in group [%s]: letters, digits, '_', '-' and '.' "
				            "only", *g);
				return FALSE;
			}
			value = g_key_file_get_string(kf, *g, *k, NULL);
			if (value == NULL) {
				g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
				            "invalid value of '%s' in group [%s]: not UTF-8", *k, *g);
				return FALSE;
			}
			g_key_file_set_string(meta, *g, *k, value);
		}
		g_key_file_remove_group(kf, *g, NULL);
	}
	return TRUE;
}

/* Every hook, bundle or image, runs the one script [hooks] filename names. */
static gboolean check_hook_file(const OtaManifest *m, GError **error)
{
	gboolean any = m->hooks != NULL && m->hooks[0] != NULL;

	for (guint i = 0; !any && i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);

		any = image->hooks != NULL && image->hooks[0] != NULL;
	}
	if (!any || m->hook_filename != NULL)
		return TRUE;
	g_set_error_literal(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_MISSING,
	                    "hooks are listed but [hooks] names no filename");
	return FALSE;
}

/* Splits a --set NAME=VALUE into the group and key it sets and its value. */
static gboolean split_setting(const char *setting, char **group, char **key, const char **value,
                              GError **error)
{
	static const char *const update_keys[] = {"compatible", "version", "description", "build",
	                                          NULL};
	const char *eq = strchr(setting, '=');
	g_autofree char *name = eq ? g_strndup(setting, (gsize)(eq - setting)) : g_strdup(setting);
	g_autofree char *escaped = ota_text_escape(name);
	const char *dot;

	if (eq == NULL) {
		g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
		            "--set %s: expected NAME=VALUE", escaped);
		return FALSE;
	}
	*value = eq + 1;
	if (!g_utf8_validate(*value, -1, NULL)) {
		g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
		            "--set %s: value is not UTF-8", escaped);
		return FALSE;
	}
	if (g_str_has_prefix(name, "update.") && g_strv_contains(update_keys, name + strlen("update."))) {
		*group = g_strdup("update");
		*key = g_strdup(name + strlen("update."));
		return TRUE;
	}
	if (!g_str_has_prefix(name, "meta.")) {
		g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_UNKNOWN_FIELD,
		            "--set %s: not a field create sets (update.compatible, update.version, "
		            "update.description, update.build or meta.LABEL.KEY)", escaped);
		return FALSE;
	}
	/* A label has no '.', a key may. */
	dot = strchr(name + strlen("meta."), '.');
	*group = dot ? g_strndup(name, (gsize)(dot - name)) : g_strdup(name);
	*key = g_strdup(dot ? dot + 1 : "");
	if (!ota_keyfile_name_is_valid(*group + strlen("meta.")) || !meta_key_is_valid(*key)) {
		g_clear_pointer(group, g_free);
		g_clear_pointer(key, g_free);
		g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
		            "--set %s: expected meta.LABEL.KEY, a LABEL of letters, digits, '_' and "
		            "'-', a KEY of those and '.'", escaped);
		return FALSE;
	}
	return TRUE;
}

static gboolean apply_settings(GKeyFile *kf, const char *const *settings, GError **error)
{
	for (const char *const *s = settings; s && *s; s++) {
		g_autofree char *group = NULL;
		g_autofree char *key = NULL;
		const char *value;

		if (!split_setting(*s, &group, &key, &value, error))
			return FALSE;
		g_key_file_set_string(kf, group, key, value);
	}
	return TRUE;
}

static OtaManifest *parse(const char *data, gsize length, const char *const *settings,
                          GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(OtaManifest) m = g_new0(OtaManifest, 1);
	g_autoptr(GError) ierror = NULL;
	g_auto(GStrv) groups = NULL;

	m->images = g_ptr_array_new_with_free_func((GDestroyNotify)image_free);
	m->meta = g_key_file_new();

	if (length > OTA_MANIFEST_MAX_SIZE) {
		g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_PARSE,
		            "manifest is larger than %d bytes", OTA_MANIFEST_MAX_SIZE);
		return NULL;
	}
	if (memchr(data, '\0', length) != NULL) {
		g_set_error_literal(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_PARSE,
		                    "manifest contains a NUL byte");
		return NULL;
	}
	if (!g_key_file_load_from_data(kf, data, length, G_KEY_FILE_NONE, &ierror)) {
		g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_PARSE,
		            "not a valid manifest: %s", ierror->message);
		return NULL;
	}

	if (!ota_keyfile_check_no_duplicates(kf, &errors, error) ||
	    !ota_keyfile_check_no_locale_keys(data, length, &errors, error) ||
	    !apply_settings(kf, settings, error))
		return NULL;
	groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g; g++) {
		if (!is_known_group(*g) && !g_str_has_prefix(*g, "meta.")) {
			g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_UNKNOWN_FIELD,
			            "unknown group [%s]", *g);
			return NULL;
		}
	}

	if (!move_meta_groups(kf, m->meta, error) || !parse_update(kf, m, error) ||
	    !parse_bundle(kf, m, error) || !parse_hooks(kf, m, error) ||
	    !parse_handler(kf, m, error))
		return NULL;

	for (char **g = groups; *g; g++) {
		OtaImage *image;

		if (!g_str_has_prefix(*g, "image."))
			continue;
		image = parse_image(kf, *g, error);
		if (image == NULL)
			return NULL;
		g_ptr_array_add(m->images, image);
	}

	if (!ota_keyfile_check_nothing_left(kf, &errors, error) || !check_hook_file(m, error))
		return NULL;
	return g_steal_pointer(&m);
}

OtaManifest *ota_manifest_parse(const char *data, gsize length, GError **error)
{
	return parse(data, length, NULL, error);
}

gboolean ota_manifest_runs_code(const OtaManifest *m)
{
	if (m->hook_filename != NULL || m->handler_filename != NULL || m->hooks != NULL)
		return TRUE;
	for (guint i = 0; i < m->images->len; i++) {
		if (((const OtaImage *)g_ptr_array_index(m->images, i))->hooks != NULL)
			return TRUE;
	}
	return FALSE;
}

gboolean ota_manifest_check_settings(const char *const *settings, GError **error)
{
	static const char template[] = "[update]\ncompatible=any\n";
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (const char *const *s = settings; s && *s; s++) {
		g_autofree char *group = NULL;
		g_autofree char *key = NULL;
		g_autoptr(OtaManifest) m = NULL;
		g_autoptr(GError) ierror = NULL;
		const char *value;

		if (!split_setting(*s, &group, &key, &value, error))
			return FALSE;
		m = parse(template, strlen(template), (const char *const[]){*s, NULL}, &ierror);
		if (m == NULL) {
			g_autofree char *name = g_strdup_printf("%s.%s", group, key);
			g_autofree char *escaped = ota_text_escape(name);

			g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "--set %s: ", escaped);
			return FALSE;
		}
		/* Two values for one field: which one was meant? */
		if (!g_hash_table_add(seen, g_strdup_printf("%s.%s", group, key))) {
			g_autofree char *name = g_strdup_printf("%s.%s", group, key);
			g_autofree char *escaped = ota_text_escape(name);

			g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID,
			            "--set %s: given twice", escaped);
			return FALSE;
		}
	}
	return TRUE;
}

static OtaManifest *load(const char *path, const char *const *settings, GError **error)
{
	g_autoptr(GMappedFile) file = NULL;
	g_autoptr(GError) ierror = NULL;
	OtaManifest *m;

	file = g_mapped_file_new(path, FALSE, &ierror);
	if (file == NULL) {
		g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_PARSE, "%s: %s", path,
		            ierror->message);
		return NULL;
	}
	m = parse(g_mapped_file_get_contents(file), g_mapped_file_get_length(file), settings,
	          &ierror);
	if (m == NULL) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", path);
		return NULL;
	}
	return m;
}

OtaManifest *ota_manifest_load(const char *path, GError **error)
{
	return load(path, NULL, error);
}

OtaManifest *ota_manifest_load_with_settings(const char *path, const char *const *settings,
                                             GError **error)
{
	return load(path, settings, error);
}

gboolean ota_manifest_check_complete(const OtaManifest *m, GError **error)
{
	if (m->images->len == 0) {
		g_set_error_literal(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_MISSING,
		                    "manifest names no image");
		return FALSE;
	}
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);

		if (!image->has_size || image->sha256 == NULL) {
			g_set_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_MISSING,
			            "image '%s' has no %s", image->filename,
			            image->has_size ? "sha256" : "size");
			return FALSE;
		}
	}
	return TRUE;
}

static void set_optional(GKeyFile *kf, const char *group, const char *key, const char *value)
{
	if (value != NULL)
		g_key_file_set_string(kf, group, key, value);
}

static void set_hooks(GKeyFile *kf, const char *group, char **hooks)
{
	g_autofree char *joined = NULL;

	if (hooks == NULL || hooks[0] == NULL)
		return;
	joined = g_strjoinv(";", hooks);
	g_key_file_set_string(kf, group, "hooks", joined);
}

static void write_image(GKeyFile *kf, const OtaImage *image)
{
	g_autofree char *group =
		image->variant ? g_strdup_printf("image.%s.%s", image->slotclass, image->variant)
			       : g_strdup_printf("image.%s", image->slotclass);

	g_key_file_set_string(kf, group, "filename", image->filename);
	if (image->has_size)
		g_key_file_set_uint64(kf, group, "size", image->size);
	set_optional(kf, group, "sha256", image->sha256);
	set_hooks(kf, group, image->hooks);
	set_optional(kf, group, "adaptive", image->adaptive);
}

char *ota_manifest_to_data(const OtaManifest *m, gsize *length)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_auto(GStrv) meta_groups = g_key_file_get_groups(m->meta, NULL);

	g_key_file_set_string(kf, "update", "compatible", m->compatible);
	set_optional(kf, "update", "version", m->version);
	set_optional(kf, "update", "description", m->description);
	set_optional(kf, "update", "build", m->build);

	/* RAUC writes no [bundle] group for plain bundles; neither do we, so
	 * RAUC versions that predate the group still read ours. */
	if (m->format != OTA_BUNDLE_FORMAT_PLAIN) {
		g_key_file_set_string(kf, "bundle", "format", ota_bundle_format_to_string(m->format));
		set_optional(kf, "bundle", "verity-hash", m->verity_hash);
		set_optional(kf, "bundle", "verity-salt", m->verity_salt);
		if (m->verity_size > 0)
			g_key_file_set_uint64(kf, "bundle", "verity-size", m->verity_size);
		set_optional(kf, "bundle", "crypt-key", m->crypt_key);
	}

	set_optional(kf, "hooks", "filename", m->hook_filename);
	set_hooks(kf, "hooks", m->hooks);
	set_optional(kf, "handler", "filename", m->handler_filename);
	set_optional(kf, "handler", "args", m->handler_args);

	for (guint i = 0; i < m->images->len; i++)
		write_image(kf, g_ptr_array_index(m->images, i));

	for (char **g = meta_groups; *g; g++) {
		g_auto(GStrv) keys = g_key_file_get_keys(m->meta, *g, NULL, NULL);

		for (char **k = keys; k && *k; k++) {
			g_autofree char *value = g_key_file_get_value(m->meta, *g, *k, NULL);

			g_key_file_set_value(kf, *g, *k, value);
		}
	}
	return g_key_file_to_data(kf, length, NULL);
}

char *ota_manifest_get_meta(const OtaManifest *m, const char *label, const char *key)
{
	g_autofree char *group = g_strdup_printf("meta.%s", label);

	return g_key_file_get_string(m->meta, group, key, NULL);
}
