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

from lored.config_check import ALL_TOOLS as ALL_TOOLS  # re-exported: capture reads it here
from lored.config_check import check_config, parse_duration
from lored.errors import ConfigError

APP = "lore"
#: AF_UNIX paths must fit in sun_path (108 bytes on Linux, 104 on macOS)
MAX_SOCKET_PATH = 100

DEFAULT_INTERVAL_S = 15 * 60


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
    """Seconds from an int, or a string like "900", "90s", "15m", "2h15m"."""
    return parse_duration(value)


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
    privacy_redact: str = "sync"  # "sync" | "everywhere" | "off" (lored.secrets)
    privacy_redact_allow: tuple[str, ...] = ()
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
            "privacy": {"metadata": self.privacy_metadata, "redact": self.privacy_redact,
                        "redact_allow": list(self.privacy_redact_allow)},
            "capture": {"tools": list(self.tools), "aider_roots": list(self.aider_roots)},
            "projects": dict(self.projects),
        }


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return ""
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start})",
                          hint=f"edit {path} and save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}",
                          hint=f"check that {path} is a file you can read") from None


def _read_toml(path: Path, text: str | None = None) -> dict[str, Any]:
    text = _read_text(path) if text is None else text
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # the hint names the file to edit: every lorectl command reads it, so none can help
        raise ConfigError(f"{path} is not valid TOML: {exc}",
                          hint=f"edit {path} at that line (TOML: key = \"text\", "
                          "key = true, [section])") from None


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
    text = _read_text(paths.config_file)
    data = _read_toml(paths.config_file, text)
    check_config(data, text, paths.config_file)  # before anything is written back
    if "machine_id" not in data and create:
        import uuid  # lazy: only the first run makes a machine id

        data = {
            "machine_id": str(uuid.uuid4()),
            "machine_name": _hostname(),
            **data,
        }
        write_config(paths.config_file, data)
    sync = data.get("sync", {})
    privacy = data.get("privacy", {})
    capture = data.get("capture", {})
    server = data.get("server", {})
    interval = sync.get("interval", DEFAULT_INTERVAL_S)
    if env.get("LORE_SYNC_INTERVAL"):
        try:
            interval = parse_duration(env["LORE_SYNC_INTERVAL"], "LORE_SYNC_INTERVAL")
        except ConfigError as err:
            raise ConfigError(err.message, hint="set LORE_SYNC_INTERVAL to a duration such as "
                              "15m, or unset it to use [sync] interval") from None
    projects = data.get("projects", {})
    redact, redact_allow = _redact_settings(privacy)
    return Settings(
        paths=paths,
        machine_id=str(data.get("machine_id", "")),
        machine_name=str(data.get("machine_name") or _hostname()),
        server_url=server.get("url") or None,
        insecure_http=bool(server.get("insecure_http", False)),
        sync_interval=parse_duration(interval),
        sync_auto=bool(sync.get("auto", True)),
        privacy_metadata=privacy.get("metadata", "full"),
        privacy_redact=redact,
        privacy_redact_allow=redact_allow,
        tools=tuple(capture.get("tools", ALL_TOOLS)),
        aider_roots=tuple(str(p) for p in capture.get("aider_roots", [])),
        projects=dict(projects),
        raw=data,
    )


def _redact_settings(privacy: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """``[privacy] redact`` and ``redact_allow``, validated (each allow entry compiles)."""
    mode = privacy.get("redact", "sync")
    if mode not in ("sync", "everywhere", "off"):
        raise ConfigError(
            f'privacy.redact must be "sync", "everywhere" or "off", not {mode!r}')
    allow = privacy.get("redact_allow", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        raise ConfigError("privacy.redact_allow must be a list of regular expressions")
    for a in allow:
        try:
            re.compile(a.encode())
        except re.error as exc:
            raise ConfigError(
                f"privacy.redact_allow entry {a!r} is not a valid regex ({exc})") from None
    return str(mode), tuple(allow)


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
