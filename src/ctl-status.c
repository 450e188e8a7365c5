/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The read commands on the worker table: status [WORKER], show WORKER, list. */

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cgwatch/cgwatch.h"
#include "ctl.h"
#include "parse-util.h"

static json_object *worker_to_json(const CtlWorker *w) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(w->name));
        json_object_object_add(o, "state", json_object_new_string(w->state));
        json_object_object_add(o, "pid", json_object_new_int64(w->pid));
        json_object_object_add(o, "memory_current", json_object_new_uint64(w->memory_bytes));
        json_object_object_add(o, "memory_budget", json_object_new_uint64(w->budget_bytes));
        json_object_object_add(o, "recycles", json_object_new_uint64(w->recycles));
        json_object_object_add(o, "object_path", json_object_new_string(w->path));
        return o;
}

/* GetWorker(name) -> its object path. Returns 0 or an exit status. */
static int worker_path(Ctl *ctl, const char *name, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *p;
        int r = ctl_call(ctl, "GetWorker", &reply, "s", name);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "o", &p);
        if (r < 0)
                return ctl_fail(r, NULL, "parse the reply");
        *ret = strdup(p);
        return *ret ? 0 : ctl_fail(-ENOMEM, NULL, "find the worker");
}

static int worker_properties(Ctl *ctl, const char *name, json_object **ret) {
        _cleanup_free_ char *path = NULL;
        int r = worker_path(ctl, name, &path);
        return r != 0 ? r : ctl_get_worker(ctl, path, ret);
}

static int status_worker(Ctl *ctl, const char *name) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], c[FORMAT_BYTES_MAX], d[FORMAT_BYTES_MAX], e[FORMAT_BYTES_MAX];
        char t[FORMAT_DURATION_MAX];
        json_object *o;
        uint64_t cur, budget, start;
        int64_t rate;
        int r, ret;

        r = worker_properties(ctl, name, &o);
        if (r != 0)
                return r;
        ret = streq(ctl_json_str(o, "State"), "running") ? 0 : CTL_EXIT_NOT_RUNNING;
        if (ctl_arg.json) {
                ctl_json_print(o, /* one_line= */ false);
                return ret;
        }
        cur = ctl_json_u64(o, "MemoryCurrent");
        budget = ctl_json_u64(o, "MemoryBudget");
        rate = ctl_json_i64(o, "GrowthRate");
        start = ctl_json_u64(o, "StartTimestamp");
        printf("%s - %s", name, ctl_json_str(o, "State"));
        if (ctl_json_u64(o, "MainPID") > 0)
                printf(" (PID %" PRIu64 ")", ctl_json_u64(o, "MainPID"));
        printf("\n   Supervisor: %s\n", *ctl_json_str(o, "Supervisor") ? ctl_json_str(o, "Supervisor") : "-");
        printf("  ControlGroup: %s\n", ctl_json_str(o, "ControlGroup"));
        printf("       Memory: %s of %s budget (%" PRIu64 "%%), peak %s; anon %s, file %s\n", format_bytes(a, cur),
               format_bytes(b, budget), budget > 0 ? cur * 100 / budget : 0,
               format_bytes(c, ctl_json_u64(o, "MemoryPeak")), format_bytes(d, ctl_json_u64(o, "MemoryAnon")),
               format_bytes(e, ctl_json_u64(o, "MemoryFile")));
        printf("       Growth: %s%s/s, budget reached in %s\n", rate < 0 ? "-" : "+",
               format_bytes(a, (uint64_t) (rate < 0 ? -rate : rate)),
               format_duration(t, (usec_t) ctl_json_u64(o, "TimeToBudget")));
        printf("     Recycles: %" PRIu64 " (last: %s), restarts %" PRIu64 ", lifetimes %" PRIu64 "%s%s\n",
               ctl_json_u64(o, "Recycles"),
               *ctl_json_str(o, "LastRecycleReason") ? ctl_json_str(o, "LastRecycleReason") : "-",
               ctl_json_u64(o, "Restarts"), ctl_json_u64(o, "Lifetimes"), *ctl_json_str(o, "LeakVerdict") ? ", " : "",
               ctl_json_str(o, "LeakVerdict"));
        if (start > 0) {
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                uint64_t now_usec = (uint64_t) now.tv_sec * USEC_PER_SEC + (uint64_t) now.tv_nsec / 1000;
                printf("      Running: %s\n",
                       format_duration(t, now_usec > start ? (now_usec - start) / USEC_PER_SEC * USEC_PER_SEC : 0));
        }
        json_object_put(o);
        return ret;
}

