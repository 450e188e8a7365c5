/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The contract shared by cgwatchd, cgwatchctl and anyone talking to them: D-Bus names, and the
 * journal MESSAGE_IDs documented in units/cgwatch.catalog. Changing any of these breaks users. */

#define CGWATCH_BUS_NAME           "org.cgwatch1"
#define CGWATCH_MANAGER_PATH       "/org/cgwatch1"
#define CGWATCH_MANAGER_INTERFACE  "org.cgwatch1.Manager"
#define CGWATCH_WORKER_PATH_PREFIX "/org/cgwatch1/worker"
#define CGWATCH_WORKER_INTERFACE   "org.cgwatch1.Worker"
/* The daemon of cgwatch@NAME.service owns CGWATCH_DYNO_BUS_NAME_PREFIX ".<NAME escaped>" instead of
 * org.cgwatch1 (src/dyno-name.h); the object paths and interfaces are the same. */
#define CGWATCH_DYNO_BUS_NAME_PREFIX "org.cgwatch1.dyno"

/* Manager.GetHistory(s name, t since_usec) -> (a(tttttt) samples, a(tsstt) events): the daemon's
 * memory history of one worker (name "" = the dyno), records at or after since_usec (CLOCK_REALTIME
 * microseconds; 0 = all). A sample is (time, memory.current, anon, file, memory.peak, budget; the
 * dyno's budget field is its MemoryLimit; UINT64_MAX = none); an event is (time, type as in
 * cgwatch-events(7), recycle reason or "", memory bytes, budget bytes). Manager.GetRecycleCounts()
 * -> a(sst): (worker, reason, recycles since the daemon started), non-zero counts only. */
#define CGWATCH_HISTORY_SAMPLE_TYPE  "(tttttt)"
#define CGWATCH_HISTORY_EVENT_TYPE   "(tsstt)"
#define CGWATCH_RECYCLE_COUNT_TYPE   "(sst)"
#define CGWATCH_HISTORY_DYNO         ""

/* D-Bus errors of org.cgwatch1 (besides the standard org.freedesktop.DBus.Error.*). */
#define CGWATCH_ERROR_NO_SUCH_WORKER     "org.cgwatch1.NoSuchWorker"
#define CGWATCH_ERROR_NOT_RUNNING        "org.cgwatch1.NotRunning"
#define CGWATCH_ERROR_BUDGET_BELOW_FLOOR "org.cgwatch1.BudgetBelowFloor"
#define CGWATCH_ERROR_BUDGET_ABOVE_LIMIT "org.cgwatch1.BudgetAboveLimit"

/* cgwatchd's exit status when the dyno exceeded its own restart intensity (cgwatchd(8)). */
#define CGWATCH_EXIT_DYNO_GAVE_UP 3

/* journalctl MESSAGE_ID=...: one per event type (src/event.h), every one explained in
 * units/cgwatch.catalog. */
#define CGWATCH_MESSAGE_RECYCLE_STR        "97009755ed7a4d278c1470ac79afd92a"
#define CGWATCH_MESSAGE_GAVE_UP_STR        "42f029b9826c42709298d7ad8891a0e0"
#define CGWATCH_MESSAGE_STARTED_STR        "5ac08750eaf047b9aefda3b951d245ac"
#define CGWATCH_MESSAGE_EXITED_STR         "c423594cd06b4060a3f0f113935d343d"
#define CGWATCH_MESSAGE_FAILED_STR         "bfdc608a575e4adabb6ba4699fc4cc87"
#define CGWATCH_MESSAGE_BUDGET_CHANGED_STR "6fe82685aa874638b174cbf0178890ac"
#define CGWATCH_MESSAGE_STOP_TIMEOUT_STR   "e5e35173526c45bbb1c1962dc67dc6cb"
#define CGWATCH_MESSAGE_START_FAILED_STR   "6156e2f300614c4988a6ba4b49e4c572"
#define CGWATCH_MESSAGE_OOM_KILL_STR       "10aefc524c9a410cb755e30a820b5b77"
#define CGWATCH_MESSAGE_READY_STR          "18201a656c454e829de280d3bb5999c1"
#define CGWATCH_MESSAGE_LEAK_VERDICT_STR   "52fa91c7417c49858382f2f61713b041"
#define CGWATCH_MESSAGE_STATE_CHANGED_STR  "f5a7442651fa47d9822d7f5aad2a7213"
