/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The config file: every key, the defaults, comments, continuation lines, long lines, drop-in
 * order through config_load() on a temp dir, and a table of bad inputs, each with the exact error
 * text (file, line, key, message). */

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "parse-util.h"

#define MB(x) ((uint64_t) (x) << 20)

static char *mfree_str(char *s) {
        free(s);
        return NULL;
}

/* Parses text as "test.conf" and validates; fails the test on any error. */
static Config *parse_ok(const char *text) {
        Config *c = config_new();
        char *err = NULL;

        assert_non_null(c);
        if (config_parse_buffer(c, text, strlen(text), "test.conf", &err) < 0)
                fail_msg("unexpected parse error: %s", err);
        if (config_validate(c, &err) < 0)
                fail_msg("unexpected validation error: %s", err);
        return c;
}

/* Parses (and, if that works, validates) text[0..len) and expects exactly `expected`. */
static void assert_error_len(const char *text, size_t len, const char *expected) {
        _cleanup_(config_freep) Config *c = config_new();
        _cleanup_free_ char *err = NULL;
        int r;

        assert_non_null(c);
        r = config_parse_buffer(c, text, len, "test.conf", &err);
        if (r >= 0) {
                assert_null(err);
                r = config_validate(c, &err);
        }
        if (r != -EINVAL)
                fail_msg("expected \"%s\", got r=%d", expected, r);
        assert_non_null(err);
        if (!streq(err, expected))
                fail_msg("wrong error:\n  got      %s\n  expected %s", err, expected);
}

static void assert_error(const char *text, const char *expected) {
        assert_error_len(text, strlen(text), expected);
}

static void test_defaults(void **state) {
        _cleanup_(config_freep) Config *c = config_new();
        const WorkerConfig *w;

        assert_non_null(c);
        assert_false(c->dyno.memory_limit.set);
        assert_true(c->dyno.recycle_at.set);
        assert_true(c->dyno.recycle_at.percent);
        assert_int_equal(c->dyno.recycle_at.value, 900);
        assert_int_equal(c->dyno.max_restarts, 5);
        assert_int_equal(c->dyno.restart_window_usec, 60 * USEC_PER_SEC);
        assert_false(c->dyno.pressure.full);
        assert_int_equal(c->dyno.pressure.stall_usec, 150 * USEC_PER_MSEC);
        assert_int_equal(c->dyno.pressure.window_usec, USEC_PER_SEC);
        assert_int_equal(c->dyno.recycle_cooldown_usec, USEC_PER_SEC);
        assert_false(c->dyno.recycles_count_as_restarts);
        assert_int_equal(c->dyno.sample_interval_usec, 0);
        assert_int_equal(c->n_supervisors, 0);
        assert_int_equal(c->n_workers, 0);
        assert_false(c->amqp.enabled);
        assert_string_equal(c->amqp.url, "amqp://guest:guest@127.0.0.1:5672/");
        assert_string_equal(c->amqp.exchange, "cgwatch");
        assert_int_equal(c->amqp.sample_interval_usec, 10 * USEC_PER_SEC);
        assert_int_equal(c->amqp.outbox_size, 4096);
        c = config_free(c);

        /* Worker and supervisor defaults, as seen through a minimal file. */
        c = parse_ok("[Supervisor s]\n[Worker w]\nExecStart=/bin/true\n");
        assert_int_equal(c->n_supervisors, 1);
        assert_string_equal(c->supervisors[0].name, "s");
        assert_int_equal(c->supervisors[0].strategy, STRATEGY_ONE_FOR_ONE);
        assert_false(c->supervisors[0].memory_budget.set);
        assert_int_equal(c->supervisors[0].max_restarts, 5);
        assert_int_equal(c->supervisors[0].restart_window_usec, 60 * USEC_PER_SEC);
        assert_string_equal(c->supervisors[0].where.file, "test.conf");
        assert_int_equal(c->supervisors[0].where.line, 1);

        assert_int_equal(c->n_workers, 1);
        w = &c->workers[0];
        assert_string_equal(w->name, "w");
        assert_int_equal(w->where.line, 2);
        assert_string_equal(w->exec_start, "/bin/true");
        assert_string_equal(w->exec_argv[0], "/bin/true");
        assert_null(w->exec_argv[1]);
        assert_null(w->supervisor);
        assert_int_equal(w->instances, 1);
        assert_false(w->memory_budget.set);
        assert_int_equal(w->stop_signal, SIGTERM);
        assert_int_equal(w->stop_timeout_usec, 10 * USEC_PER_SEC);
        assert_int_equal(w->restart, RESTART_ALWAYS);
        assert_int_equal(w->restart_usec, 100 * USEC_PER_MSEC);
        assert_int_equal(w->restart_max_usec, 30 * USEC_PER_SEC);
        assert_false(w->replace_first);
        assert_false(w->budget_counts_rss);
        assert_int_equal(w->ready_timeout_usec, 30 * USEC_PER_SEC);
        assert_int_equal(w->watchdog_usec, 0);
        assert_int_equal(w->max_lifetime_usec, 0);
        assert_int_equal(w->idle_timeout_usec, 0);
        assert_null(w->user);
        assert_null(w->group);
        assert_null(w->working_directory);
        assert_null(w->environment);
        assert_int_equal(w->tasks_max, UINT64_MAX);
        assert_int_equal(w->pressure.stall_usec, 150 * USEC_PER_MSEC);
        assert_int_equal(w->pressure.window_usec, USEC_PER_SEC);
        assert_false(c->amqp.enabled);
}

static void test_sample_interval(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok("[Dyno]\nSampleIntervalSec=5s\n");
        assert_int_equal(c->dyno.sample_interval_usec, 5 * USEC_PER_SEC);
        _cleanup_(config_freep) Config *off = parse_ok("[Dyno]\nSampleIntervalSec=infinity\n");
        assert_int_equal(off->dyno.sample_interval_usec, 0);
}

static void test_every_key(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok("[Dyno]\n"
                                                     "MemoryLimit=1G\n"
                                                     "RecycleAt=85.5%\n"
                                                     "MaxRestarts=7\n"
                                                     "RestartWindowSec=2min\n"
                                                     "MemoryPressure=full 200ms 2s\n"
                                                     "RecycleCooldownSec=500ms\n"
                                                     "RecyclesCountAsRestarts=yes\n"
                                                     "\n"
                                                     "[Supervisor dam]\n"
                                                     "Strategy=rest-for-one\n"
                                                     "MemoryBudget=300M\n"
                                                     "MaxRestarts=0\n"
                                                     "RestartWindowSec=30\n"
                                                     "\n"
                                                     "[Worker queuer]\n"
                                                     "ExecStart=/usr/bin/node \"/srv/my app/queuer.js\" --flag\n"
                                                     "Supervisor=dam\n"
                                                     "Instances=3\n"
                                                     "MemoryBudget=12.5%\n"
                                                     "StopSignal=SIGINT\n"
                                                     "StopTimeoutSec=1min 30s\n"
                                                     "Restart=on-failure\n"
                                                     "RestartSec=250ms\n"
                                                     "RestartMaxSec=1h\n"
                                                     "ReplaceFirst=true\n"
                                                     "BudgetCountsRSS=yes\n"
                                                     "ReadyTimeoutSec=5\n"
                                                     "WatchdogSec=3s\n"
                                                     "MaxLifetimeSec=2h\n"
                                                     "IdleTimeoutSec=infinity\n"
                                                     "User=nobody\n"
                                                     "Group=1000\n"
                                                     "WorkingDirectory=/srv/app\n"
                                                     "Environment=A=1 \"B=two words\"\n"
                                                     "TasksMax=128\n"
                                                     "MemoryPressure=no\n"
                                                     "\n"
                                                     "[AMQP]\n"
                                                     "URL=amqps://u:p@mq.example:5671/vhost\n"
                                                     "Exchange=cg.watch\n"
                                                     "SampleIntervalSec=2.5s\n");
        const WorkerConfig *w = &c->workers[0];

        assert_true(c->dyno.memory_limit.set);
        assert_false(c->dyno.memory_limit.percent);
        assert_int_equal(c->dyno.memory_limit.value, UINT64_C(1) << 30);
        assert_true(c->dyno.recycle_at.percent);
        assert_int_equal(c->dyno.recycle_at.value, 855);
        assert_string_equal(c->dyno.recycle_at_where.file, "test.conf");
        assert_int_equal(c->dyno.recycle_at_where.line, 3);
        assert_int_equal(c->dyno.max_restarts, 7);
        assert_int_equal(c->dyno.restart_window_usec, 2 * USEC_PER_MINUTE);
        assert_true(c->dyno.pressure.full);
        assert_int_equal(c->dyno.pressure.stall_usec, 200 * USEC_PER_MSEC);
        assert_int_equal(c->dyno.pressure.window_usec, 2 * USEC_PER_SEC);
        assert_int_equal(c->dyno.recycle_cooldown_usec, 500 * USEC_PER_MSEC);
        assert_true(c->dyno.recycles_count_as_restarts);

        assert_int_equal(c->n_supervisors, 1);
        assert_int_equal(c->supervisors[0].strategy, STRATEGY_REST_FOR_ONE);
        assert_int_equal(c->supervisors[0].memory_budget.value, MB(300));
        assert_int_equal(c->supervisors[0].max_restarts, 0);
        assert_int_equal(c->supervisors[0].restart_window_usec, 30 * USEC_PER_SEC);
        assert_ptr_equal(config_find_supervisor(c, "dam"), &c->supervisors[0]);
        assert_null(config_find_supervisor(c, "nope"));
        assert_null(config_find_supervisor(c, NULL));

        assert_int_equal(c->n_workers, 1);
        assert_string_equal(w->exec_start, "/usr/bin/node \"/srv/my app/queuer.js\" --flag");
        assert_string_equal(w->exec_argv[0], "/usr/bin/node");
        assert_string_equal(w->exec_argv[1], "/srv/my app/queuer.js");
        assert_string_equal(w->exec_argv[2], "--flag");
        assert_null(w->exec_argv[3]);
        assert_string_equal(w->supervisor, "dam");
        assert_int_equal(w->supervisor_where.line, 18);
        assert_int_equal(w->instances, 3);
        assert_true(w->memory_budget.percent);
        assert_int_equal(w->memory_budget.value, 125);
        assert_int_equal(w->stop_signal, SIGINT);
        assert_int_equal(w->stop_timeout_usec, 90 * USEC_PER_SEC);
        assert_int_equal(w->restart, RESTART_ON_FAILURE);
        assert_int_equal(w->restart_usec, 250 * USEC_PER_MSEC);
        assert_int_equal(w->restart_max_usec, USEC_PER_HOUR);
        assert_true(w->replace_first);
        assert_true(w->budget_counts_rss);
        assert_int_equal(w->ready_timeout_usec, 5 * USEC_PER_SEC);
        assert_int_equal(w->watchdog_usec, 3 * USEC_PER_SEC);
        assert_int_equal(w->max_lifetime_usec, 2 * USEC_PER_HOUR);
        assert_int_equal(w->idle_timeout_usec, 0); /* infinity = off */
        assert_string_equal(w->user, "nobody");
        assert_string_equal(w->group, "1000");
        assert_string_equal(w->working_directory, "/srv/app");
        assert_string_equal(w->environment[0], "A=1");
        assert_string_equal(w->environment[1], "B=two words");
        assert_null(w->environment[2]);
        assert_int_equal(w->tasks_max, 128);
        assert_int_equal(w->pressure.stall_usec, 0);

        assert_true(c->amqp.enabled);
        assert_string_equal(c->amqp.url, "amqps://u:p@mq.example:5671/vhost");
        assert_string_equal(c->amqp.exchange, "cg.watch");
        assert_int_equal(c->amqp.sample_interval_usec, 2500 * USEC_PER_MSEC);
}

