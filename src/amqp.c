/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The AMQP sink (see amqp.h for the contract): a bounded outbox filled by the event loop, and one
 * I/O thread that owns the rabbitmq-c connection.
 *
 * Locking: `lock` guards the outbox, the counters, `stopping` and `sockfd`. The loop thread holds
 * it only to link or unlink a message and bump counters; the I/O thread never holds it across a
 * network call, so an emit never waits for the network. Everything under "I/O thread only" is
 * touched by that thread alone (and by amqp_sink_free() after the join).
 *
 * Wake-ups: an eventfd. emit writes it only when no wake-up is pending (wake_pending), so a
 * burst costs one write(); the thread clears wake_pending after reading the eventfd and before it
 * looks at the outbox again, so no message waits for the next timeout.
 *
 * Heartbeats: rabbitmq-c sends a heartbeat, and notices the broker's missing ones, only inside
 * its own calls. The thread polls the socket and the eventfd with a timeout of at most a quarter
 * of the heartbeat, then drains frames with amqp_simple_wait_frame_noblock() and a 1 us timeout:
 * that sends a heartbeat when one is due and reports AMQP_STATUS_HEARTBEAT_TIMEOUT when the
 * broker fell silent (a zero timeout would skip that check).
 *
 * Signals: the thread starts with every signal blocked (the daemon takes its signals through
 * sd-event's signalfd, which needs them blocked in every thread); rabbitmq-c's TCP socket sends
 * with MSG_NOSIGNAL, and a SIGPIPE raised by a TLS write stays pending on this thread instead of
 * killing the daemon. */

/* rabbitmq-c's headers include <amqp.h>: this file is built with -iquote src, not -Isrc (see
 * meson.build), so that names theirs and "amqp.h" ours. */
#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "amqp.h"

#define CHANNEL         1
#define CONNECT_TIMEOUT ((struct timeval){.tv_sec = 5})
#define FRAME_MAX       131072
#define PASSWORD_MAX    4096
#define DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define BUSY_POLL_MSEC  1000 /* while messages are in flight: bounds how late a stop is seen */
#define DEFAULT_DYNO    "default"
#define APP_ID          "cgwatchd"

typedef enum MessageKind {
        MESSAGE_EVENT,
        MESSAGE_SAMPLE,
        _MESSAGE_KIND_MAX,
} MessageKind;

typedef struct Message {
        struct Message *next;
        MessageKind kind;
        uint64_t seq;          /* order of arrival across both outbox queues */
        uint64_t delivery_tag; /* on the current channel, once published */
        char *routing_key;     /* the three strings live in the same allocation */
        char *id;
        char *body;
        size_t body_len;
        char data[];
} Message;

typedef struct Queue {
        Message *head, *tail;
        size_t n;
} Queue;

struct AmqpSink {
        /* Set in amqp_sink_new(), read-only afterwards. */
        char *server; /* host name or address of the broker */
        int port;
        bool ssl;
        char *user, *password, *vhost; /* password: wiped in amqp_sink_free() */
        char *exchange, *host, *dyno, *ca_file;
        char instance[33];
        uint64_t sequence; /* of the CloudEvents ids; atomic */
        unsigned heartbeat_sec;
        size_t capacity;
        int wake_fd;
        int state_fd; /* written by the I/O thread when the connection goes up or down */
        pthread_t thread;
        bool thread_started;

        pthread_mutex_t lock; /* guards everything down to the next comment */
        Queue outbox[_MESSAGE_KIND_MAX];
        uint64_t next_seq;
        bool wake_pending;
        bool stopping;
        usec_t stop_deadline; /* CLOCK_MONOTONIC */
        int sockfd;           /* while connected: for amqp_sink_free() to shutdown() a stuck write */
        AmqpStats stats;

        /* I/O thread only. */
        amqp_connection_state_t conn;
        Queue unacked; /* published on this connection, in delivery-tag order */
        Queue resend;  /* unacked when a connection was lost: published first on the next */
        uint64_t next_tag;
        usec_t backoff_usec;
        uint64_t rng;
        bool down_reported; /* state_fd was written for this outage already */
};

static usec_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

/* ---- Messages and queues ---- */

static void queue_append(Queue *q, Message *m) {
        m->next = NULL;
        if (q->tail)
                q->tail->next = m;
        else
                q->head = m;
        q->tail = m;
        q->n++;
}

static Message *queue_pop(Queue *q) {
        Message *m = q->head;

        if (!m)
                return NULL;
        q->head = m->next;
        if (!q->head)
                q->tail = NULL;
        q->n--;
        m->next = NULL;
        return m;
}

/* Moves all of `from` in front of `to`. */
static void queue_prepend_all(Queue *to, Queue *from) {
        if (!from->head)
                return;
        from->tail->next = to->head;
        if (!to->tail)
                to->tail = from->tail;
        to->head = from->head;
        to->n += from->n;
        *from = (Queue){};
}

/* Frees every message of q, counting them by kind into dropped[] unless NULL. */
static size_t queue_free_all(Queue *q, uint64_t *dropped) {
        size_t n = 0;

        for (Message *m; (m = queue_pop(q)); n++) {
                if (dropped)
                        dropped[m->kind]++;
                free(m);
        }
        return n;
}

static Message *message_new(MessageKind kind, const char *routing_key, const char *id, char *body) {
        size_t k = strlen(routing_key) + 1, i = strlen(id) + 1, b = strlen(body);
        Message *m = malloc(sizeof(Message) + k + i + b + 1);

        if (!m)
                return NULL;
        *m = (Message){.kind = kind, .body_len = b};
        m->routing_key = memcpy(m->data, routing_key, k);
        m->id = memcpy(m->data + k, id, i);
        m->body = memcpy(m->data + k + i, body, b + 1);
        return m;
}

/* Under lock. The outbox policy: full -> drop the oldest queued sample, else an incoming sample
 * itself, else the oldest queued event. Returns 0 if m was queued, 1 if m itself was dropped. */
static int outbox_push_locked(AmqpSink *s, Message *m) {
        Queue *events = &s->outbox[MESSAGE_EVENT], *samples = &s->outbox[MESSAGE_SAMPLE];

        if (events->n + samples->n >= s->capacity) {
                if (samples->n > 0) {
                        free(queue_pop(samples));
                        s->stats.dropped_samples++;
                } else if (m->kind == MESSAGE_SAMPLE) {
                        free(m);
                        s->stats.dropped_samples++;
                        return 1;
                } else {
                        free(queue_pop(events));
                        s->stats.dropped_events++;
                }
        }
        m->seq = s->next_seq++;
        queue_append(&s->outbox[m->kind], m);
        s->stats.queued = events->n + samples->n;
        return 0;
}

/* Under lock: the oldest message of either queue. */
static Message *outbox_pop_locked(AmqpSink *s) {
        Queue *e = &s->outbox[MESSAGE_EVENT], *p = &s->outbox[MESSAGE_SAMPLE];
        Message *m;

        if (e->head && (!p->head || e->head->seq < p->head->seq))
                m = queue_pop(e);
        else
                m = queue_pop(p);
        s->stats.queued = e->n + p->n;
        return m;
}

static void wake_locked(AmqpSink *s) {
        if (s->wake_pending)
                return;
        s->wake_pending = true;
        (void) eventfd_write(s->wake_fd, 1);
}

/* Reads the eventfd (if it was written) and clears wake_pending. */
static void wake_clear(AmqpSink *s) {
        eventfd_t v;

        (void) eventfd_read(s->wake_fd, &v);
        pthread_mutex_lock(&s->lock);
        s->wake_pending = false;
        pthread_mutex_unlock(&s->lock);
}

/* I/O thread: tells the loop that the connection state changed (amqp_sink_state_fd()). Once per
 * connect and once per outage, not per failed attempt. */
static void state_changed(AmqpSink *s, bool up) {
        if (!up && s->down_reported)
                return;
        s->down_reported = !up;
        (void) eventfd_write(s->state_fd, 1);
}

/* ---- The loop side ---- */

static int enqueue(AmqpSink *s, MessageKind kind, const char *routing_key, uint64_t sequence, char *body) {
        _cleanup_free_ char *id = NULL;
        EventJsonContext ctx = {.instance = s->instance, .sequence = sequence};
        Message *m;
        int r;

        r = event_json_id(&ctx, &id);
        if (r < 0)
                return r;
        m = message_new(kind, routing_key, id, body);
        if (!m)
                return -ENOMEM;

        pthread_mutex_lock(&s->lock);
        r = outbox_push_locked(s, m);
        wake_locked(s);
        pthread_mutex_unlock(&s->lock);
        return r;
}

/* The sequence of the CloudEvents id: only the loop thread emits, but an atomic costs nothing
 * and keeps ids unique should a second thread ever call in. */
static uint64_t next_sequence(AmqpSink *s) {
        return __atomic_add_fetch(&s->sequence, 1, __ATOMIC_RELAXED);
}

int amqp_sink_emit(AmqpSink *s, const Event *e) {
        _cleanup_free_ char *key = NULL, *body = NULL;
        uint64_t seq = next_sequence(s);
        EventJsonContext ctx = {.host = s->host, .dyno = s->dyno, .instance = s->instance, .sequence = seq};
        int r;

        r = event_json_event_routing_key(e, s->host, s->dyno, &key);
        if (r < 0)
                return r;
        r = event_json_format_event(e, &ctx, &body);
        if (r < 0)
                return r;
        r = enqueue(s, MESSAGE_EVENT, key, seq, body);
        return r < 0 ? r : 0;
}

int amqp_sink_sample(AmqpSink *s, const MemorySampleRecord *rec) {
        _cleanup_free_ char *key = NULL, *body = NULL;
        uint64_t seq;
        EventJsonContext ctx = {.host = s->host, .dyno = s->dyno, .instance = s->instance};
        int r;

        if (!rec || !rec->worker)
                return -EINVAL;
        ctx.sequence = seq = next_sequence(s);
        r = event_json_routing_key(s->host, s->dyno, rec->worker, "sample", &key);
        if (r < 0)
                return r;
        r = event_json_format_sample(rec, &ctx, &body);
        if (r < 0)
                return r;
        return enqueue(s, MESSAGE_SAMPLE, key, seq, body);
}

int amqp_sink_state_fd(AmqpSink *s) {
        return s->state_fd;
}

void amqp_sink_stats(AmqpSink *s, AmqpStats *ret) {
        pthread_mutex_lock(&s->lock);
        *ret = s->stats;
        pthread_mutex_unlock(&s->lock);
}

/* ---- The I/O thread ---- */

static void set_error(AmqpSink *s, const char *format, ...) _printf_(2, 3);
static void set_error(AmqpSink *s, const char *format, ...) {
        char buf[sizeof(s->stats.last_error)];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);
        pthread_mutex_lock(&s->lock);
        memcpy(s->stats.last_error, buf, sizeof(buf));
        pthread_mutex_unlock(&s->lock);
}

