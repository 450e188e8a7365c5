/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spawn.h"
#include "shared/macro.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* struct clone_args as of Linux 5.7 (CLONE_ARGS_SIZE_VER2), spelled out so we do not depend on
 * the installed uapi headers' vintage. */
struct cgw_clone_args {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
        uint64_t set_tid, set_tid_size, cgroup;
};

static int parse_id(const char *s, unsigned *ret) {
        char *e;
        unsigned long v;
        errno = 0;
        v = strtoul(s, &e, 10);
        if (!*s || *e || errno || v >= UINT32_MAX - 1)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

int spawn_credentials_resolve(const char *user, const char *group, SpawnCredentials *ret) {
        SpawnCredentials c = {.set = true, .uid = getuid(), .gid = getgid()};
        unsigned id;

        if (user) {
                struct passwd *pw = parse_id(user, &id) >= 0 ? getpwuid(id) : getpwnam(user);
                if (!pw && parse_id(user, &id) >= 0) {
                        c.uid = id; /* a bare uid without a passwd entry, as systemd allows */
                        c.gid = id;
                } else if (!pw)
                        return -ESRCH;
                else {
                        c.uid = pw->pw_uid;
                        c.gid = pw->pw_gid;
                        c.home = strdup(pw->pw_dir);
                        c.shell = strdup(pw->pw_shell);
                        c.user = strdup(pw->pw_name);
                        if (!c.home || !c.shell || !c.user) {
                                spawn_credentials_done(&c);
                                return -ENOMEM;
                        }
                }
        }
        if (group) {
                struct group *gr = parse_id(group, &id) >= 0 ? getgrgid(id) : getgrnam(group);
                if (gr)
                        c.gid = gr->gr_gid;
                else if (parse_id(group, &id) >= 0)
                        c.gid = id;
                else {
                        spawn_credentials_done(&c);
                        return -ESRCH;
                }
        }
        if (c.user) {
                int n = 32;
                for (;;) {
                        gid_t *g = realloc(c.groups, sizeof(gid_t) * n);
                        if (!g) {
                                spawn_credentials_done(&c);
                                return -ENOMEM;
                        }
                        c.groups = g;
                        int want = n;
                        if (getgrouplist(c.user, c.gid, c.groups, &want) >= 0) {
                                c.n_groups = want;
                                break;
                        }
                        n = want > n ? want : n * 2;
                }
        }
        *ret = c;
        return 0;
}

void spawn_credentials_done(SpawnCredentials *c) {
        free(c->groups);
        free(c->home);
        free(c->shell);
        free(c->user);
        *c = (SpawnCredentials){};
}

static int strv_push_owned(char ***l, size_t *n, char *s) {
        char **nl;
        if (!s)
                return -ENOMEM;
        nl = realloc(*l, sizeof(char *) * (*n + 2));
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        nl[(*n)++] = s;
        nl[*n] = NULL;
        *l = nl;
        return 0;
}

/* Replaces an existing "K=..." or appends. */
static int env_set(char ***l, size_t *n, const char *kv) {
        const char *eq = strchr(kv, '=');
        size_t klen = eq ? (size_t) (eq - kv) : strlen(kv);
        for (size_t i = 0; i < *n; i++)
                if (strncmp((*l)[i], kv, klen) == 0 && (*l)[i][klen] == '=') {
                        char *d = strdup(kv);
                        if (!d)
                                return -ENOMEM;
                        free((*l)[i]);
                        (*l)[i] = d;
                        return 0;
                }
        return strv_push_owned(l, n, strdup(kv));
}

char **spawn_build_env(char *const *config_env, const SpawnCredentials *creds, char *const *extra) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        char buf[PATH_MAX + 16];

        if (env_set(&l, &n, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") < 0)
                return NULL;
        if (creds && creds->user) {
                const char *const kv[][2] = {
                        {"HOME", creds->home},
                        {"USER", creds->user},
                        {"LOGNAME", creds->user},
                        {"SHELL", creds->shell},
                };
                for (size_t i = 0; i < ELEMENTSOF(kv); i++) {
                        snprintf(buf, sizeof buf, "%s=%s", kv[i][0], kv[i][1]);
                        if (env_set(&l, &n, buf) < 0)
                                return NULL;
                }
        }
        for (char *const *e = config_env; e && *e; e++)
                if (env_set(&l, &n, *e) < 0)
                        return NULL;
        for (char *const *e = extra; e && *e; e++)
                if (env_set(&l, &n, *e) < 0)
                        return NULL;
        return TAKE_PTR(l);
}

static rlim_t spawn_nofile_soft; /* 0 = leave the limit as it is */

int spawn_raise_nofile(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        if (rl.rlim_cur >= rl.rlim_max)
                return 0;
        spawn_nofile_soft = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        return 1;
}

/* In the child, between clone3 and exec: async-signal-safe calls only. */
_Noreturn static void child_exec(const SpawnParams *p) {
        sigset_t all;
        int fd;

        /* sd-event blocked the signals it handles; the worker must start with a clean slate. */
        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);

        (void) setsid();

        /* The daemon raised its own RLIMIT_NOFILE soft limit (it holds a few fds per worker);
         * workers get the limit the daemon was started with, as systemd gives services 1024 for
         * select()'s sake. */
        if (spawn_nofile_soft != 0) {
                struct rlimit rl;
                if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && spawn_nofile_soft < rl.rlim_cur) {
                        rl.rlim_cur = spawn_nofile_soft;
                        (void) setrlimit(RLIMIT_NOFILE, &rl);
                }
        }

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && fd != STDIN_FILENO) {
                (void) dup2(fd, STDIN_FILENO);
                (void) close(fd);
        }
        if (p->stdout_fd >= 0)
                (void) dup2(p->stdout_fd, STDOUT_FILENO);
        if (p->stderr_fd >= 0)
                (void) dup2(p->stderr_fd, STDERR_FILENO);

        if (p->creds && p->creds->set) {
                if ((p->creds->user && setgroups(p->creds->n_groups, p->creds->groups) < 0) ||
                    setresgid(p->creds->gid, p->creds->gid, p->creds->gid) < 0 ||
                    setresuid(p->creds->uid, p->creds->uid, p->creds->uid) < 0) {
                        dprintf(STDERR_FILENO, "cgwatchd: failed to change credentials: %m\n");
                        _exit(126);
                }
        }
        if (chdir(p->working_directory ? p->working_directory : "/") < 0) {
                dprintf(STDERR_FILENO, "cgwatchd: failed to change directory to '%s': %m\n",
                        p->working_directory ? p->working_directory : "/");
                _exit(126);
        }

        /* Everything else the daemon holds is O_CLOEXEC, but be sure nothing leaks into workers. */
        (void) syscall(SYS_close_range, 3U, ~0U, 0U);

        execvpe(p->argv[0], p->argv, p->envp);
        int e = errno;
        dprintf(STDERR_FILENO, "cgwatchd: failed to execute '%s': %m\n", p->argv[0]);
        _exit(e == ENOENT ? 127 : 126);
}

