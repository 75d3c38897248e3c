/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Signatures: making them and checking the result before it is written
 * (both shared with create), and signing existing bundles again: sign,
 * sign --detached, merge, resign, extract-signature, replace-signature. */
#include "bundle-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "audit-private.h"
#include "keys-private.h"
#include "openssl-private.h"
#include "output-private.h"
#include "progress-private.h"
#include "timestamp-private.h"

/* --- making signatures ------------------------------------------------------------ */

gboolean bundle_append_signature(int fd, guint64 offset, GBytes *signature, GError **error)
{
	guint8 trailer[OTA_BUNDLE_TRAILER_SIZE];
	gsize sig_len = g_bytes_get_size(signature);
	/* An EnvelopedData's own limit was applied where it was made
	 * (bundle_check_envelope_size()). */
	gboolean enveloped = ota_envelope_der_is_enveloped(g_bytes_get_data(signature, NULL), sig_len);

	if (sig_len > (enveloped ? OTA_BUNDLE_MAX_ENVELOPE_SIZE : OTA_BUNDLE_MAX_SIGNATURE_SIZE)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "signature of %" G_GSIZE_FORMAT " bytes exceeds the %d-byte maximum RAUC "
		            "accepts", sig_len, OTA_BUNDLE_MAX_SIGNATURE_SIZE);
		return FALSE;
	}
	ota_bundle_trailer_encode(sig_len, trailer);
	if (lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		int saved = errno;
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, "seek failed: %s",
		            g_strerror(saved));
		return FALSE;
	}
	return ota_write_all(fd, g_bytes_get_data(signature, NULL), sig_len, error) &&
	       ota_write_all(fd, trailer, sizeof(trailer), error);
}

/* One signature by every signer over content with digests @digest
 * (@content embedded, or NULL for detached). Nested: the first signer
 * signs, every other signer's detached signature is nested in it. */
static GBytes *sign_content(OtaSigner *const *signers, gsize n, OtaX509Stack *intermediates,
                            OtaSignatureEncoding encoding, const OtaChecksum *digest,
                            GBytes *content, GError **error)
{
	g_autoptr(GBytes) primary = NULL;
	g_autoptr(GPtrArray) partials = NULL;

	if (encoding == OTA_SIGNATURE_ENCODING_SIGNER_INFOS || n == 1)
		return ota_signature_sign(signers, n, intermediates, digest, content, error);

	primary = ota_signature_sign(signers, 1, intermediates, digest, content, error);
	if (primary == NULL)
		return NULL;
	partials = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	for (gsize i = 1; i < n; i++) {
		GBytes *partial = ota_signature_sign(&signers[i], 1, intermediates, digest, NULL, error);

		if (partial == NULL)
			return NULL;
		g_ptr_array_add(partials, partial);
	}
	return ota_signature_merge(primary, (GBytes *const *)partials->pdata, partials->len, digest,
	                           OTA_SIGNATURE_ENCODING_NESTED, error);
}

/* ...and with @timestamp, each signer's RFC 3161 token from its TSA. */
GBytes *bundle_sign_content(OtaSigner *const *signers, gsize n, OtaX509Stack *intermediates,
                            OtaSignatureEncoding encoding, const OtaChecksum *digest,
                            GBytes *content, const OtaTimestampOptions *timestamp,
                            GError **error)
{
	g_autoptr(GBytes) signature =
		sign_content(signers, n, intermediates, encoding, digest, content, error);

	if (signature == NULL || timestamp == NULL)
		return g_steal_pointer(&signature);
	return ota_timestamp_signature(signature, timestamp, error);
}

/* Before the bundle is committed: a signature that can't be logged must
 * not come into existence. */
gboolean bundle_log_signatures(const char *audit_log, const char *operation,
                               OtaSigner *const *signers, gsize n_signers,
                               const char *bundle_path, const char *format,
                               const guint8 digest[OTA_SHA256_LEN], const char *verity_root,
                               GBytes *signature, GError **error)
{
	OtaAuditEvent event = {operation, bundle_path, format, digest, verity_root, NULL};
	g_autoptr(OtaSignature) sig = NULL;

	if (audit_log == NULL)
		return TRUE;
	/* Our own signature, just made: it parses. */
	sig = ota_signature_parse(g_bytes_get_data(signature, NULL), g_bytes_get_size(signature),
	                          error);
	if (sig == NULL)
		return FALSE;
	event.signature = sig;
	return ota_audit_append(audit_log, &event, signers, n_signers, error);
}

