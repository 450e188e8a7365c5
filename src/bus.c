/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* D-Bus (see bus.h). Reads are open to everyone (SD_BUS_VTABLE_UNPRIVILEGED); anything that changes
 * state checks the caller's effective uid here as well as in the installed policy file. */

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "bus-queue.h"
#include "bus.h"
#include "cgroup-parse.h"
#include "cgwatch/cgwatch.h"
#include "growth.h"
#include "log.h"

struct Bus {
        sd_bus *bus;
        sd_event_source *flush_source; /* post source: one flush per loop iteration */
        BusQueue queue;
        const CgroupRoot *root;
        const BusOps *ops;
        void *userdata;
        const char *version;
};

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

static Worker *worker_from_name(Bus *b, const char *name, sd_bus_error *error) {
        Worker *w = b->ops->find_worker(b->userdata, name);
        if (!w)
                /* at most 64 bytes of a hostile name go back into the error */
                sd_bus_error_setf(error, CGWATCH_ERROR_NO_SUCH_WORKER, "No worker named '%.64s'.", name);
        return w;
}

/* For the writes: the caller must be root, and the worker must exist. Returns 0 and *ret. */
static int privileged_worker(sd_bus_message *msg, Bus *b, const char *name, sd_bus_error *error, Worker **ret) {
        int r = check_privileged(msg, error);
        if (r < 0)
                return r;
        *ret = worker_from_name(b, name, error);
        return *ret ? 0 : -ENOENT;
}

static uint64_t worker_read_u64(Worker *w, const char *file) {
        uint64_t v = 0;
        if (worker_state_is_active(w->state))
                (void) cgroup_read_u64(w->ctx->root, w->cgroup_path, file, &v);
        return v;
}

static int worker_read_stat(Worker *w, MemoryStat *ret) {
        char buf[8192];
        *ret = (MemoryStat){};
        if (!worker_state_is_active(w->state))
                return 0;
        if (cgroup_read_file(w->ctx->root, w->cgroup_path, "memory.stat", buf, sizeof buf) < 0)
                return 0;
        return memory_stat_parse(buf, strlen(buf), ret);
}

