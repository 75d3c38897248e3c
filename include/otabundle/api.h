/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Everything a public header of libotabundle declares between these two is
 * its API: exported from libotabundle.so.0 (the library is built with
 * -fvisibility=hidden, so nothing else is), and declared nowhere else.
 * What only the library itself uses lives in src/lib/ *-private.h. */
#define OTA_BEGIN_DECLS G_BEGIN_DECLS _Pragma("GCC visibility push(default)")
#define OTA_END_DECLS _Pragma("GCC visibility pop") G_END_DECLS
