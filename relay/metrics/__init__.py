"""Measuring what a relayed post brings back: clicks on tracked links (clicks, bots, tracking),
X's own counters (engagement), reports and Prometheus."""
