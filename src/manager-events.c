/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The one road through the daemon (see manager.h):
 *   kernel event -> monitor (queues a pass) -> manager_evaluate(): snapshot -> dispatch_evaluate()
 *   -> ops.recycle -> worker_recycle() -> Event -> manager_handle_event() -> manager_announce()
 *   -> every sink.
 * Events that happen later (exits, timeouts, state changes) come back from worker.c through
 * manager_on_worker_report() and take the same last two steps. Supervision after an exit (restart
 * policy, backoff, restart intensity, strategies, escalation) is decided here, with supervisor.c's
 * pure functions. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgwatch/cgwatch.h"
#include "dispatch.h"
#include "log.h"
#include "manager.h"

#define MIB (1024ULL * 1024ULL)

void manager_announce(Manager *m, const Event *e) {
        Event x = *e;

        if (x.monotonic_usec == 0)
                x.monotonic_usec = now_usec();
        if (x.realtime_usec == 0)
                x.realtime_usec = now_realtime_usec();
        if (x.dyno_limit_bytes == 0)
                x.dyno_limit_bytes = m->dyno_limit_bytes;
        if (x.dyno_current_bytes == 0 && m->dyno_watch)
                x.dyno_current_bytes = m->dyno_watch->sample.current;
        announce_event(&m->announcer, &x);
}

/* The dyno's brake (memory.high = RecycleAt) is lifted halfway to its limit while any drain is
 * in progress, and put back once the last drain has ended; memory.max stays the backstop. */
static void manager_release_dyno_brake(Manager *m) {
        if (m->dyno_brake_released || m->recycle_at_bytes >= m->dyno_limit_bytes)
                return;
        int r = cgroup_write_u64(&m->root, m->dyno_path, "memory.high", manager_dyno_drain_high(m));
        if (r < 0)
                log_warning_errno(r, "Failed to lift the dyno's memory.high for a drain, ignoring: %m");
        else
                m->dyno_brake_released = true;
}

static void manager_restore_dyno_brake(Manager *m) {
        if (!m->dyno_brake_released)
                return;
        for (size_t i = 0; i < m->n_workers; i++)
                if (worker_is_draining(m->workers[i]))
                        return; /* another drain still needs the headroom */
        int r = cgroup_write_u64(&m->root, m->dyno_path, "memory.high", m->recycle_at_bytes);
        if (r < 0)
                log_warning_errno(r, "Failed to restore the dyno's memory.high, ignoring: %m");
        m->dyno_brake_released = false;
}

static void manager_handle_start(Manager *m, Worker *w, int r, const Event *e);

int manager_start_worker(Manager *m, Worker *w) {
        Event e;
        int r;

        if (w->intent == INTENT_REMOVE)
                return 0;
        if (w->state == WORKER_FAILED)
                w->consecutive_failures = 0;
        w->group->failed = false;
        r = worker_start(w, &e);
        manager_handle_start(m, w, r, &e);
        return r;
}

static void manager_restart_after(Manager *m, Worker *w, usec_t delay, bool count) {
        Event e;
        int r = worker_restart_after(w, delay, count, &e);
        manager_handle_start(m, w, r, &e);
}

static bool group_within(const Group *g, const Group *top) {
        for (; g; g = g->parent)
                if (g == top)
                        return true;
        return false;
}

static void manager_announce_gave_up(Manager *m, const Group *g) {
        Event e = EVENT_INIT(EVENT_GAVE_UP);

        e.supervisor = g->name;
        e.escalated_to = g->parent ? g->parent->name : NULL;
        e.max_restarts = g->max_restarts;
        e.restart_window_usec = g->restart_window_usec;
        manager_announce(m, &e);
}

/* Erlang's "reached max restart intensity", with escalation: group g failed. Its parent counts
 * that as one restart of a child and restarts it afresh (every worker in g's subtree, with fresh
 * tallies; with Strategy=one-for-all the parent's other children too), unless the parent's own
 * intensity is exceeded: then the parent fails in turn, up to the dyno. When the dyno fails, the
 * daemon stops every worker gracefully and exits with CGWATCH_EXIT_DYNO_GAVE_UP, as an OTP
 * application's top supervisor takes the node down. `dying` is the worker whose death tipped it:
 * it has exited and must be restarted or kept down here. */