/* --- checking what was signed ---------------------------------------------------- */

/* The issuer at which an uncounted signer's chain stopped because nobody
 * provided it: the mark of a forgotten intermediate. */
static const char *forgotten_intermediate(const OtaSignature *sig)
{
	for (guint i = 0; i < sig->signers->len; i++) {
		const OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);

		if (info->status != OTA_SIGNER_COUNTED && info->missing_issuer != NULL)
			return info->missing_issuer;
	}
	return NULL;
}

/* @reason (taken) as the one line that says why the output was not
 * written; the hint goes at the end of that line, before any detail. */
static void refuse_result(GError **error, GError *reason, const OtaSignature *sig,
                          const char *path)
{
	const char *issuer = sig != NULL ? forgotten_intermediate(sig) : NULL;
	const char *detail = strchr(reason->message, '\n');
	g_autofree char *hint = NULL;

	if (issuer != NULL)
		hint = g_strdup_printf(" (its issuer %s is neither embedded nor in the keyring: did "
		                       "you forget --intermediate?)", issuer);
	g_set_error(error, reason->domain, reason->code,
	            "%s: not written: the signing keyring does not accept it: %.*s%s%s", path,
	            detail != NULL ? (int)(detail - reason->message) : (int)strlen(reason->message),
	            reason->message, hint != NULL ? hint : "", detail != NULL ? detail : "");
	g_error_free(reason);
}

/* The finished bundle in @out, read back from the file, as a device would
 * check it: every signer's signature (over @signed_digest for plain,
 * over the embedded manifest for verity), enough of them trusted for
 * @policy, and for verity the signed manifest and its verity parameters
 * against the layout. The payload is not hashed again: a plain bundle's
 * digest is that of the payload bytes the command itself hashed (create,
 * over its own output) or copied from IN after checking IN's signatures
 * over them (sign, merge, resign, replace-signature), so hashing again
 * would re-read every byte without changing what the keyring decides. */
static gboolean check_result(OtaOutput *out, const char *path, const OtaPolicy *policy,
                             const OtaChecksum *signed_digest,
                             const OtaBundle *encrypted_source, GError **error)
{
	g_autoptr(OtaBundle) b = bundle_open_fd(ota_output_get_fd(out), path, error);
	GError *reason = NULL;

	if (b == NULL)
		return FALSE;
	/* Encrypted for the same recipients as IN: decrypted as a recipient
	 * would, with the content-encryption key IN's decryption found. */
	if (encrypted_source != NULL && !bundle_decrypt_like(b, encrypted_source, error)) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	if (!ota_signature_verify_content(b->signature,
	                                  b->format == OTA_BUNDLE_FORMAT_PLAIN ? signed_digest : NULL,
	                                  policy, &reason) ||
	    (b->format != OTA_BUNDLE_FORMAT_PLAIN && !bundle_load_verity_manifest(b, &reason))) {
		refuse_result(error, reason, b->signature, path);
		return FALSE;
	}
	return TRUE;
}

gboolean bundle_commit_checked(OtaOutput *out, const char *path, const OtaPolicy *result_policy,
                               const OtaChecksum *signed_digest, GError **error)
{
	if (result_policy != NULL &&
	    !check_result(out, path, result_policy, signed_digest, NULL, error))
		return FALSE;
	return ota_output_commit(out, error);
}

/* sign --detached: a partial signature is one part of a set, so the
 * threshold is for the bundle it will be merged into; here every signer
 * in it must be trusted. */
static gboolean check_partial(GBytes *partial, const OtaChecksum *digest,
                              const OtaPolicy *policy, const char *path, GError **error)
{
	g_autoptr(OtaSignature) sig = ota_signature_parse(g_bytes_get_data(partial, NULL),
	                                                  g_bytes_get_size(partial), error);
	GError *reason = NULL;

	if (sig == NULL)
		return FALSE;
	if (!ota_signature_verify_content(sig, digest, policy, &reason) &&
	    !g_error_matches(reason, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD)) {
		refuse_result(error, reason, sig, path);
		return FALSE;
	}
	g_clear_error(&reason);
	for (guint i = 0; i < sig->signers->len; i++) {
		const OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);

		if (info->status == OTA_SIGNER_COUNTED || info->status == OTA_SIGNER_DUPLICATE_KEY)
			continue;
		reason = g_error_new(OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD,
		                     "untrusted signer %s: %s", info->subject,
		                     info->reason ? info->reason : "not counted");
		refuse_result(error, reason, sig, path);
		return FALSE;
	}
	return TRUE;
}

