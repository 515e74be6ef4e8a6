/* Cancellation: SIGINT and SIGTERM set a flag that the agent polls between objects
 * (fy_cancel_requested), finishes or rolls back what it is doing, and exits with 8
 * (FY_EXIT_CANCELLED). A second signal while a cancellation is pending ends the process at
 * once with 8: every write ferry does is a rename of a complete temporary file, so nothing
 * half-written is left visible, only temporary files that the next run ignores.
 * With --no-cancel both signals are ignored.
 *
 * This is the one piece of process-wide state in the runtime: a signal handler can only
 * talk to the program through a global (a volatile sig_atomic_t). Nothing is allocated. */
#ifndef FY_SIGNAL_H
#define FY_SIGNAL_H

#include <stdbool.h>

/* Installs the handlers (no_cancel: ignores SIGINT and SIGTERM instead) and clears the
 * flag. Returns 0, or -1 with errno when sigaction fails. */
int fy_signal_install(bool no_cancel);
/* Puts back the dispositions found by fy_signal_install and clears the flag. */
void fy_signal_restore(void);
bool fy_cancel_requested(void);
/* The signal that asked for cancellation (SIGINT, SIGTERM), 0 when none. */
int fy_cancel_signal(void);
/* Asks for cancellation from the program itself (e.g. a fatal condition in a worker). */
void fy_cancel_request(void);

#endif
