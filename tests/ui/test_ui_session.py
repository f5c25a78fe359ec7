"""One session's page (``#/sessions/<id>``) in real Chromium: the interrupt answered in its
form, chat streaming a run, checkpoints diffed and forked, events arriving live, metadata
edited, delete, values shown as text, a 10,000-item list, and another owner's session."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from support.server import ServerProcess
from support.ui_page import WAIT_MS, UiPage

pytestmark = pytest.mark.slow
expect.set_options(timeout=WAIT_MS)  # as long as the page's own waits

XSS = ['<img src=x onerror="window.__xss=1">', "<script>window.__xss=1</script>"]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def invoke(c: httpx.Client, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
    r = c.post(f"/sessions/{sid}/invoke", json=payload, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def open_as(open_page: Callable[..., UiPage], who: str, sid: str) -> UiPage:
    """The session's page signed in as ``who``; the sign-in's own 401 (the page is asked
    for before the key is given) is not an error of this page."""
    page = open_page(who, f"#/sessions/{sid}")
    page.page.wait_for_selector("#header-panel, #not-found")
    page.errors[:] = [e for e in page.errors if "401" not in e]
    return page


def wait_until(check: Callable[[], bool], seconds: float = 20) -> None:
    """Poll the server until ``check()`` holds."""
    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, "the server never agreed"
        time.sleep(0.05)


def status_badge(page: UiPage) -> str:
    return page.page.inner_text("#status .badge")


def wait_status(page: UiPage, status: str) -> None:
    page.page.wait_for_selector(f"#status .badge.status-{status}")


def confirm(page: UiPage) -> None:
    page.page.locator("dialog.confirm button[value=ok]").click()


def test_the_interrupt_is_answered_in_its_form(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("ask")
    with ui_server.client("alice") as c:
        assert invoke(c, sid, {"input": {"user_input": "ask"}})["status"] == "interrupted"
        page = open_as(open_page, "alice", sid)
        page.page.wait_for_selector("#interrupt-question")
        assert page.page.inner_text("#interrupt-question") == "really?"
        assert status_badge(page) == "interrupted"
        assert page.page.inner_text("#fact-owner") == "alice"
        assert page.page.inner_text("#fact-runs") == "1"
        # the graph is drawn with the node the session waits in highlighted
        current = page.page.locator("#graph-panel g.gnode.current")
        expect(current).to_have_count(1)
        assert current.get_attribute("data-node") == "work"
        expect(page.page.locator("#graph-panel g.gnode")).to_have_count(3)  # start, work, end
        page.shot("session")
        page.page.fill("#answer", "yes please")
        page.page.get_by_role("button", name="Answer").click()
        wait_status(page, "completed")
        page.page.wait_for_selector("#no-interrupt")
        expect(page.page.locator("#graph-panel g.gnode.current")).to_have_count(0)
        page.page.wait_for_selector("#state-tree :text('yes please')")
        row = c.get(f"/sessions/{sid}").json()
        assert row["status"] == "completed" and row["interrupts"] == []
        state = c.get(f"/sessions/{sid}/state").json()["values"]
        assert state["response"] == "yes please" and state["log"] == ["answer:yes please"]
        # the runs table shows both runs
        expect(page.page.locator("#run-rows tr[data-run-id]")).to_have_count(2)
    assert page.errors == []


def test_an_answer_sent_as_json(open_page: Callable[..., UiPage], ui_server: ServerProcess) -> None:
    sid = new_id("json")
    with ui_server.client("alice") as c:
        invoke(c, sid, {"input": {"user_input": "ask"}})
        page = open_as(open_page, "alice", sid)
        page.page.wait_for_selector("#interrupt-form")
        page.page.fill("#answer", '{"ok": [1, 2]}')
        page.page.check("#answer-json")
        page.page.get_by_role("button", name="Answer").click()
        wait_status(page, "completed")
        assert c.get(f"/sessions/{sid}/state").json()["values"]["log"] == ["answer:{'ok': [1, 2]}"]
    assert page.errors == []


def test_chat_streams_the_run_node_by_node(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("chat")
    with ui_server.client("alice") as c:
        invoke(c, sid, {"input": {"user_input": "first"}})
        page = open_as(open_page, "alice", sid)
        page.page.wait_for_selector("#state-tree :text('echo:first')")
        assert page.page.input_value("#chat-key") == "user_input"
        page.page.fill("#chat-input", "hello there")
        page.page.get_by_role("button", name="Send").click()
        page.page.wait_for_selector("#chat-stream [data-kind=result]")
        kinds = page.page.eval_on_selector_all(
            "#chat-stream li", "els => els.map(e => e.dataset.kind)"
        )
        assert kinds[0] == "start" and kinds[-1] == "result"
        assert "custom" in kinds and "update" in kinds
        update = page.page.locator("#chat-stream [data-kind=update]").first.inner_text()
        assert "work" in update and "echo:hello there" in update
        page.page.wait_for_selector("#state-tree :text('echo:hello there')")
        page.page.locator("#chat-panel").scroll_into_view_if_needed()
        page.shot("session-chat")
        state = c.get(f"/sessions/{sid}/state").json()["values"]
        assert state["response"] == "echo:hello there"
        assert state["log"] == ["first", "hello there"]
        assert c.get(f"/sessions/{sid}").json()["run_count"] == 2
        expect(page.page.locator("#fact-runs")).to_have_text("2")
    assert page.errors == []


def test_cancel_aborts_the_stream_and_cancels_the_run_when_asked(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("cancel")
    with ui_server.client("alice") as c:
        invoke(c, sid, {"input": {"user_input": "first"}})
        page = open_as(open_page, "alice", sid)
        page.page.wait_for_selector("#state-tree :text('echo:first')")
        # a slow run: the delay key is given through the state first
        r = c.post(f"/sessions/{sid}/state", json={"values": {"delay": 30}, "as_node": "work"})
        assert r.status_code == 200, r.text
        page.page.check("#chat-cancel-run")
        page.page.fill("#chat-input", "slow")
        page.page.get_by_role("button", name="Send").click()
        page.page.wait_for_selector("#chat-stream [data-kind=custom]")
        page.page.get_by_role("button", name="Cancel").click()
        page.page.wait_for_selector("#chat-stream [data-kind=cancelled]")
        page.page.wait_for_selector("#run-rows tr[data-status=cancelled]")
        runs = c.get(f"/sessions/{sid}/runs").json()
        assert runs[0]["status"] == "cancelled"
        assert c.get(f"/sessions/{sid}/state").json()["values"]["response"] == "echo:first"
    assert page.errors == []


def test_checkpoints_diff_and_fork(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("fork")
    with ui_server.client("alice") as c:
        invoke(c, sid, {"input": {"user_input": "one"}})
        invoke(c, sid, {"input": {"user_input": "two"}})
        head = c.get(f"/sessions/{sid}/state").json()
        assert head["values"]["response"] == "echo:two"
        checkpoints = c.get(f"/sessions/{sid}/checkpoints").json()
        # the end of the first run: its response is echo:one
        first_end = next(
            cp
            for cp in checkpoints
            if c.get(f"/sessions/{sid}/state", params={"checkpoint_id": cp["checkpoint_id"]})
            .json()["values"]
            .get("response")
            == "echo:one"
        )
        page = open_as(open_page, "alice", sid)
        rows = page.page.locator("#checkpoint-rows tr[data-checkpoint-id]")
        rows.first.wait_for()
        assert rows.count() == len(checkpoints)
        assert rows.first.get_attribute("data-checkpoint-id") == head["checkpoint_id"]
        assert "work" in rows.first.inner_text()  # the node that wrote the head
        # diff: the head against the end of the first run
        rows.first.locator("input[type=checkbox]").check()
        page.page.locator(
            f"#checkpoint-rows tr[data-checkpoint-id='{first_end['checkpoint_id']}'] input"
        ).check()
        page.page.get_by_role("button", name="Compare selected").click()
        page.page.wait_for_selector("#diff-table")
        changed = page.page.locator("#diff-table tr[data-path='response']")
        assert changed.get_attribute("data-kind") == "changed"
        assert "echo:one" in changed.inner_text() and "echo:two" in changed.inner_text()
        assert (
            page.page.locator("#diff-table tr[data-path='log[1]']").get_attribute("data-kind")
            == "added"
        )
        page.shot("session-checkpoints")
        # fork from the end of the first run
        page.page.locator(
            f"#checkpoint-rows tr[data-checkpoint-id='{first_end['checkpoint_id']}'] button.fork"
        ).click()
        confirm(page)
        page.page.wait_for_selector("#state-tree :text('echo:one')")
        after = c.get(f"/sessions/{sid}/state").json()
        assert after["checkpoint_id"] not in (head["checkpoint_id"], first_end["checkpoint_id"])
        assert after["values"]["response"] == "echo:one" and after["values"]["log"] == ["one"]
        page.page.wait_for_selector(
            f"#checkpoint-rows tr.head[data-checkpoint-id='{after['checkpoint_id']}']"
        )
    assert page.errors == []


def test_events_arrive_live_during_a_run_of_another_client(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("live")
    with ui_server.client("alice") as c:
        invoke(c, sid, {"input": {"user_input": "one"}})
        page = open_as(open_page, "alice", sid)
        page.page.wait_for_selector("#events-list li[data-type=run_completed]")
        page.page.wait_for_selector("#events-state:text('live')")
        done = threading.Event()
        result: dict[str, Any] = {}

        def other_client() -> None:
            with ui_server.client("alice") as other:
                result.update(invoke(other, sid, {"input": {"user_input": "two", "delay": 4}}))
            done.set()

        thread = threading.Thread(target=other_client)
        thread.start()
        try:
            expect(page.page.locator("#events-list li[data-type=run_started]")).to_have_count(2)
            seen_during_run = not done.is_set()
            wait_status(page, "running")
            page.page.locator("#events-panel").scroll_into_view_if_needed()
            page.shot("session-events")
        finally:
            thread.join()
        assert seen_during_run, "the run_started event only showed after the run ended"
        assert result["status"] == "complete"
        expect(page.page.locator("#events-list li[data-type=run_completed]")).to_have_count(2)
        wait_status(page, "completed")
        page.page.wait_for_selector("#state-tree :text('echo:two')")
        ids = page.page.eval_on_selector_all(
            "#events-list > li", "els => els.map(e => Number(e.dataset.eventId))"
        )
        server_ids = [e["id"] for e in c.get(f"/sessions/{sid}/events").json()]
        assert ids == server_ids
    assert page.errors == []


def test_metadata_is_edited_and_persisted(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("meta")
    with ui_server.client("alice") as c:
        r = c.post(
            "/sessions",
            json={"session_id": sid, "metadata": {"plan": "pro", "seats": 3}, "ttl": 3600},
        )
        assert r.status_code == 201, r.text
        page = open_as(open_page, "alice", sid)
        page.page.wait_for_selector("#metadata-rows tr[data-meta-key=plan]")
        assert page.page.input_value("[data-meta-value=seats]") == "3"
        page.page.fill("[data-meta-value=plan]", "enterprise")
        page.page.get_by_role("button", name="save plan").click()
        expect(page.page.locator("#session-facts")).to_be_visible()
        wait_until(lambda: c.get(f"/sessions/{sid}").json()["metadata"]["plan"] == "enterprise")
        assert c.get(f"/sessions/{sid}").json()["metadata"] == {"plan": "enterprise", "seats": 3}
        page.page.fill("#meta-key", "limits")
        page.page.fill("#meta-value", '{"daily": 5}')
        page.page.get_by_role("button", name="Add").click()
        page.page.wait_for_selector("#metadata-rows tr[data-meta-key=limits]")
        page.page.get_by_role("button", name="remove seats").click()
        expect(page.page.locator("#metadata-rows tr[data-meta-key=seats]")).to_have_count(0)
        assert c.get(f"/sessions/{sid}").json()["metadata"] == {
            "plan": "enterprise",
            "limits": {"daily": 5},
        }
        # the TTL counts down every second
        ttl = page.page.locator("#ttl")
        expect(ttl).to_have_text(re.compile(r"^in (59|60) min \d\d s$"))
        first = ttl.inner_text()
        expect(ttl).not_to_have_text(first)
        expect(ttl).to_have_text(re.compile(r"^in (59|60) min \d\d s$"))
        # without a TTL: never
        assert c.patch(f"/sessions/{sid}", json={"ttl": None}).status_code == 200
        page.page.get_by_role("button", name="save plan").click()  # the answer is the new row
        expect(ttl).to_have_text("never")
    assert page.errors == []


def test_suspend_unsuspend_and_delete(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("del")
    with ui_server.client("alice") as c:
        invoke(c, sid, {"input": {"user_input": "one"}})
        page = open_as(open_page, "alice", sid)
        page.page.get_by_role("button", name="Suspend").click()
        wait_status(page, "suspended")
        assert c.get(f"/sessions/{sid}").json()["status"] == "suspended"
        page.page.get_by_role("button", name="Unsuspend").click()
        wait_status(page, "completed")
        assert c.get(f"/sessions/{sid}").json()["status"] == "completed"
        # a cancelled confirmation deletes nothing
        page.page.get_by_role("button", name="Delete").click()
        page.page.locator("dialog.confirm button[value=cancel]").click()
        assert c.get(f"/sessions/{sid}").status_code == 200
        page.page.get_by_role("button", name="Delete").click()
        confirm(page)
        page.page.wait_for_url(lambda url: url.endswith("#/sessions"))
        assert c.get(f"/sessions/{sid}").status_code == 404
    assert page.errors == []


def test_markup_in_state_and_metadata_shows_as_text(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("xss")
    with ui_server.client("alice") as c:
        r = c.post(
            "/sessions",
            json={
                "session_id": sid,
                "metadata": {"note": XSS[0], XSS[1]: XSS[1]},
                "initial_state": {"user_input": XSS[0], "log": XSS},
            },
        )
        assert r.status_code == 201, r.text
        invoke(c, sid, {"input": {"user_input": XSS[1]}})
        c.post(
            f"/sessions/{sid}/messages", json={"messages": [{"role": "user", "content": XSS[0]}]}
        )
        page = open_as(open_page, "alice", sid)
        page.page.wait_for_selector("#events-list li[data-type=run_completed]")
        page.page.wait_for_selector("#transcript li.message")
        # open every part of the state tree and every event
        page.page.eval_on_selector_all("details", "els => els.forEach(d => d.open = true)")
        page.page.wait_for_selector(f"#state-tree :text('echo:{XSS[1]}')")
        text = page.page.inner_text("main")
        for payload in XSS:
            assert payload in text
        assert page.page.input_value("[data-meta-value=note]") == XSS[0]
        assert page.page.locator("main img").count() == 0
        assert page.page.locator("main script").count() == 0
        assert page.page.evaluate("typeof window.__xss") == "undefined"
    assert page.errors == []


def test_a_list_of_ten_thousand_items(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("big")
    items = [f"item {i}" for i in range(10_000)]
    with ui_server.client("alice") as c:
        r = c.post("/sessions", json={"session_id": sid, "initial_state": {"log": items}})
        assert r.status_code == 201, r.text
        page = open_as(open_page, "alice", sid)
        log = page.page.locator("#state-tree details[data-path='$.log']")
        log.wait_for()
        assert "[10000 items]" in log.locator("summary").inner_text()
        started = time.perf_counter()
        log.locator("summary").click()
        entries = log.locator(":scope > ul > li")
        expect(entries).to_have_count(100)
        print(f"10,000-item list: first window shown in {time.perf_counter() - started:.3f} s")
        log.get_by_role("button", name="show 100 more (9900 left)").click()
        expect(entries).to_have_count(200)
        assert entries.nth(199).inner_text() == "199: item 199"
        # the page still answers: the next click is handled
        page.page.get_by_role("button", name="Events").click()
        expect(page.page.locator("#events-title")).to_be_focused()
        page.shot("session-big-list")
        assert c.get(f"/sessions/{sid}/state").json()["values"]["log"] == items
    assert page.errors == []


def test_another_owner_gets_not_found(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("mine")
    with ui_server.client("alice") as c:
        invoke(c, sid, {"input": {"user_input": "alice's secret"}})
    page = open_as(open_page, "bob", sid)
    page.page.wait_for_selector("#not-found")
    text = page.page.inner_text("main")
    assert "Session not found" in text and "secret" not in text
    assert page.page.locator("#state-panel").count() == 0
    assert all("404" in e for e in page.errors), page.errors
    # an admin sees it
    admin = open_as(open_page, "root", sid)
    expect(admin.page.locator("#fact-owner")).to_have_text("alice")
    admin.page.wait_for_selector('#state-tree :text("echo:alice\'s secret")')
    assert admin.errors == []


def test_readable_at_phone_width(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("phone")
    with ui_server.client("alice") as c:
        invoke(c, sid, {"input": {"user_input": "ask"}})
    page = open_as(open_page, "alice", sid)
    page.page.set_viewport_size({"width": 390, "height": 844})
    page.page.wait_for_selector("#interrupt-question")
    page.page.wait_for_selector("#checkpoint-rows tr[data-checkpoint-id]")
    width = page.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide at 390"
    page.shot("session-phone")
    # every control has a name a screen reader can say
    unnamed = page.page.evaluate(
        """() => [...document.querySelectorAll('main input, main textarea, main select, main button')]
          .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                        && !el.getAttribute('aria-labelledby') && !el.textContent.trim())
          .map(el => el.outerHTML)"""
    )
    assert unnamed == []
    # the interrupt is answered with the keyboard alone
    page.page.focus("#answer")
    page.page.keyboard.type("yes")
    page.page.keyboard.press("Tab")  # the JSON toggle
    page.page.keyboard.press("Tab")  # Answer
    assert page.page.evaluate("document.activeElement.textContent") == "Answer"
    page.page.keyboard.press("Enter")
    wait_status(page, "completed")
    assert page.errors == []


def test_chat_through_an_interrupt_on_a_graph_of_three_nodes(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("approve")
    with ui_server.client("alice") as c:
        r = c.post("/sessions", json={"session_id": sid, "graph_id": "approval"})
        assert r.status_code == 201, r.text
        page = open_as(open_page, "alice", sid)
        page.page.fill("#chat-key", "user_input")
        page.page.fill("#chat-input", "refund please")
        page.page.get_by_role("button", name="Send").click()
        page.page.wait_for_selector("#chat-stream [data-kind=result]")
        nodes = page.page.eval_on_selector_all(
            "#chat-stream [data-kind=update] .chunk-label", "els => els.map(e => e.textContent)"
        )
        assert nodes == ["draft", "__interrupt__"]
        # the question shows without a reload; the chat's key is the interrupt's resume_key
        expect(page.page.locator("#interrupt-question")).to_have_text("approve?")
        wait_status(page, "interrupted")
        assert page.page.input_value("#chat-key") == "user_input"
        page.page.fill("#chat-input", "yes")
        page.page.get_by_role("button", name="Send").click()
        expect(page.page.locator("#chat-stream [data-kind=update] .chunk-label")).to_have_text(
            ["approve", "respond"]
        )
        wait_status(page, "completed")
        state = c.get(f"/sessions/{sid}/state").json()["values"]
        assert state["response"] == "sent" and state["approved"] is True
    assert page.errors == []


def test_a_failing_run_shows_its_error(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("fail")
    with ui_server.client("alice") as c:
        invoke(c, sid, {"input": {"user_input": "ok"}})
        page = open_as(open_page, "alice", sid)
        page.page.fill("#chat-input", "fail")
        page.page.get_by_role("button", name="Send").click()
        page.page.wait_for_selector("#chat-stream [data-kind=error]")
        assert "run_failed" in page.page.inner_text("#chat-stream [data-kind=error]")
        wait_status(page, "failed")
        page.page.wait_for_selector("#fact-error :text('boom')")
        page.page.wait_for_selector("#run-rows tr[data-status=error] :text('boom')")
        assert c.get(f"/sessions/{sid}").json()["status"] == "failed"
    assert page.errors == []


def test_older_checkpoints_load_a_page_at_a_time(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("older")
    with ui_server.client("alice") as c:
        for i in range(7):
            invoke(c, sid, {"input": {"user_input": f"run {i}"}})
        checkpoints = c.get(f"/sessions/{sid}/checkpoints", params={"limit": 100}).json()
        assert len(checkpoints) > 20
        page = open_as(open_page, "alice", sid)
        rows = page.page.locator("#checkpoint-rows tr[data-checkpoint-id]")
        expect(rows).to_have_count(20)
        page.page.get_by_role("button", name="Load older").click()
        expect(rows).to_have_count(len(checkpoints))
        assert page.page.locator("#checkpoints-older").is_hidden()
        shown = rows.evaluate_all("els => els.map(e => e.dataset.checkpointId)")
        assert shown == [cp["checkpoint_id"] for cp in checkpoints]
    assert page.errors == []


def test_the_page_helpers(open_page: Callable[..., UiPage]) -> None:
    """The diff, the chat's input and the countdown, run in the page as the page runs them."""
    page = open_page("alice")
    out = page.page.evaluate(
        """async () => {
          const diff = await import('/ui/js/session/diff.js');
          const chat = await import('/ui/js/session/chat.js');
          const header = await import('/ui/js/session/header.js');
          const interrupt = await import('/ui/js/session/interrupt.js');
          const runs = await import('/ui/js/session/runs.js');
          const two = [{id: "i1", value: {}}, {id: "i2", value: {}}];
          let notJson = null;
          try { interrupt.resumeValue(two, ["1", "{x"], true); } catch (e) { notJson = e.message; }
          return {
            durations: [0.0421, 2.46, 75].map(runs.duration),
            resumeOne: interrupt.resumeValue([{id: "i1"}], ["yes"], false),
            resumeTwo: interrupt.resumeValue(two, ["[1]", "\\"b\\""], true),
            notJson,
            diff: diff.diffValues(
              {a: 1, b: {c: [1, 2], d: "x"}, gone: true},
              {a: 1, b: {c: [1, 3, 4], d: "y"}, new: null}),
            same: diff.diffValues({a: [1, {b: 2}]}, {a: [1, {b: 2}]}),
            whole: diff.diffValues(1, "1"),
            keyMessages: chat.defaultKey({messages: [], user_input: "x"}, null),
            keyResume: chat.defaultKey({log: []}, {interrupts: [{value: {resume_key: "answer"}}]}),
            keyString: chat.defaultKey({n: 1, topic: "x"}, null),
            keyNone: chat.defaultKey({}, null),
            messages: chat.buildInput("messages", "hi"),
            other: chat.buildInput("question", "hi"),
            countdown: [header.countdown(5), header.countdown(65), header.countdown(3 * 3600 + 5),
                        header.countdown(2 * 86400 + 3600)],
            typed: ["42", "{\\"a\\": 1}", "plain", "true", "\\"quoted\\""].map(header.typedValue),
          };
        }"""
    )
    assert out["diff"] == [
        {"kind": "changed", "path": "b.c[1]", "before": 2, "after": 3},
        {"kind": "added", "path": "b.c[2]", "after": 4},
        {"kind": "changed", "path": "b.d", "before": "x", "after": "y"},
        {"kind": "removed", "path": "gone", "before": True},
        {"kind": "added", "path": "new", "after": None},
    ]
    assert out["durations"] == ["42 ms", "2.5 s", "1 min"]
    assert out["resumeOne"] == "yes"
    assert out["resumeTwo"] == {"i1": [1], "i2": "b"}
    assert out["notJson"].startswith("answer 2 is not JSON")
    assert out["same"] == []
    assert out["whole"] == [{"kind": "changed", "path": "(whole state)", "before": 1, "after": "1"}]
    assert (out["keyMessages"], out["keyResume"], out["keyString"], out["keyNone"]) == (
        "messages",
        "answer",
        "topic",
        "input",
    )
    assert out["messages"] == {"messages": [{"role": "user", "content": "hi"}]}
    assert out["other"] == {"question": "hi"}
    assert out["countdown"] == ["5 s", "1 min 05 s", "3 h 00 min 05 s", "2 d 1 h 00 min"]
    assert out["typed"] == [42, {"a": 1}, "plain", True, "quoted"]


