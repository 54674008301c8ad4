"""Rasterize printable ASCII from DejaVu Sans Mono into src/report/font.rs (anti-aliased
8-bit coverage, fixed cell). DejaVu fonts: Bitstream Vera license (free to use, modify and
redistribute). Run: python3 tools/make_font.py /path/to/DejaVuSansMono.ttf"""
import sys
from PIL import Image, ImageDraw, ImageFont

path = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
font = ImageFont.truetype(path, 13)
W, H = 8, 16
ascent, descent = font.getmetrics()
rows = []
for code in range(32, 127):
    img = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(img)
    d.text((0, H - ascent - descent), chr(code), font=font, fill=255)
    rows.append(list(img.getdata()))
with open(sys.argv[2] if len(sys.argv) > 2 else "../src/report/font.rs", "w") as f:
    f.write("//! A fixed-cell bitmap font: printable ASCII (32..=126) rasterized from DejaVu Sans Mono\n")
    f.write("//! at 13 px into 8 x 16 cells of 8-bit coverage (tools/make_font.py generates this file).\n")
    f.write("//! DejaVu fonts are under the Bitstream Vera license: free to use, modify and redistribute.\n\n")
    f.write(f"/// Cell width in pixels.\npub const CELL_W: usize = {W};\n/// Cell height in pixels.\npub const CELL_H: usize = {H};\n\n")
    f.write(f"/// Coverage (0..=255) of each glyph, row-major, for characters 32..=126.\npub static GLYPHS: [[u8; {W * H}]; 95] = [\n")
    for r in rows:
        f.write("    [" + ", ".join(str(v) for v in r) + "],\n")
    f.write("];\n")