static void manager_group_give_up(Manager *m, Group *g, Worker *dying) {
        SupervisorLevel levels[64];
        Group *chain[64];
        size_t n = 0;

        for (Group *p = g->parent; p && n < ELEMENTSOF(levels); p = p->parent) {
                chain[n] = p;
                levels[n++] = (SupervisorLevel){&p->tally, p->max_restarts, p->restart_window_usec};
        }
        size_t k = supervision_escalate(levels, n, now_usec());

        manager_announce_gave_up(m, g);
        for (size_t i = 0; i < k; i++)
                manager_announce_gave_up(m, chain[i]);
        if (k == n) {
                Group *top = n > 0 ? chain[n - 1] : g;
                if (top->parent == NULL) {
                        top->failed = true;
                        m->exit_code = CGWATCH_EXIT_DYNO_GAVE_UP;
                        worker_stay_down(dying, /* failed= */ true);
                        manager_shutdown(m);
                        return;
                }
                k = n - 1; /* deeper than we track: the deepest tracked ancestor restarts */
        }

        /* chain[k] restarts its failed child: the group just below it on the way up. */
        Group *restarter = chain[k], *child = k > 0 ? chain[k - 1] : g;
        Group *scope = restarter->strategy == STRATEGY_ONE_FOR_ALL ? restarter : child;
        log_info("%s%s restarts supervisor %s%s.", restarter->name ? "Supervisor " : "The dyno", restarter->name ?: "",
                 child->name, scope == restarter ? " and its siblings (one-for-all)" : "");
        for (size_t i = 0; i < m->n_groups; i++)
                if (group_within(m->groups[i], child)) {
                        restart_tally_reset(&m->groups[i]->tally);
                        m->groups[i]->failed = false;
                }
        for (size_t i = 0; i < m->n_workers; i++) {
                Worker *w = m->workers[i];
                if (w == dying || w->intent == INTENT_REMOVE || !group_within(w->group, scope))
                        continue;
                if (group_within(w->group, child))
                        w->consecutive_failures = 0; /* a fresh group: fresh children */
                if (worker_state_is_active(w->state))
                        (void) worker_stop(w, INTENT_RESTART);
        }
        dying->consecutive_failures = 0;
        manager_restart_after(m, dying, 0, /* count= */ false);
}

/* An exit nobody asked for (or a start that failed on the worker's account): restart with
 * backoff, stay down, or fail the group when its restart intensity is exceeded; siblings follow
 * the group's strategy. */
static void manager_supervise_failure(Manager *m, Worker *w, bool success) {
        Group *g = w->group;
        usec_t now = now_usec();

        if (!restart_wanted(w->cfg->restart, success)) {
                worker_stay_down(w, /* failed= */ false);
                return;
        }
        if (restart_tally_add(&g->tally, now, g->max_restarts, g->restart_window_usec)) {
                manager_group_give_up(m, g, w);
                return;
        }

        /* A worker that ran for longer than the backoff cap counts as healthy again. */
        if (w->started_usec > 0 && now - w->started_usec >= w->cfg->restart_max_usec)
                w->consecutive_failures = 0;
        w->consecutive_failures++;
        usec_t delay = backoff_delay_usec(w->consecutive_failures, w->cfg->restart_usec, w->cfg->restart_max_usec);
        log_info("Worker %s: restarting in %" PRIu64 " ms (failure %u in a row).", w->name, delay / USEC_PER_MSEC,
                 w->consecutive_failures);

        /* The strategy: siblings that go down with it restart as soon as they have stopped. */
        size_t n = 0, self = 0;
        bool affected[m->n_workers ?: 1];
        Worker *members[m->n_workers ?: 1];
        for (size_t i = 0; i < m->n_workers; i++)
                if (m->workers[i]->group == g && m->workers[i]->intent != INTENT_REMOVE) {
                        if (m->workers[i] == w)
                                self = n;
                        members[n++] = m->workers[i];
                }
        strategy_affected(g->strategy, n, self, affected);
        for (size_t i = 0; i < n; i++)
                if (affected[i] && members[i] != w && worker_state_is_active(members[i]->state)) {
                        log_info("Worker %s: stopping for restart, its sibling %s died (%s).", members[i]->name,
                                 w->name, strategy_to_string(g->strategy));
                        (void) worker_stop(members[i], INTENT_RESTART);
                }
        manager_restart_after(m, w, delay, /* count= */ true);
}

/* A start that failed, however it was started (explicitly, after an exit, or when a backoff
 * timer fired: then it comes back as a START_FAILED report): the daemon's own failures (EMFILE,
 * ENOMEM, a node it could not create or that is EBUSY) are retried with backoff and never count
 * against the worker's or its group's restart intensity; the worker's own (an unknown User=) are
 * judged like a death. One that fails like the one before is not announced again. */
static void manager_start_failed(Manager *m, Worker *w, const Event *e) {
        if (!w->start_error_repeated)
                manager_announce(m, e);
        else
                log_debug("Worker %s: start attempt %u failed the same way, retrying.", w->name, w->start_failures);
        if (e->daemon_fault) {
                usec_t delay = daemon_fault_delay_usec(++w->daemon_faults);
                if (!w->start_error_repeated)
                        log_warning("Worker %s: the daemon failed to start it (%s, %u in a row), retrying in %" PRIu64
                                    " ms; this is not counted against the worker or its supervisors.",
                                    w->name, strerror(-e->error), w->daemon_faults, delay / USEC_PER_MSEC);
                manager_restart_after(m, w, delay, /* count= */ false);
        } else
                manager_supervise_failure(m, w, /* success= */ false);
}

