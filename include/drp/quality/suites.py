"""The quality gate's expectation suites: the one place where what "good data" means is written down.

Each suite validates one pandas frame read from the DuckDB warehouse for a run's data interval
(see `drp.quality.frames`): five relations as dbt builds them, the dimensions, and three derived
frames for checks that span relations (reconciliation with staging, referential integrity, the
column-type contract). Every expectation is a `Check`:

* `name`: a stable id, unique within its suite; it is what `ops.quality_results`, the gate's
  error message and the tests refer to;
* `severity`: `critical` blocks publication, `warning` is recorded and alerted on;
* the GX expectation type and its arguments, exactly as they appear in the committed suite JSON
  (`great_expectations/expectations/`) and in Data Docs;
* `why`: one line for the reviewer, rendered as the expectation's note in Data Docs.

This module is plain data and imports no Great Expectations, so it can be read (and listed by
tests) without the 8-second GX import. `drp.quality.project` turns the specs into GX suites.

Values that depend on the run (the interval's bounds) are GX suite parameters
(`{"$PARAMETER": name}`), filled by `expectation_parameters()`. Fixed thresholds are constants
below, derived from the source system's behaviour (`drp_generator.world`): mean order amount about
390-430 with a median about 280-320, at most 5 lines x 4 items x ~500 per order (~10,000), daily
volume `orders_per_day` x 0.77-1.65 (weekday, season, holiday, noise), and every order's
lifecycle ending within 16 days of its creation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from drp_domain import CURRENCIES, ORDER_STATUSES, SEGMENTS

# --- thresholds ------------------------------------------------------------------------------
# Order amounts (one currency unit ~ one USD; FX rates are 0.79-1.0). Critical bands catch a
# whole-scale error (cents stored as units, a factor 100 either way); the warning bands catch
# a drift in the mix; the per-order cap catches individual orders inflated 100x.
AMOUNT_MEAN_CRITICAL: Final = (100.0, 2_000.0)
AMOUNT_MEAN_WARNING: Final = (250.0, 700.0)
AMOUNT_MEDIAN_CRITICAL: Final = (50.0, 1_500.0)
AMOUNT_MEDIAN_WARNING: Final = (150.0, 600.0)
AMOUNT_MAX_PLAUSIBLE: Final = 12_500.0
# Orders created on a full day of the interval, relative to the configured daily volume.
VOLUME_RATIO_CRITICAL_MIN: Final = 0.5
VOLUME_RATIO_WARNING: Final = (0.7, 1.75)
# Timestamps: clock skew tolerated past the interval's end, and how old an order touched by the
# interval may be (its lifecycle lasts at most 16 days; late records arrive up to 7 days late).
FUTURE_TOLERANCE: Final = timedelta(minutes=5)
MAX_ORDER_AGE_WARNING: Final = timedelta(days=30)
MAX_ORDER_AGE_CRITICAL: Final = timedelta(days=366)
CANCELLATION_RATE_WARNING_MAX: Final = 0.15
RETURN_RATE_WARNING_MAX: Final = 0.10
# Money compared across relations: both sides are exact decimals, so any difference is real.
MONEY_TOLERANCE: Final = 0.005


class Severity(StrEnum):
    """What a failed expectation does to the run."""

    CRITICAL = "critical"  # blocks publication
    WARNING = "warning"  # recorded and alerted, does not block


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation of a suite, with its severity and the reason it exists."""

    name: str
    severity: Severity
    expectation: str
    kwargs: Mapping[str, Any]
    why: str

    @property
    def column(self) -> str | None:
        """The column the expectation is about (the first of a pair or list), if any."""
        for key in ("column", "column_A"):
            if key in self.kwargs:
                return str(self.kwargs[key])
        if "column_list" in self.kwargs:
            return ",".join(self.kwargs["column_list"])
        return None

    @property
    def label(self) -> str:
        """`expectation_type(column)`: how GX and Data Docs name the expectation."""
        return f"{self.expectation}({self.column})" if self.column else self.expectation


