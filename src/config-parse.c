/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Sections and keys of cgwatch.conf: one table (config_items) maps each key onto a field of the
 * structs in config.h and a value parser; config_parse_buffer() feeds it from the tokenizer in
 * config-ini.c. Pure: no I/O. An empty value ("Key=") resets the field to its default. Errors
 * read "FILE:LINE: KEY: what "value" (hint)"; section errors "FILE:LINE: what". */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config-ini.h"
#include "config-internal.h"
#include "parse-util.h"

/* Durations are added to CLOCK_MONOTONIC timestamps: keep them far from overflowing. */
#define DURATION_MAX (100ULL * 365ULL * 24ULL * USEC_PER_HOUR)

/* ---- Keys ---- */

typedef enum SectionType {
        SECTION_DYNO,
        SECTION_SUPERVISOR,
        SECTION_WORKER,
        SECTION_AMQP,
        _SECTION_MAX,
} SectionType;

static const char *const section_table[_SECTION_MAX] = {
        [SECTION_DYNO] = "Dyno",
        [SECTION_SUPERVISOR] = "Supervisor",
        [SECTION_WORKER] = "Worker",
        [SECTION_AMQP] = "AMQP",
};

/* What a value parser needs to know to write its field and to word an error. */
typedef struct KeyContext {
        const char *file;
        unsigned line;
        const char *key;
        char **ret_error;
        void *section;        /* DynoConfig, SupervisorConfig, WorkerConfig or AmqpConfig */
        const void *defaults; /* the matching *_defaults: an empty value resets to it */
} KeyContext;

typedef struct ConfigItem ConfigItem;
typedef int (*ItemParser)(const KeyContext *k, const ConfigItem *item, const char *value);

enum {
        FLAG_NO_PERCENT = 1 << 0,      /* sizes: absolute only */
        FLAG_NONZERO = 1 << 1,         /* sizes, durations: 0 is refused */
        FLAG_BELOW_100 = 1 << 2,       /* sizes: a percentage must stay below 100% */
        FLAG_MAX_IS_UNSET = 1 << 3,    /* sizes: "max"/"infinity" -> unset */
        FLAG_INFINITY_IS_OFF = 1 << 4, /* durations where 0 = off: "infinity" -> 0 */
        FLAG_USER = 1 << 5,            /* strings: a user name */
        FLAG_GROUP = 1 << 6,           /* strings: a group name */
        FLAG_PATH = 1 << 7,            /* strings: an absolute path */
        FLAG_AMQP_URL = 1 << 8,
        FLAG_EXCHANGE = 1 << 9,
        FLAG_WHERE = 1 << 10, /* remember where the key was set, in the ConfigLocation at `where` */
        FLAG_AMQP_HOST = 1 << 11,
};

struct ConfigItem {
        SectionType section;
        const char *key;
        ItemParser parse;
        size_t offset; /* of the field inside the section struct */
        unsigned flags;
        uint64_t min, max; /* numbers */
        size_t where;      /* FLAG_WHERE: offset of a ConfigLocation inside the section struct */
};

#define FIELD(k, item)   ((void *) ((uint8_t *) (k)->section + (item)->offset))
#define DEFAULT(k, item) ((const void *) ((const uint8_t *) (k)->defaults + (item)->offset))

static bool isempty(const char *s) {
        return !s || !*s;
}

/* "KEY: what "value"" or "KEY: what "value" (hint)". */
static int value_error(const KeyContext *k, const char *what, const char *value, const char *hint) {
        _cleanup_free_ char *q = ini_quote(value);

        if (!q)
                return -ENOMEM;
        return ini_error(k->ret_error, k->file, k->line, k->key, "%s %s%s%s%s", what, q, hint ? " (" : "", hint ?: "",
                         hint ? ")" : "");
}