static void test_architecture_example(void **state) {
        /* The example from ARCHITECTURE.md, trailing comments and all. */
        _cleanup_(config_freep) Config *c = parse_ok(
                "[Dyno]\n"
                "MemoryLimit=512M          # the dyno-level limit; default: memory.max of the daemon's own cgroup, "
                "else RAM\n"
                "RecycleAt=90%             # dyno total above this -> recycle the worst offender\n"
                "\n"
                "[Supervisor dam]          # an Erlang-style supervisor: a group of workers and a cgroup of their own\n"
                "Strategy=one-for-one      # one-for-one | one-for-all | rest-for-one\n"
                "MemoryBudget=300M         # the group's memory.high\n"
                "MaxRestarts=5             # more than this many restarts within RestartWindowSec -> the group fails\n"
                "RestartWindowSec=60\n"
                "\n"
                "[Worker queuer]\n"
                "ExecStart=/usr/bin/node /srv/app/queuer.js\n"
                "Supervisor=dam            # default: the dyno itself\n"
                "Instances=1               # >1 runs queuer@1..N, each in its own cgroup\n"
                "MemoryBudget=128M         # the worker's memory.high, and the recycle threshold\n"
                "StopSignal=SIGTERM\n"
                "StopTimeoutSec=10         # then cgroup.kill\n"
                "Restart=always            # always | on-failure | no\n"
                "ReplaceFirst=no           # yes: start the replacement, wait for READY=1, then stop the old one\n"
                "WatchdogSec=0             # >0: the worker must send WATCHDOG=1 (sd_notify protocol) this often\n"
                "MaxLifetimeSec=0          # >0: recycle after this age\n"
                "IdleTimeoutSec=0          # >0: recycle after this long without using CPU (the seed's own remedy)\n"
                "\n"
                "[AMQP]\n"
                "URL=amqp://guest:guest@127.0.0.1:5672/\n"
                "Exchange=cgwatch\n"
                "SampleIntervalSec=10\n");

        assert_int_equal(c->dyno.memory_limit.value, MB(512));
        assert_int_equal(c->supervisors[0].memory_budget.value, MB(300));
        assert_string_equal(c->workers[0].exec_start, "/usr/bin/node /srv/app/queuer.js");
        assert_string_equal(c->workers[0].supervisor, "dam");
        assert_int_equal(c->workers[0].memory_budget.value, MB(128));
        assert_int_equal(c->workers[0].stop_timeout_usec, 10 * USEC_PER_SEC);
        assert_true(c->amqp.enabled);
}

static void test_comments(void **state) {
        _cleanup_(config_freep) Config *c =
                parse_ok("# a comment\n"
                         "; another comment\n"
                         "   # indented comment\n"
                         "\n"
                         "[Worker a] ; trailing comment on a header\n"
                         "ExecStart=/bin/sh -c 'echo a ; echo b # not a comment' \"x # y\" # but this is\n"
                         "Environment=URL=http://h/#frag X=a;b   ;comment\n"
                         "Environment=Q=\\ #escaped\n"
                         "WorkingDirectory=/srv/app#notacomment\n"
                         "#ExecStart=/bin/false\n");
        const WorkerConfig *w = &c->workers[0];

        assert_string_equal(w->exec_start, "/bin/sh -c 'echo a ; echo b # not a comment' \"x # y\"");
        assert_string_equal(w->exec_argv[2], "echo a ; echo b # not a comment");
        assert_string_equal(w->exec_argv[3], "x # y");
        assert_null(w->exec_argv[4]);
        assert_string_equal(w->environment[0], "URL=http://h/#frag");
        assert_string_equal(w->environment[1], "X=a;b");
        /* "\ #escaped": the escaped space does not start a comment */
        assert_string_equal(w->environment[2], "Q= #escaped");
        assert_string_equal(w->working_directory, "/srv/app#notacomment");
}

static void test_continuation(void **state) {
        _cleanup_(config_freep) Config *c =
                parse_ok("[Worker a]\n"
                         "ExecStart=/bin/echo one \\\n"
                         "   two \\\n"
                         "# a comment inside a continuation is dropped\n"
                         "   three\n"
                         "Environment=A=1\\\n"
                         "B=2\n"
                         "WorkingDirectory=/x\\\\\n" /* an even number of backslashes: no continuation */
                         "Group=x\n");
        const WorkerConfig *w = &c->workers[0];

        assert_string_equal(w->exec_start, "/bin/echo one  two  three");
        assert_string_equal(w->exec_argv[3], "three");
        assert_null(w->exec_argv[4]);
        assert_string_equal(w->environment[0], "A=1");
        assert_string_equal(w->environment[1], "B=2");
        assert_null(w->environment[2]);
        assert_string_equal(w->working_directory, "/x\\\\");
        assert_string_equal(w->group, "x");

        /* Errors inside a continued line carry the first line's number. */
        assert_error("[Worker a]\nExecStart=/bin/true\n\nMemoryBudget=1\\\n2\\\nQ\n",
                     "test.conf:4: MemoryBudget: invalid size \"1 2 Q\"");
        /* A continuation at the very end of the file is taken as it is. */
        Config *e = parse_ok("[Worker a]\nExecStart=/bin/true\nRestart=no\\");
        assert_int_equal(e->workers[0].restart, RESTART_NO);
        config_free(e);
        assert_error("[Worker a]\nExecStart=/bin/true\nRestart=\\\nsometimes\\",
                     "test.conf:3: Restart: invalid restart policy \"sometimes\" (expected always, on-failure or no)");
}

static void test_crlf_bom_whitespace(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok("\xef\xbb\xbf[Dyno]\r\n"
                                                     "  MemoryLimit  =  2G  \r\n"
                                                     "\t[ Worker   w ]\t\r\n"
                                                     "ExecStart = /bin/true\r\n");

        assert_int_equal(c->dyno.memory_limit.value, UINT64_C(2) << 30);
        assert_string_equal(c->workers[0].name, "w");
        assert_string_equal(c->workers[0].exec_start, "/bin/true");
}

static void test_long_lines(void **state) {
        _cleanup_free_ char *text = NULL, *exec = NULL, *env = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        size_t n = 0;

        /* 1500-byte ExecStart= (libinih would cut it at 189) and a 3000-byte Environment= */
        exec = malloc(1600);
        env = malloc(3200);
        assert_non_null(exec);
        assert_non_null(env);
        n = (size_t) sprintf(exec, "/bin/echo");
        while (n < 1500)
                n += (size_t) sprintf(exec + n, " arg%zu", n);
        n = 0;
        for (int i = 0; n < 3000; i++)
                n += (size_t) sprintf(env + n, "%sVAR%d=%0100d", i > 0 ? " " : "", i, i);

        assert_true(asprintf(&text, "[Worker long]\nExecStart=%s\nEnvironment=%s\nMemoryBudget=1Q\n", exec, env) > 0);
        assert_error(text, "test.conf:4: MemoryBudget: invalid size \"1Q\"");

        free(text);
        assert_true(asprintf(&text, "[Worker long]\nExecStart=%s\nEnvironment=%s\n", exec, env) > 0);
        c = parse_ok(text);
        assert_string_equal(c->workers[0].exec_start, exec);
        assert_true(strlen(c->workers[0].exec_start) >= 1500);
        assert_true(strv_length(c->workers[0].exec_argv) > 100);
        assert_string_equal(c->workers[0].environment[0], "VAR0="
                                                          "0000000000000000000000000000000000000000000000000"
                                                          "000000000000000000000000000000000000000000000000000");
        assert_int_equal(strv_length(c->workers[0].environment), 29);

        /* and one single 100 KiB word */
        _cleanup_free_ char *big = malloc(100 * 1024 + 64);
        assert_non_null(big);
        strcpy(big, "[Worker w]\nExecStart=/");
        n = strlen(big);
        memset(big + n, 'x', 100 * 1024);
        big[n + 100 * 1024] = 0;
        config_free(c);
        c = parse_ok(big);
        assert_int_equal(strlen(c->workers[0].exec_argv[0]), 100 * 1024 + 1);
}

static void test_merge_and_override(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok("[Worker b]\n"
                                                     "ExecStart=/bin/b\n"
                                                     "MemoryBudget=10M\n"
                                                     "[Worker a]\n"
                                                     "ExecStart=/bin/a\n"
                                                     "[Dyno]\n"
                                                     "MemoryLimit=1G\n"
                                                     "[Worker b]\n" /* merges into the first [Worker b] */
                                                     "MemoryBudget=20M\n"
                                                     "MemoryBudget=30M\n"
                                                     "[Dyno]\n"
                                                     "MemoryLimit=2G\n");

        assert_int_equal(c->n_workers, 2);
        assert_string_equal(c->workers[0].name, "b"); /* order first seen */
        assert_string_equal(c->workers[1].name, "a");
        assert_int_equal(c->workers[0].where.line, 1);
        assert_string_equal(c->workers[0].exec_start, "/bin/b");
        assert_int_equal(c->workers[0].memory_budget.value, MB(30));
        assert_int_equal(c->dyno.memory_limit.value, UINT64_C(2) << 30);
}

static void test_environment(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok("[Worker a]\n"
                                                     "ExecStart=/bin/a\n"
                                                     "Environment=A=1 B=2\n"
                                                     "Environment=C=3\n"
                                                     "Environment=\n" /* reset */
                                                     "Environment=D=4 E=5\n"
                                                     "Environment='F=six six' G=\n"
                                                     "Environment=D=40\n" /* replaces D in place */
                                                     "Environment=H==\\\"x\\\"\n"
                                                     "[Worker b]\n"
                                                     "ExecStart=/bin/b\n"
                                                     "Environment=X=1\n"
                                                     "Environment=\n");
        char **e = c->workers[0].environment;

        assert_int_equal(strv_length(e), 5);
        assert_string_equal(e[0], "D=40");
        assert_string_equal(e[1], "E=5");
        assert_string_equal(e[2], "F=six six");
        assert_string_equal(e[3], "G=");
        assert_string_equal(e[4], "H==\"x\"");
        assert_null(c->workers[1].environment);
}

