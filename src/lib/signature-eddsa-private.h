/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ed25519 signers in CMS SignedData (RFC 8419), for signature.c; not
 * installed. OpenSSL 3.0's CMS can neither make nor check them, so these
 * build and check such a SignerInfo around it. */
#pragma once

#include <otabundle/keys.h>
#include <openssl/cms.h>

#include "checksum-private.h"

G_BEGIN_DECLS

/* Whether @cert (may be NULL) certifies an Ed25519 key: its SignerInfos
 * follow RFC 8419 (SHA-512, id-Ed25519), whatever they claim. */
gboolean ota_eddsa_is_ed25519(X509 *cert);

/* Adds @signer's SignerInfo to @cms as RFC 8419 has it: digestAlgorithm
 * id-sha512, the signed attributes RAUC writes (contentType id-data,
 * signingTime, messageDigest = @content's SHA-512), signatureAlgorithm
 * id-Ed25519 without parameters, and the signature: PureEdDSA over the DER
 * of the signed attributes (SET OF, with the SET tag). The signature is
 * checked against the certificate before it is kept. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_eddsa_add_signer(CMS_ContentInfo *cms, OtaSigner *signer, const OtaChecksum *content,
                              GError **error);

/* The cryptographic checks of the Ed25519 SignerInfo @si whose certificate
 * is @cert, as strict as those of other signers: digest algorithm SHA-512
 * (@sha512_listed: SignedData.digestAlgorithms lists it), signature
 * algorithm id-Ed25519, signed attributes present and well formed, the
 * signature over them, contentType id-data, and, unless @content is NULL
 * (content not read yet), messageDigest = @content's SHA-512 (which it
 * must have). Errors are OTA_SIGNATURE_ERROR, naming @subject. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_eddsa_check_signer(CMS_SignerInfo *si, X509 *cert, const char *subject,
                                gboolean sha512_listed, const OtaChecksum *content,
                                GError **error);

/* Adds to @target a copy of @from, a SignerInfo of another SignedData
 * whose certificate is known, made through CMS_add1_signer() so that
 * @target's digestAlgorithms lists its digest algorithm (the only public
 * way to add to that set, which verifiers digest with): a SHA-512 signer
 * merged into a SHA-256 SignedData, or the reverse. Its signer identifier,
 * algorithms, attributes and signature are those of @from. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_eddsa_copy_signer_info(CMS_ContentInfo *target, CMS_SignerInfo *from,
                                    GError **error);

G_END_DECLS
