/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to libotabundle: strict parsing of INI files by consumption, shared
 * by the manifest and system.conf parsers. Each accessor removes what it
 * read, so whatever remains at the end is an unknown key. */
#pragma once

#include <glib.h>

/* The caller's error domain and codes. */
typedef struct {
	GQuark (*domain)(void);
	gint missing;
	gint invalid;
	gint unknown;
} OtaKeyfileErrors;

/* Letters, digits, '_' and '-', starting with a letter or digit: names that
 * can't be mistaken for a path or a group separator. */
gboolean ota_keyfile_name_is_valid(const char *name);

char *ota_keyfile_take_string(GKeyFile *kf, const char *group, const char *key);
gboolean ota_keyfile_take_required(GKeyFile *kf, const char *group, const char *key, char **out,
                                   const OtaKeyfileErrors *e, GError **error);
/* A decimal number in [min, max]; *present says whether the key was there. */
gboolean ota_keyfile_take_uint64(GKeyFile *kf, const char *group, const char *key, guint64 min,
                                 guint64 max, gboolean *present, guint64 *out,
                                 const OtaKeyfileErrors *e, GError **error);
/* "true" or "false"; absent leaves *out unchanged. */
gboolean ota_keyfile_take_bool(GKeyFile *kf, const char *group, const char *key, gboolean *out,
                               const OtaKeyfileErrors *e, GError **error);

/* GKeyFile keeps a repeated key (also from a repeated group header) and
 * answers with the last one, where another parser might take the first:
 * a file that means two things is refused. */
gboolean ota_keyfile_check_no_duplicates(GKeyFile *kf, const OtaKeyfileErrors *e,
                                         GError **error);
/* GKeyFile reads "key[locale]=" as a translation of "key" and hides it from
 * g_key_file_get_keys(), so consumption can't see it: another parser might
 * read it as a key of its own. Refused, from the raw text. */
gboolean ota_keyfile_check_no_locale_keys(const char *data, gsize length,
                                          const OtaKeyfileErrors *e, GError **error);

gboolean ota_keyfile_check_nothing_left(GKeyFile *kf, const OtaKeyfileErrors *e,
                                        GError **error);
