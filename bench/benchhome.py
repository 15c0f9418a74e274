"""Django for a benchmark: a throwaway PHONEBANK_HOME with its own generated keyring, and
SQLite there or the empty database at ``database_url``, migrated. Shared by the benchmarks
that call the services in-process (import.py's child, zones.py, exports.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def setup(home: Path | str, database_url: str = "") -> None:
    os.environ["PHONEBANK_HOME"] = str(home)
    os.environ["DJANGO_SETTINGS_MODULE"] = "phonebank.settings"
    os.environ["PHONEBANK_HTTPS"] = "0"
    for name in ("PHONEBANK_SECRET_KEY", "PHONEBANK_DATA_KEY", "PHONEBANK_DEBUG"):
        os.environ.pop(name, None)  # a throwaway keyring, generated in the home
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    from phonebank.contacts.models import Contact

    call_command("migrate", verbosity=0)
    if Contact.objects.exists():
        sys.exit("bench: --database-url must name an empty database (contacts exist)")