/* --- signing existing bundles ------------------------------------------------- */

/* The kernel copies where it can (reflink or server-side copy); user space
 * only where copy_file_range() can't cross these two files. Chunked so that
 * progress shows and a cancelled copy stops soon. */
#define COPY_CHUNK ((guint64)64 * 1024 * 1024)

static gboolean copy_range(int in_fd, int out_fd, guint64 length, const gint *cancelled,
                           GError **error)
{
	g_autofree guint8 *buf = NULL;
	loff_t in_off = 0, out_off = 0;

	while ((guint64)in_off < length && !g_atomic_int_get(cancelled)) {
		ssize_t n;

		if (!ota_cancel_check(error))
			return FALSE;
		n = copy_file_range(in_fd, &in_off, out_fd, &out_off,
		                    (size_t)MIN(length - (guint64)in_off, COPY_CHUNK), 0);
		if (n > 0) {
			ota_progress_add((guint64)n);
			continue;
		}
		if (n == 0) {
			g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO,
			                    "bundle ended early while copying");
			return FALSE;
		}
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL)
			return bundle_io_error(error, "copy failed", errno);
		break;
	}
	buf = g_malloc(1024 * 1024);
	while ((guint64)in_off < length && !g_atomic_int_get(cancelled)) {
		gsize chunk = (gsize)MIN(length - (guint64)in_off, (guint64)1024 * 1024);

		if (!ota_cancel_check(error) ||
		    !ota_pread_all(in_fd, buf, chunk, (guint64)in_off, error) ||
		    lseek(out_fd, out_off, SEEK_SET) < 0 || !ota_write_all(out_fd, buf, chunk, error))
			return FALSE;
		in_off += (loff_t)chunk;
		out_off += (loff_t)chunk;
		ota_progress_add(chunk);
	}
	return TRUE;
}

/* A bundle signed again: its payload (and verity tree) copied into a new
 * output on a thread while the caller checks the old signature and makes
 * the new one, which is appended at the end. Until finished, nothing is at
 * @path. */
typedef struct {
	OtaBundle *bundle;
	char *path;
	OtaOutput *out;
	GThread *copier;
	gint cancelled;
	GError *copy_error;
	OtaProgressPhase *phase; /* from start until finished: failed if freed before */
} Resigned;

static gpointer resigned_copy_run(gpointer data)
{
	Resigned *r = data;

	(void)!copy_range(r->bundle->fd, ota_output_get_fd(r->out), r->bundle->layout.signature_offset,
	                  &r->cancelled, &r->copy_error);
	return NULL;
}

static void resigned_free(Resigned *r)
{
	if (r == NULL)
		return;
	if (r->copier != NULL) {
		g_atomic_int_set(&r->cancelled, 1);
		g_thread_join(r->copier);
	}
	ota_progress_phase_free(r->phase);
	ota_output_free(r->out);
	ota_bundle_free(r->bundle);
	g_clear_error(&r->copy_error);
	g_free(r->path);
	g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Resigned, resigned_free)

/* Opens @in_path and starts copying it to @out_path (refused at once if
 * it exists and !@force). */
static Resigned *resigned_start(const char *in_path, const char *out_path, gboolean force,
                                GError **error)
{
	g_autoptr(Resigned) r = g_new0(Resigned, 1);
	OtaBundle *b;
	guint64 hashed;

	r->bundle = b = ota_bundle_open(in_path, error);
	if (b == NULL)
		return NULL;
	r->path = g_strdup(out_path);
	r->out = ota_output_new(out_path, force, error);
	if (r->out == NULL)
		return NULL;
	/* Plain: the old signature's check hashes the payload meanwhile. */
	hashed = b->format == OTA_BUNDLE_FORMAT_PLAIN ? b->layout.payload_size : 0;
	r->phase = ota_progress_begin("copy", b->layout.signature_offset + hashed);
	r->copier = g_thread_new("ota-copy", resigned_copy_run, r);
	return g_steal_pointer(&r);
}