/* Describes a failed RPC reply as "what: why" in last_error. Returns -EIO. */
static int rpc_error(AmqpSink *s, const char *what, amqp_rpc_reply_t r) {
        const amqp_connection_close_t *cc;
        const amqp_channel_close_t *ch;

        switch (r.reply_type) {
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
                set_error(s, "%s: %s", what, amqp_error_string2(r.library_error));
                break;
        case AMQP_RESPONSE_SERVER_EXCEPTION:
                if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
                        cc = r.reply.decoded;
                        set_error(s, "%s: connection closed by the broker: %u %.*s", what, cc->reply_code,
                                  (int) cc->reply_text.len, (const char *) cc->reply_text.bytes);
                } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
                        ch = r.reply.decoded;
                        set_error(s, "%s: channel closed by the broker: %u %.*s", what, ch->reply_code,
                                  (int) ch->reply_text.len, (const char *) ch->reply_text.bytes);
                } else
                        set_error(s, "%s: unexpected method 0x%08x", what, r.reply.id);
                break;
        default:
                set_error(s, "%s: no reply", what);
        }
        return -EIO;
}

static bool rpc_ok(amqp_rpc_reply_t r) {
        return r.reply_type == AMQP_RESPONSE_NORMAL;
}

static int connection_open(AmqpSink *s) {
        struct timeval tv = CONNECT_TIMEOUT;
        amqp_rpc_reply_t reply;
        amqp_socket_t *sock;
        int r;

        s->conn = amqp_new_connection();
        if (!s->conn) {
                set_error(s, "out of memory");
                return -ENOMEM;
        }
        sock = s->ssl ? amqp_ssl_socket_new(s->conn) : amqp_tcp_socket_new(s->conn);
        if (!sock) {
                set_error(s, "cannot create a %s socket", s->ssl ? "TLS" : "TCP");
                return -ENOMEM;
        }
        if (s->ssl) {
                amqp_ssl_socket_set_verify_peer(sock, 1);
                amqp_ssl_socket_set_verify_hostname(sock, 1);
                r = amqp_ssl_socket_set_cacert(sock, s->ca_file);
                if (r != AMQP_STATUS_OK) {
                        set_error(s, "CA file %s: %s", s->ca_file, amqp_error_string2(r));
                        return -EIO;
                }
        }

        r = amqp_socket_open_noblock(sock, s->server, s->port, &tv);
        if (r != AMQP_STATUS_OK) {
                set_error(s, "connect to %s:%d: %s", s->server, s->port, amqp_error_string2(r));
                return -EIO;
        }
        /* From here on amqp_sink_free() can shut the socket down under a stuck handshake. */
        pthread_mutex_lock(&s->lock);
        s->sockfd = amqp_get_sockfd(s->conn);
        pthread_mutex_unlock(&s->lock);
        (void) amqp_set_handshake_timeout(s->conn, &tv);
        (void) amqp_set_rpc_timeout(s->conn, &tv);

        /* amqp_login() returns its reply: amqp_get_rpc_reply() does not know it. */
        reply = amqp_login(s->conn, s->vhost, 0, FRAME_MAX, (int) s->heartbeat_sec, AMQP_SASL_METHOD_PLAIN, s->user,
                           s->password);
        if (!rpc_ok(reply))
                return rpc_error(s, "login", reply);
        if (!amqp_channel_open(s->conn, CHANNEL))
                return rpc_error(s, "channel.open", amqp_get_rpc_reply(s->conn));
        if (!amqp_exchange_declare(s->conn, CHANNEL, amqp_cstring_bytes(s->exchange), amqp_cstring_bytes("topic"),
                                   /* passive= */ 0, /* durable= */ 1, /* auto_delete= */ 0, /* internal= */ 0,
                                   amqp_empty_table))
                return rpc_error(s, "exchange.declare", amqp_get_rpc_reply(s->conn));
        if (!amqp_confirm_select(s->conn, CHANNEL))
                return rpc_error(s, "confirm.select", amqp_get_rpc_reply(s->conn));

        s->next_tag = 0;
        pthread_mutex_lock(&s->lock);
        s->stats.connected = true;
        s->stats.connects++;
        s->stats.reconnects = s->stats.connects - 1;
        s->stats.last_error[0] = 0;
        pthread_mutex_unlock(&s->lock);
        return 0;
}

