/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Set-up, configuration (re)load, garbage collection and shutdown (see manager.h). */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "cgwatch/cgwatch.h"
#include "config-ini.h"
#include "log.h"
#include "manager.h"
#include "parse-util.h"
#include "scope.h"
#include "sink-journal.h"

static const char *const controllers[] = {"memory", "pids", "cpu", NULL};
static const char *const required_controllers[] = {"memory", NULL};

static Group *group_free(Group *g) {
        if (!g)
                return NULL;
        free(g->name);
        free(g->cgroup_path);
        free(g);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Group *, group_free);

Worker *manager_find_worker(Manager *m, const char *name) {
        for (size_t i = 0; i < m->n_workers; i++)
                if (streq(m->workers[i]->name, name))
                        return m->workers[i];
        return NULL;
}

static int array_push(void ***a, size_t *n, void *p) {
        void **na = realloc(*a, sizeof(void *) * (*n + 1));
        if (!na)
                return -ENOMEM;
        na[(*n)++] = p;
        *a = na;
        return 0;
}

usec_t manager_sample_interval(const Config *c) {
        if (c->dyno.sample_interval_usec > 0)
                return c->dyno.sample_interval_usec;
        return c->amqp.enabled ? c->amqp.sample_interval_usec : 0;
}

uint64_t manager_dyno_drain_high(const Manager *m) {
        return m->recycle_at_bytes + (m->dyno_limit_bytes - m->recycle_at_bytes) / 2;
}

/* The dyno's default limit: the smallest memory.max from our cgroup up to the top of what we can
 * see, then the smallest memory.high, then the machine's RAM. "The top" includes the root of a
 * cgroup namespace: run as a container's entrypoint, our cgroup is "" and the container's own
 * limits are on it (the host's real root has no memory.max, so reading it there is harmless).
 * *ret_source says where the limit came from, for messages ("the memory.max of cgroup /a/b", "the
 * machine's RAM"); NULL on OOM. */
static uint64_t detect_dyno_limit(Manager *m, char **ret_source) {
        static const char *const files[] = {"memory.max", "memory.high"};

        for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                uint64_t best = UINT64_MAX, v;
                _cleanup_free_ char *where = NULL;

                /* In the workers' scope, the service's own limit (MemoryMax= in cgwatch.service)
                 * counts too, as it did when the dyno lived below the service. */
                for (int start = 0; start < (m->scope_mode ? 2 : 1); start++) {
                        _cleanup_free_ char *p = strdup(start == 0 ? m->base_path : m->original_path);
                        while (p) {
                                if (cgroup_read_u64(&m->root, p, files[f], &v) >= 0 && v < best) {
                                        best = v;
                                        free(where);
                                        where = strdup(p);
                                }
                                char *slash = strrchr(p, '/');
                                if (slash)
                                        *slash = 0;
                                else if (*p)
                                        *p = 0;
                                else
                                        break;
                        }
                }
                if (best != UINT64_MAX) {
                        int k = -ENOMEM;
                        if (where && *where)
                                k = asprintf(ret_source, "the %s of cgroup /%s", files[f], where);
                        else if (where) /* only a cgroup namespace's root has limits at "" */
                                k = asprintf(ret_source,
                                             "the %s of the container's cgroup (the root of our cgroup namespace)",
                                             files[f]);
                        if (k < 0)
                                *ret_source = NULL;
                        return best;
                }
        }
        *ret_source = strdup("the machine's RAM");
        struct sysinfo si;
        if (sysinfo(&si) == 0)
                return (uint64_t) si.totalram * si.mem_unit;
        return UINT64_MAX;
}

/* What config_validate() leaves to the daemon: an absolute MemoryBudget= against the limit
 * detected when MemoryLimit= is not set (a percentage of the limit cannot exceed it). */
static int check_budget_fits(const ConfigSize *budget, const ConfigLocation *where, uint64_t limit, const char *source,
                             char **ret_error) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];

        if (!budget->set || budget->percent || budget->value <= limit)
                return 0;
        return ini_error(ret_error, where->file, where->line, "MemoryBudget",
                         "%s is above the dyno's limit of %s: MemoryLimit= is not set and defaults to %s",
                         format_bytes(a, budget->value), format_bytes(b, limit), source ?: "the detected limit");
}

/* The dyno's limits for config c, into m (the caller restores them when c is refused). Returns 0,
 * or -EINVAL with *ret_error saying why c cannot run here, or -ENOMEM. */
static int manager_resolve_limits(Manager *m, const Config *c, char **ret_error) {
        const DynoConfig *d = &c->dyno;
        _cleanup_free_ char *source = NULL;
        uint64_t detected = detect_dyno_limit(m, &source);
        int r;

        m->dyno_limit_bytes = d->memory_limit.set ? config_size_resolve(&d->memory_limit, detected) : detected;
        m->recycle_at_bytes = config_size_resolve(&d->recycle_at, m->dyno_limit_bytes);
        if (m->recycle_at_bytes >= m->dyno_limit_bytes)
                return asprintf(ret_error,
                                "RecycleAt= (%" PRIu64 " bytes) must be below MemoryLimit= (%" PRIu64 " bytes).",
                                m->recycle_at_bytes, m->dyno_limit_bytes) < 0
                               ? -ENOMEM
                               : -EINVAL;
        if (!d->memory_limit.set) {
                for (size_t i = 0; i < c->n_supervisors; i++) {
                        const SupervisorConfig *s = &c->supervisors[i];
                        r = check_budget_fits(&s->memory_budget, &s->memory_budget_where, detected, source, ret_error);
                        if (r < 0)
                                return r;
                }
                for (size_t i = 0; i < c->n_workers; i++) {
                        const WorkerConfig *w = &c->workers[i];
                        r = check_budget_fits(&w->memory_budget, &w->memory_budget_where, detected, source, ret_error);
                        if (r < 0)
                                return r;
                }
        }
        m->policy.dyno_cooldown_usec = d->recycle_cooldown_usec;
        return 0;
}