static int run_status(Ctl *ctl, int argc, char *argv[]) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], c[FORMAT_BYTES_MAX];
        CtlWorker *w = NULL;
        json_object *dyno;
        size_t n;
        int r;

        if (argc == 1)
                return status_worker(ctl, argv[0]);
        r = ctl_list_workers(ctl, &w, &n);
        if (r != 0)
                return r;
        r = ctl_get_dyno(ctl, &dyno);
        if (r != 0) {
                ctl_workers_free(w, n);
                return r;
        }
        if (ctl_arg.json) {
                json_object *root = json_object_new_object(), *arr = json_object_new_array();
                json_object_object_add(root, "version", json_object_new_string(ctl_json_str(dyno, "Version")));
                json_object_object_add(root, "dyno_memory_limit",
                                       json_object_new_uint64(ctl_json_u64(dyno, "DynoMemoryLimit")));
                json_object_object_add(root, "dyno_recycle_at",
                                       json_object_new_uint64(ctl_json_u64(dyno, "DynoRecycleAt")));
                json_object_object_add(root, "dyno_memory_current",
                                       json_object_new_uint64(ctl_json_u64(dyno, "DynoMemoryCurrent")));
                json_object_object_add(root, "dyno_memory_peak",
                                       json_object_new_uint64(ctl_json_u64(dyno, "DynoMemoryPeak")));
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(arr, worker_to_json(&w[i]));
                json_object_object_add(root, "workers", arr);
                ctl_json_print(root, /* one_line= */ false);
        } else {
                printf("Dyno: %s in use (peak %s) of %s\n\n", format_bytes(a, ctl_json_u64(dyno, "DynoMemoryCurrent")),
                       format_bytes(b, ctl_json_u64(dyno, "DynoMemoryPeak")),
                       format_bytes(c, ctl_json_u64(dyno, "DynoMemoryLimit")));
                printf("%-24s %-9s %8s %10s %10s %8s\n", "WORKER", "STATE", "PID", "MEMORY", "BUDGET", "RECYCLES");
                for (size_t i = 0; i < n; i++)
                        printf("%-24s %-9s %8" PRIu32 " %10s %10s %8" PRIu64 "\n", w[i].name, w[i].state, w[i].pid,
                               format_bytes(a, w[i].memory_bytes), format_bytes(b, w[i].budget_bytes), w[i].recycles);
        }
        json_object_put(dyno);
        ctl_workers_free(w, n);
        return 0;
}

static int run_show(Ctl *ctl, int argc, char *argv[]) {
        json_object *o;
        int r = worker_properties(ctl, argv[0], &o);
        if (r != 0)
                return r;
        if (ctl_arg.json) {
                ctl_json_print(o, /* one_line= */ false);
                return 0;
        }
        json_object_object_foreach(o, key, val) printf("%s=%s\n", key, json_object_get_string(val));
        json_object_put(o);
        return 0;
}

static int run_list(Ctl *ctl, int argc, char *argv[]) {
        CtlWorker *w = NULL;
        size_t n;
        int r = ctl_list_workers(ctl, &w, &n);
        if (r != 0)
                return r;
        if (ctl_arg.json) {
                json_object *arr = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(arr, worker_to_json(&w[i]));
                ctl_json_print(arr, /* one_line= */ false);
        } else
                for (size_t i = 0; i < n; i++)
                        printf("%s\t%s\t%" PRIu32 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n", w[i].name, w[i].state,
                               w[i].pid, w[i].memory_bytes, w[i].budget_bytes, w[i].recycles);
        ctl_workers_free(w, n);
        return 0;
}

const CtlCommand ctl_command_status = {
        .name = "status",
        .args = "[WORKER]",
        .help = "The dyno and its workers, or one worker in detail",
        .max_args = 1,
        .flags = CTL_READ,
        .run = run_status,
};

const CtlCommand ctl_command_show = {
        .name = "show",
        .args = "WORKER",
        .help = "Every property of one worker, as NAME=VALUE",
        .min_args = 1,
        .max_args = 1,
        .flags = CTL_READ,
        .run = run_show,
};

const CtlCommand ctl_command_list = {
        .name = "list",
        .help = "One worker per line, tab-separated, for scripts",
        .flags = CTL_READ,
        .run = run_list,
};
