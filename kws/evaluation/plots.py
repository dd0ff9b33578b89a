"""matplotlib for writing image files only (lr_find.png, confusion matrices, kws-report)."""


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend, imported on first use (it is slow to load)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: servers, CI, containers
    from matplotlib import pyplot as plt

    return plt
