"""Chat with the running assistant (make run) in a terminal, through the REST channel."""
from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aftercare.settings import load_settings  # noqa: E402

BANNERS = {
    "emergency": "\033[1;41m CALL 911 NOW \033[0m",
    "call_physician": "\033[1;43m CALL YOUR PHYSICIAN TODAY \033[0m",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--token-file", default="var/rest-token", help="the REST channel's token (made by make run)")
    args = parser.parse_args()
    token = load_settings().rest_token or (
        open(args.token_file, encoding="utf-8").read().strip() if os.path.exists(args.token_file) else ""
    )
    sender = f"chat-{secrets.token_hex(12)}"
    print("Type your message (Ctrl-D to quit).")
    while True:
        try:
            text = input("you> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        try:
            answer = requests.post(
                f"{args.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60,
                headers={"Authorization": f"Bearer {token}"},
            )
        except requests.RequestException as exc:
            print(f"Could not reach the assistant ({exc}). Is 'make run' running? In an emergency call 911.")
            continue
        if answer.status_code != 200:
            print(f"error {answer.status_code}: {answer.text}")
            continue
        for message in answer.json():
            custom = message.get("custom") or {}
            if custom.get("disposition") in BANNERS:
                print(BANNERS[custom["disposition"]], custom.get("reason", ""))
            if "text" in message:
                print(f"bot> {message['text']}")


if __name__ == "__main__":
    sys.exit(main())