/* Appends @signature, which signs @digest (encrypted for IN's recipients
 * if IN was encrypted), and commits the bundle once @result_policy (if
 * any) accepts it. */
static gboolean resigned_finish(Resigned *r, GBytes *signature, const OtaChecksum *digest,
                                const OtaPolicy *result_policy, GError **error)
{
	int fd = ota_output_get_fd(r->out);
	const OtaBundle *encrypted = r->bundle->envelope != NULL ? r->bundle : NULL;
	g_autoptr(GBytes) enveloped = NULL;

	g_thread_join(g_steal_pointer(&r->copier));
	if (r->copy_error != NULL) {
		g_propagate_prefixed_error(error, g_steal_pointer(&r->copy_error), "%s: ", r->path);
		return FALSE;
	}
	ota_progress_phase_done(r->phase);
	if (encrypted != NULL) {
		enveloped = bundle_encrypt_again(r->bundle, signature, error);
		if (enveloped == NULL) {
			g_prefix_error(error, "%s: ", r->path);
			return FALSE;
		}
		signature = enveloped;
	}
	if (!bundle_append_signature(fd, r->bundle->layout.signature_offset, signature, error)) {
		g_prefix_error(error, "%s: ", r->path);
		return FALSE;
	}
	if (result_policy != NULL &&
	    !check_result(r->out, r->path, result_policy, digest, encrypted, error))
		return FALSE;
	return ota_output_commit(r->out, error);
}

/* The digests every signature of @b signs (plain: the payload's, in one
 * streamed pass, with its SHA-512 too if an Ed25519 signer of @b or, by
 * @want_sha512, a new one signs it; verity: the manifest's), with the
 * existing signatures checked: against @policy when given, else
 * cryptographically. */
static gboolean signed_digest(OtaBundle *b, const OtaPolicy *policy, gboolean want_sha512,
                              OtaChecksum *digest, GError **error)
{
	g_autoptr(GBytes) content = NULL;
	const OtaChecksum *detached = NULL;
	g_autoptr(GError) ierror = NULL;

	if (!bundle_check_decrypted(b, error))
		return FALSE;
	b->payload_sha512_wanted = want_sha512;
	if (policy != NULL) {
		if (!ota_bundle_verify(b, policy, 0, NULL, error))
			return FALSE;
	} else if (b->format == OTA_BUNDLE_FORMAT_PLAIN &&
	           !ota_checksum_fd_observed(b->fd, 0, b->layout.payload_size, NULL, NULL,
	                                     bundle_payload_needs_sha512(b), &b->payload_checksum,
	                                     error)) {
		g_prefix_error(error, "%s: ", b->path);
		return FALSE;
	}
	if (b->format == OTA_BUNDLE_FORMAT_PLAIN) {
		*digest = b->payload_checksum;
		detached = digest;
	} else {
		content = ota_signature_get_content(b->signature);
		if (content == NULL) {
			g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
			            "%s: signature embeds no manifest", b->path);
			return FALSE;
		}
		if (!ota_checksum_bytes_all(content, digest, error))
			return FALSE;
	}
	if (policy == NULL && !ota_signature_check_crypto(b->signature, detached, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: signature: ", b->path);
		return FALSE;
	}
	/* The verity manifest (for the audit log's root hash), now that its
	 * signatures are known to be intact. */
	if (b->manifest == NULL && b->format != OTA_BUNDLE_FORMAT_PLAIN &&
	    !bundle_load_verity_manifest(b, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", b->path);
		return FALSE;
	}
	return TRUE;
}

static const char *verity_root_of(OtaBundle *b)
{
	return b->manifest != NULL ? b->manifest->verity_hash : NULL;
}

/* An encrypted IN of sign, merge and resign, with the options' key. */
static gboolean decrypt_input(OtaBundle *b, const OtaSignOptions *options, GError **error)
{
	if (options->decrypt_key == NULL)
		return TRUE;
	return ota_bundle_decrypt(b, options->decrypt_key, options->decrypt_cert, options->key_store,
	                          error);
}

/* The start of sign, merge and resign: the copy under way and the digests
 * the existing signatures sign, with them checked (and the SHA-512 of a
 * plain payload if @want_sha512: a new signer has an Ed25519 key). */
static Resigned *resign_begin(const char *in_path, const char *out_path,
                              const OtaSignOptions *options, gboolean want_sha512,
                              OtaChecksum *digest, GError **error)
{
	g_autoptr(Resigned) r = resigned_start(in_path, out_path, options->force, error);

	if (r == NULL || !decrypt_input(r->bundle, options, error) ||
	    !signed_digest(r->bundle, options->policy, want_sha512, digest, error))
		return NULL;
	return g_steal_pointer(&r);
}

/* The end of sign and resign: the audit log, then the bundle. */
static gboolean resign_commit(Resigned *r, const char *operation, const OtaSignOptions *options,
                              const OtaChecksum *digest, GBytes *signature, GError **error)
{
	return bundle_log_signatures(options->audit_log, operation, options->signers,
	                             options->n_signers, r->path,
	                             ota_bundle_format_to_string(r->bundle->format), digest->sha256,
	                             verity_root_of(r->bundle), signature, error) &&
	       resigned_finish(r, signature, digest, options->result_policy, error);
}

static gboolean check_new_signers(OtaBundle *b, const OtaSignOptions *options, GError **error)
{
	if (ota_signature_check_new_signers(b->signature, options->signers, options->n_signers,
	                                    error))
		return TRUE;
	g_prefix_error(error, "%s: ", b->path);
	return FALSE;
}

/* A signature brought to a bundle (a partial for merge, a replacement) must
 * have been made over it. Its signers' signatures are checked first; when
 * they hold, a digest other than the bundle's means the signature was made
 * over another bundle: a mix-up in the release process, which "modified
 * after signing" would misreport as tampering with this one. */
static gboolean check_signs_this_bundle(OtaSignature *sig, const OtaChecksum *digest,
                                        GError **error)
{
	if (!ota_signature_check_attributes(sig, error))
		return FALSE;
	if (ota_signature_signs_digest(sig, digest))
		return TRUE;
	g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
	                    "signs another bundle (content digest differs)");
	return FALSE;
}

