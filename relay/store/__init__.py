"""Storage: all SQL lives in this package, behind :class:`relay.store.store.Store`."""
