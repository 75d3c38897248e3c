/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON helpers of the audit log and of both CLIs' --output-format=json:
 * members that may be NULL, and a finished document on stdout. One source,
 * compiled into the library (hidden) and into each CLI. */
#pragma once

#include <json-glib/json-glib.h>
#include <otabundle/signature.h>

/* The `schema` member of each kind of document: "PROGRAM/KIND/MAJOR". Its
 * JSON Schema is contrib/schema/KIND.schema.json (otabundle-install's:
 * install-KIND); MAJOR changes only when a member is removed, renamed or
 * retyped or a value changes meaning (otabundle(1), JSON OUTPUT). */
#define JSON_SCHEMA_INFO "otabundle/info/1"
#define JSON_SCHEMA_VERIFY "otabundle/verify/1"
#define JSON_SCHEMA_AUDIT "otabundle/audit/1"
#define JSON_SCHEMA_TRUST "otabundle/trust/1"
#define JSON_SCHEMA_INSTALL_INFO "otabundle-install/info/1"
#define JSON_SCHEMA_INSTALL_STATUS "otabundle-install/status/1"
#define JSON_SCHEMA_INSTALL_CHECK_CONFIG "otabundle-install/check-config/1"

/* Begins the document's object with its "schema": @schema. */
void json_output_begin_document(JsonBuilder *builder, const char *schema);
/* Adds member @key: @value, or null when @value is NULL. */
void json_output_add_string(JsonBuilder *builder, const char *key, const char *value);
/* Adds member @key: an array of the strings of @values (NULL: empty). */
void json_output_add_strv(JsonBuilder *builder, const char *key, char **values);
void json_output_add_int(JsonBuilder *builder, const char *key, guint64 value);
void json_output_add_bool(JsonBuilder *builder, const char *key, gboolean value);
void json_output_add_null(JsonBuilder *builder, const char *key);
/* Adds "error": null without @error, else {"code": ota_error_code(),
 * "message": the first line of its message}. */
void json_output_add_error(JsonBuilder *builder, const GError *error);

/* Adds "signers": every signer of @sig with its status (none without
 * @sig), as info and verify (and rauc info) show them. */
void json_output_add_signers(JsonBuilder *builder, const OtaSignature *sig);
/* Adds "meta": {label: {key: value}} of a manifest's [meta.<label>] groups. */
void json_output_add_meta(JsonBuilder *builder, GKeyFile *meta);

/* Prints the document @builder holds, pretty, and a newline. */
void json_output_print(JsonBuilder *builder);
/* The same, pretty or on one line (rauc's json vs json-pretty). */
void json_output_print_formatted(JsonBuilder *builder, gboolean pretty);
