/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The dyno and its workers in the OpenMetrics text format 1.0.0 (content type
 * application/openmetrics-text; version=1.0.0; charset=utf-8), ending with "# EOF". Pure: writes
 * to the FILE it is given. The families (cgwatchctl(1), METRICS):
 *   cgwatch_dyno_memory_limit_bytes, cgwatch_dyno_recycle_at_bytes, cgwatch_dyno_memory_bytes,
 *   cgwatch_dyno_memory_peak_bytes                              gauges
 *   cgwatch_worker_memory_bytes{worker}                         gauge, memory.current
 *   cgwatch_worker_memory_budget_bytes{worker}                  gauge, workers with a budget only
 *   cgwatch_worker_recycles_total{worker,reason}                counter, every reason (0 too)
 *   cgwatch_worker_state{worker,cgwatch_worker_state}           stateset */

#include <stdint.h>
#include <stdio.h>

#include "policy.h"

#define OPENMETRICS_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

typedef struct MetricsWorker {
        const char *name;
        const char *state; /* "running", ... (worker_state_to_string) */
        uint64_t memory_bytes;
        uint64_t budget_bytes;                  /* UINT64_MAX = none */
        uint64_t recycles[_RECYCLE_REASON_MAX]; /* by RecycleReason; [RECYCLE_NONE] unused */
} MetricsWorker;

typedef struct MetricsDyno {
        uint64_t limit_bytes, recycle_at_bytes, memory_bytes, peak_bytes;
} MetricsDyno;

/* Returns 0, or -EIO when writing failed. */
int openmetrics_write(FILE *f, const MetricsDyno *d, const MetricsWorker *w, size_t n);
