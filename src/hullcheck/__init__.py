"""hullcheck: keep a self-hosted container estate updated and know the risk of each update."""

__version__ = "0.1.0"
