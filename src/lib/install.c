/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/install.h>
#include <otabundle/progress.h>
#include <otabundle/slot.h>
#include <otabundle/text.h>

#include <archive.h>
#include <gio/gio.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(ota-install-error-quark, ota_install_error)

#define TAR_BLOCK (64 * 1024)

static gboolean fail(GError **error, OtaInstallError code, const char *format, ...)
	G_GNUC_PRINTF(3, 4);
/* These messages quote manifest values (compatible, versions, meta), which
 * may hold any character GKeyFile unescapes, newlines included: escaped, so
 * that each message stays one line and can't rewrite a terminal. */
static gboolean fail(GError **error, OtaInstallError code, const char *format, ...)
{
	g_autofree char *msg = NULL;
	g_autofree char *escaped = NULL;
	va_list args;

	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	escaped = ota_text_escape_controls(msg);
	g_set_error_literal(error, OTA_INSTALL_ERROR, (gint)code, escaped);
	return FALSE;
}

/* --- the target ---------------------------------------------------------------- */

void ota_target_free(OtaTarget *t)
{
	if (t == NULL)
		return;
	ota_bootloader_free(t->bootloader);
	ota_state_free(t->state);
	ota_system_config_free(t->config);
	g_free(t);
}

static gboolean find_booted(OtaTarget *t, const char *override, const char *cmdline_path,
                            GError **error)
{
	g_autofree char *name = override ? g_strdup(override) : NULL;
	g_autoptr(GError) ierror = NULL;

	if (name == NULL) {
		name = ota_bootloader_get_booted(t->bootloader, &ierror);
		if (ierror != NULL) {
			g_propagate_error(error, g_steal_pointer(&ierror));
			return FALSE;
		}
	}
	if (name == NULL)
		name = ota_slot_booted_from_cmdline(cmdline_path);
	if (name == NULL)
		return fail(error, OTA_INSTALL_ERROR_BOOTED,
		            "cannot tell which slot is booted (no otabundle.slot= or rauc.slot= on %s)",
		            cmdline_path);
	t->booted = ota_slot_find(t->config, name);
	if (t->booted == NULL || t->booted->bootname == NULL)
		return fail(error, OTA_INSTALL_ERROR_BOOTED,
		            "booted slot '%s' is not a bootable slot of %s", name, t->config->path);
	return TRUE;
}

OtaTarget *ota_target_open(const char *conf_path, const char *override_boot_slot,
                           const char *cmdline_path, GError **error)
{
	g_autoptr(OtaTarget) t = g_new0(OtaTarget, 1);
	g_autoptr(GPtrArray) bootnames = g_ptr_array_new();

	t->config = ota_system_config_load(conf_path, error);
	if (t->config == NULL)
		return NULL;
	for (guint i = 0; i < t->config->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(t->config->slots, i);

		if (s->bootname != NULL)
			g_ptr_array_add(bootnames, s->bootname);
	}
	g_ptr_array_add(bootnames, NULL);
	t->bootloader = ota_bootloader_new(t->config, (const char *const *)bootnames->pdata, error);
	if (t->bootloader == NULL)
		return NULL;
	t->state = ota_state_load(t->config->data_directory, error);
	if (t->state == NULL || !find_booted(t, override_boot_slot, cmdline_path, error))
		return NULL;
	return g_steal_pointer(&t);
}

/* --- planning -------------------------------------------------------------------- */

void ota_install_plan_free(OtaInstallPlan *p)
{
	if (p == NULL)
		return;
	ota_bundle_free(p->bundle);
	g_ptr_array_unref(p->steps);
	g_ptr_array_unref(p->policies_used);
	g_free(p);
}

/* What would take the install out of our hands: RAUC's [handler] replaces
 * the whole installation, an image "install" hook the copy. We don't hand a
 * bundle's program the device, so such bundles are refused up front (info
 * says so too), never half-installed. */
