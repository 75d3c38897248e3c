/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `rauc info`'s formats (RAUC 1.8 to 1.15): a bundle's manifest under
 * RAUC's names, with otabundle's facts beside them under names RAUC does
 * not use. Shared by both programs as `rauc`: otabundle on the build host
 * (rauc-cli.c) and otabundle-install on a device (rauc-device-cli.c). */
#include "rauc-info.h"

#include <otabundle/text.h>

#include <openssl/x509.h>
#include <string.h>

#include "lib/json-output.h"

/* --- rauc info ------------------------------------------------------------- */

gboolean rauc_cli_info_format_is_known(const char *format)
{
	return g_strcmp0(format, "json") == 0 || g_strcmp0(format, "json-pretty") == 0 ||
	       g_strcmp0(format, "shell") == 0;
}

static gboolean has_hook(char **hooks, const char *name)
{
	return hooks != NULL && g_strv_contains((const char *const *)hooks, name);
}

/* RAUC lists hooks in this order, whatever the manifest's. */
static GStrv hooks_in_rauc_order(char **hooks, const char *const *order)
{
	g_autoptr(GPtrArray) list = g_ptr_array_new();

	for (const char *const *h = order; *h; h++) {
		if (has_hook(hooks, *h))
			g_ptr_array_add(list, g_strdup(*h));
	}
	g_ptr_array_add(list, NULL);
	return (GStrv)g_ptr_array_free(g_steal_pointer(&list), FALSE);
}

static const char *const bundle_hooks[] = {"install-check", NULL};
static const char *const image_hooks[] = {"pre-install", "install", "post-install", NULL};

static void json_add_rauc_image(JsonBuilder *b, const OtaImage *image)
{
	g_auto(GStrv) hooks = hooks_in_rauc_order(image->hooks, image_hooks);
	g_auto(GStrv) adaptive = ota_image_get_adaptive_methods(image);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, image->slotclass);
	json_builder_begin_object(b);
	json_output_add_null(b, "artifact");
	json_output_add_string(b, "variant", image->variant);
	json_output_add_string(b, "filename", image->filename);
	json_output_add_string(b, "checksum", image->sha256);
	json_output_add_int(b, "size", image->size);
	json_output_add_strv(b, "hooks", hooks);
	json_output_add_strv(b, "adaptive", adaptive);
	json_builder_end_object(b);
	json_builder_end_object(b);
}

/* RAUC's members first (as RAUC 1.15 names them; 1.8 has a subset), then
 * otabundle's: the bundle file, the verdict and every signer. */
static void print_info_json(const OtaBundle *bundle, gboolean pretty)
{
	const OtaManifest *m = ota_bundle_get_manifest(bundle);
	const OtaSignature *sig = ota_bundle_get_signature(bundle);
	g_autofree char *hash = ota_bundle_get_manifest_sha256(bundle);
	g_auto(GStrv) hooks = hooks_in_rauc_order(m->hooks, bundle_hooks);
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_output_add_string(b, "compatible", m->compatible);
	json_output_add_string(b, "version", m->version);
	json_output_add_string(b, "description", m->description);
	json_output_add_string(b, "build", m->build);
	json_output_add_string(b, "format",
	                       ota_bundle_format_to_string(ota_bundle_get_format(bundle)));
	json_output_add_strv(b, "hooks", hooks);
	json_output_add_string(b, "hash", hash);
	json_builder_set_member_name(b, "images");
	json_builder_begin_array(b);
	for (guint i = 0; i < m->images->len; i++)
		json_add_rauc_image(b, g_ptr_array_index(m->images, i));
	json_builder_end_array(b);

	json_output_add_string(b, "bundle", ota_bundle_get_path(bundle));
	json_output_add_bool(b, "verified", ota_bundle_is_verified(bundle));
	json_output_add_int(b, "trusted_signers", ota_signature_get_counted(sig));
	json_output_add_signers(b, sig);
	json_output_add_meta(b, m->meta);
	json_builder_end_object(b);

	json_output_print_formatted(b, pretty);
}

void rauc_print_shell(const char *name, const char *value)
{
	g_autofree char *quoted = g_shell_quote(value ? value : "");

	g_print("%s=%s\n", name, quoted);
}

void rauc_print_shell_n(const char *name, guint n, const char *value)
{
	g_autofree char *full = g_strdup_printf("%s_%u", name, n);

	rauc_print_shell(full, value);
}

