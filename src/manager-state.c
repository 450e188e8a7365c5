/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Surviving our own crash (see state.h): the state file, written after every event, and at start
 * the re-adoption of the workers that outlived the previous daemon.
 *
 * At start, for each configured worker, what the state file says is checked against the cgroup
 * tree: a live main process that is still in its worker's node (cgroup.procs, via /proc/PID/cgroup
 * after pidfd_open(), so a PID reused elsewhere is not taken) is re-adopted with its counters,
 * tallies, budget, timers and any recycle in flight; a node that holds processes the state cannot
 * vouch for (no state file, a corrupt one, another version or boot, a PID that left its node) is
 * stopped cleanly (StopSignal, StopTimeoutSec, cgroup.kill) before its worker starts afresh, and
 * the log says why. No worker is ever started into a node that has live processes. Populated
 * nodes that belong to no worker (a ReplaceFirst retiree, a worker gone from the config) are
 * stopped the same way and removed. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "sink-amqp.h"
#include "state.h"

#define RUNTIME_ROOT        "/run/cgwatch"
#define ORPHAN_CHECK_USEC   (100 * USEC_PER_MSEC)
#define ORPHAN_TIMEOUT_USEC (10 * USEC_PER_SEC)

typedef struct Orphan {
        Manager *m;
        char *path;
        usec_t deadline_usec;
        bool killed;
        sd_event_source *timer;
} Orphan;

static Orphan *orphan_free(Orphan *o) {
        if (!o)
                return NULL;
        sd_event_source_disable_unref(o->timer);
        free(o->path);
        free(o);
        return NULL;
}

void manager_orphans_free(Manager *m) {
        for (size_t i = 0; i < m->n_orphans; i++)
                orphan_free(m->orphans[i]);
        m->orphans = mfree(m->orphans);
        m->n_orphans = 0;
}

bool manager_orphans_pending(const Manager *m) {
        return m->n_orphans > 0;
}

