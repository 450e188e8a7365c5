#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks what amqp-peek drained in tests/amqp/run-test against the one right answer.

phase-a.tsv:  one event of every type (worker typed.worker, its group dam, the dyno), events
              1..50 and samples 1..50, each exactly once, in order, with the CloudEvents schema.
phase-bc.tsv: after the broker was killed with the outbox holding 20 of samples 51..65 and
              events 51..75: exactly events 56..75 (the 5 oldest and all 15 samples dropped),
              then events 76..85 and samples 66..75, once each.
phase-d.tsv:  events 86..105, the broker killed while they were in flight: each at least once;
              duplicates only here, and no more than the sink says it resent (argv[4])."""
import json
import re
import sys

EVENT_TYPES = ["started", "ready", "recycled", "exited", "stop-timeout", "oom-kill", "state-changed",
               "failed", "gave-up", "budget-changed", "start-failed", "leak-verdict"]
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ID = re.compile(r"^[0-9a-f]{32}-\d+$")
failures = []


def fail(msg):
    failures.append(msg)


def read(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            key, mode, ctype, mid, app, body = line.rstrip("\n").split("\t", 5)
            ce = json.loads(body)
            out.append((key, int(mode), ctype, mid, app, ce))
    return out


def check_common(m):
    key, mode, ctype, mid, app, ce = m
    if ctype != "application/cloudevents+json":
        fail(f"{key}: content type {ctype}")
    if app != "cgwatchd":
        fail(f"{key}: app id {app}")
    if ce.get("specversion") != "1.0":
        fail(f"{key}: specversion {ce.get('specversion')}")
    if ce.get("id") != mid or not ID.match(mid):
        fail(f"{key}: id {ce.get('id')} vs message id {mid}")
    if ce.get("source") != "cgwatch://test.host/seed":
        fail(f"{key}: source {ce.get('source')}")
    if not TIME.match(ce.get("time", "")):
        fail(f"{key}: time {ce.get('time')}")
    if ce.get("datacontenttype") != "application/json":
        fail(f"{key}: datacontenttype {ce.get('datacontenttype')}")
    d = ce.get("data", {})
    if d.get("schema") != 1 or d.get("host") != "test.host" or d.get("dyno") != "seed":
        fail(f"{key}: data schema/host/dyno {d.get('schema')}/{d.get('host')}/{d.get('dyno')}")


def numbered(msgs, phase):
    """Splits numbered events and samples, checking their keys, modes and bodies."""
    events, samples, other = [], [], []
    for m in msgs:
        key, mode, _, _, _, ce = m
        d = ce["data"]
        if key == "cgwatch.test_host.seed.queuer@2.recycled":
            if mode != 2 or ce["type"] != "org.cgwatch.worker.recycled" or ce["subject"] != "queuer@2":
                fail(f"{phase}: event {d['incarnation']}: mode {mode}, type {ce['type']}")
            if (d["reason"], d["budget_bytes"], d["memory_bytes"], d["supervisor"]) != \
                    ("budget", 134217728, 130023424, "dam"):
                fail(f"{phase}: event {d['incarnation']}: data {d}")
            events.append(d["incarnation"])
        elif key == "cgwatch.test_host.seed.pusher.sample":
            if mode != 1 or ce["type"] != "org.cgwatch.worker.sample":
                fail(f"{phase}: sample {d['incarnation']}: mode {mode}, type {ce['type']}")
            if (d["memory_current_bytes"], d["anon_bytes"], d["file_bytes"], d["budget_bytes"], d["peak_bytes"]) != \
                    (52428800, 41943040, 9437184, 67108864, 62914560):
                fail(f"{phase}: sample {d['incarnation']}: data {d}")
            samples.append(d["incarnation"])
        else:
            other.append(m)
    return events, samples, other


def main():
    a, bc, d = read(sys.argv[1]), read(sys.argv[2]), read(sys.argv[3])
    resent = int(sys.argv[4])
    ids = [m[3] for m in a + bc + d]
    dups = len(ids) - len(set(ids))
    if dups > resent:
        fail(f"{dups} duplicate message ids, but only {resent} resent")
    for m in a + bc + d:
        check_common(m)

    events, samples, typed = numbered(a, "phase A")
    if events != list(range(1, 51)):
        fail(f"phase A events {events}")
    if samples != list(range(1, 51)):
        fail(f"phase A samples {samples}")
    want = [(f"cgwatch.test_host.seed.typed_worker.{t}", f"org.cgwatch.worker.{t}", "typed.worker")
            for t in EVENT_TYPES if t != "gave-up"]
    want.insert(EVENT_TYPES.index("gave-up"), ("cgwatch.test_host.seed.dam.gave-up", "org.cgwatch.supervisor.gave-up", "dam"))
    want.append(("cgwatch.test_host.seed.@dyno.gave-up", "org.cgwatch.dyno.gave-up", None))
    got = [(m[0], m[5]["type"], m[5].get("subject")) for m in typed]
    if got != want:
        fail(f"typed events:\n  got  {got}\n  want {want}")
    for m in typed:
        if m[1] != 2:
            fail(f"{m[0]}: delivery mode {m[1]}")

    events, samples, other = numbered(bc, "phase B/C")
    if events != list(range(56, 86)):
        fail(f"phase B/C events {events}, expected 56..85 once each")
    if samples != list(range(66, 76)):
        fail(f"phase B/C samples {samples}, expected 66..75")
    if other:
        fail(f"phase B/C: unexpected {[m[0] for m in other]}")

    events, samples, other = numbered(d, "phase D")
    if sorted(set(events)) != list(range(86, 106)) or samples or other:
        fail(f"phase D events {sorted(set(events))}, expected 86..105; samples {samples}; other {other}")
    if len(events) - len(set(events)) != dups:
        fail(f"duplicates outside phase D: {dups} in all, {len(events) - len(set(events))} in phase D")

    print(f"check: phase A {len(a)}, B/C {len(bc)}, D {len(d)} messages; "
          f"missing exactly events 51..55 and samples 51..65; {dups} duplicates ({resent} resent)")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
