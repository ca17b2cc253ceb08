/* A closed-loop gRPC unary load generator in C (HTTP/2 over cleartext, libnghttp2).
 *
 * Why: on a 2-core machine the Python grpc.aio client costs as much CPU per call as the server
 * it measures; this one costs a few microseconds, so the benchmark measures the server.  It does
 * what ghz or h2load do, plus the one thing they cannot: every call carries its own idempotency
 * key, written into a fixed-width placeholder of a message the caller serialised.
 *
 *   loadgen HOST PORT PATH TOKEN CLIENTS CONNECTIONS WARMUP_S SECONDS FRAME_FILE KEY_OFFSET TAG
 *
 * FRAME_FILE holds one gRPC length-prefixed message; KEY_OFFSET is where its 24-byte key
 * placeholder starts; each key is TAG (up to 8 characters), the client and its call count.  Each
 * of CLIENTS keeps one call in flight, on connection (client mod
 * CONNECTIONS), back to back until WARMUP_S + SECONDS have passed.  A call counts as ok only if
 * its trailers say grpc-status 0.  Output on stdout: "ok N", "errors N", "error STATUS MESSAGE"
 * for the first failure, then one latency in microseconds per line, for the ok calls that started
 * after the warm-up.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN 24
#define DRAIN_S 10.0

typedef struct {
    int index;
    long long sent;
    int conn;
    double started;
    size_t offset;   /* bytes of the frame handed to nghttp2 so far */
    uint8_t *frame;  /* this client's copy of the frame, with its own key */
    char status[8];
    char message[256];
} Client;

typedef struct {
    int fd;
    nghttp2_session *session;
} Conn;

static const char *host, *port, *path, *token, *tag;
static uint8_t *frame_template;
static size_t frame_len, key_offset;
static Client *clients;
static Conn *conns;
static int n_clients, n_conns;
static double warm_at, end_at;
static long long ok_count, error_count;
static int in_flight;
static char first_error[320];
static double *latencies;
static size_t n_latencies, cap_latencies;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t length, int flags, void *user_data) {
    (void)session; (void)flags;
    Conn *conn = user_data;
    ssize_t n = send(conn->fd, data, length, MSG_NOSIGNAL);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
    return n;
}

static ssize_t read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data) {
    (void)session; (void)stream_id; (void)user_data;
    Client *c = source->ptr;
    size_t left = frame_len - c->offset, n = left < length ? left : length;
    memcpy(buf, c->frame + c->offset, n);
    c->offset += n;
    if (c->offset == frame_len) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data) {
    (void)flags; (void)user_data;
    Client *c = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (c == NULL) return 0;
    if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        size_t n = valuelen < sizeof c->status - 1 ? valuelen : sizeof c->status - 1;
        memcpy(c->status, value, n);
        c->status[n] = 0;
    } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        size_t n = valuelen < sizeof c->message - 1 ? valuelen : sizeof c->message - 1;
        memcpy(c->message, value, n);
        c->message[n] = 0;
    }
    return 0;
}

static void start(Client *c);

static int on_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data) {
    (void)user_data;
    Client *c = nghttp2_session_get_stream_user_data(session, stream_id);
    if (c == NULL) return 0;
    double finished = now();
    in_flight--;
    if (error_code == 0 && strcmp(c->status, "0") == 0) {
        if (c->started >= warm_at) {
            ok_count++;
            if (n_latencies == cap_latencies) {
                cap_latencies = cap_latencies ? 2 * cap_latencies : 1 << 16;
                latencies = realloc(latencies, cap_latencies * sizeof *latencies);
                if (latencies == NULL) die("realloc");
            }
            latencies[n_latencies++] = (finished - c->started) * 1e6;
        }
    } else {
        if (error_count++ == 0)
            snprintf(first_error, sizeof first_error, "%s %s (h2 error %u)", c->status[0] ? c->status : "none",
                     c->message, error_code);
    }
    if (finished < end_at) start(c);
    return 0;
}

#define HEADER(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

static void start(Client *c) {
    char key[KEY_LEN + 1];
    snprintf(key, sizeof key, "%-8.8s-%04d-%010lld", tag, c->index, c->sent++);
    memcpy(c->frame + key_offset, key, KEY_LEN);
    c->offset = 0;
    c->status[0] = c->message[0] = 0;
    static char authority[300], bearer[600];
    snprintf(authority, sizeof authority, "%s:%s", host, port);
    snprintf(bearer, sizeof bearer, "Bearer %s", token);
    nghttp2_nv headers[] = {
        HEADER(":method", "POST"), HEADER(":scheme", "http"), HEADER(":authority", authority),
        HEADER(":path", path), HEADER("content-type", "application/grpc"), HEADER("te", "trailers"),
        HEADER("authorization", bearer), HEADER("user-agent", "allmende-loadgen"),
    };
    nghttp2_data_provider body = {.source.ptr = c, .read_callback = read_body};
    c->started = now();
    in_flight++;
    Conn *conn = &conns[c->conn];
    if (nghttp2_submit_request(conn->session, NULL, headers, sizeof headers / sizeof *headers, &body, c) < 0) {
        fprintf(stderr, "loadgen: nghttp2_submit_request failed\n");
        exit(2);
    }
}

