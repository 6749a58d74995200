// SPDX-License-Identifier: GPL-2.0-only
/*
 * speeprobe - the network probe of the end-to-end tests and the demo.
 *
 * One small tool instead of socat wherever the tests need a precise answer:
 * "connected", "refused by a RST", "no answer within N ms" and "refused
 * locally (EPERM)" are different exit codes, a long-lived stream proves that
 * no byte of an allowed flow was lost, and raw frames (built elsewhere, given
 * as hex) can be sent and watched for.
 *
 * Used by tests/e2e/lib.sh; run `speeprobe --help` for commands and exit codes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

enum exit_code {
	EXIT_CONNECTED = 0,
	EXIT_REFUSED = 1, /* ECONNREFUSED: a RST or an ICMP port unreachable came back */
	EXIT_TIMEOUT = 2, /* no answer in time: dropped somewhere */
	EXIT_DENIED = 3,  /* EPERM/EACCES: refused locally, by policy */
	EXIT_ERROR = 4,	  /* anything else (unreachable, reset, resolve failure, ...) */
	EXIT_DATA = 5,	  /* connected, but the echoed data was wrong, short, reset or stalled */
	EXIT_USAGE = 64,
};

static const char usage_text[] =
    "usage: speeprobe COMMAND ...\n"
    "\n"
    "  listen [--udp] ADDR PORT[,PORT|,LO-HI...] [--echo] [--max-seconds N] [--quiet]\n"
    "      Listen on every port (ADDR may be :: for v4+v6, 0.0.0.0, or one address).\n"
    "      TCP: accept, then close at once, or echo with --echo. UDP: every datagram\n"
    "      is answered with itself, from the address it was sent to. Prints\n"
    "      'listening ...' once every socket is bound, then one line per connection\n"
    "      or datagram. Exits 0 after --max-seconds (default 300) or on SIGTERM/SIGINT.\n"
    "  connect ADDR PORT [--timeout-ms N] [--send BYTES] [--expect-echo] [-4|-6]\n"
    "          [--from ADDR] [--sport N]\n"
    "      Non-blocking connect, bounded by --timeout-ms (default 1000). --send sends\n"
    "      BYTES bytes of a counted pattern; --expect-echo checks they come back.\n"
    "  udp ADDR PORT [--timeout-ms N] [--send-hex HEX] [-4|-6] [--from ADDR] [--sport N]\n"
    "      [--unconnected] [--via ADDR]\n"
    "      Send one datagram (default 'speeprobe') and wait for any reply. The socket\n"
    "      is connected first, unless --unconnected (sendto names the address).\n"
    "      --via ADDR: a source route through ADDR to ADDR PORT (IPv6: a segment\n"
    "      routing header, IPV6_RTHDR; IPv4: a loose source route, IP_OPTIONS).\n"
    "  icmp ADDR --type N [--code N] [--hop-limit N] [--data-hex HEX]\n"
    "      Send one ICMP (IPv4 ADDR) or ICMPv6 message of that type and code from a raw\n"
    "      socket: 8 bytes of header (checksummed), then the data.\n"
    "  tun IFACE --send HEX [--expect HEX@OFFSET]... [--timeout-ms N]\n"
    "      Attach to the existing tun device IFACE (tun mode, no packet information),\n"
    "      write one IP packet into it (as if it came in through the device), then\n"
    "      read what the host sends back through it for N ms (default 1000); exit 0\n"
    "      when a packet matches every --expect (OFFSET from the IP header), else 1.\n"
    "  stream ADDR PORT --seconds N [--rate-kbps N] [--stall-ms N] [--max-retrans N]\n"
    "         [--timeout-ms N] [-4|-6] [--from ADDR]\n"
    "      Send a counted byte stream (default 800 kbit/s) to an echo listener for N\n"
    "      seconds and check that every byte comes back in order; fails on a\n"
    "      mismatch, a reset, an early close, a wait longer than --stall-ms\n"
    "      (default 2000) for outstanding bytes, or more TCP retransmissions than\n"
    "      --max-retrans (default: not checked).\n"
    "  send-frame IFACE HEXFRAME [--count N] [--interval-ms N]\n"
    "      Send a raw Ethernet frame (hex; spaces, ':', '-' and '.' are ignored).\n"
    "  watch IFACE --timeout-ms N [--match HEX@OFFSET]... [--count N] [--inbound]\n"
    "      Capture on IFACE for N ms; print frames that match every --match (HEX may\n"
    "      hold 'xx' for any byte; OFFSET is decimal, from the Ethernet header).\n"
    "      --count N stops after N matches; --inbound ignores frames sent by this\n"
    "      host. Prints 'watching IFACE' when the capture is open.\n"
    "\n"
    "ADDR is an IPv4 or IPv6 address or a name resolved through /etc/hosts and DNS.\n"
    "\n"
    "exit codes:\n"
    "  0  connected / reply received / stream intact / frame sent / a frame matched\n"
    "  1  refused: ECONNREFUSED (TCP RST or ICMP port unreachable); watch: no frame matched\n"
    "  2  timed out: no answer within --timeout-ms (dropped)\n"
    "  3  denied locally: EPERM or EACCES (e.g. a cgroup egress program)\n"
    "  4  any other error (unreachable, reset while connecting, bad interface, ...)\n"
    "  5  connected, but the data check failed (echo wrong or missing, reset, stall)\n"
    "  64 usage error\n";

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";

	return n ? n : "E?";
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "speeprobe: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nrun 'speeprobe --help' for usage\n");
	return EXIT_USAGE;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* The value of option argv[*i], advancing *i; NULL when missing. */
static const char *optval(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* ---- addresses ---------------------------------------------------------- */

struct target {
	struct sockaddr_storage ss;
	socklen_t len;
};

static void format_sa(const struct sockaddr *sa, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], a, sizeof(a));
			snprintf(buf, size, "%s:%u", a, ntohs(in6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
			snprintf(buf, size, "[%s]:%u", a, ntohs(in6->sin6_port));
		}
	} else {
		snprintf(buf, size, "(family %d)", sa->sa_family);
	}
}

/* ADDR may be a literal (v6 optionally in brackets) or a name. */
static int resolve(const char *host, long port, int family, int socktype, bool passive,
		   struct target *t)
{
	struct addrinfo hints = {.ai_family = family, .ai_socktype = socktype};
	struct addrinfo *res = NULL;
	char name[256], serv[8];
	size_t n = strlen(host);
	int rc;

