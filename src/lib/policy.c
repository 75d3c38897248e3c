/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/policy.h>

#include <otabundle/keys.h>

#include <dirent.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include "error-private.h"
#include "openssl-private.h"
#include "policy-private.h"

G_DEFINE_QUARK(ota-policy-error-quark, ota_policy_error)

gboolean ota_purpose_from_string(const char *name, OtaPurpose *purpose)
{
	if (g_strcmp0(name, "any") == 0)
		*purpose = OTA_PURPOSE_ANY;
	else if (g_strcmp0(name, "smimesign") == 0)
		*purpose = OTA_PURPOSE_SMIMESIGN;
	else if (g_strcmp0(name, "codesign") == 0)
		*purpose = OTA_PURPOSE_CODESIGN;
	else
		return FALSE;
	return TRUE;
}

const char *ota_purpose_to_string(OtaPurpose purpose)
{
	switch (purpose) {
	case OTA_PURPOSE_SMIMESIGN:
		return "smimesign";
	case OTA_PURPOSE_CODESIGN:
		return "codesign";
	case OTA_PURPOSE_ANY:
		break;
	}
	return "any";
}

const char *ota_signer_status_to_string(OtaSignerStatus status)
{
	switch (status) {
	case OTA_SIGNER_UNCHECKED:
		return "unchecked";
	case OTA_SIGNER_COUNTED:
		return "counted";
	case OTA_SIGNER_UNTRUSTED:
		return "untrusted";
	case OTA_SIGNER_EXPIRED:
		return "expired";
	case OTA_SIGNER_REVOKED:
		return "revoked";
	case OTA_SIGNER_DUPLICATE_KEY:
		return "duplicate-key";
	}
	return "unknown";
}

struct OtaPolicy {
	X509_STORE *store;
	OtaPurpose purpose;
	gboolean check_time;
	gboolean check_crl;
	gboolean use_signing_time;
	gboolean require_timestamp; /* OTA_CHECK_TIME_TIMESTAMP */
	X509_STORE *tsa_store;      /* trusted TSAs, or NULL */
	gboolean now_set;           /* else "now" is the clock's */
	gint64 now;
	guint threshold; /* N of N-of-M, at least 1 */
	GHashTable *revoked_spki; /* SHA-256 hex of SubjectPublicKeyInfos, or NULL */
	GHashTable *revoked_certs; /* SHA-256 hex of certificates, or NULL */
	char *revoked_reason;
};

guint ota_policy_get_threshold(const OtaPolicy *policy)
{
	return policy->threshold;
}

void ota_policy_set_use_signing_time(OtaPolicy *policy, gboolean use)
{
	policy->use_signing_time = use;
}

gboolean ota_policy_get_use_signing_time(const OtaPolicy *policy)
{
	return policy->use_signing_time && policy->check_time;
}

void ota_policy_set_check_time(OtaPolicy *policy, OtaCheckTime mode)
{
	policy->check_time = mode != OTA_CHECK_TIME_NONE;
	policy->use_signing_time = mode == OTA_CHECK_TIME_SIGNING_TIME;
	policy->require_timestamp = mode == OTA_CHECK_TIME_TIMESTAMP;
}

OtaCheckTime ota_policy_get_check_time(const OtaPolicy *policy)
{
	if (!policy->check_time)
		return OTA_CHECK_TIME_NONE;
	if (policy->use_signing_time)
		return OTA_CHECK_TIME_SIGNING_TIME;
	if (policy->require_timestamp)
		return OTA_CHECK_TIME_TIMESTAMP;
	return OTA_CHECK_TIME_DEVICE;
}

static const char *const check_time_names[] = {
	[OTA_CHECK_TIME_DEVICE] = "device",
	[OTA_CHECK_TIME_TIMESTAMP] = "timestamp",
	[OTA_CHECK_TIME_SIGNING_TIME] = "signing-time",
	[OTA_CHECK_TIME_NONE] = "none",
};