static gboolean check_installable(const OtaInstallPlan *p, GError **error)
{
	if (p->bundle->manifest->handler_filename != NULL)
		return fail(error, OTA_INSTALL_ERROR_HOOK,
		            "the bundle has a [handler], which otabundle-install does not run");
	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);

		if (step->image->hooks != NULL &&
		    g_strv_contains((const char *const *)step->image->hooks, "install"))
			return fail(error, OTA_INSTALL_ERROR_HOOK,
			            "image %s has an 'install' hook, which otabundle-install does not run",
			            step->image->filename);
	}
	return TRUE;
}

static OtaPolicy *policy_for(OtaTarget *t, const char *name, GError **error)
{
	const OtaPolicyConfig *pc = ota_system_config_get_policy(t->config, name);

	g_assert(pc != NULL); /* config.c checked every slot's policy exists */
	return ota_policy_new(pc->keyring, pc->crl, pc->purpose, TRUE, pc->threshold, error);
}

/* Policy @name must pass too (once per plan); @why says what asked for it. */
static gboolean check_policy(OtaTarget *t, OtaInstallPlan *p, const char *name, const char *why,
                             GError **error)
{
	OtaBundle *b = p->bundle;
	g_autoptr(OtaPolicy) tier = NULL;
	g_autoptr(GError) ierror = NULL;

	if (g_ptr_array_find_with_equal_func(p->policies_used, name, g_str_equal, NULL))
		return TRUE;
	tier = policy_for(t, name, error);
	if (tier == NULL)
		return FALSE;
	if (!ota_signature_verify(b->signature,
	                          b->format == OTA_BUNDLE_FORMAT_PLAIN ? b->payload_checksum.sha256
	                                                               : NULL,
	                          tier, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: policy '%s' of %s: ",
		                           b->path, name, why);
		return FALSE;
	}
	g_ptr_array_add(p->policies_used, g_strdup(name));
	return TRUE;
}

static gboolean bundle_runs_code(const OtaManifest *m)
{
	if (m->hook_filename != NULL || m->handler_filename != NULL || m->hooks != NULL)
		return TRUE;
	for (guint i = 0; i < m->images->len; i++) {
		if (((const OtaImage *)g_ptr_array_index(m->images, i))->hooks != NULL)
			return TRUE;
	}
	return FALSE;
}

/* A stricter tier bound to a slot the bundle writes must pass too: a key
 * trusted for the application can't authorize a bootloader. A bundle that
 * runs code of its own (hooks) runs it as root, able to write any slot, so
 * it must pass every policy the device has. */
static gboolean check_tiers(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);
		g_autofree char *why = g_strdup_printf("slot %s", step->slot->name);

		if (step->slot->policy != NULL &&
		    !check_policy(t, p, step->slot->policy, why, error))
			return FALSE;
	}
	if (!bundle_runs_code(p->bundle->manifest))
		return TRUE;
	for (guint i = 0; i < t->config->policies->len; i++) {
		const OtaPolicyConfig *pc = g_ptr_array_index(t->config->policies, i);

		if (!check_policy(t, p, pc->name, "a bundle with hooks", error))
			return FALSE;
	}
	return TRUE;
}

static gboolean meta_uint(const OtaManifest *m, const char *key, guint64 *out, GError **error)
{
	g_autofree char *value = ota_manifest_get_meta(m, "otabundle", key);

	*out = 0;
	if (value == NULL || g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64, out, NULL))
		return TRUE;
	return fail(error, OTA_INSTALL_ERROR_INVALID,
	            "[meta.otabundle] %s '%s' is not a decimal number", key, value);
}

