/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rules of system.conf that the bootloader module applies again to a
 * config it is handed (which a library user may have built by hand); one
 * definition each, here, where the config is parsed. Not installed. */
#pragma once

#include <otabundle/config.h>

G_BEGIN_DECLS

/* Bootnames become parts of variable names in U-Boot and GRUB scripts
 * (BOOT_A_LEFT, A_OK) and arguments of the custom backend script, so they
 * are held to what all of them accept: letters, digits and '_'. */
gboolean config_bootname_is_valid(const char *name);

/* The setting that bootloader=@config->bootloader needs and @config lacks,
 * as "[group] key", or NULL if it has what it needs. */
const char *config_bootloader_missing_setting(const OtaSystemConfig *config);

G_END_DECLS