GBytes *bundle_read_signature_file(const char *path, gsize max_size, GError **error)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) ierror = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &data, &len, &ierror)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, "%s", ierror->message);
		return NULL;
	}
	if (len == 0 || len > max_size) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		            "%s: a signature must be 1 to %" G_GSIZE_FORMAT " bytes", path, max_size);
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&data), len);
}

static GBytes *read_partial(const char *path, GError **error)
{
	return bundle_read_signature_file(path, OTA_BUNDLE_MAX_SIGNATURE_SIZE, error);
}

/* Whether the signature @der (may be NULL) has an Ed25519 signer, whose
 * digest of a plain payload is its SHA-512: then computed in the same
 * pass as the SHA-256. One that can't be parsed is left to the checks
 * that name it. */
static gboolean der_has_ed25519(GBytes *der)
{
	g_autoptr(OtaSignature) sig =
		der != NULL
			? ota_signature_parse(g_bytes_get_data(der, NULL), g_bytes_get_size(der), NULL)
			: NULL;

	return sig != NULL && ota_signature_has_ed25519_signer(sig);
}

static gboolean partials_have_ed25519(const char *const *paths, gsize n)
{
	for (gsize i = 0; i < n; i++) {
		g_autoptr(GBytes) der = read_partial(paths[i], NULL);

		if (der_has_ed25519(der))
			return TRUE;
	}
	return FALSE;
}

gboolean ota_bundle_add_signers(const char *in_path, const char *out_path,
                                const OtaSignOptions *options, GError **error)
{
	g_autoptr(Resigned) r = NULL;
	g_autoptr(GBytes) partial = NULL;
	g_autoptr(GBytes) signature = NULL;
	OtaChecksum digest = {0};

	g_return_val_if_fail(options->n_signers > 0, FALSE);

	r = resign_begin(in_path, out_path, options,
	                 ota_signers_have_ed25519(options->signers, options->n_signers), &digest,
	                 error);
	if (r == NULL || !check_new_signers(r->bundle, options, error))
		return FALSE;
	/* The new signers' own detached signature, merged like any partial. */
	partial = bundle_sign_content(options->signers, options->n_signers, options->intermediates,
	                              OTA_SIGNATURE_ENCODING_SIGNER_INFOS, &digest, NULL,
	                              options->timestamp, error);
	if (partial == NULL)
		return FALSE;
	signature = ota_signature_merge(r->bundle->signature_der, &partial, 1, &digest,
	                                options->encoding, error);
	return signature != NULL && resign_commit(r, "sign", options, &digest, signature, error);
}

