/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One worker's life (see worker.h). Every state change goes through worker_set_state(), which asks
 * supervisor.c's table whether the transition exists and reports it; the side effects (spawn,
 * signal, cgroup.kill, timers) happen here and nowhere else. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "cgwatch/cgwatch.h"
#include "log.h"
#include "spawn.h"
#include "worker.h"

#define SETTLE_RETRY_USEC (100 * USEC_PER_MSEC)
#define SETTLE_TRIES      100

static usec_t clock_usec(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

usec_t now_usec(void) {
        return clock_usec(CLOCK_MONOTONIC);
}

usec_t now_realtime_usec(void) {
        return clock_usec(CLOCK_REALTIME);
}

Event worker_event(const Worker *w, EventType t) {
        Event e = EVENT_INIT(t);
        e.monotonic_usec = now_usec();
        e.worker = w->name;
        e.supervisor = w->group->name;
        e.cgroup = w->cgroup_path;
        e.incarnation = w->incarnation;
        e.pid = w->pid;
        e.budget_bytes = w->budget_bytes;
        e.restarts = w->restarts;
        e.recycles = w->recycles;
        e.reason = w->recycle_reason;
        return e;
}

static int worker_watch_pidfd(Worker *w, pid_t pid);

/* pidfd_send_signal(), or kill() for a process spawned without a pidfd (spawn_process() without
 * clone3: valgrind 3.19, Linux < 5.7). Returns 0 or -errno. */
static int process_signal(int pidfd, pid_t pid, int sig) {
        if (pidfd >= 0)
                return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
        return kill(pid, sig) < 0 ? -errno : 0;
}

/* A child source on the pidfd, or on the PID where there is none (SIGCHLD is blocked, as
 * sd_event_add_child() wants). */
static int process_watch(Worker *w, sd_event_source **ret, int pidfd, pid_t pid, sd_event_child_handler_t cb,
                         void *userdata) {
        if (pidfd >= 0)
                return sd_event_add_child_pidfd(w->ctx->event, ret, pidfd, WEXITED, cb, userdata);
        return sd_event_add_child(w->ctx->event, ret, pid, WEXITED, cb, userdata);
}

static void worker_report(Worker *w, const Event *e) {
        if (w->ctx->report)
                w->ctx->report(w, e, w->ctx->userdata);
}

static void worker_set_state(Worker *w, WorkerEvent ev) {
        WorkerState n;
        if (worker_state_next(w->state, ev, &n) < 0) {
                log_error("Worker %s: event '%s' is invalid in state '%s', ignoring (bug).", w->name,
                          worker_event_to_string(ev), worker_state_to_string(w->state));
                return;
        }
        if (n == w->state)
                return;
        Event e = worker_event(w, EVENT_STATE_CHANGED);
        e.old_state = w->state;
        e.new_state = n;
        w->state = n;
        worker_report(w, &e);
}

int worker_new(WorkerContext *ctx, Group *g, const WorkerConfig *cfg, unsigned instance, uint64_t budget_bytes,
               Worker **ret) {
        _cleanup_(worker_freep) Worker *w = NULL;
        int r;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        *w = (Worker){
                .ctx = ctx,
                .group = g,
                .cfg = cfg,
                .instance = instance,
                .pidfd = -EBADF,
                .output_fd = {-EBADF, -EBADF},
                .budget_bytes = budget_bytes,
                .memory_max_bytes = UINT64_MAX,
        };
        if (instance > 0)
                r = asprintf(&w->name, "%s@%u", cfg->name, instance);
        else
                r = (w->name = strdup(cfg->name)) ? 0 : -1;
        if (r < 0)
                return -ENOMEM;
        w->cgroup_path = cgroup_path_join(g->cgroup_path, w->name);
        if (!w->cgroup_path)
                return -ENOMEM;
        r = sd_bus_path_encode(CGWATCH_WORKER_PATH_PREFIX, w->name, &w->object_path);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(w);
        return 0;
}

static Retiree *retiree_free(Retiree *r) {
        if (!r)
                return NULL;
        sd_event_source_disable_unref(r->child_source);
        sd_event_source_disable_unref(r->timer_source);
        safe_close(r->pidfd);
        free(r->cgroup_path);
        free(r);
        return NULL;
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        retiree_free(w->retiree);
        sd_event_source_disable_unref(w->settle_source);
        sd_event_source_disable_unref(w->rss_probe_source);
        sd_event_source_disable_unref(w->output_source);
        safe_close(w->output_fd[0]);
        safe_close(w->output_fd[1]);
        free(w->stale_path);
        sd_event_source_disable_unref(w->child_source);
        sd_event_source_disable_unref(w->timer_source);
        safe_close(w->pidfd);
        free(w->name);
        free(w->cgroup_path);
        free(w->object_path);
        free(w);
        return NULL;
}

uint64_t worker_tripwire(const Worker *w) {
        if (w->budget_bytes == UINT64_MAX || w->budget_bytes == 0)
                return w->budget_bytes;
        return policy_tripwire_bytes(w->budget_bytes,
                                     policy_reserve_bytes(w->budget_bytes, w->growth_bytes_per_sec, w->drain_usec),
                                     w->cfg->budget_counts_rss ? w->uncharged_rss_bytes : 0);
}

/* VmRSS of `pid` in bytes, from /proc/PID/status. */
static int read_vm_rss(pid_t pid, uint64_t *ret) {
        char path[64], line[256];
        unsigned long long kib;
        int r = -ENODATA;

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %llu kB", &kib) == 1) {
                        *ret = (uint64_t) kib * 1024;
                        r = 0;
                        break;
                }
        fclose(f);
        return r;
}

