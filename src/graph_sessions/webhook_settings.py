"""The ``webhooks`` server setting: where run-end webhooks may go and how they are sent.

A webhook URL comes from a client (a run's ``webhook``), so the server only requests what
the operator allowed (server-side request forgery): the URL's host must match
``allowed_hosts`` (any host when unset), and every address it resolves to must be public
unless it lies in ``allowed_networks`` (loopback, private, link-local, shared and reserved
addresses are refused otherwise). See docs/deployment.md and docs/langgraph-api.md.

Also read from ``langgraph.json``'s ``webhooks`` section (:func:`from_langgraph`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from graph_sessions.setting_text import object_setting

#: the payload fields LangGraph's ``webhooks.allowed_fields`` may name
PAYLOAD_FIELDS = frozenset(
    {
        "run_id",
        "thread_id",
        "assistant_id",
        "created_at",
        "updated_at",
        "metadata",
        "kwargs",
        "multitask_strategy",
        "status",
        "run_started_at",
        "run_ended_at",
        "webhook_sent_at",
        "values",
        "error",
    }
)
#: networks ``webhooks.url.disable_loopback: false`` opens
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")
#: networks ``webhooks.url.disable_private_ips: false`` opens (RFC 1918, CGN, ULA)
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
_TEMPLATE = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


class WebhookSettings(BaseModel):
    """Run-end webhooks: the URL policy and the delivery (attempts, timeout, backoff)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    allowed_hosts: list[str] | None = Field(
        default=None,
        description="host names a webhook URL may name: exact names, '*.example.com' "
        "(its subdomains), IP addresses; unset: any host (addresses still checked)",
    )
    allowed_networks: list[str] = Field(
        default_factory=list,
        description="non-public addresses webhooks may reach (IPs or CIDR networks, e.g. "
        "'127.0.0.1' or '10.0.0.0/8'); every other loopback/private/link-local address is "
        "refused",
    )
    require_https: bool = False
    allowed_ports: list[int] | None = None
    max_url_length: int = Field(default=2048, ge=8)
    max_attempts: int = Field(default=3, ge=1, le=20)
    timeout: float = Field(default=10.0, gt=0, description="seconds per attempt")
    backoff: float = Field(
        default=1.0, ge=0, description="seconds before the first retry, doubled each time"
    )
    headers: dict[str, str] = Field(default_factory=dict)
    allowed_fields: list[str] | None = None

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        hosts = [h.strip().lower().rstrip(".") for h in value if h.strip()]
        for host in hosts:
            if "*" in host and (not host.startswith("*.") or "*" in host[2:]):
                raise ValueError(f"a wildcard host is written '*.domain', not {host!r}")
        return hosts

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            try:
                ipaddress.ip_network(net.strip(), strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {net!r}") from None
        return [n.strip() for n in value]

    @field_validator("allowed_fields")
    @classmethod
    def _fields(cls, value: list[str] | None) -> list[str] | None:
        unknown = sorted(set(value or ()) - PAYLOAD_FIELDS)
        if unknown:
            raise ValueError(f"unknown payload fields {unknown}; known: {sorted(PAYLOAD_FIELDS)}")
        return value


def webhooks_value(value: Any) -> Any:
    """``GRAPH_SESSIONS_WEBHOOKS`` text: a JSON object, ``off``, or comma-separated
    allowed hosts (``hooks.example.com,*.corp.example``); else the object as written."""
    return object_setting(value, "allowed_hosts")


def _expand_header(value: str, prefix: str, environ: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        ref = match.group(1)
        if not ref.startswith("env."):
            raise ValueError(f"webhooks.headers: only '${{{{ env.VAR }}}}' templates: {ref!r}")
        name = ref[4:].strip()
        if not name.startswith(prefix):
            raise ValueError(f"webhooks.headers: {name} does not start with {prefix}")
        if name not in environ:
            raise ValueError(f"webhooks.headers: {name} is not set")
        return environ[name]

    return _TEMPLATE.sub(sub, value)


def from_langgraph(
    section: dict[str, Any], environ: dict[str, str] | None = None
) -> dict[str, Any]:
    """Our ``webhooks`` values from ``langgraph.json``'s ``webhooks`` section: ``url``
    (``allowed_domains`` → ``allowed_hosts``, ``require_https``, ``allowed_ports``,
    ``max_url_length``; ``disable_loopback: false`` / ``disable_private_ips: false`` open
    the loopback / private networks), ``headers`` (``${{ env.VAR }}`` templates resolved
    now, ``VAR`` starting with ``env_prefix``, default ``LG_WEBHOOK_``), ``allowed_fields``."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    url = section.get("url") or {}
    if not isinstance(url, dict):
        raise ValueError("webhooks.url must be an object")
    if url.get("allowed_domains"):
        values["allowed_hosts"] = list(url["allowed_domains"])
    for key in ("require_https", "allowed_ports", "max_url_length"):
        if url.get(key) is not None:
            values[key] = url[key]
    networks: list[str] = []
    if url.get("disable_loopback") is False:
        networks.extend(LOOPBACK_NETWORKS)
    if url.get("disable_private_ips") is False:
        networks.extend(PRIVATE_NETWORKS)
    if networks:
        values["allowed_networks"] = networks
    headers = section.get("headers") or {}
    if headers:
        prefix = str(section.get("env_prefix") or "LG_WEBHOOK_")
        values["headers"] = {
            str(k): _expand_header(str(v), prefix, env) for k, v in dict(headers).items()
        }
    if section.get("allowed_fields"):
        values["allowed_fields"] = list(section["allowed_fields"])
    return values


__all__ = ["PAYLOAD_FIELDS", "WebhookSettings", "from_langgraph", "webhooks_value"]
