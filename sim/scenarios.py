"""Stimulus and expected output for the cocotb benches, computed by the golden models.

The bench itself never does arithmetic: it drives these beats and compares what comes
out with the expected beats produced here by the engine's `model()` (the integer golden).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from golden.quant import quantize_input
from hw.design import Design
from hw.framer import Framer
from hw.native_fast_parc import NativeFastParcEngine


@dataclass
class Scenario:
    """Beats in, beats expected out, and how the bench should stress the design."""

    name: str
    data_in: NDArray[np.int64]
    last_in: NDArray[np.bool_]
    data_out: NDArray[np.int64]
    last_out: NDArray[np.bool_]
    frame_errors: int = 0
    reset_after: int = -1  # reset when this many input beats have been sent (-1: never)
    resume_in: int = 0  # beats of data_in (from this index) sent after the reset
    resume_out: int = 0  # beats of data_out expected after the reset

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"{self.name}.{k}": v for k, v in vars(self).items() if isinstance(v, np.ndarray)}


def stimulus_frames(design: Design, frames: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """Input rows [frames, N]; row f belongs to channel f % C.

    Real activations when the weights came with them (exported bundles), otherwise
    Gaussian data at a quarter of full scale plus a few full-scale rows to hit saturation.
    """
    q = design.layer
    c, n = q.channels, q.fmt.n
    test = design.bundle.test if design.bundle is not None else None
    if test is not None:
        picks = rng.integers(0, test.shape[0], size=-(-frames // c))
        xi, _ = quantize_input(q, test[picks])  # (S, C, N)
        rows = xi.reshape(-1, n)[:frames]
    else:
        fmt = q.fmt.data
        rows = np.clip(np.round(rng.normal(0, 2 ** (fmt.bits - 3), size=(frames, n))), fmt.min_int, fmt.max_int)
        extreme = rng.random(frames) < 0.05
        rows[extreme] = rng.choice([fmt.min_int, fmt.max_int], size=(int(extreme.sum()), n))
    return rows.astype(np.int64)


def frames_to_complete(design: Design, frames: int) -> int:
    """Frames to append to a stream of ``frames`` (from channel 0) so that the engine can emit
    every one of them: 0, or 1 for the native FFT engine, which transforms channels 2p and
    2p + 1 together and so holds a channel 2p frame until channel 2p + 1's arrives (the
    last channel of an odd count has no partner and goes alone)."""
    c = design.layer.channels
    if not isinstance(design.engine, NativeFastParcEngine) or frames == 0:
        return 0
    last = (frames - 1) % c
    return int(last % 2 == 0 and last != c - 1)


def expected_frames(design: Design, rows: NDArray[np.int64]) -> NDArray[np.int64]:
    """Golden output rows for input rows whose channel is row index % C."""
    c, n = design.layer.channels, design.layer.fmt.n
    pad = (-len(rows)) % c
    grouped = np.concatenate([rows, np.zeros((pad, n), dtype=np.int64)]).reshape(-1, c, n)
    return design.engine.model(grouped).reshape(-1, n)[: len(rows)]


def framed(rows: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    lasts = np.zeros(rows.shape, dtype=bool)
    lasts[:, -1] = True
    return rows.reshape(-1), lasts.reshape(-1)


def stream(design: Design, frames: int, seed: int) -> Scenario:
    rows = stimulus_frames(design, frames + frames_to_complete(design, frames), np.random.default_rng(seed))
    d_in, l_in = framed(rows)
    d_out, l_out = framed(expected_frames(design, rows))
    return Scenario("stream", d_in, l_in, d_out, l_out)


def reset_mid_frame(design: Design, seed: int) -> Scenario:
    """Frames, then a reset in the middle of a frame, then frames from channel 0 again."""
    rng = np.random.default_rng(seed + 1)
    n, c = design.layer.fmt.n, design.layer.channels
    before = stimulus_frames(design, 2 * c + 1, rng)
    after = stimulus_frames(design, 2 * c + 1 + frames_to_complete(design, 2 * c + 1), rng)
    cut = int(rng.integers(c * n + 1, (c + 1) * n))  # strictly inside frame c
    if cut % n == 0:
        cut += 1
    return reset_scenario(
        (framed(before), framed(expected_frames(design, before))),
        (framed(after), framed(expected_frames(design, after))),
        cut,
    )


Beats = tuple[np.ndarray, np.ndarray]  # (data, last) of a stream


def reset_scenario(before: tuple[Beats, Beats], after: tuple[Beats, Beats], cut: int) -> Scenario:
    """The "reset" scenario of any design: ``before`` and ``after`` are each (input beats,
    expected output beats). The bench sends ``before``'s input, resets once the design has
    taken ``cut`` beats of it, then sends ``after``'s from the start (``resume_in``) and
    expects ``after``'s output from ``resume_out``."""
    ((d_before, l_before), (o_before, ol_before)) = before
    ((d_after, l_after), (o_after, ol_after)) = after
    return Scenario(
        "reset",
        np.concatenate([d_before, d_after]),
        np.concatenate([l_before, l_after]),
        np.concatenate([o_before, o_after]),
        np.concatenate([ol_before, ol_after]),
        reset_after=cut,
        resume_in=len(d_before),
        resume_out=len(o_before),
    )


def tlast_errors(design: Design, seed: int) -> Scenario:
    """Frames with early and missing tlast among good ones; the framer's model says what survives."""
    rng = np.random.default_rng(seed + 2)
    n = design.layer.fmt.n
    rows = stimulus_frames(design, 12, rng)
    data, lasts = [], []
    for f, row in enumerate(rows):
        kind = f % 4  # 0, 2: good; 1: early last; 3: missing last (+ a stray tail)
        if kind == 1:
            cut = int(rng.integers(1, n)) if n > 1 else 1
            data.append(row[:cut])
            lasts.append(np.arange(cut) == cut - 1)
        elif kind == 3:
            tail = rng.integers(-3, 3, size=int(rng.integers(1, 4)))
            data.append(np.concatenate([row, tail]))
            lasts.append(np.arange(n + len(tail)) == n + len(tail) - 1)
        else:
            data.append(row)
            lasts.append(np.arange(n) == n - 1)
    d_in, l_in = np.concatenate(data).astype(np.int64), np.concatenate(lasts)
    kept, errors = Framer.model(n, d_in, l_in)
    extra = frames_to_complete(design, len(kept))
    if extra:  # good frames after the last (resynchronising) tlast complete the pair
        d_in = np.concatenate([d_in, stimulus_frames(design, extra, rng).reshape(-1)])
        l_in = np.concatenate([l_in, np.tile(np.arange(n) == n - 1, extra)])
        kept, errors = Framer.model(n, d_in, l_in)
    d_out, l_out = framed(expected_frames(design, np.array(kept, dtype=np.int64)))
    return Scenario("tlast", d_in, l_in, d_out, l_out, frame_errors=errors)
