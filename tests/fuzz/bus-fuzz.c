/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* bus-fuzz: a small D-Bus fuzz client for org.cgwatch1 on sd-bus, run over the real system bus
 * (tests/integration/test-bus-input.sh, in the systemd VM). dfuzzer is not packaged for Debian 12.
 *
 *   bus-fuzz [--calls N] [--seed N] [--unprivileged]
 *   bus-fuzz --dry-run [--calls N] [--seed N]   builds the messages, sends nothing (a unit test
 *                                               of the generator: every message must build)
 *
 * Every method of org.cgwatch1.Manager (GetHistory and GetRecycleCounts included), every property of the Manager and
 * Worker objects (Get, GetAll, Set), Introspect, GetManagedObjects and Peer, on real and unknown object paths, with the
 * right and wrong signatures, empty and huge (up to 1 MiB) strings, unknown worker names, extreme
 * numbers, and bytes that are not UTF-8. sd-bus refuses to append a string that is not valid UTF-8
 * (and dbus-daemon drops a client that sends one), so those bytes go out as 'ay' where a string
 * is expected: the nearest to invalid UTF-8 that can reach the daemon at all. (sd-bus refuses
 * Unicode noncharacters such as U+FFFF in strings too.)
 *
 * State-changing calls are made only where they must be refused: as root, SetBudget on a real
 * worker only with a budget outside policy_check_budget()'s bounds, the worker verbs only on
 * unknown names; as --unprivileged, anything (every write must come back AccessDenied). Before
 * and after, it takes every worker's name, state, PID, budget, recycles and restarts, and fails
 * unless they are identical; it also fails on any call that got no answer (NoReply, Timeout,
 * Disconnected, ServiceUnknown: the daemon died or hung), on a real-name SetBudget not refused
 * with org.cgwatch1.BudgetBelowFloor/BudgetAboveLimit, and on an unprivileged write not refused
 * with AccessDenied. Prints the number of calls, how they were answered, and the slowest answer.
 * Exit status 0 on success, 1 on a failed check, 2 on usage or set-up errors. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "cgwatch/cgwatch.h"
#include "shared/macro.h"

#define MAX_WORKERS  64
#define HUGE_BYTES   (1024 * 1024)
#define CALL_TIMEOUT (10ULL * 1000 * 1000) /* usec: generous, the VM is emulated */

typedef struct WorkerFacts {
        char name[256];
        char state[32];
        char path[512];
        uint32_t pid, restarts;
        uint64_t budget, recycles;
} WorkerFacts;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static bool arg_unprivileged, arg_dry_run;
static WorkerFacts workers[MAX_WORKERS];
static size_t n_workers;
static uint64_t dyno_limit;
static char *huge;
static unsigned n_calls, n_replied, n_refused, n_lost, n_wrong;
static uint64_t slowest_usec;
static char slowest_what[128];

static uint64_t rnd(void) {
        /* xorshift64*: reproducible from --seed */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 2685821657736338717ULL;
}

