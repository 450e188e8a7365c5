/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The state file a restarted daemon resumes from: every field round-trips exactly; anything that
 * is not a complete state file of this version is refused with the one right error, so that the
 * daemon stops what it cannot vouch for instead of adopting it. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state.h"

static usec_t tally[] = {1, 2000000, UINT64_MAX - 1};

static DynoState sample(WorkerRecord *w, GroupRecord *g) {
        w[0] = (WorkerRecord){
                .name = (char *) "queuer@2",
                .cgroup_path = (char *) "cgw/dyno/dam/queuer@2~3",
                .state = 3,
                .intent = 1,
                .pid = 4194303,
                .incarnation = 7,
                .restarts = 2,
                .recycles = 5,
                .consecutive_failures = 1,
                .generation = 3,
                .lifetimes = 6,
                .recycle_reason = 4,
                .last_recycle_reason = 4,
                .budget_bytes = UINT64_MAX,
                .growth_bytes_per_sec = 123456789,
                .drain_usec = 1500000,
                .stop_usec = 987654321012,
                .started_usec = 987000000000,
                .started_realtime_usec = 1764680000000000,
                .timer_usec = 997654321012,
                .drain_lifted = true,
                .lives = {.rate = {-4096, 0, 20971520, INT64_MAX}, .n = 4},
                .leaking = true,
                .leak_rate = 20971520,
        };
        w[1] = (WorkerRecord){.name = (char *) "http", .cgroup_path = (char *) "cgw/dyno/http"};
        g[0] = (GroupRecord){.name = NULL, .failed = false};
        g[1] = (GroupRecord){.name = (char *) "dam", .failed = true, .tally = tally, .n_tally = 3};
        return (DynoState){
                .version = STATE_VERSION,
                .boot_id = (char *) "0e3b6a5c-1f43-4c7e-9d0a-3b3c2f7a9e11",
                .brake_released = true,
                .shutting_down = false,
                .workers = w,
                .n_workers = 2,
                .groups = g,
                .n_groups = 2,
        };
}

static void test_round_trip(void **state) {
        WorkerRecord w[2];
        GroupRecord g[2];
        DynoState s = sample(w, g), p = {};
        char *text = NULL;

        assert_int_equal(dyno_state_format(&s, &text), 0);
        assert_int_equal(dyno_state_parse(text, strlen(text), &p), 0);
        assert_int_equal(p.version, STATE_VERSION);
        assert_string_equal(p.boot_id, s.boot_id);
        assert_true(p.brake_released);
        assert_false(p.shutting_down);
        assert_int_equal(p.n_workers, 2);
        const WorkerRecord *a = dyno_state_find_worker(&p, "queuer@2");
        assert_non_null(a);
        assert_string_equal(a->cgroup_path, w[0].cgroup_path);
        assert_int_equal(a->state, 3);
        assert_int_equal(a->intent, 1);
        assert_int_equal(a->pid, 4194303);
        assert_int_equal(a->incarnation, 7);
        assert_int_equal(a->restarts, 2);
        assert_int_equal(a->recycles, 5);
        assert_int_equal(a->consecutive_failures, 1);
        assert_int_equal(a->generation, 3);
        assert_int_equal(a->lifetimes, 6);
        assert_int_equal(a->recycle_reason, 4);
        assert_int_equal(a->last_recycle_reason, 4);
        assert_true(a->budget_bytes == UINT64_MAX);
        assert_int_equal(a->growth_bytes_per_sec, 123456789);
        assert_int_equal(a->drain_usec, 1500000);
        assert_true(a->stop_usec == 987654321012ULL);
        assert_true(a->started_usec == 987000000000ULL);
        assert_true(a->started_realtime_usec == 1764680000000000ULL);
        assert_true(a->timer_usec == 997654321012ULL);
        assert_true(a->drain_lifted);
        assert_int_equal(a->lives.n, 4);
        assert_true(a->lives.rate[0] == -4096);
        assert_true(a->lives.rate[1] == 0);
        assert_true(a->lives.rate[2] == 20971520);
        assert_true(a->lives.rate[3] == INT64_MAX);
        assert_true(a->leaking);
        assert_true(a->leak_rate == 20971520);
        const WorkerRecord *h = dyno_state_find_worker(&p, "http");
        assert_non_null(h);
        assert_int_equal(h->lives.n, 0);
        assert_false(h->leaking);
        assert_null(dyno_state_find_worker(&p, "nope"));
        const GroupRecord *dyno = dyno_state_find_group(&p, NULL), *dam = dyno_state_find_group(&p, "dam");
        assert_non_null(dyno);
        assert_null(dyno->name);
        assert_int_equal(dyno->n_tally, 0);
        assert_non_null(dam);
        assert_true(dam->failed);
        assert_int_equal(dam->n_tally, 3);
        assert_true(dam->tally[2] == UINT64_MAX - 1);
        dyno_state_done(&p);
        free(text);
}