static gboolean check_compatible(OtaTarget *t, const OtaManifest *m, GError **error)
{
	g_autofree char *revisions = ota_manifest_get_meta(m, "otabundle", "hardware-revisions");
	g_auto(GStrv) list = NULL;

	if (!g_str_equal(m->compatible, t->config->compatible))
		return fail(error, OTA_INSTALL_ERROR_INCOMPATIBLE,
		            "bundle is for '%s', this system is '%s'", m->compatible,
		            t->config->compatible);
	if (revisions == NULL)
		return TRUE;
	list = g_strsplit(revisions, ",", -1);
	for (char **r = list; *r; r++) {
		if (g_strcmp0(g_strstrip(*r), t->config->hardware_revision) == 0)
			return TRUE;
	}
	return fail(error, OTA_INSTALL_ERROR_INCOMPATIBLE,
	            "bundle is for hardware revisions %s, this device is %s", revisions,
	            t->config->hardware_revision ? t->config->hardware_revision : "unknown");
}

/* Two locks: the security floor always holds; a lower version only with
 * allow-downgrade. Versions compare like strverscmp (1.10 > 1.9). */
static gboolean check_rollback(OtaTarget *t, const OtaManifest *m, guint64 security_version,
                               GError **error)
{
	const char *installed = t->state->installed_version;
	g_autofree char *min = ota_manifest_get_meta(m, "otabundle", "min-installed-version");

	if (security_version < t->state->security_floor)
		return fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		            "security version %" G_GUINT64_FORMAT " is below this device's floor %"
		            G_GUINT64_FORMAT, security_version, t->state->security_floor);
	if (installed != NULL && m->version != NULL && strverscmp(m->version, installed) < 0 &&
	    !t->config->allow_downgrade)
		return fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		            "version %s is older than the installed %s (downgrades are not allowed)",
		            m->version, installed);
	if (min != NULL && (installed == NULL || strverscmp(installed, min) < 0))
		return fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		            "bundle needs installed version %s or later, this device has %s", min,
		            installed ? installed : "none recorded");
	return TRUE;
}

static gboolean check_expiry(const OtaManifest *m, GError **error)
{
	g_autofree char *expires = ota_manifest_get_meta(m, "otabundle", "expires");
	g_autoptr(GDateTime) when = NULL;
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();

	if (expires == NULL)
		return TRUE;
	when = g_date_time_new_from_iso8601(expires, NULL);
	if (when == NULL)
		return fail(error, OTA_INSTALL_ERROR_INVALID,
		            "[meta.otabundle] expires '%s' is not an RFC 3339 time", expires);
	if (g_date_time_compare(now, when) >= 0)
		return fail(error, OTA_INSTALL_ERROR_EXPIRED, "bundle expired at %s", expires);
	return TRUE;
}

/* Installing switches the boot to the other slot, so the bundle must be
 * what boots there: one that leaves the boot slot as it is (an application
 * image only, or the system image only for a variant) would make the
 * previous, older system primary and let mark-good commit it. Refused;
 * RAUC's habit of writing such a bundle without switching is of no use
 * here, where every class moves with the boot slot. */
static gboolean check_writes_boot_target(OtaTarget *t, const OtaInstallPlan *p, GError **error)
{
	for (guint i = 0; i < p->steps->len; i++) {
		if (((const OtaInstallStep *)g_ptr_array_index(p->steps, i))->slot == p->boot_target)
			return TRUE;
	}
	return fail(error, OTA_INSTALL_ERROR_NO_SLOT,
	            "the bundle has no image for the boot slot class '%s': installing it would "
	            "boot %s with the older system it holds",
	            t->booted->slotclass, p->boot_target->name);
}

static gboolean plan_steps(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	const OtaManifest *m = p->bundle->manifest;

	p->boot_target = ota_slot_boot_target(t->config, t->booted, error);
	if (p->boot_target == NULL)
		return FALSE;
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);
		OtaInstallStep *step;

		/* This system has no variants: images for one are not for it. */
		if (image->variant != NULL)
			continue;
		step = g_new0(OtaInstallStep, 1);
		step->image = image;
		step->slot = ota_slot_for_class(t->config, t->booted, p->boot_target, image->slotclass,
		                                error);
		g_ptr_array_add(p->steps, step);
		if (step->slot == NULL ||
		    !ota_slot_check_not_booted(t->config, t->booted, step->slot, error))
			return FALSE;
	}
	if (p->steps->len == 0)
		return fail(error, OTA_INSTALL_ERROR_NO_SLOT, "the bundle has no image for this system");
	return check_writes_boot_target(t, p, error);
}

