/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatchd: arguments -> manager -> sd_event loop. Exit codes (documented in cgwatchd(8)):
 *   0  stopped cleanly (SIGTERM/SIGINT), or --check-config found no error
 *   1  a runtime failure (cgroup set-up, event loop, bus)
 *   64 bad command line (EX_USAGE)
 *   78 bad configuration (EX_CONFIG) */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "config.h"
#include "dyno-name.h"
#include "log.h"
#include "manager.h"
#include "spawn.h"

#define EXIT_USAGE  64
#define EXIT_CONFIG 78

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Supervises a dyno of workers, each in its own cgroup v2 node with memory.high at its budget,\n"
               "and recycles a worker gracefully when it outgrows its budget or the dyno nears its limit.\n\n"
               "  -h --help               Show this help\n"
               "     --version            Show the version\n"
               "  -c --config=PATH        Configuration file (default: " CONFIG_DEFAULT_PATH ")\n"
               "     --check-config       Validate the configuration, print the resolved tree, exit\n"
               "     --cgroup-root=PATH   Run the dyno under this cgroup (default: our own cgroup)\n"
               "     --cgroup-mount=PATH  Where cgroup2 is mounted (default: /sys/fs/cgroup)\n"
               "     --no-bus             Do not connect to the system bus\n"
               "     --workers-scope      Under systemd, run the workers in a transient scope of their\n"
               "                          own (UNIT-workers.scope), so that they outlive a crash\n"
               "                          of the daemon\n"
               "     --dyno=NAME          Own the bus name of dyno NAME (org.cgwatch1.dyno.NAME), as\n"
               "                          cgwatch@NAME.service does, instead of org.cgwatch1\n"
               "  -d --debug              Log at debug level\n",
               program_invocation_short_name);
}

int main(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CHECK,
                ARG_CGROUP_ROOT,
                ARG_CGROUP_MOUNT,
                ARG_NO_BUS,
                ARG_DYNO,
                ARG_WORKERS_SCOPE
        };
        static const struct option options[] = {{"help", no_argument, NULL, 'h'},
                                                {"version", no_argument, NULL, ARG_VERSION},
                                                {"config", required_argument, NULL, 'c'},
                                                {"check-config", no_argument, NULL, ARG_CHECK},
                                                {"cgroup-root", required_argument, NULL, ARG_CGROUP_ROOT},
                                                {"cgroup-mount", required_argument, NULL, ARG_CGROUP_MOUNT},
                                                {"no-bus", no_argument, NULL, ARG_NO_BUS},
                                                {"dyno", required_argument, NULL, ARG_DYNO},
                                                {"workers-scope", no_argument, NULL, ARG_WORKERS_SCOPE},
                                                {"debug", no_argument, NULL, 'd'},
                                                {}};
        ManagerOptions o = {
                .config_path = CONFIG_DEFAULT_PATH,
                .cgroup_mount = "/sys/fs/cgroup",
                .proc = "/proc",
                .use_bus = true,
        };
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *bus_name = NULL;
        bool check = false;
        int c, r;

        log_open();
        while ((c = getopt_long(argc, argv, "hc:d", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("cgwatchd " CGWATCH_VERSION "\n");
                        return 0;
                case 'c':
                        o.config_path = optarg;
                        break;
                case ARG_CHECK:
                        check = true;
                        break;
                case ARG_CGROUP_ROOT:
                        o.cgroup_root = optarg;
                        break;
                case ARG_CGROUP_MOUNT:
                        o.cgroup_mount = optarg;
                        break;
                case ARG_WORKERS_SCOPE:
                        o.workers_scope = true;
                        break;
                case ARG_NO_BUS:
                        o.use_bus = false;
                        break;
                case ARG_DYNO:
                        bus_name = mfree(bus_name);
                        if (dyno_bus_name(optarg, &bus_name) < 0) {
                                log_error("Invalid dyno name '%s' (1 to %d bytes).", optarg, DYNO_NAME_MAX);
                                return EXIT_USAGE;
                        }
                        o.bus_name = bus_name;
                        break;
                case 'd':
                        log_set_max_level(LOG_DEBUG);
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind < argc) {
                log_error("Unexpected argument '%s'; see --help.", argv[optind]);
                return EXIT_USAGE;
        }

        if (check) {
                _cleanup_(config_freep) Config *cfg = NULL;
                _cleanup_free_ char *err = NULL;
                struct sysinfo si;
                uint64_t ram = sysinfo(&si) == 0 ? (uint64_t) si.totalram * si.mem_unit : UINT64_MAX, limit;

                r = config_load(o.config_path, &cfg, &err);
                if (r < 0) {
                        fprintf(stderr, "%s\n", err ?: strerror(-r));
                        return EXIT_CONFIG;
                }
                /* The limit the daemon would detect, where the cgroup files can be read. */
                r = manager_check_limits(&o, cfg, &limit, &err);
                if (err) {
                        fprintf(stderr, "%s\n", err);
                        return EXIT_CONFIG;
                }
                if (r < 0)
                        limit = cfg->dyno.memory_limit.set ? config_size_resolve(&cfg->dyno.memory_limit, ram) : ram;
                config_dump(cfg, limit, stdout);
                return 0;
        }

        r = spawn_raise_nofile();
        if (r < 0)
                log_warning_errno(r, "Failed to raise RLIMIT_NOFILE, continuing with the current limit: %m");
        r = manager_new(&o, &m);
        if (r == -EINVAL)
                return EXIT_CONFIG;
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_run(m);
        return r < 0 ? EXIT_FAILURE : r;
}
