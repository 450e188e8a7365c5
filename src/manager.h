/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The imperative shell: owns the sd_event loop, the bus, the cgroup tree and the worker table,
 * and executes what supervisor.c and policy.c decide. Split by concern:
 *   manager.c  set-up, config (re)load, daemon shutdown
 *   worker.c   one worker's life: spawn, stop, exit, restart, strategies, recycle
 *   monitor.c  kernel events (memory.events, PSI, cpu.stat) -> snapshot -> policy -> recycle
 *   notify.c   the sd_notify socket workers talk to (READY=1, WATCHDOG=1)
 *   bus.c      D-Bus
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cgroup-parse.h"
#include "cgroup.h"
#include "config.h"
#include "policy.h"
#include "supervisor.h"

typedef struct Manager Manager;
typedef struct Group Group;
typedef struct Worker Worker;
typedef struct Retiree Retiree;

/* ReplaceFirst=yes: the old incarnation of a worker, still serving in its own node while the
 * replacement starts in a fresh one; stopped once the replacement sent READY=1. */
struct Retiree {
        Worker *worker;
        pid_t pid;
        int pidfd;
        char *cgroup_path;
        sd_event_source *child_source;
        sd_event_source *timer_source;
        bool signaled;
        bool release_brake; /* recycled for memory: lift memory.high for its drain */
};

struct Group {
        Manager *manager;
        char *name;        /* supervisor name; NULL for the dyno's own group */
        char *cgroup_path; /* relative to the cgroup mount */
        Strategy strategy;
        unsigned max_restarts;
        usec_t restart_window_usec;
        uint64_t budget_bytes; /* memory.high; UINT64_MAX = max */
        RestartTally tally;
        bool failed;
        bool keep; /* reload bookkeeping */
};

struct Worker {
        Manager *manager;
        Group *group;
        const WorkerConfig *cfg; /* points into manager->config */
        char *name;              /* "queuer" or "queuer@2" */
        unsigned instance;       /* 0 when Instances=1 */
        char *cgroup_path;
        char *object_path; /* D-Bus */
        size_t order;      /* position in its group, for rest-for-one */

        WorkerState state;
        pid_t pid;
        int pidfd;
        sd_event_source *child_source;
        sd_event_source *timer_source; /* stop timeout, backoff, ready timeout */

        int output_fd[2]; /* foreground: the pipe its stdout/stderr go to, read by us */
        sd_event_source *output_source;
        char output_buf[4096]; /* a partial line */
        size_t output_len;

        int events_fd; /* memory.events, POLLPRI */
        sd_event_source *events_source;
        int psi_fd; /* memory.pressure trigger */
        sd_event_source *psi_source;
        MemoryEvents events; /* last read */

        uint64_t budget_bytes; /* resolved MemoryBudget; UINT64_MAX = none */
        uint64_t memory_current, memory_unreclaimable, memory_peak;
        double pressure_avg10;
        bool pressure_fired;
        bool sample_dirty; /* an event arrived; re-read before deciding */

        unsigned restarts; /* restarts after unplanned exits */
        unsigned recycles;
        unsigned consecutive_failures;
        RecycleReason recycle_reason; /* != NONE while stopping for a recycle */
        RecycleReason last_recycle_reason;
        usec_t detect_usec; /* CLOCK_MONOTONIC when the kernel event that led to the recycle arrived */

        bool stop_requested;            /* stay down after this stop */
        bool restart_after_stop;        /* start again right after this stop (recycle, strategy, restart) */
        bool removing;                  /* reload dropped it: free once stopped */
        bool config_changed;            /* reload changed how it runs: restart it */
        bool keep;                      /* reload bookkeeping */
        Retiree *retiree;               /* ReplaceFirst: the incarnation being replaced */
        char *stale_path;               /* its node, when the kernel did not let go of it at once */
        sd_event_source *settle_source; /* retries removing stale_path */
        unsigned settle_tries;
        unsigned generation; /* for fresh node names */

        usec_t started_usec;
        usec_t last_watchdog_usec;
        usec_t last_cpu_activity_usec;
        uint64_t last_cpu_usage_usec;
        int exit_code, exit_status; /* siginfo si_code/si_status of the last exit */
};

