/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The sd_notify socket workers talk to: NOTIFY_SOCKET points at one abstract datagram socket of
 * ours; SO_PASSCRED tells who sent a message, and the sender's cgroup tells which worker it
 * belongs to (a worker's helper process may send on its behalf, as systemd allows with
 * NotifyAccess=all). Understood: READY=1, WATCHDOG=1. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"
#include "manager.h"

static Worker *worker_by_pid(Manager *m, pid_t pid) {
        char path[64], buf[4096];
        _cleanup_free_ char *cg = NULL;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        for (size_t i = 0; i < m->n_workers; i++)
                if (m->workers[i]->pid == pid)
                        return m->workers[i];

        snprintf(path, sizeof path, "/proc/%d/cgroup", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        n = cgroup_read_fd(fd, buf, sizeof buf);
        if (n < 0 || cgroup_parse_proc_self(buf, (size_t) n, &cg) < 0)
                return NULL;
        for (size_t i = 0; i < m->n_workers; i++) {
                const char *p = m->workers[i]->cgroup_path;
                size_t l = strlen(p);
                if (strncmp(cg, p, l) == 0 && (cg[l] == 0 || cg[l] == '/'))
                        return m->workers[i];
        }
        return NULL;
}

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        char buf[4096];
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(struct ucred))];
        } control;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf - 1};
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control};
        struct ucred *cred = NULL;
        ssize_t n;
        Worker *w;

        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : log_warning_errno(errno, "Notification socket: %m");
        if ((size_t) n >= sizeof buf) {
                log_warning("Dropped an oversized notification (%zd bytes).", n);
                return 0;
        }
        buf[n] = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
                        cred = (struct ucred *) CMSG_DATA(c);
                else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        /* Nobody should pass us fds; close them rather than leak. */
                        int *fds = (int *) CMSG_DATA(c);
                        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
                                safe_close(fds[i]);
                }
        if (!cred || cred->pid <= 0)
                return 0;
        w = worker_by_pid(m, cred->pid);
        if (!w) {
                log_debug("Notification from pid %d, which belongs to no worker, ignoring.", (int) cred->pid);
                return 0;
        }
        for (char *line = buf, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (streq(line, "READY=1"))
                        worker_on_ready(w);
                else if (streq(line, "WATCHDOG=1"))
                        worker_on_watchdog(w);
        }
        return 0;
}

int notify_open(Manager *m) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        char name[64];
        int one = 1, r;
        size_t l;

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* Abstract: nothing to clean up on disk, and workers under any User= can reach it. */
        snprintf(name, sizeof name, "cgwatch/%d/notify", (int) getpid());
        l = strlen(name);
        memcpy(sa.sun_path + 1, name, l);
        if (bind(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + l)) < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return -errno;
        if (asprintf(&m->notify_socket, "@%s", name) < 0)
                return -ENOMEM;
        r = sd_event_add_io(m->event, &m->notify_source, fd, EPOLLIN, on_notify, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(m->notify_source, "notify-socket");
        m->notify_fd = TAKE_FD(fd);
        return 0;
}

void notify_close(Manager *m) {
        m->notify_source = sd_event_source_disable_unref(m->notify_source);
        m->notify_fd = safe_close(m->notify_fd);
        free(m->notify_socket);
        m->notify_socket = NULL;
}
