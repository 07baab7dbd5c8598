"""The audit page (audit.py)."""
from __future__ import annotations

from .support import Browser, escalate


async def test_the_audit_page_lists_who_did_what_and_is_audited_itself(app, env):
    esc = escalate(env["store"])
    b = Browser(app)
    await b.login()
    await b.get(f"/escalations/{esc}")
    page = await b.get("/audit")
    assert page.status == 200
    for cell in ("<td>login</td>", "<td>viewed</td>", "<td>conv-1</td>", "<td>viewed_audit</td>"):
        assert cell in page.text, cell
    assert env["console"].audit_entries()[0]["action"] == "viewed_audit"