gboolean ota_check_time_from_string(const char *name, OtaCheckTime *mode)
{
	for (gsize i = 0; i < G_N_ELEMENTS(check_time_names); i++) {
		if (g_strcmp0(name, check_time_names[i]) == 0) {
			*mode = (OtaCheckTime)i;
			return TRUE;
		}
	}
	return FALSE;
}

const char *ota_check_time_to_string(OtaCheckTime mode)
{
	return (gsize)mode < G_N_ELEMENTS(check_time_names) ? check_time_names[mode] : "device";
}

void ota_policy_set_now(OtaPolicy *policy, gint64 unix_time)
{
	policy->now_set = TRUE;
	policy->now = unix_time;
}

X509_STORE *ota_policy_get_tsa_store(const OtaPolicy *policy)
{
	return policy->tsa_store;
}

void ota_policy_free(OtaPolicy *policy)
{
	if (policy == NULL)
		return;
	X509_STORE_free(policy->store);
	X509_STORE_free(policy->tsa_store);
	g_clear_pointer(&policy->revoked_spki, g_hash_table_unref);
	g_clear_pointer(&policy->revoked_certs, g_hash_table_unref);
	g_free(policy->revoked_reason);
	g_free(policy);
}

static gboolean add_crls(X509_STORE *store, const char *path, GError **error)
{
	g_autoptr(BIO) bio = BIO_new_file(path, "r");
	X509_CRL *crl;
	int n = 0;

	if (bio == NULL) {
		ota_set_openssl_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING,
		                      "%s: cannot open CRL file", path);
		return FALSE;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		int ok = X509_STORE_add_crl(store, crl);

		X509_CRL_free(crl);
		if (ok != 1) {
			ota_set_openssl_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING,
			                      "%s: cannot use CRL", path);
			return FALSE;
		}
		n++;
	}
	if (n == 0) {
		ota_set_openssl_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING,
		                      "%s: no PEM CRL could be read", path);
		return FALSE;
	}
	ERR_clear_error(); /* the "no start line" that ends the loop */
	return TRUE;
}

static gboolean add_keyring_file(X509_STORE *store, const char *path, GError **error)
{
	g_autoptr(OtaX509Stack) anchors = NULL;
	g_autoptr(GError) ierror = NULL;

	anchors = ota_keys_load_certificates(path, &ierror);
	if (anchors == NULL) {
		g_set_error_literal(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING, ierror->message);
		return FALSE;
	}
	for (int i = 0; i < sk_X509_num(anchors); i++) {
		if (X509_STORE_add_cert(store, sk_X509_value(anchors, i)) != 1) {
			ota_set_openssl_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING,
			                      "%s: cannot add certificate %d", path, i + 1);
			return FALSE;
		}
	}
	return TRUE;
}

/* The names `openssl rehash` gives certificates: eight lower-case hex
 * digits of the subject hash, a dot, a decimal sequence number (CRLs get
 * ".rN", which OpenSSL finds there too). */
static gboolean is_hashed_certificate_name(const char *name)
{
	const char *p = name;

	for (; p - name < 8; p++) {
		if (!g_ascii_isdigit(*p) && !(*p >= 'a' && *p <= 'f'))
			return FALSE;
	}
	if (*p++ != '.' || *p == '\0')
		return FALSE;
	for (; *p != '\0'; p++) {
		if (!g_ascii_isdigit(*p))
			return FALSE;
	}
	return TRUE;
}

static gboolean has_hashed_certificate(const char *dir, GError **error)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	gboolean found = FALSE;

	if (d == NULL)
		return ota_set_io_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING, dir, NULL,
		                        errno);
	while (!found && (entry = readdir(d)) != NULL)
		found = is_hashed_certificate_name(entry->d_name);
	closedir(d);
	if (!found)
		g_set_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING,
		            "%s: keyring directory has no hashed certificate links (run 'openssl "
		            "rehash' on it)", dir);
	return found;
}

