/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: a whole bundle file, as an attacker on the update
 * server or the wire would hand it to a device or to `otabundle info`.
 *
 * Each input is written to an unnamed memory file and goes through:
 *  - ota_bundle_open(): trailer and CMS structure;
 *  - ota_bundle_load_unverified() (info --no-verify): for plain bundles the
 *    squashfs and manifest in unverified bytes, through libsquashfs; for
 *    verity the manifest inside the unverified CMS. The harness then also
 *    reads the squashfs in the payload (plain) or in the data before the
 *    tree (verity) directly: stat and a bounded read of every image it
 *    names, so libsquashfs's data path sees hostile bytes too;
 *  - ota_bundle_verify() against a fixed policy, and for a bundle that
 *    passes, ota_bundle_check_contents(), ota_bundle_write_image() and
 *    ota_bundle_read_file(), then a second verification with
 *    OTA_BUNDLE_VERIFY_PAYLOAD and a private copy.
 *
 * The policy's keyring is made once at startup: a self-signed EC root
 * certificate, generated in process and written to a temporary file. Its
 * key is fixed (below), so that the seed bundles, signed by a leaf of that
 * root (see make-corpus.sh), verify: mutations of a seed then reach the
 * code after the signature check (verity reader, squashfs through it,
 * contents checks). The key is a test key and protects nothing. With
 * OTABUNDLE_FUZZ_EXPORT_PKI=DIR set, the initialisation also writes
 * root.pem, and two fresh signers issued by it (signer1.pem/.key,
 * signer2.pem/.key), into DIR. */
#include <otabundle/bundle.h>

#include "bundle-private.h"
#include <otabundle/policy.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* P-256. Test material only: it signs the fuzzing seed bundles. */
static const char root_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgp7R10m+pmjhp7zIu\n"
	"2mG1YmhOup7mbn/GIHoNH0I0NhihRANCAARZd/yh4rIm+2Fms7SPHfbhvlVlZToi\n"
	"uS7qOt51oJS5zNkxzgweS+bPpZeP4Kz+BhRaaMDC/bjm5wcijuKz0P/R\n"
	"-----END PRIVATE KEY-----\n";
#define ROOT_CN "otabundle fuzzing root"

/* Bytes of image data read per unverified squashfs, in total. */
#define MAX_UNVERIFIED_READ (256 * 1024)
/* Hooks and handlers read after verification. */
#define MAX_SMALL_FILE (64 * 1024)

static OtaPolicy *policy;
static const char *private_dir;
static int null_fd = -1;

static void die(const char *what)
{
	fprintf(stderr, "fuzz-bundle: %s\n", what);
	abort();
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL || X509_add_ext(cert, ext, -1) != 1)
		die("cannot add a certificate extension");
	X509_EXTENSION_free(ext);
}

/* @issuer NULL: the root, with fixed serial, validity and subject, so that
 * it is the same certificate (but for its signature) in every run. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *cert = X509_new();

	if (cert == NULL)
		die("X509_new failed");
	X509_set_version(cert, X509_VERSION_3);
	/* Signers differ in serial: CMS names a signer by issuer and serial. */
	ASN1_INTEGER_set(X509_get_serialNumber(cert),
	                 issuer ? g_random_int_range(2, G_MAXINT32) : 1);
	if (ASN1_TIME_set_string_X509(X509_getm_notBefore(cert), "20240101000000Z") != 1 ||
	    ASN1_TIME_set_string_X509(X509_getm_notAfter(cert), "21240101000000Z") != 1)
		die("cannot set certificate validity");
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
	                           (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(issuer ? issuer : cert));
	X509_set_pubkey(cert, key);
	add_ext(cert, issuer ? issuer : cert, NID_subject_key_identifier, "hash");
	if (issuer == NULL) {
		add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(cert, issuer, NID_authority_key_identifier, "keyid");
		add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature");
		add_ext(cert, issuer, NID_ext_key_usage, "codeSigning,emailProtection");
	}
	if (X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
		die("cannot sign certificate");
	return cert;
}

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	g_autoptr(BIO) bio = BIO_new_file(path, "w");

	if (bio == NULL || (cert && PEM_write_bio_X509(bio, cert) != 1) ||
	    (key && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1))
		die(path);
}