static void test_empty_resets(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok("[Dyno]\n"
                                                     "MemoryLimit=1G\n"
                                                     "MemoryLimit=\n"
                                                     "RecycleAt=50%\n"
                                                     "RecycleAt=\n"
                                                     "MaxRestarts=9\n"
                                                     "MaxRestarts=\n"
                                                     "MemoryPressure=no\n"
                                                     "MemoryPressure=\n"
                                                     "[Worker a]\n"
                                                     "ExecStart=/bin/a\n"
                                                     "MemoryBudget=10M\n"
                                                     "MemoryBudget=\n"
                                                     "Supervisor=x\n"
                                                     "Supervisor=\n"
                                                     "StopSignal=KILL\n"
                                                     "StopSignal=\n"
                                                     "User=root\n"
                                                     "User=\n"
                                                     "TasksMax=5\n"
                                                     "TasksMax=\n"
                                                     "Restart=no\n"
                                                     "Restart=\n"
                                                     "[Worker b]\n"
                                                     "ExecStart=/bin/b\n"
                                                     "MemoryBudget=max\n"
                                                     "TasksMax=infinity\n"
                                                     "[AMQP]\n"
                                                     "URL=amqp://x/\n"
                                                     "URL=\n"
                                                     "Exchange=e\n"
                                                     "Exchange=\n");

        assert_false(c->dyno.memory_limit.set);
        assert_true(c->dyno.recycle_at.percent);
        assert_int_equal(c->dyno.recycle_at.value, 900);
        assert_null(c->dyno.recycle_at_where.file);
        assert_int_equal(c->dyno.max_restarts, 5);
        assert_int_equal(c->dyno.pressure.stall_usec, 150 * USEC_PER_MSEC);
        assert_false(c->workers[0].memory_budget.set);
        assert_null(c->workers[0].supervisor);
        assert_int_equal(c->workers[0].supervisor_where.line, 0);
        assert_int_equal(c->workers[0].stop_signal, SIGTERM);
        assert_null(c->workers[0].user);
        assert_int_equal(c->workers[0].tasks_max, UINT64_MAX);
        assert_int_equal(c->workers[0].restart, RESTART_ALWAYS);
        assert_false(c->workers[1].memory_budget.set);
        assert_int_equal(c->workers[1].tasks_max, UINT64_MAX);
        assert_string_equal(c->amqp.url, "amqp://guest:guest@127.0.0.1:5672/");
        assert_string_equal(c->amqp.exchange, "cgwatch");

        /* ExecStart= empty unsets it, which validation then reports */
        assert_error("[Worker a]\nExecStart=/bin/a\nExecStart=\n", "test.conf:1: ExecStart: not set in [Worker a]");
}

static void test_empty_and_amqp(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok("");

        assert_int_equal(c->n_workers, 0);
        assert_false(c->amqp.enabled);
        config_free(c);

        c = parse_ok("# nothing but comments\n\n[Dyno]\n");
        assert_int_equal(c->n_workers, 0);
        config_free(c);

        c = parse_ok("[AMQP]\n");
        assert_true(c->amqp.enabled);
        assert_string_equal(c->amqp.url, "amqp://guest:guest@127.0.0.1:5672/");
}

static void test_strategies_and_policies(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok("[Supervisor a]\nStrategy=one-for-one\n"
                                                     "[Supervisor b]\nStrategy=one-for-all\n"
                                                     "[Supervisor c]\nStrategy=rest-for-one\n"
                                                     "[Worker x]\nExecStart=/x\nRestart=always\n"
                                                     "[Worker y]\nExecStart=/y\nRestart=on-failure\n"
                                                     "[Worker z]\nExecStart=/z\nRestart=no\nInstances=1000\n");

        assert_int_equal(c->supervisors[0].strategy, STRATEGY_ONE_FOR_ONE);
        assert_int_equal(c->supervisors[1].strategy, STRATEGY_ONE_FOR_ALL);
        assert_int_equal(c->supervisors[2].strategy, STRATEGY_REST_FOR_ONE);
        assert_int_equal(c->workers[0].restart, RESTART_ALWAYS);
        assert_int_equal(c->workers[1].restart, RESTART_ON_FAILURE);
        assert_int_equal(c->workers[2].restart, RESTART_NO);
        assert_int_equal(c->workers[2].instances, 1000);

        assert_string_equal(strategy_to_string(STRATEGY_ONE_FOR_ONE), "one-for-one");
        assert_string_equal(strategy_to_string(STRATEGY_ONE_FOR_ALL), "one-for-all");
        assert_string_equal(strategy_to_string(STRATEGY_REST_FOR_ONE), "rest-for-one");
        assert_null(strategy_to_string(_STRATEGY_MAX));
        assert_null(strategy_to_string((Strategy) -1));
        assert_string_equal(restart_policy_to_string(RESTART_ALWAYS), "always");
        assert_string_equal(restart_policy_to_string(RESTART_ON_FAILURE), "on-failure");
        assert_string_equal(restart_policy_to_string(RESTART_NO), "no");
        assert_null(restart_policy_to_string(_RESTART_MAX));
}

static void test_size_resolve(void **state) {
        ConfigSize unset = {}, abs = {.set = true, .value = 1234}, pct = {.set = true, .percent = true, .value = 125},
                   full = {.set = true, .percent = true, .value = 1000};

        assert_int_equal(config_size_resolve(&unset, MB(512)), SIZE_UNSET);
        assert_int_equal(config_size_resolve(NULL, MB(512)), SIZE_UNSET);
        assert_int_equal(config_size_resolve(&abs, MB(512)), 1234);
        assert_int_equal(config_size_resolve(&abs, SIZE_UNSET), 1234);
        assert_int_equal(config_size_resolve(&pct, MB(512)), MB(64));
        assert_int_equal(config_size_resolve(&pct, SIZE_UNSET), SIZE_UNSET);
        assert_int_equal(config_size_resolve(&pct, 999), 124);
        assert_int_equal(config_size_resolve(&full, UINT64_MAX - 1), UINT64_MAX - 1);
        assert_int_equal(config_size_resolve(&pct, UINT64_MAX - 1), (UINT64_MAX - 1) / 8);
}

static char *dump(const Config *c, uint64_t limit) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        config_dump(c, limit, f);
        assert_int_equal(fclose(f), 0);
        return buf;
}

static void assert_contains(const char *haystack, const char *needle) {
        if (!strstr(haystack, needle))
                fail_msg("\"%s\" not found in:\n%s", needle, haystack);
}

static void test_dump(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok(
                "[Dyno]\nMemoryLimit=512M\nRecycleAt=90%\n"
                "[Worker http]\nExecStart=/bin/http\nMemoryBudget=64M\n"
                "[Supervisor dam]\nMemoryBudget=300M\nStrategy=rest-for-one\n"
                "[Worker queuer]\nExecStart=/bin/q\nSupervisor=dam\nMemoryBudget=12.5%\nInstances=3\n"
                "[Worker pusher]\nExecStart=/bin/p\nSupervisor=dam\nMaxLifetimeSec=1h\nEnvironment=A=1\nTasksMax=10\n");
        _cleanup_free_ char *out = dump(c, SIZE_UNSET), *out2 = NULL;

        assert_contains(out, "dyno: limit 512M (536870912 bytes), recycle at 90% = 460.8M (483183820 bytes)\n");
        assert_contains(out, "\n  worker http: budget 64M (67108864 bytes)\n    exec: /bin/http\n");
        assert_contains(
                out, "\n  supervisor dam: rest-for-one, budget 300M (314572800 bytes), at most 5 restarts in 1min\n");
        assert_contains(out,
                        "\n    worker queuer: budget 12.5% = 64M (67108864 bytes), 3 instances queuer@1..queuer@3\n");
        assert_contains(out, "      restart always (backoff 100ms..30s), stop SIGTERM then cgroup.kill after 10s\n");
        assert_contains(out, "      watchdog off, max lifetime 1h, idle timeout off\n");
        assert_contains(out, "      user (inherit), group (inherit), directory (inherit), tasks max 10\n");
        assert_contains(out, "      env A=1\n");
        assert_contains(out, "amqp: off\n");
        /* the dyno's own workers come before the supervisors */
        assert_true(strstr(out, "worker http") < strstr(out, "supervisor dam"));
        assert_true(strstr(out, "worker queuer") < strstr(out, "worker pusher"));

        /* with the limit detected at runtime */
        c->dyno.memory_limit = (ConfigSize){};
        out2 = dump(c, MB(1024));
        assert_contains(out2,
                        "dyno: limit 1G (1073741824 bytes) detected, recycle at 90% = 921.6M (966367641 bytes)\n");
        assert_contains(out2, "worker queuer: budget 12.5% = 128M (134217728 bytes)");
        free(out2);
        out2 = dump(c, SIZE_UNSET);
        assert_contains(out2, "dyno: limit unknown, recycle at 90% = ? (dyno limit unknown)\n");
}

/* ---- Bad input: each with its exact message ---- */

static void test_syntax_errors(void **state) {
        assert_error("[Dyno\nMemoryLimit=1G\n", "test.conf:1: missing ']' in section header");
        assert_error("[Dyno] x\n", "test.conf:1: unexpected text after ']': \"x\"");
        assert_error("# comment\nMemoryLimit=1G\n", "test.conf:2: MemoryLimit= outside of any section");
        assert_error("[Dyno]\ngarbage\n", "test.conf:2: missing '=' in \"garbage\"");
        assert_error("[Dyno]\n=5\n", "test.conf:2: missing key before '='");
        assert_error("[Dyno]\nMemory Limit=5\n", "test.conf:2: invalid key name \"Memory Limit\"");
        assert_error_len("[Dyno]\nMemoryLimit=1G\0\n", sizeof("[Dyno]\nMemoryLimit=1G\0\n") - 1,
                         "test.conf:2: NUL byte in line");
}

static void test_section_errors(void **state) {
        assert_error("\n\n[Wroker x]\n",
                     "test.conf:3: unknown section \"Wroker x\" (expected Dyno, Supervisor NAME, Worker NAME or AMQP)");
        assert_error("[dyno]\n",
                     "test.conf:1: unknown section \"dyno\" (expected Dyno, Supervisor NAME, Worker NAME or AMQP)");
        assert_error("[]\n", "test.conf:1: unknown section \"\" (expected Dyno, Supervisor NAME, Worker NAME or AMQP)");
        assert_error("[Worker]\n", "test.conf:1: section [Worker] needs a name: [Worker NAME]");
        assert_error("[Supervisor  ]\n", "test.conf:1: section [Supervisor] needs a name: [Supervisor NAME]");
        assert_error("[Dyno foo]\n", "test.conf:1: section [Dyno] takes no name");
        assert_error("[AMQP x]\n", "test.conf:1: section [AMQP] takes no name");
        assert_error("[Worker a@1]\n", "test.conf:1: invalid worker name \"a@1\"");
        assert_error("[Worker a b]\n", "test.conf:1: invalid worker name \"a b\"");
        assert_error("[Supervisor .x]\n", "test.conf:1: invalid supervisor name \".x\"");
        assert_error("[Worker memory.high]\n", "test.conf:1: invalid worker name \"memory.high\"");
}

static void test_unknown_keys(void **state) {
        assert_error("[Worker a]\nExecStrat=/bin/true\n", "test.conf:2: ExecStrat: unknown key in [Worker a]");
        assert_error("[Worker a]\nmemorybudget=1M\n",
                     "test.conf:2: memorybudget: unknown key in [Worker a] (did you mean MemoryBudget=?)");
        assert_error("[Dyno]\nExecStart=/bin/true\n",
                     "test.conf:2: ExecStart: unknown key in [Dyno] (it belongs in [Worker NAME])");
        assert_error("[Worker a]\nRecycleAt=5%\n",
                     "test.conf:2: RecycleAt: unknown key in [Worker a] (it belongs in [Dyno])");
        assert_error("[AMQP]\nurl=amqp://x/\n", "test.conf:2: url: unknown key in [AMQP] (did you mean URL=?)");
        assert_error("[Supervisor s]\nInstances=2\n",
                     "test.conf:2: Instances: unknown key in [Supervisor s] (it belongs in [Worker NAME])");
}

#define W "[Worker a]\nExecStart=/bin/true\n"