/* Each of these must be refused with exactly this error. */
static void test_refused(void **state) {
        static const struct {
                const char *text;
                int error;
        } cases[] = {
                {"", -EBADMSG},
                {"{", -EBADMSG},
                {"{\"version\": 1, \"workers\": [", -EBADMSG}, /* truncated mid-write */
                {"[]", -EBADMSG},
                {"null", -EBADMSG},
                {"{\"version\": 2, \"workers\": [], \"groups\": [], \"boot_id\": null, \"brake_released\": false, "
                 "\"shutting_down\": false}",
                 -EPROTO},
                {"{\"version\": \"1\"}", -EBADMSG},
                {"{\"version\": 1, \"groups\": [], \"boot_id\": null, \"brake_released\": false, \"shutting_down\": "
                 "false}",
                 -EBADMSG}, /* no workers */
                {"{\"version\": 1, \"workers\": [{\"name\": \"x\"}], \"groups\": [], \"boot_id\": null, "
                 "\"brake_released\": false, \"shutting_down\": false}",
                 -EBADMSG}, /* a worker without its fields */
                {"{\"version\": 1, \"workers\": [], \"groups\": [], \"boot_id\": null, \"brake_released\": false, "
                 "\"shutting_down\": false} trailing",
                 -EBADMSG},
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                DynoState p = {.version = 42};
                assert_int_equal(dyno_state_parse(cases[i].text, strlen(cases[i].text), &p), cases[i].error);
                assert_int_equal(p.version, 42); /* untouched */
        }
}

/* A file written before the leak record existed reads as no lives yet; a leak record of the wrong
 * shape is not trusted. */
static void test_lives(void **state) {
        WorkerRecord w[2];
        GroupRecord g[2];
        DynoState s = sample(w, g), p = {};
        char *text = NULL, *edited;
        static const struct {
                const char *from, *to;
                int error;
        } cases[] = {
                {"\"lives\":[-4096,0,20971520,9223372036854775807],\"leaking\":true,\"leak_rate\":20971520,", "", 0},
                {"\"lives\":[-4096,0,", "\"lives\":[\"x\",0,", -EBADMSG},
                {"\"lives\":[-4096,0,", "\"lives\":[1,2,3,4,5,6,-4096,0,", -EBADMSG}, /* 10 > GROWTH_LIVES_MAX */
                {"\"lives\":[-4096,0,20971520,9223372036854775807]", "\"lives\":7", -EBADMSG},
                {"\"leaking\":true", "\"leaking\":1", -EBADMSG},
                {"\"leak_rate\":20971520,", "\"leak_rate\":\"fast\",", -EBADMSG},
        };

        assert_int_equal(dyno_state_format(&s, &text), 0);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                char *at = strstr(text, cases[i].from);
                assert_non_null(at);
                size_t fl = strlen(cases[i].from), tl = strlen(cases[i].to), l = strlen(text);
                edited = malloc(l - fl + tl + 1);
                assert_non_null(edited);
                memcpy(edited, text, (size_t) (at - text));
                memcpy(edited + (at - text), cases[i].to, tl);
                strcpy(edited + (at - text) + tl, at + fl);
                assert_int_equal(dyno_state_parse(edited, strlen(edited), &p), cases[i].error);
                if (cases[i].error == 0) {
                        const WorkerRecord *a = dyno_state_find_worker(&p, "queuer@2");
                        assert_non_null(a);
                        assert_int_equal(a->lives.n, 0);
                        assert_false(a->leaking);
                        assert_true(a->leak_rate == 0);
                        assert_int_equal(a->lifetimes, 6);
                        dyno_state_done(&p);
                }
                free(edited);
        }
        free(text);
}

/* Every truncation of a valid file is refused: a reader never takes half a file for a whole. */
static void test_every_truncation(void **state) {
        WorkerRecord w[2];
        GroupRecord g[2];
        DynoState s = sample(w, g), p = {};
        char *text = NULL;

        assert_int_equal(dyno_state_format(&s, &text), 0);
        for (size_t l = 0; l < strlen(text); l++)
                assert_int_equal(dyno_state_parse(text, l, &p), -EBADMSG);
        free(text);
}

static void test_a_negative_pid_is_refused(void **state) {
        WorkerRecord w[2];
        GroupRecord g[2];
        DynoState s = sample(w, g), p = {};
        char *text = NULL, *at;

        assert_int_equal(dyno_state_format(&s, &text), 0);
        at = strstr(text, "\"pid\":4194303");
        assert_non_null(at);
        memcpy(at, "\"pid\":-194303", 13);
        assert_int_equal(dyno_state_parse(text, strlen(text), &p), -EBADMSG);
        free(text);
}

static void test_write_read(void **state) {
        char dir[] = "/tmp/test-state.XXXXXX";
        WorkerRecord w[2];
        GroupRecord g[2];
        DynoState s = sample(w, g), p = {};
        char *text = NULL;
        int fd;

        assert_non_null(mkdtemp(dir));
        fd = open(dir, O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(dyno_state_read_at(fd, &p), -ENOENT);
        assert_int_equal(dyno_state_format(&s, &text), 0);
        assert_int_equal(dyno_state_write_at(fd, text), 0);
        assert_int_equal(faccessat(fd, STATE_FILE ".tmp", F_OK, 0), -1); /* renamed, not left */
        assert_int_equal(dyno_state_read_at(fd, &p), 0);
        assert_int_equal(p.n_workers, 2);
        dyno_state_done(&p);
        assert_int_equal(dyno_state_write_at(fd, "garbage"), 0);
        assert_int_equal(dyno_state_read_at(fd, &p), -EBADMSG);
        assert_int_equal(unlinkat(fd, STATE_FILE, 0), 0);
        close(fd);
        assert_int_equal(rmdir(dir), 0);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_refused),
                cmocka_unit_test(test_every_truncation), cmocka_unit_test(test_a_negative_pid_is_refused),
                cmocka_unit_test(test_write_read),       cmocka_unit_test(test_lives),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
