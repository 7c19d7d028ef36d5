"""The chaos campaign (`make chaos RUNS=N SEED=S`): daily runs through the real scheduler under
random, seed-determined faults, with the platform's invariants checked after each run.

`profile` draws each run's faults, `inject` applies the stack-level ones (SIGKILL, outages),
`observe` reads what the platform recorded, `invariants` judges it, `campaign` drives it all.
"""
