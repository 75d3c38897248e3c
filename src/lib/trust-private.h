/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The insides of a parsed trust list, for the library (trust.c, the host's
 * trust-sign.c, the device's trust storage) and its tests; not installed. */
#pragma once

#include <otabundle/trust.h>

G_BEGIN_DECLS

/* Trust documents and signed trust lists are small; anything larger is
 * refused before it is parsed. */
#define OTA_TRUST_MAX_SIZE (4u * 1024 * 1024)

/* One trust anchor of a tier. */
typedef struct {
	X509 *cert;
	char *base64; /* its DER, as the document has it */
	char *subject; /* RFC 2253, for messages */
	char *cert_sha256; /* lower-case hex */
	gboolean has_not_before;
	gint64 not_before; /* seconds since the epoch, inclusive */
	gboolean has_not_after;
	gint64 not_after; /* inclusive */
} OtaTrustAnchorEntry;

/* One [tier.<name>] group. */
typedef struct {
	char *name;
	guint threshold;
	OtaPurpose purpose;
	OtaCheckTime check_time;
	GPtrArray *anchors; /* OtaTrustAnchorEntry*, in document order */
	GPtrArray *revoked_spki; /* char*: SubjectPublicKeyInfo SHA-256, lower-case hex, sorted */
	GPtrArray *revoked_certs; /* char*: certificate SHA-256, likewise */
	char *canonical; /* what "changed" compares (see tier_canonical()) */
} OtaTrustTierEntry;

struct OtaTrust {
	guint64 version;
	GPtrArray *tiers; /* OtaTrustTierEntry*, "default" first, then in document order */
	char **tier_names; /* NULL-terminated, in the same order */
	GBytes *document; /* the trust document (the signed content, or the bare file) */
	char *document_sha256;
	GBytes *signature_der; /* the signed file, or NULL for a bare document */
	OtaSignature *signature;
};

/* The tier @name of @trust, or NULL. */
const OtaTrustTierEntry *ota_trust_get_tier(const OtaTrust *trust, const char *name);

/* The document (bytes as signed), and the whole signed file (NULL for a
 * bare document); owned by @trust. */
GBytes *ota_trust_get_document(const OtaTrust *trust);
GBytes *ota_trust_get_signed_data(const OtaTrust *trust);

/* Whether @anchor is valid at @now (seconds since the epoch). */
gboolean ota_trust_anchor_is_valid_at(const OtaTrustAnchorEntry *anchor, gint64 now);

/* @unix_time as the documents write it: "2026-01-31T00:00:00Z". */
char *ota_trust_format_time(gint64 unix_time);

G_END_DECLS
