"""Puts a killed member's files back to what a power failure could leave.

Reads the journal written by lazyfs/lazyfs.cc (LD_PRELOAD): for each file,
the writes after its last completed fsync/fdatasync are unsynced. Those byte
ranges are zeroed (below the synced size: a WAL writes into preallocated,
zeroed space), and the file is cut back to its size at the last sync (if it was
never synced under this name — say written as x.tmp, synced, renamed — to
the offset of its first unsynced write). Files renamed or deleted since are left alone.
"""
import os


def revert(journal):
    """Applies the journal, then empties it. Returns bytes discarded."""
    if not os.path.exists(journal):
        return 0
    synced, pending = {}, {}
    with open(journal) as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 3)
            if parts[0] == "W" and len(parts) == 4:
                pending.setdefault(parts[3], []).append(
                    (int(parts[1]), int(parts[2])))
            elif parts[0] == "S" and len(parts) >= 3:
                path = line.rstrip("\n").split(" ", 2)[2]
                synced[path] = int(parts[1])
                pending[path] = []
    lost = 0
    for path, writes in pending.items():
        if not writes or not os.path.exists(path):
            continue
        # Never synced under this name (e.g. written and synced as x.tmp,
        # then renamed): keep what precedes the first unsynced write.
        size = synced.get(path, min(off for off, _ in writes))
        with open(path, "r+b") as f:
            for off, n in writes:
                end = min(off + n, size)
                if off < end:
                    f.seek(off)
                    f.write(b"\0" * (end - off))
                    lost += end - off
            cur = os.path.getsize(path)
            if cur > size:
                lost += cur - size
                f.truncate(size)
    open(journal, "w").close()
    return lost
