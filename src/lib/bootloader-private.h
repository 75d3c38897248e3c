/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Boot selection: what the install modules call (the top half), and the
 * interface between bootloader.c (those functions, the choice of backend,
 * the checks of every bootname going in and out) and the backends,
 * one per file (bootloader-<name>.c); not installed. A new backend is a new
 * file defining one OtaBootloaderBackend plus its entry in bootloader.c's
 * table. */
#pragma once

#include "config-private.h"

#include "subprocess-private.h"

G_BEGIN_DECLS

#define OTA_BOOTLOADER_ERROR ota_bootloader_error_quark()
GQuark ota_bootloader_error_quark(void);

typedef enum {
	OTA_BOOTLOADER_ERROR_FAILED,  /* the backend (tool, script, file) failed */
	OTA_BOOTLOADER_ERROR_INVALID, /* it answered something we can't use */
	OTA_BOOTLOADER_ERROR_NOT_SUPPORTED, /* the backend can't tell (noop) */
} OtaBootloaderError;

typedef enum {
	OTA_SLOT_STATE_GOOD,
	OTA_SLOT_STATE_BAD,
} OtaSlotState;

/* The boot-selection interface every backend implements, addressed by the
 * slots' bootnames ("A", "B", ...). RAUC's semantics:
 *   primary:   the slot the bootloader will try first;
 *   set_primary(B): try B next (once: if B fails to boot or is marked bad,
 *              the bootloader falls back to the other good slot);
 *   state:     good or bad; a bad slot is never booted;
 *   booted:    the slot running now, if the backend knows it. */
typedef struct OtaBootloader OtaBootloader;

/* @config: which backend and its settings; @bootnames: every bootname in
 * the slot configuration (NULL-terminated). */
OtaBootloader *ota_bootloader_new(const OtaSystemConfig *config, const char *const *bootnames,
                                  GError **error);
void ota_bootloader_free(OtaBootloader *bootloader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaBootloader, ota_bootloader_free)

/* Each returns a g_malloc'd bootname, or NULL with @error. get_primary and
 * get_state fail with OTA_BOOTLOADER_ERROR_NOT_SUPPORTED where the backend
 * can't know (noop). */
char *ota_bootloader_get_primary(OtaBootloader *bootloader, GError **error);
/* NULL without error when the backend can't tell (the caller falls back to
 * the kernel command line). */
char *ota_bootloader_get_booted(OtaBootloader *bootloader, GError **error);

/* The booted slot as the backend's own kernel command line argument names
 * it (barebox's bootchooser.active=), read from @cmdline_path; NULL
 * without error if the backend has none or the command line lacks it. */
char *ota_bootloader_booted_from_cmdline(OtaBootloader *bootloader, const char *cmdline_path,
                                         GError **error);

G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bootloader_set_primary(OtaBootloader *bootloader, const char *bootname,
                                    GError **error);
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bootloader_get_state(OtaBootloader *bootloader, const char *bootname,
                                  OtaSlotState *state, GError **error);
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bootloader_set_state(OtaBootloader *bootloader, const char *bootname,
                                  OtaSlotState state, GError **error);


typedef struct OtaBootloaderBackend OtaBootloaderBackend;

struct OtaBootloader {
	const OtaBootloaderBackend *backend;
	GStrv bootnames; /* the configured ones: valid, distinct, at least one */
	gpointer data;   /* the backend's own, kept by its open() */
};

/* Every bootname a backend is handed is a configured one, and every one it
 * answers is checked again before a caller sees it. */
struct OtaBootloaderBackend {
	const char *name;
	/* Keeps what the calls below need from @config, which has the settings
	 * config_bootloader_missing_setting() asks for, in bl->data, freed
	 * with free_data. */
	gboolean (*open)(OtaBootloader *bl, const OtaSystemConfig *config, GError **error);
	GDestroyNotify free_data;
	char *(*get_primary)(OtaBootloader *bl, GError **error);
	/* Optional: without it the backend can't tell which slot is booted. */
	char *(*get_booted)(OtaBootloader *bl, GError **error);
	/* Optional, NULL-terminated: kernel command line arguments KEY=bootname
	 * by which the bootloader tells the system which slot it booted. */
	const char *const *cmdline_keys;
	gboolean (*set_primary)(OtaBootloader *bl, const char *bootname, GError **error);
	gboolean (*get_state)(OtaBootloader *bl, const char *bootname, OtaSlotState *state,
	                      GError **error);
	gboolean (*set_state)(OtaBootloader *bl, const char *bootname, OtaSlotState state,
	                      GError **error);
};

