/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatchctl: the command-line client of cgwatchd, over D-Bus (org.cgwatch1 on the system bus).
 * Exit codes: 0 success, 1 the call failed, 64 bad usage, 69 the daemon is not reachable. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#include "cgwatch/cgwatch.h"
#include "parse-util.h"
#include "shared/macro.h"

#define EXIT_USAGE       64
#define EXIT_UNAVAILABLE 69

static bool arg_json;
static bool arg_runtime;
static bool arg_user_bus;

static void help(void) {
        printf("%s [OPTIONS...] COMMAND [NAME] [ARG]\n\n"
               "Query and control cgwatchd over D-Bus.\n\n"
               "Commands:\n"
               "  status                 List the dyno and its workers\n"
               "  show NAME              Show one worker's properties\n"
               "  recycle NAME           Recycle a worker gracefully (reason: manual)\n"
               "  restart NAME           Restart a worker\n"
               "  stop NAME              Stop a worker (it stays down)\n"
               "  start NAME             Start a stopped or failed worker\n"
               "  set-budget NAME SIZE   Set MemoryBudget (e.g. 256M); persists unless --runtime\n"
               "  reload                 Reload the configuration\n\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "     --json              Print JSON (status, show)\n"
               "     --runtime           set-budget: do not persist the change\n",
               program_invocation_short_name);
}

static void format_bytes(uint64_t v, char *buf, size_t size) {
        static const char suffix[] = "KMGT";
        double d = (double) v;
        int i = -1;
        if (v == UINT64_MAX) {
                snprintf(buf, size, "max");
                return;
        }
        while (d >= 1024.0 && i < 3) {
                d /= 1024.0;
                i++;
        }
        if (i < 0)
                snprintf(buf, size, "%" PRIu64 "B", v);
        else
                snprintf(buf, size, "%.1f%c", d, suffix[i]);
}

static int fail(int r, const sd_bus_error *e, const char *what) {
        fprintf(stderr, "Failed to %s: %s\n", what, e && e->message ? e->message : strerror(-r));
        if (e && sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN))
                return EXIT_UNAVAILABLE;
        return EXIT_FAILURE;
}

static int get_u64(sd_bus *bus, const char *prop, uint64_t *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        return sd_bus_get_property_trivial(bus, CGWATCH_BUS_NAME, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, prop,
                                           &e, 't', ret);
}

static int cmd_status(sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name, *state, *path;
        uint64_t limit = 0, current = 0, peak = 0, mem, budget, recycles;
        uint32_t pid;
        json_object *root = NULL, *arr = NULL;
        char a[32], b[32], c[32];
        int r;

        r = sd_bus_call_method(bus, CGWATCH_BUS_NAME, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, "ListWorkers",
                               &e, &reply, NULL);
        if (r < 0)
                return fail(r, &e, "list workers");
        (void) get_u64(bus, "DynoMemoryLimit", &limit);
        (void) get_u64(bus, "DynoMemoryCurrent", &current);
        (void) get_u64(bus, "DynoMemoryPeak", &peak);

        if (arg_json) {
                root = json_object_new_object();
                arr = json_object_new_array();
                json_object_object_add(root, "dyno_memory_limit", json_object_new_uint64(limit));
                json_object_object_add(root, "dyno_memory_current", json_object_new_uint64(current));
                json_object_object_add(root, "dyno_memory_peak", json_object_new_uint64(peak));
        } else {
                format_bytes(current, a, sizeof a);
                format_bytes(peak, b, sizeof b);
                format_bytes(limit, c, sizeof c);
                printf("Dyno: %s in use (peak %s) of %s\n\n", a, b, c);
                printf("%-24s %-9s %8s %10s %10s %8s\n", "WORKER", "STATE", "PID", "MEMORY", "BUDGET", "RECYCLES");
        }
        r = sd_bus_message_enter_container(reply, 'a', "(ssuttto)");
        if (r < 0)
                return fail(r, NULL, "parse the reply");
        while ((r = sd_bus_message_read(reply, "(ssuttto)", &name, &state, &pid, &mem, &budget, &recycles, &path)) >
               0) {
                if (arg_json) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "name", json_object_new_string(name));
                        json_object_object_add(o, "state", json_object_new_string(state));
                        json_object_object_add(o, "pid", json_object_new_int64(pid));
                        json_object_object_add(o, "memory_current", json_object_new_uint64(mem));
                        json_object_object_add(o, "memory_budget", json_object_new_uint64(budget));
                        json_object_object_add(o, "recycles", json_object_new_uint64(recycles));
                        json_object_object_add(o, "object_path", json_object_new_string(path));
                        json_object_array_add(arr, o);
                } else {
                        format_bytes(mem, a, sizeof a);
                        format_bytes(budget, b, sizeof b);
                        printf("%-24s %-9s %8" PRIu32 " %10s %10s %8" PRIu64 "\n", name, state, pid, a, b, recycles);
                }
        }
        if (r < 0)
                return fail(r, NULL, "parse the reply");
        if (arg_json) {
                json_object_object_add(root, "workers", arr);
                printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
                json_object_put(root);
        }
        return 0;
}