static void test_value_errors(void **state) {
        static const struct {
                const char *text;
                const char *error;
        } table[] = {
                {W "MemoryBudget=12Q\n", "test.conf:3: MemoryBudget: invalid size \"12Q\""},
                {W "MemoryBudget=101%\n", "test.conf:3: MemoryBudget: size out of range \"101%\""},
                {W "MemoryBudget=0\n", "test.conf:3: MemoryBudget: invalid size \"0\" (must be greater than zero)"},
                {W "MemoryBudget=-5M\n", "test.conf:3: MemoryBudget: invalid size \"-5M\""},
                {"[Dyno]\nMemoryLimit=50%\n",
                 "test.conf:2: MemoryLimit: invalid size \"50%\" (must be absolute, not a percentage)"},
                {"[Dyno]\nMemoryLimit=99999999T\n", "test.conf:2: MemoryLimit: size out of range \"99999999T\""},
                {"[Dyno]\nRecycleAt=100%\n", "test.conf:2: RecycleAt: invalid size \"100%\" (must be below 100%)"},
                {"[Dyno]\nRecycleAt=0%\n", "test.conf:2: RecycleAt: invalid size \"0%\" (must be greater than zero)"},
                {"[Dyno]\nRestartWindowSec=0\n",
                 "test.conf:2: RestartWindowSec: invalid duration \"0\" (must be greater than zero)"},
                {"[Dyno]\nRecyclesCountAsRestarts=maybe\n",
                 "test.conf:2: RecyclesCountAsRestarts: invalid boolean \"maybe\""},
                {W "StopTimeoutSec=10 parsecs\n", "test.conf:3: StopTimeoutSec: invalid duration \"10 parsecs\""},
                {W "RestartSec=infinity\n", "test.conf:3: RestartSec: invalid duration \"infinity\" (must be finite)"},
                {W "RestartMaxSec=5124095577h\n", "test.conf:3: RestartMaxSec: duration out of range \"5124095577h\""},
                {W "MaxLifetimeSec=876600h 1s\n",
                 "test.conf:3: MaxLifetimeSec: duration out of range \"876600h 1s\" (at most 100 years)"},
                {W "Instances=0\n", "test.conf:3: Instances: invalid number \"0\" (must be between 1 and 1000)"},
                {W "Instances=1001\n", "test.conf:3: Instances: invalid number \"1001\" (must be between 1 and 1000)"},
                {W "Instances=99999999999999999999999\n",
                 "test.conf:3: Instances: invalid number \"99999999999999999999999\" (must be between 1 and 1000)"},
                {W "Instances=2x\n", "test.conf:3: Instances: invalid number \"2x\""},
                {"[AMQP]\nOutboxSize=0\n",
                 "test.conf:2: OutboxSize: invalid number \"0\" (must be between 1 and 1048576)"},
                {"[Supervisor s]\nMaxRestarts=-1\n", "test.conf:2: MaxRestarts: invalid number \"-1\""},
                {"[Supervisor s]\nMaxRestarts=0x10\n", "test.conf:2: MaxRestarts: invalid number \"0x10\""},
                {"[Supervisor s]\nMaxRestarts=4294967296\n",
                 "test.conf:2: MaxRestarts: invalid number \"4294967296\" (must be between 0 and 4294967295)"},
                {W "ReplaceFirst=maybe\n", "test.conf:3: ReplaceFirst: invalid boolean \"maybe\""},
                {W "BudgetCountsRSS=rss\n", "test.conf:3: BudgetCountsRSS: invalid boolean \"rss\""},
                {W "StopSignal=SIGFOO\n", "test.conf:3: StopSignal: invalid signal \"SIGFOO\""},
                {W "StopSignal=0\n", "test.conf:3: StopSignal: invalid signal \"0\""},
                {"[Supervisor s]\nStrategy=one-for-none\n", "test.conf:2: Strategy: invalid strategy \"one-for-none\" "
                                                            "(expected one-for-one, one-for-all or rest-for-one)"},
                {W "Restart=sometimes\n",
                 "test.conf:3: Restart: invalid restart policy \"sometimes\" (expected always, on-failure or no)"},
                {"[Worker a]\nExecStart=/bin/sh -c 'oops\n", "test.conf:2: ExecStart: invalid command line \"/bin/sh "
                                                             "-c 'oops\" (unbalanced quotes or trailing backslash)"},
                {"[Worker a]\nExecStart=node app.js\n",
                 "test.conf:2: ExecStart: program is not an absolute path \"node\""},
                {"[Worker a]\nExecStart=''\n", "test.conf:2: ExecStart: program is not an absolute path \"\""},
                {W "Environment=FOO\n",
                 "test.conf:3: Environment: invalid environment assignment \"FOO\" (expected NAME=VALUE)"},
                {W "Environment=A=1 1X=y\n", "test.conf:3: Environment: invalid environment variable name \"1X=y\""},
                {W "Environment==x\n", "test.conf:3: Environment: invalid environment variable name \"=x\""},
                {W "Environment=\"A=unterminated\n",
                 "test.conf:3: Environment: invalid quoting in \"\\\"A=unterminated\""},
                {W "User=a:b\n", "test.conf:3: User: invalid user name \"a:b\""},
                {W "User=-rf\n", "test.conf:3: User: invalid user name \"-rf\""},
                {W "Group=4294967295\n", "test.conf:3: Group: invalid group name \"4294967295\""},
                {W "WorkingDirectory=srv/app\n",
                 "test.conf:3: WorkingDirectory: invalid path \"srv/app\" (must be absolute)"},
                {W "TasksMax=0\n",
                 "test.conf:3: TasksMax: invalid number \"0\" (expected a positive number or \"max\")"},
                {W "TasksMax=lots\n",
                 "test.conf:3: TasksMax: invalid number \"lots\" (expected a positive number or \"max\")"},
                {W "MemoryPressure=some 1s\n", "test.conf:3: MemoryPressure: invalid pressure trigger \"some 1s\" "
                                               "(expected \"some|full STALL WINDOW\" or \"no\")"},
                {W "MemoryPressure=some 2s 1s\n",
                 "test.conf:3: MemoryPressure: pressure trigger out of range \"some 2s 1s\" (the window must be "
                 "500ms..10s, the stall above 0 and within the window)"},
                {W "Supervisor=a@b\n", "test.conf:3: Supervisor: invalid supervisor name \"a@b\""},
                {"[AMQP]\nURL=http://guest@localhost/\n",
                 "test.conf:2: URL: invalid AMQP URL \"http://guest@localhost/\" (expected amqp://... or amqps://...)"},
                {"[AMQP]\nExchange=a b\n", "test.conf:2: Exchange: invalid exchange name \"a b\""},
                {"[AMQP]\nSampleIntervalSec=0\n",
                 "test.conf:2: SampleIntervalSec: invalid duration \"0\" (must be greater than zero)"},
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                assert_error(table[i].text, table[i].error);
}

static void test_validation_errors(void **state) {
        assert_error("[Dyno]\n\n[Worker a]\nMemoryBudget=1M\n", "test.conf:3: ExecStart: not set in [Worker a]");
        assert_error(W "Supervisor=nope\n", "test.conf:3: Supervisor: no such [Supervisor NAME] section: \"nope\"");
        assert_error("[Dyno]\nMemoryLimit=512M\nRecycleAt=600M\n",
                     "test.conf:3: RecycleAt: 600M is not below MemoryLimit=512M");
        assert_error("[Dyno]\nRecycleAt=512M\nMemoryLimit=512M\n",
                     "test.conf:2: RecycleAt: 512M is not below MemoryLimit=512M");
        assert_error("[Supervisor dam]\n[Worker x]\nExecStart=/x\n[Worker dam]\nExecStart=/bin/true\n",
                     "test.conf:4: [Worker dam] has the same name as [Supervisor dam] at test.conf:1");
}

static void test_validate_programmatic(void **state) {
        /* config_validate() also guards Configs built or changed in code (e.g. by Reload()). */
        _cleanup_(config_freep) Config *c = parse_ok("[Worker a]\nExecStart=/x\n[Worker b]\nExecStart=/y\n");
        _cleanup_free_ char *err = NULL;

        c->workers[1].instances = 0;
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_string_equal(err, "test.conf:3: Instances: 0 is not between 1 and 1000 in [Worker b]");
        err = mfree_str(err);

        c->workers[1].instances = 1;
        free(c->workers[1].name);
        c->workers[1].name = strdup("a");
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_string_equal(err, "test.conf:3: duplicate worker name \"a\"");
        err = mfree_str(err);

        free(c->workers[1].name);
        c->workers[1].name = strdup("a@1");
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_string_equal(err, "test.conf:3: invalid worker name \"a@1\"");
        err = mfree_str(err);

        free(c->workers[1].name);
        c->workers[1].name = strdup("b");
        assert_int_equal(config_validate(c, &err), 0);
        assert_null(err);
        assert_int_equal(config_validate(NULL, &err), -EINVAL);
}

static void test_hostile(void **state) {
        _cleanup_free_ char *text = NULL, *expected = NULL;
        char longkey[200];

        /* control characters are escaped in messages */
        assert_error(W "MemoryBudget=\x1b[31mred\n", "test.conf:3: MemoryBudget: invalid size \"\\x1b[31mred\"");
        assert_error(W "StopSignal=\"quoted\\\"\n", "test.conf:3: StopSignal: invalid signal \"\\\"quoted\\\\\\\"\"");
        assert_error(W "User=\xc3\xa9t\xc3\xa9\n", "test.conf:3: User: invalid user name \"\\xc3\\xa9t\\xc3\\xa9\"");

        /* long values are cut after 80 bytes in messages */
        char nines[201];
        memset(nines, '9', 200);
        nines[200] = 0;
        assert_true(asprintf(&text, W "MemoryBudget=%s\n", nines) > 0);
        assert_true(asprintf(&expected, "test.conf:3: MemoryBudget: size out of range \"%.80s\"...", nines) > 0);
        assert_error(text, expected);

        /* a huge key is refused as a key, quoted and cut */
        memset(longkey, 'K', sizeof(longkey) - 1);
        longkey[sizeof(longkey) - 1] = 0;
        free(text);
        free(expected);
        assert_true(asprintf(&text, "[Dyno]\n%s=1\n", longkey) > 0);
        assert_true(asprintf(&expected, "test.conf:2: invalid key name \"%.80s\"...", longkey) > 0);
        assert_error(text, expected);

        /* a lone backslash, lone brackets and lone '=' */
        assert_error("\\\nfoo\n", "test.conf:1: missing '=' in \"foo\"");
        config_free(parse_ok("\\"));
        assert_error("]\n", "test.conf:1: missing '=' in \"]\"");
        assert_error("[\n", "test.conf:1: missing ']' in section header");
        assert_error("[Dyno]\n=\n", "test.conf:2: missing key before '='");
}

static void test_line_numbers(void **state) {
        _cleanup_free_ char *text = NULL;
        size_t n = 0;

        text = malloc(100000);
        assert_non_null(text);
        n += (size_t) sprintf(text + n, "[Dyno]\n");
        for (int i = 0; i < 3000; i++)
                n += (size_t) sprintf(text + n,
                                      i % 3 == 0   ? "# comment %d\n"
                                      : i % 3 == 1 ? "\n"
                                                   : "MaxRestarts=%d\n",
                                      i);
        sprintf(text + n, "Bogus=1\n");
        assert_error(text, "test.conf:3002: Bogus: unknown key in [Dyno]");
}

/* ---- Temp files ---- */

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

typedef struct TempDir {
        char path[64];
} TempDir;

/* Writes dir/name with exactly `mode` (whatever the umask). */
static void write_file_mode(const char *dir, const char *name, const char *content, mode_t mode) {
        _cleanup_free_ char *p = NULL;
        FILE *f;

        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        f = fopen(p, "we");
        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0, 1);
        assert_int_equal(fchmod(fileno(f), mode), 0);
        assert_int_equal(fclose(f), 0);
}

