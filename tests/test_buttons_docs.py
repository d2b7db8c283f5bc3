"""The hardware documents agree with the config defaults (pins drift otherwise)."""

from __future__ import annotations

import re
import xml.dom.minidom
from pathlib import Path

from assistant.config import ButtonSettings

HARDWARE = Path(__file__).resolve().parent.parent / "hardware"


def documented_pins() -> dict[str, int]:
    pins: dict[str, int] = {}
    for line in (HARDWARE / "README.md").read_text().splitlines():
        m = re.match(r"\|[^|]*\| `(\w+)(?:\[(\d)\])?` \| (\d+) \|", line)
        if m:
            key, index, gpio = m.group(1), m.group(2), int(m.group(3))
            pins[f"{key}[{index}]" if index else key] = gpio
    return pins


def test_pin_table_matches_the_defaults():
    defaults = ButtonSettings()
    pins = documented_pins()
    expected = {
        key: getattr(defaults, key)
        for key in ButtonSettings.model_fields
        if key.endswith("_pin") and getattr(defaults, key) is not None
    }
    assert defaults.status_led_pins is not None
    for i, pin in enumerate(defaults.status_led_pins):
        expected[f"status_led_pins[{i}]"] = pin
    assert pins == expected


def test_wiring_diagram_is_valid_svg_with_every_pin():
    text = (HARDWARE / "wiring.svg").read_text()
    doc = xml.dom.minidom.parseString(text)
    assert doc.documentElement.tagName == "svg"
    for gpio in documented_pins().values():
        assert f"GPIO{gpio} " in text
    for part in ("ULN2803A", "RGB", "USB microphone", "USB speaker", "150 Ω", "100 Ω"):
        assert part in text


def test_documents_are_there():
    for name in ("parts.md", "safety.md"):
        assert len((HARDWARE / name).read_text()) > 1000
