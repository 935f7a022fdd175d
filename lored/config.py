"""Settings: defaults < config.toml < LORE_* environment; paths from platformdirs or LORE_HOME.

``Paths`` says where every file lives; ``Settings`` is the parsed configuration.
``load_settings()`` creates config.toml with a fresh machine_id on first use.
Secrets (token, cached data key) live in their own 0600 files, never in config.toml.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lored.errors import ConfigError

APP = "lore"
#: AF_UNIX paths must fit in sun_path (108 bytes on Linux, 104 on macOS)
MAX_SOCKET_PATH = 100

DEFAULT_INTERVAL_S = 15 * 60
ALL_TOOLS = (
    "claude-code", "codex", "gemini", "aider", "opencode",
    "cline", "roo-code", "kilo-code", "continue", "copilot-chat", "cursor", "goose",
    "qwen", "droid",
)


@dataclass(frozen=True)
class Paths:
    """Where Lore keeps its files on this machine."""

    config_dir: Path
    data_dir: Path
    runtime_dir: Path
    log_dir: Path

    @property
    def config_file(self) -> Path:
        """config.toml."""
        return self.config_dir / "config.toml"

    @property
    def db_file(self) -> Path:
        """sessions.db."""
        return self.data_dir / "sessions.db"

    @property
    def token_file(self) -> Path:
        """The Lore Cloud bearer token (0600)."""
        return self.data_dir / "token.json"

    @property
    def key_file(self) -> Path:
        """The cached data key (0600)."""
        return self.data_dir / "key.json"

    @property
    def lock_file(self) -> Path:
        """flock'ed by the one running lored."""
        return self.runtime_dir / "lored.lock"

    @property
    def socket_path(self) -> Path:
        """The daemon's Unix socket, kept short enough for sun_path."""
        path = self.runtime_dir / "lored.sock"
        if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
            return path
        import hashlib  # lazy: only long LORE_HOME paths need it
        import tempfile

        digest = hashlib.sha256(os.fsencode(self.runtime_dir)).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"lore-{os.getuid()}-{digest}" / "lored.sock"


def resolve_paths(env: dict[str, str] | None = None) -> Paths:
    """Paths from LORE_HOME when set, else the platform's user dirs (platformdirs)."""
    env = dict(os.environ) if env is None else env
    home = env.get("LORE_HOME")
    if home:
        base = Path(home).expanduser().absolute()
        return Paths(base, base, base / "run", base / "logs")
    import warnings

    import platformdirs  # lazy: keeps `lorectl status` start-up light

    with warnings.catch_warnings():
        # without XDG_RUNTIME_DIR platformdirs warns and falls back to /tmp/runtime-<uid>,
        # a 0700 per-user directory, which is what we want anyway
        warnings.simplefilter("ignore")
        runtime = platformdirs.user_runtime_dir(APP)
    return Paths(
        Path(platformdirs.user_config_dir(APP)),
        Path(platformdirs.user_data_dir(APP)),
        Path(runtime),
        Path(platformdirs.user_log_dir(APP)),
    )


def parse_interval(value: Any) -> int:
    """Seconds from an int, or a string like "900", "15m", "2s", "1h"."""
    if isinstance(value, bool):
        raise ConfigError(f"[sync] interval must be a duration, not {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
        if not m:
            raise ConfigError(f"[sync] interval {value!r} is not a duration like 15m or 900")
        seconds = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    else:
        raise ConfigError(f"[sync] interval must be a duration, not {value!r}")
    if seconds < 1:
        raise ConfigError("[sync] interval must be at least 1 second")
    return int(seconds)


@dataclass
class Settings:
    """The effective configuration of this machine."""

    paths: Paths
    machine_id: str
    machine_name: str
    server_url: str | None = None
    insecure_http: bool = False
    sync_interval: int = DEFAULT_INTERVAL_S
    sync_auto: bool = True
    privacy_metadata: str = "full"  # "full" | "minimal"
    tools: tuple[str, ...] = ALL_TOOLS
    aider_roots: tuple[str, ...] = ()
    projects: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def documented(self) -> dict[str, Any]:
        """Every key with its effective value (for `lorectl config show`)."""
        return {
            "machine_id": self.machine_id,
            "machine_name": self.machine_name,
            "server": {"url": self.server_url, "insecure_http": self.insecure_http},
            "sync": {"interval": self.sync_interval, "auto": self.sync_auto},
            "privacy": {"metadata": self.privacy_metadata},
            "capture": {"tools": list(self.tools), "aider_roots": list(self.aider_roots)},
            "projects": dict(self.projects),
        }


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def write_config(path: Path, data: dict[str, Any]) -> None:
    """Write config.toml atomically (temp file + rename), mode 0600."""
    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".toml.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(tomli_w.dumps(data).encode())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def update_config(paths: Paths, updates: dict[str, Any]) -> None:
    """Merge top-level keys / tables into config.toml (e.g. the server URL at login)."""
    data = _read_toml(paths.config_file)
    for key, val in updates.items():
        if isinstance(val, dict) and isinstance(data.get(key), dict):
            data[key].update(val)
        else:
            data[key] = val
    write_config(paths.config_file, data)


def _hostname() -> str:
    return os.uname().nodename or "machine"


def load_settings(env: dict[str, str] | None = None, *, create: bool = True) -> Settings:
    """Load settings; on first use create config.toml with a new machine_id."""
    env = dict(os.environ) if env is None else env
    paths = resolve_paths(env)
    data = _read_toml(paths.config_file)
    if "machine_id" not in data and create:
        import uuid  # lazy: only the first run makes a machine id

        data = {
            "machine_id": str(uuid.uuid4()),
            "machine_name": _hostname(),
            **data,
        }
        write_config(paths.config_file, data)
    sync = data.get("sync", {}) or {}
    privacy = data.get("privacy", {}) or {}
    capture = data.get("capture", {}) or {}
    server = data.get("server", {}) or {}
    for name, table in (("sync", sync), ("privacy", privacy), ("capture", capture)):
        if not isinstance(table, dict):
            raise ConfigError(f"[{name}] in config.toml must be a table")
    metadata = str(privacy.get("metadata", "full"))
    if metadata not in ("full", "minimal"):
        raise ConfigError(f'privacy.metadata must be "full" or "minimal", not {metadata!r}')
    tools = capture.get("tools", list(ALL_TOOLS))
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        raise ConfigError("capture.tools must be a list of tool names")
    interval = parse_interval(
        env.get("LORE_SYNC_INTERVAL", sync.get("interval", DEFAULT_INTERVAL_S))
    )
    projects = data.get("projects", {}) or {}
    return Settings(
        paths=paths,
        machine_id=str(data.get("machine_id", "")),
        machine_name=str(data.get("machine_name") or _hostname()),
        server_url=server.get("url") or None,
        insecure_http=bool(server.get("insecure_http", False)),
        sync_interval=interval,
        sync_auto=bool(sync.get("auto", True)),
        privacy_metadata=metadata,
        tools=tuple(tools),
        aider_roots=tuple(str(p) for p in capture.get("aider_roots", [])),
        projects=(
            {str(k): str(v) for k, v in projects.items()} if isinstance(projects, dict) else {}
        ),
        raw=data,
    )


def write_secret(path: Path, data: bytes) -> None:
    """Write a secret file atomically with mode 0600 (created 0600, never widened)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
