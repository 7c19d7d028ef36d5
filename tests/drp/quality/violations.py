"""One injected violation per critical expectation, as SQL against a copy of the clean sample.

Each case names the suite and check that must fail; `test_violations` runs the gate on the
corrupted copy and asserts the gate is blocked with that expectation named. Other checks may fail
too (a negative total also breaks the reconciliation); the named one must be among them. The
interval is the sample's day 3: [2026-01-04, 2026-01-05).
"""

from __future__ import annotations

from dataclasses import dataclass

S = "timestamptz '2026-01-04 00:00:00+00'"
E = "timestamptz '2026-01-05 00:00:00+00'"
DAY = "date '2026-01-04'"

# Rows inside the interval's frames.
# Created inside the interval and written by its batch: stays in the frame whatever is corrupted.
ORDER = (
    f"(select min(source_order_id) from staging.orders "
    f"where order_created_at >= {S} and order_created_at < {E} and batch_interval_start = {S})"
)
BIG_ORDER = (
    f"(select min(source_order_id) from staging.orders "
    f"where order_created_at >= {S} and order_created_at < {E} and amount > 200)"
)
BATCH_ORDER = f"(select min(source_order_id) from staging.orders where batch_interval_start = {S})"
FCT_ORDER = f"(select min(order_id) from analytics.fct_orders where order_date = {DAY})"
MULTI_LINE_ORDER = (
    f"(select min(order_id) from analytics.fct_orders where order_date = {DAY} and line_count >= 2)"
)
LINE = f"(select min(order_line_id) from analytics.fct_order_lines where order_date = {DAY})"
BATCH_LINE = f"(select min(order_line_id) from analytics.fct_order_lines where batch_interval_start = {S})"
CHANGED_CUSTOMER = "(select min(customer_id) from analytics.dim_customers where version_number = 2)"
CUSTOMER_SK = "(select min(customer_sk) from analytics.dim_customers)"
PRODUCT = "(select min(product_id) from analytics.dim_products)"


@dataclass(frozen=True)
class Violation:
    suite: str
    check: str
    sql: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.suite}:{self.check}"


def v(suite: str, check: str, *sql: str) -> Violation:
    return Violation(suite, check, sql)


def _set(table: str, assignment: str, key: str, value: str) -> str:
    return f"update {table} set {assignment} where {key} = {value}"


def _dup(table: str, key: str, value: str) -> str:
    return f"insert into {table} select * from {table} where {key} = {value}"


def _staging(assignment: str, order: str = ORDER) -> str:
    return _set("staging.orders", assignment, "source_order_id", order)


def _metrics(assignment: str) -> str:
    return f"update analytics.daily_order_metrics set {assignment} where order_date = {DAY}"


def _fct(assignment: str, order: str = FCT_ORDER) -> str:
    return _set("analytics.fct_orders", assignment, "order_id", order)


def _line(assignment: str, line: str = LINE) -> str:
    return _set("analytics.fct_order_lines", assignment, "order_line_id", line)


STAGING = "staging.orders"
METRICS = "analytics.daily_order_metrics"
FCT = "analytics.fct_orders"
LINES = "analytics.fct_order_lines"
CUSTOMERS = "analytics.dim_customers"
PRODUCTS = "analytics.dim_products"
DATES = "analytics.dim_date"
RECON = "reconciliation.daily_orders"
INTEGRITY = "integrity.relationships"
CONTRACTS = "contracts.columns"

