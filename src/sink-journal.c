/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <syslog.h>

#include <systemd/sd-journal.h>

#include "cgwatch/cgwatch.h"
#include "log.h"
#include "sink-journal.h"

static const char *const message_ids[_EVENT_TYPE_MAX] = {
        [EVENT_STARTED] = CGWATCH_MESSAGE_STARTED_STR,
        [EVENT_READY] = CGWATCH_MESSAGE_READY_STR,
        [EVENT_RECYCLED] = CGWATCH_MESSAGE_RECYCLE_STR,
        [EVENT_EXITED] = CGWATCH_MESSAGE_EXITED_STR,
        [EVENT_STOP_TIMEOUT] = CGWATCH_MESSAGE_STOP_TIMEOUT_STR,
        [EVENT_OOM_KILL] = CGWATCH_MESSAGE_OOM_KILL_STR,
        [EVENT_STATE_CHANGED] = CGWATCH_MESSAGE_STATE_CHANGED_STR,
        [EVENT_FAILED] = CGWATCH_MESSAGE_FAILED_STR,
        [EVENT_GAVE_UP] = CGWATCH_MESSAGE_GAVE_UP_STR,
        [EVENT_BUDGET_CHANGED] = CGWATCH_MESSAGE_BUDGET_CHANGED_STR,
        [EVENT_START_FAILED] = CGWATCH_MESSAGE_START_FAILED_STR,
        [EVENT_LEAK_VERDICT] = CGWATCH_MESSAGE_LEAK_VERDICT_STR,
};

_printf_(2, 3) static void add_field(JournalRecord *r, const char *format, ...) {
        va_list ap;
        if (r->n_fields >= JOURNAL_FIELDS_MAX)
                return;
        va_start(ap, format);
        vsnprintf(r->fields[r->n_fields++], sizeof r->fields[0], format, ap);
        va_end(ap);
}

static const char *bytes_or_max(uint64_t v, char *buf, size_t size) {
        if (v == UINT64_MAX)
                return "max";
        snprintf(buf, size, "%" PRIu64, v);
        return buf;
}

static const char *exit_describe(int code, int status, char *buf, size_t size) {
        if (code == 0) /* re-adopted from a previous daemon: not our child */
                snprintf(buf, size, "exited (status unknown: not a child of this daemon)");
        else if (code == CLD_EXITED)
                snprintf(buf, size, "exited with status %d", status);
        else
                snprintf(buf, size, "killed by signal %s%s", sigabbrev_np(status) ?: "?",
                         code == CLD_DUMPED ? " (core dumped)" : "");
        return buf;
}

static const char *group_kind(const Event *e) {
        return e->supervisor ? "Supervisor" : "Dyno";
}

