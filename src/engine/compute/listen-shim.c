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
 * that point. Here the backend does it. It sees the option in getopt(), which a backend calls
 * (from glibc, so it can be interposed) to parse its startup options, after the client has
 * authenticated against the branch. It asks the engine (a request on the unix socket
 * ARBOR_TIME_TRAVEL_SOCKET: data directory and option) for an ephemeral read-only compute at
 * that point (compute/time-travel.ts), opens a session there as the same user and database, and
 * relays bytes between the client (through the server's own secure_read/secure_write, so TLS
 * stays the backend's) and that session until either side ends; then it exits through
 * proc_exit(). Errors (a point outside the history, …) end the connection with a FATAL raised
 * through the server's exported errstart()/errfinish(), as ereport() does.
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
#include <sys/un.h>
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
static char tt_socket[PATH_MAX_LEN];

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
  const char *tt = getenv("ARBOR_TIME_TRAVEL_SOCKET");
  if (tt && strlen(tt) < PATH_MAX_LEN) memcpy(tt_socket, tt, strlen(tt) + 1);
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
  unsetenv("ARBOR_TIME_TRAVEL_SOCKET");
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

/* ---- Time travel (see the top) ---------------------------------------------------------- */

static void pg_fatal(const char *message, const char *detail) {
  int (*pg_errstart)(int, const char *) = dlsym(RTLD_DEFAULT, "errstart");
  int (*pg_errcode)(int) = dlsym(RTLD_DEFAULT, "errcode");
  int (*pg_errmsg)(const char *, ...) = dlsym(RTLD_DEFAULT, "errmsg");
  int (*pg_errhint)(const char *, ...) = dlsym(RTLD_DEFAULT, "errhint");
  void (*pg_errfinish)(const char *, int, const char *) = dlsym(RTLD_DEFAULT, "errfinish");
  if (!pg_errstart || !pg_errcode || !pg_errmsg || !pg_errhint || !pg_errfinish) _exit(1);
  if (pg_errstart(ARBOR_PG_FATAL, NULL)) {
    pg_errcode(ARBOR_SQLSTATE('0', 'A', '0', '0', '0'));
    pg_errmsg("%s", message);
    if (detail) pg_errhint("%s", detail);
    pg_errfinish(__FILE__, __LINE__, __func__);
  }
  _exit(1);
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Reads exactly len bytes (blocking, with the backend's termination checked every 100 ms). */
static int read_all(int fd, char *buf, size_t len, volatile int *die) {
  while (len) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, 100);
    if (die && *die) return -1;
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = read(fd, buf, len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static int connect_unix(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof a.sun_path) { close(fd); return -1; }
  memcpy(a.sun_path, path, strlen(path) + 1);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { close(fd); return -1; }
  return fd;
}

static void put32(char *p, unsigned int v) {
  p[0] = (char)(v >> 24); p[1] = (char)(v >> 16); p[2] = (char)(v >> 8); p[3] = (char)v;
}

static unsigned int get32(const char *p) {
  return ((unsigned int)(unsigned char)p[0] << 24) | ((unsigned int)(unsigned char)p[1] << 16) | ((unsigned int)(unsigned char)p[2] << 8) | (unsigned char)p[3];
}

static void time_travel(const char *option) {
  const char *hint = "Create a branch at that point and connect to it instead (neonctl branches create --parent <branch>@<timestamp|lsn>).";
  char **data_dir = dlsym(RTLD_DEFAULT, "DataDir");
  unsigned int *my_database_id = dlsym(RTLD_DEFAULT, "MyDatabaseId");
  unsigned int (*get_session_user_id)(void) = dlsym(RTLD_DEFAULT, "GetSessionUserId");
  char *(*get_user_name_from_id)(unsigned int, int) = dlsym(RTLD_DEFAULT, "GetUserNameFromId");
  char *(*get_database_name)(unsigned int) = dlsym(RTLD_DEFAULT, "get_database_name");
  void **my_proc_port = dlsym(RTLD_DEFAULT, "MyProcPort");
  volatile int *die = dlsym(RTLD_DEFAULT, "ProcDiePending");
  ssize_t (*pg_secure_read)(void *, void *, size_t) = dlsym(RTLD_DEFAULT, "secure_read");
  ssize_t (*pg_secure_write)(void *, void *, size_t) = dlsym(RTLD_DEFAULT, "secure_write");
  int (*pq_getbyte_if_available)(unsigned char *) = dlsym(RTLD_DEFAULT, "pq_getbyte_if_available");
  void (*pg_proc_exit)(int) = dlsym(RTLD_DEFAULT, "proc_exit");
  if (!tt_socket[0] || !data_dir || !*data_dir || !my_database_id || !get_session_user_id || !get_user_name_from_id || !get_database_name || !my_proc_port ||
      !*my_proc_port || !die || !pg_secure_read || !pg_secure_write || !pq_getbyte_if_available || !pg_proc_exit) {
    pg_fatal("time travel connections are not available on this endpoint", hint);
  }
  const char *user = get_user_name_from_id(get_session_user_id(), 0);
  const char *database = get_database_name(*my_database_id);
  if (!user || !database) pg_fatal("time travel: the session's user or database is unknown", hint);

  /* 1. Ask the engine for a compute at the point: "<data dir>\n<option>\n" -> "OK <socket path>\n" or "ERR <message>\n". */
  int engine = connect_unix(tt_socket);
  if (engine < 0) pg_fatal("time travel: the Arbor engine does not answer", hint);
  char request[PATH_MAX_LEN * 2];
  size_t dl = strlen(*data_dir), ol = strlen(option);
  if (dl + ol + 3 > sizeof request) pg_fatal("time travel: the request is too long", hint);
  memcpy(request, *data_dir, dl);
  request[dl] = '\n';
  memcpy(request + dl + 1, option, ol);
  request[dl + 1 + ol] = '\n';
  if (write_all(engine, request, dl + ol + 2) < 0) pg_fatal("time travel: the Arbor engine does not answer", hint);
  char reply[2048];
  size_t got = 0;
  for (;;) {
    if (got + 1 >= sizeof reply) break;
    if (read_all(engine, reply + got, 1, die) < 0) {
      if (*die) pg_proc_exit(1);
      pg_fatal("time travel: the Arbor engine closed the request", hint);
    }
    if (reply[got] == '\n') break;
    got++;
  }
  reply[got] = 0;
  close(engine);
  if (strncmp(reply, "OK ", 3) != 0) pg_fatal(strncmp(reply, "ERR ", 4) == 0 ? reply + 4 : "time travel: unexpected answer from the Arbor engine", hint);

  /* 2. A session there as the same user and database (trusted on the engine's private socket). */
  int upstream = connect_unix(reply + 3);
  if (upstream < 0) pg_fatal("time travel: the compute at that point does not answer", hint);
  char startup[1024];
  size_t at = 8;
  const char *pairs[] = {"user", user, "database", database, "application_name", "arbor-time-travel"};
  for (int i = 0; i < 6; i++) {
    size_t n = strlen(pairs[i]) + 1;
    if (at + n + 1 > sizeof startup) pg_fatal("time travel: user or database name too long", hint);
    memcpy(startup + at, pairs[i], n);
    at += n;
  }
  startup[at++] = 0;
  put32(startup, (unsigned int)at);
  put32(startup + 4, 196608);
  if (write_all(upstream, startup, at) < 0) pg_fatal("time travel: the compute at that point does not answer", hint);
  /* Its AuthenticationOk is dropped (the client had this backend's); an error ends the connection. */
  char head[5];
  if (read_all(upstream, head, 5, die) < 0) pg_fatal("time travel: the compute at that point closed the session", hint);
  unsigned int len = get32(head + 1);
  if (len < 4 || len > 65536) pg_fatal("time travel: unexpected answer from the compute at that point", hint);
  char body[65536];
  if (read_all(upstream, body, len - 4, die) < 0) pg_fatal("time travel: the compute at that point closed the session", hint);
  if (head[0] == 'E') {
    static char message[1024] = "time travel: ";
    for (size_t i = 0; i + 1 < len - 4; i += strlen(body + i) + 1) {
      if (body[i] == 'M') {
        strncat(message, body + i + 1, sizeof message - strlen(message) - 1);
        break;
      }
    }
    pg_fatal(message, hint);
  }
  if (head[0] != 'R' || len != 8 || get32(body) != 0) pg_fatal("time travel: the compute at that point asked for authentication", hint);

  /* 3. Relay until either side ends. The client's socket is Port's first field. */
  void *port = *my_proc_port;
  int client = *(int *)port;
  unsigned char first;
  char buf[65536];
  for (;;) {
    if (*die) pg_proc_exit(1);
    int moved = 0;
    /* Client -> compute (the first read puts the client's socket in non-blocking mode). */
    int r = pq_getbyte_if_available(&first);
    if (r < 0) pg_proc_exit(0);
    if (r > 0) {
      buf[0] = (char)first;
      ssize_t n = pg_secure_read(port, buf + 1, sizeof buf - 1);
      size_t total = 1 + (n > 0 ? (size_t)n : 0);
      if (n == 0) pg_proc_exit(0);
      if (write_all(upstream, buf, total) < 0) pg_proc_exit(0);
      moved = 1;
    }
    /* Compute -> client. */
    struct pollfd up = {upstream, POLLIN, 0};
    if (poll(&up, 1, 0) > 0) {
      ssize_t n = read(upstream, buf, sizeof buf);
      if (n <= 0) pg_proc_exit(0);
      size_t off = 0;
      while (off < (size_t)n) {
        ssize_t w = pg_secure_write(port, buf + off, (size_t)n - off);
        if (w > 0) { off += (size_t)w; continue; }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          struct pollfd out = {client, POLLOUT, 0};
          poll(&out, 1, 10);
          if (*die) pg_proc_exit(1);
          continue;
        }
        pg_proc_exit(0);
      }
      moved = 1;
    }
    if (!moved) {
      struct pollfd both[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
      /* Short: TLS may hold decrypted bytes the socket no longer shows. */
      poll(both, 2, 10);
    }
  }
}

int getopt(int argc, char *const argv[], const char *optstring) {
  for (int i = 1; i < argc; i++) {
    if (argv[i] && (strncmp(argv[i], "neon_timestamp:", 15) == 0 || strncmp(argv[i], "neon_lsn:", 9) == 0)) time_travel(argv[i]);
  }
  return real_getopt(argc, argv, optstring);
}