static void print_shell_strv(const char *name, guint n, char **values)
{
	g_autofree char *joined = g_strjoinv(" ", values);

	rauc_print_shell_n(name, n, joined);
}

/* RAUC's r_prepare_env_key(): upper case, '-' as '_'; a name with any
 * other character can't be a variable and is left out, as RAUC does. */
static char *env_key(const char *name)
{
	g_autofree char *key = g_ascii_strup(name, -1);

	for (char *p = key; *p; p++) {
		if (*p == '-')
			*p = '_';
		else if (!g_ascii_isalnum(*p) && *p != '_')
			return NULL;
	}
	return g_steal_pointer(&key);
}

static void print_shell_meta(GKeyFile *meta)
{
	g_auto(GStrv) groups = g_key_file_get_groups(meta, NULL);

	for (char **g = groups; *g; g++) {
		g_autofree char *group = env_key(*g + strlen("meta."));
		g_auto(GStrv) keys = g_key_file_get_keys(meta, *g, NULL, NULL);

		for (char **k = keys; group != NULL && k && *k; k++) {
			g_autofree char *key = env_key(*k);
			g_autofree char *value = g_key_file_get_string(meta, *g, *k, NULL);
			g_autofree char *name = NULL;

			if (key == NULL)
				continue;
			name = g_strdup_printf("RAUC_META_%s_%s", group, key);
			rauc_print_shell(name, value);
		}
	}
}

static void print_info_shell(const OtaBundle *bundle)
{
	const OtaManifest *m = ota_bundle_get_manifest(bundle);
	const OtaSignature *sig = ota_bundle_get_signature(bundle);
	g_autofree char *hash = ota_bundle_get_manifest_sha256(bundle);
	g_auto(GStrv) hooks = hooks_in_rauc_order(m->hooks, bundle_hooks);
	g_autofree char *bundle_hook_list = g_strjoinv(" ", hooks);
	g_autofree char *n_images = g_strdup_printf("%u", m->images->len);
	g_autofree char *n_signers = g_strdup_printf("%u", ota_signature_get_n_signers(sig));
	g_autofree char *n_trusted = g_strdup_printf("%u", ota_signature_get_counted(sig));

	rauc_print_shell("RAUC_MF_COMPATIBLE", m->compatible);
	rauc_print_shell("RAUC_MF_VERSION", m->version);
	rauc_print_shell("RAUC_MF_DESCRIPTION", m->description);
	rauc_print_shell("RAUC_MF_BUILD", m->build);
	rauc_print_shell("RAUC_MF_HASH", hash);
	rauc_print_shell("RAUC_MF_FORMAT", ota_bundle_format_to_string(ota_bundle_get_format(bundle)));
	rauc_print_shell("RAUC_MF_IMAGES", n_images);
	rauc_print_shell("RAUC_MF_HOOKS", bundle_hook_list);
	print_shell_meta(m->meta);
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);
		g_auto(GStrv) image_hooks_list = hooks_in_rauc_order(image->hooks, image_hooks);
		g_auto(GStrv) adaptive = ota_image_get_adaptive_methods(image);
		g_autofree char *size = g_strdup_printf("%" G_GUINT64_FORMAT, image->size);

		rauc_print_shell_n("RAUC_IMAGE_NAME", i, image->filename);
		rauc_print_shell_n("RAUC_IMAGE_CLASS", i, image->slotclass);
		rauc_print_shell_n("RAUC_IMAGE_ARTIFACT", i, NULL);
		rauc_print_shell_n("RAUC_IMAGE_VARIANT", i, image->variant);
		rauc_print_shell_n("RAUC_IMAGE_DIGEST", i, image->sha256);
		rauc_print_shell_n("RAUC_IMAGE_SIZE", i, size);
		print_shell_strv("RAUC_IMAGE_HOOKS", i, image_hooks_list);
		if (adaptive[0] != NULL)
			print_shell_strv("RAUC_IMAGE_ADAPTIVE", i, adaptive);
	}
	rauc_print_shell("OTABUNDLE_BUNDLE", ota_bundle_get_path(bundle));
	rauc_print_shell("OTABUNDLE_VERIFIED", ota_bundle_is_verified(bundle) ? "true" : "false");
	rauc_print_shell("OTABUNDLE_TRUSTED_SIGNERS", n_trusted);
	rauc_print_shell("OTABUNDLE_SIGNERS", n_signers);
	for (guint i = 0; i < ota_signature_get_n_signers(sig); i++) {
		const OtaSignerInfo *s = ota_signature_get_signer(sig, i);

		rauc_print_shell_n("OTABUNDLE_SIGNER_SUBJECT", i, ota_signer_info_get_subject(s));
		rauc_print_shell_n("OTABUNDLE_SIGNER_STATUS", i,
		              ota_signer_status_to_string(ota_signer_info_get_status(s)));
	}
}

