"""``python -m aftercare.console.accounts create USERNAME [--name "Full Name"]``: create a nurse account.

The password is asked for twice at the terminal (or read from standard input with
``--password-stdin``), never taken from the command line, and stored as an argon2id hash.
There is no default account and no shared account.
"""
from __future__ import annotations

import argparse
import getpass
import sys

from aftercare.console.models import AccountError, ConsoleStore
from aftercare.escalations import create_db_engine
from aftercare.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Manage nurse console accounts.")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a personal nurse account")
    create.add_argument("username")
    create.add_argument("--name", default="", help="display name, e.g. 'Ann Lee, RN'")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password (at least 12 characters): ")
        if getpass.getpass("Again: ") != password:
            print("The passwords differ; nothing was created.", file=sys.stderr)
            return 2
    store = ConsoleStore(create_db_engine(load_settings().database_url))
    store.create_schema()
    try:
        nurse = store.create_nurse(args.username, args.name, password)
    except AccountError as exc:
        print(f"Not created: {exc}", file=sys.stderr)
        return 2
    print(f"Created nurse account {nurse.username!r}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
