/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* cgwatchctl's pieces. Each command is one CtlCommand in a src/ctl-*.c file, listed once in
 * CTL_COMMANDS (src/cgwatchctl.c); main() parses the global options and the command's own, opens
 * the bus (unless CTL_NO_BUS) and calls run(). The helpers below live in src/ctl-util.c. */

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#include "shared/macro.h"

/* Exit statuses: every outcome has one, documented in cgwatchctl(1) EXIT STATUS. */
#define CTL_EXIT_FAILURE     1  /* the call failed, or the connection was lost */
#define CTL_EXIT_NOT_RUNNING 3  /* status WORKER: the worker is not running (as systemctl status) */
#define CTL_EXIT_NO_WORKER   4  /* no worker of that name (as systemctl's "no such unit") */
#define CTL_EXIT_USAGE       64 /* bad command line (EX_USAGE) */
#define CTL_EXIT_DATAERR     65 /* the daemon refused an argument, e.g. a budget (EX_DATAERR) */
#define CTL_EXIT_UNAVAILABLE 69 /* no bus, no daemon on it, or the -H host unreachable (EX_UNAVAILABLE) */
#define CTL_EXIT_PROTOCOL    76 /* a reply that does not parse: a daemon of another version (EX_PROTOCOL) */
#define CTL_EXIT_NOPERM      77 /* not allowed: writes need root (EX_NOPERM) */

/* The global options (cgwatchctl(1) OPTIONS). */
typedef struct CtlArgs {
        bool json;        /* --json */
        bool user_bus;    /* --user: the caller's own bus (tests) */
        const char *host; /* -H [user@]host: over ssh, NULL: local */
        const char *dyno; /* --dyno NAME: cgwatch@NAME's daemon, NULL: cgwatch.service's */
} CtlArgs;
extern CtlArgs ctl_arg;

typedef struct CtlCommand CtlCommand;

typedef struct Ctl {
        const CtlCommand *command;
        sd_bus *bus;      /* NULL for CTL_NO_BUS commands */
        const char *dest; /* the daemon's bus name: org.cgwatch1 or org.cgwatch1.dyno.<label> */
} Ctl;

typedef enum CtlFlags {
        CTL_READ = 1 << 0,   /* changes nothing; honours --json */
        CTL_NO_BUS = 1 << 1, /* opens its own connections (ctl->bus is NULL): see ctl_connect() */
} CtlFlags;

struct CtlCommand {
        const char *name;
        const char *args; /* for --help, e.g. "WORKER SIZE" */
        const char *help; /* one line for --help */
        unsigned min_args, max_args;
        CtlFlags flags;
        /* The command's own options, {}-terminated (NULL: none), their short letters ("d:bn:"), and
         * the parser that gets each (c is the option's val): returns 0, or an exit status.
         * Long-only options take vals from 0x200 up (the global ones use 0x100..0x1ff). */
        const struct option *options;
        const char *short_options;
        int (*parse_option)(int c, const char *arg);
        /* argv holds the positional arguments after the command's name. Returns an exit status. */
        int (*run)(Ctl *ctl, int argc, char *argv[]);
};

/* Connects to the system bus, locally or over ssh to `host` (NULL: local), honouring --user.
 * Returns 0 or an exit status (after printing why). */
int ctl_connect(const char *host, sd_bus **ret);

/* The bus name of the daemon of cgwatch@dyno (NULL: cgwatch.service's). Returns 0 or -errno. */
int ctl_dest_for_dyno(const char *dyno, char **ret);

/* Prints "Failed to WHAT: ..." and returns the exit status for that error (CTL_EXIT_*). */
int ctl_fail(int r, const sd_bus_error *e, const char *what);

/* A method of the Manager object. Returns 0 or an exit status (after printing why). */
int ctl_call(Ctl *ctl, const char *method, sd_bus_message **ret_reply, const char *types, ...);

/* One row of ListWorkers(). */
typedef struct CtlWorker {
        char *name, *state, *path;
        uint32_t pid;
        uint64_t memory_bytes, budget_bytes, recycles;
} CtlWorker;

/* ListWorkers() into an array. Returns 0 or an exit status. */
int ctl_list_workers(Ctl *ctl, CtlWorker **ret, size_t *ret_n);
void ctl_workers_free(CtlWorker *w, size_t n);

/* Properties.GetAll(interface) on path, as a JSON object (name -> value; "s" strings, integers,
 * "d" doubles, "b" booleans). Returns 0 or an exit status. */
int ctl_get_all(Ctl *ctl, const char *path, const char *interface, json_object **ret);

/* GetAll leaves out the properties marked SD_BUS_VTABLE_PROPERTY_EXPLICIT (the memory figures, read
 * live from the cgroup files): these two add them with one Get each. A worker's object and the
 * Manager's. Return 0 or an exit status. */
int ctl_get_worker(Ctl *ctl, const char *path, json_object **ret);
int ctl_get_dyno(Ctl *ctl, json_object **ret);

/* Reads an a{sv} (GetAll's reply, PropertiesChanged's changed properties) into obj. Returns 0 or
 * -errno. */
int ctl_read_properties(sd_bus_message *m, json_object *obj);

/* Field readers for ctl_get_all() objects: 0 / "" when absent. */
uint64_t ctl_json_u64(json_object *o, const char *key);
int64_t ctl_json_i64(json_object *o, const char *key);
double ctl_json_double(json_object *o, const char *key);
const char *ctl_json_str(json_object *o, const char *key);

/* Prints a JSON value (pretty unless one_line) and a newline. Takes the reference. */
void ctl_json_print(json_object *o, bool one_line);