gboolean ota_bundle_sign_detached(const char *bundle_path, const char *sig_path,
                                  const OtaSignOptions *options, GError **error)
{
	g_autoptr(OtaBundle) b = ota_bundle_open(bundle_path, error);
	g_autoptr(GBytes) partial = NULL;
	g_autoptr(OtaOutput) out = NULL;
	OtaChecksum digest = {0};

	g_return_val_if_fail(options->n_signers > 0, FALSE);

	if (b == NULL || !decrypt_input(b, options, error))
		return FALSE;
	out = ota_output_new(sig_path, options->force, error);
	if (out == NULL ||
	    !signed_digest(b, options->policy,
	                   ota_signers_have_ed25519(options->signers, options->n_signers), &digest,
	                   error) ||
	    !check_new_signers(b, options, error))
		return FALSE;
	partial = bundle_sign_content(options->signers, options->n_signers, options->intermediates,
	                              OTA_SIGNATURE_ENCODING_SIGNER_INFOS, &digest, NULL,
	                              options->timestamp, error);
	if (partial == NULL)
		return FALSE;
	if (options->result_policy != NULL &&
	    !check_partial(partial, &digest, options->result_policy, sig_path, error))
		return FALSE;
	if (!bundle_log_signatures(options->audit_log, "sign-detached", options->signers,
	                           options->n_signers, bundle_path, ota_bundle_format_to_string(b->format),
	                           digest.sha256, verity_root_of(b), partial, error))
		return FALSE;
	if (!ota_write_all(ota_output_get_fd(out), g_bytes_get_data(partial, NULL),
	                   g_bytes_get_size(partial), error)) {
		g_prefix_error(error, "%s: ", sig_path);
		return FALSE;
	}
	return ota_output_commit(out, error);
}

gboolean ota_bundle_merge(const char *in_path, const char *out_path,
                          const char *const *sig_paths, gsize n_sigs,
                          const OtaSignOptions *options, GError **error)
{
	g_autoptr(Resigned) r = NULL;
	g_autoptr(GPtrArray) partials = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_autoptr(GBytes) signature = NULL;
	OtaChecksum digest = {0};

	r = resign_begin(in_path, out_path, options, partials_have_ed25519(sig_paths, n_sigs),
	                 &digest, error);
	if (r == NULL)
		return FALSE;
	for (gsize i = 0; i < n_sigs; i++) {
		g_autoptr(GError) ierror = NULL;
		g_autoptr(GBytes) partial = read_partial(sig_paths[i], error);
		g_autoptr(OtaSignature) parsed = NULL;

		if (partial == NULL)
			return FALSE;
		/* Checked one by one so that an error names the file at fault. */
		parsed = ota_signature_parse(g_bytes_get_data(partial, NULL), g_bytes_get_size(partial),
		                             &ierror);
		if (parsed == NULL || !check_signs_this_bundle(parsed, &digest, &ierror) ||
		    !ota_signature_check_crypto(parsed, &digest, &ierror)) {
			g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", sig_paths[i]);
			return FALSE;
		}
		/* The partial's signers are new here: each gets its token now,
		 * unless it brought one. */
		if (options->timestamp != NULL) {
			GBytes *stamped = ota_timestamp_signature(partial, options->timestamp, error);

			if (stamped == NULL) {
				g_prefix_error(error, "%s: ", sig_paths[i]);
				return FALSE;
			}
			g_bytes_unref(partial);
			partial = stamped;
		}
		g_ptr_array_add(partials, g_steal_pointer(&partial));
	}
	/* No audit line: merging creates no signature. */
	signature = ota_signature_merge(r->bundle->signature_der, (GBytes *const *)partials->pdata,
	                                partials->len, &digest, options->encoding, error);
	return signature != NULL &&
	       resigned_finish(r, signature, &digest, options->result_policy, error);
}

