/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <otabundle/envelope.h>
#include <otabundle/keys.h>
#include <otabundle/manifest.h>
#include <otabundle/signature.h>
#include <otabundle/timestamp.h>

OTA_BEGIN_DECLS

/* The error domain of this module's GErrors; the codes are below. */
#define OTA_BUNDLE_ERROR ota_bundle_error_quark()
GQuark ota_bundle_error_quark(void);

typedef enum {
	OTA_BUNDLE_ERROR_IO,
	OTA_BUNDLE_ERROR_MALFORMED,   /* trailer, lengths or layout are wrong */
	OTA_BUNDLE_ERROR_INPUT,       /* create: the input directory is unusable */
	OTA_BUNDLE_ERROR_MISMATCH,    /* contents differ from the signed manifest */
	OTA_BUNDLE_ERROR_UNSUPPORTED, /* a format this build does not handle */
	OTA_BUNDLE_ERROR_EXISTS,      /* extract: output directory not empty */
	OTA_BUNDLE_ERROR_MODIFIED,    /* the file changed while it was being read */
	OTA_BUNDLE_ERROR_ENCRYPTED,   /* encrypted, and not decrypted (ota_bundle_decrypt()) */
} OtaBundleError;

/* On-disk layout, as RAUC writes it:
 *   [payload: squashfs, padded to 4 KiB][CMS DER][u64 big-endian CMS size] */
#define OTA_BUNDLE_TRAILER_SIZE 8
/* RAUC 1.8 refuses larger signatures; so do we. */
#define OTA_BUNDLE_MAX_SIGNATURE_SIZE (64 * 1024)
/* An encrypted bundle's EnvelopedData grows with its recipients; RAUC 1.8
 * reads at most OTA_BUNDLE_MAX_SIGNATURE_SIZE of it: about 150 RSA-2048,
 * 115 RSA-3072 or 210 EC P-256 recipients of a typical device CA (see
 * otabundle(1), ENCRYPTED BUNDLES). otabundle writes more only when told
 * to (OtaEncryptOptions.allow_large_envelope), and reads up to this. */
#define OTA_BUNDLE_MAX_ENVELOPE_SIZE (16 * 1024 * 1024)
#define OTA_BUNDLE_PAYLOAD_ALIGNMENT 4096

/* Where the parts of a bundle file lie (ota_bundle_get_layout()). */
typedef struct {
	guint64 file_size;
	guint64 payload_size;     /* the squashfs (and verity tree), 4 KiB aligned */
	guint64 signature_offset; /* = payload_size */
	guint64 signature_size;   /* the CMS, without the trailer */
} OtaBundleLayout;

/* The largest plain payload RAUC accepts: 1.15.2 refuses a larger one
 * (INT32_MAX bytes, its check), and earlier versions sign or verify only its
 * first bytes (CVE-2026-34155). Verity bundles have no such limit. */
#define OTA_BUNDLE_PLAIN_MAX_PAYLOAD ((guint64)G_MAXINT32)

/* As RAUC recommends (RAUC's own default is still plain). */
#define OTA_BUNDLE_DEFAULT_FORMAT OTA_BUNDLE_FORMAT_VERITY