OtaInstallPlan *ota_install_plan(OtaTarget *t, const char *bundle_path, GError **error)
{
	g_autoptr(OtaInstallPlan) p = g_new0(OtaInstallPlan, 1);
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(GError) ierror = NULL;

	p->steps = g_ptr_array_new_with_free_func(g_free);
	p->policies_used = g_ptr_array_new_with_free_func(g_free);
	if (g_mkdir_with_parents(t->config->data_directory, 0700) < 0) {
		fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", t->config->data_directory,
		     g_strerror(errno));
		return NULL;
	}
	policy = policy_for(t, "default", error);
	if (policy == NULL)
		return NULL;
	p->bundle = ota_bundle_open(bundle_path, error);
	if (p->bundle == NULL)
		return NULL;
	/* Every block, and for plain bundles a private copy that is all we
	 * read from now on: the file can't change under the install. */
	if (!ota_bundle_verify(p->bundle, policy, OTA_BUNDLE_VERIFY_PAYLOAD,
	                       t->config->data_directory, error) ||
	    !ota_bundle_check_contents(p->bundle, FALSE, error))
		return NULL;
	g_ptr_array_add(p->policies_used, g_strdup("default"));

	if (!plan_steps(t, p, &ierror) || !check_installable(p, &ierror) ||
	    !check_tiers(t, p, &ierror) ||
	    !check_compatible(t, p->bundle->manifest, &ierror) ||
	    !meta_uint(p->bundle->manifest, "security-version", &p->security_version, &ierror) ||
	    !check_rollback(t, p->bundle->manifest, p->security_version, &ierror) ||
	    !check_expiry(p->bundle->manifest, &ierror)) {
		if (ierror->domain == OTA_INSTALL_ERROR || ierror->domain == OTA_SLOT_ERROR)
			g_prefix_error(&ierror, "%s: ", bundle_path);
		g_propagate_error(error, g_steal_pointer(&ierror));
		return NULL;
	}
	return g_steal_pointer(&p);
}

/* --- writing ------------------------------------------------------------------------ */

static gboolean write_raw(OtaBundle *b, const OtaInstallStep *step, GError **error)
{
	struct stat st;
	gboolean block = stat(step->slot->device, &st) == 0 && S_ISBLK(st.st_mode);
	/* Never O_CREAT: a mistyped device must fail, not fill a new file. */
	int fd = open(step->slot->device, O_WRONLY | O_CLOEXEC | (block ? 0 : O_TRUNC));
	gboolean ok;

	if (fd < 0)
		return fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", step->slot->device,
		            g_strerror(errno));
	ok = ota_bundle_write_image(b, step->image, fd, error);
	if (ok && fsync(fd) < 0)
		ok = fail(error, OTA_INSTALL_ERROR_WRITE, "%s: fsync failed: %s", step->slot->device,
		          g_strerror(errno));
	close(fd);
	return ok;
}

static gboolean empty_directory(const char *path, GError **error)
{
	g_autoptr(GFile) dir = g_file_new_for_path(path);
	g_autoptr(GFileEnumerator) children = g_file_enumerate_children(
		dir, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
		G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, error);

	if (children == NULL)
		return FALSE;
	for (;;) {
		g_autoptr(GFileInfo) info = g_file_enumerator_next_file(children, NULL, error);
		g_autoptr(GFile) child = NULL;
		g_autofree char *child_path = NULL;

		if (info == NULL)
			break;
		child = g_file_get_child(dir, g_file_info_get_name(info));
		child_path = g_file_get_path(child);
		if (g_file_info_get_file_type(info) == G_FILE_TYPE_DIRECTORY &&
		    !empty_directory(child_path, error))
			return FALSE;
		if (!g_file_delete(child, NULL, error))
			return FALSE;
	}
	return error == NULL || *error == NULL;
}