static void manager_handle_start(Manager *m, Worker *w, int r, const Event *e) {
        if (r > 0)
                manager_handle_event(m, w, e);
        else if (r < 0)
                manager_start_failed(m, w, e);
}

static void manager_after_exit(Manager *m, Worker *w, const Event *e) {
        if (e->replaced)
                return; /* the old incarnation of a ReplaceFirst recycle: its replacement runs on */

        switch (worker_exit_outcome(w->intent, m->shutting_down)) {
        case EXIT_OUTCOME_RESTART:
                if (e->reason != RECYCLE_NONE && m->config->dyno.recycles_count_as_restarts &&
                    restart_tally_add(&w->group->tally, now_usec(), w->group->max_restarts,
                                      w->group->restart_window_usec)) {
                        manager_group_give_up(m, w->group, w);
                        break;
                }
                manager_restart_after(m, w, 0, /* count= */ false);
                break;
        case EXIT_OUTCOME_JUDGE:
                manager_supervise_failure(m, w, e->exit_code == CLD_EXITED && e->exit_status == 0);
                break;
        case EXIT_OUTCOME_REMOVE:
                manager_schedule_gc(m);
                break;
        default:
                break;
        }
}

static bool reason_is_memory(RecycleReason r) {
        return r == RECYCLE_BUDGET || r == RECYCLE_DYNO_LIMIT || r == RECYCLE_PRESSURE;
}

/* A worker is judged a leaker when it grew by at least this much in each of its last 3 lives: a
 * tenth of its budget per minute, at least 64 KiB/s. */
static int64_t leak_min_rate(const Worker *w) {
        uint64_t b = w->budget_bytes == UINT64_MAX ? 0 : w->budget_bytes / 600;
        return (int64_t) MIN(MAX(b, (uint64_t) 64 * 1024), (uint64_t) INT64_MAX);
}

/* The life that just ended (its successor starts now): its growth rate joins the record, and the
 * verdict is announced when it changes to "leaking". Without enough samples, a life that ended in
 * a budget recycle still tells its rate: from nothing to its tripwire in its lifetime. */
static void manager_end_life(Manager *m, Worker *w) {
        int64_t rate = 0, verdict_rate = 0;

        if (w->growth.n == 0)
                return; /* no life yet */
        if (growth_rate(&w->growth, &rate) < 0)
                rate = 0;
        if (w->life_hit_budget)
                rate = MAX(rate, (int64_t) MIN(w->growth_bytes_per_sec, (uint64_t) INT64_MAX));
        life_rates_add(&w->lives, rate);
        w->lifetimes++;
        w->life_hit_budget = false;
        bool leaking = leak_verdict(&w->lives, 3, leak_min_rate(w), &verdict_rate);
        if (leaking && !w->leaking) {
                w->leaking = true;
                w->leak_rate = verdict_rate;
                Event e = worker_event(w, EVENT_LEAK_VERDICT);
                e.growth_bytes_per_sec = verdict_rate;
                e.lifetimes = w->lifetimes;
                manager_announce(m, &e);
        } else if (!leaking)
                w->leaking = false;
        else
                w->leak_rate = verdict_rate;
}

static void manager_report_oom_kills(Manager *m, Worker *w);

/* An unplanned exit after the kernel's OOM killer acted inside the worker's node in this
 * incarnation (memory.events oom_kill, re-read now: the exit may come before the notification;
 * never guessed from the exit signal, which anyone could send): the kernel recycled it. The kills
 * are announced, then a recycle with reason oom (counted in Recycles, LastRecycleReason=oom,
 * WorkerRecycled on the bus), and the exit carries the reason. Its restart is judged as any
 * failure's (Restart=, backoff, intensity). Returns true if it was one. */
static bool manager_oom_exit(Manager *m, Worker *w, Event *exit) {
        uint64_t peak = 0;

        if (exit->planned || exit->replaced || !w->watch || monitor_watch_refresh_events(w->watch) < 0 ||
            monitor_watch_oom_kills_total(w->watch) == 0)
                return false;
        manager_report_oom_kills(m, w);
        (void) cgroup_read_u64(&m->root, w->cgroup_path, "memory.peak", &peak);
        w->recycles++;
        w->last_recycle_reason = RECYCLE_OOM;
        Event r = worker_event(w, EVENT_RECYCLED);
        r.pid = exit->pid;
        r.incarnation = exit->incarnation;
        r.reason = RECYCLE_OOM;
        r.memory_bytes = w->memory_max_bytes != UINT64_MAX ? w->memory_max_bytes : peak;
        r.memory_current_bytes = peak;
        manager_announce(m, &r);
        exit->reason = RECYCLE_OOM;
        exit->recycles = w->recycles;
        return true;
}