@dataclass(frozen=True, slots=True)
class SuiteSpec:
    """A suite and the frame it validates (the frame has the suite's name)."""

    name: str
    description: str
    checks: tuple[Check, ...] = field(default_factory=tuple)

    def check(self, name: str) -> Check:
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(f"{self.name} has no check {name!r}")


def param(name: str) -> dict[str, str]:
    """A suite parameter, filled at run time by `expectation_parameters()`."""
    return {"$PARAMETER": name}


def critical(name: str, expectation: str, why: str, **kwargs: Any) -> Check:
    return Check(name, Severity.CRITICAL, expectation, kwargs, why)


def warning(name: str, expectation: str, why: str, **kwargs: Any) -> Check:
    return Check(name, Severity.WARNING, expectation, kwargs, why)


# Dimensions carry inferred members (`is_inferred`): placeholder rows dbt adds for keys that facts
# reference but whose record never arrived, attributes null. Attribute checks apply to real rows;
# facts pointing at an inferred member are caught by `integrity.relationships`.
REAL_MEMBERS: Final = {
    "type": "comparison",
    "column": {"name": "is_inferred"},
    "operator": "==",
    "parameter": False,
}


def _not_null(
    column: str,
    why: str | None = None,
    severity: Severity = Severity.CRITICAL,
    *,
    real_members_only: bool = False,
) -> Check:
    kwargs: dict[str, Any] = {"column": column}
    if real_members_only:
        kwargs["row_condition"] = REAL_MEMBERS
    return Check(
        f"{column}_not_null",
        severity,
        "expect_column_values_to_not_be_null",
        kwargs,
        why or f"{column} is required",
    )


def _unique(column: str, why: str) -> Check:
    return critical(f"{column}_unique", "expect_column_values_to_be_unique", why, column=column)


def _at_least(column: str, minimum: float, why: str, name: str | None = None) -> Check:
    return critical(
        name or f"{column}_non_negative",
        "expect_column_values_to_be_between",
        why,
        column=column,
        min_value=minimum,
    )


def _zero(column: str, why: str, severity: Severity = Severity.CRITICAL) -> Check:
    return Check(
        column,
        severity,
        "expect_column_values_to_be_between",
        {"column": column, "min_value": 0, "max_value": 0},
        why,
    )


def _columns(columns: Mapping[str, str], why: str) -> Check:
    return critical(
        "columns_match_contract",
        "expect_table_columns_to_match_set",
        why,
        column_set=sorted(columns),
        exact_match=True,
    )


# --- the relations' contracts: column -> DuckDB type, as dbt builds them ----------------------
TIMESTAMPTZ: Final = "TIMESTAMP WITH TIME ZONE"

