"""Run-end webhooks: a run created with ``webhook`` POSTs its Run JSON (LangGraph's
payload: the Run plus ``run_started_at``, ``run_ended_at``, ``webhook_sent_at``,
``values`` and, for a failed run, ``error``) to that URL once it ends.

Delivery never blocks the run: it is a task of its own, started when the run ends, on the
app's :class:`WebhookSender` (one ``httpx.AsyncClient``, closed on shutdown). It is tried
``max_attempts`` times with exponential backoff on connection errors, timeouts, 5xx and
429; redirects are not followed. The outcome is recorded in the thread's (the session's)
event log: ``webhook_delivered`` or ``webhook_failed`` (``refused`` when the URL policy
forbade the request). A stateless run's thread is deleted with its run: its webhook is
still sent, and its outcome only logged.

Server-side request forgery: the URL comes from a client, so the server requests only what
the operator allowed (``webhooks`` setting, :class:`WebhookSettings`). At run create the
URL itself is checked (scheme, https, length, port, host against ``allowed_hosts``, an IP
host against the address rules) and refused with 422, as LangGraph's server does. At
delivery the host is resolved and every address must be public or inside
``allowed_networks``; the request then goes to the address that was checked (the name is
kept for ``Host`` and TLS), so a name cannot resolve elsewhere between check and request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.jsonable import dumps
from graph_sessions.models import EventType
from graph_sessions.server.errors import ApiError
from graph_sessions.server.langgraph_api.run_book import BookedRun, RunBook
from graph_sessions.server.langgraph_api.run_shapes import iso
from graph_sessions.webhook_settings import WebhookSettings

log = logging.getLogger("graph_sessions.server.langgraph_api.webhooks")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: statuses worth another attempt (besides connection errors and timeouts)
RETRY_STATUSES = frozenset({429})


class WebhookRefused(Exception):
    """The URL policy forbids requesting this webhook URL."""

    def __init__(self, reason: str) -> None:
        """``reason``: LangGraph's message text (``Webhook domain not allowed``…)."""
        super().__init__(reason)
        self.reason = reason


def _host_allowed(host: str, allowed: list[str] | None) -> bool:
    if allowed is None:
        return True
    for pattern in allowed:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


