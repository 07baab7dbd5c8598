"""``python -m aftercare.check_protocol [FILE]``: validate a protocol file and say what is wrong."""
from __future__ import annotations

import sys

from aftercare.triage.protocol import ProtocolError, load_protocol
from aftercare.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else load_settings().protocol_path
    try:
        protocol = load_protocol(path)
    except ProtocolError as exc:
        print(f"protocol file is not valid: {exc}", file=sys.stderr)
        return 2
    print(f"protocol {protocol.id} version {protocol.version}: {len(protocol.findings)} findings, "
          f"{len(protocol.information)} information topics ({path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
