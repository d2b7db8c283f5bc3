"""Personal words through the command line, as a person's supporter would use them (issue 15's
check): for each test speaker, ``assistant people teach`` with the first three examples of each
word, then ``assistant listen --file F --person NAME --engine whisper`` on five other clips of
each word and on the speaker's non-answers, and ``assistant listen`` without ``--person`` on
the same answers (untaught). Each command is its own process, as by hand.

    python bench/taught_cli.py                 # four of taught_voices.UNSEEN
    python bench/taught_cli.py --set in-talk --speakers 0,1

Prints a table and writes ``bench/results/taught-cli.json``. Slow: one Whisper load per
command (about 2 s here), so about 8 minutes for four speakers.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import taught_voices as tv
from common import RESULTS, machine, print_table, write_json

from assistant.audio.wav import write_wav

SETS = {"unseen": "UNSEEN", "in-talk": "IN_TALK", "held-out": "HELD_OUT", "speakers": "SPEAKERS"}
TAUGHT = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), default="unseen")
    parser.add_argument(
        "--speakers", default="4,3,8,10", help="indexes into the set (default: four of UNSEEN)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "taught-cli.json")
    args = parser.parse_args()
    every = getattr(tv, SETS[args.set])
    speakers = [every[int(i)] for i in args.speakers.split(",")]
    work = Path(tempfile.mkdtemp(prefix="taught-cli-"))
    env = dict(os.environ, ASSISTANT_DATA=str(work / "data"))

    def cli(*argv: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "assistant", *argv], env=env, capture_output=True, text=True
        )
        if done.returncode:
            raise SystemExit(f"assistant {' '.join(argv)} failed ({done.returncode}):\n"
                             f"{done.stdout}{done.stderr}")  # fmt: skip
        return done.stdout

    def heard(path: Path, *extra: str) -> tuple[str | None, str]:
        out = cli("listen", "--file", str(path), "--engine", "whisper", *extra)
        found = re.search(r"^answer: (\S+)", out, re.M)
        got = found.group(1) if found else None
        by = re.search(r"compared by ([^\n(]+)", out)
        return (None if got in (None, "none") else got), (by.group(1).strip() if by else "")

    def wav(name: str, pcm: Any) -> Path:
        path = work / f"{name}.wav"
        write_wav(path, pcm, tv.RATE)
        return path

    results: dict[str, Any] = {}
    rows = []
    for n, sp in enumerate(speakers):
        name = f"Person{n}"
        cli("people", "add", name)
        cli("people", "words-consent", name, "yes")
        for w in tv.WORDS:
            files = [str(wav(f"{name}-{w}-{i}", tv.example(sp, w, i))) for i in range(TAUGHT)]
            cli("people", "teach", name, w, *files)
        taught, untaught, non = [], [], []
        for w in tv.WORDS:
            for i in range(tv.EXAMPLES - tv.TESTS, tv.EXAMPLES):
                path = wav(f"{name}-{w}-test{i}", tv.example(sp, w, i))
                taught.append((w, *heard(path, "--person", name)))
                untaught.append((w, heard(path)[0]))
        for j, (label, pcm) in enumerate(tv.non_answers(sp)):
            non.append((label, heard(wav(f"{name}-non{j}", pcm), "--person", name)[0]))
        res: dict[str, Any] = {
            "taught_right": sum(g == w for w, g, _ in taught),
            "taught_swapped": sum(g not in (None, w) for w, g, _ in taught),
            "untaught_right": sum(g == w for w, g in untaught),
            "untaught_swapped": sum(g not in (None, w) for w, g in untaught),
            "n": len(taught),
            "non_answers": len(non),
            "non_answers_taken": [f"{label} as {g}" for label, g in non if g is not None],
            "compared_by": sorted({by for _, _, by in taught}),
        }
        results[sp.name] = res
        rows.append([
            sp.name, f"{res['taught_right']}/{res['n']}", res["taught_swapped"],
            f"{res['untaught_right']}/{res['n']}", res["untaught_swapped"],
            f"{len(res['non_answers_taken'])}/{res['non_answers']}",
        ])  # fmt: skip
        print(f"{sp.name}: done", file=sys.stderr, flush=True)
    total = {
        key: sum(r[key] for r in results.values())
        for key in ("taught_right", "taught_swapped", "untaught_right", "untaught_swapped", "n")
    }
    total["non_answers"] = sum(r["non_answers"] for r in results.values())
    total["non_answers_taken"] = sum(len(r["non_answers_taken"]) for r in results.values())
    rows.append([
        "all", f"{total['taught_right']}/{total['n']}", total["taught_swapped"],
        f"{total['untaught_right']}/{total['n']}", total["untaught_swapped"],
        f"{total['non_answers_taken']}/{total['non_answers']}",
    ])  # fmt: skip
    print_table(
        rows,
        ["speaker", "taught right", "swapped", "untaught right", "swapped", "non-answers taken"],
    )
    write_json(
        args.out,
        {"machine": machine(), "set": args.set, "per_speaker": results, "total": total},
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