#define RSS_PROBES_MAX_DELAY (32 * USEC_PER_SEC)

/* BudgetCountsRSS=yes: how much of the main process's RSS its node is not charged for (VmRSS -
 * memory.current, when positive); the tripwire sits that much lower, and memory.high follows it
 * (not while a recycle drains: the drain has its own ceiling). A few wakeups per incarnation, not a
 * poll: 250 ms after the start, then doubling up to 32 s. */
static int on_rss_probe(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;
        uint64_t rss, cur, before = worker_tripwire(w);

        if (w->pid <= 0)
                return 0; /* gone: the next start arms its own probes */
        if (worker_state_is_active(w->state) && w->recycle_reason == RECYCLE_NONE && read_vm_rss(w->pid, &rss) >= 0 &&
            cgroup_read_u64(w->ctx->root, w->cgroup_path, "memory.current", &cur) >= 0) {
                w->uncharged_rss_bytes = rss > cur ? rss - cur : 0;
                uint64_t after = worker_tripwire(w);
                log_debug("Worker %s: VmRSS %" PRIu64 ", memory.current %" PRIu64 ": tripwire %" PRIu64 " -> %" PRIu64
                          ".",
                          w->name, rss, cur, before, after);
                int r = after == before ? 0 : cgroup_write_u64(w->ctx->root, w->cgroup_path, "memory.high", after);
                if (r < 0)
                        log_warning_errno(r, "Worker %s: failed to move memory.high to %" PRIu64 ", ignoring: %m",
                                          w->name, after);
        }
        w->rss_probe_delay *= 2;
        if (w->rss_probe_delay <= RSS_PROBES_MAX_DELAY && sd_event_source_set_time_relative(s, w->rss_probe_delay) >= 0)
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

void worker_arm_rss_probes(Worker *w) {
        w->rss_probe_source = sd_event_source_disable_unref(w->rss_probe_source);
        if (!w->cfg->budget_counts_rss || w->budget_bytes == UINT64_MAX)
                return;
        w->rss_probe_delay = 250 * USEC_PER_MSEC;
        if (sd_event_add_time_relative(w->ctx->event, &w->rss_probe_source, CLOCK_MONOTONIC, w->rss_probe_delay,
                                       10 * USEC_PER_MSEC, on_rss_probe, w) >= 0)
                (void) sd_event_source_set_description(w->rss_probe_source, "worker-rss-probe");
}

int worker_lift_drain(Worker *w, uint64_t high) {
        if (w->recycle_reason == RECYCLE_NONE || w->drain_lifted || !worker_state_is_active(w->state))
                return 0;
        int r = cgroup_write_u64(w->ctx->root, w->cgroup_path, "memory.high", high);
        if (r < 0)
                return r;
        w->drain_lifted = true;
        return 1;
}

/* Halfway between what we knew and what we saw: one odd incarnation moves it, does not own it. */
static uint64_t ewma(uint64_t old, uint64_t seen) {
        return old == 0 ? seen : old / 2 + seen / 2;
}

bool worker_is_draining(const Worker *w) {
        return w->recycle_reason != RECYCLE_NONE || w->retiree;
}

static int worker_arm_timer(Worker *w, usec_t delay, sd_event_time_handler_t cb, const char *what) {
        int r;

        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        if (delay == USEC_INFINITY)
                return 0;
        r = sd_event_add_time_relative(w->ctx->event, &w->timer_source, CLOCK_MONOTONIC, delay, 1000, cb, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(w->timer_source, what);
        return 0;
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;
        Event e = worker_event(w, EVENT_STOP_TIMEOUT);

        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        e.timeout_usec = w->cfg->stop_timeout_usec;
        e.error = cgroup_kill(w->ctx->root, w->cgroup_path);
        worker_report(w, &e);
        return 0;
}

static int on_backoff_done(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;
        Event e;

        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        if (worker_start(w, &e) != 0)
                worker_report(w, &e);
        return 0;
}

static int on_ready_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;
        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        log_warning("Worker %s did not send READY=1 within %" PRIu64 " ms, considering it running.", w->name,
                    w->cfg->ready_timeout_usec / USEC_PER_MSEC);
        worker_on_ready(w);
        return 0;
}

/* Puts the node's memory.high back at the tripwire after a drain (the next incarnation reuses
 * it), with what this drain taught. */
static void worker_restore_brake(Worker *w) {
        int r = cgroup_write_u64(w->ctx->root, w->cgroup_path, "memory.high", worker_tripwire(w));
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to restore memory.high of '%s', ignoring: %m", w->cgroup_path);
}

/* The main process is gone: `code`/`status` as in siginfo_t (code 0: unknown, the process was
 * re-adopted from a previous daemon and is not our child, so its exit status cannot be had). */
static void worker_exited(Worker *w, int code, int status) {
        const CgroupRoot *root = w->ctx->root;
        Event e = worker_event(w, EVENT_EXITED);

        e.exit_code = code;
        e.exit_status = status;
        e.planned = w->intent != INTENT_NONE;

        w->child_source = sd_event_source_disable_unref(w->child_source);
        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        w->pidfd = safe_close(w->pidfd);
        w->pid = 0;
        if (e.planned && w->stop_usec > 0 && e.monotonic_usec > w->stop_usec)
                w->drain_usec = ewma(w->drain_usec, e.monotonic_usec - w->stop_usec);
        w->stop_usec = 0;
        worker_retire_now(w); /* a replacement that died before READY=1 ends the wait */

        /* Whatever the main process left behind goes with it, so the next incarnation starts in an
         * empty node and the memory is given back now. */
        if (cgroup_is_populated(root, w->cgroup_path) > 0)
                (void) cgroup_kill(root, w->cgroup_path);
        if (w->recycle_reason != RECYCLE_NONE) {
                worker_restore_brake(w);
                w->recycle_reason = RECYCLE_NONE;
        }

        switch (worker_exit_outcome(w->intent, w->ctx->shutting_down)) {
        case EXIT_OUTCOME_STAY_DOWN:
        case EXIT_OUTCOME_REMOVE:
                worker_set_state(w, WEV_EXIT_DONE);
                break;
        case EXIT_OUTCOME_FAIL:
                worker_set_state(w, WEV_EXIT_DONE);
                worker_set_state(w, WEV_FAIL);
                break;
        default:
                break; /* the owner decides, in the report below */
        }
        worker_report(w, &e);
        /* An owner that did not decide leaves the worker down rather than in a state that claims a
         * process. */
        if (worker_state_is_active(w->state) && w->pid == 0)
                worker_set_state(w, WEV_EXIT_DONE);
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        worker_exited(userdata, si->si_code, si->si_status);
        return 0;
}

int worker_restart_after(Worker *w, usec_t delay, bool count, Event *ret) {
        if (count)
                w->restarts++;
        worker_set_state(w, WEV_EXIT_RESTART);
        if (delay == 0)
                return worker_start(w, ret);
        if (worker_arm_timer(w, delay, on_backoff_done, "worker-backoff") < 0)
                return worker_start(w, ret); /* no timer: better now than never */
        return 0;
}

void worker_stay_down(Worker *w, bool failed) {
        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        if (w->state == WORKER_BACKOFF)
                worker_set_state(w, failed ? WEV_FAIL : WEV_BACKOFF_CANCEL);
        else {
                worker_set_state(w, WEV_EXIT_DONE);
                if (failed)
                        worker_set_state(w, WEV_FAIL);
        }
}

/* A killed process's node can stay busy for a moment after its exit (the kernel frees the last
 * task asynchronously): retry removing it. (The replacement keeps its own node name, rf~N:
 * cgroup v2 cannot rename a node, and moving the process would leave its memory charged to the
 * old node.) */
static int on_settle_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;
        int k = cgroup_remove(w->ctx->root, w->stale_path);

        if (k == -EBUSY && ++w->settle_tries < SETTLE_TRIES)
                return sd_event_source_set_time_relative(s, SETTLE_RETRY_USEC) < 0
                               ? 0
                               : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (k < 0)
                log_warning_errno(k, "Failed to remove '%s' after %u tries, leaving it: %m", w->stale_path,
                                  w->settle_tries);
        w->stale_path = mfree(w->stale_path);
        w->settle_source = sd_event_source_disable_unref(w->settle_source);
        return 0;
}

