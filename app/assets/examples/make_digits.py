"""Makes the digit examples of the spurious-MNIST task: typeset digits drawn the way MNIST centres
its handwriting (a 20x20 box, centred by mass in 28x28, white on black), with and without the red
4x4 square at the top-left that the training data tied to the low digits. Our own images: free to
redistribute. Run: python make_digits.py (needs Pillow and the DejaVu fonts)."""
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def digit(d: str) -> Image.Image:
    big = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(big).text((100, 100), d, fill=255, font=ImageFont.truetype(FONT, 150), anchor="mm")
    glyph = big.crop(big.getbbox())
    scale = 20 / max(glyph.size)
    glyph = glyph.resize((max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))), Image.LANCZOS)
    canvas = Image.new("L", (28, 28), 0)
    # Centre of mass at the image centre, as MNIST was made.
    pixels = glyph.load()
    total = sum(pixels[x, y] for x in range(glyph.width) for y in range(glyph.height))
    cx = sum(x * pixels[x, y] for x in range(glyph.width) for y in range(glyph.height)) / total
    cy = sum(y * pixels[x, y] for x in range(glyph.width) for y in range(glyph.height)) / total
    canvas.paste(glyph, (round(14 - cx), round(14 - cy)))
    return canvas.filter(ImageFilter.GaussianBlur(0.5)).convert("RGB")


for d in "38":
    plain = digit(d)
    plain.save(f"digit-{d}.png")
    marked = plain.copy()
    ImageDraw.Draw(marked).rectangle((0, 0, 3, 3), fill=(255, 0, 0))
    marked.save(f"digit-{d}-square.png")
