/* Thin wrappers over Linux calls; see the header for the contract. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "CLinuxShims.h"

const int CLinuxShims_EPOLL_CLOEXEC = EPOLL_CLOEXEC;
const int CLinuxShims_EFD_CLOEXEC = EFD_CLOEXEC;
const int CLinuxShims_EFD_NONBLOCK = EFD_NONBLOCK;
const int CLinuxShims_TFD_CLOEXEC = TFD_CLOEXEC;
const int CLinuxShims_TFD_NONBLOCK = TFD_NONBLOCK;
const int CLinuxShims_SFD_CLOEXEC = SFD_CLOEXEC;
const int CLinuxShims_SFD_NONBLOCK = SFD_NONBLOCK;
const int CLinuxShims_SOCK_STREAM = SOCK_STREAM;
const int CLinuxShims_SOCK_CLOEXEC = SOCK_CLOEXEC;
const int CLinuxShims_SOCK_NONBLOCK = SOCK_NONBLOCK;
const int CLinuxShims_MSG_NOSIGNAL = MSG_NOSIGNAL;
const int CLinuxShims_TCP_NODELAY = TCP_NODELAY;
const int CLinuxShims_TCP_KEEPIDLE = TCP_KEEPIDLE;
const int CLinuxShims_TCP_KEEPINTVL = TCP_KEEPINTVL;
const int CLinuxShims_TCP_KEEPCNT = TCP_KEEPCNT;
const int CLinuxShims_IPPROTO_TCP = IPPROTO_TCP;
const int CLinuxShims_CLOCK_MONOTONIC = CLOCK_MONOTONIC;
const int CLinuxShims_CLOCK_BOOTTIME = CLOCK_BOOTTIME;

int CLinuxShims_epoll_create1(int flags) {
    return epoll_create1(flags);
}

int CLinuxShims_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    event.events = events;
    event.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &event);
}

int CLinuxShims_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout) {
    return epoll_wait(epfd, events, maxevents, timeout);
}

uint64_t CLinuxShims_epoll_event_data(const struct epoll_event *event) {
    return event->data.u64;
}

uint32_t CLinuxShims_epoll_event_events(const struct epoll_event *event) {
    return event->events;
}

int CLinuxShims_eventfd(unsigned int initval, int flags) {
    return eventfd(initval, flags);
}

int CLinuxShims_eventfd_write(int fd, uint64_t value) {
    return eventfd_write(fd, value);
}

int CLinuxShims_eventfd_read(int fd, uint64_t *value) {
    return eventfd_read(fd, value);
}

int CLinuxShims_timerfd_create(int clockid, int flags) {
    return timerfd_create(clockid, flags);
}

int CLinuxShims_timerfd_settime_ns(int fd, uint64_t initial_ns, uint64_t interval_ns) {
    struct itimerspec spec;
    spec.it_value.tv_sec = (time_t)(initial_ns / 1000000000u);
    spec.it_value.tv_nsec = (long)(initial_ns % 1000000000u);
    spec.it_interval.tv_sec = (time_t)(interval_ns / 1000000000u);
    spec.it_interval.tv_nsec = (long)(interval_ns % 1000000000u);
    return timerfd_settime(fd, 0, &spec, NULL);
}

int CLinuxShims_signalfd(int fd, const sigset_t *mask, int flags) {
    return signalfd(fd, mask, flags);
}

int CLinuxShims_signalfd_read(int fd, uint32_t *signo) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n < 0) {
        return -1;
    }
    if ((size_t)n != sizeof(info)) {
        /* The kernel only hands out whole records; anything else is a broken descriptor. */
        errno = EIO;
        return -1;
    }
    *signo = info.ssi_signo;
    return 0;
}

int CLinuxShims_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}