gboolean ota_bundle_resign(const char *in_path, const char *out_path,
                           const OtaSignOptions *options, GError **error)
{
	g_autoptr(Resigned) r = NULL;
	g_autoptr(GBytes) content = NULL;
	g_autoptr(GBytes) signature = NULL;
	OtaChecksum digest = {0};

	g_return_val_if_fail(options->n_signers > 0, FALSE);

	/* Promotion is where trust is decided: never by default on an old
	 * signature nobody checked. */
	if (options->policy == NULL && !options->integrity_only) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "%s: resigning needs the keyring of the existing signatures (or an "
		            "explicit integrity-only check)", in_path);
		return FALSE;
	}
	r = resign_begin(in_path, out_path, options,
	                 ota_signers_have_ed25519(options->signers, options->n_signers), &digest,
	                 error);
	if (r == NULL)
		return FALSE;
	/* Verity and crypt: the new CMS embeds the very manifest bytes the old
	 * one did. */
	if (r->bundle->format != OTA_BUNDLE_FORMAT_PLAIN)
		content = ota_signature_get_content(r->bundle->signature);
	signature = bundle_sign_content(options->signers, options->n_signers, options->intermediates,
	                                options->encoding, &digest, content, options->timestamp,
	                                error);
	return signature != NULL && resign_commit(r, "resign", options, &digest, signature, error);
}

gboolean ota_bundle_extract_signature(const char *bundle_path, const char *sig_path,
                                      const OtaPolicy *policy, gboolean force, GError **error)
{
	g_autoptr(OtaBundle) b = policy != NULL ? ota_bundle_open_for_info(bundle_path, policy, error)
	                                        : ota_bundle_open(bundle_path, error);
	g_autoptr(OtaOutput) out = NULL;

	if (b == NULL || !bundle_check_decrypted(b, error))
		return FALSE;
	out = ota_output_new(sig_path, force, error);
	if (out == NULL)
		return FALSE;
	if (!ota_write_all(ota_output_get_fd(out), g_bytes_get_data(b->signature_der, NULL),
	                   g_bytes_get_size(b->signature_der), error)) {
		g_prefix_error(error, "%s: ", sig_path);
		return FALSE;
	}
	return ota_output_commit(out, error);
}

/* The replacement must sign what the bundle's signature signs: for plain
 * the payload digest, for verity the identical embedded manifest. Whether
 * it is trusted is for the result check. */
static gboolean check_replacement(OtaBundle *b, OtaSignature *replacement,
                                  const OtaChecksum *digest, GError **error)
{
	g_autoptr(GBytes) old_content = NULL;
	g_autoptr(GBytes) new_content = NULL;

	if (replacement->detached != b->signature->detached) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
		                    b->signature->detached
		                            ? "a plain bundle needs a detached signature"
		                            : "a verity bundle needs a signature embedding its manifest");
		return FALSE;
	}
	if (!replacement->detached) {
		old_content = ota_signature_get_content(b->signature);
		new_content = ota_signature_get_content(replacement);
		if (old_content == NULL || new_content == NULL ||
		    !g_bytes_equal(old_content, new_content)) {
			g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
			                    "signs another bundle (embeds another manifest)");
			return FALSE;
		}
	} else if (!check_signs_this_bundle(replacement, digest, error)) {
		return FALSE;
	}
	return ota_signature_check_crypto(replacement, replacement->detached ? digest : NULL, error);
}

gboolean ota_bundle_replace_signature(const char *in_path, const char *sig_path,
                                      const char *out_path, const OtaPolicy *input_policy,
                                      const OtaPolicy *result_policy, gboolean force,
                                      GError **error)
{
	g_autoptr(GBytes) der = read_partial(sig_path, error);

	return der != NULL && bundle_replace_signature_der(in_path, der, sig_path, out_path,
	                                                   input_policy, result_policy, force, error);
}

