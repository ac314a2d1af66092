#!/usr/bin/env python3
"""Draws the demo site's generated images: cardholder photos and the two
floor plans. Run once from the repository root (needs Pillow); the outputs are
committed so the build needs no Python."""
import colorsys
from PIL import Image, ImageDraw, ImageFont

try:
    FONT = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 18)
    BIG = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 44)
except OSError:
    FONT = BIG = ImageFont.load_default()

names = [
    "Ada Keller", "Ben Okafor", "Chiara Rossi", "Dmitri Ivanov", "Elif Yilmaz",
    "Farid Haddad", "Greta Lund", "Hiro Tanaka", "Ines Moreau", "Jonas Berg",
    "Kofi Mensah", "Lena Vogel", "Mateo Garcia", "Nora Lindqvist", "Omar Aziz",
    "Priya Nair", "Quentin Dubois", "Rosa Santos", "Sven Nyberg", "Tara Walsh",
]

def photo(i, name):
    w, h = 160, 200
    hue = (i * 0.137) % 1.0
    bg = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.25, 0.85))
    skin = [(241, 205, 170), (198, 150, 110), (141, 94, 60), (224, 172, 130)][i % 4]
    shirt = tuple(int(c * 255) for c in colorsys.hsv_to_rgb((hue + 0.5) % 1, 0.5, 0.45))
    im = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(im)
    d.ellipse((20, 130, 140, 260), fill=shirt)
    d.rectangle((68, 108, 92, 140), fill=skin)
    d.ellipse((45, 40, 115, 120), fill=skin)
    hair = [(40, 30, 20), (90, 60, 30), (20, 20, 20), (160, 120, 60), (120, 120, 120)][i % 5]
    d.chord((43, 34, 117, 100), 180, 360, fill=hair)
    initials = "".join(p[0] for p in name.split())
    d.text((w - 8, h - 8), initials, fill=(255, 255, 255), font=FONT, anchor="rd")
    im.save(f"assets/photos/ch-{i + 1:03d}.png", optimize=True)

def plan(path, title, rooms, doors):
    w, h = 1200, 800
    im = Image.new("RGB", (w, h), (236, 238, 240))
    d = ImageDraw.Draw(im)
    d.rectangle((40, 40, w - 40, h - 40), outline=(40, 44, 52), width=8)
    for (x0, y0, x1, y1, label) in rooms:
        d.rectangle((x0, y0, x1, y1), outline=(70, 76, 86), width=4, fill=(248, 249, 250))
        d.text(((x0 + x1) / 2, (y0 + y1) / 2), label, fill=(90, 96, 106), font=FONT, anchor="mm")
    for (x, y, horizontal) in doors:
        if horizontal:
            d.rectangle((x - 28, y - 6, x + 28, y + 6), fill=(236, 238, 240))
        else:
            d.rectangle((x - 6, y - 28, x + 6, y + 28), fill=(236, 238, 240))
    d.text((60, 60), title, fill=(40, 44, 52), font=FONT)
    im.save(path, optimize=True)

for i, n in enumerate(names):
    photo(i, n)

plan("maps/floor1.png", "Ground floor",
     [(40, 40, 520, 420, "Lobby"), (520, 40, 840, 420, "Reception"),
      (840, 40, 1160, 420, "Loading dock"), (40, 420, 1160, 760, "East corridor")],
     [(280, 760, True), (520, 230, False), (1000, 40, True), (1160, 590, False)])
plan("maps/floor2.png", "Level 2",
     [(40, 40, 360, 420, "Stairwell"), (360, 40, 760, 420, "Server room"),
      (760, 40, 1160, 420, "Lab"), (40, 420, 1160, 760, "Open office")],
     [(360, 300, False), (560, 420, True), (960, 420, True), (200, 420, True)])
