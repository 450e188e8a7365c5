/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>

#include "dispatch.h"

static bool reason_is_dyno(RecycleReason r) {
        return r == RECYCLE_DYNO_LIMIT || r == RECYCLE_PRESSURE;
}

int dispatch_evaluate(usec_t now, DynoSample *dyno, WorkerSample *workers, size_t n, const PolicyConfig *cfg,
                      const DispatchOps *ops, void *userdata, DispatchResult *ret) {
        DispatchResult res = {.next_deadline = USEC_INFINITY};

        assert(dyno && cfg && ops && ops->recycle && ops->announce && ops->now && ret);
        assert(workers || n == 0);

        for (size_t round = 0; round < n; round++) {
                Snapshot s = {.now = now, .dyno = *dyno, .workers = workers, .n_workers = n};
                PolicyAction a;
                Event e;
                int r;

                if (policy_decide(&s, cfg, &a) <= 0)
                        break;

                e = EVENT_INIT(EVENT_RECYCLED);
                r = ops->recycle(userdata, a.worker, &a, &e);
                /* Acted or not, this worker is out of this pass: a failed operation must not be
                 * retried in a loop, nor keep the policy from the next offender. */
                workers[a.worker].candidate = false;
                if (r <= 0) {
                        res.not_done++;
                        continue;
                }
                workers[a.worker].recycle_in_progress = true;
                workers[a.worker].recycle_in_progress_reason = a.reason;
                if (reason_is_dyno(a.reason))
                        dyno->last_dyno_action_usec = now = ops->now(userdata);
                ops->announce(userdata, &e);
                res.recycled++;
        }

        /* Nothing (more) to do now: when could something become due without a kernel event? */
        Snapshot s = {.now = now, .dyno = *dyno, .workers = workers, .n_workers = n};
        res.next_deadline = policy_next_deadline(&s);
        /* Still over RecycleAt (or stalling) but held off by the cool-down: look again when it ends,
         * even if the kernel has nothing new to say by then. */
        bool full = dyno->unreclaimable >= dyno->recycle_at || dyno->pressure_fired;
        if (full && dyno->last_dyno_action_usec > 0) {
                usec_t end = dyno->last_dyno_action_usec + cfg->dyno_cooldown_usec;
                if (end > now && end < res.next_deadline)
                        res.next_deadline = end;
        }
        res.last_dyno_action_usec = dyno->last_dyno_action_usec;
        *ret = res;
        return (int) res.recycled;
}
