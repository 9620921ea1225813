"""Watching the landing zone: which client folders hold a finished delivery that has not been run.

Pure logic behind the landing sensor, free of Dagster. A delivery is identified by the content
hashes of the files ingestion reads (the same ``find_files`` rules), so touching a file or copying
it again unchanged requests nothing, while any changed byte does.

Readiness must not be fooled by a stalled upload: a file counts as finished only once its size and
mtime are the same at two looks of the sensor (and, for the delivery, the newest file is at least
``settle_seconds`` old), or when the client says so with a ``_READY`` marker at least as new as
every landing file. Only a file that stood still since the previous look is hashed, so a growing
file is never read; a hash is cached with the size and mtime it was taken at and reused while they
hold. Hashing per look is bounded by a byte budget, rotating over clients, so one huge delivery
cannot stall the others.

Symbolic links are never followed: a linked client folder, kind folder or file is refused (and
reported once), because a link can point into another client's folder or anywhere else.

Folder names are validated as client keys before anything inside them is read; a name that is not
a key is reported and never becomes a path, a partition or a run.
"""

from __future__ import annotations

import hashlib
import json
import stat as stat_mode
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from forecast_assets.core.clients import InvalidClientKey, validate_client_key
from forecast_assets.core.landing.validation import ALL_KINDS, LandingError, find_files

# Without these two kinds ingestion accepts nothing (sales of unknown items are rejected), so a
# folder that lacks them is a delivery still in progress rather than a run that is bound to fail.
REQUIRED_KINDS: tuple[str, ...] = ("sales", "products")
# A client may drop this file, after its other files, to say "the delivery is complete: run it now".
READY_MARKER = "_READY"
# Run tags of a sensor run: the full digest of the delivery it is for, and its sequence number.
DIGEST_TAG = "forecast-assets/landing_digest"
SEQUENCE_TAG = "forecast-assets/landing_sequence"
_CHUNK = 1 << 20


class DeliveryChanged(LandingError):
    """The files of a run's client differ from the delivery the sensor decided to run."""


@dataclass(frozen=True)
class FileStamp:
    """A landing file as last seen. ``sha256`` is None while the file has not been hashed: it was
    changing at that look, or its hashing was left to a later look by the per-look budget."""

    size: int
    mtime_ns: int
    sha256: str | None = None

    def same_as(self, other: FileStamp) -> bool:
        """Same size and mtime: the file stood still between the two looks."""
        return self.size == other.size and self.mtime_ns == other.mtime_ns