static void write_file(const char *dir, const char *name, const char *content) {
        write_file_mode(dir, name, content, 0644);
}

static int setup_tmp(void **state) {
        TempDir *t = calloc(1, sizeof(TempDir));

        if (!t)
                return -1;
        strcpy(t->path, "/tmp/test-config-XXXXXX");
        if (!mkdtemp(t->path))
                return -1;
        *state = t;
        return 0;
}

static int teardown_tmp(void **state) {
        TempDir *t = *state;

        (void) nftw(t->path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        free(t);
        return 0;
}

static void test_budget_limits(void **state) {
        Config *c;

        /* a budget above the dyno's limit, a worker's or a supervisor's */
        assert_error("[Dyno]\nMemoryLimit=512M\n[Worker a]\nExecStart=/x\nMemoryBudget=600M\n",
                     "test.conf:5: MemoryBudget: 600M is above MemoryLimit=512M");
        assert_error("[Dyno]\nMemoryLimit=512M\n[Supervisor s]\nMemoryBudget=512.5M\n",
                     "test.conf:4: MemoryBudget: 512.5M is above MemoryLimit=512M");
        /* whichever comes first in the files: the limit may be set after the budget */
        assert_error("[Worker a]\nExecStart=/x\nMemoryBudget=1G\n[Dyno]\nMemoryLimit=1023M\n",
                     "test.conf:3: MemoryBudget: 1G is above MemoryLimit=1023M");
        /* MemoryMax= (the node's hard cap) below the budget would OOM-kill before the recycle */
        assert_error("[Worker a]\nExecStart=/x\nMemoryBudget=64M\nMemoryMax=63M\n",
                     "test.conf:4: MemoryMax: 63M is below MemoryBudget=64M (the kernel would OOM-kill the worker "
                     "before its budget recycle)");
        c = parse_ok("[Worker a]\nExecStart=/x\nMemoryBudget=64M\nMemoryMax=64M\n");
        assert_true(c->workers[0].memory_max.set);
        assert_int_equal(c->workers[0].memory_max.value, MB(64));
        config_free(c);
        config_free(parse_ok("[Worker a]\nExecStart=/x\nMemoryMax=16M\n"));
        assert_error("[Worker a]\nExecStart=/x\nMemoryMax=0\n",
                     "test.conf:3: MemoryMax: invalid size \"0\" (must be greater than zero)");

        /* the boundary: equal is fine, and so is 100% */
        c = parse_ok("[Dyno]\nMemoryLimit=512M\n[Supervisor s]\nMemoryBudget=100%\n"
                     "[Worker a]\nExecStart=/x\nSupervisor=s\nMemoryBudget=512M\n");
        config_free(c);
        /* without an absolute MemoryLimit= the limit is the daemon's to check */
        config_free(parse_ok("[Worker a]\nExecStart=/x\nMemoryBudget=64T\n"));

        /* a worker above its supervisor's budget */
        assert_error(
                "[Supervisor dam]\nMemoryBudget=300M\n[Worker a]\nExecStart=/x\nSupervisor=dam\nMemoryBudget=301M\n",
                "test.conf:6: MemoryBudget: 301M is above MemoryBudget=300M of [Supervisor dam]");
        /* both percentages: compared as such, with or without a limit */
        assert_error(
                "[Supervisor dam]\nMemoryBudget=50%\n[Worker a]\nExecStart=/x\nSupervisor=dam\nMemoryBudget=50.1%\n",
                "test.conf:6: MemoryBudget: 50.1% is above MemoryBudget=50% of [Supervisor dam]");
        /* mixed: compared in bytes when MemoryLimit= is absolute, and the message says what the
         * percentage came to */
        assert_error("[Dyno]\nMemoryLimit=512M\n[Supervisor dam]\nMemoryBudget=50%\n"
                     "[Worker a]\nExecStart=/x\nSupervisor=dam\nMemoryBudget=257M\n",
                     "test.conf:8: MemoryBudget: 257M is above MemoryBudget=50% = 256M of [Supervisor dam]");
        assert_error("[Dyno]\nMemoryLimit=512M\n[Supervisor dam]\nMemoryBudget=300M\n"
                     "[Worker a]\nExecStart=/x\nSupervisor=dam\nMemoryBudget=60%\n",
                     "test.conf:8: MemoryBudget: 60% = 307.2M is above MemoryBudget=300M of [Supervisor dam]");
        config_free(parse_ok("[Dyno]\nMemoryLimit=512M\n[Supervisor dam]\nMemoryBudget=50%\n"
                             "[Worker a]\nExecStart=/x\nSupervisor=dam\nMemoryBudget=256M\n"));
        /* and not compared at all when it is not */
        config_free(parse_ok("[Supervisor dam]\nMemoryBudget=50%\n[Worker a]\nExecStart=/x\nSupervisor=dam\n"
                             "MemoryBudget=10G\n"));
        /* a supervisor without a budget (max) takes anything */
        config_free(parse_ok("[Supervisor dam]\n[Worker a]\nExecStart=/x\nSupervisor=dam\nMemoryBudget=10G\n"));
        /* instances: each has the whole budget, so each is compared, not their sum */
        config_free(parse_ok("[Supervisor dam]\nMemoryBudget=100M\n"
                             "[Worker a]\nExecStart=/x\nSupervisor=dam\nInstances=3\nMemoryBudget=100M\n"));

        /* nested: every enclosing budget counts, the nearest offence is reported */
        assert_error("[Supervisor outer]\nMemoryBudget=100M\n[Supervisor inner]\nSupervisor=outer\n"
                     "[Worker a]\nExecStart=/x\nSupervisor=inner\nMemoryBudget=200M\n",
                     "test.conf:8: MemoryBudget: 200M is above MemoryBudget=100M of [Supervisor outer]");
        assert_error("[Supervisor outer]\nMemoryBudget=100M\n[Supervisor inner]\nSupervisor=outer\nMemoryBudget=150M\n",
                     "test.conf:5: MemoryBudget: 150M is above MemoryBudget=100M of [Supervisor outer]");
        assert_error("[Supervisor outer]\nMemoryBudget=300M\n[Supervisor inner]\nSupervisor=outer\nMemoryBudget=200M\n"
                     "[Worker a]\nExecStart=/x\nSupervisor=inner\nMemoryBudget=250M\n",
                     "test.conf:9: MemoryBudget: 250M is above MemoryBudget=200M of [Supervisor inner]");
        /* an empty MemoryBudget= resets both the value and where it was set */
        c = parse_ok("[Worker a]\nExecStart=/x\nMemoryBudget=1M\nMemoryBudget=\n");
        assert_false(c->workers[0].memory_budget.set);
        assert_null(c->workers[0].memory_budget_where.file);
        config_free(c);
}

static void test_supervisor_nesting(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok("[Supervisor outer]\nMemoryBudget=300M\n"
                                                     "[Supervisor inner]\nSupervisor=outer\n"
                                                     "[Supervisor deep]\nSupervisor=inner\n"
                                                     "[Worker a]\nExecStart=/x\nSupervisor=deep\n"
                                                     "[Worker b]\nExecStart=/y\nSupervisor=outer\n");
        _cleanup_free_ char *out = NULL;

        assert_null(c->supervisors[0].parent);
        assert_string_equal(c->supervisors[1].parent, "outer");
        assert_string_equal(c->supervisors[1].parent_where.file, "test.conf");
        assert_int_equal(c->supervisors[1].parent_where.line, 4);
        assert_string_equal(c->supervisors[2].parent, "inner");

        /* the dump shows the tree */
        out = dump(c, SIZE_UNSET);
        assert_contains(out, "\n  supervisor outer: one-for-one, budget 300M (314572800 bytes), at most 5 restarts in "
                             "1min\n"
                             "    worker b: budget max\n"
                             "      exec: /y\n");
        assert_contains(out, "\n    supervisor inner: one-for-one, budget max, at most 5 restarts in 1min\n"
                             "      supervisor deep: one-for-one, budget max, at most 5 restarts in 1min\n"
                             "        worker a: budget max\n"
                             "          exec: /x\n");

        /* an empty Supervisor= puts it back under the dyno */
        config_free(TAKE_PTR(c));
        c = parse_ok("[Supervisor a]\n[Supervisor b]\nSupervisor=a\nSupervisor=\n");
        assert_null(c->supervisors[1].parent);
        assert_int_equal(c->supervisors[1].parent_where.line, 0);

        assert_error("[Supervisor a]\nSupervisor=ghost\n",
                     "test.conf:2: Supervisor: no such [Supervisor NAME] section: \"ghost\"");
        assert_error("[Supervisor a]\nSupervisor=x y\n", "test.conf:2: Supervisor: invalid supervisor name \"x y\"");
        /* a worker is not a supervisor */
        assert_error("[Worker w]\nExecStart=/x\n[Supervisor a]\nSupervisor=w\n",
                     "test.conf:4: Supervisor: no such [Supervisor NAME] section: \"w\"");
        assert_error("[Supervisor a]\nSupervisor=a\n",
                     "test.conf:2: Supervisor: supervisor cycle a -> a (supervisors form a tree under the dyno)");
        assert_error("[Supervisor a]\nSupervisor=b\n[Supervisor b]\nSupervisor=a\n",
                     "test.conf:2: Supervisor: supervisor cycle a -> b -> a (supervisors form a tree under the dyno)");
        /* reported at the cycle's member that comes first, even when reached from elsewhere */
        assert_error("[Supervisor top]\n[Supervisor z]\nSupervisor=y\n[Supervisor x]\nSupervisor=z\n"
                     "[Supervisor y]\nSupervisor=x\n[Supervisor w]\nSupervisor=top\n",
                     "test.conf:3: Supervisor: supervisor cycle z -> y -> x -> z (supervisors form a tree under the "
                     "dyno)");
        assert_error("[Supervisor leaf]\nSupervisor=y\n[Supervisor x]\nSupervisor=y\n[Supervisor y]\nSupervisor=x\n",
                     "test.conf:4: Supervisor: supervisor cycle x -> y -> x (supervisors form a tree under the dyno)");
        /* a long cycle is cut after 8 names */
        assert_error("[Supervisor s0]\nSupervisor=s1\n[Supervisor s1]\nSupervisor=s2\n[Supervisor s2]\nSupervisor=s3\n"
                     "[Supervisor s3]\nSupervisor=s4\n[Supervisor s4]\nSupervisor=s5\n[Supervisor s5]\nSupervisor=s6\n"
                     "[Supervisor s6]\nSupervisor=s7\n[Supervisor s7]\nSupervisor=s8\n[Supervisor s8]\nSupervisor=s9\n"
                     "[Supervisor s9]\nSupervisor=s0\n",
                     "test.conf:2: Supervisor: supervisor cycle s0 -> s1 -> s2 -> s3 -> s4 -> s5 -> s6 -> s7 -> ... -> "
                     "s0 (supervisors form a tree under the dyno)");
        /* the dump of a config with a cycle (as the fuzzer makes them) leaves the cycle out */
        config_free(TAKE_PTR(c));
        c = config_new();
        char *err = NULL;
        const char *cyc = "[Supervisor a]\nSupervisor=b\n[Supervisor b]\nSupervisor=a\n[Supervisor c]\n";
        assert_int_equal(config_parse_buffer(c, cyc, strlen(cyc), "test.conf", &err), 0);
        free(out);
        out = dump(c, SIZE_UNSET);
        assert_contains(out, "supervisor c:");
        assert_null(strstr(out, "supervisor a:"));
}

/* ---- config_check_system() with fakes ---- */

typedef struct FakeSystem {
        unsigned calls;
        char log[512];
} FakeSystem;

static void fake_log(FakeSystem *f, const char *what, const char *s) {
        size_t n = strlen(f->log);

        (void) snprintf(f->log + n, sizeof(f->log) - n, "%s%s:%s", n > 0 ? " " : "", what, s);
        f->calls++;
}

/* Known: users root, nobody, 0, 65534; groups root, nogroup, 0, 65534. "broken" fails with EIO. */
static int fake_lookup(FakeSystem *f, const char *what, const char *name, const char *known) {
        fake_log(f, what, name);
        if (streq(name, "broken"))
                return -EIO;
        if (streq(name, "0") || streq(name, "65534") || streq(name, "root") || streq(name, known))
                return 0;
        return -ESRCH;
}

static int fake_lookup_user(const char *user, void *userdata) {
        return fake_lookup(userdata, "user", user, "nobody");
}

static int fake_lookup_group(const char *group, void *userdata) {
        return fake_lookup(userdata, "group", group, "nogroup");
}

/* /bin/... exist; the rest fail with the errno named by the path. */
static int fake_check_executable(const char *path, void *userdata) {
        static const struct {
                const char *path;
                int r;
        } table[] = {
                {"/missing", -ENOENT}, {"/file/under", -ENOTDIR}, {"/dir", -EISDIR}, {"/fifo", -ENOEXEC},
                {"/noexec", -EACCES},  {"/loop", -ELOOP},         {"/oom", -ENOMEM},
        };

        fake_log(userdata, "exec", path);
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(path, table[i].path))
                        return table[i].r;
        return strncmp(path, "/bin/", 5) == 0 ? 0 : -ENOENT;
}

