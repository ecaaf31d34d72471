"""Hand-written SVG chart for bench/compare: throughput and p99 latency per
workload, raftkv beside etcd. Each pair of bars is scaled to the larger of
the two (workloads differ by orders of magnitude), and every bar carries its
value, so the chart shows ratios at a glance and the numbers exactly."""

from xml.sax.saxutils import escape

COLORS = {"raftkv": "#2b7bb9", "etcd": "#e07b39"}


def _panel(rows, title, unit, better, x0, y0, width, height):
    """rows: [(workload, raftkv_value, etcd_value)]; returns SVG elements."""
    out = [f'<text x="{x0}" y="{y0 - 12}" font-size="15" font-weight="bold">'
           f'{escape(title)} ({escape(unit)}; {better} is better)</text>']
    group = width / max(1, len(rows))
    bar = group * 0.32
    base = y0 + height
    out.append(f'<line x1="{x0}" y1="{base}" x2="{x0 + width}" y2="{base}" '
               'stroke="#333"/>')
    for i, (name, rk, et) in enumerate(rows):
        gx = x0 + i * group + group * 0.15
        top = max(v for v in (rk, et) if v is not None) if (
            rk is not None or et is not None) else 1
        top = top or 1
        for j, (system, v) in enumerate((("raftkv", rk), ("etcd", et))):
            bx = gx + j * (bar + 4)
            if v is None:
                out.append(f'<text x="{bx + bar / 2}" y="{base - 4}" '
                           'font-size="10" text-anchor="middle">n/a</text>')
                continue
            h = height * 0.85 * v / top
            out.append(f'<rect x="{bx:.1f}" y="{base - h:.1f}" width="{bar:.1f}"'
                       f' height="{h:.1f}" fill="{COLORS[system]}"/>')
            label = f"{v:,.0f}" if v >= 100 else f"{v:.2f}"
            out.append(f'<text x="{bx + bar / 2:.1f}" y="{base - h - 4:.1f}" '
                       f'font-size="10" text-anchor="middle">{label}</text>')
        out.append(f'<text x="{gx + bar + 2:.1f}" y="{base + 16}" '
                   f'font-size="11" text-anchor="middle">{escape(name)}</text>')
    return out


def write_svg(path, throughput_rows, p99_rows, subtitle):
    width, panel_h = 900, 220
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{2 * panel_h + 170}" font-family="sans-serif">',
        f'<rect width="100%" height="100%" fill="white"/>',
        '<text x="20" y="24" font-size="18" font-weight="bold">'
        'raftkv vs etcd 3.4 (3 members each, loopback)</text>',
        f'<text x="20" y="42" font-size="11">{escape(subtitle)}</text>',
    ]
    for k, system in enumerate(("raftkv", "etcd")):
        parts.append(f'<rect x="{width - 200 + k * 90}" y="14" width="12" '
                     f'height="12" fill="{COLORS[system]}"/>')
        parts.append(f'<text x="{width - 184 + k * 90}" y="25" '
                     f'font-size="12">{system}</text>')
    parts += _panel(throughput_rows, "Throughput", "req/s", "higher",
                    40, 80, width - 80, panel_h)
    parts += _panel(p99_rows, "p99 latency", "ms", "lower",
                    40, 80 + panel_h + 70, width - 80, panel_h)
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")
