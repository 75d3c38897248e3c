/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <otabundle/bundle.h>

OTA_BEGIN_DECLS

/* The error domain of this module's GErrors; the codes are below. */
#define OTA_INSTALL_ERROR ota_install_error_quark()
GQuark ota_install_error_quark(void);

typedef enum {
	OTA_INSTALL_ERROR_BOOTED,       /* can't tell which slot runs */
	OTA_INSTALL_ERROR_INCOMPATIBLE, /* compatible, hardware revision */
	OTA_INSTALL_ERROR_ROLLBACK,     /* below the security floor, or a downgrade */
	OTA_INSTALL_ERROR_EXPIRED,      /* past its expiry time */
	OTA_INSTALL_ERROR_NO_SLOT,      /* no (inactive) slot for an image */
	OTA_INSTALL_ERROR_WRITE,        /* writing a slot failed */
	OTA_INSTALL_ERROR_HOOK,         /* a hook refused or failed */
	OTA_INSTALL_ERROR_STATE,        /* nothing to mark, or the state disagrees */
	OTA_INSTALL_ERROR_INVALID,      /* a [meta.otabundle] field is malformed */
} OtaInstallError;

/* The device: its configuration, boot selection, persistent state and the
 * slot that runs now (the only one that may never be written). Opaque. */
typedef struct OtaTarget OtaTarget;

/* The booted slot comes from @override_boot_slot (a bootname or slot
 * name), else the bootloader, else otabundle.slot= or rauc.slot= on the
 * kernel command line (@cmdline_path: /proc/cmdline). */
OtaTarget *ota_target_open(const char *conf_path, const char *override_boot_slot,
                           const char *cmdline_path, GError **error);
void ota_target_free(OtaTarget *target);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaTarget, ota_target_free)

/* The booted slot's name ("rootfs.0"); owned by @target. */
const char *ota_target_get_booted(const OtaTarget *target);

/* One slot as `status` shows it; a snapshot owned by its OtaStatus. */
typedef struct {
	char *name;     /* "<class>.<index>" */
	char *device;
	char *bootname; /* NULL: a slot the bootloader does not boot */
	gboolean booted; /* in the booted slot group (the booted index) */
	char *state;    /* "good", "bad" or "unknown" for a bootable slot, else NULL */
	char *version;  /* of the bundle last installed into it, or NULL */
	char *installed; /* when, RFC 3339 UTC, or NULL */
	char *slotclass;
	char *type;      /* as system.conf names it: "raw", "ext4", ... */
	char *parent;    /* the slot whose group it belongs to (parent=), or NULL */
	char *activity;  /* RAUC's slot state: "booted", "active" (in the booted
	                  * slot's group) or "inactive" */
	char *bundle_hash; /* the bundle last installed into it, as the state
	                    * records it (verity root hash, or the payload's
	                    * SHA-256), or NULL */
} OtaSlotStatus;

/* One recorded install or mark, oldest first in OtaStatus.results. */
typedef struct {
	char *time;      /* UTC, RFC 3339 */
	char *operation; /* install, mark-good, mark-bad, mark-active, trust-update */
	char *bundle;    /* path (trust-update: the files, space-separated), or NULL */
	gboolean ok;
	char *reason;    /* why it failed, or what it did (quoted values escaped) */
	/* install: bytes of the bundle fetched from a server (an http:// or
	 * https:// bundle), and image bytes taken from slots on the device
	 * instead of the bundle (adaptive updates); 0 otherwise */
	guint64 downloaded_bytes;
	guint64 reused_bytes;
} OtaResultStatus;

/* The device as `status` shows it, read when asked; owned by the caller
 * (ota_status_free()). Strings from bundles (versions, reasons) and the
 * bootloader (primary) are as recorded: escape them before printing. */