static int item_size(const KeyContext *k, const ConfigItem *item, const char *value) {
        ConfigSize *s = FIELD(k, item), v;
        int r;

        if (isempty(value)) {
                *s = *(const ConfigSize *) DEFAULT(k, item);
                return 0;
        }
        if ((item->flags & FLAG_MAX_IS_UNSET) && (streq(value, "max") || streq(value, "infinity"))) {
                *s = (ConfigSize){};
                return 0;
        }

        r = parse_size(value, &v);
        if (r == -ERANGE)
                return value_error(k, "size out of range", value, NULL);
        if (r < 0)
                return value_error(k, "invalid size", value, NULL);
        if (v.percent && (item->flags & FLAG_NO_PERCENT))
                return value_error(k, "invalid size", value, "must be absolute, not a percentage");
        if (v.value == 0 && (item->flags & FLAG_NONZERO))
                return value_error(k, "invalid size", value, "must be greater than zero");
        if (v.percent && v.value >= 1000 && (item->flags & FLAG_BELOW_100))
                return value_error(k, "invalid size", value, "must be below 100%");

        *s = v;
        return 0;
}

static int item_duration(const KeyContext *k, const ConfigItem *item, const char *value) {
        usec_t *u = FIELD(k, item), v;
        int r;

        if (isempty(value)) {
                *u = *(const usec_t *) DEFAULT(k, item);
                return 0;
        }

        r = parse_duration(value, &v);
        if (r == -ERANGE)
                return value_error(k, "duration out of range", value, NULL);
        if (r < 0)
                return value_error(k, "invalid duration", value, NULL);
        if (v == USEC_INFINITY) {
                if (!(item->flags & FLAG_INFINITY_IS_OFF))
                        return value_error(k, "invalid duration", value, "must be finite");
                v = 0;
        }
        if (v > DURATION_MAX)
                return value_error(k, "duration out of range", value, "at most 100 years");
        if (v == 0 && (item->flags & FLAG_NONZERO))
                return value_error(k, "invalid duration", value, "must be greater than zero");

        *u = v;
        return 0;
}

static int item_unsigned(const KeyContext *k, const ConfigItem *item, const char *value) {
        unsigned *u = FIELD(k, item);
        uint64_t v;
        int r;

        if (isempty(value)) {
                *u = *(const unsigned *) DEFAULT(k, item);
                return 0;
        }

        r = parse_uint64(value, &v);
        if (r == -EINVAL)
                return value_error(k, "invalid number", value, NULL);
        if (r < 0 || v < item->min || v > item->max) {
                char hint[64];

                (void) snprintf(hint, sizeof(hint), "must be between %" PRIu64 " and %" PRIu64, item->min, item->max);
                return value_error(k, "invalid number", value, hint);
        }

        *u = (unsigned) v;
        return 0;
}

static int item_tasks_max(const KeyContext *k, const ConfigItem *item, const char *value) {
        uint64_t *t = FIELD(k, item), v;

        if (isempty(value) || streq(value, "max") || streq(value, "infinity")) {
                *t = UINT64_MAX;
                return 0;
        }
        if (parse_uint64(value, &v) < 0 || v == 0 || v == UINT64_MAX)
                return value_error(k, "invalid number", value, "expected a positive number or \"max\"");
        *t = v;
        return 0;
}

static int item_bool(const KeyContext *k, const ConfigItem *item, const char *value) {
        bool *b = FIELD(k, item);

        if (isempty(value)) {
                *b = *(const bool *) DEFAULT(k, item);
                return 0;
        }
        if (parse_boolean(value, b) < 0)
                return value_error(k, "invalid boolean", value, NULL);
        return 0;
}

static int item_signal(const KeyContext *k, const ConfigItem *item, const char *value) {
        int *sig = FIELD(k, item);

        if (isempty(value)) {
                *sig = *(const int *) DEFAULT(k, item);
                return 0;
        }
        if (parse_signal(value, sig) < 0)
                return value_error(k, "invalid signal", value, NULL);
        return 0;
}

static int item_strategy(const KeyContext *k, const ConfigItem *item, const char *value) {
        Strategy *s = FIELD(k, item);

        if (isempty(value)) {
                *s = *(const Strategy *) DEFAULT(k, item);
                return 0;
        }
        for (Strategy i = 0; i < _STRATEGY_MAX; i++)
                if (streq(value, strategy_to_string(i))) {
                        *s = i;
                        return 0;
                }
        return value_error(k, "invalid strategy", value, "expected one-for-one, one-for-all or rest-for-one");
}

