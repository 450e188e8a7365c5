/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* D-Bus: org.cgwatch1 on the system bus. Thin handlers: unpack, check the caller, call the
 * manager, reply. Reads are open to everyone (SD_BUS_VTABLE_UNPRIVILEGED); anything that changes
 * state checks the caller's effective uid here as well as in the installed policy file. */

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "cgwatch/cgwatch.h"
#include "log.h"
#include "manager.h"

static int check_privileged(sd_bus_message *msg, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        if (uid != 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Only root may change cgwatchd's state.");
        return 0;
}

static Worker *worker_from_name(Manager *m, const char *name, sd_bus_error *error) {
        Worker *w = manager_find_worker(m, name);
        if (!w)
                sd_bus_error_setf(error, "org.cgwatch1.NoSuchWorker", "No worker named '%s'.", name);
        return w;
}

/* For the writes: the caller must be root, and the worker must exist. Returns 0 and *ret. */
static int privileged_worker(sd_bus_message *msg, Manager *m, const char *name, sd_bus_error *error, Worker **ret) {
        int r = check_privileged(msg, error);
        if (r < 0)
                return r;
        *ret = worker_from_name(m, name, error);
        return *ret ? 0 : -ENOENT;
}

static uint64_t worker_memory_current(Worker *w) {
        uint64_t v = 0;
        if (worker_state_is_active(w->state))
                (void) cgroup_read_u64(&w->manager->root, w->cgroup_path, "memory.current", &v);
        return v;
}

static int method_list_workers(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssuttto)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_workers; i++) {
                Worker *w = m->workers[i];
                r = sd_bus_message_append(reply, "(ssuttto)", w->name, worker_state_to_string(w->state),
                                          (uint32_t) w->pid, worker_memory_current(w), w->budget_bytes,
                                          (uint64_t) w->recycles, w->object_path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_worker(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name;
        Worker *w;
        int r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        w = worker_from_name(userdata, name, error);
        if (!w)
                return -ENOENT;
        return sd_bus_reply_method_return(msg, "o", w->object_path);
}

static int method_set_budget(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        uint64_t bytes;
        int runtime, r;
        Worker *w;

        r = sd_bus_message_read(msg, "stb", &name, &bytes, &runtime);
        if (r < 0)
                return r;
        r = privileged_worker(msg, m, name, error, &w);
        if (r < 0)
                return r;
        if (bytes == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "A budget of 0 bytes would stop the worker dead.");
        if (!runtime) {
                r = manager_persist_budget(m, w, bytes);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Failed to write the drop-in for %s: %m", name);
        }
        r = worker_set_budget(w, bytes);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to set memory.high of %s: %m", name);
        log_info("Worker %s: MemoryBudget set to %" PRIu64 " bytes over D-Bus%s.", w->name, bytes,
                 runtime ? " (runtime only)" : "");
        bus_emit_worker_changed(m, w);
        monitor_evaluate(m);
        return sd_bus_reply_method_return(msg, NULL);
}

typedef enum WorkerOp { OP_RECYCLE, OP_RESTART, OP_STOP, OP_START } WorkerOp;

static int worker_op(sd_bus_message *msg, Manager *m, WorkerOp op, sd_bus_error *error) {
        const char *name;
        Worker *w;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        r = privileged_worker(msg, m, name, error, &w);
        if (r < 0)
                return r;
        switch (op) {
        case OP_RECYCLE:
                if (!worker_state_is_active(w->state) || w->state == WORKER_STOPPING)
                        return sd_bus_error_setf(error, "org.cgwatch1.NotRunning", "Worker %s is %s.", name,
                                                 worker_state_to_string(w->state));
                w->detect_usec = now_usec();
                (void) cgroup_read_u64(&m->root, w->cgroup_path, "memory.current", &w->memory_current);
                r = worker_recycle(w, RECYCLE_MANUAL, w->memory_current, w->budget_bytes);
                break;
        case OP_RESTART:
                r = worker_state_is_active(w->state) ? worker_stop(w, /* restart_after= */ true) : worker_start(w);
                break;
        case OP_STOP:
                r = worker_stop(w, /* restart_after= */ false);
                break;
        case OP_START:
                r = worker_start(w);
                break;
        }
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed: %m");
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_recycle(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return worker_op(msg, userdata, OP_RECYCLE, error);
}
static int method_restart(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return worker_op(msg, userdata, OP_RESTART, error);
}
static int method_stop(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return worker_op(msg, userdata, OP_STOP, error);
}
static int method_start(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return worker_op(msg, userdata, OP_START, error);
}

static int method_reload(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = check_privileged(msg, error);
        if (r < 0)
                return r;
        r = manager_reload(userdata);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r,
                                               "Reload failed, the running configuration is kept (see the log): %m");
        return sd_bus_reply_method_return(msg, NULL);
}

static int property_dyno(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        uint64_t v = 0;

        if (streq(property, "DynoMemoryLimit"))
                v = m->dyno_limit_bytes;
        else if (streq(property, "DynoMemoryCurrent"))
                (void) cgroup_read_u64(&m->root, m->dyno_path, "memory.current", &v);
        else if (streq(property, "DynoMemoryPeak"))
                (void) cgroup_read_u64(&m->root, m->dyno_path, "memory.peak", &v);
        else if (streq(property, "DynoRecycleAt"))
                v = m->recycle_at_bytes;
        return sd_bus_message_append(reply, "t", v);
}

/* clang-format off */
static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", NULL, offsetof(Manager, version), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DynoMemoryLimit", "t", property_dyno, 0, 0),
        SD_BUS_PROPERTY("DynoRecycleAt", "t", property_dyno, 0, 0),
        SD_BUS_PROPERTY("DynoMemoryCurrent", "t", property_dyno, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("DynoMemoryPeak", "t", property_dyno, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_METHOD_WITH_NAMES("ListWorkers", NULL, , "a(ssuttto)", SD_BUS_PARAM(workers), method_list_workers,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetWorker", "s", SD_BUS_PARAM(name), "o", SD_BUS_PARAM(path), method_get_worker,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("SetBudget", "stb", SD_BUS_PARAM(name) SD_BUS_PARAM(bytes) SD_BUS_PARAM(runtime), NULL, ,
                                 method_set_budget, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("RecycleWorker", "s", SD_BUS_PARAM(name), NULL, , method_recycle, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("RestartWorker", "s", SD_BUS_PARAM(name), NULL, , method_restart, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("StopWorker", "s", SD_BUS_PARAM(name), NULL, , method_stop, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("StartWorker", "s", SD_BUS_PARAM(name), NULL, , method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reload", NULL, NULL, method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("WorkerRecycled", "sstt",
                                 SD_BUS_PARAM(name) SD_BUS_PARAM(reason) SD_BUS_PARAM(memory_bytes) SD_BUS_PARAM(budget_bytes), 0),
        SD_BUS_VTABLE_END,
};
/* clang-format on */

/* Worker objects: one per worker under /org/cgwatch1/worker/, found by decoding the path. */
static int worker_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                       sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        Worker *w;
        int r = sd_bus_path_decode(path, CGWATCH_WORKER_PATH_PREFIX, &name);
        if (r <= 0)
                return r;
        w = manager_find_worker(userdata, name);
        if (!w)
                return 0;
        *ret_found = w;
        return 1;
}

static int worker_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        Manager *m = userdata;
        char **l = calloc(m->n_workers + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_workers; i++)
                if (!(l[i] = strdup(m->workers[i]->object_path))) {
                        strv_free(l);
                        return -ENOMEM;
                }
        *ret_nodes = l;
        return 0;
}

static int property_worker(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Worker *w = userdata;
        uint64_t v = 0;

        if (streq(property, "State"))
                return sd_bus_message_append(reply, "s", worker_state_to_string(w->state));
        if (streq(property, "Supervisor"))
                return sd_bus_message_append(reply, "s", w->group->name ?: "");
        if (streq(property, "LastRecycleReason"))
                return sd_bus_message_append(
                        reply, "s",
                        w->last_recycle_reason == RECYCLE_NONE ? "" : recycle_reason_to_string(w->last_recycle_reason));
        if (streq(property, "MainPID"))
                return sd_bus_message_append(reply, "u", (uint32_t) w->pid);
        if (streq(property, "Restarts"))
                return sd_bus_message_append(reply, "u", w->restarts);
        if (streq(property, "Recycles"))
                return sd_bus_message_append(reply, "u", w->recycles);
        if (streq(property, "MemoryBudget"))
                return sd_bus_message_append(reply, "t", w->budget_bytes);
        if (streq(property, "MemoryCurrent"))
                v = worker_memory_current(w);
        else if (streq(property, "MemoryPeak"))
                (void) cgroup_read_u64(&w->manager->root, w->cgroup_path, "memory.peak", &v);
        return sd_bus_message_append(reply, "t", v);
}

/* clang-format off */
static const sd_bus_vtable worker_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Worker, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ControlGroup", "s", NULL, offsetof(Worker, cgroup_path), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Supervisor", "s", property_worker, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MainPID", "u", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Restarts", "u", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Recycles", "u", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastRecycleReason", "s", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MemoryBudget", "t", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MemoryCurrent", "t", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("MemoryPeak", "t", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_VTABLE_END,
};
/* clang-format on */

int bus_open(Manager *m) {
        int r;

        r = sd_bus_open_system(&m->bus);
        if (r < 0) {
                /* No system bus (a container, the plain test VM): run without D-Bus, say so once. */
                log_warning_errno(r, "Failed to connect to the system bus, running without D-Bus: %m");
                return 0;
        }
        r = sd_bus_add_object_vtable(m->bus, NULL, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the manager object: %m");
        r = sd_bus_add_fallback_vtable(m->bus, NULL, CGWATCH_WORKER_PATH_PREFIX, CGWATCH_WORKER_INTERFACE,
                                       worker_vtable, worker_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add worker objects: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, CGWATCH_WORKER_PATH_PREFIX, worker_enumerate, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the worker enumerator: %m");
        r = sd_bus_add_object_manager(m->bus, NULL, CGWATCH_MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object manager: %m");
        r = sd_bus_request_name(m->bus, CGWATCH_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to acquire the bus name " CGWATCH_BUS_NAME
                                          " (is another cgwatchd running, or the D-Bus policy not installed?): %m");
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        return 0;
}

void bus_close(Manager *m) {
        m->bus = sd_bus_flush_close_unref(m->bus);
}

void bus_emit_recycled(Manager *m, Worker *w, RecycleReason reason, uint64_t memory_bytes, uint64_t budget_bytes) {
        if (!m->bus)
                return;
        (void) sd_bus_emit_signal(m->bus, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, "WorkerRecycled", "sstt",
                                  w->name, recycle_reason_to_string(reason), memory_bytes, budget_bytes);
        (void) sd_bus_emit_properties_changed(m->bus, w->object_path, CGWATCH_WORKER_INTERFACE, "Recycles",
                                              "LastRecycleReason", NULL);
}

void bus_emit_worker_changed(Manager *m, Worker *w) {
        if (!m->bus)
                return;
        (void) sd_bus_emit_properties_changed(m->bus, w->object_path, CGWATCH_WORKER_INTERFACE, "State", "MainPID",
                                              "Restarts", "MemoryBudget", NULL);
}
