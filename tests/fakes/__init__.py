"""Fake Discord and Slack servers on loopback, and the environment for a process that talks to
them: shared by the tests and the benchmarks in ``bench/``."""
