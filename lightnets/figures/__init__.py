"""Plotly figures built from lightnets data; the only part of the package that imports plotly.

One module per area, each owned with its page: ``cost`` (metrics, per-layer charts, sweeps, family comparison),
``shuffle`` (channel-shuffle animations), ``latency`` (measured timing), ``predict`` (top-k bars, feature maps).
``style`` holds the colours they share, so an op kind has the same colour on every page.
"""