static int item_restart(const KeyContext *k, const ConfigItem *item, const char *value) {
        RestartPolicy *p = FIELD(k, item);

        if (isempty(value)) {
                *p = *(const RestartPolicy *) DEFAULT(k, item);
                return 0;
        }
        for (RestartPolicy i = 0; i < _RESTART_MAX; i++)
                if (streq(value, restart_policy_to_string(i))) {
                        *p = i;
                        return 0;
                }
        return value_error(k, "invalid restart policy", value, "expected always, on-failure or no");
}

static int item_pressure(const KeyContext *k, const ConfigItem *item, const char *value) {
        PressureConfig *p = FIELD(k, item);
        int r;

        if (isempty(value)) {
                *p = *(const PressureConfig *) DEFAULT(k, item);
                return 0;
        }
        r = parse_pressure(value, p);
        if (r == -ERANGE)
                return value_error(k, "pressure trigger out of range", value,
                                   "the window must be 500ms..10s, the stall above 0 and within the window");
        if (r < 0)
                return value_error(k, "invalid pressure trigger", value,
                                   "expected \"some|full STALL WINDOW\" or \"no\"");
        return 0;
}

static int item_exec(const KeyContext *k, const ConfigItem *item, const char *value) {
        WorkerConfig *w = k->section;
        _cleanup_strv_free_ char **argv = NULL;
        char *s;
        int r;

        if (isempty(value)) {
                w->exec_start = mfree(w->exec_start);
                strv_free(w->exec_argv);
                w->exec_argv = NULL;
                return 0;
        }

        r = parse_command_line(value, &argv);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return value_error(k, "invalid command line", value, "unbalanced quotes or trailing backslash");
        /* Not looked up in PATH: spawn's execvpe() would search the daemon's PATH, not the one
         * the worker's Environment= sets, and config_check_system() checks exactly this file. */
        if (argv[0][0] != '/')
                return value_error(k, "program is not an absolute path", argv[0], NULL);

        s = strdup(value);
        if (!s)
                return -ENOMEM;
        free(w->exec_start);
        w->exec_start = s;
        strv_free(w->exec_argv);
        w->exec_argv = TAKE_PTR(argv);
        return 0;
}

static bool user_group_name_is_valid(const char *s) {
        uint64_t id;
        size_t n = strlen(s);

        /* A numeric id, or a conservative POSIX-ish name: [A-Za-z_][A-Za-z0-9_.-]*, optional
         * trailing '$' (Samba machine accounts), at most 32 bytes. */
        if (s[0] >= '0' && s[0] <= '9')
                return parse_uint64(s, &id) >= 0 && id < UINT32_MAX;
        if (n == 0 || n > 32)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

                if (alpha || (i > 0 && ((c >= '0' && c <= '9') || c == '.' || c == '-')))
                        continue;
                if (c == '$' && i > 0 && i == n - 1)
                        continue;
                return false;
        }
        return true;
}

static bool exchange_is_valid(const char *s) {
        size_t n = strlen(s);

        /* AMQP 0-9-1 shortstr, restricted to RabbitMQ's documented exchange name characters. */
        if (n == 0 || n > 127)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      strchr("-_.:", *s)))
                        return false;
        return true;
}

