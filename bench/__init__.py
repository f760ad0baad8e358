"""The Habit Coach benchmark: the database-driven scheduler against one APScheduler job per member.

Run it with ``python -m bench`` (``--quick`` for a smoke run, ``--help`` for the options); it
prints machine facts and a table of figures. What each figure means: docs/benchmarks.md.
"""
