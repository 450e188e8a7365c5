/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatchctl fleet: the fleet view. Reads RabbitMQ, not D-Bus: it declares a private queue
 * (server-named, exclusive, auto-delete), binds it to the exchange with cgwatch.#, listens for
 * --duration seconds (or until SIGINT or SIGTERM) and hands every body to fleet.c's table: every
 * host, dyno and worker heard of, with state, memory against budget, recycles per hour by reason
 * (over the time it listened), leak verdict and rate, and the last event. Samples carry each
 * worker's standing, so one SampleIntervalSec of listening shows the whole fleet.
 *
 * Built with -iquote src like amqp.c: rabbitmq-c's <amqp.h> must not find src/amqp.h. */

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "fleet.h"

#define CTL_EXIT_USAGE       64
#define CTL_EXIT_UNAVAILABLE 69
#define DEFAULT_URL          "amqp://guest:guest@127.0.0.1:5672/"
#define DEFAULT_EXCHANGE     "cgwatch"
#define DEFAULT_DURATION     15.0
#define DEFAULT_CA_FILE      "/etc/ssl/certs/ca-certificates.crt"
#define PASSWORD_MAX         4096

static double now_sec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int rpc_failed(const char *what, amqp_rpc_reply_t r) {
        if (r.reply_type == AMQP_RESPONSE_NORMAL)
                return 0;
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
                fprintf(stderr, "Failed to %s: %s\n", what, amqp_error_string2(r.library_error));
        else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
                const amqp_connection_close_t *c = r.reply.decoded;
                fprintf(stderr, "Failed to %s: %.*s\n", what, (int) c->reply_text.len,
                        (const char *) c->reply_text.bytes);
        } else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
                const amqp_channel_close_t *c = r.reply.decoded;
                fprintf(stderr, "Failed to %s: %.*s\n", what, (int) c->reply_text.len,
                        (const char *) c->reply_text.bytes);
        } else
                fprintf(stderr, "Failed to %s.\n", what);
        return CTL_EXIT_FAILURE;
}

/* The first line of `path`, for the password. Returns 0, or a negative errno. */
static int read_first_line(const char *path, char *buf, size_t size) {
        FILE *f = fopen(path, "re");

        if (!f)
                return -errno;
        if (!fgets(buf, (int) size, f))
                buf[0] = 0;
        fclose(f);
        buf[strcspn(buf, "\r\n")] = 0;
        return 0;
}