static gboolean copy_entry_data(struct archive *in, struct archive *out, GError **error)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;

	while ((r = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK) {
		if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_OK)
			return fail(error, OTA_INSTALL_ERROR_WRITE, "%s", archive_error_string(out));
	}
	if (r != ARCHIVE_EOF)
		return fail(error, OTA_INSTALL_ERROR_WRITE, "%s", archive_error_string(in));
	return TRUE;
}

static gboolean extract_entries(struct archive *in, struct archive *out, GError **error)
{
	struct archive_entry *entry;
	int r;

	while ((r = archive_read_next_header(in, &entry)) == ARCHIVE_OK) {
		if (archive_write_header(out, entry) != ARCHIVE_OK)
			return fail(error, OTA_INSTALL_ERROR_WRITE, "tar image, %s: %s",
			            archive_entry_pathname(entry), archive_error_string(out));
		if (archive_entry_size(entry) > 0 && !copy_entry_data(in, out, error)) {
			g_prefix_error(error, "tar image, %s: ", archive_entry_pathname(entry));
			return FALSE;
		}
		if (archive_write_finish_entry(out) != ARCHIVE_OK)
			return fail(error, OTA_INSTALL_ERROR_WRITE, "tar image, %s: %s",
			            archive_entry_pathname(entry), archive_error_string(out));
	}
	if (r != ARCHIVE_EOF)
		return fail(error, OTA_INSTALL_ERROR_WRITE, "tar image: %s", archive_error_string(in));
	return TRUE;
}

/* libarchive with its hostile-archive protections: no "..", no absolute
 * paths, no writing through symlinks. It extracts relative to the working
 * directory, so we enter the slot directory for the duration (the CLI is
 * single-threaded) and come back. */
