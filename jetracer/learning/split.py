"""Deterministic train/validation/test split by recording session.

Consecutive frames of one drive are near-duplicates; a random per-frame split puts them on both
sides and makes validation look better than driving. So whole sessions go to one side, chosen by a
hash of the session id (and the seed): adding a new session never moves an old one.

When hashing leaves a side empty (few sessions), sessions are assigned in hash order to reach the
fractions by frame count. With fewer than 3 sessions, each session is cut into contiguous time
blocks (first train, then validation, then test) and ``Split.note`` says so.
"""
import hashlib
from typing import Dict, List, Sequence

from .dataset import Entry


class Split(object):
    """Entry indices per side (``train``, ``val``, ``test``), the ``sessions`` on each side (for time
    blocks ``"<session>[start:end]"``, positions in time order), the ``method`` and a human ``note``."""

    def __init__(self, train: List[int], val: List[int], test: List[int], sessions: Dict[str, List[str]],
                 method: str, note: str = "") -> None:
        self.train, self.val, self.test = train, val, test
        self.sessions, self.method, self.note = sessions, method, note

    def as_meta(self) -> Dict[str, object]:
        """The checkpoint's ``split`` entry."""
        meta = dict(self.sessions)  # type: Dict[str, object]
        meta.update({"method": self.method, "note": self.note,
                     "counts": {"train": len(self.train), "val": len(self.val), "test": len(self.test)}})
        return meta


def session_hash(session: str, seed: int = 0) -> float:
    """A stable number in [0, 1) for a session id (sha1; the same on every machine and Python)."""
    digest = hashlib.sha1(("%d:%s" % (seed, session)).encode("utf-8")).hexdigest()
    return int(digest[:13], 16) / float(16 ** 13)


def split_by_session(entries: Sequence[Entry], val_fraction: float = 0.1, test_fraction: float = 0.1,
                     seed: int = 0) -> Split:
    """Split ``entries`` so that each session (or time block) is on one side only.

    Raises ValueError when there are too few images (fewer than 3) for three non-empty sides.
    """
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be in (0, 1) with a sum below 1")
    by_session = {}  # type: Dict[str, List[int]]
    for i, e in enumerate(entries):
        by_session.setdefault(e.session, []).append(i)
    if len(entries) < 3:
        raise ValueError("need at least 3 labelled images to split into train/val/test, found %d" % len(entries))
    order = sorted(by_session, key=lambda s: (session_hash(s, seed), s))
    sides = {"train": [], "val": [], "test": []}  # type: Dict[str, List[str]]
    for s in order:
        h = session_hash(s, seed)
        sides["test" if h < test_fraction else "val" if h < test_fraction + val_fraction else "train"].append(s)
    method, note = "session-hash", ""
    if not all(sides.values()) and len(order) >= 3:
        sides = {"train": [], "val": [], "test": []}
        total = float(len(entries))
        counts = {"test": 0, "val": 0}
        for k, s in enumerate(order):
            left = len(order) - k
            if not sides["test"] or (counts["test"] < test_fraction * total and left > 2):
                side = "test"
            elif not sides["val"] or (counts["val"] < val_fraction * total and left > 1):
                side = "val"
            else:
                side = "train"
            sides[side].append(s)
            if side in counts:
                counts[side] += len(by_session[s])
        method = "session-ranked"
        note = ("hashing %d sessions left a side empty; sessions were assigned in hash order by frame count"
                % len(order))
    if all(sides.values()):
        idx = {side: sorted(i for s in ss for i in by_session[s]) for side, ss in sides.items()}
        return Split(idx["train"], idx["val"], idx["test"], {k: sorted(v) for k, v in sides.items()}, method, note)
    return _time_blocks(entries, by_session, val_fraction, test_fraction)


def _time_blocks(entries: Sequence[Entry], by_session: Dict[str, List[int]], val_fraction: float,
                 test_fraction: float) -> Split:
    idx = {"train": [], "val": [], "test": []}  # type: Dict[str, List[int]]
    blocks = {"train": [], "val": [], "test": []}  # type: Dict[str, List[str]]
    for s in sorted(by_session):
        members = sorted(by_session[s], key=lambda i: (entries[i].time, entries[i].path))
        n = len(members)
        if n < 3:
            cuts = [("train", 0, n)]
        else:
            n_test = max(1, int(round(n * test_fraction)))
            n_val = max(1, int(round(n * val_fraction)))
            cuts = [("train", 0, n - n_val - n_test), ("val", n - n_val - n_test, n - n_test), ("test", n - n_test, n)]
        for side, a, b in cuts:
            if b > a:
                idx[side].extend(members[a:b])
                blocks[side].append("%s[%d:%d]" % (s, a, b))
    if not idx["val"] or not idx["test"]:
        raise ValueError("cannot make non-empty validation and test sets from %d images; record more" % len(entries))
    note = ("only %d session(s): each was cut into contiguous time blocks (train, then val, then test); "
            "record more sessions for a split that tests on unseen drives" % len(by_session))
    return Split(sorted(idx["train"]), sorted(idx["val"]), sorted(idx["test"]), blocks, "time-blocks", note)
