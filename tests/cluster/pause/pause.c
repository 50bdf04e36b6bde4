/*
 * The sandbox ("pause") container of the local cluster's Pods: it holds the Pod's namespaces
 * open and does nothing else. As PID 1 of a Pod that shares its PID namespace it also reaps
 * orphaned children, and it exits at once on SIGINT/SIGTERM so that a Pod stops without waiting
 * for the kill timeout. Built with `gcc -static` by tests/cluster/images.py.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signal_number) {
    (void)signal_number;
    _exit(0);
}

static void reap(int signal_number) {
    (void)signal_number;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static void on(int signal_number, void (*handler)(int)) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    action.sa_flags = SA_RESTART;
    sigaction(signal_number, &action, NULL);
}

int main(void) {
    on(SIGINT, stop);
    on(SIGTERM, stop);
    on(SIGCHLD, reap);
    for (;;) {
        pause();
    }
    return EXIT_FAILURE;
}