void manager_handle_event(Manager *m, Worker *w, const Event *e) {
        int r;

        switch (e->type) {
        case EVENT_STARTED:
                /* The incarnation's node (fresh for ReplaceFirst) gets its own watch; its figures
                 * start afresh, so the previous incarnation's cannot judge it. */
                manager_end_life(m, w);
                growth_track_reset(&w->growth);
                w->growth.min_gap_usec = 100 * USEC_PER_MSEC;
                growth_track_add(&w->growth, w->started_usec, 0);
                w->watch = monitor_watch_free(w->watch);
                r = monitor_watch_open(m->monitor, w->cgroup_path, /* local= */ false, &w->cfg->pressure, &w->watch);
                if (r < 0)
                        log_warning_errno(r,
                                          "Failed to watch memory events of worker %s, recycling by memory is off "
                                          "for it: %m",
                                          w->name);
                manager_announce(m, e);
                monitor_queue(m->monitor, 0); /* re-arm time-based deadlines */
                break;
        case EVENT_RECYCLED:
                if (e->reason == RECYCLE_BUDGET)
                        w->life_hit_budget = true;
                manager_announce(m, e);
                if (reason_is_memory(e->reason))
                        manager_release_dyno_brake(m);
                break;
        case EVENT_EXITED: {
                Event x = *e;
                (void) manager_oom_exit(m, w, &x);
                manager_announce(m, &x);
                manager_after_exit(m, w, &x);
                manager_restore_dyno_brake(m);
                manager_check_shutdown_done(m);
                break;
        }
        case EVENT_START_FAILED:
                /* from a backoff timer (worker.c's on_backoff_done): retried like any failed start */
                manager_start_failed(m, w, e);
                break;
        case EVENT_STATE_CHANGED:
                manager_announce(m, e);
                if (e->new_state == WORKER_FAILED) {
                        Event f = *e;
                        f.type = EVENT_FAILED;
                        manager_announce(m, &f);
                }
                manager_update_status(m);
                if (!worker_state_is_active(e->new_state) && w->intent == INTENT_REMOVE)
                        manager_schedule_gc(m);
                break;
        default:
                manager_announce(m, e);
                break;
        }
        manager_state_save(m); /* what a restarted daemon resumes from */
}

void manager_on_worker_report(Worker *w, const Event *e, void *userdata) {
        manager_handle_event(userdata, w, e);
}

/* The drain of a memory recycle. A throttled worker cannot drain (the memory.high penalty stalls
 * every allocation; a SIGTERM handler took 467 s to run in one measurement, VM-RECIPE.md), so at
 * the stop signal memory.high goes from the tripwire up to the budget itself: the reserve between
 * them is what the drain may use, learned per worker (policy_reserve_bytes()). 0 = leave it. */
static uint64_t manager_drain_high(const Worker *w, RecycleReason reason) {
        if (!reason_is_memory(reason) || w->budget_bytes == UINT64_MAX)
                return 0;
        /* BudgetCountsRSS=yes: the RSS its node is not charged for stays counted in the drain. */
        if (w->cfg->budget_counts_rss)
                return MAX(policy_tripwire_bytes(w->budget_bytes, 0, w->uncharged_rss_bytes), worker_tripwire(w));
        return w->budget_bytes;
}

/* The fallback for a burst nobody could foresee: the drain reached the budget anyway. Lift the
 * brake by a bounded allowance (a quarter of the budget, at least 16 MiB, at most half the dyno's
 * headroom) so the stop handler still runs, and say so. */
static void manager_check_drain(Manager *m, Worker *w) {
        uint64_t cur = m->dyno_watch ? m->dyno_watch->sample.current : 0;
        uint64_t headroom = m->dyno_limit_bytes > cur ? (m->dyno_limit_bytes - cur) / 2 : 0;
        uint64_t high;
        int r;

        if (!reason_is_memory(w->recycle_reason) || w->drain_lifted || !w->watch || w->stop_usec == 0 ||
            w->watch->high_usec <= w->stop_usec || w->budget_bytes == UINT64_MAX)
                return;
        high = w->budget_bytes + MIN(MAX(w->budget_bytes / 4, 16 * MIB), headroom);
        r = worker_lift_drain(w, high);
        if (r < 0)
                log_warning_errno(r, "Worker %s: failed to lift memory.high for its drain, ignoring: %m", w->name);
        else if (r > 0)
                log_warning("Worker %s (pid %d): its drain reached its budget of %" PRIu64
                            " bytes (a burst the reserve did not cover); memory.high lifted to %" PRIu64
                            " so that it can finish.",
                            w->name, (int) w->pid, w->budget_bytes, high);
}

/* ReplaceFirst needs two copies to fit below RecycleAt, or the replacement itself would trip
 * dyno-limit. */
static bool manager_replace_fits(Manager *m, Worker *w) {
        uint64_t need = w->budget_bytes == UINT64_MAX ? 0 : w->budget_bytes;
        uint64_t cur = m->dyno_watch ? m->dyno_watch->sample.current : 0;

        if (!w->cfg->replace_first)
                return false;
        if (cur + need < m->recycle_at_bytes)
                return true;
        log_notice("Worker %s: ReplaceFirst=yes, but the replacement may need %" PRIu64
                   " bytes and the dyno uses %" PRIu64 " of RecycleAt %" PRIu64 ": stopping first, then starting.",
                   w->name, need, cur, m->recycle_at_bytes);
        return false;
}

