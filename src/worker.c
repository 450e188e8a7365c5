/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One worker's life. Every state change goes through worker_set_state(), which asks
 * supervisor.c's table whether the transition exists; the side effects (spawn, signal,
 * cgroup.kill, timers) happen here. */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "cgwatch/cgwatch.h"
#include "log.h"
#include "manager.h"
#include "spawn.h"

static int worker_start_now(Worker *w);

static void worker_set_state(Worker *w, WorkerEvent e) {
        WorkerState n;
        if (worker_state_next(w->state, e, &n) < 0) {
                log_error("Worker %s: event '%s' is invalid in state '%s', ignoring (bug).", w->name,
                          worker_event_to_string(e), worker_state_to_string(w->state));
                return;
        }
        if (n == w->state)
                return;
        log_debug("Worker %s: %s -> %s (%s)", w->name, worker_state_to_string(w->state), worker_state_to_string(n),
                  worker_event_to_string(e));
        w->state = n;
        bus_emit_worker_changed(w->manager, w);
        manager_update_status(w->manager);
}

int worker_new(Manager *m, Group *g, const WorkerConfig *cfg, unsigned instance, Worker **ret) {
        _cleanup_(worker_freep) Worker *w = NULL;
        int r;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        *w = (Worker){
                .manager = m,
                .group = g,
                .cfg = cfg,
                .instance = instance,
                .pidfd = -EBADF,
                .output_fd = {-EBADF, -EBADF},
                .events_fd = -EBADF,
                .psi_fd = -EBADF,
                .budget_bytes = config_size_resolve(&cfg->memory_budget, m->dyno_limit_bytes),
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
        sd_event_source_disable_unref(w->output_source);
        safe_close(w->output_fd[0]);
        safe_close(w->output_fd[1]);
        free(w->stale_path);
        monitor_worker_close(w);
        sd_event_source_disable_unref(w->child_source);
        sd_event_source_disable_unref(w->timer_source);
        safe_close(w->pidfd);
        free(w->name);
        free(w->cgroup_path);
        free(w->object_path);
        free(w);
        return NULL;
}

static int worker_arm_timer(Worker *w, usec_t delay, sd_event_time_handler_t cb, const char *what) {
        Manager *m = w->manager;
        usec_t now;
        int r;

        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        if (delay == USEC_INFINITY)
                return 0;
        r = sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        r = sd_event_add_time(m->event, &w->timer_source, CLOCK_MONOTONIC, now + delay, 1000, cb, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(w->timer_source, what);
        return 0;
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;
        int r;

        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        log_warning("Worker %s (pid %d) did not exit within %" PRIu64 " ms of its stop signal, killing its cgroup.",
                    w->name, (int) w->pid, w->cfg->stop_timeout_usec / USEC_PER_MSEC);
        r = cgroup_kill(&w->manager->root, w->cgroup_path);
        if (r < 0)
                log_error_errno(r, "Failed to kill cgroup '%s': %m", w->cgroup_path);
        return 0;
}

static int on_backoff_done(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;
        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        (void) worker_start_now(w);
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

static const char *exit_describe(int code, int status, char *buf, size_t size) {
        if (code == CLD_EXITED)
                snprintf(buf, size, "exited with status %d", status);
        else
                snprintf(buf, size, "killed by signal %s%s", sigabbrev_np(status) ?: "?",
                         code == CLD_DUMPED ? " (core dumped)" : "");
        return buf;
}

/* Decides what follows an exit nobody asked for: restart with backoff, stay down, or fail the
 * group when its restart intensity is exceeded; siblings follow the group's strategy. */
static void worker_handle_unplanned_exit(Worker *w, bool success) {
        Manager *m = w->manager;
        Group *g = w->group;
        usec_t now = now_usec();

        if (!restart_wanted(w->cfg->restart, success)) {
                worker_set_state(w, WEV_EXIT_DONE);
                return;
        }
        if (restart_tally_add(&g->tally, now, g->max_restarts, g->restart_window_usec)) {
                worker_set_state(w, WEV_EXIT_RESTART);
                char text[256];
                snprintf(text, sizeof text, "%s %s: more than %u restarts within %" PRIu64 " s, giving up.",
                         g->name ? "Supervisor" : "Dyno", g->name ?: "group", g->max_restarts,
                         g->restart_window_usec / USEC_PER_SEC);
                if (log_to_journal())
                        sd_journal_send("MESSAGE=%s", text, "MESSAGE_ID=" CGWATCH_MESSAGE_GROUP_FAILED_STR,
                                        "PRIORITY=%i", LOG_ERR, "CGWATCH_SUPERVISOR=%s", g->name ?: "dyno",
                                        "CGWATCH_WORKER=%s", w->name, NULL);
                else
                        log_error("%s", text);
                group_fail(g);
                return;
        }

        /* A worker that ran for longer than the backoff cap counts as healthy again. */
        if (w->started_usec > 0 && now - w->started_usec >= w->cfg->restart_max_usec)
                w->consecutive_failures = 0;
        w->consecutive_failures++;
        w->restarts++;
        usec_t delay = backoff_delay_usec(w->consecutive_failures, w->cfg->restart_usec, w->cfg->restart_max_usec);
        worker_set_state(w, WEV_EXIT_RESTART);
        log_info("Worker %s: restarting in %" PRIu64 " ms (failure %u in a row).", w->name, delay / USEC_PER_MSEC,
                 w->consecutive_failures);
        (void) worker_arm_timer(w, delay, on_backoff_done, "worker-backoff");

        /* The strategy: siblings that go down with it restart as soon as they have stopped. */
        bool affected[m->n_workers];
        Worker *members[m->n_workers];
        size_t n = 0, self = 0;
        for (size_t i = 0; i < m->n_workers; i++)
                if (m->workers[i]->group == g && !m->workers[i]->removing) {
                        if (m->workers[i] == w)
                                self = n;
                        members[n++] = m->workers[i];
                }
        strategy_affected(g->strategy, n, self, affected);
        for (size_t i = 0; i < n; i++)
                if (affected[i] && members[i] != w && worker_state_is_active(members[i]->state)) {
                        log_info("Worker %s: stopping for restart, its sibling %s died (%s).", members[i]->name,
                                 w->name, strategy_to_string(g->strategy));
                        (void) worker_stop(members[i], /* restart_after= */ true);
                }
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Worker *w = userdata;
        Manager *m = w->manager;
        char desc[64];
        bool planned = w->state == WORKER_STOPPING;
        bool success = si->si_code == CLD_EXITED && si->si_status == 0;
        RecycleReason recycled = w->recycle_reason;

        w->exit_code = si->si_code;
        w->exit_status = si->si_status;
        log_full_errno(planned ? LOG_INFO : LOG_WARNING, 0, "Worker %s (pid %d) %s.", w->name, (int) w->pid,
                       exit_describe(si->si_code, si->si_status, desc, sizeof desc));

        w->child_source = sd_event_source_disable_unref(w->child_source);
        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        w->pidfd = safe_close(w->pidfd);
        w->pid = 0;
        worker_retire_now(w); /* a replacement that died before READY=1 ends the wait */

        /* Whatever the main process left behind goes with it, so the next incarnation starts
         * in an empty node and the memory is given back now. */
        if (cgroup_is_populated(&m->root, w->cgroup_path) > 0)
                (void) cgroup_kill(&m->root, w->cgroup_path);
        if (recycled != RECYCLE_NONE) {
                monitor_restore_brake(m, w);
                w->recycle_reason = RECYCLE_NONE;
        }

        if (w->group->failed) {
                /* group_fail() stopped it; it stays down until started again. */
                worker_set_state(w, WEV_EXIT_DONE);
                worker_set_state(w, WEV_FAIL);
                manager_check_shutdown_done(m);
                return 0;
        }
        if (m->shutting_down || w->removing || (planned && w->stop_requested)) {
                worker_set_state(w, WEV_EXIT_DONE);
                w->stop_requested = false;
                if (w->removing)
                        manager_schedule_gc(m);
                manager_check_shutdown_done(m);
                return 0;
        }
        if (planned && (w->restart_after_stop || w->config_changed)) {
                w->restart_after_stop = w->config_changed = false;
                worker_set_state(w, WEV_EXIT_RESTART);
                if (recycled != RECYCLE_NONE && m->config->dyno.recycles_count_as_restarts &&
                    restart_tally_add(&w->group->tally, now_usec(), w->group->max_restarts,
                                      w->group->restart_window_usec)) {
                        log_error("Supervisor %s: too many restarts including recycles, giving up.",
                                  w->group->name ?: "dyno");
                        group_fail(w->group);
                        return 0;
                }
                (void) worker_start_now(w);
                return 0;
        }
        if (planned) {
                worker_set_state(w, WEV_EXIT_DONE);
                return 0;
        }
        worker_handle_unplanned_exit(w, success);
        return 0;
}

#define SETTLE_RETRY_USEC (100 * USEC_PER_MSEC)
#define SETTLE_TRIES      100

/* A killed process's node can stay busy for a moment after its exit (the kernel frees the last
 * task asynchronously): retry removing it. (The replacement keeps its own node name, rf~N:
 * cgroup v2 cannot rename a node, and moving the process would leave its memory charged to the
 * old node.) */
static int on_settle_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;
        int k = cgroup_remove(&w->manager->root, w->stale_path);

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
        Manager *m = w->manager;
        int k = cgroup_remove(&m->root, path);

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
        if (sd_event_add_time_relative(m->event, &w->settle_source, CLOCK_MONOTONIC, SETTLE_RETRY_USEC, 1000,
                                       on_settle_retry, w) >= 0)
                (void) sd_event_source_set_description(w->settle_source, "worker-settle-node");
}

static int on_retiree_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Retiree *r = userdata;
        Worker *w = r->worker;
        Manager *m = w->manager;
        char desc[64];

        log_info("Worker %s: the replaced incarnation (pid %d) %s.", w->name, (int) r->pid,
                 exit_describe(si->si_code, si->si_status, desc, sizeof desc));
        if (cgroup_is_populated(&m->root, r->cgroup_path) > 0)
                (void) cgroup_kill(&m->root, r->cgroup_path);
        worker_remove_stale(w, TAKE_PTR(r->cgroup_path));
        w->retiree = retiree_free(r);
        monitor_restore_dyno_brake(m);
        manager_check_shutdown_done(m);
        return 0;
}

static int on_retiree_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Retiree *r = userdata;
        r->timer_source = sd_event_source_disable_unref(r->timer_source);
        log_warning("Worker %s: the replaced incarnation (pid %d) did not exit within %" PRIu64
                    " ms, killing its cgroup.",
                    r->worker->name, (int) r->pid, r->worker->cfg->stop_timeout_usec / USEC_PER_MSEC);
        (void) cgroup_kill(&r->worker->manager->root, r->cgroup_path);
        return 0;
}

