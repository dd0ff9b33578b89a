"""Scoring a model: metrics, the confusion/per-class report of a split, and kws-report's run figure."""
