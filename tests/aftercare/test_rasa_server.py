"""The Rasa launcher wrapper: the API token goes into Rasa's arguments inside the process only."""
from __future__ import annotations

import pytest

from aftercare.rasa_server import rasa_argv


def test_the_token_is_added_in_process() -> None:
    argv = rasa_argv(["--port", "5005"], "-starts-with-a-dash")
    assert argv[:4] == ["rasa", "run", "--port", "5005"]
    assert argv[-2:] == ["--enable-api", "--auth-token=-starts-with-a-dash"]


def test_no_token_refuses_to_start() -> None:
    with pytest.raises(SystemExit, match="AFTERCARE_RASA_API_TOKEN"):
        rasa_argv([], "")