typedef struct {
	char *compatible;
	char *booted;          /* slot name */
	char *booted_bootname;
	char *primary;         /* the bootloader's primary bootname, or NULL if it can't tell */
	char *installed_version; /* of the system last marked good, or NULL */
	guint64 security_floor;
	char *pending;         /* slot installed but not yet marked good or bad, or NULL */
	GPtrArray *slots;      /* OtaSlotStatus*, in system.conf order */
	GPtrArray *results;    /* OtaResultStatus*, oldest first */
	char *variant;         /* the device's variant ([system] variant-*), or NULL */
	/* The newest trusted timestamp of a bundle installed here (RFC 3339
	 * UTC), before which the clock can't be; NULL if none. */
	char *not_before;
	/* With [trust] in system.conf: the trust list in effect, its version
	 * (0 without [trust]), document SHA-256 and file, and whether a trust
	 * update installed it (FALSE: the one shipped in the image). When it
	 * can't be read, trust_error says why (version and SHA-256 are then
	 * the state's record), and no bundle can be verified. */
	guint64 trust_version;
	char *trust_sha256;
	char *trust_path;
	gboolean trust_installed;
	char *trust_error;
} OtaStatus;

/* A snapshot of @target: configuration, boot selection and state. Reads
 * the bootloader (failures show as "unknown" or a NULL primary); never
 * fails. */
OtaStatus *ota_target_get_status(OtaTarget *target);
void ota_status_free(OtaStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaStatus, ota_status_free)

/* @bundle_path as `rauc info` reads it on a device: verified against the
 * device's [keyring] (ota_bundle_open_for_info() with that policy), with
 * none of the install checks (compatible, versions, slots). Returns a new
 * bundle (ota_bundle_free()), or NULL with @error. */
OtaBundle *ota_target_open_bundle_for_info(OtaTarget *target, const char *bundle_path,
                                           GError **error);

/* How ota_install(), ota_install_plan() and
 * ota_target_open_bundle_for_info() fetch an http:// or https:// bundle:
 * each option given here replaces system.conf's [streaming] setting
 * (tls_cert and tls_key as a pair; headers are sent besides the header
 * file's). Copied; NULL: system.conf's alone. */
void ota_target_set_url_options(OtaTarget *target, const OtaBundleUrlOptions *options);

/* @location (a path, or an http:// or https:// URL fetched as
 * ota_target_set_url_options() and [streaming] say) with its manifest
 * loaded unverified, for display only (rauc info --no-verify). */
OtaBundle *ota_target_open_bundle_unverified(OtaTarget *target, const char *location,
                                             GError **error);

/* What an install would do, decided with every check passed. Opaque. */
typedef struct OtaInstallPlan OtaInstallPlan;

/* Verifies @bundle_path against the device's policies (the default one,
 * and every stricter tier bound to a slot it would write), then checks
 * compatible, hardware revision, the anti-rollback floor, downgrade,
 * expiry and minimum installed version, and picks the inactive slot for
 * each image. Writes nothing but a private, unlinked copy of a plain
 * bundle's payload (the defence against it being changed afterwards). */
OtaInstallPlan *ota_install_plan(OtaTarget *target, const char *bundle_path, GError **error);
void ota_install_plan_free(OtaInstallPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaInstallPlan, ota_install_plan_free)

/* The verified manifest of the planned bundle; owned by @plan. */
const OtaManifest *ota_install_plan_get_manifest(const OtaInstallPlan *plan);
/* The images it would write, in manifest order: for @index below
 * ota_install_plan_get_n_steps(), the image's filename, the slot's name
 * and its device (each owned by @plan; pass NULL for what you don't need). */
guint ota_install_plan_get_n_steps(const OtaInstallPlan *plan);
void ota_install_plan_get_step(const OtaInstallPlan *plan, guint index, const char **image,
                               const char **slot, const char **device);
/* The slot it would boot next (name; *@bootname its bootname), or NULL
 * for a bundle that writes only slots outside the A/B groups (a bootloader
 * update), which switches nothing. */
const char *ota_install_plan_get_boot_target(const OtaInstallPlan *plan, const char **bootname);
/* The names of the policies the bundle had to satisfy, "default" first;
 * owned by @plan. */
guint ota_install_plan_get_n_policies(const OtaInstallPlan *plan);
const char *ota_install_plan_get_policy(const OtaInstallPlan *plan, guint index);