/* For make-corpus.sh: the root, and two signers it issued. */
static void export_pki(const char *dir, X509 *root, EVP_PKEY *root_key)
{
	g_autofree char *root_path = g_build_filename(dir, "root.pem", NULL);

	write_pem(root_path, root, NULL);
	for (int i = 1; i <= 2; i++) {
		g_autoptr(EVP_PKEY) key = EVP_EC_gen("P-256");
		g_autoptr(X509) cert = NULL;
		g_autofree char *cn = g_strdup_printf("otabundle fuzzing signer %d", i);
		g_autofree char *cert_name = g_strdup_printf("signer%d.pem", i);
		g_autofree char *key_name = g_strdup_printf("signer%d.key", i);
		g_autofree char *cert_path = g_build_filename(dir, cert_name, NULL);
		g_autofree char *key_path = g_build_filename(dir, key_name, NULL);

		if (key == NULL)
			die("cannot generate a signer key");
		cert = make_cert(key, cn, root, root_key);
		write_pem(cert_path, cert, NULL);
		write_pem(key_path, NULL, key);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	g_autoptr(BIO) bio = BIO_new_mem_buf(root_key_pem, -1);
	g_autoptr(EVP_PKEY) key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	g_autoptr(X509) root = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *keyring_dir = NULL;
	g_autofree char *keyring = NULL;
	const char *export_dir = g_getenv("OTABUNDLE_FUZZ_EXPORT_PKI");

	if (key == NULL)
		die("cannot read the root key");
	root = make_cert(key, ROOT_CN, NULL, NULL);
	if (export_dir != NULL)
		export_pki(export_dir, root, key);

	keyring_dir = g_dir_make_tmp("otabundle-fuzz-XXXXXX", &error);
	if (keyring_dir == NULL)
		die(error->message);
	keyring = g_build_filename(keyring_dir, "keyring.pem", NULL);
	write_pem(keyring, root, NULL);
	/* Purpose and time are the policy's business, tested elsewhere; here
	 * they would only make the seeds expire. */
	policy = ota_policy_new(keyring, NULL, OTA_PURPOSE_ANY, FALSE, 1, &error);
	if (policy == NULL)
		die(error->message);
	/* The policy holds the certificate now; leave nothing on disk. */
	unlink(keyring);
	rmdir(keyring_dir);

	/* Private copies are unnamed (O_TMPFILE): nothing to clean up, even
	 * after a crash. */
	private_dir = g_get_tmp_dir();
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0)
		die("cannot open /dev/null");
	return 0;
}

/* --- unverified ---------------------------------------------------------- */

typedef struct {
	gsize budget;
	EVP_MD_CTX *md;
} BoundedSink;

static gboolean bounded_sink(const guint8 *data, gsize length, gpointer user_data,
                             GError **error)
{
	BoundedSink *sink = user_data;

	if (length > sink->budget) {
		g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_NOSPC, "read budget spent");
		return FALSE;
	}
	sink->budget -= length;
	EVP_DigestUpdate(sink->md, data, length);
	return TRUE;
}

/* What a careless consumer of an unverified image could do with the names
 * in an unverified manifest. Errors are expected; crashes are not. */
static void read_unverified_squashfs(OtaSquashfs *squashfs, const OtaManifest *m)
{
	g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();
	BoundedSink sink = {MAX_UNVERIFIED_READ, md};

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		die("cannot initialise SHA-256");
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);
		g_autoptr(GError) error = NULL;
		guint64 size = 0;

		if (!ota_squashfs_stat_file(squashfs, image->filename, &size, &error))
			continue;
		g_clear_error(&error);
		if (!ota_squashfs_read_file(squashfs, image->filename, bounded_sink, &sink, &error))
			g_assert_nonnull(error);
	}
	if (m->hook_filename != NULL) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) hook = ota_squashfs_read_small_file(squashfs, m->hook_filename,
		                                                      MAX_SMALL_FILE, &error);

		g_assert_true(hook != NULL || error != NULL);
	}
}

