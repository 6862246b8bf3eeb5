"""The colour scales stay readable for colour-blind students: the page's own colors.js is sampled in the
browser and its colours pushed through simulated protanopia, deuteranopia and tritanopia (Machado,
Oliveira & Fernandes 2009, severity 1), then compared in CIELAB."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from .conftest import wait_ready

# Machado et al. 2009, severity 1.0, applied to linear RGB.
CVD = {
    "normal": np.eye(3),
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
    "tritanopia": np.array(
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
    ),
}


def to_linear(rgb: np.ndarray) -> np.ndarray:
    s = rgb / 255.0
    return np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)


def lab(rgb: np.ndarray, cvd: str) -> np.ndarray:
    """CIELAB (D65) of sRGB colours (N, 3) as seen with the given colour vision."""
    lin = np.clip(to_linear(np.asarray(rgb, dtype=float)) @ CVD[cvd].T, 0, 1)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


@pytest.fixture(scope="module")
def luts(chromium: Any, server: str) -> dict[str, Any]:
    page = chromium.new_page()
    try:
        page.goto(f"{server}/?panels=")
        wait_ready(page)
        return page.evaluate(
            """async () => {
                const m = await import('/static/js/colors.js');
                const lut = (name) => new m.Scale(name, 0, 1).lut.rgbs;
                const css = getComputedStyle(document.body);
                const accents = {};
                for (const g of ['forget', 'input', 'candidate', 'output', 'update', 'reset'])
                    accents[g] = css.getPropertyValue(`--gate-${g}`).trim();
                return {gate: lut('gate'), light: lut('divergingLight'), dark: lut('divergingDark'),
                        magnitude: lut('magnitude'), accents};
            }"""
        )
    finally:
        page.close()


@pytest.mark.parametrize("cvd", list(CVD))
@pytest.mark.parametrize("name", ["gate", "magnitude"])
def test_sequential_scales_stay_ordered(luts: dict[str, Any], name: str, cvd: str) -> None:
    L = lab(np.array(luts[name]), cvd)
    # Lightness rises monotonically, so "more open" reads as "brighter" with any colour vision.
    assert np.all(np.diff(L[:, 0]) > -0.5), f"{name} lightness is not monotonic for {cvd}"
    assert L[-1, 0] - L[0, 0] > 60
    # No flat stretch: every 1/32 of the range changes the colour visibly (single LUT steps may round
    # to the same 8-bit colour).
    window = delta_e(L[8:], L[:-8])
    assert window.min() > 1.0, f"{name} has a flat stretch for {cvd}"


@pytest.mark.parametrize("cvd", list(CVD))
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_diverging_scales_keep_the_sign_readable(luts: dict[str, Any], theme: str, cvd: str) -> None:
    rgb = np.array(luts[theme])
    L = lab(rgb, cvd)
    n = len(L)
    mid = n // 2
    # The two ends are far apart, and each is far from zero.
    assert delta_e(L[0], L[-1]) > 35, f"−1 and +1 look alike for {cvd}"
    assert min(delta_e(L[0], L[mid]), delta_e(L[-1], L[mid])) > 35
    # A value and its negative differ visibly from |v| = 0.25 on.
    for k in range(mid - n // 8, -1, -8):
        assert delta_e(L[k], L[n - 1 - k]) > 12, f"{theme}: ±{(mid - k) / mid:.2f} look alike for {cvd}"
    # Magnitude reads as distance from the neutral zero: lightness moves away from it monotonically.
    toward_zero = L[: mid + 1, 0]
    sign = 1 if theme == "light" else -1
    assert np.all(sign * np.diff(toward_zero) > -0.5)
    assert np.all(sign * np.diff(L[mid:, 0]) < 0.5)


@pytest.mark.parametrize("cvd", list(CVD))
def test_gate_accents_are_distinct(luts: dict[str, Any], cvd: str) -> None:
    def rgb(hex_colour: str) -> list[int]:
        h = hex_colour.lstrip("#")
        return [int(h[k : k + 2], 16) for k in (0, 2, 4)]

    for group in (["forget", "input", "candidate", "output"], ["update", "reset", "candidate"]):
        L = lab(np.array([rgb(luts["accents"][g]) for g in group]), cvd)
        for a in range(len(group)):
            for b in range(a + 1, len(group)):
                assert delta_e(L[a], L[b]) > 10, f"{group[a]} and {group[b]} accents look alike for {cvd}"