	if (n >= sizeof(name)) {
		fprintf(stderr, "speeprobe: address too long: %s\n", host);
		return -1;
	}
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		memcpy(name, host + 1, n - 2);
		name[n - 2] = '\0';
	} else {
		memcpy(name, host, n + 1);
	}
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	snprintf(serv, sizeof(serv), "%ld", port);
	rc = getaddrinfo(name, serv, &hints, &res);
	if (rc) {
		fprintf(stderr, "speeprobe: cannot resolve %s: %s\n", host, gai_strerror(rc));
		return -1;
	}
	memcpy(&t->ss, res->ai_addr, res->ai_addrlen);
	t->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int bind_source(int fd, const char *from, long sport, int family)
{
	struct target src = {0};
	int one = 1;

	if (!from)
		from = family == AF_INET6 ? "::" : "0.0.0.0";
	if (resolve(from, sport, family, 0, true, &src))
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src.ss, src.len)) {
		fprintf(stderr, "speeprobe: bind %s port %ld: %s\n", from, sport, errname(errno));
		return -1;
	}
	return 0;
}

/* The verdict on a connect or send error, as an exit code and a word. */
static int classify(int err, const char **word)
{
	switch (err) {
	case 0:
		*word = "connected";
		return EXIT_CONNECTED;
	case ECONNREFUSED:
		*word = "refused";
		return EXIT_REFUSED;
	case ETIMEDOUT:
		*word = "timeout";
		return EXIT_TIMEOUT;
	case EPERM:
	case EACCES:
		*word = "denied";
		return EXIT_DENIED;
	default:
		*word = "error";
		return EXIT_ERROR;
	}
}

/* Byte OFF of the counted stream: big-endian 64-bit counters, one per 8 bytes,
 * so a lost, repeated or reordered chunk shows as a mismatch. */
static uint8_t pattern_byte(uint64_t off)
{
	return (uint8_t)((off / 8) >> (8 * (7 - off % 8)));
}

static void fill_pattern(uint8_t *buf, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern_byte(off + i);
}

/* ---- connect ------------------------------------------------------------ */

struct client_opts {
	const char *addr;
	long port;
	long timeout_ms;
	int family;
	const char *from;
	long sport;
};

/* Common option of connect, udp and stream; returns 1 when consumed, -1 on a bad value. */
static int client_option(struct client_opts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i];

	if (!strcmp(a, "-4")) {
		o->family = AF_INET;
	} else if (!strcmp(a, "-6")) {
		o->family = AF_INET6;
	} else if (!strcmp(a, "--timeout-ms")) {
		if (!parse_long(optval(argc, argv, i), 1, 3600000, &o->timeout_ms))
			return -1;
	} else if (!strcmp(a, "--from")) {
		o->from = optval(argc, argv, i);
		if (!o->from)
			return -1;
	} else if (!strcmp(a, "--sport")) {
		if (!parse_long(optval(argc, argv, i), 0, 65535, &o->sport))
			return -1;
	} else {
		return 0;
	}
	return 1;
}

/* With a literal --from, the target must be of its family. */
static void family_from_source(struct client_opts *o)
{
	struct in_addr a4;

	if (!o->from || o->family != AF_UNSPEC)
		return;
	if (strchr(o->from, ':'))
		o->family = AF_INET6;
	else if (inet_pton(AF_INET, o->from, &a4) == 1)
		o->family = AF_INET;
}

static int client_positional(struct client_opts *o, const char *a, int *npos)
{
	if (*npos == 0) {
		o->addr = a;
	} else if (*npos == 1) {
		if (!parse_long(a, 1, 65535, &o->port))
			return -1;
	} else {
		return -1;
	}
	++*npos;
	return 0;
}

/* Connects within o->timeout_ms; returns the errno of the outcome (0 connected,
 * ETIMEDOUT when no answer came) and the socket in *fdp; -1 on a setup error. */
static int tcp_connect(const struct client_opts *o, const struct target *t, int *fdp,
		       int64_t *elapsed)
{
	int64_t t0 = now_ms(), deadline = t0 + o->timeout_ms;
	int fd, err = 0;
	socklen_t len = sizeof(err);

	fd = socket(t->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "speeprobe: socket: %s\n", errname(errno));
		return -1;
	}
	if ((o->from || o->sport) && bind_source(fd, o->from, o->sport, t->ss.ss_family)) {
		close(fd);
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&t->ss, t->len) == 0)
		goto out;
	err = errno;
	while (err == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0) {
			err = ETIMEDOUT;
			break;
		}
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		if (n == 0) {
			err = ETIMEDOUT;
			break;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
	}
out:
	*elapsed = now_ms() - t0;
	*fdp = fd;
	return err;
}

/* Sends n pattern bytes and, when echo is set, reads them back within timeout_ms. */
static int exchange(int fd, long n, bool echo, long timeout_ms, char *why, size_t whylen)
{
	int64_t deadline = now_ms() + timeout_ms;
	uint8_t buf[4096];
	long sent = 0, got = 0;

	while (sent < n || (echo && got < n)) {
		struct pollfd p = {
		    .fd = fd, .events = (short)((sent < n ? POLLOUT : 0) | (echo ? POLLIN : 0))};
		int64_t left = deadline - now_ms();
		ssize_t r;

		if (left <= 0) {
			snprintf(why, whylen, "no echo in %ld ms (sent %ld, got %ld)", timeout_ms,
				 sent, got);
			return EXIT_DATA;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			snprintf(why, whylen, "poll: %s", errname(errno));
			return EXIT_ERROR;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = recv(fd, buf, sizeof(buf), 0);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				snprintf(why, whylen, "%s after %ld bytes echoed",
					 r == 0 ? "closed by peer" : errname(errno), got);
				return EXIT_DATA;
			}
			for (ssize_t i = 0; i < r; i++, got++) {
				if (got >= n || buf[i] != pattern_byte((uint64_t)got)) {
					snprintf(why, whylen, "echo differs at byte %ld", got);
					return EXIT_DATA;
				}
			}
		}
		if ((p.revents & POLLOUT) && sent < n) {
			size_t k =
			    (size_t)(n - sent) < sizeof(buf) ? (size_t)(n - sent) : sizeof(buf);

			fill_pattern(buf, k, (uint64_t)sent);
			r = send(fd, buf, k, MSG_NOSIGNAL);
			if (r < 0 && errno != EAGAIN && errno != EINTR) {
				snprintf(why, whylen, "send: %s", errname(errno));
				return EXIT_DATA;
			}
			if (r > 0)
				sent += r;
		}
	}
	return EXIT_CONNECTED;
}