/* --cgroup-root relative to the mount: "/sys/fs/cgroup/a/b" or "/a/b" -> "a/b". */
static const char *cgroup_root_relative(const ManagerOptions *o) {
        const char *p = o->cgroup_root;
        size_t ml = strlen(o->cgroup_mount);

        if (strncmp(p, o->cgroup_mount, ml) == 0 && p[ml] == '/')
                p += ml;
        while (*p == '/')
                p++;
        return p;
}

int manager_check_limits(const ManagerOptions *o, const Config *c, uint64_t *ret_limit, char **ret_error) {
        _cleanup_free_ char *unit = NULL, *slice = NULL;
        Manager m = {.root.fd = -EBADF};
        int r;

        *ret_limit = SIZE_UNSET;
        r = cgroup_root_open(o->cgroup_mount, /* use_libcgroup= */ false, &m.root);
        if (r >= 0)
                r = cgroup_get_self(o->proc, &m.original_path);
        if (r >= 0) {
                /* Where manager_setup_cgroups() would put the dyno; nothing is created or moved. */
                if (o->cgroup_root)
                        m.base_path = strdup(cgroup_root_relative(o));
                else if (o->workers_scope && sd_booted() > 0 &&
                         scope_names(m.original_path, &unit, &slice, &m.base_path) >= 0)
                        m.scope_mode = true;
                else
                        m.base_path = strdup(m.original_path);
                r = m.base_path ? manager_resolve_limits(&m, c, ret_error) : -ENOMEM;
                if (r >= 0)
                        *ret_limit = m.dyno_limit_bytes;
        }
        cgroup_root_close(&m.root);
        free(m.original_path);
        free(m.base_path);
        return r;
}

static int manager_apply_dyno_limits(Manager *m) {
        int r = cgroup_write_u64(&m->root, m->dyno_path, "memory.max", m->dyno_limit_bytes);
        if (r < 0)
                return log_error_errno(r, "Failed to set memory.max of '%s': %m", m->dyno_path);
        r = cgroup_write_u64(&m->root, m->dyno_path, "memory.high",
                             m->dyno_brake_released ? manager_dyno_drain_high(m) : m->recycle_at_bytes);
        if (r < 0)
                return log_error_errno(r, "Failed to set memory.high of '%s': %m", m->dyno_path);
        return 0;
}

/* Under systemd as cgwatch.service: the workers' transient scope (scope.h), reused when it
 * outlived a previous daemon. Returns 1 with m->base_path set to it, 0 to stay in our own cgroup
 * (not a service, no systemd, no bus: logged). */
static int manager_setup_scope(Manager *m, const char *self) {
        _cleanup_free_ char *unit = NULL, *slice = NULL, *path = NULL;
        int r;

        if (sd_booted() <= 0 || scope_names(self, &unit, &slice, &path) < 0)
                return 0;
        if (cgroup_is_populated(&m->root, path) > 0) {
                log_info("The workers' scope %s outlived the previous daemon, resuming in it.", unit);
                m->base_path = TAKE_PTR(path);
                m->scope_mode = true;
                return 1;
        }
        pid_t anchor = scope_spawn_anchor();
        if (anchor < 0)
                return log_warning_errno(anchor,
                                         "Failed to fork the anchor of %s, the workers stay in our own "
                                         "cgroup and will not outlive a crash of the daemon: %m",
                                         unit),
                       0;
        r = scope_start(unit, slice, anchor);
        /* The scope's start job runs after the call returns: wait until the anchor is in it. */
        for (int i = 0; r >= 0 && i < 1000; i++) {
                char p[64], buf[4096];
                _cleanup_free_ char *cg = NULL;
                snprintf(p, sizeof p, "%s/%d/cgroup", m->proc, (int) anchor);
                _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
                ssize_t n = fd >= 0 ? cgroup_read_fd(fd, buf, sizeof buf) : -1;
                if (n >= 0 && cgroup_parse_proc_self(buf, (size_t) n, &cg) >= 0 && streq(cg, path))
                        break;
                if (i == 999)
                        r = -ETIMEDOUT;
                (void) usleep(10000);
        }
        if (r < 0) {
                (void) kill(anchor, SIGKILL);
                return log_warning_errno(r,
                                         "Failed to start %s, the workers stay in our own cgroup and will not "
                                         "outlive a crash of the daemon: %m",
                                         unit),
                       0;
        }
        log_info("The workers live in %s (%s), which outlives a restart of the daemon.", unit, path);
        m->anchor_pid = anchor;
        m->base_path = TAKE_PTR(path);
        m->scope_mode = true;
        return 1;
}