static int op_recycle(void *userdata, size_t index, const PolicyAction *a, Event *ret) {
        Manager *m = userdata;
        Worker *w = m->workers[index];
        RecycleRequest req = {
                .reason = a->reason,
                .memory_bytes = a->memory_bytes,
                .memory_current_bytes = w->watch ? w->watch->sample.current : 0,
                .budget_bytes = a->budget_bytes,
                .detect_usec = m->trigger_usec,
                .drain_high = manager_drain_high(w, a->reason),
        };
        req.replace_ok = manager_replace_fits(m, w);
        m->dispatching = w;
        int r = worker_recycle(w, &req, ret);
        if (r < 0)
                log_error_errno(r, "Failed to recycle worker %s (reason %s), nothing was done: %m", w->name,
                                recycle_reason_to_string(a->reason));
        return r;
}

static void op_announce(void *userdata, const Event *e) {
        Manager *m = userdata;
        manager_handle_event(m, m->dispatching, e);
}

static usec_t op_now(void *userdata) {
        return now_usec();
}

static const DispatchOps dispatch_ops = {
        .recycle = op_recycle,
        .announce = op_announce,
        .now = op_now,
};

/* A candidate may be recycled: it runs and nobody has asked it to stop. */
static bool worker_is_candidate(const Worker *w) {
        return (w->state == WORKER_RUNNING || w->state == WORKER_STARTING) && w->intent == INTENT_NONE &&
               w->recycle_reason == RECYCLE_NONE;
}

/* cpu.stat (and, for IdleRecycleAbove=, memory) is sampled only for workers with an idle rule:
 * IdleTimeoutSec/4, or IdleRecycleAfterSec/2, at least 100 ms. Nothing else wakes us. */
static usec_t idle_sample_interval(const Worker *w) {
        usec_t iv = USEC_INFINITY;
        if (w->cfg->idle_timeout_usec > 0)
                iv = MAX(w->cfg->idle_timeout_usec / 4, 100 * USEC_PER_MSEC);
        if (w->cfg->idle_recycle_above.set)
                iv = MIN(iv, MAX(w->cfg->idle_recycle_after_usec / 2, 100 * USEC_PER_MSEC));
        return iv;
}

/* IdleRecycleAbove= in bytes: a size, or a share of the budget; 0 = off (or no budget to take a
 * share of). */
static uint64_t idle_early_above(const Worker *w) {
        const ConfigSize *c = &w->cfg->idle_recycle_above;
        if (!c->set)
                return 0;
        if (c->percent && w->budget_bytes == UINT64_MAX)
                return 0;
        uint64_t v = config_size_resolve(c, w->budget_bytes);
        return v == SIZE_UNSET ? 0 : MAX(v, (uint64_t) 1);
}

static void manager_sample_cpu(Manager *m, Worker *w, usec_t now) {
        uint64_t usage;
        if (monitor_read_cpu_usage(m->monitor, w->cgroup_path, &usage) < 0)
                return;
        if (usage != w->last_cpu_usage_usec) {
                w->last_cpu_usage_usec = usage;
                w->last_cpu_activity_usec = now;
        }
}

static void manager_report_oom_kills(Manager *m, Worker *w) {
        uint64_t n = w->watch ? monitor_watch_take_oom_kills(w->watch) : 0;
        if (n == 0)
                return;
        Event e = worker_event(w, EVENT_OOM_KILL);
        e.oom_kills = (unsigned) MIN(n, (uint64_t) UINT32_MAX);
        manager_handle_event(m, w, &e);
}

/* A sample into the history: periodic (every SampleIntervalSec), or after a memory event (the
 * history keeps at most one of those per second per series). */
static void manager_history_record(Manager *m, const char *name, const MemorySample *ms, uint64_t budget,
                                   usec_t realtime, bool periodic) {
        HistorySample s = {
                .realtime_usec = realtime,
                .memory_current_bytes = ms->current,
                .anon_bytes = ms->anon,
                .file_bytes = ms->file,
                .peak_bytes = ms->peak,
                .budget_bytes = budget,
        };
        if (history_add_sample(m->history, name, &s, periodic ? HISTORY_PERIODIC : HISTORY_MEMORY_EVENT) < 0)
                log_debug("Out of memory for the history of %s, dropping a sample.", name[0] ? name : "the dyno");
}