static int fake_check_directory(const char *path, void *userdata) {
        fake_log(userdata, "dir", path);
        if (streq(path, "/srv/missing"))
                return -ENOENT;
        if (streq(path, "/srv/file"))
                return -ENOTDIR;
        if (streq(path, "/srv/locked"))
                return -EACCES;
        if (streq(path, "/srv/io"))
                return -EIO;
        return 0;
}

static void assert_system_error(const char *text, const char *expected, int expected_r) {
        FakeSystem fake = {};
        ConfigSystemOps ops = {.lookup_user = fake_lookup_user,
                               .lookup_group = fake_lookup_group,
                               .check_executable = fake_check_executable,
                               .check_directory = fake_check_directory,
                               .userdata = &fake};
        _cleanup_(config_freep) Config *c = parse_ok(text);
        _cleanup_free_ char *err = NULL;
        int r = config_check_system(c, &ops, &err);

        if (r != expected_r)
                fail_msg("expected r=%d \"%s\", got r=%d \"%s\"", expected_r, expected ?: "", r, err ?: "");
        if (!streq_ptr(err, expected))
                fail_msg("wrong error:\n  got      %s\n  expected %s", err ?: "(null)", expected ?: "(null)");
}

static void test_check_system(void **state) {
        FakeSystem fake = {};
        ConfigSystemOps ops = {.lookup_user = fake_lookup_user,
                               .lookup_group = fake_lookup_group,
                               .check_executable = fake_check_executable,
                               .check_directory = fake_check_directory,
                               .userdata = &fake};
        _cleanup_(config_freep) Config *c = parse_ok("[Worker a]\nExecStart=/bin/a 'two words'\nUser=nobody\n"
                                                     "Group=nogroup\nWorkingDirectory=/srv\n"
                                                     "[Worker b]\nExecStart=/bin/b\nUser=65534\n"
                                                     "[Worker c]\nExecStart=/bin/c\nGroup=0\n");
        _cleanup_free_ char *err = NULL;

        /* everything is asked, in config order, ExecStart= first; the program is argv[0] unquoted */
        assert_int_equal(config_check_system(c, &ops, &err), 0);
        assert_null(err);
        assert_string_equal(
                fake.log, "exec:/bin/a user:nobody group:nogroup dir:/srv exec:/bin/b user:65534 exec:/bin/c group:0");
        /* missing ops are skipped */
        fake = (FakeSystem){};
        ops = (ConfigSystemOps){.lookup_user = fake_lookup_user, .userdata = &fake};
        assert_int_equal(config_check_system(c, &ops, &err), 0);
        assert_string_equal(fake.log, "user:nobody user:65534");
        assert_int_equal(config_check_system(NULL, &ops, &err), -EINVAL);
        assert_int_equal(config_check_system(c, NULL, &err), -EINVAL);

#define X "[Worker a]\nExecStart="
        assert_system_error(X "/missing --flag\n", "test.conf:2: ExecStart: no such program \"/missing\"", -EINVAL);
        assert_system_error(X "/file/under\n", "test.conf:2: ExecStart: no such program \"/file/under\"", -EINVAL);
        assert_system_error(X "/dir\n", "test.conf:2: ExecStart: program is not a regular file \"/dir\"", -EINVAL);
        assert_system_error(X "/fifo\n", "test.conf:2: ExecStart: program is not a regular file \"/fifo\"", -EINVAL);
        assert_system_error(X "/noexec\n", "test.conf:2: ExecStart: program is not executable \"/noexec\"", -EINVAL);
        assert_system_error(X "/loop\n",
                            "test.conf:2: ExecStart: cannot check program \"/loop\": Too many levels of symbolic links",
                            -EINVAL);
        assert_system_error(X "/oom\n", NULL, -ENOMEM);
        /* the line of the ExecStart= that counts: a later one overrides */
        assert_system_error(X "/bin/ok\nUser=root\n\nExecStart=\"/missing\"\n",
                            "test.conf:5: ExecStart: no such program \"/missing\"", -EINVAL);
        assert_system_error(X "/bin/ok\nUser=ghost\n", "test.conf:3: User: no such user \"ghost\"", -EINVAL);
        assert_system_error(X "/bin/ok\nUser=4000\n", "test.conf:3: User: no such user \"4000\"", -EINVAL);
        assert_system_error(X "/bin/ok\nUser=broken\n",
                            "test.conf:3: User: cannot look up user \"broken\": Input/output error", -EINVAL);
        assert_system_error(X "/bin/ok\nUser=root\nGroup=nobody\n", "test.conf:4: Group: no such group \"nobody\"",
                            -EINVAL);
        assert_system_error(X "/bin/ok\nGroup=broken\n",
                            "test.conf:3: Group: cannot look up group \"broken\": Input/output error", -EINVAL);
        assert_system_error(X "/bin/ok\nWorkingDirectory=/srv/missing\n",
                            "test.conf:3: WorkingDirectory: no such directory \"/srv/missing\"", -EINVAL);
        assert_system_error(X "/bin/ok\nWorkingDirectory=/srv/file\n",
                            "test.conf:3: WorkingDirectory: not a directory \"/srv/file\"", -EINVAL);
        assert_system_error(X "/bin/ok\nWorkingDirectory=/srv/locked\n",
                            "test.conf:3: WorkingDirectory: directory is not accessible \"/srv/locked\"", -EINVAL);
        assert_system_error(X "/bin/ok\nWorkingDirectory=/srv/io\n",
                            "test.conf:3: WorkingDirectory: cannot check directory \"/srv/io\": Input/output error",
                            -EINVAL);
        /* the first worker's problem is reported first */
        assert_system_error(X "/bin/ok\nUser=ghost1\n[Worker b]\nExecStart=/missing\n",
                            "test.conf:3: User: no such user \"ghost1\"", -EINVAL);
#undef X
}

/* The default ops on this machine: /bin/sh and root exist everywhere the tests run. */
static void test_check_system_default(void **state) {
        char dir[] = "/tmp/test-config-sys-XXXXXX", path[128];
        const ConfigSystemOps *o = &config_system_ops_default;

        assert_non_null(mkdtemp(dir));
        assert_int_equal(o->check_executable("/bin/sh", NULL), 0);
        (void) snprintf(path, sizeof(path), "%s/missing", dir);
        assert_int_equal(o->check_executable(path, NULL), -ENOENT);
        assert_int_equal(o->check_executable(dir, NULL), -EISDIR);
        assert_int_equal(o->check_executable("/dev/null", NULL), -ENOEXEC);
        (void) snprintf(path, sizeof(path), "%s/plain", dir);
        write_file_mode(dir, "plain", "#!/bin/sh\n", 0644);
        assert_int_equal(o->check_executable(path, NULL), -EACCES);
        (void) snprintf(path, sizeof(path), "%s/plain/sub", dir);
        assert_int_equal(o->check_executable(path, NULL), -ENOTDIR);
        (void) snprintf(path, sizeof(path), "%s/plain", dir);
        assert_int_equal(chmod(path, 0700), 0);
        assert_int_equal(o->check_executable(path, NULL), 0);
        (void) snprintf(path, sizeof(path), "%s/link", dir);
        assert_int_equal(symlink("/bin/sh", path), 0);
        assert_int_equal(o->check_executable(path, NULL), 0);

        assert_int_equal(o->check_directory(dir, NULL), 0);
        assert_int_equal(o->check_directory("/", NULL), 0);
        (void) snprintf(path, sizeof(path), "%s/plain", dir);
        assert_int_equal(o->check_directory(path, NULL), -ENOTDIR);
        (void) snprintf(path, sizeof(path), "%s/plain/sub", dir);
        assert_int_equal(o->check_directory(path, NULL), -ENOENT);
        (void) snprintf(path, sizeof(path), "%s/missing", dir);
        assert_int_equal(o->check_directory(path, NULL), -ENOENT);
        (void) snprintf(path, sizeof(path), "%s/link", dir);
        assert_int_equal(o->check_directory(path, NULL), -ENOTDIR); /* /bin/sh */
        (void) nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);

        assert_int_equal(o->lookup_user("root", NULL), 0);
        assert_int_equal(o->lookup_user("0", NULL), 0);
        assert_int_equal(o->lookup_user("cgwatch-no-such-user", NULL), -ESRCH);
        assert_int_equal(o->lookup_user("4000000000", NULL), -ESRCH);
        assert_int_equal(o->lookup_user("99999999999", NULL), -ESRCH);
        assert_int_equal(o->lookup_group("root", NULL), 0);
        assert_int_equal(o->lookup_group("0", NULL), 0);
        assert_int_equal(o->lookup_group("cgwatch-no-such-group", NULL), -ESRCH);
        assert_int_equal(o->lookup_group("4000000000", NULL), -ESRCH);
}

/* ---- config_load() on a temp dir ---- */

/* All ops NULL: config_load_with() then checks nothing against the system (ExecStart=/bin/q). */
static const ConfigSystemOps no_system_checks = {};

