/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The journal sink's entries, exactly: message text, MESSAGE_ID and CGWATCH_* fields; and every
 * MESSAGE_ID is distinct and explained in the catalog (path in $CGWATCH_CATALOG). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>

#include <cmocka.h>

#include "cgwatch/cgwatch.h"
#include "sink-journal.h"

#define MiB (1024ULL * 1024ULL)

static bool has_field(const JournalRecord *r, const char *f) {
        for (size_t i = 0; i < r->n_fields; i++)
                if (strcmp(r->fields[i], f) == 0)
                        return true;
        return false;
}

static Event worker_event(EventType t) {
        Event e = EVENT_INIT(t);
        e.worker = "queuer@2";
        e.supervisor = "dam";
        e.cgroup = "cgwatch.service/dyno/dam/queuer@2";
        e.pid = 4242;
        e.incarnation = 3;
        e.budget_bytes = 64 * MiB;
        e.dyno_limit_bytes = 512 * MiB;
        e.dyno_current_bytes = 200 * MiB;
        return e;
}

static void test_recycled(void **state) {
        Event e = worker_event(EVENT_RECYCLED);
        JournalRecord r;

        e.reason = RECYCLE_BUDGET;
        e.memory_bytes = 63 * MiB;
        e.memory_current_bytes = 64 * MiB;
        e.detect_usec = 1000;
        e.monotonic_usec = 3500;
        e.drain_high = 80 * MiB;
        assert_int_equal(journal_record_format(&e, &r), 0);
        assert_int_equal(r.priority, LOG_NOTICE);
        assert_string_equal(r.message_id, CGWATCH_MESSAGE_RECYCLE_STR);
        assert_string_equal(r.message, "Recycling worker queuer@2 (pid 4242): reason=budget memory=66060288 "
                                       "current=67108864 budget=67108864 dyno=209715200/536870912 latency_usec=2500 "
                                       "drain_high=83886080");
        assert_true(has_field(&r, "CGWATCH_EVENT=recycled"));
        assert_true(has_field(&r, "CGWATCH_WORKER=queuer@2"));
        assert_true(has_field(&r, "CGWATCH_SUPERVISOR=dam"));
        assert_true(has_field(&r, "CGWATCH_PID=4242"));
        assert_true(has_field(&r, "CGWATCH_INCARNATION=3"));
        assert_true(has_field(&r, "CGWATCH_REASON=budget"));
        assert_true(has_field(&r, "CGWATCH_MEMORY_BYTES=66060288"));
        assert_true(has_field(&r, "CGWATCH_BUDGET_BYTES=67108864"));
        assert_true(has_field(&r, "CGWATCH_DYNO_BYTES=209715200"));
        assert_true(has_field(&r, "CGWATCH_LATENCY_USEC=2500"));
        assert_true(has_field(&r, "CGWATCH_DRAIN_HIGH_BYTES=83886080"));
}

static void test_started_exited(void **state) {
        Event e = worker_event(EVENT_STARTED);
        JournalRecord r;

        e.memory_high = 62 * MiB; /* the tripwire */
        assert_int_equal(journal_record_format(&e, &r), 0);
        assert_string_equal(r.message,
                            "Worker queuer@2 started as pid 4242 in cgwatch.service/dyno/dam/queuer@2 (budget=67108864 "
                            "memory.high=65011712).");
        assert_string_equal(r.message_id, CGWATCH_MESSAGE_STARTED_STR);
        assert_true(has_field(&r, "CGWATCH_CGROUP=cgwatch.service/dyno/dam/queuer@2"));
        assert_true(has_field(&r, "CGWATCH_MEMORY_HIGH_BYTES=65011712"));

        e = worker_event(EVENT_EXITED);
        e.exit_code = CLD_KILLED;
        e.exit_status = 9;
        assert_int_equal(journal_record_format(&e, &r), 0);
        assert_int_equal(r.priority, LOG_WARNING); /* unplanned */
        assert_string_equal(r.message, "Worker queuer@2 (pid 4242) killed by signal KILL.");
        assert_true(has_field(&r, "CGWATCH_EXIT_CODE=killed"));
        assert_true(has_field(&r, "CGWATCH_EXIT_STATUS=9"));

        e.planned = e.replaced = true;
        e.exit_code = CLD_EXITED;
        e.exit_status = 0;
        assert_int_equal(journal_record_format(&e, &r), 0);
        assert_int_equal(r.priority, LOG_INFO);
        assert_string_equal(r.message, "Worker queuer@2: the replaced incarnation (pid 4242) exited with status 0.");
}

