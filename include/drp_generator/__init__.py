"""drp_generator: the synthetic source system every pipeline run reads from.

Deterministic synthetic commerce data (customers, products, orders with lines and a status
history) with switchable, countable faults, served by a FastAPI app (`drp_generator.api`).

The generation modules (`model`, `world`, `generate`, `faults`, `truth`, `cursor`) import no web
framework: `truth()` and `read_page()` can be called directly by tests and by the pipeline's
reconciliation. See docs/generator.md.
"""

from drp_generator.config import GeneratorConfig
from drp_generator.faults import FaultConfig, HttpFault, parse_faults
from drp_generator.generate import Window, iter_window, make_window, read_page
from drp_generator.model import Entity
from drp_generator.truth import Truth, truth

__all__ = [
    "Entity",
    "FaultConfig",
    "GeneratorConfig",
    "HttpFault",
    "Truth",
    "Window",
    "iter_window",
    "make_window",
    "parse_faults",
    "read_page",
    "truth",
]
