/* runtime/io/fy_signal: SIGINT and SIGTERM (sent with raise) set the cancellation flag and
 * are remembered; --no-cancel ignores them; restore puts the old handlers back; a second
 * signal during a cancellation ends the process with exit code 8 (checked in a child). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fy_common.h"
#include "io/fy_signal.h"

static void test_sigint_sigterm(void **state)
{
    (void)state;
    assert_int_equal(fy_signal_install(false), 0);
    assert_false(fy_cancel_requested());
    assert_int_equal(fy_cancel_signal(), 0);
    assert_int_equal(raise(SIGINT), 0);
    assert_true(fy_cancel_requested());
    assert_int_equal(fy_cancel_signal(), SIGINT);
    fy_signal_restore();
    assert_false(fy_cancel_requested());

    assert_int_equal(fy_signal_install(false), 0);
    assert_int_equal(raise(SIGTERM), 0);
    assert_true(fy_cancel_requested());
    assert_int_equal(fy_cancel_signal(), SIGTERM);
    fy_signal_restore();
}

static void test_no_cancel(void **state)
{
    (void)state;
    assert_int_equal(fy_signal_install(true), 0);
    assert_int_equal(raise(SIGINT), 0);
    assert_int_equal(raise(SIGTERM), 0);
    assert_false(fy_cancel_requested()); /* still running: the signals were ignored */
    fy_cancel_request();                 /* the program itself can still ask */
    assert_true(fy_cancel_requested());
    assert_int_equal(fy_cancel_signal(), 0);
    fy_signal_restore();
    assert_false(fy_cancel_requested());
}

static void test_restore(void **state)
{
    (void)state;
    static volatile sig_atomic_t mine;
    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    sigaction(SIGTERM, &sa, NULL);
    assert_int_equal(fy_signal_install(false), 0);
    assert_int_equal(fy_signal_install(false), 0); /* twice: the first old handler is kept */
    fy_signal_restore();
    struct sigaction now;
    sigaction(SIGTERM, NULL, &now);
    assert_true(now.sa_handler == SIG_IGN);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);
    (void)mine;
}

static void test_second_signal_exits(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(2); /* keep the test output clean */
        fy_signal_install(false);
        raise(SIGINT);
        if (!fy_cancel_requested()) _exit(1);
        raise(SIGTERM); /* ends the process with 8 */
        _exit(2);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), FY_EXIT_CANCELLED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigint_sigterm),
        cmocka_unit_test(test_no_cancel),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_second_signal_exits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
