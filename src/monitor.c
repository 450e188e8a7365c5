/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Kernel events -> figures (see monitor.h). Handlers only mark what changed and queue one pass. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"

struct Monitor {
        sd_event *event;
        const CgroupRoot *root;
        MonitorEvaluateFn evaluate;
        void *userdata;
        sd_event_source *evaluate_source; /* one queued pass */
        usec_t trigger_usec;              /* the earliest cause behind the queued pass */
        sd_event_source *deadline_source;
};

static usec_t monotonic_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

static int on_evaluate(sd_event_source *s, void *userdata) {
        Monitor *m = userdata;
        usec_t t = m->trigger_usec;
        m->trigger_usec = 0;
        m->evaluate(m->userdata, t);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Monitor *m = userdata;
        monitor_queue(m, monotonic_usec());
        return 0;
}

int monitor_new(sd_event *event, const CgroupRoot *root, MonitorEvaluateFn evaluate, void *userdata, Monitor **ret) {
        _cleanup_(monitor_freep) Monitor *m = calloc(1, sizeof(Monitor));
        int r;

        if (!m)
                return -ENOMEM;
        m->event = event;
        m->root = root;
        m->evaluate = evaluate;
        m->userdata = userdata;
        r = sd_event_add_defer(event, &m->evaluate_source, on_evaluate, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->evaluate_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(m->evaluate_source, "policy-evaluate");
        r = sd_event_add_time(event, &m->deadline_source, CLOCK_MONOTONIC, 0, 10 * USEC_PER_MSEC, on_deadline, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->deadline_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(m->deadline_source, "policy-deadline");
        *ret = TAKE_PTR(m);
        return 0;
}

Monitor *monitor_free(Monitor *m) {
        if (!m)
                return NULL;
        sd_event_source_disable_unref(m->evaluate_source);
        sd_event_source_disable_unref(m->deadline_source);
        free(m);
        return NULL;
}

void monitor_queue(Monitor *m, usec_t trigger_usec) {
        if (trigger_usec == 0)
                trigger_usec = monotonic_usec();
        if (m->trigger_usec == 0 || trigger_usec < m->trigger_usec)
                m->trigger_usec = trigger_usec;
        (void) sd_event_source_set_enabled(m->evaluate_source, SD_EVENT_ONESHOT);
}

void monitor_arm_deadline(Monitor *m, usec_t deadline) {
        if (deadline == USEC_INFINITY) {
                (void) sd_event_source_set_enabled(m->deadline_source, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(m->deadline_source, deadline);
        (void) sd_event_source_set_enabled(m->deadline_source, SD_EVENT_ONESHOT);
}

int monitor_watch_sample(MemoryWatch *w) {
        const CgroupRoot *root = w->monitor->root;
        char buf[8192];
        MemoryStat st;
        MemoryPressure p;
        uint64_t cur, peak = 0;
        int r;

        r = cgroup_read_u64(root, w->path, "memory.current", &cur);
        if (r < 0)
                return r;
        r = cgroup_read_file(root, w->path, "memory.stat", buf, sizeof buf);
        if (r < 0)
                return r;
        r = memory_stat_parse(buf, strlen(buf), &st);
        if (r < 0)
                return r;
        (void) cgroup_read_u64(root, w->path, "memory.peak", &peak);
        w->sample.valid = true;
        w->sample.current = cur;
        w->sample.unreclaimable = memory_unreclaimable_bytes(cur, &st);
        w->sample.anon = st.anon;
        w->sample.file = st.file;
        w->sample.peak = peak;
        if (w->pressure_fired && cgroup_read_file(root, w->path, "memory.pressure", buf, sizeof buf) >= 0 &&
            memory_pressure_parse(buf, strlen(buf), &p) >= 0)
                w->sample.pressure_some_avg10 = p.some.avg10;
        w->dirty = false;
        return 0;
}

uint64_t monitor_watch_take_oom_kills(MemoryWatch *w) {
        uint64_t n = w->events.oom_kill > w->oom_kill_seen ? w->events.oom_kill - w->oom_kill_seen : 0;
        w->oom_kill_seen = w->events.oom_kill;
        return n;
}

int monitor_watch_refresh_events(MemoryWatch *w) {
        char buf[512];
        MemoryEvents ev;
        ssize_t n = cgroup_read_fd(w->events_fd, buf, sizeof buf);
        if (n < 0)
                return (int) n;
        int r = memory_events_parse(buf, (size_t) n, &ev);
        if (r < 0)
                return r;
        if (ev.high > w->events.high || ev.max > w->events.max)
                w->high_usec = monotonic_usec();
        w->events = ev;
        return 0;
}

uint64_t monitor_watch_oom_kills_total(const MemoryWatch *w) {
        return w->events.oom_kill > w->oom_kill_base ? w->events.oom_kill - w->oom_kill_base : 0;
}

static bool events_grew(const MemoryEvents *a, const MemoryEvents *b) {
        return b->high > a->high || b->max > a->max || b->oom > a->oom || b->oom_kill > a->oom_kill;
}

static int on_memory_events(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        MemoryWatch *w = userdata;
        usec_t t = monotonic_usec();
        char buf[512];
        MemoryEvents ev;
        ssize_t n;

        n = cgroup_read_fd(fd, buf, sizeof buf); /* re-arms POLLPRI */
        if (n < 0 || memory_events_parse(buf, (size_t) n, &ev) < 0) {
                if (n == -ENODEV || n == -ENOENT)
                        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        if (ev.high > w->events.high || ev.max > w->events.max)
                w->high_usec = t;
        if (events_grew(&w->events, &ev)) {
                w->dirty = true;
                monitor_queue(w->monitor, t);
        }
        w->events = ev;
        return 0;
}

static int on_psi(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        MemoryWatch *w = userdata;
        if (revents & (EPOLLERR | EPOLLHUP) && !(revents & EPOLLPRI)) {
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        w->pressure_fired = w->dirty = true;
        monitor_queue(w->monitor, monotonic_usec());
        return 0;
}

/* A PSI trigger: "some 150000 1000000" written to memory.pressure; the fd then polls POLLPRI
 * whenever the stall within the window exceeds the threshold. Returns 1 with *ret_fd, 0 if off. */
static int open_psi(Monitor *m, const char *path, const PressureConfig *pc, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        char trig[64];
        int len;

        if (!pc || pc->stall_usec == 0)
                return 0;
        fd = cgroup_open_file(m->root, path, "memory.pressure", O_RDWR | O_NONBLOCK);
        if (fd < 0)
                return fd;
        len = snprintf(trig, sizeof trig, "%s %" PRIu64 " %" PRIu64, pc->full ? "full" : "some", pc->stall_usec,
                       pc->window_usec);
        if (write(fd, trig, (size_t) len + 1) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 1;
}

static int watch_io(Monitor *m, int fd, sd_event_io_handler_t cb, void *userdata, const char *what,
                    sd_event_source **ret) {
        int r = sd_event_add_io(m->event, ret, fd, EPOLLPRI, cb, userdata);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(*ret, what);
        return 0;
}

int monitor_watch_open(Monitor *m, const char *path, bool local, const PressureConfig *pc, MemoryWatch **ret) {
        _cleanup_(monitor_watch_freep) MemoryWatch *w = calloc(1, sizeof(MemoryWatch));
        char buf[512];
        ssize_t n;
        int r;

        if (!w)
                return -ENOMEM;
        w->monitor = m;
        w->events_fd = w->psi_fd = -EBADF;
        w->dirty = true;
        w->path = strdup(path);
        if (!w->path)
                return -ENOMEM;
        w->events_fd = cgroup_open_file(m->root, path, local ? "memory.events.local" : "memory.events", O_RDONLY);
        if (w->events_fd < 0)
                return w->events_fd;
        n = cgroup_read_fd(w->events_fd, buf, sizeof buf);
        if (n >= 0)
                (void) memory_events_parse(buf, (size_t) n, &w->events);
        w->oom_kill_base = w->oom_kill_seen = w->events.oom_kill;
        r = watch_io(m, w->events_fd, on_memory_events, w, "memory-events", &w->events_source);
        if (r < 0)
                return r;
        r = open_psi(m, path, pc, &w->psi_fd);
        if (r < 0)
                return r;
        if (r > 0) {
                r = watch_io(m, w->psi_fd, on_psi, w, "memory-psi", &w->psi_source);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(w);
        return 0;
}

MemoryWatch *monitor_watch_free(MemoryWatch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->events_source);
        sd_event_source_disable_unref(w->psi_source);
        safe_close(w->events_fd);
        safe_close(w->psi_fd);
        free(w->path);
        free(w);
        return NULL;
}

int monitor_read_cpu_usage(Monitor *m, const char *path, uint64_t *ret_usec) {
        char buf[1024];
        int r = cgroup_read_file(m->root, path, "cpu.stat", buf, sizeof buf);
        if (r < 0)
                return r;
        return cpu_stat_parse_usage(buf, strlen(buf), ret_usec);
}
