/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatch.conf -> Config. Errors name FILE:LINE: KEY.
 *
 * Why our own INI reader (config-ini.c) and not libinih: see the header of config-ini.c.
 *
 * The work is split in four files:
 *   config-ini.c    text -> (section | key, value) events with line numbers;
 *   config-parse.c  keys and sections -> the structs in config.h (config_parse_buffer);
 *   config.c        this file: lifecycle and defaults, cross-checks (config_validate), the checks
 *                   against the system through an ops table (config_check_system), the resolved
 *                   tree (config_dump);
 *   config-load.c   reading the main file and its drop-ins (config_load), and the default ops.
 * Everything except config-load.c is pure. */

#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "config-ini.h"
#include "config-internal.h"
#include "parse-util.h"

#define PRESSURE_DEFAULT \
        ((PressureConfig){.full = false, .stall_usec = 150 * USEC_PER_MSEC, .window_usec = USEC_PER_SEC})

const DynoConfig config_dyno_defaults = {
        .recycle_at = {.set = true, .percent = true, .value = 900},
        .max_restarts = 5,
        .restart_window_usec = 60 * USEC_PER_SEC,
        .pressure = PRESSURE_DEFAULT,
        .recycle_cooldown_usec = USEC_PER_SEC,
};

const SupervisorConfig config_supervisor_defaults = {
        .strategy = STRATEGY_ONE_FOR_ONE,
        .max_restarts = 5,
        .restart_window_usec = 60 * USEC_PER_SEC,
};

const WorkerConfig config_worker_defaults = {
        .instances = 1,
        .stop_signal = SIGTERM,
        .stop_timeout_usec = 10 * USEC_PER_SEC,
        .restart = RESTART_ALWAYS,
        .restart_usec = 100 * USEC_PER_MSEC,
        .restart_max_usec = 30 * USEC_PER_SEC,
        .ready_timeout_usec = 30 * USEC_PER_SEC,
        .idle_recycle_after_usec = USEC_PER_SEC,
        .tasks_max = UINT64_MAX,
        .pressure = PRESSURE_DEFAULT,
};

/* The string defaults live in read-only memory; config_new() and resets strdup() them. */
const AmqpConfig config_amqp_defaults = {
        .url = (char *) CONFIG_AMQP_DEFAULT_URL,
        .exchange = (char *) CONFIG_AMQP_DEFAULT_EXCHANGE,
        .sample_interval_usec = 10 * USEC_PER_SEC,
        .outbox_size = CONFIG_AMQP_DEFAULT_OUTBOX,
};

static const char *const strategy_table[_STRATEGY_MAX] = {
        [STRATEGY_ONE_FOR_ONE] = "one-for-one",
        [STRATEGY_ONE_FOR_ALL] = "one-for-all",
        [STRATEGY_REST_FOR_ONE] = "rest-for-one",
};

static const char *const restart_policy_table[_RESTART_MAX] = {
        [RESTART_ALWAYS] = "always",
        [RESTART_ON_FAILURE] = "on-failure",
        [RESTART_NO] = "no",
};

const char *strategy_to_string(Strategy s) {
        return s >= 0 && s < _STRATEGY_MAX ? strategy_table[s] : NULL;
}

const char *restart_policy_to_string(RestartPolicy r) {
        return r >= 0 && r < _RESTART_MAX ? restart_policy_table[r] : NULL;
}

void config_location_done(ConfigLocation *l) {
        l->file = mfree(l->file);
        l->line = 0;
}

int config_location_set(ConfigLocation *l, const char *file, unsigned line) {
        char *f = strdup(file ?: "(unknown)");

        if (!f)
                return -ENOMEM;
        free(l->file);
        *l = (ConfigLocation){.file = f, .line = line};
        return 0;
}

static void supervisor_config_done(SupervisorConfig *s) {
        free(s->name);
        config_location_done(&s->where);
        free(s->parent);
        config_location_done(&s->parent_where);
        config_location_done(&s->memory_budget_where);
}

