"""WebSub (W3C, formerly PubSubHubbub): blogs that name a hub push new posts to relay at once.

Polling stays the source of truth: push only makes relay faster, and a feed whose push is
live is still polled, less often, in case the hub drops a notification. The pieces:

* :mod:`relay.websub.discovery` finds the hub and the topic (pure);
* :mod:`relay.websub.signatures` checks ``X-Hub-Signature`` on a pushed body (pure);
* :mod:`relay.websub.subscriber` asks hubs for subscriptions, renews them, and decides
  whether a hub's verification request is one relay really made.
"""
