"""Start ``rasa run`` with the HTTP API token read from the environment, not from the command line.

``rasa run`` takes its API token only as ``--auth-token``, and a process's arguments are readable by
every local user (``ps``). The launcher starts ``python -m aftercare.rasa_server <rasa run arguments>``
with the token in ``AFTERCARE_RASA_API_TOKEN``; this module adds it to Rasa's own arguments inside the
process, where no other user can read them.
"""
from __future__ import annotations

import sys

from aftercare.settings import load_settings


def rasa_argv(args: list[str], token: str) -> list[str]:
    """Rasa's command line: ``rasa run`` with the given arguments and the API token."""
    if not token:
        raise SystemExit("AFTERCARE_RASA_API_TOKEN is not set: the Rasa HTTP API needs a token")
    # One argument with "=": a token starting with "-" must not read as an option.
    return ["rasa", "run", *args, "--enable-api", f"--auth-token={token}"]


def main() -> None:
    """Run Rasa's CLI in this process with the token added."""
    sys.argv = rasa_argv(sys.argv[1:], load_settings().rasa_api_token)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