static void worker_config_done(WorkerConfig *w) {
        free(w->name);
        config_location_done(&w->where);
        free(w->exec_start);
        strv_free(w->exec_argv);
        config_location_done(&w->exec_start_where);
        free(w->supervisor);
        config_location_done(&w->supervisor_where);
        config_location_done(&w->memory_budget_where);
        config_location_done(&w->memory_max_where);
        free(w->user);
        free(w->group);
        config_location_done(&w->user_where);
        config_location_done(&w->group_where);
        free(w->working_directory);
        config_location_done(&w->working_directory_where);
        strv_free(w->environment);
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;

        config_location_done(&c->dyno.recycle_at_where);
        for (size_t i = 0; i < c->n_supervisors; i++)
                supervisor_config_done(&c->supervisors[i]);
        free(c->supervisors);
        for (size_t i = 0; i < c->n_workers; i++)
                worker_config_done(&c->workers[i]);
        free(c->workers);
        free(c->amqp.url);
        free(c->amqp.exchange);
        free(c->amqp.host);
        free(c->amqp.password_file);
        free(c->amqp.credential);
        free(c);
        return NULL;
}

Config *config_new(void) {
        _cleanup_(config_freep) Config *c = calloc(1, sizeof(Config));

        if (!c)
                return NULL;

        c->dyno = config_dyno_defaults;
        c->amqp = config_amqp_defaults;
        c->amqp.url = strdup(CONFIG_AMQP_DEFAULT_URL);
        c->amqp.exchange = strdup(CONFIG_AMQP_DEFAULT_EXCHANGE);
        if (!c->amqp.url || !c->amqp.exchange)
                return NULL;

        return TAKE_PTR(c);
}

char *config_amqp_url_redact(const char *url) {
        const char *auth = url ? strstr(url, "://") : NULL, *colon, *at;
        char *r;

        if (!url)
                return NULL;
        at = strrchr(url, '@');
        colon = auth ? strchr(auth + 3, ':') : NULL;
        if (!auth || !at || !colon || colon > at)
                return strdup(url);
        if (asprintf(&r, "%.*s:***%s", (int) (colon - url), url, at) < 0)
                return NULL;
        return r;
}

const SupervisorConfig *config_find_supervisor(const Config *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_supervisors; i++)
                if (streq(c->supervisors[i].name, name))
                        return &c->supervisors[i];
        return NULL;
}

uint64_t config_size_resolve(const ConfigSize *s, uint64_t dyno_limit_bytes) {
        if (!s || !s->set)
                return SIZE_UNSET;
        if (!s->percent)
                return s->value;
        if (dyno_limit_bytes == SIZE_UNSET)
                return SIZE_UNSET;
        /* limit * permille / 1000 without overflowing: permille <= 1000. */
        return dyno_limit_bytes / 1000 * s->value + dyno_limit_bytes % 1000 * s->value / 1000;
}

/* ---- Validation ---- */

static int location_error(char **ret_error, const ConfigLocation *l, const char *key, const char *what,
                          const char *value) {
        _cleanup_free_ char *q = value ? ini_quote(value) : NULL;

        if (value && !q)
                return -ENOMEM;
        return ini_error(ret_error, l->file, l->line, key, "%s%s%s", what, q ? " " : "", q ?: "");
}

#define NO_SUPERVISOR SIZE_MAX

/* The index of supervisor `name` in c->supervisors, or NO_SUPERVISOR (none, or no such name). */
static size_t supervisor_index(const Config *c, const char *name) {
        const SupervisorConfig *s = config_find_supervisor(c, name);

        return s ? (size_t) (s - c->supervisors) : NO_SUPERVISOR;
}

/* Follows the Supervisor= links (parent[i], NO_SUPERVISOR at the top) from every supervisor in
 * config order. Returns the member that comes first in the config of the first cycle met, or
 * NO_SUPERVISOR. state[] (n bytes, zeroed) is scratch: 1 = on the current path, 2 = done. */
static size_t find_cycle(const size_t *parent, size_t n, uint8_t *state) {
        for (size_t i = 0; i < n; i++) {
                size_t j = i, first;

                if (state[i] != 0)
                        continue;
                while (j != NO_SUPERVISOR && state[j] == 0) {
                        state[j] = 1;
                        j = parent[j];
                }
                if (j != NO_SUPERVISOR && state[j] == 1) {
                        first = j;
                        for (size_t k = parent[j]; k != j; k = parent[k])
                                first = MIN(first, k);
                        return first;
                }
                for (j = i; j != NO_SUPERVISOR && state[j] == 1; j = parent[j])
                        state[j] = 2;
        }
        return NO_SUPERVISOR;
}