static void format_message(const Event *e, JournalRecord *r) {
        char *m = r->message;
        size_t n = sizeof r->message;
        char a[32], b[32], c[64];
        const char *name = e->worker ?: "?";

        switch (e->type) {
        case EVENT_STARTED:
                r->priority = LOG_INFO;
                snprintf(m, n, "Worker %s started as pid %d in %s (budget=%s memory.high=%s).", name, (int) e->pid,
                         e->cgroup ?: "?", bytes_or_max(e->budget_bytes, a, sizeof a),
                         bytes_or_max(e->memory_high, b, sizeof b));
                break;
        case EVENT_READY:
                r->priority = LOG_DEBUG;
                snprintf(m, n, "Worker %s (pid %d) is ready.", name, (int) e->pid);
                break;
        case EVENT_RECYCLED: {
                usec_t lat = e->detect_usec > 0 && e->monotonic_usec >= e->detect_usec
                                     ? e->monotonic_usec - e->detect_usec
                                     : 0;
                char drain[48] = "";
                if (e->drain_high > 0)
                        snprintf(drain, sizeof drain, " drain_high=%" PRIu64, e->drain_high);
                r->priority = LOG_NOTICE;
                snprintf(m, n,
                         "Recycling worker %s (pid %d): reason=%s memory=%" PRIu64 " current=%" PRIu64
                         " budget=%s dyno=%" PRIu64 "/%" PRIu64 " latency_usec=%" PRIu64 "%s%s",
                         name, (int) e->pid, recycle_reason_to_string(e->reason) ?: "?", e->memory_bytes,
                         e->memory_current_bytes, bytes_or_max(e->budget_bytes, a, sizeof a), e->dyno_current_bytes,
                         e->dyno_limit_bytes, lat, drain, e->replacement ? " (replacement first)" : "");
                break;
        }
        case EVENT_EXITED:
                r->priority = e->planned ? LOG_INFO : LOG_WARNING;
                if (e->replaced)
                        snprintf(m, n, "Worker %s: the replaced incarnation (pid %d) %s.", name, (int) e->pid,
                                 exit_describe(e->exit_code, e->exit_status, c, sizeof c));
                else
                        snprintf(m, n, "Worker %s (pid %d) %s.", name, (int) e->pid,
                                 exit_describe(e->exit_code, e->exit_status, c, sizeof c));
                break;
        case EVENT_STOP_TIMEOUT:
                r->priority = LOG_WARNING;
                snprintf(m, n, "Worker %s%s (pid %d) did not exit within %" PRIu64 " ms of its stop signal, %s.", name,
                         e->replaced ? ": the replaced incarnation" : "", (int) e->pid, e->timeout_usec / USEC_PER_MSEC,
                         e->error < 0 ? "and killing its cgroup failed" : "killing its cgroup");
                break;
        case EVENT_OOM_KILL:
                r->priority = LOG_ERR;
                snprintf(m, n, "Worker %s: the kernel OOM-killed %u process(es) in its cgroup %s.", name, e->oom_kills,
                         e->cgroup ?: "?");
                break;
        case EVENT_STATE_CHANGED:
                r->priority = LOG_DEBUG;
                snprintf(m, n, "Worker %s: %s -> %s.", name, worker_state_to_string(e->old_state) ?: "?",
                         worker_state_to_string(e->new_state) ?: "?");
                break;
        case EVENT_FAILED:
                r->priority = LOG_WARNING;
                snprintf(m, n, "Worker %s failed: %s %s gave up.", name, group_kind(e), e->supervisor ?: "group");
                break;
        case EVENT_GAVE_UP:
                r->priority = LOG_ERR;
                if (e->supervisor)
                        snprintf(m, n,
                                 "Supervisor %s: more than %u restarts within %" PRIu64
                                 " s, giving up; the failure escalates to %s%s.",
                                 e->supervisor, e->max_restarts, e->restart_window_usec / USEC_PER_SEC,
                                 e->escalated_to ? "supervisor " : "the dyno", e->escalated_to ?: "");
                else
                        snprintf(m, n,
                                 "Dyno: more than %u restarts within %" PRIu64
                                 " s, giving up: stopping every worker, then cgwatchd exits with status %d.",
                                 e->max_restarts, e->restart_window_usec / USEC_PER_SEC, CGWATCH_EXIT_DYNO_GAVE_UP);
                break;
        case EVENT_BUDGET_CHANGED:
                r->priority = LOG_INFO;
                snprintf(m, n, "Worker %s: MemoryBudget now %s bytes (was %s).", name,
                         bytes_or_max(e->budget_bytes, a, sizeof a), bytes_or_max(e->old_budget_bytes, b, sizeof b));
                break;
        case EVENT_LEAK_VERDICT:
                r->priority = LOG_WARNING;
                snprintf(m, n,
                         "Worker %s leaks: it grew in each of its last 3 lives, at %" PRId64 " bytes/s (%u lives).",
                         name, e->growth_bytes_per_sec, e->lifetimes);
                break;
        default: /* EVENT_START_FAILED */
                r->priority = LOG_ERR;
                snprintf(m, n, "Worker %s: failed to start: %s%s", name, strerror(e->error < 0 ? -e->error : e->error),
                         e->daemon_fault ? " (the daemon's own failure: retried, not counted against the worker)."
                                         : ".");
                break;
        }
}

