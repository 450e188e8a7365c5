/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The sd_notify socket workers talk to (NOTIFY_SOCKET=/run/cgwatch/<dyno>/notify). */

#include <sys/types.h>

#include <systemd/sd-event.h>

#include "shared/macro.h"

typedef struct Notify Notify;

/* Called with the sender's PID and one line of its message ("READY=1", "WATCHDOG=1", ...). */
typedef void (*NotifyFn)(void *userdata, pid_t pid, const char *line);

/* Binds the socket at `path` (replacing a stale one) and watches it. Returns 0 and *ret, or a
 * negative errno. */
int notify_open(sd_event *event, const char *path, NotifyFn fn, void *userdata, Notify **ret);
Notify *notify_free(Notify *nt);
DEFINE_TRIVIAL_CLEANUP_FUNC(Notify *, notify_free);
/* The NOTIFY_SOCKET value for workers. */
const char *notify_socket(const Notify *nt);
