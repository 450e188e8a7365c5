/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The sd_notify socket workers talk to: NOTIFY_SOCKET points at one datagram socket of ours, at
 * a path that stays the same across restarts of the daemon (/run/cgwatch/<dyno>/notify), so that
 * workers which survived a crash of the daemon reach its successor; SO_PASSCRED tells who sent a
 * message. Each line of a message is handed to the owner
 * with the sender's PID; the owner tells which worker it belongs to (a worker's helper process
 * may send on its behalf, as systemd allows with NotifyAccess=all). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "notify.h"

struct Notify {
        int fd;
        char *socket; /* the path */
        sd_event_source *source;
        NotifyFn fn;
        void *userdata;
};

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Notify *nt = userdata;
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
        for (char *line = buf, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                nt->fn(nt->userdata, cred->pid, line);
        }
        return 0;
}

int notify_open(sd_event *event, const char *path, NotifyFn fn, void *userdata, Notify **ret) {
        _cleanup_(notify_freep) Notify *nt = NULL;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t l = strlen(path);
        int one = 1, r;

        if (l >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        nt = calloc(1, sizeof *nt);
        if (!nt)
                return -ENOMEM;
        nt->fd = -EBADF;
        nt->fn = fn;
        nt->userdata = userdata;
        nt->socket = strdup(path);
        if (!nt->socket)
                return -ENOMEM;
        nt->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (nt->fd < 0)
                return -errno;
        memcpy(sa.sun_path, path, l);
        /* The previous daemon's socket, if it died: the path is ours (its directory is root's). */
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        if (bind(nt->fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1)) < 0)
                return -errno;
        /* Workers under any User= may send; who sent what is told by SO_PASSCRED, and a message
         * from a process outside every worker's node is ignored. */
        if (chmod(path, 0666) < 0)
                return -errno;
        if (setsockopt(nt->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return -errno;
        r = sd_event_add_io(event, &nt->source, nt->fd, EPOLLIN, on_notify, nt);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(nt->source, "notify-socket");
        *ret = TAKE_PTR(nt);
        return 0;
}

const char *notify_socket(const Notify *nt) {
        return nt ? nt->socket : NULL;
}

Notify *notify_free(Notify *nt) {
        if (!nt)
                return NULL;
        sd_event_source_disable_unref(nt->source);
        safe_close(nt->fd);
        free(nt->socket);
        free(nt);
        return NULL;
}