static void worker_remove_stale(Worker *w, char *path) {
        int k = cgroup_remove(w->ctx->root, path);

        if (k != -EBUSY) {
                if (k < 0)
                        log_warning_errno(k, "Failed to remove '%s', ignoring: %m", path);
                free(path);
                return;
        }
        free(w->stale_path);
        w->stale_path = path;
        w->settle_tries = 0;
        w->settle_source = sd_event_source_disable_unref(w->settle_source);
        if (sd_event_add_time_relative(w->ctx->event, &w->settle_source, CLOCK_MONOTONIC, SETTLE_RETRY_USEC, 1000,
                                       on_settle_retry, w) >= 0)
                (void) sd_event_source_set_description(w->settle_source, "worker-settle-node");
}

static int on_retiree_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Retiree *r = userdata;
        Worker *w = r->worker;
        Event e = worker_event(w, EVENT_EXITED);

        e.pid = r->pid;
        e.cgroup = r->cgroup_path;
        e.incarnation = w->incarnation - 1;
        e.reason = r->reason;
        e.exit_code = si->si_code;
        e.exit_status = si->si_status;
        e.planned = e.replaced = true;
        if (cgroup_is_populated(w->ctx->root, r->cgroup_path) > 0)
                (void) cgroup_kill(w->ctx->root, r->cgroup_path);
        w->retiree = NULL;
        worker_report(w, &e); /* while e.cgroup is still valid */
        worker_remove_stale(w, TAKE_PTR(r->cgroup_path));
        retiree_free(r);
        return 0;
}

