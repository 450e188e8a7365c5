/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The transient scope the workers live in under systemd (see scope.h). */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "log.h"
#include "scope.h"

static bool ends_with(const char *s, const char *suffix) {
        size_t l = strlen(s), k = strlen(suffix);
        return l > k && streq(s + l - k, suffix);
}

int scope_names(const char *own, char **ret_unit, char **ret_slice, char **ret_path) {
        const char *slash = strrchr(own, '/'), *service = slash ? slash + 1 : own;
        _cleanup_free_ char *unit = NULL, *slice = NULL, *path = NULL;

        if (!slash || !ends_with(service, ".service"))
                return -EINVAL;
        const char *slice_start = own;
        for (const char *p = own; p < slash; p++)
                if (*p == '/')
                        slice_start = p + 1;
        slice = strndup(slice_start, (size_t) (slash - slice_start));
        if (!slice)
                return -ENOMEM;
        if (!ends_with(slice, ".slice"))
                return -EINVAL;
        if (asprintf(&unit, "%.*s-workers.scope", (int) (strlen(service) - strlen(".service")), service) < 0)
                return -ENOMEM;
        /* A transient unit cannot be a template's instance: cgwatch@web -> cgwatch-web. */
        for (char *p = unit; *p; p++)
                if (*p == '@')
                        *p = '-';
        if (asprintf(&path, "%.*s/%s", (int) (slash - own), own, unit) < 0)
                return -ENOMEM;
        *ret_unit = TAKE_PTR(unit);
        *ret_slice = TAKE_PTR(slice);
        *ret_path = TAKE_PTR(path);
        return 0;
}

pid_t scope_spawn_anchor(void) {
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                sigset_t none;
                /* Async-signal-safe calls only: we forked a process with threads of libraries. */
                for (int sig = 1; sig < _NSIG; sig++)
                        (void) signal(sig, SIG_DFL);
                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                (void) syscall(SYS_close_range, 0U, ~0U, 0U);
                (void) setsid();
                (void) prctl(PR_SET_NAME, "cgwatch-anchor");
                for (;;)
                        pause();
        }
        return pid;
}

int scope_start(const char *unit, const char *slice, pid_t pid) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)", "Description", "s",
                                          "cgwatch workers (outlive a restart of the daemon)", "Slice", "s", slice,
                                          "Delegate", "b", 1, "CollectMode", "s", "inactive-or-failed", "PIDs", "au", 1,
                                          (uint32_t) pid);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0)
                log_debug("StartTransientUnit(%s): %s: %s", unit, error.name ?: "?", error.message ?: "");
        return r;
}