static int listen_fleet(const char *url_arg, const char *password_file, const char *exchange, double duration,
                        Fleet *fleet, double *ret_listened) {
        _cleanup_free_ char *url = strdup(url_arg);
        char password[PASSWORD_MAX + 2];
        struct amqp_connection_info ci;
        amqp_connection_state_t conn;
        amqp_socket_t *sock;
        amqp_queue_declare_ok_t *q;
        amqp_bytes_t queue;
        struct timeval tv = {.tv_sec = 5};
        sigset_t stop_signals, old_mask;
        double start, end;
        int r, sfd = -1;

        if (!url || amqp_parse_url(url, &ci) != AMQP_STATUS_OK) {
                fprintf(stderr, "Invalid AMQP URL (expected amqp[s]://[user[:password]@]host[:port][/vhost]).\n");
                return CTL_EXIT_USAGE;
        }
        if (password_file) {
                r = read_first_line(password_file, password, sizeof password);
                if (r < 0) {
                        fprintf(stderr, "Failed to read %s: %s\n", password_file, strerror(-r));
                        return CTL_EXIT_FAILURE;
                }
                ci.password = password;
        }

        conn = amqp_new_connection();
        sock = ci.ssl ? amqp_ssl_socket_new(conn) : amqp_tcp_socket_new(conn);
        if (!sock) {
                amqp_destroy_connection(conn);
                return CTL_EXIT_FAILURE;
        }
        if (ci.ssl) {
                amqp_ssl_socket_set_verify_peer(sock, 1);
                amqp_ssl_socket_set_verify_hostname(sock, 1);
                (void) amqp_ssl_socket_set_cacert(sock, DEFAULT_CA_FILE);
        }
        r = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
        if (r != AMQP_STATUS_OK) {
                fprintf(stderr, "Failed to connect to %s:%d: %s\n", ci.host, ci.port, amqp_error_string2(r));
                explicit_bzero(password, sizeof password);
                amqp_destroy_connection(conn);
                return CTL_EXIT_UNAVAILABLE;
        }
        r = rpc_failed("log in", amqp_login(conn, *ci.vhost ? ci.vhost : "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                                            ci.user, ci.password));
        explicit_bzero(password, sizeof password);
        if (r == 0) {
                amqp_channel_open(conn, 1);
                r = rpc_failed("open a channel", amqp_get_rpc_reply(conn));
        }
        if (r == 0) {
                /* Private: named by the broker, ours alone, gone when we disconnect. */
                q = amqp_queue_declare(conn, 1, amqp_empty_bytes, 0, 0, /* exclusive= */ 1, /* auto_delete= */ 1,
                                       amqp_empty_table);
                r = rpc_failed("declare a queue", amqp_get_rpc_reply(conn));
                if (r == 0)
                        queue = amqp_bytes_malloc_dup(q->queue);
        }
        if (r == 0) {
                amqp_queue_bind(conn, 1, queue, amqp_cstring_bytes(exchange), amqp_cstring_bytes("cgwatch.#"),
                                amqp_empty_table);
                r = rpc_failed("bind to the exchange (does it exist? cgwatchd declares it)", amqp_get_rpc_reply(conn));
                if (r == 0) {
                        amqp_basic_consume(conn, 1, queue, amqp_empty_bytes, 0, /* no_ack= */ 1, 0, amqp_empty_table);
                        r = rpc_failed("consume", amqp_get_rpc_reply(conn));
                }
                amqp_bytes_free(queue);
        }

        /* SIGINT or SIGTERM ends the listening early, and what was heard is printed: on a signalfd,
         * polled beside the connection's socket (rabbitmq-c's own poll retries on EINTR). */
        if (r == 0) {
                sigemptyset(&stop_signals);
                sigaddset(&stop_signals, SIGINT);
                sigaddset(&stop_signals, SIGTERM);
                if (sigprocmask(SIG_BLOCK, &stop_signals, &old_mask) < 0 ||
                    (sfd = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
                        fprintf(stderr, "Failed to watch for SIGINT: %s\n", strerror(errno));
                        r = CTL_EXIT_FAILURE;
                }
        }
        start = now_sec();
        end = start + duration;
        while (r == 0) {
                double left = end - now_sec();
                struct timeval t;
                amqp_envelope_t env;
                amqp_rpc_reply_t rr;

                if (left <= 0)
                        break;
                if (ci.ssl) {
                        /* OpenSSL may hold decrypted bytes that poll() cannot see: no poll on the
                         * socket, but the wait is cut to 0.5 s so that a signal is seen that soon. */
                        struct pollfd p = {.fd = sfd, .events = POLLIN};

                        if (poll(&p, 1, 0) > 0)
                                break;
                        if (left > 0.5)
                                left = 0.5;
                } else if (!amqp_frames_enqueued(conn) && !amqp_data_in_buffer(conn)) {
                        struct pollfd p[2] = {{.fd = amqp_get_sockfd(conn), .events = POLLIN},
                                              {.fd = sfd, .events = POLLIN}};
                        int n = poll(p, 2, (int) (left * 1000) + 1);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0) {
                                fprintf(stderr, "Failed to wait for messages: %s\n", strerror(errno));
                                r = CTL_EXIT_FAILURE;
                                break;
                        }
                        if (p[1].revents & POLLIN)
                                break;
                        if (n == 0)
                                continue; /* the duration is checked at the top */
                        left = end - now_sec();
                        if (left <= 0)
                                break;
                }
                t = (struct timeval){.tv_sec = (time_t) left,
                                     .tv_usec = (long) ((left - (double) (time_t) left) * 1e6)};
                amqp_maybe_release_buffers(conn);
                rr = amqp_consume_message(conn, &env, &t, 0);
                if (rr.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && rr.library_error == AMQP_STATUS_TIMEOUT)
                        continue; /* the duration, or the SSL wait's cut, is over: checked at the top */
                if (rr.reply_type != AMQP_RESPONSE_NORMAL) {
                        r = rpc_failed("receive", rr);
                        break;
                }
                if (fleet_add(fleet, env.message.body.bytes, env.message.body.len) < 0) {
                        amqp_destroy_envelope(&env);
                        fprintf(stderr, "Out of memory.\n");
                        r = CTL_EXIT_FAILURE;
                        break;
                }
                amqp_destroy_envelope(&env);
        }
        *ret_listened = now_sec() - start;
        if (sfd >= 0) {
                /* Taken off the queue first: unblocked, a pending SIGINT would kill us before we
                 * print what we heard. */
                struct signalfd_siginfo si;

                while (read(sfd, &si, sizeof si) == (ssize_t) sizeof si)
                        ;
                close(sfd);
                (void) sigprocmask(SIG_SETMASK, &old_mask, NULL);
        }

        (void) amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
        (void) amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(conn);
        return r;
}

enum { ARG_AMQP = 0x200, ARG_PASSWORD_FILE, ARG_EXCHANGE, ARG_DURATION };

static const struct option fleet_options[] = {
        {"amqp", required_argument, NULL, ARG_AMQP},
        {"password-file", required_argument, NULL, ARG_PASSWORD_FILE},
        {"exchange", required_argument, NULL, ARG_EXCHANGE},
        {"duration", required_argument, NULL, ARG_DURATION},
        {},
};

static const char *arg_url = DEFAULT_URL, *arg_exchange = DEFAULT_EXCHANGE, *arg_password_file;
static double arg_duration = DEFAULT_DURATION;

static int parse_fleet_option(int c, const char *arg) {
        char *end;

        switch (c) {
        case ARG_AMQP:
                arg_url = arg;
                return 0;
        case ARG_PASSWORD_FILE:
                arg_password_file = arg;
                return 0;
        case ARG_EXCHANGE:
                arg_exchange = arg;
                return 0;
        case ARG_DURATION:
                errno = 0;
                arg_duration = strtod(arg, &end);
                if (errno != 0 || end == arg || *end || !(arg_duration > 0 && arg_duration <= 86400)) {
                        fprintf(stderr, "Invalid --duration '%s' (seconds, above 0, at most 86400).\n", arg);
                        return CTL_EXIT_USAGE;
                }
                return 0;
        default:
                return CTL_EXIT_USAGE;
        }
}

static int run_fleet(Ctl *ctl, int argc, char *argv[]) {
        double listened = 0;
        Fleet fleet = {};
        int r;

        r = listen_fleet(arg_url, arg_password_file, arg_exchange, arg_duration, &fleet, &listened);
        if (r == 0) {
                fleet_sort(&fleet);
                if (ctl_arg.json) {
                        json_object *o = fleet_to_json(&fleet, listened);

                        if (!o) {
                                fprintf(stderr, "Out of memory.\n");
                                r = CTL_EXIT_FAILURE;
                        } else
                                ctl_json_print(o, /* one_line= */ false);
                } else
                        fleet_print(&fleet, listened, stdout);
        }
        fleet_done(&fleet);
        return r;
}

const CtlCommand ctl_command_fleet = {
        .name = "fleet",
        .help = "Every host, dyno and worker publishing to RabbitMQ (--amqp URL, --duration SEC)",
        .flags = CTL_READ | CTL_NO_BUS,
        .options = fleet_options,
        .parse_option = parse_fleet_option,
        .run = run_fleet,
};