static int manager_setup_cgroups(Manager *m, const ManagerOptions *o) {
        _cleanup_free_ char *self = NULL;
        int r;

        r = cgroup_root_open(o->cgroup_mount, /* use_libcgroup= */ true, &m->root);
        if (r < 0)
                return log_error_errno(r, "Failed to open the cgroup mount '%s': %m", o->cgroup_mount);
        r = cgroup_get_self(o->proc, &self);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to find our own cgroup v2 in %s/self/cgroup (is cgroup v2 mounted?): %m", o->proc);
        m->original_path = strdup(self);
        if (o->cgroup_root)
                m->base_path = strdup(cgroup_root_relative(o));
        else if (!o->workers_scope || manager_setup_scope(m, self) <= 0)
                m->base_path = strdup(self);
        if (!m->original_path || !m->base_path)
                return log_oom();

        /* A base that a previous daemon of this dyno created (and died before removing) is ours to
         * remove at a clean stop too. */
        if (o->cgroup_root && faccessat(m->runtime_fd, "base-created", F_OK, 0) >= 0)
                m->created_base = true;
        if (o->cgroup_root && faccessat(m->root.fd, *m->base_path ? m->base_path : ".", F_OK, 0) < 0) {
                r = cgroup_create(&m->root, m->base_path, UINT64_MAX, UINT64_MAX);
                if (r < 0)
                        return log_error_errno(r, "Failed to create the cgroup '%s' given by --cgroup-root: %m",
                                               m->base_path);
                m->created_base = true;
                _cleanup_close_ int fd =
                        openat(m->runtime_fd, "base-created", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        }

        r = cgroup_has_controller(&m->root, m->base_path, "memory");
        if (r < 0)
                return log_error_errno(r, "Failed to read cgroup.controllers of '%s/%s': %m", o->cgroup_mount,
                                       m->base_path);
        if (r == 0)
                return log_error_errno(
                        EOPNOTSUPP,
                        "The memory controller is not available in cgroup '%s/%s'. cgwatchd needs a cgroup v2 "
                        "subtree with the memory controller delegated to it: run it from cgwatch.service "
                        "(Delegate=yes), or point --cgroup-root at such a subtree. On hosts that bind memory to "
                        "cgroup v1, boot with systemd.unified_cgroup_hierarchy=1 (or cgroup_no_v1=all).",
                        o->cgroup_mount, m->base_path);

        /* Before anything is created or moved: a config that cannot run here leaves no trace. */
        _cleanup_free_ char *err = NULL;
        r = manager_resolve_limits(m, m->config, &err);
        if (r < 0) {
                log_error("%s", err ?: strerror(-r));
                return r;
        }

        /* No internal processes: the daemon lives in a leaf of its own, beside the dyno. */
        m->daemon_path = cgroup_path_join(m->base_path, m->scope_mode ? "anchor" : "cgwatchd");
        m->dyno_path = cgroup_path_join(m->base_path, "dyno");
        if (!m->daemon_path || !m->dyno_path)
                return log_oom();
        r = cgroup_mkdir(&m->root, m->daemon_path);
        /* In the scope the leaf is the anchor's (already there when the scope survived us). */
        if (r >= 0 && (!m->scope_mode || m->anchor_pid > 0))
                r = cgroup_attach(&m->root, m->daemon_path, m->scope_mode ? m->anchor_pid : getpid());
        if (r < 0)
                return log_error_errno(r, "Failed to move %s into its leaf cgroup '%s': %m",
                                       m->scope_mode ? "the anchor" : "cgwatchd", m->daemon_path);
        r = cgroup_enable_controllers(&m->root, m->base_path, controllers, required_controllers);
        if (r < 0)
                return log_error_errno(r, "Failed to enable the memory controller in '%s': %m", m->base_path);

        r = cgroup_create(&m->root, m->dyno_path, m->recycle_at_bytes, UINT64_MAX);
        if (r < 0)
                return log_error_errno(r, "Failed to create the dyno cgroup '%s': %m", m->dyno_path);
        r = manager_apply_dyno_limits(m);
        if (r < 0)
                return r;
        r = cgroup_enable_controllers(&m->root, m->dyno_path, controllers, required_controllers);
        if (r < 0)
                return log_error_errno(r, "Failed to enable controllers in '%s': %m", m->dyno_path);
        log_info("Dyno %s: MemoryLimit=%" PRIu64 " (memory.max), RecycleAt=%" PRIu64 " (memory.high).", m->dyno_path,
                 m->dyno_limit_bytes, m->recycle_at_bytes);
        return 0;
}

static void group_configure(Manager *m, Group *g, const SupervisorConfig *sc) {
        if (sc) {
                g->strategy = sc->strategy;
                g->max_restarts = sc->max_restarts;
                g->restart_window_usec = sc->restart_window_usec;
                g->budget_bytes = config_size_resolve(&sc->memory_budget, m->dyno_limit_bytes);
        } else {
                g->strategy = STRATEGY_ONE_FOR_ONE;
                g->max_restarts = m->config->dyno.max_restarts;
                g->restart_window_usec = m->config->dyno.restart_window_usec;
                g->budget_bytes = UINT64_MAX; /* the dyno's limits are set by the manager */
        }
}

/* A supervisor's group in a cgroup node of its own, inside its parent's (the cgroup tree mirrors
 * the supervision tree); the dyno's own group (sc == NULL, parent == NULL) is the dyno node. */
static int group_create(Manager *m, const SupervisorConfig *sc, Group *parent, Group **ret) {
        _cleanup_(group_freep) Group *g = calloc(1, sizeof(Group));
        int r;

        if (!g)
                return -ENOMEM;
        if (sc) {
                g->name = strdup(sc->name);
                g->cgroup_path = cgroup_path_join(parent->cgroup_path, sc->name);
        } else
                g->cgroup_path = strdup(m->dyno_path);
        if ((sc && !g->name) || !g->cgroup_path)
                return -ENOMEM;
        g->parent = parent;
        group_configure(m, g, sc);
        if (sc) {
                r = cgroup_create(&m->root, g->cgroup_path, g->budget_bytes, UINT64_MAX);
                if (r < 0)
                        return log_error_errno(r, "Failed to create cgroup '%s' for supervisor %s: %m", g->cgroup_path,
                                               sc->name);
                r = cgroup_enable_controllers(&m->root, g->cgroup_path, controllers, required_controllers);
                if (r < 0)
                        return log_error_errno(r, "Failed to enable controllers in '%s': %m", g->cgroup_path);
        }
        r = array_push((void ***) &m->groups, &m->n_groups, g);
        if (r < 0)
                return r;
        g->keep = true;
        *ret = TAKE_PTR(g);
        return 0;
}

static bool strv_equal(char *const *a, char *const *b) {
        size_t n = strv_length(a);
        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

/* Whether a reload must restart the worker: anything about how its process runs changed.
 * Budgets and time limits are applied in place. */
static bool worker_config_needs_restart(const WorkerConfig *a, const WorkerConfig *b) {
        return !strv_equal(a->exec_argv, b->exec_argv) || !strv_equal(a->environment, b->environment) ||
               !streq_ptr(a->user, b->user) || !streq_ptr(a->group, b->group) ||
               !streq_ptr(a->working_directory, b->working_directory) || a->tasks_max != b->tasks_max ||
               a->pressure.stall_usec != b->pressure.stall_usec || a->pressure.window_usec != b->pressure.window_usec ||
               a->pressure.full != b->pressure.full;
}

/* The group kept for this config: by name, among those already placed in this pass (keep). */
static Group *manager_find_kept_group(Manager *m, const char *name) {
        for (size_t i = 0; i < m->n_groups; i++)
                if (m->groups[i]->keep && streq_ptr(m->groups[i]->name, name))
                        return m->groups[i];
        return NULL;
}

static int manager_apply_group(Manager *m, const SupervisorConfig *sc, Group *parent) {
        Group *g = NULL;
        int r;

        /* The same name in the same place keeps its group (and its node); a supervisor that moved
         * to another parent gets a new node there, and its workers move with it. */
        for (size_t i = 0; i < m->n_groups && !g; i++)
                if (!m->groups[i]->keep && streq_ptr(m->groups[i]->name, sc ? sc->name : NULL) &&
                    m->groups[i]->parent == parent)
                        g = m->groups[i];
        if (!g)
                return group_create(m, sc, parent, &g);

        uint64_t old_budget = g->budget_bytes;
        group_configure(m, g, sc);
        g->keep = true;
        if (sc && g->budget_bytes != old_budget) {
                r = cgroup_write_u64(&m->root, g->cgroup_path, "memory.high", g->budget_bytes);
                if (r < 0)
                        log_warning_errno(r, "Failed to set memory.high of '%s', ignoring: %m", g->cgroup_path);
        }
        return 0;
}

/* Groups from the top down, parents before children; config_validate() has refused cycles and
 * unknown parents, so every pass places at least one supervisor until all are placed. */
static int manager_apply_groups(Manager *m) {
        size_t n = m->config->n_supervisors, placed = 0;
        _cleanup_free_ bool *done = calloc(n ?: 1, sizeof(bool));
        int r;

        if (!done)
                return log_oom();
        for (size_t i = 0; i < m->n_groups; i++)
                m->groups[i]->keep = false;
        r = manager_apply_group(m, NULL, NULL);
        if (r < 0)
                return r;
        Group *dyno = manager_find_kept_group(m, NULL);
        while (placed < n) {
                size_t before = placed;
                for (size_t i = 0; i < n; i++) {
                        const SupervisorConfig *sc = &m->config->supervisors[i];
                        Group *parent = sc->parent ? manager_find_kept_group(m, sc->parent) : dyno;
                        if (done[i] || !parent)
                                continue;
                        r = manager_apply_group(m, sc, parent);
                        if (r < 0)
                                return r;
                        done[i] = true;
                        placed++;
                }
                if (placed == before) {
                        log_error("The supervisors do not form a tree.");
                        return -EINVAL;
                }
        }
        return 0;
}

/* An existing worker keeps running under the new config: budgets change in place, a changed
 * command restarts it. */
static void manager_update_worker(Manager *m, Worker *w, const WorkerConfig *wc) {
        bool restart = worker_config_needs_restart(w->cfg, wc);
        uint64_t budget = config_size_resolve(&wc->memory_budget, m->dyno_limit_bytes);
        Event e;
        int r;

        w->cfg = wc;
        /* MemoryMax= applies from the next incarnation on. */
        w->memory_max_bytes = config_size_resolve(&wc->memory_max, m->dyno_limit_bytes);
        r = worker_set_budget(w, budget, &e);
        if (r < 0)
                log_warning_errno(r, "Worker %s: failed to set memory.high, ignoring: %m", w->name);
        else if (r > 0)
                manager_handle_event(m, w, &e);
        if (restart && worker_state_is_active(w->state)) {
                log_info("Worker %s: configuration changed, restarting.", w->name);
                (void) worker_stop(w, INTENT_RESTART);
        }
}

/* Builds or updates groups and workers from m->config. On the first call everything is new; on a
 * reload, workers are matched by name: budgets change in place, changed commands restart,
 * workers that disappeared are stopped and freed, new ones start. */
static int manager_apply_config(Manager *m, bool reload) {
        _cleanup_free_ Worker **order = NULL;
        Worker **fresh = NULL;
        size_t n_order = 0, n_fresh = 0;
        int r;

        r = manager_apply_groups(m);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_workers; i++)
                m->workers[i]->keep = false;

        for (size_t i = 0; i < m->config->n_workers; i++) {
                const WorkerConfig *wc = &m->config->workers[i];
                Group *g = manager_find_kept_group(m, wc->supervisor);
                unsigned n = wc->instances > 1 ? wc->instances : 1;

                for (unsigned k = 1; k <= n; k++) {
                        char name[128];
                        Worker *w;
                        if (wc->instances > 1)
                                snprintf(name, sizeof name, "%s@%u", wc->name, k);
                        else
                                snprintf(name, sizeof name, "%s", wc->name);
                        w = manager_find_worker(m, name);
                        if (w && (w->group != g || w->intent == INTENT_REMOVE)) {
                                /* Moved to another supervisor: the old one goes, a new one in a new node. */
                                (void) worker_stop(w, INTENT_REMOVE);
                                w = NULL;
                        }
                        if (w)
                                manager_update_worker(m, w, wc);
                        else {
                                r = worker_new(&m->worker_ctx, g, wc, wc->instances > 1 ? k : 0,
                                               config_size_resolve(&wc->memory_budget, m->dyno_limit_bytes), &w);
                                if (r < 0) {
                                        free(fresh);
                                        return log_error_errno(r, "Failed to set up worker %s: %m", name);
                                }
                                w->memory_max_bytes = config_size_resolve(&wc->memory_max, m->dyno_limit_bytes);
                                if (array_push((void ***) &fresh, &n_fresh, w) < 0) {
                                        worker_free(w);
                                        free(fresh);
                                        return log_oom();
                                }
                        }
                        w->keep = true;
                        if (array_push((void ***) &order, &n_order, w) < 0) {
                                free(fresh);
                                return log_oom();
                        }
                }
        }

        /* Workers gone from the config go last, until they have stopped. */
        for (size_t i = 0; i < m->n_workers; i++) {
                Worker *w = m->workers[i];
                if (w->keep)
                        continue;
                if (w->intent != INTENT_REMOVE)
                        log_info("Worker %s: no longer configured, stopping.", w->name);
                (void) worker_stop(w, INTENT_REMOVE);
                if (array_push((void ***) &order, &n_order, w) < 0) {
                        free(fresh);
                        return log_oom();
                }
        }
        WorkerSample *ns = realloc(m->samples, sizeof(WorkerSample) * (n_order ?: 1));
        if (!ns) {
                free(fresh);
                return log_oom();
        }
        m->samples = ns;
        free(m->workers);
        m->workers = TAKE_PTR(order);
        m->n_workers = n_order;
        manager_schedule_gc(m);

        if (reload)
                for (size_t i = 0; i < n_fresh; i++)
                        (void) manager_start_worker(m, fresh[i]);
        free(fresh);
        return 0;
}

static bool group_in_use(Manager *m, const Group *g) {
        for (size_t k = 0; k < m->n_workers; k++)
                if (m->workers[k]->group == g)
                        return true;
        for (size_t k = 0; k < m->n_groups; k++)
                if (m->groups[k]->parent == g)
                        return true;
        return false;
}

static int on_gc(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        size_t j = 0;
        bool any_removing = false;

        for (size_t i = 0; i < m->n_workers; i++) {
                Worker *w = m->workers[i];
                bool removing = w->intent == INTENT_REMOVE;
                if (removing && !worker_state_is_active(w->state) && w->state != WORKER_BACKOFF && !w->retiree) {
                        w->watch = monitor_watch_free(w->watch);
                        (void) cgroup_remove(&m->root, w->cgroup_path);
                        history_forget(m->history, w->name);
                        worker_free(w);
                        continue;
                }
                any_removing = any_removing || removing;
                m->workers[j++] = w;
        }
        m->n_workers = j;

        /* Groups gone from the config, once no worker and no child group is left in them: one at
         * a time, so that a child's node goes before its parent's. */
        for (size_t i = 0; i < m->n_groups;) {
                Group *g = m->groups[i];
                if (g->keep || group_in_use(m, g)) {
                        i++;
                        continue;
                }
                (void) cgroup_remove(&m->root, g->cgroup_path);
                group_free(g);
                memmove(m->groups + i, m->groups + i + 1, (m->n_groups - i - 1) * sizeof(Group *));
                m->n_groups--;
                i = 0;
        }

        if (!any_removing) {
                for (size_t i = 0; i < m->n_retired; i++)
                        config_free(m->retired[i]);
                m->n_retired = 0;
        }
        return 0;
}

void manager_schedule_gc(Manager *m) {
        if (!m->gc_source) {
                if (sd_event_add_defer(m->event, &m->gc_source, on_gc, m) < 0)
                        return;
                (void) sd_event_source_set_description(m->gc_source, "worker-gc");
        }
        (void) sd_event_source_set_enabled(m->gc_source, SD_EVENT_ONESHOT);
}

void manager_update_status(Manager *m) {
        unsigned running = 0, recycles = 0, failed = 0;
        for (size_t i = 0; i < m->n_workers; i++) {
                running += m->workers[i]->state == WORKER_RUNNING;
                failed += m->workers[i]->state == WORKER_FAILED;
                recycles += m->workers[i]->recycles;
        }
        (void) sd_notifyf(/* unset_environment= */ 0, "STATUS=%u of %zu workers running, %u failed, %u recycles.",
                          running, m->n_workers, failed, recycles);
}

/* Whether two [AMQP] sections set up the same publisher (all but SampleIntervalSec=). */
static bool amqp_config_same_publisher(const AmqpConfig *a, const AmqpConfig *b) {
        return a->enabled == b->enabled && streq_ptr(a->url, b->url) && streq_ptr(a->exchange, b->exchange) &&
               streq_ptr(a->host, b->host) && streq_ptr(a->password_file, b->password_file) &&
               streq_ptr(a->credential, b->credential) && a->outbox_size == b->outbox_size;
}

/* The node of supervisor `name` in config `c`: the dyno's, then each enclosing supervisor's name.
 * Returns NULL on OOM (or a depth no validated config has). */
static char *supervisor_cgroup_path(const Manager *m, const Config *c, const char *name, unsigned depth) {
        const SupervisorConfig *sc = name ? config_find_supervisor(c, name) : NULL;

        if (!name || !sc)
                return strdup(m->dyno_path);
        if (depth > 64)
                return NULL;
        _cleanup_free_ char *parent = supervisor_cgroup_path(m, c, sc->parent, depth + 1);
        return parent ? cgroup_path_join(parent, sc->name) : NULL;
}

static unsigned supervisor_depth(const Config *c, const char *name) {
        unsigned d = 0;
        for (const SupervisorConfig *sc = config_find_supervisor(c, name); sc && sc->parent && d <= 64; d++)
                sc = config_find_supervisor(c, sc->parent);
        return d;
}

/* Before a reload commits its config: every supervisor node it adds can be made and can have
 * its controllers enabled. A node that cannot (EBUSY: a process sits in it, so the kernel refuses
 * controllers there) fails the reload as a whole, so the running config stays, untouched, and
 * the nodes made here only for the check are removed again (children first). Parents are made
 * before their children: depth by depth. */
static int manager_preflight_groups(Manager *m, const Config *c, char **ret_error) {
        _cleanup_free_ char **made = calloc(c->n_supervisors ?: 1, sizeof(char *));
        size_t n_made = 0;
        int r = 0;

        if (!made)
                return -ENOMEM;
        for (unsigned depth = 0; depth <= 64 && r >= 0; depth++)
                for (size_t i = 0; i < c->n_supervisors && r >= 0; i++) {
                        const char *name = c->supervisors[i].name;
                        if (supervisor_depth(c, name) != depth)
                                continue;
                        _cleanup_free_ char *path = supervisor_cgroup_path(m, c, name, 0);
                        bool exists = false;
                        if (!path) {
                                r = -ENOMEM;
                                break;
                        }
                        for (size_t k = 0; k < m->n_groups && !exists; k++)
                                exists = streq(m->groups[k]->cgroup_path, path);
                        if (exists)
                                continue;
                        if (faccessat(m->root.fd, path, F_OK, 0) < 0) {
                                r = cgroup_mkdir(&m->root, path);
                                if (r >= 0)
                                        made[n_made++] = strdup(path);
                        }
                        if (r >= 0)
                                r = cgroup_enable_controllers(&m->root, path, controllers, required_controllers);
                        if (r < 0 && asprintf(ret_error,
                                              "supervisor %s: its node '%s' cannot be made or take the controllers: %s",
                                              name, path, strerror(-r)) < 0)
                                *ret_error = NULL;
                }
        for (size_t i = n_made; i > 0; i--) {
                if (r < 0 && made[i - 1])
                        (void) cgroup_remove(&m->root, made[i - 1]);
                free(made[i - 1]);
        }
        return r;
}

int manager_reload(Manager *m) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        (void) sd_notify(0, "RELOADING=1");
        r = config_load(m->config_path, &c, &err);
        if (r < 0) {
                log_error("Reload failed, keeping the running configuration: %s", err ?: strerror(-r));
                (void) sd_notify(0, "READY=1");
                return r;
        }
        uint64_t old_limit = m->dyno_limit_bytes, old_at = m->recycle_at_bytes;
        err = mfree(err);
        r = manager_resolve_limits(m, c, &err);
        if (r >= 0) {
                err = mfree(err);
                r = manager_preflight_groups(m, c, &err);
        }
        if (r < 0) {
                log_error("Reload failed, keeping the running configuration: %s", err ?: strerror(-r));
                m->dyno_limit_bytes = old_limit;
                m->recycle_at_bytes = old_at;
                (void) sd_notify(0, "READY=1");
                return r;
        }
        (void) manager_apply_dyno_limits(m);
        if (!amqp_config_same_publisher(&m->config->amqp, &c->amqp))
                log_notice("[AMQP] changed: the publisher keeps its connection settings until cgwatchd restarts "
                           "(SampleIntervalSec= applies now).");

        /* Workers being removed keep pointing into the old config until they are freed. */
        Config **nr = realloc(m->retired, sizeof(Config *) * (m->n_retired + 1));
        if (!nr)
                return log_oom();
        m->retired = nr;
        m->retired[m->n_retired++] = m->config;
        m->config = TAKE_PTR(c);
        r = manager_apply_config(m, /* reload= */ true);
        m->sample_interval_usec = manager_sample_interval(m->config);
        log_info("Configuration reloaded from %s.", m->config_path);
        (void) sd_notify(0, "READY=1");
        manager_update_status(m);
        monitor_queue(m->monitor, 0);
        return r;
}