/* As RAUC's [keyring] directory: OpenSSL's hashed-directory lookup, which
 * reads a certificate when a chain needs its subject. Only the hashed
 * names count; other files in the directory are never read. */
static gboolean add_keyring_directory(X509_STORE *store, const char *dir, GError **error)
{
	X509_LOOKUP *lookup;

	if (!has_hashed_certificate(dir, error))
		return FALSE;
	lookup = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
	if (lookup == NULL || X509_LOOKUP_add_dir(lookup, dir, X509_FILETYPE_PEM) != 1) {
		ota_set_openssl_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING,
		                      "%s: cannot use keyring directory", dir);
		return FALSE;
	}
	return TRUE;
}

static gboolean add_keyring(X509_STORE *store, const char *path, GError **error)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return ota_set_io_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING, path, NULL,
		                        errno);
	if (S_ISDIR(st.st_mode))
		return add_keyring_directory(store, path, error);
	return add_keyring_file(store, path, error);
}

/* A policy with an empty store, for the constructors to fill. */
static OtaPolicy *policy_new_empty(OtaPurpose purpose, gboolean check_time, guint threshold,
                                   GError **error)
{
	g_autoptr(OtaPolicy) policy = g_new0(OtaPolicy, 1);

	if (threshold == 0) {
		g_set_error_literal(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_INVALID,
		                    "a threshold must be at least 1");
		return NULL;
	}
	policy->purpose = purpose;
	policy->check_time = check_time;
	policy->threshold = threshold;
	policy->store = X509_STORE_new();
	if (policy->store == NULL) {
		ota_set_openssl_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING,
		                      "cannot create certificate store");
		return NULL;
	}
	return g_steal_pointer(&policy);
}

OtaPolicy *ota_policy_new_from_anchors(OtaX509Stack *anchors, OtaPurpose purpose,
                                       gboolean check_time, guint threshold, GError **error)
{
	g_autoptr(OtaPolicy) policy = policy_new_empty(purpose, check_time, threshold, error);

	if (policy == NULL)
		return NULL;
	for (int i = 0; i < sk_X509_num(anchors); i++) {
		if (X509_STORE_add_cert(policy->store, sk_X509_value(anchors, i)) != 1) {
			ota_set_openssl_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING,
			                      "cannot add trust anchor %d", i + 1);
			return NULL;
		}
	}
	return g_steal_pointer(&policy);
}

static GHashTable *string_set_new(const char *const *strings)
{
	GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (const char *const *s = strings; s != NULL && *s != NULL; s++)
		g_hash_table_add(set, g_ascii_strdown(*s, -1));
	return set;
}

void ota_policy_set_revoked(OtaPolicy *policy, const char *const *spki_sha256,
                            const char *const *certificate_sha256, const char *reason)
{
	g_clear_pointer(&policy->revoked_spki, g_hash_table_unref);
	g_clear_pointer(&policy->revoked_certs, g_hash_table_unref);
	g_free(policy->revoked_reason);
	policy->revoked_spki = string_set_new(spki_sha256);
	policy->revoked_certs = string_set_new(certificate_sha256);
	policy->revoked_reason = g_strdup(reason ? reason : "revoked");
}

OtaPolicy *ota_policy_new_from_keyrings(const char *const *keyring_paths, const char *crl_path,
                                        OtaPurpose purpose, gboolean check_time,
                                        guint threshold, GError **error)
{
	g_autoptr(OtaPolicy) policy = NULL;

	if (keyring_paths == NULL || keyring_paths[0] == NULL) {
		g_set_error_literal(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_INVALID,
		                    "no keyring given");
		return NULL;
	}
	policy = policy_new_empty(purpose, check_time, threshold, error);
	if (policy == NULL)
		return NULL;
	policy->check_crl = crl_path != NULL;
	for (const char *const *path = keyring_paths; *path != NULL; path++) {
		if (!add_keyring(policy->store, *path, error))
			return NULL;
	}
	if (crl_path != NULL && !add_crls(policy->store, crl_path, error))
		return NULL;
	return g_steal_pointer(&policy);
}

