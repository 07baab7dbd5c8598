"""``python -m aftercare.console [--port 5006]``: serve the nurse console on 127.0.0.1."""
from __future__ import annotations

import argparse
import os

from aftercare.console.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the nurse console.")
    parser.add_argument("--host", default=os.environ.get("AFTERCARE_CONSOLE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("AFTERCARE_CONSOLE_PORT", "5006")))
    args = parser.parse_args()
    secure = os.environ.get("AFTERCARE_CONSOLE_SECURE_COOKIES", "false").lower() == "true"
    app = create_app(cookie_secure=secure)
    app.run(host=args.host, port=args.port, access_log=False, workers=1)


if __name__ == "__main__":
    main()
