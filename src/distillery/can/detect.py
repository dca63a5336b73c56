"""Live intrusion detection on a CAN stream with an exported student and the payload model.

    python -m distillery.can.detect --model model.torchscript capture.log
    candump -L can0 | python -m distillery.can.detect --model model.onnx -

Reads `candump -L` lines (`(1436509052.249713) vcan0 044#2A366C2BBA`) or any layout the
ingest reads, from a file or stdin (`-`), as they arrive; builds windows exactly as training
did (the window size, stride and features recorded in the export) and scores each one when
its last frame arrives. A window's score fuses the student's 1 - p(normal) with the payload
model's score of the window's frames, as the export's `payload` block says (a logistic
regression over both z-values, fitted on validation windows; its logit is the score); an
export without that block, or `--no-payload`, scores with the student alone (1 - p(normal)).
Every window whose score exceeds the threshold gives one line on stdout:

    alert t=1478198380.120551 window=57 score=12.41 by=payload ids=0A0:+41.2,316:+0.6

t is the time of the window's last frame, `by` the term that raised the score more (the
student or the payload model), ids the IDs that raise it most with their contributions: for
the student, its score change per ID; for the payload model, each ID's largest calibrated
payload statistic (nats of tail surprise). The default threshold is the export's at its
lowest recorded false-positive rate on normal validation windows. A summary goes to stderr at
the end; bad input stops with one line naming the line number and the fix.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

import numpy as np
import torch

from distillery.can.exported import ExportedClassifier, PayloadFusion, attack_score
from distillery.can.payload import Frames as PayloadFrames
from distillery.can.payload import score_of
from distillery.can.stream import Windows, WindowStream
from distillery.data.can import LAYOUTS, Capture, CaptureReader
from distillery.data.can_layouts import Frames
from distillery.errors import ConfigError, DistilleryError

# 1 MB blocks from a file (about 25,000 candump lines); a live stream gives what has arrived
BLOCK_BYTES = 1 << 20
STDIN = "<stdin>"


@dataclass(frozen=True)
class Alert:
    time: float
    window: int
    score: float
    ids: list[tuple[int, float]]  # (CAN ID, contribution), largest first
    by: str | None = None  # the term that raised a fused score more: student or payload

    def line(self) -> str:
        ids = ",".join(f"{can_id:03X}:{value:+.3f}" if can_id <= 0x7FF
                       else f"{can_id:08X}:{value:+.3f}" for can_id, value in self.ids)
        by = "" if self.by is None else f" by={self.by}"
        return (f"alert t={self.time:.6f} window={self.window} score={self.score:.4f}{by} "
                f"ids={ids or '-'}")


@dataclass(frozen=True)
class Summary:
    """Counts, wall-clock seconds from the first read to the last alert, and the CPU seconds
    of this process meanwhile (on a busy machine, the rate one free core would reach)."""

    frames: int
    windows: int
    alerts: int
    seconds: float
    cpu_seconds: float

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")

    @property
    def frames_per_cpu_s(self) -> float:
        return self.frames / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")


def choose_threshold(model: ExportedClassifier, threshold: float | None, fpr: float | None,
                     payload: PayloadFusion | None = None) -> float:
    """`threshold` if given, else the export's threshold at `fpr` (default: its lowest), of
    the fused score with a `payload` fusion, else of the student's."""
    if threshold is not None:
        return threshold
    recorded = (payload.thresholds if payload is not None else
                {float(f): t for f, t in model.meta["thresholds"].items()})
    if fpr is None:
        return recorded[min(recorded)]
    if fpr not in recorded:
        raise ConfigError(f"--fpr: found {fpr}, expected one of the export's false-positive "
                          f"rates {sorted(recorded)} (or give --threshold)")
    return recorded[fpr]


class FrameBuffer:
    """The ID, data bytes and DLC of the frames that windows still to come need, for the
    payload model: window k of a stream covers its frames k * stride .. k * stride + size - 1,
    as `WindowStream` builds them."""

    def __init__(self, size: int, stride: int) -> None:
        self.size, self.stride = size, stride
        self._first = 0  # stream position of the first kept frame
        self._can_id = np.zeros(0, dtype=np.int64)
        self._channels = np.zeros((0, 9), dtype=np.int64)

    def push(self, frames: Frames, numbers: np.ndarray) -> tuple[PayloadFrames, np.ndarray]:
        """Add a block of frames; the kept frames and the rows (len(numbers), size) of the
        windows `numbers` that the block completes (the stream's, in order)."""
        channels = np.concatenate([frames.data.astype(np.int64),
                                   frames.dlc.astype(np.int64)[:, None]], 1)
        self._can_id = np.concatenate([self._can_id, frames.can_id.astype(np.int64)])
        self._channels = np.concatenate([self._channels, channels])
        kept = PayloadFrames(self._can_id, self._channels)
        rows = (numbers * self.stride - self._first)[:, None] + np.arange(self.size)
        if len(numbers):  # what no later window reads
            drop = min((int(numbers[-1]) + 1) * self.stride - self._first, len(self._can_id))
            self._can_id, self._channels = self._can_id[drop:], self._channels[drop:]
            self._first += drop
        return kept, rows


