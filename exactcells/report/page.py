"""One self-contained HTML file: plotly.js, the report's data as JSON and ``report.js`` inline."""

from __future__ import annotations

import base64
import html
import json
import re
import zlib
from importlib import resources
from typing import Any

from ..errors import ReportDependencyError

__all__ = ["render_page", "plotly_js", "ReportDependencyError", "pack", "unpack", "read_page_data"]


CSS = """
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px 0; } h2 { font-size: 15px; margin: 14px 0 6px 0; }
h3 { font-size: 14px; margin: 6px 0; } h4 { font-size: 13px; margin: 8px 0 4px 0; }
.ec-notes { font-size: 13px; color: #444; margin: 2px 0 10px 0; } .ec-notes li { margin: 2px 0; }
.ec-row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.ec-main { flex: 1 1 620px; min-width: 420px; } .ec-side { flex: 1 1 420px; min-width: 360px; }
.ec-plotwrap { position: relative; } .ec-plot { width: 100%; height: 620px; }
.ec-canvas { position: absolute; overflow: hidden; pointer-events: none; }
.ec-canvas canvas { position: absolute; left: 0; top: 0; pointer-events: none; }
.ec-decimation { font-size: 12px; margin: 2px 0 4px 0; }
.ec-diagram { width: 100%; height: 400px; } .ec-curves { width: 100%; }
.ec-bar { margin: 6px 0; font-size: 13px; } .ec-bar input[type=range] { width: 50%; vertical-align: middle; }
.ec-tip { position: absolute; display: none; pointer-events: none; z-index: 10; max-width: 360px;
  background: rgba(255,255,255,0.96); border: 1px solid #888; border-radius: 4px; padding: 6px 8px;
  font: 12px/1.35 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
.ec-panel { font-size: 12px; border-top: 1px solid #ccc; margin-top: 6px; padding-top: 4px;
  max-height: 420px; overflow: auto; word-break: break-all; }
.ec-panel pre { white-space: pre-wrap; font-size: 12px; margin: 2px 0; }
.ec-facets li { margin: 3px 0; } .ec-note { color: #666; font-style: italic; }
.ec-table { border-collapse: collapse; font-size: 12px; } .ec-table td, .ec-table th {
  border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; word-break: break-all; }
"""


def plotly_js() -> str:
    """The plotly.js bundle shipped with the plotly package (so the page needs no network)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as e:
        raise ReportDependencyError("report.html needs plotly: pip install plotly") from e
    js: str = get_plotlyjs()
    return js


def _report_js() -> str:
    return (resources.files("exactcells") / "report" / "report.js").read_text(encoding="utf-8")


# a list of strings or a base64 text at least this long is packed (zlib, then base64) when that
# makes it shorter: exact rationals of hundreds of digits and 2-bit sign vectors shrink 2x to 20x
PACK_MIN = 64 * 1024
_SEP = "\x1e"  # joins a packed list of strings (never inside one)
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _z(raw: bytes) -> str:
    return base64.b64encode(zlib.compress(raw, 1)).decode("ascii")


def pack(data: Any) -> Any:
    """``data`` with its long string lists and long base64 texts replaced by
    ``{"packed": "lines" | "bytes", "z": base64(zlib(...))}`` (``report.js`` unpacks them with
    the browser's ``DecompressionStream``); :func:`unpack` inverts it."""
    if isinstance(data, dict):
        return {k: pack(v) for k, v in data.items()}
    if isinstance(data, list):
        if (data and all(isinstance(x, str) for x in data) and sum(len(x) for x in data) >= PACK_MIN
                and not any(_SEP in x for x in data)):
            text = _SEP.join(data)
            z = _z(text.encode("utf-8"))
            if len(z) < len(text):
                return {"packed": "lines", "z": z}
        return [pack(x) for x in data]
    if isinstance(data, str) and len(data) >= PACK_MIN and _B64.fullmatch(data):
        z = _z(base64.b64decode(data))
        if len(z) < 0.8 * len(data):
            return {"packed": "bytes", "z": z}
    return data


def unpack(data: Any) -> Any:
    """The inverse of :func:`pack`."""
    if isinstance(data, dict):
        if set(data) == {"packed", "z"}:
            raw = zlib.decompress(base64.b64decode(data["z"]))
            if data["packed"] == "lines":
                return raw.decode("utf-8").split(_SEP)
            return base64.b64encode(raw).decode("ascii")
        return {k: unpack(v) for k, v in data.items()}
    if isinstance(data, list):
        return [unpack(x) for x in data]
    return data


def read_page_data(page: str) -> dict[str, Any]:
    """The data of a page written by :func:`render_page`, unpacked (for tests and tools)."""
    m = re.search(r'<script type="application/json" id="ec-data">(.*?)</script>', page, re.S)
    if m is None:
        raise ValueError("not an exactcells report page (no ec-data element)")
    out: dict[str, Any] = unpack(json.loads(m.group(1)))
    return out


def _script_json(data: Any) -> str:
    # "</" never ends the script element early; "\/" is a valid JSON escape
    return json.dumps(pack(data), separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def render_page(title: str, notes: list[str], data: dict[str, Any]) -> str:
    """The whole HTML page: ``data`` is read by ``report.js`` (``data["kind"]`` is
    ``"analysis"`` or ``"training"``)."""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{CSS}</style>"
        f"<script type=\"text/javascript\">{plotly_js()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><ul class=\"ec-notes\">{items}</ul><div id=\"ec-root\"></div>"
        f"<script type=\"application/json\" id=\"ec-data\">{_script_json(data)}</script>"
        f"<script type=\"text/javascript\">{_report_js()}</script></body></html>\n"
    )
