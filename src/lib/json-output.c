/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json-output.h"

void json_output_add_string(JsonBuilder *b, const char *key, const char *value)
{
	json_builder_set_member_name(b, key);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

void json_output_add_strv(JsonBuilder *b, const char *key, char **values)
{
	json_builder_set_member_name(b, key);
	json_builder_begin_array(b);
	for (char **v = values; v && *v; v++)
		json_builder_add_string_value(b, *v);
	json_builder_end_array(b);
}

void json_output_add_int(JsonBuilder *b, const char *key, guint64 value)
{
	json_builder_set_member_name(b, key);
	json_builder_add_int_value(b, (gint64)value);
}

void json_output_add_bool(JsonBuilder *b, const char *key, gboolean value)
{
	json_builder_set_member_name(b, key);
	json_builder_add_boolean_value(b, value);
}

void json_output_print(JsonBuilder *b)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(b);
	g_autofree char *text = NULL;

	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, NULL);
	g_print("%s\n", text);
}
