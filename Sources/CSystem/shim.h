#ifndef DURIN_CSYSTEM_SHIM_H
#define DURIN_CSYSTEM_SHIM_H
// The POSIX calls Swift cannot make directly (variadic, macros, sigset_t).
// Only the SystemSupport module imports this module.
#include <pthread.h>
#include <signal.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

// Not declared by glibc unless _GNU_SOURCE is set before <pthread.h>.
extern int pthread_setname_np(pthread_t thread, const char *name);

#include <sched.h>

/// Moves the calling thread to SCHED_IDLE: it runs only on CPU time no normal
/// thread wants, and any waking normal thread preempts it at once. Falls back to
/// nice 19 where SCHED_IDLE is refused. Returns 0 (SCHED_IDLE), 1 (nice 19) or
/// -errno when both were refused (a seccomp filter answering EPERM, say).
static inline int durin_make_thread_idle_priority(void) {
    struct sched_param param = { .sched_priority = 0 };
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (sched_setscheduler(tid, 5 /* SCHED_IDLE */, &param) == 0) return 0;
    if (setpriority(PRIO_PROCESS, (id_t)tid, 19) == 0) return 1;
    return -errno;
}

static void durin_wakeup_handler(int sig) { (void)sig; }

/// Installs a do-nothing handler without SA_RESTART, so that a blocked accept()
/// in a worker thread returns EINTR when that thread is sent `sig`.
static inline int durin_install_wakeup_handler(int sig) {
    struct sigaction sa;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sa.sa_handler = durin_wakeup_handler;
    return sigaction(sig, &sa, 0);
}

/// Blocks `a` and `b` in the calling thread (and the threads it starts later).
static inline int durin_block_signals(int a, int b) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, a);
    sigaddset(&set, b);
    return pthread_sigmask(SIG_BLOCK, &set, 0);
}

/// Waits until `a` or `b` arrives (they must be blocked); returns the signal.
static inline int durin_wait_signals(int a, int b) {
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, a);
    sigaddset(&set, b);
    return sigwait(&set, &sig) == 0 ? sig : -1;
}
#endif