CONTRACTS: Final[dict[str, dict[str, str]]] = {
    "staging.orders": {
        "source_order_id": "VARCHAR",
        "customer_id": "VARCHAR",
        "status": "VARCHAR",
        "currency": "VARCHAR",
        "amount": "DECIMAL(12,2)",
        "order_created_at": TIMESTAMPTZ,
        "updated_at": TIMESTAMPTZ,
        "ingested_at": TIMESTAMPTZ,
        "batch_id": "UUID",
        "source_system": "VARCHAR",
        "batch_interval_start": TIMESTAMPTZ,
        "batch_interval_end": TIMESTAMPTZ,
        "record_hash": "VARCHAR",
    },
    "analytics.daily_order_metrics": {
        "order_date": "DATE",
        "total_orders": "BIGINT",
        "unique_customers": "BIGINT",
        "total_amount": "DECIMAL(18,2)",
        "avg_amount": "DECIMAL(18,2)",
        "amount_usd": "DECIMAL(18,2)",
        "amount_eur": "DECIMAL(18,2)",
        "amount_gbp": "DECIMAL(18,2)",
        **{f"{status}_orders": "BIGINT" for status in ORDER_STATUSES},
        "cancellation_rate": "DECIMAL(18,4)",
        "return_rate": "DECIMAL(18,4)",
    },
    "analytics.fct_orders": {
        "order_id": "VARCHAR",
        "customer_id": "VARCHAR",
        "order_date": "DATE",
        "order_created_at": TIMESTAMPTZ,
        "updated_at": TIMESTAMPTZ,
        "status": "VARCHAR",
        "currency": "VARCHAR",
        "amount": "DECIMAL(12,2)",
        "line_count": "BIGINT",
        "product_count": "BIGINT",
        "item_quantity": "BIGINT",
        "lines_amount": "DECIMAL(18,2)",
        "is_cancelled": "BOOLEAN",
        "is_returned": "BOOLEAN",
        "is_delivered": "BOOLEAN",
        "batch_id": "UUID",
        "source_system": "VARCHAR",
        "batch_interval_start": TIMESTAMPTZ,
    },
    "analytics.fct_order_lines": {
        "order_line_id": "VARCHAR",
        "order_id": "VARCHAR",
        "line_number": "INTEGER",
        "product_id": "VARCHAR",
        "customer_id": "VARCHAR",
        "order_date": "DATE",
        "order_status": "VARCHAR",
        "currency": "VARCHAR",
        "quantity": "INTEGER",
        "unit_price": "DECIMAL(12,2)",
        "line_amount": "DECIMAL(18,2)",
        "order_updated_at": TIMESTAMPTZ,
        "batch_interval_start": TIMESTAMPTZ,
    },
    "analytics.dim_customers": {
        "customer_sk": "VARCHAR",
        "customer_id": "VARCHAR",
        "customer_name": "VARCHAR",
        "email": "VARCHAR",
        "country": "VARCHAR",
        "city": "VARCHAR",
        "segment": "VARCHAR",
        "customer_created_at": TIMESTAMPTZ,
        "version_number": "BIGINT",
        "valid_from": TIMESTAMPTZ,
        "valid_to": TIMESTAMPTZ,
        "is_current": "BOOLEAN",
        "is_inferred": "BOOLEAN",
    },
    "analytics.dim_products": {
        "product_id": "VARCHAR",
        "product_name": "VARCHAR",
        "category": "VARCHAR",
        "unit_price": "DECIMAL(12,2)",
        "currency": "VARCHAR",
        "product_created_at": TIMESTAMPTZ,
        "updated_at": TIMESTAMPTZ,
        "is_inferred": "BOOLEAN",
    },
    "analytics.dim_date": {
        "date_day": "DATE",
        "year_number": "INTEGER",
        "quarter_number": "INTEGER",
        "month_number": "INTEGER",
        "month_name": "VARCHAR",
        "day_of_month": "INTEGER",
        "iso_day_of_week": "INTEGER",
        "day_name": "VARCHAR",
        "iso_week_number": "INTEGER",
        "is_weekend": "BOOLEAN",
        "first_day_of_month": "DATE",
    },
}


def contract_signatures() -> list[str]:
    """`relation.column TYPE` for every contracted column (the `contracts.columns` frame's rows)."""
    return sorted(
        f"{relation}.{column} {data_type}"
        for relation, columns in CONTRACTS.items()
        for column, data_type in columns.items()
    )