def digest_of(hashes: Mapping[str, str]) -> str:
    """One hash over the relative paths and content hashes of a client's landing files."""
    h = hashlib.sha256()
    for rel in sorted(hashes):
        h.update(f"{rel}\0{hashes[rel]}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class ClientDelivery:
    """The landing files of one client folder as they are now, and how far they are known."""

    client_id: str
    files: dict[str, FileStamp]
    missing_kinds: tuple[str, ...] = ()
    newest_mtime: float = 0.0
    changing: tuple[str, ...] = ()  # size or mtime differ from the previous look (or first seen)
    deferred: tuple[str, ...] = ()  # stood still, but hashing was left to a later look (budget)
    hashed: tuple[str, ...] = ()  # hashed at this look
    marked_ready: bool = False  # a _READY marker at least as new as every landing file
    links: tuple[str, ...] = ()  # symbolic links inside the folder, refused

    @property
    def digest(self) -> str:
        """The delivery's identity; defined only once every file is hashed."""
        unhashed = sorted(rel for rel, stamp in self.files.items() if stamp.sha256 is None)
        if unhashed:
            raise ValueError(f"{self.client_id}: no digest while {', '.join(unhashed)} is not hashed")
        return digest_of({rel: stamp.sha256 for rel, stamp in self.files.items() if stamp.sha256})

    def wait_reason(self, now: float, settle_seconds: float) -> str | None:
        """Why the delivery should not be run yet (None when it is ready)."""
        if self.missing_kinds:
            return f"waiting for {', '.join(self.missing_kinds)} files"
        if self.changing:
            return (
                f"{', '.join(self.changing)} changed since the last look (still being written?); "
                f"run once unchanged at two looks, or when a {READY_MARKER} file is added"
            )
        if self.deferred:
            return f"{', '.join(self.deferred)} to be hashed at a later look (per-look hashing budget)"
        if not self.marked_ready and now - self.newest_mtime < settle_seconds:
            return f"files changed less than {settle_seconds:g}s ago (still being written?)"
        return None


@dataclass
class HashBudget:
    """Bytes that one look may hash. The first file of a look is always hashed, so a file larger
    than the budget still gets its turn; once a file does not fit, hashing stops for this look."""

    limit: int | None = None
    spent: int = 0
    exhausted: bool = False

    def take(self, size: int) -> bool:
        if self.exhausted:
            return False
        if self.limit is not None and self.spent and self.spent + size > self.limit:
            self.exhausted = True
            return False
        self.spent += size
        return True


@dataclass
class LandingScan:
    """Every client folder of the landing zone, the folder names that are not client keys, the
    linked client folders (refused), and, when the hashing budget ran out, the client the next
    look starts with."""

    deliveries: dict[str, ClientDelivery] = field(default_factory=dict)
    invalid_names: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    resume_from: str | None = None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _first_link(folder: Path, path: Path) -> str | None:
    """The first symbolic link between ``folder`` (exclusive) and ``path``, relative to ``folder``."""
    current = folder
    for part in path.relative_to(folder).parts:
        current = current / part
        if current.is_symlink():
            return current.relative_to(folder).as_posix()
    return None


def delivery_files(folder: Path) -> tuple[dict[str, Path], tuple[str, ...], tuple[str, ...]]:
    """The files ingestion reads in a client folder (relative path -> path), with the required
    kinds that have none and the symbolic links refused on the way (a link is never followed)."""
    files: dict[str, Path] = {}
    links: set[str] = set()
    missing = []
    for kind in ALL_KINDS:
        found = False
        for path in find_files(folder, kind):
            link = _first_link(folder, path)
            if link is not None:
                links.add(link)
            elif path.is_file():
                files[path.relative_to(folder).as_posix()] = path
                found = True
        if not found and kind in REQUIRED_KINDS:
            missing.append(kind)
    return files, tuple(missing), tuple(sorted(links))


def _marker_ready(folder: Path, newest_mtime_ns: int) -> bool:
    """A ``_READY`` marker (a regular file, not a link) no older than every landing file: a file
    written after the marker belongs to the next delivery, which waits for its own marker."""
    try:
        stat = (folder / READY_MARKER).lstat()
    except FileNotFoundError:
        return False
    return stat_mode.S_ISREG(stat.st_mode) and stat.st_mtime_ns >= newest_mtime_ns


def scan_client(
    folder: Path,
    client_id: str,
    previous: Mapping[str, FileStamp] | None = None,
    budget: HashBudget | None = None,
) -> ClientDelivery:
    """Look at one client folder: reuse the cached hash of a file whose size and mtime still match,
    hash a file that stood still since the ``previous`` look (or any file, with a valid marker),
    and only note the size and mtime of a file that is changing."""
    validate_client_key(client_id)
    previous = previous or {}
    budget = budget or HashBudget()
    paths, missing, links = delivery_files(folder)
    seen: dict[str, FileStamp] = {}
    for rel, path in paths.items():
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed while we looked: the next look sees the new state
            continue
        seen[rel] = FileStamp(stat.st_size, stat.st_mtime_ns)
    newest_ns = max((s.mtime_ns for s in seen.values()), default=0)
    marked = bool(seen) and _marker_ready(folder, newest_ns)
    files: dict[str, FileStamp] = {}
    changing, deferred, hashed = [], [], []
    for rel, now_seen in seen.items():
        before = previous.get(rel)
        stable = before is not None and before.same_as(now_seen)
        if stable and before.sha256:
            files[rel] = before
            continue
        files[rel] = now_seen
        if not (stable or marked):
            changing.append(rel)
        elif not budget.take(now_seen.size):
            deferred.append(rel)
        else:
            stamp = _hash_unless_changed(paths[rel], now_seen)
            if stamp is None:
                changing.append(rel)
            else:
                files[rel] = stamp
                hashed.append(rel)
    return ClientDelivery(
        client_id,
        files,
        missing_kinds=missing,
        newest_mtime=newest_ns / 1e9,
        changing=tuple(changing),
        deferred=tuple(deferred),
        hashed=tuple(hashed),
        marked_ready=marked,
        links=links,
    )


def _hash_unless_changed(path: Path, seen: FileStamp) -> FileStamp | None:
    """The file's hash, or None when it vanished or changed while it was read."""
    try:
        sha = file_sha256(path)
        stat = path.stat()
    except FileNotFoundError:
        return None
    after = FileStamp(stat.st_size, stat.st_mtime_ns, sha)
    return after if after.same_as(seen) else None


def scan_landing(
    landing_dir: Path,
    previous: Mapping[str, Mapping[str, FileStamp]] | None = None,
    budget: HashBudget | None = None,
    start_with: str | None = None,
) -> LandingScan:
    """Every folder directly under ``landing_dir``: valid client keys are scanned (from
    ``start_with`` on, wrapping round, so the budget rotates over clients), others listed.

    Hidden entries (``.name``, as upload tools use for partial transfers) are neither. A linked
    client folder is refused before its name is even considered as a client.
    """
    scan = LandingScan()
    if not landing_dir.is_dir():
        return scan
    previous = previous or {}
    budget = budget or HashBudget()
    clients: list[tuple[str, Path]] = []
    for entry in sorted(landing_dir.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            scan.links.append(entry.name)
            continue
        if not entry.is_dir():
            continue
        try:
            clients.append((validate_client_key(entry.name), entry))
        except InvalidClientKey:
            scan.invalid_names.append(entry.name)
    names = [name for name, _ in clients]
    if start_with in names:
        at = names.index(start_with)
        clients = clients[at:] + clients[:at]
    last_hashing = -1
    for index, (client_id, folder) in enumerate(clients):
        delivery = scan_client(folder, client_id, previous.get(client_id), budget)
        if delivery.hashed:
            last_hashing = index
        scan.deliveries[client_id] = delivery
    if budget.exhausted:  # round robin: the next look starts after the last client that hashed
        scan.resume_from = clients[(last_hashing + 1) % len(clients)][0]
    return scan


def delivery_digest(folder: Path) -> str:
    """The digest of a client folder as it is now, computed as the sensor computes it (same files,
    links refused, same hash), every file read afresh: what a run compares with its sensor's."""
    paths, _, _ = delivery_files(folder)
    return digest_of({rel: file_sha256(path) for rel, path in paths.items()})


def check_delivery(folder: Path, expected: str) -> None:
    """Fail unless the client folder still holds the delivery the sensor decided on (``expected``,
    its digest; a 24-character prefix, as older runs carry, is compared as a prefix)."""
    actual = delivery_digest(folder)
    if actual == expected or (len(expected) >= 24 and actual.startswith(expected)):
        return
    raise DeliveryChanged(
        f"the delivery changed after the sensor saw it: {folder} now has digest {actual[:12]}..., "
        f"the run was started for {expected[:12]}...; nothing was written, re-run when it settles "
        "(the landing sensor starts a new run once the files stop changing)"
    )


def run_key(client_id: str, sequence: int, digest: str) -> str:
    """The run key of one delivery: client, delivery number and content digest. The number makes
    a reverted delivery (A, then B, then A again) a new run; the digest keeps a key per content."""
    return f"{validate_client_key(client_id)}-{sequence}-{digest[:24]}"


@dataclass(frozen=True)
class Requested:
    """A delivery the sensor asked to run: its number for the client (1, 2, ...) and its digest."""

    sequence: int
    digest: str


def _stamp_json(stamp: FileStamp) -> list:
    return [stamp.size, stamp.mtime_ns, stamp.sha256]


@dataclass
class WatchState:
    """What the sensor remembers between looks (its cursor): the last run requested per client,
    the size, mtime and hash of each file seen, the invalid names and links already reported
    (reported once, not at every look), and the client the hashing budget resumes with."""

    requested: dict[str, Requested] = field(default_factory=dict)
    stamps: dict[str, dict[str, FileStamp]] = field(default_factory=dict)
    reported_invalid: list[str] = field(default_factory=list)
    reported_links: list[str] = field(default_factory=list)
    resume_from: str | None = None

    def to_cursor(self) -> str:
        return json.dumps(
            {
                "requested": {c: [r.sequence, r.digest] for c, r in self.requested.items()},
                "stamps": {
                    client: {rel: _stamp_json(s) for rel, s in files.items()}
                    for client, files in self.stamps.items()
                },
                "reported_invalid": self.reported_invalid,
                "reported_links": self.reported_links,
                "resume_from": self.resume_from,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_cursor(cls, cursor: str | None) -> WatchState:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        requested = {}
        for client, value in data.get("requested", {}).items():
            # Cursors written before delivery numbers held the digest alone.
            seq, digest = (1, value) if isinstance(value, str) else value
            requested[client] = Requested(int(seq), str(digest))
        return cls(
            requested=requested,
            stamps={
                client: {
                    rel: FileStamp(int(a), int(b), None if c is None else str(c))
                    for rel, (a, b, c) in files.items()
                }
                for client, files in data.get("stamps", {}).items()
            },
            reported_invalid=list(data.get("reported_invalid", [])),
            reported_links=list(data.get("reported_links", [])),
            resume_from=data.get("resume_from"),
        )


@dataclass
class WatchDecision:
    """The outcome of one look at the landing zone."""

    to_run: dict[str, Requested] = field(default_factory=dict)  # client -> the delivery to run
    waiting: dict[str, str] = field(default_factory=dict)  # client -> why not yet
    new_invalid: list[str] = field(default_factory=list)  # invalid names not reported before
    new_links: list[str] = field(default_factory=list)  # links ("client" or "client/path") new
    hashed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # client -> files hashed now
    state: WatchState = field(default_factory=WatchState)


def decide(
    landing_dir: Path,
    state: WatchState,
    now: float,
    settle_seconds: float,
    hash_budget_bytes: int | None = None,
) -> WatchDecision:
    """Look at the landing zone and decide which clients have a new, complete, finished delivery.

    A delivery whose digest differs from the last one requested for the client runs under the next
    delivery number, so going back to an earlier delivery's files runs again.
    """
    scan = scan_landing(landing_dir, state.stamps, HashBudget(hash_budget_bytes), state.resume_from)
    links = [*scan.links, *(f"{c}/{rel}" for c, d in scan.deliveries.items() for rel in d.links)]
    decision = WatchDecision(
        state=WatchState(
            requested=dict(state.requested),
            stamps={c: d.files for c, d in scan.deliveries.items()},
            reported_invalid=sorted(set(scan.invalid_names)),
            reported_links=sorted(set(links)),
            resume_from=scan.resume_from,
        )
    )
    decision.new_invalid = [n for n in scan.invalid_names if n not in state.reported_invalid]
    decision.new_links = [n for n in links if n not in state.reported_links]
    decision.hashed = {c: d.hashed for c, d in scan.deliveries.items() if d.hashed}
    for client_id, delivery in scan.deliveries.items():
        reason = delivery.wait_reason(now, settle_seconds)
        if reason:
            decision.waiting[client_id] = reason
            continue
        digest = delivery.digest
        last = state.requested.get(client_id)
        if last is not None and last.digest == digest:
            continue
        request = Requested(last.sequence + 1 if last else 1, digest)
        decision.to_run[client_id] = request
        decision.state.requested[client_id] = request
    return decision
