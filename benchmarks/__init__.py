"""Side-by-side measurements: the rendered image against the usual single-stage recipe."""