static int cmd_connect(int argc, char **argv)
{
	struct client_opts o = {.timeout_ms = 1000, .family = AF_UNSPEC};
	struct target t;
	long send_n = 0;
	bool expect_echo = false;
	char where[80], why[128] = "";
	const char *word;
	int64_t elapsed;
	int npos = 0, fd = -1, err, code;

	for (int i = 1; i < argc; i++) {
		int r = client_option(&o, argc, argv, &i);

		if (r < 0)
			return usage_error("connect: bad value for %s", argv[i]);
		if (r > 0)
			continue;
		if (!strcmp(argv[i], "--send")) {
			if (!parse_long(optval(argc, argv, &i), 0, 1L << 30, &send_n))
				return usage_error("connect: bad value for %s", "--send");
		} else if (!strcmp(argv[i], "--expect-echo")) {
			expect_echo = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error("connect: unknown option %s", argv[i]);
		} else if (client_positional(&o, argv[i], &npos)) {
			return usage_error("connect: bad argument %s", argv[i]);
		}
	}
	if (npos != 2)
		return usage_error("connect: needs ADDR PORT%s", "");
	if (expect_echo && !send_n)
		send_n = 16;
	family_from_source(&o);
	if (resolve(o.addr, o.port, o.family, SOCK_STREAM, false, &t))
		return EXIT_ERROR;
	format_sa((struct sockaddr *)&t.ss, where, sizeof(where));

	err = tcp_connect(&o, &t, &fd, &elapsed);
	if (err < 0)
		return EXIT_ERROR;
	code = classify(err, &word);
	if (code == EXIT_CONNECTED && send_n)
		code = exchange(fd, send_n, expect_echo, o.timeout_ms, why, sizeof(why));
	close(fd);

	if (code == EXIT_CONNECTED)
		printf("connected %s in %lld ms%s\n", where, (long long)elapsed,
		       send_n ? (expect_echo ? ", echo ok" : ", data sent") : "");
	else if (code == EXIT_DATA || (code == EXIT_ERROR && why[0]))
		printf("data-error %s: %s\n", where, why);
	else if (code == EXIT_TIMEOUT)
		printf("timeout %s: no answer in %ld ms\n", where, o.timeout_ms);
	else
		printf("%s %s: %s after %lld ms\n", word, where, errname(err), (long long)elapsed);
	return code;
}

/* ---- udp ---------------------------------------------------------------- */

static int hex_decode(const char *s, uint8_t *out, size_t cap, bool *wild, size_t *len);

/*
 * A source route through `via` for the socket's sends: IPv6, a segment
 * routing header (RFC 8754) of two segments, via first, then the address
 * the send names (which the kernel writes into the last one); IPv4, a loose
 * source route (IP_OPTIONS; the kernel adds the final hop).
 */
static int source_route(int fd, int family, const char *via)
{
	uint8_t srh[40] = {0}, lsrr[8] = {1, 131, 7, 4};
	int err;

	if (family == AF_INET6) {
		srh[1] = 4; /* (40 - 8) / 8 */
		srh[2] = 4; /* segment routing */
		srh[3] = 1; /* segments left */
		srh[4] = 1; /* last entry */
		if (inet_pton(AF_INET6, via, srh + 24) != 1)
			return usage_error("udp: --via %s is not an IPv6 address", via);
		err = setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, srh, sizeof(srh));
	} else {
		if (inet_pton(AF_INET, via, lsrr + 4) != 1)
			return usage_error("udp: --via %s is not an IPv4 address", via);
		err = setsockopt(fd, IPPROTO_IP, IP_OPTIONS, lsrr, sizeof(lsrr));
	}
	if (err) {
		fprintf(stderr, "speeprobe: source route via %s: %s\n", via, errname(errno));
		return -1;
	}
	return 0;
}

static int cmd_udp(int argc, char **argv)
{
	struct client_opts o = {.timeout_ms = 1000, .family = AF_UNSPEC};
	uint8_t payload[2048] = "speeprobe", reply[4096];
	size_t plen = 9;
	struct target t;
	char where[80];
	const char *word, *via = NULL;
	bool unconnected = false;
	int64_t t0, deadline;
	int npos = 0, fd, code, sent;
	ssize_t r;

	for (int i = 1; i < argc; i++) {
		int rr = client_option(&o, argc, argv, &i);

		if (rr < 0)
			return usage_error("udp: bad value for %s", argv[i]);
		if (rr > 0)
			continue;
		if (!strcmp(argv[i], "--send-hex")) {
			const char *h = optval(argc, argv, &i);

			if (!h || hex_decode(h, payload, sizeof(payload), NULL, &plen))
				return usage_error("udp: bad hex for %s", "--send-hex");
		} else if (!strcmp(argv[i], "--unconnected")) {
			unconnected = true;
		} else if (!strcmp(argv[i], "--via")) {
			via = optval(argc, argv, &i);
			if (!via)
				return usage_error("udp: bad value for %s", "--via");
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error("udp: unknown option %s", argv[i]);
		} else if (client_positional(&o, argv[i], &npos)) {
			return usage_error("udp: bad argument %s", argv[i]);
		}
	}
	if (npos != 2)
		return usage_error("udp: needs ADDR PORT%s", "");
	family_from_source(&o);
	if (resolve(o.addr, o.port, o.family, SOCK_DGRAM, false, &t))
		return EXIT_ERROR;
	format_sa((struct sockaddr *)&t.ss, where, sizeof(where));

	fd = socket(t.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "speeprobe: socket: %s\n", errname(errno));
		return EXIT_ERROR;
	}
	if ((o.from || o.sport) && bind_source(fd, o.from, o.sport, t.ss.ss_family))
		return EXIT_ERROR;
	if (via && source_route(fd, t.ss.ss_family, via))
		return EXIT_ERROR;
	t0 = now_ms();
	deadline = t0 + o.timeout_ms;
	/* A connected socket, so that an ICMP port unreachable reports ECONNREFUSED. */
	if (unconnected)
		sent = (int)sendto(fd, payload, plen, 0, (struct sockaddr *)&t.ss, t.len);
	else if (!connect(fd, (struct sockaddr *)&t.ss, t.len))
		sent = (int)send(fd, payload, plen, 0);
	else
		sent = -1;
	if (sent < 0) {
		int err = errno;

		code = classify(err, &word);
		printf("%s %s: %s on send\n", word, where, errname(err));
		return code;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0) {
			printf("timeout %s: no reply in %ld ms\n", where, o.timeout_ms);
			return EXIT_TIMEOUT;
		}
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "speeprobe: poll: %s\n", errname(errno));
			return EXIT_ERROR;
		}
		if (n <= 0)
			continue;
		r = recv(fd, reply, sizeof(reply), 0);
		if (r >= 0) {
			printf("reply %s: %zd bytes in %lld ms\n", where, r,
			       (long long)(now_ms() - t0));
			return EXIT_CONNECTED;
		}
		if (errno == EAGAIN || errno == EINTR)
			continue;
		code = classify(errno, &word);
		printf("%s %s: %s after %lld ms\n", word, where, errname(errno),
		       (long long)(now_ms() - t0));
		return code;
	}
}

