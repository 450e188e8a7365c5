/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatchctl: the command-line client of cgwatchd, over D-Bus (org.cgwatch1 on the system bus, or
 * org.cgwatch1.dyno.NAME with --dyno, locally or over ssh with -H). This file is the dispatcher:
 * the global options, the command table, the connection. Each command lives in a src/ctl-*.c
 * file as a CtlCommand (ctl.h); exit statuses are the CTL_EXIT_* of ctl.h, documented in
 * cgwatchctl(1). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgwatch/cgwatch.h"
#include "ctl.h"

/* Every command, in --help order: one line each, `const CtlCommand ctl_command_<id>` in its file. */
/* clang-format off */
#define CTL_COMMANDS(X) \
        X(status) \
        X(show) \
        X(list) \
        X(top) \
        X(events) \
        X(recycle) \
        X(restart) \
        X(stop) \
        X(start) \
        X(set_budget) \
        X(reload) \
        X(fleet) \
        X(history) \
        X(plot) \
        X(metrics)
/* clang-format on */

#define DECLARE(id) extern const CtlCommand ctl_command_##id;
CTL_COMMANDS(DECLARE)
#define ENTRY(id) &ctl_command_##id,
static const CtlCommand *const commands[] = {CTL_COMMANDS(ENTRY)};

CtlArgs ctl_arg;

enum { ARG_VERSION = 0x100, ARG_JSON, ARG_USER, ARG_DYNO };
static const struct option global_options[] = {
        {"help", no_argument, NULL, 'h'},       {"version", no_argument, NULL, ARG_VERSION},
        {"json", no_argument, NULL, ARG_JSON},  {"user", no_argument, NULL, ARG_USER},
        {"host", required_argument, NULL, 'H'}, {"dyno", required_argument, NULL, ARG_DYNO},
};
#define GLOBAL_SHORT "hH:"

static void help(void) {
        printf("%s [OPTIONS...] COMMAND [ARGS...]\n\n"
               "Query and control cgwatchd over D-Bus.\n\n"
               "Commands:\n",
               program_invocation_short_name);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                char left[64];
                snprintf(left, sizeof left, "%s%s%s", commands[i]->name, commands[i]->args ? " " : "",
                         commands[i]->args ?: "");
                printf("  %-26s %s\n", left, commands[i]->help);
        }
        printf("\nOptions:\n"
               "  -h --help                  Show this help\n"
               "     --version              Show the version\n"
               "     --json                 Print JSON (every read command)\n"
               "  -H --host=[USER@]HOST      Operate on a remote host, over ssh\n"
               "     --dyno=NAME            Operate on the dyno of cgwatch@NAME.service\n\n"
               "Each command's own options: see cgwatchctl(1).\n");
}

static const CtlCommand *find_command(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i]->name, name))
                        return commands[i];
        return NULL;
}

/* The command's name is the first argument that is neither an option nor a global option's
 * value: found before the real parse, which must know the command's own options. */
static const char *peek_command(int argc, char *argv[]) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (streq(a, "--"))
                        return i + 1 < argc ? argv[i + 1] : NULL;
                if (a[0] != '-' || a[1] == 0)
                        return a;
                if (streq(a, "-H") || streq(a, "--host") || streq(a, "--dyno"))
                        i++;
        }
        return NULL;
}

int main(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ struct option *options = NULL;
        _cleanup_free_ char *shortopts = NULL, *dest = NULL;
        const char *name = peek_command(argc, argv) ?: "status";
        const CtlCommand *cmd = find_command(name);
        size_t n_global = ELEMENTSOF(global_options), n_own = 0;
        int c, r, nargs;
        char **args;
        Ctl ctl = {};

        if (!cmd) {
                fprintf(stderr, "Unknown command '%s'; see --help.\n", name);
                return CTL_EXIT_USAGE;
        }
        while (cmd->options && cmd->options[n_own].name)
                n_own++;
        options = calloc(n_global + n_own + 1, sizeof *options);
        if (asprintf(&shortopts, GLOBAL_SHORT "%s", cmd->short_options ?: "") < 0 || !options) {
                fprintf(stderr, "Out of memory.\n");
                return CTL_EXIT_FAILURE;
        }
        memcpy(options, global_options, sizeof global_options);
        if (n_own > 0)
                memcpy(options + n_global, cmd->options, n_own * sizeof *options);

        while ((c = getopt_long(argc, argv, shortopts, options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("cgwatchctl " CGWATCH_VERSION "\n");
                        return 0;
                case ARG_JSON:
                        ctl_arg.json = true;
                        break;
                case ARG_USER:
                        ctl_arg.user_bus = true;
                        break;
                case 'H':
                        ctl_arg.host = optarg;
                        break;
                case ARG_DYNO:
                        ctl_arg.dyno = optarg;
                        break;
                case '?':
                        return CTL_EXIT_USAGE;
                default:
                        r = cmd->parse_option ? cmd->parse_option(c, optarg) : CTL_EXIT_USAGE;
                        if (r != 0)
                                return r;
                }

        /* What is left: the command's name (unless defaulted), then its arguments. */
        args = argv + optind;
        nargs = argc - optind;
        if (nargs > 0) {
                args++;
                nargs--;
        }
        if ((unsigned) nargs < cmd->min_args || (unsigned) nargs > cmd->max_args) {
                fprintf(stderr, "'%s' takes %s%s%s; see --help.\n", cmd->name, cmd->args ? "the arguments " : "",
                        cmd->args ?: "no arguments", cmd->min_args < cmd->max_args ? " (some optional)" : "");
                return CTL_EXIT_USAGE;
        }

        r = ctl_dest_for_dyno(ctl_arg.dyno, &dest);
        if (r < 0) {
                fprintf(stderr, "Invalid dyno name '%s' (1 to 64 bytes).\n", ctl_arg.dyno);
                return CTL_EXIT_USAGE;
        }
        ctl.command = cmd;
        ctl.dest = dest;
        if (!(cmd->flags & CTL_NO_BUS)) {
                r = ctl_connect(ctl_arg.host, &bus);
                if (r != 0)
                        return r;
                ctl.bus = bus;
        }
        return cmd->run(&ctl, nargs, args);
}
