"""Alembic migrations, shipped inside the package so ``relay migrate`` works from a wheel."""