/* ---- stream ------------------------------------------------------------- */

static int cmd_stream(int argc, char **argv)
{
	struct client_opts o = {.timeout_ms = 2000, .family = AF_UNSPEC};
	long seconds = -1, rate_kbps = 800, stall_ms = 2000, max_retrans = -1;
	const uint64_t max_inflight = 1 << 20;
	uint64_t sent = 0, got = 0;
	int64_t start, end_send, last_progress, longest_wait = 0, elapsed;
	uint8_t buf[16384];
	struct target t;
	struct tcp_info ti = {0};
	socklen_t tilen = sizeof(ti);
	char where[80], why[160] = "";
	const char *word;
	bool eof = false;
	int npos = 0, fd = -1, err, code = EXIT_CONNECTED;

	for (int i = 1; i < argc; i++) {
		int r = client_option(&o, argc, argv, &i);
		long *target = NULL, lo = 0, hi = 0;

		if (r < 0)
			return usage_error("stream: bad value for %s", argv[i]);
		if (r > 0)
			continue;
		if (!strcmp(argv[i], "--seconds"))
			target = &seconds, lo = 0, hi = 86400;
		else if (!strcmp(argv[i], "--rate-kbps"))
			target = &rate_kbps, lo = 8, hi = 10000000;
		else if (!strcmp(argv[i], "--stall-ms"))
			target = &stall_ms, lo = 1, hi = 600000;
		else if (!strcmp(argv[i], "--max-retrans"))
			target = &max_retrans, lo = 0, hi = 1000000;
		if (target) {
			if (!parse_long(optval(argc, argv, &i), lo, hi, target))
				return usage_error("stream: bad value for %s", argv[i]);
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error("stream: unknown option %s", argv[i]);
		} else if (client_positional(&o, argv[i], &npos)) {
			return usage_error("stream: bad argument %s", argv[i]);
		}
	}
	if (npos != 2 || seconds < 0)
		return usage_error("stream: needs ADDR PORT --seconds N%s", "");
	family_from_source(&o);
	if (resolve(o.addr, o.port, o.family, SOCK_STREAM, false, &t))
		return EXIT_ERROR;
	format_sa((struct sockaddr *)&t.ss, where, sizeof(where));
	err = tcp_connect(&o, &t, &fd, &elapsed);
	if (err < 0)
		return EXIT_ERROR;
	code = classify(err, &word);
	if (code != EXIT_CONNECTED) {
		printf("%s %s: %s after %lld ms\n", word, where, errname(err), (long long)elapsed);
		close(fd);
		return code;
	}

	start = now_ms();
	end_send = start + seconds * 1000;
	last_progress = start;
	for (;;) {
		int64_t now = now_ms();
		bool sending = now < end_send && !stop_requested;
		uint64_t allowed = sent;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (!sending && got == sent)
			break;
		if (sending) {
			/* Pace: what the rate allows by now, one tick ahead. */
			allowed = (uint64_t)((now - start + 10) * rate_kbps / 8);
			if (allowed > got + max_inflight)
				allowed = got + max_inflight;
		}
		if (got == sent)
			last_progress = now; /* nothing outstanding: not waiting */
		else if (now - last_progress > longest_wait)
			longest_wait = now - last_progress;
		if (got < sent && now - last_progress > stall_ms) {
			snprintf(why, sizeof(why), "stalled: %llu bytes unanswered for %lld ms",
				 (unsigned long long)(sent - got),
				 (long long)(now - last_progress));
			code = EXIT_DATA;
			break;
		}
		if (allowed > sent)
			p.events |= POLLOUT;
		if (poll(&p, 1, 10) < 0 && errno != EINTR) {
			snprintf(why, sizeof(why), "poll: %s", errname(errno));
			code = EXIT_ERROR;
			break;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = recv(fd, buf, sizeof(buf), 0);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				snprintf(why, sizeof(why), "%s after %llu bytes echoed",
					 r == 0 ? "closed by peer" : errname(errno),
					 (unsigned long long)got);
				code = EXIT_DATA;
				break;
			}
			for (ssize_t i = 0; i < r; i++, got++) {
				if (got >= sent || buf[i] != pattern_byte(got)) {
					snprintf(why, sizeof(why), "echo differs at byte %llu",
						 (unsigned long long)got);
					code = EXIT_DATA;
					goto done;
				}
			}
			if (r > 0)
				last_progress = now_ms();
		}
		if ((p.revents & POLLOUT) && allowed > sent) {
			size_t k = allowed - sent < sizeof(buf) ? allowed - sent : sizeof(buf);

			fill_pattern(buf, k, sent);
			r = send(fd, buf, k, MSG_NOSIGNAL);
			if (r < 0 && errno != EAGAIN && errno != EINTR) {
				snprintf(why, sizeof(why), "send: %s after %llu bytes",
					 errname(errno), (unsigned long long)sent);
				code = EXIT_DATA;
				break;
			}
			if (r > 0) {
				if (got == sent)
					last_progress = now_ms();
				sent += (uint64_t)r;
			}
		}
	}
	if (code == EXIT_CONNECTED) {
		/* The echo listener closes when it reads our end of file. */
		int64_t deadline = now_ms() + stall_ms;

		shutdown(fd, SHUT_WR);
		while (!eof && now_ms() < deadline) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			ssize_t r;

			if (poll(&p, 1, 50) <= 0)
				continue;
			r = recv(fd, buf, sizeof(buf), 0);
			if (r == 0)
				eof = true;
			else if (r > 0 || (errno != EAGAIN && errno != EINTR))
				break;
		}
		if (!eof) {
			snprintf(why, sizeof(why), "no clean close after the stream");
			code = EXIT_DATA;
		}
	}