static size_t pick(size_t n) {
        return (size_t) (rnd() % n);
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static const char *const manager_props[] = {
        "Version",        "DynoMemoryLimit",       "DynoRecycleAt",         "DynoMemoryCurrent",
        "DynoMemoryPeak", "DynoPressureSomeAvg10", "DynoPressureFullAvg10",
};
static const char *const worker_props[] = {
        "Name",       "ControlGroup",      "Supervisor",    "State",          "MainPID",    "Incarnation", "Restarts",
        "Recycles",   "LastRecycleReason", "MemoryBudget",  "StartTimestamp", "Lifetimes",  "LeakVerdict", "LeakRate",
        "GrowthRate", "TimeToBudget",      "MemoryCurrent", "MemoryPeak",     "MemoryAnon", "MemoryFile",
};
static const char *const junk_strings[] = {
        "",
        "nosuch",
        "queuer@",
        "@1",
        "queuer@0",
        "queuer@99999999999999999999",
        "../../etc/passwd",
        "/sys/fs/cgroup",
        "%s%s%s%n%n",
        "a\tb\nc\x01\x7f",
        "\xc3\xa9\xc3\xbc \xf0\x9f\x99\x82", /* valid UTF-8: é ü, an emoji */
        "\xe2\x80\xae\xe2\x80\x8b",          /* right-to-left override, zero-width space */
        "http ",
        " http",
        "HTTP",
        "org.cgwatch1.Manager",
};

/* A string argument: a real worker name (when allowed), junk, or a huge one. */
static const char *gen_string(bool allow_real) {
        switch (pick(8)) {
        case 0:
        case 1:
                if (allow_real && n_workers > 0)
                        return workers[pick(n_workers)].name;
                return "nosuch-worker";
        case 2: {
                /* huge: 1 byte to 1 MiB of 'a' */
                static const size_t lens[] = {1, 255, 256, 4095, 65536, HUGE_BYTES};
                size_t l = lens[pick(6)];
                return huge + (HUGE_BYTES - l);
        }
        default:
                return junk_strings[pick(sizeof junk_strings / sizeof junk_strings[0])];
        }
}

static uint64_t gen_u64(void) {
        const uint64_t v[] = {0,
                              1,
                              1024,
                              4ULL * 1024 * 1024 - 1,
                              4ULL * 1024 * 1024,
                              dyno_limit,
                              dyno_limit + 1,
                              INT64_MAX,
                              (uint64_t) INT64_MAX + 1,
                              UINT64_MAX - 1,
                              UINT64_MAX,
                              rnd()};
        return v[pick(sizeof v / sizeof v[0])];
}

/* A budget SetBudget must refuse for any worker (below 4 MiB or above the dyno's limit). */
static uint64_t gen_refused_budget(void) {
        const uint64_t v[] = {0, 1, 1024, 4ULL * 1024 * 1024 - 1, dyno_limit + 1, (uint64_t) INT64_MAX + 1, UINT64_MAX};
        return v[pick(sizeof v / sizeof v[0])];
}

/* Appends one complete type (at `*sig`) with hostile values; advances *sig. */
static int append_one(sd_bus_message *m, const char **sig) {
        char c = **sig;
        int r;

        (*sig)++;
        switch (c) {
        case 's':
                return sd_bus_message_append_basic(m, 's', gen_string(false));
        case 'o':
                return sd_bus_message_append_basic(m, 'o', pick(2) ? "/org/cgwatch1" : "/org/cgwatch1/worker/x");
        case 'g':
                return sd_bus_message_append_basic(m, 'g', "a{sv}");
        case 't':
        case 'x': {
                uint64_t v = gen_u64();
                return sd_bus_message_append_basic(m, c, &v);
        }
        case 'u':
        case 'i': {
                uint32_t v = (uint32_t) gen_u64();
                return sd_bus_message_append_basic(m, c, &v);
        }
        case 'b': {
                int v = (int) pick(2);
                return sd_bus_message_append_basic(m, 'b', &v);
        }
        case 'y': {
                uint8_t v = (uint8_t) rnd();
                return sd_bus_message_append_basic(m, 'y', &v);
        }
        case 'd': {
                const double v[] = {0, -1, 1e308, -1e308, 5e-324};
                return sd_bus_message_append_basic(m, 'd', &v[pick(5)]);
        }
        case 'h': {
                int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                r = sd_bus_message_append_basic(m, 'h', &fd);
                close(fd); /* sd-bus duplicated it */
                return r;
        }
        case 'v':
                r = sd_bus_message_open_container(m, 'v', "s");
                if (r < 0)
                        return r;
                r = sd_bus_message_append_basic(m, 's', gen_string(false));
                if (r < 0)
                        return r;
                return sd_bus_message_close_container(m);
        case 'a':
                if (**sig == 'y') {
                        /* not UTF-8: overlong, lone continuation, surrogate, 0xff, NUL */
                        static const uint8_t bad[] = {0xc0, 0xaf, 0x80, 0xed, 0xa0, 0x80, 0xff, 0xfe, 0x00, 'x'};
                        (*sig)++;
                        return sd_bus_message_append_array(m, 'y', bad, sizeof bad);
                }
                if (**sig == 's') {
                        (*sig)++;
                        return sd_bus_message_append(m, "as", 3, gen_string(true), gen_string(false), "");
                }
                if (strncmp(*sig, "{sv}", 4) == 0) {
                        (*sig) += 4;
                        return sd_bus_message_append(m, "a{sv}", 2, "MemoryBudget", "t", gen_u64(), "Name", "s",
                                                     gen_string(false));
                }
                return -EINVAL;
        case '(':
                /* only "(st)" is generated */
                (*sig) += 3;
                return sd_bus_message_append(m, "(st)", gen_string(false), gen_u64());
        default:
                return -EINVAL;
        }
}

static int append_signature(sd_bus_message *m, const char *sig) {
        while (*sig) {
                int r = append_one(m, &sig);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const char *const wrong_signatures[] = {
        "",     "s",  "t",  "b", "i",  "ss",  "st",    "sb",     "stb",    "sbt",    "tsb",
        "stbs", "ay", "as", "v", "o",  "g",   "h",     "(st)",   "a{sv}",  "sss",    "stbb",
        "d",    "y",  "x",  "u", "sv", "ssv", "stbay", "a{sv}s", "ssssss", "st(st)",
};

typedef enum Expect {
        EXPECT_ANY,           /* a reply or an error: anything but no answer */
        EXPECT_REFUSED,       /* some error */
        EXPECT_BUDGET_REFUSED /* BudgetBelowFloor / BudgetAboveLimit (or AccessDenied unprivileged) */
} Expect;

/* Sends one call and checks it was answered as `expect` says. */
static void call(sd_bus *bus, const char *path, const char *iface, const char *member, sd_bus_message *m, Expect expect,
                 bool is_write) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t t0 = now_usec(), dt;
        int r;

        n_calls++;
        if (arg_dry_run)
                return;
        r = sd_bus_call(bus, m, CALL_TIMEOUT, &error, &reply);
        dt = now_usec() - t0;
        if (dt > slowest_usec) {
                slowest_usec = dt;
                snprintf(slowest_what, sizeof slowest_what, "%s.%s on %.40s", iface, member, path);
        }
        if (r >= 0) {
                n_replied++;
                if (expect != EXPECT_ANY || (arg_unprivileged && is_write)) {
                        n_wrong++;
                        fprintf(stderr, "bus-fuzz: FAIL: %s.%s on %s was accepted, it must be refused\n", iface, member,
                                path);
                }
                return;
        }
        n_refused++;
        if (sd_bus_error_has_names(&error, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT, SD_BUS_ERROR_DISCONNECTED,
                                   SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
            r == -ETIMEDOUT || r == -ENOTCONN || r == -ECONNRESET) {
                n_lost++;
                fprintf(stderr, "bus-fuzz: FAIL: %s.%s on %s got no answer: %s (%s)\n", iface, member, path,
                        error.name ?: "-", strerror(-r));
                return;
        }
        if (arg_unprivileged && is_write && !sd_bus_error_has_name(&error, SD_BUS_ERROR_ACCESS_DENIED)) {
                n_wrong++;
                fprintf(stderr, "bus-fuzz: FAIL: unprivileged %s.%s refused with %s, not AccessDenied\n", iface, member,
                        error.name);
                return;
        }
        if (!arg_unprivileged && expect == EXPECT_BUDGET_REFUSED &&
            !sd_bus_error_has_names(&error, CGWATCH_ERROR_BUDGET_BELOW_FLOOR, CGWATCH_ERROR_BUDGET_ABOVE_LIMIT)) {
                n_wrong++;
                fprintf(stderr, "bus-fuzz: FAIL: SetBudget refused with %s (%s), not a budget error\n", error.name,
                        error.message);
        }
}

static int new_call(sd_bus *bus, const char *path, const char *iface, const char *member, sd_bus_message **ret) {
        return sd_bus_message_new_method_call(bus, ret, CGWATCH_BUS_NAME, path, iface, member);
}

static const char *gen_path(void) {
        static const char *const junk[] = {"/",
                                           "/org",
                                           "/org/cgwatch1/worker",
                                           "/org/cgwatch1/worker/nosuch",
                                           "/org/cgwatch1/worker/_zz",
                                           "/org/cgwatch1/worker/_",
                                           "/org/cgwatch1/worker/a/b/c",
                                           "/org/cgwatch1/x"};
        switch (pick(4)) {
        case 0:
                return CGWATCH_MANAGER_PATH;
        case 1:
                if (n_workers > 0)
                        return workers[pick(n_workers)].path;
                return CGWATCH_MANAGER_PATH;
        default:
                return junk[pick(sizeof junk / sizeof junk[0])];
        }
}

/* One Manager method call. */
static int fuzz_manager_method(sd_bus *bus) {
        static const struct {
                const char *member, *sig;
                bool write;
        } methods[] = {
                {"ListWorkers", "", false},      {"GetWorker", "s", false},
                {"SetBudget", "stb", true},      {"RecycleWorker", "s", true},
                {"RestartWorker", "s", true},    {"StopWorker", "s", true},
                {"StartWorker", "s", true},      {"Reload", "", true},
                {"NoSuchMethod", "", false},     {"GetHistory", "st", false},
                {"GetRecycleCounts", "", false},
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        size_t i = pick(sizeof methods / sizeof methods[0]);
        const char *member = methods[i].member, *path = CGWATCH_MANAGER_PATH, *iface = CGWATCH_MANAGER_INTERFACE;
        bool right_sig = pick(2), real_name = false;
        Expect expect = EXPECT_ANY;
        int r;

        if (pick(10) == 0)
                path = gen_path();
        if (pick(20) == 0)
                iface = pick(2) ? "org.cgwatch1.Nope" : CGWATCH_WORKER_INTERFACE;
        /* Reload is the one write that succeeds as root and changes nothing (the config is the
         * same): keep it rare, it re-reads the config each time. */
        if (streq_ptr(member, "Reload") && !arg_unprivileged && pick(20) != 0)
                right_sig = false;
        r = new_call(bus, path, iface, member, &m);
        if (r < 0)
                return r;
        if (right_sig && methods[i].sig[0] == 's') {
                /* As root the worker verbs get only unknown names (a real one would legitimately
                 * act); SetBudget gets real names too, with budgets it must refuse. */
                real_name = arg_unprivileged || !methods[i].write || streq(member, "SetBudget");
                const char *name = gen_string(real_name);
                r = sd_bus_message_append_basic(m, 's', name);
                if (r >= 0 && streq(member, "SetBudget")) {
                        bool is_real = false;
                        for (size_t k = 0; k < n_workers; k++)
                                if (name == workers[k].name)
                                        is_real = true;
                        uint64_t bytes = is_real && !arg_unprivileged ? gen_refused_budget() : gen_u64();
                        int rt = (int) pick(2);
                        r = sd_bus_message_append(m, "tb", bytes, rt);
                        if (is_real)
                                expect = EXPECT_BUDGET_REFUSED;
                        else
                                expect = EXPECT_REFUSED;
                } else if (r >= 0 && streq(member, "GetHistory")) {
                        uint64_t since = gen_u64();
                        r = sd_bus_message_append_basic(m, 't', &since);
                } else if (r >= 0 && methods[i].write)
                        expect = EXPECT_REFUSED;
                else if (r >= 0 && streq(member, "GetWorker") && name != NULL) {
                        bool is_real = false;
                        for (size_t k = 0; k < n_workers; k++)
                                if (name == workers[k].name)
                                        is_real = true;
                        if (!is_real)
                                expect = EXPECT_REFUSED;
                }
        } else if (!right_sig || methods[i].sig[0] != 0) {
                r = append_signature(m, wrong_signatures[pick(sizeof wrong_signatures / sizeof wrong_signatures[0])]);
                if (!streq(member, "ListWorkers") && !streq(member, "Reload"))
                        expect = EXPECT_ANY; /* a wrong signature may happen to be right */
        }
        if (r < 0)
                return r;
        if (!streq(path, CGWATCH_MANAGER_PATH) || !streq(iface, CGWATCH_MANAGER_INTERFACE) ||
            streq(member, "NoSuchMethod"))
                expect = EXPECT_REFUSED;
        call(bus, path, iface, member, m, expect, methods[i].write && streq(iface, CGWATCH_MANAGER_INTERFACE));
        return 0;
}

/* One property access: Get, GetAll or Set, on the Manager, a worker, or a junk path. */
static int fuzz_property(sd_bus *bus) {
        static const char *const ifaces[] = {CGWATCH_MANAGER_INTERFACE, CGWATCH_WORKER_INTERFACE, "",
                                             "org.freedesktop.DBus.Properties", "org.cgwatch1.Nope"};
        static const char *const ops[] = {"Get", "GetAll", "Set"};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *path = gen_path(), *op = ops[pick(3)], *iface = ifaces[pick(5)], *prop;
        Expect expect = EXPECT_ANY;
        int r;

        if (pick(2))
                prop = manager_props[pick(sizeof manager_props / sizeof manager_props[0])];
        else if (pick(4))
                prop = worker_props[pick(sizeof worker_props / sizeof worker_props[0])];
        else
                prop = gen_string(false);
        r = new_call(bus, path, "org.freedesktop.DBus.Properties", op, &m);
        if (r < 0)
                return r;
        if (pick(8) == 0)
                r = append_signature(m, wrong_signatures[pick(sizeof wrong_signatures / sizeof wrong_signatures[0])]);
        else if (streq(op, "GetAll"))
                r = sd_bus_message_append(m, "s", iface);
        else if (streq(op, "Get"))
                r = sd_bus_message_append(m, "ss", iface, prop);
        else {
                /* every property is read-only: Set must always be refused */
                expect = EXPECT_REFUSED;
                if (pick(2))
                        r = sd_bus_message_append(m, "ssv", iface, prop, "t", gen_u64());
                else
                        r = sd_bus_message_append(m, "ssv", iface, prop, "s", gen_string(true));
        }
        if (r < 0)
                return r;
        call(bus, path, "org.freedesktop.DBus.Properties", op, m, expect, false);
        return 0;
}

/* Introspect, GetManagedObjects, Peer, and unknown interfaces on any path. */
static int fuzz_misc(sd_bus *bus) {
        static const struct {
                const char *iface, *member;
        } calls[] = {
                {"org.freedesktop.DBus.Introspectable", "Introspect"},
                {"org.freedesktop.DBus.ObjectManager", "GetManagedObjects"},
                {"org.freedesktop.DBus.Peer", "Ping"},
                {"org.freedesktop.DBus.Peer", "GetMachineId"},
                {"org.cgwatch1.Nope", "Nope"},
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        size_t i = pick(sizeof calls / sizeof calls[0]);
        const char *path = gen_path();
        int r = new_call(bus, path, calls[i].iface, calls[i].member, &m);
        if (r < 0)
                return r;
        if (pick(4) == 0)
                r = append_signature(m, wrong_signatures[pick(sizeof wrong_signatures / sizeof wrong_signatures[0])]);
        if (r < 0)
                return r;
        call(bus, path, calls[i].iface, calls[i].member, m, i == 4 ? EXPECT_REFUSED : EXPECT_ANY, false);
        return 0;
}

/* Every worker's facts, from ListWorkers and each object's Restarts. */
static int snapshot(sd_bus *bus, WorkerFacts *out, size_t *ret_n) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name, *state, *path;
        uint64_t cur, budget, recycles;
        uint32_t pid;
        size_t n = 0;
        int r;

        r = sd_bus_call_method(bus, CGWATCH_BUS_NAME, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE, "ListWorkers",
                               &error, &reply, NULL);
        if (r < 0) {
                fprintf(stderr, "bus-fuzz: ListWorkers failed: %s\n", error.message ?: strerror(-r));
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(ssuttto)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(ssuttto)", &name, &state, &pid, &cur, &budget, &recycles, &path)) >
               0) {
                if (n == MAX_WORKERS)
                        return -E2BIG;
                WorkerFacts *f = &out[n++];
                *f = (WorkerFacts){.pid = pid, .budget = budget, .recycles = recycles};
                snprintf(f->name, sizeof f->name, "%s", name);
                snprintf(f->state, sizeof f->state, "%s", state);
                snprintf(f->path, sizeof f->path, "%s", path);
                r = sd_bus_get_property_trivial(bus, CGWATCH_BUS_NAME, path, CGWATCH_WORKER_INTERFACE, "Restarts",
                                                &error, 'u', &f->restarts);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        *ret_n = n;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"calls", required_argument, NULL, 'n'},
                {"seed", required_argument, NULL, 's'},
                {"unprivileged", no_argument, NULL, 'u'},
                {"dry-run", no_argument, NULL, 'd'},
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        WorkerFacts after[MAX_WORKERS];
        size_t n_after = 0;
        unsigned target = 2000;
        uint64_t t0;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        target = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        rng_state = strtoull(optarg, NULL, 0) | 1;
                        break;
                case 'u':
                        arg_unprivileged = true;
                        break;
                case 'd':
                        arg_dry_run = true;
                        break;
                default:
                        return 2;
                }
        if (!arg_dry_run && arg_unprivileged != (geteuid() != 0)) {
                fprintf(stderr, "bus-fuzz: --unprivileged must be given exactly when not running as root\n");
                return 2;
        }
        huge = malloc(HUGE_BYTES + 1);
        if (!huge)
                return 2;
        memset(huge, 'a', HUGE_BYTES);
        huge[HUGE_BYTES] = 0;

        if (arg_dry_run) {
                /* messages for a bus that is never talked to (sd-bus builds messages only
                 * for a started bus: one end of a socketpair); a pretend dyno with two workers */
                int sp[2];
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 || sd_bus_new(&bus) < 0 ||
                    sd_bus_set_fd(bus, sp[0], sp[0]) < 0 || sd_bus_start(bus) < 0) {
                        fprintf(stderr, "bus-fuzz: cannot set up the dry run\n");
                        return 2;
                }
                dyno_limit = 512ULL * 1024 * 1024;
                n_workers = 2;
                strcpy(workers[0].name, "http");
                strcpy(workers[0].path, "/org/cgwatch1/worker/http");
                strcpy(workers[1].name, "queuer@1");
                strcpy(workers[1].path, "/org/cgwatch1/worker/queuer_401");
                goto fuzz;
        }
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "bus-fuzz: no system bus: %s\n", strerror(-r));
                return 2;
        }
        r = sd_bus_get_property_trivial(bus, CGWATCH_BUS_NAME, CGWATCH_MANAGER_PATH, CGWATCH_MANAGER_INTERFACE,
                                        "DynoMemoryLimit", &error, 't', &dyno_limit);
        if (r < 0) {
                fprintf(stderr, "bus-fuzz: DynoMemoryLimit: %s\n", error.message ?: strerror(-r));
                return 2;
        }
        if (snapshot(bus, workers, &n_workers) < 0)
                return 2;

fuzz:
        t0 = now_usec();
        while (n_calls < target) {
                switch (pick(4)) {
                case 0:
                case 1:
                        r = fuzz_manager_method(bus);
                        break;
                case 2:
                        r = fuzz_property(bus);
                        break;
                default:
                        r = fuzz_misc(bus);
                        break;
                }
                if (r < 0) {
                        fprintf(stderr, "bus-fuzz: building a message failed: %s\n", strerror(-r));
                        return 2;
                }
                if (n_lost > 0)
                        break; /* the daemon is gone: no point going on */
        }
        if (arg_dry_run) {
                printf("bus-fuzz: dry run: %u messages built\n", n_calls);
                bus = sd_bus_close_unref(bus); /* never authenticated: nothing to flush */
                free(huge);
                return 0;
        }

        uint64_t ping0 = now_usec();
        r = sd_bus_call_method(bus, CGWATCH_BUS_NAME, CGWATCH_MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", &error,
                               NULL, NULL);
        uint64_t ping_usec = now_usec() - ping0;
        bool answers = r >= 0 && snapshot(bus, after, &n_after) >= 0;
        bool same = answers && n_after == n_workers;
        for (size_t i = 0; same && i < n_workers; i++) {
                const WorkerFacts *a = &workers[i], *b = &after[i];
                if (!streq(a->name, b->name) || !streq(a->state, b->state) || a->pid != b->pid ||
                    a->budget != b->budget || a->recycles != b->recycles || a->restarts != b->restarts) {
                        fprintf(stderr,
                                "bus-fuzz: FAIL: %s changed: state %s -> %s, pid %u -> %u, budget %" PRIu64
                                " -> %" PRIu64 ", recycles %" PRIu64 " -> %" PRIu64 ", restarts %u -> %u\n",
                                a->name, a->state, b->state, a->pid, b->pid, a->budget, b->budget, a->recycles,
                                b->recycles, a->restarts, b->restarts);
                        same = false;
                }
        }
        printf("bus-fuzz: %s: %u calls in %.1f s (%u replied, %u refused, %u unanswered, %u wrongly answered); "
               "slowest %.1f ms (%s); then Ping %s in %.1f ms; %zu workers %s\n",
               arg_unprivileged ? "unprivileged" : "root", n_calls, (double) (now_usec() - t0) / 1e6, n_replied,
               n_refused, n_lost, n_wrong, (double) slowest_usec / 1000, slowest_what, answers ? "answered" : "FAILED",
               (double) ping_usec / 1000, n_workers, same ? "unchanged" : "CHANGED");
        free(huge);
        return n_lost == 0 && n_wrong == 0 && answers && same ? 0 : 1;
}