static int on_retiree_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Retiree *r = userdata;
        Worker *w = r->worker;
        Event e = worker_event(w, EVENT_STOP_TIMEOUT);

        r->timer_source = sd_event_source_disable_unref(r->timer_source);
        e.pid = r->pid;
        e.cgroup = r->cgroup_path;
        e.incarnation = w->incarnation - 1;
        e.timeout_usec = w->cfg->stop_timeout_usec;
        e.replaced = true;
        e.error = cgroup_kill(w->ctx->root, r->cgroup_path);
        worker_report(w, &e);
        return 0;
}

void worker_retire_now(Worker *w) {
        Retiree *r = w->retiree;

        if (!r || r->signaled)
                return;
        r->signaled = true;
        if (r->drain_high > 0) {
                int k = cgroup_write_u64(w->ctx->root, r->cgroup_path, "memory.high", r->drain_high);
                if (k < 0 && k != -ENOENT)
                        log_warning_errno(k, "Failed to lift memory.high of '%s' for the drain, ignoring: %m",
                                          r->cgroup_path);
        }
        int k = process_signal(r->pidfd, r->pid, w->cfg->stop_signal);
        if (k < 0 && k != -ESRCH)
                log_warning_errno(k, "Failed to signal the replaced incarnation of %s: %m", w->name);
        log_info("Worker %s: stopping the replaced incarnation (pid %d).", w->name, (int) r->pid);
        if (sd_event_add_time_relative(w->ctx->event, &r->timer_source, CLOCK_MONOTONIC, w->cfg->stop_timeout_usec,
                                       1000, on_retiree_timeout, r) >= 0)
                (void) sd_event_source_set_description(r->timer_source, "retiree-stop-timeout");
}

/* ReplaceFirst=yes: the running incarnation becomes a Retiree in its node; the worker starts again
 * in a fresh node and, once it sent READY=1, the retiree is stopped. Returns 1 if the replacement
 * was spawned, or a negative errno with everything as it was. */
static int worker_replace(Worker *w, const RecycleRequest *req) {
        _cleanup_free_ char *fresh = NULL;
        Event started;
        Retiree *r;
        int k;

        if (asprintf(&fresh, "%s/%s~%u", w->group->cgroup_path, w->name, w->generation + 1) < 0)
                return -ENOMEM;
        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        *r = (Retiree){
                .worker = w,
                .pid = w->pid,
                .pidfd = -EBADF,
                .reason = req->reason,
                .drain_high = req->drain_high,
        };
        /* sd-event takes one child source per process: the worker's goes, the retiree's comes. */
        w->child_source = sd_event_source_disable_unref(w->child_source);
        k = process_watch(w, &r->child_source, w->pidfd, w->pid, on_retiree_exit, r);
        if (k < 0) {
                retiree_free(r);
                if (worker_watch_pidfd(w, w->pid) < 0) {
                        /* Cannot watch it any more: kill it rather than lose track of a process. */
                        (void) cgroup_kill(w->ctx->root, w->cgroup_path);
                        log_error_errno(k, "Failed to watch worker %s, killed it: %m", w->name);
                }
                return k;
        }
        (void) sd_event_source_set_description(r->child_source, "retiree-pidfd");

        /* From here on the old incarnation is the retiree's. */
        r->pidfd = TAKE_FD(w->pidfd);
        r->cgroup_path = w->cgroup_path;
        w->cgroup_path = TAKE_PTR(fresh);
        w->generation++;
        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        w->retiree = r;
        w->pid = 0;

        /* The state table sees a planned stop and an immediate start. */
        w->intent = INTENT_RESTART;
        worker_set_state(w, WEV_STOP);
        worker_set_state(w, WEV_EXIT_RESTART);
        k = worker_start(w, &started);
        if (k != 0)
                worker_report(w, &started);
        if (k <= 0)
                /* No replacement after all (the owner retries the start as after any failed
                 * start): the old one is stopped like any recycle's, not kept waiting. */
                worker_retire_now(w);
        return 1;
}

