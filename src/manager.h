/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The imperative shell: owns the sd_event loop, the cgroup tree, the config, the worker table and
 * every module below it, and is the only place that turns decisions into operations.
 *   manager.c         set-up, config (re)load, garbage collection, daemon shutdown
 *   manager-events.c  the one road: the dispatcher's ops (snapshot -> dispatch -> worker ops), the
 *                     supervision of exits, the dyno's brake, and announce() to every sink;
 *                     plus the adapters the notify socket and the bus call
 * Data flows one way: kernel -> monitor -> snapshot -> dispatch/policy -> worker op -> Event ->
 * announce -> journal, D-Bus (and any further sink). Modules below never call up: they return
 * Events or report them through the callbacks set here. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "announce.h"
#include "bus.h"
#include "cgroup.h"
#include "config.h"
#include "history.h"
#include "monitor.h"
#include "notify.h"
#include "policy.h"
#include "sink-amqp.h"
#include "worker.h"

typedef struct Manager {
        sd_event *event;
        char *config_path;
        Config *config;
        Config **retired; /* replaced by a reload, still used by workers being removed */
        size_t n_retired;
        const char *proc; /* "/proc" */

        CgroupRoot root;
        char *base_path;     /* our delegated cgroup */
        char *original_path; /* where the daemon was started */
        char *daemon_path;   /* base/cgwatchd: the daemon's own leaf */
        char *dyno_path;     /* base/dyno */
        bool created_base;
        bool scope_mode;  /* under systemd: base_path is the workers' transient scope (scope.h) */
        pid_t anchor_pid; /* the scope's anchor, when we started it */

        uint64_t dyno_limit_bytes;
        uint64_t recycle_at_bytes;
        MemoryWatch *dyno_watch;
        bool dyno_brake_released;
        usec_t last_dyno_action_usec;

        Group **groups;
        size_t n_groups;
        Worker **workers; /* config order */
        size_t n_workers;
        WorkerSample *samples; /* the snapshot's buffer, n_workers long */

        WorkerContext worker_ctx;
        Monitor *monitor;
        Notify *notify;
        Bus *bus;
        char *bus_name;
        Announcer announcer;
        AmqpLink *amqp;   /* [AMQP]: the publisher; NULL without the section */
        char *dyno_name;  /* the routing keys' dyno word (amqp_link_dyno_name()) */
        History *history; /* memory over time, for GetHistory (a sink, and fed samples below) */

        usec_t sample_interval_usec; /* manager_sample_interval(): sample every worker this often; 0 = only on events */
        usec_t next_sample_usec;
        usec_t trigger_usec; /* the kernel event behind the pass being evaluated */
        Worker *dispatching; /* the worker whose recycle the dispatcher is announcing */
        sd_event_source *gc_source;
        PolicyConfig policy;

        bool shutting_down;
        int exit_code;

        /* manager-state.c: surviving our own crash. /run/cgwatch/<dyno>/ holds state.json, the
         * notify socket, the lock and the output FIFOs. */
        char *runtime_dir;
        char *notify_path;
        char *output_dir;
        int runtime_fd; /* O_DIRECTORY of runtime_dir */
        int lock_fd;    /* flock()ed: one daemon per dyno */
        char *boot_id;
        struct Orphan **orphans; /* populated nodes of no worker, being stopped */
        size_t n_orphans;
} Manager;

typedef struct ManagerOptions {
        const char *config_path;
        const char *cgroup_mount; /* "/sys/fs/cgroup" */
        const char *cgroup_root;  /* --cgroup-root; NULL = our own cgroup */
        const char *proc;         /* "/proc" */
        const char *bus_name;     /* NULL: org.cgwatch1 */
        bool use_bus;
        bool workers_scope; /* --workers-scope: under systemd, the workers' transient scope (scope.h) */
} ManagerOptions;

/* For cgwatchd --check-config: the dyno's limit as the daemon would resolve it at start (with
 * MemoryLimit= unset, detected from the cgroup files of --cgroup-root, the workers' scope or our
 * own cgroup, and those above; nothing is created or moved), and the checks of c against it.
 * Returns 0 with *ret_limit; -EINVAL with *ret_error set when c cannot run there; another negative
 * errno, *ret_error untouched and *ret_limit SIZE_UNSET, when the cgroup files cannot be read. */
int manager_check_limits(const ManagerOptions *o, const Config *c, uint64_t *ret_limit, char **ret_error);
int manager_new(const ManagerOptions *o, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);
int manager_run(Manager *m);
int manager_reload(Manager *m);
void manager_shutdown(Manager *m);
Worker *manager_find_worker(Manager *m, const char *name);

/* manager.c, for manager-events.c */
void manager_check_shutdown_done(Manager *m);
void manager_schedule_gc(Manager *m);
void manager_update_status(Manager *m);
/* Writes `path`.d/50-budget-NAME.conf so a budget set over D-Bus survives restarts. */
int manager_persist_budget(Manager *m, Worker *w, uint64_t bytes);
/* The one sampling interval: [Dyno] SampleIntervalSec=, else [AMQP] SampleIntervalSec= when
 * [AMQP] is configured, else 0 (no periodic wakeup). */
usec_t manager_sample_interval(const Config *c);
/* history.h's HistorySampleFn: fresh figures of a worker's node (or the dyno's). */
int manager_history_sample(void *userdata, const char *name, HistorySample *ret);
/* The dyno's memory.high while a worker drains: halfway from RecycleAt to MemoryLimit. */
uint64_t manager_dyno_drain_high(const Manager *m);

/* manager-state.c */
/* Creates /run/cgwatch/<dyno> (<dyno>: amqp_link_dyno_name(), "default" for cgwatch.conf) and takes its
 * lock. Returns 0, -EBUSY when another daemon runs this dyno, or another negative errno. */
int manager_state_open(Manager *m);
/* Writes the state file from the worker table (logged once on failure). */
void manager_state_save(Manager *m);
/* After a clean stop: no state to resume. */
void manager_state_remove(Manager *m);
/* At start: reads the state file and the cgroup tree, re-adopts live workers, stops what cannot
 * be vouched for (then starts it afresh), starts the rest. Replaces starting every worker. */
void manager_restore(Manager *m);
/* Whether populated nodes of no worker are still being stopped. */
bool manager_orphans_pending(const Manager *m);
void manager_orphans_free(Manager *m);

/* manager-events.c */
/* Enriches an event with the dyno's figures and the wall clock, and hands it to every sink. */
void manager_announce(Manager *m, const Event *e);
/* Handles an event of worker `w` (returned by an operation or reported by worker.c): the
 * manager's own reactions (watches, supervision after an exit, the dyno's brake), announced. */
void manager_handle_event(Manager *m, Worker *w, const Event *e);
/* worker.c's WorkerContext.report. */
void manager_on_worker_report(Worker *w, const Event *e, void *userdata);
/* Starts `w` (explicit start, reload): announces STARTED, or handles the failure. */
int manager_start_worker(Manager *m, Worker *w);
/* The monitor's evaluate function: snapshot -> dispatch. */
void manager_evaluate(void *userdata, usec_t trigger_usec);
/* The notify socket's callback. */
void manager_on_notify(void *userdata, pid_t pid, const char *line);
extern const BusOps manager_bus_ops;