int manager_persist_budget(Manager *m, Worker *w, uint64_t bytes) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *tmp = NULL;
        FILE *f;
        int fd;

        /* Instances share one [Worker] section, so the drop-in sets the budget of all of them. */
        if (asprintf(&dir, "%s.d", m->config_path) < 0 ||
            asprintf(&path, "%s/50-budget-%s.conf", dir, w->cfg->name) < 0 || asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "w");
        if (!f) {
                safe_close(fd);
                return -errno;
        }
        fprintf(f,
                "# Written by cgwatchd for SetBudget(runtime=false); delete to return to the main file's value.\n"
                "[Worker %s]\nMemoryBudget=%" PRIu64 "\n",
                w->cfg->name, bytes);
        if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
                int e = errno;
                fclose(f);
                unlink(tmp);
                return -e;
        }
        fclose(f);
        if (rename(tmp, path) < 0)
                return -errno;
        return 0;
}

static void manager_cleanup_cgroups(Manager *m) {
        int r;

        for (size_t i = 0; i < m->n_workers; i++)
                m->workers[i]->watch = monitor_watch_free(m->workers[i]->watch);
        m->dyno_watch = monitor_watch_free(m->dyno_watch);
        r = cgroup_remove_recursive(&m->root, m->dyno_path);
        /* Killed processes leave their node only once the kernel has torn them down (a fork
         * bomb's 199 children take a while after cgroup.kill): retry for up to 5 s. The loop is
         * over, nothing else waits on us. */
        for (int i = 0; r == -EBUSY && i < 500; i++) {
                (void) usleep(10 * USEC_PER_MSEC);
                r = cgroup_remove_recursive(&m->root, m->dyno_path);
        }
        if (r < 0)
                log_warning_errno(r, "Failed to remove the dyno cgroup '%s', ignoring: %m", m->dyno_path);

        /* The workers' scope: once its anchor is gone it is empty, and systemd removes it. */
        if (m->scope_mode) {
                r = cgroup_kill(&m->root, m->daemon_path);
                if (r < 0)
                        log_warning_errno(r, "Failed to stop the anchor in '%s', ignoring: %m", m->daemon_path);
                return;
        }
        /* Go back where we came from so our own leaf (and a base we created) can go too. The
         * parent must not offer controllers to children while it holds a process. */
        if (m->original_path && !streq(m->original_path, m->daemon_path)) {
                (void) cgroup_write_file(&m->root, m->base_path, "cgroup.subtree_control", "-memory -pids -cpu");
                if (cgroup_attach(&m->root, m->original_path, getpid()) >= 0) {
                        (void) cgroup_remove(&m->root, m->daemon_path);
                        if (m->created_base && cgroup_remove(&m->root, m->base_path) >= 0)
                                (void) unlinkat(m->runtime_fd, "base-created", 0);
                }
        }
}

