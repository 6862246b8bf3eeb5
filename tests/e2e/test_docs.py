"""/docs in a real browser: Swagger UI from the installed package renders every operation and can call the
API, with every request that leaves the server refused (a lecture hall with no internet) and the app's CSP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_api_docs_work_offline(tab: Any, server: str, artifacts: Path) -> None:
    outside: list[str] = []

    def only_the_server(route: Any) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    tab.context.route("**/*", only_the_server)
    tab.goto(f"{server}/docs")
    tab.wait_for_selector(".opblock-summary", timeout=15_000)
    paths = tab.locator(".opblock-summary-path").all_text_contents()
    assert {"/api/models", "/api/trace", "/api/continue", "/healthz"} <= {p.replace("\u200b", "") for p in paths}

    # Try it out: the example request goes to this server and its answer is shown.
    op = tab.locator(".opblock", has_text="/api/models/{model_id}").first
    op.locator(".opblock-summary").click()
    op.get_by_role("button", name="Try it out").click()
    # The id is picked from the models this server loaded (the schema's enum), not guessed into a box.
    picker = op.locator(".parameters-col_description select")
    assert "recall-lstm" in picker.locator("option").all_text_contents()
    picker.select_option("recall-lstm")
    op.get_by_role("button", name="Execute").click()
    body = tab.locator(".live-responses-table .response-col_description pre").first
    body.wait_for(timeout=10_000)
    assert json.loads(body.text_content() or "{}")["id"] == "recall-lstm"
    tab.screenshot(path=str(artifacts / "api-docs.png"))
    assert outside == []