static gboolean extract_tar(int tar_fd, const char *dir, GError **error)
{
	struct archive *in = archive_read_new();
	struct archive *out = archive_write_disk_new();
	int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	gboolean ok;

	archive_read_support_format_tar(in);
	archive_read_support_filter_all(in);
	/* Owners too when we may set them (as root, installing a root
	 * filesystem); as another user libarchive could only fail at it. */
	archive_write_disk_set_options(out, (geteuid() == 0 ? ARCHIVE_EXTRACT_OWNER : 0) |
	                                            ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
	                                            ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	                                            ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	                                            ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (here < 0 || chdir(dir) < 0)
		ok = fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", dir, g_strerror(errno));
	else if (archive_read_open_fd(in, tar_fd, TAR_BLOCK) != ARCHIVE_OK)
		ok = fail(error, OTA_INSTALL_ERROR_WRITE, "tar image: %s", archive_error_string(in));
	else
		ok = extract_entries(in, out, error);
	if (here >= 0) {
		if (fchdir(here) < 0 && ok)
			ok = fail(error, OTA_INSTALL_ERROR_WRITE, "cannot return to the working directory");
		close(here);
	}
	archive_read_free(in);
	archive_write_free(out);
	return ok;
}

/* The image goes through a private unlinked file first: it is hash-checked
 * completely before libarchive parses a byte of it. */
static gboolean write_tar(OtaTarget *t, OtaBundle *b, const OtaInstallStep *step, GError **error)
{
	int fd = open(t->config->data_directory, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	gboolean ok;

	if (fd < 0)
		return fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", t->config->data_directory,
		            g_strerror(errno));
	ok = ota_bundle_write_image(b, step->image, fd, error);
	if (ok && (lseek(fd, 0, SEEK_SET) != 0 || !empty_directory(step->slot->device, error) ||
	           !extract_tar(fd, step->slot->device, error))) {
		g_prefix_error(error, "%s: ", b->path);
		ok = FALSE;
	}
	close(fd);
	if (ok)
		sync(); /* the extracted tree, before the slot may be booted */
	return ok;
}

static gboolean write_step(OtaTarget *t, OtaBundle *b, const OtaInstallStep *step,
                           GError **error)
{
	g_autofree char *what = g_strdup_printf("install %s", step->slot->name);
	gboolean ok;

	/* Belt and braces: planning never picks it, and writing never will. */
	if (step->slot->index == t->booted->index)
		return fail(error, OTA_INSTALL_ERROR_WRITE, "refusing to write %s: it is booted",
		            step->slot->name);
	ota_progress_begin(what, step->image->size);
	ok = step->slot->type == OTA_SLOT_TAR ? write_tar(t, b, step, error)
	                                      : write_raw(b, step, error);
	if (ok)
		ota_progress_end();
	return ok;
}

/* --- hooks ------------------------------------------------------------------------- */

/* The hook script from the verified payload, in a private directory: what
 * runs is exactly what was signed, never the bundle file on disk. */
typedef struct {
	char *dir;
	char *path;
} Hook;

static void hook_clear(Hook *h)
{
	if (h->path != NULL)
		unlink(h->path);
	if (h->dir != NULL)
		rmdir(h->dir);
	g_free(h->path);
	g_free(h->dir);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Hook, hook_clear)

static gboolean hook_prepare(OtaTarget *t, OtaBundle *b, Hook *h, GError **error)
{
	g_autoptr(GBytes) script = NULL;
	g_autofree char *template_path = g_build_filename(t->config->data_directory,
	                                                  "hook-XXXXXX", NULL);

	script = ota_bundle_read_file(b, b->manifest->hook_filename, 16 * 1024 * 1024, error);
	if (script == NULL)
		return FALSE;
	h->dir = g_mkdtemp_full(g_steal_pointer(&template_path), 0700);
	if (h->dir == NULL)
		return fail(error, OTA_INSTALL_ERROR_HOOK, "cannot create a directory for the hook: %s",
		            g_strerror(errno));
	h->path = g_build_filename(h->dir, "hook", NULL);
	if (!g_file_set_contents_full(h->path, g_bytes_get_data(script, NULL),
	                              (gssize)g_bytes_get_size(script),
	                              G_FILE_SET_CONTENTS_CONSISTENT, 0700, error))
		return FALSE;
	return TRUE;
}

/* Runs the hook with RAUC's arguments and environment, so hook scripts
 * written for RAUC work unchanged. */
static gboolean hook_run(OtaTarget *t, OtaBundle *b, const Hook *h, const char *argument,
                         const OtaInstallStep *step, GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *err = NULL;

	g_subprocess_launcher_setenv(launcher, "RAUC_SYSTEM_COMPATIBLE", t->config->compatible, TRUE);
	g_subprocess_launcher_setenv(launcher, "RAUC_MF_COMPATIBLE", b->manifest->compatible, TRUE);
	if (b->manifest->version != NULL)
		g_subprocess_launcher_setenv(launcher, "RAUC_MF_VERSION", b->manifest->version, TRUE);
	if (step != NULL) {
		g_subprocess_launcher_setenv(launcher, "RAUC_SLOT_NAME", step->slot->name, TRUE);
		g_subprocess_launcher_setenv(launcher, "RAUC_SLOT_CLASS", step->slot->slotclass, TRUE);
		g_subprocess_launcher_setenv(launcher, "RAUC_SLOT_DEVICE", step->slot->device, TRUE);
		g_subprocess_launcher_setenv(launcher, "RAUC_IMAGE_NAME", step->image->filename, TRUE);
		g_subprocess_launcher_setenv(launcher, "RAUC_IMAGE_CLASS", step->image->slotclass, TRUE);
		if (step->slot->bootname != NULL)
			g_subprocess_launcher_setenv(launcher, "RAUC_SLOT_BOOTNAME", step->slot->bootname,
			                             TRUE);
	}
	proc = g_subprocess_launcher_spawn(launcher, &ierror, h->path, argument, NULL);
	if (proc == NULL || !g_subprocess_communicate_utf8(proc, NULL, NULL, NULL, &err, &ierror))
		return fail(error, OTA_INSTALL_ERROR_HOOK, "hook %s: %s", argument, ierror->message);
	if (!g_subprocess_get_successful(proc)) {
		g_auto(GStrv) lines = g_strsplit(err != NULL ? g_strstrip(err) : "", "\n", -1);
		const char *last = lines[0] ? lines[g_strv_length(lines) - 1] : "";

		return fail(error, OTA_INSTALL_ERROR_HOOK, "hook %s refused the install%s%s", argument,
		            *last ? ": " : "", last);
	}
	return TRUE;
}

static gboolean has_hook(char **hooks, const char *name)
{
	return hooks != NULL && g_strv_contains((const char *const *)hooks, name);
}

static char *bundle_identity(OtaBundle *b)
{
	char hex[OTA_SHA256_HEX_LEN + 1];

	if (b->format == OTA_BUNDLE_FORMAT_VERITY)
		return g_strdup(b->manifest->verity_hash);
	ota_checksum_to_hex(b->payload_checksum.sha256, hex);
	return g_strdup(hex);
}

static void record_slots(OtaTarget *t, OtaInstallPlan *p)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();

	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);
		OtaSlotRecord *r = g_new0(OtaSlotRecord, 1);

		r->slot = g_strdup(step->slot->name);
		r->version = g_strdup(p->bundle->manifest->version);
		r->bundle_sha256 = bundle_identity(p->bundle);
		r->security_version = p->security_version;
		r->installed = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
		ota_state_set_slot(t->state, r);
	}
	g_free(t->state->pending_slot);
	t->state->pending_slot = g_strdup(p->boot_target->name);
}

