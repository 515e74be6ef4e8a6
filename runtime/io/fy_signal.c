/* SIGINT/SIGTERM handling. The handler only touches sig_atomic_t flags and calls
 * async-signal-safe functions (write, _exit). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "fy_common.h"
#include "io/fy_signal.h"

static volatile sig_atomic_t g_cancel; /* the signal number, or -1 from the program */
static volatile sig_atomic_t g_installed;
static struct sigaction g_old_int, g_old_term;

static void on_signal(int sig)
{
    if (g_cancel) {
        static const char msg[] = "\nferry: cancelled again: stopping now\n";
        ssize_t k = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)k;
        _exit(FY_EXIT_CANCELLED);
    }
    g_cancel = sig;
}

int fy_signal_install(bool no_cancel)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    /* Restart interrupted system calls: the agent polls the flag between objects and must
     * not see EINTR in the middle of a copy. */
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = no_cancel ? SIG_IGN : on_signal;
    g_cancel = 0;
    struct sigaction old_int, old_term;
    if (sigaction(SIGINT, &sa, &old_int) < 0) return -1;
    if (sigaction(SIGTERM, &sa, &old_term) < 0) {
        int e = errno;
        sigaction(SIGINT, &old_int, NULL);
        errno = e;
        return -1;
    }
    if (!g_installed) {
        g_old_int = old_int;
        g_old_term = old_term;
        g_installed = 1;
    }
    return 0;
}

void fy_signal_restore(void)
{
    if (g_installed) {
        sigaction(SIGINT, &g_old_int, NULL);
        sigaction(SIGTERM, &g_old_term, NULL);
        g_installed = 0;
    }
    g_cancel = 0;
}

bool fy_cancel_requested(void)
{
    return g_cancel != 0;
}

int fy_cancel_signal(void)
{
    return g_cancel > 0 ? (int)g_cancel : 0;
}

void fy_cancel_request(void)
{
    if (!g_cancel) g_cancel = -1;
}
