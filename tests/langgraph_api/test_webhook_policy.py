"""The webhook URL policy (server-side request forgery) and the ``webhooks`` setting from
its three sources (our file section, ``GRAPH_SESSIONS_WEBHOOKS``, ``langgraph.json``), without
a server process: the end-to-end deliveries are in ``test_webhooks.py``."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from graph_sessions.config import load_config
from graph_sessions.errors import ConfigError
from graph_sessions.server.errors import ApiError
from graph_sessions.server.langgraph_api.webhooks import (
    WebhookRefused,
    address_problem,
    check_url,
    resolve_checked,
    validate_webhook,
)
from graph_sessions.settings import ServerSettings
from graph_sessions.webhook_settings import WebhookSettings

OPEN = WebhookSettings()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9000/x", "Webhook host blocked: loopback IP range"),
        ("http://[::1]/x", "Webhook host blocked: loopback IP range"),
        ("http://[::ffff:127.0.0.1]/x", "Webhook host blocked: loopback IP range"),
        ("http://10.1.2.3/x", "Webhook host blocked: private IP range"),
        ("http://192.168.0.1/x", "Webhook host blocked: private IP range"),
        ("http://169.254.169.254/latest/meta-data", "Webhook host blocked: link-local IP range"),
        ("http://[fe80::1]/x", "Webhook host blocked: link-local IP range"),
        ("http://0.0.0.0/x", "Webhook host blocked: blocked IP range"),
        ("http://224.0.0.1/x", "Webhook host blocked: blocked IP range"),
        ("http://100.64.0.1/x", "Webhook host blocked: reserved IP range"),
        ("ftp://hooks.example.com/x", "Webhook host blocked: scheme 'ftp' not allowed"),
        ("/threads", "Relative webhook URLs are not supported: give an absolute http(s) URL"),
        ("not a url", "Invalid webhook hostname ''"),
        ("http://hooks.example.com/" + "a" * 3000, "Webhook URL too long"),
    ],
)
def test_default_policy_refuses_internal_and_odd_urls(url: str, reason: str) -> None:
    with pytest.raises(WebhookRefused) as info:
        check_url(url, OPEN)
    assert info.value.reason == reason
    with pytest.raises(ApiError) as api:
        validate_webhook(url, OPEN)
    assert (api.value.status, api.value.message) == (422, reason)


def test_default_policy_accepts_public_urls_and_names() -> None:
    for url in (
        "https://hooks.example.com/a?b=1",
        "http://8.8.8.8:8080/x",
        "http://localhost:1/x",  # a name: its addresses are checked at delivery
    ):
        assert isinstance(check_url(url, OPEN), httpx.URL)
    validate_webhook(None, OPEN)


def test_allowed_hosts_ports_https_and_networks() -> None:
    policy = WebhookSettings(
        allowed_hosts=["hooks.example.com", "*.corp.example", "10.0.0.5"],
        allowed_networks=["10.0.0.0/24"],
        allowed_ports=[443, 8443],
        require_https=True,
    )
    for url in (
        "https://hooks.example.com/x",
        "https://a.corp.example:8443/x",
        "https://b.a.corp.example/x",
        "https://10.0.0.5/x",
    ):
        check_url(url, policy)
    refused = {
        "https://corp.example/x": "Webhook domain not allowed",  # the apex is not a subdomain
        "https://evil.example/x": "Webhook domain not allowed",
        "https://hooks.example.com.evil.example/x": "Webhook domain not allowed",
        "http://hooks.example.com/x": "Webhook must use https",
        "https://hooks.example.com:9000/x": "Webhook port 9000 not allowed",
    }
    for url, reason in refused.items():
        with pytest.raises(WebhookRefused, match=reason):
            check_url(url, policy)


def test_address_problem_uses_allowed_networks() -> None:
    ip = ipaddress.ip_address
    assert address_problem(ip("127.0.0.2"), ["127.0.0.2/32"]) is None
    assert address_problem(ip("127.0.0.1"), ["127.0.0.2/32"]) == "loopback IP range"
    assert address_problem(ip("::ffff:10.0.0.1"), ["10.0.0.0/8"]) is None
    assert address_problem(ip("fd00::2"), []) == "private IP range"
    assert address_problem(ip("0.0.0.0"), ["0.0.0.0/0"]) == "blocked IP range"  # never
    assert address_problem(ip("93.184.216.34"), []) is None


async def test_resolution_checks_every_address() -> None:
    url = httpx.URL("http://localhost:9/x")
    with pytest.raises(WebhookRefused, match="localhost resolves to 127.0.0.1, loopback"):
        await resolve_checked(url, OPEN)
    allowed = WebhookSettings(allowed_networks=["127.0.0.0/8", "::1"])
    assert str(await resolve_checked(url, allowed)) in ("127.0.0.1", "::1")
    with pytest.raises(httpx.ConnectError):
        await resolve_checked(httpx.URL("http://no-such-host.invalid/x"), OPEN)


def test_setting_from_the_environment() -> None:
    env = {"GRAPH_SESSIONS_WEBHOOKS": "hooks.example.com, *.corp.example"}
    hooks = ServerSettings.from_env(env).webhooks
    assert hooks.allowed_hosts == ["hooks.example.com", "*.corp.example"] and hooks.enabled
    assert not ServerSettings.from_env({"GRAPH_SESSIONS_WEBHOOKS": "off"}).webhooks.enabled
    text = json.dumps({"allowed_networks": ["127.0.0.1"], "max_attempts": 5})
    hooks = ServerSettings.from_env({"GRAPH_SESSIONS_WEBHOOKS": text}).webhooks
    assert (hooks.allowed_networks, hooks.max_attempts, hooks.allowed_hosts) == (
        ["127.0.0.1"],
        5,
        None,
    )
    assert ServerSettings().webhooks == WebhookSettings()


@pytest.mark.parametrize(
    "bad",
    [
        {"allowed_networks": ["not-an-ip"]},
        {"allowed_hosts": ["hooks.*.example"]},
        {"max_attempts": 0},
        {"allowed_fields": ["run_id", "secrets"]},
        {"bogus": 1},
    ],
)
def test_bad_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ServerSettings(webhooks=bad)


def _project(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "langgraph.json"
    path.write_text(json.dumps({"graphs": {"agent": "./agent.py:graph"}, **data}))
    return path


def test_langgraph_json_webhooks_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LG_WEBHOOK_TOKEN", "s3cret")
    path = _project(
        tmp_path,
        {
            "webhooks": {
                "url": {
                    "allowed_domains": ["hooks.example.com", "*.corp.example"],
                    "require_https": True,
                    "allowed_ports": [443],
                    "max_url_length": 300,
                    "disable_loopback": False,
                    "disable_private_ips": False,
                },
                "headers": {"Authorization": "Bearer ${{ env.LG_WEBHOOK_TOKEN }}", "X-Static": "1"},
                "allowed_fields": ["run_id", "status", "values"],
            }
        },
    )
    cfg = load_config(path, environ={}, apply_env=False)
    assert not [n for n in cfg.notes if "webhooks" in n]
    hooks = ServerSettings.from_sources(cfg.server, {}).webhooks
    assert hooks.allowed_hosts == ["hooks.example.com", "*.corp.example"]
    assert (hooks.require_https, hooks.allowed_ports, hooks.max_url_length) == (True, [443], 300)
    assert "127.0.0.0/8" in hooks.allowed_networks and "10.0.0.0/8" in hooks.allowed_networks
    assert hooks.headers == {"Authorization": "Bearer s3cret", "X-Static": "1"}
    assert hooks.allowed_fields == ["run_id", "status", "values"]
    # LangGraph's defaults keep loopback and private addresses closed here
    path = _project(tmp_path, {"webhooks": {"url": {"allowed_domains": ["h.example"]}}})
    hooks = ServerSettings.from_sources(load_config(path, environ={}, apply_env=False).server, {})
    assert hooks.webhooks.allowed_networks == []
    # http.disable_webhooks turns them off; our own section wins over LangGraph's keys
    path = _project(tmp_path, {"http": {"disable_webhooks": True}})
    cfg = load_config(path, environ={}, apply_env=False)
    assert not ServerSettings.from_sources(cfg.server, {}).webhooks.enabled
    path = _project(
        tmp_path,
        {
            "webhooks": {"url": {"allowed_domains": ["theirs.example"]}},
            "graph_sessions": {"server": {"webhooks": {"allowed_hosts": ["ours.example"]}}},
        },
    )
    cfg = load_config(path, environ={}, apply_env=False)
    assert ServerSettings.from_sources(cfg.server, {}).webhooks.allowed_hosts == ["ours.example"]


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"headers": {"X": "${{ env.HOME }}"}}, "does not start with LG_WEBHOOK_"),
        ({"headers": {"X": "${{ env.LG_WEBHOOK_UNSET_FOR_TEST }}"}}, "is not set"),
        ({"url": {"allowed_ports": ["x"]}}, "webhooks"),
    ],
)
def test_bad_langgraph_webhooks_are_config_errors(
    tmp_path: Path, section: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(_project(tmp_path, {"webhooks": section}), environ={}, apply_env=False)
