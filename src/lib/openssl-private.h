/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OpenSSL helpers the library shares: error messages, and how a
 * certificate is named and fingerprinted wherever it is shown or logged.
 * Not installed. */
#pragma once

#include <otabundle/openssl.h>

G_BEGIN_DECLS

/* Sets @error to "<message>: <decisive OpenSSL reason>", followed on further
 * lines by the whole OpenSSL error queue (which callers print only with
 * --verbose), and clears the queue so the next failure starts clean. */
void ota_set_openssl_error(GError **error, GQuark domain, gint code,
                           const char *format, ...) G_GNUC_PRINTF(4, 5);

/* @name in RFC 2253 form ("CN=signer,O=example"), or "?" if OpenSSL can't. */
char *ota_x509_name_to_string(const X509_NAME *name);

/* SHA-256 of @cert's DER, lower-case hex, or "?" if OpenSSL can't. */
char *ota_x509_certificate_sha256(X509 *cert);
/* SHA-256 of @cert's SubjectPublicKeyInfo DER, lower-case hex, or "?". */
char *ota_x509_spki_sha256(X509 *cert);

G_END_DECLS
