/*
 * Arbor listen shim: lets a postmaster serve an endpoint's listening socket that the engine owns,
 * so the port is never closed between suspend and wake and no client sees "connection refused"
 * or "the database system is starting up".
 *
 * Loaded with LD_PRELOAD into `postgres` (compiled on first use by compute/shim.ts). The engine
 * passes the endpoint's listening socket L as fd ARBOR_LISTEN_FD and its port as ARBOR_LISTEN_PORT.
 *
 * - bind() on 127.0.0.1:ARBOR_LISTEN_PORT does not bind: the shim puts the read end of a pipe on
 *   the socket fd postgres made, and listen() on it succeeds without doing anything. The
 *   postmaster waits on that fd as on any listening socket.
 * - A thread waits until postmaster.pid says "ready" (never "starting" or "standby"), then watches
 *   L: when a client waits, it writes one byte to the pipe, and waits until the postmaster took
 *   it. The shim's accept()/accept4() on the pipe fd take the byte and accept on L right there, in
 *   the postmaster's own thread, which forks the backend at once. The thread never holds a client
 *   fd: an accepted fd lying in the postmaster while it forks some other child (a walsender, an
 *   autovacuum worker, another backend) would be inherited by that child and keep the client's
 *   connection open after its own backend ended.
 * - While <datadir>/arbor.noaccept exists the thread signals nothing (connections wait in L's
 *   backlog); once no signal is pending it creates <datadir>/arbor.noaccept.ack. The engine uses
 *   this to drain before a clean stop.
 *
 * The thread only makes system calls (no malloc, no stdio): the postmaster forks while it runs.
 *
 * Time travel: Neon's proxy reads `options=neon_timestamp:<t>` or `neon_lsn:<lsn>` (what
 * `neonctl connection-string <branch>@<point>` gives) and connects the client to a compute at
 * that point. The engine has no proxy in the connection's path, so a backend whose startup
 * options carry one ends with a FATAL saying so and what to do instead, rather than PostgreSQL's
 * "invalid command-line argument". It is found in getopt(), which a backend calls (from glibc,
 * so it can be interposed here) to parse those options after authentication; the FATAL is
 * raised with the server's own exported errstart()/errfinish(), as ereport() does.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The server's error reporting (elog.h): FATAL and errcode() are stable across 14–17. */
#define ARBOR_PG_FATAL 22
#define ARBOR_SIXBIT(c) (((c) - '0') & 0x3F)
#define ARBOR_SQLSTATE(a, b, c, d, e) (ARBOR_SIXBIT(a) + (ARBOR_SIXBIT(b) << 6) + (ARBOR_SIXBIT(c) << 12) + (ARBOR_SIXBIT(d) << 18) + (ARBOR_SIXBIT(e) << 24))

#define PATH_MAX_LEN 4096

static int listen_fd = -1;
static int listen_port = 0;
static int fake_fd = -1;
static int pipe_w = -1;
static char pid_path[PATH_MAX_LEN];
static char flag_path[PATH_MAX_LEN];
static char ack_path[PATH_MAX_LEN];

/* 1 while a byte is in the pipe that the postmaster has not taken yet. */
static atomic_int signaled;

static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_listen)(int, int);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_getopt)(int, char *const[], const char *);

static void nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void join_path(char *out, const char *dir, const char *name) {
  size_t d = strlen(dir), n = strlen(name);
  if (d + 1 + n + 1 > PATH_MAX_LEN) { out[0] = 0; return; }
  memcpy(out, dir, d);
  out[d] = '/';
  memcpy(out + d + 1, name, n + 1);
}

__attribute__((constructor)) static void shim_init(void) {
  real_bind = dlsym(RTLD_NEXT, "bind");
  real_listen = dlsym(RTLD_NEXT, "listen");
  real_accept = dlsym(RTLD_NEXT, "accept");
  real_accept4 = dlsym(RTLD_NEXT, "accept4");
  real_getopt = dlsym(RTLD_NEXT, "getopt");
  const char *fd = getenv("ARBOR_LISTEN_FD");
  const char *port = getenv("ARBOR_LISTEN_PORT");
  const char *dir = getenv("ARBOR_DATA_DIR");
  if (fd && port && dir) {
    listen_fd = atoi(fd);
    listen_port = atoi(port);
    join_path(pid_path, dir, "postmaster.pid");
    join_path(flag_path, dir, "arbor.noaccept");
    join_path(ack_path, dir, "arbor.noaccept.ack");
  }
  /* Programs postgres runs (archive_command, …) must not load the shim or see the socket. */
  unsetenv("LD_PRELOAD");
  unsetenv("ARBOR_LISTEN_FD");
  unsetenv("ARBOR_LISTEN_PORT");
  unsetenv("ARBOR_DATA_DIR");
  if (listen_fd >= 0) fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
}