static bool has_control_chars(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static int item_string(const KeyContext *k, const ConfigItem *item, const char *value) {
        char **p = FIELD(k, item), *s;
        const char *dflt = *(char *const *) DEFAULT(k, item);

        if (isempty(value)) {
                s = dflt ? strdup(dflt) : NULL;
                if (dflt && !s)
                        return -ENOMEM;
                free(*p);
                *p = s;
                return 0;
        }

        if ((item->flags & FLAG_USER) && !user_group_name_is_valid(value))
                return value_error(k, "invalid user name", value, NULL);
        if ((item->flags & FLAG_GROUP) && !user_group_name_is_valid(value))
                return value_error(k, "invalid group name", value, NULL);
        if ((item->flags & FLAG_PATH) && (value[0] != '/' || has_control_chars(value)))
                return value_error(k, "invalid path", value, "must be absolute");
        if ((item->flags & FLAG_AMQP_URL) &&
            ((strncmp(value, "amqp://", 7) != 0 && strncmp(value, "amqps://", 8) != 0) || has_control_chars(value) ||
             strpbrk(value, " \t"))) {
                /* The error is printed: never with the password in it. */
                _cleanup_free_ char *redacted = config_amqp_url_redact(value);

                if (!redacted)
                        return -ENOMEM;
                return value_error(k, "invalid AMQP URL", redacted, "expected amqp://... or amqps://...");
        }
        if ((item->flags & FLAG_AMQP_HOST) && (strlen(value) > 253 || has_control_chars(value)))
                return value_error(k, "invalid host name", value, "at most 253 characters, no control characters");
        if ((item->flags & FLAG_EXCHANGE) && !exchange_is_valid(value))
                return value_error(k, "invalid exchange name", value, NULL);

        s = strdup(value);
        if (!s)
                return -ENOMEM;
        free(*p);
        *p = s;
        return 0;
}

/* Supervisor= in a [Worker] or a [Supervisor]: the name of the enclosing supervisor. */
static int item_supervisor_ref(const KeyContext *k, const ConfigItem *item, const char *value) {
        char **p = FIELD(k, item), *s;

        if (isempty(value)) {
                *p = mfree(*p);
                return 0;
        }
        if (!name_is_valid(value))
                return value_error(k, "invalid supervisor name", value, NULL);

        s = strdup(value);
        if (!s)
                return -ENOMEM;
        free(*p);
        *p = s;
        return 0;
}

static bool env_name_is_valid(const char *s, size_t n) {
        if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '_'))
                        return false;
        return true;
}

/* Environment= accumulates; a variable set again replaces the earlier value in place (an envp
 * with two FOO= entries means different things to different getenv()s). */
static int item_environment(const KeyContext *k, const ConfigItem *item, const char *value) {
        char ***env = FIELD(k, item);
        _cleanup_strv_free_ char **words = NULL;
        size_t n;
        int r;

        if (isempty(value)) {
                strv_free(*env);
                *env = NULL;
                return 0;
        }

        r = parse_command_line(value, &words);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return value_error(k, "invalid quoting in", value, NULL);

        /* Validate everything before changing anything. */
        for (char **w = words; *w; w++) {
                const char *eq = strchr(*w, '=');

                if (!eq)
                        return value_error(k, "invalid environment assignment", *w, "expected NAME=VALUE");
                if (!env_name_is_valid(*w, (size_t) (eq - *w)))
                        return value_error(k, "invalid environment variable name", *w, NULL);
        }

        n = strv_length(*env);
        for (char **w = words; *w; w++) {
                size_t name_len = (size_t) (strchr(*w, '=') - *w) + 1;
                char *copy = strdup(*w);
                size_t i;

                if (!copy)
                        return -ENOMEM;
                for (i = 0; i < n; i++)
                        if (strncmp((*env)[i], *w, name_len) == 0)
                                break;
                if (i < n) {
                        free((*env)[i]);
                        (*env)[i] = copy;
                        continue;
                }

                char **m = reallocarray(*env, n + 2, sizeof(char *));
                if (!m) {
                        free(copy);
                        return -ENOMEM;
                }
                m[n++] = copy;
                m[n] = NULL;
                *env = m;
        }

        return 0;
}

/* PasswordFile= and Credential= are two spellings of one setting, the password's source: the
 * later assignment wins and clears the other. */
static int item_amqp_password(const KeyContext *k, const ConfigItem *item, const char *value) {
        AmqpConfig *a = k->section;
        bool file = item->offset == offsetof(AmqpConfig, password_file);
        char *s;

        if (isempty(value)) {
                a->password_file = mfree(a->password_file);
                a->credential = mfree(a->credential);
                return 0;
        }
        if (file && (value[0] != '/' || has_control_chars(value)))
                return value_error(k, "invalid path", value, "must be absolute");
        if (!file && (strlen(value) > 255 || strchr(value, '/') || streq(value, ".") || streq(value, "..") ||
                      has_control_chars(value)))
                return value_error(k, "invalid credential name", value, "a file name under $CREDENTIALS_DIRECTORY");

        s = strdup(value);
        if (!s)
                return -ENOMEM;
        free(a->password_file);
        free(a->credential);
        a->password_file = file ? s : NULL;
        a->credential = file ? NULL : s;
        return 0;
}

