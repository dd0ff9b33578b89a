"""Scoring a model: metrics, the confusion/per-class report of a split, kws-report's run figure, and
kws-table's results table of seeds with the result files it writes."""