struct Manager {
        const char *version; /* for the bus's Version property */
        sd_event *event;
        sd_bus *bus;
        char *config_path;
        Config *config;
        Config **retired; /* replaced by a reload, still used by workers being removed */
        size_t n_retired;

        CgroupRoot root;
        char *base_path;     /* our delegated cgroup */
        char *original_path; /* where the daemon was started */
        char *daemon_path;   /* base/cgwatchd: the daemon's own leaf */
        char *dyno_path;     /* base/dyno */
        bool created_base;

        uint64_t dyno_limit_bytes;
        uint64_t recycle_at_bytes;
        uint64_t dyno_current, dyno_unreclaimable, dyno_peak;
        int dyno_events_fd, dyno_psi_fd;
        sd_event_source *dyno_events_source, *dyno_psi_source;
        bool dyno_pressure_fired;
        usec_t last_dyno_action_usec;
        bool dyno_brake_released;

        Group **groups;
        size_t n_groups;
        Worker **workers; /* config order */
        size_t n_workers;

        int notify_fd;
        char *notify_socket; /* NOTIFY_SOCKET value for workers */
        sd_event_source *notify_source;

        sd_event_source *deadline_source; /* lifetime/idle/watchdog */
        sd_event_source *evaluate_source; /* one queued policy pass */
        usec_t trigger_usec;              /* when the first event behind the queued pass arrived */
        sd_event_source *gc_source;
        PolicyConfig policy;

        bool shutting_down;
        bool foreground;
        int exit_code;
};

typedef struct ManagerOptions {
        const char *config_path;
        const char *cgroup_mount; /* "/sys/fs/cgroup" */
        const char *cgroup_root;  /* --cgroup-root; NULL = our own cgroup */
        const char *proc;         /* "/proc" */
        bool use_bus;
} ManagerOptions;

int manager_new(const ManagerOptions *o, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);
int manager_run(Manager *m);
int manager_reload(Manager *m);
void manager_shutdown(Manager *m);
void manager_check_shutdown_done(Manager *m);
void manager_schedule_gc(Manager *m);
void manager_update_status(Manager *m);
/* Writes `path`.d/50-budget-NAME.conf so a budget set over D-Bus survives restarts. */
int manager_persist_budget(Manager *m, Worker *w, uint64_t bytes);
Worker *manager_find_worker(Manager *m, const char *name);
usec_t now_usec(void);

/* The dyno's memory.high while a worker drains: halfway from RecycleAt to MemoryLimit. */
static inline uint64_t manager_dyno_drain_high(const Manager *m) {
        return m->recycle_at_bytes + (m->dyno_limit_bytes - m->recycle_at_bytes) / 2;
}

/* worker.c */
int worker_new(Manager *m, Group *g, const WorkerConfig *cfg, unsigned instance, Worker **ret);
Worker *worker_free(Worker *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(Worker *, worker_free);
int worker_start(Worker *w);
int worker_stop(Worker *w, bool restart_after);
int worker_recycle(Worker *w, RecycleReason reason, uint64_t memory_bytes, uint64_t budget_bytes);
int worker_set_budget(Worker *w, uint64_t budget_bytes);
void worker_on_ready(Worker *w);
void worker_on_watchdog(Worker *w);
void worker_retire_now(Worker *w);
void group_fail(Group *g);

/* monitor.c */
int monitor_worker_open(Worker *w);
void monitor_worker_close(Worker *w);
int monitor_dyno_open(Manager *m);
void monitor_dyno_close(Manager *m);
void monitor_evaluate(Manager *m);
/* Lifts a draining node's memory.high by a bounded allowance, and the dyno's own brake halfway
 * to its limit (see monitor.c). */
void monitor_release_brake(Manager *m, const char *cgroup_path, uint64_t budget_bytes);
void monitor_restore_brake(Manager *m, Worker *w);
void monitor_restore_dyno_brake(Manager *m);

/* notify.c */
int notify_open(Manager *m);
void notify_close(Manager *m);

/* bus.c */
int bus_open(Manager *m);
void bus_close(Manager *m);
void bus_emit_recycled(Manager *m, Worker *w, RecycleReason reason, uint64_t memory_bytes, uint64_t budget_bytes);
void bus_emit_worker_changed(Manager *m, Worker *w);
