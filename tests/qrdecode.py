"""Reading QR codes back as a scanner would: rasterize the SVG we print, decode with zxing-cpp."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from PIL import Image, ImageDraw

SVG_NS = "{http://www.w3.org/2000/svg}"


def path_subpaths(d: str) -> list[list[tuple[float, float]]]:
    """Interpret an SVG path made of M/L/H/V/Z commands (absolute or relative) into polygons."""
    tokens = re.findall(r"[MmLlHhVvZz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", d)
    assert "".join(tokens) == re.sub(r"[\s,]+", "", d), "path uses commands this test can't read"
    polygons: list[list[tuple[float, float]]] = []
    x = y = 0.0
    start = (0.0, 0.0)
    command = ""
    i = 0
    while i < len(tokens):
        if tokens[i].isalpha():
            command = tokens[i]
            i += 1
            if command in "Zz":
                x, y = start
                continue
        args = {"M": 2, "L": 2, "H": 1, "V": 1}[command.upper()]
        values = [float(t) for t in tokens[i:i + args]]
        i += args
        relative = command.islower()
        if command.upper() in "ML":
            x, y = (x + values[0], y + values[1]) if relative else values
        elif command.upper() == "H":
            x = x + values[0] if relative else values[0]
        else:
            y = y + values[0] if relative else values[0]
        if command in "Mm":
            start = (x, y)
            polygons.append([])
            command = "l" if relative else "L"  # extra pairs after M are line-tos
        polygons[-1].append((x, y))
    return polygons


def rasterize(svg: str, scale: int = 6) -> Image.Image:
    """Draw what the SVG says: its viewBox as white paper, then its one path in black."""
    root = ET.fromstring(svg)
    n = int(root.get("viewBox").split()[2])
    [path] = root.findall(SVG_NS + "path")
    image = Image.new("L", (n * scale, n * scale), 255)
    draw = ImageDraw.Draw(image)
    for polygon in path_subpaths(path.get("d")):
        draw.polygon([(px * scale, py * scale) for px, py in polygon], fill=0)
    return image
