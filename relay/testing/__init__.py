"""Test doubles that ship with relay, so its own tests and an operator's smoke test use the same ones.

:mod:`relay.testing.x_emulator` is an HTTP emulator of the parts of X API v2 that relay calls; it
speaks real HTTP so the real tweepy publisher can be exercised end to end without touching X.
"""