#define D(f) offsetof(DynoConfig, f)
#define S(f) offsetof(SupervisorConfig, f)
#define W(f) offsetof(WorkerConfig, f)
#define A(f) offsetof(AmqpConfig, f)

static const ConfigItem config_items[] = {
        {SECTION_DYNO, "MemoryLimit", item_size, D(memory_limit), FLAG_NO_PERCENT | FLAG_NONZERO | FLAG_MAX_IS_UNSET},
        {SECTION_DYNO, "RecycleAt", item_size, D(recycle_at), FLAG_NONZERO | FLAG_BELOW_100 | FLAG_WHERE,
         .where = D(recycle_at_where)},
        {SECTION_DYNO, "MaxRestarts", item_unsigned, D(max_restarts), 0, 0, UINT32_MAX},
        {SECTION_DYNO, "RestartWindowSec", item_duration, D(restart_window_usec), FLAG_NONZERO},
        {SECTION_DYNO, "MemoryPressure", item_pressure, D(pressure)},
        {SECTION_DYNO, "RecycleCooldownSec", item_duration, D(recycle_cooldown_usec)},
        {SECTION_DYNO, "RecyclesCountAsRestarts", item_bool, D(recycles_count_as_restarts)},
        {SECTION_DYNO, "SampleIntervalSec", item_duration, D(sample_interval_usec), FLAG_INFINITY_IS_OFF},

        {SECTION_SUPERVISOR, "Strategy", item_strategy, S(strategy)},
        {SECTION_SUPERVISOR, "Supervisor", item_supervisor_ref, S(parent), FLAG_WHERE, .where = S(parent_where)},
        {SECTION_SUPERVISOR, "MemoryBudget", item_size, S(memory_budget), FLAG_NONZERO | FLAG_MAX_IS_UNSET | FLAG_WHERE,
         .where = S(memory_budget_where)},
        {SECTION_SUPERVISOR, "MaxRestarts", item_unsigned, S(max_restarts), 0, 0, UINT32_MAX},
        {SECTION_SUPERVISOR, "RestartWindowSec", item_duration, S(restart_window_usec), FLAG_NONZERO},

        {SECTION_WORKER, "ExecStart", item_exec, W(exec_start), FLAG_WHERE, .where = W(exec_start_where)},
        {SECTION_WORKER, "Supervisor", item_supervisor_ref, W(supervisor), FLAG_WHERE, .where = W(supervisor_where)},
        {SECTION_WORKER, "Instances", item_unsigned, W(instances), 0, 1, CONFIG_INSTANCES_MAX},
        {SECTION_WORKER, "MemoryBudget", item_size, W(memory_budget), FLAG_NONZERO | FLAG_MAX_IS_UNSET | FLAG_WHERE,
         .where = W(memory_budget_where)},
        {SECTION_WORKER, "MemoryMax", item_size, W(memory_max), FLAG_NONZERO | FLAG_MAX_IS_UNSET | FLAG_WHERE,
         .where = W(memory_max_where)},
        {SECTION_WORKER, "StopSignal", item_signal, W(stop_signal)},
        {SECTION_WORKER, "StopTimeoutSec", item_duration, W(stop_timeout_usec)},
        {SECTION_WORKER, "Restart", item_restart, W(restart)},
        {SECTION_WORKER, "RestartSec", item_duration, W(restart_usec)},
        {SECTION_WORKER, "RestartMaxSec", item_duration, W(restart_max_usec)},
        {SECTION_WORKER, "ReplaceFirst", item_bool, W(replace_first)},
        {SECTION_WORKER, "BudgetCountsRSS", item_bool, W(budget_counts_rss)},
        {SECTION_WORKER, "ReadyTimeoutSec", item_duration, W(ready_timeout_usec), FLAG_NONZERO},
        {SECTION_WORKER, "WatchdogSec", item_duration, W(watchdog_usec), FLAG_INFINITY_IS_OFF},
        {SECTION_WORKER, "MaxLifetimeSec", item_duration, W(max_lifetime_usec), FLAG_INFINITY_IS_OFF},
        {SECTION_WORKER, "IdleTimeoutSec", item_duration, W(idle_timeout_usec), FLAG_INFINITY_IS_OFF},
        {SECTION_WORKER, "IdleRecycleAbove", item_size, W(idle_recycle_above), FLAG_NONZERO | FLAG_MAX_IS_UNSET},
        {SECTION_WORKER, "IdleRecycleAfterSec", item_duration, W(idle_recycle_after_usec), FLAG_NONZERO},
        {SECTION_WORKER, "User", item_string, W(user), FLAG_USER | FLAG_WHERE, .where = W(user_where)},
        {SECTION_WORKER, "Group", item_string, W(group), FLAG_GROUP | FLAG_WHERE, .where = W(group_where)},
        {SECTION_WORKER, "WorkingDirectory", item_string, W(working_directory), FLAG_PATH | FLAG_WHERE,
         .where = W(working_directory_where)},
        {SECTION_WORKER, "Environment", item_environment, W(environment)},
        {SECTION_WORKER, "TasksMax", item_tasks_max, W(tasks_max)},
        {SECTION_WORKER, "MemoryPressure", item_pressure, W(pressure)},

        {SECTION_AMQP, "URL", item_string, A(url), FLAG_AMQP_URL},
        {SECTION_AMQP, "Exchange", item_string, A(exchange), FLAG_EXCHANGE},
        {SECTION_AMQP, "SampleIntervalSec", item_duration, A(sample_interval_usec), FLAG_NONZERO},
        {SECTION_AMQP, "Host", item_string, A(host), FLAG_AMQP_HOST},
        {SECTION_AMQP, "OutboxSize", item_unsigned, A(outbox_size), 0, 1, CONFIG_AMQP_OUTBOX_MAX},
        {SECTION_AMQP, "PasswordFile", item_amqp_password, A(password_file)},
        {SECTION_AMQP, "Credential", item_amqp_password, A(credential)},
};

