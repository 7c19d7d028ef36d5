"""Audit trail of pipeline runs (ops.pipeline_flow_audit) and alerts."""
