/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libotabundle; not installed. */
#pragma once

#include "checksum-private.h"
#include <otabundle/keys.h>
#include <otabundle/signature.h>

G_BEGIN_DECLS

#define OTA_AUDIT_ERROR ota_audit_error_quark()
GQuark ota_audit_error_quark(void);

typedef enum {
	OTA_AUDIT_ERROR_IO,
} OtaAuditError;

/* What was signed: one event yields one line per signer. */
typedef struct {
	const char *operation; /* "create", "sign", ... */
	const char *bundle;    /* the bundle path as given */
	const char *format;    /* "plain" or "verity" */
	const guint8 *signed_sha256; /* the digest every signer signed */
	const char *verity_root;     /* verity: the root hash the manifest carries */
	const OtaSignature *signature; /* the CMS made: each signer's timestamp, or NULL */
} OtaAuditEvent;

/* Appends one JSON object per signer, each on its own line: time (UTC,
 * RFC 3339), operation, bundle, format, signed_sha256, verity_root_hash,
 * signer subject, certificate_sha256, key_uri (never a PIN) and the
 * signer's RFC 3161 timestamp in event->signature (time and TSA, or null). Each line
 * is one write() to an O_APPEND descriptor, then fsync, so concurrent
 * signers appending to one log never interleave. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_audit_append(const char *path, const OtaAuditEvent *event,
                          OtaSigner *const *signers, gsize n_signers, GError **error);

G_END_DECLS