/* Parses the value, then records (or, for an empty value, forgets) where the key was set, for
 * the errors of config_validate() and config_check_system(). */
static int item_apply(const KeyContext *k, const ConfigItem *item, const char *value) {
        ConfigLocation *l = (ConfigLocation *) ((uint8_t *) k->section + item->where);
        int r;

        r = item->parse(k, item, value);
        if (r < 0 || !(item->flags & FLAG_WHERE))
                return r;
        if (isempty(value)) {
                config_location_done(l);
                return 0;
        }
        return config_location_set(l, k->file, k->line);
}

/* ---- Sections ---- */

typedef struct ParseState {
        Config *config;
        SectionType section;
        size_t index; /* into supervisors[] or workers[]; arrays move on growth */
} ParseState;

static int add_supervisor(Config *c, const char *name, const char *file, unsigned line, size_t *ret_index) {
        SupervisorConfig *m;
        char *n = strdup(name);

        if (!n)
                return -ENOMEM;
        m = reallocarray(c->supervisors, c->n_supervisors + 1, sizeof(SupervisorConfig));
        if (!m) {
                free(n);
                return -ENOMEM;
        }
        c->supervisors = m;
        m[c->n_supervisors] = config_supervisor_defaults;
        m[c->n_supervisors].name = n;
        *ret_index = c->n_supervisors++;
        return config_location_set(&m[*ret_index].where, file, line);
}

static int add_worker(Config *c, const char *name, const char *file, unsigned line, size_t *ret_index) {
        WorkerConfig *m;
        char *n = strdup(name);

        if (!n)
                return -ENOMEM;
        m = reallocarray(c->workers, c->n_workers + 1, sizeof(WorkerConfig));
        if (!m) {
                free(n);
                return -ENOMEM;
        }
        c->workers = m;
        m[c->n_workers] = config_worker_defaults;
        m[c->n_workers].name = n;
        *ret_index = c->n_workers++;
        return config_location_set(&m[*ret_index].where, file, line);
}

