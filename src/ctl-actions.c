/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The commands that change state (root only, in the daemon and in the D-Bus policy):
 * recycle, restart, stop, start, set-budget, reload. They print nothing on success. */

#include <string.h>

#include "ctl.h"
#include "parse-util.h"

static bool arg_runtime;

static const char *method_of(const char *command) {
        static const struct {
                const char *command, *method;
        } table[] = {
                {"recycle", "RecycleWorker"},
                {"restart", "RestartWorker"},
                {"stop", "StopWorker"},
                {"start", "StartWorker"},
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(table[i].command, command))
                        return table[i].method;
        return NULL;
}

static int run_worker_op(Ctl *ctl, int argc, char *argv[]) {
        return ctl_call(ctl, method_of(ctl->command->name), NULL, "s", argv[0]);
}

static int run_set_budget(Ctl *ctl, int argc, char *argv[]) {
        ConfigSize s;
        int r = parse_size(argv[1], &s);
        if (r < 0 || s.percent) {
                fprintf(stderr, "Invalid size '%s' (expected e.g. 256M or 1G).\n", argv[1]);
                return CTL_EXIT_USAGE;
        }
        return ctl_call(ctl, "SetBudget", NULL, "stb", argv[0], s.value, (int) arg_runtime);
}

static int run_reload(Ctl *ctl, int argc, char *argv[]) {
        return ctl_call(ctl, "Reload", NULL, NULL);
}

enum { ARG_RUNTIME = 0x200 };
static const struct option set_budget_options[] = {
        {"runtime", no_argument, NULL, ARG_RUNTIME},
        {},
};

static int parse_set_budget_option(int c, const char *arg) {
        if (c != ARG_RUNTIME)
                return CTL_EXIT_USAGE;
        arg_runtime = true;
        return 0;
}

#define WORKER_OP(id, what)                   \
        const CtlCommand ctl_command_##id = { \
                .name = #id,                  \
                .args = "WORKER",             \
                .help = what,                 \
                .min_args = 1,                \
                .max_args = 1,                \
                .run = run_worker_op,         \
        }

WORKER_OP(recycle, "Recycle a worker gracefully now (reason: manual)");
WORKER_OP(restart, "Restart a worker");
WORKER_OP(stop, "Stop a worker (it stays down)");
WORKER_OP(start, "Start a stopped or failed worker");

const CtlCommand ctl_command_set_budget = {
        .name = "set-budget",
        .args = "WORKER SIZE",
        .help = "Set MemoryBudget (e.g. 256M); persists unless --runtime",
        .min_args = 2,
        .max_args = 2,
        .options = set_budget_options,
        .parse_option = parse_set_budget_option,
        .run = run_set_budget,
};

const CtlCommand ctl_command_reload = {
        .name = "reload",
        .help = "Reload the configuration (as SIGHUP does)",
        .run = run_reload,
};
