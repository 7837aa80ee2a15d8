"""Catalog, statistics, citations and sample images for the sources of BioVFM-21M."""

__version__ = "0.1.0"
