/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "keyfile.h"

#include <otabundle/text.h>

#include <string.h>

gboolean ota_keyfile_name_is_valid(const char *name)
{
	if (name == NULL || name[0] == '\0' || !g_ascii_isalnum(name[0]))
		return FALSE;
	for (const char *p = name; *p; p++) {
		if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-')
			return FALSE;
	}
	return TRUE;
}

/* GKeyFile errors here only mean "absent". */
char *ota_keyfile_take_string(GKeyFile *kf, const char *group, const char *key)
{
	char *value = g_key_file_get_string(kf, group, key, NULL);

	g_key_file_remove_key(kf, group, key, NULL);
	return value;
}

gboolean ota_keyfile_take_required(GKeyFile *kf, const char *group, const char *key, char **out,
                                   const OtaKeyfileErrors *e, GError **error)
{
	*out = ota_keyfile_take_string(kf, group, key);
	if (*out != NULL && **out != '\0')
		return TRUE;
	g_set_error(error, e->domain(), e->missing, "missing key '%s' in group [%s]", key, group);
	return FALSE;
}

gboolean ota_keyfile_take_uint64(GKeyFile *kf, const char *group, const char *key, guint64 min,
                                 guint64 max, gboolean *present, guint64 *out,
                                 const OtaKeyfileErrors *e, GError **error)
{
	g_autofree char *value = ota_keyfile_take_string(kf, group, key);
	/* Values are the file's (a bundle's manifest): quoted escaped. */
	g_autofree char *escaped = NULL;

	*present = value != NULL;
	if (value == NULL)
		return TRUE;
	if (g_ascii_string_to_unsigned(value, 10, min, max, out, NULL))
		return TRUE;
	escaped = ota_text_escape(value);
	g_set_error(error, e->domain(), e->invalid,
	            "invalid %s '%s' in group [%s]: expected a decimal number from %" G_GUINT64_FORMAT
	            " to %" G_GUINT64_FORMAT, key, escaped, group, min, max);
	return FALSE;
}

gboolean ota_keyfile_take_bool(GKeyFile *kf, const char *group, const char *key, gboolean *out,
                               const OtaKeyfileErrors *e, GError **error)
{
	g_autofree char *value = ota_keyfile_take_string(kf, group, key);
	g_autofree char *escaped = NULL;

	if (value == NULL)
		return TRUE;
	if (g_str_equal(value, "true") || g_str_equal(value, "false")) {
		*out = g_str_equal(value, "true");
		return TRUE;
	}
	escaped = ota_text_escape(value);
	g_set_error(error, e->domain(), e->invalid,
	            "invalid %s '%s' in group [%s]: expected true or false", key, escaped, group);
	return FALSE;
}

gboolean ota_keyfile_check_no_duplicates(GKeyFile *kf, const OtaKeyfileErrors *e,
                                         GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

	for (char **g = groups; *g; g++) {
		g_auto(GStrv) keys = g_key_file_get_keys(kf, *g, NULL, NULL);
		g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

		for (char **k = keys; k && *k; k++) {
			if (!g_hash_table_add(seen, *k)) {
				g_set_error(error, e->domain(), e->invalid,
				            "duplicate key '%s' in group [%s]", *k, *g);
				return FALSE;
			}
		}
	}
	return TRUE;
}

gboolean ota_keyfile_check_nothing_left(GKeyFile *kf, const OtaKeyfileErrors *e, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

	for (char **g = groups; *g; g++) {
		g_auto(GStrv) keys = g_key_file_get_keys(kf, *g, NULL, NULL);

		if (keys != NULL && keys[0] != NULL) {
			g_set_error(error, e->domain(), e->unknown, "unknown key '%s' in group [%s]",
			            keys[0], *g);
			return FALSE;
		}
	}
	return TRUE;
}

gboolean ota_keyfile_check_no_locale_keys(const char *data, gsize length,
                                          const OtaKeyfileErrors *e, GError **error)
{
	g_autofree char *text = g_strndup(data, length);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (char **l = lines; *l; l++) {
		const char *line = *l;
		const char *equals;
		const char *bracket;

		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '#' || *line == '[' || *line == '\0')
			continue;
		equals = strchr(line, '=');
		bracket = strchr(line, '[');
		if (equals != NULL && bracket != NULL && bracket < equals) {
			g_set_error(error, e->domain(), e->invalid,
			            "localized key '%.*s' is not allowed", (int)(equals - line), line);
			return FALSE;
		}
	}
	return TRUE;
}
