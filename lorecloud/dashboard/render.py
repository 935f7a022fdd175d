"""Template setup and the small display helpers the templates use.

Jinja2 autoescaping is on for every template: session metadata (project paths,
machine names) comes from clients and is shown verbatim, never as markup.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any, Final

import aiohttp_jinja2
import jinja2
from aiohttp import web

HERE: Final = Path(__file__).parent
TEMPLATES: Final = HERE / "templates"
STATIC: Final = HERE / "static"
CSS_FILE: Final = STATIC / "dashboard.css"

_UNITS: Final = ("B", "KB", "MB", "GB", "TB")
#: our own key, so the dashboard never collides with another jinja2 setup on the app
JINJA_KEY: Final = web.AppKey("lore_dashboard_jinja", jinja2.Environment)


def human_size(n: object) -> str:
    """Bytes as "1.2 MB" (decimal units, like the CLI)."""
    if not isinstance(n, int | float) or isinstance(n, bool):
        return "–"
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - the loop always returns


def parse_time(value: object) -> dt.datetime | None:
    """An ISO 8601 string or datetime as an aware UTC datetime; None if unusable."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def when(value: object, missing: str = "–") -> str:
    """A timestamp as "2025-06-14 10:02 UTC" (the server renders in UTC)."""
    moment = parse_time(value)
    if moment is None:
        return value if isinstance(value, str) and value else missing
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def percent(part: int, whole: int | None) -> int:
    """Whole-number percentage, capped to 0..100; 0 when there is no limit."""
    if not whole or whole <= 0:
        return 0
    return max(0, min(100, round(100 * part / whole)))


def css_version() -> str:
    """A short digest of the stylesheet, so browsers refetch it after an upgrade."""
    return hashlib.sha256(CSS_FILE.read_bytes()).hexdigest()[:12]


def setup_templates(app: web.Application) -> jinja2.Environment:
    """Attach the dashboard's jinja2 environment (autoescaped, strict undefined) to ``app``."""
    env = aiohttp_jinja2.setup(
        app,
        app_key=JINJA_KEY,
        default_helpers=False,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = human_size
    env.filters["when"] = when
    env.globals["css_version"] = css_version()
    js = STATIC / "lore-web.js"
    env.globals["js_version"] = hashlib.sha256(js.read_bytes()).hexdigest()[:12]
    env.globals["js_integrity"] = "sha384-" + base64.b64encode(
        hashlib.sha384(js.read_bytes()).digest()).decode("ascii")
    return env


def page(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    """Render a dashboard template into a response."""
    return aiohttp_jinja2.render_template(
        template, request, context, status=status, app_key=JINJA_KEY
    )