int worker_recycle(Worker *w, const RecycleRequest *req, Event *ret) {
        pid_t old_pid = w->pid;
        unsigned old_incarnation = w->incarnation;
        bool replaced = false;
        int r;

        if (w->state != WORKER_RUNNING && w->state != WORKER_STARTING)
                return 0;

        if (req->replace_ok && w->cfg->replace_first && !w->retiree) {
                r = worker_replace(w, req);
                if (r < 0)
                        return r;
                replaced = true;
        } else {
                if (req->drain_high > 0) {
                        r = cgroup_write_u64(w->ctx->root, w->cgroup_path, "memory.high", req->drain_high);
                        if (r < 0 && r != -ENOENT)
                                log_warning_errno(r, "Failed to lift memory.high of '%s' for the drain, ignoring: %m",
                                                  w->cgroup_path);
                }
                r = worker_stop(w, INTENT_RESTART);
                if (r < 0)
                        return r;
                w->recycle_reason = req->reason;
        }

        w->recycles++;
        w->last_recycle_reason = req->reason;
        /* A budget recycle tells how fast this worker grows: from nothing at its start to its
         * tripwire now. (An overestimate for a worker with a big steady heap: a larger reserve.) */
        usec_t now = now_usec();
        if (req->reason == RECYCLE_BUDGET && w->started_usec > 0 && now > w->started_usec)
                w->growth_bytes_per_sec =
                        ewma(w->growth_bytes_per_sec,
                             (uint64_t) ((double) req->memory_bytes * USEC_PER_SEC / (double) (now - w->started_usec)));
        Event e = worker_event(w, EVENT_RECYCLED);
        e.pid = old_pid;
        e.incarnation = old_incarnation;
        e.reason = req->reason;
        e.memory_bytes = req->memory_bytes;
        e.memory_current_bytes = req->memory_current_bytes;
        e.budget_bytes = req->budget_bytes;
        e.detect_usec = req->detect_usec;
        e.replacement = replaced;
        e.drain_high = req->drain_high;
        *ret = e;
        return 1;
}

int worker_set_budget(Worker *w, uint64_t budget_bytes, Event *ret) {
        uint64_t old = w->budget_bytes;
        int r;

        if (budget_bytes == old)
                return 0;
        /* A draining node keeps its allowance; its next incarnation gets the new budget. */
        w->budget_bytes = budget_bytes;
        if (worker_state_is_active(w->state) && w->recycle_reason == RECYCLE_NONE) {
                r = cgroup_write_u64(w->ctx->root, w->cgroup_path, "memory.high", worker_tripwire(w));
                if (r < 0 && r != -ENOENT) {
                        w->budget_bytes = old;
                        return r;
                }
        }
        Event e = worker_event(w, EVENT_BUDGET_CHANGED);
        e.old_budget_bytes = old;
        *ret = e;
        return 1;
}

void worker_on_ready(Worker *w) {
        w->last_watchdog_usec = now_usec();
        if (w->state == WORKER_STARTING) {
                w->timer_source = sd_event_source_disable_unref(w->timer_source);
                worker_set_state(w, WEV_READY);
                Event e = worker_event(w, EVENT_READY);
                worker_report(w, &e);
        }
        worker_retire_now(w);
}

void worker_on_watchdog(Worker *w) {
        w->last_watchdog_usec = now_usec();
}

static void output_flush_line(Worker *w, const char *line, size_t len) {
        fprintf(stderr, "%s: %.*s\n", w->name, (int) len, line);
}

/* Foreground: every line a worker (or anything it forked) writes is printed on our stderr with
 * the worker's name in front. A line longer than the buffer is cut into pieces. */
static int on_worker_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;

        for (;;) {
                ssize_t n = read(fd, w->output_buf + w->output_len, sizeof w->output_buf - w->output_len);
                if (n <= 0) {
                        if (n == 0 || (errno != EAGAIN && errno != EINTR))
                                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                        break;
                }
                w->output_len += (size_t) n;
                char *start = w->output_buf, *nl;
                while ((nl = memchr(start, '\n', w->output_len - (size_t) (start - w->output_buf)))) {
                        output_flush_line(w, start, (size_t) (nl - start));
                        start = nl + 1;
                }
                w->output_len -= (size_t) (start - w->output_buf);
                memmove(w->output_buf, start, w->output_len);
                if (w->output_len == sizeof w->output_buf) {
                        output_flush_line(w, w->output_buf, w->output_len);
                        w->output_len = 0;
                }
        }
        return 0;
}