/* Stops the old incarnation: the replacement is ready (or never will be). */
void worker_retire_now(Worker *w) {
        Retiree *r = w->retiree;
        Manager *m = w->manager;
        usec_t now;

        if (!r || r->signaled)
                return;
        r->signaled = true;
        if (r->release_brake)
                monitor_release_brake(m, r->cgroup_path, w->budget_bytes);
        if (syscall(SYS_pidfd_send_signal, r->pidfd, w->cfg->stop_signal, NULL, 0) < 0 && errno != ESRCH)
                log_warning_errno(errno, "Failed to signal the replaced incarnation of %s: %m", w->name);
        log_info("Worker %s: stopping the replaced incarnation (pid %d).", w->name, (int) r->pid);
        if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) >= 0 &&
            sd_event_add_time(m->event, &r->timer_source, CLOCK_MONOTONIC, now + w->cfg->stop_timeout_usec, 1000,
                              on_retiree_timeout, r) >= 0)
                (void) sd_event_source_set_description(r->timer_source, "retiree-stop-timeout");
}

/* ReplaceFirst=yes: the running incarnation becomes a Retiree in its node; the worker starts
 * again in a fresh node and, once it sent READY=1, the retiree is stopped. Returns 1 if the
 * replacement was started, 0 if the caller must fall back to stop-then-start. */
