"""The ``relay`` command: :mod:`relay.cli.main` builds it from one module per command group."""
