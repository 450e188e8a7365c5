/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Memory over time as a self-contained SVG 1.1 document, written by hand: no library, no
 * subprocess, the same bytes for the same data (the tests check its structure). Pure: writes to
 * the FILE it is given, reads no clock.
 *
 * What it draws, with a class on each element so that scripts (and tests) can find it:
 *   polyline.worker     memory.current of each worker, one colour each     (data-worker=NAME)
 *   polyline.budget     that worker's MemoryBudget, dashed, same colour     (data-worker=NAME)
 *   polyline.dyno       the dyno's memory.current, grey
 *   polyline.dyno-limit the dyno's MemoryLimit, dashed, red
 *   g.recycle           a marker at each recycle: a dotted vertical line, a dot at the memory
 *                       figure that decided it, and text.reason with the reason
 *                       (data-worker=NAME data-reason=REASON)
 *   g.axis, g.legend    time axis (UTC, hh:mm:ss), memory axis (MiB), and the legend */

#include <stdio.h>

#include "history-view.h"

typedef struct PlotOptions {
        const char *title;      /* NULL: "cgwatch: memory over time" */
        unsigned width, height; /* 0: 1000 x 560 */
} PlotOptions;

/* Writes the plot of `workers` (n of them) and, when dyno is not NULL, the dyno's line and limit.
 * Returns 0, or -EIO when writing failed. */
int plot_svg(FILE *f, const HistoryView *workers, size_t n, const HistoryView *dyno, const PlotOptions *o);