void rauc_cli_print_info(const OtaBundle *bundle, const char *format)
{
	if (g_str_equal(format, "shell"))
		print_info_shell(bundle);
	else
		print_info_json(bundle, g_str_equal(format, "json-pretty"));
}

void rauc_cli_print_certificates(const OtaBundle *bundle)
{
	const OtaSignature *sig = ota_bundle_get_signature(bundle);

	for (guint i = 0; i < ota_signature_get_n_signers(sig); i++) {
		X509 *cert = ota_signer_info_get_certificate(ota_signature_get_signer(sig, i));
		g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
		g_auto(GStrv) lines = NULL;
		g_autofree char *text = NULL;
		char *data;
		long len;

		if (cert == NULL || bio == NULL || X509_print_ex(bio, cert, 0, 0) != 1)
			continue;
		len = BIO_get_mem_data(bio, &data);
		text = g_strndup(data, (gsize)len);
		/* A certificate is the bundle's text, not ours. */
		lines = g_strsplit(text, "\n", -1);
		for (char **l = lines; *l; l++) {
			g_autofree char *line = ota_text_escape_controls(*l);

			if (**l != '\0' || l[1] != NULL)
				g_print("%s\n", line);
		}
	}
}

/* RAUC's quoted value: a bundle's text, escaped (NULL as RAUC prints it). */
static char *quoted(const char *value)
{
	g_autofree char *escaped = ota_text_escape(value ? value : "(null)");

	return g_strdup_printf("'%s'", escaped);
}

void rauc_cli_print_info_readable(const OtaBundle *bundle)
{
	const OtaManifest *m = ota_bundle_get_manifest(bundle);
	OtaBundleFormat format = ota_bundle_get_format(bundle);
	g_auto(GStrv) hooks = hooks_in_rauc_order(m->hooks, bundle_hooks);
	g_autofree char *hook_list = g_strjoinv(" ", hooks);
	g_autofree char *compatible = quoted(m->compatible);
	g_autofree char *version = quoted(m->version);
	g_autofree char *description = quoted(m->description);
	g_autofree char *build = quoted(m->build);
	guint n = m->images->len;

	g_print("Compatible: \t%s\nVersion:    \t%s\nDescription:\t%s\nBuild:      \t%s\n",
	        compatible, version, description, build);
	g_print("Hooks:      \t'%s'\n", hook_list);
	g_print("Bundle Format: \t%s\n", ota_bundle_format_to_string(format));
	if (format != OTA_BUNDLE_FORMAT_PLAIN) {
		g_autofree char *salt = quoted(m->verity_salt);
		g_autofree char *hash = quoted(m->verity_hash);

		g_print("  Verity Salt: \t%s\n  Verity Hash: \t%s\n  Verity Size: \t%" G_GUINT64_FORMAT
		        "\n", salt, hash, m->verity_size);
	}
	g_print("\n%u Image%s%s\n", n, n == 1 ? "" : "s", n > 0 ? ":" : "");
	for (guint i = 0; i < n; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);
		g_auto(GStrv) image_hooks_list = hooks_in_rauc_order(image->hooks, image_hooks);
		g_autofree char *image_hook_list = g_strjoinv(" ", image_hooks_list);
		g_autofree char *slotclass = ota_text_escape(image->slotclass);
		g_autofree char *variant = ota_text_escape(image->variant);
		g_autofree char *filename = ota_text_escape(image->filename);

		g_print("  [%s]\n", slotclass);
		if (variant != NULL)
			g_print("\tVariant:   %s\n", variant);
		g_print("\tFilename:  %s\n\tChecksum:  %s\n\tSize:      %" G_GUINT64_FORMAT "\n", filename,
		        image->sha256 ? image->sha256 : "", image->size);
		g_print("\tHooks:     %s\n", image_hook_list);
	}
	g_print("\n%s\n", ota_bundle_is_verified(bundle) ? "Signature verified" : "Signature unverified");
}
