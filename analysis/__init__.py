"""Framescope's analysis engine: ingest → passages → embeddings → clusters → frames → aggregates → exports.

A pure library: no Streamlit, no network. Each stage is a module with typed inputs
and outputs (DataFrames with the columns of `analysis.schema`, NumPy arrays, frozen
dataclasses), so a distributed engine can map the batch stages over partitions.
"""

__version__ = "0.1.0"
