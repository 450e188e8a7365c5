/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatchctl events: follows the daemon's signals until interrupted: WorkerRecycled, and the
 * workers' PropertiesChanged for State (with MainPID) and MemoryBudget. One line per event, or
 * one JSON object per line with --json. */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "cgwatch/cgwatch.h"
#include "ctl.h"
#include "parse-util.h"

/* "2026-12-02T14:55:01.123+0000": the moment the event reached us, in local time. */
static void format_now(char buf[static 64]) {
        struct timespec ts;
        struct tm tm;
        char zone[8];

        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        strftime(zone, sizeof zone, "%z", &tm);
        size_t n = strftime(buf, 64, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, 64 - n, ".%03ld%s", ts.tv_nsec / 1000000, zone);
}

static void emit(json_object *o) {
        char now[64];

        format_now(now);
        if (ctl_arg.json) {
                json_object *line = json_object_new_object();
                json_object_object_add(line, "time", json_object_new_string(now));
                json_object_object_foreach(o, key, val) json_object_object_add(line, key, json_object_get(val));
                ctl_json_print(line, /* one_line= */ true);
        } else {
                char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
                const char *event = ctl_json_str(o, "event");

                printf("%s %s %s", now, ctl_json_str(o, "worker"), event);
                if (streq(event, "recycled"))
                        printf(" reason=%s memory=%s budget=%s", ctl_json_str(o, "reason"),
                               format_bytes(a, ctl_json_u64(o, "memory_bytes")),
                               format_bytes(b, ctl_json_u64(o, "budget_bytes")));
                else if (streq(event, "state")) {
                        printf(" %s", ctl_json_str(o, "state"));
                        if (json_object_object_get_ex(o, "pid", NULL))
                                printf(" pid=%" PRIu64, ctl_json_u64(o, "pid"));
                } else if (streq(event, "budget"))
                        printf(" %s", format_bytes(a, ctl_json_u64(o, "budget_bytes")));
                printf("\n");
        }
        json_object_put(o);
        fflush(stdout);
}

static json_object *event_new(const char *worker, const char *event) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "worker", json_object_new_string(worker));
        json_object_object_add(o, "event", json_object_new_string(event));
        return o;
}

static int on_recycled(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *name, *reason;
        uint64_t mem, budget;
        json_object *o;

        if (sd_bus_message_read(m, "sstt", &name, &reason, &mem, &budget) < 0)
                return 0; /* not ours to judge: skip what does not parse */
        o = event_new(name, "recycled");
        json_object_object_add(o, "reason", json_object_new_string(reason));
        json_object_object_add(o, "memory_bytes", json_object_new_uint64(mem));
        json_object_object_add(o, "budget_bytes", json_object_new_uint64(budget));
        emit(o);
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        const char *interface;
        json_object *changed, *v;

        if (sd_bus_path_decode(sd_bus_message_get_path(m), CGWATCH_WORKER_PATH_PREFIX, &name) <= 0)
                return 0;
        if (sd_bus_message_read(m, "s", &interface) < 0 || !streq(interface, CGWATCH_WORKER_INTERFACE))
                return 0;
        changed = json_object_new_object();
        if (ctl_read_properties(m, changed) < 0) {
                json_object_put(changed);
                return 0;
        }
        if (json_object_object_get_ex(changed, "State", &v)) {
                json_object *o = event_new(name, "state");
                json_object_object_add(o, "state", json_object_get(v));
                if (json_object_object_get_ex(changed, "MainPID", &v))
                        json_object_object_add(o, "pid", json_object_get(v));
                emit(o);
        }
        if (json_object_object_get_ex(changed, "MemoryBudget", &v)) {
                json_object *o = event_new(name, "budget");
                json_object_object_add(o, "budget_bytes", json_object_get(v));
                emit(o);
        }
        json_object_put(changed);
        return 0;
}

static int run_events(Ctl *ctl, int argc, char *argv[]) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_free_ char *match = NULL;
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&event);
        if (r < 0)
                return ctl_fail(r, NULL, "set up the event loop");
        /* Interrupted: leave the loop with status 0. */
        (void) sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        (void) sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        r = sd_bus_attach_event(ctl->bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return ctl_fail(r, NULL, "attach the bus");
        /* A lost connection (the ssh link, the bus) ends the loop with status 1. */
        (void) sd_bus_set_exit_on_disconnect(ctl->bus, true);

        r = sd_bus_match_signal(ctl->bus, NULL, ctl->dest, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE,
                                "WorkerRecycled", on_recycled, NULL);
        if (r < 0)
                return ctl_fail(r, NULL, "subscribe to WorkerRecycled");
        if (asprintf(&match,
                     "type='signal',sender='%s',interface='org.freedesktop.DBus.Properties',"
                     "member='PropertiesChanged',path_namespace='" CGWATCH_WORKER_PATH_PREFIX "'",
                     ctl->dest) < 0)
                return ctl_fail(-ENOMEM, NULL, "subscribe");
        r = sd_bus_add_match(ctl->bus, NULL, match, on_properties_changed, NULL);
        if (r < 0)
                return ctl_fail(r, NULL, "subscribe to PropertiesChanged");

        /* The matches are in place (sd_bus_add_match waits for the bus's reply): what happens from
         * now on is printed. Said on stderr, so scripts can wait for it. */
        fprintf(stderr, "Following the events of %s; interrupt to stop.\n", ctl->dest);
        r = sd_event_loop(event);
        if (r < 0)
                return ctl_fail(r, NULL, "follow the events");
        return r == 0 ? 0 : CTL_EXIT_FAILURE;
}

const CtlCommand ctl_command_events = {
        .name = "events",
        .help = "Follow recycles, state and budget changes until interrupted",
        .flags = CTL_READ,
        .run = run_events,
};
