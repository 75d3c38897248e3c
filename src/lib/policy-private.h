/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the library needs from a policy beyond its API; not installed. */
#pragma once

#include <otabundle/policy.h>

#include <time.h>

G_BEGIN_DECLS

/* ota_policy_check_signer(), with certificate times checked at *@at
 * (@at NULL: now; see ota_policy_set_use_signing_time()), also telling
 * (in *@missing_issuer_name, else NULL) the issuer of @cert when the chain
 * stopped right there, because no certificate of that issuer was embedded
 * or in the keyring: the usual sign of a forgotten intermediate. */
OtaSignerStatus ota_policy_check_signer_chain(const OtaPolicy *policy, X509 *cert,
                                              OtaX509Stack *untrusted, const time_t *at,
                                              char **reason, char **missing_issuer_name);

G_END_DECLS