void manager_check_shutdown_done(Manager *m) {
        if (!m->shutting_down || manager_orphans_pending(m))
                return;
        for (size_t i = 0; i < m->n_workers; i++)
                if (worker_state_is_active(m->workers[i]->state) || m->workers[i]->retiree)
                        return;
        log_info("All workers stopped.");
        manager_cleanup_cgroups(m);
        manager_state_remove(m);
        (void) sd_event_exit(m->event, m->exit_code);
}

void manager_shutdown(Manager *m) {
        if (m->shutting_down)
                return;
        m->shutting_down = m->worker_ctx.shutting_down = true;
        (void) sd_notify(0, "STOPPING=1");
        log_info("Stopping %zu workers.", m->n_workers);
        for (size_t i = 0; i < m->n_workers; i++) {
                Worker *w = m->workers[i];
                worker_retire_now(w);
                (void) worker_stop(w, INTENT_STOP);
        }
        manager_check_shutdown_done(m);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        if (si->ssi_signo == SIGHUP)
                (void) manager_reload(m);
        else
                manager_shutdown(m);
        return 0;
}

static int manager_setup_signals(Manager *m) {
        static const int handled[] = {SIGTERM, SIGINT, SIGHUP};
        sigset_t ss;
        int r;

        /* A write to a socket whose peer is gone (a TLS write of the AMQP publisher, a closed
         * bus or notify peer) returns EPIPE instead of killing the daemon. Workers start with
         * every signal at its default (spawn.c). */
        (void) signal(SIGPIPE, SIG_IGN);

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigaddset(&ss, SIGCHLD); /* sd-event's pidfd child sources want it blocked */
        sigprocmask(SIG_BLOCK, &ss, NULL);
        for (size_t i = 0; i < ELEMENTSOF(handled); i++) {
                r = sd_event_add_signal(m->event, NULL, handled[i], on_signal, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch signal %d: %m", handled[i]);
        }
        return 0;
}

static void on_amqp_changed(void *userdata) {
        Manager *m = userdata;

        bus_amqp_changed(m->bus);
}

/* [AMQP]: the publisher, a sink like the journal. Without the section there is none (and no
 * sampling timer unless [Dyno] SampleIntervalSec= asks for the history's samples). */
static int manager_setup_amqp(Manager *m) {
        int r;

        if (!m->config->amqp.enabled)
                return 0;
        m->dyno_name = amqp_link_dyno_name(m->config_path);
        if (!m->dyno_name)
                return log_oom();
        r = amqp_link_new(m->event, &m->config->amqp, m->dyno_name, on_amqp_changed, m, &m->amqp);
        if (r < 0)
                return r;
        r = announce_add_sink(&m->announcer, "amqp", amqp_link_emit, m->amqp);
        if (r < 0)
                return log_error_errno(r, "Failed to register the AMQP sink: %m");
        return 0;
}

int manager_new(const ManagerOptions *o, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return log_oom();
        m->root.fd = -EBADF;
        m->runtime_fd = m->lock_fd = -EBADF;
        m->policy = POLICY_CONFIG_DEFAULT;
        m->proc = o->proc;
        m->config_path = strdup(o->config_path);
        m->bus_name = strdup(o->bus_name ?: CGWATCH_BUS_NAME);
        if (!m->config_path || !m->bus_name)
                return log_oom();

        r = config_load(o->config_path, &m->config, &err);
        if (r < 0) {
                log_error("%s", err ?: strerror(-r));
                return -EINVAL;
        }
        r = manager_state_open(m);
        if (r < 0)
                return r;

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");
        (void) sd_event_set_watchdog(m->event, true);
        r = manager_setup_signals(m);
        if (r < 0)
                return r;

        /* The sinks, in the order they hear of each event. */
        r = announce_add_sink(&m->announcer, "journal", journal_sink_emit, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to register the journal sink: %m");
        r = manager_setup_amqp(m);
        if (r < 0)
                return r;
        m->history = history_new(manager_history_sample, m);
        if (!m->history)
                return log_oom();
        r = announce_add_sink(&m->announcer, "history", history_sink_emit, m->history);
        if (r < 0)
                return log_error_errno(r, "Failed to register the history sink: %m");

        r = manager_setup_cgroups(m, o);
        if (r < 0)
                return r;
        r = monitor_new(m->event, &m->root, manager_evaluate, m, &m->monitor);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the monitor: %m");
        r = monitor_watch_open(m->monitor, m->dyno_path, /* local= */ true, &m->config->dyno.pressure, &m->dyno_watch);
        if (r < 0)
                log_warning_errno(r, "Failed to watch the dyno's memory events and pressure, continuing without: %m");
        r = notify_open(m->event, m->notify_path, manager_on_notify, m, &m->notify);
        if (r < 0)
                return log_error_errno(r, "Failed to open the notification socket: %m");
        m->worker_ctx = (WorkerContext){
                .event = m->event,
                .root = &m->root,
                .notify_socket = notify_socket(m->notify),
                .output_dir = m->output_dir,
                .report = manager_on_worker_report,
                .userdata = m,
        };
        r = manager_apply_config(m, /* reload= */ false);
        if (r < 0)
                return r;
        /* Periodic samples only when configured: history, and the AMQP stream. */
        m->sample_interval_usec = manager_sample_interval(m->config);
        if (o->use_bus) {
                r = bus_open(m->event, &m->root, m->bus_name, &manager_bus_ops, m, &m->bus);
                if (r < 0)
                        return r;
                if (m->bus) {
                        r = announce_add_sink(&m->announcer, "bus", bus_sink_emit, m->bus);
                        if (r < 0)
                                return log_error_errno(r, "Failed to register the D-Bus sink: %m");
                }
        }
        *ret = TAKE_PTR(m);
        return 0;
}

int manager_run(Manager *m) {
        int r;

        manager_restore(m); /* re-adopts what survived a previous daemon, starts the rest */
        (void) sd_notify(0, "READY=1");
        manager_update_status(m);
        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* First: it flushes what the last events queued. */
        m->amqp = amqp_link_free(m->amqp);
        free(m->dyno_name);
        bus_free(m->bus);
        for (size_t i = 0; i < m->n_workers; i++) {
                monitor_watch_free(m->workers[i]->watch);
                worker_free(m->workers[i]);
        }
        free(m->workers);
        free(m->samples);
        history_free(m->history);
        for (size_t i = 0; i < m->n_groups; i++)
                group_free(m->groups[i]);
        free(m->groups);
        manager_orphans_free(m);
        monitor_watch_free(m->dyno_watch);
        monitor_free(m->monitor);
        notify_free(m->notify);
        m->gc_source = sd_event_source_disable_unref(m->gc_source);
        sd_event_unref(m->event);
        cgroup_root_close(&m->root);
        config_free(m->config);
        for (size_t i = 0; i < m->n_retired; i++)
                config_free(m->retired[i]);
        free(m->retired);
        free(m->config_path);
        free(m->bus_name);
        free(m->base_path);
        free(m->original_path);
        free(m->daemon_path);
        free(m->dyno_path);
        safe_close(m->runtime_fd);
        safe_close(m->lock_fd);
        free(m->runtime_dir);
        free(m->notify_path);
        free(m->output_dir);
        free(m->boot_id);
        free(m);
        return NULL;
}
