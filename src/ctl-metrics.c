/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatchctl metrics [--http]: OpenMetrics text of the dyno and its workers (openmetrics.c), from
 * ListWorkers, GetRecycleCounts and the Manager's Dyno* properties. With --http it answers one
 * HTTP request read from stdin on stdout, as the service of cgwatch-metrics.socket (Accept=yes)
 * runs it: Prometheus scrapes http://HOST:9817/metrics. */

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgwatch/cgwatch.h"
#include "ctl-history.h"
#include "openmetrics.h"

#define HTTP_REQUEST_MAX 8192

typedef struct Metrics {
        MetricsDyno dyno;
        MetricsWorker *workers;
        char **strings;
        size_t n, n_strings;
} Metrics;

static void metrics_done(Metrics *m) {
        for (size_t i = 0; i < m->n_strings; i++)
                free(m->strings[i]);
        free(m->strings);
        free(m->workers);
}

static int get_dyno_u64(Ctl *ctl, const char *prop, uint64_t *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_get_property_trivial(ctl->bus, ctl->dest, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, prop,
                                            &e, 't', ret);
        return r < 0 ? ctl_fail(r, &e, "read the dyno's properties") : 0;
}

static int metrics_fetch(Ctl *ctl, Metrics *m) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *counts = NULL;
        const char *name, *reason;
        CtlWorker *workers = NULL;
        uint64_t recycles;
        size_t n = 0;
        int r;

        r = ctl_list_workers(ctl, &workers, &n);
        if (r != 0)
                return r;
        m->workers = calloc(n ?: 1, sizeof *m->workers);
        if (!m->workers) {
                ctl_workers_free(workers, n);
                return ctl_fail(-ENOMEM, NULL, "list workers");
        }
        for (size_t i = 0; i < n; i++) {
                m->workers[i] = (MetricsWorker){
                        .name = ctl_keep_string(&m->strings, &m->n_strings, workers[i].name),
                        .state = ctl_keep_string(&m->strings, &m->n_strings, workers[i].state),
                        .memory_bytes = workers[i].memory_bytes,
                        .budget_bytes = workers[i].budget_bytes,
                };
                if (!m->workers[i].name || !m->workers[i].state) {
                        ctl_workers_free(workers, n);
                        return ctl_fail(-ENOMEM, NULL, "list workers");
                }
        }
        m->n = n;
        ctl_workers_free(workers, n);

        r = ctl_call(ctl, "GetRecycleCounts", &counts, NULL);
        if (r != 0)
                return r;
        r = sd_bus_message_enter_container(counts, 'a', CGWATCH_RECYCLE_COUNT_TYPE);
        while (r >= 0 && (r = sd_bus_message_read(counts, CGWATCH_RECYCLE_COUNT_TYPE, &name, &reason, &recycles)) > 0)
                for (size_t i = 0; i < m->n; i++) {
                        if (!streq(m->workers[i].name, name))
                                continue;
                        for (RecycleReason k = RECYCLE_NONE + 1; k < _RECYCLE_REASON_MAX; k++)
                                if (streq(recycle_reason_to_string(k), reason))
                                        m->workers[i].recycles[k] = recycles;
                }
        if (r < 0)
                return ctl_fail(r, NULL, "parse the recycle counts");

        if ((r = get_dyno_u64(ctl, "DynoMemoryLimit", &m->dyno.limit_bytes)) != 0 ||
            (r = get_dyno_u64(ctl, "DynoRecycleAt", &m->dyno.recycle_at_bytes)) != 0 ||
            (r = get_dyno_u64(ctl, "DynoMemoryCurrent", &m->dyno.memory_bytes)) != 0 ||
            (r = get_dyno_u64(ctl, "DynoMemoryPeak", &m->dyno.peak_bytes)) != 0)
                return r;
        return 0;
}

/* Reads the request head (up to the blank line, at most HTTP_REQUEST_MAX bytes) and tells
 * whether it asks for the metrics: GET (or HEAD) of / or /metrics. Returns 1 for GET, 2 for HEAD,
 * 0 for anything else, -EBADMSG for what is not HTTP. */
static int http_read_request(void) {
        char buf[HTTP_REQUEST_MAX + 1];
        size_t n = 0;

        while (n < HTTP_REQUEST_MAX) {
                ssize_t k = read(STDIN_FILENO, buf + n, HTTP_REQUEST_MAX - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
                buf[n] = 0;
                if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
                        break;
        }
        buf[n] = 0;
        char *eol = strpbrk(buf, "\r\n");
        if (!eol)
                return -EBADMSG;
        *eol = 0;
        char method[8], target[256], version[16];
        if (sscanf(buf, "%7s %255s %15s", method, target, version) != 3 || strncmp(version, "HTTP/", 5) != 0)
                return -EBADMSG;
        char *q = strchr(target, '?');
        if (q)
                *q = 0;
        if (!streq(target, "/metrics") && !streq(target, "/"))
                return 0;
        return streq(method, "GET") ? 1 : streq(method, "HEAD") ? 2 : 0;
}

static int http_reply(const char *status, const char *type, const char *body, size_t len, bool with_body) {
        if (len == SIZE_MAX)
                len = strlen(body);
        printf("HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status, type,
               len);
        if (with_body)
                fwrite(body, 1, len, stdout);
        return fflush(stdout) == 0 ? 0 : CTL_EXIT_FAILURE;
}

static bool arg_http;

static int run_metrics(Ctl *ctl, int argc, char *argv[]) {
        bool http = arg_http;
        _cleanup_free_ char *body = NULL;
        Metrics m = {};
        size_t len = 0;
        FILE *f;
        int r, req = 1;

        if (http) {
                req = http_read_request();
                if (req < 0)
                        return http_reply("400 Bad Request", "text/plain", "Bad request\n", SIZE_MAX, true);
                if (req == 0)
                        return http_reply("404 Not Found", "text/plain", "Try /metrics\n", SIZE_MAX, true);
        }
        r = metrics_fetch(ctl, &m);
        if (r != 0) {
                metrics_done(&m);
                if (http)
                        (void) http_reply("503 Service Unavailable", "text/plain", "cgwatchd is not reachable\n",
                                          SIZE_MAX, true);
                return r;
        }
        f = open_memstream(&body, &len);
        if (!f) {
                metrics_done(&m);
                return ctl_fail(-ENOMEM, NULL, "format the metrics");
        }
        r = openmetrics_write(f, &m.dyno, m.workers, m.n);
        metrics_done(&m);
        if (fclose(f) != 0 || r < 0)
                return ctl_fail(-ENOMEM, NULL, "format the metrics");
        if (http)
                return http_reply("200 OK", OPENMETRICS_CONTENT_TYPE, body, len, req == 1);
        fwrite(body, 1, len, stdout);
        return fflush(stdout) == 0 ? 0 : CTL_EXIT_FAILURE;
}

enum { ARG_HTTP = 0x200 };
static const struct option metrics_options[] = {
        {"http", no_argument, NULL, ARG_HTTP},
        {},
};

static int parse_metrics_option(int c, const char *arg) {
        if (c != ARG_HTTP)
                return CTL_EXIT_USAGE;
        arg_http = true;
        return 0;
}

const CtlCommand ctl_command_metrics = {
        .name = "metrics",
        .help = "OpenMetrics text of the dyno and its workers (--http: serve one request)",
        .flags = CTL_READ,
        .options = metrics_options,
        .parse_option = parse_metrics_option,
        .run = run_metrics,
};
