/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Events as CloudEvents JSON: every body is parsed back with json-c (in strict mode, validating
 * UTF-8) and checked field by field; one body is pinned byte for byte; times, routing keys and
 * hostile names are checked against their exact expected text. */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "event-json.h"

#define T_2026 (1796173323ULL * USEC_PER_SEC + 456789) /* 2026-12-02T01:02:03.456789Z */

static const EventJsonContext ctx = {
        .host = "web1",
        .dyno = "seed",
        .instance = "0123456789abcdef0123456789abcdef",
        .sequence = 42,
};

/* Parses body strictly (RFC 8259, valid UTF-8 only) and returns the object. */
static json_object *parse(const char *body) {
        json_tokener *tok = json_tokener_new();
        json_object *o;

        assert_non_null(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, body, (int) strlen(body) + 1);
        if (!o || json_tokener_get_error(tok) != json_tokener_success)
                fail_msg("not strict JSON (%s): %s", json_tokener_error_desc(json_tokener_get_error(tok)), body);
        json_tokener_free(tok);
        assert_true(json_object_is_type(o, json_type_object));
        return o;
}

static json_object *field(json_object *o, const char *path) {
        char buf[128], *save = NULL;
        json_object *v = o;

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
                if (!json_object_object_get_ex(v, k, &v))
                        fail_msg("no field %s", path);
        return v;
}

static void assert_str(json_object *o, const char *path, const char *expected) {
        json_object *v = field(o, path);

        if (!json_object_is_type(v, json_type_string))
                fail_msg("%s is not a string: %s", path, json_object_to_json_string(v));
        if (!streq(json_object_get_string(v), expected))
                fail_msg("%s = \"%s\", expected \"%s\"", path, json_object_get_string(v), expected);
}

static void assert_u64(json_object *o, const char *path, uint64_t expected) {
        json_object *v = field(o, path);

        if (!json_object_is_type(v, json_type_int))
                fail_msg("%s is not a number: %s", path, json_object_to_json_string(v));
        if (json_object_get_uint64(v) != expected)
                fail_msg("%s = %ju, expected %ju", path, (uintmax_t) json_object_get_uint64(v), (uintmax_t) expected);
}

static void assert_i64(json_object *o, const char *path, int64_t expected) {
        json_object *v = field(o, path);

        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != expected)
                fail_msg("%s = %s, expected %jd", path, json_object_to_json_string(v), (intmax_t) expected);
}

static void assert_bool(json_object *o, const char *path, bool expected) {
        json_object *v = field(o, path);

        if (!json_object_is_type(v, json_type_boolean) || json_object_get_boolean(v) != expected)
                fail_msg("%s = %s, expected %s", path, json_object_to_json_string(v), expected ? "true" : "false");
}

static void assert_json_null(json_object *o, const char *path) {
        json_object *v = field(o, path);

        if (v)
                fail_msg("%s = %s, expected null", path, json_object_to_json_string(v));
}

static void assert_absent(json_object *o, const char *path) {
        json_object *v;

        if (json_object_object_get_ex(o, path, &v))
                fail_msg("%s present: %s", path, json_object_to_json_string(v));
}

static void test_event_type_names(void **state) {
        static const char *const names[_EVENT_TYPE_MAX] = {
                "started",       "ready",  "recycled", "exited",         "stop-timeout", "oom-kill",
                "state-changed", "failed", "gave-up",  "budget-changed", "start-failed", "leak-verdict",
        };

        for (EventType t = 0; t < _EVENT_TYPE_MAX; t++)
                assert_string_equal(event_type_to_string(t), names[t]);
        assert_null(event_type_to_string(_EVENT_TYPE_MAX));
        assert_null(event_type_to_string((EventType) -1));
}

static void assert_time(usec_t t, const char *expected) {
        char buf[EVENT_JSON_RFC3339_MAX];

        assert_int_equal(event_json_format_time(t, buf, sizeof(buf)), 0);
        assert_string_equal(buf, expected);
}

