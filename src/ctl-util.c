/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatchctl's shared helpers (see ctl.h): connecting, calling, mapping errors to exit statuses,
 * reading properties into JSON. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "cgwatch/cgwatch.h"
#include "ctl.h"
#include "dyno-name.h"

int ctl_connect(const char *host, sd_bus **ret) {
        int r;

        if (host)
                r = sd_bus_open_system_remote(ret, host);
        else
                r = ctl_arg.user_bus ? sd_bus_open_user(ret) : sd_bus_open_system(ret);
        if (r < 0) {
                fprintf(stderr, "Failed to connect to the %s bus%s%s: %s\n", ctl_arg.user_bus ? "user" : "system",
                        host ? " of " : "", host ?: "", strerror(-r));
                return CTL_EXIT_UNAVAILABLE;
        }
        return 0;
}

int ctl_dest_for_dyno(const char *dyno, char **ret) {
        if (!dyno) {
                *ret = strdup(CGWATCH_BUS_NAME);
                return *ret ? 0 : -ENOMEM;
        }
        return dyno_bus_name(dyno, ret);
}

int ctl_fail(int r, const sd_bus_error *e, const char *what) {
        bool set = e && sd_bus_error_is_set(e);

        fprintf(stderr, "Failed to %s: %s\n", what, set && e->message ? e->message : strerror(-r));
        /* sd-bus turns local failures into "System.Error.E...": those are judged by errno. */
        if (set && strncmp(e->name, "System.Error.", strlen("System.Error.")) != 0) {
                if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                           SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_DISCONNECTED))
                        return CTL_EXIT_UNAVAILABLE;
                if (sd_bus_error_has_name(e, "org.cgwatch1.NoSuchWorker"))
                        return CTL_EXIT_NO_WORKER;
                if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED))
                        return CTL_EXIT_NOPERM;
                if (sd_bus_error_has_name(e, SD_BUS_ERROR_INVALID_ARGS))
                        return CTL_EXIT_DATAERR;
                return CTL_EXIT_FAILURE;
        }
        if (set)
                r = -sd_bus_error_get_errno(e);
        /* No error reply: the transport (the ssh link, the bus socket) or the reply's format. */
        switch (-r) {
        case ECONNRESET:
        case ENOTCONN:
        case ECONNREFUSED:
        case EPIPE:
        case ETIMEDOUT:
                return CTL_EXIT_UNAVAILABLE;
        case EBADMSG:
        case ENXIO:
        case EINVAL:
                return CTL_EXIT_PROTOCOL;
        default:
                return CTL_EXIT_FAILURE;
        }
}

int ctl_call(Ctl *ctl, const char *method, sd_bus_message **ret_reply, const char *types, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        va_start(ap, types);
        r = sd_bus_call_methodv(ctl->bus, ctl->dest, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, method, &e,
                                ret_reply, types, ap);
        va_end(ap);
        return r < 0 ? ctl_fail(r, &e, method) : 0;
}

void ctl_workers_free(CtlWorker *w, size_t n) {
        for (size_t i = 0; w && i < n; i++) {
                free(w[i].name);
                free(w[i].state);
                free(w[i].path);
        }
        free(w);
}