int manager_history_sample(void *userdata, const char *name, HistorySample *ret) {
        Manager *m = userdata;
        MemoryWatch *watch;
        uint64_t budget;
        int r;

        if (streq(name, HISTORY_DYNO)) {
                watch = m->dyno_watch;
                budget = m->dyno_limit_bytes;
        } else {
                /* The worker being recycled is the one the dispatcher is announcing. */
                Worker *w = m->dispatching && streq(m->dispatching->name, name) ? m->dispatching
                                                                                : manager_find_worker(m, name);
                if (!w)
                        return -ENOENT;
                watch = w->watch;
                budget = w->budget_bytes;
        }
        if (!watch)
                return -ENOENT;
        r = monitor_watch_sample(watch);
        if (r < 0)
                return r;
        *ret = (HistorySample){
                .memory_current_bytes = watch->sample.current,
                .anon_bytes = watch->sample.anon,
                .file_bytes = watch->sample.file,
                .peak_bytes = watch->sample.peak,
                .budget_bytes = budget,
        };
        return 0;
}

/* /proc/meminfo: how much memory the whole machine (or container) still has. */
static void host_meminfo(Manager *m, uint64_t *ret_total, uint64_t *ret_available) {
        char path[PATH_MAX], buf[4096];
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        *ret_total = *ret_available = 0;
        snprintf(path, sizeof path, "%s/meminfo", m->proc);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        n = cgroup_read_fd(fd, buf, sizeof buf);
        if (n < 0 || proc_meminfo_parse(buf, (size_t) n, ret_total, ret_available) < 0)
                *ret_total = *ret_available = 0;
}

/* One memory sample of `w` to the AMQP stream (samples are not events: they go to the publisher
 * alone, not through announce()). */
static void manager_publish_sample(Manager *m, Worker *w) {
        const MemorySample *s = &w->watch->sample;
        MemorySampleRecord rec = {
                .worker = w->name,
                .supervisor = w->group ? w->group->name : NULL,
                .realtime_usec = now_realtime_usec(),
                .incarnation = w->incarnation,
                .pid = w->pid,
                .memory_current_bytes = s->current,
                .anon_bytes = s->anon,
                .file_bytes = s->file,
                .budget_bytes = w->budget_bytes,
                .peak_bytes = s->peak > 0 ? s->peak : UINT64_MAX, /* 0: a kernel without memory.peak */
                .state = worker_state_to_string(w->state),
                .restarts = w->restarts,
                .recycles = w->recycles,
                .lifetimes = w->lifetimes,
                .leaking = w->leaking,
                .leak_rate_bytes_per_sec = w->leaking ? w->leak_rate : 0,
        };

        if (m->amqp)
                amqp_link_sample(m->amqp, &rec);
}