static void test_time(void **state) {
        char small[EVENT_JSON_RFC3339_MAX - 1];

        assert_time(T_2026, "2026-12-02T01:02:03.456789Z");
        assert_time(0, "1970-01-01T00:00:00.000000Z");
        assert_time(1, "1970-01-01T00:00:00.000001Z");
        assert_time(1709251199ULL * USEC_PER_SEC + 999999, "2024-02-29T23:59:59.999999Z");
        assert_time(253402300799ULL * USEC_PER_SEC + 999999, "9999-12-31T23:59:59.999999Z");
        assert_int_equal(event_json_format_time(253402300800ULL * USEC_PER_SEC, small, sizeof(small)), -ERANGE);
        assert_int_equal(event_json_format_time(UINT64_MAX, small, sizeof(small)), -ERANGE);
        assert_int_equal(event_json_format_time(T_2026, small, sizeof(small)), -ERANGE);
        assert_int_equal(EVENT_JSON_RFC3339_MAX, 28);
}

static void assert_key(const char *host, const char *dyno, const char *subject, const char *event,
                       const char *expected) {
        _cleanup_free_ char *key = NULL;

        assert_int_equal(event_json_routing_key(host, dyno, subject, event, &key), 0);
        assert_string_equal(key, expected);
        assert_true(strlen(key) <= EVENT_JSON_ROUTING_KEY_MAX);
}

