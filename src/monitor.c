/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Kernel events -> samples -> policy -> recycle. Nothing here polls: memory.events and PSI
 * trigger fds wake the loop with POLLPRI (the kernel rate-limits cgroup file notifications to
 * about one per 10 ms per file); samples are read only when an event says something changed. The
 * only timer is the deadline of a time-based rule (lifetime, watchdog), plus cpu.stat sampling
 * while some worker has IdleTimeoutSec=. Handlers only mark what changed and queue one
 * evaluation (a defer source), so a burst of events from several files costs one pass. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"
#include "manager.h"

#define MIB (1024ULL * 1024ULL)

static void monitor_queue(Manager *m, usec_t trigger_usec);

static int read_sample(Manager *m, const char *path, uint64_t *ret_current, uint64_t *ret_unreclaimable) {
        char buf[8192];
        MemoryStat st;
        uint64_t cur;
        int r;

        r = cgroup_read_u64(&m->root, path, "memory.current", &cur);
        if (r < 0)
                return r;
        r = cgroup_read_file(&m->root, path, "memory.stat", buf, sizeof buf);
        if (r < 0)
                return r;
        r = memory_stat_parse(buf, strlen(buf), &st);
        if (r < 0)
                return r;
        *ret_current = cur;
        *ret_unreclaimable = memory_unreclaimable_bytes(cur, &st);
        return 0;
}

static void sample_worker(Manager *m, Worker *w) {
        char buf[512];
        MemoryPressure p;

        if (read_sample(m, w->cgroup_path, &w->memory_current, &w->memory_unreclaimable) < 0)
                return;
        (void) cgroup_read_u64(&m->root, w->cgroup_path, "memory.peak", &w->memory_peak);
        if (w->pressure_fired && cgroup_read_file(&m->root, w->cgroup_path, "memory.pressure", buf, sizeof buf) >= 0 &&
            memory_pressure_parse(buf, strlen(buf), &p) >= 0)
                w->pressure_avg10 = p.some.avg10;
        w->sample_dirty = false;
}

static void sample_cpu(Manager *m, Worker *w, usec_t now) {
        char buf[1024];
        uint64_t usage;

        if (cgroup_read_file(&m->root, w->cgroup_path, "cpu.stat", buf, sizeof buf) < 0 ||
            cpu_stat_parse_usage(buf, strlen(buf), &usage) < 0)
                return;
        if (usage != w->last_cpu_usage_usec) {
                w->last_cpu_usage_usec = usage;
                w->last_cpu_activity_usec = now;
        }
}

static bool worker_is_candidate(const Worker *w) {
        return (w->state == WORKER_RUNNING || w->state == WORKER_STARTING) && w->recycle_reason == RECYCLE_NONE &&
               !w->removing;
}

static usec_t idle_sample_interval(Manager *m) {
        usec_t iv = USEC_INFINITY;
        for (size_t i = 0; i < m->n_workers; i++)
                if (m->workers[i]->cfg->idle_timeout_usec > 0 && worker_is_candidate(m->workers[i]))
                        iv = MIN(iv, MAX(m->workers[i]->cfg->idle_timeout_usec / 4, 100 * USEC_PER_MSEC));
        return iv;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        usec_t now = now_usec();
        for (size_t i = 0; i < m->n_workers; i++)
                if (m->workers[i]->cfg->idle_timeout_usec > 0 && worker_is_candidate(m->workers[i]))
                        sample_cpu(m, m->workers[i], now);
        monitor_queue(m, now);
        return 0;
}

static void arm_deadline(Manager *m, usec_t deadline) {
        int r;
        if (deadline == USEC_INFINITY) {
                (void) sd_event_source_set_enabled(m->deadline_source, SD_EVENT_OFF);
                return;
        }
        if (!m->deadline_source) {
                r = sd_event_add_time(m->event, &m->deadline_source, CLOCK_MONOTONIC, deadline, 10 * USEC_PER_MSEC,
                                      on_deadline, m);
                if (r < 0) {
                        log_error_errno(r, "Failed to arm the deadline timer, time-based recycling is off: %m");
                        return;
                }
                (void) sd_event_source_set_description(m->deadline_source, "policy-deadline");
                return;
        }
        (void) sd_event_source_set_time(m->deadline_source, deadline);
        (void) sd_event_source_set_enabled(m->deadline_source, SD_EVENT_ONESHOT);
}

