"""`python -m impact.migrations "what changed"` (or `make migration m=...`): write the next revision.

It upgrades a scratch SQLite database to head and lets autogenerate compare it with the models.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from impact.db import MIGRATIONS, alembic_config, make_engine, upgrade


def main(message: str) -> None:
    if not message.strip():
        sys.exit('say what changed: make migration m="add dead-letter resolution"')
    number = len(list((MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))) + 1
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'head.db'}")
        upgrade(engine)
        with engine.begin() as connection:
            command.revision(alembic_config(connection), message=message, autogenerate=True, rev_id=f"{number:04d}")
        engine.dispose()


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]))