typedef struct {
	gboolean format_set; /* else: the manifest's [bundle] format, or the default */
	OtaBundleFormat format;
	OtaSigner *const *signers;
	gsize n_signers;
	OtaX509Stack *intermediates; /* embedded so a keyring needs only the root */
	OtaSignatureEncoding encoding; /* with several signers; default nested */
	const char *compression;     /* --compression; NULL: the default */
	const char *mksquashfs_args; /* passed after ours */
	gboolean force;        /* replace an existing output */
	const char *audit_log; /* append one JSON line per signature, or NULL */
	/* The trust the bundle must satisfy before it is written (rauc's
	 * --signing-keyring), or NULL. See OtaSignOptions. */
	const OtaPolicy *result_policy;
	/* Reproducible bundles (also whenever $SOURCE_DATE_EPOCH is set, which
	 * then gives every squashfs timestamp; else 0): the payload and the
	 * signed manifest depend on the input's names, contents and execute
	 * bits and on these options only; the verity salt is derived from the
	 * payload. See otabundle(1). */
	gboolean reproducible;
	const char *verity_salt; /* 64 hex digits, or NULL: random (or derived) */
	/* "NAME=VALUE" fields set in the packed manifest, the input's file
	 * unchanged (update.compatible, update.version, update.description,
	 * update.build, meta.<label>.<key>); NULL-terminated, or NULL. */
	const char *const *settings;
	/* Write a plain bundle even if its payload exceeds
	 * OTA_BUNDLE_PLAIN_MAX_PAYLOAD. */
	gboolean allow_large_plain;
	/* Fill in what is not given as `rauc bundle` does, so that a drop-in
	 * for it writes what a fleet that got RAUC's bundles can install (its
	 * kernels may lack dm-verity or zstd): without a [bundle] format the
	 * plain format, and without a compression (here or in mksquashfs_args)
	 * mksquashfs's own default, gzip. */
	gboolean rauc_defaults;
	/* Crypt bundles: the payload key. By default a random one; a
	 * reproducible build must choose one of these (a random key would
	 * change the bundle on every build), which only crypt bundles take.
	 * crypt_key_file: a file holding the key as 64 hex digits.
	 * derive_crypt_key: HMAC-SHA256 of the plaintext squashfs's digest,
	 * which anyone holding that plaintext can compute as well. */
	const char *crypt_key_file;
	gboolean derive_crypt_key;
	/* Each signer's RFC 3161 token from this TSA, or NULL: none. */
	const OtaTimestampOptions *timestamp;
} OtaCreateOptions;

/* Checks what @options say about packing (compression, extra mksquashfs
 * arguments, settings, verity salt) and $SOURCE_DATE_EPOCH without touching
 * a file, so a caller can refuse wrong usage before it loads keys: the
 * message says what is wrong (OTA_SQUASHFS_ERROR, OTA_MANIFEST_ERROR or
 * OTA_BUNDLE_ERROR_INPUT). ota_bundle_create() makes the same check first. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_check_create_options(const OtaCreateOptions *options, GError **error);

/* Completes INPUTDIR/manifest.raucm (sizes and hashes, computed in
 * parallel), packs it and every other top-level entry of @inputdir into a
 * squashfs, signs it and writes @bundle_path atomically. @inputdir is
 * never modified. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_create(const char *inputdir, const char *bundle_path,
                           const OtaCreateOptions *options, GError **error);

/* An open bundle file. Opaque; read it through the getters below. */
typedef struct OtaBundle OtaBundle;

/* Opens @path and parses trailer and signature structure; trusts nothing.
 * Returns a new bundle (free with ota_bundle_free()), or NULL with
 * OTA_BUNDLE_ERROR (IO, MALFORMED) or an OTA_SIGNATURE_ERROR set, the
 * message naming @path. */
OtaBundle *ota_bundle_open(const char *path, GError **error);

/* Reading a bundle from a web server (ota_bundle_open_url()). The server
 * only delivers bytes: everything is checked against the signature and the
 * verity tree before it is used, so it needs no secrets. */
typedef struct {
	const char *tls_ca;   /* PEM file of the CAs trusted instead of the system store, or NULL */
	const char *tls_cert; /* client certificate (mutual TLS): PEM file or pkcs11: URI, or NULL */
	const char *tls_key;  /* its key: PEM file or pkcs11: URI, or NULL */
	OtaKeyStore *key_store; /* for pkcs11: URIs; NULL: one made for the call */
	/* Don't check the server's certificate (RAUC's --tls-no-verify);
	 * the bundle's own signature still decides what is trusted. */
	gboolean tls_no_verify;
	/* "Name: value" headers (auth tokens), NULL-terminated, or NULL; and a
	 * file of more, one per line (one here replaces the file's of the
	 * same name), or NULL. Sent to the URL's own scheme, host and port
	 * only, never after a redirect elsewhere. */
	const char *const *headers;
	const char *header_file;
	guint timeout;    /* seconds without progress before giving up; 0: 60 */
	guint64 max_size; /* the largest bundle, and most bytes downloaded; 0: no limit */
} OtaBundleUrlOptions;

/* Whether @location is an http:// or https:// URL. */
gboolean ota_bundle_is_url(const char *location);

/* @location as it may be shown, logged or stored: a URL without user,
 * password, query or fragment (they may carry credentials), a path as it
 * is. Free with g_free(). */