static void evaluate(Manager *m, usec_t trigger_usec) {
        size_t n = m->n_workers;
        WorkerSample samples[n > 0 ? n : 1];
        usec_t now = now_usec();
        bool full;

        if (m->shutting_down)
                return;

        if (read_sample(m, m->dyno_path, &m->dyno_current, &m->dyno_unreclaimable) >= 0)
                (void) cgroup_read_u64(&m->root, m->dyno_path, "memory.peak", &m->dyno_peak);
        /* Near the dyno's limit every worker's figure matters for choosing the offender. */
        full = m->dyno_unreclaimable >= m->recycle_at_bytes || m->dyno_pressure_fired;

        for (unsigned round = 0; round <= n; round++) {
                Snapshot s = {
                        .now = now,
                        .dyno =
                                {
                                        .memory_current = m->dyno_current,
                                        .unreclaimable = m->dyno_unreclaimable,
                                        .memory_limit = m->dyno_limit_bytes,
                                        .recycle_at = m->recycle_at_bytes,
                                        .pressure_fired = m->dyno_pressure_fired,
                                        .last_dyno_action_usec = m->last_dyno_action_usec,
                                },
                        .workers = samples,
                        .n_workers = n,
                };
                PolicyAction a;

                for (size_t i = 0; i < n; i++) {
                        Worker *w = m->workers[i];
                        bool cand = worker_is_candidate(w);
                        if (cand && round == 0 && (w->sample_dirty || full))
                                sample_worker(m, w);
                        samples[i] = (WorkerSample){
                                .candidate = cand,
                                .recycle_in_progress = w->recycle_reason != RECYCLE_NONE,
                                .recycle_in_progress_reason = w->recycle_reason,
                                .memory_current = w->memory_current,
                                .unreclaimable = w->memory_unreclaimable,
                                .budget = w->budget_bytes,
                                .pressure_fired = w->pressure_fired,
                                .pressure_some_avg10 = w->pressure_avg10,
                                .started_usec = w->started_usec,
                                .max_lifetime_usec = w->cfg->max_lifetime_usec,
                                .idle_timeout_usec = w->cfg->idle_timeout_usec,
                                .last_cpu_activity_usec = w->last_cpu_activity_usec,
                                .watchdog_usec = w->cfg->watchdog_usec,
                                .last_watchdog_usec = w->last_watchdog_usec,
                        };
                }

                if (policy_decide(&s, &m->policy, &a) <= 0) {
                        usec_t d = policy_next_deadline(&s), iv = idle_sample_interval(m);
                        if (iv != USEC_INFINITY)
                                d = MIN(d, now + iv);
                        /* Still over RecycleAt but held off by the cool-down: look again when it
                         * ends, even if the kernel has nothing new to say by then. */
                        if (full && m->last_dyno_action_usec > 0 &&
                            m->last_dyno_action_usec + m->policy.dyno_cooldown_usec > now)
                                d = MIN(d, m->last_dyno_action_usec + m->policy.dyno_cooldown_usec);
                        arm_deadline(m, d);
                        break;
                }

                Worker *w = m->workers[a.worker];
                w->detect_usec = trigger_usec;
                (void) worker_recycle(w, a.reason, a.memory_bytes, a.budget_bytes);
                /* The cool-down runs from the stop signal, not from when sampling began. */
                if (a.reason == RECYCLE_DYNO_LIMIT || a.reason == RECYCLE_PRESSURE)
                        m->last_dyno_action_usec = now = now_usec();
                if (w->recycle_reason == RECYCLE_NONE) /* could not act on it: do not loop on it */
                        break;
        }

        for (size_t i = 0; i < n; i++)
                m->workers[i]->pressure_fired = false;
        m->dyno_pressure_fired = false;
}

static int on_evaluate(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        usec_t t = m->trigger_usec;
        m->trigger_usec = 0;
        evaluate(m, t);
        return 0;
}