# --- suites ----------------------------------------------------------------------------------
STAGING_ORDERS = SuiteSpec(
    name="staging.orders",
    description=("Orders (latest version) written by the interval's batches or created inside the interval."),
    checks=(
        critical(
            "row_count_min",
            "expect_table_row_count_to_be_between",
            "a non-empty interval has orders (min_orders is 0 when the source is configured empty)",
            min_value=param("min_orders"),
        ),
        _columns(CONTRACTS["staging.orders"], "the published column set of staging.orders"),
        _not_null("source_order_id"),
        _unique("source_order_id", "staging keeps exactly one (latest) version per order"),
        _not_null("customer_id", "every order belongs to a customer"),
        _not_null("status"),
        critical(
            "status_in_set",
            "expect_column_values_to_be_in_set",
            "status is one of the lifecycle states",
            column="status",
            value_set=list(ORDER_STATUSES),
        ),
        _not_null("currency"),
        critical(
            "currency_in_set",
            "expect_column_values_to_be_in_set",
            "the shop sells in USD, EUR and GBP only",
            column="currency",
            value_set=list(CURRENCIES),
        ),
        _not_null("amount"),
        _at_least("amount", 0, "an order amount is never negative"),
        critical(
            "amount_below_plausible_max",
            "expect_column_values_to_be_between",
            "no order can exceed 5 lines x 4 items x the dearest product (~10,000): a larger one "
            "is inflated (e.g. 100x)",
            column="amount",
            max_value=AMOUNT_MAX_PLAUSIBLE,
        ),
        critical(
            "amount_mean_in_band",
            "expect_column_mean_to_be_between",
            "the mean order amount (~400) moved by an order of magnitude: a unit or scale error",
            column="amount",
            min_value=AMOUNT_MEAN_CRITICAL[0],
            max_value=AMOUNT_MEAN_CRITICAL[1],
        ),
        critical(
            "amount_median_in_band",
            "expect_column_median_to_be_between",
            "the median order amount (~300) moved by an order of magnitude: a unit or scale error",
            column="amount",
            min_value=AMOUNT_MEDIAN_CRITICAL[0],
            max_value=AMOUNT_MEDIAN_CRITICAL[1],
        ),
        warning(
            "amount_mean_typical",
            "expect_column_mean_to_be_between",
            "the mean order amount left its usual range (mix change, partial inflation)",
            column="amount",
            min_value=AMOUNT_MEAN_WARNING[0],
            max_value=AMOUNT_MEAN_WARNING[1],
        ),
        warning(
            "amount_median_typical",
            "expect_column_median_to_be_between",
            "the median order amount left its usual range",
            column="amount",
            min_value=AMOUNT_MEDIAN_WARNING[0],
            max_value=AMOUNT_MEDIAN_WARNING[1],
        ),
        _not_null("order_created_at"),
        critical(
            "order_created_at_not_in_future",
            "expect_column_values_to_be_between",
            "no order is created after the interval's end (plus clock-skew tolerance)",
            column="order_created_at",
            max_value=param("order_created_at_max"),
        ),
        critical(
            "order_created_at_not_absurdly_old",
            "expect_column_values_to_be_between",
            "an order touched by this interval was created less than a year before it",
            column="order_created_at",
            min_value=param("order_created_at_min"),
        ),
        warning(
            "order_created_at_recent",
            "expect_column_values_to_be_between",
            "orders change for at most 16 days (+7 days of late delivery): older ones are unusual",
            column="order_created_at",
            min_value=param("order_created_at_recent_min"),
        ),
        _not_null("updated_at"),
        critical(
            "updated_at_not_before_created",
            "expect_column_pair_values_a_to_be_greater_than_b",
            "a version cannot predate its order",
            column_A="updated_at",
            column_B="order_created_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
        critical(
            "updated_at_within_batch_interval",
            "expect_column_pair_values_a_to_be_greater_than_b",
            "a version is delivered by the batch of the interval its updated_at falls in, so it "
            "cannot be later than that batch's end (a timestamp in the future)",
            column_A="batch_interval_end",
            column_B="updated_at",
            or_equal=False,
            ignore_row_if="either_value_is_missing",
        ),
        _not_null("batch_id", "lineage: the batch that loaded the row", Severity.WARNING),
        _not_null("ingested_at", "lineage: when the row was loaded", Severity.WARNING),
    ),
)

_STATUS_COUNTS = tuple(f"{status}_orders" for status in ORDER_STATUSES)

DAILY_ORDER_METRICS = SuiteSpec(
    name="analytics.daily_order_metrics",
    description="Daily metrics for the interval's dates and every order date the interval touched.",
    checks=(
        _columns(CONTRACTS["analytics.daily_order_metrics"], "the published metrics columns"),
        _not_null("order_date"),
        _unique("order_date", "one row per date"),
        _at_least("total_orders", 0, "counts are never negative"),
        _at_least("total_amount", 0, "totals are never negative"),
        _at_least("avg_amount", 0, "averages are never negative"),
        *(_at_least(f"amount_{c.lower()}", 0, "per-currency totals are never negative") for c in CURRENCIES),
        *(_at_least(column, 0, "status counts are never negative") for column in _STATUS_COUNTS),
        critical(
            "unique_customers_within_total_orders",
            "expect_column_pair_values_a_to_be_greater_than_b",
            "a day cannot have more distinct customers than orders",
            column_A="total_orders",
            column_B="unique_customers",
            or_equal=True,
        ),
        critical(
            "cancellation_rate_is_fraction",
            "expect_column_values_to_be_between",
            "a rate is between 0 and 1",
            column="cancellation_rate",
            min_value=0,
            max_value=1,
        ),
        critical(
            "return_rate_is_fraction",
            "expect_column_values_to_be_between",
            "a rate is between 0 and 1",
            column="return_rate",
            min_value=0,
            max_value=1,
        ),
        warning(
            "cancellation_rate_typical",
            "expect_column_values_to_be_between",
            "about 6% of orders are cancelled",
            column="cancellation_rate",
            max_value=CANCELLATION_RATE_WARNING_MAX,
        ),
        warning(
            "return_rate_typical",
            "expect_column_values_to_be_between",
            "about 3% of delivered orders are returned",
            column="return_rate",
            max_value=RETURN_RATE_WARNING_MAX,
        ),
    ),
)

FCT_ORDERS = SuiteSpec(
    name="analytics.fct_orders",
    description="Order facts (latest state) written by the interval or created inside it.",
    checks=(
        _columns(CONTRACTS["analytics.fct_orders"], "the published fact columns"),
        _not_null("order_id"),
        _unique("order_id", "one row per order"),
        _not_null("customer_id", "every order belongs to a customer"),
        _not_null("order_date"),
        _not_null("order_created_at"),
        _not_null("amount"),
        _at_least("amount", 0, "an order amount is never negative"),
        critical(
            "status_in_set",
            "expect_column_values_to_be_in_set",
            "status is one of the lifecycle states",
            column="status",
            value_set=list(ORDER_STATUSES),
        ),
        critical(
            "currency_in_set",
            "expect_column_values_to_be_in_set",
            "the shop sells in USD, EUR and GBP only",
            column="currency",
            value_set=list(CURRENCIES),
        ),
        _at_least("line_count", 1, "every order has at least one line", name="line_count_positive"),
    ),
)

FCT_ORDER_LINES = SuiteSpec(
    name="analytics.fct_order_lines",
    description="The lines of the orders in the analytics.fct_orders frame, and lines the interval wrote.",
    checks=(
        _columns(CONTRACTS["analytics.fct_order_lines"], "the published line fact columns"),
        _not_null("order_line_id"),
        _unique("order_line_id", "one row per order line"),
        critical(
            "order_line_number_unique",
            "expect_compound_columns_to_be_unique",
            "line numbers are unique within an order",
            column_list=["order_id", "line_number"],
        ),
        _not_null("order_id"),
        _not_null("product_id"),
        _not_null("order_date", "a line's order exists in staging (its date comes from it)"),
        _at_least("quantity", 1, "a line has at least one item", name="quantity_positive"),
        _at_least("unit_price", 0, "prices are never negative"),
        _at_least("line_amount", 0, "line amounts are never negative"),
    ),
)

DIM_CUSTOMERS = SuiteSpec(
    name="analytics.dim_customers",
    description="The customer dimension (SCD2), whole table.",
    checks=(
        _columns(CONTRACTS["analytics.dim_customers"], "the published dimension columns"),
        _not_null("customer_sk"),
        _unique("customer_sk", "one row per customer version"),
        _not_null("customer_id"),
        critical(
            "customer_version_unique",
            "expect_compound_columns_to_be_unique",
            "one version per customer and valid_from",
            column_list=["customer_id", "valid_from"],
        ),
        _not_null("valid_from"),
        critical(
            "valid_to_after_valid_from",
            "expect_column_pair_values_a_to_be_greater_than_b",
            "a version is valid over a non-empty [valid_from, valid_to)",
            column_A="valid_to",
            column_B="valid_from",
            or_equal=False,
            ignore_row_if="either_value_is_missing",
        ),
        _at_least("version_number", 1, "versions are numbered from 1", name="version_number_positive"),
        _not_null("email", "a real customer has an email", Severity.WARNING, real_members_only=True),
        warning(
            "segment_in_set",
            "expect_column_values_to_be_in_set",
            "segments are consumer, smb, enterprise",
            column="segment",
            value_set=list(SEGMENTS),
        ),
    ),
)

DIM_PRODUCTS = SuiteSpec(
    name="analytics.dim_products",
    description="The product dimension, whole table.",
    checks=(
        _columns(CONTRACTS["analytics.dim_products"], "the published dimension columns"),
        _not_null("product_id"),
        _unique("product_id", "one row per product"),
        _not_null("unit_price", "a real product has a list price", real_members_only=True),
        _at_least("unit_price", 0, "prices are never negative"),
        critical(
            "currency_in_set",
            "expect_column_values_to_be_in_set",
            "list prices are in USD, EUR or GBP",
            column="currency",
            value_set=list(CURRENCIES),
        ),
        _not_null("category", "a real product has a category", Severity.WARNING, real_members_only=True),
        _not_null("product_name", "a real product has a name", Severity.WARNING, real_members_only=True),
    ),
)

DIM_DATE = SuiteSpec(
    name="analytics.dim_date",
    description="The calendar dimension, whole table.",
    checks=(
        _columns(CONTRACTS["analytics.dim_date"], "the published calendar columns"),
        _not_null("date_day"),
        _unique("date_day", "one row per day"),
    ),
)

RECONCILIATION = SuiteSpec(
    name="reconciliation.daily_orders",
    description=(
        "One row per date of the interval and per order date it touched: daily metrics and the "
        "order facts against staging, and the interval's volume against the configured volume."
    ),
    checks=(
        critical(
            "metrics_row_present",
            "expect_column_values_to_be_in_set",
            "every date of the interval (and every touched date) has its daily metrics row",
            column="metrics_row_present",
            value_set=[True],
        ),
        critical(
            "dim_date_row_present",
            "expect_column_values_to_be_in_set",
            "every such date exists in dim_date",
            column="dim_date_row_present",
            value_set=[True],
        ),
        _zero("metrics_orders_minus_staging", "daily total_orders equals the staging orders of that date"),
        critical(
            "metrics_amount_minus_staging",
            "expect_column_values_to_be_between",
            "daily total_amount equals the staging amount of that date",
            column="metrics_amount_minus_staging",
            min_value=-MONEY_TOLERANCE,
            max_value=MONEY_TOLERANCE,
        ),
        _zero("fct_orders_minus_staging", "fct_orders has the same orders per date as staging"),
        critical(
            "fct_amount_minus_staging",
            "expect_column_values_to_be_between",
            "fct_orders has the same amount per date as staging",
            column="fct_amount_minus_staging",
            min_value=-MONEY_TOLERANCE,
            max_value=MONEY_TOLERANCE,
        ),
        critical(
            "avg_amount_minus_ratio",
            "expect_column_values_to_be_between",
            "avg_amount = total_amount / total_orders (rounded to cents)",
            column="avg_amount_minus_ratio",
            min_value=-0.01,
            max_value=0.01,
        ),
        _zero("status_counts_minus_total", "the per-status counts add up to total_orders"),
        critical(
            "currency_amounts_minus_total",
            "expect_column_values_to_be_between",
            "the per-currency amounts add up to total_amount",
            column="currency_amounts_minus_total",
            min_value=-MONEY_TOLERANCE,
            max_value=MONEY_TOLERANCE,
        ),
        critical(
            "volume_not_collapsed",
            "expect_column_values_to_be_between",
            "a full day of the interval has at least half the configured daily volume",
            column="volume_ratio",
            min_value=VOLUME_RATIO_CRITICAL_MIN,
        ),
        warning(
            "volume_typical",
            "expect_column_values_to_be_between",
            "daily volume varies 0.77-1.65x with weekday, season and holidays",
            column="volume_ratio",
            min_value=VOLUME_RATIO_WARNING[0],
            max_value=VOLUME_RATIO_WARNING[1],
        ),
    ),
)

INTEGRITY = SuiteSpec(
    name="integrity.relationships",
    description=(
        "One row of anomaly counts (each must be 0) for the interval's facts against their "
        "dimensions and staging, and for the SCD2 history of dim_customers."
    ),
    checks=(
        _zero(
            "fct_orders_unknown_customer",
            "every order's customer exists in dim_customers as a real (not inferred) member",
        ),
        _zero(
            "fct_orders_customer_not_valid_at_order_time",
            "a customer version is valid when the order was created (late customer data otherwise)",
            Severity.WARNING,
        ),
        _zero("fct_orders_missing_from_staging", "every order fact comes from a staging order"),
        _zero("staging_orders_missing_from_fct", "every staging order of the interval is in fct_orders"),
        _zero(
            "fct_orders_amount_mismatch",
            "an order's amount equals the sum of its lines in this source; the header amount (which "
            "the metrics use) is the source's own, so a mismatch alerts rather than blocks",
            Severity.WARNING,
        ),
        _zero("fct_order_lines_unknown_order", "every line belongs to an order in fct_orders"),
        _zero(
            "fct_order_lines_unknown_product",
            "every line's product exists in dim_products as a real (not inferred) member",
        ),
        _zero("fct_order_lines_amount_mismatch", "line_amount = quantity x unit_price"),
        _zero("dim_customers_not_one_current", "each customer has exactly one current version"),
        _zero(
            "dim_customers_version_gaps", "a customer's versions are contiguous: valid_to = next valid_from"
        ),
    ),
)

CONTRACT_COLUMNS = SuiteSpec(
    name="contracts.columns",
    description="The warehouse's declared column types (DuckDB information_schema) against the contracts.",
    checks=(
        critical(
            "columns_have_contracted_types",
            "expect_column_values_to_be_in_set",
            "every column of a validated relation exists in its contract with this exact type",
            column="signature",
            value_set=contract_signatures(),
        ),
        critical(
            "contracted_columns_present",
            "expect_column_distinct_values_to_contain_set",
            "every contracted column exists",
            column="signature",
            value_set=contract_signatures(),
        ),
    ),
)

SUITES: Final[tuple[SuiteSpec, ...]] = (
    STAGING_ORDERS,
    DAILY_ORDER_METRICS,
    FCT_ORDERS,
    FCT_ORDER_LINES,
    DIM_CUSTOMERS,
    DIM_PRODUCTS,
    DIM_DATE,
    RECONCILIATION,
    INTEGRITY,
    CONTRACT_COLUMNS,
)


def suite(name: str) -> SuiteSpec:
    """The suite called `name`."""
    for spec in SUITES:
        if spec.name == name:
            return spec
    raise KeyError(f"no quality suite {name!r}")


def expectation_parameters(
    data_interval_start: datetime, data_interval_end: datetime, *, orders_per_day: int
) -> dict[str, Any]:
    """Values of the suites' `$PARAMETER`s for one run's interval."""
    return {
        "min_orders": 1 if orders_per_day > 0 else 0,
        "order_created_at_max": data_interval_end + FUTURE_TOLERANCE,
        "order_created_at_min": data_interval_start - MAX_ORDER_AGE_CRITICAL,
        "order_created_at_recent_min": data_interval_start - MAX_ORDER_AGE_WARNING,
    }


def _validate_specs() -> None:
    # Import-time guard: names are how results, errors and tests refer to checks.
    names = [spec.name for spec in SUITES]
    if len(set(names)) != len(names):
        raise ValueError("duplicate suite names")
    for spec in SUITES:
        checks = [check.name for check in spec.checks]
        if len(set(checks)) != len(checks):
            raise ValueError(f"duplicate check names in {spec.name}")


_validate_specs()
