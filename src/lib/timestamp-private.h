/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RFC 3161 tokens inside the library: parsing a signer's token, checking
 * it, requesting new ones and storing them. Not installed. */
#pragma once

#include <otabundle/timestamp.h>

#include <openssl/cms.h>
#include <openssl/ts.h>

#include "signature-private.h"

G_BEGIN_DECLS

/* A signer's token, parsed (structure only) and, after
 * ota_timestamp_evaluate(), judged. */
typedef struct OtaTimestamp {
	CMS_ContentInfo *token;
	TS_TST_INFO *tst_info;
	X509 *tsa_cert;    /* the token's signer certificate (owned by @token), or NULL */
	gint64 time;       /* genTime, whole seconds */
	char *time_string; /* RFC 3339 UTC */
	char *tsa;         /* subject of @tsa_cert, "?" without one */
	gboolean trusted;
	char *reason; /* why not trusted */
} OtaTimestamp;

void ota_timestamp_free(OtaTimestamp *ts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaTimestamp, ota_timestamp_free)

/* The token in @si's unsigned attribute id-aa-timeStampToken into *@out
 * (NULL without one). A token that is there but is not exactly one
 * SignedData over one TSTInfo, with one signer, fails with
 * OTA_SIGNATURE_ERROR_PARSE: it is tampering, like any other bad CMS. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_timestamp_parse_signer(CMS_SignerInfo *si, OtaTimestamp **out, GError **error);

/* The token's own signature over its TSTInfo, by the certificate it
 * embeds (trust aside); failing means it was altered
 * (OTA_SIGNATURE_ERROR_INVALID). A token without its TSA certificate can't
 * be checked and is left to ota_timestamp_evaluate() to distrust. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_timestamp_check_crypto(const OtaTimestamp *ts, GError **error);

/* Judges @ts (checked by ota_timestamp_check_crypto()) as the token of the
 * SignerInfo @si, against the TSA certificates of @tsa_store (NULL: none,
 * so never trusted): sets ts->trusted and ts->reason. */
void ota_timestamp_evaluate(OtaTimestamp *ts, CMS_SignerInfo *si, X509_STORE *tsa_store);

/* A copy of the CMS signature @der in which every signer without a token,
 * nested ones included, has one from the TSA of @options (existing tokens
 * and signers are kept as they are). */
GBytes *ota_timestamp_signature(GBytes *der, const OtaTimestampOptions *options, GError **error);

/* The DER TimeStampReq for signer @index (0-based, as
 * ota_signature_get_signer() counts) of @sig: a SHA-256 imprint of its
 * signature value, a random nonce, certReq. Refuses a signer that has a
 * token already (OTA_TIMESTAMP_ERROR_INPUT). */
GBytes *ota_timestamp_request_for_signer(const OtaSignature *sig, guint index, GError **error);

/* @der (the CMS signature @sig was parsed from) with the token of the DER
 * TimeStampResp @response stored on the signer whose signature it stamps,
 * after checking it as OtaTimestampOptions says (no nonce: the request is
 * not at hand, and a token over a signature can't predate it), with
 * @tsa_keyring when given. The signer is found by the imprint; one that
 * has a token already is refused. *@signer_index tells which it was. */
GBytes *ota_timestamp_add_response(const OtaSignature *sig, GBytes *der, GBytes *response,
                                   const char *tsa_keyring, guint *signer_index,
                                   GError **error);

/* POSTs the DER TimeStampReq @request to @url (http or https) and returns
 * the body of a 200 answer, at most a few hundred KiB (tsa-client.c). */
GBytes *ota_tsa_client_post(const char *url, const char *tls_ca, guint timeout,
                            GBytes *request, GError **error);

G_END_DECLS
