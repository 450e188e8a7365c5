/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The sd_notify socket workers talk to: NOTIFY_SOCKET points at one abstract datagram socket of
 * ours; SO_PASSCRED tells who sent a message. Each line of a message is handed to the owner
 * with the sender's PID; the owner tells which worker it belongs to (a worker's helper process
 * may send on its behalf, as systemd allows with NotifyAccess=all). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"
#include "notify.h"

struct Notify {
        int fd;
        char *socket; /* "@cgwatch/..." */
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

int notify_open(sd_event *event, NotifyFn fn, void *userdata, Notify **ret) {
        _cleanup_(notify_freep) Notify *nt = NULL;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        char name[64];
        int one = 1, r;
        size_t l;

        nt = calloc(1, sizeof *nt);
        if (!nt)
                return -ENOMEM;
        nt->fd = -EBADF;
        nt->fn = fn;
        nt->userdata = userdata;
        nt->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (nt->fd < 0)
                return -errno;
        /* Abstract: nothing to clean up on disk, and workers under any User= can reach it. */
        snprintf(name, sizeof name, "cgwatch/%d/notify", (int) getpid());
        l = strlen(name);
        memcpy(sa.sun_path + 1, name, l);
        if (bind(nt->fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + l)) < 0)
                return -errno;
        if (setsockopt(nt->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return -errno;
        if (asprintf(&nt->socket, "@%s", name) < 0)
                return -ENOMEM;
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
