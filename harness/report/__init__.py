"""The report: the matrix table and what the rows have in common."""
