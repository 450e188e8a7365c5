/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The contract shared by cgwatchd, cgwatchctl and anyone talking to them: D-Bus names, and the
 * journal MESSAGE_IDs documented in units/cgwatch.catalog. Changing any of these breaks users. */

#define CGWATCH_BUS_NAME           "org.cgwatch1"
#define CGWATCH_MANAGER_PATH       "/org/cgwatch1"
#define CGWATCH_MANAGER_INTERFACE  "org.cgwatch1.Manager"
#define CGWATCH_WORKER_PATH_PREFIX "/org/cgwatch1/worker"
#define CGWATCH_WORKER_INTERFACE   "org.cgwatch1.Worker"

/* journalctl MESSAGE_ID=... */
#define CGWATCH_MESSAGE_RECYCLE_STR      "97009755ed7a4d278c1470ac79afd92a"
#define CGWATCH_MESSAGE_GROUP_FAILED_STR "42f029b9826c42709298d7ad8891a0e0"
#define CGWATCH_MESSAGE_STARTED_STR      "5ac08750eaf047b9aefda3b951d245ac"
