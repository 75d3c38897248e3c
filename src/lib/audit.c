/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "audit-private.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "error-private.h"
#include "json-output.h"
#include "openssl-private.h"

G_DEFINE_QUARK(ota-audit-error-quark, ota_audit_error)

/* The signer of @sig with certificate @fingerprint, which carries a timestamp. */
static const OtaSignerInfo *timestamped_signer(const OtaSignature *sig, const char *fingerprint)
{
	gint64 time;

	for (guint i = 0; sig != NULL && i < ota_signature_get_n_signers(sig); i++) {
		const OtaSignerInfo *info = ota_signature_get_signer(sig, i);

		if (g_strcmp0(ota_signer_info_get_certificate_sha256(info), fingerprint) == 0 &&
		    ota_signer_info_get_timestamp_time(info, &time))
			return info;
	}
	return NULL;
}

static char *audit_line(const OtaAuditEvent *event, const OtaSigner *signer, const char *now)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree char *subject = ota_x509_name_to_string(X509_get_subject_name(signer->cert));
	g_autofree char *fingerprint = ota_x509_certificate_sha256(signer->cert);
	char digest[OTA_SHA256_HEX_LEN + 1];
	g_autofree char *json = NULL;
	const OtaSignerInfo *stamped;

	ota_checksum_to_hex(event->signed_sha256, digest);
	json_output_begin_document(b, JSON_SCHEMA_AUDIT);
	json_output_add_string(b, "time", now);
	json_output_add_string(b, "operation", event->operation);
	json_output_add_string(b, "bundle", event->bundle);
	json_output_add_string(b, "format", event->format);
	json_output_add_string(b, "signed_sha256", digest);
	json_output_add_string(b, "verity_root_hash", event->verity_root);
	json_output_add_string(b, "signer_subject", subject);
	json_output_add_string(b, "certificate_sha256", fingerprint);
	/* Already stripped of any pin-value when the signer was loaded. */
	json_output_add_string(b, "key_uri", signer->key_uri);
	stamped = timestamped_signer(event->signature, fingerprint);
	if (stamped != NULL) {
		json_builder_set_member_name(b, "timestamp");
		json_builder_begin_object(b);
		json_output_add_string(b, "time", ota_signer_info_get_timestamp_time_string(stamped));
		json_output_add_string(b, "tsa", ota_signer_info_get_timestamp_tsa(stamped));
		json_builder_end_object(b);
	} else {
		json_output_add_null(b, "timestamp");
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	json = json_generator_to_data(gen, NULL);
	return g_strconcat(json, "\n", NULL);
}

gboolean ota_audit_append(const char *path, const OtaAuditEvent *event,
                          OtaSigner *const *signers, gsize n_signers, GError **error)
{
	g_autoptr(GDateTime) utc = g_date_time_new_now_utc();
	g_autofree char *now = g_date_time_format(utc, "%Y-%m-%dT%H:%M:%SZ");
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	gboolean ok = TRUE;

	if (fd < 0) {
		return ota_set_io_error(error, OTA_AUDIT_ERROR, OTA_AUDIT_ERROR_IO, path,
		                        "cannot open audit log", errno);
	}
	for (gsize i = 0; ok && i < n_signers; i++) {
		g_autofree char *line = audit_line(event, signers[i], now);
		gsize len = strlen(line);
		/* One write per line: O_APPEND makes it land whole at the end. */
		ssize_t n = write(fd, line, len);

		if (n < 0 || (gsize)n != len) {
			ok = ota_set_io_error(error, OTA_AUDIT_ERROR, OTA_AUDIT_ERROR_IO, path,
			                      "cannot append to audit log", n < 0 ? errno : EIO);
		}
	}
	if (ok && fsync(fd) < 0) {
		ok = ota_set_io_error(error, OTA_AUDIT_ERROR, OTA_AUDIT_ERROR_IO, path, "fsync failed",
		                      errno);
	}
	close(fd);
	return ok;
}