class Detector:
    """Scores the windows of one stream with an exported classifier, fused with the payload
    model when given one, and reports alerts."""

    def __init__(self, model: ExportedClassifier, threshold: float, top: int = 3,
                 payload: PayloadFusion | None = None) -> None:
        self.model, self.threshold, self.top, self.payload = model, threshold, top, payload
        windows = model.meta["windows"]
        self.size, self.stride = int(windows["size"]), int(windows["stride"])

    def alerts(self, windows: Windows, frames: PayloadFrames | None = None,
               rows: np.ndarray | None = None) -> list[Alert]:
        """Alerts of the windows; with a payload fusion, `frames` and `rows` (one row of
        frame positions per window) give the frames the payload model reads."""
        graphs = [windows.graphs.graph(g) for g in range(len(windows.numbers))]
        inputs = [(g.x, np.ascontiguousarray(g.edge_index), g.edge_weight[:, None])
                  for g in graphs]
        scores = attack_score(np.concatenate([self.model.logits(*i) for i in inputs]))
        terms = surprise = None
        if self.payload is not None:
            if frames is None or rows is None:
                raise ValueError("a payload fusion scores the windows' frames: pass them")
            surprise = self.payload.model.surprise(frames, rows)
            terms = self.payload.terms(scores, score_of(surprise))
            scores = self.payload.coef[0] + terms.sum(1)
        found = []
        for g in np.flatnonzero(scores > self.threshold):
            by = None if terms is None else "payload" if terms[g, 1] > terms[g, 0] else "student"
            if by == "payload":
                share = self.payload.model.id_surprise(surprise[g][None])[0]
                can_ids = self.payload.model.ids
            else:
                share = self.model.contributions(*inputs[g])
                can_ids = graphs[g].can_ids
            order = np.argsort(-share, kind="stable")[: self.top]
            ids = [(int(can_ids[i]), float(share[i])) for i in order if share[i] > 0]
            found.append(Alert(float(windows.t_end[g]), int(windows.numbers[g]),
                               float(scores[g]), ids, by))
        return found

    def run(self, blocks: Iterable[Frames], out: TextIO) -> Summary:
        """Alerts of every window of the stream written to `out` as soon as a block is scored."""
        stream = WindowStream(self.size, self.stride)
        buffer = FrameBuffer(self.size, self.stride) if self.payload is not None else None
        start, cpu, n_alerts = time.perf_counter(), time.process_time(), 0
        for frames in blocks:
            windows = stream.push(frames)
            payload_frames = rows = None
            if buffer is not None:
                numbers = windows.numbers if windows is not None else np.zeros(0, np.int64)
                payload_frames, rows = buffer.push(frames, numbers)
            if windows is None:
                continue
            found = self.alerts(windows, payload_frames, rows)
            if found:
                out.write("".join(f"{a.line()}\n" for a in found))
                out.flush()
                n_alerts += len(found)
        return Summary(stream.frames, stream.next_window, n_alerts,
                       time.perf_counter() - start, time.process_time() - cpu)


def read_stream(source: str, layout: str = "auto", skip_bad_lines: bool = False
                ) -> CaptureReader:
    """Frames of a capture file, or of stdin for `-`, a block at a time as lines arrive."""
    stdin = source == "-"
    capture = Capture(STDIN if stdin else source, "live")
    return CaptureReader(capture, "skip" if skip_bad_lines else "error", layout, BLOCK_BYTES,
                         threads=0, stream=sys.stdin.buffer if stdin else None,
                         skip_hint="pass --skip-bad-lines to drop bad lines")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distillery.can.detect",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("capture", nargs="?", default="-",
                        help="capture file, or - for stdin (default)")
    parser.add_argument("--model", required=True,
                        help="export of the can_export_model rule "
                             "(model.torchscript or model.onnx)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="alarm when the score exceeds this (default: the export's "
                             "threshold at its lowest recorded false-positive rate)")
    parser.add_argument("--fpr", type=float, default=None,
                        help="use the export's threshold at this false-positive rate instead")
    parser.add_argument("--payload", default=None,
                        help="payload model file (default: the one the export names)")
    parser.add_argument("--no-payload", action="store_true",
                        help="score with the student alone, without the payload model")
    parser.add_argument("--top", type=int, default=3, help="IDs named per alert (default 3)")
    parser.add_argument("--layout", default="auto", choices=["auto", *LAYOUTS],
                        help="capture layout (default: detected from the first line)")
    parser.add_argument("--skip-bad-lines", action="store_true",
                        help="drop malformed lines instead of stopping at the first")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        model = ExportedClassifier(args.model)
        payload = None if args.no_payload else PayloadFusion.load(model, args.payload)
        detector = Detector(model, choose_threshold(model, args.threshold, args.fpr, payload),
                            args.top, payload)
        summary = detector.run(read_stream(args.capture, args.layout, args.skip_bad_lines),
                               sys.stdout)
    except DistilleryError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    scored = "student + payload model" if payload is not None else "student"
    print(f"detect: {summary.frames} frames, {summary.windows} windows, {summary.alerts} "
          f"alerts ({scored}), threshold {detector.threshold:.6g}, {summary.seconds:.2f} s "
          f"({summary.frames_per_s:,.0f} frames/s; {summary.frames_per_cpu_s:,.0f} per CPU "
          "second)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