static void exercise_unverified(const char *path)
{
	g_autoptr(OtaBundle) b = NULL;
	g_autoptr(GError) error = NULL;

	b = ota_bundle_open(path, &error);
	if (b == NULL)
		return;
	if (!ota_bundle_load_unverified(b, &error))
		return;
	g_assert_nonnull(b->manifest);
	g_free(ota_manifest_get_meta(b->manifest, "otabundle", "security-version"));

	if (b->format == OTA_BUNDLE_FORMAT_PLAIN) {
		/* load_unverified opened it over the unverified payload. */
		g_assert_nonnull(b->squashfs);
		read_unverified_squashfs(b->squashfs, b->manifest);
	} else {
		/* The library reads a verity payload only through the verity
		 * reader; this reads its squashfs unverified, on purpose. */
		g_autoptr(OtaReader) raw = ota_reader_new_fd(b->fd, 0, b->verity.data_size, &error);
		g_autoptr(OtaSquashfs) squashfs = NULL;

		if (raw == NULL)
			die(error->message);
		squashfs = ota_squashfs_open(raw, &error);
		if (squashfs != NULL)
			read_unverified_squashfs(squashfs, b->manifest);
	}
}

/* --- verified ------------------------------------------------------------ */

static void exercise_verified(OtaBundle *b)
{
	const OtaManifest *m = b->manifest;
	g_autoptr(GError) error = NULL;

	if (!ota_bundle_check_contents(b, TRUE, &error)) {
		g_assert_nonnull(error);
		return;
	}
	for (guint i = 0; i < m->images->len; i++) {
		if (!ota_bundle_write_image(b, g_ptr_array_index(m->images, i), null_fd, &error)) {
			/* check_contents just hashed every image */
			fprintf(stderr, "write_image failed after check_contents: %s\n", error->message);
			abort();
		}
	}
	if (m->hook_filename != NULL) {
		g_autoptr(GBytes) hook = ota_bundle_read_file(b, m->hook_filename, MAX_SMALL_FILE,
		                                              &error);

		g_assert_true(hook != NULL || error != NULL);
	}
}

static void exercise_verify(const char *path)
{
	g_autoptr(OtaBundle) b = NULL;
	g_autoptr(OtaBundle) again = NULL;
	g_autoptr(GError) error = NULL;

	b = ota_bundle_open(path, &error);
	if (b == NULL)
		return;
	/* Verity: no up-front tree check, so the squashfs is read through
	 * the block-checking reader. */
	if (!ota_bundle_verify(b, policy, 0, NULL, &error)) {
		g_assert_nonnull(error);
		return;
	}
	exercise_verified(b);

	again = ota_bundle_open(path, &error);
	if (again == NULL)
		die("a bundle that verified does not open again");
	if (!ota_bundle_verify(again, policy, OTA_BUNDLE_VERIFY_PAYLOAD, private_dir, &error)) {
		/* Plain: the same check as before. Verity: also every block. */
		if (again->format == OTA_BUNDLE_FORMAT_PLAIN) {
			fprintf(stderr, "plain bundle verified once, then not: %s\n", error->message);
			abort();
		}
		return;
	}
	if (!ota_bundle_check_contents(again, FALSE, &error))
		g_assert_nonnull(error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *path = NULL;
	int fd = memfd_create("bundle", MFD_CLOEXEC);

	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	if (!ota_write_all(fd, data, size, NULL))
		die("cannot write the input");
	path = g_strdup_printf("/proc/self/fd/%d", fd);
	exercise_unverified(path);
	exercise_verify(path);
	close(fd);
	return 0;
}