X509_STORE *ota_policy_load_store(const char *path, GError **error)
{
	g_autoptr(X509_STORE) store = X509_STORE_new();

	if (store == NULL) {
		ota_set_openssl_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING,
		                      "cannot create certificate store");
		return NULL;
	}
	if (!add_keyring(store, path, error))
		return NULL;
	return g_steal_pointer(&store);
}

gboolean ota_policy_set_tsa_keyring(OtaPolicy *policy, const char *path, GError **error)
{
	X509_STORE *store = ota_policy_load_store(path, error);

	if (store == NULL)
		return FALSE;
	X509_STORE_free(policy->tsa_store);
	policy->tsa_store = store;
	return TRUE;
}

OtaPolicy *ota_policy_new(const char *keyring_path, const char *crl_path, OtaPurpose purpose,
                          gboolean check_time, guint threshold, GError **error)
{
	const char *const keyrings[] = {keyring_path, NULL};

	return ota_policy_new_from_keyrings(keyrings, crl_path, purpose, check_time, threshold,
	                                    error);
}

/* RAUC's codesign purpose: the leaf has the codeSigning extended key usage
 * and, when it has a key usage, digitalSignature; a CA that restricts its
 * extended key usage must allow codeSigning too. */
static const char *code_signing_problem(X509_STORE_CTX *ctx)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	X509 *leaf = sk_X509_value(chain, 0);
	uint32_t flags = X509_get_extension_flags(leaf);

	if (!(flags & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(leaf) & XKU_CODE_SIGN))
		return "certificate lacks the codeSigning extended key usage";
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE))
		return "certificate key usage does not allow digital signatures";
	for (int i = 1; i < sk_X509_num(chain); i++) {
		X509 *ca = sk_X509_value(chain, i);

		if ((X509_get_extension_flags(ca) & EXFLAG_XKUSAGE) &&
		    !(X509_get_extended_key_usage(ca) & XKU_CODE_SIGN))
			return "a CA certificate's extended key usage does not allow code signing";
	}
	return NULL;
}

/* OpenSSL's security level 2 refuses RSA and DSA keys under 2048 bits and
 * MD5/SHA-1 certificate signatures in the chain, but would take a 224-bit
 * curve; we want 256 bits of curve, as a signing key needs (keys.c). The
 * signer's key must also have an identity, or it could not be counted once
 * (ota_keys_public_key_id). */
#define MIN_SECURITY_LEVEL 2
#define MIN_EC_BITS 256

static const char *key_strength_problem(X509_STORE_CTX *ctx)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	g_autofree char *leaf_id = ota_keys_public_key_id(X509_get0_pubkey(sk_X509_value(chain, 0)));

	if (leaf_id == NULL)
		return "signer key is of an unsupported type (or an unnamed explicit curve)";
	for (int i = 0; i < sk_X509_num(chain); i++) {
		EVP_PKEY *key = X509_get0_pubkey(sk_X509_value(chain, i));

		if (key != NULL && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
		    EVP_PKEY_get_bits(key) < MIN_EC_BITS)
			return i == 0 ? "EE certificate key too weak (EC under 256 bits)"
			              : "CA certificate key too weak (EC under 256 bits)";
	}
	return NULL;
}

static OtaSignerStatus status_for(int x509_error)
{
	switch (x509_error) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return OTA_SIGNER_EXPIRED;
	case X509_V_ERR_CERT_REVOKED:
		return OTA_SIGNER_REVOKED;
	default:
		return OTA_SIGNER_UNTRUSTED;
	}
}

/* How one pass over a chain checks times and CRLs. Checked at a signing
 * time, a chain takes two passes: certificate validity at that time, then
 * revocation with CRLs judged at the current time, as without the option.
 * A CRL issued after the signature is the usual case (and the one that
 * revokes a key stolen since); at the signing time OpenSSL would call it
 * "not yet valid", and take a CRL outdated now for current. */
