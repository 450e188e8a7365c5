/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* cgwatchctl's memory commands: history, plot, metrics (ctl-history.c, ctl-plot.c,
 * ctl-metrics.c). Each speaks only the public D-Bus API. */

#include <stdbool.h>
#include <stddef.h>

#include "ctl.h"
#include "history-view.h"

/* Fetched histories, owning their data: series[i].view borrows from the rest. */
typedef struct CtlHistorySeries {
        HistoryView view;
        char *name;
        HistorySample *samples;
        HistoryViewEvent *events;
        char **strings; /* the events' type and reason strings */
        size_t n_strings;
} CtlHistorySeries;

typedef struct CtlHistory {
        CtlHistorySeries *series; /* workers in the order asked (default: ListWorkers'), then the dyno */
        size_t n;
} CtlHistory;

void ctl_history_done(CtlHistory *h);

/* Appends a copy of s to the string list (*strings, *n). Returns the copy, or NULL on OOM. */
const char *ctl_keep_string(char ***strings, size_t *n, const char *s);

/* Fetches the history of `names` (none: every worker of ListWorkers), and of the dyno (name "")
 * when with_dyno, at or after since_usec. Returns 0, or an exit status after printing why. */
int ctl_history_fetch(Ctl *ctl, char *const *names, size_t n_names, bool with_dyno, usec_t since_usec, CtlHistory *ret);

/* --since T: a duration ago ("10min", "1h") or "@SECONDS" since the epoch. Returns 0 and
 * *ret (CLOCK_REALTIME microseconds), or CTL_EXIT_USAGE after printing why. */
int ctl_parse_since(const char *s, usec_t *ret);