/* Ends the connection: politely when `graceful` (bounded by the RPC timeout), then frees it. The
 * unacked messages go back in front of the resend queue. */
static void connection_close(AmqpSink *s, bool graceful) {
        if (!s->conn)
                return;
        if (graceful) {
                (void) amqp_channel_close(s->conn, CHANNEL, AMQP_REPLY_SUCCESS);
                (void) amqp_connection_close(s->conn, AMQP_REPLY_SUCCESS);
        }
        queue_prepend_all(&s->resend, &s->unacked);
        pthread_mutex_lock(&s->lock);
        s->sockfd = -EBADF;
        s->stats.connected = false;
        s->stats.in_flight = s->resend.n;
        pthread_mutex_unlock(&s->lock);
        (void) amqp_destroy_connection(s->conn);
        s->conn = NULL;
}

static int publish(AmqpSink *s, Message *m) {
        amqp_basic_properties_t props = {
                ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                          AMQP_BASIC_APP_ID_FLAG,
                .content_type = amqp_cstring_bytes(EVENT_JSON_CONTENT_TYPE),
                .delivery_mode = m->kind == MESSAGE_EVENT ? AMQP_DELIVERY_PERSISTENT : AMQP_DELIVERY_NONPERSISTENT,
                .message_id = amqp_cstring_bytes(m->id),
                .app_id = amqp_cstring_bytes(APP_ID),
        };
        int r;

        r = amqp_basic_publish(s->conn, CHANNEL, amqp_cstring_bytes(s->exchange), amqp_cstring_bytes(m->routing_key),
                               /* mandatory= */ 1, /* immediate= */ 0, &props,
                               (amqp_bytes_t){.len = m->body_len, .bytes = m->body});
        if (r != AMQP_STATUS_OK) {
                set_error(s, "basic.publish: %s", amqp_error_string2(r));
                return -EIO;
        }
        m->delivery_tag = ++s->next_tag;
        return 0;
}