void manager_evaluate(void *userdata, usec_t trigger_usec) {
        Manager *m = userdata;
        MemoryWatch *dw = m->dyno_watch;
        usec_t now = now_usec(), idle_iv = USEC_INFINITY;
        size_t n = m->n_workers;
        DispatchResult res;

        if (m->shutting_down)
                return;
        bool dyno_dirty = dw && dw->dirty, dyno_sampled = dw && monitor_watch_sample(dw) >= 0;
        DynoSample dyno = {
                .memory_current = dw ? dw->sample.current : 0,
                .unreclaimable = dw ? dw->sample.unreclaimable : 0,
                .memory_limit = m->dyno_limit_bytes,
                .recycle_at = m->recycle_at_bytes,
                .pressure_fired = dw && dw->pressure_fired,
                .own_event_usec = dw ? dw->high_usec : 0,
                .last_dyno_action_usec = m->last_dyno_action_usec,
        };
        if (dyno.pressure_fired) /* only then does the machine's state matter */
                host_meminfo(m, &dyno.host_total_bytes, &dyno.host_available_bytes);
        /* The periodic sample (one wakeup per interval for the whole dyno), when configured. */
        bool sample_all = m->sample_interval_usec > 0 && now >= m->next_sample_usec;
        if (sample_all)
                m->next_sample_usec = now + m->sample_interval_usec;
        usec_t realtime = now_realtime_usec();
        if (dyno_sampled && (sample_all || dyno_dirty))
                manager_history_record(m, HISTORY_DYNO, &dw->sample, m->dyno_limit_bytes, realtime, sample_all);
        if (m->sample_interval_usec > 0)
                idle_iv = MIN(idle_iv, m->next_sample_usec > now ? m->next_sample_usec - now : 0);
        /* Near the dyno's limit every worker's figure matters for choosing the offender. */
        bool full = dyno.unreclaimable >= dyno.recycle_at || dyno.pressure_fired;

        for (size_t i = 0; i < n; i++) {
                Worker *w = m->workers[i];
                bool cand = worker_is_candidate(w);
                MemoryWatch *ww = w->watch;

                manager_report_oom_kills(m, w);
                manager_check_drain(m, w);
                uint64_t above = idle_early_above(w);
                /* The periodic sample covers every worker with a node, a draining one too. */
                bool dirty = ww && ww->dirty;
                bool read = ww && (sample_all || (cand && (dirty || full || above > 0)));
                if (read && monitor_watch_sample(ww) >= 0) {
                        if (dirty)
                                log_debug("Worker %s: memory.events changed (high %" PRIu64 "): current=%" PRIu64
                                          " unreclaimable=%" PRIu64 " memory.high=%" PRIu64 " draining=%s",
                                          w->name, ww->events.high, ww->sample.current, ww->sample.unreclaimable,
                                          worker_tripwire(w), w->recycle_reason != RECYCLE_NONE ? "yes" : "no");
                        if (cand)
                                growth_track_add(&w->growth, now, ww->sample.unreclaimable);
                        if (sample_all)
                                manager_publish_sample(m, w);
                        if (sample_all || dirty)
                                manager_history_record(m, w->name, &ww->sample, w->budget_bytes, realtime, sample_all);
                }
                if (cand && (w->cfg->idle_timeout_usec > 0 || above > 0)) {
                        manager_sample_cpu(m, w, now);
                        idle_iv = MIN(idle_iv, idle_sample_interval(w));
                }
                m->samples[i] = (WorkerSample){
                        .candidate = cand,
                        .recycle_in_progress = w->recycle_reason != RECYCLE_NONE,
                        .recycle_in_progress_reason = w->recycle_reason,
                        .memory_current = ww ? ww->sample.current : 0,
                        .unreclaimable = ww ? ww->sample.unreclaimable : 0,
                        .budget = w->budget_bytes,
                        .tripwire = worker_tripwire(w),
                        .pressure_fired = ww && ww->pressure_fired,
                        .own_high_usec = ww ? ww->high_usec : 0,
                        .pressure_some_avg10 = ww ? ww->sample.pressure_some_avg10 : 0,
                        .started_usec = w->started_usec,
                        .max_lifetime_usec = w->cfg->max_lifetime_usec,
                        .idle_timeout_usec = w->cfg->idle_timeout_usec,
                        .idle_early_above = above,
                        .idle_early_after_usec = w->cfg->idle_recycle_after_usec,
                        .last_cpu_activity_usec = w->last_cpu_activity_usec,
                        .watchdog_usec = w->cfg->watchdog_usec,
                        .last_watchdog_usec = w->last_watchdog_usec,
                        .starting = w->state == WORKER_STARTING,
                };
        }

        m->trigger_usec = trigger_usec;
        (void) dispatch_evaluate(now, &dyno, m->samples, n, &m->policy, &dispatch_ops, m, &res);
        m->trigger_usec = 0;
        m->last_dyno_action_usec = res.last_dyno_action_usec;
        monitor_arm_deadline(m->monitor,
                             idle_iv == USEC_INFINITY ? res.next_deadline : MIN(res.next_deadline, now + idle_iv));

        for (size_t i = 0; i < m->n_workers; i++)
                if (m->workers[i]->watch)
                        m->workers[i]->watch->pressure_fired = false;
        if (dw)
                dw->pressure_fired = false;
}

/* Which worker a notification belongs to: its main PID, else the sender's cgroup (a helper
 * process of the worker may send on its behalf). */
static Worker *manager_worker_by_pid(Manager *m, pid_t pid) {
        char path[64], buf[4096];
        _cleanup_free_ char *cg = NULL;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        for (size_t i = 0; i < m->n_workers; i++)
                if (m->workers[i]->pid == pid)
                        return m->workers[i];

        snprintf(path, sizeof path, "%s/%d/cgroup", m->proc, (int) pid);
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

void manager_on_notify(void *userdata, pid_t pid, const char *line) {
        Manager *m = userdata;
        Worker *w = manager_worker_by_pid(m, pid);

        if (!w) {
                log_debug("Notification from pid %d, which belongs to no worker, ignoring.", (int) pid);
                return;
        }
        if (streq(line, "READY=1"))
                worker_on_ready(w);
        else if (streq(line, "WATCHDOG=1"))
                worker_on_watchdog(w);
}

/* The bus's view of the manager. */
static Worker *bus_find_worker(void *userdata, const char *name) {
        return manager_find_worker(userdata, name);
}

static size_t bus_n_workers(void *userdata) {
        return ((Manager *) userdata)->n_workers;
}

static Worker *bus_worker_at(void *userdata, size_t i) {
        return ((Manager *) userdata)->workers[i];
}

static void bus_dyno(void *userdata, BusDynoFacts *ret) {
        Manager *m = userdata;
        *ret = (BusDynoFacts){
                .limit_bytes = m->dyno_limit_bytes,
                .recycle_at_bytes = m->recycle_at_bytes,
                .cgroup = m->dyno_path,
        };
}

static const History *bus_history(void *userdata) {
        return ((Manager *) userdata)->history;
}

/* SetBudget: within policy_check_budget()'s bounds, the floor max(4 MiB, the worker's
 * unreclaimable memory now) and the dyno's MemoryLimit; a refused budget changes nothing. The
 * drop-in is written only once memory.high took the new value, and a failed write of it puts the
 * old budget back. */
static int bus_set_budget(void *userdata, Worker *w, uint64_t bytes, bool runtime, sd_bus_error *error) {
        Manager *m = userdata;
        uint64_t old = w->budget_bytes, unreclaimable = 0, floor;
        Event e;
        int r;

        if (worker_state_is_active(w->state) && w->watch && monitor_watch_sample(w->watch) >= 0)
                unreclaimable = w->watch->sample.unreclaimable;
        switch (policy_check_budget(bytes, unreclaimable, m->dyno_limit_bytes, &floor)) {
        case BUDGET_BELOW_FLOOR:
                return sd_bus_error_setf(error, CGWATCH_ERROR_BUDGET_BELOW_FLOOR,
                                         "A budget of %" PRIu64 " bytes is below the floor of %" PRIu64
                                         " bytes (4M, or what %s holds unreclaimable now, whichever is "
                                         "larger); nothing was changed.",
                                         bytes, floor, w->name);
        case BUDGET_ABOVE_LIMIT:
                return sd_bus_error_setf(error, CGWATCH_ERROR_BUDGET_ABOVE_LIMIT,
                                         "A budget of %" PRIu64 " bytes is above the dyno's MemoryLimit of %" PRIu64
                                         " bytes; nothing was changed.",
                                         bytes, m->dyno_limit_bytes);
        default:
                break;
        }
        r = worker_set_budget(w, bytes, &e);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to set memory.high of %s, nothing was changed: %m",
                                               w->name);
        if (!runtime) {
                int k = manager_persist_budget(m, w, bytes);
                if (k < 0) {
                        Event undo;
                        (void) worker_set_budget(w, old, &undo);
                        return sd_bus_error_set_errnof(
                                error, k,
                                "Failed to write the drop-in for %s, the budget stays at %" PRIu64 " bytes: %m",
                                w->name, old);
                }
        }
        if (r > 0)
                manager_handle_event(m, w, &e);
        monitor_queue(m->monitor, 0);
        return 0;
}