typedef enum {
	CHAIN_NOW,        /* times at the current time, CRLs when the policy has them */
	CHAIN_AT,         /* certificate times at *at, no CRLs */
	CHAIN_REVOCATION, /* CRLs at the current time; certificate times left to CHAIN_AT */
} ChainPass;

static int ignore_certificate_times(int ok, X509_STORE_CTX *ctx)
{
	int err = X509_STORE_CTX_get_error(ctx);

	if (!ok && (err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID)) {
		X509_STORE_CTX_set_error(ctx, X509_V_OK);
		return 1;
	}
	return ok;
}

/* A trusted timestamp's time (ota_policy_set_tsa_keyring()): whether
 * the revocation OpenSSL found for the certificate at hand took effect
 * only after @cutoff, so that a signature timestamped before it stands.
 * It took effect at its invalidityDate if that is earlier, else at its
 * revocationDate; a key or CA compromise without an invalidityDate says
 * nothing about when the key leaked, so it takes effect always. */
static gboolean revoked_only_after(X509_STORE_CTX *ctx, time_t cutoff)
{
	X509_CRL *crl = X509_STORE_CTX_get0_current_crl(ctx);
	X509 *cert = X509_STORE_CTX_get_current_cert(ctx);
	X509_REVOKED *entry = NULL;
	ASN1_ENUMERATED *reason = NULL;
	ASN1_GENERALIZEDTIME *invalidity = NULL;
	long code = -1;
	gboolean after;

	if (crl == NULL || cert == NULL || X509_CRL_get0_by_cert(crl, &entry, cert) != 1 ||
	    entry == NULL)
		return FALSE;
	reason = X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, NULL, NULL);
	invalidity = X509_REVOKED_get_ext_d2i(entry, NID_invalidity_date, NULL, NULL);
	if (reason != NULL)
		code = ASN1_ENUMERATED_get(reason);
	if (invalidity == NULL && (code == CRL_REASON_KEY_COMPROMISE ||
	                           code == CRL_REASON_CA_COMPROMISE ||
	                           code == CRL_REASON_AA_COMPROMISE))
		after = FALSE;
	else
		after = ASN1_TIME_cmp_time_t(X509_REVOKED_get0_revocationDate(entry), cutoff) == 1 &&
		        (invalidity == NULL || ASN1_TIME_cmp_time_t(invalidity, cutoff) == 1);
	ASN1_ENUMERATED_free(reason);
	ASN1_GENERALIZEDTIME_free(invalidity);
	ERR_clear_error();
	return after;
}

static int revocation_only(int ok, X509_STORE_CTX *ctx)
{
	const time_t *cutoff = X509_STORE_CTX_get_app_data(ctx);

	if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_CERT_REVOKED && cutoff != NULL &&
	    revoked_only_after(ctx, *cutoff)) {
		X509_STORE_CTX_set_error(ctx, X509_V_OK);
		return 1;
	}
	return ignore_certificate_times(ok, ctx);
}

static void set_verify_params(const OtaPolicy *policy, X509_STORE_CTX *ctx, ChainPass pass,
                              const time_t *at)
{
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	/* A pinned intermediate (or leaf) in the keyring is an anchor. */
	unsigned long flags = X509_V_FLAG_PARTIAL_CHAIN;

	if (!policy->check_time)
		flags |= X509_V_FLAG_NO_CHECK_TIME;
	/* Every certificate of the chain, as RAUC's check-crl does: a revoked
	 * intermediate CA must not keep its leaves trusted. */
	if (policy->check_crl && pass != CHAIN_AT)
		flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
		         X509_V_FLAG_EXTENDED_CRL_SUPPORT;
	X509_VERIFY_PARAM_set_flags(param, flags);
	if (pass == CHAIN_AT)
		X509_VERIFY_PARAM_set_time(param, *at);
	else if (policy->now_set)
		X509_VERIFY_PARAM_set_time(param, (time_t)policy->now);
	if (pass == CHAIN_REVOCATION) {
		/* @at here: the trusted timestamp revocations must precede. */
		X509_STORE_CTX_set_app_data(ctx, (void *)at);
		X509_STORE_CTX_set_verify_cb(ctx, revocation_only);
	}
	X509_VERIFY_PARAM_set_auth_level(param, MIN_SECURITY_LEVEL);
	if (policy->purpose == OTA_PURPOSE_SMIMESIGN)
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SMIME_SIGN);
}