/* Foreground: the worker's output goes to a FIFO, ctx->output_dir/NAME.out, which outlives the
 * daemon: the worker holds it open for reading and writing (so a dead daemon is not a dead reader:
 * no SIGPIPE, no EPIPE; with nobody reading, a write blocks once the pipe's 64 KiB are full, until
 * the next daemon reads again). Without an output_dir, a plain pipe. Opens our reading end and
 * the end for workers (w->output_fd[0], [1]) once; returns 0 or -errno. */
static int worker_output_open_reader(Worker *w) {
        _cleanup_free_ char *path = NULL;

        if (w->output_fd[0] >= 0)
                return 0;
        if (w->ctx->output_dir) {
                if (asprintf(&path, "%s/%s.out", w->ctx->output_dir, w->name) < 0)
                        return -ENOMEM;
                if (mkfifo(path, 0600) < 0 && errno != EEXIST)
                        return -errno;
                w->output_fd[0] = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
                /* The workers' end is opened afresh for each incarnation (worker_open_output()):
                 * one fd per worker here, not two, so 1000 workers fit the kernel's default hard
                 * RLIMIT_NOFILE of 4096. */
                if (w->output_fd[0] < 0)
                        return -errno;
        } else if (pipe2(w->output_fd, O_CLOEXEC | O_NONBLOCK) >= 0)
                /* The writing end blocks like any stdout; only our reading end must not. */
                (void) fcntl(w->output_fd[1], F_SETFL, 0);
        if (w->output_fd[0] < 0 || (!w->ctx->output_dir && w->output_fd[1] < 0)) {
                int e = errno;
                w->output_fd[0] = safe_close(w->output_fd[0]);
                w->output_fd[1] = safe_close(w->output_fd[1]);
                return -e;
        }
        int r = sd_event_add_io(w->ctx->event, &w->output_source, w->output_fd[0], EPOLLIN, on_worker_output, w);
        if (r < 0) {
                w->output_fd[0] = safe_close(w->output_fd[0]);
                w->output_fd[1] = safe_close(w->output_fd[1]);
                return r;
        }
        (void) sd_event_source_set_description(w->output_source, "worker-output");
        return 0;
}

/* Returns the fd the worker's stdout and stderr go to (owned by the caller), or -EBADF to inherit
 * ours. Under journald each worker gets its own stream, tagged with its name (journald holds the
 * other end, so it outlives the daemon); in the foreground see worker_output_open_reader(). */
static int worker_open_output(Worker *w) {
        if (log_to_journal()) {
                int fd = sd_journal_stream_fd(w->name, LOG_INFO, /* level_prefix= */ 1);
                if (fd < 0) {
                        /* Said once per daemon, not at every start. */
                        static bool said;
                        if (!said)
                                log_warning_errno(fd,
                                                  "Worker %s: no journal stream of its own (%m): its output, and "
                                                  "that of any worker started without one, goes to the daemon's.",
                                                  w->name);
                        said = true;
                        return -EBADF;
                }
                return fd;
        }
        if (worker_output_open_reader(w) < 0)
                return -EBADF;
        if (w->ctx->output_dir) {
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s.out", w->ctx->output_dir, w->name) < 0)
                        return -EBADF;
                /* Its own open file description, so that it blocks like any stdout. */
                int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
                return fd < 0 ? -EBADF : fd;
        }
        int fd = fcntl(w->output_fd[1], F_DUPFD_CLOEXEC, 3);
        return fd < 0 ? -EBADF : fd;
}

/* CGWATCH_WORKER=, NOTIFY_SOCKET=, WATCHDOG_USEC=, CGWATCH_INSTANCE= on top of the config's. */
static char **worker_build_env(Worker *w, const SpawnCredentials *creds) {
        char buf[4][256];
        char *extra[5] = {};
        size_t n = 0;

        snprintf(buf[n], sizeof buf[n], "CGWATCH_WORKER=%s", w->name);
        extra[n] = buf[n], n++;
        if (w->ctx->notify_socket) {
                snprintf(buf[n], sizeof buf[n], "NOTIFY_SOCKET=%s", w->ctx->notify_socket);
                extra[n] = buf[n], n++;
        }
        if (w->cfg->watchdog_usec > 0) {
                snprintf(buf[n], sizeof buf[n], "WATCHDOG_USEC=%" PRIu64, w->cfg->watchdog_usec);
                extra[n] = buf[n], n++;
        }
        if (w->instance > 0) {
                snprintf(buf[n], sizeof buf[n], "CGWATCH_INSTANCE=%u", w->instance);
                extra[n] = buf[n], n++;
        }
        return spawn_build_env(w->cfg->environment, creds->set ? creds : NULL, extra);
}

