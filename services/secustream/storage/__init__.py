"""PostgreSQL (or SQLite for `secustream up`) persistence: models, repositories, migrations."""