/* Plans, then writes each image into its slot while hashing it, fsyncs,
 * compares with the manifest, and only then makes the boot target primary
 * (once) and records the install as pending (a plan without a boot target
 * leaves both as they are). Any failure leaves the old system primary. The
 * outcome is recorded in the state either way. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_install(OtaTarget *target, const char *bundle_path, GError **error);

/* After a successful ota_install(): what it did, in one line ("installed
 * 2.0 into rootfs.1, appfs.1"), and the slot that boots next (NULL: the
 * booted one); owned by @target, NULL before. */
const char *ota_target_get_install_summary(const OtaTarget *target);
/* After ota_install(), whether it succeeded or not: the bytes of the bundle
 * fetched from a server (0 for a file) and the image bytes taken from
 * slots on the device instead of the bundle (adaptive updates). */
void ota_target_get_install_bytes(const OtaTarget *target, guint64 *downloaded,
                                  guint64 *reused);
const char *ota_target_get_pending(const OtaTarget *target);

/* mark-good: commits the booted slot (bootloader state good; its version
 * becomes the installed version and the floor rises to its security
 * version). mark-bad: marks it bad so the bootloader falls back. The same
 * as ota_target_mark_slot() on "booted". */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_target_mark(OtaTarget *target, gboolean good, GError **error);

/* What a mark does to a slot (RAUC's `status mark-good|mark-bad|mark-active`). */
typedef enum {
	OTA_MARK_GOOD,
	OTA_MARK_BAD,
	OTA_MARK_ACTIVE,
} OtaMark;

/* Marks the slot @which names, as RAUC does: "booted" (or NULL), "other"
 * (the other bootable slot of the booted slot's class) or a bootable slot's
 * name ("rootfs.1"); an unknown name, or a slot without a bootname, is
 * OTA_INSTALL_ERROR_NO_SLOT.
 * GOOD: the bootloader's state good; for the booted slot, what
 * ota_target_mark() does, and with [system] prevent-late-fallback=true the
 * other slot is marked bad too, as in RAUC.
 * BAD: the state bad, so the bootloader does not boot it; a pending slot
 * marked bad is no longer pending.
 * ACTIVE: the slot becomes primary (the next boot tries it) and pending
 * (mark-good there commits it); activating the booted slot cancels a
 * pending install. Refused (OTA_INSTALL_ERROR_ROLLBACK) for a slot other
 * than the booted one whose recorded security version is below the floor,
 * or that holds nothing recorded once there is a floor.
 * Every mark is recorded in the state's results and in the event log.
 * *@marked (optional): the slot's name, owned by @target. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_target_mark_slot(OtaTarget *target, OtaMark mark, const char *which,
                              const char **marked, GError **error);

/* otabundle-install trust-update: replaces the trust list in effect
 * ([trust] in system.conf) by the chain of trust updates @paths
 * (NULL-terminated, at least one), in order: each must be the next version
 * of the one before it (the first, of the list in effect) and be signed
 * as ota_trust_check_update() asks, at the device's time. The whole chain
 * is verified before anything is stored; then each version is kept in the
 * trust directory and the state names the last one, the commit point: a
 * power cut leaves the old list in effect or the new one. From then on
 * every policy comes from the new list, whichever slot boots (a fallback
 * to the old slot included). Holds the state lock; the outcome is recorded
 * in the state's results and the event log either way. Errors name the
 * file refused. OTA_INSTALL_ERROR_INCOMPATIBLE without [trust]. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_target_update_trust(OtaTarget *target, const char *const *paths, GError **error);

/* After a successful ota_target_update_trust(): what it did, in one line
 * ("trust list version 3 installed (from version 1), document SHA-256
 * ..."); owned by @target, NULL before. */
const char *ota_target_get_trust_summary(const OtaTarget *target);

/* The first failure to write an event log ([log.<name>]) in the commands
 * run on @target, one line, or NULL. Such a failure does not fail the
 * command (as in RAUC); the caller reports it. Owned by @target. */
const char *ota_target_get_event_log_error(const OtaTarget *target);

OTA_END_DECLS
