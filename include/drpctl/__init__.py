"""drpctl: the operator's tooling: the `drp` command, the native stack, the run driver, the docs site.

It may import the runtime (`drp`); nothing in the runtime imports it. See docs/architecture.md.
"""
