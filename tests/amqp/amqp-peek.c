/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The tests' consumer, a plain rabbitmq-c client independent of src/amqp.c:
 *
 *   amqp-peek setup URL EXCHANGE QUEUE BINDING   declare the topic exchange (durable) and a
 *                                                durable queue bound with BINDING
 *   amqp-peek drain URL QUEUE                    basic.get until the queue is empty; one line per
 *                                                message on stdout:
 *        ROUTING_KEY \t DELIVERY_MODE \t CONTENT_TYPE \t MESSAGE_ID \t APP_ID \t BODY
 *   amqp-peek consume URL QUEUE                  basic.consume (no-ack), the same lines, flushed
 *                                                one by one, until the connection ends (exit 0)
 *
 * Exit status 0, or 1 with the reason on stderr. */

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail_reply(const char *what, amqp_rpc_reply_t r) {
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
                fprintf(stderr, "amqp-peek: %s: %s\n", what, amqp_error_string2(r.library_error));
        else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
                amqp_channel_close_t *c = r.reply.decoded;
                fprintf(stderr, "amqp-peek: %s: %.*s\n", what, (int) c->reply_text.len, (char *) c->reply_text.bytes);
        } else
                fprintf(stderr, "amqp-peek: %s: failed (reply type %d)\n", what, r.reply_type);
        return 1;
}

static void print_bytes(amqp_bytes_t b) {
        fwrite(b.bytes, 1, b.len, stdout);
}

static void print_message(amqp_bytes_t routing_key, const amqp_message_t *msg) {
        print_bytes(routing_key);
        printf("\t%d\t", msg->properties._flags & AMQP_BASIC_DELIVERY_MODE_FLAG ? msg->properties.delivery_mode : 0);
        if (msg->properties._flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
                print_bytes(msg->properties.content_type);
        putchar('\t');
        if (msg->properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
                print_bytes(msg->properties.message_id);
        putchar('\t');
        if (msg->properties._flags & AMQP_BASIC_APP_ID_FLAG)
                print_bytes(msg->properties.app_id);
        putchar('\t');
        print_bytes(msg->body);
        putchar('\n');
}

int main(int argc, char **argv) {
        struct amqp_connection_info ci;
        amqp_connection_state_t conn;
        amqp_socket_t *sock;
        amqp_rpc_reply_t r;
        char *url;

        if (argc < 4 || (strcmp(argv[1], "setup") == 0 && argc != 6) ||
            ((strcmp(argv[1], "drain") == 0 || strcmp(argv[1], "consume") == 0) && argc != 4)) {
                fprintf(stderr, "usage: amqp-peek setup URL EXCHANGE QUEUE BINDING | drain|consume URL QUEUE\n");
                return 2;
        }
        url = strdup(argv[2]);
        if (!url || amqp_parse_url(url, &ci) != AMQP_STATUS_OK) {
                fprintf(stderr, "amqp-peek: bad URL\n");
                return 1;
        }
        conn = amqp_new_connection();
        sock = amqp_tcp_socket_new(conn);
        if (!sock || amqp_socket_open(sock, ci.host, ci.port) != AMQP_STATUS_OK) {
                fprintf(stderr, "amqp-peek: cannot connect to %s:%d\n", ci.host, ci.port);
                return 1;
        }
        r = amqp_login(conn, *ci.vhost ? ci.vhost : "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password);
        if (r.reply_type != AMQP_RESPONSE_NORMAL)
                return fail_reply("login", r);
        amqp_channel_open(conn, 1);
        if ((r = amqp_get_rpc_reply(conn)).reply_type != AMQP_RESPONSE_NORMAL)
                return fail_reply("channel.open", r);

        if (strcmp(argv[1], "consume") == 0) {
                amqp_basic_consume(conn, 1, amqp_cstring_bytes(argv[3]), amqp_empty_bytes, 0, /* no_ack= */ 1, 0,
                                   amqp_empty_table);
                if ((r = amqp_get_rpc_reply(conn)).reply_type != AMQP_RESPONSE_NORMAL)
                        return fail_reply("basic.consume", r);
                for (;;) {
                        amqp_envelope_t env;

                        amqp_maybe_release_buffers(conn);
                        r = amqp_consume_message(conn, &env, NULL, 0);
                        if (r.reply_type != AMQP_RESPONSE_NORMAL)
                                return 0; /* the broker went away: the caller starts us again */
                        print_message(env.routing_key, &env.message);
                        fflush(stdout);
                        amqp_destroy_envelope(&env);
                }
        }

        if (strcmp(argv[1], "setup") == 0) {
                amqp_exchange_declare(conn, 1, amqp_cstring_bytes(argv[3]), amqp_cstring_bytes("topic"), 0, 1, 0, 0,
                                      amqp_empty_table);
                if ((r = amqp_get_rpc_reply(conn)).reply_type != AMQP_RESPONSE_NORMAL)
                        return fail_reply("exchange.declare", r);
                amqp_queue_declare(conn, 1, amqp_cstring_bytes(argv[4]), 0, /* durable= */ 1, 0, 0, amqp_empty_table);
                if ((r = amqp_get_rpc_reply(conn)).reply_type != AMQP_RESPONSE_NORMAL)
                        return fail_reply("queue.declare", r);
                amqp_queue_bind(conn, 1, amqp_cstring_bytes(argv[4]), amqp_cstring_bytes(argv[3]),
                                amqp_cstring_bytes(argv[5]), amqp_empty_table);
                if ((r = amqp_get_rpc_reply(conn)).reply_type != AMQP_RESPONSE_NORMAL)
                        return fail_reply("queue.bind", r);
        } else {
                for (;;) {
                        amqp_message_t msg;
                        amqp_basic_get_ok_t *ok;

                        r = amqp_basic_get(conn, 1, amqp_cstring_bytes(argv[3]), /* no_ack= */ 1);
                        if (r.reply_type != AMQP_RESPONSE_NORMAL)
                                return fail_reply("basic.get", r);
                        if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
                                break;
                        ok = r.reply.decoded;
                        amqp_bytes_t key = amqp_bytes_malloc_dup(ok->routing_key);
                        r = amqp_read_message(conn, 1, &msg, 0);
                        if (r.reply_type != AMQP_RESPONSE_NORMAL)
                                return fail_reply("read message", r);
                        print_message(key, &msg);
                        amqp_bytes_free(key);
                        amqp_destroy_message(&msg);
                        amqp_maybe_release_buffers(conn);
                }
        }

        amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
        amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(conn);
        free(url);
        return 0;
}
