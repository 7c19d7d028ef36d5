"""Driving Airflow from outside: trigger, watch and summarize runs through its REST API."""