/* basic.ack / basic.nack: settles `tag`, or every tag up to it when `multiple`. */
static void settle(AmqpSink *s, uint64_t tag, bool multiple, bool ack) {
        uint64_t n = 0;

        if (multiple) {
                while (s->unacked.head && s->unacked.head->delivery_tag <= tag) {
                        free(queue_pop(&s->unacked));
                        n++;
                }
        } else {
                /* RabbitMQ settles in order, so this is the head but for the odd case. */
                for (Message **p = &s->unacked.head, *prev = NULL; *p; prev = *p, p = &(*p)->next)
                        if ((*p)->delivery_tag == tag) {
                                Message *m = *p;

                                *p = m->next;
                                if (s->unacked.tail == m)
                                        s->unacked.tail = prev;
                                s->unacked.n--;
                                free(m);
                                n = 1;
                                break;
                        }
        }

        pthread_mutex_lock(&s->lock);
        if (ack)
                s->stats.confirmed += n;
        else
                s->stats.nacked += n;
        s->stats.in_flight = s->unacked.n + s->resend.n;
        pthread_mutex_unlock(&s->lock);
}

/* Handles every frame already received, without waiting for more. Returns 0, or -EIO when the
 * connection is gone (or closed by the broker), with last_error set. */
static int drain_frames(AmqpSink *s) {
        for (;;) {
                struct timeval tv = {.tv_usec = 1};
                amqp_frame_t f;
                int r;

                r = amqp_simple_wait_frame_noblock(s->conn, &f, &tv);
                if (r == AMQP_STATUS_TIMEOUT)
                        return 0;
                if (r != AMQP_STATUS_OK) {
                        set_error(s, "connection lost: %s", amqp_error_string2(r));
                        return -EIO;
                }
                if (f.frame_type != AMQP_FRAME_METHOD)
                        continue;

                switch (f.payload.method.id) {
                case AMQP_BASIC_ACK_METHOD: {
                        const amqp_basic_ack_t *a = f.payload.method.decoded;
                        settle(s, a->delivery_tag, a->multiple, /* ack= */ true);
                        break;
                }
                case AMQP_BASIC_NACK_METHOD: {
                        const amqp_basic_nack_t *a = f.payload.method.decoded;
                        settle(s, a->delivery_tag, a->multiple, /* ack= */ false);
                        break;
                }
                case AMQP_BASIC_RETURN_METHOD: {
                        /* Header and body follow; the ack of the message comes after them. */
                        amqp_message_t msg;
                        amqp_rpc_reply_t rr = amqp_read_message(s->conn, f.channel, &msg, 0);

                        if (!rpc_ok(rr))
                                return rpc_error(s, "basic.return", rr);
                        amqp_destroy_message(&msg);
                        pthread_mutex_lock(&s->lock);
                        s->stats.returned++;
                        pthread_mutex_unlock(&s->lock);
                        break;
                }
                case AMQP_CHANNEL_CLOSE_METHOD: {
                        const amqp_channel_close_t *c = f.payload.method.decoded;
                        amqp_channel_close_ok_t ok = {};

                        set_error(s, "channel closed by the broker: %u %.*s", c->reply_code, (int) c->reply_text.len,
                                  (const char *) c->reply_text.bytes);
                        (void) amqp_send_method(s->conn, f.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
                        return -EIO;
                }
                case AMQP_CONNECTION_CLOSE_METHOD: {
                        const amqp_connection_close_t *c = f.payload.method.decoded;
                        amqp_connection_close_ok_t ok = {};

                        set_error(s, "connection closed by the broker: %u %.*s", c->reply_code, (int) c->reply_text.len,
                                  (const char *) c->reply_text.bytes);
                        (void) amqp_send_method(s->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
                        return -EIO;
                }
                default:
                        break; /* connection.blocked/unblocked and the like: nothing to do */
                }
                amqp_maybe_release_buffers(s->conn);
        }
}

/* Publishes, reads confirms and waits, until the connection fails (-EIO) or a stop is due
 * (0: everything settled, or the flush time ran out). */
static int connection_run(AmqpSink *s) {
        int hb_msec = (int) MAX(1U, s->heartbeat_sec) * 1000 / 4;

        for (;;) {
                struct pollfd p[2] = {
                        {.fd = amqp_get_sockfd(s->conn), .events = POLLIN},
                        {.fd = s->wake_fd, .events = POLLIN},
                };
                bool stopping, idle;
                usec_t deadline;
                int r, timeout;

                while (s->unacked.n < AMQP_SINK_WINDOW) {
                        Message *m = queue_pop(&s->resend);
                        bool resend = m;

                        if (!m) {
                                pthread_mutex_lock(&s->lock);
                                m = outbox_pop_locked(s);
                                pthread_mutex_unlock(&s->lock);
                        }
                        if (!m)
                                break;
                        r = publish(s, m);
                        if (r < 0) {
                                m->next = s->resend.head; /* not sent: first again next time */
                                s->resend.head = m;
                                if (!s->resend.tail)
                                        s->resend.tail = m;
                                s->resend.n++;
                                return r;
                        }
                        queue_append(&s->unacked, m);
                        pthread_mutex_lock(&s->lock);
                        s->stats.published++;
                        s->stats.resent += resend;
                        s->stats.in_flight = s->unacked.n + s->resend.n;
                        pthread_mutex_unlock(&s->lock);
                }

                r = drain_frames(s);
                if (r < 0)
                        return r;

                pthread_mutex_lock(&s->lock);
                stopping = s->stopping;
                deadline = s->stop_deadline;
                idle = s->stats.queued == 0 && s->resend.n == 0 && s->unacked.n == 0;
                pthread_mutex_unlock(&s->lock);
                if (stopping && (idle || now_usec() >= deadline))
                        return 0;

                timeout = s->unacked.n > 0 ? MIN(BUSY_POLL_MSEC, hb_msec) : hb_msec;
                if (stopping)
                        timeout = MIN(timeout, (int) ((deadline - now_usec()) / USEC_PER_MSEC) + 1);
                if (poll(p, 2, timeout) < 0 && errno != EINTR) {
                        set_error(s, "poll: %s", strerror(errno));
                        return -EIO;
                }
                if (p[1].revents & POLLIN)
                        wake_clear(s);
        }
}

/* Sleeps for the backoff (doubling from 100 ms to 30 s, with "equal jitter": half fixed, half
 * random, so that a fleet reconnecting at once spreads out). Returns true if asked to stop. */
static bool backoff_wait(AmqpSink *s) {
        usec_t d = s->backoff_usec, until;

        s->rng ^= s->rng << 13;
        s->rng ^= s->rng >> 7;
        s->rng ^= s->rng << 17;
        until = now_usec() + d / 2 + s->rng % (d / 2 + 1);
        s->backoff_usec = MIN(d * 2, AMQP_SINK_BACKOFF_MAX_USEC);

        for (;;) {
                struct pollfd p = {.fd = s->wake_fd, .events = POLLIN};
                usec_t n = now_usec();
                bool stopping;

                pthread_mutex_lock(&s->lock);
                stopping = s->stopping;
                pthread_mutex_unlock(&s->lock);
                if (stopping)
                        return true;
                if (n >= until)
                        return false;
                if (poll(&p, 1, (int) ((until - n + USEC_PER_MSEC - 1) / USEC_PER_MSEC)) > 0)
                        wake_clear(s);
        }
}

static void *io_thread(void *userdata) {
        AmqpSink *s = userdata;
        uint64_t dropped[_MESSAGE_KIND_MAX] = {};

        s->backoff_usec = AMQP_SINK_BACKOFF_MIN_USEC;
        for (;;) {
                bool stopping;
                int r;

                pthread_mutex_lock(&s->lock);
                stopping = s->stopping;
                pthread_mutex_unlock(&s->lock);
                if (stopping)
                        break;

                r = connection_open(s);
                if (r < 0) {
                        connection_close(s, /* graceful= */ false);
                        state_changed(s, /* up= */ false);
                        if (backoff_wait(s))
                                break;
                        continue;
                }
                s->backoff_usec = AMQP_SINK_BACKOFF_MIN_USEC;
                state_changed(s, /* up= */ true);

                r = connection_run(s);
                connection_close(s, /* graceful= */ r >= 0);
                if (r >= 0)
                        break;
                state_changed(s, /* up= */ false);
                if (backoff_wait(s))
                        break;
        }

        /* What never got confirmed is lost: count it. */
        (void) queue_free_all(&s->resend, dropped);
        (void) queue_free_all(&s->unacked, dropped);
        pthread_mutex_lock(&s->lock);
        for (MessageKind k = 0; k < _MESSAGE_KIND_MAX; k++)
                (void) queue_free_all(&s->outbox[k], dropped);
        s->stats.dropped_events += dropped[MESSAGE_EVENT];
        s->stats.dropped_samples += dropped[MESSAGE_SAMPLE];
        s->stats.queued = s->stats.in_flight = 0;
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

/* ---- Life cycle ---- */

static void free_secret(char *p) {
        if (p) {
                explicit_bzero(p, strlen(p));
                free(p);
        }
}

void amqp_sink_stop(AmqpSink *s) {
        if (s->thread_started) {
                struct timespec ts;
                usec_t deadline = now_usec() + AMQP_SINK_FLUSH_USEC;

                pthread_mutex_lock(&s->lock);
                s->stopping = true;
                s->stop_deadline = deadline;
                s->wake_pending = false;
                wake_locked(s);
                pthread_mutex_unlock(&s->lock);

                /* A write stuck on a broker that stopped reading would outlast the flush time:
                 * shut the socket down under it, then wait for the thread for real. */
                (void) clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += (time_t) (AMQP_SINK_FLUSH_USEC / USEC_PER_SEC) + 1;
                if (pthread_timedjoin_np(s->thread, NULL, &ts) != 0) {
                        pthread_mutex_lock(&s->lock);
                        if (s->sockfd >= 0)
                                (void) shutdown(s->sockfd, SHUT_RDWR);
                        pthread_mutex_unlock(&s->lock);
                        (void) pthread_join(s->thread, NULL);
                }
                s->thread_started = false;
        }
}

AmqpSink *amqp_sink_free(AmqpSink *s) {
        if (!s)
                return NULL;

        amqp_sink_stop(s);
        for (MessageKind k = 0; k < _MESSAGE_KIND_MAX; k++)
                (void) queue_free_all(&s->outbox[k], NULL);
        safe_close(s->wake_fd);
        safe_close(s->state_fd);
        pthread_mutex_destroy(&s->lock);
        free(s->server);
        free(s->user);
        free_secret(s->password);
        free(s->vhost);
        free(s->exchange);
        free(s->host);
        free(s->dyno);
        free(s->ca_file);
        free(s);
        return NULL;
}

/* Reads a password file: the first line, one trailing "\n" (or "\r\n") stripped. Returns 0 and
 * *ret, -EBADMSG for a NUL byte or a second line, -EFBIG above PASSWORD_MAX bytes, errors of
 * open()/read(), -ENOMEM. */
static int read_password(const char *path, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[PASSWORD_MAX + 2];
        size_t n = 0;
        char *p;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        while (n < sizeof(buf)) {
                ssize_t k = read(fd, buf + n, sizeof(buf) - n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        explicit_bzero(buf, sizeof(buf));
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (n > PASSWORD_MAX + 1) {
                explicit_bzero(buf, sizeof(buf));
                return -EFBIG;
        }
        if (n > 0 && buf[n - 1] == '\n')
                n--;
        if (n > 0 && buf[n - 1] == '\r')
                n--;
        if (memchr(buf, 0, n) || memchr(buf, '\n', n)) {
                explicit_bzero(buf, sizeof(buf));
                return -EBADMSG;
        }
        p = strndup(buf, n);
        explicit_bzero(buf, sizeof(buf));
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static bool credential_name_is_valid(const char *s) {
        return s && *s && strlen(s) <= 255 && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int parse_url(AmqpSink *s, const char *url) {
        struct amqp_connection_info ci;
        char *buf = strdup(url);
        int r = 0;

        if (!buf)
                return -ENOMEM;
        if (amqp_parse_url(buf, &ci) != AMQP_STATUS_OK) {
                free_secret(buf);
                return -EINVAL;
        }
        /* "amqp://host/" names the empty vhost by the letter of the URI spec; RabbitMQ has none,
         * and every user means the default one, as most clients take it. */
        s->server = strdup(ci.host);
        s->user = strdup(ci.user);
        s->password = strdup(ci.password);
        s->vhost = strdup(*ci.vhost ? ci.vhost : "/");
        s->port = ci.port;
        s->ssl = ci.ssl;
        if (!s->server || !s->user || !s->password || !s->vhost)
                r = -ENOMEM;
        free_secret(buf);
        return r;
}

static int strdup_or(const char *s, const char *fallback, char **ret) {
        *ret = strdup(s ?: fallback);
        return *ret ? 0 : -ENOMEM;
}

int amqp_sink_new(const AmqpSinkOptions *o, AmqpSink **ret) {
        _cleanup_(amqp_sink_freep) AmqpSink *s = NULL;
        uint8_t random[16];
        sigset_t all, saved;
        char hostname[256];
        int r;

        if (!o || !o->url || !o->exchange || !*o->exchange || (o->password_file && o->credential))
                return -EINVAL;
        if (o->credential && !credential_name_is_valid(o->credential))
                return -EINVAL;

        s = calloc(1, sizeof(AmqpSink));
        if (!s)
                return -ENOMEM;
        s->wake_fd = s->state_fd = s->sockfd = -EBADF;
        pthread_mutex_init(&s->lock, NULL);
        s->capacity = o->outbox_capacity > 0 ? o->outbox_capacity : AMQP_SINK_DEFAULT_OUTBOX;
        s->heartbeat_sec = o->heartbeat_sec > 0 ? o->heartbeat_sec : AMQP_SINK_DEFAULT_HEARTBEAT_SEC;

        r = parse_url(s, o->url);
        if (r < 0)
                return r;

        if (o->password_file || o->credential) {
                _cleanup_free_ char *path = NULL;
                const char *dir = getenv("CREDENTIALS_DIRECTORY");
                char *pw = NULL;

                if (o->credential) {
                        if (!dir || !*dir)
                                return -ENXIO;
                        if (asprintf(&path, "%s/%s", dir, o->credential) < 0)
                                return -ENOMEM;
                }
                r = read_password(path ?: o->password_file, &pw);
                if (r < 0)
                        return r;
                free_secret(s->password);
                s->password = pw;
        }

        if (!o->host) {
                if (gethostname(hostname, sizeof(hostname) - 1) < 0)
                        return -errno;
                hostname[sizeof(hostname) - 1] = 0;
        }
        if ((r = strdup_or(o->exchange, NULL, &s->exchange)) < 0 || (r = strdup_or(o->host, hostname, &s->host)) < 0 ||
            (r = strdup_or(o->dyno, DEFAULT_DYNO, &s->dyno)) < 0 ||
            (r = strdup_or(o->ca_file, DEFAULT_CA_FILE, &s->ca_file)) < 0)
                return r;

        /* The instance makes ids unique across restarts of the daemon and across hosts. */
        if (getrandom(random, sizeof(random), 0) != (ssize_t) sizeof(random))
                return errno > 0 ? -errno : -EIO;
        for (size_t i = 0; i < sizeof(random); i++)
                (void) snprintf(s->instance + 2 * i, 3, "%02x", random[i]);
        memcpy(&s->rng, random, sizeof(s->rng));
        s->rng |= 1; /* xorshift must not start at 0 */

        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->wake_fd < 0)
                return -errno;
        s->state_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->state_fd < 0)
                return -errno;

        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &saved);
        r = -pthread_create(&s->thread, NULL, io_thread, s);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        if (r < 0)
                return r;
        s->thread_started = true;
        (void) pthread_setname_np(s->thread, "cgwatch-amqp");

        *ret = TAKE_PTR(s);
        return 0;
}