static int on_section(void *userdata, const char *file, unsigned line, const char *header, char **ret_error) {
        ParseState *st = userdata;
        Config *c = st->config;
        size_t type_len = strcspn(header, " \t");
        const char *name = header + type_len + strspn(header + type_len, " \t");
        _cleanup_free_ char *q = NULL;

        for (SectionType t = 0; t < _SECTION_MAX; t++) {
                if (strlen(section_table[t]) != type_len || strncmp(header, section_table[t], type_len) != 0)
                        continue;

                if (t == SECTION_DYNO || t == SECTION_AMQP) {
                        if (*name != 0)
                                return ini_error(ret_error, file, line, NULL, "section [%s] takes no name",
                                                 section_table[t]);
                        if (t == SECTION_AMQP)
                                c->amqp.enabled = true;
                        st->section = t;
                        return 0;
                }

                if (*name == 0)
                        return ini_error(ret_error, file, line, NULL, "section [%s] needs a name: [%s NAME]",
                                         section_table[t], section_table[t]);
                if (!name_is_valid(name)) {
                        q = ini_quote(name);
                        if (!q)
                                return -ENOMEM;
                        return ini_error(ret_error, file, line, NULL, "invalid %s name %s",
                                         t == SECTION_WORKER ? "worker" : "supervisor", q);
                }

                st->section = t;
                if (t == SECTION_SUPERVISOR) {
                        for (size_t i = 0; i < c->n_supervisors; i++)
                                if (streq(c->supervisors[i].name, name)) {
                                        st->index = i;
                                        return 0;
                                }
                        return add_supervisor(c, name, file, line, &st->index);
                }
                for (size_t i = 0; i < c->n_workers; i++)
                        if (streq(c->workers[i].name, name)) {
                                st->index = i;
                                return 0;
                        }
                return add_worker(c, name, file, line, &st->index);
        }

        q = ini_quote(header);
        if (!q)
                return -ENOMEM;
        return ini_error(ret_error, file, line, NULL,
                         "unknown section %s (expected Dyno, Supervisor NAME, Worker NAME or AMQP)", q);
}

static int on_assignment(void *userdata, const char *file, unsigned line, const char *key, const char *value,
                         char **ret_error) {
        ParseState *st = userdata;
        Config *c = st->config;
        KeyContext k = {.file = file, .line = line, .key = key, .ret_error = ret_error};
        const char *name = NULL, *suggestion = NULL, *elsewhere = NULL;
        char hint[128] = "";

        switch (st->section) {
        case SECTION_DYNO:
                k.section = &c->dyno;
                k.defaults = &config_dyno_defaults;
                break;
        case SECTION_SUPERVISOR:
                k.section = &c->supervisors[st->index];
                k.defaults = &config_supervisor_defaults;
                name = c->supervisors[st->index].name;
                break;
        case SECTION_WORKER:
                k.section = &c->workers[st->index];
                k.defaults = &config_worker_defaults;
                name = c->workers[st->index].name;
                break;
        default:
                k.section = &c->amqp;
                k.defaults = &config_amqp_defaults;
        }

        for (size_t i = 0; i < ELEMENTSOF(config_items); i++) {
                const ConfigItem *item = &config_items[i];

                if (item->section == st->section && streq(item->key, key))
                        return item_apply(&k, item, value);
                if (item->section == st->section && strcasecmp(item->key, key) == 0)
                        suggestion = item->key;
                if (item->section != st->section && streq(item->key, key) && !elsewhere)
                        elsewhere = section_table[item->section];
        }

        /* A demanding user wants typos caught, and told what was probably meant. */
        if (suggestion)
                (void) snprintf(hint, sizeof(hint), " (did you mean %s=?)", suggestion);
        else if (elsewhere)
                (void) snprintf(hint, sizeof(hint), " (it belongs in [%s%s])", elsewhere,
                                streq(elsewhere, "Worker") || streq(elsewhere, "Supervisor") ? " NAME" : "");

        return ini_error(ret_error, file, line, key, "unknown key in [%s%s%s]%s", section_table[st->section],
                         name ? " " : "", name ?: "", hint);
}

int config_parse_buffer(Config *c, const char *text, size_t len, const char *filename, char **ret_error) {
        ParseState st = {.config = c};

        if (!c)
                return -EINVAL;
        return ini_parse_buffer(text, len, filename ?: "(unknown)", on_section, on_assignment, &st, ret_error);
}