int ctl_list_workers(Ctl *ctl, CtlWorker **ret, size_t *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        CtlWorker *l = NULL;
        size_t n = 0;
        int r;

        r = ctl_call(ctl, "ListWorkers", &reply, NULL);
        if (r != 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ssuttto)");
        for (;;) {
                const char *name, *state, *path;
                CtlWorker w = {};
                CtlWorker *nl;

                if (r < 0)
                        break;
                r = sd_bus_message_read(reply, "(ssuttto)", &name, &state, &w.pid, &w.memory_bytes, &w.budget_bytes,
                                        &w.recycles, &path);
                if (r <= 0)
                        break;
                nl = realloc(l, (n + 1) * sizeof *l);
                if (!nl) {
                        r = -ENOMEM;
                        break;
                }
                l = nl;
                w.name = strdup(name);
                w.state = strdup(state);
                w.path = strdup(path);
                l[n++] = w;
                if (!w.name || !w.state || !w.path) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (r < 0) {
                ctl_workers_free(l, n);
                return ctl_fail(r, NULL, "parse the worker list");
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

static json_object *variant_to_json(sd_bus_message *m) {
        const char *contents;
        char type;
        union {
                const char *s;
                uint32_t u;
                int32_t i;
                uint64_t t;
                int64_t x;
                double d;
                int b;
                uint8_t y;
                uint16_t q;
                int16_t n;
        } v;
        json_object *o = NULL;

        if (sd_bus_message_peek_type(m, &type, &contents) <= 0 || type != 'v')
                return NULL;
        if (sd_bus_message_enter_container(m, 'v', contents) < 0)
                return NULL;
        if (strlen(contents) == 1 && sd_bus_message_read_basic(m, contents[0], &v) > 0)
                switch (contents[0]) {
                case 's':
                case 'o':
                case 'g':
                        o = json_object_new_string(v.s);
                        break;
                case 'u':
                        o = json_object_new_int64(v.u);
                        break;
                case 'i':
                        o = json_object_new_int64(v.i);
                        break;
                case 't':
                        o = json_object_new_uint64(v.t);
                        break;
                case 'x':
                        o = json_object_new_int64(v.x);
                        break;
                case 'd':
                        o = json_object_new_double(v.d);
                        break;
                case 'b':
                        o = json_object_new_boolean(v.b);
                        break;
                case 'y':
                        o = json_object_new_int64(v.y);
                        break;
                case 'q':
                        o = json_object_new_int64(v.q);
                        break;
                case 'n':
                        o = json_object_new_int64(v.n);
                        break;
                }
        else
                (void) sd_bus_message_skip(m, contents);
        (void) sd_bus_message_exit_container(m);
        return o;
}

int ctl_read_properties(sd_bus_message *m, json_object *obj) {
        const char *name;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                json_object *v;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                v = variant_to_json(m);
                if (v)
                        json_object_object_add(obj, name, v);
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int ctl_get_all(Ctl *ctl, const char *path, const char *interface, json_object **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        json_object *o;
        int r;

        r = sd_bus_call_method(ctl->bus, ctl->dest, path, "org.freedesktop.DBus.Properties", "GetAll", &e, &reply, "s",
                               interface);
        if (r < 0)
                return ctl_fail(r, &e, "read the properties");
        o = json_object_new_object();
        if (!o)
                return ctl_fail(-ENOMEM, NULL, "read the properties");
        r = ctl_read_properties(reply, o);
        if (r < 0) {
                json_object_put(o);
                return ctl_fail(r, NULL, "parse the properties");
        }
        *ret = o;
        return 0;
}

/* The properties sd-bus leaves out of GetAll (SD_BUS_VTABLE_PROPERTY_EXPLICIT in src/bus.c: read
 * from the cgroup files on each call), asked for one by one. */
static int get_explicit(Ctl *ctl, const char *path, const char *interface, const char *const *names, json_object *o) {
        for (const char *const *n = names; *n; n++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                json_object *v;
                int r;

                r = sd_bus_call_method(ctl->bus, ctl->dest, path, "org.freedesktop.DBus.Properties", "Get", &e, &reply,
                                       "ss", interface, *n);
                if (r < 0 && sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_PROPERTY))
                        continue; /* an older daemon */
                if (r < 0)
                        return ctl_fail(r, &e, "read a property");
                v = variant_to_json(reply);
                if (v)
                        json_object_object_add(o, *n, v);
        }
        return 0;
}

static int get_all_and_explicit(Ctl *ctl, const char *path, const char *interface, const char *const *names,
                                json_object **ret) {
        json_object *o;
        int r = ctl_get_all(ctl, path, interface, &o);
        if (r != 0)
                return r;
        r = get_explicit(ctl, path, interface, names, o);
        if (r != 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

int ctl_get_worker(Ctl *ctl, const char *path, json_object **ret) {
        static const char *const names[] = {"Incarnation", "GrowthRate", "TimeToBudget", "MemoryCurrent",
                                            "MemoryPeak",  "MemoryAnon", "MemoryFile",   NULL};
        return get_all_and_explicit(ctl, path, CGWATCH_WORKER_INTERFACE, names, ret);
}

int ctl_get_dyno(Ctl *ctl, json_object **ret) {
        static const char *const names[] = {"DynoMemoryCurrent", "DynoMemoryPeak", "DynoPressureSomeAvg10",
                                            "DynoPressureFullAvg10", NULL};
        return get_all_and_explicit(ctl, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, names, ret);
}

uint64_t ctl_json_u64(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

int64_t ctl_json_i64(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

double ctl_json_double(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0.0;
}

const char *ctl_json_str(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

void ctl_json_print(json_object *o, bool one_line) {
        printf("%s\n", json_object_to_json_string_ext(o, one_line ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY));
        json_object_put(o);
}
