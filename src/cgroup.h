/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* cgroup v2 nodes. Paths are relative to the cgroup2 mount ("system.slice/cgwatch.service/dyno"),
 * and all file access is openat() relative to the mount's dirfd, which is a runtime parameter so
 * that unit tests point it at a temp tree. Node creation goes through libcgroup on a real
 * cgroupfs; the "plain" backend (mkdirat + file writes) serves fake trees and is the fallback
 * when libcgroup cannot initialise. Functions return 0 or negative errno; -ENOENT/-ENODEV mean
 * the node is gone and callers decide what that means. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/macro.h"

typedef struct CgroupRoot {
        int fd;             /* O_PATH|O_DIRECTORY dirfd of the cgroup2 mount */
        char *mount;        /* "/sys/fs/cgroup" */
        bool use_libcgroup; /* create nodes with libcgroup (real cgroupfs) */
} CgroupRoot;

/* Opens the mount. `use_libcgroup` is honoured only if cgroup_init() succeeds. */
int cgroup_root_open(const char *mount, bool use_libcgroup, CgroupRoot *ret);
void cgroup_root_close(CgroupRoot *r);

/* Extracts the cgroup v2 path ("0::/a/b" line) from /proc/PID/cgroup text, without the leading
 * '/': "a/b", or "" for the root. Pure. -ENOENT if there is no v2 line. */
int cgroup_parse_proc_self(const char *text, size_t len, char **ret);

/* Reads /proc/self/cgroup under `proc` (a runtime root, normally "/proc"). */
int cgroup_get_self(const char *proc, char **ret);

/* "a/b" + "c" -> "a/b/c"; "" + "c" -> "c". */
char *cgroup_path_join(const char *a, const char *b);

/* Whether `controller` is listed in the node's cgroup.controllers (offered by the parent). */
int cgroup_has_controller(const CgroupRoot *r, const char *path, const char *controller);

/* Writes "+memory +pids ..." into cgroup.subtree_control, one controller at a time so a missing
 * optional one does not stop the rest; returns the first error for `required` controllers. */
int cgroup_enable_controllers(const CgroupRoot *r, const char *path, const char *const *controllers,
                              const char *const *required);

/* Creates a node (parent must exist). Sets memory.high to `memory_high` (UINT64_MAX = "max")
 * and, if not UINT64_MAX, pids.max to `pids_max`. An existing node is reused. Returns 0. */
int cgroup_create(const CgroupRoot *r, const char *path, uint64_t memory_high, uint64_t pids_max);

/* Creates a node without touching any controller (the daemon's own leaf, made while its parent
 * still holds the daemon, where enabling a controller would fail with EBUSY). EEXIST -> 0. */
int cgroup_mkdir(const CgroupRoot *r, const char *path);

/* Removes an empty node; -EBUSY if it still has processes or children. ENOENT -> 0. */
int cgroup_remove(const CgroupRoot *r, const char *path);

/* Opens the node directory (O_DIRECTORY|O_CLOEXEC), for clone3(CLONE_INTO_CGROUP) and openat(). */
int cgroup_open_dir(const CgroupRoot *r, const char *path);

/* Opens a file of a node, e.g. "memory.events" (read-only) or "memory.pressure" (read-write). */
int cgroup_open_file(const CgroupRoot *r, const char *path, const char *file, int flags);

/* Reads a whole (small) file by fd from offset 0 into buf (NUL-terminated). Returns its length,
 * -EFBIG if it does not fit into size - 1 bytes (nothing partial is handed on), or -errno. */
ssize_t cgroup_read_fd(int fd, char *buf, size_t size);

/* Reads/writes a node's file by name. */
int cgroup_read_file(const CgroupRoot *r, const char *path, const char *file, char *buf, size_t size);
int cgroup_write_file(const CgroupRoot *r, const char *path, const char *file, const char *value);

/* Writes a byte value, or "max" for UINT64_MAX. */
int cgroup_write_u64(const CgroupRoot *r, const char *path, const char *file, uint64_t value);

/* Reads a single-number file (memory.current, memory.peak); "max" -> UINT64_MAX. */
int cgroup_read_u64(const CgroupRoot *r, const char *path, const char *file, uint64_t *ret);

/* Moves `pid` into the node. */
int cgroup_attach(const CgroupRoot *r, const char *path, pid_t pid);

/* Whether the node holds any process ("populated 1" in cgroup.events). */
int cgroup_is_populated(const CgroupRoot *r, const char *path);

/* Kills every process of the node and its descendants with cgroup.kill (Linux 5.14+), falling back
 * to SIGKILL for every pid in cgroup.procs. Returns 0, or -ENOENT if the node is gone. */
int cgroup_kill(const CgroupRoot *r, const char *path);

/* Removes a node and all its child nodes, depth first (they must be empty of processes). */
int cgroup_remove_recursive(const CgroupRoot *r, const char *path);
