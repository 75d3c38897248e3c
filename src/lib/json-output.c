/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json-output.h"

#include <otabundle/error.h>
#include <otabundle/signature.h>

#include <string.h>

void json_output_begin_document(JsonBuilder *b, const char *schema)
{
	json_builder_begin_object(b);
	json_output_add_string(b, "schema", schema);
}

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

void json_output_add_null(JsonBuilder *b, const char *key)
{
	json_builder_set_member_name(b, key);
	json_builder_add_null_value(b);
}

void json_output_add_error(JsonBuilder *b, const GError *error)
{
	g_autofree char *message = NULL;

	if (error == NULL) {
		json_output_add_null(b, "error");
		return;
	}
	message = g_strndup(error->message, strcspn(error->message, "\n"));
	json_builder_set_member_name(b, "error");
	json_builder_begin_object(b);
	json_output_add_string(b, "code", ota_error_code(error));
	json_output_add_string(b, "message", message);
	json_builder_end_object(b);
}

void json_output_print(JsonBuilder *b)
{
	json_output_print_formatted(b, TRUE);
}

void json_output_print_formatted(JsonBuilder *b, gboolean pretty)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(b);
	g_autofree char *text = NULL;

	json_generator_set_pretty(gen, pretty);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, NULL);
	g_print("%s\n", text);
}

void json_output_add_signers(JsonBuilder *b, const OtaSignature *sig)
{
	json_builder_set_member_name(b, "signers");
	json_builder_begin_array(b);
	for (guint i = 0; sig != NULL && i < ota_signature_get_n_signers(sig); i++) {
		const OtaSignerInfo *s = ota_signature_get_signer(sig, i);

		json_builder_begin_object(b);
		json_output_add_string(b, "subject", ota_signer_info_get_subject(s));
		json_output_add_string(b, "issuer", ota_signer_info_get_issuer(s));
		json_output_add_string(b, "certificate_sha256", ota_signer_info_get_certificate_sha256(s));
		json_output_add_string(b, "spki_sha256", ota_signer_info_get_spki_sha256(s));
		json_output_add_string(b, "not_before", ota_signer_info_get_not_before(s));
		json_output_add_string(b, "not_after", ota_signer_info_get_not_after(s));
		json_output_add_string(b, "status", ota_signer_status_to_string(ota_signer_info_get_status(s)));
		json_output_add_string(b, "reason", ota_signer_info_get_reason(s));
		json_output_add_bool(b, "nested", ota_signer_info_is_nested(s));
		if (ota_signer_info_get_timestamp_time_string(s) != NULL) {
			json_builder_set_member_name(b, "timestamp");
			json_builder_begin_object(b);
			json_output_add_string(b, "time", ota_signer_info_get_timestamp_time_string(s));
			json_output_add_string(b, "tsa", ota_signer_info_get_timestamp_tsa(s));
			json_output_add_bool(b, "trusted", ota_signer_info_timestamp_is_trusted(s));
			json_output_add_string(b, "reason", ota_signer_info_get_timestamp_reason(s));
			json_builder_end_object(b);
		} else {
			json_output_add_null(b, "timestamp");
		}
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

void json_output_add_meta(JsonBuilder *b, GKeyFile *meta)
{
	g_auto(GStrv) groups = g_key_file_get_groups(meta, NULL);

	json_builder_set_member_name(b, "meta");
	json_builder_begin_object(b);
	for (char **g = groups; *g; g++) {
		g_auto(GStrv) keys = g_key_file_get_keys(meta, *g, NULL, NULL);

		json_builder_set_member_name(b, *g + strlen("meta."));
		json_builder_begin_object(b);
		for (char **k = keys; k && *k; k++) {
			g_autofree char *value = g_key_file_get_string(meta, *g, *k, NULL);

			json_output_add_string(b, *k, value);
		}
		json_builder_end_object(b);
	}
	json_builder_end_object(b);
}
