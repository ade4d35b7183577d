/*
 * Linux interfaces the Swift Glibc module does not export: epoll, eventfd, timerfd, signalfd,
 * accept4, TCP keepalive options, plus the constants Swift imports as enum types or not at all.
 * Every wrapper returns what the underlying call returns and leaves errno untouched, so the
 * Swift side reads errno immediately after the call.
 */
#ifndef CLINUXSHIMS_H
#define CLINUXSHIMS_H

#include <stdint.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* epoll */
int CLinuxShims_epoll_create1(int flags);
int CLinuxShims_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/* Waits into `events`; each entry's user data is read back with CLinuxShims_epoll_event_data. */
int CLinuxShims_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);
uint64_t CLinuxShims_epoll_event_data(const struct epoll_event *event);
uint32_t CLinuxShims_epoll_event_events(const struct epoll_event *event);

/* eventfd: an 8-byte counter used to wake a sleeping loop from another thread. */
int CLinuxShims_eventfd(unsigned int initval, int flags);
int CLinuxShims_eventfd_write(int fd, uint64_t value);
int CLinuxShims_eventfd_read(int fd, uint64_t *value);

/* timerfd */
int CLinuxShims_timerfd_create(int clockid, int flags);
int CLinuxShims_timerfd_settime_ns(int fd, uint64_t initial_ns, uint64_t interval_ns);

/* signalfd: `signo` receives the number of the signal read. */
int CLinuxShims_signalfd(int fd, const sigset_t *mask, int flags);
int CLinuxShims_signalfd_read(int fd, uint32_t *signo);

/* accept4 is only declared with _GNU_SOURCE, which must precede every system header. */
int CLinuxShims_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

/* Constants Swift imports as enum types or not at all. */
static const uint32_t CLinuxShims_EPOLLIN = EPOLLIN;
static const uint32_t CLinuxShims_EPOLLOUT = EPOLLOUT;
static const uint32_t CLinuxShims_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t CLinuxShims_EPOLLHUP = EPOLLHUP;
static const uint32_t CLinuxShims_EPOLLERR = EPOLLERR;
static const int CLinuxShims_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
static const int CLinuxShims_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
static const int CLinuxShims_EPOLL_CTL_DEL = EPOLL_CTL_DEL;
extern const int CLinuxShims_EPOLL_CLOEXEC;
extern const int CLinuxShims_EFD_CLOEXEC;
extern const int CLinuxShims_EFD_NONBLOCK;
extern const int CLinuxShims_TFD_CLOEXEC;
extern const int CLinuxShims_TFD_NONBLOCK;
extern const int CLinuxShims_SFD_CLOEXEC;
extern const int CLinuxShims_SFD_NONBLOCK;
extern const int CLinuxShims_SOCK_STREAM;
extern const int CLinuxShims_SOCK_CLOEXEC;
extern const int CLinuxShims_SOCK_NONBLOCK;
extern const int CLinuxShims_MSG_NOSIGNAL;
extern const int CLinuxShims_TCP_NODELAY;
extern const int CLinuxShims_TCP_KEEPIDLE;
extern const int CLinuxShims_TCP_KEEPINTVL;
extern const int CLinuxShims_TCP_KEEPCNT;
extern const int CLinuxShims_IPPROTO_TCP;
extern const int CLinuxShims_CLOCK_MONOTONIC;
extern const int CLinuxShims_CLOCK_BOOTTIME;

#endif