char *ota_bundle_location_for_display(const char *location);

/* Whether @options can be used: a timeout of at most an hour, a client
 * certificate and key given together. OTA_BUNDLE_ERROR_INPUT otherwise. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_check_url_options(const OtaBundleUrlOptions *options, GError **error);

/* FALSE with OTA_BUNDLE_ERROR_UNSUPPORTED ("URL: unsupported URL scheme",
 * the URL without credentials) if
 * @location is a URL (scheme://...) of any other scheme than http and
 * https; TRUE for those and for anything else, a path. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_check_location(const char *location, GError **error);

/* Opens the bundle at an http:// or https:// @url with range requests:
 * its size, trailer and signature only (a few requests); everything later
 * is fetched as it is read. Plain bundles are refused (their signature
 * covers the whole file). The bundle's path (ota_bundle_get_path()) is
 * the URL without user, password, query or fragment. Errors as
 * ota_bundle_open(), or OTA_BUNDLE_ERROR_UNSUPPORTED, or a transfer error
 * naming that URL. */
OtaBundle *ota_bundle_open_url(const char *url, const OtaBundleUrlOptions *options,
                               GError **error);

/* ota_bundle_open_url() for an http:// or https:// @location,
 * ota_bundle_open() for a path; another scheme is refused
 * (ota_bundle_check_location()). For commands that only read (info,
 * verify). */
OtaBundle *ota_bundle_open_location(const char *location, const OtaBundleUrlOptions *options,
                                    GError **error);

/* Bytes fetched from the server so far, retries included; 0 for a file. */
guint64 ota_bundle_get_downloaded(const OtaBundle *bundle);

/* The path it was opened with; owned by @bundle. */
const char *ota_bundle_get_path(const OtaBundle *bundle);
/* plain or verity: from the file's layout (verity carries its manifest in
 * the signature); crypt once the manifest that says so is loaded. */
OtaBundleFormat ota_bundle_get_format(const OtaBundle *bundle);
/* Sizes and offsets of payload and signature; owned by @bundle. */
const OtaBundleLayout *ota_bundle_get_layout(const OtaBundle *bundle);
/* The signature as parsed; its signers' status is set by
 * ota_bundle_verify(). Owned by @bundle. */
const OtaSignature *ota_bundle_get_signature(const OtaBundle *bundle);
/* The manifest after ota_bundle_verify() (verified) or
 * ota_bundle_load_unverified() (untrusted: display only), else NULL. Owned
 * by @bundle. */
const OtaManifest *ota_bundle_get_manifest(const OtaBundle *bundle);
/* SHA-256 (lower-case hex) of the manifest's bytes as the bundle holds
 * them, which RAUC shows as its manifest hash (`rauc info`); NULL while no
 * manifest is loaded. Free with g_free(). */
char *ota_bundle_get_manifest_sha256(const OtaBundle *bundle);
/* Whether ota_bundle_verify() succeeded. */
gboolean ota_bundle_is_verified(const OtaBundle *bundle);
/* Whether @bundle is plain with a payload over OTA_BUNDLE_PLAIN_MAX_PAYLOAD:
 * no RAUC device verifies it correctly (otabundle does). */
gboolean ota_bundle_exceeds_plain_limit(const OtaBundle *bundle);

/* How much of a bundle has been checked so far. */
typedef enum {
	OTA_BUNDLE_CHECKED_NOTHING,   /* loaded unverified: display only */
	OTA_BUNDLE_CHECKED_SIGNATURE, /* verity: signature and manifest, not yet every block */
	OTA_BUNDLE_CHECKED_PAYLOAD,   /* signature and every payload byte */
	OTA_BUNDLE_CHECKED_IMAGES,    /* that, and every image hashed against the manifest */
} OtaBundleChecked;

/* What ota_bundle_verify() and ota_bundle_check_contents() have checked. */
OtaBundleChecked ota_bundle_get_checked(const OtaBundle *bundle);
/* Verity bundles with a manifest loaded: the squashfs and hash tree sizes;
 * FALSE otherwise. */
gboolean ota_bundle_get_verity_sizes(const OtaBundle *bundle, guint64 *data_size,
                                     guint64 *tree_size);

typedef enum {
	/* Verity: also check every data and tree block against the root now
	 * (plain bundles always hash the payload: their signature covers it). */
	OTA_BUNDLE_VERIFY_PAYLOAD = 1 << 0,
} OtaBundleVerifyFlags;

