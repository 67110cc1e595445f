"""Settings: the sections and their rules, loading from TOML and ``RELAY_*`` variables, the redacted report."""