int manager_state_open(Manager *m) {
        /* The dyno's name as the event stream spells it: the config file's name without ".conf",
         * "default" for cgwatch.conf. */
        _cleanup_free_ char *name = amqp_link_dyno_name(m->config_path);
        char buf[64];
        int r;

        if (!name || asprintf(&m->runtime_dir, RUNTIME_ROOT "/%s", name) < 0 ||
            asprintf(&m->notify_path, "%s/notify", m->runtime_dir) < 0 ||
            asprintf(&m->output_dir, "%s/output", m->runtime_dir) < 0)
                return log_oom();
        if ((mkdir(RUNTIME_ROOT, 0755) < 0 && errno != EEXIST) ||
            (mkdir(m->runtime_dir, 0755) < 0 && errno != EEXIST) || (mkdir(m->output_dir, 0700) < 0 && errno != EEXIST))
                return log_error_errno(errno, "Failed to create %s: %m", m->runtime_dir);
        m->runtime_fd = open(m->runtime_dir, O_DIRECTORY | O_CLOEXEC);
        if (m->runtime_fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", m->runtime_dir);
        m->lock_fd = openat(m->runtime_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (m->lock_fd < 0)
                return log_error_errno(errno, "Failed to open %s/lock: %m", m->runtime_dir);
        /* Two daemons on one dyno would each start every worker: refuse the second. */
        if (flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                return log_error_errno(r, "Another cgwatchd runs dyno '%s' (%s/lock is taken): %m", name,
                                       m->runtime_dir);
        }
        _cleanup_close_ int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (n > 0) {
                buf[strcspn(buf, "\n")] = 0;
                m->boot_id = strdup(buf);
        }
        return 0;
}

void manager_state_remove(Manager *m) {
        if (m->runtime_fd >= 0 && unlinkat(m->runtime_fd, STATE_FILE, 0) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove %s/" STATE_FILE ", ignoring: %m", m->runtime_dir);
        /* Nothing is written after this. */
        m->runtime_fd = safe_close(m->runtime_fd);
}

static void record_from_worker(const Worker *w, WorkerRecord *r) {
        uint64_t t = 0;
        int enabled = SD_EVENT_OFF;

        if (w->timer_source && sd_event_source_get_enabled(w->timer_source, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                (void) sd_event_source_get_time(w->timer_source, &t);
        *r = (WorkerRecord){
                .name = w->name,
                .cgroup_path = w->cgroup_path,
                .state = w->state,
                .intent = w->intent,
                .pid = w->pid,
                .incarnation = w->incarnation,
                .restarts = w->restarts,
                .recycles = w->recycles,
                .consecutive_failures = w->consecutive_failures,
                .generation = w->generation,
                .lifetimes = w->lifetimes,
                .recycle_reason = w->recycle_reason,
                .last_recycle_reason = w->last_recycle_reason,
                .budget_bytes = w->budget_bytes,
                .growth_bytes_per_sec = w->growth_bytes_per_sec,
                .drain_usec = w->drain_usec,
                .stop_usec = w->stop_usec,
                .started_usec = w->started_usec,
                .started_realtime_usec = w->started_realtime_usec,
                .timer_usec = t,
                .drain_lifted = w->drain_lifted,
                .lives = w->lives,
                .leaking = w->leaking,
                .leak_rate = w->leak_rate,
        };
}

void manager_state_save(Manager *m) {
        static bool warned = false;
        _cleanup_free_ WorkerRecord *ws = calloc(m->n_workers ?: 1, sizeof(WorkerRecord));
        _cleanup_free_ GroupRecord *gs = calloc(m->n_groups ?: 1, sizeof(GroupRecord));
        _cleanup_free_ char *text = NULL;
        size_t n_tally = 0;
        int r;

        if (m->runtime_fd < 0)
                return;
        for (size_t i = 0; i < m->n_groups; i++)
                n_tally += m->groups[i]->tally.n;
        _cleanup_free_ usec_t *tally = calloc(n_tally ?: 1, sizeof(usec_t));
        if (!ws || !gs || !tally) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < m->n_workers; i++)
                record_from_worker(m->workers[i], &ws[i]);
        usec_t *t = tally;
        for (size_t i = 0; i < m->n_groups; i++) {
                const RestartTally *rt = &m->groups[i]->tally;
                gs[i] = (GroupRecord){.name = m->groups[i]->name, .failed = m->groups[i]->failed, .tally = t};
                for (size_t k = 0; k < rt->n; k++)
                        t[gs[i].n_tally++] = rt->at[(rt->start + k) % RESTART_TALLY_MAX];
                t += gs[i].n_tally;
        }
        DynoState s = {
                .version = STATE_VERSION,
                .boot_id = m->boot_id,
                .brake_released = m->dyno_brake_released,
                .shutting_down = m->shutting_down,
                .workers = ws,
                .n_workers = m->n_workers,
                .groups = gs,
                .n_groups = m->n_groups,
        };
        r = dyno_state_format(&s, &text);
        if (r >= 0)
                r = dyno_state_write_at(m->runtime_fd, text);
        if (r < 0 && !warned) {
                warned = true;
                log_warning_errno(r,
                                  "Failed to write %s/" STATE_FILE " (a restarted daemon could not re-adopt the "
                                  "workers), will keep trying: %m",
                                  m->runtime_dir);
        } else if (r >= 0)
                warned = false;
}

/* Whether `pid` lives in exactly this node. */
static bool pid_in_node(Manager *m, pid_t pid, const char *path) {
        char p[64], buf[4096];
        _cleanup_free_ char *cg = NULL;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        snprintf(p, sizeof p, "%s/%d/cgroup", m->proc, (int) pid);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = cgroup_read_fd(fd, buf, sizeof buf);
        return n >= 0 && cgroup_parse_proc_self(buf, (size_t) n, &cg) >= 0 && streq(cg, path);
}

/* A node the record may name for this worker: its own, or a ReplaceFirst replacement's (NAME~N)
 * in its group's node. */
static bool node_fits_worker(const Worker *w, const char *path) {
        size_t gl = strlen(w->group->cgroup_path), nl = strlen(w->name);

        if (streq(path, w->cgroup_path))
                return true;
        return strncmp(path, w->group->cgroup_path, gl) == 0 && path[gl] == '/' &&
               strncmp(path + gl + 1, w->name, nl) == 0 && path[gl + 1 + nl] == '~' &&
               strspn(path + gl + 2 + nl, "0123456789") == strlen(path + gl + 2 + nl) && path[gl + 2 + nl];
}

static void worker_restore_counters(Worker *w, const WorkerRecord *r) {
        w->incarnation = r->incarnation;
        w->restarts = r->restarts;
        w->recycles = r->recycles;
        w->consecutive_failures = r->consecutive_failures;
        w->generation = r->generation;
        w->lifetimes = r->lifetimes;
        w->recycle_reason =
                r->recycle_reason >= 0 && r->recycle_reason < _RECYCLE_REASON_MAX ? r->recycle_reason : RECYCLE_NONE;
        w->last_recycle_reason = r->last_recycle_reason >= 0 && r->last_recycle_reason < _RECYCLE_REASON_MAX
                                         ? r->last_recycle_reason
                                         : RECYCLE_NONE;
        w->budget_bytes = r->budget_bytes;
        w->growth_bytes_per_sec = r->growth_bytes_per_sec;
        w->drain_usec = r->drain_usec;
        w->stop_usec = r->stop_usec;
        w->started_usec = w->last_watchdog_usec = w->last_cpu_activity_usec = r->started_usec;
        w->started_realtime_usec = r->started_realtime_usec;
        w->drain_lifted = r->drain_lifted;
        w->lives = r->lives;
        w->leaking = r->leaking;
        w->leak_rate = r->leak_rate;
        /* A budget recycle in flight: the life it ends tells its rate (manager_end_life()). */
        w->life_hit_budget = w->recycle_reason == RECYCLE_BUDGET;
}

/* The re-adopted incarnation is watched like a fresh one (memory.events, PSI, deadlines). */
static void manager_watch_adopted(Manager *m, Worker *w) {
        growth_track_reset(&w->growth);
        w->growth.min_gap_usec = 100 * USEC_PER_MSEC;
        /* The life began with nothing at its start (same boot, same clock), as a fresh one does. */
        usec_t now = now_usec();
        growth_track_add(&w->growth, w->started_usec > 0 && w->started_usec <= now ? w->started_usec : now, 0);
        worker_arm_rss_probes(w);
        /* Its watchdog clock starts now: pings sent while no daemon listened were lost. */
        w->last_watchdog_usec = w->last_cpu_activity_usec = now_usec();
        int r = monitor_watch_open(m->monitor, w->cgroup_path, /* local= */ false, &w->cfg->pressure, &w->watch);
        if (r < 0)
                log_warning_errno(r,
                                  "Failed to watch memory events of worker %s, recycling by memory is off for it: %m",
                                  w->name);
}

static void manager_sweep(Manager *m, Worker *w, const char *why) {
        log_warning("Worker %s: its node %s holds processes, but %s: stopping them (%s, StopTimeoutSec=%" PRIu64
                    " ms, then cgroup.kill) before a fresh start.",
                    w->name, w->cgroup_path, why, sigabbrev_np(w->cfg->stop_signal) ?: "?",
                    w->cfg->stop_timeout_usec / USEC_PER_MSEC);
        int r = worker_sweep(w, WORKER_STOPPING, INTENT_RESTART);
        if (r < 0) {
                log_error_errno(r, "Worker %s: failed to stop the processes in %s, killing them: %m", w->name,
                                w->cgroup_path);
                (void) cgroup_kill(&m->root, w->cgroup_path);
        }
}

/* One worker, with its record (NULL: none to trust, `why` says why). */
static void manager_restore_worker(Manager *m, Worker *w, const WorkerRecord *rec, bool was_shutting_down,
                                   const char *why) {
        int r;

        if (rec && !node_fits_worker(w, rec->cgroup_path)) {
                log_warning("Worker %s: the state file names node %s, which is not its own, ignoring the record.",
                            w->name, rec->cgroup_path);
                rec = NULL;
                why = "its record named another node";
        }
        if (rec && !streq(rec->cgroup_path, w->cgroup_path)) {
                char *p = strdup(rec->cgroup_path);
                if (!p) {
                        log_oom();
                        return;
                }
                free(w->cgroup_path);
                w->cgroup_path = p;
        }
        bool populated = cgroup_is_populated(&m->root, w->cgroup_path) > 0;
        if (!rec) {
                if (populated)
                        manager_sweep(m, w, why);
                else
                        (void) manager_start_worker(m, w);
                return;
        }

        worker_restore_counters(w, rec);
        WorkerState state = rec->state >= 0 && rec->state < _WORKER_STATE_MAX ? rec->state : WORKER_STOPPED;
        WorkerIntent intent = rec->intent >= 0 && rec->intent < _WORKER_INTENT_MAX ? rec->intent : INTENT_NONE;
        w->intent = intent;
        /* The previous daemon was stopping every worker when it died: this one starts them again. */
        if (was_shutting_down && intent == INTENT_STOP)
                w->intent = intent = INTENT_RESTART;

        if (worker_state_is_active(state) && rec->pid > 0) {
                int pidfd = (int) syscall(SYS_pidfd_open, rec->pid, 0);
                if (pidfd >= 0 && pid_in_node(m, rec->pid, w->cgroup_path)) {
                        r = worker_adopt(w, state, rec->pid, pidfd, rec->timer_usec);
                        if (r >= 0) {
                                log_info("Worker %s: re-adopted pid %d (incarnation %u, %s%s%s).", w->name,
                                         (int) rec->pid, w->incarnation, worker_state_to_string(state),
                                         w->recycle_reason != RECYCLE_NONE ? ", recycle in flight: " : "",
                                         w->recycle_reason != RECYCLE_NONE ? recycle_reason_to_string(w->recycle_reason)
                                                                           : "");
                                manager_watch_adopted(m, w);
                                return;
                        }
                        log_error_errno(r, "Worker %s: failed to watch re-adopted pid %d: %m", w->name, (int) rec->pid);
                }
                safe_close(pidfd);
                if (populated) {
                        manager_sweep(m, w, "its main process is no longer in it");
                        return;
                }
                /* It ended while no daemon watched: handled as its exit, as the intent says (a
                 * recycle in flight completes with the start of the next incarnation). */
                log_notice("Worker %s: pid %d exited while no daemon watched it.", w->name, (int) rec->pid);
                r = worker_sweep(w, state, intent);
                if (r < 0)
                        log_error_errno(r, "Worker %s: failed to handle its exit: %m", w->name);
                return;
        }
        if (populated) {
                manager_sweep(m, w, "the state file says it has no process");
                return;
        }
        if (state == WORKER_BACKOFF) {
                if (worker_adopt(w, state, 0, -EBADF, rec->timer_usec) < 0)
                        (void) manager_start_worker(m, w);
        } else if (state == WORKER_FAILED)
                w->state = WORKER_FAILED; /* its group gave up on it: stays so */
        else if (state != WORKER_STOPPED || intent != INTENT_STOP)
                (void) manager_start_worker(m, w);
        /* else stopped on request: stays so */
}

static int on_orphan_check(sd_event_source *s, uint64_t usec, void *userdata) {
        Orphan *o = userdata;
        Manager *m = o->m;

        if (cgroup_is_populated(&m->root, o->path) > 0) {
                if (!o->killed && now_usec() >= o->deadline_usec) {
                        log_warning("Node %s did not empty within its stop timeout, killing it.", o->path);
                        (void) cgroup_kill(&m->root, o->path);
                        o->killed = true;
                }
                if (sd_event_source_set_time_relative(s, ORPHAN_CHECK_USEC) >= 0 &&
                    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) >= 0)
                        return 0;
                (void) cgroup_kill(&m->root, o->path);
        }
        int r = cgroup_remove_recursive(&m->root, o->path);
        if (r < 0)
                log_warning_errno(r, "Failed to remove node %s, ignoring: %m", o->path);
        else
                log_info("Node %s is empty and removed.", o->path);
        for (size_t i = 0; i < m->n_orphans; i++)
                if (m->orphans[i] == o) {
                        memmove(m->orphans + i, m->orphans + i + 1, (m->n_orphans - i - 1) * sizeof(Orphan *));
                        m->n_orphans--;
                        break;
                }
        orphan_free(o);
        manager_check_shutdown_done(m);
        return 0;
}

/* A populated node of no worker: StopSignal and StopTimeoutSec of the worker whose name it bears
 * (NAME~N, a ReplaceFirst retiree's), else SIGTERM and 10 s; then cgroup.kill, then removed. */
static void manager_sweep_orphan(Manager *m, const Group *g, const char *path, const char *name) {
        size_t l = strcspn(name, "~");
        int sig = SIGTERM;
        usec_t timeout = ORPHAN_TIMEOUT_USEC;
        char buf[65536];

        for (size_t i = 0; i < m->n_workers; i++)
                if (m->workers[i]->group == g && strlen(m->workers[i]->name) == l &&
                    strncmp(m->workers[i]->name, name, l) == 0) {
                        sig = m->workers[i]->cfg->stop_signal;
                        timeout = m->workers[i]->cfg->stop_timeout_usec;
                }
        Orphan *o = calloc(1, sizeof *o);
        Orphan **na = o ? realloc(m->orphans, sizeof(Orphan *) * (m->n_orphans + 1)) : NULL;
        if (!o || !na || !(o->path = strdup(path))) {
                log_oom();
                if (o)
                        orphan_free(o);
                (void) cgroup_kill(&m->root, path);
                return;
        }
        m->orphans = na;
        m->orphans[m->n_orphans++] = o;
        o->m = m;
        o->deadline_usec = now_usec() + timeout;
        log_warning("Node %s holds processes of no configured worker: stopping them (%s, %" PRIu64
                    " ms, then cgroup.kill).",
                    path, sigabbrev_np(sig) ?: "?", timeout / USEC_PER_MSEC);
        if (cgroup_read_file(&m->root, path, "cgroup.procs", buf, sizeof buf) >= 0)
                for (char *p = buf, *e; *p; p = e) {
                        long pid = strtol(p, &e, 10);
                        if (e == p)
                                break;
                        if (pid > 0)
                                (void) kill((pid_t) pid, sig);
                }
        if (sd_event_add_time_relative(m->event, &o->timer, CLOCK_MONOTONIC, ORPHAN_CHECK_USEC, 1000, on_orphan_check,
                                       o) >= 0)
                (void) sd_event_source_set_description(o->timer, "orphan-node-check");
        else
                (void) cgroup_kill(&m->root, path);
}

/* Every node below a group's that is neither a worker's current node nor a group's. */
static void manager_sweep_orphans(Manager *m, const Group *g) {
        _cleanup_close_ int fd = openat(m->root.fd, g->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;

        if (!d)
                return;
        fd = -EBADF; /* the DIR owns it */
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                bool known = false;

                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                path = cgroup_path_join(g->cgroup_path, de->d_name);
                if (!path)
                        break;
                for (size_t i = 0; i < m->n_workers && !known; i++)
                        known = streq(m->workers[i]->cgroup_path, path);
                for (size_t i = 0; i < m->n_groups && !known; i++)
                        known = streq(m->groups[i]->cgroup_path, path);
                if (known)
                        continue;
                if (cgroup_is_populated(&m->root, path) > 0)
                        manager_sweep_orphan(m, g, path, de->d_name);
                else
                        (void) cgroup_remove_recursive(&m->root, path);
        }
        closedir(d);
}

void manager_restore(Manager *m) {
        _cleanup_(dyno_state_done) DynoState s = {};
        const char *why = NULL;
        int r = dyno_state_read_at(m->runtime_fd, &s);

        if (r == -ENOENT)
                why = "there is no state file";
        else if (r == -EBADMSG)
                why = "the state file is corrupt";
        else if (r == -EPROTO)
                why = "the state file is of another version";
        else if (r < 0)
                why = "the state file cannot be read";
        else if (!streq_ptr(s.boot_id, m->boot_id))
                why = "the state file is from another boot";
        if (why && r != -ENOENT)
                log_warning_errno(r < 0 ? r : ESTALE, "Not trusting %s/" STATE_FILE ": %s (%m).", m->runtime_dir, why);
        if (!why) {
                log_info("Resuming from %s/" STATE_FILE " (%zu workers).", m->runtime_dir, s.n_workers);
                for (size_t i = 0; i < m->n_groups; i++) {
                        Group *g = m->groups[i];
                        const GroupRecord *gr = dyno_state_find_group(&s, g->name);
                        if (!gr)
                                continue;
                        g->failed = gr->failed;
                        restart_tally_reset(&g->tally);
                        for (size_t k = 0; k < gr->n_tally && k < RESTART_TALLY_MAX; k++)
                                g->tally.at[g->tally.n++] = gr->tally[k];
                }
                if (s.brake_released != m->dyno_brake_released) {
                        m->dyno_brake_released = s.brake_released;
                        (void) cgroup_write_u64(&m->root, m->dyno_path, "memory.high",
                                                m->dyno_brake_released ? manager_dyno_drain_high(m)
                                                                       : m->recycle_at_bytes);
                }
        }
        for (size_t i = 0; i < m->n_workers; i++)
                manager_restore_worker(m, m->workers[i], why ? NULL : dyno_state_find_worker(&s, m->workers[i]->name),
                                       !why && s.shutting_down, why);
        for (size_t i = 0; i < m->n_groups; i++)
                manager_sweep_orphans(m, m->groups[i]);
        manager_state_save(m);
}
