/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatchctl plot [WORKER...] -o FILE.svg: the history drawn by plot-svg.c. */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-history.h"
#include "plot-svg.h"

static const char *arg_output;
static usec_t arg_since;

static int run_plot(Ctl *ctl, int argc, char *argv[]) {
        const char *output = arg_output;
        _cleanup_free_ HistoryView *workers = NULL;
        const HistoryView *dyno = NULL;
        CtlHistory h = {};
        size_t n = 0;
        FILE *f;
        int r;

        if (!output) {
                fprintf(stderr, "plot needs -o FILE.svg (- for standard output); see --help.\n");
                return CTL_EXIT_USAGE;
        }
        r = ctl_history_fetch(ctl, argv, (size_t) argc, /* with_dyno= */ true, arg_since, &h);
        if (r != 0)
                return r;
        workers = calloc(h.n ?: 1, sizeof *workers);
        if (!workers) {
                ctl_history_done(&h);
                return ctl_fail(-ENOMEM, NULL, "plot");
        }
        for (size_t i = 0; i < h.n; i++)
                if (h.series[i].name[0])
                        workers[n++] = h.series[i].view;
                else
                        dyno = &h.series[i].view;

        f = streq(output, "-") ? stdout : fopen(output, "we");
        if (!f) {
                r = -errno;
                fprintf(stderr, "Failed to open '%s': %s\n", output, strerror(-r));
                ctl_history_done(&h);
                return CTL_EXIT_FAILURE;
        }
        r = plot_svg(f, workers, n, dyno, NULL);
        if (f != stdout && fclose(f) != 0 && r == 0)
                r = -errno;
        /* cppcheck-suppress useClosedFile ; only a file that is not stdout was closed above */
        else if (f == stdout && fflush(f) != 0 && r == 0)
                r = -errno;
        ctl_history_done(&h);
        if (r < 0) {
                fprintf(stderr, "Failed to write '%s': %s\n", output, strerror(-r));
                return CTL_EXIT_FAILURE;
        }
        return 0;
}

enum { ARG_SINCE = 0x200 };
static const struct option plot_options[] = {
        {"output", required_argument, NULL, 'o'},
        {"since", required_argument, NULL, ARG_SINCE},
        {},
};

static int parse_plot_option(int c, const char *arg) {
        if (c == ARG_SINCE)
                return ctl_parse_since(arg, &arg_since);
        if (c == 'o') {
                arg_output = arg;
                return 0;
        }
        return CTL_EXIT_USAGE;
}

const CtlCommand ctl_command_plot = {
        .name = "plot",
        .args = "[WORKER...] -o SVG",
        .help = "Draw memory over time as SVG (--since T)",
        .min_args = 0,
        .max_args = UINT_MAX,
        .flags = CTL_READ,
        .options = plot_options,
        .short_options = "o:",
        .parse_option = parse_plot_option,
        .run = run_plot,
};
