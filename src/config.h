/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The configuration as a plain struct. config.c turns files into this; nothing here touches the
 * system, so it is unit-tested and fuzzed. See ARCHITECTURE.md for the format. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shared/macro.h"

#define CONFIG_DEFAULT_PATH "/etc/cgwatch/cgwatch.conf"
#define SIZE_UNSET          UINT64_MAX

typedef enum Strategy {
        STRATEGY_ONE_FOR_ONE,
        STRATEGY_ONE_FOR_ALL,
        STRATEGY_REST_FOR_ONE,
        _STRATEGY_MAX,
} Strategy;

typedef enum RestartPolicy {
        RESTART_ALWAYS,
        RESTART_ON_FAILURE,
        RESTART_NO,
        _RESTART_MAX,
} RestartPolicy;

/* A size as written: either absolute bytes or a share of the dyno's MemoryLimit. */
typedef struct ConfigSize {
        bool set;
        bool percent;   /* true: value is in permille of the dyno limit (90% -> 900) */
        uint64_t value; /* bytes, or permille when percent */
} ConfigSize;

/* Where a key was set, for error messages about cross-references ("file:line: key: ..."). */
typedef struct ConfigLocation {
        char *file;    /* owned */
        unsigned line; /* 1-based; 0 = not set */
} ConfigLocation;

typedef struct PressureConfig {
        /* A PSI trigger: "some|full <stall_usec> <window_usec>"; stall_usec == 0 disables it. */
        bool full;
        usec_t stall_usec;
        usec_t window_usec;
} PressureConfig;

typedef struct DynoConfig {
        ConfigSize memory_limit;         /* MemoryLimit=; unset: memory.max of our cgroup, else RAM */
        ConfigSize recycle_at;           /* RecycleAt=; default 90% */
        ConfigLocation recycle_at_where; /* where RecycleAt= was set, for config_validate() */
        unsigned max_restarts;           /* MaxRestarts= for workers directly under the dyno; default 5 */
        usec_t restart_window_usec;      /* RestartWindowSec=; default 60 s */
        PressureConfig pressure;         /* MemoryPressure= (dyno node); default "some 150ms 1s" */
        usec_t recycle_cooldown_usec;    /* RecycleCooldownSec=: hold-off after a dyno-level recycle; default 1 s */
        bool recycles_count_as_restarts; /* RecyclesCountAsRestarts=; default no */
        usec_t sample_interval_usec;     /* SampleIntervalSec=: history samples; 0 = off (default) */
} DynoConfig;

typedef struct SupervisorConfig {
        char *name;
        ConfigLocation where; /* the [Supervisor name] header */
        Strategy strategy;    /* Strategy=; default one-for-one */
        char *parent;         /* Supervisor=: the enclosing supervisor; NULL: the dyno itself */
        ConfigLocation parent_where;
        ConfigSize memory_budget; /* MemoryBudget= -> the group's memory.high; unset: max */
        ConfigLocation memory_budget_where;
        unsigned max_restarts;      /* MaxRestarts=; default 5 */
        usec_t restart_window_usec; /* RestartWindowSec=; default 60 s */
} SupervisorConfig;

typedef struct WorkerConfig {
        char *name;
        ConfigLocation where; /* the [Worker name] header */
        char *exec_start;     /* ExecStart= as written */
        char **exec_argv;     /* ExecStart= split into words (quotes honoured), NULL-terminated */
        ConfigLocation exec_start_where;
        char *supervisor; /* Supervisor=; NULL: the dyno itself */
        ConfigLocation supervisor_where;
        unsigned instances;       /* Instances=; default 1; >1: name@1..name@N */
        ConfigSize memory_budget; /* MemoryBudget=; unset: no memory.high (max) */
        ConfigLocation memory_budget_where;
        ConfigSize memory_max; /* MemoryMax=: the node's memory.max (OOM inside it); unset: max */
        ConfigLocation memory_max_where;
        int stop_signal;                /* StopSignal=; default SIGTERM */
        usec_t stop_timeout_usec;       /* StopTimeoutSec=; default 10 s */
        RestartPolicy restart;          /* Restart=; default always */
        usec_t restart_usec;            /* RestartSec=: first backoff delay; default 100 ms */
        usec_t restart_max_usec;        /* RestartMaxSec=: backoff cap; default 30 s */
        bool replace_first;             /* ReplaceFirst=; default no */
        bool budget_counts_rss;         /* BudgetCountsRSS=; default no */
        usec_t ready_timeout_usec;      /* ReadyTimeoutSec=; default 30 s */
        usec_t watchdog_usec;           /* WatchdogSec=; 0 = off */
        usec_t max_lifetime_usec;       /* MaxLifetimeSec=; 0 = off */
        usec_t idle_timeout_usec;       /* IdleTimeoutSec=; 0 = off */
        ConfigSize idle_recycle_above;  /* IdleRecycleAbove=: a size, or percent = permille of MemoryBudget */
        usec_t idle_recycle_after_usec; /* IdleRecycleAfterSec=; default 1 s */
        char *user;                     /* User=, Group=, WorkingDirectory=: NULL = inherit */
        char *group;
        ConfigLocation user_where, group_where;
        char *working_directory;
        ConfigLocation working_directory_where;
        char **environment;      /* Environment=: "K=V" words, accumulated over lines; NULL-terminated or NULL */
        uint64_t tasks_max;      /* TasksMax=; UINT64_MAX = unset */
        PressureConfig pressure; /* MemoryPressure= for this worker; default "some 150ms 1s" */
} WorkerConfig;

