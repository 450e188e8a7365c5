/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Starting a worker: clone3(CLONE_INTO_CGROUP | CLONE_PIDFD), so the process is born inside its
 * cgroup node (never charged elsewhere, not even for a moment) and tracked by a pidfd that cannot
 * be confused with a recycled PID. Everything the child needs is prepared before the clone: after
 * it, the child only makes async-signal-safe calls and execs. */

#include <stdbool.h>
#include <sys/types.h>

typedef struct SpawnCredentials {
        bool set;
        uid_t uid;
        gid_t gid;
        gid_t *groups; /* supplementary groups, from getgrouplist() */
        int n_groups;
        char *home, *shell, *user;
} SpawnCredentials;

typedef struct SpawnParams {
        char *const *argv; /* argv[0] is looked up in PATH of envp if it has no '/' */
        char *const *envp;
        int cgroup_fd;                 /* O_DIRECTORY fd of the worker's node */
        const SpawnCredentials *creds; /* NULL: run as the daemon's user */
        const char *working_directory; /* NULL: "/" */
        int stdout_fd, stderr_fd;      /* -1: inherit the daemon's */
} SpawnParams;

/* Resolves User= and Group= (names or numbers). Group= unset -> the user's primary group.
 * Returns 0, -ESRCH for an unknown user or group, -ENOMEM. */
int spawn_credentials_resolve(const char *user, const char *group, SpawnCredentials *ret);
void spawn_credentials_done(SpawnCredentials *c);

/* Clones and execs. Returns 0 with *ret_pid and *ret_pidfd (O_CLOEXEC), or negative errno from
 * clone3. Without clone3 (-ENOSYS: valgrind 3.19, which has no clone3 or pidfd_open, and kernels
 * before 5.3) it forks, the child joins the node by writing its cgroup.procs, and *ret_pidfd is
 * -EBADF: the caller tracks the PID. Exec failures happen in the child: it writes one line to
 * its stderr and exits with 127 (not found) or 126. */
int spawn_process(const SpawnParams *p, pid_t *ret_pid, int *ret_pidfd);

/* Builds the worker's environment: a clean base (PATH, and HOME/USER/LOGNAME/SHELL when User= is
 * set), the config's Environment= words (overriding the base), then `extra` ("K=V", NULL-ended,
 * e.g. NOTIFY_SOCKET). Returns a new strv or NULL on OOM. */
char **spawn_build_env(char *const *config_env, const SpawnCredentials *creds, char *const *extra);

/* Raises the daemon's RLIMIT_NOFILE soft limit to the hard limit (it keeps a few fds per worker:
 * pidfd, memory.events, PSI trigger), remembering the old one for the workers it spawns later.
 * Returns 1 if raised, 0 if already at the hard limit, or a negative errno. */
int spawn_raise_nofile(void);