/* A manual recycle takes the dispatcher's own road: one action, carried out, announced. */
static int manager_recycle_manual(Manager *m, Worker *w, sd_bus_error *error) {
        uint64_t cur = 0;
        Event e = EVENT_INIT(EVENT_RECYCLED);
        size_t index = SIZE_MAX;
        int r;

        if (w->state != WORKER_RUNNING && w->state != WORKER_STARTING)
                return sd_bus_error_setf(error, CGWATCH_ERROR_NOT_RUNNING, "Worker %s is %s.", w->name,
                                         worker_state_to_string(w->state));
        for (size_t i = 0; i < m->n_workers; i++)
                if (m->workers[i] == w)
                        index = i;
        (void) cgroup_read_u64(&m->root, w->cgroup_path, "memory.current", &cur);
        PolicyAction a = {
                .worker = index, .reason = RECYCLE_MANUAL, .memory_bytes = cur, .budget_bytes = w->budget_bytes};
        m->trigger_usec = now_usec();
        r = op_recycle(m, index, &a, &e);
        m->trigger_usec = 0;
        if (r == 0)
                return sd_bus_error_setf(error, CGWATCH_ERROR_NOT_RUNNING, "Worker %s is %s.", w->name,
                                         worker_state_to_string(w->state));
        if (r < 0)
                return r;
        op_announce(m, &e);
        return 0;
}

static int bus_worker_op(void *userdata, Worker *w, BusWorkerOp op, sd_bus_error *error) {
        Manager *m = userdata;

        if (w->intent == INTENT_REMOVE)
                return sd_bus_error_setf(error, CGWATCH_ERROR_NOT_RUNNING,
                                         "Worker %s is no longer configured and is being removed.", w->name);
        switch (op) {
        case BUS_OP_RECYCLE:
                return manager_recycle_manual(m, w, error);
        case BUS_OP_RESTART:
                if (worker_state_is_active(w->state))
                        return worker_stop(w, INTENT_RESTART) < 0 ? -EIO : 0;
                return manager_start_worker(m, w) < 0 ? -EIO : 0;
        case BUS_OP_STOP:
                (void) worker_stop(w, INTENT_STOP);
                return 0;
        default:
                return manager_start_worker(m, w) < 0 ? -EIO : 0;
        }
}

static int bus_reload(void *userdata, sd_bus_error *error) {
        return manager_reload(userdata);
}

static bool bus_amqp_stats(void *userdata, AmqpStats *ret) {
        Manager *m = userdata;

        *ret = (AmqpStats){};
        if (!m->amqp)
                return false;
        amqp_link_stats(m->amqp, ret);
        return true;
}

const BusOps manager_bus_ops = {
        .amqp_stats = bus_amqp_stats,
        .find_worker = bus_find_worker,
        .n_workers = bus_n_workers,
        .worker_at = bus_worker_at,
        .dyno = bus_dyno,
        .history = bus_history,
        .set_budget = bus_set_budget,
        .worker_op = bus_worker_op,
        .reload = bus_reload,
};
