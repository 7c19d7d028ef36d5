"""The commerce domain's shared vocabulary: entities and enumerations.

The one definition both sides of the source contract read: the source simulator emits these values,
and the platform's ingest contract and quality suites accept exactly these. It imports nothing, so
the runtime (`drp`) and the simulator (`drp_generator`) can both depend on it without depending on
each other.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Entity(StrEnum):
    """The resources the source serves and the platform ingests."""

    ORDERS = "orders"
    CUSTOMERS = "customers"
    PRODUCTS = "products"


# Load order: dimensions first, because orders reference customers and products.
ENTITIES: Final = (Entity.CUSTOMERS, Entity.PRODUCTS, Entity.ORDERS)
# Sent by the source only when they change: a fresh platform needs their history first.
DIMENSIONS: Final = (Entity.CUSTOMERS, Entity.PRODUCTS)

ORDER_STATUSES: Final = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
CURRENCIES: Final = ("USD", "EUR", "GBP")
SEGMENTS: Final = ("consumer", "smb", "enterprise")

__all__ = ["CURRENCIES", "DIMENSIONS", "ENTITIES", "ORDER_STATUSES", "SEGMENTS", "Entity"]
