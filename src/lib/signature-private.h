/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The insides of a parsed signature, for the library (signature.c, the
 * bundle modules) and its tests; not installed. */
#pragma once

#include <otabundle/signature.h>

G_BEGIN_DECLS

struct OtaSignerInfo {
	char *subject;
	char *issuer;
	char *cert_sha256; /* SHA-256 of the certificate DER, lower-case hex */
	char *spki_sha256; /* SHA-256 of the SubjectPublicKeyInfo DER */
	char *key_id;      /* ota_keys_public_key_id(): what is counted once, or NULL */
	char *not_before;  /* RFC 3339 UTC */
	char *not_after;
	OtaSignerStatus status;
	char *reason;    /* why not counted, or NULL */
	gboolean nested; /* carried inside the primary SignerInfo */

	/* Where this signer lives (owned by the OtaSignature). */
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
};

struct OtaSignature {
	CMS_ContentInfo *cms;
	gboolean detached;
	GPtrArray *signers; /* OtaSignerInfo*: the SignerInfos, then nested signers */
	GPtrArray *nested;  /* CMS_ContentInfo* of nested signatures */
	guint counted;      /* distinct trusted signer keys after verify */
};

G_END_DECLS
