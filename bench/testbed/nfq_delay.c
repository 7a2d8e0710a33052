/* Fixed one-way packet delay through NFQUEUE (this kernel has no sch_netem).
 *
 * The C twin of nfq_delay.py, same options, output and stats file. The Python delayer falls
 * behind past a few thousand packets a second (two threads sharing the GIL, a syscall and a
 * sleep per packet), so under load the bed's round trip grew with the load rather than stay
 * what it claims. This one runs a single loop: read every queued packet the socket holds, then
 * release every packet whose hold is over in one batched send, then sleep until the next is due
 * or a packet arrives. The delay is constant, so the packets wait in a FIFO ring.
 *
 *   cc -O2 -o nfq_delay nfq_delay.c
 *   nfq_delay --queue 0 --delay-ms 20 --stats FILE [--drop-percent P [--seed N]]
 *
 * --drop-percent drops that share of the queued packets (each one independently, from a
 * seeded generator so a run can be repeated), as netem's loss would: TCP then retransmits,
 * and what that costs shows in the phases and in the socket's TCP_INFO. Only this C delayer
 * drops; nfq_delay.py has no such option.
 *
 * Stats (packets, hold-time min/mean/p50/p99/max in microseconds, packets held over 1 ms too
 * long) are written to FILE every second and on exit, so the applied delay is measured.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RING (1u << 17)     /* more than the queue's 65,536 packets */
#define BUCKET_US 10        /* hold-time histogram resolution */
#define BUCKETS 1000000     /* up to 10 s */
#define BATCH 256           /* verdicts per send */

struct held { uint64_t due_ns, t0_ns; uint32_t id; };

static struct held ring[RING];
static uint32_t head, tail;
static uint32_t hist[BUCKETS];
static uint64_t count, late_1ms, dropped;
static uint32_t drop_below; /* a packet is dropped when its draw is below this (of 2^32) */
static uint64_t rng = 0x9e3779b97f4a7c15u;
static double sum_us, min_us = 1e18, max_us;
static volatile sig_atomic_t stop;
static int fd;
static uint16_t qnum;
static uint32_t seq;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "nfq_delay: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Appends one nfnetlink message (header, nfgenmsg, attributes) to buf; returns its length. */
static size_t msg(char *buf, int type, int flags, const void *attrs, size_t alen) {
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    struct nfgenmsg *g = (struct nfgenmsg *)(buf + NLMSG_HDRLEN);
    h->nlmsg_len = NLMSG_HDRLEN + sizeof *g + alen;
    h->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
    h->nlmsg_flags = NLM_F_REQUEST | flags;
    h->nlmsg_seq = ++seq;
    h->nlmsg_pid = 0;
    g->nfgen_family = AF_UNSPEC;
    g->version = NFNETLINK_V0;
    g->res_id = htons(qnum);
    memcpy(buf + NLMSG_HDRLEN + sizeof *g, attrs, alen);
    return NLMSG_ALIGN(h->nlmsg_len);
}

static size_t attr(char *buf, int type, const void *payload, size_t n) {
    struct nlattr *a = (struct nlattr *)buf;
    a->nla_len = NLA_HDRLEN + n;
    a->nla_type = type;
    memcpy(buf + NLA_HDRLEN, payload, n);
    return NLA_ALIGN(a->nla_len);
}

static void config(const char *attrs, size_t alen) {
    char buf[256], reply[4096];
    size_t n = msg(buf, NFQNL_MSG_CONFIG, NLM_F_ACK, attrs, alen);
    if (send(fd, buf, n, 0) < 0) die("config send");
    ssize_t r = recv(fd, reply, sizeof reply, 0);
    if (r < 0) die("config recv");
    struct nlmsghdr *h = (struct nlmsghdr *)reply;
    if (h->nlmsg_type == NLMSG_ERROR) {
        int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
        if (err) { errno = -err; die("nfqueue config"); }
    }
}