static void test_load_dropins(void **state) {
        TempDir *t = *state;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *main_path = NULL, *dropin_dir = NULL, *err = NULL;

        assert_true(asprintf(&main_path, "%s/cgwatch.conf", t->path) > 0);
        assert_true(asprintf(&dropin_dir, "%s/cgwatch.conf.d", t->path) > 0);

        write_file(t->path, "cgwatch.conf",
                   "[Dyno]\nMemoryLimit=512M\n"
                   "[Worker queuer]\nExecStart=/bin/q\nMemoryBudget=100M\nEnvironment=A=1\nRestart=always\n");

        /* no drop-in directory: fine */
        assert_int_equal(config_load_with(main_path, &no_system_checks, &c, &err), 0);
        assert_null(err);
        assert_int_equal(c->workers[0].memory_budget.value, MB(100));
        c = config_free(c);

        assert_int_equal(mkdir(dropin_dir, 0755), 0);
        /* written out of order on purpose: sorted by name, 10 < 20 < 30 */
        write_file(dropin_dir, "30-last.conf", "[Worker queuer]\nMemoryBudget=300M\nEnvironment=C=3\n");
        write_file(dropin_dir, "10-first.conf", "[Worker queuer]\nMemoryBudget=200M\nRestart=no\nEnvironment=B=2\n");
        write_file(dropin_dir, "20-middle.conf", "[Dyno]\nMemoryLimit=1G\n[Worker extra]\nExecStart=/bin/e\n");
        write_file(dropin_dir, "99-ignored.txt", "this is not a config file\n");
        write_file(dropin_dir, ".hidden.conf", "[Dyno]\nMemoryLimit=3G\n");

        assert_int_equal(config_load_with(main_path, &no_system_checks, &c, &err), 0);
        assert_null(err);
        assert_int_equal(c->dyno.memory_limit.value, UINT64_C(1) << 30);
        assert_int_equal(c->n_workers, 2);
        assert_string_equal(c->workers[0].name, "queuer");
        assert_string_equal(c->workers[1].name, "extra");
        assert_int_equal(c->workers[0].memory_budget.value, MB(300));
        assert_int_equal(c->workers[0].restart, RESTART_NO);
        assert_string_equal(c->workers[0].environment[0], "A=1");
        assert_string_equal(c->workers[0].environment[1], "B=2");
        assert_string_equal(c->workers[0].environment[2], "C=3");
        assert_null(c->workers[0].environment[3]);
        /* locations point at the file that set them */
        assert_string_equal(c->workers[0].where.file, main_path);
        _cleanup_free_ char *middle = NULL;
        assert_true(asprintf(&middle, "%s/20-middle.conf", dropin_dir) > 0);
        assert_string_equal(c->workers[1].where.file, middle);
        assert_int_equal(c->workers[1].where.line, 3);
        c = config_free(c);

        /* Ten more, created in a scrambled order: only a real sort (by strcmp) gives this
         * Environment= order, whatever order readdir() returns them in. */
        static const char *const names[] = {"55-e",   "50-d", "7-z",   "05-a",    "52-d2",
                                            "a-late", "40-c", "099-b", "Z-upper", "5-y"};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *name = NULL, *content = NULL;

                assert_true(asprintf(&name, "%s.conf", names[i]) > 0);
                assert_true(asprintf(&content, "[Worker queuer]\nEnvironment=ORDER=%s F%s=1\n", names[i],
                                     names[i] + strcspn(names[i], "-") + 1) > 0);
                write_file(dropin_dir, name, content);
        }
        assert_int_equal(config_load_with(main_path, &no_system_checks, &c, &err), 0);
        /* 05-a 099-b 10-first 20-middle 30-last 40-c 5-y 50-d 52-d2 55-e 7-z Z-upper a-late */
        static const char *const expected_env[] = {
                "A=1",  "ORDER=a-late", /* ORDER= replaced in place by each later file */
                "Fa=1", "Fb=1",         "B=2",  "C=3",  "Fc=1",     "Fy=1",
                "Fd=1", "Fd2=1",        "Fe=1", "Fz=1", "Fupper=1", "Flate=1",
        };
        char **e = c->workers[0].environment;
        assert_int_equal(strv_length(e), ELEMENTSOF(expected_env));
        for (size_t i = 0; i < ELEMENTSOF(expected_env); i++)
                assert_string_equal(e[i], expected_env[i]);
}

static void test_load_errors(void **state) {
        TempDir *t = *state;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *main_path = NULL, *dropin_dir = NULL, *err = NULL, *expected = NULL;

        assert_true(asprintf(&main_path, "%s/cgwatch.conf", t->path) > 0);
        assert_true(asprintf(&dropin_dir, "%s/cgwatch.conf.d", t->path) > 0);

        /* missing main file */
        assert_int_equal(config_load(main_path, &c, &err), -ENOENT);
        assert_null(c);
        assert_true(asprintf(&expected, "%s: cannot read configuration file: No such file or directory", main_path) >
                    0);
        assert_string_equal(err, expected);
        err = mfree_str(err);
        expected = mfree_str(expected);

        /* the main file is a directory */
        assert_int_equal(mkdir(main_path, 0755), 0);
        assert_int_equal(config_load(main_path, &c, &err), -EISDIR);
        assert_true(asprintf(&expected, "%s: cannot read configuration file: Is a directory", main_path) > 0);
        assert_string_equal(err, expected);
        err = mfree_str(err);
        expected = mfree_str(expected);
        assert_int_equal(rmdir(main_path), 0);

        /* an error in a drop-in names the drop-in */
        write_file(t->path, "cgwatch.conf", "[Worker a]\nExecStart=/bin/a\n");
        assert_int_equal(mkdir(dropin_dir, 0755), 0);
        write_file(dropin_dir, "50-bad.conf", "# a bad drop-in\n[Worker a]\nMemoryBudget=12Q\n");
        assert_int_equal(config_load(main_path, &c, &err), -EINVAL);
        assert_null(c);
        assert_true(asprintf(&expected, "%s/50-bad.conf:3: MemoryBudget: invalid size \"12Q\"", dropin_dir) > 0);
        assert_string_equal(err, expected);
        err = mfree_str(err);
        expected = mfree_str(expected);

        /* a validation error found after merging names the file that set the key */
        write_file(dropin_dir, "50-bad.conf", "[Worker a]\nSupervisor=ghost\n");
        assert_int_equal(config_load(main_path, &c, &err), -EINVAL);
        assert_true(asprintf(&expected, "%s/50-bad.conf:2: Supervisor: no such [Supervisor NAME] section: \"ghost\"",
                             dropin_dir) > 0);
        assert_string_equal(err, expected);
        err = mfree_str(err);
        expected = mfree_str(expected);

        /* a drop-in can also repair the main file: RecycleAt=600M is fine once MemoryLimit=1G */
        write_file(t->path, "cgwatch.conf", "[Dyno]\nMemoryLimit=512M\nRecycleAt=600M\n");
        write_file(dropin_dir, "50-bad.conf", "[Dyno]\nMemoryLimit=1G\n");
        assert_int_equal(config_load(main_path, &c, &err), 0);
        assert_int_equal(c->dyno.recycle_at.value, MB(600));
        assert_null(err);
        c = config_free(c);

        /* a budget checked against a limit set in a drop-in names the file of the budget */
        write_file(t->path, "cgwatch.conf", "[Worker a]\nExecStart=/bin/sh\nMemoryBudget=600M\n");
        write_file(dropin_dir, "50-bad.conf", "[Dyno]\nMemoryLimit=512M\n");
        assert_int_equal(config_load(main_path, &c, &err), -EINVAL);
        assert_true(asprintf(&expected, "%s:3: MemoryBudget: 600M is above MemoryLimit=512M", main_path) > 0);
        assert_string_equal(err, expected);
        err = mfree_str(err);
        expected = mfree_str(expected);

        /* config_load() checks against the system, after validation */
        write_file(t->path, "cgwatch.conf", "[Worker a]\nExecStart=/bin/sh -c true\nUser=root\n");
        write_file(dropin_dir, "50-bad.conf", "[Worker a]\nUser=cgwatch-no-such-user\n");
        assert_int_equal(config_load(main_path, &c, &err), -EINVAL);
        assert_true(asprintf(&expected, "%s/50-bad.conf:2: User: no such user \"cgwatch-no-such-user\"", dropin_dir) >
                    0);
        assert_string_equal(err, expected);
        err = mfree_str(err);
        expected = mfree_str(expected);

        _cleanup_free_ char *body = NULL;
        assert_true(asprintf(&body, "[Worker a]\nExecStart=%s/no-such-program --flag\n", t->path) > 0);
        write_file(dropin_dir, "50-bad.conf", body);
        assert_int_equal(config_load(main_path, &c, &err), -EINVAL);
        assert_true(asprintf(&expected, "%s/50-bad.conf:2: ExecStart: no such program \"%s/no-such-program\"",
                             dropin_dir, t->path) > 0);
        assert_string_equal(err, expected);
        err = mfree_str(err);
        expected = mfree_str(expected);

        free(body);
        assert_true(asprintf(&body, "[Worker a]\nWorkingDirectory=%s/no-such-dir\n", t->path) > 0);
        write_file(dropin_dir, "50-bad.conf", body);
        assert_int_equal(config_load(main_path, &c, &err), -EINVAL);
        assert_true(asprintf(&expected, "%s/50-bad.conf:2: WorkingDirectory: no such directory \"%s/no-such-dir\"",
                             dropin_dir, t->path) > 0);
        assert_string_equal(err, expected);
        err = mfree_str(err);
        expected = mfree_str(expected);

        free(body);
        assert_true(asprintf(&body, "[Worker a]\nGroup=root\nWorkingDirectory=%s\n", t->path) > 0);
        write_file(dropin_dir, "50-bad.conf", body);
        assert_int_equal(config_load(main_path, &c, &err), 0);
        assert_null(err);
        assert_string_equal(c->workers[0].group, "root");
}

/* What the refusal of an untrusted file (or drop-in directory) reads, for a daemon with our euid. */
static char *refusal_of(const char *path, bool directory, const char *why) {
        char as[32] = "root", *s;

        if (geteuid() != 0)
                (void) snprintf(as, sizeof(as), "uid %u", (unsigned) geteuid());
        assert_true(
                asprintf(&s,
                         directory
                                 ? "%s: refusing a drop-in directory %s: cgwatchd runs the ExecStart= commands of "
                                   "its files as %s"
                                 : "%s: refusing a configuration file %s: cgwatchd runs its ExecStart= commands as %s",
                         path, why, as) > 0);
        return s;
}

static char *refusal(const char *path, const char *why) {
        return refusal_of(path, /* directory= */ false, why);
}

static void assert_load_refused(const char *main_path, const char *expected) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        assert_int_equal(config_load_with(main_path, &no_system_checks, &c, &err), -EPERM);
        assert_null(c);
        if (!streq_ptr(err, expected))
                fail_msg("wrong error:\n  got      %s\n  expected %s", err ?: "(null)", expected);
}

static void assert_load_ok(const char *main_path) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        if (config_load_with(main_path, &no_system_checks, &c, &err) < 0)
                fail_msg("unexpected error: %s", err ?: "(null)");
        assert_int_equal(c->n_workers, 1);
}