/* The chain stopped at the signer's own certificate, whose issuer is
 * neither in the keyring nor embedded: that issuer's name. (A chain that
 * stops further up, at an embedded CA, more likely lacks its root in the
 * keyring than an intermediate in the signature.) */
static char *missing_issuer(X509_STORE_CTX *ctx, int x509_error)
{
	X509 *stopped_at = X509_STORE_CTX_get_current_cert(ctx);

	if ((x509_error != X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY &&
	     x509_error != X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) ||
	    X509_STORE_CTX_get_error_depth(ctx) != 0 || stopped_at == NULL)
		return NULL;
	return ota_x509_name_to_string(X509_get_issuer_name(stopped_at));
}

OtaSignerStatus ota_policy_check_signer(const OtaPolicy *policy, X509 *cert,
                                        OtaX509Stack *untrusted, char **reason)
{
	g_autofree char *issuer = NULL;

	return ota_policy_check_signer_chain(policy, cert, untrusted, NULL, reason, &issuer);
}

/* "certificate has expired at the signing time 2020-06-01T00:00:00Z" */
static char *time_error_at(int x509_error, time_t at, const char *at_what)
{
	g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc((gint64)at);
	g_autofree char *iso = when ? g_date_time_format(when, "%Y-%m-%dT%H:%M:%SZ") : NULL;

	return g_strdup_printf("%s at the %s %s", X509_verify_cert_error_string(x509_error), at_what,
	                       iso ? iso : "(out of range)");
}

/* Where a chain is checked at another time than now, and what that is. */
typedef struct {
	const time_t *at;       /* NULL: now */
	gboolean is_timestamp;  /* a trusted timestamp, not a signingTime */
} ChainTime;

/* One pass over @cert's chain (see ChainPass), in *@ctx_out. */
static OtaSignerStatus verify_chain(const OtaPolicy *policy, X509 *cert, OtaX509Stack *untrusted,
                                    ChainPass pass, const ChainTime *when,
                                    X509_STORE_CTX **ctx_out, char **reason,
                                    char **missing_issuer_name)
{
	/* Revocations are cut off at a trusted timestamp only. */
	const time_t *at = pass == CHAIN_REVOCATION && !when->is_timestamp ? NULL : when->at;
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int err;

	*ctx_out = ctx;
	if (ctx == NULL || X509_STORE_CTX_init(ctx, policy->store, cert, untrusted) != 1) {
		ERR_clear_error();
		*reason = g_strdup("cannot set up certificate verification");
		return OTA_SIGNER_UNTRUSTED;
	}
	set_verify_params(policy, ctx, pass, at);
	if (X509_verify_cert(ctx) == 1)
		return OTA_SIGNER_COUNTED;
	ERR_clear_error();
	err = X509_STORE_CTX_get_error(ctx);
	if (pass == CHAIN_AT && status_for(err) == OTA_SIGNER_EXPIRED)
		*reason = time_error_at(err, *at, when->is_timestamp ? "timestamp time" : "signing time");
	else
		*reason = g_strdup(X509_verify_cert_error_string(err));
	*missing_issuer_name = missing_issuer(ctx, err);
	return status_for(err);
}