static void test_routing_key(void **state) {
        char huge[300], word[EVENT_JSON_WORD_MAX + 1], expected[400];

        assert_key("web1", "seed", "queuer@2", "recycled", "cgwatch.web1.seed.queuer@2.recycled");
        assert_key("a.b", "seed", "q.x", "exited", "cgwatch.a_b.seed.q_x.exited");
        assert_key("web1.example.com", "seed", "pusher", "sample", "cgwatch.web1_example_com.seed.pusher.sample");
        assert_key("h*", "d#", "w x", "ready", "cgwatch.h_.d_.w_x.ready");
        assert_key("h\xc3\xa9", "d\n", "w-1_2:3", "started", "cgwatch.h__.d_.w-1_2:3.started");
        assert_key("", "seed", NULL, "gave-up", "cgwatch._.seed.@dyno.gave-up");

        memset(huge, 'h', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = 0;
        memset(word, 'h', EVENT_JSON_WORD_MAX);
        word[EVENT_JSON_WORD_MAX] = 0;
        snprintf(expected, sizeof(expected), "cgwatch.%s.%s.%s.%.20s", word, word, word, huge);
        assert_key(huge, huge, huge, huge, expected);
        assert_int_equal(strlen(expected), 220);

        event_json_escape_word(NULL, word);
        assert_string_equal(word, "_");
}

static void test_event_routing_key(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        Event e = EVENT_INIT(EVENT_RECYCLED);

        e.worker = "queuer@2";
        e.supervisor = "dam";
        assert_int_equal(event_json_event_routing_key(&e, "web1", "seed", &a), 0);
        assert_string_equal(a, "cgwatch.web1.seed.queuer@2.recycled");

        e = EVENT_INIT(EVENT_GAVE_UP);
        e.supervisor = "dam";
        assert_int_equal(event_json_event_routing_key(&e, "web1", "seed", &b), 0);
        assert_string_equal(b, "cgwatch.web1.seed.dam.gave-up");

        e.supervisor = NULL;
        assert_int_equal(event_json_event_routing_key(&e, "web1", "seed", &c), 0);
        assert_string_equal(c, "cgwatch.web1.seed.@dyno.gave-up");

        e.type = _EVENT_TYPE_MAX;
        assert_int_equal(event_json_event_routing_key(&e, "web1", "seed", &d), -EINVAL);
        assert_null(d);
}

static void test_recycled(void **state) {
        Event e = EVENT_INIT(EVENT_RECYCLED);
        _cleanup_free_ char *body = NULL;
        json_object *o;

        e.realtime_usec = T_2026;
        e.monotonic_usec = 123456789;
        e.worker = "queuer@2";
        e.supervisor = "dam";
        e.cgroup = "cgwatch.service/dam/queuer@2";
        e.incarnation = 3;
        e.pid = 4242;
        e.reason = RECYCLE_BUDGET;
        e.memory_bytes = 130023424;
        e.memory_current_bytes = 134217728;
        e.budget_bytes = 128 << 20;
        e.dyno_current_bytes = 300 << 20;
        e.dyno_limit_bytes = 512 << 20;
        e.detect_usec = 123450000;
        e.replacement = true;
        e.restarts = 1;
        e.recycles = 5;

        assert_int_equal(event_json_format_event(&e, &ctx, &body), 0);
        o = parse(body);
        assert_str(o, "specversion", "1.0");
        assert_str(o, "id", "0123456789abcdef0123456789abcdef-42");
        assert_str(o, "source", "cgwatch://web1/seed");
        assert_str(o, "type", "org.cgwatch.worker.recycled");
        assert_str(o, "subject", "queuer@2");
        assert_str(o, "time", "2026-12-02T01:02:03.456789Z");
        assert_str(o, "datacontenttype", "application/json");
        assert_i64(o, "data.schema", 1);
        assert_str(o, "data.event", "recycled");
        assert_str(o, "data.host", "web1");
        assert_str(o, "data.dyno", "seed");
        assert_str(o, "data.worker", "queuer@2");
        assert_str(o, "data.supervisor", "dam");
        assert_str(o, "data.cgroup", "cgwatch.service/dam/queuer@2");
        assert_i64(o, "data.incarnation", 3);
        assert_i64(o, "data.pid", 4242);
        assert_u64(o, "data.monotonic_usec", 123456789);
        assert_i64(o, "data.restarts", 1);
        assert_i64(o, "data.recycles", 5);
        assert_str(o, "data.reason", "budget");
        assert_u64(o, "data.memory_bytes", 130023424);
        assert_u64(o, "data.memory_current_bytes", 134217728);
        assert_u64(o, "data.budget_bytes", 134217728);
        assert_u64(o, "data.dyno_current_bytes", 314572800);
        assert_u64(o, "data.dyno_limit_bytes", 536870912);
        assert_u64(o, "data.detect_usec", 123450000);
        assert_bool(o, "data.replacement", true);
        assert_json_null(o, "data.drain_high_bytes");
        assert_int_equal(json_object_object_length(o), 8);
        assert_int_equal(json_object_object_length(field(o, "data")), 21);
        json_object_put(o);
}

/* One body pinned byte for byte: key order and number formatting are part of the contract
 * (consumers may diff them; the man page shows this one). */
static void test_started_exact(void **state) {
        Event e = EVENT_INIT(EVENT_STARTED);
        _cleanup_free_ char *body = NULL;

        e.realtime_usec = T_2026;
        e.monotonic_usec = 5000000;
        e.worker = "pusher";
        e.supervisor = "dam";
        e.cgroup = "dam/pusher";
        e.incarnation = 1;
        e.pid = 917;
        e.memory_current_bytes = 0;
        e.budget_bytes = 64 << 20;
        e.dyno_current_bytes = 1048576;
        e.dyno_limit_bytes = UINT64_MAX;
        e.memory_high = 62 << 20;

        assert_int_equal(event_json_format_event(&e, &ctx, &body), 0);
        assert_string_equal(
                body,
                "{\"specversion\":\"1.0\",\"id\":\"0123456789abcdef0123456789abcdef-42\",\"source\":\"cgwatch://web1/"
                "seed\",\"type\":\"org.cgwatch.worker.started\",\"subject\":\"pusher\",\"time\":\"2026-12-02T01:02:"
                "03.456789Z\",\"datacontenttype\":\"application/json\",\"data\":{\"schema\":1,\"event\":\"started\","
                "\"host\":\"web1\",\"dyno\":\"seed\",\"worker\":\"pusher\",\"supervisor\":\"dam\",\"cgroup\":\"dam/"
                "pusher\",\"incarnation\":1,\"pid\":917,\"monotonic_usec\":5000000,\"restarts\":0,\"recycles\":0,"
                "\"reason\":null,\"memory_current_bytes\":0,\"budget_bytes\":67108864,\"dyno_current_bytes\":1048576,"
                "\"dyno_limit_bytes\":null,\"memory_high_bytes\":65011712}}");
}

static void test_exited(void **state) {
        Event e = EVENT_INIT(EVENT_EXITED);
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        json_object *o;

        e.worker = "queuer";
        e.exit_code = CLD_KILLED;
        e.exit_status = SIGKILL;
        e.planned = true;
        e.reason = RECYCLE_DYNO_LIMIT;
        assert_int_equal(event_json_format_event(&e, &ctx, &a), 0);
        o = parse(a);
        assert_str(o, "type", "org.cgwatch.worker.exited");
        assert_str(o, "data.exit_code", "killed");
        assert_i64(o, "data.exit_status", SIGKILL);
        assert_str(o, "data.signal", "KILL");
        assert_bool(o, "data.planned", true);
        assert_str(o, "data.reason", "dyno-limit");
        assert_json_null(o, "data.supervisor");
        assert_json_null(o, "data.cgroup");
        /* No time given: none invented. */
        assert_absent(o, "time");
        json_object_put(o);

        e.exit_code = CLD_EXITED;
        e.exit_status = 3;
        e.planned = false;
        e.reason = RECYCLE_NONE;
        assert_int_equal(event_json_format_event(&e, &ctx, &b), 0);
        o = parse(b);
        assert_str(o, "data.exit_code", "exited");
        assert_i64(o, "data.exit_status", 3);
        assert_json_null(o, "data.signal");
        assert_bool(o, "data.planned", false);
        assert_json_null(o, "data.reason");
        json_object_put(o);

        e.exit_code = 77; /* not a CLD_* code: the number */
        assert_int_equal(event_json_format_event(&e, &ctx, &c), 0);
        o = parse(c);
        assert_i64(o, "data.exit_code", 77);
        json_object_put(o);
}

static void test_other_types(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *f = NULL, *g = NULL, *h = NULL, *i = NULL;
        Event e = EVENT_INIT(EVENT_STATE_CHANGED);
        json_object *o;

        e.worker = "retrier";
        e.old_state = WORKER_RUNNING;
        e.new_state = WORKER_STOPPING;
        assert_int_equal(event_json_format_event(&e, &ctx, &a), 0);
        o = parse(a);
        assert_str(o, "data.old_state", "running");
        assert_str(o, "data.new_state", "stopping");
        json_object_put(o);

        e = EVENT_INIT(EVENT_GAVE_UP);
        e.supervisor = "dam";
        e.max_restarts = 5;
        e.restart_window_usec = 60 * USEC_PER_SEC;
        assert_int_equal(event_json_format_event(&e, &ctx, &b), 0);
        o = parse(b);
        assert_str(o, "type", "org.cgwatch.supervisor.gave-up");
        assert_str(o, "subject", "dam");
        assert_json_null(o, "data.worker");
        assert_str(o, "data.supervisor", "dam");
        assert_i64(o, "data.max_restarts", 5);
        assert_u64(o, "data.restart_window_usec", 60000000);
        json_object_put(o);

        e.supervisor = NULL;
        assert_int_equal(event_json_format_event(&e, &ctx, &c), 0);
        o = parse(c);
        assert_str(o, "type", "org.cgwatch.dyno.gave-up");
        assert_absent(o, "subject");
        assert_json_null(o, "data.supervisor");
        json_object_put(o);

        e = EVENT_INIT(EVENT_BUDGET_CHANGED);
        e.worker = "queuer";
        e.budget_bytes = 256 << 20;
        assert_int_equal(event_json_format_event(&e, &ctx, &d), 0);
        o = parse(d);
        assert_u64(o, "data.budget_bytes", 268435456);
        assert_json_null(o, "data.old_budget_bytes");
        json_object_put(o);

        e = EVENT_INIT(EVENT_START_FAILED);
        e.worker = "http";
        e.error = -EMFILE;
        e.daemon_fault = true;
        assert_int_equal(event_json_format_event(&e, &ctx, &f), 0);
        o = parse(f);
        assert_str(o, "data.error", "EMFILE");
        assert_i64(o, "data.errno", EMFILE);
        assert_bool(o, "data.daemon_fault", true);
        assert_json_null(o, "data.budget_bytes");
        json_object_put(o);

        /* What the fleet view reads: who leaks, and how fast. */
        e = EVENT_INIT(EVENT_LEAK_VERDICT);
        e.worker = "queuer";
        e.growth_bytes_per_sec = 1048576;
        e.lifetimes = 3;
        assert_int_equal(event_json_format_event(&e, &ctx, &g), 0);
        o = parse(g);
        assert_str(o, "type", "org.cgwatch.worker.leak-verdict");
        assert_i64(o, "data.growth_bytes_per_sec", 1048576);
        assert_i64(o, "data.lifetimes", 3);
        json_object_put(o);

        e = EVENT_INIT(EVENT_OOM_KILL);
        e.worker = "queuer";
        e.oom_kills = 2;
        assert_int_equal(event_json_format_event(&e, &ctx, &h), 0);
        o = parse(h);
        assert_i64(o, "data.oom_kills", 2);
        json_object_put(o);

        e = EVENT_INIT(EVENT_STOP_TIMEOUT);
        e.worker = "queuer";
        e.timeout_usec = 10 * USEC_PER_SEC;
        assert_int_equal(event_json_format_event(&e, &ctx, &i), 0);
        o = parse(i);
        assert_u64(o, "data.timeout_usec", 10000000);
        json_object_put(o);
}

static void test_sample(void **state) {
        MemorySampleRecord r = {
                .worker = "queuer@1",
                .supervisor = "dam",
                .realtime_usec = T_2026,
                .incarnation = 2,
                .pid = 77,
                .memory_current_bytes = 50 << 20,
                .anon_bytes = 40 << 20,
                .file_bytes = 9 << 20,
                .budget_bytes = UINT64_MAX,
                .peak_bytes = 60 << 20,
                .state = "running",
                .restarts = 1,
                .recycles = 4,
                .lifetimes = 5,
                .leaking = true,
                .leak_rate_bytes_per_sec = 2097152,
        };
        _cleanup_free_ char *body = NULL, *bad = NULL;
        json_object *o;

        assert_int_equal(event_json_format_sample(&r, &ctx, &body), 0);
        o = parse(body);
        assert_str(o, "type", "org.cgwatch.worker.sample");
        assert_str(o, "subject", "queuer@1");
        assert_str(o, "time", "2026-12-02T01:02:03.456789Z");
        assert_i64(o, "data.schema", 1);
        assert_str(o, "data.event", "sample");
        assert_str(o, "data.worker", "queuer@1");
        assert_str(o, "data.supervisor", "dam");
        assert_i64(o, "data.incarnation", 2);
        assert_i64(o, "data.pid", 77);
        assert_u64(o, "data.memory_current_bytes", 52428800);
        assert_u64(o, "data.anon_bytes", 41943040);
        assert_u64(o, "data.file_bytes", 9437184);
        assert_json_null(o, "data.budget_bytes");
        assert_u64(o, "data.peak_bytes", 62914560);
        assert_str(o, "data.state", "running");
        assert_i64(o, "data.restarts", 1);
        assert_i64(o, "data.recycles", 4);
        assert_i64(o, "data.lifetimes", 5);
        assert_bool(o, "data.leaking", true);
        assert_i64(o, "data.leak_rate_bytes_per_sec", 2097152);
        assert_int_equal(json_object_object_length(field(o, "data")), 19);
        json_object_put(o);

        r.worker = NULL;
        assert_int_equal(event_json_format_sample(&r, &ctx, &bad), -EINVAL);
        assert_null(bad);
}

static void test_hostile_strings(void **state) {
        /* Quotes, backslashes, controls, a stray continuation byte, a truncated sequence, an
         * overlong '/', a UTF-16 surrogate, and one good multi-byte character. */
        EventJsonContext h = ctx;
        Event e = EVENT_INIT(EVENT_READY);
        _cleanup_free_ char *body = NULL, *big = NULL, *huge = NULL;
        json_object *o;

        h.host = "a \"b\"\\c/d";
        h.dyno = "d\x01\x7f";
        e.worker = "w\x80x\xe2\x82y\xc0\xafz\xed\xa0\x80\xc3\xa9";
        e.cgroup = "</script>\n\t";
        assert_int_equal(event_json_format_event(&e, &h, &body), 0);
        o = parse(body);
        assert_str(o, "data.host", "a \"b\"\\c/d");
        assert_str(o, "source", "cgwatch://a%20%22b%22%5Cc%2Fd/d%01%7F");
        assert_str(o, "data.dyno", "d\x01\x7f");
        assert_str(o, "data.worker",
                   "w\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd\xef\xbf"
                   "\xbd\xc3\xa9");
        assert_str(o, "subject", json_object_get_string(field(o, "data.worker")));
        assert_str(o, "data.cgroup", "</script>\n\t");
        json_object_put(o);
        /* Slashes are not escaped; controls are. */
        assert_non_null(strstr(body, "\"cgroup\":\"</script>\\n\\t\""));

        /* A huge name of 3-byte characters is cut on a character boundary at 4095 bytes. */
        huge = malloc(3 * 100000 + 1);
        assert_non_null(huge);
        for (size_t i = 0; i < 100000; i++)
                memcpy(huge + 3 * i, "\xe2\x82\xac", 3);
        huge[3 * 100000] = 0;
        e.worker = huge;
        h = ctx;
        h.host = huge;
        assert_int_equal(event_json_format_event(&e, &h, &big), 0);
        o = parse(big);
        assert_int_equal(strlen(json_object_get_string(field(o, "data.worker"))), 4095);
        assert_int_equal(strlen(json_object_get_string(field(o, "data.host"))), 4095);
        assert_int_equal(strncmp(json_object_get_string(field(o, "data.worker")), huge, 4095), 0);
        /* The source encodes the first 512 bytes of the host: 9 characters per euro sign. */
        assert_int_equal(strlen(json_object_get_string(field(o, "source"))), strlen("cgwatch:///seed") + 3 * 512);
        assert_int_equal(strncmp(json_object_get_string(field(o, "source")), "cgwatch://%E2%82%AC%E2", 22), 0);
        json_object_put(o);
}

static void test_invalid(void **state) {
        EventJsonContext c = ctx;
        Event e = EVENT_INIT(_EVENT_TYPE_MAX);
        char *body = NULL;

        assert_int_equal(event_json_format_event(&e, &ctx, &body), -EINVAL);
        assert_int_equal(event_json_format_event(NULL, &ctx, &body), -EINVAL);
        e.type = EVENT_READY;
        assert_int_equal(event_json_format_event(&e, NULL, &body), -EINVAL);
        c.host = NULL;
        assert_int_equal(event_json_format_event(&e, &c, &body), -EINVAL);
        c = ctx;
        c.instance = NULL;
        assert_int_equal(event_json_format_event(&e, &c, &body), -EINVAL);
        assert_null(body);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_event_type_names), cmocka_unit_test(test_time),
                cmocka_unit_test(test_routing_key),      cmocka_unit_test(test_event_routing_key),
                cmocka_unit_test(test_recycled),         cmocka_unit_test(test_started_exact),
                cmocka_unit_test(test_exited),           cmocka_unit_test(test_other_types),
                cmocka_unit_test(test_sample),           cmocka_unit_test(test_hostile_strings),
                cmocka_unit_test(test_invalid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