/* Modes: others may never write; the group only if it is root's. */
static void test_load_trust_mode(void **state) {
        TempDir *t = *state;
        _cleanup_free_ char *main_path = NULL, *dropin_dir = NULL, *dropin = NULL, *link = NULL, *target = NULL,
                            *expected = NULL;

        bool root = geteuid() == 0;

        assert_true(asprintf(&main_path, "%s/cgwatch.conf", t->path) > 0);
        assert_true(asprintf(&dropin_dir, "%s/cgwatch.conf.d", t->path) > 0);
        assert_true(asprintf(&dropin, "%s/10-x.conf", dropin_dir) > 0);

        write_file_mode(t->path, "cgwatch.conf", "[Worker a]\nExecStart=/bin/a\n", 0666);
        expected = refusal(main_path, "writable by others (mode 0666)");
        assert_load_refused(main_path, expected);
        expected = mfree_str(expected);

        assert_int_equal(chmod(main_path, 0602), 0);
        expected = refusal(main_path, "writable by others (mode 0602)");
        assert_load_refused(main_path, expected);
        expected = mfree_str(expected);

        /* group-writable: fine for gid 0, refused for any other group */
        if (root) {
                assert_int_equal(chmod(main_path, 0664), 0);
                assert_int_equal(chown(main_path, 0, 0), 0);
                assert_load_ok(main_path);
                assert_int_equal(chown(main_path, 0, 65534), 0);
                expected = refusal(main_path, "writable by group 65534 (mode 0664)");
                assert_load_refused(main_path, expected);
                expected = mfree_str(expected);
                /* a group that may only read is harmless */
                assert_int_equal(chmod(main_path, 0640), 0);
                assert_load_ok(main_path);
        } else
                print_message("group-writable cases skipped: chown() to gid 0 and 65534 needs root\n");
        /* setuid/sticky bits are shown, and do not matter otherwise */
        assert_int_equal(chmod(main_path, 01646), 0);
        expected = refusal(main_path, "writable by others (mode 1646)");
        assert_load_refused(main_path, expected);
        expected = mfree_str(expected);
        assert_int_equal(chmod(main_path, 0400), 0);
        assert_load_ok(main_path);

        /* a drop-in, checked the same way */
        assert_int_equal(mkdir(dropin_dir, 0755), 0);
        write_file_mode(dropin_dir, "10-x.conf", "[Worker a]\nMemoryBudget=1M\n", 0646);
        expected = refusal(dropin, "writable by others (mode 0646)");
        assert_load_refused(main_path, expected);
        expected = mfree_str(expected);
        assert_int_equal(chmod(dropin, 0644), 0);
        assert_load_ok(main_path);
        /* a file that is not a drop-in (no .conf) is not read, so not checked either */
        write_file_mode(dropin_dir, "README", "anything\n", 0666);
        assert_load_ok(main_path);

        /* the drop-in directory: whoever may write it may add and remove drop-ins */
        assert_int_equal(chmod(dropin_dir, 0777), 0);
        expected = refusal_of(dropin_dir, /* directory= */ true, "writable by others (mode 0777)");
        assert_load_refused(main_path, expected);
        expected = mfree_str(expected);
        assert_int_equal(chmod(dropin_dir, 01777), 0); /* sticky like /tmp: still anyone can add files */
        expected = refusal_of(dropin_dir, /* directory= */ true, "writable by others (mode 1777)");
        assert_load_refused(main_path, expected);
        expected = mfree_str(expected);
        assert_int_equal(chmod(dropin_dir, 0755), 0);

        /* a symlink is judged by what it points to (fstat() on the opened file) */
        assert_true(asprintf(&target, "%s/target.conf", t->path) > 0);
        assert_true(asprintf(&link, "%s/20-link.conf", dropin_dir) > 0);
        write_file_mode(t->path, "target.conf", "[Worker a]\nMemoryBudget=2M\n", 0666);
        assert_int_equal(symlink(target, link), 0);
        expected = refusal(link, "writable by others (mode 0666)");
        assert_load_refused(main_path, expected);
        expected = mfree_str(expected);
        assert_int_equal(chmod(target, 0644), 0);
        assert_load_ok(main_path);
}

/* Owners: root, or the daemon's own euid. Needs root to chown, and to become another user. */
static void test_load_trust_owner(void **state) {
        TempDir *t = *state;
        _cleanup_free_ char *main_path = NULL, *dropin_dir = NULL, *dropin = NULL, *expected = NULL;
        pid_t pid;
        int status;

        if (geteuid() != 0) {
                print_message("skipped: chown() to other users and setresuid() need root\n");
                skip();
        }

        assert_true(asprintf(&main_path, "%s/cgwatch.conf", t->path) > 0);
        assert_true(asprintf(&dropin_dir, "%s/cgwatch.conf.d", t->path) > 0);
        assert_true(asprintf(&dropin, "%s/10-x.conf", dropin_dir) > 0);

        write_file(t->path, "cgwatch.conf", "[Worker a]\nExecStart=/bin/a\n");
        assert_int_equal(chown(main_path, 65534, 0), 0);
        expected = refusal(main_path, "owned by uid 65534 (neither root nor cgwatchd's uid 0)");
        assert_load_refused(main_path, expected);
        expected = mfree_str(expected);
        assert_int_equal(chown(main_path, 0, 0), 0);

        assert_int_equal(mkdir(dropin_dir, 0755), 0);
        write_file(dropin_dir, "10-x.conf", "[Worker a]\nMemoryBudget=1M\n");
        assert_int_equal(chown(dropin, 1000, 1000), 0);
        expected = refusal(dropin, "owned by uid 1000 (neither root nor cgwatchd's uid 0)");
        assert_load_refused(main_path, expected);
        expected = mfree_str(expected);
        assert_int_equal(chown(dropin, 0, 0), 0);

        assert_int_equal(chown(dropin_dir, 65534, 65534), 0);
        expected =
                refusal_of(dropin_dir, /* directory= */ true, "owned by uid 65534 (neither root nor cgwatchd's uid 0)");
        assert_load_refused(main_path, expected);
        expected = mfree_str(expected);
        assert_int_equal(chown(dropin_dir, 0, 0), 0);
        assert_load_ok(main_path);

        /* A daemon running as uid 65534 trusts root's files and its own, and nobody else's. */
        assert_int_equal(chmod(t->path, 0755), 0);
        assert_int_equal(chown(dropin, 65534, 65534), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL;

                if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        _exit(2);
                if (config_load_with(main_path, &no_system_checks, &c, &err) < 0) {
                        fprintf(stderr, "as uid 65534, unexpected error: %s\n", err);
                        _exit(1);
                }
                c = config_free(c);
                if (chmod(dropin, 0644) < 0) /* our own file; root's main file stays as it is */
                        _exit(2);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        assert_int_equal(chown(dropin, 1000, 1000), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL, *want = NULL;

                if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        _exit(2);
                if (asprintf(&want,
                             "%s: refusing a configuration file owned by uid 1000 (neither root nor cgwatchd's uid "
                             "65534): cgwatchd runs its ExecStart= commands as uid 65534",
                             dropin) < 0)
                        _exit(2);
                if (config_load_with(main_path, &no_system_checks, &c, &err) != -EPERM || !streq_ptr(err, want)) {
                        fprintf(stderr, "as uid 65534:\n  got      %s\n  expected %s\n", err ?: "(null)", want);
                        _exit(1);
                }
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- [AMQP] secrets: where the password comes from, and that it is never printed ---- */

static void assert_redacted(const char *url, const char *expected) {
        _cleanup_free_ char *r = config_amqp_url_redact(url);

        assert_non_null(r);
        assert_string_equal(r, expected);
}

static void test_amqp_secrets(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok("[AMQP]\n"
                                                     "URL=amqp://cg:s3cret@mq.example:5672/%2f\n"
                                                     "Host=web1.example.com\n"
                                                     "Credential=amqp-password\n"
                                                     "PasswordFile=/etc/cgwatch/amqp.pw\n");
        _cleanup_(config_freep) Config *c2 = parse_ok("[AMQP]\nPasswordFile=/x\nCredential=pw\nOutboxSize=64\n");
        _cleanup_(config_freep) Config *c3 = parse_ok("[AMQP]\nCredential=pw\nHost=h\nCredential=\nHost=\n");
        _cleanup_free_ char *out = NULL, *out2 = NULL;

        assert_string_equal(c->amqp.host, "web1.example.com");
        /* One source: the later of PasswordFile= and Credential= wins. */
        assert_string_equal(c->amqp.password_file, "/etc/cgwatch/amqp.pw");
        assert_null(c->amqp.credential);
        assert_null(c2->amqp.password_file);
        assert_string_equal(c2->amqp.credential, "pw");
        assert_null(c3->amqp.credential);
        assert_null(c3->amqp.host);

        out = dump(c, SIZE_UNSET);
        assert_contains(out, "amqp: amqp://cg:***@mq.example:5672/%2f exchange cgwatch, host web1.example.com, "
                             "samples every 10s, outbox 4096, password from file /etc/cgwatch/amqp.pw\n");
        assert_null(strstr(out, "s3cret"));
        out2 = dump(c2, SIZE_UNSET);
        assert_contains(out2, "amqp: amqp://guest:***@127.0.0.1:5672/ exchange cgwatch, host (hostname), samples "
                              "every 10s, outbox 64, password from credential pw\n");

        assert_redacted("amqp://u:p@h/", "amqp://u:***@h/");
        assert_redacted("amqps://u@h:5671/v", "amqps://u@h:5671/v");
        assert_redacted("amqp://h/", "amqp://h/");
        assert_redacted("amqp://h:5672/", "amqp://h:5672/");
        /* Unencoded '/' and '@' in the password: all of it goes. */
        assert_redacted("amqp://u:pa/ss@w@rd@h/v", "amqp://u:***@h/v");
        assert_redacted("amqp://u:@h/", "amqp://u:***@h/");
        assert_null(config_amqp_url_redact(NULL));

        /* An invalid URL is quoted in the error, without its password. */
        assert_error("[AMQP]\nURL=http://u:s3cret@h/\n",
                     "test.conf:2: URL: invalid AMQP URL \"http://u:***@h/\" (expected amqp://... or amqps://...)");
        assert_error("[AMQP]\nPasswordFile=amqp.pw\n",
                     "test.conf:2: PasswordFile: invalid path \"amqp.pw\" (must be absolute)");
        assert_error("[AMQP]\nCredential=a/b\n",
                     "test.conf:2: Credential: invalid credential name \"a/b\" (a file name under "
                     "$CREDENTIALS_DIRECTORY)");
        assert_error("[AMQP]\nCredential=..\n",
                     "test.conf:2: Credential: invalid credential name \"..\" (a file name under "
                     "$CREDENTIALS_DIRECTORY)");
        assert_error("[AMQP]\nHost=a\x01"
                     "b\n",
                     "test.conf:2: Host: invalid host name \"a\\x01b\" (at most 253 characters, no control "
                     "characters)");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_every_key),
                cmocka_unit_test(test_sample_interval),
                cmocka_unit_test(test_architecture_example),
                cmocka_unit_test(test_comments),
                cmocka_unit_test(test_continuation),
                cmocka_unit_test(test_crlf_bom_whitespace),
                cmocka_unit_test(test_long_lines),
                cmocka_unit_test(test_merge_and_override),
                cmocka_unit_test(test_environment),
                cmocka_unit_test(test_empty_resets),
                cmocka_unit_test(test_empty_and_amqp),
                cmocka_unit_test(test_strategies_and_policies),
                cmocka_unit_test(test_size_resolve),
                cmocka_unit_test(test_dump),
                cmocka_unit_test(test_syntax_errors),
                cmocka_unit_test(test_section_errors),
                cmocka_unit_test(test_unknown_keys),
                cmocka_unit_test(test_value_errors),
                cmocka_unit_test(test_validation_errors),
                cmocka_unit_test(test_validate_programmatic),
                cmocka_unit_test(test_hostile),
                cmocka_unit_test(test_line_numbers),
                cmocka_unit_test(test_budget_limits),
                cmocka_unit_test(test_supervisor_nesting),
                cmocka_unit_test(test_check_system),
                cmocka_unit_test(test_check_system_default),
                cmocka_unit_test_setup_teardown(test_load_dropins, setup_tmp, teardown_tmp),
                cmocka_unit_test_setup_teardown(test_load_errors, setup_tmp, teardown_tmp),
                cmocka_unit_test_setup_teardown(test_load_trust_mode, setup_tmp, teardown_tmp),
                cmocka_unit_test_setup_teardown(test_load_trust_owner, setup_tmp, teardown_tmp),
                cmocka_unit_test(test_amqp_secrets),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
