/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatch.conf -> Config. Errors name FILE:LINE: KEY.
 *
 * Why not libinih: Debian 12's libinih is built with INI_MAX_LINE=200 and without
 * INI_HANDLER_LINENO, so a 400-byte ExecStart= reaches the handler cut to 189 bytes (the rest is
 * reported as an error on the next line) and the handler never learns line numbers. Long
 * ExecStart=/Environment= lines are normal and every error here must say FILE:LINE, so we use a
 * small tokenizer of our own (config-ini.c: no length limit, line numbers, continuation lines,
 * trailing comments; fuzzed by tests/fuzz/fuzz-config.c).
 *
 * The work is split in three files:
 *   config-ini.c    text -> (section | key, value) events with line numbers;
 *   config-parse.c  keys and sections -> the structs in config.h (config_parse_buffer);
 *   config.c        this file: lifecycle and defaults, cross-checks (config_validate), reading
 *                   the main file and its drop-ins (config_load), the resolved tree (config_dump).
 * Everything except config_load() is pure. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "config-ini.h"
#include "config-internal.h"
#include "parse-util.h"

/* A config file is a few KiB; refuse to slurp something that is clearly not one. */
#define CONFIG_FILE_MAX (16U * 1024U * 1024U)

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
        .tasks_max = UINT64_MAX,
        .pressure = PRESSURE_DEFAULT,
};

/* The string defaults live in read-only memory; config_new() and resets strdup() them. */
const AmqpConfig config_amqp_defaults = {
        .url = (char *) CONFIG_AMQP_DEFAULT_URL,
        .exchange = (char *) CONFIG_AMQP_DEFAULT_EXCHANGE,
        .sample_interval_usec = 10 * USEC_PER_SEC,
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
}

static void worker_config_done(WorkerConfig *w) {
        free(w->name);
        config_location_done(&w->where);
        free(w->exec_start);
        strv_free(w->exec_argv);
        free(w->supervisor);
        config_location_done(&w->supervisor_where);
        free(w->user);
        free(w->group);
        free(w->working_directory);
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

#define FORMAT_BYTES_MAX    48
#define FORMAT_DURATION_MAX 64

/* "512M", "460.8M" (one decimal, rounded, when inexact), "1023B", "max". */
static const char *format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t b) {
        static const char units[] = "KMGTPE";
        uint64_t unit = 1024;
        unsigned i = 0;

        if (b == SIZE_UNSET)
                return "max";
        if (b < 1024) {
                (void) snprintf(buf, FORMAT_BYTES_MAX, "%" PRIu64 "B", b);
                return buf;
        }
        while (i < strlen(units) - 1 && b / unit >= 1024) {
                unit *= 1024;
                i++;
        }
        if (b % unit == 0)
                (void) snprintf(buf, FORMAT_BYTES_MAX, "%" PRIu64 "%c", b / unit, units[i]);
        else {
                /* b % unit < unit <= 2^60, so "* 10" cannot overflow. */
                uint64_t tenths = b / unit * 10 + (b % unit * 10 + unit / 2) / unit;

                (void) snprintf(buf, FORMAT_BYTES_MAX, "%" PRIu64 ".%" PRIu64 "%c", tenths / 10, tenths % 10, units[i]);
        }
        return buf;
}

/* "1min 30s", "150ms", "0", "infinity". */
static const char *format_duration(char buf[static FORMAT_DURATION_MAX], usec_t u) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } table[] = {
                {"h", USEC_PER_HOUR}, {"min", USEC_PER_MINUTE}, {"s", USEC_PER_SEC}, {"ms", USEC_PER_MSEC}, {"us", 1},
        };
        size_t n = 0;

        if (u == USEC_INFINITY)
                return "infinity";
        if (u == 0)
                return "0";

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(table) && u > 0; i++) {
                if (u < table[i].usec)
                        continue;
                n += (size_t) snprintf(buf + n, FORMAT_DURATION_MAX - n, "%s%" PRIu64 "%s", n > 0 ? " " : "",
                                       u / table[i].usec, table[i].suffix);
                u %= table[i].usec;
                if (n >= FORMAT_DURATION_MAX)
                        break;
        }
        return buf;
}

static int location_error(char **ret_error, const ConfigLocation *l, const char *key, const char *what,
                          const char *value) {
        _cleanup_free_ char *q = value ? ini_quote(value) : NULL;

        if (value && !q)
                return -ENOMEM;
        return ini_error(ret_error, l->file, l->line, key, "%s%s%s", what, q ? " " : "", q ?: "");
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

        return 0;
}

/* ---- Loading ---- */

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

