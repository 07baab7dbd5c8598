"""The services an action server loads once: the protocol, the dialogue with its models, the store."""
from __future__ import annotations

import gc
from pathlib import Path

from aftercare import services as services_module
from aftercare.settings import load_settings


def test_the_services_are_loaded_once_and_kept_out_of_garbage_collection(tmp_path: Path, monkeypatch) -> None:
    settings = load_settings().with_changes(database_url=f"sqlite:///{tmp_path / 'escalations.db'}",
                                            journal_path=tmp_path / "journal.jsonl")
    monkeypatch.setattr(services_module, "load_settings", lambda: settings)
    services_module.services.cache_clear()
    gc.unfreeze()
    try:
        first = services_module.services()
        assert services_module.services() is first
        assert first.protocol.version and first.dialogue is not None
        # what was loaded is frozen: a full collection no longer walks the models
        assert gc.get_freeze_count() > 100_000
    finally:
        services_module.services.cache_clear()
        gc.unfreeze()