extern const OtaBootloaderBackend ota_bootloader_backend_file;
extern const OtaBootloaderBackend ota_bootloader_backend_custom;
extern const OtaBootloaderBackend ota_bootloader_backend_uboot;
extern const OtaBootloaderBackend ota_bootloader_backend_grub;
extern const OtaBootloaderBackend ota_bootloader_backend_barebox;
extern const OtaBootloaderBackend ota_bootloader_backend_efi;
extern const OtaBootloaderBackend ota_bootloader_backend_noop;

/* --- for the backends (bootloader.c) --- */

gboolean bootloader_is_bootname(OtaBootloader *bl, const char *name);
/* "A, B": the configured bootnames, for error messages. */
char *bootloader_bootname_list(OtaBootloader *bl);
/* @what says where @name came from, e.g. "BOOT_ORDER 'A C'". */
gboolean bootloader_check_bootname(OtaBootloader *bl, const char *name, const char *what,
                                   GError **error);
/* "good" or "bad", as RAUC's custom backend interface spells them. */
const char *bootloader_state_name(OtaSlotState state);
/* FALSE if @name is neither. */
gboolean bootloader_state_parse(const char *name, OtaSlotState *state);
/* Runs a backend's tool and returns its stdout. Its failure is the
 * backend's: OTA_BOOTLOADER_ERROR_FAILED with ota_subprocess_run's message;
 * @exit_failed (optional) tells a tool that ran and failed from one that
 * never ran. */
char *bootloader_run_tool(const char *const *argv, const OtaSubprocessOptions *options,
                          gboolean *exit_failed, GError **error);

/* --- bootloader environments (bootloader-env.c), for the backends that
 * keep their state in bootloader variables --- */

/* One snapshot of the variables and the boot order they hold. */
typedef struct {
	GHashTable *vars;
	GPtrArray *order;      /* configured bootnames only */
	const char *order_var; /* the variable holding it: "BOOT_ORDER", "ORDER" */
} BootloaderEnv;

/* Parses @listing, "NAME=value" lines as fw_printenv and grub-editenv list
 * print them. An unset @order_var is the configured order with
 * @use_default (a writer then creates it, as RAUC does), else an error
 * saying it is not set in @where. */
BootloaderEnv *bootloader_env_parse(OtaBootloader *bl, const char *listing, const char *order_var,
                                    gboolean use_default, const char *where, GError **error);
void bootloader_env_free(BootloaderEnv *env);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BootloaderEnv, bootloader_env_free)

/* Whether the boot script would boot @bootname, by its variables alone. */
typedef gboolean (*BootloaderSlotBootable)(GHashTable *vars, const char *bootname,
                                           gboolean *bootable, GError **error);

/* The first bootable slot in the order, as the boot script picks it; if
 * none, an error "no slot in BOOT_ORDER '...' @bootable_means". */
char *bootloader_env_get_primary(BootloaderEnv *env, BootloaderSlotBootable bootable,
                                 const char *bootable_means, GError **error);
/* Good if in the order and bootable, as in RAUC. */
gboolean bootloader_env_get_state(BootloaderEnv *env, const char *bootname,
                                  BootloaderSlotBootable bootable, OtaSlotState *state,
                                  GError **error);

gboolean bootloader_order_contains(GPtrArray *order, const char *bootname);
void bootloader_order_remove(GPtrArray *order, const char *bootname);
void bootloader_order_put_first(GPtrArray *order, const char *bootname);
char *bootloader_order_join(GPtrArray *order);

G_END_DECLS