/* True once line 8 of postmaster.pid (written by this postmaster) says "ready". */
static int postmaster_ready(void) {
  char buf[1024];
  int f = open(pid_path, O_RDONLY | O_CLOEXEC);
  if (f < 0) return 0;
  ssize_t n = read(f, buf, sizeof buf - 1);
  close(f);
  if (n <= 0) return 0;
  buf[n] = 0;
  long pid = strtol(buf, NULL, 10);
  if (pid != (long)getpid()) return 0;
  int line = 1;
  for (char *p = buf; *p; p++) {
    if (*p == '\n' && ++line == 8) return strncmp(p + 1, "ready", 5) == 0;
  }
  return 0;
}

static int exists(const char *path) {
  return access(path, F_OK) == 0;
}

static void nap_us(long us) {
  struct timespec ts = {0, us * 1000L};
  nanosleep(&ts, NULL);
}

static void *accept_loop(void *arg) {
  (void)arg;
  while (!postmaster_ready()) nap_ms(1);
  int acked = 0;
  for (;;) {
    if (atomic_load(&signaled)) {
      /* The postmaster has not taken the last signal yet. */
      nap_us(100);
      continue;
    }
    if (exists(flag_path)) {
      if (!acked) {
        /* No signal pending: give the postmaster a moment to fork what it accepted. */
        nap_ms(10);
        int f = open(ack_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (f >= 0) close(f);
        acked = 1;
      }
      nap_ms(acked ? 10 : 1);
      continue;
    }
    acked = 0;
    struct pollfd p = {listen_fd, POLLIN, 0};
    if (poll(&p, 1, 10) <= 0) continue;
    atomic_store(&signaled, 1);
    char byte = 1;
    while (write(pipe_w, &byte, 1) < 0 && errno == EINTR) {}
  }
  return NULL;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  if (listen_fd >= 0 && fake_fd < 0 && addr && addr->sa_family == AF_INET &&
      ntohs(((const struct sockaddr_in *)addr)->sin_port) == listen_port) {
    int p[2];
    if (pipe2(p, O_NONBLOCK) < 0) return -1;
    if (dup2(p[0], fd) < 0) return -1;
    close(p[0]);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    pipe_w = p[1];
    fake_fd = fd;
    unlink(ack_path);
    /* The thread takes no signals: they belong to the postmaster's main thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, accept_loop, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) { errno = rc; return -1; }
    pthread_detach(thread);
    return 0;
  }
  return real_bind(fd, addr, len);
}

int listen(int fd, int backlog) {
  if (fake_fd >= 0 && fd == fake_fd) return 0;
  return real_listen(fd, backlog);
}

/* In the postmaster's thread: take the signal and accept the waiting client on L. */
static int take_client(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  char byte;
  while (read(fd, &byte, 1) == 1) {}
  atomic_store(&signaled, 0);
  /* L is non-blocking (shared with the engine): EAGAIN if someone else took the client. */
  return real_accept4(listen_fd, addr, len, flags);
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  if (fake_fd >= 0 && fd == fake_fd) return take_client(fd, addr, len, 0);
  return real_accept(fd, addr, len);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  if (fake_fd >= 0 && fd == fake_fd) return take_client(fd, addr, len, flags);
  return real_accept4(fd, addr, len, flags);
}

/* See "Time travel" at the top. */
static void refuse_time_travel(const char *option) {
  int (*pg_errstart)(int, const char *) = dlsym(RTLD_DEFAULT, "errstart");
  int (*pg_errcode)(int) = dlsym(RTLD_DEFAULT, "errcode");
  int (*pg_errmsg)(const char *, ...) = dlsym(RTLD_DEFAULT, "errmsg");
  int (*pg_errhint)(const char *, ...) = dlsym(RTLD_DEFAULT, "errhint");
  void (*pg_errfinish)(const char *, int, const char *) = dlsym(RTLD_DEFAULT, "errfinish");
  if (!pg_errstart || !pg_errcode || !pg_errmsg || !pg_errhint || !pg_errfinish) return;
  if (pg_errstart(ARBOR_PG_FATAL, NULL)) {
    pg_errcode(ARBOR_SQLSTATE('0', 'A', '0', '0', '0'));
    pg_errmsg("time travel connections are not supported by the Arbor engine (options=%s)", option);
    pg_errhint("Create a branch at that point and connect to it instead (neonctl branches create --parent <branch>@<timestamp|lsn>), "
               "or compare schemas at that point with neonctl branches schema-diff.");
    pg_errfinish(__FILE__, __LINE__, __func__);
  }
}

int getopt(int argc, char *const argv[], const char *optstring) {
  for (int i = 1; i < argc; i++) {
    if (argv[i] && (strncmp(argv[i], "neon_timestamp:", 15) == 0 || strncmp(argv[i], "neon_lsn:", 9) == 0)) refuse_time_travel(argv[i]);
  }
  return real_getopt(argc, argv, optstring);
}