int spawn_process(const SpawnParams *p, pid_t *ret_pid, int *ret_pidfd) {
        int pidfd = -EBADF;
        struct cgw_clone_args args = {
                .flags = CLONE_PIDFD | CLONE_INTO_CGROUP,
                .pidfd = (uint64_t) (uintptr_t) &pidfd,
                .exit_signal = SIGCHLD,
                .cgroup = (uint64_t) p->cgroup_fd,
        };
        long pid;

        pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0 && errno == ENOSYS) {
                /* No clone3 (valgrind 3.19, Linux < 5.3): fork, and the child moves itself into
                 * its node before exec (writing 0 to cgroup.procs moves the writer). No pidfd:
                 * the caller tracks the PID. */
                pid = fork();
                if (pid == 0) {
                        int fd = openat(p->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
                        if (fd < 0 || write(fd, "0", 1) != 1) {
                                dprintf(STDERR_FILENO, "cgwatchd: failed to join the worker's cgroup: %m\n");
                                _exit(126);
                        }
                        (void) close(fd);
                        child_exec(p);
                }
                if (pid < 0)
                        return -errno;
                *ret_pid = (pid_t) pid;
                *ret_pidfd = -EBADF;
                return 0;
        }
        if (pid < 0)
                return -errno;
        if (pid == 0)
                child_exec(p);

        *ret_pid = (pid_t) pid;
        *ret_pidfd = pidfd;
        return 0;
}
