/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cgwatch-bus-probe: how fast cgwatchd answers, measured from outside.
 *
 *   cgwatch-bus-probe SECONDS [INTERVAL_MS]
 *
 * Calls org.cgwatch1.Manager.ListWorkers on the system bus ($DBUS_SYSTEM_BUS_ADDRESS, so a
 * private dbus-daemon works too) every INTERVAL_MS (default 20) for SECONDS, each call timed
 * from send to reply on CLOCK_MONOTONIC (one connection, opened before the first call). Prints
 *   bus-probe: calls=N p50_ms=A p99_ms=B max_ms=C
 * Exit status 0, or 1 if any call failed or went unanswered (10 s timeout), 2 on usage errors.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "cgwatch/cgwatch.h"

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
        sd_bus *bus = NULL;
        uint64_t *lat, end, interval;
        size_t n = 0, cap;
        int r, failed = 0;

        if (argc < 2 || argc > 3)
                return 2;
        end = now_usec() + (uint64_t) (atof(argv[1]) * 1e6);
        interval = (argc == 3 ? strtoull(argv[2], NULL, 10) : 20) * 1000;
        cap = (size_t) (atof(argv[1]) * 1e6 / (interval ? interval : 1000)) + 16;
        lat = calloc(cap, sizeof *lat);
        if (!lat)
                return 2;
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "bus-probe: no bus: %s\n", strerror(-r));
                return 1;
        }
        while (now_usec() < end && n < cap) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *m = NULL, *reply = NULL;
                uint64_t t0 = now_usec();

                r = sd_bus_message_new_method_call(bus, &m, CGWATCH_BUS_NAME, CGWATCH_MANAGER_PATH,
                                                   CGWATCH_MANAGER_INTERFACE, "ListWorkers");
                if (r >= 0)
                        r = sd_bus_call(bus, m, 10 * 1000 * 1000, &error, &reply);
                lat[n++] = now_usec() - t0;
                if (r < 0) {
                        fprintf(stderr, "bus-probe: ListWorkers failed: %s\n", error.message ?: strerror(-r));
                        failed = 1;
                }
                sd_bus_error_free(&error);
                sd_bus_message_unref(m);
                sd_bus_message_unref(reply);
                uint64_t spent = now_usec() - t0;
                if (spent < interval) {
                        struct timespec ts = {0, (long) ((interval - spent) * 1000)};
                        nanosleep(&ts, NULL);
                }
        }
        qsort(lat, n, sizeof *lat, cmp_u64);
        printf("bus-probe: calls=%zu p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n", n, n ? lat[n / 2] / 1e3 : 0.0,
               n ? lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e3 : 0.0, n ? lat[n - 1] / 1e3 : 0.0);
        sd_bus_flush_close_unref(bus);
        free(lat);
        return failed || n == 0;
}
