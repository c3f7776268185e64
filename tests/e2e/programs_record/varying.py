"""Recursion to a depth that changes every round, ending in a CPU-bound
leaf of argv[1] steps (3000: the frames and their addresses change all the
time).  The L: markers name lines for the test.  Prints "ready <pid>" once
running."""
import os
import sys


STEPS = int(sys.argv[1])


def leaf():  # L:leaf_def
    x = 0
    for i in range(STEPS):
        x += i
    return x


def rec(n):  # L:rec_def
    if n <= 1:  # L:rec_test
        return leaf()  # L:rec_leaf
    return rec(n - 1)  # L:rec_call


def main():  # L:main_def
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    n = 0
    while True:  # L:main_loop
        n = n * 7 % 41 + 1  # L:main_next
        rec(n)  # L:main_call


main()  # L:module
