"""`make docs`: one local site with the dbt docs and the Great Expectations Data Docs."""