done:
	getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tilen);
	close(fd);
	if (code == EXIT_CONNECTED && max_retrans >= 0 && ti.tcpi_total_retrans > max_retrans) {
		snprintf(why, sizeof(why), "%u retransmissions, more than %ld",
			 ti.tcpi_total_retrans, max_retrans);
		code = EXIT_DATA;
	}
	printf("stream %s %s: sent %llu received %llu bytes in %.1f s, longest wait %lld ms, "
	       "retransmits %u%s%s\n",
	       code == EXIT_CONNECTED ? "ok" : "FAILED", where, (unsigned long long)sent,
	       (unsigned long long)got, (now_ms() - start) / 1000.0, (long long)longest_wait,
	       ti.tcpi_total_retrans, why[0] ? ": " : "", why);
	return code;
}

/* ---- listen ------------------------------------------------------------- */

#define MAX_PORTS 64
#define MAX_CONNS 256

struct conn {
	int fd;
	size_t len, off;
	char peer[80];
	uint8_t buf[16384];
};

static int parse_ports(const char *s, long *ports, int *n)
{
	char *copy = strdup(s), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return -1;
	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		long lo, hi;

		if (dash)
			*dash = '\0';
		if (!parse_long(tok, 1, 65535, &lo) ||
		    (dash ? !parse_long(dash + 1, lo, 65535, &hi) : (hi = lo, false)) ||
		    *n + (hi - lo + 1) > MAX_PORTS) {
			rc = -1;
			break;
		}
		for (long p = lo; p <= hi; p++)
			ports[(*n)++] = p;
	}
	free(copy);
	return rc || *n == 0 ? -1 : 0;
}

static int open_listener(const struct target *t, bool udp)
{
	int fd, one = 1, v6only;

	fd = socket(t->ss.ss_family,
		    (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (t->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&t->ss;

		/* "::" serves IPv4 too; a specific v6 address only itself. */
		v6only = !IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
		if (udp)
			setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	}
	/* Replies must leave from the address the datagram came to, or the
	 * client's connected socket drops them: keep the destination. */
	if (udp)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&t->ss, t->len) || (!udp && listen(fd, 128))) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static unsigned long udp_echo(int fd, bool quiet)
{
	uint8_t data[65536];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} cin, cout;

	for (int burst = 0; burst < 64; burst++) {
		struct sockaddr_storage peer;
		struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
		struct msghdr m = {.msg_name = &peer,
				   .msg_namelen = sizeof(peer),
				   .msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = cin.buf,
				   .msg_controllen = sizeof(cin.buf)};
		struct msghdr reply = {.msg_name = &peer, .msg_iov = &iov, .msg_iovlen = 1};
		struct cmsghdr *c, *oc;
		char who[80];
		ssize_t n = recvmsg(fd, &m, 0);

		if (n < 0)
			return (unsigned long)burst;
		reply.msg_namelen = m.msg_namelen;
		iov.iov_len = (size_t)n;
		memset(cout.buf, 0, sizeof(cout.buf));
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;

				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				pi.ipi_spec_dst = pi.ipi_addr;
				pi.ipi_ifindex = 0;
				reply.msg_control = cout.buf;
				reply.msg_controllen = CMSG_SPACE(sizeof(pi));
				oc = CMSG_FIRSTHDR(&reply);
				oc->cmsg_level = IPPROTO_IP;
				oc->cmsg_type = IP_PKTINFO;
				oc->cmsg_len = CMSG_LEN(sizeof(pi));
				memcpy(CMSG_DATA(oc), &pi, sizeof(pi));
			} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;

				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				pi.ipi6_ifindex = 0;
				reply.msg_control = cout.buf;
				reply.msg_controllen = CMSG_SPACE(sizeof(pi));
				oc = CMSG_FIRSTHDR(&reply);
				oc->cmsg_level = IPPROTO_IPV6;
				oc->cmsg_type = IPV6_PKTINFO;
				oc->cmsg_len = CMSG_LEN(sizeof(pi));
				memcpy(CMSG_DATA(oc), &pi, sizeof(pi));
			}
		}
		if (!quiet) {
			format_sa((struct sockaddr *)&peer, who, sizeof(who));
			printf("datagram %zd bytes from %s\n", n, who);
		}
		if (sendmsg(fd, &reply, 0) < 0 && !quiet)
			printf("reply failed: %s\n", errname(errno));
	}
	return 64;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
}