/* Checks the signature (plain: over every payload byte; verity: over the
 * manifest, and with OTA_BUNDLE_VERIFY_PAYLOAD the whole hash tree), then
 * reads the manifest. Afterwards b->payload serves the squashfs: for
 * verity through a reader that checks each block against the signed root;
 * for crypt through that reader and then one that decrypts each checked
 * block in memory (a crypt-key that does not decrypt the payload to a
 * squashfs fails here). With @private_copy_dir (plain), the payload is
 * copied there (unnamed, unlinked) while it is hashed, and everything
 * afterwards reads that copy: a bundle file changed after verification
 * can't reach extraction or installation. Without it (plain), the metadata and manifest that this call and
 * ota_bundle_check_contents() read (at most 4 MiB) are kept from a read
 * before hashing, compared with the hashed bytes and parsed only after the
 * signature verifies, from memory: a file changed while it is hashed is
 * rejected with OTA_BUNDLE_ERROR_MODIFIED, and one changed afterwards can't
 * change what is reported as verified. Images are then read from the file
 * and hashed against the manifest (ota_bundle_write_image() finds a
 * mismatch only at an image's end): use a private copy to install. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_verify(OtaBundle *bundle, const OtaPolicy *policy, OtaBundleVerifyFlags flags,
                           const char *private_copy_dir, GError **error);

/* What `info` shows, checked as `rauc info` checks it: with @policy the
 * signature (a plain bundle's covers every payload byte; a verity bundle's
 * covers the manifest, and its blocks are left to ota_bundle_verify() with
 * OTA_BUNDLE_VERIFY_PAYLOAD); without, nothing: the manifest is loaded
 * unverified, for display only. Returns a new bundle (ota_bundle_free()),
 * or NULL with the error of ota_bundle_open() or ota_bundle_verify(). */
OtaBundle *ota_bundle_open_for_info(const char *path, const OtaPolicy *policy, GError **error);

/* ota_bundle_open_for_info()'s checks on a bundle already open, for a
 * caller that reports a failure in full: after a failed signature check
 * @bundle still holds every signer seen, with its status
 * (ota_bundle_get_signature()), so that a report can say who signed. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_check_for_info(OtaBundle *bundle, const OtaPolicy *policy, GError **error);

/* Reads the manifest without checking the signature (info --no-verify):
 * the result is untrusted and must only be displayed. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_load_unverified(OtaBundle *bundle, GError **error);

/* After ota_bundle_verify(): each image the manifest names is a regular
 * file of the stated size; with
 * @check_images, also decompressed and hashed against its sha256. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_check_contents(OtaBundle *bundle, gboolean check_images, GError **error);

/* After ota_bundle_verify(): streams @image into @fd (through the
 * verified reader or private copy), hashing as it goes, and fails unless the
 * whole image matches the manifest's sha256. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_write_image(OtaBundle *bundle, const OtaImage *image, int fd, GError **error);

/* Verifies @bundle_path, then writes the manifest, images and hook/handler
 * files into @outdir (created; an existing one must be empty), checking
 * every image against its sha256. All or nothing: on failure @outdir is
 * left as it was. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_extract(const char *bundle_path, const OtaPolicy *policy, const char *outdir,
                            GError **error);

/* Signing an existing bundle. The payload (squashfs and verity tree) is
 * copied unchanged, in the kernel where the filesystem allows. */