static gboolean certificate_is_revoked(const OtaPolicy *policy, X509 *cert)
{
	g_autofree char *cert_sha256 = ota_x509_certificate_sha256(cert);
	g_autofree char *spki_sha256 = ota_x509_spki_sha256(cert);

	return g_hash_table_contains(policy->revoked_certs, cert_sha256) ||
	       g_hash_table_contains(policy->revoked_spki, spki_sha256);
}

/* ota_policy_set_revoked(): the signer's own certificate, and each one of
 * the chain OpenSSL built, whether or not the chain was trusted (so that
 * an expired and revoked signer is shown as revoked, the reason that will
 * not go away). Unlike a CRL entry, a revocation in a trust list has no
 * time: a timestamp from before it saves nothing, since a leaked key can
 * timestamp its signatures too. */
static gboolean is_revoked_by_list(const OtaPolicy *policy, X509 *cert, X509_STORE_CTX *ctx)
{
	STACK_OF(X509) *chain = ctx != NULL ? X509_STORE_CTX_get0_chain(ctx) : NULL;

	if (policy->revoked_certs == NULL)
		return FALSE;
	if (certificate_is_revoked(policy, cert))
		return TRUE;
	for (int i = 0; i < sk_X509_num(chain); i++) {
		if (certificate_is_revoked(policy, sk_X509_value(chain, i)))
			return TRUE;
	}
	return FALSE;
}

static OtaSignerStatus check_chain(const OtaPolicy *policy, X509 *cert, OtaX509Stack *untrusted,
                                   const ChainTime *when, char **reason,
                                   char **missing_issuer_name)
{
	const time_t *at = when->at;
	g_autoptr(X509_STORE_CTX) ctx = NULL;
	g_autoptr(X509_STORE_CTX) revocation_ctx = NULL;
	const char *problem;
	OtaSignerStatus status;

	*reason = NULL;
	*missing_issuer_name = NULL;
	if (cert == NULL) {
		*reason = g_strdup("signer certificate is not included in the signature");
		return OTA_SIGNER_UNTRUSTED;
	}
	if (at == NULL || !policy->check_time) {
		ChainTime now = {NULL, FALSE};

		status = verify_chain(policy, cert, untrusted, CHAIN_NOW, &now, &ctx, reason,
		                      missing_issuer_name);
	} else {
		status = verify_chain(policy, cert, untrusted, CHAIN_AT, when, &ctx, reason,
		                      missing_issuer_name);
		if (status == OTA_SIGNER_COUNTED && policy->check_crl)
			status = verify_chain(policy, cert, untrusted, CHAIN_REVOCATION, when,
			                      &revocation_ctx, reason, missing_issuer_name);
	}
	if (is_revoked_by_list(policy, cert, ctx)) {
		g_free(*reason);
		*reason = g_strdup(policy->revoked_reason);
		return OTA_SIGNER_REVOKED;
	}
	if (status != OTA_SIGNER_COUNTED)
		return status;
	problem = key_strength_problem(ctx);
	if (problem == NULL && policy->purpose == OTA_PURPOSE_CODESIGN)
		problem = code_signing_problem(ctx);
	if (problem != NULL) {
		*reason = g_strdup(problem);
		return OTA_SIGNER_UNTRUSTED;
	}
	return OTA_SIGNER_COUNTED;
}

OtaSignerStatus ota_policy_check_signer_chain(const OtaPolicy *policy, X509 *cert,
                                              OtaX509Stack *untrusted, const time_t *at,
                                              char **reason, char **missing_issuer_name)
{
	ChainTime when = {at, FALSE};

	return check_chain(policy, cert, untrusted, &when, reason, missing_issuer_name);
}

OtaSignerStatus ota_policy_check_signer_at_timestamp(const OtaPolicy *policy, X509 *cert,
                                                     OtaX509Stack *untrusted, time_t at,
                                                     char **reason, char **missing_issuer_name)
{
	ChainTime when = {&at, TRUE};

	return check_chain(policy, cert, untrusted, &when, reason, missing_issuer_name);
}