static int cmd_listen(int argc, char **argv)
{
	long ports[MAX_PORTS], max_seconds = 300;
	int nports = 0, npos = 0, lfd[MAX_PORTS], nconns = 0, rc = 0;
	bool udp = false, echo = false, quiet = false;
	const char *addr = NULL, *portlist = NULL;
	struct conn *conns;
	struct pollfd *pfd;
	unsigned long accepted = 0;
	int64_t deadline;
	struct sigaction sa = {.sa_handler = on_stop};

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--udp")) {
			udp = true;
		} else if (!strcmp(argv[i], "--echo")) {
			echo = true;
		} else if (!strcmp(argv[i], "--quiet")) {
			quiet = true;
		} else if (!strcmp(argv[i], "--max-seconds")) {
			if (!parse_long(optval(argc, argv, &i), 1, 86400, &max_seconds))
				return usage_error("listen: bad value for %s", "--max-seconds");
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error("listen: unknown option %s", argv[i]);
		} else if (npos == 0) {
			addr = argv[i], npos++;
		} else if (npos == 1) {
			portlist = argv[i], npos++;
		} else {
			return usage_error("listen: bad argument %s", argv[i]);
		}
	}
	if (npos != 2)
		return usage_error("listen: needs ADDR PORT[,PORT...]%s", "");
	if (parse_ports(portlist, ports, &nports))
		return usage_error("listen: bad port list %s", portlist);

	for (int i = 0; i < nports; i++) {
		struct target t;

		if (resolve(addr, ports[i], AF_UNSPEC, udp ? SOCK_DGRAM : SOCK_STREAM, true, &t))
			return EXIT_ERROR;
		lfd[i] = open_listener(&t, udp);
		if (lfd[i] < 0) {
			fprintf(stderr, "speeprobe: listen on %s port %ld: %s\n", addr, ports[i],
				errname(errno));
			return EXIT_ERROR;
		}
	}
	conns = calloc(MAX_CONNS, sizeof(*conns));
	pfd = calloc(MAX_PORTS + MAX_CONNS, sizeof(*pfd));
	if (!conns || !pfd) {
		fprintf(stderr, "speeprobe: out of memory\n");
		return EXIT_ERROR;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("listening %s %s %s%s\n", udp ? "udp" : "tcp", addr, portlist,
	       echo && !udp ? " echo" : "");

	deadline = now_ms() + max_seconds * 1000;
	while (!stop_requested) {
		int64_t left = deadline - now_ms();
		int np = 0, n;

		if (left <= 0)
			break;
		for (int i = 0; i < nports; i++)
			pfd[np++] = (struct pollfd){.fd = lfd[i], .events = POLLIN};
		for (int i = 0; i < nconns; i++)
			pfd[np++] = (struct pollfd){.fd = conns[i].fd,
						    .events = conns[i].off < conns[i].len ? POLLOUT
											  : POLLIN};
		n = poll(pfd, (nfds_t)np, left < 1000 ? (int)left : 1000);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "speeprobe: poll: %s\n", errname(errno));
			rc = EXIT_ERROR;
			break;
		}
		if (n <= 0)
			continue;
		for (int i = 0; i < nports; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (udp) {
				accepted += udp_echo(lfd[i], quiet);
				continue;
			}
			for (int burst = 0; burst < 64; burst++) {
				struct sockaddr_storage peer, local;
				socklen_t plen = sizeof(peer), llen = sizeof(local);
				char p[80], l[80];
				int cfd = accept4(lfd[i], (struct sockaddr *)&peer, &plen,
						  SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (cfd < 0)
					break;
				accepted++;
				getsockname(cfd, (struct sockaddr *)&local, &llen);
				format_sa((struct sockaddr *)&peer, p, sizeof(p));
				format_sa((struct sockaddr *)&local, l, sizeof(l));
				if (!quiet)
					printf("accepted %s -> %s\n", p, l);
				if (!echo || nconns == MAX_CONNS) {
					close(cfd);
					continue;
				}
				conns[nconns] = (struct conn){.fd = cfd};
				snprintf(conns[nconns].peer, sizeof(conns[nconns].peer), "%s", p);
				nconns++;
			}
		}
		for (int i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];
			short re = pfd[nports + i].revents;
			ssize_t r;

			if (pfd[nports + i].fd != c->fd || !re)
				continue;
			if (c->off < c->len) {
				r = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
				if (r > 0)
					c->off += (size_t)r;
				else if (r < 0 && errno != EAGAIN && errno != EINTR)
					conn_close(c);
			} else {
				r = recv(c->fd, c->buf, sizeof(c->buf), 0);
				if (r > 0) {
					c->len = (size_t)r;
					c->off = 0;
				} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					if (!quiet)
						printf("closed %s%s%s\n", c->peer, r ? ": " : "",
						       r ? errname(errno) : "");
					conn_close(c);
				}
			}
		}
		/* Compact the connection table: closed entries leave. */
		for (int i = 0; i < nconns;) {
			if (conns[i].fd < 0)
				conns[i] = conns[--nconns];
			else
				i++;
		}
	}
	for (int i = 0; i < nconns; i++)
		close(conns[i].fd);
	for (int i = 0; i < nports; i++)
		close(lfd[i]);
	printf("stopped after %lu %s\n", accepted, udp ? "datagrams" : "connections");
	free(conns);
	free(pfd);
	return rc;
}

/* ---- raw frames --------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex to bytes; separators ' ', ':', '-', '.' are skipped. With wild non-NULL,
 * "xx" or "??" stand for any byte and are marked there. */