/* "a -> b -> a", at most 8 names before "... -> a". Returns NULL on OOM. */
static char *format_cycle(const Config *c, const size_t *parent, size_t first) {
        size_t len = 0, shown = 0, i = first;
        char *buf, *p;

        do {
                len += strlen(c->supervisors[i].name) + 4;
                i = parent[i];
        } while (i != first && ++shown < 8);
        len += strlen(c->supervisors[first].name) + 8;

        p = buf = malloc(len);
        if (!buf)
                return NULL;
        shown = 0;
        i = first;
        do {
                p = stpcpy(stpcpy(p, c->supervisors[i].name), " -> ");
                i = parent[i];
        } while (i != first && ++shown < 8);
        if (i != first)
                p = stpcpy(p, "... -> ");
        (void) stpcpy(p, c->supervisors[first].name);
        return buf;
}

#define FORMAT_SIZE_MAX (FORMAT_BYTES_MAX + 32)

/* A size as written ("300M", "12.5%"), and for a percentage that was compared in bytes, what it
 * came to ("12.5% = 64M"). */
static const char *format_size(char buf[static FORMAT_SIZE_MAX], const ConfigSize *s, uint64_t limit, bool bytes) {
        char b[FORMAT_BYTES_MAX];
        int n;

        if (!s->percent)
                return format_bytes(buf, s->value);
        if (s->value % 10 == 0)
                n = snprintf(buf, FORMAT_SIZE_MAX, "%" PRIu64 "%%", s->value / 10);
        else
                n = snprintf(buf, FORMAT_SIZE_MAX, "%" PRIu64 ".%" PRIu64 "%%", s->value / 10, s->value % 10);
        if (bytes && n > 0)
                (void) snprintf(buf + n, FORMAT_SIZE_MAX - (size_t) n, " = %s",
                                format_bytes(b, config_size_resolve(s, limit)));
        return buf;
}

/* Whether a is above b as far as the config alone can tell: as percentages when both are, else
 * in bytes when both resolve without the system (a percentage needs an absolute MemoryLimit=).
 * *ret_bytes says which. A pair that cannot be compared here is the daemon's to check. */
static bool size_above(const ConfigSize *a, const ConfigSize *b, uint64_t limit, bool *ret_bytes) {
        uint64_t x, y;

        *ret_bytes = false;
        if (a->percent && b->percent)
                return a->value > b->value;
        x = config_size_resolve(a, limit);
        y = config_size_resolve(b, limit);
        if (x == SIZE_UNSET || y == SIZE_UNSET)
                return false;
        *ret_bytes = true;
        return x > y;
}

/* A MemoryBudget= must fit into the budget of every enclosing supervisor (from `up` to the top)
 * and into the MemoryLimit=. The nearest offence is reported. */
static int check_budget(const Config *c, const size_t *parent, const ConfigSize *budget, const ConfigLocation *where,
                        size_t up, char **ret_error) {
        const ConfigSize *ml = &c->dyno.memory_limit;
        uint64_t limit = ml->set && !ml->percent ? ml->value : SIZE_UNSET;
        char a[FORMAT_SIZE_MAX], b[FORMAT_SIZE_MAX];
        bool bytes;

        if (!budget->set)
                return 0;

        for (size_t i = up; i != NO_SUPERVISOR; i = parent[i]) {
                const SupervisorConfig *s = &c->supervisors[i];

                if (s->memory_budget.set && size_above(budget, &s->memory_budget, limit, &bytes))
                        return ini_error(ret_error, where->file, where->line, "MemoryBudget",
                                         "%s is above MemoryBudget=%s of [Supervisor %s]",
                                         format_size(a, budget, limit, bytes),
                                         format_size(b, &s->memory_budget, limit, bytes), s->name);
        }
        if (limit != SIZE_UNSET && size_above(budget, ml, limit, &bytes))
                return ini_error(ret_error, where->file, where->line, "MemoryBudget", "%s is above MemoryLimit=%s",
                                 format_size(a, budget, limit, bytes), format_bytes(b, limit));
        return 0;
}