typedef struct {
	OtaSigner *const *signers;
	gsize n_signers;
	OtaX509Stack *intermediates;
	/* The trust of the bundle being read (IN). Existing signatures are
	 * always checked cryptographically; with a policy they must also
	 * satisfy it before anything is signed. */
	const OtaPolicy *policy;
	/* resign: without a policy, refused unless this says that an intact
	 * old signature is enough (it still tells what to sign). */
	gboolean integrity_only;
	OtaSignatureEncoding encoding;
	gboolean force;
	const char *audit_log;
	/* The trust the result must satisfy (rauc's --signing-keyring), or
	 * NULL. The finished bundle is read back from its still unnamed output
	 * file and verified against it (every signer's signature, the
	 * threshold of trusted keys, for verity the signed manifest; the
	 * payload is not hashed again, since its digest was just computed or
	 * checked) before it is renamed into place; on failure nothing is
	 * written, and a chain that stopped at an issuer nobody provided says
	 * "did you forget --intermediate?". For sign_detached, whose output is
	 * one part of a set, the threshold is not applied: every signer of the
	 * partial signature must be trusted. The audit log records every
	 * signature made, one whose bundle is then refused included. */
	const OtaPolicy *result_policy;
	/* An encrypted IN: a recipient's key and, optionally, certificate, as
	 * for ota_bundle_decrypt() (pkcs11: URIs through @key_store). The
	 * result is encrypted for the same recipients: the RecipientInfos are
	 * kept byte for byte with the same content-encryption key (an
	 * EnvelopedData names its recipients only by issuer and serial, so
	 * whoever signs needs none of their certificates), and the new
	 * signature is encrypted under it with a fresh IV. */
	const char *decrypt_key;
	const char *decrypt_cert;
	OtaKeyStore *key_store;
	/* Each new signer's RFC 3161 token from this TSA (merge: each signer
	 * of a partial signature that brings none), or NULL: none. */
	const OtaTimestampOptions *timestamp;
} OtaSignOptions;

/* Writes @out_path: @in_path with the options' signers added. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_add_signers(const char *in_path, const char *out_path,
                                const OtaSignOptions *options, GError **error);

/* Writes a partial signature (a detached CMS over the content every
 * signature of @bundle_path signs) to @sig_path; the bundle is unchanged. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_sign_detached(const char *bundle_path, const char *sig_path,
                                  const OtaSignOptions *options, GError **error);

/* Writes @out_path: @in_path with the signers of each partial signature
 * added, after checking that every one signs exactly this bundle's content. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_merge(const char *in_path, const char *out_path,
                          const char *const *sig_paths, gsize n_sigs,
                          const OtaSignOptions *options, GError **error);

/* Writes @out_path: @in_path with its signature set replaced by the
 * options' signers (devel-to-release promotion). The existing signatures
 * are checked against options->policy, or, with options->integrity_only
 * and no policy, only cryptographically (OTA_BUNDLE_ERROR_INPUT if neither
 * is given), so that what gets signed is what was signed before.
 * Payload and, for verity, the signed manifest stay byte-identical. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_resign(const char *in_path, const char *out_path,
                           const OtaSignOptions *options, GError **error);

/* Writes the bundle's CMS signature (DER) to @sig_path; with @policy only
 * after the bundle passed it, checked as ota_bundle_open_for_info() checks
 * (as `rauc extract-signature` verifies first). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_extract_signature(const char *bundle_path, const char *sig_path,
                                      const OtaPolicy *policy, gboolean force, GError **error);

/* Writes @out_path: @in_path with its signature replaced by the CMS in
 * @sig_path (made elsewhere, e.g. by a signing service), which must sign
 * exactly this bundle's content (plain: the payload digest; verity: embed
 * the same manifest, byte for byte) and be cryptographically intact. The
 * existing signature is checked against @input_policy, or without one only
 * for integrity (it tells what content is signed). With @result_policy,
 * the result must satisfy it, as OtaSignOptions.result_policy says. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_replace_signature(const char *in_path, const char *sig_path,
                                      const char *out_path, const OtaPolicy *input_policy,
                                      const OtaPolicy *result_policy, gboolean force,
                                      GError **error);

/* --- timestamps for air-gapped signing rooms (<otabundle/timestamp.h>) --- */

/* Writes @request_path: a DER TimeStampReq (RFC 3161, what `openssl ts
 * -query` writes) for the signer @signer_index of @bundle_path (0-based,
 * as ota_signature_get_signer() counts; -1: the one signer without a
 * timestamp, refused if there are several or none), whose signature must
 * be intact (trust is not checked). Any TSA client can take it to a TSA. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_timestamp_request(const char *bundle_path, int signer_index,
                                      const char *request_path, gboolean force, GError **error);

/* Writes @out_path: @in_path with the token of the DER TimeStampResp in
 * @response_path stored on the signer whose signature it stamps (its
 * index in *@signer_index), after checking the answer as
 * OtaTimestampOptions says, but for the nonce (a token over a signature
 * can't be older than it), and with @tsa_keyring (or NULL) the TSA's chain.
 * A signer that has a token already is refused. IN's signatures are
 * checked against @policy, or without one for integrity only; the payload
 * is copied unchanged. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_add_timestamp(const char *in_path, const char *response_path,
                                  const char *out_path, const OtaPolicy *policy,
                                  const char *tsa_keyring, gboolean force, guint *signer_index,
                                  GError **error);

/* --- encrypted bundles (see <otabundle/envelope.h>) --- */

