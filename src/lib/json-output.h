/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON helpers of the audit log and of both CLIs' --output-format=json:
 * members that may be NULL, and a finished document on stdout. One source,
 * compiled into the library (hidden) and into each CLI. */
#pragma once

#include <json-glib/json-glib.h>

/* Adds member @key: @value, or null when @value is NULL. */
void json_output_add_string(JsonBuilder *builder, const char *key, const char *value);
/* Adds member @key: an array of the strings of @values (NULL: empty). */
void json_output_add_strv(JsonBuilder *builder, const char *key, char **values);
void json_output_add_int(JsonBuilder *builder, const char *key, guint64 value);
void json_output_add_bool(JsonBuilder *builder, const char *key, gboolean value);

/* Prints the document @builder holds, pretty, and a newline. */
void json_output_print(JsonBuilder *builder);
