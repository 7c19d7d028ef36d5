"""The daily pipeline's task bodies: each DAG task calls exactly one function here."""