/* "PATH: what: strerror". Returns error (negative errno), or -ENOMEM. */
static int io_error(char **ret_error, const char *path, int error, const char *what) {
        char *s;

        if (!ret_error)
                return error;
        errno = -error;
        if (asprintf(&s, "%s: %s: %m", path, what) < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        *ret_error = s;
        return error;
}

static int read_full_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, cap = 0;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;

        for (;;) {
                ssize_t k;

                if (cap - n < 4096) {
                        char *m;

                        cap = MAX(cap * 2, (size_t) 16384);
                        m = realloc(buf, cap);
                        if (!m)
                                return -ENOMEM;
                        buf = m;
                }
                k = read(fd, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > CONFIG_FILE_MAX)
                        return -EFBIG;
        }

        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

static int load_file(Config *c, const char *path, bool missing_ok, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        r = read_full_file(path, &text, &size);
        if (r == -ENOENT && missing_ok)
                return 0;
        if (r < 0)
                return io_error(ret_error, path, r, "cannot read configuration file");
        return config_parse_buffer(c, text, size, path, ret_error);
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Lists dir's "*.conf" (no dotfiles) as full paths, sorted by file name. */
static int list_dropins(const char *dir, char ***ret, size_t *ret_n) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;

        d = opendir(dir);
        if (!d)
                return -errno;

        for (;;) {
                struct dirent *de;
                size_t len;
                char *p, **m;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return -errno;
                        break;
                }
                len = strlen(de->d_name);
                if (de->d_name[0] == '.' || len <= 5 || !streq(de->d_name + len - 5, ".conf"))
                        continue;

                m = reallocarray(l, n + 2, sizeof(char *));
                if (!m)
                        return -ENOMEM;
                l = m;
                if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
                        return -ENOMEM;
                l[n++] = p;
                l[n] = NULL;
        }

        if (n > 0)
                qsort(l, n, sizeof(char *), cmp_strp);
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

int config_load(const char *path, Config **ret, char **ret_error) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_strv_free_ char **dropins = NULL;
        _cleanup_free_ char *dir = NULL;
        size_t n_dropins = 0;
        int r;

        if (!path || !ret)
                return -EINVAL;

        c = config_new();
        if (!c)
                return -ENOMEM;

        r = load_file(c, path, /* missing_ok= */ false, ret_error);
        if (r < 0)
                return r;

        if (asprintf(&dir, "%s.d", path) < 0)
                return -ENOMEM;
        r = list_dropins(dir, &dropins, &n_dropins);
        if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                return io_error(ret_error, dir, r, "cannot read drop-in directory");

        /* A drop-in removed between listing and reading is simply gone. */
        for (size_t i = 0; i < n_dropins; i++) {
                r = load_file(c, dropins[i], /* missing_ok= */ true, ret_error);
                if (r < 0)
                        return r;
        }

        r = config_validate(c, ret_error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
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

static void dump_worker(FILE *f, const WorkerConfig *w, uint64_t limit, const char *indent) {
        char a[FORMAT_DURATION_MAX], b[FORMAT_DURATION_MAX], d[FORMAT_DURATION_MAX];
        const char *sig = sigabbrev_np(w->stop_signal);

        fprintf(f, "%sworker %s: budget ", indent, w->name);
        dump_size(f, &w->memory_budget, limit);
        if (w->instances > 1)
                fprintf(f, ", %u instances %s@1..%s@%u", w->instances, w->name, w->name, w->instances);
        fprintf(f, "\n%s  exec: %s\n", indent, w->exec_start ?: "(not set)");
        fprintf(f, "%s  restart %s (backoff %s..%s), stop SIG%s then cgroup.kill after %s\n", indent,
                restart_policy_to_string(w->restart) ?: "?", format_duration(a, w->restart_usec),
                format_duration(b, w->restart_max_usec), sig ?: "?", format_duration(d, w->stop_timeout_usec));
        fprintf(f, "%s  pressure ", indent);
        dump_pressure(f, &w->pressure);
        fprintf(f, ", replace first %s, ready timeout %s\n", w->replace_first ? "yes" : "no",
                format_duration(a, w->ready_timeout_usec));
        if (w->watchdog_usec > 0 || w->max_lifetime_usec > 0 || w->idle_timeout_usec > 0)
                fprintf(f, "%s  watchdog %s, max lifetime %s, idle timeout %s\n", indent,
                        w->watchdog_usec ? format_duration(a, w->watchdog_usec) : "off",
                        w->max_lifetime_usec ? format_duration(b, w->max_lifetime_usec) : "off",
                        w->idle_timeout_usec ? format_duration(d, w->idle_timeout_usec) : "off");
        if (w->user || w->group || w->working_directory || w->tasks_max != UINT64_MAX) {
                char t[24] = "max";

                if (w->tasks_max != UINT64_MAX)
                        (void) snprintf(t, sizeof(t), "%" PRIu64, w->tasks_max);
                fprintf(f, "%s  user %s, group %s, directory %s, tasks max %s\n", indent, w->user ?: "(inherit)",
                        w->group ?: "(inherit)", w->working_directory ?: "(inherit)", t);
        }
        for (char **e = w->environment; e && *e; e++)
                fprintf(f, "%s  env %s\n", indent, *e);
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

        /* Workers directly under the dyno (or naming a supervisor that does not exist) first. */
        for (size_t i = 0; i < c->n_workers; i++)
                if (!config_find_supervisor(c, c->workers[i].supervisor))
                        dump_worker(f, &c->workers[i], limit, "  ");

        for (size_t i = 0; i < c->n_supervisors; i++) {
                const SupervisorConfig *s = &c->supervisors[i];

                fprintf(f, "  supervisor %s: %s, budget ", s->name, strategy_to_string(s->strategy) ?: "?");
                dump_size(f, &s->memory_budget, limit);
                fprintf(f, ", at most %u restarts in %s\n", s->max_restarts,
                        format_duration(a, s->restart_window_usec));
                for (size_t j = 0; j < c->n_workers; j++)
                        if (streq_ptr(c->workers[j].supervisor, s->name))
                                dump_worker(f, &c->workers[j], limit, "    ");
        }

        if (c->amqp.enabled) {
                _cleanup_free_ char *url = config_amqp_url_redact(c->amqp.url);

                fprintf(f, "amqp: %s exchange %s, host %s, samples every %s", url ?: "(out of memory)",
                        c->amqp.exchange, c->amqp.host ?: "(hostname)",
                        format_duration(a, c->amqp.sample_interval_usec));
                if (c->amqp.password_file)
                        fprintf(f, ", password from file %s", c->amqp.password_file);
                else if (c->amqp.credential)
                        fprintf(f, ", password from credential %s", c->amqp.credential);
                fputc('\n', f);
        } else
                fputs("amqp: off\n", f);
}