int journal_record_format(const Event *e, JournalRecord *ret) {
        JournalRecord *r = ret;
        char buf[32];

        if ((int) e->type < 0 || e->type >= _EVENT_TYPE_MAX)
                return -EINVAL;
        *r = (JournalRecord){.message_id = message_ids[e->type]};
        format_message(e, r);

        add_field(r, "CGWATCH_EVENT=%s", event_type_to_string(e->type));
        if (e->worker)
                add_field(r, "CGWATCH_WORKER=%s", e->worker);
        add_field(r, "CGWATCH_SUPERVISOR=%s", e->supervisor ?: "dyno");
        if (e->worker) {
                add_field(r, "CGWATCH_PID=%d", (int) e->pid);
                add_field(r, "CGWATCH_INCARNATION=%u", e->incarnation);
                if (e->cgroup)
                        add_field(r, "CGWATCH_CGROUP=%s", e->cgroup);
                add_field(r, "CGWATCH_BUDGET_BYTES=%s", bytes_or_max(e->budget_bytes, buf, sizeof buf));
                add_field(r, "CGWATCH_RESTARTS=%u", e->restarts);
                add_field(r, "CGWATCH_RECYCLES=%u", e->recycles);
        }
        if (e->reason != RECYCLE_NONE)
                add_field(r, "CGWATCH_REASON=%s", recycle_reason_to_string(e->reason) ?: "?");
        switch (e->type) {
        case EVENT_RECYCLED:
                add_field(r, "CGWATCH_MEMORY_BYTES=%" PRIu64, e->memory_bytes);
                add_field(r, "CGWATCH_MEMORY_CURRENT_BYTES=%" PRIu64, e->memory_current_bytes);
                add_field(r, "CGWATCH_DYNO_BYTES=%" PRIu64, e->dyno_current_bytes);
                add_field(r, "CGWATCH_DYNO_LIMIT_BYTES=%" PRIu64, e->dyno_limit_bytes);
                add_field(r, "CGWATCH_LATENCY_USEC=%" PRIu64,
                          e->detect_usec > 0 && e->monotonic_usec >= e->detect_usec ? e->monotonic_usec - e->detect_usec
                                                                                    : 0);
                if (e->drain_high > 0)
                        add_field(r, "CGWATCH_DRAIN_HIGH_BYTES=%" PRIu64, e->drain_high);
                break;
        case EVENT_STARTED:
                add_field(r, "CGWATCH_MEMORY_HIGH_BYTES=%s", bytes_or_max(e->memory_high, buf, sizeof buf));
                break;
        case EVENT_EXITED:
                add_field(r, "CGWATCH_EXIT_CODE=%s",
                          e->exit_code == 0            ? "unknown"
                          : e->exit_code == CLD_EXITED ? "exited"
                                                       : "killed");
                add_field(r, "CGWATCH_EXIT_STATUS=%d", e->exit_status);
                break;
        case EVENT_STATE_CHANGED:
                add_field(r, "CGWATCH_OLD_STATE=%s", worker_state_to_string(e->old_state) ?: "?");
                add_field(r, "CGWATCH_NEW_STATE=%s", worker_state_to_string(e->new_state) ?: "?");
                break;
        case EVENT_BUDGET_CHANGED:
                add_field(r, "CGWATCH_OLD_BUDGET_BYTES=%s", bytes_or_max(e->old_budget_bytes, buf, sizeof buf));
                break;
        case EVENT_START_FAILED:
                add_field(r, "ERRNO=%d", e->error < 0 ? -e->error : e->error);
                break;
        case EVENT_GAVE_UP:
                add_field(r, "CGWATCH_MAX_RESTARTS=%u", e->max_restarts);
                if (e->supervisor)
                        add_field(r, "CGWATCH_ESCALATED_TO=%s", e->escalated_to ?: "dyno");
                break;
        case EVENT_LEAK_VERDICT:
                add_field(r, "CGWATCH_GROWTH_BYTES_PER_SEC=%" PRId64, e->growth_bytes_per_sec);
                add_field(r, "CGWATCH_LIFETIMES=%u", e->lifetimes);
                break;
        default:
                break;
        }
        return 0;
}

void journal_sink_emit(void *userdata, const Event *e) {
        JournalRecord r;
        char mid[64], prio[16], msg[sizeof r.message + 8];
        struct iovec iov[JOURNAL_FIELDS_MAX + 3];
        size_t n = 0;

        if (journal_record_format(e, &r) < 0 || r.priority > log_get_max_level())
                return;
        if (!log_to_journal()) {
                log_full_errno(r.priority, 0, "%s", r.message);
                return;
        }
        snprintf(msg, sizeof msg, "MESSAGE=%s", r.message);
        snprintf(mid, sizeof mid, "MESSAGE_ID=%s", r.message_id);
        snprintf(prio, sizeof prio, "PRIORITY=%d", r.priority);
        iov[n++] = (struct iovec){msg, strlen(msg)};
        iov[n++] = (struct iovec){mid, strlen(mid)};
        iov[n++] = (struct iovec){prio, strlen(prio)};
        for (size_t i = 0; i < r.n_fields; i++)
                iov[n++] = (struct iovec){r.fields[i], strlen(r.fields[i])};
        int sent = sd_journal_sendv(iov, (int) n);
        if (sent < 0) {
                log_journal_failed(sent);
                log_full_errno(r.priority, 0, "%s", r.message);
        }
}