static int cmd_show(sd_bus *bus, const char *name) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        static const char *const props_s[] = {"Name", "Supervisor", "State", "ControlGroup", "LastRecycleReason"};
        static const char *const props_u[] = {"MainPID", "Restarts", "Recycles"};
        static const char *const props_t[] = {"MemoryCurrent", "MemoryPeak", "MemoryBudget"};
        json_object *root = arg_json ? json_object_new_object() : NULL;
        const char *p;
        int r;

        r = sd_bus_call_method(bus, CGWATCH_BUS_NAME, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, "GetWorker", &e,
                               &reply, "s", name);
        if (r < 0)
                return fail(r, &e, "find the worker");
        r = sd_bus_message_read(reply, "o", &p);
        if (r < 0 || !(path = strdup(p)))
                return fail(r < 0 ? r : -ENOMEM, NULL, "parse the reply");

        for (size_t i = 0; i < ELEMENTSOF(props_s); i++) {
                _cleanup_free_ char *v = NULL;
                r = sd_bus_get_property_string(bus, CGWATCH_BUS_NAME, path, CGWATCH_WORKER_INTERFACE, props_s[i], &e,
                                               &v);
                if (r < 0)
                        return fail(r, &e, "read a property");
                if (root)
                        json_object_object_add(root, props_s[i], json_object_new_string(v));
                else
                        printf("%s=%s\n", props_s[i], v);
        }
        for (size_t i = 0; i < ELEMENTSOF(props_u); i++) {
                uint32_t v;
                r = sd_bus_get_property_trivial(bus, CGWATCH_BUS_NAME, path, CGWATCH_WORKER_INTERFACE, props_u[i], &e,
                                                'u', &v);
                if (r < 0)
                        return fail(r, &e, "read a property");
                if (root)
                        json_object_object_add(root, props_u[i], json_object_new_int64(v));
                else
                        printf("%s=%" PRIu32 "\n", props_u[i], v);
        }
        for (size_t i = 0; i < ELEMENTSOF(props_t); i++) {
                uint64_t v;
                r = sd_bus_get_property_trivial(bus, CGWATCH_BUS_NAME, path, CGWATCH_WORKER_INTERFACE, props_t[i], &e,
                                                't', &v);
                if (r < 0)
                        return fail(r, &e, "read a property");
                if (root)
                        json_object_object_add(root, props_t[i], json_object_new_uint64(v));
                else
                        printf("%s=%" PRIu64 "\n", props_t[i], v);
        }
        if (root) {
                printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
                json_object_put(root);
        }
        return 0;
}

static int call_simple(sd_bus *bus, const char *method, const char *types, const char *name, uint64_t bytes,
                       int runtime) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;
        if (!types)
                r = sd_bus_call_method(bus, CGWATCH_BUS_NAME, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, method,
                                       &e, NULL, NULL);
        else if (streq(types, "s"))
                r = sd_bus_call_method(bus, CGWATCH_BUS_NAME, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, method,
                                       &e, NULL, "s", name);
        else
                r = sd_bus_call_method(bus, CGWATCH_BUS_NAME, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, method,
                                       &e, NULL, "stb", name, bytes, runtime);
        return r < 0 ? fail(r, &e, method) : 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_JSON, ARG_RUNTIME, ARG_USER };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},      {"version", no_argument, NULL, ARG_VERSION},
                {"json", no_argument, NULL, ARG_JSON}, {"runtime", no_argument, NULL, ARG_RUNTIME},
                {"user", no_argument, NULL, ARG_USER}, {}};
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *cmd;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("cgwatchctl " CGWATCH_VERSION "\n");
                        return 0;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_RUNTIME:
                        arg_runtime = true;
                        break;
                case ARG_USER:
                        arg_user_bus = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        cmd = optind < argc ? argv[optind] : "status";
        int nargs = argc - optind - 1;
        const char *name = nargs >= 1 ? argv[optind + 1] : NULL;

        static const struct {
                const char *cmd, *method;
                int nargs;
        } verbs[] = {
                {"status", NULL, 0},
                {"show", NULL, 1},
                {"recycle", "RecycleWorker", 1},
                {"restart", "RestartWorker", 1},
                {"stop", "StopWorker", 1},
                {"start", "StartWorker", 1},
                {"set-budget", "SetBudget", 2},
                {"reload", "Reload", 0},
        };
        size_t v;
        for (v = 0; v < ELEMENTSOF(verbs); v++)
                if (streq(verbs[v].cmd, cmd))
                        break;
        if (v == ELEMENTSOF(verbs)) {
                fprintf(stderr, "Unknown command '%s'; see --help.\n", cmd);
                return EXIT_USAGE;
        }
        if (optind < argc && nargs != verbs[v].nargs) {
                fprintf(stderr, "'%s' takes %d argument(s); see --help.\n", cmd, verbs[v].nargs);
                return EXIT_USAGE;
        }

        r = arg_user_bus ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "Failed to connect to the %s bus: %s\n", arg_user_bus ? "user" : "system",
                        strerror(-r));
                return EXIT_UNAVAILABLE;
        }

        if (streq(cmd, "status"))
                return cmd_status(bus);
        if (streq(cmd, "show"))
                return cmd_show(bus, name);
        if (streq(cmd, "reload"))
                return call_simple(bus, "Reload", NULL, NULL, 0, 0);
        if (streq(cmd, "set-budget")) {
                ConfigSize s;
                r = parse_size(argv[optind + 2], &s);
                if (r < 0 || s.percent) {
                        fprintf(stderr, "Invalid size '%s' (expected e.g. 256M or 1G).\n", argv[optind + 2]);
                        return EXIT_USAGE;
                }
                return call_simple(bus, "SetBudget", "stb", name, s.value, arg_runtime);
        }
        return call_simple(bus, verbs[v].method, "s", name, 0, 0);
}