/* Whether @bundle's CMS is an EnvelopedData: a crypt bundle encrypted for
 * recipients. Until ota_bundle_decrypt(), its signature and manifest are
 * unknown (ota_bundle_get_signature() is NULL, verifying and loading fail
 * with OTA_BUNDLE_ERROR_ENCRYPTED), and its format is crypt. */
gboolean ota_bundle_is_encrypted(const OtaBundle *bundle);
/* The recipients an encrypted bundle names (0 for any other), listed
 * without a key; @index below ota_bundle_get_n_recipients(). Owned by
 * @bundle. */
guint ota_bundle_get_n_recipients(const OtaBundle *bundle);
const OtaRecipient *ota_bundle_get_recipient(const OtaBundle *bundle, guint index);

/* Decrypts an encrypted bundle's signature with a recipient's private key
 * @key_uri (a PEM file or a pkcs11: URI, then through @store), and with
 * @cert_uri (its certificate, optional, as RAUC's [encryption] cert=) the
 * recipient is found by issuer and serial instead of by trying each.
 * Afterwards @bundle is what an unencrypted crypt bundle is (verify, read,
 * extract). An unencrypted or already decrypted bundle is left as it is.
 * Errors (prefixed with the bundle's path, naming the key, never a PIN):
 * OTA_KEYS_ERROR (loading; the key does not match @cert_uri),
 * OTA_ENVELOPE_ERROR_KEY_TYPE (no recipient has a key of that type),
 * _NOT_RECIPIENT, _DAMAGED (the EnvelopedData or what it decrypts to). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_decrypt(OtaBundle *bundle, const char *key_uri, const char *cert_uri,
                            OtaKeyStore *store, GError **error);

/* ota_bundle_extract() of a bundle already open (and decrypted). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_extract_to(OtaBundle *bundle, const OtaPolicy *policy, const char *outdir,
                               GError **error);

/* The casync chunk store (a directory or an http(s):// URL) that
 * ota_bundle_extract_to() rebuilds the images of a casync bundle from;
 * by default <bundle minus .raucb>.castr beside the bundle, as RAUC. */
void ota_bundle_set_casync_store(OtaBundle *bundle, const char *store);

typedef struct {
	/* Each a PEM file of one or more certificates, or a pkcs11: URI of
	 * one (through @store); every certificate becomes a recipient. */
	const char *const *recipients;
	gsize n_recipients;
	OtaKeyStore *store;
	/* IN's trust (rauc encrypt --keyring): its signature must satisfy it.
	 * NULL: it must only be intact. No signing key is needed either way. */
	const OtaPolicy *policy;
	/* Refuse recipient certificates outside their validity period. */
	gboolean check_time;
	/* Write an EnvelopedData over OTA_BUNDLE_MAX_SIGNATURE_SIZE (up to
	 * OTA_BUNDLE_MAX_ENVELOPE_SIZE): otabundle reads it, RAUC 1.8 does not. */
	gboolean allow_large_envelope;
	gboolean force;
} OtaEncryptOptions;

/* Writes @out_path: the crypt bundle @in_path (unencrypted) with its
 * signature wrapped in an EnvelopedData for the options' recipients, as
 * `rauc encrypt` does; the payload is copied unchanged. Refuses a bundle
 * of another format (encrypting a verity bundle's signature would hide its
 * manifest but not its payload), one encrypted already, a certificate
 * that can't be a recipient (OTA_ENVELOPE_ERROR_RECIPIENT) and too large
 * a result (OTA_ENVELOPE_ERROR_TOO_LARGE). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bundle_encrypt(const char *in_path, const char *out_path,
                            const OtaEncryptOptions *options, GError **error);

/* Closes the file and frees everything the bundle owns; NULL is ignored. */
void ota_bundle_free(OtaBundle *bundle);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaBundle, ota_bundle_free)

OTA_END_DECLS