static void bind_queue(void) {
    char a[128];
    size_t n;
    struct nfqnl_msg_config_cmd cmd = { .command = NFQNL_CFG_CMD_BIND };
    n = attr(a, NFQA_CFG_CMD, &cmd, sizeof cmd);
    config(a, n);
    struct nfqnl_msg_config_params p = { .copy_range = 0, .copy_mode = NFQNL_COPY_META };
    uint32_t maxlen = htonl(65536), gso = htonl(NFQA_CFG_F_GSO);
    n = attr(a, NFQA_CFG_PARAMS, &p, sizeof p);
    n += attr(a + n, NFQA_CFG_QUEUE_MAXLEN, &maxlen, 4);
    n += attr(a + n, NFQA_CFG_MASK, &gso, 4);
    n += attr(a + n, NFQA_CFG_FLAGS, &gso, 4);
    config(a, n);
}

static void unbind_queue(void) {
    char a[16], buf[64];
    struct nfqnl_msg_config_cmd cmd = { .command = NFQNL_CFG_CMD_UNBIND };
    size_t n = attr(a, NFQA_CFG_CMD, &cmd, sizeof cmd);
    send(fd, buf, msg(buf, NFQNL_MSG_CONFIG, 0, a, n), 0);
}

/* xorshift64*: fast, and the same sequence for the same --seed. */
static uint32_t draw(void) {
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545f4914f6cdd1du) >> 32);
}

/* Drops one packet at once (a verdict of its own: the ring holds only delayed packets). */
static void drop(uint32_t id) {
    char buf[64], a[16];
    struct nfqnl_msg_verdict_hdr v = { htonl(NF_DROP), htonl(id) };
    size_t alen = attr(a, NFQA_VERDICT_HDR, &v, sizeof v);
    if (send(fd, buf, msg(buf, NFQNL_MSG_VERDICT, 0, a, alen), 0) < 0 && errno != ENOBUFS) die("drop send");
    dropped++;
}

/* Reads every message the socket holds and queues its packets. */
static void receive(uint64_t delay_ns) {
    static char buf[1 << 20];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            die("recv");
        }
        uint64_t now = now_ns();
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)r); h = NLMSG_NEXT(h, r)) {
            if (h->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) continue;
            char *p = (char *)NLMSG_DATA(h) + sizeof(struct nfgenmsg);
            char *end = (char *)h + h->nlmsg_len;
            while (p + NLA_HDRLEN <= end) {
                struct nlattr *a = (struct nlattr *)p;
                if (a->nla_len < NLA_HDRLEN) break;
                if ((a->nla_type & NLA_TYPE_MASK) == NFQA_PACKET_HDR) {
                    struct nfqnl_msg_packet_hdr *ph = (void *)(p + NLA_HDRLEN);
                    if (drop_below && draw() < drop_below) drop(ntohl(ph->packet_id));
                    else if (tail - head < RING) ring[tail++ % RING] = (struct held){ now + delay_ns, now, ntohl(ph->packet_id) };
                    break;
                }
                p += NLA_ALIGN(a->nla_len);
            }
        }
    }
}

static void account(uint64_t hold_ns, uint64_t delay_ns) {
    double us = hold_ns / 1e3;
    count++;
    sum_us += us;
    if (us < min_us) min_us = us;
    if (us > max_us) max_us = us;
    if (hold_ns > delay_ns + 1000000) late_1ms++;
    uint64_t b = hold_ns / 1000 / BUCKET_US;
    hist[b < BUCKETS ? b : BUCKETS - 1]++;
}

/* Releases every packet whose hold is over, in batches of one send each. */
static void release(uint64_t delay_ns, int all) {
    static char buf[BATCH * 64];
    while (head != tail) {
        size_t n = 0;
        int k = 0;
        uint64_t now = now_ns();
        while (head != tail && k < BATCH && (all || ring[head % RING].due_ns <= now)) {
            struct held *h = &ring[head++ % RING];
            struct nfqnl_msg_verdict_hdr v = { htonl(NF_ACCEPT), htonl(h->id) };
            char a[16];
            size_t alen = attr(a, NFQA_VERDICT_HDR, &v, sizeof v);
            n += msg(buf + n, NFQNL_MSG_VERDICT, 0, a, alen);
            if (!all) account(now - h->t0_ns, delay_ns);
            k++;
        }
        if (k == 0) return;
        if (send(fd, buf, n, 0) < 0 && errno != ENOBUFS) die("verdict send");
    }
}

