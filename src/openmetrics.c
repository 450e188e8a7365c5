/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* OpenMetrics text (see openmetrics.h). */

#include <errno.h>
#include <inttypes.h>

#include "openmetrics.h"
#include "supervisor.h"

/* A label value: backslash, double quote and line feed are escaped (OpenMetrics ABNF). */
static void label_value(FILE *f, const char *s) {
        /* cppcheck-suppress ctunullpointer ; worker_sample() passes extra_value only with extra_label */
        for (; *s; s++)
                if (*s == '\\')
                        fputs("\\\\", f);
                else if (*s == '"')
                        fputs("\\\"", f);
                else if (*s == '\n')
                        fputs("\\n", f);
                else
                        fputc(*s, f);
}

static void family(FILE *f, const char *name, const char *type, const char *unit, const char *help) {
        fprintf(f, "# TYPE %s %s\n", name, type);
        if (unit)
                fprintf(f, "# UNIT %s %s\n", name, unit);
        fprintf(f, "# HELP %s %s\n", name, help);
}

static void worker_sample(FILE *f, const char *metric, const MetricsWorker *w, const char *extra_label,
                          const char *extra_value, uint64_t value) {
        fprintf(f, "%s{worker=\"", metric);
        label_value(f, w->name);
        if (extra_label) {
                fprintf(f, "\",%s=\"", extra_label);
                label_value(f, extra_value);
        }
        fprintf(f, "\"} %" PRIu64 "\n", value);
}

int openmetrics_write(FILE *f, const MetricsDyno *d, const MetricsWorker *w, size_t n) {
        const struct {
                const char *name, *help;
                uint64_t value;
        } dyno[] = {
                {"cgwatch_dyno_memory_limit_bytes", "The dyno's MemoryLimit (memory.max of its cgroup).",
                 d->limit_bytes},
                {"cgwatch_dyno_recycle_at_bytes", "The dyno's RecycleAt (memory.high of its cgroup).",
                 d->recycle_at_bytes},
                {"cgwatch_dyno_memory_bytes", "memory.current of the dyno's cgroup.", d->memory_bytes},
                {"cgwatch_dyno_memory_peak_bytes", "memory.peak of the dyno's cgroup.", d->peak_bytes},
        };

        for (size_t i = 0; i < ELEMENTSOF(dyno); i++) {
                family(f, dyno[i].name, "gauge", "bytes", dyno[i].help);
                fprintf(f, "%s %" PRIu64 "\n", dyno[i].name, dyno[i].value);
        }

        family(f, "cgwatch_worker_memory_bytes", "gauge", "bytes", "memory.current of the worker's cgroup.");
        for (size_t i = 0; i < n; i++)
                worker_sample(f, "cgwatch_worker_memory_bytes", &w[i], NULL, NULL, w[i].memory_bytes);

        family(f, "cgwatch_worker_memory_budget_bytes", "gauge", "bytes", "The worker's MemoryBudget.");
        for (size_t i = 0; i < n; i++)
                if (w[i].budget_bytes != UINT64_MAX)
                        worker_sample(f, "cgwatch_worker_memory_budget_bytes", &w[i], NULL, NULL, w[i].budget_bytes);

        family(f, "cgwatch_worker_recycles", "counter", NULL,
               "Recycles of the worker since cgwatchd started, by reason.");
        for (size_t i = 0; i < n; i++)
                for (RecycleReason r = RECYCLE_NONE + 1; r < _RECYCLE_REASON_MAX; r++)
                        worker_sample(f, "cgwatch_worker_recycles_total", &w[i], "reason", recycle_reason_to_string(r),
                                      w[i].recycles[r]);

        family(f, "cgwatch_worker_state", "stateset", NULL, "The worker's state.");
        for (size_t i = 0; i < n; i++)
                for (WorkerState s = 0; s < _WORKER_STATE_MAX; s++)
                        worker_sample(f, "cgwatch_worker_state", &w[i], "cgwatch_worker_state",
                                      worker_state_to_string(s), streq(w[i].state, worker_state_to_string(s)));

        fputs("# EOF\n", f);
        return ferror(f) ? -EIO : 0;
}
