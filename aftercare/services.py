"""The long-lived objects a process needs (settings, protocol, dialogue, escalation store), built once."""
from __future__ import annotations

import gc
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from aftercare.triage.classifier import RedFlagClassifier
from aftercare.triage.dialogue import Dialogue, EscalationDraft
from aftercare.escalations import EscalationRecord, EscalationStore
from aftercare.triage.protocol import Protocol, load_protocol
from aftercare.settings import Settings, load_settings


@dataclass
class Services:
    """Settings, protocol, dialogue and store of one process."""

    settings: Settings
    protocol: Protocol
    dialogue: Dialogue
    store: EscalationStore

    def today(self) -> date:
        """Today in the clinic's time zone."""
        return self.settings.today()

    def procedure_date_on_file(self, conversation_id: str) -> str | None:
        """The procedure date of an SMS enrolment for this conversation (a phone number), if any."""
        from aftercare.sms.models import E164, SmsStore

        if not E164.match(conversation_id or ""):
            return None
        store = SmsStore(self.store.engine)
        try:
            found = store.procedure_date_for(conversation_id)
        except Exception:  # noqa: BLE001 - no enrolment table yet: nothing on file
            return None
        return found.isoformat() if found else None

    def record(
        self,
        draft: EscalationDraft,
        *,
        conversation_id: str,
        channel: str,
        message_timestamp: float | None = None,
    ) -> bool:
        """Store an escalation (or journal it if the database fails); True if it reached the database."""
        return self.store.record_durably(
            EscalationRecord(
                conversation_id=conversation_id,
                channel=channel,
                disposition=draft.disposition,
                reasons=draft.reasons,
                finding_ids=draft.finding_ids,
                protocol_version=self.protocol.version,
                message_timestamp=message_timestamp,
            )
        )


def build_services(settings: Settings | None = None) -> Services:
    """Load the protocol (raising ProtocolError if it is broken) and open the store."""
    settings = settings or load_settings()
    protocol = load_protocol(settings.protocol_path)
    store = EscalationStore(settings.database_url, journal_path=settings.journal_path)
    classifier = RedFlagClassifier.load(settings.classifier_path) if protocol.classifier is not None else None
    return Services(settings, protocol, Dialogue(protocol, classifier), store)


@lru_cache(maxsize=1)
def services() -> Services:
    """This process's services (loaded once; what they load is then kept out of garbage collection)."""
    loaded = build_services()
    keep_out_of_collection()
    return loaded


def keep_out_of_collection() -> None:
    """Put everything allocated so far (the models, spaCy's vocabulary, the protocol: loaded once and
    kept for the life of the process) out of the cyclic garbage collector's reach.

    A long message allocates enough to set off a full collection, which would otherwise walk every one
    of those objects (about 100 ms here) to free none of them.
    """
    gc.collect()
    gc.freeze()