static int hex_decode(const char *s, uint8_t *out, size_t cap, bool *wild, size_t *len)
{
	size_t n = 0;

	while (*s) {
		int hi, lo;

		if (strchr(" :-.\t\n", *s)) {
			s++;
			continue;
		}
		if (!s[1] || n == cap)
			return -1;
		if (wild && ((s[0] == 'x' && s[1] == 'x') || (s[0] == '?' && s[1] == '?'))) {
			wild[n] = true;
			out[n++] = 0;
			s += 2;
			continue;
		}
		hi = hexval(s[0]);
		lo = hexval(s[1]);
		if (hi < 0 || lo < 0)
			return -1;
		if (wild)
			wild[n] = false;
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	*len = n;
	return n ? 0 : -1;
}

static int packet_socket(const char *ifname, int *ifindex, bool bind_all)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET};
	int fd;

	*ifindex = (int)if_nametoindex(ifname);
	if (!*ifindex) {
		fprintf(stderr, "speeprobe: no interface %s: %s\n", ifname, errname(errno));
		return -1;
	}
	/* Protocol 0 receives nothing until bound, so no frame from another
	 * interface can slip in before the bind. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "speeprobe: packet socket: %s\n", errname(errno));
		return -1;
	}
	if (bind_all) {
		sll.sll_protocol = htons(ETH_P_ALL);
		sll.sll_ifindex = *ifindex;
		if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
			fprintf(stderr, "speeprobe: bind to %s: %s\n", ifname, errname(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int cmd_send_frame(int argc, char **argv)
{
	const char *ifname = NULL, *hex = NULL;
	long count = 1, interval_ms = 0;
	uint8_t frame[9216];
	size_t len;
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_halen = ETH_ALEN};
	int ifindex, fd, npos = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--count")) {
			if (!parse_long(optval(argc, argv, &i), 1, 1000000, &count))
				return usage_error("send-frame: bad value for %s", "--count");
		} else if (!strcmp(argv[i], "--interval-ms")) {
			if (!parse_long(optval(argc, argv, &i), 0, 60000, &interval_ms))
				return usage_error("send-frame: bad value for %s", "--interval-ms");
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error("send-frame: unknown option %s", argv[i]);
		} else if (npos == 0) {
			ifname = argv[i], npos++;
		} else if (npos == 1) {
			hex = argv[i], npos++;
		} else {
			return usage_error("send-frame: bad argument %s", argv[i]);
		}
	}
	if (npos != 2)
		return usage_error("send-frame: needs IFACE HEXFRAME%s", "");
	if (hex_decode(hex, frame, sizeof(frame), NULL, &len) || len < ETH_HLEN)
		return usage_error("send-frame: not a frame in hex: %s", hex);
	fd = packet_socket(ifname, &ifindex, false);
	if (fd < 0)
		return EXIT_ERROR;
	to.sll_ifindex = ifindex;
	memcpy(to.sll_addr, frame, ETH_ALEN);
	memcpy(&to.sll_protocol, frame + 12, 2);
	for (long i = 0; i < count; i++) {
		if (i && interval_ms)
			usleep((useconds_t)interval_ms * 1000);
		if (sendto(fd, frame, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
			int e = errno;
			const char *word;

			printf("send-frame on %s failed: %s\n", ifname, errname(e));
			close(fd);
			return classify(e, &word) == EXIT_DENIED ? EXIT_DENIED : EXIT_ERROR;
		}
	}
	close(fd);
	printf("sent %ld frame%s of %zu bytes on %s\n", count, count == 1 ? "" : "s", len, ifname);
	return 0;
}

#define MAX_MATCHES 16

struct match {
	size_t off, len;
	uint8_t bytes[256];
	bool wild[256];
};

static int cmd_watch(int argc, char **argv)
{
	struct match m[MAX_MATCHES];
	const char *ifname = NULL;
	long timeout_ms = -1, count = 0;
	unsigned long seen = 0, matched = 0;
	bool inbound = false;
	int nm = 0, npos = 0, ifindex, fd, one = 1;
	int64_t deadline;
	uint8_t frame[65536];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--timeout-ms")) {
			if (!parse_long(optval(argc, argv, &i), 1, 3600000, &timeout_ms))
				return usage_error("watch: bad value for %s", "--timeout-ms");
		} else if (!strcmp(argv[i], "--count")) {
			if (!parse_long(optval(argc, argv, &i), 1, 1000000, &count))
				return usage_error("watch: bad value for %s", "--count");
		} else if (!strcmp(argv[i], "--inbound")) {
			inbound = true;
		} else if (!strcmp(argv[i], "--match")) {
			const char *spec = optval(argc, argv, &i);
			const char *at = spec ? strrchr(spec, '@') : NULL;
			char hex[600];
			long off = 0;

			if (!spec || nm == MAX_MATCHES)
				return usage_error("watch: bad or too many %s", "--match");
			if (at && !parse_long(at + 1, 0, 65535, &off))
				return usage_error("watch: bad offset in %s", spec);
			snprintf(hex, sizeof(hex), "%.*s",
				 at ? (int)(at - spec) : (int)strlen(spec), spec);
			if (hex_decode(hex, m[nm].bytes, sizeof(m[nm].bytes), m[nm].wild,
				       &m[nm].len))
				return usage_error("watch: bad hex pattern %s", spec);
			m[nm++].off = (size_t)off;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error("watch: unknown option %s", argv[i]);
		} else if (npos == 0) {
			ifname = argv[i], npos++;
		} else {
			return usage_error("watch: bad argument %s", argv[i]);
		}
	}
	if (npos != 1 || timeout_ms < 0)
		return usage_error("watch: needs IFACE --timeout-ms N%s", "");
	fd = packet_socket(ifname, &ifindex, true);
	if (fd < 0)
		return EXIT_ERROR;
	/* The receive path strips a VLAN tag into metadata before the capture
	 * sees the frame; auxdata gives it back so that patterns see the wire. */
	setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one));
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("watching %s for %ld ms\n", ifname, timeout_ms);

	deadline = now_ms() + timeout_ms;
	while (!count || matched < (unsigned long)count) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct sockaddr_ll from;
		union {
			char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = {.iov_base = frame, .iov_len = sizeof(frame) - 4};
		struct msghdr msg = {.msg_name = &from,
				     .msg_namelen = sizeof(from),
				     .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf)};
		int64_t left = deadline - now_ms();
		bool ok = true;
		ssize_t n;

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (n < 0)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			struct tpacket_auxdata aux;
			uint16_t tpid, tci;

			if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA || n < 12)
				continue;
			memcpy(&aux, CMSG_DATA(c), sizeof(aux));
			if (!(aux.tp_status & TP_STATUS_VLAN_VALID))
				continue;
			tpid = htons((aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid
										 : ETH_P_8021Q);
			tci = htons(aux.tp_vlan_tci);
			memmove(frame + 16, frame + 12, (size_t)n - 12);
			memcpy(frame + 12, &tpid, 2);
			memcpy(frame + 14, &tci, 2);
			n += 4;
		}
		seen++;
		if (inbound && from.sll_pkttype == PACKET_OUTGOING)
			continue;
		for (int i = 0; i < nm && ok; i++) {
			if (m[i].off + m[i].len > (size_t)n) {
				ok = false;
				break;
			}
			for (size_t k = 0; k < m[i].len; k++) {
				if (!m[i].wild[k] && frame[m[i].off + k] != m[i].bytes[k]) {
					ok = false;
					break;
				}
			}
		}
		if (!ok)
			continue;
		matched++;
		printf("frame %s %zd bytes:", from.sll_pkttype == PACKET_OUTGOING ? "out" : "in",
		       n);
		for (ssize_t k = 0; k < n && k < 128; k++)
			printf("%s%02x", k % 4 == 0 ? " " : "", frame[k]);
		printf("%s\n", n > 128 ? " ..." : "");
	}
	close(fd);
	printf("matched %lu of %lu frames on %s\n", matched, seen, ifname);
	return matched ? 0 : 1;
}

/* ---- icmp: one message from a raw socket --------------------------------- */