/* Watches w->pidfd (or `pid`, without a pidfd) for the exit of the main process. */
static int worker_watch_pidfd(Worker *w, pid_t pid) {
        int r = process_watch(w, &w->child_source, w->pidfd, pid, on_child_exit, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_child_pidfd_own(w->child_source, false);
        (void) sd_event_source_set_description(w->child_source, "worker-pidfd");
        return 0;
}

/* Spawns into the node and watches its pidfd (w->pidfd). Returns 0 with the PID, or a negative
 * errno with *ret_daemon_fault telling whose failure it was. */
/* A start that fails the same way as the one before is logged at debug: a node that stays EBUSY
 * is retried with backoff, and its error is logged once, not once per attempt. */
static int spawn_log_level(const Worker *w, int r) {
        return r == w->start_error ? LOG_DEBUG : LOG_ERR;
}

static int worker_spawn(Worker *w, pid_t *ret_pid, bool *ret_daemon_fault) {
        _cleanup_(spawn_credentials_done) SpawnCredentials creds = {};
        _cleanup_close_ int cgfd = -EBADF, outfd = -EBADF, pidfd = -EBADF;
        _cleanup_strv_free_ char **env = NULL;
        pid_t pid;
        int r;

        *ret_daemon_fault = true;
        r = cgroup_create(w->ctx->root, w->cgroup_path, worker_tripwire(w), w->cfg->tasks_max);
        if (r < 0)
                return log_full_errno(spawn_log_level(w, r), r, "Failed to create cgroup '%s' for worker %s: %m",
                                      w->cgroup_path, w->name);
        /* Written at every spawn: the node may be reused, and a reload may have dropped the key. */
        r = cgroup_write_u64(w->ctx->root, w->cgroup_path, "memory.max", w->memory_max_bytes);
        if (r < 0)
                return log_full_errno(spawn_log_level(w, r), r, "Failed to set memory.max of '%s' for worker %s: %m",
                                      w->cgroup_path, w->name);
        cgfd = cgroup_open_dir(w->ctx->root, w->cgroup_path);
        if (cgfd < 0)
                return log_full_errno(spawn_log_level(w, cgfd), cgfd, "Failed to open cgroup '%s': %m", w->cgroup_path);
        if (w->cfg->user || w->cfg->group) {
                r = spawn_credentials_resolve(w->cfg->user, w->cfg->group, &creds);
                if (r < 0) {
                        *ret_daemon_fault = r == -ENOMEM;
                        return log_full_errno(spawn_log_level(w, r), r,
                                              "Worker %s: failed to resolve User=%s Group=%s: %m", w->name,
                                              w->cfg->user ?: "", w->cfg->group ?: "");
                }
        }
        env = worker_build_env(w, &creds);
        if (!env)
                return log_oom();
        outfd = worker_open_output(w);
        SpawnParams p = {
                .argv = w->cfg->exec_argv,
                .envp = env,
                .cgroup_fd = cgfd,
                .creds = creds.set ? &creds : NULL,
                .working_directory = w->cfg->working_directory,
                .stdout_fd = outfd,
                .stderr_fd = outfd,
        };
        r = spawn_process(&p, &pid, &pidfd);
        if (r < 0)
                return log_full_errno(spawn_log_level(w, r), r, "Failed to spawn worker %s into '%s': %m", w->name,
                                      w->cgroup_path);
        w->pidfd = TAKE_FD(pidfd);
        r = worker_watch_pidfd(w, pid);
        if (r < 0) {
                /* Cannot watch it: kill it rather than lose track of a process. */
                (void) process_signal(w->pidfd, pid, SIGKILL);
                w->pidfd = safe_close(w->pidfd);
                return log_full_errno(spawn_log_level(w, r), r, "Failed to watch worker %s: %m", w->name);
        }
        *ret_pid = pid;
        return 0;
}

int worker_start(Worker *w, Event *ret) {
        bool daemon_fault;
        pid_t pid = 0;
        int r;

        if (worker_state_is_active(w->state) || w->ctx->shutting_down)
                return 0;
        w->timer_source = sd_event_source_disable_unref(w->timer_source);

        r = worker_spawn(w, &pid, &daemon_fault);
        if (r < 0) {
                w->start_error_repeated = r == w->start_error;
                w->start_error = r;
                w->start_failures++;
                Event e = worker_event(w, EVENT_START_FAILED);
                e.error = r;
                e.daemon_fault = daemon_fault;
                *ret = e;
                return r;
        }

        if (w->start_failures > 1)
                log_info("Worker %s started again, after %u failed attempts.", w->name, w->start_failures);
        w->start_error = 0;
        w->start_failures = 0;
        w->start_error_repeated = false;
        w->pid = pid;
        w->daemon_faults = 0;
        w->incarnation++;
        w->intent = INTENT_NONE;
        w->recycle_reason = RECYCLE_NONE;
        w->drain_lifted = false;
        w->started_usec = w->last_watchdog_usec = w->last_cpu_activity_usec = now_usec();
        w->started_realtime_usec = now_realtime_usec();
        w->last_cpu_usage_usec = 0;
        worker_set_state(w, WEV_START);
        worker_arm_rss_probes(w);
        Event e = worker_event(w, EVENT_STARTED);
        e.memory_high = worker_tripwire(w);
        *ret = e;

        if (w->cfg->replace_first)
                /* Its READY=1 is what a replacement waits for. */
                (void) worker_arm_timer(w, w->cfg->ready_timeout_usec, on_ready_timeout, "worker-ready-timeout");
        else
                worker_set_state(w, WEV_READY);
        return 1;
}

int worker_stop(Worker *w, WorkerIntent intent) {
        int r;

        w->intent = worker_intent_merge(w->intent, intent);
        switch (w->state) {
        case WORKER_BACKOFF:
                if (w->intent == INTENT_RESTART)
                        return 0; /* a restart is coming anyway */
                worker_stay_down(w, w->intent == INTENT_FAIL);
                return 0;
        case WORKER_STOPPED:
                if (w->intent == INTENT_FAIL)
                        worker_set_state(w, WEV_FAIL);
                return 0;
        case WORKER_STARTING:
        case WORKER_RUNNING:
                break;
        default:
                return 0; /* already on its way down, or failed: only the intent changed */
        }

        if (w->intent != INTENT_RESTART)
                worker_retire_now(w);
        r = process_signal(w->pidfd, w->pid, w->cfg->stop_signal);
        if (r < 0 && r != -ESRCH)
                log_warning_errno(r, "Failed to send %s to worker %s: %m", sigabbrev_np(w->cfg->stop_signal) ?: "?",
                                  w->name);
        w->stop_usec = now_usec();
        worker_set_state(w, WEV_STOP);
        (void) worker_arm_timer(w, w->cfg->stop_timeout_usec, on_stop_timeout, "worker-stop-timeout");
        return 1;
}

/* Re-adoption after a restart of the daemon (manager-state.c restores the counters first). */

#define SWEEP_CHECK_USEC (100 * USEC_PER_MSEC)

/* An adopted main process is not our child (it was the previous daemon's): its pidfd becomes
 * readable when it exits, but waitid() cannot tell how. */
static int on_adopted_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        worker_exited(userdata, /* code= */ 0, /* status= */ 0);
        return 0;
}

