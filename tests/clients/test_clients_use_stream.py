"""A browser client on the SDK's React ``useStream`` hook (``js/page/app.jsx``, bundled by
esbuild, served on 127.0.0.1 from another origin than the API) driven in headless Chromium
by Playwright, talking as Agent Chat UI does: ``messages-tuple`` + ``values`` streams,
``stream_resumable`` runs re-joined after a reload (``reconnectOnMount``), the history
fetched on load (``fetchStateHistory``), an interrupt resumed by a ``command`` together with
a ``checkpoint``."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from support.browser import chromium

pytestmark = pytest.mark.slow

WAIT_MS = 20_000
# Before the page's code: keep a copy of each streamed run's body (the SSE text) in
# window.__streams, read from a clone of the response while the hook reads the original.
TEE_STREAMS = """
window.__streams = [];
const realFetch = window.fetch.bind(window);
window.fetch = async (input, init) => {
  const response = await realFetch(input, init);
  const url = typeof input === "string" ? input : input.url;
  if ((init?.method ?? input.method) === "POST" && url.endsWith("/runs/stream")) {
    const entry = { text: "", done: false };
    window.__streams.push(entry);
    response.clone().text().then((t) => { entry.text = t; entry.done = true; });
  }
  return response;
};
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_url(js_packages: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The page bundled by esbuild into a temporary folder, served on 127.0.0.1."""
    out = tmp_path_factory.mktemp("page")
    built = subprocess.run(
        [
            str(js_packages / "node_modules" / ".bin" / "esbuild"),
            "page/app.jsx",
            "--bundle",
            "--minify",
            "--jsx=automatic",
            "--define:process.env.NODE_ENV='production'".replace("'", '"'),
            f"--outfile={out / 'app.js'}",
            "--log-level=warning",
        ],
        cwd=js_packages,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, f"esbuild failed:\n{built.stdout}\n{built.stderr}"
    shutil.copy(js_packages / "page" / "index.html", out / "index.html")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium under Playwright."""
    with chromium() as launched:
        yield launched


class Page:
    """One tab on the page, recording the run requests the hook sends."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.runs: list[dict[str, Any]] = []
        self.joins: list[str] = []
        self.page.add_init_script(TEE_STREAMS)
        self.page.on("request", self._seen)
        self.page.goto(url)

    def _seen(self, request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/runs/stream"):
            self.runs.append(json.loads(request.post_data or "{}"))
        elif request.method == "GET" and "/runs/" in request.url and "/stream" in request.url:
            self.joins.append(request.url)

    def stream_events(self, index: int) -> list[str]:
        """The SSE event names of the ``index``-th streamed run of this page load, in order."""
        self.page.wait_for_function(f"window.__streams?.[{index}]?.done", timeout=WAIT_MS)
        body = str(self.page.evaluate(f"window.__streams[{index}].text"))
        return [line[len("event: ") :] for line in body.splitlines() if line.startswith("event: ")]

    def text(self, selector: str) -> str:
        return str(self.page.locator(selector).inner_text())

    def wait_text(self, selector: str, text: str) -> None:
        self.page.wait_for_function(
            "([s, t]) => (document.querySelector(s)?.innerText ?? '').includes(t)",
            arg=[selector, text],
            timeout=WAIT_MS,
        )

    def wait_idle(self) -> None:
        self.wait_text("#status", "idle")

    def messages(self) -> list[tuple[str, str]]:
        items = self.page.locator("#messages li").all()
        return [(str(li.get_attribute("class")).split("msg-")[-1], li.inner_text()) for li in items]

    def values(self) -> Any:
        return json.loads(self.text("#values"))

    def errors(self) -> list[str]:
        return list(self.page.evaluate("window.__errors"))

    def close(self) -> None:
        self.context.close()


def open_page(browser: Any, page_url: str, api_url: str, assistant: str, **extra: str) -> Page:
    return Page(
        browser, f"{page_url}?{urlencode({'api': api_url, 'assistant': assistant, **extra})}"
    )


def test_use_stream_chat_streams_and_history_on_reload(
    browser: Any, page_url: str, api_url: str
) -> None:
    tab = open_page(browser, page_url, api_url, "chat")
    try:
        tab.wait_idle()
        tab.page.fill("#text", "hello browser")
        tab.page.click("#send")
        tab.wait_text("#messages", "echo: hello browser")
        tab.wait_idle()
        assert tab.messages() == [("human", "hello browser"), ("ai", "echo: hello browser")]
        assert tab.errors() == []
        thread_id = tab.text("#thread")
        assert thread_id
        # the run as Agent Chat UI starts it: messages-tuple + values, resumable
        (run,) = tab.runs
        assert {"messages-tuple", "values"} <= set(run["stream_mode"])
        assert run["stream_resumable"] is True
        assert run["on_disconnect"] == "continue"
        events = tab.stream_events(0)
        assert events[0] == "metadata" and events[-1] == "values"
        assert "messages" in events
        # a second turn on the same thread
        tab.page.fill("#text", "again")
        tab.page.click("#send")
        tab.wait_text("#messages", "echo: again")
        tab.wait_idle()
        # reload: the thread's history comes back from the server
        tab.page.reload()
        tab.wait_text("#messages", "echo: again")
        tab.wait_idle()
        assert tab.text("#thread") == thread_id
        assert tab.messages() == [
            ("human", "hello browser"),
            ("ai", "echo: hello browser"),
            ("human", "again"),
            ("ai", "echo: again"),
        ]
        assert int(tab.text("#history")) >= 4
        assert tab.errors() == []
        # regenerate the last reply as Agent Chat UI does: a run from the checkpoint before it
        before = int(tab.text("#history"))
        tab.page.click("#regenerate")
        tab.page.wait_for_function(
            f"Number(document.querySelector('#history').innerText) > {before}", timeout=WAIT_MS
        )
        tab.wait_idle()
        regenerate = tab.runs[-1]
        assert regenerate["checkpoint"]["checkpoint_id"]
        assert "input" not in regenerate or regenerate["input"] is None
        assert tab.messages() == [
            ("human", "hello browser"),
            ("ai", "echo: hello browser"),
            ("human", "again"),
            ("ai", "echo: again"),
        ]
        with httpx.Client(base_url=api_url, timeout=30) as http:
            state = http.get(f"/threads/{thread_id}/state").json()
            history = http.post(f"/threads/{thread_id}/history", json={"limit": 50}).json()
        assert [m["content"] for m in state["values"]["messages"]] == [
            "hello browser",
            "echo: hello browser",
            "again",
            "echo: again",
        ]
        # the new head descends from the checkpoint the page sent (a branch from there)
        parents = {h["checkpoint"]["checkpoint_id"]: h["parent_checkpoint"] for h in history}
        chain, cursor = [], state["checkpoint"]["checkpoint_id"]
        while cursor is not None and len(chain) < 10:
            chain.append(cursor)
            parent = parents.get(cursor)
            cursor = parent["checkpoint_id"] if parent else None
        assert regenerate["checkpoint"]["checkpoint_id"] in chain[1:4]
        assert len(history) > before
        assert tab.errors() == []
    finally:
        tab.close()


def test_use_stream_interrupt_resumed_by_command_and_checkpoint(
    browser: Any, page_url: str, api_url: str
) -> None:
    tab = open_page(browser, page_url, api_url, "approval")
    try:
        tab.wait_idle()
        tab.page.fill("#text", "deploy")
        tab.page.click("#start")
        tab.wait_text("#interrupt", "approve deploy?")
        tab.wait_idle()
        assert json.loads(tab.text("#interrupt")) == {"question": "approve deploy?"}
        # the interrupt is still shown after a reload (from the thread's state)
        tab.page.reload()
        tab.wait_text("#interrupt", "approve deploy?")
        tab.wait_idle()
        tab.page.click("#approve")
        tab.wait_text("#values", "finished:yes")
        tab.wait_idle()
        assert tab.text("#interrupt") == ""
        values = tab.values()
        assert values["decision"] == "yes"
        assert values["log"] == ["prepared", "asked", "finished:yes"]
        resume = tab.runs[-1]
        assert resume["command"] == {"resume": "yes"}
        assert resume["checkpoint"]["checkpoint_id"]
        assert resume["stream_resumable"] is True
        assert tab.errors() == []
    finally:
        tab.close()


def test_use_stream_rejoins_a_running_run_after_reload(
    browser: Any, page_url: str, api_url: str
) -> None:
    tab = open_page(browser, page_url, api_url, "slow")
    try:
        tab.wait_idle()
        tab.page.click("#slow")
        tab.wait_text("#status", "loading")
        tab.wait_text("#thread", "-")
        # reload while the run sleeps: the hook finds the run id it kept and joins its stream
        tab.page.wait_for_timeout(500)
        tab.page.reload()
        tab.wait_text("#values", '"slept"')
        tab.wait_idle()
        assert tab.joins, "the reloaded page did not join the running run"
        assert tab.values()["log"] == ["slept"]
        assert tab.errors() == []
    finally:
        tab.close()


def test_use_stream_stop_cancels_the_run(browser: Any, page_url: str, api_url: str) -> None:
    tab = open_page(browser, page_url, api_url, "slow")
    try:
        tab.wait_idle()
        tab.page.fill("#text", "30")
        tab.page.click("#slow")
        tab.wait_text("#status", "loading")
        tab.wait_text("#thread", "-")
        thread_id = tab.text("#thread")
        with httpx.Client(base_url=api_url, timeout=30) as http:
            for _ in range(100):  # stop once the server runs it (a pending run ends idle)
                runs = http.get(f"/threads/{thread_id}/runs").json()
                if runs and runs[0]["status"] == "running":
                    break
                tab.page.wait_for_timeout(100)
            tab.page.click("#stop")
            tab.wait_idle()
            for _ in range(100):
                runs = http.get(f"/threads/{thread_id}/runs").json()
                if runs and runs[0]["status"] not in ("pending", "running"):
                    break
                tab.page.wait_for_timeout(100)
            thread = http.get(f"/threads/{thread_id}").json()
        # as LangGraph's server has it: a running run cancelled is `interrupted`, and so is
        # its thread, with the UserInterrupt error
        assert [r["status"] for r in runs] == ["interrupted"]
        assert thread["status"] == "interrupted"
        assert thread["error"]["error"] == "UserInterrupt"
        assert "slept" not in tab.text("#values")
    finally:
        tab.close()