def address_problem(address: IPAddress, networks: list[str]) -> str | None:
    """Why ``address`` may not be requested (``None``: it may): unspecified and multicast
    addresses never; loopback, private, link-local, shared and reserved ones only inside
    one of ``networks``."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified or address.is_multicast:
        return "blocked IP range"
    for net in networks:
        network = ipaddress.ip_network(net, strict=False)
        if address.version == network.version and address in network:
            return None
    if address.is_loopback:
        return "loopback IP range"
    if address.is_link_local:
        return "link-local IP range"
    if address.is_private:
        return "private IP range"
    if not address.is_global:
        return "reserved IP range"
    return None


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_url(url: str, policy: WebhookSettings) -> httpx.URL:
    """The parsed URL when ``policy`` lets it be requested as far as the URL itself shows
    (names are resolved at delivery); raises :class:`WebhookRefused` otherwise."""
    if len(url) > policy.max_url_length:
        raise WebhookRefused("Webhook URL too long")
    if url.startswith("/"):
        raise WebhookRefused(
            "Relative webhook URLs are not supported: give an absolute http(s) URL"
        )
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise WebhookRefused("Invalid webhook URL") from None
    scheme = parsed.scheme.lower()
    host = parsed.host.lower().rstrip(".")
    if not host:
        raise WebhookRefused(f"Invalid webhook hostname '{host}'")
    if policy.require_https and scheme != "https":
        raise WebhookRefused("Webhook must use https")
    port = parsed.port or (443 if scheme == "https" else 80)
    if policy.allowed_ports and port not in policy.allowed_ports:
        raise WebhookRefused(f"Webhook port {port} not allowed")
    if not _host_allowed(host, policy.allowed_hosts):
        raise WebhookRefused("Webhook domain not allowed")
    if scheme not in ("http", "https"):
        raise WebhookRefused(f"Webhook host blocked: scheme '{scheme}' not allowed")
    literal = _literal_address(host)
    if literal is not None:
        problem = address_problem(literal, policy.allowed_networks)
        if problem is not None:
            raise WebhookRefused(f"Webhook host blocked: {problem}")
    return parsed


def validate_webhook(url: str | None, policy: WebhookSettings) -> None:
    """At run create: a webhook URL the policy refuses answers 422 with the reason."""
    if url is None:
        return
    try:
        check_url(url, policy)
    except WebhookRefused as exc:
        raise ApiError(422, "invalid_webhook", exc.reason) from None


async def resolve_checked(url: httpx.URL, policy: WebhookSettings) -> IPAddress:
    """The address to request ``url`` at: every address its host resolves to must be
    allowed (one bad answer refuses the whole name, against rebinding tricks)."""
    host = url.host
    literal = _literal_address(host)
    if literal is not None:
        found = [literal]
    else:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}") from None
        found = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if address not in found:
                found.append(address)
    if not found:
        raise httpx.ConnectError(f"{host} has no address")
    for address in found:
        problem = address_problem(address, policy.allowed_networks)
        if problem is not None:
            raise WebhookRefused(f"Webhook host blocked: {host} resolves to {address}, {problem}")
    return found[0]


def _pinned_request(
    client: httpx.AsyncClient,
    url: httpx.URL,
    address: IPAddress,
    body: bytes,
    headers: dict[str, str],
) -> httpx.Request:
    """A POST to ``address`` that still names ``url``'s host (``Host``, TLS SNI and
    certificate check)."""
    host_header = url.netloc.decode("ascii")
    target = url.copy_with(host=str(address))
    request = client.build_request(
        "POST",
        target,
        content=body,
        headers={"Content-Type": "application/json", **headers, "Host": host_header},
    )
    if url.scheme == "https":
        request.extensions["sni_hostname"] = url.host
    return request


def payload_of(
    rec: BookedRun, values: dict[str, Any] | None, policy: WebhookSettings
) -> dict[str, Any]:
    """What LangGraph POSTs for a run that ended: the Run JSON and its times, the state's
    values (``None`` once a stateless run's thread is gone), ``error`` when it failed;
    only ``allowed_fields`` when the operator lists them."""
    payload: dict[str, Any] = {
        **rec.to_json(),
        "run_started_at": iso(rec.started_at) if rec.started_at is not None else None,
        "run_ended_at": iso(rec.updated_at),
        "webhook_sent_at": iso(datetime.now(UTC)),
        "values": values,
    }
    result = rec.result or {}
    if "__error__" in result:
        payload["error"] = result["__error__"]
    if policy.allowed_fields:
        payload = {k: v for k, v in payload.items() if k in policy.allowed_fields}
    return payload


class WebhookSender:
    """Sends the webhooks of the app's runs (``app.state.lg_webhooks``)."""

    def __init__(self, manager: GraphSessionManager, policy: WebhookSettings) -> None:
        """Deliveries for runs of ``manager``'s sessions, under ``policy``."""
        self.manager = manager
        self.policy = policy
        self.client = httpx.AsyncClient(follow_redirects=False, timeout=policy.timeout)
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    def run_ended(self, rec: BookedRun) -> None:
        """A run ended: start delivering its webhook (if it has one), without waiting."""
        url = rec.kwargs.get("webhook")
        if not isinstance(url, str) or not url or self.closed:
            return
        if not self.policy.enabled:
            log.info("webhooks are disabled: run %s's webhook is not sent", rec.run_id)
            return
        values = self._values_now(rec)
        task = asyncio.ensure_future(self._deliver(rec, url, values))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @staticmethod
    def _values_now(rec: BookedRun) -> dict[str, Any] | None:
        """The end state as the run answered it (a failed run's is read at delivery)."""
        result = rec.result or {}
        if rec.temporary and not rec.keep_thread:
            return None  # the thread went with the run (LangGraph sends null too)
        if "__error__" in result or rec.status != "success":
            return None
        return {k: v for k, v in result.items() if k not in ("__interrupt__", "__error__")}

    async def _state_values(self, rec: BookedRun) -> dict[str, Any] | None:
        if rec.temporary and not rec.keep_thread:
            return None  # the thread went with the run (LangGraph sends null too)
        try:
            session = await self.manager.get(rec.thread_id)
            return await session.get_state() if session is not None else None
        except Exception:  # the thread went away meanwhile
            return None

    async def _deliver(self, rec: BookedRun, url: str, values: dict[str, Any] | None) -> None:
        try:
            outcome = await self.send(rec, url, values)
        except Exception as exc:  # a bug here must not go unseen, nor kill the task silently
            log.exception("webhook of run %s failed", rec.run_id)
            outcome = {"host": None, "attempts": 0, "error": f"{type(exc).__name__}: {exc}"}
        if rec.temporary and not rec.keep_thread:
            log.info("webhook of stateless run %s: %s", rec.run_id, outcome)
            return
        kind = EventType.WEBHOOK_DELIVERED if outcome.get("delivered") else EventType.WEBHOOK_FAILED
        data = {k: v for k, v in outcome.items() if k != "delivered"}
        try:
            await self.manager.record_event(rec.thread_id, kind, run_id=rec.run_id, data=data)
        except Exception:
            log.exception("could not record the webhook of run %s", rec.run_id)

    async def send(
        self, rec: BookedRun, url: str, values: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """POST the run's payload to ``url`` until it is answered 2xx or the attempts run
        out; returns what is recorded (``host``, ``attempts``, ``status_code``, ``error``,
        ``refused``, ``delivered``)."""
        policy = self.policy
        outcome: dict[str, Any] = {"host": None, "attempts": 0, "delivered": False}
        try:
            parsed = check_url(url, policy)
            outcome["host"] = parsed.host
            if values is None and rec.status != "success":
                values = await self._state_values(rec)
            body = dumps(payload_of(rec, values, policy))
            for attempt in range(1, policy.max_attempts + 1):
                if attempt > 1:
                    await asyncio.sleep(policy.backoff * 2 ** (attempt - 2))
                outcome["attempts"] = attempt
                try:
                    address = await resolve_checked(parsed, policy)
                    request = _pinned_request(self.client, parsed, address, body, policy.headers)
                    response = await self.client.send(request)
                    await response.aclose()
                except httpx.TransportError as exc:
                    outcome["error"] = f"{type(exc).__name__}: {exc}".rstrip(": ")
                    outcome.pop("status_code", None)
                    continue
                outcome["status_code"] = response.status_code
                outcome.pop("error", None)
                if response.is_success:
                    outcome["delivered"] = True
                    return outcome
                if response.status_code < 500 and response.status_code not in RETRY_STATUSES:
                    if response.is_redirect:
                        outcome["error"] = "redirects are not followed"
                    return outcome
        except WebhookRefused as exc:
            outcome["refused"] = exc.reason
        return outcome

    async def close(self) -> None:
        """Stop: deliveries still under way are cancelled, the client closed."""
        self.closed = True
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await self.client.aclose()


def sender_of(app: Starlette) -> WebhookSender | None:
    """The app's webhook sender while it serves."""
    return getattr(app.state, "lg_webhooks", None)


@contextlib.asynccontextmanager
async def webhook_sender(app: Starlette, book: RunBook) -> AsyncIterator[WebhookSender]:
    """The app's :class:`WebhookSender`, hooked to ``book``'s run ends while the app
    serves, closed when it stops."""
    sender = WebhookSender(app.state.manager, app.state.settings.webhooks)
    app.state.lg_webhooks = sender
    book.end_hooks.append(sender.run_ended)
    try:
        yield sender
    finally:
        with contextlib.suppress(ValueError):
            book.end_hooks.remove(sender.run_ended)
        app.state.lg_webhooks = None
        await sender.close()


__all__ = [
    "WebhookRefused",
    "WebhookSender",
    "address_problem",
    "check_url",
    "payload_of",
    "resolve_checked",
    "sender_of",
    "validate_webhook",
    "webhook_sender",
]
