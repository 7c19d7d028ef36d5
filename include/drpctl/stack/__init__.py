"""The local platform stack: secrets, PostgreSQL, object store, Airflow, under supervisord."""
