/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Under systemd, the workers live in a transient scope of their own, not in cgwatch.service's
 * cgroup, so that they outlive a crash of the daemon: systemd 252 puts a restarted service's main
 * process into the unit's own cgroup, which must then have no controllers enabled (no internal
 * processes), so the dyno's memory controller cannot sit below the service; and KillMode=mixed
 * stops every process of the service's cgroup when its main process dies. A scope is what
 * libvirt and podman use for the same reason: StartTransientUnit over the system bus with
 * Delegate=yes and one process of ours, the anchor, which only waits (pause()) so that the scope
 * stays alive while no worker runs. The scope is named after the service: cgwatch.service ->
 * cgwatch-workers.scope, cgwatch@web.service -> cgwatch-web-workers.scope (systemd refuses a
 * transient unit named like a template's instance), in the service's slice. Not bound to the
 * service by a dependency: on systemd 252 a crashed service passes through "failed" before
 * "auto-restart", and StopPropagatedFrom=/BindsTo= then stop the scope (tried: the workers died
 * with the daemon, vm-test-crash-systemd). */

#include <sys/types.h>

/* From our own cgroup ("system.slice/cgwatch.service"): the scope's unit name
 * ("cgwatch-workers.scope"), its slice unit ("system.slice") and its cgroup path
 * ("system.slice/cgwatch-workers.scope"). Pure. Returns 0, -EINVAL when `own` is not a service's
 * cgroup directly in a slice, -ENOMEM. */
int scope_names(const char *own, char **ret_unit, char **ret_slice, char **ret_path);

/* Forks the anchor: a child that closes every fd and waits for a signal forever. Returns its PID
 * or a negative errno. */
pid_t scope_spawn_anchor(void);

/* Asks systemd to start the scope with `pid` in it (synchronous call on a connection of its own).
 * Returns 0, or a negative errno (the bus's error is logged at debug). */
int scope_start(const char *unit, const char *slice, pid_t pid);