/* MemoryMax= is a hard cap above the budget: below it, the kernel would OOM-kill the worker
 * before cgwatch could recycle it for its budget. */
static int check_memory_max(const Config *c, const WorkerConfig *w, char **ret_error) {
        const ConfigSize *ml = &c->dyno.memory_limit;
        uint64_t limit = ml->set && !ml->percent ? ml->value : SIZE_UNSET;
        char a[FORMAT_SIZE_MAX], b[FORMAT_SIZE_MAX];
        bool bytes;

        if (!w->memory_max.set || !w->memory_budget.set)
                return 0;
        if (size_above(&w->memory_budget, &w->memory_max, limit, &bytes))
                return ini_error(ret_error, w->memory_max_where.file, w->memory_max_where.line, "MemoryMax",
                                 "%s is below MemoryBudget=%s (the kernel would OOM-kill the worker before its "
                                 "budget recycle)",
                                 format_size(a, &w->memory_max, limit, bytes),
                                 format_size(b, &w->memory_budget, limit, bytes));
        return 0;
}

/* The supervisor tree: unknown parents, cycles, budgets. Names have been checked already. */
static int validate_tree(const Config *c, char **ret_error) {
        _cleanup_free_ size_t *parent = NULL;
        _cleanup_free_ uint8_t *state = NULL;
        size_t n = c->n_supervisors;
        int r;

        if (n > 0) {
                parent = calloc(n, sizeof(size_t));
                state = calloc(n, 1);
                if (!parent || !state)
                        return -ENOMEM;
        }

        for (size_t i = 0; i < n; i++) {
                const SupervisorConfig *s = &c->supervisors[i];

                parent[i] = supervisor_index(c, s->parent);
                if (s->parent && parent[i] == NO_SUPERVISOR)
                        return location_error(ret_error, &s->parent_where, "Supervisor",
                                              "no such [Supervisor NAME] section:", s->parent);
        }

        size_t first = find_cycle(parent, n, state);
        if (first != NO_SUPERVISOR) {
                _cleanup_free_ char *cycle = format_cycle(c, parent, first);

                if (!cycle)
                        return -ENOMEM;
                return ini_error(ret_error, c->supervisors[first].parent_where.file,
                                 c->supervisors[first].parent_where.line, "Supervisor",
                                 "supervisor cycle %s (supervisors form a tree under the dyno)", cycle);
        }

        for (size_t i = 0; i < n; i++) {
                r = check_budget(c, parent, &c->supervisors[i].memory_budget, &c->supervisors[i].memory_budget_where,
                                 parent[i], ret_error);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < c->n_workers; i++) {
                const WorkerConfig *w = &c->workers[i];

                r = check_budget(c, parent, &w->memory_budget, &w->memory_budget_where,
                                 supervisor_index(c, w->supervisor), ret_error);
                if (r < 0)
                        return r;
                r = check_memory_max(c, w, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int config_validate(const Config *c, char **ret_error) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];

        if (!c)
                return -EINVAL;

        /* Names share one namespace: supervisors and workers are sibling cgroups under the dyno,
         * and instance names "NAME@N" cannot collide with anything because '@' is not allowed in
         * names (name_is_valid()), so unique names imply unique instance names. */
        for (size_t i = 0; i < c->n_supervisors; i++) {
                const SupervisorConfig *s = &c->supervisors[i];

                if (!name_is_valid(s->name))
                        return location_error(ret_error, &s->where, NULL, "invalid supervisor name", s->name ?: "");
                for (size_t j = 0; j < i; j++)
                        if (streq(c->supervisors[j].name, s->name))
                                return location_error(ret_error, &s->where, NULL, "duplicate supervisor name", s->name);
        }

        for (size_t i = 0; i < c->n_workers; i++) {
                const WorkerConfig *w = &c->workers[i];
                const SupervisorConfig *s;

                if (!name_is_valid(w->name))
                        return location_error(ret_error, &w->where, NULL, "invalid worker name", w->name ?: "");
                for (size_t j = 0; j < i; j++)
                        if (streq(c->workers[j].name, w->name))
                                return location_error(ret_error, &w->where, NULL, "duplicate worker name", w->name);
                s = config_find_supervisor(c, w->name);
                if (s)
                        return ini_error(ret_error, w->where.file, w->where.line, NULL,
                                         "[Worker %s] has the same name as [Supervisor %s] at %s:%u", w->name, s->name,
                                         s->where.file ?: "(unknown)", s->where.line);

                if (!w->exec_argv || !w->exec_argv[0])
                        return ini_error(ret_error, w->where.file, w->where.line, "ExecStart", "not set in [Worker %s]",
                                         w->name);
                if (w->instances < 1 || w->instances > CONFIG_INSTANCES_MAX)
                        return ini_error(ret_error, w->where.file, w->where.line, "Instances",
                                         "%u is not between 1 and %u in [Worker %s]", w->instances,
                                         CONFIG_INSTANCES_MAX, w->name);
                if (w->supervisor && !config_find_supervisor(c, w->supervisor))
                        return location_error(ret_error, &w->supervisor_where, "Supervisor",
                                              "no such [Supervisor NAME] section:", w->supervisor);
        }

        /* With both absolute, RecycleAt must leave room below the limit. Percentages are checked
         * when parsed (RecycleAt < 100%); a limit detected at runtime is the daemon's to check. */
        if (c->dyno.recycle_at.set && !c->dyno.recycle_at.percent && c->dyno.memory_limit.set &&
            !c->dyno.memory_limit.percent && c->dyno.recycle_at.value >= c->dyno.memory_limit.value)
                return ini_error(ret_error, c->dyno.recycle_at_where.file, c->dyno.recycle_at_where.line, "RecycleAt",
                                 "%s is not below MemoryLimit=%s", format_bytes(a, c->dyno.recycle_at.value),
                                 format_bytes(b, c->dyno.memory_limit.value));

        return validate_tree(c, ret_error);
}

/* ---- Checks against the system ---- */

/* "KEY: what "value"" when the check said no (what != NULL), or "KEY: cannot failed "value":
 * strerror" when the check itself failed. */
static int system_error(char **ret_error, const ConfigLocation *l, const char *key, const char *what,
                        const char *failed, const char *value, int error) {
        _cleanup_free_ char *q = ini_quote(value);

        if (!q)
                return -ENOMEM;
        if (what)
                return ini_error(ret_error, l->file, l->line, key, "%s %s", what, q);
        errno = -error;
        return ini_error(ret_error, l->file, l->line, key, "cannot %s %s: %m", failed, q);
}

int config_check_system(const Config *c, const ConfigSystemOps *ops, char **ret_error) {
        int r;

        if (!c || !ops)
                return -EINVAL;

        for (size_t i = 0; i < c->n_workers; i++) {
                const WorkerConfig *w = &c->workers[i];
                const char *what;

                if (w->exec_argv && w->exec_argv[0] && ops->check_executable) {
                        r = ops->check_executable(w->exec_argv[0], ops->userdata);
                        what = r == -ENOENT || r == -ENOTDIR   ? "no such program"
                               : r == -EISDIR || r == -ENOEXEC ? "program is not a regular file"
                               : r == -EACCES                  ? "program is not executable"
                                                               : NULL;
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return system_error(ret_error, &w->exec_start_where, "ExecStart", what, "check program",
                                                    w->exec_argv[0], r);
                }
                if (w->user && ops->lookup_user) {
                        r = ops->lookup_user(w->user, ops->userdata);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return system_error(ret_error, &w->user_where, "User",
                                                    r == -ESRCH ? "no such user" : NULL, "look up user", w->user, r);
                }
                if (w->group && ops->lookup_group) {
                        r = ops->lookup_group(w->group, ops->userdata);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return system_error(ret_error, &w->group_where, "Group",
                                                    r == -ESRCH ? "no such group" : NULL, "look up group", w->group, r);
                }
                if (w->working_directory && ops->check_directory) {
                        r = ops->check_directory(w->working_directory, ops->userdata);
                        what = r == -ENOENT    ? "no such directory"
                               : r == -ENOTDIR ? "not a directory"
                               : r == -EACCES  ? "directory is not accessible"
                                               : NULL;
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return system_error(ret_error, &w->working_directory_where, "WorkingDirectory", what,
                                                    "check directory", w->working_directory, r);
                }
        }
        return 0;
}

/* ---- Dump ---- */

static void dump_size(FILE *f, const ConfigSize *s, uint64_t limit) {
        char a[FORMAT_BYTES_MAX];
        uint64_t bytes = config_size_resolve(s, limit);

        if (!s->set) {
                fputs("max", f);
                return;
        }
        if (s->percent) {
                if (s->value % 10 == 0)
                        fprintf(f, "%" PRIu64 "%% = ", s->value / 10);
                else
                        fprintf(f, "%" PRIu64 ".%" PRIu64 "%% = ", s->value / 10, s->value % 10);
                if (bytes == SIZE_UNSET) {
                        fputs("? (dyno limit unknown)", f);
                        return;
                }
        }
        fprintf(f, "%s (%" PRIu64 " bytes)", format_bytes(a, bytes), bytes);
}

static void dump_pressure(FILE *f, const PressureConfig *p) {
        char a[FORMAT_DURATION_MAX], b[FORMAT_DURATION_MAX];

        if (p->stall_usec == 0)
                fputs("off", f);
        else
                fprintf(f, "%s %s %s", p->full ? "full" : "some", format_duration(a, p->stall_usec),
                        format_duration(b, p->window_usec));
}

/* indent: in spaces. */
static void dump_worker(FILE *f, const WorkerConfig *w, uint64_t limit, int indent) {
        char a[FORMAT_DURATION_MAX], b[FORMAT_DURATION_MAX], d[FORMAT_DURATION_MAX];
        const char *sig = sigabbrev_np(w->stop_signal);

        fprintf(f, "%*sworker %s: budget ", indent, "", w->name);
        dump_size(f, &w->memory_budget, limit);
        if (w->instances > 1)
                fprintf(f, ", %u instances %s@1..%s@%u", w->instances, w->name, w->name, w->instances);
        fprintf(f, "\n%*s  exec: %s\n", indent, "", w->exec_start ?: "(not set)");
        fprintf(f, "%*s  restart %s (backoff %s..%s), stop SIG%s then cgroup.kill after %s\n", indent, "",
                restart_policy_to_string(w->restart) ?: "?", format_duration(a, w->restart_usec),
                format_duration(b, w->restart_max_usec), sig ?: "?", format_duration(d, w->stop_timeout_usec));
        fprintf(f, "%*s  pressure ", indent, "");
        dump_pressure(f, &w->pressure);
        fprintf(f, ", replace first %s, ready timeout %s%s\n", w->replace_first ? "yes" : "no",
                format_duration(a, w->ready_timeout_usec), w->budget_counts_rss ? ", budget counts RSS" : "");
        if (w->watchdog_usec > 0 || w->max_lifetime_usec > 0 || w->idle_timeout_usec > 0)
                fprintf(f, "%*s  watchdog %s, max lifetime %s, idle timeout %s\n", indent, "",
                        w->watchdog_usec ? format_duration(a, w->watchdog_usec) : "off",
                        w->max_lifetime_usec ? format_duration(b, w->max_lifetime_usec) : "off",
                        w->idle_timeout_usec ? format_duration(d, w->idle_timeout_usec) : "off");
        if (w->idle_recycle_above.set) {
                if (w->idle_recycle_above.percent)
                        fprintf(f, "%*s  idle recycle above %" PRIu64 ".%" PRIu64 "%% of the budget", indent, "",
                                w->idle_recycle_above.value / 10, w->idle_recycle_above.value % 10);
                else
                        fprintf(f, "%*s  idle recycle above %" PRIu64 " bytes", indent, "",
                                w->idle_recycle_above.value);
                fprintf(f, ", after %s without CPU\n", format_duration(a, w->idle_recycle_after_usec));
        }
        if (w->user || w->group || w->working_directory || w->tasks_max != UINT64_MAX) {
                char t[24] = "max";

                if (w->tasks_max != UINT64_MAX)
                        (void) snprintf(t, sizeof(t), "%" PRIu64, w->tasks_max);
                fprintf(f, "%*s  user %s, group %s, directory %s, tasks max %s\n", indent, "", w->user ?: "(inherit)",
                        w->group ?: "(inherit)", w->working_directory ?: "(inherit)", t);
        }
        for (char **e = w->environment; e && *e; e++)
                fprintf(f, "%*s  env %s\n", indent, "", *e);
}

/* A supervisor, its workers, then the supervisors inside it. Supervisors in a cycle are never
 * reached from the top; depth stops a tree that config_validate() would refuse anyway (two
 * supervisors of one name) from recursing forever. */
static void dump_supervisor(FILE *f, const Config *c, const SupervisorConfig *s, uint64_t limit, int indent,
                            size_t depth) {
        char a[FORMAT_DURATION_MAX];

        if (depth > c->n_supervisors)
                return;
        fprintf(f, "%*ssupervisor %s: %s, budget ", indent, "", s->name, strategy_to_string(s->strategy) ?: "?");
        dump_size(f, &s->memory_budget, limit);
        fprintf(f, ", at most %u restarts in %s\n", s->max_restarts, format_duration(a, s->restart_window_usec));
        for (size_t j = 0; j < c->n_workers; j++)
                if (streq_ptr(c->workers[j].supervisor, s->name))
                        dump_worker(f, &c->workers[j], limit, indent + 2);
        for (size_t j = 0; j < c->n_supervisors; j++)
                if (streq_ptr(c->supervisors[j].parent, s->name))
                        dump_supervisor(f, c, &c->supervisors[j], limit, indent + 2, depth + 1);
}

void config_dump(const Config *c, uint64_t dyno_limit_bytes, FILE *f) {
        char a[FORMAT_DURATION_MAX], b[FORMAT_DURATION_MAX], l[FORMAT_BYTES_MAX];
        uint64_t limit = dyno_limit_bytes;

        if (!c || !f)
                return;

        if (limit == SIZE_UNSET && c->dyno.memory_limit.set && !c->dyno.memory_limit.percent)
                limit = c->dyno.memory_limit.value;

        fprintf(f, "dyno: limit ");
        if (limit == SIZE_UNSET)
                fputs("unknown", f);
        else
                fprintf(f, "%s (%" PRIu64 " bytes)%s", format_bytes(l, limit), limit,
                        c->dyno.memory_limit.set ? "" : " detected");
        fputs(", recycle at ", f);
        dump_size(f, &c->dyno.recycle_at, limit);
        fprintf(f, "\n  at most %u restarts in %s, recycle cooldown %s, recycles count as restarts: %s\n",
                c->dyno.max_restarts, format_duration(a, c->dyno.restart_window_usec),
                format_duration(b, c->dyno.recycle_cooldown_usec), c->dyno.recycles_count_as_restarts ? "yes" : "no");
        fputs("  pressure ", f);
        dump_pressure(f, &c->dyno.pressure);
        fputc('\n', f);
        if (c->dyno.sample_interval_usec > 0)
                fprintf(f, "  history samples every %s\n", format_duration(a, c->dyno.sample_interval_usec));

        /* Workers directly under the dyno (or naming a supervisor that does not exist) first, then
         * the supervisors at the top of the tree (or naming a parent that does not exist). */
        for (size_t i = 0; i < c->n_workers; i++)
                if (!config_find_supervisor(c, c->workers[i].supervisor))
                        dump_worker(f, &c->workers[i], limit, 2);
        for (size_t i = 0; i < c->n_supervisors; i++)
                if (!config_find_supervisor(c, c->supervisors[i].parent))
                        dump_supervisor(f, c, &c->supervisors[i], limit, 2, 0);

        if (c->amqp.enabled) {
                _cleanup_free_ char *url = config_amqp_url_redact(c->amqp.url);

                fprintf(f, "amqp: %s exchange %s, host %s, samples every %s, outbox %u", url ?: "(out of memory)",
                        c->amqp.exchange, c->amqp.host ?: "(hostname)",
                        format_duration(a, c->amqp.sample_interval_usec), c->amqp.outbox_size);
                if (c->amqp.password_file)
                        fprintf(f, ", password from file %s", c->amqp.password_file);
                else if (c->amqp.credential)
                        fprintf(f, ", password from credential %s", c->amqp.credential);
                fputc('\n', f);
        } else
                fputs("amqp: off\n", f);
}
