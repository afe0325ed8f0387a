"""Deterministic train/validation/test split by recording session, per dataset folder.

Consecutive frames of one drive are near-duplicates; a random per-frame split puts them on both
sides and makes validation look better than driving. So whole sessions go to one side, chosen by a
hash of the session id (and the seed): adding a new session never moves an old one.

When hashing leaves a side empty (few sessions), sessions are assigned in hash order to reach the
fractions by frame count. With too few sessions, each session is cut into contiguous time blocks
(first train, then validation, then test) and ``Split.note`` says so. A fraction of 0 leaves that
side empty (no validation, or no test).

``split_folders`` splits each dataset folder on its own, so a small folder of real frames recorded in
one session is never sent whole to the validation or test side of a large simulator folder.
"""
import hashlib
from typing import Dict, List, Optional, Sequence, Tuple

from ..dataset import Entry

SIDES = ("train", "val", "test")


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


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """ValueError unless both fractions are in [0, 1) with a sum below 1."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be in [0, 1) with a sum below 1, got %r and %r"
                         % (val_fraction, test_fraction))


def split_by_session(entries: Sequence[Entry], val_fraction: float = 0.1, test_fraction: float = 0.1,
                     seed: int = 0) -> Split:
    """Split ``entries`` so that each session (or time block) is on one side only.

    A side whose fraction is 0 stays empty; the others are never empty. Raises ValueError when there
    are too few images for the non-empty sides (one image each, and at least one for training).
    """
    check_fractions(val_fraction, test_fraction)
    fractions = {"val": val_fraction, "test": test_fraction}
    wanted = [s for s in ("test", "val") if fractions[s] > 0]
    by_session = {}  # type: Dict[str, List[int]]
    for i, e in enumerate(entries):
        by_session.setdefault(e.session, []).append(i)
    if len(entries) < 1 + len(wanted):
        raise ValueError("need at least %d labelled images to split into %s, found %d"
                         % (1 + len(wanted), "/".join(["train"] + wanted[::-1]), len(entries)))
    if not wanted:
        return Split(list(range(len(entries))), [], [], {"train": sorted(by_session), "val": [], "test": []}, "none",
                     "no validation or test side: every image is used for training")
    order = sorted(by_session, key=lambda s: (session_hash(s, seed), s))
    sides = {"train": [], "val": [], "test": []}  # type: Dict[str, List[str]]
    for s in order:
        h = session_hash(s, seed)
        sides["test" if h < test_fraction else "val" if h < test_fraction + val_fraction else "train"].append(s)
    method, note = "session-hash", ""
    needed = ["train"] + wanted
    if not all(sides[s] for s in needed) and len(order) >= len(needed):
        sides = {"train": [], "val": [], "test": []}
        total = float(len(entries))
        counts = {"test": 0, "val": 0}
        for k, s in enumerate(order):
            left = len(order) - k
            side = "train"
            for j, candidate in enumerate(wanted):  # test first, then val; keep enough sessions for the rest
                later = len(wanted) - j  # sides still to fill after this one, train included
                if not sides[candidate] or (counts[candidate] < fractions[candidate] * total and left > later):
                    side = candidate
                    break
            sides[side].append(s)
            if side in counts:
                counts[side] += len(by_session[s])
        method = "session-ranked"
        note = ("hashing %d sessions left a side empty; sessions were assigned in hash order by frame count"
                % len(order))
    if all(sides[s] for s in needed):
        idx = {side: sorted(i for s in ss for i in by_session[s]) for side, ss in sides.items()}
        return Split(idx["train"], idx["val"], idx["test"], {k: sorted(v) for k, v in sides.items()}, method, note)
    return _time_blocks(entries, by_session, val_fraction, test_fraction)


def _time_blocks(entries: Sequence[Entry], by_session: Dict[str, List[int]], val_fraction: float,
                 test_fraction: float) -> Split:
    idx = {"train": [], "val": [], "test": []}  # type: Dict[str, List[int]]
    blocks = {"train": [], "val": [], "test": []}  # type: Dict[str, List[str]]
    held_sides = int(val_fraction > 0) + int(test_fraction > 0)
    for s in sorted(by_session):
        members = sorted(by_session[s], key=lambda i: (entries[i].time, entries[i].path))
        n = len(members)
        if n < 1 + held_sides:
            cuts = [("train", 0, n)]
        else:
            n_test = max(1, int(round(n * test_fraction))) if test_fraction > 0 else 0
            n_val = max(1, int(round(n * val_fraction))) if val_fraction > 0 else 0
            cuts = [("train", 0, n - n_val - n_test), ("val", n - n_val - n_test, n - n_test), ("test", n - n_test, n)]
        for side, a, b in cuts:
            if b > a:
                idx[side].extend(members[a:b])
                blocks[side].append("%s[%d:%d]" % (s, a, b))
    if (val_fraction > 0 and not idx["val"]) or (test_fraction > 0 and not idx["test"]):
        raise ValueError("cannot make non-empty validation and test sets from %d images; record more" % len(entries))
    note = ("only %d session(s): each was cut into contiguous time blocks (train, then val, then test); "
            "record more sessions for a split that tests on unseen drives" % len(by_session))
    return Split(sorted(idx["train"]), sorted(idx["val"]), sorted(idx["test"]), blocks, "time-blocks", note)


def split_folders(groups: Sequence[Tuple[str, Sequence[Entry]]], val_fraction: Optional[float] = None,
                  test_fraction: Optional[float] = None, seed: int = 0, tiny_images: int = 50,
                  default_fractions: Tuple[float, float] = (0.1, 0.1)) -> Split:
    """Split each folder's entries on its own and join the sides; indices count through all groups in order.

    ``groups`` is ``[(folder, entries)]``. Fractions left at None take ``default_fractions``, except
    that a folder of fewer than ``tiny_images`` images then goes whole to training (a validation set of
    two or three frames would only add noise); the note says so. Explicit fractions apply to every folder.
    """
    joined = {"train": [], "val": [], "test": []}  # type: Dict[str, List[int]]
    sessions = {"train": [], "val": [], "test": []}  # type: Dict[str, List[str]]
    methods, notes = [], []  # type: List[str], List[str]
    offset = 0
    explicit = val_fraction is not None or test_fraction is not None
    vf = default_fractions[0] if val_fraction is None else val_fraction
    tf = default_fractions[1] if test_fraction is None else test_fraction
    check_fractions(vf, tf)
    for folder, entries in groups:
        if not explicit and len(entries) < tiny_images:
            part = split_by_session(entries, 0.0, 0.0, seed)
            part.note = ("%d images only: all of them are used for training, none held out for validation or test "
                         "(give --val-fraction/--test-fraction to hold some out; measure the model on other "
                         "frames with `jetracer eval`)" % len(entries))
        else:
            try:
                part = split_by_session(entries, vf, tf, seed)
            except ValueError as e:
                raise ValueError("%s: %s" % (folder, e))
        for side in SIDES:
            joined[side].extend(offset + i for i in getattr(part, side))
            sessions[side].extend(part.sessions[side])
        methods.append(part.method)
        if part.note:
            notes.append("%s: %s" % (folder, part.note) if len(groups) > 1 else part.note)
        offset += len(entries)
    method = methods[0] if len(set(methods)) == 1 else "per-folder (%s)" % ", ".join(methods)
    return Split(joined["train"], joined["val"], joined["test"], {k: sorted(v) for k, v in sessions.items()},
                 method, "; ".join(notes))