/* The last word before a slot becomes primary: what it holds, as
 * recorded, is not below the security floor. */
static gboolean check_not_below_floor(OtaTarget *t, const OtaSlotConfig *slot, GError **error)
{
	const OtaSlotRecord *r = ota_state_get_slot(t->state, slot->name);

	if (r != NULL && r->security_version >= t->state->security_floor)
		return TRUE;
	return fail(error, OTA_INSTALL_ERROR_ROLLBACK,
	            "refusing to boot %s: its recorded security version is below the floor %"
	            G_GUINT64_FORMAT, slot->name, t->state->security_floor);
}

static gboolean run_plan(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	const char *target = p->boot_target->bootname;
	const OtaManifest *m = p->bundle->manifest;
	g_auto(Hook) hook = {NULL, NULL};

	if (m->hook_filename != NULL && !hook_prepare(t, p->bundle, &hook, error))
		return FALSE;
	if (has_hook(m->hooks, "install-check") &&
	    !hook_run(t, p->bundle, &hook, "install-check", NULL, error))
		return FALSE;
	/* Until it is complete, the target slot must not be bootable: an
	 * install cut short can never be booted. */
	if (!ota_bootloader_set_state(t->bootloader, target, OTA_SLOT_STATE_BAD, error))
		return FALSE;
	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);

		if (has_hook(step->image->hooks, "pre-install") &&
		    !hook_run(t, p->bundle, &hook, "slot-pre-install", step, error))
			return FALSE;
		if (!write_step(t, p->bundle, step, error))
			return FALSE;
		if (has_hook(step->image->hooks, "post-install") &&
		    !hook_run(t, p->bundle, &hook, "slot-post-install", step, error))
			return FALSE;
	}
	/* The state first: should power fail before the bootloader switch, the
	 * old system boots and simply knows what the other slot holds. */
	record_slots(t, p);
	return ota_state_save(t->state, error) && check_not_below_floor(t, p->boot_target, error) &&
	       ota_bootloader_set_primary(t->bootloader, target, error);
}