def test_copy_as_json_and_leaving_the_page_stops_the_tail(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = new_id("copy")
    with ui_server.client("alice") as c:
        invoke(c, sid, {"input": {"user_input": "copy me"}})
        values = c.get(f"/sessions/{sid}/state").json()["values"]
    page = open_as(open_page, "alice", sid)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.page.wait_for_selector("#state-tree :text('echo:copy me')")
    page.page.get_by_role("button", name="Copy as JSON").click()
    expect(page.page.locator("#notice")).to_have_text("State copied as JSON.")
    assert json.loads(page.page.evaluate("navigator.clipboard.readText()")) == values
    # leaving the page aborts its live tail (the cleanup's AbortController)
    expect(page.page.locator("#events-state")).to_have_text("live")
    aborted: list[str] = []
    page.page.on(
        "requestfailed",
        lambda r: aborted.append(r.url) if "/events" in r.url and "follow=true" in r.url else None,
    )
    page.page.get_by_role("link", name="Sessions", exact=True).click()
    page.page.wait_for_url(lambda url: url.endswith("#/sessions"))
    expect(page.page.locator("#header-panel")).to_have_count(0)
    deadline = time.monotonic() + 10
    while not aborted and time.monotonic() < deadline:
        page.page.wait_for_timeout(50)
    assert aborted, "the event tail was left open"
    assert page.errors == []