static int connect_to(void) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0) die("getaddrinfo");
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) die("connect");
    freeaddrinfo(res);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

int main(int argc, char **argv) {
    if (argc != 12) {
        fprintf(stderr, "usage: loadgen HOST PORT PATH TOKEN CLIENTS CONNECTIONS WARMUP_S SECONDS FRAME_FILE KEY_OFFSET TAG\n");
        return 2;
    }
    host = argv[1]; port = argv[2]; path = argv[3]; token = argv[4];
    n_clients = atoi(argv[5]); n_conns = atoi(argv[6]);
    double warmup = atof(argv[7]), seconds = atof(argv[8]);
    key_offset = (size_t)atol(argv[10]); tag = argv[11];
    if (n_clients < 1 || n_conns < 1) { fprintf(stderr, "loadgen: CLIENTS and CONNECTIONS must be >= 1\n"); return 2; }
    if (n_conns > n_clients) n_conns = n_clients;

    FILE *f = fopen(argv[9], "rb");
    if (f == NULL) die(argv[9]);
    fseek(f, 0, SEEK_END);
    frame_len = (size_t)ftell(f);
    rewind(f);
    frame_template = malloc(frame_len);
    if (fread(frame_template, 1, frame_len, f) != frame_len) die("read frame");
    fclose(f);
    if (key_offset + KEY_LEN > frame_len) { fprintf(stderr, "loadgen: KEY_OFFSET outside the frame\n"); return 2; }

    nghttp2_session_callbacks *callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_send_callback(callbacks, on_send);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_close);

    conns = calloc((size_t)n_conns, sizeof *conns);
    for (int i = 0; i < n_conns; i++) {
        conns[i].fd = connect_to();
        nghttp2_session_client_new(&conns[i].session, callbacks, &conns[i]);
        nghttp2_submit_settings(conns[i].session, NGHTTP2_FLAG_NONE, NULL, 0);
    }
    double t0 = now();
    warm_at = t0 + warmup;
    end_at = warm_at + seconds;
    clients = calloc((size_t)n_clients, sizeof *clients);
    for (int i = 0; i < n_clients; i++) {
        clients[i].index = i;
        clients[i].conn = i % n_conns;
        clients[i].frame = malloc(frame_len);
        memcpy(clients[i].frame, frame_template, frame_len);
        start(&clients[i]);
    }

    struct pollfd *fds = calloc((size_t)n_conns, sizeof *fds);
    uint8_t buf[65536];
    /* Until the end, then until the calls still in flight have answered (at most DRAIN_S more). */
    while (in_flight > 0 && now() < end_at + DRAIN_S) {
        for (int i = 0; i < n_conns; i++) {
            if (nghttp2_session_send(conns[i].session) != 0) { fprintf(stderr, "loadgen: send failed\n"); return 2; }
            fds[i].fd = conns[i].fd;
            fds[i].events = POLLIN | (nghttp2_session_want_write(conns[i].session) ? POLLOUT : 0);
        }
        if (poll(fds, (nfds_t)n_conns, 100) < 0 && errno != EINTR) die("poll");
        for (int i = 0; i < n_conns; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n;
            while ((n = recv(conns[i].fd, buf, sizeof buf, 0)) > 0)
                if (nghttp2_session_mem_recv(conns[i].session, buf, (size_t)n) < 0) {
                    fprintf(stderr, "loadgen: bad HTTP/2 from the server\n");
                    return 2;
                }
            if (n == 0) { fprintf(stderr, "loadgen: the server closed the connection\n"); return 2; }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) die("recv");
        }
    }
    if (in_flight > 0) { fprintf(stderr, "loadgen: %d calls unanswered %g s after the end\n", in_flight, DRAIN_S); return 2; }
    printf("ok %lld\nerrors %lld\n", ok_count, error_count);
    if (error_count) printf("error %s\n", first_error);
    for (size_t i = 0; i < n_latencies; i++) printf("%.1f\n", latencies[i]);
    for (int i = 0; i < n_conns; i++) {
        nghttp2_session_del(conns[i].session);
        close(conns[i].fd);
    }
    nghttp2_session_callbacks_del(callbacks);
    return 0;
}