static void monitor_queue(Manager *m, usec_t trigger_usec) {
        int r;
        if (m->trigger_usec == 0 || trigger_usec < m->trigger_usec)
                m->trigger_usec = trigger_usec;
        if (!m->evaluate_source) {
                r = sd_event_add_defer(m->event, &m->evaluate_source, on_evaluate, m);
                if (r < 0) {
                        log_error_errno(r, "Failed to queue an evaluation: %m");
                        return;
                }
                (void) sd_event_source_set_description(m->evaluate_source, "policy-evaluate");
        }
        (void) sd_event_source_set_enabled(m->evaluate_source, SD_EVENT_ONESHOT);
}

void monitor_evaluate(Manager *m) {
        monitor_queue(m, now_usec());
}

static bool events_grew(const MemoryEvents *a, const MemoryEvents *b) {
        return b->high > a->high || b->max > a->max || b->oom > a->oom || b->oom_kill > a->oom_kill;
}

static int on_worker_events(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        usec_t t = now_usec();
        char buf[512];
        MemoryEvents ev;
        ssize_t n;

        n = cgroup_read_fd(fd, buf, sizeof buf);
        if (n < 0 || memory_events_parse(buf, (size_t) n, &ev) < 0) {
                if (n == -ENODEV || n == -ENOENT)
                        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        if (ev.oom_kill > w->events.oom_kill)
                log_error("Worker %s: the kernel OOM-killed a process in its cgroup (oom_kill %" PRIu64 ").", w->name,
                          ev.oom_kill);
        if (events_grew(&w->events, &ev)) {
                w->sample_dirty = true;
                monitor_queue(w->manager, t);
        }
        w->events = ev;
        return 0;
}

static int on_worker_psi(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        if (revents & (EPOLLERR | EPOLLHUP) && !(revents & EPOLLPRI)) {
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        w->pressure_fired = w->sample_dirty = true;
        monitor_queue(w->manager, now_usec());
        return 0;
}

static int on_dyno_events(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        char buf[512];
        ssize_t n = cgroup_read_fd(fd, buf, sizeof buf); /* re-arms POLLPRI */
        if (n == -ENODEV || n == -ENOENT)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        monitor_queue(m, now_usec());
        return 0;
}

static int on_dyno_psi(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        if (revents & (EPOLLERR | EPOLLHUP) && !(revents & EPOLLPRI)) {
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        m->dyno_pressure_fired = true;
        monitor_queue(m, now_usec());
        return 0;
}

/* A PSI trigger: "some 150000 1000000" written to memory.pressure; the fd then polls POLLPRI
 * whenever the stall within the window exceeds the threshold. */
static int open_psi(Manager *m, const char *path, const PressureConfig *pc, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        char trig[64];
        int len;

        if (pc->stall_usec == 0)
                return 0;
        fd = cgroup_open_file(&m->root, path, "memory.pressure", O_RDWR | O_NONBLOCK);
        if (fd < 0)
                return fd;
        len = snprintf(trig, sizeof trig, "%s %" PRIu64 " %" PRIu64, pc->full ? "full" : "some", pc->stall_usec,
                       pc->window_usec);
        if (write(fd, trig, (size_t) len + 1) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 1;
}

static int watch(Manager *m, int fd, uint32_t events, sd_event_io_handler_t cb, void *userdata, const char *what,
                 sd_event_source **ret) {
        int r = sd_event_add_io(m->event, ret, fd, events, cb, userdata);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(*ret, what);
        return 0;
}

int monitor_worker_open(Worker *w) {
        Manager *m = w->manager;
        char buf[512];
        ssize_t n;
        int r;

        if (w->events_fd < 0) {
                w->events_fd = cgroup_open_file(&m->root, w->cgroup_path, "memory.events", O_RDONLY);
                if (w->events_fd < 0)
                        return w->events_fd;
                n = cgroup_read_fd(w->events_fd, buf, sizeof buf);
                if (n >= 0)
                        (void) memory_events_parse(buf, (size_t) n, &w->events);
                r = watch(m, w->events_fd, EPOLLPRI, on_worker_events, w, "worker-memory-events", &w->events_source);
                if (r < 0)
                        return r;
        }
        if (w->psi_fd < 0) {
                r = open_psi(m, w->cgroup_path, &w->cfg->pressure, &w->psi_fd);
                if (r < 0)
                        return r;
                if (r > 0) {
                        r = watch(m, w->psi_fd, EPOLLPRI, on_worker_psi, w, "worker-psi", &w->psi_source);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

void monitor_worker_close(Worker *w) {
        w->events_source = sd_event_source_disable_unref(w->events_source);
        w->psi_source = sd_event_source_disable_unref(w->psi_source);
        w->events_fd = safe_close(w->events_fd);
        w->psi_fd = safe_close(w->psi_fd);
}

int monitor_dyno_open(Manager *m) {
        int r;

        m->dyno_events_fd = cgroup_open_file(&m->root, m->dyno_path, "memory.events", O_RDONLY);
        if (m->dyno_events_fd < 0)
                return m->dyno_events_fd;
        r = watch(m, m->dyno_events_fd, EPOLLPRI, on_dyno_events, m, "dyno-memory-events", &m->dyno_events_source);
        if (r < 0)
                return r;
        r = open_psi(m, m->dyno_path, &m->config->dyno.pressure, &m->dyno_psi_fd);
        if (r <= 0)
                return r;
        return watch(m, m->dyno_psi_fd, EPOLLPRI, on_dyno_psi, m, "dyno-psi", &m->dyno_psi_source);
}

void monitor_dyno_close(Manager *m) {
        m->dyno_events_source = sd_event_source_disable_unref(m->dyno_events_source);
        m->dyno_psi_source = sd_event_source_disable_unref(m->dyno_psi_source);
        m->dyno_events_fd = safe_close(m->dyno_events_fd);
        m->dyno_psi_fd = safe_close(m->dyno_psi_fd);
        m->deadline_source = sd_event_source_disable_unref(m->deadline_source);
        m->evaluate_source = sd_event_source_disable_unref(m->evaluate_source);
}

/* A throttled worker cannot drain: the memory.high penalty stalls every allocation, and a
 * SIGTERM handler took 467 s to run in one measurement (VM-RECIPE.md). So for the drain, lift
 * the worker's memory.high by a bounded allowance (a quarter of its budget, at least 16 MiB, at
 * most half of the dyno's remaining headroom), and the dyno's own brake halfway to its limit;
 * memory.max on the dyno stays the hard backstop. */
void monitor_release_brake(Manager *m, const char *cgroup_path, uint64_t budget_bytes) {
        uint64_t headroom = m->dyno_limit_bytes > m->dyno_current ? (m->dyno_limit_bytes - m->dyno_current) / 2 : 0;
        int r;

        if (budget_bytes != UINT64_MAX) {
                uint64_t extra = MIN(MAX(budget_bytes / 4, 16 * MIB), headroom);
                r = cgroup_write_u64(&m->root, cgroup_path, "memory.high", budget_bytes + extra);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "Failed to lift memory.high of '%s' for the drain, ignoring: %m",
                                          cgroup_path);
        }
        if (!m->dyno_brake_released && m->recycle_at_bytes < m->dyno_limit_bytes) {
                r = cgroup_write_u64(&m->root, m->dyno_path, "memory.high", manager_dyno_drain_high(m));
                if (r < 0)
                        log_warning_errno(r, "Failed to lift the dyno's memory.high for a drain, ignoring: %m");
                else
                        m->dyno_brake_released = true;
        }
}

void monitor_restore_brake(Manager *m, Worker *w) {
        int r;

        r = cgroup_write_u64(&m->root, w->cgroup_path, "memory.high", w->budget_bytes);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to restore memory.high of '%s', ignoring: %m", w->cgroup_path);
        w->recycle_reason = RECYCLE_NONE;
        monitor_restore_dyno_brake(m);
}

void monitor_restore_dyno_brake(Manager *m) {
        int r;

        for (size_t i = 0; i < m->n_workers; i++)
                if (m->workers[i]->recycle_reason != RECYCLE_NONE || m->workers[i]->retiree)
                        return; /* another drain still needs the headroom */
        if (m->dyno_brake_released) {
                r = cgroup_write_u64(&m->root, m->dyno_path, "memory.high", m->recycle_at_bytes);
                if (r < 0)
                        log_warning_errno(r, "Failed to restore the dyno's memory.high, ignoring: %m");
                m->dyno_brake_released = false;
        }
}
