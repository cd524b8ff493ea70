"""Makes the photo examples of the CIFAR-10 and CelebA tasks from scikit-image's sample images, which
are public domain or CC0 (see README.md). Each is cropped square, the faces framed the way CelebA's
aligned images frame them (eyes near the middle, about 40 % of the width apart), and saved at 256x256.

Run (needs Pillow; downloads the scikit-image wheel from PyPI, nothing else):
    pip download scikit-image==0.26.0 --no-deps -d /tmp/skimage-wheel
    python make_photos.py /tmp/skimage-wheel/scikit_image-0.26.0-*.whl
"""
import io
import sys
import zipfile

from PIL import Image, ImageCms

SIDE = 256

# file in skimage/data -> (output name, crop box left, top, right, bottom)
PHOTOS = {
    "astronaut.png": ("face-astronaut.png", (114, 6, 333, 225)),
    "camera.png": ("face-camera.png", (130, 40, 290, 200)),
    "chelsea.png": ("cat-chelsea.png", (60, 0, 360, 300)),
    "rocket.jpg": ("rocket.png", (170, 0, 597, 427)),
    "coffee.png": ("coffee.png", (100, 0, 500, 400)),
}

wheel = zipfile.ZipFile(sys.argv[1])
for source, (name, box) in PHOTOS.items():
    image = Image.open(io.BytesIO(wheel.read(f"skimage/data/{source}")))
    # Pixels converted to sRGB and saved without the colour profile: the page and the trainer read
    # stored values as they are (no colour management), so a profile must not be needed to see
    # the photo right.
    profile = image.info.get("icc_profile")
    if profile and image.mode == "RGB":
        source_profile = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        image = ImageCms.profileToProfile(image, source_profile, ImageCms.createProfile("sRGB"))
    # Grayscale stays grayscale: the page must handle it.
    image = image.convert("L" if image.mode in ("L", "1") else "RGB")
    image.info.pop("icc_profile", None)
    image.crop(box).resize((SIDE, SIDE), Image.LANCZOS).save(name, optimize=True)
    print(name)