static void test_group_and_budget(void **state) {
        Event e = EVENT_INIT(EVENT_GAVE_UP);
        JournalRecord r;

        e.max_restarts = 3;
        e.restart_window_usec = 60 * USEC_PER_SEC;
        assert_int_equal(journal_record_format(&e, &r), 0);
        assert_string_equal(r.message, "Dyno: more than 3 restarts within 60 s, giving up: stopping every worker, "
                                       "then cgwatchd exits with status 3.");
        assert_true(has_field(&r, "CGWATCH_SUPERVISOR=dyno"));
        assert_true(has_field(&r, "CGWATCH_MAX_RESTARTS=3"));
        assert_false(has_field(&r, "CGWATCH_ESCALATED_TO=dyno"));
        e.supervisor = "dam";
        assert_int_equal(journal_record_format(&e, &r), 0);
        assert_string_equal(
                r.message,
                "Supervisor dam: more than 3 restarts within 60 s, giving up; the failure escalates to the dyno.");
        assert_true(has_field(&r, "CGWATCH_ESCALATED_TO=dyno"));
        e.supervisor = "inner";
        e.escalated_to = "dam";
        assert_int_equal(journal_record_format(&e, &r), 0);
        assert_string_equal(r.message, "Supervisor inner: more than 3 restarts within 60 s, giving up; the failure "
                                       "escalates to supervisor dam.");
        assert_true(has_field(&r, "CGWATCH_ESCALATED_TO=dam"));

        e = worker_event(EVENT_BUDGET_CHANGED);
        e.old_budget_bytes = UINT64_MAX;
        assert_int_equal(journal_record_format(&e, &r), 0);
        assert_string_equal(r.message, "Worker queuer@2: MemoryBudget now 67108864 bytes (was max).");
        assert_true(has_field(&r, "CGWATCH_OLD_BUDGET_BYTES=max"));

        e = worker_event(EVENT_STOP_TIMEOUT);
        e.timeout_usec = 2 * USEC_PER_SEC;
        assert_int_equal(journal_record_format(&e, &r), 0);
        assert_string_equal(
                r.message,
                "Worker queuer@2 (pid 4242) did not exit within 2000 ms of its stop signal, killing its cgroup.");

        e = worker_event(EVENT_START_FAILED);
        e.error = -EMFILE;
        e.daemon_fault = true;
        assert_int_equal(journal_record_format(&e, &r), 0);
        assert_string_equal(r.message, "Worker queuer@2: failed to start: Too many open files (the daemon's own "
                                       "failure: retried, not counted against the worker).");
}

/* Every event type has its own MESSAGE_ID, every one is in the catalog, and every worker message
 * carries CGWATCH_WORKER. */
static void test_ids_distinct_and_in_catalog(void **state) {
        const char *path = getenv("CGWATCH_CATALOG");
        static char catalog[65536];
        const char *ids[_EVENT_TYPE_MAX];

        assert_non_null(path);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        size_t n = fread(catalog, 1, sizeof catalog - 1, f);
        catalog[n] = 0;
        fclose(f);

        for (int t = 0; t < _EVENT_TYPE_MAX; t++) {
                Event e = worker_event((EventType) t);
                JournalRecord r;
                char header[64];

                assert_int_equal(journal_record_format(&e, &r), 0);
                assert_non_null(r.message_id);
                assert_int_equal(strlen(r.message_id), 32);
                ids[t] = r.message_id;
                for (int u = 0; u < t; u++)
                        assert_string_not_equal(ids[u], ids[t]);
                snprintf(header, sizeof header, "-- %s\n", r.message_id);
                if (!strstr(catalog, header))
                        fail_msg("MESSAGE_ID %s (%s) is not in %s", r.message_id, event_type_to_string(e.type), path);
                assert_true(has_field(&r, "CGWATCH_WORKER=queuer@2"));
        }
        Event bad = EVENT_INIT(_EVENT_TYPE_MAX);
        JournalRecord r;
        assert_int_equal(journal_record_format(&bad, &r), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_recycled),
                cmocka_unit_test(test_started_exited),
                cmocka_unit_test(test_group_and_budget),
                cmocka_unit_test(test_ids_distinct_and_in_catalog),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