static int method_list_workers(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Bus *b = userdata;
        int r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssuttto)");
        if (r < 0)
                return r;
        for (size_t i = 0, n = b->ops->n_workers(b->userdata); i < n; i++) {
                Worker *w = b->ops->worker_at(b->userdata, i);
                r = sd_bus_message_append(reply, "(ssuttto)", w->name, worker_state_to_string(w->state),
                                          (uint32_t) w->pid, worker_read_u64(w, "memory.current"), w->budget_bytes,
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
        Bus *b = userdata;
        const char *name;
        uint64_t bytes;
        int runtime, r;
        Worker *w;

        r = sd_bus_message_read(msg, "stb", &name, &bytes, &runtime);
        if (r < 0)
                return r;
        r = privileged_worker(msg, b, name, error, &w);
        if (r < 0)
                return r;
        r = b->ops->set_budget(b->userdata, w, bytes, runtime, error);
        if (r < 0)
                return sd_bus_error_is_set(error) ? r : sd_bus_error_set_errnof(error, r, "Failed: %m");
        return sd_bus_reply_method_return(msg, NULL);
}

static int worker_op(sd_bus_message *msg, Bus *b, BusWorkerOp op, sd_bus_error *error) {
        const char *name;
        Worker *w;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        r = privileged_worker(msg, b, name, error, &w);
        if (r < 0)
                return r;
        r = b->ops->worker_op(b->userdata, w, op, error);
        if (r < 0)
                return sd_bus_error_is_set(error) ? r : sd_bus_error_set_errnof(error, r, "Failed: %m");
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_recycle(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return worker_op(msg, userdata, BUS_OP_RECYCLE, error);
}
static int method_restart(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return worker_op(msg, userdata, BUS_OP_RESTART, error);
}
static int method_stop(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return worker_op(msg, userdata, BUS_OP_STOP, error);
}
static int method_start(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return worker_op(msg, userdata, BUS_OP_START, error);
}

static int method_reload(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        int r = check_privileged(msg, error);
        if (r < 0)
                return r;
        r = b->ops->reload(b->userdata, error);
        if (r < 0)
                return sd_bus_error_is_set(error)
                               ? r
                               : sd_bus_error_set_errnof(
                                         error, r,
                                         "Reload failed, the running configuration is kept (see the log): %m");
        return sd_bus_reply_method_return(msg, NULL);
}

static int append_history(sd_bus_message *reply, const HistorySeries *s, usec_t since) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', CGWATCH_HISTORY_SAMPLE_TYPE);
        if (r < 0)
                return r;
        for (size_t i = s ? history_series_samples_since(s, since) : 0; s && i < s->samples.n; i++) {
                const HistorySample *x = history_ring_get(&s->samples, i);
                r = sd_bus_message_append(reply, CGWATCH_HISTORY_SAMPLE_TYPE, (uint64_t) x->realtime_usec,
                                          x->memory_current_bytes, x->anon_bytes, x->file_bytes, x->peak_bytes,
                                          x->budget_bytes);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', CGWATCH_HISTORY_EVENT_TYPE);
        if (r < 0)
                return r;
        for (size_t i = s ? history_series_events_since(s, since) : 0; s && i < s->events.n; i++) {
                const HistoryEvent *x = history_ring_get(&s->events, i);
                const char *reason = x->reason == RECYCLE_NONE ? "" : recycle_reason_to_string(x->reason);
                r = sd_bus_message_append(reply, CGWATCH_HISTORY_EVENT_TYPE, (uint64_t) x->realtime_usec,
                                          event_type_to_string(x->type) ?: "", reason ?: "", x->memory_bytes,
                                          x->budget_bytes);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int method_get_history(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Bus *b = userdata;
        const HistorySeries *s;
        const char *name;
        uint64_t since;
        int r;

        r = sd_bus_message_read(msg, "st", &name, &since);
        if (r < 0)
                return r;
        s = history_find(b->ops->history(b->userdata), name);
        /* A configured worker without samples yet has an empty history; an unknown name is an error. */
        if (!s && !streq(name, CGWATCH_HISTORY_DYNO) && !worker_from_name(b, name, error))
                return -ENOENT;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = append_history(reply, s, since);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_recycle_counts(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Bus *b = userdata;
        const History *h = b->ops->history(b->userdata);
        int r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', CGWATCH_RECYCLE_COUNT_TYPE);
        if (r < 0)
                return r;
        for (size_t i = 0; h && i < h->n; i++)
                for (RecycleReason k = 0; k < _RECYCLE_REASON_MAX; k++) {
                        if (h->series[i]->recycles[k] == 0 || !recycle_reason_to_string(k))
                                continue;
                        r = sd_bus_message_append(reply, CGWATCH_RECYCLE_COUNT_TYPE, h->series[i]->name,
                                                  recycle_reason_to_string(k), h->series[i]->recycles[k]);
                        if (r < 0)
                                return r;
                }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int property_dyno(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        BusDynoFacts d = {};
        uint64_t v = 0;

        b->ops->dyno(b->userdata, &d);
        if (streq(property, "DynoPressureSomeAvg10") || streq(property, "DynoPressureFullAvg10")) {
                char buf[512];
                MemoryPressure p = {};
                if (d.cgroup && cgroup_read_file(b->root, d.cgroup, "memory.pressure", buf, sizeof buf) >= 0)
                        (void) memory_pressure_parse(buf, strlen(buf), &p);
                return sd_bus_message_append(reply, "d",
                                             streq(property, "DynoPressureSomeAvg10") ? p.some.avg10 : p.full.avg10);
        }
        if (streq(property, "DynoMemoryLimit"))
                v = d.limit_bytes;
        else if (streq(property, "DynoRecycleAt"))
                v = d.recycle_at_bytes;
        else if (d.cgroup)
                (void) cgroup_read_u64(b->root, d.cgroup,
                                       streq(property, "DynoMemoryCurrent") ? "memory.current" : "memory.peak", &v);
        return sd_bus_message_append(reply, "t", v);
}

/* The publisher's state and counters (sink-amqp.h), read when asked: they change on another
 * thread, so only AmqpConnected announces its changes. */
static int property_amqp(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        static const struct {
                const char *name;
                size_t offset;
        } counters[] = {
                {"AmqpPublished", offsetof(AmqpStats, published)},
                {"AmqpConfirmed", offsetof(AmqpStats, confirmed)},
                {"AmqpNacked", offsetof(AmqpStats, nacked)},
                {"AmqpReturned", offsetof(AmqpStats, returned)},
                {"AmqpResent", offsetof(AmqpStats, resent)},
                {"AmqpDroppedEvents", offsetof(AmqpStats, dropped_events)},
                {"AmqpDroppedSamples", offsetof(AmqpStats, dropped_samples)},
                {"AmqpReconnects", offsetof(AmqpStats, reconnects)},
                {"AmqpQueued", offsetof(AmqpStats, queued)},
                {"AmqpInFlight", offsetof(AmqpStats, in_flight)},
        };
        Bus *b = userdata;
        AmqpStats st = {};
        bool on = b->ops->amqp_stats && b->ops->amqp_stats(b->userdata, &st);

        if (streq(property, "AmqpEnabled"))
                return sd_bus_message_append(reply, "b", on);
        if (streq(property, "AmqpConnected"))
                return sd_bus_message_append(reply, "b", st.connected);
        if (streq(property, "AmqpLastError"))
                return sd_bus_message_append(reply, "s", st.last_error);
        for (size_t i = 0; i < ELEMENTSOF(counters); i++)
                if (streq(property, counters[i].name))
                        return sd_bus_message_append(reply, "t",
                                                     *(const uint64_t *) ((const uint8_t *) &st + counters[i].offset));
        return -EINVAL;
}

void bus_amqp_changed(Bus *b) {
        if (b && b->bus)
                (void) sd_bus_emit_properties_changed(b->bus, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE,
                                                      "AmqpConnected", NULL);
}

/* clang-format off */
static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", NULL, offsetof(Bus, version), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DynoMemoryLimit", "t", property_dyno, 0, 0),
        SD_BUS_PROPERTY("DynoRecycleAt", "t", property_dyno, 0, 0),
        SD_BUS_PROPERTY("DynoMemoryCurrent", "t", property_dyno, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("DynoMemoryPeak", "t", property_dyno, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("DynoPressureSomeAvg10", "d", property_dyno, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("DynoPressureFullAvg10", "d", property_dyno, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        /* [AMQP] (issue 8) */
        SD_BUS_PROPERTY("AmqpEnabled", "b", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AmqpConnected", "b", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("AmqpLastError", "s", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("AmqpPublished", "t", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("AmqpConfirmed", "t", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("AmqpNacked", "t", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("AmqpReturned", "t", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("AmqpResent", "t", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("AmqpDroppedEvents", "t", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("AmqpDroppedSamples", "t", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("AmqpReconnects", "t", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("AmqpQueued", "t", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("AmqpInFlight", "t", property_amqp, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
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
        SD_BUS_METHOD_WITH_NAMES("GetHistory", "st", SD_BUS_PARAM(name) SD_BUS_PARAM(since_usec),
                                 "a" CGWATCH_HISTORY_SAMPLE_TYPE "a" CGWATCH_HISTORY_EVENT_TYPE,
                                 SD_BUS_PARAM(samples) SD_BUS_PARAM(events), method_get_history,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetRecycleCounts", NULL, , "a" CGWATCH_RECYCLE_COUNT_TYPE, SD_BUS_PARAM(counts),
                                 method_get_recycle_counts, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("WorkerRecycled", "sstt",
                                 SD_BUS_PARAM(name) SD_BUS_PARAM(reason) SD_BUS_PARAM(memory_bytes) SD_BUS_PARAM(budget_bytes), 0),
        SD_BUS_VTABLE_END,
};
/* clang-format on */

/* Worker objects: one per worker under /org/cgwatch1/worker/, found by decoding the path; the
 * object's userdata is the Worker. */
static int worker_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                       sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        Bus *b = userdata;
        Worker *w;
        int r = sd_bus_path_decode(path, CGWATCH_WORKER_PATH_PREFIX, &name);
        if (r <= 0)
                return r;
        w = b->ops->find_worker(b->userdata, name);
        if (!w)
                return 0;
        *ret_found = w;
        return 1;
}

static int worker_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        Bus *b = userdata;
        size_t n = b->ops->n_workers(b->userdata);
        char **l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(l[i] = strdup(b->ops->worker_at(b->userdata, i)->object_path))) {
                        strv_free(l);
                        return -ENOMEM;
                }
        *ret_nodes = l;
        return 0;
}

static int property_worker(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Worker *w = userdata;
        MemoryStat st;

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
        if (streq(property, "Incarnation"))
                return sd_bus_message_append(reply, "u", w->incarnation);
        if (streq(property, "MemoryBudget"))
                return sd_bus_message_append(reply, "t", w->budget_bytes);
        if (streq(property, "StartTimestamp"))
                return sd_bus_message_append(reply, "t", w->pid > 0 ? (uint64_t) w->started_realtime_usec : 0);
        if (streq(property, "Lifetimes"))
                return sd_bus_message_append(reply, "u", w->lifetimes);
        if (streq(property, "LeakVerdict"))
                return sd_bus_message_append(reply, "s", w->leaking ? "leaking" : "");
        if (streq(property, "LeakRate"))
                return sd_bus_message_append(reply, "x", w->leaking ? w->leak_rate : (int64_t) 0);
        if (streq(property, "GrowthRate") || streq(property, "TimeToBudget")) {
                int64_t rate = 0;
                bool known = worker_state_is_active(w->state) && growth_rate(&w->growth, &rate) >= 0;
                if (streq(property, "GrowthRate"))
                        return sd_bus_message_append(reply, "x", known ? rate : (int64_t) 0);
                uint64_t now_bytes = known && w->growth.n > 0 ? w->growth.points[w->growth.n - 1].bytes : 0;
                return sd_bus_message_append(reply, "t",
                                             known ? (uint64_t) growth_time_to(now_bytes, w->budget_bytes, rate)
                                                   : (uint64_t) USEC_INFINITY);
        }
        if (streq(property, "MemoryCurrent"))
                return sd_bus_message_append(reply, "t", worker_read_u64(w, "memory.current"));
        if (streq(property, "MemoryPeak"))
                return sd_bus_message_append(reply, "t", worker_read_u64(w, "memory.peak"));
        (void) worker_read_stat(w, &st);
        return sd_bus_message_append(reply, "t", streq(property, "MemoryAnon") ? st.anon : st.file);
}

/* clang-format off */
static const sd_bus_vtable worker_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Worker, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ControlGroup", "s", NULL, offsetof(Worker, cgroup_path), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Supervisor", "s", property_worker, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MainPID", "u", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Incarnation", "u", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("Restarts", "u", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Recycles", "u", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastRecycleReason", "s", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MemoryBudget", "t", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StartTimestamp", "t", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Lifetimes", "u", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LeakVerdict", "s", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LeakRate", "x", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GrowthRate", "x", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("TimeToBudget", "t", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("MemoryCurrent", "t", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("MemoryPeak", "t", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("MemoryAnon", "t", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_PROPERTY("MemoryFile", "t", property_worker, 0, SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_VTABLE_END,
};
/* clang-format on */

/* The end of a loop iteration: one PropertiesChanged per worker with pending changes, values read
 * now (the final ones). A worker gone meanwhile is skipped. */
static int on_flush(sd_event_source *s, void *userdata) {
        Bus *b = userdata;

        for (size_t i = 0; i < b->queue.n; i++) {
                const BusQueueEntry *q = &b->queue.entries[i];
                Worker *w = b->ops->find_worker(b->userdata, q->worker);
                const char *names[16];
                size_t n = 0;

                if (!w)
                        continue;
                for (unsigned bit = 1; bit <= _WPROP_ALL && n < ELEMENTSOF(names) - 1; bit <<= 1)
                        if (q->mask & bit)
                                names[n++] = worker_property_name((WorkerProperty) bit);
                names[n] = NULL;
                (void) sd_bus_emit_properties_changed_strv(b->bus, w->object_path, CGWATCH_WORKER_INTERFACE,
                                                           (char **) names);
        }
        bus_queue_clear(&b->queue);
        return 0;
}

void bus_sink_emit(void *userdata, const Event *e) {
        Bus *b = userdata;

        if (!b || !b->bus)
                return;
        if (e->type == EVENT_RECYCLED)
                (void) sd_bus_emit_signal(b->bus, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, "WorkerRecycled",
                                          "sstt", e->worker, recycle_reason_to_string(e->reason), e->memory_bytes,
                                          e->budget_bytes);
        if (bus_queue_mark(&b->queue, e->worker ?: "", worker_properties_changed_by(e)) > 0)
                (void) sd_event_source_set_enabled(b->flush_source, SD_EVENT_ONESHOT);
}

int bus_open(sd_event *event, const CgroupRoot *root, const char *bus_name, const BusOps *ops, void *userdata,
             Bus **ret) {
        _cleanup_(bus_freep) Bus *b = NULL;
        int r;

        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->root = root;
        b->ops = ops;
        b->userdata = userdata;
        b->version = CGWATCH_VERSION;
        r = sd_bus_open_system(&b->bus);
        if (r < 0) {
                /* No system bus (a container, the plain test VM): run without D-Bus, say so once. */
                log_warning_errno(r, "Failed to connect to the system bus, running without D-Bus: %m");
                *ret = NULL;
                return 0;
        }
        r = sd_bus_add_object_vtable(b->bus, NULL, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, manager_vtable, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add the manager object: %m");
        r = sd_bus_add_fallback_vtable(b->bus, NULL, CGWATCH_WORKER_PATH_PREFIX, CGWATCH_WORKER_INTERFACE,
                                       worker_vtable, worker_find, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add worker objects: %m");
        r = sd_bus_add_node_enumerator(b->bus, NULL, CGWATCH_WORKER_PATH_PREFIX, worker_enumerate, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add the worker enumerator: %m");
        r = sd_bus_add_object_manager(b->bus, NULL, CGWATCH_MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object manager: %m");
        r = sd_bus_request_name(b->bus, bus_name, 0);
        if (r < 0)
                return log_error_errno(r,
                                       "Failed to acquire the bus name %s (is another cgwatchd running, or the D-Bus "
                                       "policy not installed?): %m",
                                       bus_name);
        r = sd_bus_attach_event(b->bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        r = sd_event_add_post(event, &b->flush_source, on_flush, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add the bus flush source: %m");
        (void) sd_event_source_set_enabled(b->flush_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(b->flush_source, "bus-properties-flush");
        *ret = TAKE_PTR(b);
        return 0;
}

Bus *bus_free(Bus *b) {
        if (!b)
                return NULL;
        sd_event_source_disable_unref(b->flush_source);
        bus_queue_done(&b->queue);
        sd_bus_flush_close_unref(b->bus);
        free(b);
        return NULL;
}
