"""The `phonebank` console script: Django's management commands under one name.

`phonebank demo`, `phonebank serve`, `phonebank contacts import …` and the rest are
management commands of the apps; `phonebank manage …` reaches every Django command.
"""

from __future__ import annotations

import os
import sys

USAGE = """usage: phonebank COMMAND [options]

  demo [--host H] [--port P] [--no-serve] [--size {small,large}]
                                              set up demo data and serve it
  serve [--host H] [--port P]                 serve the application (and its import worker)
  worker                                      run background imports, exports and log batches
  createuser NAME --role ROLE [--campaign SLUG] --password-stdin
  token create NAME                           print a new API token for a user
  campaign create SLUG --name TEXT [--hours 09:00-12:00,14:00-21:00]
  contacts import FILE --campaign SLUG [--default-region CN] [--rejects OUT.csv] [--json]
  dnc add|remove|check NUMBER, dnc import FILE
  keys status|rotate|retire                   data keys (encryption at rest)
  backup [--output FILE]                      a consistent copy of the database (not the keys)
  restore FILE [--yes]                        replace the database with a backup (server stopped)
  registry publish                            seal pending declarations into the log now
  registry verify [--url URL] [--full]        audit a transparency log (this one by default)
  registry rotate-key                         announce a new log signing key in the log
  dashboards rebuild [--campaign SLUG] [--check]
                                              recompute the dashboards' rollups from the calls
  manage ...                                  any Django management command

PHONEBANK_HOME selects the data folder (default ./var). Each command has --help.
"""


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    if argv[0] == "demo":
        # The demo serves plain HTTP on this machine; production sits behind a TLS proxy.
        os.environ.setdefault("PHONEBANK_HTTPS", "0")
        os.environ.setdefault("PHONEBANK_DEMO", "1")
    os.umask(0o077)  # the database, keys and uploads are for this user alone
    if argv[0] == "manage":
        argv = argv[1:]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phonebank.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["phonebank", *argv])


if __name__ == "__main__":
    main()