typedef struct AmqpConfig {
        bool enabled;                /* true once an [AMQP] section is given (URL= may stay default) */
        char *url;                   /* URL=; default amqp://guest:guest@127.0.0.1:5672/ */
        char *exchange;              /* Exchange=; default "cgwatch" */
        usec_t sample_interval_usec; /* SampleIntervalSec=; default 10 s */
        char *host;                  /* Host=; NULL: the hostname */
        unsigned outbox_size;        /* OutboxSize=: messages the outbox holds; default 4096 */
        /* The password, instead of the URL's: PasswordFile= (a path) or Credential= (a name under
         * $CREDENTIALS_DIRECTORY, systemd's LoadCredential=). One source: setting either clears
         * the other, so the later assignment wins. */
        char *password_file;
        char *credential;
} AmqpConfig;

typedef struct Config {
        DynoConfig dyno;
        SupervisorConfig *supervisors;
        size_t n_supervisors;
        WorkerConfig *workers; /* in the order first seen: rest-for-one depends on it */
        size_t n_workers;
        AmqpConfig amqp;
} Config;

/* Allocates a Config holding every default. Returns NULL on OOM. */
Config *config_new(void);
Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

/* Parses one file's text into c, merging into sections already present (later keys override
 * earlier ones, Environment= accumulates; an empty "Environment=" resets it). `filename` is used
 * only for messages. Pure: no I/O. Returns 0, or -EINVAL with *ret_error set to
 * "FILE:LINE: KEY: what is wrong" (or "FILE:LINE: what is wrong" for syntax errors), -ENOMEM. */
int config_parse_buffer(Config *c, const char *text, size_t len, const char *filename, char **ret_error);

/* Checks cross-references and values after all files are merged: names unique, every worker has
 * ExecStart=, every Supervisor= (in a worker or a supervisor) names an existing supervisor and the
 * supervisors form a tree (no cycle), RecycleAt below MemoryLimit, and no MemoryBudget= above the
 * MemoryLimit= or above the MemoryBudget= of an enclosing supervisor, wherever the two can be
 * compared without the system (see cgwatch.conf(5), VALIDATION). Pure. Returns 0, -EINVAL with
 * *ret_error as above, naming the file and line where the offending key was set, or -ENOMEM. */
int config_validate(const Config *c, char **ret_error);

/* The checks against the running system, behind an ops table so that tests can inject fakes and
 * the fuzzer stays pure. Each returns 0 when fine, a negative errno otherwise (see below). */
typedef struct ConfigSystemOps {
        /* User= / Group=: a name, or a number that must have an entry in the user (group) database.
         * -ESRCH: no such user (group); any other negative errno: the lookup itself failed. */
        int (*lookup_user)(const char *user, void *userdata);
        int (*lookup_group)(const char *group, void *userdata);
        /* ExecStart='s program, an absolute path. -ENOENT (or -ENOTDIR): it does not exist;
         * -EISDIR or -ENOEXEC: not a regular file; -EACCES: the daemon may not execute it (no x
         * bit, a noexec mount, a directory on the way it cannot search); others: the check failed. */
        int (*check_executable)(const char *path, void *userdata);
        /* WorkingDirectory=, an absolute path. -ENOENT: it (or a directory on the way) does not
         * exist; -ENOTDIR: it is not a directory; -EACCES: the daemon may not enter it; others:
         * the check failed. */
        int (*check_directory)(const char *path, void *userdata);
        void *userdata;
} ConfigSystemOps;

/* getpwnam()/getpwuid(), getgrnam()/getgrgid(), stat() + faccessat(X_OK, AT_EACCESS) for the
 * program and the directory: with the daemon's own credentials, not User='s. */
extern const ConfigSystemOps config_system_ops_default;

/* Runs ops over every worker's ExecStart= program, User=, Group= and WorkingDirectory=, in config
 * order (NULL ops are skipped). Call it
 * after config_validate(). Returns 0, -EINVAL with *ret_error = "FILE:LINE: KEY: message", or
 * -ENOMEM. */
int config_check_system(const Config *c, const ConfigSystemOps *ops, char **ret_error);

/* Reads `path`, then every `path`.d/ *.conf in lexical order, parses, validates and checks against
 * the system with `ops` (NULL: config_system_ops_default). Every file, and the drop-in directory,
 * must be trusted (checked with fstat() on the opened fd): not writable by others, writable by its
 * group only if that is gid 0, owned by root or by the daemon's effective uid. A missing drop-in
 * directory is fine; a missing main file is -ENOENT with *ret_error naming it; an untrusted file
 * is -EPERM with *ret_error = "PATH: refusing a configuration file ...".
 * Returns 0 and *ret = a new Config, or negative errno with *ret_error. */
int config_load_with(const char *path, const ConfigSystemOps *ops, Config **ret, char **ret_error);

/* config_load_with(path, NULL, ...): what the daemon and --check-config use. */
int config_load(const char *path, Config **ret, char **ret_error);

/* Resolves a ConfigSize against the dyno limit: bytes, or limit*permille/1000. Unset -> SIZE_UNSET. */
uint64_t config_size_resolve(const ConfigSize *s, uint64_t dyno_limit_bytes);

/* Finds a supervisor by name; NULL if none. */
const SupervisorConfig *config_find_supervisor(const Config *c, const char *name);

/* Writes the resolved tree in a human-readable form (for `cgwatchd --check-config`). */
void config_dump(const Config *c, uint64_t dyno_limit_bytes, FILE *f);

/* url with the password of its user info replaced by "***" ("amqp://user:***@host/"), for logs,
 * D-Bus properties and --check-config: everything between the first ':' after "://" and the
 * last '@' goes, so an unencoded '/' or '@' in a password cannot leak part of it. A URL without
 * a password is copied as is. Returns a new string, or NULL on OOM. */
char *config_amqp_url_redact(const char *url);

const char *strategy_to_string(Strategy s);
const char *restart_policy_to_string(RestartPolicy r);
