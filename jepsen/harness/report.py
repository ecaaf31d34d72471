"""Report of one run (a folder) and the index.html over all runs.

Folder contents: history.jsonl (operations), nemesis.jsonl (fault windows),
check.txt (checker output), verdict.json, latency.svg, logs/ (members).
latency.svg plots each operation's latency (log scale) against its start
time, coloured ok / fail / info, with the nemesis windows shaded.
"""
import html
import json
import os

COLOURS = {"ok": "#2b7bd6", "fail": "#e0457b", "info": "#f5a623"}


def _read_jsonl(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    return out


def latency_svg(run_dir, title):
    ops = _read_jsonl(os.path.join(run_dir, "history.jsonl"))
    faults = _read_jsonl(os.path.join(run_dir, "nemesis.jsonl"))
    w, h, left, bottom, top = 1000, 420, 60, 40, 30
    t_max = max([o["end"] for o in ops] + [f["end"] for f in faults] + [1])
    lat = [max(o["end"] - o["start"], 1) for o in ops] or [1]
    import math
    lo, hi = math.log10(1e5), math.log10(max(max(lat), 1e7) * 1.2)

    def x(t):
        return left + (w - left - 10) * t / t_max

    def y(ns):
        v = math.log10(max(ns, 1e5))
        return top + (h - top - bottom) * (1 - (v - lo) / (hi - lo))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" '
             f'height="{h}" font-family="sans-serif" font-size="11">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{left}" y="18" font-size="13">'
             f'{html.escape(title)}</text>']
    for f in faults:
        x0, x1 = x(f["start"]), x(f["end"])
        parts.append(f'<rect x="{x0:.1f}" y="{top}" width="'
                     f'{max(x1 - x0, 1):.1f}" height="{h - top - bottom}" '
                     f'fill="#999" fill-opacity="0.18"><title>'
                     f'{html.escape(f["kind"] + ": " + f["detail"])}'
                     f'</title></rect>')
        parts.append(f'<text x="{x0 + 2:.1f}" y="{top + 10}" fill="#555" '
                     f'font-size="9">{html.escape(f["kind"])}</text>')
    step = max(1, len(ops) // 20000)
    for o in ops[::step]:
        c = COLOURS.get(o.get("type"), "#000")
        parts.append(f'<circle cx="{x(o["start"]):.1f}" '
                     f'cy="{y(o["end"] - o["start"]):.1f}" r="1.6" '
                     f'fill="{c}" fill-opacity="0.7"/>')
    for ms in (0.1, 1, 10, 100, 1000, 10000):
        ns = ms * 1e6
        if lo <= math.log10(ns) <= hi:
            parts.append(f'<line x1="{left}" x2="{w - 10}" y1="{y(ns):.1f}" '
                         f'y2="{y(ns):.1f}" stroke="#ddd"/><text x="5" '
                         f'y="{y(ns) + 4:.1f}">{ms:g} ms</text>')
    secs = int(t_max / 1e9)
    for s in range(0, secs + 1, max(1, secs // 10)):
        parts.append(f'<text x="{x(s * 1e9):.1f}" y="{h - bottom + 15}">'
                     f'{s}s</text>')
    for k, (name, c) in enumerate(COLOURS.items()):
        parts.append(f'<circle cx="{w - 150 + 50 * k}" cy="14" r="4" '
                     f'fill="{c}"/><text x="{w - 143 + 50 * k}" y="18">'
                     f'{name}</text>')
    parts.append("</svg>")
    with open(os.path.join(run_dir, "latency.svg"), "w") as f:
        f.write("\n".join(parts))


def write_index(store):
    rows = []
    for name in sorted(os.listdir(store), reverse=True):
        vpath = os.path.join(store, name, "verdict.json")
        if not os.path.exists(vpath):
            continue
        with open(vpath) as f:
            v = json.load(f)
        colour = {"valid": "#cfc", "invalid": "#fcc"}.get(v.get("verdict"),
                                                           "#ffc")
        rows.append(
            f'<tr style="background:{colour}"><td><a href="{name}/">'
            f'{html.escape(name)}</a></td><td>{v.get("target")}</td>'
            f'<td>{v.get("workload")}</td><td>{v.get("nemesis")}</td>'
            f'<td>{html.escape(" ".join(v.get("server_flags", [])))}</td>'
            f'<td><b>{v.get("verdict")}</b></td><td>{v.get("ops")}</td>'
            f'<td><a href="{name}/latency.svg">latency</a> '
            f'<a href="{name}/check.txt">check</a> '
            f'<a href="{name}/history.jsonl">history</a></td></tr>')
    with open(os.path.join(store, "index.html"), "w") as f:
        f.write("<!doctype html><meta charset=utf-8><title>raftkv jepsen "
                "runs</title><h1>raftkv jepsen runs</h1><table border=1 "
                "cellpadding=4 style='border-collapse:collapse'><tr><th>run"
                "</th><th>target</th><th>workload</th><th>nemesis</th><th>"
                "server flags</th><th>verdict</th><th>ops</th><th>files</th>"
                "</tr>\n" + "\n".join(rows) + "</table>\n")