static int worker_replace(Worker *w, bool release_brake) {
        Manager *m = w->manager;
        uint64_t need = w->budget_bytes == UINT64_MAX ? 0 : w->budget_bytes;
        uint64_t have = m->dyno_limit_bytes > m->dyno_current ? m->dyno_limit_bytes - m->dyno_current : 0;
        _cleanup_free_ char *fresh = NULL;
        Retiree *r;
        int k;

        if (w->retiree)
                return 0;
        /* Two copies must fit below RecycleAt, or the replacement itself would trip dyno-limit. */
        if (m->dyno_current + need >= m->recycle_at_bytes) {
                log_notice("Worker %s: ReplaceFirst=yes, but the dyno has %" PRIu64
                           " bytes of headroom below its limit and "
                           "the replacement may need %" PRIu64 " (RecycleAt %" PRIu64 ", in use %" PRIu64
                           "): stopping first, then starting.",
                           w->name, have, need, m->recycle_at_bytes, m->dyno_current);
                return 0;
        }
        if (asprintf(&fresh, "%s/%s~%u", w->group->cgroup_path, w->name, ++w->generation) < 0)
                return log_oom();

        r = calloc(1, sizeof *r);
        if (!r)
                return log_oom();
        *r = (Retiree){
                .worker = w,
                .pid = w->pid,
                .pidfd = TAKE_FD(w->pidfd),
                .cgroup_path = w->cgroup_path,
                .release_brake = release_brake,
        };
        w->cgroup_path = TAKE_PTR(fresh);
        w->child_source = sd_event_source_disable_unref(w->child_source);
        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        k = sd_event_add_child_pidfd(m->event, &r->child_source, r->pidfd, WEXITED, on_retiree_exit, r);
        if (k < 0) {
                /* Cannot watch it: kill it rather than lose track of a process. */
                (void) cgroup_kill(&m->root, r->cgroup_path);
                log_error_errno(k, "Failed to watch the replaced incarnation of %s, killed it: %m", w->name);
        } else
                (void) sd_event_source_set_description(r->child_source, "retiree-pidfd");
        w->retiree = r;
        w->pid = 0;
        monitor_worker_close(w); /* the new node gets its own memory.events and PSI fds */

        /* The state table sees a planned stop and an immediate start. */
        worker_set_state(w, WEV_STOP);
        worker_set_state(w, WEV_EXIT_RESTART);
        k = worker_start_now(w);
        if (k < 0 || !worker_state_is_active(w->state))
                worker_retire_now(w); /* no replacement after all: do not keep both waiting */
        return 1;
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

/* Returns the fd the worker's stdout and stderr go to (owned by the caller), or -EBADF to
 * inherit ours. Under journald each worker gets its own stream, tagged with its name; in the
 * foreground one pipe per worker, kept across incarnations, read by on_worker_output(). */
static int worker_open_output(Worker *w) {
        if (log_to_journal()) {
                int fd = sd_journal_stream_fd(w->name, LOG_INFO, /* level_prefix= */ 1);
                return fd < 0 ? -EBADF : fd;
        }
        if (w->output_fd[1] < 0) {
                if (pipe2(w->output_fd, O_CLOEXEC | O_NONBLOCK) < 0)
                        return -EBADF;
                /* The writing end blocks like any stdout; only our reading end must not. */
                (void) fcntl(w->output_fd[1], F_SETFL, 0);
                if (sd_event_add_io(w->manager->event, &w->output_source, w->output_fd[0], EPOLLIN, on_worker_output,
                                    w) < 0) {
                        w->output_fd[0] = safe_close(w->output_fd[0]);
                        w->output_fd[1] = safe_close(w->output_fd[1]);
                        return -EBADF;
                }
                (void) sd_event_source_set_description(w->output_source, "worker-output");
        }
        int fd = fcntl(w->output_fd[1], F_DUPFD_CLOEXEC, 3);
        return fd < 0 ? -EBADF : fd;
}

static int worker_start_now(Worker *w) {
        Manager *m = w->manager;
        _cleanup_close_ int cgfd = -EBADF, outfd = -EBADF;
        _cleanup_strv_free_ char **env = NULL;
        SpawnCredentials creds = {};
        char extra_buf[4][256];
        char *extra[5] = {};
        int r, pidfd = -EBADF;
        pid_t pid;

        if (m->shutting_down)
                return 0;

        r = cgroup_create(&m->root, w->cgroup_path, w->budget_bytes, w->cfg->tasks_max);
        if (r < 0) {
                log_error_errno(r, "Failed to create cgroup '%s' for worker %s: %m", w->cgroup_path, w->name);
                goto fail;
        }
        r = monitor_worker_open(w);
        if (r < 0)
                log_warning_errno(r,
                                  "Failed to watch memory events of worker %s, recycling by memory is off for it: %m",
                                  w->name);

        cgfd = cgroup_open_dir(&m->root, w->cgroup_path);
        if (cgfd < 0) {
                r = log_error_errno(cgfd, "Failed to open cgroup '%s': %m", w->cgroup_path);
                goto fail;
        }
        if (w->cfg->user || w->cfg->group) {
                r = spawn_credentials_resolve(w->cfg->user, w->cfg->group, &creds);
                if (r < 0) {
                        log_error_errno(r, "Worker %s: failed to resolve User=%s Group=%s: %m", w->name,
                                        w->cfg->user ?: "", w->cfg->group ?: "");
                        goto fail;
                }
        }

        size_t ne = 0;
        snprintf(extra_buf[0], sizeof extra_buf[0], "CGWATCH_WORKER=%s", w->name);
        extra[ne++] = extra_buf[0];
        if (m->notify_socket) {
                snprintf(extra_buf[1], sizeof extra_buf[1], "NOTIFY_SOCKET=%s", m->notify_socket);
                extra[ne++] = extra_buf[1];
        }
        if (w->cfg->watchdog_usec > 0) {
                snprintf(extra_buf[2], sizeof extra_buf[2], "WATCHDOG_USEC=%" PRIu64, w->cfg->watchdog_usec);
                extra[ne++] = extra_buf[2];
        }
        if (w->instance > 0) {
                snprintf(extra_buf[3], sizeof extra_buf[3], "CGWATCH_INSTANCE=%u", w->instance);
                extra[ne++] = extra_buf[3];
        }
        env = spawn_build_env(w->cfg->environment, creds.set ? &creds : NULL, extra);
        if (!env) {
                r = log_oom();
                goto fail;
        }

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
        spawn_credentials_done(&creds);
        if (r < 0) {
                log_error_errno(r, "Failed to spawn worker %s into '%s': %m", w->name, w->cgroup_path);
                goto fail;
        }

        r = sd_event_add_child_pidfd(m->event, &w->child_source, pidfd, WEXITED, on_child_exit, w);
        if (r < 0) {
                (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                safe_close(pidfd);
                log_error_errno(r, "Failed to watch worker %s: %m", w->name);
                goto fail;
        }
        (void) sd_event_source_set_child_pidfd_own(w->child_source, false);
        (void) sd_event_source_set_description(w->child_source, "worker-pidfd");
        w->pid = pid;
        w->pidfd = pidfd;
        w->started_usec = w->last_watchdog_usec = w->last_cpu_activity_usec = now_usec();
        /* Figures of the previous incarnation must not judge this one: read afresh before any
         * decision about it. */
        w->memory_current = w->memory_unreclaimable = w->memory_peak = 0;
        w->pressure_avg10 = 0;
        w->pressure_fired = false;
        w->sample_dirty = true;
        w->last_cpu_usage_usec = 0;
        w->stop_requested = false;
        worker_set_state(w, WEV_START);
        char budget_s[32] = "max";
        if (w->budget_bytes != UINT64_MAX)
                snprintf(budget_s, sizeof budget_s, "%" PRIu64, w->budget_bytes);
        log_info("Worker %s started as pid %d in %s (memory.high=%s).", w->name, (int) pid, w->cgroup_path, budget_s);

        if (w->cfg->replace_first) {
                /* Its READY=1 is what a replacement waits for. */
                (void) worker_arm_timer(w, w->cfg->ready_timeout_usec, on_ready_timeout, "worker-ready-timeout");
        } else
                worker_set_state(w, WEV_READY);
        monitor_evaluate(m); /* re-arm time-based deadlines */
        return 0;

fail:
        spawn_credentials_done(&creds);
        /* A spawn failure is a failure like any other: backoff and restart intensity decide. */
        worker_handle_unplanned_exit(w, /* success= */ false);
        return r;
}

int worker_start(Worker *w) {
        if (worker_state_is_active(w->state))
                return 0;
        if (w->state == WORKER_BACKOFF)
                w->timer_source = sd_event_source_disable_unref(w->timer_source);
        if (w->state == WORKER_FAILED)
                w->consecutive_failures = 0;
        w->group->failed = false;
        return worker_start_now(w);
}

int worker_stop(Worker *w, bool restart_after) {
        int r;

        switch (w->state) {
        case WORKER_BACKOFF:
                w->timer_source = sd_event_source_disable_unref(w->timer_source);
                if (restart_after)
                        return worker_start_now(w);
                worker_set_state(w, WEV_BACKOFF_CANCEL);
                if (w->removing)
                        manager_schedule_gc(w->manager);
                manager_check_shutdown_done(w->manager);
                return 0;
        case WORKER_STARTING:
        case WORKER_RUNNING:
                break;
        case WORKER_STOPPING:
                /* Already on its way down: only the intent may change. */
                w->restart_after_stop = w->restart_after_stop || restart_after;
                w->stop_requested = !w->restart_after_stop;
                return 0;
        default:
                return 0;
        }

        w->restart_after_stop = restart_after;
        w->stop_requested = !restart_after;
        if (!restart_after)
                worker_retire_now(w);
        r = syscall(SYS_pidfd_send_signal, w->pidfd, w->cfg->stop_signal, NULL, 0);
        if (r < 0 && errno != ESRCH)
                log_warning_errno(errno, "Failed to send %s to worker %s: %m", sigabbrev_np(w->cfg->stop_signal) ?: "?",
                                  w->name);
        worker_set_state(w, WEV_STOP);
        return worker_arm_timer(w, w->cfg->stop_timeout_usec, on_stop_timeout, "worker-stop-timeout");
}

int worker_recycle(Worker *w, RecycleReason reason, uint64_t memory_bytes, uint64_t budget_bytes) {
        Manager *m = w->manager;
        char mem_s[32], budget_s[32], dyno_s[32], lat_s[32];
        usec_t signal_usec, latency;
        int r;

        if (!worker_state_is_active(w->state) || w->state == WORKER_STOPPING)
                return 0;

        bool memory = reason == RECYCLE_BUDGET || reason == RECYCLE_DYNO_LIMIT || reason == RECYCLE_PRESSURE;
        pid_t old_pid = w->pid;

        w->recycles++;
        w->last_recycle_reason = reason;
        r = w->cfg->replace_first ? worker_replace(w, memory) : 0;
        if (r == 0) {
                w->recycle_reason = reason;
                if (memory)
                        monitor_release_brake(m, w->cgroup_path, w->budget_bytes);
                r = worker_stop(w, /* restart_after= */ true);
        } else if (r > 0)
                r = 0;
        signal_usec = now_usec();
        latency = w->detect_usec > 0 && signal_usec >= w->detect_usec ? signal_usec - w->detect_usec : 0;

        char cur_s[32];
        snprintf(cur_s, sizeof cur_s, "%" PRIu64, w->memory_current);
        snprintf(mem_s, sizeof mem_s, "%" PRIu64, memory_bytes);
        snprintf(budget_s, sizeof budget_s, "%" PRIu64, budget_bytes);
        snprintf(dyno_s, sizeof dyno_s, "%" PRIu64, m->dyno_current);
        snprintf(lat_s, sizeof lat_s, "%" PRIu64, latency);
        char text[512];
        snprintf(text, sizeof text,
                 "Recycling worker %s (pid %d): reason=%s memory=%s current=%s budget=%s dyno=%s/%" PRIu64
                 " latency_usec=%s%s",
                 w->name, (int) old_pid, recycle_reason_to_string(reason), mem_s, cur_s,
                 budget_bytes == UINT64_MAX ? "max" : budget_s, dyno_s, m->dyno_limit_bytes, lat_s,
                 w->retiree && !w->retiree->signaled ? " (replacement first)" : "");
        if (log_to_journal())
                sd_journal_send("MESSAGE=%s", text, "MESSAGE_ID=" CGWATCH_MESSAGE_RECYCLE_STR, "PRIORITY=%i",
                                LOG_NOTICE, "CGWATCH_WORKER=%s", w->name, "CGWATCH_REASON=%s",
                                recycle_reason_to_string(reason), "CGWATCH_MEMORY_BYTES=%s", mem_s,
                                "CGWATCH_MEMORY_CURRENT_BYTES=%s", cur_s, "CGWATCH_BUDGET_BYTES=%s", budget_s,
                                "CGWATCH_DYNO_BYTES=%s", dyno_s, "CGWATCH_LATENCY_USEC=%s", lat_s, "CGWATCH_PID=%d",
                                (int) old_pid, NULL);
        else
                log_notice("%s", text);
        bus_emit_recycled(m, w, reason, memory_bytes, budget_bytes);
        w->detect_usec = 0;
        return r;
}

int worker_set_budget(Worker *w, uint64_t budget_bytes) {
        int r;
        w->budget_bytes = budget_bytes;
        if (w->recycle_reason != RECYCLE_NONE)
                return 0; /* draining: the budget applies to the next incarnation's node */
        r = cgroup_write_u64(&w->manager->root, w->cgroup_path, "memory.high", budget_bytes);
        if (r == -ENOENT)
                return 0;
        return r;
}

void worker_on_ready(Worker *w) {
        w->last_watchdog_usec = now_usec();
        if (w->state == WORKER_STARTING) {
                w->timer_source = sd_event_source_disable_unref(w->timer_source);
                worker_set_state(w, WEV_READY);
        }
        worker_retire_now(w);
}

void worker_on_watchdog(Worker *w) {
        w->last_watchdog_usec = now_usec();
}

/* Erlang's "reached max restart intensity": every worker of the group goes down and stays
 * down (state failed) until started again by hand or by a reload. Running workers are stopped
 * gracefully; on_child_exit() marks them failed once they are gone. */
void group_fail(Group *g) {
        Manager *m = g->manager;
        g->failed = true;
        for (size_t i = 0; i < m->n_workers; i++) {
                Worker *w = m->workers[i];
                if (w->group != g)
                        continue;
                w->restart_after_stop = false;
                if (w->state == WORKER_BACKOFF)
                        w->timer_source = sd_event_source_disable_unref(w->timer_source);
                if (worker_state_is_active(w->state))
                        (void) worker_stop(w, /* restart_after= */ false);
                else
                        worker_set_state(w, WEV_FAIL);
        }
}
