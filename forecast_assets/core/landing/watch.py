"""Watching the landing zone: which client folders hold a delivery that has not been run yet.

Pure logic behind the landing sensor, free of Dagster. A delivery is identified by the content
hashes of the files ingestion reads (the same ``find_files`` rules), so touching a file or copying
it again unchanged requests nothing, while any changed byte does. Hashing is what makes a run key
stable, but it reads every byte: hashes are cached per file with its size and modification time,
and a file is hashed again only when one of those changed.

Folder names are validated as client keys before anything inside them is read; a name that is not
a key is reported and never becomes a path, a partition or a run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from forecast_assets.core.clients import InvalidClientKey, validate_client_key
from forecast_assets.core.landing.validation import ALL_KINDS, find_files

# Without these two kinds ingestion accepts nothing (sales of unknown items are rejected), so a
# folder that lacks them is a delivery still in progress rather than a run that is bound to fail.
REQUIRED_KINDS: tuple[str, ...] = ("sales", "products")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileStamp:
    """A landing file as last seen: size and mtime decide whether its cached hash still holds."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class ClientDelivery:
    """The landing files of one client folder as they are now."""

    client_id: str
    files: dict[str, FileStamp]
    missing_kinds: tuple[str, ...]
    newest_mtime: float

    @property
    def digest(self) -> str:
        """One hash over the relative paths and contents of every landing file of the client."""
        h = hashlib.sha256()
        for rel in sorted(self.files):
            h.update(f"{rel}\0{self.files[rel].sha256}\n".encode())
        return h.hexdigest()

    def wait_reason(self, now: float, settle_seconds: float) -> str | None:
        """Why the delivery should not be run yet (None when it is ready)."""
        if self.missing_kinds:
            return f"waiting for {', '.join(self.missing_kinds)} files"
        if now - self.newest_mtime < settle_seconds:
            return f"files changed less than {settle_seconds:g}s ago (still being written?)"
        return None


@dataclass
class LandingScan:
    """Every client folder of the landing zone, and the folder names that are not client keys."""

    deliveries: dict[str, ClientDelivery] = field(default_factory=dict)
    invalid_names: list[str] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def scan_client(folder: Path, client_id: str, known: Mapping[str, FileStamp] | None = None) -> ClientDelivery:
    """Hash the landing files of one client folder, reusing ``known`` hashes of unchanged files."""
    validate_client_key(client_id)
    known = known or {}
    files: dict[str, FileStamp] = {}
    missing = []
    newest = 0.0
    for kind in ALL_KINDS:
        paths = find_files(folder, kind)
        if not paths and kind in REQUIRED_KINDS:
            missing.append(kind)
        for path in paths:
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed while we looked: the next tick sees the new state
                continue
            rel = path.relative_to(folder).as_posix()
            cached = known.get(rel)
            if cached and cached.size == stat.st_size and cached.mtime_ns == stat.st_mtime_ns:
                files[rel] = cached
            else:
                try:
                    files[rel] = FileStamp(stat.st_size, stat.st_mtime_ns, file_sha256(path))
                except FileNotFoundError:
                    continue
            newest = max(newest, stat.st_mtime)
    return ClientDelivery(client_id, files, tuple(missing), newest)


def scan_landing(
    landing_dir: Path, known: Mapping[str, Mapping[str, FileStamp]] | None = None
) -> LandingScan:
    """Every folder directly under ``landing_dir``: valid client keys are scanned, others listed.

    Hidden entries (``.name``, as upload tools use for partial transfers) are neither.
    """
    scan = LandingScan()
    if not landing_dir.is_dir():
        return scan
    known = known or {}
    for entry in sorted(landing_dir.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        try:
            client_id = validate_client_key(entry.name)
        except InvalidClientKey:
            scan.invalid_names.append(entry.name)
            continue
        scan.deliveries[client_id] = scan_client(entry, client_id, known.get(client_id))
    return scan


def run_key(client_id: str, digest: str) -> str:
    """The run key of one delivery: the same files never start a second run of the sensor."""
    return f"{validate_client_key(client_id)}-{digest[:24]}"


@dataclass
class WatchState:
    """What the sensor remembers between ticks (its cursor): the digest last requested per client,
    the file hashes seen, and the invalid names already reported (reported once, not every tick)."""

    requested: dict[str, str] = field(default_factory=dict)
    stamps: dict[str, dict[str, FileStamp]] = field(default_factory=dict)
    reported_invalid: list[str] = field(default_factory=list)

    def to_cursor(self) -> str:
        return json.dumps(
            {
                "requested": self.requested,
                "stamps": {
                    client: {rel: [s.size, s.mtime_ns, s.sha256] for rel, s in files.items()}
                    for client, files in self.stamps.items()
                },
                "reported_invalid": self.reported_invalid,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_cursor(cls, cursor: str | None) -> WatchState:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(
            requested=dict(data.get("requested", {})),
            stamps={
                client: {rel: FileStamp(int(a), int(b), str(c)) for rel, (a, b, c) in files.items()}
                for client, files in data.get("stamps", {}).items()
            },
            reported_invalid=list(data.get("reported_invalid", [])),
        )


@dataclass
class WatchDecision:
    """The outcome of one look at the landing zone."""

    to_run: dict[str, str] = field(default_factory=dict)  # client -> digest of the delivery to run
    waiting: dict[str, str] = field(default_factory=dict)  # client -> why not yet
    new_invalid: list[str] = field(default_factory=list)  # invalid names not reported before
    state: WatchState = field(default_factory=WatchState)


def decide(landing_dir: Path, state: WatchState, now: float, settle_seconds: float) -> WatchDecision:
    """Scan the landing zone and decide which clients have a new, complete, settled delivery."""
    scan = scan_landing(landing_dir, state.stamps)
    decision = WatchDecision(
        state=WatchState(
            requested=dict(state.requested),
            stamps={c: d.files for c, d in scan.deliveries.items()},
            reported_invalid=sorted(set(scan.invalid_names)),
        )
    )
    decision.new_invalid = [n for n in scan.invalid_names if n not in state.reported_invalid]
    for client_id, delivery in scan.deliveries.items():
        digest = delivery.digest
        if state.requested.get(client_id) == digest:
            continue
        reason = delivery.wait_reason(now, settle_seconds)
        if reason:
            decision.waiting[client_id] = reason
            continue
        decision.to_run[client_id] = digest
        decision.state.requested[client_id] = digest
    return decision
