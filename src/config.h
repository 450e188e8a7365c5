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
} DynoConfig;

typedef struct SupervisorConfig {
        char *name;
        ConfigLocation where;       /* the [Supervisor name] header */
        Strategy strategy;          /* Strategy=; default one-for-one */
        ConfigSize memory_budget;   /* MemoryBudget= -> the group's memory.high; unset: max */
        unsigned max_restarts;      /* MaxRestarts=; default 5 */
        usec_t restart_window_usec; /* RestartWindowSec=; default 60 s */
} SupervisorConfig;

typedef struct WorkerConfig {
        char *name;
        ConfigLocation where; /* the [Worker name] header */
        char *exec_start;     /* ExecStart= as written */
        char **exec_argv;     /* ExecStart= split into words (quotes honoured), NULL-terminated */
        char *supervisor;     /* Supervisor=; NULL: the dyno itself */
        ConfigLocation supervisor_where;
        unsigned instances;        /* Instances=; default 1; >1: name@1..name@N */
        ConfigSize memory_budget;  /* MemoryBudget=; unset: no memory.high (max) */
        int stop_signal;           /* StopSignal=; default SIGTERM */
        usec_t stop_timeout_usec;  /* StopTimeoutSec=; default 10 s */
        RestartPolicy restart;     /* Restart=; default always */
        usec_t restart_usec;       /* RestartSec=: first backoff delay; default 100 ms */
        usec_t restart_max_usec;   /* RestartMaxSec=: backoff cap; default 30 s */
        bool replace_first;        /* ReplaceFirst=; default no */
        usec_t ready_timeout_usec; /* ReadyTimeoutSec=; default 30 s */
        usec_t watchdog_usec;      /* WatchdogSec=; 0 = off */
        usec_t max_lifetime_usec;  /* MaxLifetimeSec=; 0 = off */
        usec_t idle_timeout_usec;  /* IdleTimeoutSec=; 0 = off */
        char *user;                /* User=, Group=, WorkingDirectory=: NULL = inherit */
        char *group;
        char *working_directory;
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

/* Checks cross-references and values after all files are merged (Supervisor= names an existing
 * supervisor, ExecStart= present, RecycleAt below MemoryLimit, ...). Returns 0 or -EINVAL with
 * *ret_error as above, naming the file and line where the offending key was set. */
int config_validate(const Config *c, char **ret_error);

/* Reads `path`, then every `path`.d/ *.conf in lexical order, parses and validates. A missing
 * drop-in directory is fine; a missing main file is -ENOENT with *ret_error naming it.
 * Returns 0 and *ret = a new Config, or negative errno with *ret_error. */
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
