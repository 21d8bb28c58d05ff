"""Task API service package (kept import-free so `python -m app.healthcheck` starts fast)."""