int worker_adopt(Worker *w, WorkerState state, pid_t pid, int pidfd, usec_t timer_usec) {
        usec_t now = now_usec(), delay = timer_usec > now ? timer_usec - now : 0;
        int r;

        if (pid > 0) {
                r = sd_event_add_io(w->ctx->event, &w->child_source, pidfd, EPOLLIN, on_adopted_exit, w);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_description(w->child_source, "worker-pidfd-adopted");
                w->pid = pid;
                w->pidfd = pidfd;
        }
        if (!log_to_journal())
                (void) worker_output_open_reader(w);
        w->state = state;
        switch (state) {
        case WORKER_STOPPING:
                /* The stop signal went out before the crash: only the rest of StopTimeoutSec is
                 * left, and the signal is not sent again (a recycle completes once). */
                return worker_arm_timer(w, timer_usec ? delay : w->cfg->stop_timeout_usec, on_stop_timeout,
                                        "worker-stop-timeout");
        case WORKER_BACKOFF:
                return worker_arm_timer(w, delay, on_backoff_done, "worker-backoff");
        case WORKER_STARTING:
                return worker_arm_timer(w, timer_usec ? delay : w->cfg->ready_timeout_usec, on_ready_timeout,
                                        "worker-ready-timeout");
        default:
                return 0;
        }
}

static int on_sweep_check(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;

        if (cgroup_is_populated(w->ctx->root, w->cgroup_path) > 0 &&
            sd_event_source_set_time_relative(s, SWEEP_CHECK_USEC) >= 0 &&
            sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) >= 0)
                return 0;
        worker_exited(w, /* code= */ 0, /* status= */ 0);
        return 0;
}

int worker_sweep(Worker *w, WorkerState state, WorkerIntent intent) {
        char buf[65536];
        int r;

        w->state = state;
        w->intent = intent;
        w->pid = 0;
        r = cgroup_read_file(w->ctx->root, w->cgroup_path, "cgroup.procs", buf, sizeof buf);
        if (r >= 0)
                for (char *p = buf, *e; *p; p = e) {
                        long pid = strtol(p, &e, 10);
                        if (e == p)
                                break;
                        if (pid > 0)
                                (void) kill((pid_t) pid, w->cfg->stop_signal);
                }
        if (worker_state_is_active(state)) {
                if (w->state != WORKER_STOPPING)
                        worker_set_state(w, WEV_STOP);
                w->stop_usec = now_usec();
                r = worker_arm_timer(w, w->cfg->stop_timeout_usec, on_stop_timeout, "worker-stop-timeout");
                if (r < 0)
                        return r;
        }
        r = sd_event_add_time_relative(w->ctx->event, &w->child_source, CLOCK_MONOTONIC, 0, 1000, on_sweep_check, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(w->child_source, "worker-sweep");
        return 0;
}