gboolean bundle_replace_signature_der(const char *in_path, GBytes *der, const char *der_name,
                                      const char *out_path, const OtaPolicy *input_policy,
                                      const OtaPolicy *result_policy, gboolean force,
                                      GError **error)
{
	g_autoptr(Resigned) r = NULL;
	g_autoptr(OtaSignature) replacement = NULL;
	g_autoptr(GError) ierror = NULL;
	OtaChecksum digest = {0};

	r = resigned_start(in_path, out_path, force, error);
	if (r == NULL)
		return FALSE;
	/* Without @input_policy the old signature need not be trusted (it may
	 * be what is being replaced for that reason), but it must be intact:
	 * it tells what content is signed. */
	if (!signed_digest(r->bundle, input_policy, der_has_ed25519(der), &digest, error))
		return FALSE;
	replacement = ota_signature_parse(g_bytes_get_data(der, NULL), g_bytes_get_size(der), &ierror);
	if (replacement == NULL ||
	    !check_replacement(r->bundle, replacement, &digest, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", der_name);
		return FALSE;
	}
	return resigned_finish(r, der, &digest, result_policy, error);
}

/* --- encrypt --------------------------------------------------------------------- */

/* Every certificate of every recipient URI, each checked to be one. */
static gboolean load_recipients(const OtaEncryptOptions *options, OtaX509Stack *certs,
                                GError **error)
{
	for (gsize i = 0; i < options->n_recipients; i++) {
		g_autofree char *display = ota_keys_uri_for_display(options->recipients[i]);
		g_autoptr(OtaX509Stack) loaded =
			ota_key_store_load_certificates(options->store, options->recipients[i], error);
		int n;

		if (loaded == NULL)
			return FALSE;
		n = sk_X509_num(loaded);
		for (int j = 0; j < n; j++) {
			X509 *cert = sk_X509_value(loaded, j);
			g_autofree char *subject = ota_x509_name_to_string(X509_get_subject_name(cert));
			g_autofree char *name = n > 1 ? g_strdup_printf("%s (certificate %d of %d, %s)",
			                                                display, j + 1, n, subject)
			                              : g_strdup(display);

			if (!ota_envelope_check_recipient(cert, name, options->check_time, error))
				return FALSE;
		}
		while (sk_X509_num(loaded) > 0)
			sk_X509_push(certs, sk_X509_shift(loaded));
	}
	return TRUE;
}

/* Only an unencrypted crypt bundle, as `rauc encrypt` allows: encrypting
 * a verity bundle's signature would hide its manifest and leave its
 * payload readable. The format is known once the signed manifest is. */
static gboolean check_encryptable(OtaBundle *b, gboolean manifest_loaded, GError **error)
{
	if (b->envelope != NULL) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
		            "%s: bundle is encrypted already", b->path);
		return FALSE;
	}
	if (b->format == OTA_BUNDLE_FORMAT_CRYPT ||
	    (!manifest_loaded && b->format != OTA_BUNDLE_FORMAT_PLAIN))
		return TRUE;
	g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT,
	            "%s: only crypt bundles can be encrypted, and this one is %s (its payload would "
	            "stay readable); create it with --format=crypt",
	            b->path, ota_bundle_format_to_string(b->format));
	return FALSE;
}

gboolean ota_bundle_encrypt(const char *in_path, const char *out_path,
                            const OtaEncryptOptions *options, GError **error)
{
	g_autoptr(OtaX509Stack) certs = sk_X509_new_null();
	g_autoptr(Resigned) r = NULL;
	g_autoptr(GBytes) enveloped = NULL;
	g_autoptr(OtaEnvelope) check = NULL;
	OtaChecksum digest = {0};

	g_return_val_if_fail(options->n_recipients > 0, FALSE);

	if (!load_recipients(options, certs, error))
		return FALSE;
	r = resigned_start(in_path, out_path, options->force, error);
	if (r == NULL || !check_encryptable(r->bundle, FALSE, error) ||
	    !signed_digest(r->bundle, options->policy, FALSE, &digest, error) ||
	    !check_encryptable(r->bundle, TRUE, error))
		return FALSE;
	enveloped = ota_envelope_encrypt(r->bundle->signature_der, certs, error);
	if (enveloped == NULL ||
	    !bundle_check_envelope_size(g_bytes_get_size(enveloped), (guint)sk_X509_num(certs),
	                                options->allow_large_envelope, error) ||
	    /* Readable as otabundle reads it. */
	    (check = ota_envelope_parse(g_bytes_get_data(enveloped, NULL),
	                                g_bytes_get_size(enveloped), error)) == NULL) {
		g_prefix_error(error, "%s: ", out_path);
		return FALSE;
	}
	return resigned_finish(r, enveloped, &digest, NULL, error);
}
