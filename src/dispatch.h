/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The dispatcher: the one place where a snapshot becomes worker operations. It asks
 * policy_decide() for an action, has it carried out through DispatchOps, announces the Event that
 * the operation returns, and asks again against the updated snapshot until the policy has
 * nothing more to say. It owns no state and makes no syscalls (the ops do), so it is unit-tested
 * with fake operations. The manager provides the real ops (worker.c's recycle, announce.c). */

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "policy.h"

typedef struct DispatchOps {
        /* Carries out `a` on the snapshot's worker `index`. Returns 1 with *ret_event filled when
         * the recycle happened, 0 when there was nothing to act on (it was already stopping or is
         * gone), or a negative errno when it failed. Only a return of 1 is announced. */
        int (*recycle)(void *userdata, size_t index, const PolicyAction *a, Event *ret_event);
        /* Hands an event to every sink (announce_event()). */
        void (*announce)(void *userdata, const Event *e);
        /* CLOCK_MONOTONIC now: a dyno-level cool-down runs from the stop signal, not from when the
         * snapshot was taken. */
        usec_t (*now)(void *userdata);
} DispatchOps;

typedef struct DispatchResult {
        unsigned recycled;            /* actions carried out and announced */
        unsigned not_done;            /* actions the ops returned 0 or an error for */
        usec_t next_deadline;         /* when to look again without a kernel event; USEC_INFINITY = never */
        usec_t last_dyno_action_usec; /* updated hold-off stamp for the next snapshot */
} DispatchResult;

/* Runs the decide-act loop over `workers[0..n)` (updated in place: a recycled or failed worker
 * stops being a candidate in this pass; a recycled one is marked in progress) and `dyno`.
 * At most n actions per pass. Returns the number of recycles carried out (>= 0). */
int dispatch_evaluate(usec_t now, DynoSample *dyno, WorkerSample *workers, size_t n, const PolicyConfig *cfg,
                      const DispatchOps *ops, void *userdata, DispatchResult *ret);