static int cmd_icmp(int argc, char **argv)
{
	const char *addr = NULL;
	long type = -1, code = 0, hops = -1;
	uint8_t msg[2048] = {0};
	size_t dlen = 0;
	struct sockaddr_storage ss = {0};
	socklen_t slen;
	const char *word;
	int fd, npos = 0, family;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--type")) {
			if (!parse_long(optval(argc, argv, &i), 0, 255, &type))
				return usage_error("icmp: bad value for %s", "--type");
		} else if (!strcmp(argv[i], "--code")) {
			if (!parse_long(optval(argc, argv, &i), 0, 255, &code))
				return usage_error("icmp: bad value for %s", "--code");
		} else if (!strcmp(argv[i], "--hop-limit")) {
			if (!parse_long(optval(argc, argv, &i), 0, 255, &hops))
				return usage_error("icmp: bad value for %s", "--hop-limit");
		} else if (!strcmp(argv[i], "--data-hex")) {
			const char *h = optval(argc, argv, &i);

			if (!h || hex_decode(h, msg + 8, sizeof(msg) - 8, NULL, &dlen))
				return usage_error("icmp: bad hex for %s", "--data-hex");
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error("icmp: unknown option %s", argv[i]);
		} else if (npos++ == 0) {
			addr = argv[i];
		} else {
			return usage_error("icmp: bad argument %s", argv[i]);
		}
	}
	if (!addr || type < 0)
		return usage_error("icmp: needs ADDR --type N%s", "");
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		family = AF_INET;
		slen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		family = AF_INET6;
		slen = sizeof(struct sockaddr_in6);
	} else {
		return usage_error("icmp: %s is not an address", addr);
	}
	ss.ss_family = (sa_family_t)family;
	fd = socket(family, SOCK_RAW | SOCK_CLOEXEC,
		    family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (fd < 0) {
		fprintf(stderr, "speeprobe: raw socket: %s\n", errname(errno));
		return EXIT_ERROR;
	}
	if (hops >= 0) {
		int h = (int)hops;

		if (family == AF_INET6) {
			setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &h, sizeof(h));
			setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &h, sizeof(h));
		} else {
			setsockopt(fd, IPPROTO_IP, IP_TTL, &h, sizeof(h));
		}
	}
	msg[0] = (uint8_t)type;
	msg[1] = (uint8_t)code;
	if (family == AF_INET) {
		/* ICMPv6's checksum the kernel computes; ICMP's is ours */
		uint32_t sum = 0;

		for (size_t i = 0; i < 8 + dlen; i += 2)
			sum += (uint32_t)(msg[i] << 8 | (i + 1 < 8 + dlen ? msg[i + 1] : 0));
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		msg[2] = (uint8_t)(~sum >> 8);
		msg[3] = (uint8_t)~sum;
	}
	if (sendto(fd, msg, 8 + dlen, 0, (struct sockaddr *)&ss, slen) < 0) {
		int e = errno, rc = classify(e, &word);

		printf("%s icmp type %ld to %s: %s\n", word, type, addr, errname(e));
		close(fd);
		return rc;
	}
	close(fd);
	printf("sent icmp type %ld code %ld to %s with %zu bytes of data\n", type, code, addr, dlen);
	return 0;
}

/* ---- tun: a packet into a tun device, and what comes back ---------------- */

static int cmd_tun(int argc, char **argv)
{
	struct match m[MAX_MATCHES];
	struct ifreq ifr = {0};
	const char *ifname = NULL, *hex = NULL;
	long timeout_ms = 1000;
	uint8_t pkt[65536];
	size_t len;
	int nm = 0, npos = 0, fd, matched = 0;
	int64_t deadline;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--send")) {
			hex = optval(argc, argv, &i);
		} else if (!strcmp(argv[i], "--timeout-ms")) {
			if (!parse_long(optval(argc, argv, &i), 1, 3600000, &timeout_ms))
				return usage_error("tun: bad value for %s", "--timeout-ms");
		} else if (!strcmp(argv[i], "--expect")) {
			const char *spec = optval(argc, argv, &i);
			const char *at = spec ? strrchr(spec, '@') : NULL;
			char h[600];
			long off = 0;

			if (!spec || nm == MAX_MATCHES)
				return usage_error("tun: bad or too many %s", "--expect");
			if (at && !parse_long(at + 1, 0, 65535, &off))
				return usage_error("tun: bad offset in %s", spec);
			snprintf(h, sizeof(h), "%.*s", at ? (int)(at - spec) : (int)strlen(spec), spec);
			if (hex_decode(h, m[nm].bytes, sizeof(m[nm].bytes), m[nm].wild, &m[nm].len))
				return usage_error("tun: bad hex pattern %s", spec);
			m[nm++].off = (size_t)off;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error("tun: unknown option %s", argv[i]);
		} else if (npos++ == 0) {
			ifname = argv[i];
		} else {
			return usage_error("tun: bad argument %s", argv[i]);
		}
	}
	if (!ifname || !hex || hex_decode(hex, pkt, sizeof(pkt), NULL, &len) || len < 20)
		return usage_error("tun: needs IFACE --send HEX (an IP packet)%s", "");
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "speeprobe: /dev/net/tun: %s\n", errname(errno));
		return EXIT_ERROR;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		fprintf(stderr, "speeprobe: attach to %s: %s\n", ifname, errname(errno));
		close(fd);
		return EXIT_ERROR;
	}
	if (write(fd, pkt, len) != (ssize_t)len) {
		fprintf(stderr, "speeprobe: write into %s: %s\n", ifname, errname(errno));
		close(fd);
		return EXIT_ERROR;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("wrote %zu bytes into %s\n", len, ifname);
	deadline = now_ms() + timeout_ms;
	while (!matched) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		bool ok = true;
		ssize_t n;

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(fd, pkt, sizeof(pkt));
		if (n <= 0)
			continue;
		for (int i = 0; i < nm && ok; i++)
			for (size_t k = 0; k < m[i].len && ok; k++)
				ok = m[i].off + m[i].len <= (size_t)n &&
				     (m[i].wild[k] || pkt[m[i].off + k] == m[i].bytes[k]);
		printf("read %zd bytes from %s%s\n", n, ifname, ok ? ": matches" : "");
		matched = ok;
	}
	close(fd);
	return matched ? 0 : 1;
}

/* ---- main --------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
    {"listen", cmd_listen}, {"connect", cmd_connect},	    {"udp", cmd_udp},
    {"stream", cmd_stream}, {"send-frame", cmd_send_frame}, {"watch", cmd_watch},
    {"icmp", cmd_icmp},	    {"tun", cmd_tun},
};

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_stop};

	if (argc < 2)
		return usage_error("%s", "missing command");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	/* stream finishes cleanly (drains and reports) on SIGINT/SIGTERM. */
	if (!strcmp(argv[1], "stream")) {
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	return usage_error("unknown command %s", argv[1]);
}
