"""Print a markdown table per wire/*.json area (used to build langgraph-api.md)."""
import json
import sys
from pathlib import Path

W = Path(__file__).parent / "wire"
HDR = ["location", "content-location", "x-pagination-total", "x-pagination-next"]


def shape(b):
    if isinstance(b, dict):
        return "{" + ", ".join(list(b)[:12]) + (", …" if len(b) > 12 else "") + "}"
    if isinstance(b, list):
        return "[" + (shape(b[0]) if b else "") + "]" + (f" ×{len(b)}" if b else "")
    return json.dumps(b)[:60]


def short(x, n=90):
    s = json.dumps(x) if x is not None else ""
    return (s[:n] + "…") if len(s) > n else s


for f in sorted(W.glob("*.json")):
    if f.name == "openapi.json":
        continue
    print(f"\n### {f.stem}\n")
    print("| check | request | status | headers | response |")
    print("|---|---|---|---|---|")
    for e in json.load(open(f)):
        if "method" not in e:
            continue
        req = f"`{e['method']} {e['path']}`" + (f" ?{e['params']}" if e.get("params") else "")
        body = short(e.get("request_body"))
        if body:
            req += f" `{body}`"
        h = e.get("response_headers", {})
        hs = "; ".join(f"{k}: {h[k]}" for k in HDR if k in h)
        ct = h.get("content-type", "")
        if "sse_event_sequence" in e:
            seq = e["sse_event_sequence"]
            from itertools import groupby
            comp = ", ".join(f"{k}×{len(list(g))}" if True else k for k, g in groupby(seq))
            resp = f"SSE: {comp}"
        elif "response_body" in e:
            rb = e["response_body"]
            resp = shape(rb) if not (isinstance(rb, dict) and "detail" in rb) else short(rb, 140)
        else:
            resp = (e.get("response_text") or e.get("transport_error") or "")[:100]
        if ct and "json" not in ct:
            hs += f"; ct: {ct}"
        elif not ct and e.get("status") not in (204,):
            hs += "; (no content-type)"
        print(f"| {e['name']} | {req.replace('|', '/')} | {e.get('status')} | {hs} | {resp.replace('|', '/')} |")
