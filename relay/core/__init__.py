"""The pure heart of relay: no clock, environment, network or database in here.

Everything in ``relay.core`` is deterministic so it can be tested exhaustively and
reused by every door (webhook, feed, republish) without knowing which one it is.
"""
