/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The renderers of cgwatchctl plot and metrics, from fixed data: the SVG parses as XML (python3's
 * xml.etree) with one polyline per worker, a dashed budget line per worker, the dashed dyno limit
 * and one marker per recycle carrying its reason; the OpenMetrics text is exactly as expected and
 * parses with prometheus_client's OpenMetrics parser (python3-prometheus-client). */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "openmetrics.h"
#include "plot-svg.h"

#define PYTHON "/usr/bin/python3"
#define MIB    (1024ULL * 1024ULL)
#define T0     (1764684000ULL * USEC_PER_SEC) /* 2025-12-02 14:00:00 UTC */

static size_t count(const char *hay, const char *needle) {
        size_t n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* Runs python3 with `script`, feeding `input` on stdin; returns its exit status. */
static int python(const char *script, const char *input) {
        char *cmd = NULL;
        assert_true(asprintf(&cmd, PYTHON " -c '%s'", script) > 0);
        FILE *p = popen(cmd, "w");
        free(cmd);
        assert_non_null(p);
        fputs(input, p);
        int st = pclose(p);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *render_svg(const HistoryView *w, size_t n, const HistoryView *dyno) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        assert_int_equal(plot_svg(f, w, n, dyno, NULL), 0);
        assert_int_equal(fclose(f), 0);
        return buf;
}

/* Three workers: a leaker (sawtooth, recycled twice for its budget), a steady one with a budget
 * change, one recycled by hand; and the dyno. */
static HistorySample leak[12], steady[12], manual[12], dyno_s[12];
static HistoryViewEvent leak_ev[4], manual_ev[1];

static void fixture(HistoryView w[3], HistoryView *d) {
        for (unsigned i = 0; i < 12; i++) {
                usec_t t = T0 + i * 5 * USEC_PER_SEC;
                leak[i] = (HistorySample){t, (4 + (i % 4) * 8) * MIB, (3 + (i % 4) * 8) * MIB, MIB, 0, 32 * MIB};
                steady[i] = (HistorySample){t, 10 * MIB, 9 * MIB, MIB, 11 * MIB, (i < 6 ? 64 : 48) * MIB};
                manual[i] = (HistorySample){t, 20 * MIB, 20 * MIB, 0, 21 * MIB, UINT64_MAX};
                dyno_s[i] = (HistorySample){t, 60 * MIB, 50 * MIB, 10 * MIB, 80 * MIB, 128 * MIB};
        }
        leak_ev[0] = (HistoryViewEvent){T0 + 18 * USEC_PER_SEC, "recycled", "budget", 31 * MIB, 32 * MIB};
        leak_ev[1] = (HistoryViewEvent){T0 + 19 * USEC_PER_SEC, "exited", "budget", 31 * MIB, 32 * MIB};
        leak_ev[2] = (HistoryViewEvent){T0 + 38 * USEC_PER_SEC, "recycled", "budget", 31 * MIB, 32 * MIB};
        leak_ev[3] = (HistoryViewEvent){T0 + 39 * USEC_PER_SEC, "started", "", 0, 32 * MIB};
        manual_ev[0] = (HistoryViewEvent){T0 + 30 * USEC_PER_SEC, "recycled", "manual", 20 * MIB, UINT64_MAX};
        w[0] = (HistoryView){"leaker", leak, 12, leak_ev, 4};
        w[1] = (HistoryView){"steady<&>", steady, 12, NULL, 0};
        w[2] = (HistoryView){"by-hand", manual, 12, manual_ev, 1};
        *d = (HistoryView){"", dyno_s, 12, NULL, 0};
}

static void test_svg_structure(void **state) {
        HistoryView w[3], d;
        fixture(w, &d);
        char *svg = render_svg(w, 3, &d);

        assert_int_equal(count(svg, "<polyline class=\"worker\""), 3);
        /* a budget line for each worker that has one: by-hand has none */
        assert_int_equal(count(svg, "<polyline class=\"budget\""), 2);
        assert_int_equal(count(svg, "<polyline class=\"dyno\""), 1);
        assert_int_equal(count(svg, "<polyline class=\"dyno-limit\""), 1);
        assert_int_equal(count(svg, "<g class=\"recycle\""), 3);
        assert_int_equal(count(svg, "data-reason=\"budget\""), 2);
        assert_int_equal(count(svg, "data-reason=\"manual\""), 1);
        assert_non_null(strstr(svg, "data-worker=\"steady&lt;&amp;&gt;\""));
        assert_non_null(strstr(svg, "memory (MiB)"));
        assert_non_null(strstr(svg, "time (UTC)"));
        assert_non_null(strstr(svg, ">14:00:00<"));
        /* The steady worker's budget steps from 64 to 48 MiB: 12 points and one extra corner. */
        const char *b = strstr(svg, "<polyline class=\"budget\" data-worker=\"steady");
        assert_non_null(b);
        const char *pts = strstr(b, "points=\"");
        size_t commas = 0;
        for (const char *p = pts; *p && *p != '/'; p++)
                commas += *p == ',';
        assert_int_equal(commas, 13);

        /* Parsed as XML: the same structure, every budget and limit line dashed, the reasons as
         * text inside the markers. */
        assert_int_equal(python("import sys, xml.etree.ElementTree as ET\n"
                                "r = ET.parse(sys.stdin).getroot()\n"
                                "ns = \"{http://www.w3.org/2000/svg}\"\n"
                                "assert r.tag == ns + \"svg\", r.tag\n"
                                "pl = r.iter(ns + \"polyline\")\n"
                                "by = {}\n"
                                "[by.setdefault(p.get(\"class\"), []).append(p) for p in pl]\n"
                                "assert [p.get(\"data-worker\") for p in by[\"worker\"]] == "
                                "[\"leaker\", \"steady<&>\", \"by-hand\"], by[\"worker\"]\n"
                                "assert all(p.get(\"stroke-dasharray\") for p in by[\"budget\"] + by[\"dyno-limit\"])\n"
                                "assert not any(p.get(\"stroke-dasharray\") for p in by[\"worker\"])\n"
                                "g = [e for e in r.iter(ns + \"g\") if e.get(\"class\") == \"recycle\"]\n"
                                "t = [e.find(ns + \"text\").text for e in g]\n"
                                "assert t == [\"budget\", \"budget\", \"manual\"], t\n"
                                "assert [e.get(\"data-worker\") for e in g] == [\"leaker\", \"leaker\", \"by-hand\"]\n"
                                "lg = [e for e in r.iter(ns + \"g\") if e.get(\"class\") == \"legend\"][0]\n"
                                "names = [e.text for e in lg.iter(ns + \"text\")]\n"
                                "assert names[:3] == [\"leaker\", \"steady<&>\", \"by-hand\"], names\n"
                                "assert \"dyno MemoryLimit\" in names\n",
                                svg),
                         0);
        free(svg);
}

static void test_svg_geometry(void **state) {
        HistoryView w[3], d;
        fixture(w, &d);
        char *svg = render_svg(w, 1, &d);
        /* The plot area spans x 80..800 and y 50..500 (1000 x 560, margins 80/200/50/60); the y
         * axis tops at a round 140 MiB above the dyno limit of 128 MiB (steps of 20). The first
         * sample sits on the left edge and the last on the right edge. */
        assert_non_null(strstr(svg, ">140</text>"));
        assert_null(strstr(svg, ">160</text>"));
        const char *p = strstr(svg, "<polyline class=\"worker\" data-worker=\"leaker\"");
        assert_non_null(p);
        assert_non_null(strstr(p, "points=\"80.0,"));
        assert_non_null(strstr(p, " 800.0,"));
        /* the limit at 128 of 140 MiB: y = 50 + 450 - 128/140*450 = 88.6 */
        assert_non_null(strstr(svg, "class=\"dyno-limit\""));
        assert_non_null(strstr(strstr(svg, "class=\"dyno-limit\""), "80.0,88.6"));
        free(svg);
}

static void test_svg_empty(void **state) {
        HistoryView w = {"idle", NULL, 0, NULL, 0};
        char *svg = render_svg(&w, 1, NULL);
        assert_non_null(strstr(svg, "no samples"));
        assert_int_equal(count(svg, "<polyline"), 0);
        assert_int_equal(python("import sys, xml.etree.ElementTree as ET\nET.parse(sys.stdin)\n", svg), 0);
        free(svg);
        svg = render_svg(NULL, 0, NULL);
        assert_int_equal(python("import sys, xml.etree.ElementTree as ET\nET.parse(sys.stdin)\n", svg), 0);
        free(svg);
}

static const char expected_metrics[] =
        "# TYPE cgwatch_dyno_memory_limit_bytes gauge\n"
        "# UNIT cgwatch_dyno_memory_limit_bytes bytes\n"
        "# HELP cgwatch_dyno_memory_limit_bytes The dyno's MemoryLimit (memory.max of its cgroup).\n"
        "cgwatch_dyno_memory_limit_bytes 536870912\n"
        "# TYPE cgwatch_dyno_recycle_at_bytes gauge\n"
        "# UNIT cgwatch_dyno_recycle_at_bytes bytes\n"
        "# HELP cgwatch_dyno_recycle_at_bytes The dyno's RecycleAt (memory.high of its cgroup).\n"
        "cgwatch_dyno_recycle_at_bytes 483183820\n"
        "# TYPE cgwatch_dyno_memory_bytes gauge\n"
        "# UNIT cgwatch_dyno_memory_bytes bytes\n"
        "# HELP cgwatch_dyno_memory_bytes memory.current of the dyno's cgroup.\n"
        "cgwatch_dyno_memory_bytes 1000\n"
        "# TYPE cgwatch_dyno_memory_peak_bytes gauge\n"
        "# UNIT cgwatch_dyno_memory_peak_bytes bytes\n"
        "# HELP cgwatch_dyno_memory_peak_bytes memory.peak of the dyno's cgroup.\n"
        "cgwatch_dyno_memory_peak_bytes 2000\n"
        "# TYPE cgwatch_worker_memory_bytes gauge\n"
        "# UNIT cgwatch_worker_memory_bytes bytes\n"
        "# HELP cgwatch_worker_memory_bytes memory.current of the worker's cgroup.\n"
        "cgwatch_worker_memory_bytes{worker=\"http\"} 300\n"
        "cgwatch_worker_memory_bytes{worker=\"q\\\"@1\"} 700\n"
        "# TYPE cgwatch_worker_memory_budget_bytes gauge\n"
        "# UNIT cgwatch_worker_memory_budget_bytes bytes\n"
        "# HELP cgwatch_worker_memory_budget_bytes The worker's MemoryBudget.\n"
        "cgwatch_worker_memory_budget_bytes{worker=\"q\\\"@1\"} 33554432\n"
        "# TYPE cgwatch_worker_recycles counter\n"
        "# HELP cgwatch_worker_recycles Recycles of the worker since cgwatchd started, by reason.\n";

static void test_openmetrics(void **state) {
        MetricsDyno d = {
                .limit_bytes = 536870912, .recycle_at_bytes = 483183820, .memory_bytes = 1000, .peak_bytes = 2000};
        MetricsWorker w[2] = {
                {.name = "http", .state = "running", .memory_bytes = 300, .budget_bytes = UINT64_MAX},
                {.name = "q\"@1", .state = "backoff", .memory_bytes = 700, .budget_bytes = 33554432},
        };
        w[1].recycles[RECYCLE_BUDGET] = 3;
        w[1].recycles[RECYCLE_MANUAL] = 1;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_int_equal(openmetrics_write(f, &d, w, 2), 0);
        assert_int_equal(fclose(f), 0);

        assert_memory_equal(buf, expected_metrics, strlen(expected_metrics));
        assert_non_null(strstr(buf, "cgwatch_worker_recycles_total{worker=\"q\\\"@1\",reason=\"budget\"} 3\n"
                                    "cgwatch_worker_recycles_total{worker=\"q\\\"@1\",reason=\"dyno-limit\"} 0\n"));
        assert_non_null(strstr(buf, "cgwatch_worker_recycles_total{worker=\"q\\\"@1\",reason=\"manual\"} 1\n"));
        assert_non_null(strstr(buf, "cgwatch_worker_recycles_total{worker=\"http\",reason=\"budget\"} 0\n"));
        assert_int_equal(count(buf, "cgwatch_worker_recycles_total{"), 2 * (_RECYCLE_REASON_MAX - 1));
        assert_non_null(strstr(buf, "# TYPE cgwatch_worker_state stateset\n"));
        assert_non_null(strstr(buf, "cgwatch_worker_state{worker=\"http\",cgwatch_worker_state=\"running\"} 1\n"));
        assert_non_null(strstr(buf, "cgwatch_worker_state{worker=\"http\",cgwatch_worker_state=\"failed\"} 0\n"));
        assert_int_equal(count(buf, "cgwatch_worker_state{"), 2 * _WORKER_STATE_MAX);
        assert_int_equal(count(buf, "} 1\n"), 3); /* two states and the manual recycle */
        assert_true(len > 6 && strcmp(buf + len - 6, "# EOF\n") == 0);

        /* Valid OpenMetrics: the reference parser accepts it (it raises on any violation, a
         * missing "# EOF" included) and reads the values back. */
        assert_int_equal(python("import sys\n"
                                "from prometheus_client.openmetrics.parser import text_string_to_metric_families\n"
                                "fam = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}\n"
                                "assert fam[\"cgwatch_dyno_memory_limit_bytes\"].unit == \"bytes\"\n"
                                "assert fam[\"cgwatch_worker_recycles\"].type == \"counter\"\n"
                                "v = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fam.values() "
                                "for s in f.samples}\n"
                                "assert v[(\"cgwatch_worker_recycles_total\", ((\"reason\", \"budget\"), (\"worker\", "
                                "\"q\\\"@1\")))] == 3, v\n"
                                "assert v[(\"cgwatch_dyno_memory_peak_bytes\", ())] == 2000\n"
                                "assert fam[\"cgwatch_worker_state\"].type == \"stateset\"\n",
                                buf),
                         0);
        free(buf);
}

static void test_openmetrics_empty(void **state) {
        MetricsDyno d = {};
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_int_equal(openmetrics_write(f, &d, NULL, 0), 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(python("import sys\n"
                                "from prometheus_client.openmetrics.parser import text_string_to_metric_families\n"
                                "list(text_string_to_metric_families(sys.stdin.read()))\n",
                                buf),
                         0);
        free(buf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_svg_structure),     cmocka_unit_test(test_svg_geometry),
                cmocka_unit_test(test_svg_empty),         cmocka_unit_test(test_openmetrics),
                cmocka_unit_test(test_openmetrics_empty),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
