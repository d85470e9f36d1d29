#ifndef DURIN_CFASTCGI_SHIM_H
#define DURIN_CFASTCGI_SHIM_H
// libfcgi as Swift sees it, and the socket calls of the responder's intake
// (ConnectionIntake). Only the FastCGI module imports this module.
#include <fcgiapp.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#ifndef SO_PEEK_OFF
#define SO_PEEK_OFF 42
#endif

// Declared by glibc only under _GNU_SOURCE.
extern int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

/// Fills a sockaddr_un; returns -1 when the path does not fit in sun_path.
static inline int durin_sockaddr_un(struct sockaddr_un *addr, const char *path) {
    size_t n = 0;
    while (path[n]) n++;
    if (n == 0 || n >= sizeof(addr->sun_path)) return -1;
    addr->sun_family = AF_UNIX;
    for (size_t i = 0; i <= n; i++) addr->sun_path[i] = path[i];
    return 0;
}

/// Copies what has arrived on `fd` without consuming it (MSG_PEEK), never waiting.
/// Returns the byte count, 0 when the peer has closed and nothing is left, or -errno
/// (-EAGAIN: nothing new yet).
static inline long durin_peek(int fd, void *buf, unsigned long n) {
    long r = recv(fd, buf, n, MSG_PEEK | MSG_DONTWAIT);
    return r >= 0 ? r : -errno;
}

/// Makes the next peeks start `offset` bytes in (SO_PEEK_OFF): each byte is then
/// copied once however often a slow peer wakes the intake. 0 on success.
static inline int durin_set_peek_offset(int fd, int offset) {
    return setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &offset, sizeof offset);
}

/// Bounds every blocking read and write on `fd` (SO_RCVTIMEO, SO_SNDTIMEO).
static inline void durin_set_io_timeout(int fd, long millis) {
    struct timeval tv;
    tv.tv_sec = millis / 1000;
    tv.tv_usec = (millis % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static inline int durin_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

/// Watches a connection for new bytes and for the peer closing, edge-triggered (one
/// wake-up per arrival; one already readable is reported at once). `tag` comes back
/// with each event: the intake puts the descriptor and its admission number in it,
/// so an event that outlived its connection is recognised.
static inline int durin_epoll_add(int ep, int fd, unsigned long long tag) {
    struct epoll_event ev;
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = tag;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static inline int durin_epoll_remove(int ep, int fd) {
    struct epoll_event ev;
    ev.events = 0;
    ev.data.u64 = 0;
    return epoll_ctl(ep, EPOLL_CTL_DEL, fd, &ev);
}

/// Waits up to `timeout_ms` (-1: without end) for events; writes each event's tag
/// (struct epoll_event is packed on x86-64, which Swift does not import) and returns
/// their count, or -errno.
static inline int durin_epoll_wait(int ep, unsigned long long *tags, int max, int timeout_ms) {
    struct epoll_event events[16];
    if (max > 16) max = 16;
    int n = epoll_wait(ep, events, max, timeout_ms);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) tags[i] = events[i].data.u64;
    return n;
}

/// accept(2), waiting for a connection; the new socket is closed on exec. Returns
/// the socket or -errno.
static inline int durin_accept(int listen_fd) {
    int fd = accept4(listen_fd, 0, 0, SOCK_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

/// An eventfd: a counter one thread bumps to wake another out of epoll_wait.
static inline int durin_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }
static inline void durin_eventfd_bump(int fd) { eventfd_write(fd, 1); }
static inline void durin_eventfd_reset(int fd) { eventfd_t v; eventfd_read(fd, &v); }

#endif