VIOLATIONS: tuple[Violation, ...] = (
    # --- staging.orders -------------------------------------------------------------------------
    v(
        STAGING,
        "row_count_min",
        f"delete from staging.orders where (batch_interval_start >= {S} and batch_interval_start < {E}) "
        f"or (order_created_at >= {S} and order_created_at < {E})",
    ),
    v(STAGING, "columns_match_contract", "alter table staging.orders drop column record_hash"),
    v(STAGING, "source_order_id_not_null", _staging("source_order_id = null")),
    v(STAGING, "source_order_id_unique", _dup("staging.orders", "source_order_id", ORDER)),
    v(STAGING, "customer_id_not_null", _staging("customer_id = null")),
    v(STAGING, "status_not_null", _staging("status = null")),
    v(STAGING, "status_in_set", _staging("status = 'on_hold'")),
    v(STAGING, "currency_not_null", _staging("currency = null")),
    v(STAGING, "currency_in_set", _staging("currency = 'JPY'")),
    v(STAGING, "amount_not_null", _staging("amount = null")),
    v(STAGING, "amount_non_negative", _staging("amount = -5")),
    v(STAGING, "amount_below_plausible_max", _staging("amount = amount * 100", BIG_ORDER)),
    v(STAGING, "amount_mean_in_band", "update staging.orders set amount = amount * 100"),
    v(STAGING, "amount_median_in_band", "update staging.orders set amount = amount / 100"),
    v(STAGING, "order_created_at_not_null", _staging("order_created_at = null")),
    v(STAGING, "order_created_at_not_in_future", _staging(f"order_created_at = {E} + interval 2 hour")),
    v(
        STAGING,
        "order_created_at_not_absurdly_old",
        _staging("order_created_at = timestamptz '1970-01-01 00:00:00+00'", BATCH_ORDER),
    ),
    v(STAGING, "updated_at_not_null", _staging("updated_at = null")),
    v(STAGING, "updated_at_not_before_created", _staging("updated_at = order_created_at - interval 1 hour")),
    v(
        STAGING,
        "updated_at_within_batch_interval",
        _staging("updated_at = batch_interval_end + interval 1 hour", BATCH_ORDER),
    ),
    # --- analytics.daily_order_metrics --------------------------------------------------------
    v(METRICS, "columns_match_contract", "alter table analytics.daily_order_metrics add column note varchar"),
    v(METRICS, "order_date_not_null", _metrics("order_date = null")),
    v(
        METRICS,
        "order_date_unique",
        f"insert into analytics.daily_order_metrics select * from analytics.daily_order_metrics "
        f"where order_date = {DAY}",
    ),
    v(METRICS, "total_orders_non_negative", _metrics("total_orders = -1")),
    v(METRICS, "total_amount_non_negative", _metrics("total_amount = -1")),
    v(METRICS, "avg_amount_non_negative", _metrics("avg_amount = -1")),
    v(METRICS, "amount_usd_non_negative", _metrics("amount_usd = -1")),
    v(METRICS, "amount_eur_non_negative", _metrics("amount_eur = -1")),
    v(METRICS, "amount_gbp_non_negative", _metrics("amount_gbp = -1")),
    v(METRICS, "placed_orders_non_negative", _metrics("placed_orders = -1")),
    v(METRICS, "paid_orders_non_negative", _metrics("paid_orders = -1")),
    v(METRICS, "shipped_orders_non_negative", _metrics("shipped_orders = -1")),
    v(METRICS, "delivered_orders_non_negative", _metrics("delivered_orders = -1")),
    v(METRICS, "cancelled_orders_non_negative", _metrics("cancelled_orders = -1")),
    v(METRICS, "returned_orders_non_negative", _metrics("returned_orders = -1")),
    v(METRICS, "unique_customers_within_total_orders", _metrics("unique_customers = total_orders + 1")),
    v(METRICS, "cancellation_rate_is_fraction", _metrics("cancellation_rate = 1.5")),
    v(METRICS, "return_rate_is_fraction", _metrics("return_rate = -0.1")),
    # --- analytics.fct_orders -----------------------------------------------------------------
    v(FCT, "columns_match_contract", "alter table analytics.fct_orders drop column product_count"),
    v(FCT, "order_id_not_null", _fct("order_id = null")),
    v(FCT, "order_id_unique", _dup("analytics.fct_orders", "order_id", FCT_ORDER)),
    v(FCT, "customer_id_not_null", _fct("customer_id = null")),
    v(FCT, "order_date_not_null", _fct("order_date = null")),
    v(FCT, "order_created_at_not_null", _fct("order_created_at = null")),
    v(FCT, "amount_not_null", _fct("amount = null")),
    v(FCT, "amount_non_negative", _fct("amount = -1")),
    v(FCT, "status_in_set", _fct("status = 'lost'")),
    v(FCT, "currency_in_set", _fct("currency = 'CHF'")),
    v(FCT, "line_count_positive", _fct("line_count = 0")),
    # --- analytics.fct_order_lines ------------------------------------------------------------
    v(LINES, "columns_match_contract", "alter table analytics.fct_order_lines drop column order_status"),
    v(LINES, "order_line_id_not_null", _line("order_line_id = null")),
    v(LINES, "order_line_id_unique", _dup("analytics.fct_order_lines", "order_line_id", LINE)),
    v(
        LINES,
        "order_line_number_unique",
        f"update analytics.fct_order_lines set line_number = 1 where order_id = {MULTI_LINE_ORDER}",
    ),
    v(LINES, "order_id_not_null", _line("order_id = null", BATCH_LINE)),
    v(LINES, "product_id_not_null", _line("product_id = null")),
    v(LINES, "order_date_not_null", _line("order_date = null")),
    v(LINES, "quantity_positive", _line("quantity = 0")),
    v(LINES, "unit_price_non_negative", _line("unit_price = -1")),
    v(LINES, "line_amount_non_negative", _line("line_amount = -1")),
    # --- analytics.dim_customers --------------------------------------------------------------
    v(CUSTOMERS, "columns_match_contract", "alter table analytics.dim_customers drop column city"),
    v(
        CUSTOMERS,
        "customer_sk_not_null",
        _set("analytics.dim_customers", "customer_sk = null", "customer_sk", CUSTOMER_SK),
    ),
    v(CUSTOMERS, "customer_sk_unique", _dup("analytics.dim_customers", "customer_sk", CUSTOMER_SK)),
    v(
        CUSTOMERS,
        "customer_id_not_null",
        _set("analytics.dim_customers", "customer_id = null", "customer_sk", CUSTOMER_SK),
    ),
    v(
        CUSTOMERS,
        "customer_version_unique",
        "insert into analytics.dim_customers select * replace (customer_sk || 'x' as customer_sk) "
        f"from analytics.dim_customers where customer_sk = {CUSTOMER_SK}",
    ),
    v(
        CUSTOMERS,
        "valid_from_not_null",
        _set("analytics.dim_customers", "valid_from = null", "customer_sk", CUSTOMER_SK),
    ),
    v(
        CUSTOMERS,
        "valid_to_after_valid_from",
        "update analytics.dim_customers set valid_to = valid_from - interval 1 day "
        f"where customer_id = {CHANGED_CUSTOMER} and version_number = 1",
    ),
    v(
        CUSTOMERS,
        "version_number_positive",
        _set("analytics.dim_customers", "version_number = 0", "customer_sk", CUSTOMER_SK),
    ),
    # --- analytics.dim_products ---------------------------------------------------------------
    v(
        PRODUCTS,
        "columns_match_contract",
        "alter table analytics.dim_products drop column product_created_at",
    ),
    v(
        PRODUCTS,
        "product_id_not_null",
        _set("analytics.dim_products", "product_id = null", "product_id", PRODUCT),
    ),
    v(PRODUCTS, "product_id_unique", _dup("analytics.dim_products", "product_id", PRODUCT)),
    v(
        PRODUCTS,
        "unit_price_not_null",
        _set("analytics.dim_products", "unit_price = null", "product_id", PRODUCT),
    ),
    v(
        PRODUCTS,
        "unit_price_non_negative",
        _set("analytics.dim_products", "unit_price = -1", "product_id", PRODUCT),
    ),
    v(PRODUCTS, "currency_in_set", _set("analytics.dim_products", "currency = 'XXX'", "product_id", PRODUCT)),
    # --- analytics.dim_date -------------------------------------------------------------------
    v(DATES, "columns_match_contract", "alter table analytics.dim_date drop column day_name"),
    v(
        DATES,
        "date_day_not_null",
        "update analytics.dim_date set date_day = null where date_day = date '2030-06-01'",
    ),
    v(
        DATES,
        "date_day_unique",
        "insert into analytics.dim_date select * from analytics.dim_date where date_day = date '2030-06-01'",
    ),
    # --- reconciliation.daily_orders ----------------------------------------------------------
    v(RECON, "metrics_row_present", f"delete from analytics.daily_order_metrics where order_date = {DAY}"),
    v(RECON, "dim_date_row_present", f"delete from analytics.dim_date where date_day = {DAY}"),
    v(RECON, "metrics_orders_minus_staging", _metrics("total_orders = total_orders + 1")),
    v(RECON, "metrics_amount_minus_staging", _metrics("total_amount = total_amount + 10")),
    v(
        RECON,
        "fct_orders_minus_staging",
        f"delete from analytics.fct_order_lines where order_id = {FCT_ORDER}",
        f"delete from analytics.fct_orders where order_id = {FCT_ORDER}",
    ),
    v(RECON, "fct_amount_minus_staging", _fct("amount = amount + 1, lines_amount = lines_amount + 1")),
    v(RECON, "avg_amount_minus_ratio", _metrics("avg_amount = avg_amount + 1")),
    v(RECON, "status_counts_minus_total", _metrics("placed_orders = placed_orders + 1")),
    v(RECON, "currency_amounts_minus_total", _metrics("amount_usd = amount_usd + 1")),
    v(
        RECON,
        "volume_not_collapsed",
        # Consistent in every layer: 190 of the day's 200 orders never arrived.
        f"create temp table lost as select order_id from analytics.fct_orders where order_date = {DAY} "
        "order by order_id offset 10",
        "delete from analytics.fct_order_lines where order_id in (select order_id from lost)",
        "delete from analytics.fct_orders where order_id in (select order_id from lost)",
        "delete from staging.orders where source_order_id in (select order_id from lost)",
        "update analytics.daily_order_metrics as m set "
        "total_orders = a.total_orders, unique_customers = a.unique_customers, "
        "total_amount = a.total_amount, avg_amount = round(a.total_amount / a.total_orders, 2), "
        "amount_usd = a.usd, amount_eur = a.eur, amount_gbp = a.gbp, "
        "placed_orders = a.placed, paid_orders = a.paid, shipped_orders = a.shipped, "
        "delivered_orders = a.delivered, cancelled_orders = a.cancelled, returned_orders = a.returned "
        "from (select order_date, count(*) as total_orders, count(distinct customer_id) as unique_customers, "
        "sum(amount) as total_amount, "
        "coalesce(sum(amount) filter (where currency = 'USD'), 0) as usd, "
        "coalesce(sum(amount) filter (where currency = 'EUR'), 0) as eur, "
        "coalesce(sum(amount) filter (where currency = 'GBP'), 0) as gbp, "
        "count(*) filter (where status = 'placed') as placed, "
        "count(*) filter (where status = 'paid') as paid, "
        "count(*) filter (where status = 'shipped') as shipped, "
        "count(*) filter (where status = 'delivered') as delivered, "
        "count(*) filter (where status = 'cancelled') as cancelled, "
        "count(*) filter (where status = 'returned') as returned "
        f"from analytics.fct_orders where order_date = {DAY} group by order_date) as a "
        "where m.order_date = a.order_date",
    ),
    # --- integrity.relationships --------------------------------------------------------------
    v(INTEGRITY, "fct_orders_unknown_customer", _fct("customer_id = 'cus_99000001'")),
    v(
        INTEGRITY,
        "fct_orders_missing_from_staging",
        f"delete from staging.orders where source_order_id = {ORDER}",
    ),
    v(
        INTEGRITY,
        "staging_orders_missing_from_fct",
        f"delete from analytics.fct_order_lines where order_id = {FCT_ORDER}",
        f"delete from analytics.fct_orders where order_id = {FCT_ORDER}",
    ),
    v(
        INTEGRITY,
        "fct_order_lines_unknown_order",
        "insert into analytics.fct_order_lines select * replace ('ord_ghost' as order_id, "
        f"'ord_ghost-1' as order_line_id) from analytics.fct_order_lines where order_line_id = {BATCH_LINE}",
    ),
    v(INTEGRITY, "fct_order_lines_unknown_product", _line("product_id = 'prd_999999'")),
    v(INTEGRITY, "fct_order_lines_amount_mismatch", _line("line_amount = line_amount + 1")),
    v(
        INTEGRITY,
        "dim_customers_not_one_current",
        f"update analytics.dim_customers set is_current = false where customer_id = {CHANGED_CUSTOMER}",
    ),
    v(
        INTEGRITY,
        "dim_customers_version_gaps",
        "update analytics.dim_customers set valid_to = valid_to - interval 1 hour "
        f"where customer_id = {CHANGED_CUSTOMER} and version_number = 1",
    ),
    # --- contracts.columns --------------------------------------------------------------------
    v(CONTRACTS, "columns_have_contracted_types", "alter table staging.orders alter amount type double"),
    v(CONTRACTS, "contracted_columns_present", "alter table analytics.fct_orders drop column is_delivered"),
)
