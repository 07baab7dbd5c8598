"""``python -m aftercare.console [--port 5006]``: serve the nurse console on 127.0.0.1."""
from __future__ import annotations

import argparse

from aftercare.console.app import create_app
from aftercare.settings import load_settings


def main() -> None:
    settings = load_settings()
    parser = argparse.ArgumentParser(description="Serve the nurse console.")
    parser.add_argument("--host", default=settings.console_host)
    parser.add_argument("--port", type=int, default=settings.console_port)
    args = parser.parse_args()
    app = create_app(settings, cookie_secure=settings.console_secure_cookies)
    app.run(host=args.host, port=args.port, access_log=False, workers=1)


if __name__ == "__main__":
    main()