static char *describe_plan(const OtaInstallPlan *p)
{
	GString *s = g_string_new(NULL);

	g_string_append_printf(s, "installed %s into", p->bundle->manifest->version
	                                                     ? p->bundle->manifest->version
	                                                     : "a bundle");
	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);

		g_string_append_printf(s, "%s %s", i ? "," : "", step->slot->name);
	}
	return g_string_free(s, FALSE);
}

gboolean ota_install(OtaTarget *t, const char *bundle_path, GError **error)
{
	g_autoptr(OtaStateLock) lock = ota_state_lock(t->state, error);
	g_autoptr(OtaInstallPlan) p = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *done = NULL;

	if (lock == NULL)
		return FALSE;
	p = ota_install_plan(t, bundle_path, &ierror);
	if (p == NULL || !run_plan(t, p, &ierror)) {
		g_autofree char *first_line = g_strndup(ierror->message, strcspn(ierror->message, "\n"));

		ota_state_add_result(t->state, "install", bundle_path, FALSE, first_line);
		/* Recording the failure must not hide it. */
		if (!ota_state_save(t->state, NULL))
			g_prefix_error(&ierror, "(state not saved) ");
		g_propagate_error(error, g_steal_pointer(&ierror));
		return FALSE;
	}
	done = describe_plan(p);
	ota_state_add_result(t->state, "install", bundle_path, TRUE, done);
	return ota_state_save(t->state, error);
}

/* --- after the reboot ------------------------------------------------------------------ */

/* Another slot is pending while this one runs: either we haven't rebooted
 * yet (the pending slot is still good and primary: keep it pending), or it
 * failed and the bootloader fell back (it reports it bad: settle it). */
static gboolean pending_slot_failed(OtaTarget *t)
{
	const OtaSlotConfig *s;
	OtaSlotState state;

	if (t->state->pending_slot == NULL)
		return FALSE;
	s = ota_slot_find(t->config, t->state->pending_slot);
	return s != NULL && s->bootname != NULL &&
	       ota_bootloader_get_state(t->bootloader, s->bootname, &state, NULL) &&
	       state == OTA_SLOT_STATE_BAD;
}

gboolean ota_target_mark(OtaTarget *t, gboolean good, GError **error)
{
	/* First: the declarations below read the state it reloads. */
	g_autoptr(OtaStateLock) lock = ota_state_lock(t->state, error);
	const char *slot = t->booted->name;
	OtaSlotRecord *r = ota_state_get_slot(t->state, slot);
	gboolean pending = g_strcmp0(t->state->pending_slot, slot) == 0;
	g_autofree char *committed = NULL;
	g_autofree char *what = NULL;

	if (lock == NULL)
		return FALSE;

	if (!ota_bootloader_set_state(t->bootloader, t->booted->bootname,
	                              good ? OTA_SLOT_STATE_GOOD : OTA_SLOT_STATE_BAD, error))
		return FALSE;
	if (good && pending && r != NULL) {
		/* Committed: this is now the installed system (the pending slot's
		 * record is the installed bundle's own: install refuses a bundle
		 * that does not write it), and nothing older than it
		 * security-wise may ever be installed again. */
		g_free(t->state->installed_version);
		t->state->installed_version = g_strdup(r->version);
		t->state->security_floor = MAX(t->state->security_floor, r->security_version);
		committed = g_strdup_printf(", version %s committed, security floor %" G_GUINT64_FORMAT,
		                            r->version ? r->version : "(none)",
		                            t->state->security_floor);
	}
	if (pending || pending_slot_failed(t))
		g_clear_pointer(&t->state->pending_slot, g_free);
	what = g_strdup_printf("%s marked %s%s", slot, good ? "good" : "bad",
	                       committed ? committed : "");
	ota_state_add_result(t->state, good ? "mark-good" : "mark-bad", NULL, TRUE, what);
	return ota_state_save(t->state, error);
}
