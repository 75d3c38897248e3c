/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RFC 3161 time-stamp tokens on signatures: a Time-Stamping Authority (TSA)
 * attests that a signer's signature value existed at a time, so that a
 * reader trusting that TSA can check the signer's certificate at that time
 * instead of now (otabundle(1), TIMESTAMPS). The token rides in the
 * signer's unsigned attribute id-aa-timeStampToken (RFC 3161 appendix A),
 * which RAUC ignores. The signer accessors are in <otabundle/signature.h>,
 * the policy's in <otabundle/policy.h>, the bundle commands in
 * <otabundle/bundle.h>. */
#pragma once

#include <otabundle/api.h>

OTA_BEGIN_DECLS

/* The error domain of this module's GErrors; the codes are below. */
#define OTA_TIMESTAMP_ERROR ota_timestamp_error_quark()
GQuark ota_timestamp_error_quark(void);

typedef enum {
	OTA_TIMESTAMP_ERROR_MALFORMED, /* a TSA answer, request or token that does not parse */
	OTA_TIMESTAMP_ERROR_INVALID,   /* a token whose own signature fails: tampering */
	OTA_TIMESTAMP_ERROR_TRANSFER,  /* the TSA unreachable, an HTTP error, a timeout */
	OTA_TIMESTAMP_ERROR_REFUSED,   /* the TSA answered with a status other than granted */
	OTA_TIMESTAMP_ERROR_MISMATCH,  /* the token answers another request (imprint, nonce) */
	OTA_TIMESTAMP_ERROR_UNTRUSTED, /* TSA certificate without the purpose, or outside the keyring */
	OTA_TIMESTAMP_ERROR_INPUT,     /* no such signer, or it has a token already */
} OtaTimestampError;

/* Seconds one request to a TSA may take, connection included. */
#define OTA_TIMESTAMP_DEFAULT_TIMEOUT 60

/* Where and how signing commands get tokens: one request per new signer,
 * with a SHA-256 imprint of its signature value, a fresh nonce and
 * certReq, checked before the token is stored (status granted, the
 * token's signature by its TSA certificate, which has the timeStamping
 * purpose and the ESS signingCertificate names, imprint and nonce). */
typedef struct {
	const char *url;    /* http:// or https:// */
	const char *tls_ca; /* https: PEM file of the CAs to trust; NULL: the system's */
	guint timeout;      /* seconds per request; 0: OTA_TIMESTAMP_DEFAULT_TIMEOUT */
	/* Each token's TSA must also chain to these certificates (a PEM file
	 * or a hashed directory), checked at the token's time; NULL: any TSA. */
	const char *tsa_keyring;
} OtaTimestampOptions;

/* Whether @options can be used before anything is signed: an http:// or
 * https:// URL, TLS CAs only for https. FALSE with
 * OTA_TIMESTAMP_ERROR_INPUT saying what is wrong. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_timestamp_check_options(const OtaTimestampOptions *options, GError **error);

OTA_END_DECLS