static uint64_t pct(double p) {
    uint64_t want = (uint64_t)(count * p + 0.5), acc = 0;
    if (want < 1) want = 1;
    for (uint32_t i = 0; i < BUCKETS; i++)
        if ((acc += hist[i]) >= want) return (uint64_t)i * BUCKET_US + BUCKET_US / 2;
    return 0;
}

static void write_stats(const char *path, double delay_ms) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "{\"queue\": %u, \"delay_ms\": %.3f, \"packets\": %llu, \"dropped\": %llu", qnum, delay_ms,
            (unsigned long long)count, (unsigned long long)dropped);
    if (count)
        fprintf(f, ", \"hold_us_min\": %.1f, \"hold_us_mean\": %.1f, \"hold_us_p50\": %llu, \"hold_us_p99\": %llu, "
                   "\"hold_us_max\": %.1f, \"late_over_1ms\": %llu",
                min_us, sum_us / count, (unsigned long long)pct(0.5), (unsigned long long)pct(0.99), max_us,
                (unsigned long long)late_1ms);
    fprintf(f, "}\n");
    fclose(f);
    rename(tmp, path);
}

static void on_signal(int s) { (void)s; stop = 1; }

int main(int argc, char **argv) {
    double delay_ms = -1, drop_pct = 0;
    const char *stats = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--queue")) qnum = (uint16_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--delay-ms")) delay_ms = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--stats")) stats = argv[i + 1];
        else if (!strcmp(argv[i], "--drop-percent")) drop_pct = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) rng = strtoull(argv[i + 1], NULL, 10) * 2 + 1;
        else { fprintf(stderr, "nfq_delay: unknown option %s\n", argv[i]); return 2; }
    }
    if (delay_ms < 0) { fprintf(stderr, "usage: nfq_delay --delay-ms MS [--queue N] [--stats FILE] [--drop-percent P] [--seed N]\n"); return 2; }
    if (drop_pct < 0 || drop_pct > 100) { fprintf(stderr, "nfq_delay: --drop-percent %g: give 0 to 100\n", drop_pct); return 2; }
    drop_below = (uint32_t)(drop_pct / 100 * 4294967295.0);
    uint64_t delay_ns = (uint64_t)(delay_ms * 1e6);

    fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
    if (fd < 0) die("socket");
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
    int big = 8 << 20, one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
    bind_queue();

    struct sigaction act = { .sa_handler = on_signal };
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    printf("nfq_delay: queue %u delay %g ms drop %g%% ready\n", qnum, delay_ms, drop_pct);
    fflush(stdout);

    uint64_t next_stats = now_ns() + 1000000000u, last_count = (uint64_t)-1;
    while (!stop) {
        uint64_t now = now_ns();
        uint64_t wake = next_stats;
        if (head != tail && ring[head % RING].due_ns < wake) wake = ring[head % RING].due_ns;
        uint64_t wait = wake > now ? wake - now : 0;
        struct timespec ts = { wait / 1000000000u, wait % 1000000000u };
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (ppoll(&pfd, 1, &ts, NULL) > 0) receive(delay_ns);
        release(delay_ns, 0);
        if (now_ns() >= next_stats) {
            next_stats += 1000000000u;
            if (stats && count != last_count) { last_count = count; write_stats(stats, delay_ms); }
        }
    }
    release(delay_ns, 1); /* no flow is left hanging */
    unbind_queue();
    if (stats) write_stats(stats, delay_ms);
    printf("nfq_delay: exit after %llu packets\n", (unsigned long long)count);
    return 0;
}
